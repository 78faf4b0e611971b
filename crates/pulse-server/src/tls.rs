//! TLS for the server (rustls with the ring provider, through tonic): a
//! certificate chain and its private key, both PEM, handed in as bytes by
//! the binary (this crate reads no files) and checked when built, so a bad
//! pair fails at start-up with a message saying which part is wrong.

use tonic::transport::server::ServerTlsConfig;
use tonic::transport::{Identity, Server};

/// A checked server certificate chain and key, for [`crate::serve`].
#[derive(Debug, Clone)]
pub struct Tls {
    config: ServerTlsConfig,
}

/// Why a certificate or key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("the certificate holds no PEM `CERTIFICATE` block")]
    NoCertificate,
    #[error("the private key holds no PEM `PRIVATE KEY` block")]
    NoPrivateKey,
    #[error("the certificate and key cannot be used: {0}")]
    Invalid(String),
}

impl Tls {
    /// Checks a PEM certificate chain (the server's certificate first) and
    /// the PEM private key (PKCS#8, PKCS#1 or SEC1) that goes with it.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Tls, TlsError> {
        if !contains(cert_chain, b"-----BEGIN CERTIFICATE-----") {
            return Err(TlsError::NoCertificate);
        }
        if !contains(key, b"PRIVATE KEY-----") {
            return Err(TlsError::NoPrivateKey);
        }
        let config = ServerTlsConfig::new().identity(Identity::from_pem(cert_chain, key));
        // Building the acceptor parses both and checks that the key matches
        // the certificate; the same happens again in `serve`.
        if let Err(e) = Server::builder().tls_config(config.clone()) {
            return Err(TlsError::Invalid(error_chain(&e)));
        }
        Ok(Tls { config })
    }

    pub(crate) fn config(&self) -> ServerTlsConfig {
        self.config.clone()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `e` and its sources, joined by `: ` (tonic's own message is only
/// "transport error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_blocks_are_named() {
        assert_eq!(
            Tls::from_pem(b"", b"").unwrap_err(),
            TlsError::NoCertificate
        );
        let cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            Tls::from_pem(cert, b"not a key").unwrap_err(),
            TlsError::NoPrivateKey
        );
        let key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            Tls::from_pem(cert, key).unwrap_err(),
            TlsError::Invalid(_)
        ));
    }
}
