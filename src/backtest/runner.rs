//! The backtest's event loop (see [`super`] for what runs in it).
//!
//! Six kinds of event share one time line, taken in time order; at equal
//! times the exchange side goes first (a market message the exchange saw,
//! then a request reaching it), then the engine side (an answer, our order
//! showing in the public book, a push, a market message reaching it), then
//! the engine's timers:
//!
//! 1. a recorded message reaches the exchange ([`FeedClock::venue_ns`]):
//!    the venue's book, queues and fills move;
//! 2. a request reaches the exchange;
//! 3. an answer or a push reaches the engine: the order manager takes it;
//! 4. a change of our resting orders reaches the engine's book through the
//!    public feed (a push latency after the exchange made it, drawn apart
//!    from the private stream's: the two streams travel separately);
//! 5. a recorded book message reaches the engine ([`FeedClock::engine_ns`]):
//!    book, analytics without our orders, strategy, order manager — the
//!    live stages' own functions, in the live order. The recorded book is
//!    the rest of the market (a recording made while trading has the
//!    recording engine's orders taken out: [`crate::replay::Tape::without_own`]);
//!    our orders are shown in it as the public feed shows them (event 4,
//!    [`crate::book::Book::with_added`]), and the feed stage's analytics take
//!    out the orders the private stream confirmed, as live. So the moments
//!    when the public book and the private stream disagree, and the quotes
//!    they move, are reproduced;
//! 6. timers: the feed's staleness pull, and the order manager's tick while
//!    it holds a decision or waits for an answer.
//!
//! After every input the order manager takes, the engine's bookkeeping runs
//! as the live order stage's does: a new position goes to the strategy (the
//! next target is recomputed with it), and a change of our resting orders
//! makes the feed run the analytics again on the current book (a non-tick
//! update), exactly as [`crate::engine::feed`] does when the order stage
//! reports new resting orders.
//!
//! The replay ends with the recording: requests and answers still in flight
//! then are dropped (the report says how many orders still rested).

use std::collections::VecDeque;
use std::time::Instant;

use super::latency::{FeedClock, Fifo};
use super::report::{self, Markout, PathPoint, Report};
use super::venue::{Msg, Venue};
use super::{BacktestConfig, BacktestError, Rule};
use crate::book::Book;
use crate::codec::public::Level;
use crate::engine::feed::{analyse, lagging, sequence, Sequenced};
use crate::engine::msg::{MarketUpdate, OwnOrders, QuoteTarget};
use crate::engine::orders::{decide, own_orders};
use crate::engine::strat::{quote, TargetFilter};
use crate::ids::UpdateId;
use crate::oms::{Action, Oms, OrderState, Pnl, QueryTicket};
use crate::replay::{EventKind, Tape};
use crate::sim::market::Prng;
use crate::strategy::signal::{Confidence, Signal};
use crate::strategy::Strategy;
use crate::time::{ExchMs, Tsc};
use crate::units::{HalfTicks, Lots, Side, Ticks};

/// A request on its way to the exchange. (Queries are rare: boxing the
/// common variant would allocate per request instead.)
#[derive(Debug, Clone, Copy)]
#[allow(clippy::large_enum_variant)]
enum Req {
    Act(Action),
    Query(QueryTicket),
}

/// Runs one backtest of `tape` with `cfg`.
pub fn run(tape: &Tape, cfg: &BacktestConfig) -> Result<Report, BacktestError> {
    if tape.events().is_empty() {
        return Err(BacktestError::Empty);
    }
    let mut oms_cfg = cfg.oms;
    oms_cfg.journal = false;
    let mut oms = Oms::new(oms_cfg).map_err(|e| BacktestError::Config(e.to_string()))?;
    // The live engine adopts the exchange's open orders at start-up; a
    // backtest starts with none.
    let _ = oms.adopt_open_orders(&[], 0);
    if cfg.quote_qty.0 <= 0 {
        return Err(BacktestError::Config(
            "the quote size must be positive".into(),
        ));
    }
    let clock = FeedClock::new(tape, cfg.feed, cfg.archive_feed_ns);
    let mut r = Runner {
        tape,
        cfg,
        clock,
        book: Book::new(super::BOOK),
        strategy: Strategy::new(cfg.strategy),
        oms,
        filter: TargetFilter::default(),
        touch: None,
        own: OwnOrders::default(),
        shown: [None; 2],
        shows: VecDeque::with_capacity(64),
        show_fifo: Fifo::default(),
        quotes_seen: 0,
        tradable: false,
        resyncing: false,
        last_u: UpdateId(0),
        last_ts: ExchMs(0),
        last_pos: Lots(0),
        stale_at: None,
        tick_at: None,
        acts: Vec::with_capacity(crate::oms::ACTION_CAP),
        requests: VecDeque::with_capacity(64),
        answers: VecDeque::with_capacity(64),
        pushes: VecDeque::with_capacity(64),
        req_fifo: Fifo::default(),
        ans_fifo: Fifo::default(),
        push_fifo: Fifo::default(),
        rng: Prng::new(cfg.seed),
        venue: Venue::new(cfg.venue),
        msgs: Vec::with_capacity(16),
        venue_clamp: 0,
        acct: Accounts::new(tape, cfg),
        stale_pulls: 0,
        resyncs: 0,
        denied: [0; crate::oms::budget::ENDPOINTS],
        interval_held: 0,
        depth: 0,
        book_version: 0,
        bare: None,
    };
    let t0 = Instant::now();
    r.replay();
    let run_s = t0.elapsed().as_secs_f64();
    Ok(r.report(run_s))
}

/// Fills-only accounting, the equity path and the mids for markouts.
struct Accounts {
    pnl: Pnl,
    fees: f64,
    seen: usize,
    mid: Option<HalfTicks>,
    peak: f64,
    max_dd: f64,
    max_abs_pos: f64,
    /// Base-coin fees paid so far (lots): the holdings are the traded
    /// position less these.
    base_fees: f64,
    value_per_tick_lot: f64,
    lot: f64,
    t0: u64,
    sample_every: u64,
    next_sample: u64,
    path: Vec<PathPoint>,
    mids: Vec<(u64, HalfTicks)>,
}

impl Accounts {
    fn new(tape: &Tape, cfg: &BacktestConfig) -> Accounts {
        let ev = tape.events();
        let t0 = ev.first().map(|e| e.local_ns).unwrap_or(0);
        let t1 = ev.last().map(|e| e.local_ns).unwrap_or(t0);
        let points = cfg.path_points.max(1) as u64;
        let tick = report::price_f64(tape.price_step(), 1);
        let lot = report::price_f64(tape.qty_step(), 1);
        Accounts {
            pnl: Pnl::default(),
            fees: 0.0,
            seen: 0,
            mid: None,
            peak: 0.0,
            max_dd: 0.0,
            max_abs_pos: 0.0,
            base_fees: 0.0,
            value_per_tick_lot: tick * lot,
            lot,
            t0,
            sample_every: (t1.saturating_sub(t0) / points).max(1),
            next_sample: t0,
            path: Vec::with_capacity(cfg.path_points + 2),
            mids: Vec::with_capacity(ev.len()),
        }
    }

    /// The position as the account holds it (lots).
    fn holdings(&self) -> f64 {
        self.pnl.position.0 as f64 - self.base_fees
    }

    fn equity(&self) -> f64 {
        let unreal = self
            .mid
            .map(|m| self.pnl.unrealised_half_ticks(m) as f64 / 2.0)
            .unwrap_or(0.0);
        (self.pnl.realised as f64 + unreal) * self.value_per_tick_lot - self.fees
    }

    /// After a venue event at `t`: new fills, the mid, the path.
    fn update(&mut self, venue: &Venue, t: u64, mid: Option<HalfTicks>) {
        let fresh = venue.fills().len() != self.seen;
        let moved = mid.is_some_and(|m| self.mid != Some(m));
        if !fresh && !moved && t < self.next_sample {
            return; // equity unchanged
        }
        for f in venue.fills().get(self.seen..).unwrap_or(&[]) {
            self.pnl.apply(f.side, f.price, f.qty);
            self.fees += f.fee_quote;
            self.base_fees += f.fee_base_lots;
            self.max_abs_pos = self.max_abs_pos.max(self.holdings().abs());
        }
        self.seen = venue.fills().len();
        if let Some(m) = mid {
            if self.mid != Some(m) {
                self.mids.push((t, m));
            }
            self.mid = Some(m);
        }
        let e = self.equity();
        self.peak = self.peak.max(e);
        self.max_dd = self.max_dd.max(self.peak - e);
        if t >= self.next_sample {
            self.next_sample = t.saturating_add(self.sample_every);
            self.path.push(PathPoint {
                t_s: t.saturating_sub(self.t0) as f64 / 1e9,
                equity: e,
                position: self.holdings() * self.lot,
            });
        }
    }
}

struct Runner<'t> {
    tape: &'t Tape,
    cfg: &'t BacktestConfig,
    clock: FeedClock,
    // The engine side.
    book: Book,
    strategy: Strategy,
    oms: Oms,
    filter: TargetFilter,
    touch: Option<(Ticks, Ticks)>,
    own: OwnOrders,
    /// Our resting orders as the public book shows them (`[bid, ask]`).
    shown: [Option<Level>; 2],
    /// Changes of our orders on their way through the public feed.
    shows: VecDeque<(u64, Side, Option<Level>)>,
    show_fifo: Fifo,
    /// How many of the venue's quote changes went onto `shows`.
    quotes_seen: usize,
    tradable: bool,
    resyncing: bool,
    last_u: UpdateId,
    last_ts: ExchMs,
    last_pos: Lots,
    stale_at: Option<u64>,
    tick_at: Option<u64>,
    acts: Vec<Action>,
    // The wires.
    requests: VecDeque<(u64, Req)>,
    answers: VecDeque<(u64, Msg)>,
    pushes: VecDeque<(u64, Msg)>,
    req_fifo: Fifo,
    ans_fifo: Fifo,
    push_fifo: Fifo,
    rng: Prng,
    // The exchange side.
    venue: Venue,
    msgs: Vec<Msg>,
    venue_clamp: u64,
    acct: Accounts,
    stale_pulls: u64,
    resyncs: u64,
    /// The budget's refusals per endpoint at the last check.
    denied: [u64; crate::oms::budget::ENDPOINTS],
    /// The manager's update-interval holds at the last check.
    interval_held: u64,
    /// Book messages applied (the bare-book analytics are cached per value).
    book_version: u64,
    /// The bare book's analytics for (book version, u, ts).
    bare: Option<((u64, UpdateId, ExchMs), Option<MarketUpdate>)>,
    /// Nesting of recomputes (a recompute's decision cannot change our
    /// resting orders, so this stays at most 1; the guard makes sure).
    depth: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Next {
    Venue,
    Request,
    Answer,
    // Before the push at equal times: with equal latencies, the public book
    // shows a change no later than the private stream confirms it (the
    // other order would show the order at its old price, as someone else's,
    // after the manager learnt it moved: a quote that chases itself).
    Shown,
    Push,
    Engine,
    Stale,
    Tick,
}

impl Runner<'_> {
    fn replay(&mut self) {
        let events = self.tape.events();
        let (mut iv, mut ie) = (0usize, 0usize);
        // The next market event's times on each side, computed once per event.
        let clock = self.clock.clone();
        let venue_at = |i: usize| events.get(i).map(|e| clock.venue_ns(i, e));
        let engine_at = |i: usize| events.get(i).map(|e| clock.engine_ns(e));
        let (mut tv_next, mut te_next) = (venue_at(0), engine_at(0));
        loop {
            let mut best: Option<(u64, Next)> = None;
            let mut offer = |t: Option<u64>, k: Next| {
                if let Some(t) = t {
                    if best.is_none_or(|b| (t, k) < b) {
                        best = Some((t, k));
                    }
                }
            };
            let tv = tv_next.map(|t| t.max(self.venue_clamp));
            let te = te_next;
            if tv.is_none() && te.is_none() {
                break;
            }
            offer(tv, Next::Venue);
            offer(self.requests.front().map(|r| r.0), Next::Request);
            offer(self.answers.front().map(|r| r.0), Next::Answer);
            offer(self.pushes.front().map(|r| r.0), Next::Push);
            offer(self.shows.front().map(|r| r.0), Next::Shown);
            offer(te, Next::Engine);
            offer(self.stale_at, Next::Stale);
            offer(self.tick_at, Next::Tick);
            let Some((t, next)) = best else { break };
            match next {
                Next::Venue => {
                    let e = &events[iv];
                    iv += 1;
                    tv_next = venue_at(iv);
                    self.venue_clamp = t;
                    self.on_venue_event(e, t);
                }
                Next::Request => {
                    if let Some((_, req)) = self.requests.pop_front() {
                        match req {
                            Req::Act(a) => self.venue.on_request(&a, t),
                            Req::Query(q) => self.venue.on_query(q, t),
                        }
                        self.route(t);
                        self.acct.update(&self.venue, t, None);
                    }
                }
                Next::Answer => {
                    if let Some((_, m)) = self.answers.pop_front() {
                        self.deliver(m, t);
                    }
                }
                Next::Push => {
                    if let Some((_, m)) = self.pushes.pop_front() {
                        self.deliver(m, t);
                    }
                }
                Next::Shown => {
                    if let Some((_, side, level)) = self.shows.pop_front() {
                        self.on_shown(side, level);
                    }
                }
                Next::Engine => {
                    let e = &events[ie];
                    ie += 1;
                    te_next = engine_at(ie);
                    if matches!(e.kind, EventKind::Book { .. }) {
                        self.on_engine_book(e, t);
                    }
                }
                Next::Stale => {
                    self.stale_at = None;
                    if self.tradable {
                        self.stale_pulls += 1;
                        self.pull(t);
                    }
                }
                Next::Tick => {
                    self.tick_at = None;
                    let acts = self.oms.on_tick(t);
                    self.acts.clear();
                    self.acts.extend_from_slice(acts);
                    self.send(t);
                    self.after_oms(t);
                }
            }
        }
    }

    // ---- the exchange side ------------------------------------------------

    fn on_venue_event(&mut self, e: &crate::replay::Event, t: u64) {
        match e.kind {
            EventKind::Book { .. } => {
                if let Some(b) = self.tape.book(e) {
                    self.venue.on_book(&b, t);
                }
                let vb = self.venue.book();
                let mid = match (vb.is_valid(), vb.best_bid(), vb.best_ask()) {
                    (true, Some(b), Some(a)) if b.price < a.price => {
                        Some(HalfTicks::mid(b.price, a.price))
                    }
                    _ => None,
                };
                self.route(t);
                self.acct.update(&self.venue, t, mid);
            }
            EventKind::Trade(tr) => {
                self.venue.on_trade(&tr, t);
                self.route(t);
                self.acct.update(&self.venue, t, None);
            }
        }
    }

    /// Puts the venue's answers and pushes on their wires, and the changes
    /// of our resting orders into the public feed.
    fn route(&mut self, t: u64) {
        for q in self.venue.quotes().get(self.quotes_seen..).unwrap_or(&[]) {
            // The exchange publishes the change in the book as it pushes it
            // on the private stream; the two streams travel apart, each as
            // long as a push.
            let lat = self.cfg.orders.push.sample(&mut self.rng);
            let level = q.price.map(|price| Level { price, qty: q.qty });
            self.shows
                .push_back((self.show_fifo.arrive(t, lat), q.side, level));
        }
        self.quotes_seen = self.venue.quotes().len();
        self.venue.drain(&mut self.msgs);
        for m in self.msgs.drain(..) {
            if m.is_push() {
                let lat = self.cfg.orders.push.sample(&mut self.rng);
                self.pushes.push_back((self.push_fifo.arrive(t, lat), m));
            } else {
                let lat = self.cfg.orders.answer.sample(&mut self.rng);
                self.answers.push_back((self.ans_fifo.arrive(t, lat), m));
            }
        }
    }

    // ---- the engine side --------------------------------------------------

    /// An answer or push reaches the order manager.
    fn deliver(&mut self, m: Msg, t: u64) {
        let acts = match &m {
            Msg::Ack(a) => Some(self.oms.on_ack(a, t)),
            Msg::Order(o) => self.oms.on_order_update(o, t).ok(),
            Msg::Fill(f) => self.oms.on_fill(f, t).ok(),
            Msg::Answer {
                ticket,
                orders,
                as_of,
            } => Some(self.oms.on_query_answer(*ticket, orders, *as_of, t)),
        };
        self.acts.clear();
        if let Some(a) = acts {
            self.acts.extend_from_slice(a);
        }
        self.send(t);
        self.after_oms(t);
    }

    /// A recorded book message reaches the engine: the feed stage's rules.
    fn on_engine_book(&mut self, e: &crate::replay::Event, t: u64) {
        let Some(upd) = self.tape.book(e) else {
            return;
        };
        self.stale_at = Some(t.saturating_add(self.cfg.stale_ns));
        match sequence(&mut self.book, &mut self.resyncing, &upd) {
            Sequenced::Applied => self.book_version += 1,
            Sequenced::Skipped => return,
            Sequenced::Broken => {
                self.resyncs += 1;
                self.resyncing = true;
                self.pull(t);
                return;
            }
        }
        self.last_u = upd.u;
        self.last_ts = upd.ts;
        let Some(mut m) = self.analyse(upd.u, upd.ts) else {
            self.pull(t);
            return;
        };
        let ok = !lagging(t / 1_000_000, upd.ts, self.cfg.max_lag_ms);
        self.tradable = ok;
        m.tradable = ok;
        m.tick = true;
        self.step(&m, t);
    }

    /// The feed stage's analytics: the book with our orders as the public
    /// feed shows them, less our orders as the private stream confirmed
    /// them.
    fn analyse(&mut self, u: UpdateId, ts: ExchMs) -> Option<MarketUpdate> {
        let (shown, own) = (self.shown, self.own.levels);
        if shown != own {
            return self.book.with_added(shown, |b| analyse(b, own, u, ts));
        }
        // Shown and confirmed agree: adding our orders and taking the same
        // out again leaves the book as it is, so the analytics are the bare
        // book's, computed once per book state.
        let key = (self.book_version, u, ts);
        match self.bare {
            Some((k, m)) if k == key => m,
            _ => {
                let m = analyse(&mut self.book, [None; 2], u, ts);
                self.bare = Some((key, m));
                m
            }
        }
    }

    /// One of our order changes shows in the public book. The exchange
    /// publishes it in a book message; a recording made while trading holds
    /// that message (with the recording engine's order taken out), which
    /// runs the analytics, so nothing runs here: the next message sees it.
    fn on_shown(&mut self, side: Side, level: Option<Level>) {
        self.shown[usize::from(side == Side::Sell)] = level;
    }

    /// The feed marks the market untradable: the strategy withdraws.
    fn pull(&mut self, t: u64) {
        self.tradable = false;
        let m = MarketUpdate::pull(self.last_u, Tsc::default());
        self.step(&m, t);
    }

    /// Our resting orders changed: the analytics run again on the current
    /// book (a non-tick update), as the feed stage does.
    fn recompute(&mut self, t: u64) {
        if !self.tradable || !self.book.is_valid() || self.depth > 0 {
            return;
        }
        if let Some(mut m) = self.analyse(self.last_u, self.last_ts) {
            m.tick = false;
            self.depth += 1;
            self.step(&m, t);
            self.depth -= 1;
        }
    }

    /// Strategy stage then order stage for one market update.
    fn step(&mut self, m: &MarketUpdate, t: u64) {
        let qt = match self.cfg.rule {
            Rule::Engine => quote(&mut self.strategy, m, Tsc::default()).0,
            Rule::Touch => touch_target(m),
        };
        if !self.filter.admit(&qt) {
            return;
        }
        self.acts.clear();
        if let Some(a) = decide(&mut self.oms, &qt, &mut self.touch, self.cfg.quote_qty, t) {
            self.acts.extend_from_slice(a);
        }
        self.send(t);
        self.after_oms(t);
    }

    /// Puts the manager's actions on the request wire.
    fn send(&mut self, t: u64) {
        for i in 0..self.acts.len() {
            let a = self.acts[i];
            let req = match a {
                Action::QueryOpenOrders => match self.oms.query_ticket() {
                    Some(q) => Req::Query(q),
                    None => continue,
                },
                other => Req::Act(other),
            };
            let lat = self.cfg.orders.request.sample(&mut self.rng);
            self.requests.push_back((self.req_fifo.arrive(t, lat), req));
        }
        self.acts.clear();
    }

    /// The order stage's bookkeeping after the manager took an input.
    fn after_oms(&mut self, t: u64) {
        let pos = self.oms.position();
        if pos != self.last_pos {
            self.last_pos = pos;
            self.strategy.set_inventory(pos);
            self.filter.reset();
        }
        let own = own_orders(&self.oms);
        if own != self.own {
            self.own = own;
            self.recompute(t);
        }
        self.schedule_tick(t);
    }

    /// The manager's timer matters while it holds a decision back (rate
    /// budget, update interval, back-off) or waits for an answer.
    fn schedule_tick(&mut self, t: u64) {
        let held = self.held(t);
        let c = *self.oms.config();
        let mut at: Option<u64> = None;
        let mut want = |x: u64| at = Some(at.map_or(x, |a: u64| a.min(x)));
        for side in [Side::Buy, Side::Sell] {
            let s = self.oms.slot(side);
            if matches!(
                s.state,
                OrderState::PendingNew | OrderState::PendingAmend | OrderState::PendingCancel
            ) {
                want(s.req_ns.saturating_add(c.ack_timeout_ns));
            }
            if s.state == OrderState::Unknown {
                want(t.saturating_add(self.cfg.timer_ns));
            }
        }
        if let Some(x) = held {
            want(x);
        }
        if self.oms.query_ticket().is_some() || !self.oms.is_ready() {
            want(t.saturating_add(c.query_timeout_ns));
        }
        if let Some(x) = at {
            let x = x.max(t.saturating_add(1));
            self.tick_at = Some(self.tick_at.map_or(x, |a| a.min(x)));
        }
    }

    /// When the manager should look again at a decision it held back since
    /// the last check: when its rate budget frees a unit of an endpoint that
    /// refused (the earliest over those), or a timer tick later for the
    /// update interval (or when the budget cannot say). `None` if it held
    /// nothing back.
    fn held(&mut self, t: u64) -> Option<u64> {
        use crate::oms::Endpoint;
        let b = self.oms.budget();
        let mut at: Option<u64> = None;
        let mut want = |x: u64| at = Some(at.map_or(x, |a| a.min(x)));
        for ep in Endpoint::ALL {
            let d = b.denied(ep);
            let seen = &mut self.denied[ep.index()];
            if d != *seen {
                *seen = d;
                let free = b.next_free(ep, t);
                // Free now yet refused: something else holds it (the
                // exchange's word); look again a timer tick later.
                want(if free > t {
                    free
                } else {
                    t.saturating_add(self.cfg.timer_ns)
                });
            }
        }
        let interval = self.oms.stats().interval_held;
        if interval != self.interval_held {
            self.interval_held = interval;
            want(t.saturating_add(self.cfg.timer_ns));
        }
        at
    }

    fn report(&self, run_s: f64) -> Report {
        let fills = self.venue.fills();
        let vs = self.venue.stats();
        let span = self.tape.span_secs();
        let per_s = |n: u64| if span > 0.0 { n as f64 / span } else { 0.0 };
        let lot = self.acct.lot;
        let price = |p: Ticks| report::price_f64(self.tape.price_step(), p.0);
        let (mut vb, mut vs_, mut vq, mut nb, mut ns) = (0.0, 0.0, 0.0, 0u64, 0u64);
        for f in fills {
            let q = f.qty.0 as f64 * lot;
            vq += q * price(f.price);
            match f.side {
                Side::Buy => {
                    vb += q;
                    nb += 1;
                }
                Side::Sell => {
                    vs_ += q;
                    ns += 1;
                }
            }
        }
        let unreal = self
            .acct
            .mid
            .map(|m| self.acct.pnl.unrealised_half_ticks(m) as f64 / 2.0)
            .unwrap_or(0.0)
            * self.acct.value_per_tick_lot;
        let realised = self.acct.pnl.realised as f64 * self.acct.value_per_tick_lot;
        let mut path = self.acct.path.clone();
        if let Some(last) = self.acct.mids.last() {
            path.push(PathPoint {
                t_s: last.0.saturating_sub(self.acct.t0) as f64 / 1e9,
                equity: self.acct.equity(),
                position: self.acct.holdings() * lot,
            });
        }
        let mk = |h: &[f64]| -> Vec<Markout> { report::markouts(fills, &self.acct.mids, h) };
        Report {
            symbol: self.tape.symbol().as_str().to_string(),
            settings: self.cfg.label.clone(),
            span_s: span,
            events: self.tape.events().len() as u64,
            run_s,
            realised,
            unrealised: unreal,
            fees: self.acct.fees,
            net: realised + unreal - self.acct.fees,
            max_drawdown: self.acct.max_dd,
            fills: (nb, ns),
            fill_causes: report::causes(fills),
            volume_base: (vb, vs_),
            volume_quote: vq,
            orders_placed: vs.placed,
            fill_ratio: if vs.placed > 0 {
                vs.orders_filled as f64 / vs.placed as f64
            } else {
                0.0
            },
            rates: (per_s(vs.creates), per_s(vs.amends), per_s(vs.cancels)),
            post_only_rejects: vs.post_only_rejects,
            stale_pulls: self.stale_pulls,
            resyncs: self.resyncs,
            final_position: self.acct.holdings() * lot,
            max_abs_position: self.acct.max_abs_pos * lot,
            markouts: mk(&report::MARKOUT_HORIZONS_S),
            markout_curve: mk(&report::MARKOUT_CURVE_S),
            path,
            fill_log: fills.to_vec(),
            quote_log: self.venue.quotes().to_vec(),
            t0_ns: self.acct.t0,
        }
    }
}

/// The "join the touch" rule's target for `m` (a pull when untradable).
fn touch_target(m: &MarketUpdate) -> QuoteTarget {
    let quoted = m.tradable && m.bid.0 > 0 && m.ask > m.bid;
    QuoteTarget {
        bid: quoted.then_some(m.bid),
        ask: quoted.then_some(m.ask),
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
        t_quoted: m.t_applied,
    }
}
