//! [`StoreAdmin`] for a [`SqliteEventStore`]: what the command line and the
//! console read of it, with the SQL beside it. Its checkpoints are the
//! [`SqliteTarget`](crate::SqliteTarget) of the same file's.

use std::time::SystemTime;

use es_core::admin::{
    AdminFuture, Backlog, Location, ScannedEvent, StoreAdmin, StoreStatus, StreamFilter, StreamInfo, StreamSummary,
};
use es_core::{
    AggregateTypes, EncodedEvent, EventStore, Page, Payload, Position, RecordedEvent, Snapshot, StoreError, StreamRange,
};
use rusqlite::{OptionalExtension, Transaction};

use crate::codec::{bound, time_from_sql, time_to_sql, unsigned};
use crate::error::Error;
use crate::store::{SqliteEventStore, read};

/// Where the statements here read, for the errors about their rows.
const STORE: &str = "<store>";

impl SqliteEventStore {
    /// Runs `read` in one read transaction; its error becomes the tools'.
    fn admin<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Transaction<'_>) -> Result<T, Error> + Send + 'static,
    ) -> AdminFuture<'_, T> {
        Box::pin(async move { Ok(self.db.read(read).await.map_err(StoreError::from)?) })
    }
}

fn summary(stream_id: String, aggregate_type: String, version: i64, recorded_at: i64) -> Result<StreamSummary, Error> {
    let version = unsigned(version, "version", &stream_id, 0)?;
    Ok(StreamSummary { stream_id, aggregate_type, version, last_recorded_at: time_from_sql(recorded_at) })
}

impl StoreAdmin for SqliteEventStore {
    fn location(&self) -> Location {
        Location { kind: "file", name: self.path().map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string()) }
    }

    fn exists(&self) -> AdminFuture<'_, bool> {
        // Opening the file created the store.
        Box::pin(async { Ok(true) })
    }

    fn status(&self) -> AdminFuture<'_, StoreStatus> {
        self.admin(|tx| {
            let (events, streams, bytes): (i64, i64, i64) = tx
                .prepare_cached(include_str!("admin/sql/status.sql"))?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(StoreStatus {
                events: unsigned(events, "events", STORE, 0)?,
                streams: unsigned(streams, "streams", STORE, 0)?,
                head: read::head(tx)?,
                size_bytes: Some(unsigned(bytes, "bytes", STORE, 0)?),
                // Readers see every commit at once: nothing is held back.
                read_lag: None,
            })
        })
    }

    fn streams<'a>(&'a self, filter: &'a StreamFilter) -> AdminFuture<'a, Vec<StreamSummary>> {
        let filter = filter.clone();
        self.admin(move |tx| {
            let mut statement = tx.prepare_cached(include_str!("admin/sql/streams.sql"))?;
            let params = (&filter.prefix, &filter.after, &filter.aggregate_type, bound(filter.limit as u64));
            let mut rows = statement.query(params)?;
            let mut streams = Vec::new();
            while let Some(r) = rows.next()? {
                streams.push(summary(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)?);
            }
            Ok(streams)
        })
    }

    fn stream<'a>(&'a self, stream_id: &'a str) -> AdminFuture<'a, Option<StreamInfo>> {
        let stream_id = stream_id.to_owned();
        self.admin(move |tx| {
            let row = tx
                .prepare_cached(include_str!("admin/sql/stream.sql"))?
                .query_row([&stream_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
                })
                .optional()?;
            let Some((aggregate_type, version, last, first)) = row else { return Ok(None) };
            let summary = summary(stream_id, aggregate_type, version, last)?;
            Ok(Some(StreamInfo { summary, first_recorded_at: time_from_sql(first) }))
        })
    }

    fn version_at<'a>(&'a self, stream_id: &'a str, time: SystemTime) -> AdminFuture<'a, Option<u64>> {
        let stream_id = stream_id.to_owned();
        self.admin(move |tx| {
            let version: Option<i64> = tx
                .prepare_cached(include_str!("admin/sql/version_at.sql"))?
                .query_row((&stream_id, time_to_sql(time)), |r| r.get(0))?;
            version.map(|v| unsigned(v, "version", &stream_id, 0)).transpose()
        })
    }

    fn read_stream<'a>(&'a self, stream_id: &'a str, range: StreamRange) -> AdminFuture<'a, Vec<RecordedEvent>> {
        Box::pin(async move { Ok(EventStore::read_stream(self, stream_id, range).await?) })
    }

    fn read_stream_events<'a>(
        &'a self,
        aggregate_type: &'a str,
        stream_id: &'a str,
        range: StreamRange,
    ) -> AdminFuture<'a, Vec<(u64, EncodedEvent)>> {
        Box::pin(async move { Ok(EventStore::read_stream_events(self, aggregate_type, stream_id, range).await?) })
    }

    fn load_snapshot<'a>(&'a self, stream_id: &'a str) -> AdminFuture<'a, Option<Snapshot>> {
        Box::pin(async move { Ok(EventStore::load_snapshot(self, stream_id).await?) })
    }

    fn read_types<'a>(&'a self, after: Position, limit: usize, types: &'a AggregateTypes) -> AdminFuture<'a, Page> {
        Box::pin(async move { Ok(EventStore::read_types(self, after, limit, types).await?) })
    }

    fn tail_start<'a>(&'a self, aggregate_type: Option<&'a str>, last: usize) -> AdminFuture<'a, Position> {
        let aggregate_type = aggregate_type.map(str::to_owned);
        self.admin(move |tx| {
            let row = tx
                .prepare_cached(include_str!("admin/sql/tail_start.sql"))?
                .query_row((&aggregate_type, bound(last as u64)), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .optional()?;
            let Some((commit, position)) = row else { return Ok(Position::START) };
            Ok(Position::new(unsigned(commit, "tx", STORE, 0)?, unsigned(position, "position", STORE, 0)?))
        })
    }

    fn backlog(&self, after: Position) -> AdminFuture<'_, Backlog> {
        self.admin(move |tx| {
            let (events, oldest): (i64, Option<i64>) = tx
                .prepare_cached(include_str!("admin/sql/backlog.sql"))?
                .query_row([bound(after.sequence)], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(Backlog { events: unsigned(events, "count", STORE, 0)?, oldest_recorded_at: oldest.map(time_from_sql) })
        })
    }

    fn scan<'a>(&'a self, after: Option<(&'a str, u64)>, limit: usize) -> AdminFuture<'a, Vec<ScannedEvent>> {
        let (stream_id, version) = after.map_or((String::new(), 0), |(s, v)| (s.to_owned(), bound(v)));
        self.admin(move |tx| {
            let mut statement = tx.prepare_cached(include_str!("admin/sql/scan.sql"))?;
            let mut rows = statement.query((&stream_id, version, bound(limit as u64)))?;
            let mut scanned = Vec::new();
            while let Some(r) = rows.next()? {
                let stream_id: String = r.get(0)?;
                let version = unsigned(r.get(1)?, "version", &stream_id, 0)?;
                let schema_version = u32::try_from(r.get::<_, i64>(4)?)
                    .map_err(|e| crate::codec::corrupt(&stream_id, version, "event_version", e))?;
                let event = EncodedEvent { name: r.get(3)?, schema_version, payload: Payload::from_json(r.get(5)?) };
                scanned.push(ScannedEvent { aggregate_type: r.get(2)?, stream_id, version, event });
            }
            Ok(scanned)
        })
    }
}
