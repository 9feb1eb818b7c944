//! Telling driver errors apart: a lost connection from a refused
//! statement, a TLS failure from a refused login, and the server's words
//! for a message.

use std::error::Error as StdError;
use std::io;

use es_core::ErrorReport;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;

/// Whether a driver error on an open connection means the connection is
/// gone or the server is going away, rather than that a statement failed.
pub(super) fn connection_lost(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(code) => code.code().starts_with("08") || not_ready(code).is_some(),
        None => matches!(Kind::of(e), Kind::Closed | Kind::Io),
    }
}

/// Whether `error` or one of its causes is the driver losing the
/// connection (or the server going away), rather than a statement failing.
pub(crate) fn is_outage(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(driver) = e.downcast_ref::<tokio_postgres::Error>() {
            return connection_lost(driver);
        }
        cause = e.source();
    }
    false
}

/// Whether the error is the unique violation of `constraint`.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error, constraint: &str) -> bool {
    e.as_db_error().is_some_and(|db| *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some(constraint))
}

/// What a server that refuses connections for a while is doing.
pub(super) fn not_ready(code: &SqlState) -> Option<&'static str> {
    match code {
        c if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN => Some("is shutting down"),
        c if *c == SqlState::CANNOT_CONNECT_NOW => Some("is starting up or shutting down"),
        c if *c == SqlState::TOO_MANY_CONNECTIONS => Some("has no connection slot free"),
        _ => None,
    }
}

/// The kinds of driver error that matter here. tokio-postgres exposes no
/// accessor for its error kind, but each kind displays a fixed text.
pub(super) enum Kind {
    Connect,
    Timeout,
    Closed,
    Io,
    Tls,
    Authentication,
    Config,
    Other,
}

impl Kind {
    pub(super) fn of(e: &tokio_postgres::Error) -> Kind {
        if e.is_closed() {
            return Kind::Closed;
        }
        match e.to_string().as_str() {
            "error connecting to server" => Kind::Connect,
            "timeout waiting for server" => Kind::Timeout,
            "error communicating with the server" => Kind::Io,
            "error performing TLS handshake" => Kind::Tls,
            "authentication error" => Kind::Authentication,
            "invalid connection string" | "invalid configuration" => Kind::Config,
            _ => Kind::Other,
        }
    }
}

/// The TLS failure, with the fix for the common ones.
pub(super) fn tls_advice(e: &tokio_postgres::Error) -> String {
    let cause = e.source().map_or_else(|| e.to_string(), |s| ErrorReport::new(s).to_string());
    let certificate = e.source().and_then(|s| s.downcast_ref::<io::Error>()).and_then(|io| io.get_ref());
    let rustls = certificate.and_then(|c| c.downcast_ref::<rustls::Error>());
    let fix = match rustls {
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. },
        )) => {
            "the server's certificate does not match the host name connected to; connect with a host name \
             the certificate names, or use sslmode=verify-ca to check the chain only"
        }
        Some(rustls::Error::InvalidCertificate(_)) => {
            "the server's certificate is not trusted; give its certificate authority with `sslrootcert=<file>` \
             or `PgEventStoreBuilder::ca_file`"
        }
        _ if cause.contains("does not support TLS") => {
            "turn on `ssl` on the server, or connect with sslmode=prefer or sslmode=disable"
        }
        _ => "check the server's TLS settings and the sslmode",
    };
    format!("{cause}; {fix}")
}

/// The host(s) and port(s) `config` connects to.
pub(super) fn endpoint(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| match host {
            Host::Tcp(name) if name.contains(':') => format!("[{name}]:{}", port(i)),
            Host::Tcp(name) => format!("{name}:{}", port(i)),
            Host::Unix(dir) => format!("{}/.s.PGSQL.{}", dir.display(), port(i)),
        })
        .collect();
    if hosts.is_empty() {
        let addrs: Vec<String> =
            config.get_hostaddrs().iter().enumerate().map(|(i, a)| format!("{a}:{}", port(i))).collect();
        return if addrs.is_empty() { "(no host given)".to_owned() } else { addrs.join(", ") };
    }
    hosts.join(", ")
}

/// A driver error as one line: the server's message, detail, hint and
/// SQLSTATE, or the driver's message and its causes.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => ErrorReport::new(e).to_string(),
    }
}
