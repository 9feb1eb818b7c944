//! The transaction a projection handler writes its read model in.

use std::fmt;
use std::ops::Deref;

use tokio_postgres::{Error, Statement, Transaction};

use crate::connection::StatementCache;

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
        self.statements.prepare(&self.tx, sql).await
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
