//! The simulator's market model: synthetic order flow from a seed, or replay
//! of a recording in Bybit's archive format.
//!
//! Contract: deterministic. The only randomness is [`Prng`] (splitmix64)
//! seeded from the configuration; no clock is read here — the exchange passes
//! the caller's `now_ms`. Deciding the next synthetic action allocates
//! nothing; loading a recording allocates once, at start-up.
//!
//! The synthetic model keeps, per symbol, a drifting reference mid. Each event
//! is one of: a limit add near the reference (never on the persistent "hole"
//! prices, so runs of empty ticks exist for the gap signal to see), a cancel of
//! synthetic liquidity at a random visible level, or an aggressive order that
//! trades through the book (and so fills clients' resting orders in queue
//! order). Far levels are trimmed so the book stays bounded.

use std::io::Read;
use std::path::PathBuf;

use crate::ids::Category;
use crate::units::{Side, Step};

use super::exchange::SimError;

/// splitmix64: a tiny, fast, well-mixed deterministic generator.
#[derive(Debug, Clone)]
pub struct Prng(u64);

impl Prng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Prng {
        Prng(seed ^ 0x5851_f42d_4c95_7f2d)
    }
    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
    /// Uniform in `0..n` (0 when `n == 0`).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// True with probability `pct`/100.
    #[inline]
    pub fn pct(&mut self, pct: u32) -> bool {
        self.below(100) < u64::from(pct)
    }
}

/// The splitmix64 finaliser (also used to hash prices into "holes").
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Parameters of the synthetic flow.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticParams {
    /// Events per second across all symbols; `0` = as fast as `step` asks.
    pub events_per_sec: u32,
    /// Levels per side the model aims to keep populated.
    pub levels: u32,
    /// Percentage of prices that are persistent holes (never receive synthetic adds).
    pub hole_pct: u32,
    /// Share of events that are limit adds (percent).
    pub add_pct: u32,
    /// Share of events that are cancels (percent); the rest are aggressive orders.
    pub cancel_pct: u32,
    /// Chance per event that the reference mid moves one tick (percent).
    pub drift_pct: u32,
}

impl Default for SyntheticParams {
    fn default() -> Self {
        SyntheticParams {
            events_per_sec: 1000,
            levels: 60,
            hole_pct: 20,
            add_pct: 55,
            cancel_pct: 33,
            drift_pct: 10,
        }
    }
}

/// Replay of a recording (Bybit archive format: one WS message per line).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayConfig {
    /// `.data` file or a `.zip` holding one.
    pub path: PathBuf,
    /// The exchange symbol the recording is applied to.
    pub symbol: String,
    /// Its category.
    pub category: Category,
    /// Speed multiplier; `0.0` = as fast as possible.
    pub speed: f64,
}

/// Where the market's flow comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketModel {
    /// No flow at all: tests drive the book.
    Quiet,
    /// Seeded synthetic flow on every configured symbol.
    Synthetic(SyntheticParams),
    /// Replay of a recording onto one symbol.
    Replay(ReplayConfig),
}

/// One recorded orderbook message in ticks and lots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecMsg {
    /// Recorded `ts`.
    pub ts: u64,
    /// Snapshot (replace) or delta (patch).
    pub snapshot: bool,
    /// Bid levels (size 0 = delete).
    pub bids: Vec<(i64, i64)>,
    /// Ask levels (size 0 = delete).
    pub asks: Vec<(i64, i64)>,
}

/// Reads a recording into messages, converting with the instrument's steps.
/// Lines that are not orderbook messages are skipped; a malformed orderbook
/// line is an error.
pub fn load_recording(
    path: &std::path::Path,
    tick: Step,
    lot: Step,
) -> Result<Vec<RecMsg>, SimError> {
    let raw = std::fs::read(path).map_err(|_| SimError::Replay("cannot read recording"))?;
    let text = if raw.starts_with(b"PK") {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(raw))
            .map_err(|_| SimError::Replay("recording is not a readable zip"))?;
        let mut f = z
            .by_index(0)
            .map_err(|_| SimError::Replay("zip has no entry"))?;
        let mut s = Vec::new();
        f.read_to_end(&mut s)
            .map_err(|_| SimError::Replay("cannot inflate recording"))?;
        s
    } else {
        raw
    };
    parse_recording(&text, tick, lot)
}

/// Parses recording text (one JSON message per line).
pub fn parse_recording(text: &[u8], tick: Step, lot: Step) -> Result<Vec<RecMsg>, SimError> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_slice(line).map_err(|_| SimError::Replay("line is not JSON"))?;
        let topic = v.get("topic").and_then(|t| t.as_str()).unwrap_or("");
        if !topic.starts_with("orderbook.") {
            continue;
        }
        let snapshot = match v.get("type").and_then(|t| t.as_str()) {
            Some("snapshot") => true,
            Some("delta") => false,
            _ => {
                return Err(SimError::Replay(
                    "orderbook line without snapshot/delta type",
                ))
            }
        };
        let ts = v
            .get("ts")
            .and_then(|t| t.as_u64())
            .ok_or(SimError::Replay("orderbook line without ts"))?;
        let data = v
            .get("data")
            .ok_or(SimError::Replay("orderbook line without data"))?;
        let side = |k: &str| -> Result<Vec<(i64, i64)>, SimError> {
            let mut lv = Vec::new();
            if let Some(arr) = data.get(k).and_then(|a| a.as_array()) {
                for e in arr {
                    let p = e.get(0).and_then(|x| x.as_str());
                    let q = e.get(1).and_then(|x| x.as_str());
                    let (Some(p), Some(q)) = (p, q) else {
                        return Err(SimError::Replay("level is not [price, size]"));
                    };
                    let p = tick
                        .count(p.as_bytes())
                        .map_err(|_| SimError::Replay("price off the instrument grid"))?;
                    let q = lot
                        .count(q.as_bytes())
                        .map_err(|_| SimError::Replay("size off the instrument grid"))?;
                    lv.push((p, q));
                }
            }
            Ok(lv)
        };
        out.push(RecMsg {
            ts,
            snapshot,
            bids: side("b")?,
            asks: side("a")?,
        });
    }
    Ok(out)
}

/// Read access to one book that the synthetic model decides from.
pub trait MarketView {
    /// Best price of a side.
    fn best(&self, side: Side) -> Option<i64>;
    /// Number of levels on a side.
    fn level_count(&self, side: Side) -> usize;
    /// The `n`-th best level (price, total size).
    fn level_at(&self, side: Side, n: usize) -> Option<(i64, i64)>;
    /// Synthetic size resting at a price.
    fn synth_at(&self, side: Side, price: i64) -> i64;
    /// The worst price on a side.
    fn worst(&self, side: Side) -> Option<i64>;
}

/// What the synthetic model wants done next on one book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Rest a synthetic limit order.
    Add {
        /// Side of the resting order.
        side: Side,
        /// Price in ticks.
        price: i64,
        /// Size in lots.
        qty: i64,
    },
    /// Remove up to `qty` of synthetic liquidity at a price (newest first).
    Cancel {
        /// Side of the level.
        side: Side,
        /// Price in ticks.
        price: i64,
        /// Size in lots to remove.
        qty: i64,
    },
    /// An aggressive order of `qty` lots on `side` (the taker side).
    Take {
        /// Taker side.
        side: Side,
        /// Size in lots.
        qty: i64,
    },
    /// Nothing to do.
    Idle,
}

/// Per-symbol synthetic state.
#[derive(Debug, Clone)]
pub struct SymState {
    /// Reference mid in half ticks.
    pub mid2: i64,
    /// Typical order size in lots.
    pub typical: i64,
}

/// The synthetic flow generator.
#[derive(Debug, Clone)]
pub struct Synth {
    /// Parameters.
    pub params: SyntheticParams,
    rng: Prng,
    hole_seed: u64,
}

impl Synth {
    /// A generator from the exchange seed.
    pub fn new(params: SyntheticParams, seed: u64) -> Synth {
        Synth {
            params,
            rng: Prng::new(seed),
            hole_seed: mix(seed ^ 0xa076_1d64_78bd_642f),
        }
    }

    /// Picks which of `n` symbols the next event is for.
    pub fn pick(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }

    /// Whether a price is a persistent hole.
    #[inline]
    pub fn is_hole(&self, price: i64) -> bool {
        (mix(self.hole_seed ^ price as u64) % 100) < u64::from(self.params.hole_pct)
    }

    fn size(&mut self, typical: i64) -> i64 {
        let t = typical.max(1) as u64;
        // 1..=3 typical sizes, skewed small.
        let a = self.rng.below(2 * t) + 1;
        let b = self.rng.below(2 * t) + 1;
        (a.min(b) as i64).max(1)
    }

    /// Decides the next action on a book.
    pub fn next_action(&mut self, st: &mut SymState, book: &dyn MarketView) -> Action {
        let p = &self.params;
        let levels = p.levels.max(2) as usize;
        if self.rng.pct(p.drift_pct) {
            st.mid2 += if self.rng.pct(50) { 2 } else { -2 };
        }
        // Pull the reference back towards the actual book so it never wanders off.
        if let (Some(b), Some(a)) = (book.best(Side::Buy), book.best(Side::Sell)) {
            let m2 = b + a;
            if st.mid2 > m2 + 2 * levels as i64 || st.mid2 < m2 - 2 * levels as i64 {
                st.mid2 = m2;
            }
        }
        st.mid2 = st.mid2.max(4 * levels as i64 + 4);
        let side = if self.rng.pct(50) {
            Side::Buy
        } else {
            Side::Sell
        };
        let n = book.level_count(side);
        // Trim far levels so the book stays bounded.
        if n > 2 * levels {
            if let Some(w) = book.worst(side) {
                let q = book.synth_at(side, w);
                if q > 0 {
                    return Action::Cancel {
                        side,
                        price: w,
                        qty: q,
                    };
                }
            }
        }
        let roll = self.rng.below(100) as u32;
        if n < levels / 2 || roll < p.add_pct {
            return self.add(st, book, side, levels);
        }
        if roll < p.add_pct + p.cancel_pct {
            let k = self.rng.below(n.min(levels) as u64) as usize;
            let k2 = self.rng.below(n.min(levels) as u64) as usize;
            if let Some((price, _)) = book.level_at(side, k.min(k2)) {
                let s = book.synth_at(side, price);
                if s > 0 {
                    let q = if self.rng.pct(60) {
                        s
                    } else {
                        (self.size(st.typical)).min(s)
                    };
                    return Action::Cancel {
                        side,
                        price,
                        qty: q,
                    };
                }
            }
            return self.add(st, book, side, levels);
        }
        if book.level_count(side.opposite()) < 3 {
            return self.add(st, book, side.opposite(), levels);
        }
        Action::Take {
            side,
            qty: self.size(st.typical),
        }
    }

    fn add(&mut self, st: &SymState, book: &dyn MarketView, side: Side, levels: usize) -> Action {
        // A third of the adds join the touch or step one tick inside a wide
        // spread, which keeps spreads realistically tight.
        if let (Some(b), Some(a)) = (book.best(Side::Buy), book.best(Side::Sell)) {
            if self.rng.pct(35) {
                let inside = a - b > 1 && self.rng.pct(40);
                let price = match (side, inside) {
                    (Side::Buy, false) => b,
                    (Side::Buy, true) => b + 1,
                    (Side::Sell, false) => a,
                    (Side::Sell, true) => a - 1,
                };
                return Action::Add {
                    side,
                    price,
                    qty: self.size(st.typical),
                };
            }
        }
        // Otherwise a distance from the reference, skewed towards the touch.
        let span = levels as u64;
        let d = self
            .rng
            .below(span)
            .min(self.rng.below(span))
            .min(self.rng.below(span)) as i64;
        let price = match side {
            Side::Buy => {
                let top = st.mid2.div_euclid(2) - if st.mid2 % 2 == 0 { 1 } else { 0 };
                let mut px = top - d;
                if let Some(a) = book.best(Side::Sell) {
                    px = px.min(a - 1);
                }
                px
            }
            Side::Sell => {
                let bot = st.mid2.div_euclid(2) + 1;
                let mut px = bot + d;
                if let Some(b) = book.best(Side::Buy) {
                    px = px.max(b + 1);
                }
                px
            }
        };
        if price < 1 || (self.is_hole(price) && book.level_count(side) >= levels / 2) {
            return Action::Idle;
        }
        Action::Add {
            side,
            price,
            qty: self.size(st.typical),
        }
    }
}

/// Replay progress.
#[derive(Debug, Clone)]
pub struct ReplayState {
    /// The recording.
    pub msgs: Vec<RecMsg>,
    /// Next message index.
    pub pos: usize,
    /// Speed multiplier (0 = as fast as possible).
    pub speed: f64,
    /// `now_ms` of the first `step` call.
    pub anchor: Option<u64>,
    /// Book index the recording applies to.
    pub book: usize,
}

impl ReplayState {
    /// When message `i` is due, given the anchor.
    pub fn due(&self, i: usize, anchor: u64) -> Option<u64> {
        let m = self.msgs.get(i)?;
        if self.speed <= 0.0 {
            return Some(anchor);
        }
        let t0 = self.msgs.first().map(|m| m.ts).unwrap_or(m.ts);
        let dt = m.ts.saturating_sub(t0) as f64 / self.speed;
        Some(anchor + dt as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prng_is_deterministic_and_bounded() {
        let mut a = Prng::new(7);
        let mut b = Prng::new(7);
        for _ in 0..1000 {
            let x = a.below(10);
            assert_eq!(x, b.below(10));
            assert!(x < 10);
        }
        assert_ne!(Prng::new(1).next_u64(), Prng::new(2).next_u64());
    }

    #[test]
    fn recording_parses_and_rejects_off_grid() {
        let tick = Step::parse("0.0001").unwrap();
        let lot = Step::parse("1").unwrap();
        let ok = br#"{"topic":"orderbook.500.XRPUSDT","type":"snapshot","ts":5,"data":{"s":"XRPUSDT","b":[["1.9531","6203"]],"a":[["1.9532","10"]],"u":1,"seq":2},"cts":4}"#;
        let m = parse_recording(ok, tick, lot).unwrap();
        assert_eq!(m[0].bids, vec![(19531, 6203)]);
        assert!(m[0].snapshot);
        let bad = br#"{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":5,"data":{"b":[["1.95315","1"]],"a":[]}}"#;
        assert!(parse_recording(bad, tick, lot).is_err());
    }
}
