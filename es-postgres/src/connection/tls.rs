//! TLS for every connection the store opens: the `sslmode`, the certificate
//! authorities trusted, and the one connector the pool and the projection
//! runners' own connections share.
//!
//! The modes are libpq's. `prefer` and `require` encrypt without checking
//! the server's certificate (they defend against eavesdropping, not against
//! a server in the middle); `verify-ca` also checks that the certificate
//! chains to a trusted authority; `verify-full` also checks that it was
//! issued for the host name connected to. tokio-postgres knows the first
//! three, so the connection is made with its `require` and the checks of the
//! last two happen in the certificate verifier here.
//!
//! As in libpq, a certificate of the `sslrootcert` file that the server
//! presents as its own is trusted as it is (pinned), even when it is an
//! authority's (a self-signed certificate made with `openssl req -x509`
//! has `CA:TRUE`); its validity dates and, under `verify-full`, its host
//! names are still checked.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::verifiers::{Unverified, Verifying};
use crate::error::PgError;

/// How connections use TLS: libpq's `sslmode`, set with `sslmode=` in the
/// connection string or with
/// [`PgEventStoreBuilder::ssl_mode`](crate::PgEventStoreBuilder::ssl_mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PgSslMode {
    /// Never encrypt.
    Disable,
    /// Encrypt when the server offers it, without checking its certificate;
    /// fall back to plain text otherwise (the default, as in libpq).
    #[default]
    Prefer,
    /// Always encrypt; do not check the certificate.
    Require,
    /// Always encrypt, and check that the server's certificate chains to a
    /// trusted certificate authority (any host name).
    VerifyCa,
    /// Always encrypt, check the chain and that the certificate names the
    /// host connected to. The mode for a server across a network.
    VerifyFull,
}

impl PgSslMode {
    /// Every mode, by its `sslmode` name.
    const ALL: [(&'static str, PgSslMode); 5] = [
        ("disable", PgSslMode::Disable),
        ("prefer", PgSslMode::Prefer),
        ("require", PgSslMode::Require),
        ("verify-ca", PgSslMode::VerifyCa),
        ("verify-full", PgSslMode::VerifyFull),
    ];

    /// The mode named `name` in a connection string.
    pub(crate) fn parse(name: &str) -> Result<Self, PgError> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, mode)| *mode).ok_or_else(|| PgError::InvalidConfig {
            option: Some("sslmode".to_owned()),
            reason: format!("`{name}` is not one of disable, prefer, require, verify-ca, verify-full"),
        })
    }

    /// The mode tokio-postgres sets in its `Config` (it has no verifying modes).
    pub(crate) fn from_driver(mode: SslMode) -> Self {
        match mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Require => PgSslMode::Require,
            _ => PgSslMode::Prefer,
        }
    }

    /// The mode tokio-postgres connects with: the verifying modes are its
    /// `require`, checked further by the connector.
    fn driver(self) -> SslMode {
        match self {
            PgSslMode::Disable => SslMode::Disable,
            PgSslMode::Prefer => SslMode::Prefer,
            PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull => SslMode::Require,
        }
    }
}

impl fmt::Display for PgSslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Self::ALL.iter().find(|(_, mode)| mode == self).map_or("prefer", |(n, _)| n);
        f.write_str(name)
    }
}

/// Which certificate authorities `verify-ca` and `verify-full` trust.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Roots {
    /// The operating system's store.
    #[default]
    System,
    /// The certificates of a PEM file.
    File(PathBuf),
}

/// The TLS settings of a store, from its connection string or its builder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    /// The mode; `None` takes the one of the `tokio_postgres::Config`.
    pub(crate) mode: Option<PgSslMode>,
    pub(crate) roots: Roots,
}

impl TlsOptions {
    /// Sets the mode on `config` and builds the connector every connection
    /// of the store uses.
    pub(crate) fn apply(&self, config: &mut tokio_postgres::Config) -> Result<MakeRustlsConnect, PgError> {
        let mode = self.mode.unwrap_or_else(|| PgSslMode::from_driver(config.get_ssl_mode()));
        config.ssl_mode(mode.driver());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| PgError::Tls { endpoint: None, reason: e.to_string() })?;
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            PgSslMode::Disable | PgSslMode::Prefer | PgSslMode::Require => {
                Arc::new(Unverified(provider.signature_verification_algorithms))
            }
            PgSslMode::VerifyCa => Arc::new(self.verifier(provider, false)?),
            PgSslMode::VerifyFull => Arc::new(self.verifier(provider, true)?),
        };
        let tls = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
        Ok(MakeRustlsConnect::new(tls))
    }

    /// The verifier of `verify-ca` (`check_name` false) or `verify-full`:
    /// the standard one over the trusted authorities, with the
    /// certificates of the CA file pinned.
    fn verifier(&self, provider: Arc<CryptoProvider>, check_name: bool) -> Result<Verifying, PgError> {
        let (roots, pinned) = match &self.roots {
            Roots::System => (system_roots()?, Vec::new()),
            Roots::File(path) => {
                let pinned = file_certificates(path)?;
                let mut roots = RootCertStore::empty();
                for cert in &pinned {
                    roots.add(cert.clone()).map_err(|e| invalid_ca_file(path, e.to_string()))?;
                }
                (roots, pinned)
            }
        };
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| PgError::Tls { endpoint: None, reason: e.to_string() })?;
        Ok(Verifying { webpki, pinned, check_name })
    }
}

fn invalid_ca_file(path: &Path, reason: String) -> PgError {
    PgError::InvalidCaFile { path: path.to_owned(), reason }
}

/// The certificates of the PEM file at `path`, at least one.
fn file_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PgError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid_ca_file(path, e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid_ca_file(path, "it holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)".to_owned()));
    }
    Ok(certs)
}

/// The operating system's certificate authorities.
fn system_roots() -> Result<RootCertStore, PgError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(PgError::Tls {
            endpoint: None,
            reason: format!(
                "the system has no certificate authorities to verify the server with ({}); \
                 give the server's CA with `sslrootcert=<file>` or `PgEventStoreBuilder::ca_file`",
                if errors.is_empty() { "none found".to_owned() } else { errors.join("; ") }
            ),
        });
    }
    Ok(roots)
}
