//! Allocations per WebSocket frame and per HTTP request/response on the
//! client thread, after warm-up, against loopback echo servers.
//!
//! Measured (and asserted as upper bounds, so a regression fails):
//! * `ws://` send + receive of one ~300 B text frame: 0 allocations.
//! * `http://` request + response (keep-alive, Content-Length): 0.
//! * `wss://` and `https://`: rustls 0.23's buffered API allocates one `Vec`
//!   per outgoing TLS record (the encrypted record) and one per incoming
//!   record (the decrypted plaintext copy in `take_received_plaintext`);
//!   the bounds below are the measured per-round-trip counts.
//!
//! Only allocations made by the client thread are counted (the servers run
//! on their own threads).

mod net_support;
mod support_alloc;

use std::io::Write;
use std::time::{Duration, Instant};

use gapmm::net::http::{build_request, HttpConn};
use gapmm::net::ws::WsConn;
use mio::{Events, Poll, Token};
use net_support::*;
use support_alloc::counted;
use tungstenite::Message;

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

const WARMUP: usize = 500;
const MEASURED: usize = 1000;
const TOK: Token = Token(1);

fn ws_round_trips(tls: bool) -> u64 {
    let (l, addr) = listener();
    let fx = tls.then(tls_fixture);
    let srv_cfg = fx.as_ref().map(|f| f.server.clone());
    let h = std::thread::spawn(move || {
        let s = SrvStream::accept(&l, srv_cfg.as_ref());
        let mut ws = tungstenite::accept(s).unwrap();
        while let Ok(m) = ws.read() {
            if let Message::Text(t) = m {
                ws.send(Message::Text(t)).unwrap();
            }
        }
    });
    let mut poll = Poll::new().unwrap();
    let ep = endpoint(if tls { "wss" } else { "ws" }, addr, "/", fx.as_ref());
    let mut c = WsConn::new(ep, poll.registry(), TOK).unwrap();
    c.connect_blocking(TIMEOUT).unwrap();
    let msg = format!(
        "{{\"op\":\"order.create\",\"args\":[{{\"symbol\":\"BTCUSDT\",\"pad\":\"{}\"}}]}}",
        "p".repeat(240)
    );
    let mut events = Events::with_capacity(16);
    let mut copy = Vec::with_capacity(4096);
    let mut one = |c: &mut WsConn, poll: &mut Poll| {
        c.send_text(msg.as_bytes()).unwrap();
        let deadline = Instant::now() + TIMEOUT;
        let mut got = 0;
        while got == 0 {
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            got = c
                .read_frames(|p| {
                    copy.clear();
                    copy.extend_from_slice(p);
                })
                .unwrap();
            assert!(Instant::now() < deadline);
        }
        assert_eq!(copy, msg.as_bytes());
    };
    for _ in 0..WARMUP {
        one(&mut c, &mut poll);
    }
    let ((), n) = counted(|| {
        for _ in 0..MEASURED {
            one(&mut c, &mut poll);
        }
    });
    c.close();
    h.join().unwrap();
    n
}

fn http_round_trips(tls: bool) -> u64 {
    let (l, addr) = listener();
    let fx = tls.then(tls_fixture);
    let srv_cfg = fx.as_ref().map(|f| f.server.clone());
    let h = std::thread::spawn(move || {
        let mut s = SrvStream::accept(&l, srv_cfg.as_ref());
        let mut buf = Vec::new();
        let resp = response(
            r#"{"retCode":0,"retMsg":"OK","result":{"orderId":"1321003749386327552","orderLinkId":"spot-test-postonly"},"retExtInfo":{},"time":1672211918471}"#,
        );
        while read_request(&mut s, &mut buf).is_some() {
            s.write_all(&resp).unwrap();
            s.flush().unwrap();
        }
    });
    let mut poll = Poll::new().unwrap();
    let ep = endpoint(if tls { "https" } else { "http" }, addr, "", fx.as_ref());
    let mut c = HttpConn::new(ep, poll.registry(), TOK).unwrap();
    c.connect_blocking(TIMEOUT).unwrap();
    let mut req = Vec::with_capacity(1024);
    build_request(
        &mut req,
        "POST",
        "127.0.0.1",
        "/v5/order/create",
        &[("X-BAPI-API-KEY", "key"), ("X-BAPI-TIMESTAMP", "1672211918000"), ("X-BAPI-SIGN", "abcdef")],
        br#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"20000","timeInForce":"PostOnly"}"#,
    );
    let mut events = Events::with_capacity(16);
    let mut one = |c: &mut HttpConn, poll: &mut Poll| {
        c.send(&req).unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            if let Some(r) = c.poll_response().unwrap() {
                assert_eq!(r.status, 200);
                assert!(r.body.starts_with(b"{\"retCode\":0"));
                break;
            }
            assert!(Instant::now() < deadline);
        }
    };
    for _ in 0..WARMUP {
        one(&mut c, &mut poll);
    }
    let ((), n) = counted(|| {
        for _ in 0..MEASURED {
            one(&mut c, &mut poll);
        }
    });
    assert_eq!(c.reconnects(), 0);
    drop(c);
    h.join().unwrap();
    n
}

fn per(n: u64) -> f64 {
    n as f64 / MEASURED as f64
}

#[test]
fn allocations_per_message() {
    let ws = ws_round_trips(false);
    let wss = ws_round_trips(true);
    let http = http_round_trips(false);
    let https = http_round_trips(true);
    println!(
        "allocations per round trip: ws {:.2}, wss {:.2}, http {:.2}, https {:.2}",
        per(ws),
        per(wss),
        per(http),
        per(https)
    );
    assert_eq!(ws, 0, "ws:// send + receive must not allocate");
    assert_eq!(http, 0, "http:// request + response must not allocate");
    assert!(
        per(wss) <= 2.0,
        "wss: {} allocations per round trip",
        per(wss)
    );
    assert!(
        per(https) <= 2.0,
        "https: {} allocations per round trip",
        per(https)
    );
}

/// A stream that accepts every write and never has data to read.
struct Sink;

impl std::io::Read for Sink {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::WouldBlock.into())
    }
}

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why `WsConn::send_text` has its own frame encoder: the tungstenite
/// `Message::Text` path needs an owned `Utf8Bytes` per message (an allocation
/// plus a copy) before it copies again into its write buffer; our encoder
/// masks straight into a reused buffer.
#[test]
fn own_frame_encoder_allocates_nothing_where_tungstenite_message_path_allocates() {
    use gapmm::net::ws::{encode_client_frame, OPCODE_TEXT};
    use tungstenite::protocol::{Role, WebSocket};
    let msg = r#"{"op":"order.create","args":[{"symbol":"BTCUSDT","qty":"0.001"}]}"#;
    let mut ws = WebSocket::from_raw_socket(Sink, Role::Client, None);
    for _ in 0..WARMUP {
        ws.send(Message::Text(msg.into())).unwrap();
    }
    let ((), tung) = counted(|| {
        for _ in 0..MEASURED {
            ws.send(Message::Text(msg.into())).unwrap();
        }
    });
    let mut buf = Vec::with_capacity(1024);
    let mut sink = Sink;
    let ((), ours) = counted(|| {
        for i in 0..MEASURED {
            encode_client_frame(
                &mut buf,
                OPCODE_TEXT,
                msg.as_bytes(),
                (i as u32).to_ne_bytes(),
            );
            sink.write_all(&buf).unwrap();
        }
    });
    println!(
        "allocations per send: tungstenite Message::Text {:.2}, own encoder {:.2}",
        per(tung),
        per(ours)
    );
    assert_eq!(ours, 0);
    assert!(
        tung >= MEASURED as u64,
        "tungstenite path: {tung} allocations for {MEASURED} sends"
    );
}

/// Kernel transmit stamps and send-path rehearsals stay off the heap: with
/// stamps on, each request's stamp is read back under the key `tx_key`
/// predicted, and a rehearsal write to the private loopback link costs no
/// allocation either.
#[test]
fn transmit_stamps_and_rehearsals_allocate_nothing() {
    let (l, addr) = listener();
    let h = std::thread::spawn(move || {
        let s = SrvStream::accept(&l, None);
        let mut ws = tungstenite::accept(s).unwrap();
        while let Ok(m) = ws.read() {
            if let Message::Text(t) = m {
                ws.send(Message::Text(t)).unwrap();
            }
        }
    });
    let mut poll = Poll::new().unwrap();
    let mut c = WsConn::new(endpoint("ws", addr, "/", None), poll.registry(), TOK).unwrap();
    c.set_tx_timestamps(true);
    c.connect_blocking(TIMEOUT).unwrap();
    let mut warm = gapmm::net::warm::WarmLink::open().unwrap();
    let msg = [b'x'; 300];
    let mut events = Events::with_capacity(16);
    let mut matched = 0u64;
    let mut one = |c: &mut WsConn, poll: &mut Poll, matched: &mut u64| {
        c.send_text(&msg).unwrap();
        let key = c.tx_key().expect("stamps on and nothing queued");
        let deadline = Instant::now() + TIMEOUT;
        let (mut got, mut stamped) = (0, false);
        while got == 0 || !stamped {
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            c.drain_tx_timestamps(|s| stamped |= s.key == key).unwrap();
            got += c.read_frames(|_| {}).unwrap();
            assert!(Instant::now() < deadline, "no echo or no stamp");
        }
        assert!(!c.socket_failed());
        *matched += 1;
        assert_eq!(warm.send(&msg).unwrap(), 308);
        c.redirty();
    };
    for _ in 0..WARMUP {
        one(&mut c, &mut poll, &mut matched);
    }
    let ((), n) = counted(|| {
        for _ in 0..MEASURED {
            one(&mut c, &mut poll, &mut matched);
        }
    });
    c.close();
    h.join().unwrap();
    assert_eq!(matched, (WARMUP + MEASURED) as u64);
    assert_eq!(n, 0, "stamped sends and rehearsals must not allocate");
}
