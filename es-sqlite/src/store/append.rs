//! Appending events to a stream: checked, then written in one write
//! transaction that holds the file's write lock from its start, so that the
//! stream's head it reads stays its head until the events are in.

use std::time::SystemTime;

use es_core::backend::{check_aggregate_type, check_event};
use es_core::{Appended, EncodedEvent, ExpectedVersion, Metadata, Position, RecordedEvent, validate_stream_id};
use rusqlite::{OptionalExtension, Transaction};

use crate::codec::{stored, time_from_sql, time_to_sql, unsigned};
use crate::error::Error;

/// What to append, owned, to move to the blocking pool.
pub(crate) struct Append {
    pub(crate) aggregate_type: String,
    pub(crate) stream_id: String,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<EncodedEvent>,
    pub(crate) metadata: Metadata,
}

impl Append {
    /// Refuses what no store can take before anything is written.
    pub(crate) fn validate(&self, max_event_size: usize) -> Result<(), Error> {
        validate_stream_id(&self.stream_id)?;
        for event in &self.events {
            check_event(event, &self.stream_id, max_event_size)?;
            if event.schema_version == 0 {
                return Err(Error::InvalidInput("an event's schema version is 0; versions start at 1".into()));
            }
        }
        Ok(())
    }

    /// Appends inside `tx`, a write transaction: the steps are read the
    /// head, check it (aggregate type, command id, expected version), then
    /// insert the events and record the command.
    pub(crate) fn run(self, tx: &Transaction<'_>) -> Result<Appended, Error> {
        let Append { aggregate_type, stream_id, expected, events, metadata } = self;
        let head: Option<(i64, String)> = tx
            .prepare_cached(include_str!("sql/head.sql"))?
            .query_row([&stream_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((_, actual_type)) = &head {
            check_aggregate_type(&aggregate_type, &stream_id, actual_type)?;
        }
        let actual = head.map_or(Ok(0), |(version, _)| unsigned(version, "version", &stream_id, 0))?;
        let command_id = metadata.command_id.as_deref().filter(|_| !events.is_empty());
        if let Some(command_id) = command_id {
            let committed_on: Option<String> = tx
                .prepare_cached(include_str!("sql/command_stream.sql"))?
                .query_row((command_id, &stream_id), |row| row.get(0))
                .optional()?;
            let command_id = command_id.to_owned();
            match committed_on {
                Some(on) if on == stream_id => return Err(Error::DuplicateCommand { stream_id, command_id }),
                Some(committed_on) => return Err(Error::CommandIdTaken { stream_id, command_id, committed_on }),
                None => {}
            }
        }
        if !expected.admits(actual) {
            return Err(Error::Conflict { stream_id, expected, actual });
        }
        if events.is_empty() {
            return Ok(Appended { stream_version: actual, events: Vec::new() });
        }
        let last_tx: Option<i64> =
            tx.prepare_cached(include_str!("sql/last_tx.sql"))?.query_row([], |r| r.get(0)).optional()?;
        let commit = last_tx.unwrap_or(0) + 1;
        // As stored: to the microsecond, so that what the append returns is
        // what a read returns.
        let recorded_at = time_from_sql(time_to_sql(SystemTime::now()));
        let metadata_json =
            serde_json::to_string(&metadata).map_err(|e| Error::InvalidInput(format!("metadata: {e}")))?;
        let mut insert = tx.prepare_cached(include_str!("sql/insert_event.sql"))?;
        let mut recorded = Vec::with_capacity(events.len());
        for (offset, event) in events.into_iter().enumerate() {
            let version = actual + 1 + offset as u64;
            insert.execute((
                commit,
                &aggregate_type,
                &stream_id,
                stored(version, "a version")?,
                &event.name,
                i64::from(event.schema_version),
                event.payload.as_str(),
                &metadata_json,
                time_to_sql(recorded_at),
            ))?;
            let position = unsigned(tx.last_insert_rowid(), "position", &stream_id, version)?;
            recorded.push(RecordedEvent {
                aggregate_type: aggregate_type.clone(),
                stream_id: stream_id.clone(),
                version,
                position: Position::new(unsigned(commit, "tx", &stream_id, version)?, position),
                recorded_at,
                event,
                metadata: metadata.clone(),
            });
        }
        let stream_version = actual + recorded.len() as u64;
        if let Some(command_id) = command_id {
            tx.prepare_cached(include_str!("sql/record_command.sql"))?.execute((
                &stream_id,
                command_id,
                stored(actual + 1, "a version")?,
                stored(stream_version, "a version")?,
                time_to_sql(recorded_at),
            ))?;
        }
        Ok(Appended { stream_version, events: recorded })
    }
}
