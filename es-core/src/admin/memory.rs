//! [`StoreAdmin`] for the [`InMemoryEventStore`].

use std::time::SystemTime;

use crate::admin::{
    AdminFuture, Backlog, Location, ScannedEvent, StoreAdmin, StoreStatus, StreamFilter, StreamInfo, StreamSummary,
};
use crate::envelope::{Position, RecordedEvent};
use crate::event::EncodedEvent;
use crate::memory::InMemoryEventStore;
use crate::store::{AggregateTypes, EventStore, Page, Snapshot, StreamRange};

fn summary(stream_id: &str, last: &RecordedEvent) -> StreamSummary {
    StreamSummary {
        stream_id: stream_id.to_owned(),
        aggregate_type: last.aggregate_type.clone(),
        version: last.version,
        last_recorded_at: last.recorded_at,
    }
}

/// Every read runs under the store's lock, on its in-memory log.
impl StoreAdmin for InMemoryEventStore {
    fn location(&self) -> Location {
        Location { kind: "memory", name: "this process".to_owned() }
    }

    fn exists(&self) -> AdminFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }

    fn status(&self) -> AdminFuture<'_, StoreStatus> {
        let status = self.inspect(|log, streams| StoreStatus {
            events: log.len() as u64,
            streams: streams.len() as u64,
            head: log.last().map(|e| e.position),
            size_bytes: None,
            read_lag: None,
        });
        Box::pin(async move { Ok(status) })
    }

    fn streams<'a>(&'a self, filter: &'a StreamFilter) -> AdminFuture<'a, Vec<StreamSummary>> {
        let page = self.inspect(|log, streams| {
            let mut ids: Vec<&String> = streams
                .keys()
                .filter(|id| id.starts_with(&filter.prefix))
                .filter(|id| filter.after.as_ref().is_none_or(|after| *id > after))
                .collect();
            ids.sort();
            ids.into_iter()
                .filter_map(|id| Some(summary(id, &log[*streams.get(id)?.last()?])))
                .filter(|s| filter.aggregate_type.as_ref().is_none_or(|t| s.aggregate_type == *t))
                .take(filter.limit)
                .collect()
        });
        Box::pin(async move { Ok(page) })
    }

    fn stream<'a>(&'a self, stream_id: &'a str) -> AdminFuture<'a, Option<StreamInfo>> {
        let info = self.inspect(|log, streams| {
            let indexes = streams.get(stream_id)?;
            let (first, last) = (&log[*indexes.first()?], &log[*indexes.last()?]);
            Some(StreamInfo { summary: summary(stream_id, last), first_recorded_at: first.recorded_at })
        });
        Box::pin(async move { Ok(info) })
    }

    fn version_at<'a>(&'a self, stream_id: &'a str, time: SystemTime) -> AdminFuture<'a, Option<u64>> {
        let version = self.inspect(|log, streams| {
            let indexes = streams.get(stream_id)?;
            indexes.iter().map(|&i| &log[i]).filter(|e| e.recorded_at <= time).map(|e| e.version).max()
        });
        Box::pin(async move { Ok(version) })
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

    fn read_types<'a>(
        &'a self,
        after: Position,
        limit: usize,
        categories: &'a AggregateTypes,
    ) -> AdminFuture<'a, Page> {
        Box::pin(async move { Ok(EventStore::read_types(self, after, limit, categories).await?) })
    }

    fn tail_start<'a>(&'a self, aggregate_type: Option<&'a str>, last: usize) -> AdminFuture<'a, Position> {
        let start = self.inspect(|log, _| {
            let mut matching = log.iter().rev().filter(|e| aggregate_type.is_none_or(|t| e.aggregate_type == t));
            matching.nth(last).map_or(Position::START, |e| e.position)
        });
        Box::pin(async move { Ok(start) })
    }

    fn backlog(&self, after: Position) -> AdminFuture<'_, Backlog> {
        let backlog = self.inspect(|log, _| {
            let start = log.partition_point(|e| e.position <= after);
            let newer = &log[start..];
            Backlog { events: newer.len() as u64, oldest_recorded_at: newer.iter().map(|e| e.recorded_at).min() }
        });
        Box::pin(async move { Ok(backlog) })
    }

    fn scan<'a>(&'a self, after: Option<(&'a str, u64)>, limit: usize) -> AdminFuture<'a, Vec<ScannedEvent>> {
        let page = self.inspect(|log, streams| {
            let mut ids: Vec<&String> =
                streams.keys().filter(|id| after.is_none_or(|(a, _)| id.as_str() >= a)).collect();
            ids.sort();
            ids.into_iter()
                .flat_map(|id| streams[id].iter().map(move |&i| (id, &log[i])))
                .filter(|(id, e)| after.is_none_or(|(a, v)| (id.as_str(), e.version) > (a, v)))
                .take(limit)
                .map(|(id, e)| ScannedEvent {
                    stream_id: id.clone(),
                    version: e.version,
                    aggregate_type: e.aggregate_type.clone(),
                    event: e.event.clone(),
                })
                .collect()
        });
        Box::pin(async move { Ok(page) })
    }
}
