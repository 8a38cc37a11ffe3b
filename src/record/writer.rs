//! The disk half of the recorder: ring → `<ns> <json>` lines → gzip files.
//!
//! Files are `DIR/{SYMBOL}_{YYYYMMDD}.gz`, one per UTC day of the receive
//! time; a file reaching the size limit (uncompressed bytes) is finished
//! and the day continues in `{SYMBOL}_{YYYYMMDD}.1.gz`, `.2.gz`, .... An
//! existing file is never overwritten: a restart the same day takes the
//! next free number. A raw newline inside a frame (not valid inside a JSON
//! string; a pretty-printed message has them between tokens) is written as
//! a space, so one line stays one message.
//!
//! Contract: runs on its own thread ([`Writer::spawn`]); allocates (the
//! frame and line buffers grow to the largest message) and blocks on file
//! I/O; sleeps 1 ms when the ring is empty; reads the monotonic clock for
//! its once-a-second flush.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::tee::pop;

const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// When a file is finished before its day ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Uncompressed bytes per file (0: no limit, one file per day).
    pub max_bytes: u64,
}

/// What a writer wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Lines written.
    pub lines: u64,
    /// Uncompressed bytes written.
    pub bytes: u64,
    /// Every file written, in order.
    pub files: Vec<PathBuf>,
}

/// The civil UTC date `(year, month, day)` of a day count since 1970-01-01.
pub fn utc_date(days: u64) -> (i64, u32, u32) {
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `{symbol}_{YYYYMMDD}.gz`, or `{symbol}_{YYYYMMDD}.{n}.gz` for `n > 0`.
pub fn file_name(symbol: &str, days: u64, n: u32) -> String {
    let (y, m, d) = utc_date(days);
    if n == 0 {
        format!("{symbol}_{y:04}{m:02}{d:02}.gz")
    } else {
        format!("{symbol}_{y:04}{m:02}{d:02}.{n}.gz")
    }
}

struct Open {
    gz: GzEncoder<BufWriter<File>>,
    day: u64,
    bytes: u64,
}

/// See the module docs.
pub struct Writer {
    ring: rtrb::Consumer<u8>,
    dir: PathBuf,
    symbol: String,
    rotation: Rotation,
    frame: Vec<u8>,
    line: Vec<u8>,
    cur: Option<Open>,
    stats: RecordStats,
    last_flush: Instant,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("dir", &self.dir)
            .field("symbol", &self.symbol)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// A writer of `symbol`'s files into `dir` (created if missing).
    pub fn new(
        ring: rtrb::Consumer<u8>,
        dir: &Path,
        symbol: &str,
        rotation: Rotation,
    ) -> io::Result<Writer> {
        std::fs::create_dir_all(dir)?;
        Ok(Writer {
            ring,
            dir: dir.to_path_buf(),
            symbol: symbol.to_string(),
            rotation,
            frame: Vec::with_capacity(64 * 1024),
            line: Vec::with_capacity(64 * 1024),
            cur: None,
            stats: RecordStats::default(),
            last_flush: Instant::now(),
        })
    }

    /// What has been written so far.
    pub fn stats(&self) -> &RecordStats {
        &self.stats
    }

    /// Writes every whole record in the ring; how many.
    pub fn drain(&mut self) -> io::Result<usize> {
        let mut n = 0;
        while let Some(ns) = pop(&mut self.ring, &mut self.frame) {
            self.write_line(ns)?;
            n += 1;
        }
        Ok(n)
    }

    fn write_line(&mut self, ns: u64) -> io::Result<()> {
        self.line.clear();
        let mut b = itoa::Buffer::new();
        self.line.extend_from_slice(b.format(ns).as_bytes());
        self.line.push(b' ');
        self.line.extend(
            self.frame
                .iter()
                .map(|&c| if c == b'\n' || c == b'\r' { b' ' } else { c }),
        );
        self.line.push(b'\n');
        let day = ns / NS_PER_DAY;
        let len = self.line.len() as u64;
        let rotate = match &self.cur {
            None => true,
            Some(o) => {
                o.day != day
                    || (self.rotation.max_bytes > 0
                        && o.bytes + len > self.rotation.max_bytes
                        && o.bytes > 0)
            }
        };
        if rotate {
            self.finish_file()?;
            self.open_file(day)?;
        }
        if let Some(o) = self.cur.as_mut() {
            o.gz.write_all(&self.line)?;
            o.bytes += len;
        }
        self.stats.lines += 1;
        self.stats.bytes += len;
        Ok(())
    }

    fn open_file(&mut self, day: u64) -> io::Result<()> {
        for n in 0..u32::MAX {
            let path = self.dir.join(file_name(&self.symbol, day, n));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => {
                    self.cur = Some(Open {
                        gz: GzEncoder::new(
                            BufWriter::with_capacity(256 * 1024, f),
                            Compression::default(),
                        ),
                        day,
                        bytes: 0,
                    });
                    self.stats.files.push(path);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("no free recording file name"))
    }

    fn finish_file(&mut self) -> io::Result<()> {
        if let Some(o) = self.cur.take() {
            o.gz.finish()?.flush()?;
        }
        Ok(())
    }

    /// Makes what was written readable (a gzip sync point), at most once a
    /// second.
    pub fn flush_if_due(&mut self, now: Instant) -> io::Result<()> {
        if now.duration_since(self.last_flush) < Duration::from_secs(1) {
            return Ok(());
        }
        self.last_flush = now;
        if let Some(o) = self.cur.as_mut() {
            o.gz.flush()?;
        }
        Ok(())
    }

    /// Writes what is left in the ring and finishes the current file.
    pub fn finish(mut self) -> io::Result<RecordStats> {
        self.drain()?;
        self.finish_file()?;
        Ok(self.stats)
    }

    /// Runs the writer on a thread of its own until `stop` is set (then it
    /// drains the ring and finishes the file). A write error ends the
    /// thread with that error; the tee then finds the ring full and counts
    /// what it drops.
    pub fn spawn(
        mut self,
        stop: Arc<AtomicBool>,
    ) -> io::Result<JoinHandle<io::Result<RecordStats>>> {
        std::thread::Builder::new()
            .name("gapmm-record".into())
            .spawn(move || loop {
                let stopping = stop.load(Relaxed);
                let n = self.drain()?;
                self.flush_if_due(Instant::now())?;
                if stopping {
                    return self.finish();
                }
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::channel;
    use crate::replay::Recording;

    #[test]
    fn days_are_civil_utc_dates() {
        assert_eq!(utc_date(0), (1970, 1, 1));
        assert_eq!(utc_date(19_927), (2024, 7, 23));
        assert_eq!(utc_date(11_016), (2000, 2, 29));
        assert_eq!(file_name("BTCUSDT", 19_927, 0), "BTCUSDT_20240723.gz");
        assert_eq!(file_name("BTCUSDT", 19_927, 2), "BTCUSDT_20240723.2.gz");
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gapmm-rec-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn lines(path: &Path) -> Vec<String> {
        let mut r = Recording::open(path).unwrap();
        let mut v = Vec::new();
        while let Some(l) = r.next_line() {
            v.push(String::from_utf8(l.unwrap().to_vec()).unwrap());
        }
        v
    }

    #[test]
    fn lines_rotate_by_day_and_size_and_never_overwrite() {
        let d = dir("rotate");
        let day = 19_927 * NS_PER_DAY;
        let (mut tee, c) = channel(1 << 16);
        let mut w = Writer::new(c, &d, "X", Rotation { max_bytes: 60 }).unwrap();
        // 30-byte lines: two per file at 60 bytes.
        for (i, ns) in [day + 1, day + 2, day + 3, day + NS_PER_DAY]
            .iter()
            .enumerate()
        {
            assert!(tee.push(*ns, format!("{{\"n\":{i}}}\n").as_bytes()));
        }
        w.drain().unwrap();
        let st = w.finish().unwrap();
        let names: Vec<String> = st
            .files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["X_20240723.gz", "X_20240723.1.gz", "X_20240724.gz"]);
        assert_eq!(lines(&st.files[0]).len(), 2);
        assert_eq!(lines(&st.files[1]), [format!("{} {{\"n\":2}} ", day + 3)]);
        // A second writer the same day takes the next number.
        let (mut tee, c) = channel(1 << 10);
        let mut w = Writer::new(c, &d, "X", Rotation { max_bytes: 0 }).unwrap();
        tee.push(day + 9, b"{}");
        w.drain().unwrap();
        let st = w.finish().unwrap();
        assert!(st.files[0].ends_with("X_20240723.2.gz"), "{:?}", st.files);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_thread_drains_and_finishes_on_stop() {
        let d = dir("thread");
        let (mut tee, c) = channel(1 << 16);
        let stop = Arc::new(AtomicBool::new(false));
        let h = Writer::new(c, &d, "Y", Rotation { max_bytes: 0 })
            .unwrap()
            .spawn(stop.clone())
            .unwrap();
        for i in 0..100u64 {
            while !tee.push(
                1_700_000_000_000_000_000 + i,
                format!("{{\"i\":{i}}}").as_bytes(),
            ) {
                std::thread::yield_now();
            }
        }
        stop.store(true, Relaxed);
        let st = h.join().unwrap().unwrap();
        assert_eq!(st.lines, 100);
        let got = lines(&st.files[0]);
        assert_eq!(got.len(), 100);
        assert_eq!(got[99], "1700000000000000099 {\"i\":99}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
