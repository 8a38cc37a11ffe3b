//! Per-hop latency histograms, recorded on the hot threads and collected off them.
//!
//! Contract (hot side, [`HopRecorder`]): recording a sample is one
//! `saturating_record` into a preallocated HdrHistogram — no allocation, no
//! lock, no syscall. Once per interval the hot thread hands its filled
//! histograms to the collector through an SPSC ring and takes back cleared
//! ones (a pointer swap; the boxes are preallocated). Quantiles are computed
//! only by the [`HopCollector`], which runs on the monitor (main) thread.
//!
//! Clock: all samples are nanosecond differences of [`crate::time::Clock`] stamps.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// Highest value a histogram tracks (10 s in ns); larger samples saturate.
pub const MAX_TRACKED_NS: u64 = 10_000_000_000;

/// A hop of the tick-to-wire path, or a later stage of an order's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Hop {
    /// Frame read → message parsed.
    Parse = 0,
    /// Parsed → book applied and analytics computed.
    Apply,
    /// Book applied → quote computed (crosses the feed→strategy ring when split).
    Quote,
    /// Quote computed → request encoded and signed (crosses the strategy→order ring when split,
    /// includes the order manager's decision).
    Encode,
    /// Request encoded → request bytes written (the socket `write`).
    Write,
    /// Frame read → request bytes written (`write` returned): the tick-to-wire figure.
    TickToWire,
    /// Frame read → the kernel handed the request's last byte to the network
    /// device (its software transmit stamp; see [`crate::net::txstamp`]). On
    /// loopback, `write` returns only after the receiver's side has run too.
    TickToTx,
    /// Request written → ack (WS trade / REST response) received.
    Ack,
    /// Request written → private `order` stream confirmation received.
    Confirm,
    /// Fill time on the exchange → fill received (exchange-to-local, in ns from ms stamps).
    FillLag,
}

impl Hop {
    /// Every hop, in pipeline order.
    pub const ALL: [Hop; 10] = [
        Hop::Parse,
        Hop::Apply,
        Hop::Quote,
        Hop::Encode,
        Hop::Write,
        Hop::TickToWire,
        Hop::TickToTx,
        Hop::Ack,
        Hop::Confirm,
        Hop::FillLag,
    ];
    /// Number of hops.
    pub const COUNT: usize = 10;

    /// Short name used in reports and file names.
    pub const fn name(self) -> &'static str {
        match self {
            Hop::Parse => "parse",
            Hop::Apply => "apply",
            Hop::Quote => "quote",
            Hop::Encode => "encode",
            Hop::Write => "write",
            Hop::TickToWire => "tick_to_wire",
            Hop::TickToTx => "tick_to_tx",
            Hop::Ack => "ack",
            Hop::Confirm => "confirm",
            Hop::FillLag => "fill_lag",
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts; the fallback is never taken.
    Histogram::new_with_bounds(1, MAX_TRACKED_NS, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable_histogram()))
}

#[cold]
fn unreachable_histogram() -> Histogram<u64> {
    // `Histogram::new(3)` only fails for sigfig > 5.
    std::process::abort()
}

/// One interval's worth of samples for every hop, plus its time span.
pub struct HopSet {
    hist: [Histogram<u64>; Hop::COUNT],
    /// Wall-clock ms at which the interval started.
    pub start_ms: u64,
}

impl HopSet {
    fn new() -> Box<HopSet> {
        Box::new(HopSet {
            hist: std::array::from_fn(|_| new_histogram()),
            start_ms: 0,
        })
    }

    fn reset(&mut self) {
        for h in &mut self.hist {
            h.reset();
        }
    }

    /// The histogram of one hop.
    pub fn get(&self, hop: Hop) -> &Histogram<u64> {
        &self.hist[hop as usize]
    }
}

/// Hot-thread side: records samples and swaps full sets for empty ones.
pub struct HopRecorder {
    cur: Box<HopSet>,
    full: rtrb::Producer<Box<HopSet>>,
    empty: rtrb::Consumer<Box<HopSet>>,
    /// Samples dropped because the collector fell behind (never blocks the hot thread).
    pub lost_intervals: u64,
}

/// Monitor-thread side: accumulates totals, computes quantiles, writes logs.
pub struct HopCollector {
    full: rtrb::Consumer<Box<HopSet>>,
    empty: rtrb::Producer<Box<HopSet>>,
    total: Box<HopSet>,
    last: Box<HopSet>,
    log: Option<IntervalLog>,
}

/// Creates a recorder/collector pair with `spare` preallocated interval sets.
pub fn hop_channel(spare: usize) -> (HopRecorder, HopCollector) {
    let spare = spare.max(2);
    let (full_p, full_c) = rtrb::RingBuffer::new(spare + 1);
    let (mut empty_p, empty_c) = rtrb::RingBuffer::new(spare + 1);
    for _ in 0..spare {
        // Capacity is spare + 1, so these pushes cannot fail.
        let _ = empty_p.push(HopSet::new());
    }
    (
        HopRecorder {
            cur: HopSet::new(),
            full: full_p,
            empty: empty_c,
            lost_intervals: 0,
        },
        HopCollector {
            full: full_c,
            empty: empty_p,
            total: HopSet::new(),
            last: HopSet::new(),
            log: None,
        },
    )
}

impl HopRecorder {
    /// Records one sample in nanoseconds.
    #[inline]
    pub fn record(&mut self, hop: Hop, ns: u64) {
        self.cur.hist[hop as usize].saturating_record(ns.max(1));
    }

    /// Hands the current interval to the collector and starts a new one.
    /// If no empty set is available (collector stalled) the interval is kept
    /// and keeps accumulating; nothing blocks.
    pub fn rotate(&mut self, now_ms: u64) {
        if self.full.is_full() || self.empty.is_empty() {
            // The collector is behind: keep accumulating into this interval.
            self.lost_intervals += 1;
            return;
        }
        if let Ok(mut next) = self.empty.pop() {
            next.start_ms = now_ms;
            let done = std::mem::replace(&mut self.cur, next);
            // Checked `is_full` above and we are the only producer.
            let _ = self.full.push(done);
        }
    }

    /// Read access to the interval being recorded (tests, single-thread layouts).
    pub fn current(&self) -> &HopSet {
        &self.cur
    }
}

/// A quantile summary of one histogram, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Sample count.
    pub n: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Maximum.
    pub max: u64,
}

impl Summary {
    /// Summarises a histogram.
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            n: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Formats nanoseconds for humans (`850ns`, `12.3µs`, `4.1ms`).
pub fn fmt_ns(ns: u64) -> String {
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1}ms", ns as f64 / 1e6)
    } else {
        format!("{:.2}s", ns as f64 / 1e9)
    }
}

impl HopCollector {
    /// Writes every collected interval to `dir/<prefix>.hlog` from now on.
    pub fn log_intervals_to(
        &mut self,
        dir: &Path,
        prefix: &str,
        start_ms: u64,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        self.log = Some(IntervalLog::create(
            &dir.join(format!("{prefix}.hlog")),
            start_ms,
        )?);
        Ok(())
    }

    /// Drains finished intervals into the running totals; returns how many arrived.
    pub fn collect(&mut self, now_ms: u64) -> usize {
        let mut n = 0;
        while let Ok(mut set) = self.full.pop() {
            for hop in Hop::ALL {
                let h = &set.hist[hop as usize];
                // Same bounds everywhere, so addition cannot fail.
                let _ = self.total.hist[hop as usize].add(h);
            }
            if let Some(log) = &mut self.log {
                log.write(&set, now_ms);
            }
            std::mem::swap(&mut self.last, &mut set);
            set.reset();
            let _ = self.empty.push(set);
            n += 1;
        }
        n
    }

    /// Summary of a hop over the whole run so far.
    pub fn total(&self, hop: Hop) -> Summary {
        Summary::of(&self.total.hist[hop as usize])
    }

    /// The histogram of a hop over the whole run so far.
    pub fn total_histogram(&self, hop: Hop) -> &Histogram<u64> {
        &self.total.hist[hop as usize]
    }

    /// Summary of a hop over the last completed interval.
    pub fn last_interval(&self, hop: Hop) -> Summary {
        Summary::of(&self.last.hist[hop as usize])
    }

    /// Merges a histogram set from another thread's collector into the totals.
    pub fn absorb(&mut self, other: &HopCollector) {
        for hop in Hop::ALL {
            let _ = self.total.hist[hop as usize].add(&other.total.hist[hop as usize]);
        }
    }

    /// The final report: one line per hop that has samples.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<13} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "hop", "n", "p50", "p90", "p99", "p99.9", "max"
        );
        for hop in Hop::ALL {
            let m = self.total(hop);
            if m.n == 0 {
                continue;
            }
            let _ = writeln!(
                s,
                "{:<13} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                hop.name(),
                m.n,
                fmt_ns(m.p50),
                fmt_ns(m.p90),
                fmt_ns(m.p99),
                fmt_ns(m.p999),
                fmt_ns(m.max)
            );
        }
        s
    }

    /// Writes one `.hgrm` percentile-distribution file per hop with samples
    /// (the text format the HdrHistogram plotter reads), values in microseconds.
    pub fn write_hgrm(&self, dir: &Path, prefix: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for hop in Hop::ALL {
            let h = &self.total.hist[hop as usize];
            if h.is_empty() {
                continue;
            }
            let mut f = std::fs::File::create(dir.join(format!("{prefix}-{}.hgrm", hop.name())))?;
            f.write_all(hgrm_text(h, 1000.0).as_bytes())?;
        }
        Ok(())
    }
}

/// Renders a histogram as HdrHistogram's percentile-distribution text, with
/// values divided by `scale` (1000 → microseconds for ns samples).
pub fn hgrm_text(h: &Histogram<u64>, scale: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let inv = if q < 1.0 {
            format!("{:>14.2}", 1.0 / (1.0 - q))
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "{:>12.3} {:>14.12} {:>10} {}",
            v.value_iterated_to() as f64 / scale,
            q,
            total,
            inv
        );
    }
    let _ = writeln!(
        s,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        h.mean() / scale,
        h.stdev() / scale
    );
    let _ = writeln!(
        s,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        h.max() as f64 / scale,
        h.len()
    );
    s
}

/// An HdrHistogram interval log (`.hlog`), one tagged line per hop per interval.
struct IntervalLog {
    file: std::io::BufWriter<std::fs::File>,
    start_ms: u64,
    ser: V2DeflateSerializer,
    buf: Vec<u8>,
}

impl IntervalLog {
    fn create(path: &Path, start_ms: u64) -> std::io::Result<IntervalLog> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(file, "#[gap-mm per-hop latency intervals, values in ns]")?;
        writeln!(
            file,
            "#[StartTime: {:.3} (seconds since epoch)]",
            start_ms as f64 / 1e3
        )?;
        writeln!(file, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        Ok(IntervalLog {
            file,
            start_ms,
            ser: V2DeflateSerializer::new(),
            buf: Vec::new(),
        })
    }

    fn write(&mut self, set: &HopSet, now_ms: u64) {
        let start = set.start_ms.saturating_sub(self.start_ms) as f64 / 1e3;
        let dur = now_ms.saturating_sub(set.start_ms.max(self.start_ms)) as f64 / 1e3;
        for hop in Hop::ALL {
            let h = &set.hist[hop as usize];
            if h.is_empty() {
                continue;
            }
            self.buf.clear();
            if self.ser.serialize(h, &mut self.buf).is_err() {
                continue;
            }
            let _ = writeln!(
                self.file,
                "Tag={},{:.3},{:.3},{:.3},{}",
                hop.name(),
                start,
                dur,
                h.max() as f64,
                base64_encode(&self.buf)
            );
        }
        let _ = self.file.flush();
    }
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_flow_from_recorder_to_collector_and_sum_up() {
        let (mut rec, mut col) = hop_channel(3);
        for v in 1..=100u64 {
            rec.record(Hop::TickToWire, v * 1000);
        }
        rec.rotate(1_000);
        for v in 1..=100u64 {
            rec.record(Hop::TickToWire, v * 1000 + 100_000);
        }
        rec.rotate(2_000);
        assert_eq!(col.collect(2_000), 2);
        let t = col.total(Hop::TickToWire);
        assert_eq!(t.n, 200);
        // The median of 1..=200 µs lies at 100 µs (3 significant figures).
        assert!((99_000..=101_000).contains(&t.p50), "p50 {}", t.p50);
        assert_eq!(col.last_interval(Hop::TickToWire).n, 100);
        assert!(col.report().contains("tick_to_wire"));
        assert_eq!(col.total(Hop::Parse).n, 0);
    }

    #[test]
    fn a_stalled_collector_never_blocks_the_recorder() {
        let (mut rec, mut col) = hop_channel(2);
        for i in 0..10 {
            rec.record(Hop::Parse, 10);
            rec.rotate(i);
        }
        assert!(rec.lost_intervals > 0);
        // Nothing recorded is lost: the kept interval still holds its samples.
        let collected = col.collect(10);
        let total = col.total(Hop::Parse).n + rec.current().get(Hop::Parse).len();
        assert!(collected >= 1);
        assert_eq!(total, 10);
    }

    #[test]
    fn hgrm_text_has_the_plotter_layout() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.saturating_record(v * 1000);
        }
        let t = hgrm_text(&h, 1000.0);
        assert!(t.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"));
        assert!(t.contains("#[Max     ="));
        assert!(t.contains("Total count    =         1000]"));
    }

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }
}
