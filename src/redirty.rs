//! Keeping the memory a reaction writes recently written.
//!
//! A hypervisor that tracks which guest pages change (dirty logging, used
//! for snapshots and live migration) write-protects guest memory page by
//! page, and the next write to a protected page faults out to the host. On
//! this project's VM that fault stalls the writing vCPU for ~170–230 µs, and
//! it comes to any given page about once every 35–45 s whether the page is
//! written every millisecond or every quarter second; reads never stall
//! (`cargo bench --bench write_stall`). The stall is paid by the first write
//! after the protection. A page the engine writes only when it reacts, every
//! few hundred milliseconds, therefore takes it inside the reaction in
//! about 0.7 % of reactions, and a reaction writes several such pages; a
//! page rewritten every few tens of microseconds while idle almost always
//! takes it then.
//!
//! So while it rehearses (`--warm-us`), the order stage rewrites every page
//! its reaction writes before the request is on the wire: the order
//! manager's state ([`crate::oms::Oms::redirty`]), its queue and request
//! buffer, the trade connection's frame buffer
//! ([`crate::net::ws::WsConn::redirty`]) and the targets ring's positions.
//! The strategy stage keeps that ring's free slots written while idle
//! ([`crate::engine::latest::Latest::redirty`]). Each value is written back
//! unchanged.
//!
//! Contract: no allocation, no syscall, no clock, never blocks; a call
//! writes one value per 4 KiB of what it is given (the whole value for
//! [`rewrite`]).

use std::hint::black_box;
use std::mem::{size_of, MaybeUninit};

/// The page size the strides assume (x86-64 and most of aarch64 Linux).
pub const PAGE: usize = 4096;

/// Writes `x` back with its own value (the compiler cannot drop the store).
#[inline]
pub fn rewrite<T: Copy>(x: &mut T) {
    *x = black_box(*x);
}

/// Writes back one element per [`PAGE`] bytes of `xs`, and the last one, so
/// that every page the slice spans is written.
pub fn rewrite_pages<T: Copy>(xs: &mut [T]) {
    let stride = (PAGE / size_of::<T>().max(1)).max(1);
    let mut i = 0;
    while i < xs.len() {
        rewrite(&mut xs[i]);
        i += stride;
    }
    if let Some(last) = xs.last_mut() {
        rewrite(last);
    }
}

/// Writes, one byte per [`PAGE`] and the last, the first `bytes` bytes of
/// `v`'s allocation: its contents back unchanged, then zeros into its spare
/// capacity. These are the pages the next `bytes` bytes written into `v`
/// after a `clear` land on. Neither `v`'s length nor its contents change.
pub fn rewrite_buf(v: &mut Vec<u8>, bytes: usize) {
    let len = v.len().min(bytes);
    rewrite_pages(&mut v[..len]);
    let spare = v.spare_capacity_mut();
    let n = (bytes - len).min(spare.len());
    let spare: &mut [MaybeUninit<u8>] = &mut spare[..n];
    let mut i = 0;
    while i < n {
        spare[i].write(black_box(0));
        i += PAGE;
    }
    if let Some(last) = spare.last_mut() {
        last.write(black_box(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewriting_changes_no_value() {
        let mut xs: Vec<u64> = (0..10_000).map(|i| i * 7 + 3).collect();
        let before = xs.clone();
        rewrite_pages(&mut xs);
        assert_eq!(xs, before);
        let mut one = (1u8, 2u64, [3u16; 5]);
        rewrite(&mut one);
        assert_eq!(one, (1, 2, [3; 5]));
        rewrite_pages::<u64>(&mut []);
    }

    #[test]
    fn buffers_keep_their_contents_length_and_capacity() {
        let mut v = Vec::with_capacity(3 * PAGE);
        v.extend_from_slice(b"keep");
        let cap = v.capacity();
        for bytes in [0, 2, 2 * PAGE, usize::MAX] {
            rewrite_buf(&mut v, bytes);
            assert_eq!(v, b"keep");
            assert_eq!(v.capacity(), cap, "never grows");
        }
        let mut full: Vec<u8> = (0..=255).collect();
        full.shrink_to_fit();
        rewrite_buf(&mut full, PAGE);
        assert_eq!(full, (0..=255).collect::<Vec<u8>>());
    }
}
