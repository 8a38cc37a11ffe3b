//! Recording keeps the feed's per-frame path allocation-free: every frame
//! of the real BTCUSDT recording (book messages and trades) goes through
//! the recorder's tee, then book frames through the feed stage's own rules
//! ([`FeedRules::on_frame`]: decode, sequence, book, analytics, lag)
//! stage's analytics, counted by a global allocator on this thread, while
//! the writer thread (not counted: it may allocate) drains the ring into a
//! gzip file. Nothing is dropped and the file holds every frame.

mod common;
mod support_alloc;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use gapmm::engine::feed::{FeedRules, FrameOutcome};
use gapmm::ids::Symbol;
use gapmm::record::{channel, Rotation, Writer};
use gapmm::replay::{split_line, Recording};
use gapmm::time::Clock;
use gapmm::units::Step;
use support_alloc::counted;

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

#[test]
fn the_feed_path_with_recording_on_allocates_nothing() {
    let path = common::shared_dir()
        .join("data")
        .join("BTCUSDT-spot-2024-08-08T2354_to_08-09T0005.bybit.gz");
    let mut rec = Recording::open(&path).unwrap();
    let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
    while let Some(l) = rec.next_line() {
        let l = split_line(l.unwrap()).unwrap();
        frames.push((l.local_ns.unwrap(), l.json.to_vec()));
    }
    let symbol = Symbol::from_str("BTCUSDT").unwrap();
    let mut rules = FeedRules::new(
        symbol,
        Step::parse("0.01").unwrap(),
        Step::parse("0.00001").unwrap(),
        std::time::Duration::from_secs(5),
    );
    let clock = Clock::new();
    let dir = std::env::temp_dir().join(format!("gapmm-alloc-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut tee, ring) = channel(gapmm::record::RING_BYTES);
    let stats = tee.stats();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = Writer::new(ring, &dir, "BTCUSDT", Rotation { max_bytes: 0 })
        .unwrap()
        .spawn(stop.clone())
        .unwrap();

    // Pushes the ring refused because this loop outruns the disk (the
    // engine drops such a frame; here it retries, so that the file can be
    // compared frame by frame).
    let mut refused = 0u64;
    let mut feed = |ns: u64, frame: &[u8]| -> bool {
        // The feed stage's order: record first, then decode what the book needs.
        while !tee.push(ns, frame) {
            refused += 1;
            std::hint::spin_loop(); // the writer catches up (never in the engine)
        }
        // The recording's own clock is the wall clock: never lagging.
        let wall_ms = ns / 1_000_000;
        match rules.on_frame(frame, [None; 2], wall_ms, &clock, clock.stamp()) {
            FrameOutcome::Market(_) => true,
            FrameOutcome::Skipped => false,
            other => panic!("a real recording gave {other:?}"),
        }
    };
    // Warm-up: the snapshot and the first frames size every reused buffer.
    let warm = 200;
    for (ns, f) in &frames[..warm] {
        feed(*ns, f);
    }
    let (analysed, allocs) =
        counted(|| frames[warm..].iter().filter(|(ns, f)| feed(*ns, f)).count());
    assert!(analysed > 5_000, "{analysed}");
    assert_eq!(allocs, 0, "allocations on the feed path with recording on");
    stop.store(true, Relaxed);
    let written = writer.join().unwrap().unwrap();
    assert_eq!(written.lines, frames.len() as u64);
    // Every refused push was counted as a drop, and only those.
    assert_eq!(stats.dropped.load(Relaxed), refused);
    // The recording crosses midnight UTC: two files, one per day, that
    // hold the frames in order with their times.
    assert_eq!(written.files.len(), 2, "{:?}", written.files);
    let mut n = 0;
    for file in &written.files {
        let mut back = Recording::open(file).unwrap();
        while let Some(l) = back.next_line() {
            let l = split_line(l.unwrap()).unwrap();
            assert_eq!(l.local_ns, Some(frames[n].0));
            assert_eq!(l.json, &frames[n].1[..]);
            n += 1;
        }
    }
    assert_eq!(n, frames.len());
    std::fs::remove_dir_all(&dir).unwrap();
}
