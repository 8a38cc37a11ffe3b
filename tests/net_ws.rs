//! WsConn against loopback tungstenite servers (plain and rustls), driven
//! through a mio `Poll` exactly like an engine thread would; and the dead-link
//! detection of `engine::conn::ManagedWs` on top of it.

mod net_support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gapmm::engine::conn::{ConnEvent, ManagedWs};
use gapmm::net::backoff::{Backoff, BackoffConfig};
use gapmm::net::ws::{PingTimer, WsConn, BYBIT_PING};
use gapmm::net::{ConnState, NetError};
use mio::{Events, Poll, Token};
use net_support::*;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

const TOK: Token = Token(7);

type Srv = WebSocket<SrvStream>;

fn accept_ws(l: &TcpListener, fx: Option<&TlsFixture>) -> Srv {
    let s = SrvStream::accept(l, fx.map(|f| &f.server));
    tungstenite::accept(s).expect("server handshake")
}

/// Unmasked server frame.
fn raw_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => v.push(n as u8),
        n if n <= 0xffff => {
            v.push(126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(payload);
    v
}

fn write_raw(ws: &mut Srv, bytes: &[u8]) {
    let s = ws.get_mut();
    s.write_all(bytes).unwrap();
    s.flush().unwrap();
}

fn server(
    tls: bool,
    f: impl FnOnce(TcpListener, Option<TlsFixture>) + Send + 'static,
) -> (Option<TlsFixture>, std::net::SocketAddr, JoinHandle<()>) {
    let (l, addr) = listener();
    let fx = tls.then(tls_fixture);
    let fx_srv = fx.as_ref().map(|f| TlsFixture {
        server: f.server.clone(),
        cert_der: f.cert_der.clone(),
    });
    let h = std::thread::spawn(move || f(l, fx_srv));
    (fx, addr, h)
}

fn client(tls: bool, addr: std::net::SocketAddr, fx: Option<&TlsFixture>) -> (Poll, WsConn) {
    let poll = Poll::new().unwrap();
    let ep = endpoint(
        if tls { "wss" } else { "ws" },
        addr,
        "/v5/public/linear",
        fx,
    );
    let conn = WsConn::new(ep, poll.registry(), TOK).unwrap();
    (poll, conn)
}

/// Connects without blocking: `start_connect` returns at once and
/// `poll_connect` is driven from poll events. Returns the states seen.
fn connect(poll: &mut Poll, c: &mut WsConn) -> Vec<ConnState> {
    c.start_connect().unwrap();
    let mut seen = vec![c.state()];
    drive(poll, "websocket open", || {
        let st = c.poll_connect().unwrap();
        if seen.last() != Some(&st) {
            seen.push(st);
        }
        (st == ConnState::Open).then_some(())
    });
    seen
}

/// Collects `n` frames.
fn recv(poll: &mut Poll, c: &mut WsConn, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    drive(poll, "frames", || {
        c.read_frames(|p| got.push(p.to_vec())).unwrap();
        (got.len() >= n).then_some(())
    });
    got
}

fn echo_and_close(tls: bool) {
    let (fx, addr, h) = server(tls, |l, fx| {
        let mut ws = accept_ws(&l, fx.as_ref());
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => ws.send(Message::Text(t)).unwrap(),
                Ok(Message::Close(cf)) => {
                    assert_eq!(cf.map(|c| c.code), Some(CloseCode::Normal));
                    break;
                }
                Ok(_) => {}
                Err(e) => panic!("server: {e}"),
            }
        }
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    let seen = connect(&mut poll, &mut c);
    assert_eq!(
        seen.first(),
        Some(&ConnState::Connecting),
        "start_connect must not block: {seen:?}"
    );
    assert!(c.is_open());

    let msgs: Vec<String> = [0usize, 5, 125, 126, 300, 70_000]
        .iter()
        .map(|&n| (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect())
        .collect();
    for m in &msgs {
        c.send_text(m.as_bytes()).unwrap();
    }
    drive(&mut poll, "flush", || {
        (!c.has_pending() || c.flush_pending().unwrap()).then_some(())
    });
    let got = recv(&mut poll, &mut c, msgs.len());
    assert_eq!(
        got,
        msgs.iter()
            .map(|m| m.as_bytes().to_vec())
            .collect::<Vec<_>>()
    );

    // Application heartbeat: due immediately with a zero interval.
    let mut timer = PingTimer::new(Duration::ZERO, Instant::now());
    assert!(c
        .ping_if_due(&mut timer, Instant::now(), BYBIT_PING)
        .unwrap());
    assert_eq!(recv(&mut poll, &mut c, 1), vec![BYBIT_PING.to_vec()]);
    let mut slow = PingTimer::new(Duration::from_secs(3600), Instant::now());
    assert!(!c
        .ping_if_due(&mut slow, Instant::now(), BYBIT_PING)
        .unwrap());

    assert_eq!(
        c.send_text(&[0xff, 0xfe]),
        Err(NetError::InvalidInput("text frame payload is not UTF-8"))
    );
    assert!(c.is_open(), "rejected input leaves the connection open");

    c.close();
    assert_eq!(c.state(), ConnState::Closed);
    assert_eq!(c.send_text(b"x"), Err(NetError::NotOpen));
    h.join().unwrap();
}

#[test]
fn plain_connects_non_blocking_echoes_and_closes() {
    echo_and_close(false);
}

#[test]
fn tls_connects_non_blocking_echoes_and_closes() {
    echo_and_close(true);
}

/// A frame split over three TCP writes (the client drains between them)
/// and three frames in one TCP write.
fn split_and_coalesced(tls: bool) {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (fx, addr, h) = server(tls, move |l, fx| {
        let mut ws = accept_ws(&l, fx.as_ref());
        let big = raw_frame(1, "x".repeat(1000).as_bytes());
        go_rx.recv_timeout(TIMEOUT).unwrap();
        write_raw(&mut ws, &big[..1]);
        go_rx.recv_timeout(TIMEOUT).unwrap();
        write_raw(&mut ws, &big[1..600]);
        go_rx.recv_timeout(TIMEOUT).unwrap();
        write_raw(&mut ws, &big[600..]);
        let mut three = raw_frame(1, b"{\"a\":1}");
        three.extend(raw_frame(2, b"\x00\x01binary"));
        three.extend(raw_frame(1, b"{\"c\":3}"));
        write_raw(&mut ws, &three);
        go_rx.recv_timeout(TIMEOUT).unwrap();
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    connect(&mut poll, &mut c);
    // Drain whatever is left from the handshake before the server starts.
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert_eq!(c.read_frames(|_| panic!("no frames yet")).unwrap(), 0);
    go_tx.send(()).unwrap();

    for piece in 0..2 {
        // Wait for the piece to make the socket readable, then drain it: no
        // complete frame yet.
        let deadline = Instant::now() + TIMEOUT;
        loop {
            poll.poll(&mut events, Some(Duration::from_millis(50)))
                .unwrap();
            if events.iter().any(|e| e.token() == TOK && e.is_readable()) {
                break;
            }
            assert!(Instant::now() < deadline, "piece {piece} never arrived");
        }
        assert_eq!(
            c.read_frames(|_| panic!("partial frame delivered"))
                .unwrap(),
            0
        );
        go_tx.send(()).unwrap();
    }
    let got = recv(&mut poll, &mut c, 4);
    assert_eq!(got[0], "x".repeat(1000).into_bytes());
    assert_eq!(got[1], b"{\"a\":1}");
    assert_eq!(got[2], b"\x00\x01binary");
    assert_eq!(got[3], b"{\"c\":3}");
    go_tx.send(()).unwrap();
    h.join().unwrap();
}

#[test]
fn plain_split_and_coalesced_frames() {
    split_and_coalesced(false);
}

#[test]
fn tls_split_and_coalesced_frames() {
    split_and_coalesced(true);
}

fn ping_answered(tls: bool) {
    let (done_tx, done_rx) = mpsc::channel::<Vec<u8>>();
    let (fin_tx, fin_rx) = mpsc::channel::<()>();
    let (fx, addr, h) = server(tls, move |l, fx| {
        let mut ws = accept_ws(&l, fx.as_ref());
        ws.send(Message::Ping(b"hb-1".to_vec().into())).unwrap();
        ws.send(Message::Text("after-ping".into())).unwrap();
        match ws.read().unwrap() {
            Message::Pong(p) => {
                done_tx.send(p.to_vec()).unwrap();
                // Keep the connection until the client has checked.
                fin_rx.recv_timeout(TIMEOUT).unwrap();
            }
            m => panic!("unexpected {m:?}"),
        }
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    connect(&mut poll, &mut c);
    let mut texts = Vec::new();
    let pong = drive(&mut poll, "pong at server", || {
        c.read_frames(|p| texts.push(p.to_vec())).unwrap();
        done_rx.try_recv().ok()
    });
    assert_eq!(pong, b"hb-1");
    assert_eq!(
        texts,
        vec![b"after-ping".to_vec()],
        "pings are not delivered as frames"
    );
    assert!(c.is_open());
    fin_tx.send(()).unwrap();
    h.join().unwrap();
}

#[test]
fn plain_server_ping_is_answered() {
    ping_answered(false);
}

#[test]
fn tls_server_ping_is_answered() {
    ping_answered(true);
}

fn close_and_reconnect(tls: bool) {
    let (fx, addr, h) = server(tls, |l, fx| {
        let mut ws = accept_ws(&l, fx.as_ref());
        ws.send(Message::Text("one".into())).unwrap();
        ws.close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "restart".into(),
        }))
        .unwrap();
        // Wait for the client's close reply.
        while ws.read().is_ok() {}
        drop(ws);
        let mut ws = accept_ws(&l, fx.as_ref());
        ws.send(Message::Text("two".into())).unwrap();
        assert!(matches!(ws.read(), Ok(Message::Text(t)) if t == "hello again"));
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    let cfg = BackoffConfig {
        base: Duration::from_millis(2),
        max: Duration::from_millis(50),
        ..BackoffConfig::default()
    };
    let mut backoff = Backoff::new(cfg, 42);
    connect(&mut poll, &mut c);
    backoff.on_connected(Instant::now());

    let mut got = Vec::new();
    let err = drive(&mut poll, "close", || {
        c.read_frames(|p| got.push(p.to_vec())).err()
    });
    assert_eq!(got, vec![b"one".to_vec()]);
    assert_eq!(err, NetError::Closed { code: 1001 });
    assert!(err.is_fatal());
    assert_eq!(c.state(), ConnState::Closed);
    assert_eq!(c.close_code(), 1001);

    let delay = backoff.on_disconnected(Instant::now());
    assert!(
        delay >= Duration::from_micros(1600) && delay <= Duration::from_micros(2400),
        "{delay:?}"
    );
    let reconnect_at = Instant::now() + delay;
    drive(&mut poll, "backoff delay", || {
        (Instant::now() >= reconnect_at).then_some(())
    });
    connect(&mut poll, &mut c);
    assert_eq!(c.close_code(), 0);
    assert_eq!(recv(&mut poll, &mut c, 1), vec![b"two".to_vec()]);
    c.send_text(b"hello again").unwrap();
    drive(&mut poll, "flush", || {
        (!c.has_pending() || c.flush_pending().unwrap()).then_some(())
    });
    h.join().unwrap();
}

#[test]
fn plain_close_then_reconnect_with_backoff() {
    close_and_reconnect(false);
}

#[test]
fn tls_close_then_reconnect_with_backoff() {
    close_and_reconnect(true);
}

#[test]
fn tls_rejects_untrusted_certificate() {
    let (l, addr) = listener();
    let fx = tls_fixture();
    let other = tls_fixture();
    let srv = fx.server.clone();
    let h = std::thread::spawn(move || {
        let s = SrvStream::accept(&l, Some(&srv));
        let _ = tungstenite::accept(s);
    });
    let poll = Poll::new().unwrap();
    let ep = endpoint("wss", addr, "/", Some(&other));
    let mut c = WsConn::new(ep, poll.registry(), TOK).unwrap();
    assert_eq!(
        c.connect_blocking(TIMEOUT),
        Err(NetError::Tls("invalid peer certificate"))
    );
    assert_eq!(c.state(), ConnState::Closed);
    h.join().unwrap();
}

#[test]
fn blocking_connect_and_refused_port() {
    let (fx, addr, h) = server(false, |l, fx| {
        let mut ws = accept_ws(&l, fx.as_ref());
        ws.send(Message::Text("hi".into())).unwrap();
        let _ = ws.read();
    });
    let (mut poll, mut c) = client(false, addr, fx.as_ref());
    c.connect_blocking(TIMEOUT).unwrap();
    assert_eq!(recv(&mut poll, &mut c, 1), vec![b"hi".to_vec()]);
    c.close();
    h.join().unwrap();

    // Nothing listens on this port any more.
    let (l, dead) = listener();
    drop(l);
    let (_poll, mut c) = client(false, dead, None);
    let e = c.connect_blocking(TIMEOUT).unwrap_err();
    assert!(
        matches!(e, NetError::Io(std::io::ErrorKind::ConnectionRefused)),
        "{e:?}"
    );
}

/// 500 frames of 1..3000 bytes written as one byte stream cut into
/// pseudo-random TCP writes: every frame arrives once, in order, whole —
/// the drain logic (including the short-read shortcut) loses nothing.
fn stream_in_random_cuts(tls: bool) {
    const FRAMES: usize = 500;
    let payload = |i: usize| -> Vec<u8> {
        let len = 1 + (i * 7919) % 3000;
        (0..len).map(|j| b'a' + ((i + j) % 26) as u8).collect()
    };
    let (fin_tx, fin_rx) = mpsc::channel::<()>();
    let (fx, addr, h) = server(tls, move |l, fx| {
        let mut ws = accept_ws(&l, fx.as_ref());
        let mut bytes = Vec::new();
        for i in 0..FRAMES {
            bytes.extend(raw_frame(1, &payload(i)));
        }
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut off = 0;
        while off < bytes.len() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let n = (1 + (rng % 4000) as usize).min(bytes.len() - off);
            write_raw(&mut ws, &bytes[off..off + n]);
            off += n;
        }
        fin_rx.recv_timeout(TIMEOUT).unwrap();
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    connect(&mut poll, &mut c);
    // Read only when epoll reports the token: a drain that left bytes behind
    // without a new edge would hang here and fail at the timeout.
    let mut got = Vec::new();
    let mut events = Events::with_capacity(8);
    c.read_frames(|p| got.push(p.to_vec())).unwrap();
    while got.len() < FRAMES {
        poll.poll(&mut events, Some(TIMEOUT)).unwrap();
        assert!(
            !events.is_empty(),
            "no event for {TIMEOUT:?} with {} of {FRAMES} frames",
            got.len()
        );
        if events.iter().any(|e| e.token() == TOK) {
            c.read_frames(|p| got.push(p.to_vec())).unwrap();
        }
    }
    assert_eq!(got.len(), FRAMES);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g, &payload(i), "frame {i}");
    }
    fin_tx.send(()).unwrap();
    h.join().unwrap();
}

#[test]
fn plain_stream_in_random_cuts() {
    stream_in_random_cuts(false);
}

#[test]
fn tls_stream_in_random_cuts() {
    stream_in_random_cuts(true);
}

/// With transmit stamps on, every frame sent gets the kernel's stamp under
/// the key `tx_key` announced for it, over TLS as well (the handshake's
/// bytes, written from inside reads, count too), and the stamps' readiness
/// is not taken for a failed socket.
fn transmit_stamps(tls: bool) {
    const N: usize = 20;
    let (fx, addr, h) = server(tls, |l, fx| {
        let mut ws = accept_ws(&l, fx.as_ref());
        for _ in 0..N {
            let m = ws.read().unwrap();
            ws.send(m).unwrap();
        }
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    c.set_tx_timestamps(true);
    connect(&mut poll, &mut c);
    let mut stamped = Vec::new();
    for i in 0..N {
        let payload = format!(
            "{{\"op\":\"order.create\",\"n\":{i},\"pad\":\"{}\"}}",
            "x".repeat(i * 37)
        );
        c.send_text(payload.as_bytes()).unwrap();
        let key = c.tx_key().expect("a key for the frame just sent");
        drive(&mut poll, "the frame's transmit stamp", || {
            c.drain_tx_timestamps(|s| stamped.push(s.key)).unwrap();
            stamped.contains(&key).then_some(())
        });
        assert!(!c.socket_failed());
        assert_eq!(recv(&mut poll, &mut c, 1)[0], payload.as_bytes());
    }
    h.join().unwrap();
}

#[test]
fn plain_sends_get_their_transmit_stamps() {
    transmit_stamps(false);
}

#[test]
fn tls_sends_get_their_transmit_stamps() {
    transmit_stamps(true);
}

// ---- Dead-link detection in `engine::conn::ManagedWs` -------------------

const DEAD_AFTER: Duration = Duration::from_millis(200);

/// Accepts `n` connections one after the other and keeps every one open
/// without ever sending a byte or closing, until `stop` fires: a peer that
/// vanished behind a live TCP connection (its kernel still ACKs).
fn silent_server(n: usize) -> (std::net::SocketAddr, mpsc::Sender<()>, JoinHandle<()>) {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (_, addr, h) = server(false, move |l, fx| {
        let mut held = Vec::new();
        for _ in 0..n {
            held.push(accept_ws(&l, fx.as_ref()));
        }
        let _ = stop_rx.recv_timeout(TIMEOUT);
        drop(held);
    });
    (addr, stop_tx, h)
}

/// Drives `m` until it reports `Opened`; fails on `Failed`.
fn open_managed(poll: &mut Poll, m: &mut ManagedWs) -> Instant {
    drive(poll, "managed open", || match m.drive(Instant::now()) {
        ConnEvent::Opened => Some(Instant::now()),
        ConnEvent::Failed(e) => panic!("connect failed: {e}"),
        ConnEvent::Idle => None,
    })
}

#[test]
fn silent_peer_is_declared_dead_and_reconnected() {
    let (addr, stop, h) = silent_server(2);
    let (mut poll, c) = client(false, addr, None);
    let mut m = ManagedWs::new(c, 7).with_dead_after(DEAD_AFTER);
    assert_eq!(m.dead_after(), DEAD_AFTER);
    let opened = open_managed(&mut poll, &mut m);

    // Read whatever comes (nothing will) and drive, as an engine stage does.
    let (err, lost_at) = drive(&mut poll, "dead-link report", || {
        if m.is_open() {
            m.ws()
                .read_frames(|f| panic!("silent peer sent {f:?}"))
                .unwrap();
        }
        match m.drive(Instant::now()) {
            ConnEvent::Failed(e) => Some((e, Instant::now())),
            ConnEvent::Opened => panic!("reopened before the loss was reported"),
            ConnEvent::Idle => None,
        }
    });
    assert_eq!(err, NetError::Silent);
    assert!(err.is_fatal());
    assert!(
        lost_at.duration_since(opened) >= DEAD_AFTER,
        "declared dead after {:?}, before its timeout",
        lost_at.duration_since(opened)
    );
    assert!(!m.is_open(), "the dead connection is closed");
    assert!(
        m.retry_in(Instant::now()).is_some(),
        "a reconnect is scheduled"
    );

    // The reconnect goes to the (still silent) server's second accept.
    open_managed(&mut poll, &mut m);
    assert_eq!(m.reconnects, 1);
    assert!(m.is_open());
    m.disable();
    stop.send(()).unwrap();
    h.join().unwrap();
}

/// How the live peer shows it is alive.
#[derive(Clone, Copy)]
enum Alive {
    /// Answers every `{"op":"ping"}` with a Bybit text pong, sends nothing else.
    AnswersPings,
    /// Sends a WebSocket ping control frame every ~50 ms, nothing else.
    ControlPings,
}

fn live_peer_is_kept(alive: Alive) {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (_, addr, h) = server(false, move |l, fx| {
        let mut ws = accept_ws(&l, fx.as_ref());
        if let SrvStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        }
        let mut pongs = 0u32;
        while stop_rx.try_recv().is_err() {
            match ws.read() {
                Ok(Message::Text(t)) if t.as_str() == r#"{"op":"ping"}"# => {
                    let pong = r#"{"success":true,"ret_msg":"pong","op":"ping"}"#;
                    if ws.send(Message::Text(pong.into())).is_err() {
                        break; // the client is closing
                    }
                    pongs += 1;
                }
                Ok(Message::Pong(_)) => {}
                Ok(Message::Close(_)) => break,
                Ok(m) => panic!("unexpected {m:?}"),
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Alive::ControlPings = alive {
                        if ws.send(Message::Ping(b"hb".to_vec().into())).is_err() {
                            break; // the client is closing
                        }
                    }
                }
                Err(_) => break, // the client closed
            }
        }
        if let Alive::AnswersPings = alive {
            assert!(pongs > 0, "the client pinged");
        }
    });
    let (mut poll, c) = client(false, addr, None);
    let mut m = ManagedWs::new(c, 9).with_dead_after(DEAD_AFTER);
    if let Alive::AnswersPings = alive {
        m = m.with_ping_interval(Duration::from_millis(50));
    }
    open_managed(&mut poll, &mut m);
    let start = m.ws().frames_received();

    // Five dead-link timeouts with traffic only from the liveness signal.
    let mut events = Events::with_capacity(8);
    let until = Instant::now() + DEAD_AFTER * 5;
    let mut pongs = 0u32;
    while Instant::now() < until {
        m.ws()
            .read_frames(|f| {
                assert_eq!(f, br#"{"success":true,"ret_msg":"pong","op":"ping"}"#);
                pongs += 1;
            })
            .unwrap();
        match m.drive(Instant::now()) {
            ConnEvent::Idle => {}
            ev => panic!("a live peer was dropped: {ev:?}"),
        }
        poll.poll(&mut events, Some(Duration::from_millis(10)))
            .unwrap();
    }
    assert!(m.is_open());
    assert_eq!(m.reconnects, 0);
    let frames = m.ws().frames_received() - start;
    match alive {
        Alive::AnswersPings => {
            assert!(pongs >= 4, "only {pongs} pongs in 5 timeouts");
            assert_eq!(frames, u64::from(pongs), "pongs are the only frames");
        }
        Alive::ControlPings => {
            assert_eq!(pongs, 0, "no data frames");
            assert!(frames >= 4, "only {frames} control pings in 5 timeouts");
        }
    }
    stop_tx.send(()).unwrap();
    m.disable();
    h.join().unwrap();
}

#[test]
fn peer_answering_pings_is_not_dropped() {
    live_peer_is_kept(Alive::AnswersPings);
}

#[test]
fn peer_sending_only_control_frames_is_not_dropped() {
    live_peer_is_kept(Alive::ControlPings);
}
