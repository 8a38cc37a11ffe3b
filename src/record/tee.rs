//! The hot-thread half of the recorder: frames into a byte ring.
//!
//! Contract: [`Tee::push`] allocates nothing, takes no lock, makes no
//! syscall and reads no clock (the caller passes the receive time it
//! already has); it costs two copies of the frame (the ring's slots are
//! zeroed, then written). A frame that does not fit in the free space is
//! dropped and counted, never waited for.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use super::HEADER;

/// Counters shared between a tee and whoever reports on it.
#[derive(Debug, Default)]
pub struct TeeStats {
    /// Frames written into the ring.
    pub frames: AtomicU64,
    /// Frames dropped because the ring was full (or the frame larger than it).
    pub dropped: AtomicU64,
}

/// See the module docs.
pub struct Tee {
    ring: rtrb::Producer<u8>,
    stats: Arc<TeeStats>,
}

impl std::fmt::Debug for Tee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tee")
            .field("free", &self.ring.slots())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Tee {
    /// A tee writing into `ring`.
    pub fn new(ring: rtrb::Producer<u8>) -> Tee {
        Tee {
            ring,
            stats: Arc::new(TeeStats::default()),
        }
    }

    /// The counters (shareable with a monitor thread).
    pub fn stats(&self) -> Arc<TeeStats> {
        self.stats.clone()
    }

    /// Copies `frame`, received at `local_ns`, into the ring; `false` (and
    /// counted) when it does not fit.
    #[inline]
    pub fn push(&mut self, local_ns: u64, frame: &[u8]) -> bool {
        let (Ok(len), n) = (u32::try_from(frame.len()), HEADER + frame.len()) else {
            self.stats.dropped.fetch_add(1, Relaxed);
            return false;
        };
        let Ok(mut chunk) = self.ring.write_chunk(n) else {
            self.stats.dropped.fetch_add(1, Relaxed);
            return false;
        };
        let mut head = [0u8; HEADER];
        head[..8].copy_from_slice(&local_ns.to_le_bytes());
        head[8..].copy_from_slice(&len.to_le_bytes());
        let (a, b) = chunk.as_mut_slices();
        // The record may wrap around the ring's end anywhere.
        let at = copy_split(a, b, 0, &head);
        copy_split(a, b, at, frame);
        chunk.commit_all();
        self.stats.frames.fetch_add(1, Relaxed);
        true
    }
}

/// Copies `src` into the concatenation of `a` and `b` from offset `at`;
/// returns the offset after it. Whatever does not fit is left out (the
/// caller sized the chunk to fit).
#[inline]
fn copy_split(a: &mut [u8], b: &mut [u8], at: usize, src: &[u8]) -> usize {
    let in_a = a.len().saturating_sub(at).min(src.len());
    if let (Some(dst), Some(s)) = (a.get_mut(at..at + in_a), src.get(..in_a)) {
        dst.copy_from_slice(s);
    }
    let rest = src.get(in_a..).unwrap_or(&[]);
    let from = (at + in_a).saturating_sub(a.len());
    if let Some(dst) = b.get_mut(from..from + rest.len()) {
        dst.copy_from_slice(rest);
    }
    at + src.len()
}

/// Reads the next whole record (receive time, frame) from `ring` into
/// `frame`; `None` when no whole record is there yet.
pub fn pop(ring: &mut rtrb::Consumer<u8>, frame: &mut Vec<u8>) -> Option<u64> {
    if ring.slots() < HEADER {
        return None;
    }
    let mut head = [0u8; HEADER];
    {
        let chunk = ring.read_chunk(HEADER).ok()?;
        let (a, b) = chunk.as_slices();
        head[..a.len()].copy_from_slice(a);
        head[a.len()..].copy_from_slice(b);
        // Not committed: the frame is read with the header below.
    }
    let mut ns = [0u8; 8];
    ns.copy_from_slice(&head[..8]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&head[8..]);
    let len = u32::from_le_bytes(len) as usize;
    let chunk = ring.read_chunk(HEADER + len).ok()?;
    let (a, b) = chunk.as_slices();
    frame.clear();
    frame.extend_from_slice(a.get(HEADER.min(a.len())..).unwrap_or(&[]));
    frame.extend_from_slice(b.get(HEADER.saturating_sub(a.len())..).unwrap_or(&[]));
    chunk.commit_all();
    Some(u64::from_le_bytes(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_and_in_order_across_the_wrap() {
        let (mut tee, mut c) = super::super::channel(100);
        let mut out = Vec::new();
        for round in 0..50u64 {
            let frame: Vec<u8> = (0..(round % 40) as u8).collect();
            assert!(tee.push(round * 7, &frame));
            assert_eq!(pop(&mut c, &mut out), Some(round * 7));
            assert_eq!(out, frame);
        }
        assert!(pop(&mut c, &mut out).is_none());
        assert_eq!(tee.stats().frames.load(Relaxed), 50);
    }

    #[test]
    fn a_full_ring_drops_and_counts_instead_of_waiting() {
        let (mut tee, mut c) = super::super::channel(64);
        assert!(tee.push(1, &[7u8; 40]));
        assert!(!tee.push(2, &[8u8; 40]), "52 + 52 bytes > 64");
        assert!(!tee.push(3, &[0u8; 100]), "larger than the ring");
        assert_eq!(tee.stats().dropped.load(Relaxed), 2);
        let mut out = Vec::new();
        assert_eq!(pop(&mut c, &mut out), Some(1));
        assert_eq!(out, vec![7u8; 40]);
        assert!(tee.push(4, &[9u8; 40]), "room again");
    }
}
