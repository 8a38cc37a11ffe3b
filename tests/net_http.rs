//! HttpConn against loopback HTTP/1.1 servers (plain and rustls).

mod net_support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gapmm::net::http::{build_request, HttpConn, SendOutcome};
use gapmm::net::{ConnState, NetError};
use mio::{Events, Poll, Token};
use net_support::*;

const TOK: Token = Token(3);

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

fn client(tls: bool, addr: std::net::SocketAddr, fx: Option<&TlsFixture>) -> (Poll, HttpConn) {
    let poll = Poll::new().unwrap();
    let ep = endpoint(if tls { "https" } else { "http" }, addr, "", fx);
    let c = HttpConn::new(ep, poll.registry(), TOK).unwrap();
    (poll, c)
}

fn req(path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    build_request(
        &mut out,
        "POST",
        "127.0.0.1",
        path,
        &[("X-BAPI-API-KEY", "k")],
        br#"{"category":"linear"}"#,
    );
    out
}

fn path_of(request: &[u8]) -> String {
    let line = request.split(|&b| b == b'\r').next().unwrap();
    String::from_utf8(line.split(|&b| b == b' ').nth(1).unwrap().to_vec()).unwrap()
}

/// Server side: reads one request on `s` and answers it with a 200 carrying `body`.
fn answer(s: &mut SrvStream, buf: &mut Vec<u8>, body: &str) {
    read_request(s, buf).unwrap();
    s.write_all(&response(body)).unwrap();
    s.flush().unwrap();
}

/// Sends `request` and drives the poll loop until the response arrives.
fn round_trip(poll: &mut Poll, c: &mut HttpConn, request: &[u8]) -> (SendOutcome, u16, Vec<u8>) {
    let outcome = c.send(request).unwrap();
    let (status, body) = drive(poll, "response", || {
        if c.has_pending() {
            c.flush_pending().unwrap();
        }
        c.poll_response()
            .unwrap()
            .map(|r| (r.status, r.body.to_vec()))
    });
    (outcome, status, body)
}

fn keepalive(tls: bool) {
    const N: usize = 20;
    let (fx, addr, h) = server(tls, |l, fx| {
        let mut s = SrvStream::accept(&l, fx.as_ref().map(|f| &f.server));
        let mut buf = Vec::new();
        for i in 0..N {
            let r = read_request(&mut s, &mut buf).expect("request");
            let body = format!("{{\"path\":\"{}\",\"i\":{i}}}", path_of(&r));
            let resp = if i % 2 == 0 {
                response(&body)
            } else {
                chunked_response(&body, 5)
            };
            s.write_all(&resp).unwrap();
            s.flush().unwrap();
        }
        // Exactly one connection was used: nobody else may connect.
        l.set_nonblocking(true).unwrap();
        assert!(l.accept().is_err(), "client opened a second connection");
        assert!(read_request(&mut s, &mut buf).is_none());
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    for i in 0..N {
        let (outcome, status, body) =
            round_trip(&mut poll, &mut c, &req(&format!("/v5/order/create?n={i}")));
        assert_eq!(outcome, SendOutcome::Sent);
        assert_eq!(status, 200);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!("{{\"path\":\"/v5/order/create?n={i}\",\"i\":{i}}}")
        );
    }
    assert_eq!(c.reconnects(), 0);
    assert_eq!(c.state(), ConnState::Open);
    drop(c);
    h.join().unwrap();
}

#[test]
fn plain_keepalive_many_requests_one_connection() {
    keepalive(false);
}

#[test]
fn tls_keepalive_many_requests_one_connection() {
    keepalive(true);
}

/// Every response is written in two parts split at byte k, for every k; the
/// client drains the first part (and must report "incomplete") before the
/// server writes the rest.
fn split_everywhere(tls: bool) {
    let bodies = [
        response(r#"{"retCode":0,"retMsg":"OK","result":{}}"#),
        chunked_response(r#"{"retCode":0,"x":[1,2,3]}"#, 7),
    ];
    let total: usize = bodies.iter().map(|b| b.len() - 1).sum();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let srv_bodies = bodies.clone();
    let (fx, addr, h) = server(tls, move |l, fx| {
        let mut s = SrvStream::accept(&l, fx.as_ref().map(|f| &f.server));
        let mut buf = Vec::new();
        for resp in &srv_bodies {
            for k in 1..resp.len() {
                read_request(&mut s, &mut buf).expect("request");
                s.write_all(&resp[..k]).unwrap();
                s.flush().unwrap();
                go_rx.recv_timeout(TIMEOUT).unwrap();
                s.write_all(&resp[k..]).unwrap();
                s.flush().unwrap();
            }
        }
        assert!(read_request(&mut s, &mut buf).is_none());
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    c.connect_blocking(TIMEOUT).unwrap();
    let mut events = Events::with_capacity(8);
    let mut done = 0;
    for (which, resp) in bodies.iter().enumerate() {
        let want = if which == 0 {
            &br#"{"retCode":0,"retMsg":"OK","result":{}}"#[..]
        } else {
            &br#"{"retCode":0,"x":[1,2,3]}"#[..]
        };
        for k in 1..resp.len() {
            c.send(&req("/split")).unwrap();
            let deadline = Instant::now() + TIMEOUT;
            loop {
                poll.poll(&mut events, Some(Duration::from_millis(50)))
                    .unwrap();
                if events.iter().any(|e| e.is_readable()) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "first part never arrived (k={k})"
                );
            }
            assert!(
                c.poll_response().unwrap().is_none(),
                "complete after {k} of {} bytes",
                resp.len()
            );
            go_tx.send(()).unwrap();
            let body = drive(&mut poll, "rest of response", || {
                c.poll_response().unwrap().map(|r| r.body.to_vec())
            });
            assert_eq!(body, want, "split at {k}");
            done += 1;
        }
    }
    assert_eq!(done, total);
    assert_eq!(c.reconnects(), 0);
    drop(c);
    h.join().unwrap();
}

#[test]
fn plain_response_split_at_every_byte() {
    split_everywhere(false);
}

#[test]
fn tls_response_split_at_every_byte() {
    split_everywhere(true);
}

/// The server drops an idle keep-alive connection; the client notices the
/// EOF on its next poll, reconnects by itself and the next request works.
/// Then a `Connection: close` response, then a connection lost mid-request.
fn server_closes(tls: bool) {
    let (fx, addr, h) = server(tls, |l, fx| {
        let cfg = fx.as_ref().map(|f| &f.server);
        let mut buf = Vec::new();
        // Connection 1: two requests, then an idle close.
        let mut s = SrvStream::accept(&l, cfg);
        for _ in 0..2 {
            answer(&mut s, &mut buf, "{\"c\":1}");
        }
        drop(s);
        // Connection 2 (opened proactively by the client): one request
        // answered with Connection: close.
        let mut s = SrvStream::accept(&l, cfg);
        buf.clear();
        read_request(&mut s, &mut buf).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 7\r\n\r\n{\"c\":2}")
            .unwrap();
        s.flush().unwrap();
        drop(s);
        // Connection 3: the request is read and the connection dropped unanswered.
        let mut s = SrvStream::accept(&l, cfg);
        buf.clear();
        read_request(&mut s, &mut buf).unwrap();
        drop(s);
        // Connection 4: normal service again.
        let mut s = SrvStream::accept(&l, cfg);
        buf.clear();
        answer(&mut s, &mut buf, "{\"c\":4}");
        assert!(read_request(&mut s, &mut buf).is_none());
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    for _ in 0..2 {
        let (_, status, body) = round_trip(&mut poll, &mut c, &req("/a"));
        assert_eq!((status, body.as_slice()), (200, &b"{\"c\":1}"[..]));
    }
    // Idle close: detected by polling, replaced without a request.
    drive(&mut poll, "idle reconnect", || {
        assert!(c.poll_response().unwrap().is_none());
        (c.reconnects() == 1).then_some(())
    });
    let (outcome, _, body) = round_trip(&mut poll, &mut c, &req("/b"));
    assert_eq!(
        (outcome, body.as_slice()),
        (SendOutcome::Sent, &b"{\"c\":2}"[..])
    );
    // `Connection: close`: replaced at once, so the next send finds a connection.
    assert_eq!(c.reconnects(), 2);
    assert_eq!(c.send(&req("/c")).unwrap(), SendOutcome::Sent);
    let err = drive(&mut poll, "in-flight loss", || match c.poll_response() {
        Ok(Some(r)) => panic!("unexpected response {}", r.status),
        Ok(None) => None,
        Err(e) => Some(e),
    });
    assert_eq!(err, NetError::Closed { code: 0 });
    assert!(!c.in_flight());
    let (outcome, status, body) = round_trip(&mut poll, &mut c, &req("/d"));
    assert_eq!(
        (outcome, status, body.as_slice()),
        (SendOutcome::Reconnected, 200, &b"{\"c\":4}"[..])
    );
    assert_eq!(c.reconnects(), 3);
    drop(c);
    h.join().unwrap();
}

#[test]
fn plain_server_closes_keepalive_then_clean_reconnect() {
    server_closes(false);
}

#[test]
fn tls_server_closes_keepalive_then_clean_reconnect() {
    server_closes(true);
}

#[test]
fn blocking_get_and_post_helpers_over_tls() {
    let (fx, addr, h) = server(true, |l, fx| {
        let mut s = SrvStream::accept(&l, fx.as_ref().map(|f| &f.server));
        let mut buf = Vec::new();
        let r = read_request(&mut s, &mut buf).unwrap();
        let text = String::from_utf8(r).unwrap();
        assert!(
            text.starts_with("GET /v5/market/instruments-info?category=linear HTTP/1.1\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nHost: 127.0.0.1:"), "{text}");
        assert!(
            !text.to_ascii_lowercase().contains("content-length"),
            "{text}"
        );
        // A large chunked response: grows the receive buffer past 64 KiB.
        let big = format!("{{\"list\":\"{}\"}}", "s".repeat(200_000));
        s.write_all(&chunked_response(&big, 4096)).unwrap();
        let r = read_request(&mut s, &mut buf).unwrap();
        let text = String::from_utf8(r).unwrap();
        assert!(
            text.starts_with("POST /v5/order/cancel-all HTTP/1.1\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nX-BAPI-SIGN: abc\r\n"), "{text}");
        assert!(text.ends_with("\r\nContent-Length: 2\r\n\r\n{}"), "{text}");
        s.write_all(b"HTTP/1.1 403 Forbidden\r\nX-Bapi-Limit: 10\r\nX-Bapi-Limit-Status: 9\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        s.flush().unwrap();
        assert!(read_request(&mut s, &mut buf).is_none());
    });
    let (_poll, mut c) = client(true, addr, fx.as_ref());
    let r = c
        .get("/v5/market/instruments-info?category=linear", &[], TIMEOUT)
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some(&b"chunked"[..]));
    assert_eq!(r.body.len(), 200_000 + 11);
    assert!(r.body.starts_with(b"{\"list\":\"sss"));
    let r = c
        .post(
            "/v5/order/cancel-all",
            &[("X-BAPI-SIGN", "abc")],
            b"{}",
            TIMEOUT,
        )
        .unwrap();
    assert_eq!((r.status, r.body), (403, &b""[..]));
    assert_eq!(
        (r.meta.rate_limit.limit, r.meta.rate_limit.remaining),
        (Some(10), Some(9))
    );
    assert!(r.meta.keep_alive);
    assert_eq!(c.reconnects(), 0);
    drop(c);
    h.join().unwrap();
}

#[test]
fn second_send_while_in_flight_is_rejected_without_side_effects() {
    let (fx, addr, h) = server(false, |l, fx| {
        let mut s = SrvStream::accept(&l, fx.as_ref().map(|f| &f.server));
        let mut buf = Vec::new();
        read_request(&mut s, &mut buf).unwrap();
        s.write_all(&response("{}")).unwrap();
        assert!(
            read_request(&mut s, &mut buf).is_none(),
            "only one request may reach the server"
        );
    });
    let (mut poll, mut c) = client(false, addr, fx.as_ref());
    c.send(&req("/one")).unwrap();
    assert_eq!(
        c.send(&req("/two")),
        Err(NetError::InvalidInput("a request is already in flight"))
    );
    let body = drive(&mut poll, "response", || {
        c.poll_response().unwrap().map(|r| r.body.to_vec())
    });
    assert_eq!(body, b"{}");
    drop(c);
    h.join().unwrap();
}

/// The engine reads a REST connection only when its readiness event comes.
/// A server that answers and closes at once can deliver the response and
/// its FIN in one event; a drain that ends on a short read never sees that
/// EOF, and no later event comes. Passing the event's close on with
/// `peer_closed` gets the response delivered *and* the connection replaced,
/// so the next request goes out on a live connection.
fn close_after_response_seen_from_events_only(tls: bool) {
    let (fx, addr, h) = server(tls, |l, fx| {
        let cfg = fx.as_ref().map(|f| &f.server);
        let mut buf = Vec::new();
        let mut s = SrvStream::accept(&l, cfg);
        answer(&mut s, &mut buf, "{\"c\":1}");
        drop(s);
        // The replacement serves the next request.
        let mut s = SrvStream::accept(&l, cfg);
        buf.clear();
        answer(&mut s, &mut buf, "{\"c\":2}");
        assert!(read_request(&mut s, &mut buf).is_none());
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    c.send(&req("/a")).unwrap();
    let mut events = Events::with_capacity(16);
    let mut body = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while body.is_none() || c.reconnects() == 0 {
        assert!(
            Instant::now() < deadline,
            "response {body:?}, reconnects {}: the close was never acted on",
            c.reconnects()
        );
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
        let mut ours = false;
        let mut closed = false;
        for e in events.iter().filter(|e| e.token() == TOK) {
            ours = true;
            closed |= e.is_read_closed() || e.is_error();
        }
        if !ours {
            continue;
        }
        if closed {
            c.peer_closed();
        }
        if c.has_pending() {
            c.flush_pending().unwrap();
        }
        if let Some(r) = c.poll_response().unwrap() {
            body = Some(r.body.to_vec());
        }
    }
    assert_eq!(body.as_deref(), Some(&b"{\"c\":1}"[..]));
    assert_eq!(c.reconnects(), 1);
    let (outcome, status, body) = round_trip(&mut poll, &mut c, &req("/b"));
    assert_eq!(
        (outcome, status, body.as_slice()),
        (SendOutcome::Sent, 200, &b"{\"c\":2}"[..])
    );
    drop(c);
    h.join().unwrap();
}

#[test]
fn plain_close_with_the_response_replaces_the_connection() {
    close_after_response_seen_from_events_only(false);
}

#[test]
fn tls_close_with_the_response_replaces_the_connection() {
    close_after_response_seen_from_events_only(true);
}

fn abandon(tls: bool) {
    let (got_old, got_old_rx) = mpsc::channel();
    let (abandoned, abandoned_rx) = mpsc::channel::<()>();
    let (fx, addr, h) = server(tls, move |l, fx| {
        let cfg = fx.as_ref().map(|f| &f.server);
        let mut buf = Vec::new();
        // Connection 1: the request is read; its answer comes only after the
        // client gave it up (written into a connection the client dropped).
        let mut s = SrvStream::accept(&l, cfg);
        let r = read_request(&mut s, &mut buf).unwrap();
        assert_eq!(path_of(&r), "/old");
        got_old.send(()).unwrap();
        abandoned_rx.recv().unwrap();
        let _ = s.write_all(&response("{\"c\":\"old\"}"));
        let _ = s.flush();
        // Connection 2: the next request, answered at once.
        let mut s2 = SrvStream::accept(&l, cfg);
        buf.clear();
        let r = read_request(&mut s2, &mut buf).unwrap();
        assert_eq!(path_of(&r), "/new");
        s2.write_all(&response("{\"c\":\"new\"}")).unwrap();
        s2.flush().unwrap();
        drop(s);
        assert!(read_request(&mut s2, &mut buf).is_none());
    });
    let (mut poll, mut c) = client(tls, addr, fx.as_ref());
    c.send(&req("/old")).unwrap();
    // Drive the connection until the server has the request.
    drive(&mut poll, "the request at the server", || {
        if c.has_pending() {
            c.flush_pending().unwrap();
        }
        assert!(c.poll_response().unwrap().is_none());
        got_old_rx.try_recv().ok()
    });
    assert!(c.in_flight());
    c.abandon();
    assert!(!c.in_flight());
    assert_eq!(c.state(), ConnState::Closed);
    abandoned.send(()).unwrap();
    // The next request goes on a new connection and gets its own answer,
    // never the abandoned one's.
    let (outcome, status, body) = round_trip(&mut poll, &mut c, &req("/new"));
    assert_eq!(
        (outcome, status, body.as_slice()),
        (SendOutcome::Reconnected, 200, &b"{\"c\":\"new\"}"[..])
    );
    assert_eq!(c.reconnects(), 1);
    drop(c);
    h.join().unwrap();
}

#[test]
fn plain_abandoned_request_answer_is_never_read() {
    abandon(false);
}

#[test]
fn tls_abandoned_request_answer_is_never_read() {
    abandon(true);
}
