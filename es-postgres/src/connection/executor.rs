//! [`Executor`]: where a statement runs — a pooled connection, the
//! caller's transaction, a runner's transaction or its own connection —
//! so that each query is written once for all of them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, GenericClient, Row, RowStream, Statement, Transaction};

use crate::connection::listener::Listener;
use crate::projection::PgTransaction;

/// A connection or transaction that statements run on.
pub(crate) trait Executor: Sync {
    /// The driver's client the statements run on.
    type Client: GenericClient + Sync;

    /// Whether the statements run inside a transaction the caller holds,
    /// where a failed statement would abort it: a write that may fail then
    /// runs under a savepoint, so that its failure leaves the transaction
    /// usable.
    const IN_TRANSACTION: bool;

    fn client(&self) -> &Self::Client;

    /// Prepares `sql`, once per connection where the executor can keep it.
    fn prepare(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send;

    /// Runs `sql` and returns its rows.
    fn fetch_all<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send + 'a {
        async move { self.client().query(&self.prepare(sql).await?, params).await }
    }

    /// Runs `sql`, which returns exactly one row.
    fn fetch_one<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Row, Error>> + Send + 'a {
        async move { self.client().query_one(&self.prepare(sql).await?, params).await }
    }

    /// Runs `sql`, which returns at most one row.
    fn fetch_optional<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send + 'a {
        async move { self.client().query_opt(&self.prepare(sql).await?, params).await }
    }

    /// Runs `sql` and returns how many rows it changed.
    fn run<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<u64, Error>> + Send + 'a {
        async move { self.client().execute(&self.prepare(sql).await?, params).await }
    }

    /// Runs `sql` and returns its rows as they arrive, to decode them while
    /// the server still sends.
    fn fetch_stream<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<RowStream, Error>> + Send + 'a {
        async move { self.client().query_raw(&self.prepare(sql).await?, params.iter().copied()).await }
    }
}

impl Executor for deadpool_postgres::Client {
    type Client = tokio_postgres::Client;
    const IN_TRANSACTION: bool = false;

    fn client(&self) -> &tokio_postgres::Client {
        self
    }

    fn prepare(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        self.prepare_cached(sql)
    }
}

impl Executor for Transaction<'_> {
    type Client = Self;
    const IN_TRANSACTION: bool = true;

    fn client(&self) -> &Self {
        self
    }

    fn prepare(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        Transaction::prepare(self, sql)
    }
}

/// A runner's transaction: its writes commit with the checkpoint, and a
/// failed statement fails the unit of work anyway.
impl<'a> Executor for PgTransaction<'a> {
    type Client = Transaction<'a>;
    const IN_TRANSACTION: bool = false;

    fn client(&self) -> &Transaction<'a> {
        self
    }

    fn prepare(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        self.prepare_cached(sql)
    }
}

/// A runner's own connection, outside any transaction.
impl Executor for Listener {
    type Client = tokio_postgres::Client;
    const IN_TRANSACTION: bool = false;

    fn client(&self) -> &tokio_postgres::Client {
        Listener::client(self)
    }

    fn prepare(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        self.prepare_cached(sql)
    }
}

/// Statements prepared on one connection outside the pool, by SQL text.
#[derive(Debug, Default)]
pub(crate) struct StatementCache(Mutex<HashMap<String, Statement>>);

impl StatementCache {
    /// Prepares `sql` with `client` the first time, and returns the same
    /// statement afterwards.
    pub(crate) async fn prepare(&self, client: &impl GenericClient, sql: &str) -> Result<Statement, Error> {
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(sql).cloned();
        if let Some(statement) = cached {
            return Ok(statement);
        }
        let statement = client.prepare(sql).await?;
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}
