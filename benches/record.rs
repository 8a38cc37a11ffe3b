//! Figure protected: `record_tee/push_*` — what recording adds to the feed
//! thread per frame (`--record`): the tee's copy of a real BTCUSDT book
//! delta and trade message into the ring. The writer thread's work (gzip,
//! disk) is off the hot path and not timed here; the ring is emptied in
//! bulk whenever it fills (an O(1) commit), so the figure is the push.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gapmm::record::{channel, RING_BYTES};
use gapmm::replay::{split_line, Recording};

fn frames() -> (Vec<u8>, Vec<u8>) {
    let base = std::env::var_os("GAPMM_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let path = base
        .join("data")
        .join("BTCUSDT-spot-2024-08-08T2354_to_08-09T0005.bybit.gz");
    let mut rec = Recording::open(&path).expect("recording");
    let (mut delta, mut trade) = (None, None);
    while let Some(l) = rec.next_line() {
        let json = split_line(l.expect("line")).expect("layout").json.to_vec();
        if delta.is_none() && json.windows(7).any(|w| w == b"\"delta\"") {
            delta = Some(json);
        } else if trade.is_none() && json.starts_with(b"{\"topic\":\"publicTrade") {
            trade = Some(json);
        }
        if delta.is_some() && trade.is_some() {
            break;
        }
    }
    (delta.expect("a delta"), trade.expect("a trade"))
}

fn tee(c: &mut Criterion) {
    let (delta, trade) = frames();
    let mut g = c.benchmark_group("record_tee");
    for (name, frame) in [("push_delta", &delta), ("push_trade", &trade)] {
        let (mut tee, mut ring) = channel(RING_BYTES);
        // Checked before timing: a pushed frame comes out whole.
        assert!(tee.push(1, frame));
        let mut out = Vec::new();
        assert_eq!(gapmm::record::tee::pop(&mut ring, &mut out), Some(1));
        assert_eq!(&out, frame);
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                if !tee.push(black_box(1_700_000_000_000_000_000), black_box(frame)) {
                    let n = ring.slots();
                    if let Ok(chunk) = ring.read_chunk(n) {
                        chunk.commit_all();
                    }
                    tee.push(1, frame);
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, tee);
criterion_main!(benches);
