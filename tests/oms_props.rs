//! Property tests: random target streams and random interleavings of
//! exchange messages, checked against the order manager's invariants:
//! never more than one live order per side, never a price through the
//! latest touch, worst-case exposure within the position limit, and no
//! rolling second with more requests than Bybit allows.

mod oms_support;

use gapmm::ids::{Category, OrderLinkId};
use gapmm::oms::budget::{Endpoint, RateLimits, WINDOW_NS};
use gapmm::oms::{Action, Link, Oms, OrderStatus};
use gapmm::units::Side;
use oms_support::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Target {
        dmid: i8,
        bid_off: i8,
        ask_off: i8,
        pull: u8,
        qty: u8,
    },
    Deliver(u8),
    Drop,
    Trade {
        buy: bool,
        qty: u8,
        event_first: bool,
    },
    Tick,
    Wait(u16),
    ExchangeTouchJump(i8),
    Disconnect(bool),
    Reconnect(bool),
    /// The exchange takes the snapshot for the oldest unanswered query now
    /// (asynchronous queries only).
    Snap,
    /// The oldest unanswered query's answer arrives (asynchronous queries only).
    Answer,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (-3i8..=3, -3i8..=4, -3i8..=4, 0u8..8, 1u8..8).prop_map(|(dmid, bid_off, ask_off, pull, qty)| Step::Target { dmid, bid_off, ask_off, pull, qty }),
        6 => (1u8..6).prop_map(Step::Deliver),
        1 => Just(Step::Drop),
        2 => (any::<bool>(), 1u8..5, any::<bool>()).prop_map(|(buy, qty, event_first)| Step::Trade { buy, qty, event_first }),
        2 => Just(Step::Tick),
        2 => (0u16..1500).prop_map(Step::Wait),
        1 => (-2i8..=2).prop_map(Step::ExchangeTouchJump),
        1 => any::<bool>().prop_map(Step::Disconnect),
        1 => any::<bool>().prop_map(Step::Reconnect),
        2 => Just(Step::Snap),
        2 => Just(Step::Answer),
    ]
}

/// An open-order query on its way: the engine reads the answer later, after
/// other inputs, as the order stage does.
struct PendingQuery {
    /// Taken when the query was sent, as the order stage does.
    ticket: Option<gapmm::oms::QueryTicket>,
    /// The exchange's snapshot once it took one ([`Step::Snap`]).
    snap: Option<Vec<gapmm::oms::OrderEvent>>,
    /// The snapshot if the exchange served the query before the creates sent
    /// just before it (they travel on another connection): the open orders
    /// at the time of sending minus those created in the last 3 ms of which
    /// nothing has come back yet (the exchange may not have processed them).
    early: Vec<gapmm::oms::OrderEvent>,
    /// Exchange time of the answer.
    as_of: gapmm::time::ExchMs,
}

struct World {
    oms: Oms,
    sim: Sim,
    scratch: [gapmm::oms::OrderEvent; SIM_ORDERS],
    touch: (i64, i64),
    max: i64,
    sent: Vec<(u64, Endpoint, u32)>,
    trade_up: bool,
    private_up: bool,
    skew: i64,
    /// Queries are answered later ([`Step::Snap`], [`Step::Answer`]), not
    /// at once.
    async_queries: bool,
    queries: Vec<PendingQuery>,
    /// Creates sent: (time, link id).
    created: Vec<(u64, OrderLinkId)>,
    /// Orders of which a message (ack, order event) has been delivered or
    /// lost: the exchange had processed their create by then.
    processed: Vec<OrderLinkId>,
    /// Late answers the manager applied (not stale).
    answers_applied: u64,
}

impl World {
    fn pop(&mut self) -> Option<Delivery> {
        let d = self.sim.pop()?;
        let l = match d {
            Delivery::Order(e) => e.link_id,
            Delivery::Ack(a) => a.link_id,
            Delivery::Fill(f) => f.link_id,
        };
        if !l.is_empty() && !self.processed.contains(&l) {
            self.processed.push(l);
        }
        Some(d)
    }

    fn check_actions(
        &mut self,
        acts: &[Option<Action>; 16],
        now: u64,
    ) -> Result<(), TestCaseError> {
        let (bb, ba) = self.touch;
        for a in acts.iter().flatten() {
            let (ep, units) = match a {
                Action::Create { side, price, .. } => {
                    match side {
                        Side::Buy => {
                            prop_assert!(price.0 < ba, "bid {} through ask {}", price.0, ba)
                        }
                        Side::Sell => {
                            prop_assert!(price.0 > bb, "ask {} through bid {}", price.0, bb)
                        }
                    }
                    (Endpoint::Create, 1)
                }
                Action::Amend { req, .. } => {
                    match req.side {
                        Side::Buy => prop_assert!(req.price.0 < ba),
                        Side::Sell => prop_assert!(req.price.0 > bb),
                    }
                    (Endpoint::Amend, 1)
                }
                Action::AmendBatch { reqs, .. } => {
                    prop_assert!(reqs[0].price.0 < ba && reqs[1].price.0 > bb);
                    prop_assert!(reqs[0].side != reqs[1].side);
                    (Endpoint::AmendBatch, 2)
                }
                Action::Cancel { .. } => (Endpoint::Cancel, 1),
                Action::CancelAll => (Endpoint::CancelAll, 1),
                Action::QueryOpenOrders => (Endpoint::Query, 1),
            };
            self.sent.push((now, ep, units));
        }
        Ok(())
    }

    fn run(&mut self, acts: [Option<Action>; 16], now: u64) -> Result<(), TestCaseError> {
        self.check_actions(&acts, now)?;

        for a in acts.iter().flatten() {
            if let Action::Create { link_id, .. } = a {
                self.created.push((now, *link_id));
            }
            if self.sim.submit(a) && self.async_queries {
                let n = self.sim.open_orders(&mut self.scratch);
                let recent = |l: &OrderLinkId| {
                    !self.processed.contains(l)
                        && self
                            .created
                            .iter()
                            .any(|(t, c)| c == l && now.saturating_sub(*t) < 3 * MS)
                };
                let early = self.scratch[..n]
                    .iter()
                    .filter(|o| !recent(&o.link_id))
                    .copied()
                    .collect();
                self.queries.push(PendingQuery {
                    ticket: self.oms.query_ticket(),
                    snap: None,
                    early,
                    as_of: self.sim.clock(),
                });
            } else if matches!(a, Action::QueryOpenOrders) {
                let n = self.sim.open_orders(&mut self.scratch);
                let more = copy_actions(self.oms.on_open_orders(
                    &self.scratch[..n],
                    self.sim.clock(),
                    now,
                ));
                self.check_actions(&more, now)?;
                for m in more.iter().flatten() {
                    self.sim.submit(m);
                }
            }
        }
        self.check_state()
    }

    fn check_state(&self) -> Result<(), TestCaseError> {
        for side in [Side::Buy, Side::Sell] {
            prop_assert!(
                self.sim.live(side) <= 1,
                "{} live orders on {side:?}",
                self.sim.live(side)
            );
            let truth = side.sign() * self.sim.position + self.sim.leaves(side);
            prop_assert!(
                truth <= self.max,
                "true worst case {truth} on {side:?} > {}",
                self.max
            );
            // The manager's own view may exceed the limit only while a fill
            // it could not attribute yet (a maker fill without link id for
            // an order whose id it has not learned) awaits its second copy.
            if !self.sim.fills_queued() {
                prop_assert!(
                    self.oms.worst_case(side).0 <= self.max,
                    "view {} on {side:?}",
                    self.oms.worst_case(side).0
                );
            }
            // The manager's view is never rosier than the truth.
            prop_assert!(
                self.oms.worst_case(side).0 >= truth,
                "view {} < truth {truth}",
                self.oms.worst_case(side).0
            );
        }
        if !self.sim.fills_queued() {
            prop_assert_eq!(self.oms.position().0, self.sim.position);
        }
        Ok(())
    }

    fn check_budget(&self, limits: &RateLimits) -> Result<(), TestCaseError> {
        for ep in Endpoint::ALL {
            let times: Vec<(u64, u32)> = self
                .sent
                .iter()
                .filter(|s| s.1 == ep)
                .map(|s| (s.0, s.2))
                .collect();
            for (i, &(t, _)) in times.iter().enumerate() {
                let used: u32 = times[i..]
                    .iter()
                    .take_while(|s| s.0 < t + WINDOW_NS)
                    .map(|s| s.1)
                    .sum();
                prop_assert!(
                    used <= limits.of(ep),
                    "{used} units of {ep:?} in the second from {t}"
                );
            }
        }
        let muts: Vec<(u64, u32)> = self
            .sent
            .iter()
            .filter(|s| s.1 != Endpoint::Query)
            .map(|s| (s.0, s.2))
            .collect();
        for (i, &(t, _)) in muts.iter().enumerate() {
            let used: u32 = muts[i..]
                .iter()
                .take_while(|s| s.0 < t + WINDOW_NS)
                .map(|s| s.1)
                .sum();
            prop_assert!(used <= limits.combined_per_sec);
        }
        Ok(())
    }
}

fn run_steps(steps: Vec<Step>, min_interval_ms: u64) -> Result<World, TestCaseError> {
    run_world(steps, min_interval_ms, false)
}

fn run_world(
    steps: Vec<Step>,
    min_interval_ms: u64,
    async_queries: bool,
) -> Result<World, TestCaseError> {
    let mut c = cfg(12);
    c.min_update_interval_ns = min_interval_ms * MS;
    let limits = c.limits;
    let mut w = World {
        oms: ready(c),
        sim: Sim::new((1000, 1002)),
        scratch: [ev(
            oid(0),
            OrderLinkId::default(),
            Side::Buy,
            OrderStatus::New,
            1,
            1,
            1,
            0,
        ); SIM_ORDERS],
        touch: (1000, 1002),
        max: 12,
        sent: Vec::new(),
        trade_up: true,
        private_up: true,
        skew: 0,
        async_queries,
        queries: Vec::new(),
        created: Vec::new(),
        processed: Vec::new(),
        answers_applied: 0,
    };
    let mut now = MS;
    let mut u = 1u64;
    for s in steps {
        now += MS;

        match s {
            Step::Target {
                dmid,
                bid_off,
                ask_off,
                pull,
                qty,
            } => {
                let bb = (w.touch.0 + i64::from(dmid)).max(10);
                let ba = bb + 1 + i64::from(pull % 2);
                w.touch = (bb, ba);
                // The exchange may already be elsewhere (latency): one-shot skew.
                w.sim.touch = (bb + w.skew, ba + w.skew);
                w.skew = 0;
                u += 1;
                let bid = (pull != 1).then_some(bb - i64::from(bid_off));
                let ask = (pull != 2).then_some(ba + i64::from(ask_off));
                let acts = copy_actions(
                    w.oms
                        .on_target(&tgt(bid, ask, i64::from(qty), (bb, ba), u, now))
                        .unwrap(),
                );
                w.run(acts, now)?;
            }
            Step::Deliver(n) => {
                if !w.private_up {
                    continue;
                }
                for _ in 0..n {
                    let Some(d) = w.pop() else { break };
                    let acts = copy_actions(match d {
                        Delivery::Order(e) => w.oms.on_order_update(&e, now).unwrap(),
                        Delivery::Fill(f) => w.oms.on_fill(&f, now).unwrap(),
                        Delivery::Ack(a) => w.oms.on_ack(&a, now),
                    });
                    w.run(acts, now)?;
                }
            }
            Step::Drop => {
                // Lose an ack or order event (fills are never lost: they also
                // come from the other execution stream).
                if let Some(Delivery::Fill(f)) = w.pop() {
                    let acts = copy_actions(w.oms.on_fill(&f, now).unwrap());
                    w.run(acts, now)?;
                }
            }
            Step::Trade {
                buy,
                qty,
                event_first,
            } => {
                let side = if buy { Side::Buy } else { Side::Sell };
                w.sim.trade_ordered(side, i64::from(qty), event_first);
                // Fills reach the manager before anything else happens to
                // the position (the check compares positions).
                while let Some(d) = w.pop() {
                    let acts = copy_actions(match d {
                        Delivery::Order(e) => w.oms.on_order_update(&e, now).unwrap(),
                        Delivery::Fill(f) => w.oms.on_fill(&f, now).unwrap(),
                        Delivery::Ack(a) => w.oms.on_ack(&a, now),
                    });
                    w.run(acts, now)?;
                }
            }
            Step::Tick => {
                let acts = copy_actions(w.oms.on_tick(now));
                w.run(acts, now)?;
            }
            Step::Wait(ms) => {
                now += u64::from(ms) * MS;
                let acts = copy_actions(w.oms.on_tick(now));
                w.run(acts, now)?;
            }
            Step::ExchangeTouchJump(d) => {
                // The exchange's book moves before the manager hears of it:
                // creates may now be killed as PostOnly.
                w.skew = i64::from(d);
            }
            Step::Disconnect(trade) => {
                let link = if trade { Link::Trade } else { Link::Private };
                if trade {
                    w.trade_up = false
                } else {
                    w.private_up = false
                }
                let acts = copy_actions(w.oms.on_disconnect(link, now));
                w.run(acts, now)?;
            }
            Step::Reconnect(trade) => {
                let link = if trade { Link::Trade } else { Link::Private };
                if trade {
                    w.trade_up = true
                } else {
                    w.private_up = true
                }
                let acts = copy_actions(w.oms.on_reconnected(link, now));
                w.run(acts, now)?;
            }
            Step::Snap => {
                let n = w.sim.open_orders(&mut w.scratch);
                let clock = w.sim.clock();
                if let Some(q) = w.queries.iter_mut().find(|q| q.snap.is_none()) {
                    q.snap = Some(w.scratch[..n].to_vec());
                    q.as_of = clock;
                }
            }
            Step::Answer => {
                if w.queries.is_empty() {
                    continue;
                }
                // Answers come in the order the queries were sent; one to a
                // query the manager no longer awaits must change nothing.
                let q = w.queries.remove(0);
                let Some(ticket) = q.ticket else { continue };
                let list = q.snap.unwrap_or(q.early);
                let stale = w.oms.stats().stale_answers;
                let acts = copy_actions(w.oms.on_query_answer(ticket, &list, q.as_of, now));
                if w.oms.stats().stale_answers == stale {
                    w.answers_applied += 1;
                }
                w.run(acts, now)?;
            }
        }
    }
    w.check_budget(&limits)?;
    Ok(w)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// As the order stage runs it: the query's answer is read later, after
    /// acks, order events, fills and targets that came in meanwhile, and the
    /// exchange may have served the query before or after any of them.
    #[test]
    fn invariants_hold_when_queries_are_answered_late(steps in proptest::collection::vec(step(), 1..200), interval in prop_oneof![Just(0u64), 1u64..200]) {
        run_world(steps, interval, true)?;
    }

    #[test]
    fn invariants_hold_under_random_interleavings(steps in proptest::collection::vec(step(), 1..200), interval in prop_oneof![Just(0u64), 1u64..200]) {
        run_steps(steps, interval)?;
    }

    /// The order stage rewrites the manager's pages while idle
    /// (`gapmm::redirty`); that must leave every bit of its state as it was.
    #[test]
    fn redirty_changes_no_state(steps in proptest::collection::vec(step(), 1..120)) {
        let mut w = run_steps(steps, 0)?;
        let before = format!("{:?}", w.oms);
        w.oms.redirty();
        prop_assert_eq!(before, format!("{:?}", w.oms));
    }

    #[test]
    fn rate_budget_never_exceeds_ten_amends_in_any_second(moves in proptest::collection::vec((-3i8..=3, 0u8..3), 50..400)) {
        // A fast target stream (every 5 ms) with instant confirmations:
        // without the budget this would be ~200 amends per second per side.
        let mut c = cfg(1_000);
        c.limits = RateLimits::bybit_default(Category::Linear);
        let mut oms = ready(c);
        let mut sim = Sim::new((1000, 1002));
        let mut scratch = [ev(oid(0), OrderLinkId::default(), Side::Buy, OrderStatus::New, 1, 1, 1, 0); SIM_ORDERS];
        let mut amend_times = Vec::new();
        let mut bb = 1000i64;
        for (k, (d, which)) in moves.into_iter().enumerate() {
            let now = (k as u64 + 1) * 5 * MS;
            bb = (bb + i64::from(d)).max(10);
            let ba = bb + 2;
            sim.touch = (bb, ba);
            let (bid, ask) = match which { 0 => (bb, ba), 1 => (bb - 1, ba), _ => (bb, ba + 1) };
            let acts = copy_actions(oms.on_target(&tgt(Some(bid), Some(ask), 3, (bb, ba), k as u64, now)).unwrap());
            for a in acts.iter().flatten() {
                match a {
                    Action::Amend { .. } => amend_times.push((now, 1u32)),
                    Action::AmendBatch { .. } => amend_times.push((now, 0)),
                    _ => {}
                }
            }
            submit_all(&mut oms, &mut sim, &acts, now, &mut scratch);
            while deliver_one(&mut oms, &mut sim, now, &mut scratch) {}
        }
        let singles: Vec<u64> = amend_times.iter().filter(|a| a.1 == 1).map(|a| a.0).collect();
        for (i, &t) in singles.iter().enumerate() {
            let n = singles[i..].iter().take_while(|&&s| s < t + WINDOW_NS).count();
            prop_assert!(n <= 10, "{n} amends within one second from {t}");
        }
        let batches: Vec<u64> = amend_times.iter().filter(|a| a.1 == 0).map(|a| a.0).collect();
        for (i, &t) in batches.iter().enumerate() {
            let n = batches[i..].iter().take_while(|&&s| s < t + WINDOW_NS).count();
            prop_assert!(2 * n <= 10, "{n} batch amends (2 units each) within one second from {t}");
        }
        prop_assert!(!amend_times.is_empty());
    }
}

#[test]
fn random_walk_actually_trades_and_requotes() {
    // Guard against a vacuous property: a fixed busy sequence exercises
    // creates, amends, fills, PostOnly kills and queries.
    let mut steps = Vec::new();
    for k in 0..300i32 {
        steps.push(Step::Target {
            dmid: ((k * 7) % 5 - 2) as i8,
            bid_off: (k % 3) as i8,
            ask_off: (k % 2) as i8,
            pull: (k % 9) as u8,
            qty: 3,
        });
        steps.push(Step::Deliver(4));
        if k % 5 == 0 {
            steps.push(Step::Trade {
                buy: k % 2 == 0,
                qty: 2,
                event_first: k % 3 == 0,
            });
        }
        if k % 7 == 0 {
            steps.push(Step::ExchangeTouchJump(if k % 2 == 0 { -2 } else { 2 }));
        }
        if k % 41 == 0 {
            steps.push(Step::Disconnect(k % 2 == 0));
            steps.push(Step::Wait(2_500));
            steps.push(Step::Reconnect(k % 2 == 0));
        }
        steps.push(Step::Wait(40));
    }
    let w = run_steps(steps, 0).map_err(|e| e.to_string()).unwrap();
    let st = w.oms.stats();
    assert!(st.fills > 10, "{st:?}");
    assert!(
        w.sent
            .iter()
            .filter(|s| s.1 == Endpoint::Amend || s.1 == Endpoint::AmendBatch)
            .count()
            > 20
    );
    assert!(st.post_only_replaces > 0, "{st:?}");
    assert!(st.queries > 0, "{st:?}");
}

#[test]
fn late_answers_are_applied_and_stale_ones_ignored() {
    // Guard against a vacuous late-answer property: a fixed sequence with
    // reconnects, answers that come at once, after other inputs, and after
    // the query was given up and asked again.
    let mut steps = Vec::new();
    for k in 0..200i32 {
        steps.push(Step::Target {
            dmid: ((k * 7) % 5 - 2) as i8,
            bid_off: (k % 3) as i8,
            ask_off: (k % 2) as i8,
            pull: (k % 9) as u8,
            qty: 3,
        });
        steps.push(Step::Deliver(3));
        if k % 5 == 0 {
            steps.push(Step::Trade {
                buy: k % 2 == 0,
                qty: 2,
                event_first: k % 3 == 0,
            });
        }
        if k % 13 == 0 {
            steps.push(Step::Disconnect(k % 2 == 0));
            steps.push(Step::Reconnect(k % 2 == 0));
            steps.push(Step::Deliver(2));
            if k % 3 == 0 {
                // The answer is late beyond the query timeout: asked again.
                steps.push(Step::Wait(1_200));
            }
            steps.push(Step::Snap);
            steps.push(Step::Deliver(2));
            steps.push(Step::Answer);
            steps.push(Step::Answer);
        }
        steps.push(Step::Wait(40));
    }
    let w = run_world(steps, 0, true)
        .map_err(|e| e.to_string())
        .unwrap();
    let st = w.oms.stats();
    assert!(st.queries > 10, "{st:?}");
    assert!(
        w.answers_applied > 5,
        "{} applied, {st:?}",
        w.answers_applied
    );
    assert!(st.stale_answers > 0, "{st:?}");
    assert!(st.fills > 10, "{st:?}");
}

mod garbage {
    //! Arbitrary (including absurd) inputs never panic; malformed ones are
    //! typed errors; the one-order-per-side and budget rules hold regardless.
    use super::*;
    use gapmm::ids::{ExecId, OrderId, UpdateId};
    use gapmm::oms::budget::RateLimitInfo;
    use gapmm::oms::{AckEvent, AckOp, Fill, OrderEvent, RejectReason, Target};
    use gapmm::time::ExchMs;
    use gapmm::units::{Lots, Ticks};

    #[derive(Debug, Clone)]
    pub enum In {
        Target(Option<i64>, Option<i64>, i64, i64, i64, u64),
        Order(u8, u8, bool, u8, i64, i64, i64, i64, u64),
        Fill(u8, u8, bool, i64, i64, u64),
        Ack(u8, u8, u8, i64),
        Rate(u8, u32, u32, u64, u64),
        Down(bool),
        Up(bool),
        Tick(u64),
        Open(Vec<(u8, bool, i64, i64)>, u64),
        Pos(i64),
        Shutdown,
    }

    fn num() -> impl Strategy<Value = i64> {
        prop_oneof![4 => 0i64..20, 4 => 990i64..1010, 1 => any::<i64>(), 1 => Just(i64::MAX), 1 => Just(i64::MIN)]
    }

    fn input() -> impl Strategy<Value = In> {
        prop_oneof![
            (
                proptest::option::of(num()),
                proptest::option::of(num()),
                num(),
                num(),
                num(),
                any::<u64>()
            )
                .prop_map(|(b, a, q, bb, ba, now)| In::Target(b, a, q, bb, ba, now)),
            (
                0u8..6,
                0u8..6,
                any::<bool>(),
                0u8..10,
                num(),
                num(),
                num(),
                num(),
                any::<u64>()
            )
                .prop_map(|(o, l, s, st, p, q, lv, c, up)| In::Order(o, l, s, st, p, q, lv, c, up)),
            (0u8..12, 0u8..6, any::<bool>(), num(), num(), any::<u64>())
                .prop_map(|(e, o, s, p, q, t)| In::Fill(e, o, s, p, q, t)),
            (
                0u8..4,
                0u8..6,
                0u8..6,
                prop_oneof![
                    Just(0i64),
                    Just(10006),
                    Just(110001),
                    Just(170310),
                    Just(170217),
                    any::<i64>()
                ]
            )
                .prop_map(|(op, o, l, c)| In::Ack(op, o, l, c)),
            (
                0u8..8,
                any::<u32>(),
                any::<u32>(),
                any::<u64>(),
                any::<u64>()
            )
                .prop_map(|(e, l, r, a, b)| In::Rate(e, l, r, a, b)),
            any::<bool>().prop_map(In::Down),
            any::<bool>().prop_map(In::Up),
            any::<u64>().prop_map(In::Tick),
            (
                proptest::collection::vec((0u8..6, any::<bool>(), num(), num()), 0..4),
                any::<u64>()
            )
                .prop_map(|(v, t)| In::Open(v, t)),
            num().prop_map(In::Pos),
            Just(In::Shutdown),
        ]
    }

    fn oid_n(n: u8) -> OrderId {
        if n == 0 {
            OrderId::default()
        } else {
            oid(u64::from(n))
        }
    }

    fn link_n(n: u8) -> OrderLinkId {
        match n {
            0 => OrderLinkId::default(),
            1 => link("foreign-1"),
            k => link(&format!("gm000001-{k}-5")),
        }
    }

    fn status(n: u8) -> OrderStatus {
        [
            OrderStatus::New,
            OrderStatus::PartiallyFilled,
            OrderStatus::Filled,
            OrderStatus::Cancelled,
            OrderStatus::Rejected,
            OrderStatus::PartiallyFilledCanceled,
            OrderStatus::Deactivated,
            OrderStatus::Untriggered,
            OrderStatus::Triggered,
            OrderStatus::Cancelled,
        ][usize::from(n % 10)]
    }

    fn count_live_creates(acts: &[Action], oms: &Oms) -> Result<(), TestCaseError> {
        for side in [Side::Buy, Side::Sell] {
            let creates = acts
                .iter()
                .filter(|a| matches!(a, Action::Create { side: s, .. } if *s == side))
                .count();
            prop_assert!(creates <= 1);
            if creates == 1 {
                // The create is the side's only order: no stray of ours on it.
                prop_assert!(oms.strays().all(|s| s.side != side || s.ghost));
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_inputs_never_panic(ins in proptest::collection::vec(input(), 1..120)) {
            let mut oms = ready(cfg(50));
            for i in ins {
                let acts: Vec<Action> = match i {
                    In::Target(b, a, q, bb, ba, now) => {
                        let t = Target { bid: b.map(Ticks), ask: a.map(Ticks), qty: Lots(q), touch: (Ticks(bb), Ticks(ba)), trigger_u: UpdateId(now), now };
                        match oms.on_target(&t) {
                            Ok(a) => a.to_vec(),
                            Err(e) => { prop_assert!(!e.to_string().is_empty()); Vec::new() }
                        }
                    }
                    In::Order(o, l, s, st, p, q, lv, c, up) => {
                        let e = OrderEvent {
                            order_id: oid_n(o), link_id: link_n(l), side: if s { Side::Buy } else { Side::Sell },
                            price: Ticks(p), qty: Lots(q), leaves_qty: Lots(lv), cum_exec_qty: Lots(c),
                            status: status(st), reject_reason: if st == 9 { RejectReason::PostOnlyWillTakeLiquidity } else { RejectReason::None },
                            updated: ExchMs(up),
                        };
                        oms.on_order_update(&e, up).map(|a| a.to_vec()).unwrap_or_default()
                    }
                    In::Fill(e, o, s, p, q, t) => {
                        let mut exec_id = ExecId::default();
                        exec_id.push_u64(u64::from(e)).unwrap();
                        let f = Fill { exec_id, order_id: oid_n(o), link_id: OrderLinkId::default(), side: if s { Side::Buy } else { Side::Sell }, price: Ticks(p), qty: Lots(q), fee: None, fee_base_nlots: 0, is_maker: true, exec_time: ExchMs(t) };
                        oms.on_fill(&f, t).map(|a| a.to_vec()).unwrap_or_default()
                    }
                    In::Ack(op, o, l, c) => {
                        let op = [AckOp::Create, AckOp::Amend, AckOp::Cancel, AckOp::CancelAll][usize::from(op % 4)];
                        oms.on_ack(&AckEvent { op, link_id: link_n(l), order_id: oid_n(o), ret_code: c }, 0).to_vec()
                    }
                    In::Rate(e, l, r, a, b) => {
                        oms.on_rate_limit(&RateLimitInfo { endpoint: Endpoint::ALL[usize::from(e % 8)], limit: l, remaining: r, reset_ms: ExchMs(a), now_ms: ExchMs(b) }, a);
                        Vec::new()
                    }
                    In::Down(t) => oms.on_disconnect(if t { Link::Trade } else { Link::Private }, 0).to_vec(),
                    In::Up(t) => oms.on_reconnected(if t { Link::Trade } else { Link::Private }, 0).to_vec(),
                    In::Tick(now) => oms.on_tick(now).to_vec(),
                    In::Open(v, t) => {
                        let list: Vec<OrderEvent> = v.iter().map(|&(k, s, p, q)| ev(oid_n(k), link_n(k), if s { Side::Buy } else { Side::Sell }, OrderStatus::New, p, q, q, 0)).collect();
                        oms.on_open_orders(&list, ExchMs(t), t).to_vec()
                    }
                    In::Pos(q) => { oms.set_position(Lots(q), None, 0); Vec::new() }
                    In::Shutdown => oms.shutdown(0).to_vec(),
                };
                prop_assert!(acts.len() <= gapmm::oms::ACTION_CAP);
                count_live_creates(&acts, &oms)?;
                for side in [Side::Buy, Side::Sell] {
                    let _ = oms.worst_case(side);
                }
            }
        }
    }
}
