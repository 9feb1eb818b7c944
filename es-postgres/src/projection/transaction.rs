//! The transaction a projection handler writes its read model in.

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Mutex;

use tokio_postgres::{Error, Statement, Transaction};

/// Statements prepared on one connection, by SQL text.
#[derive(Debug, Default)]
pub(crate) struct StatementCache(Mutex<HashMap<String, Statement>>);

/// The transaction that also advances a projection's checkpoint: what a
/// handler writes here commits with the checkpoint or not at all.
///
/// It dereferences to [`tokio_postgres::Transaction`] for queries, and adds
/// [`prepare_cached`](Self::prepare_cached) so that a handler called once per
/// event pays the statement's preparation once per runner, not per call.
pub struct PgTransaction<'a> {
    tx: Transaction<'a>,
    statements: &'a StatementCache,
}

impl<'a> PgTransaction<'a> {
    pub(crate) fn new(tx: Transaction<'a>, statements: &'a StatementCache) -> Self {
        PgTransaction { tx, statements }
    }

    /// Prepares `sql` on the runner's connection the first time it is
    /// asked for, and returns the same statement afterwards.
    pub async fn prepare_cached(&self, sql: &str) -> Result<Statement, Error> {
        let cached = self.statements.0.lock().unwrap_or_else(|p| p.into_inner()).get(sql).cloned();
        if let Some(statement) = cached {
            return Ok(statement);
        }
        let statement = self.tx.prepare(sql).await?;
        self.statements.0.lock().unwrap_or_else(|p| p.into_inner()).insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub(crate) async fn commit(self) -> Result<(), Error> {
        self.tx.commit().await
    }
}

impl fmt::Debug for PgTransaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTransaction").finish_non_exhaustive()
    }
}

impl<'a> Deref for PgTransaction<'a> {
    type Target = Transaction<'a>;

    fn deref(&self) -> &Transaction<'a> {
        &self.tx
    }
}
