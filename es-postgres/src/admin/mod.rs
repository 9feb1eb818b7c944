//! The admin interface of a [`PgEventStore`]: what the `es` command line and
//! the console read and do, with the SQL beside it. Both traits are
//! implemented by the store: it holds the event log and, in the same
//! schema, the projections' checkpoints.

mod projections;

use std::future::Future;
use std::time::SystemTime;

use es_core::admin::{
    AdminError, AdminFuture, Backlog, Location, ReadLag, ScannedEvent, StoreAdmin, StoreStatus, StreamFilter,
    StreamInfo, StreamSummary,
};
use es_core::{AggregateTypes, EncodedEvent, Page, Position, RecordedEvent, Snapshot, StreamRange};
use tokio_postgres::Row;

use crate::codec::convert::{bound, unsigned, unsigned32};
use crate::codec::json::JsonColumn;
use crate::connection::Executor;
use crate::error::Error;
use crate::store::{PgEventStore, read, snapshot};

/// Where a statement of the tools reads, for the errors about its rows.
const STORE: &str = "<store>";

impl PgEventStore {
    /// Runs `read` on a pooled connection; its error becomes the tools'.
    pub(crate) fn admin<'a, T, F, R>(&'a self, read: F) -> AdminFuture<'a, T>
    where
        T: Send + 'a,
        F: FnOnce(deadpool_postgres::Client) -> R + Send + 'a,
        R: Future<Output = Result<T, Error>> + Send + 'a,
    {
        Box::pin(async move {
            let client = self.client().await.map_err(|e| AdminError::Store(e.into()))?;
            read(client).await.map_err(|e| AdminError::Store(e.into()))
        })
    }

    fn location(&self) -> Location {
        Location { kind: "schema", name: self.schema().to_owned() }
    }
}

fn summary(row: &Row) -> Result<StreamSummary, Error> {
    let stream_id: String = row.try_get(0)?;
    let version = unsigned(row.try_get(2)?, "version", &stream_id, 0)?;
    Ok(StreamSummary { aggregate_type: row.try_get(1)?, version, last_recorded_at: row.try_get(3)?, stream_id })
}

impl StoreAdmin for PgEventStore {
    fn location(&self) -> Location {
        PgEventStore::location(self)
    }

    fn exists(&self) -> AdminFuture<'_, bool> {
        self.admin(move |on| async move {
            let events = format!("{}.events", self.quoted_schema());
            Ok(on.fetch_one(include_str!("sql/exists.sql"), &[&events]).await?.try_get(0)?)
        })
    }

    fn status(&self) -> AdminFuture<'_, StoreStatus> {
        self.admin(move |on| async move {
            let row = on.fetch_one(&self.schema.sql(include_str!("sql/status.sql")), &[&self.schema()]).await?;
            let column = |i, name| unsigned(row.try_get(i)?, name, STORE, 0);
            let head = match row.try_get::<_, Option<i64>>(2)? {
                Some(_) => Some(Position::new(column(2, "tx")?, column(3, "position")?)),
                None => None,
            };
            let lag = read::lag(&on, &self.schema).await?;
            Ok(StoreStatus {
                events: column(0, "events")?,
                streams: column(1, "streams")?,
                head,
                size_bytes: Some(column(4, "bytes")?),
                read_lag: Some(ReadLag { held_back: lag.held_back, oldest_transaction: lag.oldest_transaction }),
            })
        })
    }

    fn streams<'a>(&'a self, filter: &'a StreamFilter) -> AdminFuture<'a, Vec<StreamSummary>> {
        self.admin(move |on| async move {
            let sql = self.schema.sql(include_str!("sql/streams.sql"));
            let limit = bound(filter.limit as u64);
            let rows = on.fetch_all(&sql, &[&filter.prefix, &filter.after, &filter.aggregate_type, &limit]).await?;
            rows.iter().map(summary).collect()
        })
    }

    fn stream<'a>(&'a self, stream_id: &'a str) -> AdminFuture<'a, Option<StreamInfo>> {
        self.admin(move |on| async move {
            let row = on.fetch_optional(&self.schema.sql(include_str!("sql/stream.sql")), &[&stream_id]).await?;
            let Some(row) = row else { return Ok(None) };
            let summary = StreamSummary {
                stream_id: stream_id.to_owned(),
                aggregate_type: row.try_get(0)?,
                version: unsigned(row.try_get(1)?, "version", stream_id, 0)?,
                last_recorded_at: row.try_get(2)?,
            };
            Ok(Some(StreamInfo { summary, first_recorded_at: row.try_get(3)? }))
        })
    }

    fn version_at<'a>(&'a self, stream_id: &'a str, time: SystemTime) -> AdminFuture<'a, Option<u64>> {
        self.admin(move |on| async move {
            let sql = self.schema.sql(include_str!("sql/version_at.sql"));
            let row = on.fetch_one(&sql, &[&stream_id, &time]).await?;
            row.try_get::<_, Option<i64>>(0)?.map(|v| unsigned(v, "version", stream_id, 0)).transpose()
        })
    }

    fn read_stream<'a>(&'a self, stream_id: &'a str, range: StreamRange) -> AdminFuture<'a, Vec<RecordedEvent>> {
        self.admin(move |on| async move { read::stream(&on, &self.schema, stream_id, range).await })
    }

    fn read_stream_events<'a>(
        &'a self,
        aggregate_type: &'a str,
        stream_id: &'a str,
        range: StreamRange,
    ) -> AdminFuture<'a, Vec<(u64, EncodedEvent)>> {
        self.admin(
            move |on| async move { read::stream_events(&on, &self.schema, aggregate_type, stream_id, range).await },
        )
    }

    fn load_snapshot<'a>(&'a self, stream_id: &'a str) -> AdminFuture<'a, Option<Snapshot>> {
        self.admin(move |on| async move { snapshot::load(&on, &self.schema, stream_id).await })
    }

    fn read_types<'a>(
        &'a self,
        after: Position,
        limit: usize,
        categories: &'a AggregateTypes,
    ) -> AdminFuture<'a, Page> {
        self.admin(move |on| async move { read::filtered(&on, &self.schema, after, limit, categories, None).await })
    }

    fn tail_start<'a>(&'a self, aggregate_type: Option<&'a str>, last: usize) -> AdminFuture<'a, Position> {
        self.admin(move |on| async move {
            let sql = self.schema.sql(include_str!("sql/tail_start.sql"));
            let Some(row) = on.fetch_optional(&sql, &[&aggregate_type, &bound(last as u64)]).await? else {
                return Ok(Position::START);
            };
            Ok(Position::new(
                unsigned(row.try_get(0)?, "tx", STORE, 0)?,
                unsigned(row.try_get(1)?, "position", STORE, 0)?,
            ))
        })
    }

    fn backlog(&self, after: Position) -> AdminFuture<'_, Backlog> {
        self.admin(move |on| async move {
            let sql = self.schema.sql(include_str!("sql/backlog.sql"));
            let row = on.fetch_one(&sql, &[&bound(after.commit), &bound(after.sequence)]).await?;
            Ok(Backlog { events: unsigned(row.try_get(0)?, "count", STORE, 0)?, oldest_recorded_at: row.try_get(1)? })
        })
    }

    fn scan<'a>(&'a self, after: Option<(&'a str, u64)>, limit: usize) -> AdminFuture<'a, Vec<ScannedEvent>> {
        self.admin(move |on| async move {
            let (stream_id, version) = after.map_or(("", 0), |(s, v)| (s, bound(v)));
            let sql = self.schema.sql(include_str!("sql/scan.sql"));
            let rows = on.fetch_all(&sql, &[&stream_id, &version, &bound(limit as u64)]).await?;
            rows.iter()
                .map(|row| {
                    let stream_id: String = row.try_get(0)?;
                    let version = unsigned(row.try_get(1)?, "version", &stream_id, 0)?;
                    let schema_version = unsigned32(row.try_get(4)?, "event_version", &stream_id, version)?;
                    let JsonColumn(payload) = row.try_get(5)?;
                    let event = EncodedEvent { name: row.try_get(3)?, schema_version, payload };
                    Ok(ScannedEvent { aggregate_type: row.try_get(2)?, stream_id, version, event })
                })
                .collect()
        })
    }
}
