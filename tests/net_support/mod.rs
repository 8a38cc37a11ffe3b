//! Loopback servers and client drivers shared by the `net_*` tests.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gapmm::net::url::Url;
use gapmm::net::{tls, Endpoint};
use mio::{Events, Poll};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A self-signed certificate for "localhost" and 127.0.0.1 plus a server config.
pub struct TlsFixture {
    pub server: Arc<ServerConfig>,
    pub cert_der: Vec<u8>,
}

pub fn tls_fixture() -> TlsFixture {
    tls::install_provider();
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("rcgen");
    let cert_der: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .expect("server config");
    TlsFixture {
        server: Arc::new(server),
        cert_der: cert_der.to_vec(),
    }
}

/// Server side of one accepted connection, plain or TLS (blocking, with a read timeout).
pub enum SrvStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl SrvStream {
    pub fn accept(l: &TcpListener, tls: Option<&Arc<ServerConfig>>) -> SrvStream {
        let (s, _) = l.accept().expect("accept");
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        match tls {
            None => SrvStream::Plain(s),
            Some(cfg) => {
                let c = ServerConnection::new(Arc::clone(cfg)).unwrap();
                SrvStream::Tls(Box::new(StreamOwned::new(c, s)))
            }
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            SrvStream::Plain(s) => s,
            SrvStream::Tls(s) => &s.sock,
        }
    }
}

impl Read for SrvStream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            SrvStream::Plain(s) => s.read(b),
            SrvStream::Tls(s) => s.read(b),
        }
    }
}

impl Write for SrvStream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            SrvStream::Plain(s) => s.write(b),
            SrvStream::Tls(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            SrvStream::Plain(s) => s.flush(),
            SrvStream::Tls(s) => s.flush(),
        }
    }
}

pub fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Client endpoint for `scheme://127.0.0.1:port/path`, TLS trusting the fixture cert.
pub fn endpoint(
    scheme: &str,
    addr: SocketAddr,
    path: &str,
    tls_fx: Option<&TlsFixture>,
) -> Endpoint {
    let url = Url::parse(&format!("{scheme}://127.0.0.1:{}{path}", addr.port())).unwrap();
    let cfg = tls_fx.map(|f| tls::custom_root_config(&f.cert_der).unwrap());
    Endpoint::new(url, cfg).unwrap()
}

/// Polls (blocking up to 20 ms per round) until `step` returns `Some`, or panics at the deadline.
pub fn drive<T>(poll: &mut Poll, what: &str, mut step: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    let mut events = Events::with_capacity(16);
    loop {
        if let Some(v) = step() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
    }
}

/// Reads one HTTP request (head + Content-Length body). `None` on EOF.
pub fn read_request(s: &mut impl Read, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) {
            let head = std::str::from_utf8(&buf[..end])
                .unwrap()
                .to_ascii_lowercase();
            let cl = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse::<usize>().unwrap())
                .unwrap_or(0);
            if buf.len() >= end + cl {
                let req: Vec<u8> = buf.drain(..end + cl).collect();
                return Some(req);
            }
        }
        let mut tmp = [0u8; 4096];
        match s.read(&mut tmp) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return None,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("server read: {e}"),
        }
    }
}

pub fn response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn chunked_response(body: &str, chunk: usize) -> Vec<u8> {
    let mut s = String::from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for c in body.as_bytes().chunks(chunk) {
        s.push_str(&format!(
            "{:x}\r\n{}\r\n",
            c.len(),
            std::str::from_utf8(c).unwrap()
        ));
    }
    s.push_str("0\r\n\r\n");
    s.into_bytes()
}
