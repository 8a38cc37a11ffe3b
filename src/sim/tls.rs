//! Optional TLS for the simulator: a self-signed certificate generated at start-up (rcgen, ring)
//! and a stream type that is either plain TCP or rustls over TCP.
//!
//! Contract: certificate generation allocates and runs once at start-up. [`Stream`] is a thin
//! `Read + Write` over a non-blocking mio socket; with TLS, written plaintext may stay queued inside
//! rustls after `WouldBlock`, so callers keep flushing on the next writable event. The ring provider
//! is installed process-wide with [`install_ring`] (idempotent) so rustls never has to guess.

use mio::net::TcpStream;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};
use std::io::{self, Read, Write};
use std::sync::Arc;

/// Installs rustls's ring provider as the process default (ignored if one is already installed).
pub fn install_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A generated server identity: the DER certificate (for clients to trust) and the server config.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The self-signed certificate (subject alt names `localhost`, `127.0.0.1`).
    pub cert_der: CertificateDer<'static>,
    /// The rustls server configuration using it.
    pub server: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_der_len", &self.cert_der.len())
            .finish_non_exhaustive()
    }
}

/// Generates a fresh self-signed certificate and a server config for it.
pub fn generate_identity() -> Result<TlsIdentity, &'static str> {
    install_ring();
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(|_| "rcgen could not generate a certificate")?;
    let cert_der: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .map_err(|_| "rustls rejected the generated certificate")?;
    Ok(TlsIdentity {
        cert_der,
        server: Arc::new(server),
    })
}

/// A client config that trusts exactly `cert_der` (for tests, the echo client and local engines).
pub fn client_config(cert_der: &[u8]) -> Result<Arc<ClientConfig>, &'static str> {
    install_ring();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert_der.to_vec()))
        .map_err(|_| "certificate not accepted as a root")?;
    Ok(Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// Opens a client TLS session over `sock` for `localhost`.
pub fn client_stream<S: Read + Write>(
    cfg: Arc<ClientConfig>,
    sock: S,
) -> Result<StreamOwned<ClientConnection, S>, &'static str> {
    let name = ServerName::try_from("localhost").map_err(|_| "bad server name")?;
    let conn = ClientConnection::new(cfg, name).map_err(|_| "rustls client setup failed")?;
    Ok(StreamOwned::new(conn, sock))
}

/// A server-side connection stream: plain TCP or TLS over TCP (both non-blocking).
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// rustls over TCP (boxed: the TLS state is large).
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    /// Wraps an accepted socket, starting a TLS session if `tls` is given.
    pub fn new(sock: TcpStream, tls: Option<&Arc<ServerConfig>>) -> io::Result<Stream> {
        match tls {
            None => Ok(Stream::Plain(sock)),
            Some(cfg) => {
                let conn = ServerConnection::new(cfg.clone())
                    .map_err(|e| io::Error::other(e.to_string()))?;
                Ok(Stream::Tls(Box::new(StreamOwned::new(conn, sock))))
            }
        }
    }

    /// The underlying socket (for registration with mio).
    pub fn socket(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &mut t.sock,
        }
    }

    /// Whether TLS bytes are still queued for the socket.
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(t) => t.conn.wants_write(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => {
                t.flush()?;
                // StreamOwned::flush only pushes plaintext into rustls; drive TLS records out too.
                while t.conn.wants_write() {
                    t.conn.write_tls(&mut t.sock)?;
                }
                Ok(())
            }
        }
    }
}
