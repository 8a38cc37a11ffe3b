//! The echo client's per-message work allocates nothing once warm: reading public frames from a
//! socket into its buffer, finding `u`, patching the prebuilt request and writing it (a counting
//! global allocator; its own test binary).

mod support_alloc;

use gapmm::sim::measure::{opcode, scan_u, EchoRequest, FrameReader};
use gapmm::sim::wire::{put_book_msg, BookMsg};
use gapmm::units::Step;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

/// Unmasked server text frames of `n` orderbook deltas with `u` = 1000, 1001, ...
fn feed(n: u64) -> Vec<u8> {
    let tick = Step::parse("0.1").unwrap();
    let lot = Step::parse("0.001").unwrap();
    let mut out = Vec::new();
    let mut msg = Vec::new();
    for k in 0..n {
        msg.clear();
        let levels: Vec<(i64, i64)> = (0..(k % 7) as i64).map(|i| (600_000 - i, 1 + i)).collect();
        let m = BookMsg {
            topic: b"orderbook.50.BTCUSDT",
            symbol: b"BTCUSDT",
            snapshot: false,
            ts: k,
            cts: k,
            u: 1000 + k,
            seq: k,
            tick,
            lot,
        };
        put_book_msg(&mut msg, &m, &levels, &levels);
        out.push(0x81);
        if msg.len() < 126 {
            out.push(msg.len() as u8);
        } else {
            out.push(126);
            out.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(&msg);
    }
    out
}

#[test]
fn echo_read_scan_patch_write_is_allocation_free_after_warm_up() {
    const WARM: u64 = 50;
    const N: u64 = 2_000;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let bytes = feed(WARM + N);
    // The "simulator": writes the feed, and counts the request bytes it gets back.
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut r = s.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut total = 0usize;
            let mut b = [0u8; 4096];
            loop {
                match r.read(&mut b) {
                    Ok(0) | Err(_) => return total,
                    Ok(n) => total += n,
                }
            }
        });
        s.write_all(&bytes).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        reader.join().unwrap()
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut rd = FrameReader::new(64 * 1024);
    let mut req = EchoRequest::new("linear", "BTCUSDT");
    let mut n = 0u64;
    let mut last_u = 0u64;
    let mut step = |s: &mut TcpStream, until: u64| {
        while n < until {
            while let Some(f) = rd.next_frame().unwrap() {
                assert_eq!(f.opcode, opcode::TEXT);
                let u = scan_u(f.payload).unwrap();
                assert_eq!(u, 1000 + n, "frames in order, none lost");
                n += 1;
                last_u = u;
                assert!(req.set(n, u, gapmm::time::wall_ms().0));
                s.write_all(req.frame()).unwrap();
            }
            if n < until {
                assert!(rd.read_from(s).unwrap() > 0, "feed ended early");
            }
        }
    };
    step(&mut s, WARM);
    let ((), allocs) = support_alloc::counted(|| step(&mut s, WARM + N));
    assert_eq!(last_u, 1000 + WARM + N - 1);
    assert_eq!(allocs, 0, "allocations in {N} echo rounds after warm-up");
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let got = server.join().unwrap();
    assert_eq!(
        got,
        req.frame().len() * (WARM + N) as usize,
        "every request written whole"
    );
}
