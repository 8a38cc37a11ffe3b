//! Order-manager decision cost.
//!
//! `oms_reconcile_target`: one quote cycle with both sides resting — a new
//! target moves both prices, the manager decides (one batch amend), and the
//! two order-stream confirmations bring both orders back to `Working`.
//! `oms_on_fill`: one fill from `execution.fast` plus its `execution` copy
//! (de-duplicated). Each bench checks its answer before timing.

use criterion::{criterion_group, criterion_main, Criterion};
use gapmm::ids::{Category, ExecId, OrderId, OrderLinkId, UpdateId};
use gapmm::oms::{Action, Fill, Oms, OmsConfig, OrderEvent, OrderStatus, RejectReason, Target};
use gapmm::time::ExchMs;
use gapmm::units::{Lots, Side, Ticks};
use std::hint::black_box;

const MS: u64 = 1_000_000;

fn target(bid: i64, now: u64) -> Target {
    Target {
        bid: Some(Ticks(bid)),
        ask: Some(Ticks(bid + 5)),
        qty: Lots(5),
        touch: (Ticks(bid), Ticks(bid + 5)),
        trigger_u: UpdateId(now / MS),
        now,
    }
}

fn event(
    order_id: OrderId,
    link_id: OrderLinkId,
    side: Side,
    price: i64,
    updated: u64,
) -> OrderEvent {
    OrderEvent {
        order_id,
        link_id,
        side,
        price: Ticks(price),
        qty: Lots(5),
        leaves_qty: Lots(5),
        cum_exec_qty: Lots(0),
        status: OrderStatus::New,
        reject_reason: RejectReason::None,
        updated: ExchMs(updated),
    }
}

/// Both sides quoted and confirmed.
fn working() -> (Oms, [OrderId; 2]) {
    let mut cfg = OmsConfig::new(Category::Linear, 1, Lots(1_000_000), Lots(1));
    cfg.journal = false;
    let mut oms = Oms::new(cfg).unwrap();
    oms.adopt_open_orders(&[], 0);
    let acts = oms.on_target(&target(1000, 0)).unwrap().to_vec();
    let ids = [
        OrderId::from_str("1").unwrap(),
        OrderId::from_str("2").unwrap(),
    ];
    for (k, a) in acts.iter().enumerate() {
        let Action::Create {
            side,
            price,
            link_id,
            ..
        } = *a
        else {
            panic!("{a:?}")
        };
        oms.on_order_update(&event(ids[k], link_id, side, price.0, 1), 1)
            .unwrap();
    }
    (oms, ids)
}

/// One cycle; returns the bid price sent.
fn cycle(oms: &mut Oms, ids: &[OrderId; 2], k: u64) -> i64 {
    // 250 ms apart: within Bybit's 10 batch-amend units per second.
    let now = (k + 1) * 250 * MS;
    let bid = 1000 + (k % 2) as i64 + 1;
    let a = oms.on_target(&target(bid, now)).unwrap();
    let Some(Action::AmendBatch { reqs, .. }) = a.first().copied() else {
        return -1;
    };
    let none = OrderLinkId::default();
    oms.on_order_update(&event(ids[0], none, Side::Buy, reqs[0].price.0, k + 2), now)
        .unwrap();
    oms.on_order_update(
        &event(ids[1], none, Side::Sell, reqs[1].price.0, k + 2),
        now,
    )
    .unwrap();
    reqs[0].price.0
}

fn bench(c: &mut Criterion) {
    let (mut oms, ids) = working();
    // Validate: every cycle is one batch amend to the new prices, confirmed.
    for k in 0..4 {
        assert_eq!(cycle(&mut oms, &ids, k), 1000 + (k % 2) as i64 + 1);
        assert_eq!(oms.slot(Side::Buy).state, gapmm::oms::OrderState::Working);
    }
    let mut k = 4;
    c.bench_function("oms_reconcile_target", |b| {
        b.iter(|| {
            k += 1;
            black_box(cycle(&mut oms, &ids, k))
        })
    });
    // Still a consistent pair of confirmed orders after the run.
    assert_eq!(oms.slot(Side::Buy).state, gapmm::oms::OrderState::Working);
    assert_eq!(oms.slot(Side::Sell).state, gapmm::oms::OrderState::Working);

    let (mut oms, ids) = working();
    let mut n = 0u64;
    let fill = |oms: &mut Oms, n: u64| {
        let mut exec_id = ExecId::default();
        let _ = exec_id.push_u64(n);
        let side = if n.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let f = Fill {
            exec_id,
            order_id: ids[(n % 2) as usize],
            link_id: OrderLinkId::default(),
            side,
            price: Ticks(1000),
            qty: Lots(1),
            fee: None,
            fee_base_nlots: 0,
            is_maker: true,
            exec_time: ExchMs(n),
        };
        oms.on_fill(&f, n).unwrap();
        oms.on_fill(&f, n).unwrap();
    };
    fill(&mut oms, 0);
    assert_eq!(oms.position(), Lots(1));
    assert_eq!(oms.stats().duplicate_fills, 1);
    c.bench_function("oms_on_fill", |b| {
        b.iter(|| {
            n += 1;
            fill(&mut oms, n);
        })
    });
    assert!(oms.position().0.abs() <= 1);
}

criterion_group!(benches, bench);
criterion_main!(benches);
