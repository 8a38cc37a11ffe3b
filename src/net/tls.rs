//! rustls client configurations (ring provider only).
//!
//! Contract: start-up only; each builder allocates its `Arc<ClientConfig>`
//! once and the config is shared by every connection to that venue. The
//! configs are built with an explicit ring provider, so they never depend on
//! the process-default provider; [`install_provider`] still exists for other
//! rustls users in the process (ureq, tests) and is idempotent.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use super::NetError;

/// Installs ring as the process-default rustls crypto provider. Safe to call
/// any number of times: an already-installed provider is left in place.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, NetError> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|_| NetError::Tls("ring provider lacks the default protocol versions"))
}

/// Client config trusting the Mozilla roots shipped in `webpki-roots` (production).
pub fn production_config() -> Result<Arc<ClientConfig>, NetError> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(Arc::new(
        builder()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// Client config trusting exactly one root: `cert_der`, a DER certificate
/// (the simulator's self-signed certificate).
pub fn custom_root_config(cert_der: &[u8]) -> Result<Arc<ClientConfig>, NetError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert_der.to_vec()))
        .map_err(|_| NetError::Tls("root certificate is not a valid DER certificate"))?;
    Ok(Arc::new(
        builder()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// The TLS server name (SNI + verification name) for a URL host: a DNS name
/// or an IP literal.
pub fn server_name(host: &str) -> Result<ServerName<'static>, NetError> {
    ServerName::try_from(host.to_string())
        .map_err(|_| NetError::Tls("host is not a valid server name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_build_and_bad_roots_are_rejected() {
        install_provider();
        install_provider();
        assert!(production_config().is_ok());
        assert_eq!(
            custom_root_config(b"not a certificate").err(),
            Some(NetError::Tls(
                "root certificate is not a valid DER certificate"
            ))
        );
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        assert!(custom_root_config(ck.cert.der()).is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("stream.bybit.com").is_ok());
        assert!(server_name("bad name!").is_err());
    }
}
