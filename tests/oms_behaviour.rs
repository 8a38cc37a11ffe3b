//! Behaviour tests of the order manager: one test per rule a market maker
//! relies on.

mod oms_support;

use gapmm::ids::{OrderLinkId, UpdateId};
use gapmm::oms::journal::recover;
use gapmm::oms::{
    is_ours, AckEvent, AckOp, Action, Link, Oms, OrderState, OrderStatus, RejectReason,
};
use gapmm::units::{Lots, Side, Ticks};
use oms_support::*;

/// Quotes both sides and confirms them on the order stream; returns the
/// order ids used (bid, ask).
fn quoted(
    oms: &mut Oms,
    bid: i64,
    ask: i64,
    qty: i64,
) -> (gapmm::ids::OrderId, gapmm::ids::OrderId) {
    let a = oms
        .on_target(&tgt(Some(bid), Some(ask), qty, (bid, ask), 10, 0))
        .unwrap()
        .to_vec();
    let c = creates(&a);
    assert_eq!(c.len(), 2, "{a:?}");
    let ids = (oid(1), oid(2));
    for (k, (side, price, q, l)) in c.into_iter().enumerate() {
        let id = if k == 0 { ids.0 } else { ids.1 };
        oms.on_order_update(&ev(id, l, side, OrderStatus::New, price.0, q.0, q.0, 0), 1)
            .unwrap();
    }
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Working);
    assert_eq!(oms.slot(Side::Sell).state, OrderState::Working);
    ids
}

#[test]
fn amend_is_used_when_only_the_price_changes() {
    let mut oms = ready(cfg(100));
    let (bid_id, _) = quoted(&mut oms, 100, 105, 5);
    let a = oms
        .on_target(&tgt(Some(99), Some(105), 5, (100, 105), 11, 2 * MS))
        .unwrap()
        .to_vec();
    assert_eq!(a.len(), 1, "{a:?}");
    match a[0] {
        Action::Amend { req, trigger_u } => {
            assert_eq!((req.side, req.price, req.qty), (Side::Buy, Ticks(99), None));
            assert_eq!(req.order.order_id, bid_id);
            assert_eq!(trigger_u, UpdateId(11));
        }
        other => panic!("expected an amend, got {other:?}"),
    }
    assert_eq!(oms.slot(Side::Buy).state, OrderState::PendingAmend);
}

#[test]
fn both_sides_moving_give_one_batch_amend() {
    let mut oms = ready(cfg(100));
    quoted(&mut oms, 100, 105, 5);
    let a = oms
        .on_target(&tgt(Some(101), Some(106), 5, (101, 106), 12, 2 * MS))
        .unwrap()
        .to_vec();
    assert_eq!(a.len(), 1, "{a:?}");
    let Action::AmendBatch { reqs, .. } = a[0] else {
        panic!("expected a batch amend, got {a:?}")
    };
    assert_eq!((reqs[0].side, reqs[0].price), (Side::Buy, Ticks(101)));
    assert_eq!((reqs[1].side, reqs[1].price), (Side::Sell, Ticks(106)));
}

#[test]
fn ack_alone_never_confirms() {
    let mut oms = ready(cfg(100));
    let a = oms
        .on_target(&tgt(Some(100), None, 5, (100, 101), 1, 0))
        .unwrap()
        .to_vec();
    let (_, _, _, l) = creates(&a)[0];
    let ack = AckEvent {
        op: AckOp::Create,
        link_id: l,
        order_id: oid(9),
        ret_code: 0,
    };
    assert!(oms.on_ack(&ack, MS).is_empty());
    assert_eq!(oms.slot(Side::Buy).state, OrderState::PendingNew);
    // The target moves, but an unconfirmed order is not amended.
    assert!(oms
        .on_target(&tgt(Some(99), None, 5, (100, 101), 2, 2 * MS))
        .unwrap()
        .is_empty());
    // The order stream confirms it (the order id from the ack matches), and
    // the held-back amend goes out.
    let a = oms
        .on_order_update(
            &ev(
                oid(9),
                OrderLinkId::default(),
                Side::Buy,
                OrderStatus::New,
                100,
                5,
                5,
                0,
            ),
            3 * MS,
        )
        .unwrap()
        .to_vec();
    assert!(
        matches!(a.as_slice(), [Action::Amend { req, .. }] if req.price == Ticks(99)),
        "{a:?}"
    );
}

#[test]
fn prices_never_cross_the_latest_touch() {
    let mut oms = ready(cfg(100));
    // The strategy asks for a bid through the ask and an ask through the bid.
    let a = oms
        .on_target(&tgt(Some(110), Some(90), 5, (100, 102), 1, 0))
        .unwrap()
        .to_vec();
    let c = creates(&a);
    assert_eq!(c[0].1, Ticks(101));
    assert_eq!(c[1].1, Ticks(101));
}

#[test]
fn post_only_rejection_is_replaced_one_tick_safer() {
    let mut c = cfg(100);
    c.min_update_interval_ns = 1_000 * MS;
    let mut oms = ready(c);
    let a = oms
        .on_target(&tgt(Some(101), None, 5, (100, 102), 1, 0))
        .unwrap()
        .to_vec();
    let (side, price, qty, l) = creates(&a)[0];
    assert_eq!(price, Ticks(101));
    let mut e = ev(
        oid(1),
        l,
        side,
        OrderStatus::Cancelled,
        price.0,
        qty.0,
        0,
        0,
    );
    e.reject_reason = RejectReason::PostOnlyWillTakeLiquidity;
    // One millisecond later, inside the minimum update interval: re-placed anyway.
    let a = oms.on_order_update(&e, MS).unwrap().to_vec();
    let c = creates(&a);
    assert_eq!(c.len(), 1, "{a:?}");
    assert_eq!((c[0].0, c[0].1, c[0].2), (Side::Buy, Ticks(100), Lots(5)));
    assert_ne!(c[0].3, l, "a fresh orderLinkId");
    assert_eq!(oms.stats().post_only_replaces, 1);
    assert_eq!(oms.stats().rejects, 0, "not counted as an error");
}

#[test]
fn position_limit_pulls_the_side_at_max_and_shrinks_to_fit() {
    let mut oms = ready(cfg(10));
    oms.set_position(Lots(7), Some(Ticks(100)), 0);
    let a = oms
        .on_target(&tgt(Some(100), Some(105), 5, (100, 105), 1, 0))
        .unwrap()
        .to_vec();
    let c = creates(&a);
    assert_eq!((c[0].0, c[0].2), (Side::Buy, Lots(3)), "bid reduced to fit");
    assert_eq!((c[1].0, c[1].2), (Side::Sell, Lots(5)));
    assert_eq!(oms.worst_case(Side::Buy), Lots(10));
    // At +max only sells: the pending bid no longer fits and is pulled.
    oms.set_position(Lots(10), None, MS);
    let a = oms
        .on_target(&tgt(Some(100), Some(105), 5, (100, 105), 2, 2 * MS))
        .unwrap()
        .to_vec();
    assert!(
        matches!(
            a.as_slice(),
            [Action::Cancel {
                side: Side::Buy,
                ..
            }]
        ),
        "{a:?}"
    );
    assert!(oms.worst_case(Side::Sell) <= Lots(10));
}

#[test]
fn position_limit_counts_in_flight_quantity_of_orders_being_cancelled() {
    let mut oms = Oms::new(cfg(10)).unwrap();
    let a1 = link("gm00000a-1-5");
    let a2 = link("gm00000a-2-6");
    // Two bids of ours survive a restart: one is adopted, one is cancelled,
    // and until that cancel is confirmed its 3 lots may still fill.
    let list = [
        ev(oid(1), a1, Side::Buy, OrderStatus::New, 100, 4, 4, 0),
        ev(oid(2), a2, Side::Buy, OrderStatus::New, 99, 3, 3, 0),
    ];
    let a = oms.adopt_open_orders(&list, 0).to_vec();
    assert!(
        matches!(a.as_slice(), [Action::Cancel { side: Side::Buy, order, .. }] if order.order_id == oid(2)),
        "{a:?}"
    );
    let a = oms
        .on_target(&tgt(Some(101), None, 8, (101, 103), 1, MS))
        .unwrap()
        .to_vec();
    match a.as_slice() {
        [Action::Amend { req, .. }] => {
            assert_eq!(req.price, Ticks(101));
            assert_eq!(req.qty, Some(Lots(7)), "10 - 3 lots in flight on the stray");
        }
        other => panic!("expected one amend, got {other:?}"),
    }
    assert_eq!(oms.worst_case(Side::Buy), Lots(10));
}

#[test]
fn duplicate_fill_from_execution_and_execution_fast_is_counted_once() {
    let mut oms = ready(cfg(100));
    let (bid_id, _) = quoted(&mut oms, 100, 105, 5);
    let l = oms.slot(Side::Buy).link_id;
    let fast = fill(1, bid_id, OrderLinkId::default(), Side::Buy, 100, 2, None);
    let slow = fill(1, bid_id, l, Side::Buy, 100, 2, Some("0.02"));
    oms.on_fill(&fast, MS).unwrap();
    oms.on_fill(&slow, 2 * MS).unwrap();
    oms.on_fill(&slow, 3 * MS).unwrap();
    assert_eq!(oms.position(), Lots(2));
    assert_eq!(oms.slot(Side::Buy).leaves, Lots(3));
    assert_eq!(oms.stats().fills, 1);
    assert_eq!(oms.stats().duplicate_fills, 2);
    assert!(
        (oms.pnl().fees - 0.02).abs() < 1e-12,
        "fee from the slower copy, once"
    );
}

#[test]
fn maker_fill_with_empty_link_id_is_matched_by_order_id() {
    let mut oms = ready(cfg(100));
    let (_, ask_id) = quoted(&mut oms, 100, 105, 5);
    let f = fill(7, ask_id, OrderLinkId::default(), Side::Sell, 105, 5, None);
    let a = oms.on_fill(&f, MS).unwrap().to_vec();
    assert_eq!(oms.position(), Lots(-5));
    // The filled ask is gone (its slot was matched by orderId) and is re-quoted.
    let c = creates(&a);
    assert_eq!(c.len(), 1, "{a:?}");
    assert_eq!((c[0].0, c[0].2), (Side::Sell, Lots(5)));
    assert_ne!(oms.slot(Side::Sell).link_id, oms.slot(Side::Buy).link_id);
    assert_eq!(oms.worst_case(Side::Sell), Lots(10));
}

#[test]
fn min_update_interval_holds_back_amends_but_not_cancels() {
    let mut c = cfg(100);
    c.min_update_interval_ns = 100 * MS;
    let mut oms = ready(c);
    quoted(&mut oms, 100, 105, 5);
    // Created at t=0: a move at 10 ms waits.
    assert!(oms
        .on_target(&tgt(Some(99), Some(105), 5, (100, 105), 2, 10 * MS))
        .unwrap()
        .is_empty());
    assert!(oms
        .on_target(&tgt(Some(98), Some(105), 5, (100, 105), 3, 50 * MS))
        .unwrap()
        .is_empty());
    assert!(oms.stats().interval_held >= 2);
    // Pulling the ask is a cancel: immediate.
    let a = oms
        .on_target(&tgt(Some(98), None, 5, (100, 105), 4, 60 * MS))
        .unwrap()
        .to_vec();
    assert!(
        matches!(
            a.as_slice(),
            [Action::Cancel {
                side: Side::Sell,
                ..
            }]
        ),
        "{a:?}"
    );
    // At 100 ms the latest target goes out on the tick.
    let a = oms.on_tick(100 * MS).to_vec();
    assert!(
        matches!(a.as_slice(), [Action::Amend { req, .. }] if req.price == Ticks(98)),
        "{a:?}"
    );
}

#[test]
fn adopt_ours_ignore_foreign() {
    let mut oms = Oms::new(cfg(100)).unwrap();
    assert!(!oms.is_ready());
    let foreign = link("manual-order-1");
    let ours_bid = link("gm000zzz-9-100");
    let ours_ask = link("gm000zzz-10-101");
    let ours_ask2 = link("gm000abc-3-7");
    let list = [
        ev(oid(1), foreign, Side::Buy, OrderStatus::New, 90, 1, 1, 0),
        ev(oid(2), ours_bid, Side::Buy, OrderStatus::New, 99, 5, 5, 0),
        ev(
            oid(3),
            ours_ask,
            Side::Sell,
            OrderStatus::PartiallyFilled,
            106,
            5,
            4,
            1,
        ),
        ev(
            oid(4),
            ours_ask2,
            Side::Sell,
            OrderStatus::New,
            107,
            5,
            5,
            0,
        ),
        ev(
            oid(5),
            OrderLinkId::default(),
            Side::Sell,
            OrderStatus::New,
            120,
            1,
            1,
            0,
        ),
    ];
    let a = oms.adopt_open_orders(&list, 0).to_vec();
    assert!(oms.is_ready());
    assert!(is_ours(&ours_bid) && !is_ours(&foreign));
    assert_eq!(oms.slot(Side::Buy).order_id, oid(2));
    assert_eq!(oms.slot(Side::Sell).order_id, oid(3));
    assert_eq!(oms.slot(Side::Sell).leaves, Lots(4));
    // Only the extra ask of ours is cancelled; foreign orders are untouched.
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        matches!(a[0], Action::Cancel { side: Side::Sell, order, .. } if order.order_id == oid(4))
    );
    // The adopted orders are amended, not replaced.
    let a = oms
        .on_target(&tgt(Some(100), Some(106), 4, (100, 106), 1, MS))
        .unwrap()
        .to_vec();
    assert!(
        matches!(a.as_slice(), [Action::Amend { req, .. }] if req.side == Side::Buy && req.qty == Some(Lots(4))),
        "{a:?}"
    );
    // The stray's cancel confirmation removes it.
    oms.on_order_update(
        &ev(
            oid(4),
            ours_ask2,
            Side::Sell,
            OrderStatus::Cancelled,
            107,
            5,
            0,
            0,
        ),
        2 * MS,
    )
    .unwrap();
    assert_eq!(oms.strays().count(), 0);
}

#[test]
fn disconnect_with_amend_in_flight_goes_unknown_and_queries_never_rejects() {
    let mut oms = ready(cfg(100));
    let (bid_id, _) = quoted(&mut oms, 100, 105, 5);
    oms.on_target(&tgt(Some(101), Some(105), 5, (101, 105), 2, 2 * MS))
        .unwrap();
    assert_eq!(oms.slot(Side::Buy).state, OrderState::PendingAmend);
    let a = oms.on_disconnect(Link::Trade, 3 * MS).to_vec();
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Unknown);
    assert!(a.contains(&Action::QueryOpenOrders), "{a:?}");
    // Still counted at its largest possible size; nothing new is sent for it.
    assert_eq!(oms.open_exposure(Side::Buy), Lots(5));
    assert!(oms
        .on_target(&tgt(Some(102), Some(105), 5, (102, 105), 3, 4 * MS))
        .unwrap()
        .iter()
        .all(|a| !matches!(
            a,
            Action::Amend { .. } | Action::AmendBatch { .. } | Action::Create { .. }
        )));
    oms.on_reconnected(Link::Trade, 5 * MS);
    // The query shows the amend landed: Working at the new price.
    let l = oms.slot(Side::Buy).link_id;
    let ask = *oms.slot(Side::Sell);
    let list = [
        ev(bid_id, l, Side::Buy, OrderStatus::New, 101, 5, 5, 0),
        ev(
            ask.order_id,
            ask.link_id,
            Side::Sell,
            OrderStatus::New,
            105,
            5,
            5,
            0,
        ),
    ];
    let a = oms
        .on_open_orders(&list, gapmm::time::ExchMs(10), 6 * MS)
        .to_vec();
    assert_eq!(
        oms.slot(Side::Buy).state,
        OrderState::PendingAmend,
        "re-amended to the latest target: {a:?}"
    );
    assert!(matches!(a.as_slice(), [Action::Amend { req, .. }] if req.price == Ticks(102)));
}

#[test]
fn private_disconnect_freezes_quoting_until_the_snapshot() {
    let mut oms = ready(cfg(100));
    quoted(&mut oms, 100, 105, 5);
    oms.on_disconnect(Link::Private, MS);
    assert!(!oms.is_ready());
    assert!(oms
        .on_target(&tgt(Some(99), Some(104), 5, (100, 105), 2, 2 * MS))
        .unwrap()
        .is_empty());
    let a = oms.on_reconnected(Link::Private, 3 * MS).to_vec();
    assert_eq!(a, vec![Action::QueryOpenOrders]);
    // Both orders were filled or cancelled meanwhile: the sides are empty and re-quoted.
    let a = oms
        .on_open_orders(&[], gapmm::time::ExchMs(10), 4 * MS)
        .to_vec();
    assert_eq!(creates(&a).len(), 2, "{a:?}");
}

#[test]
fn timeout_without_confirmation_goes_unknown_and_late_order_is_cancelled_as_stray() {
    let mut oms = ready(cfg(100));
    let a = oms
        .on_target(&tgt(Some(100), None, 5, (100, 101), 1, 0))
        .unwrap()
        .to_vec();
    let (_, _, _, l) = creates(&a)[0];
    let a = oms.on_tick(3_000 * MS).to_vec();
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Unknown);
    assert_eq!(a, vec![Action::QueryOpenOrders]);
    // The query shows nothing: the side is free again and re-quoted.
    let a = oms
        .on_open_orders(&[], gapmm::time::ExchMs(10), 3_001 * MS)
        .to_vec();
    assert_eq!(creates(&a).len(), 1);
    // An event stamped before the query's time is stale news: ignored.
    let mut late = ev(oid(77), l, Side::Buy, OrderStatus::New, 100, 5, 5, 0);
    late.updated = gapmm::time::ExchMs(9);
    assert!(oms.on_order_update(&late, 3_002 * MS).unwrap().is_empty());
    assert_eq!(oms.stats().stale_events, 1);
    // Stamped after it, the first create really shows up late: it is ours,
    // untracked → cancelled.
    late.updated = gapmm::time::ExchMs(11);
    let a = oms.on_order_update(&late, 3_002 * MS).unwrap().to_vec();
    assert!(
        matches!(a.as_slice(), [Action::Cancel { order, .. }] if order.order_id == oid(77)),
        "{a:?}"
    );
    assert_eq!(
        oms.open_exposure(Side::Buy),
        Lots(10),
        "both count until the stray is gone"
    );
}

#[test]
fn rejected_create_frees_the_side_and_rate_limit_blocks_the_endpoint() {
    let mut oms = ready(cfg(100));
    let a = oms
        .on_target(&tgt(Some(100), None, 5, (100, 101), 1, 0))
        .unwrap()
        .to_vec();
    let (_, _, _, l) = creates(&a)[0];
    let ack = AckEvent {
        op: AckOp::Create,
        link_id: l,
        order_id: Default::default(),
        ret_code: 10006,
    };
    let a = oms.on_ack(&ack, MS).to_vec();
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Empty);
    assert!(
        a.is_empty(),
        "no create while the exchange says the limit is hit: {a:?}"
    );
    let a = oms.on_tick(1_100 * MS).to_vec();
    assert_eq!(creates(&a).len(), 1);
}

#[test]
fn shutdown_cancels_all_and_stops_quoting() {
    let mut oms = ready(cfg(100));
    quoted(&mut oms, 100, 105, 5);
    assert_eq!(oms.shutdown(MS), &[Action::CancelAll]);
    assert!(oms
        .on_target(&tgt(Some(99), Some(104), 5, (100, 105), 2, 2 * MS))
        .unwrap()
        .is_empty());
    assert!(oms.is_halted());
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let mut oms = ready(cfg(100));
    assert!(oms
        .on_target(&tgt(Some(100), Some(101), 0, (100, 101), 1, 0))
        .is_err());
    assert!(oms
        .on_target(&tgt(Some(100), Some(101), 5, (101, 100), 1, 0))
        .is_err());
    let mut f = fill(1, oid(1), OrderLinkId::default(), Side::Buy, 100, 0, None);
    assert!(oms.on_fill(&f, 0).is_err());
    f.qty = Lots(1);
    f.price = Ticks(-1);
    assert!(oms.on_fill(&f, 0).is_err());
    assert_eq!(oms.position(), Lots(0));
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Empty);
    let e = oms.on_fill(&f, 0).unwrap_err();
    assert!(e.to_string().contains("price"));
}

#[test]
fn link_ids_carry_run_prefix_and_trigger_u() {
    let mut oms = ready(cfg(100));
    let a = oms
        .on_target(&tgt(Some(100), None, 5, (100, 101), 987_654, 0))
        .unwrap()
        .to_vec();
    let (_, _, _, l) = creates(&a)[0];
    assert!(l.as_str().starts_with(oms.run_prefix()));
    assert!(l.as_str().ends_with("-987654"));
    assert!(is_ours(&l));
}

#[test]
fn journal_recovery_after_a_crash_loses_and_doubles_no_fill() {
    let mut oms = ready(cfg(1_000));
    let mut sim = Sim::new((100, 101));
    let mut scratch = [ev(
        oid(0),
        OrderLinkId::default(),
        Side::Buy,
        OrderStatus::New,
        1,
        1,
        1,
        0,
    ); SIM_ORDERS];
    let mut journal = Vec::new();
    // Trade for a while: quote, get hit on both sides, deliver everything.
    for k in 0..50u64 {
        let now = k * 300 * MS;
        let mid = 100 + (k % 5) as i64;
        let acts = copy_actions(
            oms.on_target(&tgt(Some(mid), Some(mid + 2), 3, (mid, mid + 2), k, now))
                .unwrap(),
        );
        submit_all(&mut oms, &mut sim, &acts, now, &mut scratch);
        sim.trade(if k % 3 == 0 { Side::Sell } else { Side::Buy }, 2);
        while deliver_one(&mut oms, &mut sim, now, &mut scratch) {}
        journal.extend_from_slice(oms.journal());
        oms.clear_journal();
    }
    assert_eq!(oms.position().0, sim.position);
    assert!(oms.stats().fills >= 20);
    // Every journal line is one JSON object with a type and a timestamp.
    let mut kinds = std::collections::BTreeSet::new();
    for line in journal.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        assert!(v["ts"].is_u64(), "{v}");
        kinds.insert(v["t"].as_str().unwrap().to_string());
    }
    for k in ["create", "amend", "order", "fill"] {
        assert!(kinds.contains(k), "no {k} record in {kinds:?}");
    }
    // Crash: the last fill line is torn half-way.
    // (The first sighting of a fill, from `execution.fast`, has no fee; its
    // fee-carrying copy follows. Tear the last first sighting.)
    let mut offset = 0;
    let mut last_fill = None;
    for line in journal.split(|&b| b == b'\n') {
        let first_sighting = !line.windows(5).any(|w| w == b"\"fee\"");
        if line.starts_with(b"{\"t\":\"fill") && first_sighting {
            last_fill = Some(offset);
        }
        offset += line.len() + 1;
    }
    let torn = &journal[..last_fill.unwrap() + 30];
    let rec = recover(torn);
    assert_eq!(rec.bad_lines, 1);
    assert_ne!(rec.position().0, sim.position, "the torn fill is missing");
    // Restart: restore, then replay every execution the exchange reports.
    let mut oms2 = Oms::new(cfg(1_000)).unwrap();
    oms2.restore(&rec);
    let full = recover(&journal);
    let mut exec = 0;
    for line in journal
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"{\"t\":\"fill"))
    {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        exec += 1;
        let f = gapmm::oms::Fill {
            exec_id: gapmm::ids::ExecId::from_str(v["exec_id"].as_str().unwrap()).unwrap(),
            order_id: gapmm::ids::OrderId::from_str(v["order_id"].as_str().unwrap()).unwrap(),
            link_id: OrderLinkId::default(),
            side: if v["side"] == "Buy" {
                Side::Buy
            } else {
                Side::Sell
            },
            price: Ticks(v["price_ticks"].as_i64().unwrap()),
            qty: Lots(v["qty_lots"].as_i64().unwrap()),
            fee: None,
            fee_base_nlots: 0,
            is_maker: true,
            exec_time: gapmm::time::ExchMs(v["ts"].as_u64().unwrap()),
        };
        oms2.on_fill(&f, 0).unwrap();
    }
    assert!(exec > 20);
    assert_eq!(oms2.position().0, sim.position);
    assert_eq!(oms2.pnl().realised, full.realised());
    assert_eq!(oms2.pnl().realised, oms.pnl().realised);
    assert_eq!(oms2.stats().fills, 1, "only the torn fill was new");
}

#[test]
fn repeated_rejections_back_off_instead_of_hammering() {
    let mut oms = ready(cfg(100));
    let mut now = 0;
    let mut gaps = Vec::new();
    let mut last_create = 0;
    for _ in 0..4 {
        // Retry on every tick until the manager sends the create again.
        let l = loop {
            let a = oms.on_tick(now).to_vec();
            let a = if a.is_empty() {
                oms.on_target(&tgt(Some(100), None, 5, (100, 101), 1, now))
                    .unwrap()
                    .to_vec()
            } else {
                a
            };
            if let Some(c) = creates(&a).first() {
                break c.3;
            }
            now += MS;
        };
        gaps.push(now - last_create);
        last_create = now;
        // Insufficient balance: a definite rejection.
        let ack = AckEvent {
            op: AckOp::Create,
            link_id: l,
            order_id: Default::default(),
            ret_code: 110007,
        };
        assert!(oms.on_ack(&ack, now).is_empty());
        assert_eq!(oms.slot(Side::Buy).state, OrderState::Empty);
        now += MS;
    }
    // 100 ms, then 200 ms, then 400 ms between attempts.
    assert_eq!(&gaps[1..], &[100 * MS, 200 * MS, 400 * MS]);
    assert_eq!(oms.stats().rejects, 4);
}

#[test]
fn short_budget_keeps_room_for_cancels_before_amends_before_creates() {
    let mut c = cfg(100);
    c.limits.combined_per_sec = 5;
    c.limits.cancel_reserve = 2;
    c.limits.amend_reserve = 1;
    let mut oms = ready(c);
    // Two creates use what creates may use (5 - 2 - 1).
    quoted(&mut oms, 100, 105, 5);
    // Both sides move: a batch needs 2 units, amends may use only 1 more.
    let a = oms
        .on_target(&tgt(Some(101), Some(106), 5, (101, 106), 2, 10 * MS))
        .unwrap()
        .to_vec();
    assert!(
        matches!(a.as_slice(), [Action::Amend { req, .. }] if req.side == Side::Buy),
        "{a:?}"
    );
    // Pulling both sides still gets both cancels out: the reserve.
    let a = oms
        .on_target(&tgt(None, None, 5, (101, 106), 3, 20 * MS))
        .unwrap()
        .to_vec();
    let cancels = a
        .iter()
        .filter(|x| matches!(x, Action::Cancel { .. }))
        .count();
    assert_eq!(cancels, 2, "{a:?}");
    assert!(oms.stats().budget_denied >= 1);
}

#[test]
fn spot_defaults_allow_twenty_creates_per_second() {
    let c = gapmm::oms::OmsConfig::new(gapmm::ids::Category::Spot, 1, Lots(10), Lots(1));
    assert_eq!(c.limits.of(gapmm::oms::Endpoint::Create), 20);
    assert_eq!(c.limits.of(gapmm::oms::Endpoint::Amend), 10);
    let l = gapmm::oms::OmsConfig::new(gapmm::ids::Category::Linear, 1, Lots(10), Lots(1));
    assert_eq!(l.limits.of(gapmm::oms::Endpoint::Create), 10);
}

#[test]
fn a_rehearsal_decides_as_the_live_manager_and_leaves_it_untouched() {
    let mut live = ready(cfg(100));
    quoted(&mut live, 100, 105, 5);
    let journal_before = live.journal().len();
    let mut shadow = ready(cfg(100));
    shadow.copy_for_rehearsal(&live);
    let moved = tgt(Some(99), Some(106), 5, (100, 105), 11, 2 * MS);
    let rehearsed = shadow.on_target(&moved).unwrap().to_vec();
    assert!(
        matches!(rehearsed.as_slice(), [Action::AmendBatch { .. }]),
        "{rehearsed:?}"
    );
    // The live manager still has both orders working and journals nothing
    // for the rehearsal; its own decision on the same target is the same,
    // and so is what it journals for it.
    assert_eq!(live.slot(Side::Buy).state, OrderState::Working);
    assert_eq!(live.slot(Side::Sell).state, OrderState::Working);
    assert_eq!(live.journal().len(), journal_before);
    let real = live.on_target(&moved).unwrap().to_vec();
    assert_eq!(real, rehearsed);
    assert_eq!(&live.journal()[journal_before..], shadow.journal());
    shadow.copy_for_rehearsal(&live);
    assert!(shadow.journal().is_empty());
    assert_eq!(live.slot(Side::Buy).state, OrderState::PendingAmend);
}

/// Makes the bid `Unknown` (its amend went unconfirmed past the ack timeout)
/// so that the manager asks for open orders; returns the time.
fn bid_unknown_and_queried(oms: &mut Oms) -> u64 {
    oms.on_target(&tgt(Some(99), Some(105), 5, (100, 105), 11, 2 * MS))
        .unwrap();
    assert_eq!(oms.slot(Side::Buy).state, OrderState::PendingAmend);
    let now = 2_003 * MS;
    let a = oms.on_tick(now).to_vec();
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Unknown);
    assert_eq!(a, vec![Action::QueryOpenOrders]);
    assert!(oms.query_ticket().is_some());
    now
}

#[test]
fn an_unanswered_query_holds_creates_and_amends_but_not_cancels() {
    let mut oms = ready(cfg(100));
    let (bid_id, ask_id) = quoted(&mut oms, 100, 105, 5);
    let t0 = bid_unknown_and_queried(&mut oms);
    // The ask moves: no amend while the answer is awaited.
    let a = oms
        .on_target(&tgt(Some(99), Some(106), 5, (100, 106), 12, t0 + MS))
        .unwrap()
        .to_vec();
    assert!(a.is_empty(), "{a:?}");
    // A pull still goes at once.
    let a = oms
        .on_target(&tgt(Some(99), None, 5, (100, 106), 13, t0 + 2 * MS))
        .unwrap()
        .to_vec();
    assert!(
        matches!(
            a.as_slice(),
            [Action::Cancel {
                side: Side::Sell,
                ..
            }]
        ),
        "{a:?}"
    );
    let ask_link = oms.slot(Side::Sell).link_id;
    oms.on_order_update(
        &ev(
            ask_id,
            ask_link,
            Side::Sell,
            OrderStatus::Cancelled,
            105,
            5,
            0,
            0,
        ),
        t0 + 3 * MS,
    )
    .unwrap();
    assert_eq!(oms.slot(Side::Sell).state, OrderState::Empty);
    // The ask is wanted again: no create while the answer is awaited.
    let a = oms
        .on_target(&tgt(Some(99), Some(106), 5, (100, 106), 14, t0 + 4 * MS))
        .unwrap()
        .to_vec();
    assert!(a.is_empty(), "{a:?}");
    // The answer: the bid rests at its old price; the ask is gone. Now the
    // held work is done.
    let bid_link = oms.slot(Side::Buy).link_id;
    let ticket = oms.query_ticket().unwrap();
    let list = [ev(
        bid_id,
        bid_link,
        Side::Buy,
        OrderStatus::New,
        100,
        5,
        5,
        0,
    )];
    let a = oms
        .on_query_answer(ticket, &list, gapmm::time::ExchMs(10), t0 + 6 * MS)
        .to_vec();
    assert!(oms.query_ticket().is_none());
    assert_eq!(creates(&a).len(), 1, "{a:?}");
    assert_eq!(creates(&a)[0].0, Side::Sell);
}

#[test]
fn a_query_no_longer_needed_stops_holding_after_its_timeout_and_its_answer_is_ignored() {
    let mut oms = ready(cfg(100));
    let (bid_id, _) = quoted(&mut oms, 100, 105, 5);
    let t0 = bid_unknown_and_queried(&mut oms);
    let ticket = oms.query_ticket().unwrap();
    // The order stream settles the bid: the amend landed.
    let bid_link = oms.slot(Side::Buy).link_id;
    oms.on_order_update(
        &ev(bid_id, bid_link, Side::Buy, OrderStatus::New, 99, 5, 5, 0),
        t0 + MS,
    )
    .unwrap();
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Working);
    // Within the query timeout the answer is still awaited: amends wait.
    let a = oms
        .on_target(&tgt(Some(98), Some(105), 5, (100, 105), 12, t0 + 2 * MS))
        .unwrap()
        .to_vec();
    assert!(a.is_empty(), "{a:?}");
    // After it, the query is given up (not asked again: nothing is unknown)
    // and the held amend goes.
    let a = oms.on_tick(t0 + 1_001 * MS).to_vec();
    assert!(oms.query_ticket().is_none());
    assert!(
        matches!(a.as_slice(), [Action::Amend { req, .. }] if req.price == Ticks(98)),
        "{a:?}"
    );
    // Its answer, if it still comes, is stale: it changes nothing (it would
    // otherwise take both orders, absent from it, for gone).
    let before = (*oms.slot(Side::Buy), *oms.slot(Side::Sell));
    let a = oms
        .on_query_answer(ticket, &[], gapmm::time::ExchMs(10), t0 + 1_002 * MS)
        .to_vec();
    assert!(a.is_empty(), "{a:?}");
    assert_eq!((*oms.slot(Side::Buy), *oms.slot(Side::Sell)), before);
    assert_eq!(oms.stats().stale_answers, 1);
}

#[test]
fn an_answer_to_a_superseded_query_is_ignored() {
    let mut oms = ready(cfg(100));
    quoted(&mut oms, 100, 105, 5);
    let t0 = bid_unknown_and_queried(&mut oms);
    let first = oms.query_ticket().unwrap();
    // Unanswered past the query timeout: asked again.
    let a = oms.on_tick(t0 + 1_000 * MS).to_vec();
    assert_eq!(a, vec![Action::QueryOpenOrders]);
    let second = oms.query_ticket().unwrap();
    assert_ne!(first, second);
    // The first answer arrives late (the engine drops it; if one slipped
    // through it must not count as the second's).
    oms.on_query_answer(first, &[], gapmm::time::ExchMs(10), t0 + 1_001 * MS);
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Unknown);
    assert_eq!(oms.slot(Side::Sell).state, OrderState::Working);
    assert_eq!(oms.query_ticket(), Some(second));
    assert_eq!(oms.stats().stale_answers, 1);
}

#[test]
fn a_late_answer_never_takes_an_order_confirmed_meanwhile_for_gone() {
    // A create is in flight when the trade link drops; the query is served
    // before the create reached the book, but the order stream reports the
    // order before the answer is read. Taking it for gone would quote the
    // side twice.
    let mut oms = ready(cfg(100));
    let a = oms
        .on_target(&tgt(Some(100), None, 5, (100, 105), 1, 0))
        .unwrap()
        .to_vec();
    let (_, _, _, l) = creates(&a)[0];
    let a = oms.on_disconnect(Link::Trade, MS).to_vec();
    assert_eq!(a, vec![Action::QueryOpenOrders]);
    let ticket = oms.query_ticket().unwrap();
    oms.on_reconnected(Link::Trade, 2 * MS);
    oms.on_order_update(
        &ev(oid(1), l, Side::Buy, OrderStatus::New, 100, 5, 5, 0),
        3 * MS,
    )
    .unwrap();
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Working);
    let a = oms
        .on_query_answer(ticket, &[], gapmm::time::ExchMs(10), 4 * MS)
        .to_vec();
    assert!(creates(&a).is_empty(), "{a:?}");
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Working);
    assert_eq!(oms.slot(Side::Buy).link_id, l);
}

#[test]
fn a_create_lost_with_its_link_is_given_up_only_an_ack_timeout_after_it_was_sent() {
    let mut oms = ready(cfg(100));
    let a = oms
        .on_target(&tgt(Some(100), None, 5, (100, 105), 1, 0))
        .unwrap()
        .to_vec();
    let (_, _, _, l) = creates(&a)[0];
    oms.on_disconnect(Link::Trade, MS);
    oms.on_reconnected(Link::Trade, 2 * MS);
    // Served before the create could have reached the book: proves nothing.
    let t = oms.query_ticket().unwrap();
    let a = oms
        .on_query_answer(t, &[], gapmm::time::ExchMs(10), 3 * MS)
        .to_vec();
    assert!(creates(&a).is_empty(), "{a:?}");
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Unknown);
    assert_eq!(oms.slot(Side::Buy).link_id, l);
    // Not asked again at once (nothing new is unknown): a query timeout
    // later, so the wait costs a few queries, not the rate budget.
    assert!(!a.contains(&Action::QueryOpenOrders), "{a:?}");
    let qt = oms.config().query_timeout_ns;
    assert!(!oms
        .on_tick(3 * MS + qt - MS)
        .contains(&Action::QueryOpenOrders));
    // Asked again until a query is an ack timeout younger than the create.
    let mut now = 3 * MS;
    let mut queries = 0;
    loop {
        now += 100 * MS;
        let a = oms.on_tick(now).to_vec();
        if a.contains(&Action::QueryOpenOrders) {
            queries += 1;
            let t = oms.query_ticket().unwrap();
            let a = oms
                .on_query_answer(t, &[], gapmm::time::ExchMs(10), now)
                .to_vec();
            if oms.slot(Side::Buy).link_id != l {
                // Given up: the side is quoted again, with a new order.
                assert!(now >= oms.config().ack_timeout_ns, "{now}");
                assert_eq!(creates(&a).len(), 1, "{a:?}");
                assert!(
                    queries <= oms.config().ack_timeout_ns / qt + 1,
                    "{queries} queries"
                );
                break;
            }
        }
        assert!(now < 5_000 * MS, "never given up");
    }
}

#[test]
fn an_order_the_stream_reported_closed_is_not_revived_by_an_older_snapshot() {
    let mut oms = ready(cfg(100));
    let (bid_id, _) = quoted(&mut oms, 100, 105, 5);
    let bid_link = oms.slot(Side::Buy).link_id;
    oms.on_disconnect(Link::Private, 2 * MS);
    oms.on_reconnected(Link::Private, 3 * MS);
    let t = oms.query_ticket().unwrap();
    // The bid fills (stream first) after the exchange took the snapshot.
    oms.on_fill(
        &fill(1, bid_id, bid_link, Side::Buy, 100, 5, Some("0.01")),
        4 * MS,
    )
    .unwrap();
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Empty);
    let ask = *oms.slot(Side::Sell);
    let list = [
        ev(bid_id, bid_link, Side::Buy, OrderStatus::New, 100, 5, 5, 0),
        ev(
            ask.order_id,
            ask.link_id,
            Side::Sell,
            OrderStatus::New,
            105,
            5,
            5,
            0,
        ),
    ];
    let a = oms
        .on_query_answer(t, &list, gapmm::time::ExchMs(10), 5 * MS)
        .to_vec();
    // The bid is not adopted back as working: it is re-quoted.
    assert_eq!(creates(&a).len(), 1, "{a:?}");
    assert_eq!(creates(&a)[0].0, Side::Buy);
    assert_ne!(oms.slot(Side::Buy).link_id, bid_link);
}

#[test]
fn an_action_handed_back_unsent_is_undone_and_decided_again() {
    let mut oms = ready(cfg(100));
    // A create that never left: the side is empty and quoted again.
    let a = oms
        .on_target(&tgt(Some(100), None, 5, (100, 105), 1, 0))
        .unwrap()
        .to_vec();
    oms.on_unsent(&a[0], MS);
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Empty);
    let a = oms.on_tick(2 * MS).to_vec();
    assert_eq!(creates(&a).len(), 1, "{a:?}");
    assert_eq!(oms.stats().unsent, 1);

    let mut oms = ready(cfg(100));
    quoted(&mut oms, 100, 105, 5);
    // An amend (single and batch) that never left: the orders work as
    // before and the amend is decided again.
    let a = oms
        .on_target(&tgt(Some(99), Some(106), 5, (100, 106), 11, 2 * MS))
        .unwrap()
        .to_vec();
    assert!(matches!(a.as_slice(), [Action::AmendBatch { .. }]), "{a:?}");
    oms.on_unsent(&a[0], 2 * MS);
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Working);
    assert_eq!(oms.slot(Side::Sell).state, OrderState::Working);
    assert_eq!(oms.slot(Side::Buy).price, Ticks(100));
    assert_eq!(oms.open_exposure(Side::Buy), Lots(5));
    let a = oms.on_tick(3 * MS).to_vec();
    assert!(matches!(a.as_slice(), [Action::AmendBatch { .. }]), "{a:?}");
    oms.on_unsent(&a[0], 3 * MS);
    // A cancel that never left: the order is back to working, and the
    // cancel is decided again.
    let a = oms
        .on_target(&tgt(None, Some(106), 5, (100, 106), 12, 4 * MS))
        .unwrap()
        .to_vec();
    assert!(
        matches!(
            a.as_slice(),
            [
                Action::Cancel {
                    side: Side::Buy,
                    ..
                },
                ..
            ]
        ),
        "{a:?}"
    );
    oms.on_unsent(&a[0], 4 * MS);
    assert_eq!(oms.slot(Side::Buy).state, OrderState::Working);
    let a = oms.on_tick(5 * MS).to_vec();
    assert!(
        a.iter().any(|x| matches!(
            x,
            Action::Cancel {
                side: Side::Buy,
                ..
            }
        )),
        "{a:?}"
    );
    // A query that never left is asked again at once.
    oms.on_disconnect(Link::Trade, 6 * MS);
    let a = oms.on_tick(7 * MS).to_vec();
    let q = if a.contains(&Action::QueryOpenOrders) {
        a
    } else {
        oms.on_tick(1_007 * MS).to_vec()
    };
    assert!(q.contains(&Action::QueryOpenOrders), "{q:?}");
    let before = oms.query_ticket();
    oms.on_unsent(&Action::QueryOpenOrders, 1_008 * MS);
    assert!(oms.query_ticket().is_none());
    let a = oms.on_tick(1_009 * MS).to_vec();
    assert!(a.contains(&Action::QueryOpenOrders), "{a:?}");
    assert_ne!(oms.query_ticket(), before);
}

#[test]
fn unanswered_queries_are_asked_again_ever_more_patiently() {
    let mut oms = ready(cfg(100));
    quoted(&mut oms, 100, 105, 5);
    let t0 = bid_unknown_and_queried(&mut oms);
    // Every millisecond for 40 s: when is the query asked again?
    let mut asked = vec![t0];
    let mut now = t0;
    while now < t0 + 40_000 * MS {
        now += MS;
        if oms.on_tick(now).contains(&Action::QueryOpenOrders) {
            asked.push(now);
        }
    }
    let gaps: Vec<u64> = asked.windows(2).map(|w| (w[1] - w[0]) / MS).collect();
    // The timeout (1 s), then doubling up to 8 s: a slow exchange's answer
    // gets the time it needs instead of being dropped again and again.
    assert_eq!(
        gaps[..6],
        [1_000, 2_000, 4_000, 8_000, 8_000, 8_000],
        "{gaps:?}"
    );
    // An answer resets the wait.
    let t = oms.query_ticket().unwrap();
    let list: Vec<_> = [Side::Buy, Side::Sell]
        .iter()
        .map(|&s| {
            let o = *oms.slot(s);
            ev(
                o.order_id,
                o.link_id,
                s,
                OrderStatus::New,
                o.price.0,
                5,
                5,
                0,
            )
        })
        .collect();
    oms.on_query_answer(t, &list, gapmm::time::ExchMs(10), now);
    assert!(oms.query_ticket().is_none());
    oms.on_disconnect(Link::Private, now + MS);
    let a = oms.on_reconnected(Link::Private, now + 2 * MS).to_vec();
    assert_eq!(a, vec![Action::QueryOpenOrders]);
    let a = oms.on_tick(now + 1_002 * MS).to_vec();
    assert_eq!(a, vec![Action::QueryOpenOrders]);
}
