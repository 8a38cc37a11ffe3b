//! Feed stage: public WebSocket → decoder → book → analytics → ring.
//!
//! Contract (steady state): one `epoll_wait(0)` per poll, socket reads only
//! when readable, no allocation (the decoder, book and frame buffers are
//! sized at start-up), no lock, no panic. Clock: TSC stamps from
//! [`Clock`] for the `parse` and `apply` hops, `std::time::Instant` for the
//! staleness and reconnect timers, wall-clock ms for the exchange-lag check.
//!
//! Safety rules implemented here:
//! - the book is invalid until a fresh snapshot arrives after (re)connect;
//! - a sequence gap or crossed book invalidates it and resubscribes the topic;
//! - no message for `stale` or exchange time lagging by more than `max_lag`
//!   marks the market untradable.
//!
//! In each of those cases a "pull" update is pushed so the strategy withdraws
//! the quotes at once.
//!
//! Recording (`--record`): every frame read is handed, with its receive
//! time, to a [`Tee`] (a copy into a byte ring; the file is written by
//! another thread) before it is decoded, and the stage subscribes to the
//! symbol's `publicTrade` topic as well, whose frames it records and does
//! not decode. The receive time is the `CLOCK_REALTIME` reading the poll
//! takes anyway, moved on by the TSC to the frame's read stamp: no clock
//! call per frame.
//!
//! Our own resting orders (from the order stage, over an SPSC ring) are taken
//! out of the book for the analytics (`Book::without_own`): the touch, mid,
//! gaps and depths the strategy sees are the rest of the market's, so our
//! quotes never feed back into the signal that sets them. The private stream
//! and the public book are not synchronised: an order whose level the book
//! does not show yet is not subtracted, and when our orders change with no
//! market message to follow (a quiet or paused market) the analytics run
//! again on the current book and go out as a non-tick update
//! ([`MarketUpdate::tick`] false), which the order stage never times as a
//! reaction.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::analytics::{self, MarketMetrics};
use crate::book::{Applied, Book, BookConfig};
use crate::codec::public::{
    orderbook_topic, trade_topic, write_subscribe, BookUpdate, Level, PublicDecoder, PublicEvent,
    SubOp,
};
use crate::engine::conn::{ConnEvent, ManagedWs};
use crate::engine::latest::{Latest, Pushed};
use crate::engine::metrics::{Hop, HopRecorder};
use crate::engine::msg::{MarketUpdate, OwnOrders};
use crate::engine::status::{inc, Board};
use crate::engine::topology::Stage;
use crate::ids::{Symbol, UpdateId};
use crate::net::txstamp::realtime_ns;
use crate::net::ws::WsConn;
use crate::net::Endpoint;
use crate::net::NetError;
use crate::record::Tee;
use crate::time::{wall_ms, Clock, ExchMs, Tsc};
use crate::units::Step;

const TOKEN: Token = Token(0);

/// How a Bybit `publicTrade` push starts (recorded, not decoded).
const TRADE_PREFIX: &[u8] = b"{\"topic\":\"publicTrade.";

/// Feed settings.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// Public WS endpoint for the category.
    pub endpoint: Endpoint,
    /// Symbol.
    pub symbol: Symbol,
    /// Tick size.
    pub price_step: Step,
    /// Quantity step.
    pub qty_step: Step,
    /// Book depth topic.
    pub depth: u16,
    /// No message for this long → untradable.
    pub stale: Duration,
    /// Exchange time behind wall time by more than this → untradable.
    pub max_lag: Duration,
    /// Heartbeat interval ([`ManagedWs::with_heartbeat`]).
    pub ping: Duration,
    /// Backoff jitter seed.
    pub seed: u64,
}

/// The feed stage.
pub struct FeedStage {
    poll: Poll,
    events: Events,
    conn: ManagedWs,
    rules: FeedRules,
    out: Latest<MarketUpdate>,
    rec: HopRecorder,
    clock: Clock,
    board: Arc<Board>,
    sub: Vec<u8>,
    unsub: Vec<u8>,
    stale: Duration,
    last_msg: Instant,
    tradable: bool,
    last_rotate: Instant,
    /// The last message's `parse` and `apply` times, recorded on the next
    /// message or poll: recording is not on the tick-to-wire path.
    unrecorded: Option<(u64, u64)>,
    /// Our own resting orders, from the order stage.
    own_in: Option<rtrb::Consumer<OwnOrders>>,
    own: [Option<Level>; 2],
    /// Our resting orders changed since the analytics last ran.
    own_changed: bool,
    /// Where received frames are recorded, if anywhere.
    tee: Option<Tee>,
    /// The connection opened and has not yet delivered a valid book (see
    /// [`ManagedWs::proven`]).
    unproven: bool,
}

/// The market update the strategy gets from `book` after message `u` at
/// exchange time `ts`: the analytics of the book without our own resting
/// orders `own` (TSC stamps zero, `tick` and `tradable` set). `None` when
/// the rest of the market is not two-sided. The feed stage and the backtest
/// both call this: it is the one definition of what the strategy sees.
#[inline]
pub fn analyse(
    book: &mut Book,
    own: [Option<Level>; 2],
    u: UpdateId,
    ts: ExchMs,
) -> Option<MarketUpdate> {
    book.without_own(own, |b| analytics::compute(b, ts))
        .map(|m| market_update(&m, u, ts))
}

/// Whether exchange time `ts` lags the local wall clock by more than
/// `max_lag_ms` (the feed then marks the market untradable).
#[inline]
pub fn lagging(wall_now_ms: u64, ts: ExchMs, max_lag_ms: u64) -> bool {
    wall_now_ms.saturating_sub(ts.0) > max_lag_ms
}

/// A market update from fresh analytics (stamps and flags to be filled in).
fn market_update(m: &MarketMetrics, u: UpdateId, ts: ExchMs) -> MarketUpdate {
    MarketUpdate {
        u,
        exch_ts: ts,
        bid: m.bid,
        ask: m.ask,
        mid: m.mid,
        gap_score: m.gap_prob_resistance_up,
        imbalance: m.imbalance,
        tradable: true,
        tick: true,
        t_read: Tsc::default(),
        t_parsed: Tsc::default(),
        t_applied: Tsc::default(),
    }
}

/// What one public frame did to the feed (see [`FeedRules::on_frame`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameOutcome {
    /// A book message was applied: the update for the strategy, tradable
    /// unless the exchange time lags the wall clock by more than the limit.
    Market(MarketUpdate),
    /// Applied, but the rest of the market is not two-sided: pull.
    OneSided,
    /// A sequence gap, a `u` going back or a crossed book: the book is
    /// invalid until a fresh snapshot; pull and resubscribe.
    Broken,
    /// Not for the book (another topic), or a delta while waiting for the
    /// snapshot of a resubscription.
    Skipped,
    /// Not a message the decoder understands; the book is unchanged.
    Undecodable,
}

/// The feed's rules without its I/O: decode, sequence, apply, analyse and
/// judge one frame. The stage feeds it the frames its socket reads; tests
/// feed it byte buffers.
///
/// Contract: no allocation (decoder and book sized at construction), no
/// lock, no syscall, no panic. Clock: the TSC stamps of the update, taken
/// with the given [`Clock`]; the lag rule compares the message's exchange
/// time with the wall-clock ms the caller read.
pub struct FeedRules {
    decoder: PublicDecoder,
    book: Book,
    max_lag_ms: u64,
    /// A resubscribe was sent; deltas until the next snapshot are ignored.
    pub resyncing: bool,
    /// `u` of the last applied message.
    pub last_u: UpdateId,
    /// Exchange time of the last applied message.
    pub last_ts: ExchMs,
}

impl FeedRules {
    /// Rules for one symbol's book; `max_lag` is the exchange-time lag
    /// beyond which the market is untradable.
    pub fn new(symbol: Symbol, price_step: Step, qty_step: Step, max_lag: Duration) -> FeedRules {
        FeedRules {
            decoder: PublicDecoder::new(symbol, price_step, qty_step),
            book: Book::new(BookConfig::default()),
            max_lag_ms: u64::try_from(max_lag.as_millis()).unwrap_or(u64::MAX),
            resyncing: false,
            last_u: UpdateId(0),
            last_ts: ExchMs(0),
        }
    }

    /// A new connection: the book is invalid until its snapshot.
    pub fn reset(&mut self) {
        self.book.invalidate();
        self.resyncing = false;
    }

    /// The book as the rules hold it.
    pub fn book(&self) -> &Book {
        &self.book
    }

    /// One frame read at `t_read`, with our own resting orders `own` and the
    /// wall clock `wall_now_ms` read before the socket.
    pub fn on_frame(
        &mut self,
        frame: &[u8],
        own: [Option<Level>; 2],
        wall_now_ms: u64,
        clock: &Clock,
        t_read: Tsc,
    ) -> FrameOutcome {
        let update = match self.decoder.decode(frame) {
            Ok(PublicEvent::Book(b)) => b,
            Ok(_) => return FrameOutcome::Skipped,
            Err(_) => return FrameOutcome::Undecodable,
        };
        let t_parsed = clock.stamp();
        let (u, ts) = (update.u, update.ts);
        match sequence(&mut self.book, &mut self.resyncing, &update) {
            Sequenced::Applied => {}
            Sequenced::Skipped => return FrameOutcome::Skipped,
            Sequenced::Broken => return FrameOutcome::Broken,
        }
        self.last_u = u;
        self.last_ts = ts;
        let Some(m) = analyse(&mut self.book, own, u, ts) else {
            return FrameOutcome::OneSided;
        };
        FrameOutcome::Market(MarketUpdate {
            tradable: !lagging(wall_now_ms, ts, self.max_lag_ms),
            tick: true,
            t_read,
            t_parsed,
            t_applied: clock.stamp(),
            ..m
        })
    }
}

/// What the sequencing rule made of one book message ([`sequence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequenced {
    /// Applied: the book changed.
    Applied,
    /// Nothing changed: a delta while waiting for a resubscription's
    /// snapshot, or a delta older than the book (`u` must not go back).
    Skipped,
    /// A sequence gap or a crossed book: the book is invalid until a fresh
    /// snapshot.
    Broken,
}

/// The feed's sequencing rule for one decoded book message, shared by the
/// live feed ([`FeedRules`]) and the backtest, so both judge a recording's
/// messages alike. `resyncing` (a resubscribe was sent) ends with the first
/// message applied. No allocation, no panic.
pub fn sequence(book: &mut Book, resyncing: &mut bool, update: &BookUpdate<'_>) -> Sequenced {
    if *resyncing && update.kind == crate::codec::public::BookKind::Delta {
        return Sequenced::Skipped; // waiting for the fresh snapshot
    }
    match book.apply(update) {
        Ok(Applied::Stale) => Sequenced::Skipped,
        Ok(_) => {
            *resyncing = false;
            Sequenced::Applied
        }
        Err(_) => Sequenced::Broken,
    }
}

/// Whether no message for longer than `stale` since `last_msg` (the feed
/// then marks the market untradable).
#[inline]
pub fn stale(now: Instant, last_msg: Instant, stale: Duration) -> bool {
    now.saturating_duration_since(last_msg) > stale
}

impl FeedStage {
    /// Builds the stage; the connection opens on the first polls.
    pub fn new(
        cfg: FeedConfig,
        out: rtrb::Producer<MarketUpdate>,
        rec: HopRecorder,
        board: Arc<Board>,
    ) -> std::io::Result<FeedStage> {
        let poll = Poll::new()?;
        let ws =
            WsConn::new(cfg.endpoint, poll.registry(), TOKEN).map_err(std::io::Error::other)?;
        let topic = orderbook_topic(cfg.depth, &cfg.symbol);
        let mut sub = Vec::with_capacity(128);
        let mut unsub = Vec::with_capacity(128);
        write_subscribe(
            SubOp::Subscribe,
            &[topic.as_str()],
            Some("gm-sub"),
            &mut sub,
        )
        .map_err(std::io::Error::other)?;
        write_subscribe(
            SubOp::Unsubscribe,
            &[topic.as_str()],
            Some("gm-unsub"),
            &mut unsub,
        )
        .map_err(std::io::Error::other)?;
        Ok(FeedStage {
            poll,
            events: Events::with_capacity(16),
            conn: ManagedWs::new(ws, cfg.seed).with_heartbeat(cfg.ping),
            rules: FeedRules::new(cfg.symbol, cfg.price_step, cfg.qty_step, cfg.max_lag),
            out: Latest::new(out),
            rec,
            clock: Clock::new(),
            board,
            sub,
            unsub,
            stale: cfg.stale,
            last_msg: Instant::now(),
            tradable: false,
            last_rotate: Instant::now(),
            unrecorded: None,
            own_in: None,
            own: [None; 2],
            own_changed: false,
            tee: None,
            unproven: false,
        })
    }

    /// Records every frame received into `tee`, and subscribes to the
    /// symbol's trades too (see the module docs).
    pub fn with_recorder(mut self, tee: Tee, symbol: &Symbol, depth: u16) -> FeedStage {
        let book = orderbook_topic(depth, symbol);
        let trades = trade_topic(symbol);
        let topics = [book.as_str(), trades.as_str()];
        self.sub.clear();
        self.unsub.clear();
        // Both topics fit the subscribe buffers (reserved at 128 bytes, and
        // grown here, off the hot path, if a symbol needs more).
        let _ = write_subscribe(SubOp::Subscribe, &topics, Some("gm-sub"), &mut self.sub);
        let _ = write_subscribe(
            SubOp::Unsubscribe,
            &topics,
            Some("gm-unsub"),
            &mut self.unsub,
        );
        self.tee = Some(tee);
        self
    }

    /// Takes our own resting orders (from the order stage) out of the book
    /// before the analytics.
    pub fn with_own_orders(mut self, own: rtrb::Consumer<OwnOrders>) -> FeedStage {
        self.own_in = Some(own);
        self
    }

    /// The recorder (hop histograms of this stage).
    pub fn recorder(&mut self) -> &mut HopRecorder {
        &mut self.rec
    }

    /// Stops reconnecting and closes the connection.
    pub fn close(&mut self) {
        self.conn.disable();
    }

    fn pull(&mut self) {
        if self.tradable {
            self.tradable = false;
            self.board
                .feed
                .tradable
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        // A full ring holds the pull until there is room (or a newer update
        // supersedes it): it is never lost.
        if self
            .out
            .push(MarketUpdate::pull(self.rules.last_u, self.clock.stamp()))
            == Pushed::Held
        {
            inc(&self.board.feed.ring_full);
        }
    }

    fn on_opened(&mut self) {
        self.rules.reset();
        self.unproven = true;
        self.last_msg = Instant::now();
        if let Err(e) = self.conn.ws().send_text(&self.sub) {
            let _ = self.conn.lost(e, Instant::now());
        }
    }

    fn resubscribe(&mut self) {
        inc(&self.board.feed.resyncs);
        self.rules.resyncing = true;
        let ws = self.conn.ws();
        let r = ws
            .send_text(&self.unsub)
            .and_then(|_| ws.send_text(&self.sub));
        if let Err(e) = r {
            let _ = self.conn.lost(e, Instant::now());
        }
    }

    /// Runs the analytics again on the current book after our own resting
    /// orders changed, and pushes the result as a non-tick update.
    fn recompute(&mut self) {
        if !self.tradable || !self.rules.book.is_valid() {
            return;
        }
        let t0 = self.clock.stamp();
        let r = &mut self.rules;
        let Some(m) = analyse(&mut r.book, self.own, r.last_u, r.last_ts) else {
            return;
        };
        let mu = MarketUpdate {
            tick: false,
            t_read: t0,
            t_parsed: t0,
            t_applied: self.clock.stamp(),
            ..m
        };
        if self.out.push(mu) == Pushed::Held {
            inc(&self.board.feed.ring_full);
        }
    }

    /// Reads and processes every available frame; returns how many frames
    /// arrived. `now` (start of the poll) and `wall_now_ms` were read before
    /// the socket: the staleness and lag checks have millisecond
    /// thresholds, and no clock call is left between a frame's read and its
    /// market update.
    fn read(&mut self, now: Instant, wall_now_ns: u64, t_wall: Tsc) -> usize {
        let wall_now_ms = wall_now_ns / 1_000_000;
        let FeedStage {
            conn,
            rules,
            out,
            rec,
            clock,
            board,
            tradable,
            unrecorded,
            own,
            own_changed,
            tee,
            ..
        } = self;
        let own = *own;
        let mut need_resync = false;
        let mut went_untradable = false;
        let res = conn.ws().read_frames(|frame| {
            let t_read = clock.stamp();
            if let Some((p, a)) = unrecorded.take() {
                rec.record(Hop::Parse, p);
                rec.record(Hop::Apply, a);
            }
            if let Some(tee) = tee.as_mut() {
                let local_ns = wall_now_ns.saturating_add(clock.delta_ns(t_wall, t_read));
                tee.push(local_ns, frame);
                if frame.starts_with(TRADE_PREFIX) {
                    return; // recorded, not needed for the book
                }
            }
            match rules.on_frame(frame, own, wall_now_ms, clock, t_read) {
                FrameOutcome::Market(mu) => {
                    *own_changed = false;
                    if mu.tradable != *tradable {
                        *tradable = mu.tradable;
                        board
                            .feed
                            .tradable
                            .store(mu.tradable, std::sync::atomic::Ordering::Relaxed);
                    }
                    if out.push(mu) == Pushed::Held {
                        inc(&board.feed.ring_full);
                    }
                    // Bookkeeping after the update is on its way.
                    note_applied(board, mu.u, rules.last_ts);
                    *unrecorded = Some((
                        clock.delta_ns(mu.t_read, mu.t_parsed),
                        clock.delta_ns(mu.t_parsed, mu.t_applied),
                    ));
                }
                FrameOutcome::OneSided => {
                    *own_changed = false;
                    note_applied(board, rules.last_u, rules.last_ts);
                    went_untradable = true;
                }
                FrameOutcome::Broken => {
                    need_resync = true;
                    went_untradable = true;
                }
                FrameOutcome::Skipped => {}
                FrameOutcome::Undecodable => inc(&board.feed.decode_errors),
            }
        });
        match res {
            Ok(n) => {
                if n > 0 {
                    self.last_msg = now;
                }
                if went_untradable {
                    self.pull();
                }
                if need_resync {
                    self.resubscribe();
                }
                n
            }
            Err(e) => {
                let _ = self.conn.lost(e, now);
                self.rules.book.invalidate();
                self.pull();
                0
            }
        }
    }
}

impl Stage for FeedStage {
    fn name(&self) -> &'static str {
        "feed"
    }

    fn poll(&mut self) -> bool {
        let held = !self.out.flush();
        if let Some((p, a)) = self.unrecorded.take() {
            self.rec.record(Hop::Parse, p);
            self.rec.record(Hop::Apply, a);
        }
        let now = Instant::now();
        if now.duration_since(self.last_rotate) >= Duration::from_secs(1) {
            self.last_rotate = now;
            self.rec.rotate(wall_ms().0);
        }
        match self.conn.drive(now) {
            ConnEvent::Opened => {
                inc_reconnect(&self.board, self.conn.reconnects);
                self.on_opened();
            }
            // A failed connect, or the open connection lost (ping write
            // failed, or dead link: nothing received for its timeout).
            ConnEvent::Failed(_) => {
                self.rules.book.invalidate();
                self.pull();
            }
            ConnEvent::Idle => {}
        }
        if !self.conn.is_open() {
            return false;
        }
        if self
            .poll
            .poll(&mut self.events, Some(Duration::ZERO))
            .is_err()
        {
            return false;
        }
        let (mut readable, mut closed) = (false, false);
        for e in self.events.iter().filter(|e| e.token() == TOKEN) {
            readable = true;
            closed |= e.is_read_closed() || e.is_error();
        }
        if let Some(c) = self.own_in.as_mut() {
            while let Ok(o) = c.pop() {
                if o.levels != self.own {
                    self.own = o.levels;
                    self.own_changed = true;
                }
            }
        }
        // The wall clock is read before the socket, not per frame.
        let n = if readable {
            let wall_ns = u64::try_from(realtime_ns()).unwrap_or(0);
            let t_wall = if self.tee.is_some() {
                self.clock.stamp()
            } else {
                Tsc::default()
            };
            self.read(now, wall_ns, t_wall)
        } else {
            0
        };
        if self.unproven && n > 0 && self.rules.book().is_valid() {
            self.unproven = false;
            self.conn.proven();
        }
        if self.own_changed {
            // No message used the new own orders yet: the signal must not
            // wait for the next tick (with a quiet market it could wait long).
            self.own_changed = false;
            self.recompute();
        }
        if closed && self.conn.is_open() {
            // The peer closed (EOF or reset). With edge-triggered readiness
            // the EOF can come in the same event as the last data; a read
            // that stopped short of it would never be woken again, leaving a
            // dead connection that looks open. No data can follow: reconnect.
            let _ = self.conn.lost(NetError::Closed { code: 1006 }, now);
            self.rules.book.invalidate();
            self.pull();
        }
        if n == 0 && self.tradable && stale(now, self.last_msg, self.stale) {
            self.pull();
        }
        // A value still held for room is work left: do not let an idle
        // policy park the thread on it.
        n > 0 || held
    }
}

/// Status board: one more message applied, the newest `u` and its
/// exchange time.
fn note_applied(board: &Board, u: UpdateId, ts: ExchMs) {
    use std::sync::atomic::Ordering::Relaxed;
    board.feed.last_u.store(u.0, Relaxed);
    board.feed.last_exch_ms.store(ts.0, Relaxed);
    inc(&board.feed.messages);
}

fn inc_reconnect(board: &Board, reconnects: u64) {
    board
        .feed
        .reconnects
        .store(reconnects, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
mod rules_tests {
    //! The feed's rules on byte buffers: what a frame does to the book and
    //! whether the strategy may trade on it.
    use super::*;

    const LAG: u64 = 5_000;

    fn rules() -> FeedRules {
        FeedRules::new(
            Symbol::from_str("BTCUSDT").unwrap(),
            Step::parse("0.1").unwrap(),
            Step::parse("0.001").unwrap(),
            Duration::from_millis(LAG),
        )
    }

    /// A Bybit book message: `(price, size)` levels as text.
    fn msg(kind: &str, u: u64, ts: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> Vec<u8> {
        let side = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{{\"topic\":\"orderbook.50.BTCUSDT\",\"type\":\"{kind}\",\"ts\":{ts},\"data\":{{\"s\":\"BTCUSDT\",\"b\":[{}],\"a\":[{}],\"u\":{u},\"seq\":{u}}},\"cts\":{ts}}}",
            side(bids),
            side(asks)
        )
        .into_bytes()
    }

    fn snapshot(u: u64, ts: u64) -> Vec<u8> {
        msg(
            "snapshot",
            u,
            ts,
            &[("100.0", "1"), ("99.9", "2")],
            &[("100.2", "1"), ("100.3", "2")],
        )
    }

    fn feed(r: &mut FeedRules, frame: &[u8], wall_ms: u64) -> FrameOutcome {
        let clock = Clock::new();
        let t = clock.stamp();
        r.on_frame(frame, [None; 2], wall_ms, &clock, t)
    }

    fn market(o: FrameOutcome) -> MarketUpdate {
        match o {
            FrameOutcome::Market(m) => m,
            other => panic!("expected a market update, got {other:?}"),
        }
    }

    #[test]
    fn a_snapshot_and_its_deltas_in_sequence_are_tradable() {
        let mut r = rules();
        let m = market(feed(&mut r, &snapshot(10, 1_000), 1_000));
        assert!(m.tradable && m.tick);
        assert_eq!((m.u, m.bid.0, m.ask.0), (UpdateId(10), 1000, 1002));
        let m = market(feed(
            &mut r,
            &msg("delta", 11, 1_010, &[("100.1", "1")], &[]),
            1_010,
        ));
        assert_eq!((m.u, m.bid.0), (UpdateId(11), 1001));
    }

    #[test]
    fn a_gap_in_u_breaks_the_book_until_a_fresh_snapshot() {
        let mut r = rules();
        market(feed(&mut r, &snapshot(10, 1_000), 1_000));
        let gap = msg("delta", 12, 1_010, &[("100.1", "1")], &[]);
        assert_eq!(feed(&mut r, &gap, 1_010), FrameOutcome::Broken);
        assert!(!r.book().is_valid());
        // The stage resubscribes: deltas until the snapshot are skipped.
        r.resyncing = true;
        let next = msg("delta", 13, 1_020, &[("100.1", "2")], &[]);
        assert_eq!(feed(&mut r, &next, 1_020), FrameOutcome::Skipped);
        let m = market(feed(&mut r, &snapshot(40, 1_030), 1_030));
        assert!(m.tradable && !r.resyncing);
        assert_eq!(m.u, UpdateId(40));
    }

    #[test]
    fn a_delta_older_than_the_book_changes_nothing() {
        let mut r = rules();
        market(feed(&mut r, &snapshot(10, 1_000), 1_000));
        let old = msg("delta", 9, 1_010, &[("100.1", "5")], &[]);
        assert_eq!(feed(&mut r, &old, 1_010), FrameOutcome::Skipped);
        assert_eq!(r.last_u, UpdateId(10), "u never goes back");
        assert_eq!(r.book().best_bid().unwrap().price.0, 1000);
        // The sequence goes on from the book's u.
        market(feed(
            &mut r,
            &msg("delta", 11, 1_020, &[], &[("100.2", "0")]),
            1_020,
        ));
    }

    #[test]
    fn a_crossed_book_breaks_it() {
        let mut r = rules();
        market(feed(&mut r, &snapshot(10, 1_000), 1_000));
        let cross = msg("delta", 11, 1_010, &[("100.5", "1")], &[]);
        assert_eq!(feed(&mut r, &cross, 1_010), FrameOutcome::Broken);
        assert!(!r.book().is_valid());
    }

    #[test]
    fn exchange_time_lagging_the_wall_clock_is_untradable() {
        let mut r = rules();
        let m = market(feed(&mut r, &snapshot(10, 1_000), 1_000 + LAG));
        assert!(m.tradable, "exactly the limit is still tradable");
        let m = market(feed(
            &mut r,
            &msg("delta", 11, 1_010, &[("100.1", "1")], &[]),
            1_010 + LAG + 1,
        ));
        assert!(!m.tradable, "one ms beyond the limit is not");
    }

    #[test]
    fn no_message_for_longer_than_stale_is_stale() {
        let t = Instant::now();
        let s = Duration::from_secs(3);
        assert!(!stale(t + s, t, s));
        assert!(stale(t + s + Duration::from_millis(1), t, s));
        assert!(!stale(t, t + s, s), "a clock read before the message");
    }

    #[test]
    fn a_one_sided_market_or_garbage_does_not_trade() {
        let mut r = rules();
        let bids_only = msg("snapshot", 10, 1_000, &[("100.0", "1")], &[]);
        assert_eq!(feed(&mut r, &bids_only, 1_000), FrameOutcome::OneSided);
        let mut r = rules();
        market(feed(&mut r, &snapshot(10, 1_000), 1_000));
        assert_eq!(
            feed(
                &mut r,
                b"{\"topic\":\"orderbook.50.BTCUSDT\",\"type\":\"delta\",\"da",
                1_000
            ),
            FrameOutcome::Undecodable
        );
        assert_eq!(
            feed(&mut r, b"{\"op\":\"pong\",\"success\":true}", 1_000),
            FrameOutcome::Skipped
        );
        // Neither touched the book: the next delta is in sequence.
        market(feed(
            &mut r,
            &msg("delta", 11, 1_010, &[("100.1", "1")], &[]),
            1_010,
        ));
    }
}
