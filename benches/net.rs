//! Loopback round-trip latency of the network layer against busy-polling
//! echo servers, plus the cost of encoding one outgoing WebSocket frame.
//!
//! Run: `cargo bench --bench net` (env `NET_BENCH_N` = timed round trips per
//! case, default 20000, after 2000 warm-up ones). The client busy-polls its
//! own `mio::Poll` with `Some(Duration::ZERO)`; the server thread spins on a
//! non-blocking socket. Threads are pinned to cores 0 (server) and 1
//! (client) when two cores exist. Every round trip is validated (the echoed
//! payload / response body must match) before it is recorded.
//!
//! Cases:
//! * `ws_echo_rtt_loopback/{plain,tls}`: `send_text` of a 270 B JSON text
//!   frame → server echo → `read_frames`.
//! * `http_keepalive_rtt_loopback/{plain,tls}`: `send` of a prebuilt 400 B
//!   signed-order-shaped POST → 200 response with a 150 B body →
//!   `poll_response`, on one keep-alive connection.
//! * `ws_send_encode`: ns per outgoing frame, our masked encoder into a
//!   reused buffer vs tungstenite's `send(Message::Text(..))` into a sink.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gapmm::net::http::{build_request, HttpConn};
use gapmm::net::url::Url;
use gapmm::net::ws::{encode_client_frame, WsConn, OPCODE_TEXT};
use gapmm::net::{tls, Endpoint};
use gapmm::time::Clock;
use hdrhistogram::Histogram;
use mio::{Events, Poll, Token};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tungstenite::Message;

const WARMUP: usize = 2000;
const TOK: Token = Token(0);

enum Srv {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Srv {
    fn tcp(&self) -> &TcpStream {
        match self {
            Srv::Plain(s) => s,
            Srv::Tls(s) => &s.sock,
        }
    }
}

impl Read for Srv {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Srv::Plain(s) => s.read(b),
            Srv::Tls(s) => s.read(b),
        }
    }
}

impl Write for Srv {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Srv::Plain(s) => s.write(b),
            Srv::Tls(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Srv::Plain(s) => s.flush(),
            Srv::Tls(s) => s.flush(),
        }
    }
}

struct Fixture {
    server: Arc<ServerConfig>,
    cert_der: Vec<u8>,
}

fn fixture() -> Fixture {
    tls::install_provider();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let der: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    Fixture {
        server: Arc::new(server),
        cert_der: der.to_vec(),
    }
}

fn pin(core: usize) {
    if let Some(ids) = core_affinity::get_core_ids() {
        if ids.len() >= 2 {
            core_affinity::set_for_current(ids[core]);
        }
    }
}

fn accept(l: &TcpListener, tls: Option<&Arc<ServerConfig>>) -> Srv {
    let (s, _) = l.accept().unwrap();
    s.set_nodelay(true).unwrap();
    match tls {
        None => Srv::Plain(s),
        Some(c) => Srv::Tls(Box::new(StreamOwned::new(
            ServerConnection::new(Arc::clone(c)).unwrap(),
            s,
        ))),
    }
}

fn is_wb(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock)
}

fn ws_echo_server(l: TcpListener, tls: Option<Arc<ServerConfig>>) {
    pin(0);
    let s = accept(&l, tls.as_ref());
    let cfg = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let mut ws = tungstenite::accept_with_config(s, Some(cfg)).unwrap();
    ws.get_ref().tcp().set_nonblocking(true).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => {
                let mut r = ws.send(Message::Text(t));
                while let Err(e) = &r {
                    assert!(is_wb(e), "server send: {e}");
                    r = ws.flush();
                }
            }
            Ok(_) => {}
            Err(e) if is_wb(&e) => std::hint::spin_loop(),
            Err(_) => return,
        }
    }
}

fn http_echo_server(l: TcpListener, tls: Option<Arc<ServerConfig>>, body: &'static str) {
    pin(0);
    let mut s = accept(&l, tls.as_ref());
    s.tcp().set_nonblocking(true).unwrap();
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    loop {
        match s.read(&mut buf[filled..]) {
            Ok(0) => return,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::hint::spin_loop();
                continue;
            }
            Err(_) => return,
        }
        // Complete request? (head + Content-Length body)
        let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = &buf[..end];
        let cl = head
            .split(|&b| b == b'\n')
            .find_map(|l| {
                let l = std::str::from_utf8(l).ok()?.trim().to_ascii_lowercase();
                l.strip_prefix("content-length:")?
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
            .unwrap_or(0);
        let total = end + 4 + cl;
        if filled < total {
            continue;
        }
        buf.copy_within(total..filled, 0);
        filled -= total;
        let mut off = 0;
        while off < resp.len() {
            match s.write(&resp[off..]) {
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(_) => return,
            }
        }
        loop {
            match s.flush() {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(_) => return,
            }
        }
    }
}

fn endpoint(scheme: &str, addr: SocketAddr, fx: Option<&Fixture>) -> Endpoint {
    let url = Url::parse(&format!("{scheme}://127.0.0.1:{}/", addr.port())).unwrap();
    Endpoint::new(
        url,
        fx.map(|f| tls::custom_root_config(&f.cert_der).unwrap()),
    )
    .unwrap()
}

fn report(name: &str, h: &Histogram<u64>) {
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{name:<36} n={:<7} p50 {:>7.2} µs  p90 {:>7.2}  p99 {:>7.2}  p99.9 {:>8.2}  max {:>9.2}",
        h.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        h.max() as f64 / 1000.0
    );
}

fn ws_echo_rtt_loopback(tls_on: bool, n: usize) {
    let (l, addr) = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        (l, a)
    };
    let fx = tls_on.then(fixture);
    let srv_cfg = fx.as_ref().map(|f| f.server.clone());
    let h = std::thread::spawn(move || ws_echo_server(l, srv_cfg));
    pin(1);
    let mut poll = Poll::new().unwrap();
    let mut c = WsConn::new(
        endpoint(if tls_on { "wss" } else { "ws" }, addr, fx.as_ref()),
        poll.registry(),
        TOK,
    )
    .unwrap();
    c.connect_blocking(Duration::from_secs(10)).unwrap();
    let msg = format!(
        "{{\"reqId\":\"bench-1\",\"header\":{{\"X-BAPI-TIMESTAMP\":\"1711001595207\"}},\"op\":\"order.create\",\"args\":[{{\"symbol\":\"BTCUSDT\",\"side\":\"Buy\",\"orderType\":\"Limit\",\"qty\":\"0.001\",\"price\":\"20000\",\"category\":\"linear\",\"timeInForce\":\"PostOnly\",\"orderLinkId\":\"{}\"}}]}}",
        "x".repeat(32)
    );
    let clock = Clock::new();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let mut events = Events::with_capacity(16);
    for i in 0..WARMUP + n {
        let t0 = clock.stamp();
        c.send_text(msg.as_bytes()).unwrap();
        let mut ok = false;
        loop {
            if c.has_pending() {
                c.flush_pending().unwrap();
            }
            poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
            if events.is_empty() {
                continue;
            }
            if c.read_frames(|p| ok = p == msg.as_bytes()).unwrap() > 0 {
                break;
            }
        }
        let t1 = clock.stamp();
        assert!(ok, "echo mismatch");
        if i >= WARMUP {
            hist.record(clock.delta_ns(t0, t1).max(1)).unwrap();
        }
    }
    c.close();
    h.join().unwrap();
    report(
        &format!(
            "ws_echo_rtt_loopback/{}",
            if tls_on { "tls" } else { "plain" }
        ),
        &hist,
    );
}

fn http_keepalive_rtt_loopback(tls_on: bool, n: usize) {
    const BODY: &str = r#"{"retCode":0,"retMsg":"OK","result":{"orderId":"1321003749386327552","orderLinkId":"spot-test-postonly"},"retExtInfo":{},"time":1672211918471}"#;
    let (l, addr) = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        (l, a)
    };
    let fx = tls_on.then(fixture);
    let srv_cfg = fx.as_ref().map(|f| f.server.clone());
    let h = std::thread::spawn(move || http_echo_server(l, srv_cfg, BODY));
    pin(1);
    let mut poll = Poll::new().unwrap();
    let mut c = HttpConn::new(
        endpoint(if tls_on { "https" } else { "http" }, addr, fx.as_ref()),
        poll.registry(),
        TOK,
    )
    .unwrap();
    c.connect_blocking(Duration::from_secs(10)).unwrap();
    let mut req = Vec::with_capacity(1024);
    build_request(
        &mut req,
        "POST",
        "api.bybit.com",
        "/v5/order/create",
        &[
            ("X-BAPI-API-KEY", "XXXXXXXXXXXXXXXXXX"),
            ("X-BAPI-TIMESTAMP", "1672211918000"),
            ("X-BAPI-RECV-WINDOW", "5000"),
            ("X-BAPI-SIGN", "ad8d2b8bd8ae2fa9c8bfa4bf3c2ad3aef1e2fb4c5d0aa4c1b8d1ea0e7b9a5c3d"),
            ("Content-Type", "application/json"),
        ],
        br#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"20000","timeInForce":"PostOnly","orderLinkId":"mm-1700000000-42"}"#,
    );
    let clock = Clock::new();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let mut events = Events::with_capacity(16);
    for i in 0..WARMUP + n {
        let t0 = clock.stamp();
        c.send(&req).unwrap();
        let ok;
        loop {
            if c.has_pending() {
                c.flush_pending().unwrap();
            }
            poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
            if events.is_empty() {
                continue;
            }
            if let Some(r) = c.poll_response().unwrap() {
                ok = r.status == 200 && r.body == BODY.as_bytes();
                break;
            }
        }
        let t1 = clock.stamp();
        assert!(ok, "bad response");
        if i >= WARMUP {
            hist.record(clock.delta_ns(t0, t1).max(1)).unwrap();
        }
    }
    assert_eq!(c.reconnects(), 0);
    drop(c);
    h.join().unwrap();
    report(
        &format!(
            "http_keepalive_rtt_loopback/{}",
            if tls_on { "tls" } else { "plain" }
        ),
        &hist,
    );
}

struct Sink;

impl Read for Sink {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(std::hint::black_box(b).len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn ws_send_encode() {
    const ITERS: u32 = 1_000_000;
    let msg = format!(
        "{{\"op\":\"order.create\",\"pad\":\"{}\"}}",
        "p".repeat(240)
    );
    // Validate: unmasking our frame gives the payload back.
    let mut buf = Vec::with_capacity(1024);
    encode_client_frame(&mut buf, OPCODE_TEXT, msg.as_bytes(), [9, 8, 7, 6]);
    let payload: Vec<u8> = buf[8..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ [9, 8, 7, 6][i % 4])
        .collect();
    assert_eq!(
        (buf[0], buf[1] & 0x7f, payload.as_slice()),
        (0x81, 126, msg.as_bytes())
    );

    let mut sink = Sink;
    let t = Instant::now();
    for i in 0..ITERS {
        encode_client_frame(&mut buf, OPCODE_TEXT, msg.as_bytes(), i.to_ne_bytes());
        sink.write_all(&buf).unwrap();
    }
    let ours = t.elapsed().as_nanos() as f64 / f64::from(ITERS);
    let mut ws = WebSocket::from_raw_socket(Sink, Role::Client, None);
    let t = Instant::now();
    for _ in 0..ITERS {
        ws.send(Message::Text(msg.as_str().into())).unwrap();
    }
    let theirs = t.elapsed().as_nanos() as f64 / f64::from(ITERS);
    println!(
        "ws_send_encode (270 B)               own encoder {ours:.1} ns/frame; tungstenite send(Message::Text) {theirs:.1} ns/frame"
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a smoke pass.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n = if smoke {
        100
    } else {
        std::env::var("NET_BENCH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000)
    };
    ws_send_encode();
    ws_echo_rtt_loopback(false, n);
    ws_echo_rtt_loopback(true, n);
    http_keepalive_rtt_loopback(false, n);
    http_keepalive_rtt_loopback(true, n);
}
