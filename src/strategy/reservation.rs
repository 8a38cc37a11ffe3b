//! Inventory-aware reservation price and the short-horizon volatility it uses.
//!
//! Contract: pure arithmetic, allocation-free, never panics. The volatility
//! estimator keeps two `f64`s and the previous mid; nothing else has state.
//!
//! The reservation price (Avellaneda–Stoikov shape, as the original's README
//! recommends) is
//!
//! ```text
//! r = mid + alpha(score) − γ · max(σ², σ²_floor) · q
//! ```
//!
//! with these units:
//!
//! - `mid`, `r`: price. `mid` is [`HalfTicks`]; `r` is returned as an exact
//!   integer [`MilliTicks`] (the `f64` adjustment is rounded once, to the
//!   nearest millitick, ties away from zero).
//! - `σ²`: variance of the mid's change **per book update**, in **ticks²**,
//!   estimated by [`VolEstimator`] as an EWMA of squared mid changes
//!   (event time, not wall time: a quiet book updates rarely and its σ² is
//!   the variance of the moves it does make).
//! - `σ²_floor`: ticks². The penalty never uses less than this, so a still
//!   market (σ² ≈ 0) cannot switch inventory control off.
//! - `q`: the signed net position in **lots** of the instrument
//!   ([`Lots`], positive = long).
//! - `γ`: **ticks of shift per (tick² · lot)**, so `γ·σ²·q` is in ticks.
//! - `alpha(score)`: ticks; [`AlphaModel::Linear`] gives
//!   `k · (0.5 − clamp(score, 0, 1))` with `k` in ticks per unit of score,
//!   contrarian like the signal (heavy ask side → lower reservation). NaN
//!   scores give 0. Off by default.
//!
//! With γ = 0 and alpha off, `r` is exactly the mid and the quotes are the
//! original's.
//!
//! # The max-position guarantee
//!
//! [`ReservationParams::for_limits`] chooses
//! `γ = (wide − tight + max|alpha|) / (σ²_floor · max_position)` (plus a
//! relative margin of 1e-9 against float error). At `q ≥ max_position` the
//! shift is then at least `wide − tight + max|alpha|` ticks downward, so even
//! with the most favourable alpha and an Up signal the bid sits at
//! `≤ mid − wide` before rounding: no tighter than the wide bid at the raw
//! mid. Symmetrically at `q ≤ −max_position` the ask is never tighter than
//! the wide ask. Larger σ² only increases the shift.

use super::quotes::QuoteEdges;
use super::{MilliTicks, StrategyError};
use crate::units::{HalfTicks, Lots};

/// How the gap score moves the reservation price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AlphaModel {
    /// No adjustment.
    Off,
    /// `ticks_per_unit · (0.5 − clamp(score, 0, 1))` ticks.
    Linear {
        /// Ticks of shift per unit of score away from 0.5 (finite).
        ticks_per_unit: f64,
    },
}

impl AlphaModel {
    /// The adjustment in ticks for a gap score; 0 for NaN.
    #[inline]
    pub fn adjustment_ticks(self, score: f64) -> f64 {
        match self {
            AlphaModel::Off => 0.0,
            AlphaModel::Linear { ticks_per_unit } => {
                if score.is_nan() {
                    0.0
                } else {
                    ticks_per_unit * (0.5 - score.clamp(0.0, 1.0))
                }
            }
        }
    }

    /// Largest `|adjustment_ticks|` over all scores.
    pub fn max_abs_ticks(self) -> f64 {
        match self {
            AlphaModel::Off => 0.0,
            AlphaModel::Linear { ticks_per_unit } => 0.5 * ticks_per_unit.abs(),
        }
    }

    fn validate(self) -> Result<AlphaModel, StrategyError> {
        match self {
            AlphaModel::Linear { ticks_per_unit } if !ticks_per_unit.is_finite() => Err(
                StrategyError::BadParam("alpha ticks_per_unit must be finite"),
            ),
            AlphaModel::Linear { ticks_per_unit } if ticks_per_unit.abs() > 1e6 => Err(
                StrategyError::BadParam("alpha ticks_per_unit must be at most 1e6"),
            ),
            ok => Ok(ok),
        }
    }
}

/// Smoothing of [`VolEstimator`]: the EWMA weight given to each new squared
/// change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolParams {
    alpha: f64,
}

impl VolParams {
    /// Weight `alpha` in `(0, 1]` on each new sample.
    pub fn from_alpha(alpha: f64) -> Result<VolParams, StrategyError> {
        if alpha > 0.0 && alpha <= 1.0 {
            Ok(VolParams { alpha })
        } else {
            Err(StrategyError::BadParam("vol EWMA alpha must be in (0, 1]"))
        }
    }

    /// A half-life in updates (finite, ≥ 0.1): a sample's weight halves
    /// after this many further updates; `alpha = 1 − 2^(−1/halflife)`.
    pub fn from_halflife_updates(halflife: f64) -> Result<VolParams, StrategyError> {
        if !(halflife.is_finite() && halflife >= 0.1) {
            return Err(StrategyError::BadParam(
                "vol half-life must be finite and at least 0.1 updates",
            ));
        }
        VolParams::from_alpha(1.0 - (-std::f64::consts::LN_2 / halflife).exp())
    }

    /// The EWMA weight.
    pub fn alpha(self) -> f64 {
        self.alpha
    }
}

impl Default for VolParams {
    /// Half-life of 100 updates.
    fn default() -> VolParams {
        VolParams {
            alpha: 1.0 - (-std::f64::consts::LN_2 / 100.0).exp(),
        }
    }
}

/// Short-horizon realised volatility: EWMA of squared mid changes, in ticks²
/// per update. Starts at 0; the first update only records the mid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolEstimator {
    alpha: f64,
    var: f64,
    prev: HalfTicks,
    samples: u64,
}

impl VolEstimator {
    /// An empty estimator.
    pub const fn new(params: VolParams) -> VolEstimator {
        VolEstimator {
            alpha: params.alpha,
            var: 0.0,
            prev: HalfTicks(0),
            samples: 0,
        }
    }

    /// Feeds the mid of one book update.
    #[inline]
    pub fn update(&mut self, mid: HalfTicks) {
        if self.samples > 0 {
            let d = (mid - self.prev).0 as f64 * 0.5;
            self.var += self.alpha * (d * d - self.var);
        }
        self.prev = mid;
        self.samples = self.samples.saturating_add(1);
    }

    /// σ² in ticks² per update.
    #[inline]
    pub fn sigma2(&self) -> f64 {
        self.var
    }

    /// σ in ticks per update.
    pub fn sigma(&self) -> f64 {
        self.var.sqrt()
    }

    /// Number of mids seen (the first contributes no change).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Forgets everything (e.g. after a reconnect gap).
    pub fn reset(&mut self) {
        *self = VolEstimator::new(VolParams { alpha: self.alpha });
    }
}

/// Parameters of the reservation price; units in the module doc.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReservationParams {
    gamma: f64,
    sigma2_floor: f64,
    alpha: AlphaModel,
}

impl ReservationParams {
    /// σ² floor used by [`ReservationParams::for_limits`]: 1 tick² per update.
    pub const DEFAULT_SIGMA2_FLOOR: f64 = 1.0;

    /// Explicit parameters: `gamma` (ticks per tick²·lot) and `sigma2_floor`
    /// (ticks²) finite and non-negative, alpha finite.
    pub fn new(
        gamma: f64,
        sigma2_floor: f64,
        alpha: AlphaModel,
    ) -> Result<ReservationParams, StrategyError> {
        if !(gamma.is_finite() && gamma >= 0.0) {
            return Err(StrategyError::BadParam("gamma must be finite and >= 0"));
        }
        if !(sigma2_floor.is_finite() && sigma2_floor >= 0.0) {
            return Err(StrategyError::BadParam(
                "sigma2_floor must be finite and >= 0",
            ));
        }
        Ok(ReservationParams {
            gamma,
            sigma2_floor,
            alpha: alpha.validate()?,
        })
    }

    /// No alpha and no inventory penalty: the reservation price is the mid,
    /// exactly as in the original.
    pub const fn off() -> ReservationParams {
        ReservationParams {
            gamma: 0.0,
            sigma2_floor: 0.0,
            alpha: AlphaModel::Off,
        }
    }

    /// Parameters that keep a position of `|q| >= max_position` from growing
    /// through the tight side, for these edges and alpha (see the module doc
    /// for the formula). `max_position` must be positive.
    pub fn for_limits(
        max_position: Lots,
        edges: QuoteEdges,
        alpha: AlphaModel,
    ) -> Result<ReservationParams, StrategyError> {
        if max_position.0 <= 0 {
            return Err(StrategyError::BadParam("max_position must be positive"));
        }
        let alpha = alpha.validate()?;
        let needed = f64::from(edges.wide_ticks() - edges.tight_ticks()) + alpha.max_abs_ticks();
        let floor = Self::DEFAULT_SIGMA2_FLOOR;
        let gamma = needed / (floor * max_position.0 as f64) * (1.0 + 1e-9);
        ReservationParams::new(gamma, floor, alpha)
    }

    /// [`ReservationParams::for_limits`] with the original's edges and no alpha.
    pub fn default_for(max_position: Lots) -> Result<ReservationParams, StrategyError> {
        Self::for_limits(max_position, QuoteEdges::default(), AlphaModel::Off)
    }

    /// γ in ticks per (tick² · lot).
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// σ² floor in ticks².
    pub fn sigma2_floor(&self) -> f64 {
        self.sigma2_floor
    }

    /// The alpha model.
    pub fn alpha(&self) -> AlphaModel {
        self.alpha
    }

    /// `alpha(score) − γ · max(σ², floor) · q` in ticks. A NaN σ² counts as
    /// the floor.
    #[inline]
    pub fn adjustment_ticks(&self, score: f64, sigma2: f64, inventory: Lots) -> f64 {
        let a = self.alpha.adjustment_ticks(score);
        if self.gamma == 0.0 || inventory.0 == 0 {
            return a;
        }
        a - self.gamma * sigma2.max(self.sigma2_floor) * inventory.0 as f64
    }

    /// The reservation price for a mid (module doc). With γ = 0 and alpha
    /// off it is exactly `mid`.
    #[inline]
    pub fn reservation(
        &self,
        mid: HalfTicks,
        score: f64,
        sigma2: f64,
        inventory: Lots,
    ) -> MilliTicks {
        let adj = self.adjustment_ticks(score, sigma2, inventory);
        // Saturating cast: ±∞ clamp to the i64 range, NaN (impossible from
        // validated parameters) becomes 0.
        let adj_milli = (adj * MilliTicks::PER_TICK as f64).round() as i64;
        MilliTicks(MilliTicks::from_half_ticks(mid).0.saturating_add(adj_milli))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::quotes::calculate_quotes;
    use crate::strategy::signal::{encode_signal, Confidence, Signal};
    use proptest::prelude::*;

    #[test]
    fn vol_estimator_hand_worked() {
        // alpha 0.5; mids 100, 101, 101, 99 ticks (half ticks 200, 202, 202, 198).
        let mut v = VolEstimator::new(VolParams::from_alpha(0.5).unwrap());
        v.update(HalfTicks(200));
        assert_eq!(v.sigma2(), 0.0);
        v.update(HalfTicks(202)); // d = 1 → 0 + 0.5·(1 − 0) = 0.5
        assert_eq!(v.sigma2(), 0.5);
        v.update(HalfTicks(202)); // d = 0 → 0.5 + 0.5·(0 − 0.5) = 0.25
        assert_eq!(v.sigma2(), 0.25);
        v.update(HalfTicks(198)); // d = −2 → 0.25 + 0.5·(4 − 0.25) = 2.125
        assert_eq!(v.sigma2(), 2.125);
        v.update(HalfTicks(199)); // d = 0.5 → 2.125 + 0.5·(0.25 − 2.125) = 1.1875
        assert_eq!(v.sigma2(), 1.1875);
        assert_eq!(v.samples(), 5);
        v.reset();
        assert_eq!((v.sigma2(), v.samples()), (0.0, 0));
    }

    #[test]
    fn vol_halflife_halves_weight() {
        let p = VolParams::from_halflife_updates(10.0).unwrap();
        let decay = (1.0 - p.alpha()).powi(10);
        assert!((decay - 0.5).abs() < 1e-12);
        // A single jump of 2 ticks then 10 still updates: the estimate is
        // alpha·4·0.5.
        let mut v = VolEstimator::new(p);
        v.update(HalfTicks(0));
        v.update(HalfTicks(4));
        for _ in 0..10 {
            v.update(HalfTicks(4));
        }
        assert!((v.sigma2() - p.alpha() * 4.0 * 0.5).abs() < 1e-12);
        assert_eq!(
            VolParams::default(),
            VolParams::from_halflife_updates(100.0).unwrap()
        );
    }

    #[test]
    fn parameter_validation() {
        assert!(VolParams::from_alpha(0.0).is_err());
        assert!(VolParams::from_alpha(1.5).is_err());
        assert!(VolParams::from_alpha(f64::NAN).is_err());
        assert!(VolParams::from_alpha(1.0).is_ok());
        assert!(VolParams::from_halflife_updates(0.0).is_err());
        assert!(VolParams::from_halflife_updates(f64::INFINITY).is_err());
        assert!(ReservationParams::new(-1.0, 0.0, AlphaModel::Off).is_err());
        assert!(ReservationParams::new(f64::NAN, 0.0, AlphaModel::Off).is_err());
        assert!(ReservationParams::new(1.0, f64::INFINITY, AlphaModel::Off).is_err());
        assert!(ReservationParams::new(
            1.0,
            1.0,
            AlphaModel::Linear {
                ticks_per_unit: f64::NAN
            }
        )
        .is_err());
        assert_eq!(
            ReservationParams::default_for(Lots(0)),
            Err(StrategyError::BadParam("max_position must be positive"))
        );
        assert!(ReservationParams::default_for(Lots(-5)).is_err());
    }

    #[test]
    fn alpha_linear_is_contrarian_and_clamped() {
        let a = AlphaModel::Linear {
            ticks_per_unit: 10.0,
        };
        assert_eq!(a.adjustment_ticks(0.5), 0.0);
        assert_eq!(a.adjustment_ticks(0.9), -4.0); // heavy ask side → lower
        assert_eq!(a.adjustment_ticks(0.1), 4.0);
        assert_eq!(a.adjustment_ticks(7.0), -5.0);
        assert_eq!(a.adjustment_ticks(-7.0), 5.0);
        assert_eq!(a.adjustment_ticks(f64::NAN), 0.0);
        assert_eq!(a.max_abs_ticks(), 5.0);
        assert_eq!(AlphaModel::Off.adjustment_ticks(0.9), 0.0);
    }

    #[test]
    fn reservation_hand_worked() {
        // γ = 0.01, floor 1, q = 50 lots, σ² = 4: shift = 0.01·4·50 = 2 ticks
        // down; alpha 10·(0.5 − 0.2) = 3 up; mid 100.5 → 101.5 ticks.
        let p = ReservationParams::new(
            0.01,
            1.0,
            AlphaModel::Linear {
                ticks_per_unit: 10.0,
            },
        )
        .unwrap();
        assert_eq!(
            p.reservation(HalfTicks(201), 0.2, 4.0, Lots(50)),
            MilliTicks(101_500)
        );
        // σ² below the floor uses the floor: shift 0.5 → 103.0.
        assert_eq!(
            p.reservation(HalfTicks(201), 0.2, 0.0, Lots(50)),
            MilliTicks(103_000)
        );
        // Short 30 lots, σ² = 2, score 0.5: +0.6 ticks.
        assert_eq!(
            p.reservation(HalfTicks(201), 0.5, 2.0, Lots(-30)),
            MilliTicks(101_100)
        );
        // NaN σ² counts as the floor.
        assert_eq!(
            p.reservation(HalfTicks(201), 0.5, f64::NAN, Lots(-30)),
            MilliTicks(100_800)
        );
    }

    #[test]
    fn default_gamma_formula() {
        let p = ReservationParams::default_for(Lots(10_000)).unwrap();
        assert!((p.gamma() - 99.0 / 10_000.0).abs() < 1e-10);
        assert_eq!(p.sigma2_floor(), 1.0);
        // At exactly max, σ² at the floor: 99 ticks down, exactly.
        assert_eq!(
            p.reservation(HalfTicks(2_000), 0.5, 0.0, Lots(10_000)),
            MilliTicks(1_000_000 - 99_000)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// γ = 0 and no alpha reproduce the original exactly, whatever σ²,
        /// inventory, mid and score.
        #[test]
        fn gamma_zero_is_the_original(
            mid in -(1i64 << 60)..(1i64 << 60),
            score in prop_oneof![any::<f64>(), 0.0f64..1.0],
            sigma2 in prop_oneof![0.0f64..1e6, Just(f64::INFINITY), Just(f64::NAN)],
            inv in any::<i64>(),
        ) {
            let p = ReservationParams::off();
            let mid = HalfTicks(mid);
            let r = p.reservation(mid, score, sigma2, Lots(inv));
            prop_assert_eq!(r, MilliTicks::from(mid));
            let (s, c) = encode_signal(score);
            let e = QuoteEdges::default();
            prop_assert_eq!(calculate_quotes(r, s, c, e), calculate_quotes(mid, s, c, e));
        }

        /// The max-position guarantee for the defaults (and with alpha on):
        /// at +max the bid is never nearer the mid than the wide bid at the
        /// raw mid (so never the 1-tick side); at −max the same for the ask.
        #[test]
        fn full_position_never_quotes_tight_on_the_growing_side(
            mid in 2i64..(1i64 << 40),
            score in prop_oneof![0.0f64..1.0, Just(0.0), Just(1.0), Just(0.3), Just(0.7),
                                 Just(f64::NAN), -10.0f64..10.0],
            sigma2 in prop_oneof![Just(0.0), 0.0f64..1.0, 0.0f64..1e4],
            max in 1i64..1_000_000_000,
            beyond in 0i64..1000,
            tight in 1u32..5,
            extra in 1u32..300,
            k in prop_oneof![Just(None), (0.0f64..1000.0).prop_map(Some)],
        ) {
            let edges = QuoteEdges::new(tight, tight + extra).unwrap();
            let alpha = match k {
                None => AlphaModel::Off,
                Some(k) => AlphaModel::Linear { ticks_per_unit: k },
            };
            let p = if alpha == AlphaModel::Off && edges == QuoteEdges::default() {
                ReservationParams::default_for(Lots(max)).unwrap()
            } else {
                ReservationParams::for_limits(Lots(max), edges, alpha).unwrap()
            };
            let mid = HalfTicks(mid);
            let (s, c) = encode_signal(score);
            let wide = calculate_quotes(mid, Signal::Neutral, Confidence::Low, edges);

            let long = calculate_quotes(p.reservation(mid, score, sigma2, Lots(max + beyond)), s, c, edges);
            prop_assert!(long.bid <= wide.bid, "long bid {:?} vs wide {:?}", long.bid, wide.bid);
            // Distance from the mid is at least wide − ½ tick > tight.
            prop_assert!(mid.0 - 2 * long.bid.0 >= 2 * i64::from(edges.wide_ticks()) - 1);

            let short = calculate_quotes(p.reservation(mid, score, sigma2, Lots(-max - beyond)), s, c, edges);
            prop_assert!(short.ask >= wide.ask, "short ask {:?} vs wide {:?}", short.ask, wide.ask);
            prop_assert!(2 * short.ask.0 - mid.0 >= 2 * i64::from(edges.wide_ticks()) - 1);
        }
    }
}
