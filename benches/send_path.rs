//! What a loopback `write` of one order request costs, and why (custom
//! harness; prints percentiles for BENCHMARKS.md).
//!
//! Figures it protects (the `write` and `tick_to_tx` hops of gapmm-hot):
//! - `write_*`: time inside `write(2)` of a 300-byte request on a TCP
//!   loopback connection, with the reader sleeping in `epoll_wait` (as the
//!   simulator does by default) or busy-polling (`SimConfig::busy_poll`), and
//!   with the previous write 200 µs or 20 ms earlier (a market maker sends
//!   every few hundred ms), with and without a rehearsal write to another
//!   socket ([`gapmm::net::warm::WarmLink`]) ~50 µs before.
//! - `to_tx_*`: from the start of the `write` to the kernel's software
//!   transmit stamp ([`gapmm::net::txstamp`]): the part of the `write` that
//!   a real NIC would also cost; the rest is loopback's receive side and the
//!   reader's wake-up.
//!
//! Placement: reader pinned to core 0, writer to core 1 (when the machine
//! has two cores). Every run checks that all bytes arrived and that every
//! write got its transmit stamp before it reports.
//!
//! Run: `cargo bench --bench send_path` (env `SEND_PATH_N` resizes).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use gapmm::engine::topology::{available_cores, pin_current};
use gapmm::net::warm::WarmLink;
use gapmm::time::Clock;
use mio::{Events, Interest, Poll, Token};

const MSG: usize = 300;

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    reader_spins: bool,
    gap: Duration,
    rehearse: bool,
}

fn quantiles(v: &mut [u64]) -> (u64, u64, u64) {
    v.sort_unstable();
    let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
    (q(0.5), q(0.9), q(0.99))
}

fn run(c: Case, n: usize, cores: &[usize]) -> (Vec<u64>, Vec<u64>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let reader_core = cores.first().copied();
    let reader = std::thread::spawn(move || {
        if let Some(core) = reader_core {
            pin_current(core);
        }
        let (s, _) = l.accept().expect("accept");
        s.set_nonblocking(true).expect("nonblocking");
        let mut s = mio::net::TcpStream::from_std(s);
        let mut poll = Poll::new().expect("poll");
        poll.registry()
            .register(&mut s, Token(0), Interest::READABLE)
            .expect("register");
        let mut events = Events::with_capacity(8);
        let mut buf = [0u8; 64 * 1024];
        let mut got = 0usize;
        let timeout = if c.reader_spins {
            Some(Duration::ZERO)
        } else {
            None
        };
        while got < (n + 20) * MSG {
            poll.poll(&mut events, timeout).expect("epoll");
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return got,
                    Ok(k) => got += k,
                    Err(_) => break,
                }
            }
        }
        got
    });
    if let Some(core) = cores.get(1) {
        pin_current(*core);
    }
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    gapmm::net::txstamp::enable(s.as_raw_fd()).expect("SO_TIMESTAMPING");
    let mut warm = WarmLink::open().expect("warm link");
    let clock = Clock::new();
    let msg = [b'x'; MSG];
    let (mut write_ns, mut to_tx_ns) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut sent: u64 = 0;
    let mut waiting: Vec<(u64, i64, bool)> = Vec::new();
    for i in 0..n + 20 {
        let t = Instant::now();
        let mut rehearsed = !c.rehearse;
        while t.elapsed() < c.gap {
            if !rehearsed && t.elapsed() + Duration::from_micros(50) >= c.gap {
                warm.send(&msg).expect("rehearsal");
                rehearsed = true;
            }
        }
        let r0 = gapmm::net::txstamp::realtime_ns();
        let t0 = clock.stamp();
        s.write_all(&msg).expect("write");
        let t1 = clock.stamp();
        sent += MSG as u64;
        // A stamp can come after the write returns (when TCP defers the
        // transmit); match it by key on a later drain then.
        waiting.push((sent - 1, r0, i >= 20));
        gapmm::net::txstamp::drain(s.as_raw_fd(), |st| {
            if let Some(k) = waiting
                .iter()
                .position(|w| w.0 & 0xffff_ffff == u64::from(st.key))
            {
                let (_, r0, keep) = waiting.swap_remove(k);
                if keep {
                    to_tx_ns.push(u64::try_from(st.realtime_ns - r0).unwrap_or(0));
                }
            }
        })
        .expect("errqueue");
        if i >= 20 {
            write_ns.push(clock.delta_ns(t0, t1));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !waiting.is_empty() && Instant::now() < deadline {
        gapmm::net::txstamp::drain(s.as_raw_fd(), |st| {
            waiting.retain(|w| w.0 & 0xffff_ffff != u64::from(st.key));
        })
        .expect("errqueue");
    }
    assert!(
        waiting.is_empty(),
        "writes never stamped: {}",
        waiting.len()
    );
    drop(s);
    let got = reader.join().expect("reader");
    assert_eq!(got, (n + 20) * MSG, "every byte arrived");
    (write_ns, to_tx_ns)
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("SEND_PATH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 50 } else { 2000 });
    let cores = available_cores();
    let cases = [
        Case {
            name: "sleeping reader, 200us gap",
            reader_spins: false,
            gap: Duration::from_micros(200),
            rehearse: false,
        },
        Case {
            name: "busy reader, 200us gap",
            reader_spins: true,
            gap: Duration::from_micros(200),
            rehearse: false,
        },
        Case {
            name: "busy reader, 20ms gap",
            reader_spins: true,
            gap: Duration::from_millis(20),
            rehearse: false,
        },
        Case {
            name: "busy reader, 20ms gap, rehearsed 50us before",
            reader_spins: true,
            gap: Duration::from_millis(20),
            rehearse: true,
        },
        Case {
            name: "sleeping reader, 20ms gap, rehearsed 50us before",
            reader_spins: false,
            gap: Duration::from_millis(20),
            rehearse: true,
        },
    ];
    for c in cases {
        // 20 ms gaps: fewer samples keep the run short.
        let runs = if c.gap >= Duration::from_millis(1) {
            (n / 8).max(20)
        } else {
            n
        };
        let (mut w, mut tx) = run(c, runs, &cores);
        let (w50, w90, w99) = quantiles(&mut w);
        let (t50, t90, t99) = quantiles(&mut tx);
        println!(
            "send_path [{}] n={runs}: write p50={:.1}us p90={:.1}us p99={:.1}us | write start -> tx stamp p50={:.1}us p90={:.1}us p99={:.1}us",
            c.name,
            w50 as f64 / 1e3,
            w90 as f64 / 1e3,
            w99 as f64 / 1e3,
            t50 as f64 / 1e3,
            t90 as f64 / 1e3,
            t99 as f64 / 1e3
        );
    }
}
