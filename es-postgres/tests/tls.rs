//! TLS against a private server with `ssl = on` and a certificate issued
//! for `localhost` by a CA made at test time.

#[path = "common/private_server.rs"]
mod private_server;

use es_postgres::{PgError, PgEventStore, PgSslMode};
use private_server::{self_signed_server, server};

/// Whether the pool's connection to the server is encrypted, as the server
/// sees it.
async fn encrypted(store: &PgEventStore) -> bool {
    let client = store.pool().get().await.expect("a connection");
    let row = client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap();
    row.get(0)
}

fn url(host: &str, query: &str) -> String {
    format!("postgres://postgres@{host}:{}/postgres?{query}", server().port)
}

#[tokio::test]
async fn require_encrypts() {
    let store = PgEventStore::connect(&url("127.0.0.1", "sslmode=require")).await.unwrap();
    assert!(encrypted(&store).await);
}

#[tokio::test]
async fn disable_does_not_encrypt() {
    let store = PgEventStore::connect(&url("127.0.0.1", "sslmode=disable")).await.unwrap();
    assert!(!encrypted(&store).await);
}

#[tokio::test]
async fn verify_full_with_the_ca_file_accepts_the_host_the_certificate_names() {
    let ca = server().ca_file.display().to_string();
    let store =
        PgEventStore::connect(&url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"))).await.unwrap();
    assert!(encrypted(&store).await);
    // The same through the builder.
    let store = PgEventStore::builder_from_url(&url("localhost", ""))
        .unwrap()
        .ssl_mode(PgSslMode::VerifyFull)
        .ca_file(&server().ca_file)
        .build()
        .unwrap();
    assert!(encrypted(&store).await);
}

#[tokio::test]
async fn verify_full_refuses_another_host_name() {
    // The certificate names `localhost`, not 127.0.0.1.
    let store = PgEventStore::builder_from_url(&url("127.0.0.1", "sslmode=verify-full"))
        .unwrap()
        .ca_file(&server().ca_file)
        .build()
        .unwrap();
    let error = store.migrate().await.unwrap_err();
    assert!(matches!(error, PgError::Tls { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("does not match the host name"), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
}

#[tokio::test]
async fn verify_ca_checks_the_chain_but_not_the_host_name() {
    let ca = server().ca_file.display().to_string();
    let store = PgEventStore::connect(&url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"))).await.unwrap();
    assert!(encrypted(&store).await);
    let other = server().other_ca_file.display().to_string();
    let error =
        PgEventStore::connect(&url("localhost", &format!("sslmode=verify-ca&sslrootcert={other}"))).await.unwrap_err();
    assert!(matches!(error, PgError::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("certificate is not trusted"), "{error}");
}

#[tokio::test]
async fn an_unreadable_ca_file_is_named() {
    let error =
        PgEventStore::builder_from_url(&url("localhost", "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"))
            .unwrap()
            .build()
            .unwrap_err();
    assert!(matches!(error, PgError::InvalidCaFile { .. }), "{error:?}");
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
}

/// A self-signed server certificate with `CA:TRUE` (as `openssl req -x509`
/// makes it), given as its own `sslrootcert`, is trusted as libpq trusts
/// it; the host name is still checked under `verify-full`.
#[tokio::test]
async fn verify_full_trusts_a_self_signed_certificate_given_as_its_own_root() {
    let (port, crt) = (self_signed_server().port, self_signed_server().ca_file.display().to_string());
    let url =
        |host: &str, mode: &str| format!("postgres://postgres@{host}:{port}/postgres?sslmode={mode}&sslrootcert={crt}");
    let store = PgEventStore::connect(&url("localhost", "verify-full")).await.unwrap();
    assert!(encrypted(&store).await);
    let store = PgEventStore::connect(&url("127.0.0.1", "verify-ca")).await.unwrap();
    assert!(encrypted(&store).await, "verify-ca takes it under any host name");
    let error = PgEventStore::connect(&url("127.0.0.1", "verify-full")).await.unwrap_err();
    assert!(matches!(error, PgError::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("does not match the host name"), "{error}");
    let other = server().other_ca_file.display().to_string();
    let refused = format!("postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={other}");
    let error = PgEventStore::connect(&refused).await.unwrap_err();
    assert!(error.to_string().contains("certificate is not trusted"), "{error}");
}
