//! Strategy stage: market updates in, quote targets out, conflated to the latest.
//!
//! Contract: pops every queued [`MarketUpdate`] and acts only on the newest
//! (older ones are stale the moment a newer one exists), computes the signal,
//! the inventory-aware reservation price and the quotes, and pushes a
//! [`QuoteTarget`] only when it differs from the last one sent. No allocation,
//! no lock, no syscall; TSC stamps for the `quote` hop.

use std::sync::Arc;

use crate::engine::metrics::{Hop, HopRecorder};
use crate::engine::msg::{MarketUpdate, PositionNote, QuoteTarget};
use crate::engine::status::{inc, set, Board};
use crate::engine::topology::Stage;
use crate::strategy::signal::{Confidence, Signal};
use crate::strategy::Strategy;
use crate::time::Clock;

/// The strategy stage.
pub struct StrategyStage {
    strategy: Strategy,
    input: rtrb::Consumer<MarketUpdate>,
    positions: rtrb::Consumer<PositionNote>,
    out: rtrb::Producer<QuoteTarget>,
    rec: HopRecorder,
    clock: Clock,
    board: Arc<Board>,
    last: Option<(Option<i64>, Option<i64>)>,
    polls: u32,
}

impl StrategyStage {
    /// Builds the stage.
    pub fn new(
        strategy: Strategy,
        input: rtrb::Consumer<MarketUpdate>,
        positions: rtrb::Consumer<PositionNote>,
        out: rtrb::Producer<QuoteTarget>,
        rec: HopRecorder,
        board: Arc<Board>,
    ) -> StrategyStage {
        StrategyStage {
            strategy,
            input,
            positions,
            out,
            rec,
            clock: Clock::new(),
            board,
            last: None,
            polls: 0,
        }
    }

    /// The recorder (hop histograms of this stage).
    pub fn recorder(&mut self) -> &mut HopRecorder {
        &mut self.rec
    }

    fn emit(&mut self, t: QuoteTarget) {
        let key = (t.bid.map(|p| p.0), t.ask.map(|p| p.0));
        if self.last == Some(key) {
            return;
        }
        if self.out.push(t).is_ok() {
            self.last = Some(key);
            inc(&self.board.strategy.targets);
        }
    }
}

impl Stage for StrategyStage {
    fn name(&self) -> &'static str {
        "strategy"
    }

    fn poll(&mut self) -> bool {
        // Check the interval clock only every 4096 polls: it is a wall-clock read.
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(4096) {
            let now = crate::time::wall_ms().0;
            if now.saturating_sub(self.rec.current().start_ms) >= 1000 {
                self.rec.rotate(now);
            }
        }
        let mut worked = false;
        while let Ok(p) = self.positions.pop() {
            self.strategy.set_inventory(p.position);
            // A position change moves the reservation price: recompute on the next update.
            self.last = None;
            worked = true;
        }
        let mut latest = None;
        while let Ok(m) = self.input.pop() {
            if latest.is_some() {
                inc(&self.board.strategy.conflated);
            }
            latest = Some(m);
        }
        let Some(m) = latest else {
            return worked;
        };
        let b = &self.board.strategy;
        let pulled = |m: &MarketUpdate, t_quoted| QuoteTarget {
            bid: None,
            ask: None,
            touch_bid: m.bid,
            touch_ask: m.ask,
            mid: m.mid,
            signal: Signal::Neutral,
            conf: Confidence::Low,
            u: m.u,
            t_read: m.t_read,
            t_parsed: m.t_parsed,
            t_applied: m.t_applied,
            t_quoted,
        };
        if !m.tradable {
            set(&b.bid, 0);
            set(&b.ask, 0);
            let t = pulled(&m, self.clock.stamp());
            self.emit(t);
            return true;
        }
        let target = self
            .strategy
            .on_market(m.bid, m.ask, m.mid, m.gap_score, m.exch_ts);
        let t_quoted = self.clock.stamp();
        let t = match target {
            Ok(q) => QuoteTarget {
                bid: Some(q.bid),
                ask: Some(q.ask),
                signal: q.signal,
                conf: q.conf,
                ..pulled(&m, t_quoted)
            },
            // A market the strategy refuses (crossed, out of order) is not quoted.
            Err(_) => pulled(&m, t_quoted),
        };
        // The target goes out first; the status board and the histogram are
        // not on the tick-to-wire path.
        self.emit(t);
        let b = &self.board.strategy;
        if let Ok(q) = target {
            set(&b.signal, i64::from(q.signal.code()));
            set(&b.conf, i64::from(q.conf.code()));
            set(&b.bid, q.bid.0);
            set(&b.ask, q.ask.0);
        }
        set(&b.mid_x2, m.mid.0);
        set(&b.score_ppm, (m.gap_score * 1e6) as i64);
        self.rec
            .record(Hop::Quote, self.clock.delta_ns(m.t_applied, t_quoted));
        true
    }
}
