//! A private loopback connection for rehearsing the send path.
//!
//! A market maker sends an order only every few hundred milliseconds, and in
//! between the code and data of the send path — the order manager's decision,
//! the request encoder, the WebSocket framing and the kernel's TCP transmit
//! path — fall out of the caches. Measured on this project's VM, a 300-byte
//! loopback `write` costs ~3 µs when the previous one was 200 µs earlier and
//! ~22 µs when it was 20 ms earlier; a `write` of the same size to another
//! socket ~50 µs before brings it back to ~4 µs. The order stage therefore
//! rehearses a request every few tens of microseconds while idle and writes
//! it here: to a TCP connection between two sockets of its own on
//! 127.0.0.1, never to the exchange.
//!
//! Contract: [`WarmLink::open`] allocates and makes the connection (start-up
//! only). [`WarmLink::send`] allocates nothing (buffers are sized at open;
//! an oversized payload is not sent), never blocks (both sockets are
//! non-blocking; a full socket just skips the rehearsal), and makes one
//! `write` plus, every [`DRAIN_EVERY`] bytes, `read`s that empty the far end.
//! No clock.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};

use super::ws::{encode_client_frame, next_mask};

/// Largest payload rehearsed (bigger ones are skipped).
pub const MAX_PAYLOAD: usize = 4096;
/// The far end is emptied once this many bytes are unread.
pub const DRAIN_EVERY: usize = 16 * 1024;

/// A connected pair of loopback sockets owned by one thread.
#[derive(Debug)]
pub struct WarmLink {
    tx: TcpStream,
    rx: TcpStream,
    frame: Vec<u8>,
    sink: Box<[u8]>,
    unread: usize,
    mask_rng: u64,
}

impl WarmLink {
    /// Connects two sockets of this process over 127.0.0.1.
    pub fn open() -> io::Result<WarmLink> {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let tx = TcpStream::connect(l.local_addr()?)?;
        let (rx, _) = l.accept()?;
        tx.set_nodelay(true)?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(WarmLink {
            tx,
            rx,
            frame: Vec::with_capacity(MAX_PAYLOAD + 16),
            sink: vec![0u8; DRAIN_EVERY * 2].into_boxed_slice(),
            unread: 0,
            mask_rng: 0x9e37_79b9_7f4a_7c15,
        })
    }

    /// Frames `payload` as a masked client text frame (as a request to the
    /// exchange is framed) and writes it to the private connection. Returns
    /// the bytes written (0 when skipped).
    pub fn send(&mut self, payload: &[u8]) -> io::Result<usize> {
        if payload.len() > MAX_PAYLOAD {
            return Ok(0);
        }
        let mask = next_mask(&mut self.mask_rng);
        encode_client_frame(&mut self.frame, 0x1, payload, mask);
        let n = match self.tx.write(&self.frame) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        self.unread += n;
        if self.unread >= DRAIN_EVERY || n == 0 {
            self.drain()?;
        }
        Ok(n)
    }

    fn drain(&mut self) -> io::Result<()> {
        loop {
            match self.rx.read(&mut self.sink) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.unread = self.unread.saturating_sub(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.unread = 0;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rehearsal_is_written_because_the_far_end_is_drained() {
        let mut w = WarmLink::open().unwrap();
        let payload = [b'x'; 300];
        // 6 MB: far more than both socket buffers hold, so this only passes
        // if the far end keeps being emptied.
        for _ in 0..20_000 {
            // 300-byte payload: 2-byte header + 2-byte length + 4-byte mask.
            assert_eq!(w.send(&payload).unwrap(), 308);
        }
        assert_eq!(w.send(&[0u8; MAX_PAYLOAD + 1]).unwrap(), 0);
    }
}
