//! WebSocket framing as the engine's links read it: a client-role
//! tungstenite socket with the engine's read-buffer size, fed arbitrary
//! server bytes in pieces whose sizes the input chooses. Never a panic;
//! every delivered message fits in the bytes that came in. (On an error the
//! engine drops the connection, so nothing is read after one.)
#![no_main]

use std::io::{self, Read, Write};

use gapmm::net::ws::READ_BUFFER_SIZE;
use libfuzzer_sys::fuzz_target;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// Server bytes arrive `step` at a time; then the socket would block.
struct Wire<'a> {
    input: &'a [u8],
    pos: usize,
    step: usize,
    open: usize,
    written: usize,
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.open.min(self.input.len());
        if self.pos >= end {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(end - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let wire = Wire {
        input,
        pos: 0,
        step: usize::from(step).max(1),
        open: 0,
        written: 0,
    };
    let cfg = WebSocketConfig::default().read_buffer_size(READ_BUFFER_SIZE);
    let mut ws = WebSocket::from_raw_socket(wire, Role::Client, Some(cfg));
    let mut delivered = 0usize;
    let mut failed = false;
    while ws.get_ref().open < input.len() + ws.get_ref().step {
        let w = ws.get_mut();
        w.open += w.step;
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => delivered += t.len(),
                Ok(Message::Binary(b)) => delivered += b.len(),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
            assert!(delivered <= input.len(), "more payload than bytes received");
        }
        if failed {
            break;
        }
    }
});
