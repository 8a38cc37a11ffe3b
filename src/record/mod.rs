//! Recording the public market stream to disk, in the recorder's layout:
//! one received message per line, `<local receive time, ns since the
//! epoch> <raw message JSON>`, gzip-compressed, one file per symbol and UTC
//! day, rotated early at a size limit. hftbacktest's collector writes the
//! same layout, so either tool reads the other's files;
//! [`crate::replay::Tape`] reads them for `eval` and `backtest`.
//!
//! Two halves, joined by a lock-free SPSC byte ring (rtrb):
//! - [`Tee`], on the thread that reads the socket (the engine's feed
//!   thread when trading with `--record`): copies each frame and its receive
//!   time into the ring. No allocation, no lock, no syscall, no clock read;
//!   when the ring is full the frame is dropped and counted, never waited
//!   for.
//! - [`Writer`], on a thread of its own: drains the ring, compresses, and
//!   writes and rotates the files. Allocates and blocks on file I/O, as it
//!   may: it is never on the trading path.
//!
//! A file is a complete gzip stream once the writer finished it (rotation
//! or shutdown). The writer also flushes what it has every second (a gzip
//! sync point), so a reader sees all but the last second of a file being
//! written; a file cut short by a crash reads up to its last whole line and
//! then fails with a typed error naming that line.

pub mod tee;
pub mod writer;

pub use tee::{Tee, TeeStats};
pub use writer::{file_name, utc_date, RecordStats, Rotation, Writer};

/// Bytes of the ring's per-frame header: receive time (8) and length (4).
pub const HEADER: usize = 12;

/// Capacity of the byte ring between a [`Tee`] and its [`Writer`]: 2 MiB,
/// several seconds of a busy book and its trades (the writer drains it
/// every millisecond), small enough to stay mostly in cache.
pub const RING_BYTES: usize = 2 << 20;

/// A tee and a writer joined by a new ring of `bytes` bytes. Every page of
/// the ring is written once here, so that no frame pays a first-touch page
/// fault on the socket thread.
pub fn channel(bytes: usize) -> (Tee, rtrb::Consumer<u8>) {
    let (mut p, mut c) = rtrb::RingBuffer::<u8>::new(bytes);
    if let Ok(chunk) = p.write_chunk(bytes) {
        chunk.commit_all();
    }
    if let Ok(chunk) = c.read_chunk(bytes) {
        chunk.commit_all();
    }
    (Tee::new(p), c)
}
