//! Held, abandoned and silent connections never lock a new client out of the
//! simulator: a connection cap that makes room by closing the connection
//! silent the longest, and idle timeouts (an HTTP connection that sends
//! nothing, a WebSocket without a heartbeat), as Bybit has. Loopback only;
//! every wait is a read with a timeout.

mod sim_common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use gapmm::sim::exchange::ExchangeConfig;
use gapmm::sim::market::{MarketModel, SyntheticParams};
use gapmm::sim::{Sim, SimConfig, SimHandle};
use sim_common::*;

fn sim(tweak: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut cfg = SimConfig::new(ExchangeConfig::standard(
        3,
        MarketModel::Synthetic(SyntheticParams::default()),
    ));
    tweak(&mut cfg);
    Sim::start(cfg).expect("simulator starts")
}

/// A connection that connects and never sends a byte.
fn hold(s: &SimHandle) -> TcpStream {
    let c = TcpStream::connect(s.addr()).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

/// Whether the simulator closed `c` (end of stream or reset) within its read timeout.
fn closed_by_the_server(c: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    match c.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// The time a fresh client takes to get `/v5/market/time` answered.
fn served_in(s: &SimHandle) -> Duration {
    let t0 = Instant::now();
    let mut h = Http::new(s.addr(), None);
    let r = h.get("/v5/market/time", "");
    assert_eq!(r.json()["retCode"], 0);
    t0.elapsed()
}

#[test]
fn a_thousand_idle_connections_do_not_lock_out_a_new_client() {
    let s = sim(|_| {});
    let held: Vec<TcpStream> = (0..1000).map(|_| hold(&s)).collect();
    let took = served_in(&s);
    assert!(
        took < Duration::from_secs(1),
        "a new client waited {took:?} behind 1000 idle connections"
    );
    assert!(s.stats().accepted >= 1001);
    drop(held);
    s.shutdown().unwrap();
}

#[test]
fn at_the_cap_the_connection_silent_the_longest_makes_room() {
    let s = sim(|c| c.max_connections = 50);
    let mut held: Vec<TcpStream> = (0..60).map(|_| hold(&s)).collect();
    // Every connection beyond the cap closed the oldest silent one...
    let took = served_in(&s);
    assert!(took < Duration::from_secs(1), "{took:?}");
    let st = s.stats();
    assert!(st.evicted >= 11, "{st:?}");
    for (k, c) in held.iter_mut().enumerate().take(11) {
        assert!(closed_by_the_server(c), "connection {k} was kept");
    }
    // ...and a client that talks is not the one closed: a keep-alive client
    // that sent a request just now outlives the silent ones opened before it.
    let mut active = Http::new(s.addr(), None);
    assert_eq!(active.get("/v5/market/time", "").json()["retCode"], 0);
    let more: Vec<TcpStream> = (0..10).map(|_| hold(&s)).collect();
    assert_eq!(active.get("/v5/market/time", "").json()["retCode"], 0);
    drop((held, more));
    s.shutdown().unwrap();
}

#[test]
fn silent_connections_are_closed_after_their_idle_time() {
    let s = sim(|c| {
        c.http_idle = Duration::from_millis(300);
        c.ws_idle = Duration::from_millis(600);
    });
    // An HTTP connection that never sends a request, and one that leaves a
    // request unfinished.
    let t0 = Instant::now();
    let mut silent = hold(&s);
    let mut unfinished = hold(&s);
    std::io::Write::write_all(
        &mut unfinished,
        b"GET /v5/market/time HTTP/1.1\r\nHost: x\r\n",
    )
    .unwrap();
    assert!(closed_by_the_server(&mut silent));
    assert!(closed_by_the_server(&mut unfinished));
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "closed before its idle time"
    );

    // A WebSocket that pings stays open past the idle time of one that
    // does not. The quiet socket's reads time out every 100 ms: each timeout
    // is the pinging client's next heartbeat.
    let mut quiet = ws(s.addr(), "/v5/public/spot", None);
    let mut pinging = ws(s.addr(), "/v5/public/spot", None);
    quiet
        .get_ref()
        .tcp()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let opened = Instant::now();
    let quiet_closed_after = loop {
        assert!(
            opened.elapsed() < Duration::from_secs(5),
            "the quiet WebSocket was never closed"
        );
        match quiet.read() {
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                send(&mut pinging, r#"{"op":"ping"}"#);
                assert_eq!(
                    recv_until(&mut pinging, |v| v["op"] == "ping")["ret_msg"],
                    "pong"
                );
            }
            Ok(tungstenite::Message::Close(_)) | Err(_) => break opened.elapsed(),
            Ok(_) => {}
        }
    };
    assert!(
        quiet_closed_after >= Duration::from_millis(600),
        "closed after {quiet_closed_after:?}, before its idle time"
    );
    send(&mut pinging, r#"{"op":"ping"}"#);
    assert_eq!(
        recv_until(&mut pinging, |v| v["op"] == "ping")["ret_msg"],
        "pong",
        "the pinging WebSocket is still served"
    );
    assert!(s.stats().idle_closed >= 3);
    s.shutdown().unwrap();
}
