//! Appending events to a stream, on a pooled connection or inside a
//! transaction the caller holds: one statement, the expected version
//! checked in it, a lost race turned into a typed conflict.

use std::future::Future;
use std::time::SystemTime;

use es_core::{
    Appended, EncodedEvent, ExpectedVersion, Metadata, Position, RecordedEvent, StoreError, check_aggregate_type,
};
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{Error, GenericClient, Row, Statement, Transaction};

use crate::error::{is_unique_violation, store_error};
use crate::json::JsonParam;
use crate::schema::Statements;
use crate::xid8::Xid8;

const UNIQUE_STREAM_VERSION: &str = "events_stream_version";

const UNIQUE_COMMAND: &str = "commands_once";

/// How often an append with [`ExpectedVersion::Any`] is tried when other
/// writers keep taking the stream's next version, before it reports the
/// conflict.
const ANY_APPEND_ATTEMPTS: u32 = 64;

/// Where an append runs.
pub(crate) trait Session: Sync {
    /// The connection or transaction the statements run on.
    type Client: GenericClient + Sync;

    /// Whether the statements run inside the caller's transaction, where a
    /// failed statement would abort it: each attempt then runs under a
    /// savepoint, so that a conflict leaves the transaction usable.
    const IN_TRANSACTION: bool;

    fn client(&self) -> &Self::Client;

    fn prepare(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send;
}

impl Session for deadpool_postgres::Client {
    type Client = tokio_postgres::Client;
    const IN_TRANSACTION: bool = false;

    fn client(&self) -> &tokio_postgres::Client {
        self
    }

    fn prepare(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        self.prepare_cached(sql)
    }
}

impl Session for Transaction<'_> {
    type Client = Self;
    const IN_TRANSACTION: bool = true;

    fn client(&self) -> &Self {
        self
    }

    fn prepare(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        Transaction::prepare(self, sql)
    }
}

/// What to append.
pub(crate) struct Append<'a> {
    pub(crate) aggregate_type: &'a str,
    pub(crate) stream_id: &'a str,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<EncodedEvent>,
    pub(crate) metadata: &'a Metadata,
}

/// Appends on `session`; inside the caller's transaction, notifies
/// `channel` so that projection runners wake once it commits (on a pooled
/// connection the store's notifier does, for many appends at once). The
/// stream id is already validated.
pub(crate) async fn append<S: Session>(
    session: &S,
    sql: &Statements,
    channel: &str,
    append: Append<'_>,
) -> Result<Appended, StoreError> {
    let Append { aggregate_type, stream_id, expected, events, metadata } = append;
    // One event at an exact version (a command's append) takes the lean
    // statement; anything else, and a command with an id to record, the
    // general one.
    let command_id = metadata.command_id.as_deref().filter(|_| !events.is_empty());
    let one = events.len() == 1 && expected != ExpectedVersion::Any && command_id.is_none();
    let sql_text = if one { &sql.append_one } else { &sql.append };
    let statement = session.prepare(sql_text).await.map_err(store_error)?;
    // A version beyond `i64::MAX` cannot be the head of any stream: -1
    // never matches, so the statement reports the actual version.
    let expected_sql: Option<i64> = match expected {
        ExpectedVersion::Any => None,
        ExpectedVersion::NoStream => Some(0),
        ExpectedVersion::Exact(v) => Some(i64::try_from(v).unwrap_or(-1)),
    };
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    let versions = events
        .iter()
        .map(|e| i32::try_from(e.schema_version))
        .collect::<Result<Vec<i32>, _>>()
        .map_err(|_| invalid_input("an event's schema version", i32::MAX))?;
    let payloads: Vec<JsonParam<'_>> = events.iter().map(|e| JsonParam(&e.payload)).collect();
    let metadata_sql = Json(metadata);
    let params: Vec<&(dyn ToSql + Sync)> = match (one, names.first(), versions.first(), payloads.first()) {
        (true, Some(name), Some(version), Some(payload)) => {
            vec![&stream_id, &aggregate_type, &expected_sql, name, version, payload, &metadata_sql]
        }
        _ => vec![&stream_id, &aggregate_type, &expected_sql, &names, &versions, &payloads, &metadata_sql, &command_id],
    };
    let client = session.client();
    let mut collisions = 0;
    let refuse = || refused(session, sql, aggregate_type, stream_id, expected);
    let rows = loop {
        // In the caller's transaction the notification is pipelined behind
        // the append and sent at its commit.
        let appended = if S::IN_TRANSACTION {
            let notify = session.prepare("SELECT pg_notify($1, '')").await.map_err(store_error)?;
            let (savepoint, appended, _) = futures_util::future::join3(
                client.batch_execute("SAVEPOINT es_append"),
                client.query(&statement, &params),
                client.execute(&notify, &[&channel]),
            )
            .await;
            savepoint.map_err(store_error)?;
            appended
        } else {
            client.query(&statement, &params).await
        };
        // A refused statement leaves the caller's transaction usable, to
        // try again or to go on without the events.
        if S::IN_TRANSACTION && appended.is_err() {
            client.batch_execute("ROLLBACK TO SAVEPOINT es_append").await.map_err(store_error)?;
        }
        match appended {
            Ok(rows) => break rows,
            // The command was appended before.
            Err(e) if is_unique_violation(&e, UNIQUE_COMMAND) => {
                let (stream_id, command_id) = (stream_id.to_owned(), command_id.unwrap_or_default().to_owned());
                return Err(StoreError::DuplicateCommand { stream_id, command_id });
            }
            // Another writer took the versions after the head we read.
            Err(e) if is_unique_violation(&e, UNIQUE_STREAM_VERSION) => {
                // With `Any` the append is simply tried again on the new
                // head, a bounded number of times.
                collisions += 1;
                if expected == ExpectedVersion::Any && collisions < ANY_APPEND_ATTEMPTS {
                    continue;
                }
                return Err(refuse().await);
            }
            Err(e) => return Err(store_error(e)),
        }
    };
    if S::IN_TRANSACTION {
        client.batch_execute("RELEASE SAVEPOINT es_append").await.map_err(store_error)?;
    }
    let Some(first) = rows.first() else {
        // Only the lean statement inserts nothing: the stream has no
        // event of this aggregate type at the expected version.
        return Err(refuse().await);
    };
    let actual = non_negative(first, 0)?;
    let inserted = first.try_get::<_, Option<i64>>(1).map_err(store_error)?.is_some();
    if !inserted {
        // Only the general statement: it returns the stream's aggregate type.
        let actual_type = first.try_get::<_, Option<&str>>(5).map_err(store_error)?;
        let same_type = actual_type.is_none_or(|t| t == aggregate_type);
        return if same_type && events.is_empty() && expected.admits(actual) {
            Ok(Appended { stream_version: actual, events: Vec::new() })
        } else {
            Err(refusal(aggregate_type, stream_id, expected, actual, actual_type))
        };
    }
    if rows.len() != events.len() {
        return Err(StoreError::Backend(
            format!("append of {} events returned {} rows", events.len(), rows.len()).into(),
        ));
    }
    let mut recorded = Vec::with_capacity(events.len());
    for (row, event) in rows.iter().zip(events) {
        let number = |i: usize| -> Result<u64, StoreError> {
            let v: i64 = row.try_get(i).map_err(store_error)?;
            u64::try_from(v).map_err(|e| StoreError::Backend(Box::new(e)))
        };
        let recorded_at: SystemTime = row.try_get(4).map_err(store_error)?;
        let Xid8(commit) = row.try_get(2).map_err(store_error)?;
        recorded.push(RecordedEvent {
            aggregate_type: aggregate_type.to_owned(),
            stream_id: stream_id.to_owned(),
            version: number(3)?,
            position: Position::new(commit, number(1)?),
            recorded_at,
            event,
            metadata: metadata.clone(),
        });
    }
    let stream_version = recorded.last().map_or(actual, |e| e.version);
    Ok(Appended { stream_version, events: recorded })
}

/// Why an append that inserted nothing was refused, read from the
/// stream's head.
async fn refused<S: Session>(
    session: &S,
    sql: &Statements,
    aggregate_type: &str,
    stream_id: &str,
    expected: ExpectedVersion,
) -> StoreError {
    let head = async {
        let statement = session.prepare(&sql.stream_version).await.map_err(store_error)?;
        let Some(row) = session.client().query_opt(&statement, &[&stream_id]).await.map_err(store_error)? else {
            return Ok(refusal(aggregate_type, stream_id, expected, 0, None));
        };
        let actual_type: &str = row.try_get(1).map_err(store_error)?;
        Ok(refusal(aggregate_type, stream_id, expected, non_negative(&row, 0)?, Some(actual_type)))
    };
    head.await.unwrap_or_else(|error| error)
}

/// Why a stream whose head is at version `actual`, of aggregate type
/// `actual_type` (none for a new stream), refuses an append as
/// `aggregate_type` expecting `expected`: another type first, then another
/// version.
fn refusal(
    aggregate_type: &str,
    stream_id: &str,
    expected: ExpectedVersion,
    actual: u64,
    actual_type: Option<&str>,
) -> StoreError {
    match actual_type.map(|t| check_aggregate_type(aggregate_type, stream_id, t)) {
        Some(Err(wrong_type)) => wrong_type,
        _ => StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual },
    }
}

/// Column `index` of `row`, a version: 0 when negative.
fn non_negative(row: &Row, index: usize) -> Result<u64, StoreError> {
    let v: i64 = row.try_get(index).map_err(store_error)?;
    Ok(u64::try_from(v).unwrap_or(0))
}

/// A number beyond what its column holds.
pub(crate) fn invalid_input(what: &str, max: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidInput { reason: format!("{what} is larger than PostgreSQL stores ({max} at most)") }
}
