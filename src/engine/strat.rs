//! Strategy stage: market updates in, quote targets out, conflated to the latest.
//!
//! Contract: pops every queued [`MarketUpdate`] and acts only on the newest
//! (older ones are stale the moment a newer one exists), computes the signal,
//! the inventory-aware reservation price and the quotes, and pushes a
//! [`QuoteTarget`] only when it differs from the last one sent. No allocation,
//! no lock, no syscall; TSC stamps for the `quote` hop.

use std::sync::Arc;

use crate::engine::latest::Latest;
use crate::engine::metrics::{Hop, HopRecorder};
use crate::engine::msg::{MarketUpdate, PositionNote, QuoteTarget};
use crate::engine::status::{inc, pack_signal, set, Board};
use crate::engine::topology::Stage;
use crate::strategy::signal::{Confidence, Signal};
use crate::strategy::Strategy;
use crate::time::Clock;

/// The quote target for market update `m`: the strategy's quotes, or a pull
/// (no bid, no ask) when the market is untradable or the strategy refuses it
/// (crossed, out of order). Returns the strategy's own answer beside it. The
/// strategy stage and the backtest both call this.
#[inline]
pub fn quote(
    strategy: &mut Strategy,
    m: &MarketUpdate,
    t_quoted: crate::time::Tsc,
) -> (QuoteTarget, Option<crate::strategy::Target>) {
    let pulled = QuoteTarget {
        bid: None,
        ask: None,
        touch_bid: m.bid,
        touch_ask: m.ask,
        mid: m.mid,
        signal: Signal::Neutral,
        conf: Confidence::Low,
        u: m.u,
        tick: m.tick,
        t_read: m.t_read,
        t_parsed: m.t_parsed,
        t_applied: m.t_applied,
        t_quoted,
    };
    if !m.tradable {
        return (pulled, None);
    }
    match strategy.on_market(m.bid, m.ask, m.mid, m.gap_score, m.exch_ts) {
        Ok(q) => (
            QuoteTarget {
                bid: Some(q.bid),
                ask: Some(q.ask),
                signal: q.signal,
                conf: q.conf,
                ..pulled
            },
            Some(q),
        ),
        Err(_) => (pulled, None),
    }
}

/// Lets a target through only when its prices differ from the last one let
/// through ([`TargetFilter::reset`] after a position change, which moves the
/// reservation price). The strategy stage and the backtest both use it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetFilter {
    last: Option<(Option<i64>, Option<i64>)>,
}

impl TargetFilter {
    /// Whether `t` is new (and remembers it if so).
    #[inline]
    pub fn admit(&mut self, t: &QuoteTarget) -> bool {
        let key = (t.bid.map(|p| p.0), t.ask.map(|p| p.0));
        if self.last == Some(key) {
            return false;
        }
        self.last = Some(key);
        true
    }

    /// Forgets the last target: the next one goes through.
    #[inline]
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// The strategy stage.
pub struct StrategyStage {
    strategy: Strategy,
    input: rtrb::Consumer<MarketUpdate>,
    positions: rtrb::Consumer<PositionNote>,
    out: Latest<QuoteTarget>,
    rec: HopRecorder,
    clock: Clock,
    board: Arc<Board>,
    filter: TargetFilter,
    polls: u32,
    /// Status-board values and the `quote` hop of the last update, written at
    /// the next poll that has no new update: after the order stage has sent
    /// the reaction when the stages share a thread, and never between a
    /// push and the reaction to it.
    unrecorded: Option<Unrecorded>,
}

/// What [`StrategyStage`] owes the status board and its histogram.
#[derive(Debug, Clone, Copy)]
struct Unrecorded {
    /// Signal code, confidence code, bid and ask of a quoted update.
    quoted: Option<(i64, i64, i64, i64)>,
    mid_x2: i64,
    score_ppm: i64,
    quote_ns: u64,
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
            out: Latest::new(out),
            rec,
            clock: Clock::new(),
            board,
            filter: TargetFilter::default(),
            polls: 0,
            unrecorded: None,
        }
    }

    /// The recorder (hop histograms of this stage).
    pub fn recorder(&mut self) -> &mut HopRecorder {
        &mut self.rec
    }

    /// Status-board values and the `quote` hop of one update.
    fn bookkeep(&mut self, u: Unrecorded) {
        let b = &self.board.strategy;
        if let Some((signal, conf, bid, ask)) = u.quoted {
            set(&b.signal, pack_signal(signal, conf, u.score_ppm));
            set(&b.bid, bid);
            set(&b.ask, ask);
        }
        set(&b.mid_x2, u.mid_x2);
        self.rec.record(Hop::Quote, u.quote_ns);
    }

    fn emit(&mut self, t: QuoteTarget) {
        if !self.filter.admit(&t) {
            return;
        }
        // A full ring holds the target until the order stage makes room; a
        // newer target supersedes it.
        self.out.push(t);
        inc(&self.board.strategy.targets);
    }
}

impl Stage for StrategyStage {
    fn name(&self) -> &'static str {
        "strategy"
    }

    fn poll(&mut self) -> bool {
        let held = !self.out.flush();
        // Check the interval clock only every 4096 polls: it is a wall-clock read.
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(4096) {
            let now = crate::time::wall_ms().0;
            if now.saturating_sub(self.rec.current().start_ms) >= 1000 {
                self.rec.rotate(now);
            }
        }
        let mut worked = held;
        while let Ok(p) = self.positions.pop() {
            self.strategy.set_inventory(p.position);
            // A position change moves the reservation price: recompute on the next update.
            self.filter.reset();
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
            // Idle: the last update's bookkeeping, off every reaction's path.
            if let Some(u) = self.unrecorded.take() {
                self.bookkeep(u);
            }
            if self.polls.is_multiple_of(1024) {
                // Keep the targets ring's slot pages written while idle: only
                // reactions write them otherwise (`crate::redirty`).
                self.out.redirty();
            }
            return worked;
        };
        if !m.tradable {
            let b = &self.board.strategy;
            set(&b.bid, 0);
            set(&b.ask, 0);
            let (t, _) = quote(&mut self.strategy, &m, self.clock.stamp());
            self.emit(t);
            return true;
        }
        // The `quote` hop ends after the strategy ran: stamp, then fill it in.
        let (mut t, target) = quote(&mut self.strategy, &m, crate::time::Tsc::default());
        let t_quoted = self.clock.stamp();
        t.t_quoted = t_quoted;
        // The target goes out first; the status board and the histogram are
        // written on the next poll without a new update, off the
        // tick-to-wire path (in a burst, an older update's bookkeeping is
        // done here rather than lost).
        self.emit(t);
        let done = Unrecorded {
            quoted: target.map(|q| {
                (
                    i64::from(q.signal.code()),
                    i64::from(q.conf.code()),
                    q.bid.0,
                    q.ask.0,
                )
            }),
            mid_x2: m.mid.0,
            score_ppm: (m.gap_score * 1e6) as i64,
            quote_ns: self.clock.delta_ns(m.t_applied, t_quoted),
        };
        if let Some(older) = self.unrecorded.replace(done) {
            self.bookkeep(older);
        }
        true
    }
}
