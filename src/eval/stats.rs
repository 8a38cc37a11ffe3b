//! The statistics of a signal report: rank correlation with average ranks
//! for ties, and a moving-block bootstrap of a hit rate.
//!
//! # Rank IC
//!
//! [`rank_ic`] is Spearman's rank correlation: the Pearson correlation of the
//! two samples' ranks. Ranks are 1-based; tied values all get the mean of
//! the positions they occupy (values 5, 7, 7, 9 rank 1, 2.5, 2.5, 4). It is
//! `None` when it is undefined: fewer than two pairs, lengths that differ, a
//! value that is not finite, or a side that is constant (zero rank
//! variance, e.g. a score that is always +1).
//!
//! # Moving-block bootstrap
//!
//! A series of per-sample [`Outcome`]s (hit, miss, or neither: no call or a
//! flat move) in time order has the hit rate `hits / (hits + misses)`.
//! Neighbouring samples are not independent: labels over a horizon `h`
//! overlap, so a move counts for every sample taken during it. Resampling
//! single samples would pretend they were independent and give intervals
//! far too narrow. The moving-block bootstrap resamples whole blocks of `L`
//! consecutive samples instead:
//!
//! - one resample draws `k = ceil(n / L)` block starts uniformly from
//!   `0..=n−L` (with replacement) and concatenates the blocks; the last one
//!   is cut so that the resample has exactly `n` samples;
//! - its hit rate is `Σ hits / Σ (hits + misses)` over the drawn samples; a
//!   resample with no hit and no miss has no rate and is left out;
//! - the interval is the 2.5 % and 97.5 % quantiles of the resampled rates
//!   (linear interpolation between order statistics: the value at position
//!   `q·(m−1)` of the `m` sorted rates).
//!
//! Prefix sums make one block O(1), so a resample costs O(n / L). Several
//! series of the same length are resampled with the same block draws (one
//! pass per resample), so their intervals are paired; their counters are
//! packed side by side into `u128` words, so a block costs a few additions
//! whatever the number of series.
//!
//! Block length ([`block_len`]): a block must span at least the samples of
//! one horizon, or the overlap is cut at every block edge. With `r` samples
//! per second on average, `L = max(10, ceil(2·h·r))`, capped at `n / 10`
//! (at least 1) so that a resample is still made of at least ten blocks.
//! When the cap binds, blocks are shorter than `2·h` of samples and the
//! interval is likely too narrow; [`block_len`] says so.
//!
//! Contract: plain arithmetic on caller-owned slices; allocates (ranks,
//! prefix sums, resampled rates), never blocks, reads no clock, never
//! panics. Deterministic: the same input and seed give the same interval.

use crate::sim::market::Prng;

/// One sample's outcome for one predictor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No call, or a call on a flat move: counts in neither the hits nor the
    /// misses (but still takes its place in the time series).
    Neither,
    /// A call in the direction the mid then moved.
    Hit,
    /// A call against the direction the mid then moved.
    Miss,
}

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

impl Interval {
    /// Whether `x` lies in `[lo, hi]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// `hi − lo`.
    pub fn width(&self) -> f64 {
        self.hi - self.lo
    }
}

/// Settings of a moving-block bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootstrap {
    /// Block length in samples (at least 1).
    pub block: usize,
    /// Number of resamples.
    pub resamples: usize,
    /// Seed of the block draws.
    pub seed: u64,
}

/// The block length for `n` samples at `samples_per_sec` and a horizon of
/// `horizon_ns`, and whether the `n / 10` cap bound (see the module docs).
pub fn block_len(horizon_ns: u64, samples_per_sec: f64, n: usize) -> (usize, bool) {
    let span = 2.0 * horizon_ns as f64 / 1e9 * samples_per_sec;
    let want = if span.is_finite() && span > 10.0 {
        // `as` saturates; a span this large is capped below anyway.
        span.ceil() as usize
    } else {
        10
    };
    let cap = (n / 10).max(1);
    if want > cap {
        (cap, true)
    } else {
        (want, false)
    }
}

/// 1-based ranks of `x`, ties sharing the mean of their positions. Non-finite
/// values are ordered by [`f64::total_cmp`] (callers reject them first).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && x[order[j]] == x[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) hold one value: ranks i+1 ..= j, mean (i+1+j)/2.
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

/// Pearson correlation; `None` for fewer than two pairs, different lengths
/// or a side with zero variance.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Spearman's rank correlation of `score` and `ret` (see the module docs).
pub fn rank_ic(score: &[f64], ret: &[f64]) -> Option<f64> {
    if score.len() != ret.len() || score.iter().chain(ret).any(|v| !v.is_finite()) {
        return None;
    }
    rank_ic_with(score, &average_ranks(ret))
}

/// [`rank_ic`] against returns already ranked (`ret_ranks` from
/// [`average_ranks`]): the report ranks each horizon's returns once.
pub fn rank_ic_with(score: &[f64], ret_ranks: &[f64]) -> Option<f64> {
    if score.len() != ret_ranks.len() || score.iter().any(|v| !v.is_finite()) {
        return None;
    }
    pearson(&average_ranks(score), ret_ranks)
}

/// `hits / (hits + misses)` of a series; `None` without a hit or a miss.
pub fn hit_rate(series: &[Outcome]) -> Option<f64> {
    let hits = series.iter().filter(|o| **o == Outcome::Hit).count();
    let misses = series.iter().filter(|o| **o == Outcome::Miss).count();
    ratio(hits as u64, (hits + misses) as u64)
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The value at quantile `q` of `sorted` (ascending, non-empty), linear
/// between order statistics.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q.clamp(0.0, 1.0) * last as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
    Some(a + (b - a) * (pos - lo as f64))
}

impl Bootstrap {
    /// The 95 % interval of one series' hit rate.
    pub fn interval(&self, series: &[Outcome]) -> Option<Interval> {
        self.intervals(&[series]).pop().flatten()
    }

    /// The 95 % intervals of several series' hit rates, resampled with the
    /// same block draws. Every series must have the length of the first;
    /// a series that does not gets `None`, as does one without a hit or a
    /// miss, and every series when there are fewer than two samples, no
    /// resamples or more than `u32::MAX` samples.
    pub fn intervals(&self, series: &[&[Outcome]]) -> Vec<Option<Interval>> {
        let n = series.first().map_or(0, |s| s.len());
        let mut out = vec![None; series.len()];
        if n < 2 || series.is_empty() || self.resamples == 0 || u32::try_from(n).is_err() {
            return out;
        }
        let block = self.block.clamp(1, n);
        let pk = Packing::new(n, series.len());
        let words = pk.words;
        // Prefix sums: one row of `words` per sample (row 0 is all zero).
        let mut pre = vec![0u128; (n + 1) * words];
        for i in 0..n {
            let (done, next) = pre.split_at_mut((i + 1) * words);
            let row = &mut next[..words];
            row.copy_from_slice(&done[i * words..]);
            for (s, ser) in series.iter().enumerate() {
                let (hits, decided) = match ser.get(i) {
                    Some(Outcome::Hit) => (1, 1),
                    Some(Outcome::Miss) => (0, 1),
                    _ => continue,
                };
                let (wh, bh) = pk.at(2 * s);
                let (wd, bd) = pk.at(2 * s + 1);
                row[wh] += hits << bh;
                row[wd] += decided << bd;
            }
        }
        let last = &pre[n * words..];
        let usable: Vec<bool> = (0..series.len())
            .map(|s| series[s].len() == n && pk.get(last, 2 * s + 1) > 0)
            .collect();
        let blocks = n.div_ceil(block);
        let starts = (n - block + 1) as u64;
        let tail = n - (blocks - 1) * block;
        let mut rng = Prng::new(self.seed);
        let mut acc = vec![0u128; words];
        let mut rates: Vec<Vec<f64>> = vec![Vec::with_capacity(self.resamples); series.len()];
        for _ in 0..self.resamples {
            acc.iter_mut().for_each(|a| *a = 0);
            for b in 0..blocks {
                let start = rng.below(starts) as usize;
                let len = if b + 1 == blocks { tail } else { block };
                let lo = &pre[start * words..][..words];
                let hi = &pre[(start + len) * words..][..words];
                for (k, a) in acc.iter_mut().enumerate() {
                    *a += hi[k] - lo[k];
                }
            }
            for (s, r) in rates.iter_mut().enumerate() {
                if let Some(x) = ratio(pk.get(&acc, 2 * s), pk.get(&acc, 2 * s + 1)) {
                    r.push(x);
                }
            }
        }
        for (s, mut r) in rates.into_iter().enumerate() {
            if !usable[s] {
                continue;
            }
            r.sort_by(f64::total_cmp);
            if let (Some(lo), Some(hi)) = (quantile(&r, 0.025), quantile(&r, 0.975)) {
                out[s] = Some(Interval { lo, hi });
            }
        }
        out
    }
}

/// Counters packed side by side into `u128` words, each field wide enough
/// for `n`: series `s` has its hits in field `2s` and its hits + misses in
/// field `2s + 1`. Every field of a prefix row only grows along the rows,
/// so the difference of two rows is the field-wise difference (no borrow
/// crosses a field), and a resample's sums are at most `n` per field (no
/// carry crosses one either). A block then costs a few `u128` subtractions
/// whatever the number of series.
struct Packing {
    bits: u32,
    per_word: usize,
    words: usize,
}

impl Packing {
    /// Fields for counts up to `n` (< 2^32) of `series` series.
    fn new(n: usize, series: usize) -> Packing {
        let bits = (usize::BITS - n.leading_zeros()).max(1);
        let per_word = (u128::BITS / bits) as usize;
        Packing {
            bits,
            per_word,
            words: (2 * series).div_ceil(per_word),
        }
    }

    /// Word and bit offset of field `f`.
    fn at(&self, f: usize) -> (usize, u32) {
        (f / self.per_word, (f % self.per_word) as u32 * self.bits)
    }

    /// Field `f` of a row.
    fn get(&self, row: &[u128], f: usize) -> u64 {
        let (w, b) = self.at(f);
        let mask = (1u128 << self.bits) - 1;
        row.get(w).map_or(0, |x| ((x >> b) & mask) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn ties_get_average_ranks() {
        // 5 7 7 9: positions 1, 2, 3, 4; the two 7s share (2 + 3) / 2 = 2.5.
        // 7 1 5 1 9 7 1 sorted: 1 1 1 (positions 1..3 → 2), 5 (4), 7 7
        // (5, 6 → 5.5), 9 (7).
        assert_eq!(
            average_ranks(&[5.0, 7.0, 7.0, 9.0]),
            vec![1.0, 2.5, 2.5, 4.0]
        );
        assert_eq!(
            average_ranks(&[7.0, 1.0, 5.0, 1.0, 9.0, 7.0, 1.0]),
            vec![5.5, 2.0, 4.0, 2.0, 7.0, 5.5, 2.0]
        );
        assert_eq!(average_ranks(&[]), Vec::<f64>::new());
    }

    #[test]
    fn rank_ic_hand_worked_with_ties() {
        // score 1 2 2 3, ret 0 0 1 1.
        // score ranks 1, 2.5, 2.5, 4 (mean 2.5, deviations −1.5 0 0 1.5)
        // ret ranks   1.5 1.5 3.5 3.5 (mean 2.5, deviations −1 −1 1 1)
        // Σdxdy = 1.5 + 0 + 0 + 1.5 = 3; Σdx² = 4.5; Σdy² = 4
        // IC = 3 / sqrt(4.5·4) = 3 / sqrt(18) = 0.70710678...
        let ic = rank_ic(&[1.0, 2.0, 2.0, 3.0], &[0.0, 0.0, 1.0, 1.0]).unwrap();
        assert!(close(ic, 3.0 / 18f64.sqrt()), "{ic}");
    }

    #[test]
    fn rank_ic_monotone_reversed_and_undefined() {
        let x = [0.1, 0.5, 0.7, 2.0, 9.0];
        let up = [-3.0, -1.0, 0.0, 4.0, 100.0];
        let down: Vec<f64> = up.iter().map(|v| -v).collect();
        assert!(close(rank_ic(&x, &up).unwrap(), 1.0));
        assert!(close(rank_ic(&x, &down).unwrap(), -1.0));
        // Non-linear but monotone: still exactly 1.
        let cubed: Vec<f64> = x.iter().map(|v| v * v * v).collect();
        assert!(close(rank_ic(&x, &cubed).unwrap(), 1.0));
        // A constant side, too few pairs, bad lengths, NaN: undefined.
        assert_eq!(rank_ic(&[1.0; 5], &up), None);
        assert_eq!(rank_ic(&x, &[0.0; 5]), None);
        assert_eq!(rank_ic(&[1.0], &[2.0]), None);
        assert_eq!(rank_ic(&x, &up[..4]), None);
        assert_eq!(rank_ic(&[f64::NAN, 1.0, 2.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn quantiles_interpolate() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&s, 0.0), Some(1.0));
        assert_eq!(quantile(&s, 1.0), Some(5.0));
        assert_eq!(quantile(&s, 0.5), Some(3.0));
        assert_eq!(quantile(&s, 0.125), Some(1.5));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn block_length_rule() {
        // 1 s horizon at 0.77 samples/s: 2·1·0.77 = 1.54 → the floor of 10.
        assert_eq!(block_len(1_000_000_000, 0.77, 60_000), (10, false));
        // 30 s at 10/s: 600 samples; n = 10 000 allows 1000.
        assert_eq!(block_len(30_000_000_000, 10.0, 10_000), (600, false));
        // 30 s at 10/s but n = 5000: capped at 500.
        assert_eq!(block_len(30_000_000_000, 10.0, 5_000), (500, true));
        // 0.25 s at 101/s: 50.5 → 51.
        assert_eq!(block_len(250_000_000, 101.0, 100_000), (51, false));
        // Tiny n: the cap never goes below 1.
        assert_eq!(block_len(1, 1.0, 5), (1, true));
    }

    /// A deterministic series with hit rate near `p`: outcome i is a hit when
    /// a hashed counter falls below p, in runs of `run` equal outcomes
    /// (dependence the blocks must carry).
    fn series(n: usize, p: f64, run: usize, seed: u64) -> Vec<Outcome> {
        let mut rng = Prng::new(seed);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let o = if rng.below(1_000_000) as f64 / 1e6 < p {
                Outcome::Hit
            } else {
                Outcome::Miss
            };
            for _ in 0..run {
                if out.len() < n {
                    out.push(o);
                }
                if out.len() < n && rng.below(4) == 0 {
                    out.push(Outcome::Neither);
                }
            }
        }
        out
    }

    #[test]
    fn bootstrap_contains_the_estimate_narrows_and_is_reproducible() {
        let small = series(2_000, 0.55, 5, 1);
        let large = series(50_000, 0.55, 5, 1);
        let bs = |s: &[Outcome], seed| {
            Bootstrap {
                block: block_len(1_000_000_000, 5.0, s.len()).0,
                resamples: 1000,
                seed,
            }
            .interval(s)
            .unwrap()
        };
        for s in [&small, &large] {
            let est = hit_rate(s).unwrap();
            let ci = bs(s, 7);
            assert!(ci.contains(est), "{ci:?} lacks {est}");
            assert!(ci.lo > 0.4 && ci.hi < 0.7, "{ci:?}");
        }
        let (w_small, w_large) = (bs(&small, 7).width(), bs(&large, 7).width());
        // 25× the data: about 1/5 the width; allow plenty of slack.
        assert!(w_large < w_small / 2.5, "{w_small} vs {w_large}");
        // Same seed, same interval (bit for bit); another seed, another one.
        assert_eq!(bs(&small, 7), bs(&small, 7));
        assert_ne!(bs(&small, 7), bs(&small, 8));
    }

    #[test]
    fn blocks_widen_the_interval_of_dependent_samples() {
        // Runs of 50 equal outcomes: single-sample resampling (L = 1)
        // understates the uncertainty that L = 100 sees.
        let s = series(20_000, 0.5, 50, 3);
        let one = Bootstrap {
            block: 1,
            resamples: 500,
            seed: 1,
        };
        let hundred = Bootstrap { block: 100, ..one };
        let (w1, w100) = (
            one.interval(&s).unwrap().width(),
            hundred.interval(&s).unwrap().width(),
        );
        assert!(w100 > 3.0 * w1, "{w1} vs {w100}");
    }

    /// The bootstrap written the slow way: the same block draws, each
    /// block's samples counted one by one.
    fn naive(bs: &Bootstrap, s: &[Outcome]) -> Option<Interval> {
        let n = s.len();
        let block = bs.block.clamp(1, n);
        let blocks = n.div_ceil(block);
        let mut rng = Prng::new(bs.seed);
        let mut rates = Vec::new();
        for _ in 0..bs.resamples {
            let (mut hits, mut decided) = (0u64, 0u64);
            for b in 0..blocks {
                let start = rng.below((n - block + 1) as u64) as usize;
                let len = if b + 1 == blocks {
                    n - (blocks - 1) * block
                } else {
                    block
                };
                for o in &s[start..start + len] {
                    hits += u64::from(*o == Outcome::Hit);
                    decided += u64::from(*o != Outcome::Neither);
                }
            }
            if decided > 0 {
                rates.push(hits as f64 / decided as f64);
            }
        }
        rates.sort_by(f64::total_cmp);
        Some(Interval {
            lo: quantile(&rates, 0.025)?,
            hi: quantile(&rates, 0.975)?,
        })
    }

    #[test]
    fn packed_prefix_sums_equal_counting_one_by_one() {
        // Sizes around the packing's field widths (n = 1023 / 1024 / 1025
        // need 10 / 11 / 11 bits), several series at once, odd blocks.
        for (n, block) in [
            (2, 1),
            (7, 3),
            (1023, 10),
            (1024, 7),
            (1025, 100),
            (5000, 33),
        ] {
            let series: Vec<Vec<Outcome>> = (0..9)
                .map(|k| series(n, 0.3 + 0.05 * k as f64, 1 + k % 4, k as u64))
                .map(|mut s| {
                    s.truncate(n);
                    s
                })
                .collect();
            let refs: Vec<&[Outcome]> = series.iter().map(Vec::as_slice).collect();
            let bs = Bootstrap {
                block,
                resamples: 50,
                seed: n as u64,
            };
            let got = bs.intervals(&refs);
            for (s, g) in series.iter().zip(got) {
                assert_eq!(g, naive(&bs, s), "n {n} block {block}");
            }
        }
        let p = Packing::new(u32::MAX as usize, 3);
        assert_eq!((p.bits, p.per_word, p.words), (32, 4, 2));
        let mut row = vec![0u128; p.words];
        for f in 0..6 {
            let (w, b) = p.at(f);
            row[w] += u128::from(u32::MAX - f as u32) << b;
        }
        for f in 0..6 {
            assert_eq!(p.get(&row, f), u64::from(u32::MAX - f as u32));
        }
    }

    #[test]
    fn paired_series_match_single_runs_and_degenerate_inputs_give_none() {
        let a = series(3_000, 0.6, 3, 5);
        let b = series(3_000, 0.4, 3, 6);
        let bs = Bootstrap {
            block: 20,
            resamples: 300,
            seed: 11,
        };
        let both = bs.intervals(&[&a, &b]);
        assert_eq!(both[0], bs.interval(&a));
        assert_eq!(both[1], bs.interval(&b));
        // All hits: a degenerate but valid interval at 1.
        let all = vec![Outcome::Hit; 100];
        assert_eq!(bs.interval(&all), Some(Interval { lo: 1.0, hi: 1.0 }));
        // No hit and no miss, one sample, no resamples, ragged lengths.
        assert_eq!(bs.interval(&[Outcome::Neither; 50]), None);
        assert_eq!(bs.interval(&[Outcome::Hit]), None);
        let none = Bootstrap { resamples: 0, ..bs };
        assert_eq!(none.interval(&a), None);
        let r = bs.intervals(&[&a, &b[..10]]);
        assert!(r[0].is_some() && r[1].is_none());
    }
}
