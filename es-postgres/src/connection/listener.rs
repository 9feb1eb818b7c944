//! A dedicated connection for what needs session state: a projection
//! runner's advisory lock and the notifications it waits for.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::connection::StatementCache;
use crate::error::{Error, PgError};

/// A connection of its own (not from the pool: session state such as locks
/// and `LISTEN` must not leak to other users), with a task that turns
/// notifications, and the connection's end, into wake-ups.
pub(crate) struct Listener {
    client: Client,
    statements: StatementCache,
    channel: String,
    wake: Arc<Notify>,
    driver: JoinHandle<()>,
}

impl Listener {
    /// Connects as `application_name`, which names the connection in
    /// `pg_stat_activity`, to listen on `channel`.
    pub(crate) async fn connect(
        config: &tokio_postgres::Config,
        tls: MakeRustlsConnect,
        channel: String,
        application_name: &str,
    ) -> Result<Self, Error> {
        let mut config = config.clone();
        config.application_name(application_name);
        // A silently dropped network would otherwise keep the lock, and the
        // standbys waiting, until the operating system gives up (hours).
        config
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        let (client, mut connection) = config.connect(tls).await.map_err(|e| PgError::connecting(e, &config))?;
        let wake = Arc::new(Notify::new());
        let wake_on_message = Arc::clone(&wake);
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(_)) => wake_on_message.notify_one(),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            // The connection is gone: wake the runner so that its next
            // query reports it.
            wake_on_message.notify_one();
        });
        Ok(Listener { client, statements: StatementCache::default(), channel, wake, driver })
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Prepares `sql` on this connection the first time, and returns the
    /// same statement afterwards.
    pub(crate) async fn prepare_cached(&self, sql: &str) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        self.statements.prepare(&self.client, sql).await
    }

    /// The connection, to open transactions on, and the statements
    /// prepared on it.
    pub(crate) fn parts(&mut self) -> (&mut Client, &StatementCache) {
        (&mut self.client, &self.statements)
    }

    /// Tries to take the session advisory lock `key`; it is held until this
    /// connection closes.
    pub(crate) async fn try_lock(&self, key: i64) -> Result<bool, Error> {
        let row = self.client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]).await?;
        Ok(row.try_get(0)?)
    }

    /// Releases the session's advisory locks and closes the connection, so
    /// that a standby can take over at once rather than when the server
    /// notices the connection is gone. Best effort: a dead connection
    /// holds nothing.
    pub(crate) async fn close(self) {
        let _ = self.client.batch_execute("SELECT pg_advisory_unlock_all()").await;
    }

    /// Subscribes to the notifications of its channel.
    pub(crate) async fn listen(&self) -> Result<(), Error> {
        let sql = format!("LISTEN \"{}\"", self.channel);
        Ok(self.client.batch_execute(&sql).await?)
    }

    /// Resolves at the next notification, or at once if one arrived since
    /// the last call.
    pub(crate) async fn notified(&self) {
        self.wake.notified().await;
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").field("channel", &self.channel).field("closed", &self.client.is_closed()).finish()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
