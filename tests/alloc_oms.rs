//! The order manager allocates nothing on the hot path: after a warm-up,
//! 10,000 target/update cycles (targets, acks, order events, fills from both
//! execution streams, ticks, amends, re-creates, journal encoding, a
//! rehearsal of each decision on a shadow copy, trade-link drops with their
//! open-order query and its answer, and creates handed back unsent) perform
//! zero heap allocations on the order thread.

mod oms_support;
mod support_alloc;

use gapmm::ids::OrderLinkId;
use gapmm::oms::{Action, Link, OrderStatus};
use gapmm::units::Side;
use oms_support::*;

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

struct Counters {
    actions: usize,
    amends: usize,
    creates: usize,
    journal_bytes: usize,
    rehearsed: usize,
    target_actions: usize,
    unsent: usize,
}

fn cycles(
    oms: &mut gapmm::oms::Oms,
    shadow: &mut gapmm::oms::Oms,
    sim: &mut Sim,
    scratch: &mut [gapmm::oms::OrderEvent; SIM_ORDERS],
    from: u64,
    n: u64,
    c: &mut Counters,
) {
    for k in from..from + n {
        let now = k * 60 * MS;
        let bb = 1000 + (k % 7) as i64 - 3;
        let ba = bb + 2;
        sim.touch = (bb, ba);
        let bid = if k % 11 == 0 {
            None
        } else {
            Some(bb - (k % 2) as i64)
        };
        let t = tgt(bid, Some(ba + (k % 3) as i64), 3, (bb, ba), k, now);
        // What the order stage does while idle with `--warm-us`.
        oms.redirty();
        shadow.copy_for_rehearsal(oms);
        c.rehearsed += shadow.on_target(&t).unwrap().len();
        let mut acts = copy_actions(oms.on_target(&t).unwrap());
        c.target_actions += acts.iter().flatten().count();
        if k % 7 == 0 {
            // The order stage's queue was full: the last action goes back.
            if let Some(a) = acts.iter_mut().rev().find(|a| a.is_some()) {
                if let Some(x) = a.take() {
                    oms.on_unsent(&x, now);
                    c.unsent += 1;
                }
            }
        }
        for a in acts.iter().flatten() {
            c.actions += 1;
            match a {
                Action::Amend { .. } | Action::AmendBatch { .. } => c.amends += 1,
                Action::Create { .. } => c.creates += 1,
                _ => {}
            }
        }
        submit_all(oms, sim, &acts, now, scratch);
        if k % 4 == 0 {
            sim.trade(if k % 8 == 0 { Side::Buy } else { Side::Sell }, 1);
        }
        if k % 50 == 0 {
            // The trade link drops with requests in flight and comes back:
            // unknown orders, a query (answered at once by `submit_all`).
            let acts = copy_actions(oms.on_disconnect(Link::Trade, now + MS));
            submit_all(oms, sim, &acts, now + MS, scratch);
            let acts = copy_actions(oms.on_reconnected(Link::Trade, now + 2 * MS));
            submit_all(oms, sim, &acts, now + 2 * MS, scratch);
        }
        while deliver_one(oms, sim, now + 3 * MS, scratch) {}
        let acts = copy_actions(oms.on_tick(now + 30 * MS));
        c.actions += acts.iter().flatten().count();
        submit_all(oms, sim, &acts, now + 30 * MS, scratch);
        while deliver_one(oms, sim, now + 30 * MS, scratch) {}
        c.journal_bytes += oms.journal().len();
        oms.clear_journal();
    }
}

#[test]
fn no_allocation_after_warm_up() {
    let mut oms = ready(cfg(1_000_000));
    let mut sim = Sim::new((1000, 1002));
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
    let mut c = Counters {
        actions: 0,
        amends: 0,
        creates: 0,
        journal_bytes: 0,
        rehearsed: 0,
        target_actions: 0,
        unsent: 0,
    };
    let mut shadow = oms.clone();
    cycles(
        &mut oms,
        &mut shadow,
        &mut sim,
        &mut scratch,
        1,
        200,
        &mut c,
    );

    let mut c = Counters {
        actions: 0,
        amends: 0,
        creates: 0,
        journal_bytes: 0,
        rehearsed: 0,
        target_actions: 0,
        unsent: 0,
    };
    let ((), allocs) = support_alloc::counted(|| {
        cycles(
            &mut oms,
            &mut shadow,
            &mut sim,
            &mut scratch,
            201,
            10_000,
            &mut c,
        );
    });

    assert_eq!(allocs, 0, "allocations on the hot path");
    // The loop did real work.
    assert!(c.amends > 1_000, "amends {}", c.amends);
    assert!(c.creates > 400, "creates {}", c.creates);
    assert!(oms.stats().fills > 1_000, "{:?}", oms.stats());
    assert!(c.journal_bytes > 100_000);
    assert!(oms.stats().queries > 50, "{:?}", oms.stats());
    assert!(c.unsent > 500, "unsent {}", c.unsent);
    // Every rehearsal decided exactly what the live manager then did.
    assert_eq!(c.rehearsed, c.target_actions);
    assert_eq!(oms.position().0, sim.position);
}
