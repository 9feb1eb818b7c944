//! Appending events to a stream, on a pooled connection or inside a
//! transaction the caller holds, in named steps: validate what is asked,
//! run the statement that checks the expected version, inserts and records
//! the command (one round trip), then turn its rows into the outcome. A
//! lost race becomes a typed conflict.

use std::time::SystemTime;

use es_core::backend::{check_aggregate_type, check_event};
use es_core::{Appended, EncodedEvent, ExpectedVersion, Metadata, Position, RecordedEvent, validate_stream_id};
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{GenericClient, Row};

use crate::codec::convert::{exact, stored32, unsigned};
use crate::codec::json::JsonParam;
use crate::codec::xid8::Xid8;
use crate::connection::Executor;
use crate::error::{Error, is_unique_violation};
use crate::schema::Schema;

const UNIQUE_STREAM_VERSION: &str = "events_stream_version";

const UNIQUE_COMMAND: &str = "commands_once";

const UNIQUE_COMMAND_IN_STORE: &str = "commands_once_per_store";

/// How often an append with [`ExpectedVersion::Any`] is tried when other
/// writers keep taking the stream's next version, before it reports the
/// conflict.
const ANY_APPEND_ATTEMPTS: u32 = 64;

/// What to append.
pub(crate) struct Append<'a> {
    pub(crate) aggregate_type: &'a str,
    pub(crate) stream_id: &'a str,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<EncodedEvent>,
    pub(crate) metadata: &'a Metadata,
    /// The largest payload taken, in bytes.
    pub(crate) max_event_size: usize,
}

/// Appends on `on`. Inside the caller's transaction it notifies the
/// projection runners at its commit; on a pooled connection the store's
/// notifier does, for many appends at once.
pub(crate) async fn append<E: Executor>(on: &E, schema: &Schema, append: Append<'_>) -> Result<Appended, Error> {
    let params = Params::validate(&append)?;
    let rows = run(on, schema, &append, &params).await?;
    recorded(on, schema, append, &rows).await
}

/// The statement's parameters, checked before anything is sent.
struct Params<'a> {
    /// One event at an exact version, without a command id: the lean
    /// statement of a command's append.
    one: bool,
    expected: Option<i64>,
    names: Vec<&'a str>,
    schema_versions: Vec<i32>,
    payloads: Vec<JsonParam<'a>>,
    metadata: Json<&'a Metadata>,
    command_id: Option<&'a str>,
}

impl<'a> Params<'a> {
    fn validate(append: &'a Append<'_>) -> Result<Self, Error> {
        validate_stream_id(append.stream_id)?;
        let events = &append.events;
        for event in events {
            check_event(event, append.stream_id, append.max_event_size)?;
        }
        let command_id = append.metadata.command_id.as_deref().filter(|_| !events.is_empty());
        let schema_versions = events
            .iter()
            .map(|e| stored32(e.schema_version, "an event's schema version"))
            .collect::<Result<Vec<i32>, _>>()?;
        Ok(Params {
            one: events.len() == 1 && append.expected != ExpectedVersion::Any && command_id.is_none(),
            expected: match append.expected {
                ExpectedVersion::Any => None,
                ExpectedVersion::NoStream => Some(0),
                // A version no stream can be at never matches: the
                // statement reports the actual version.
                ExpectedVersion::Exact(v) => Some(exact(v)),
            },
            names: events.iter().map(|e| e.name.as_str()).collect(),
            schema_versions,
            payloads: events.iter().map(|e| JsonParam(&e.payload)).collect(),
            metadata: Json(append.metadata),
            command_id,
        })
    }

    fn template(&self) -> &'static str {
        match self.one {
            true => include_str!("sql/append_one.sql"),
            false => include_str!("sql/append.sql"),
        }
    }

    fn list<'p>(&'p self, append: &'p Append<'_>) -> Vec<&'p (dyn ToSql + Sync)> {
        let (stream_id, aggregate_type) = (&append.stream_id, &append.aggregate_type);
        match (self.one, self.names.first(), self.schema_versions.first(), self.payloads.first()) {
            (true, Some(name), Some(version), Some(payload)) => {
                vec![stream_id, aggregate_type, &self.expected, name, version, payload, &self.metadata]
            }
            _ => vec![
                stream_id,
                aggregate_type,
                &self.expected,
                &self.names,
                &self.schema_versions,
                &self.payloads,
                &self.metadata,
                &self.command_id,
            ],
        }
    }
}

/// Runs the statement until it is not refused by another writer's
/// collision (bounded, for `Any`), and returns its rows. Inside the
/// caller's transaction each try runs under a savepoint, so a refusal
/// leaves the transaction usable, and the notification is pipelined
/// behind it, sent at the transaction's commit.
async fn run<E: Executor>(
    on: &E,
    schema: &Schema,
    append: &Append<'_>,
    params: &Params<'_>,
) -> Result<Vec<Row>, Error> {
    let statement = on.prepare(&schema.sql(params.template())).await?;
    let list = params.list(append);
    let client = on.client();
    let mut collisions = 0;
    loop {
        let tried = if E::IN_TRANSACTION {
            let notify = on.prepare("SELECT pg_notify($1, '')").await?;
            let channel = schema.events_channel();
            let (savepoint, tried, _) = futures_util::future::join3(
                client.batch_execute("SAVEPOINT es_append"),
                client.query(&statement, &list),
                client.execute(&notify, &[&channel]),
            )
            .await;
            savepoint?;
            let release = if tried.is_ok() { "RELEASE SAVEPOINT es_append" } else { "ROLLBACK TO SAVEPOINT es_append" };
            client.batch_execute(release).await?;
            tried
        } else {
            client.query(&statement, &list).await
        };
        match tried {
            Ok(rows) => return Ok(rows),
            // The command was appended before, to this stream or another.
            Err(e) if is_unique_violation(&e, UNIQUE_COMMAND) || is_unique_violation(&e, UNIQUE_COMMAND_IN_STORE) => {
                let (stream_id, command_id) = (append.stream_id.to_owned(), params.command_id.unwrap_or_default());
                let sql = schema.sql(include_str!("sql/command_stream.sql"));
                let committed_on: Option<String> = on.fetch_optional(&sql, &[&command_id]).await?.map(|r| r.get(0));
                return Err(match committed_on {
                    Some(committed_on) if committed_on != stream_id => {
                        let command_id = command_id.to_owned();
                        Error::CommandIdTaken { stream_id, command_id, committed_on }
                    }
                    _ => Error::DuplicateCommand { stream_id, command_id: command_id.to_owned() },
                });
            }
            // Another writer took the versions after the head we read: with
            // `Any` the append is tried again on the new head.
            Err(e) if is_unique_violation(&e, UNIQUE_STREAM_VERSION) => {
                collisions += 1;
                if append.expected == ExpectedVersion::Any && collisions < ANY_APPEND_ATTEMPTS {
                    continue;
                }
                return Err(refused(on, schema, append).await);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The outcome the statement's rows tell: the events as recorded, or why
/// nothing was appended.
async fn recorded<E: Executor>(on: &E, schema: &Schema, append: Append<'_>, rows: &[Row]) -> Result<Appended, Error> {
    let Append { aggregate_type, stream_id, expected, events, metadata, max_event_size } = append;
    let Some(first) = rows.first() else {
        // Only the lean statement inserts nothing: the stream has no event
        // of this aggregate type at the expected version.
        return Err(refused(
            on,
            schema,
            &Append { aggregate_type, stream_id, expected, events, metadata, max_event_size },
        )
        .await);
    };
    let actual = unsigned(first.try_get(0)?, "version", stream_id, 0)?;
    if first.try_get::<_, Option<i64>>(1)?.is_none() {
        // Only the general statement: it returns the stream's aggregate type.
        let actual_type = first.try_get::<_, Option<&str>>(5)?;
        let later = first.try_get::<_, bool>(6)?;
        let same_type = actual_type.is_none_or(|t| t == aggregate_type);
        return if same_type && events.is_empty() && expected.admits(actual) {
            Ok(Appended { stream_version: actual, events: Vec::new() })
        } else {
            Err(refusal(aggregate_type, stream_id, expected, (actual, later), actual_type))
        };
    }
    if rows.len() != events.len() {
        return Err(Error::Unexpected(format!("append of {} events returned {} rows", events.len(), rows.len())));
    }
    let mut recorded = Vec::with_capacity(events.len());
    for (row, event) in rows.iter().zip(events) {
        let version = unsigned(row.try_get(3)?, "version", stream_id, 0)?;
        let Xid8(commit) = row.try_get(2)?;
        let position = unsigned(row.try_get(1)?, "position", stream_id, version)?;
        let recorded_at: SystemTime = row.try_get(4)?;
        recorded.push(RecordedEvent {
            aggregate_type: aggregate_type.to_owned(),
            stream_id: stream_id.to_owned(),
            version,
            position: Position::new(commit, position),
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
async fn refused<E: Executor>(on: &E, schema: &Schema, append: &Append<'_>) -> Error {
    let Append { aggregate_type, stream_id, expected, .. } = *append;
    let head = async {
        let statement = on.prepare(&schema.sql(include_str!("sql/stream_version.sql"))).await?;
        let Some(row) = on.client().query_opt(&statement, &[&stream_id]).await? else {
            return Ok(refusal(aggregate_type, stream_id, expected, (0, false), None));
        };
        let actual_type: &str = row.try_get(1)?;
        let actual = unsigned(row.try_get(0)?, "version", stream_id, 0)?;
        let later: bool = row.try_get(2)?;
        Ok::<_, Error>(refusal(aggregate_type, stream_id, expected, (actual, later), Some(actual_type)))
    };
    head.await.unwrap_or_else(|error| error)
}

/// Why a stream whose head is at version `actual` (from a transaction
/// that started writing later, when `later`), of aggregate type
/// `actual_type` (none for a new stream), refuses an append as
/// `aggregate_type` expecting `expected`: another type first, then another
/// version, then a head from a later transaction.
fn refusal(
    aggregate_type: &str,
    stream_id: &str,
    expected: ExpectedVersion,
    (actual, later): (u64, bool),
    actual_type: Option<&str>,
) -> Error {
    match actual_type.map(|t| check_aggregate_type(aggregate_type, stream_id, t)) {
        Some(Err(wrong_type)) => wrong_type.into(),
        _ if !expected.admits(actual) => Error::Conflict { stream_id: stream_id.to_owned(), expected, actual },
        _ if later => Error::OutOfOrder { stream_id: stream_id.to_owned(), actual },
        _ => Error::Conflict { stream_id: stream_id.to_owned(), expected, actual },
    }
}
