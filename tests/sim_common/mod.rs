//! Blocking loopback clients for the simulator tests: a raw HTTP/1.1 keep-alive client with Bybit
//! signing and a tungstenite WebSocket client (plain or TLS). Every read has a timeout; nothing
//! sleeps for synchronisation.
#![allow(dead_code)]

use gapmm::sim::auth;
use gapmm::sim::tls;
use serde_json::Value;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A byte stream that is plain TCP or TLS.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(b),
            Conn::Tls(s) => s.read(b),
        }
    }
}
impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(b),
            Conn::Tls(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

impl Conn {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
}

pub fn connect(addr: SocketAddr, cert: Option<&[u8]>) -> Conn {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    match cert {
        None => Conn::Plain(s),
        Some(der) => {
            let cfg = tls::client_config(der).unwrap();
            Conn::Tls(Box::new(tls::client_stream(cfg, s).unwrap()))
        }
    }
}

pub struct Http {
    pub conn: Conn,
    buf: Vec<u8>,
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("bad json {e}: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

impl Http {
    pub fn new(addr: SocketAddr, cert: Option<&[u8]>) -> Http {
        Http {
            conn: connect(addr, cert),
            buf: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, raw: &[u8]) {
        self.conn.write_all(raw).unwrap();
        self.conn.flush().unwrap();
    }

    /// Reads one response (Content-Length framed); None on EOF/timeout.
    pub fn read_resp(&mut self) -> Option<Resp> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(end) = self
                .buf
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|p| p + 4)
            {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let mut lines = head.split("\r\n");
                let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| {
                        l.split_once(':')
                            .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                    })
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                if self.buf.len() >= end + len {
                    let body = self.buf[end..end + len].to_vec();
                    self.buf.drain(..end + len);
                    return Some(Resp {
                        status,
                        headers,
                        body,
                    });
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut chunk = [0u8; 8192];
            match self.conn.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return None,
            }
        }
    }

    pub fn get(&mut self, path: &str, query: &str) -> Resp {
        let target = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        self.send_raw(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        self.read_resp().expect("response")
    }

    pub fn signed_raw(
        method: &str,
        path: &str,
        payload: &str,
        key: &str,
        sign: &str,
        ts: u64,
        rw: u64,
    ) -> Vec<u8> {
        let (target, body) = if method == "GET" {
            (
                if payload.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{payload}")
                },
                "",
            )
        } else {
            (path.to_string(), payload)
        };
        format!(
            "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-BAPI-API-KEY: {key}\r\nX-BAPI-TIMESTAMP: {ts}\r\nX-BAPI-SIGN: {sign}\r\nX-BAPI-RECV-WINDOW: {rw}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// A correctly signed request with the current wall time.
    pub fn signed(
        &mut self,
        method: &str,
        path: &str,
        payload: &str,
        key: &str,
        secret: &str,
    ) -> Resp {
        let ts = gapmm::time::wall_ms().0;
        let sign = auth::sign_rest(secret, ts, key, 5000, payload.as_bytes());
        self.send_raw(&Self::signed_raw(
            method, path, payload, key, &sign, ts, 5000,
        ));
        self.read_resp().expect("response")
    }
}

pub type Ws = WebSocket<Conn>;

pub fn ws(addr: SocketAddr, path: &str, cert: Option<&[u8]>) -> Ws {
    let conn = connect(addr, cert);
    let scheme = if cert.is_some() { "wss" } else { "ws" };
    let url = format!("{scheme}://localhost:{}{path}", addr.port());
    let cfg = WebSocketConfig::default().read_buffer_size(16 * 1024);
    tungstenite::client::client_with_config(url.as_str(), conn, Some(cfg))
        .expect("ws handshake")
        .0
}

pub fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).expect("ws send");
}

/// Next text frame (raw); None on timeout or close.
pub fn recv_text(ws: &mut Ws) -> Option<String> {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => return Some(t.as_str().to_string()),
            Ok(Message::Close(_)) => return None,
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

pub fn recv(ws: &mut Ws) -> Value {
    let t = recv_text(ws).expect("a frame before the timeout");
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("not json ({e}): {t}"))
}

/// Reads frames until one satisfies `pred` (returns it) — frames before it are skipped.
pub fn recv_until(ws: &mut Ws, mut pred: impl FnMut(&Value) -> bool) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        let v = recv(ws);
        if pred(&v) {
            return v;
        }
    }
    panic!("no matching frame before the timeout");
}

pub fn ws_auth(ws: &mut Ws, key: &str, secret: &str) {
    let expires = gapmm::time::wall_ms().0 + 10_000;
    let sig = auth::sign_ws(secret, expires);
    send(
        ws,
        &format!(r#"{{"op":"auth","args":["{key}",{expires},"{sig}"]}}"#),
    );
}

pub fn now_ms() -> u64 {
    gapmm::time::wall_ms().0
}
