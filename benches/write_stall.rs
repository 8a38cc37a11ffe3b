//! How often the first write to a page stalls, and for how long (custom
//! harness; prints counts for BENCHMARKS.md and tuning.md).
//!
//! Figure it protects: the tail of gapmm-hot's `encode` and `tick_to_tx`
//! hops. A hypervisor that logs dirty pages write-protects guest memory page
//! by page; the next write to a protected page exits to the host. This bench
//! shows whether the host does that, how long the write then takes, and
//! that the chance depends on the page, not on how often it is written —
//! which is why `gapmm::redirty` rewrites the reaction's pages while the
//! engine is idle rather than trying to write them "often enough".
//!
//! Each case keeps 256 pages (1 MiB, pre-faulted) and every `period` writes
//! one byte to each page (or reads it), timing each access with the TSC. A
//! write over 20 µs counts as a stall. Reads are the control: a stall that
//! reads also see is preemption, not write protection. The thread is pinned
//! to the last core.
//!
//! Run: `cargo bench --bench write_stall` (env `WRITE_STALL_SECS` sets the
//! seconds per case, default 20).

use std::hint::black_box;
use std::time::{Duration, Instant};

use gapmm::engine::topology::{available_cores, pin_current};
use gapmm::time::Clock;

const PAGES: usize = 256;
const PAGE: usize = 4096;
const STALL_NS: u64 = 20_000;

struct Outcome {
    rounds: u64,
    accesses: u64,
    stalls: u64,
    worst_ns: u64,
    stall_ns: Vec<u64>,
}

fn run(mem: &mut [u8], period: Duration, write: bool, secs: u64, clock: &Clock) -> Outcome {
    let mut o = Outcome {
        rounds: 0,
        accesses: 0,
        stalls: 0,
        worst_ns: 0,
        stall_ns: Vec::with_capacity(4096),
    };
    let end = Instant::now() + Duration::from_secs(secs);
    let mut next = Instant::now();
    while Instant::now() < end {
        if Instant::now() < next {
            std::hint::spin_loop();
            continue;
        }
        next += period;
        // A different byte each round, so no write repeats the last value.
        let off = (o.rounds % 64) as usize;
        for p in 0..PAGES {
            let i = p * PAGE + off;
            let t0 = clock.stamp_fenced();
            if write {
                mem[i] = mem[i].wrapping_add(1);
            } else {
                black_box(mem[i]);
            }
            let ns = clock.delta_ns(t0, clock.stamp_fenced());
            o.accesses += 1;
            o.worst_ns = o.worst_ns.max(ns);
            if ns > STALL_NS {
                o.stalls += 1;
                o.stall_ns.push(ns);
            }
        }
        o.rounds += 1;
    }
    o
}

fn main() {
    let secs: u64 = std::env::var("WRITE_STALL_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    if let Some(&core) = available_cores().last() {
        pin_current(core);
    }
    let clock = Clock::new();
    let mut mem = vec![1u8; PAGES * PAGE];
    let cases = [
        ("write every 1 ms", Duration::from_millis(1), true),
        ("write every 250 ms", Duration::from_millis(250), true),
        ("read every 250 ms", Duration::from_millis(250), false),
    ];
    println!(
        "{PAGES} pages, {secs} s per case, stall = access over {} µs",
        STALL_NS / 1000
    );
    for (name, period, write) in cases {
        let mut o = run(&mut mem, period, write, secs, &clock);
        // The bench's own check: every round touched every page.
        assert_eq!(o.accesses, o.rounds * PAGES as u64);
        o.stall_ns.sort_unstable();
        let median = o.stall_ns.get(o.stall_ns.len() / 2).copied().unwrap_or(0);
        let per_page_s = if o.stalls > 0 {
            (secs * PAGES as u64) as f64 / o.stalls as f64
        } else {
            f64::INFINITY
        };
        println!(
            "{name:>20}: {} rounds, {} stalls ({:.4} % of accesses), median stall {:.1} µs, worst {:.1} µs, one stall per page every {:.0} s",
            o.rounds,
            o.stalls,
            100.0 * o.stalls as f64 / o.accesses.max(1) as f64,
            median as f64 / 1000.0,
            o.worst_ns as f64 / 1000.0,
            per_page_s,
        );
    }
    black_box(&mem);
}
