//! `cargo bench -p es-console --bench page`: how long the console takes to
//! answer for a page of a stream of 1,000,000 events, the query and the
//! rendering together.
//!
//! The stream `bench-1` is filled with 1,000,000 deposits in 1,000 appends
//! of 1,000, in the schema `es_console_bench`, which later runs reuse while
//! it holds the full stream, with a snapshot 5 events before its end as the
//! repository would have saved. Then the last page and a middle page are
//! each requested 5 times to warm up and 50 times measured, and one JSON
//! line is printed: `{"bench":"console_page","events":1000000,…,
//! "last_page_ms":…,"middle_page_ms":…}` with the medians.
//!
//! The state after an event is a request of its own, which folds from the
//! latest snapshot before the event or else from the start: the line also
//! has the state after the last event (from the snapshot) and after the
//! middle one (500,000 events folded), medians of 3.
//!
//! Set `DATABASE_URL` to choose the server.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use es_console::Console;
use es_core::{Event, EventStore, ExpectedVersion, Metadata, Repository};
use es_examples::account::{Account, AccountEvent, Deposited, Opened};
use es_postgres::PgEventStore;
use tower::ServiceExt as _;

const SCHEMA: &str = "es_console_bench";
const STREAM: &str = "bench-1";
const EVENTS: u64 = 1_000_000;
const BATCH: u64 = 1_000;
const WARM_UP: usize = 5;
const RUNS: usize = 50;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let store = PgEventStore::builder_from_url(&url)?.schema(SCHEMA).build()?;
    store.migrate().await?;
    let filled = fill(&store).await?;

    let router = Console::new(store).aggregate::<Account>().router();
    let last = format!("/streams/{STREAM}?from={}", EVENTS - 49);
    let middle = format!("/streams/{STREAM}?from={}", EVENTS / 2 + 1);
    let last_ms = median_ms(&router, &last, RUNS).await?;
    let middle_ms = median_ms(&router, &middle, RUNS).await?;
    let last_state_ms = median_ms(&router, &format!("/streams/{STREAM}/state/{EVENTS}"), 3).await?;
    let middle_state_ms = median_ms(&router, &format!("/streams/{STREAM}/state/{}", EVENTS / 2), 3).await?;
    println!(
        "{{\"bench\":\"console_page\",\"events\":{EVENTS},\"appends\":{},\"events_per_append\":{BATCH},\
         \"page_size\":50,\"runs\":{RUNS},\"fill_s\":{},\"last_page_ms\":{last_ms:.2},\"middle_page_ms\":{middle_ms:.2},\
         \"last_state_ms\":{last_state_ms:.2},\"middle_state_ms\":{middle_state_ms:.1}}}",
        EVENTS / BATCH,
        filled.map_or_else(|| "null".to_owned(), |d| format!("{:.1}", d.as_secs_f64())),
    );
    Ok(())
}

/// Fills the stream unless an earlier run did; how long it took, if it did.
async fn fill(store: &PgEventStore) -> Result<Option<Duration>, BoxError> {
    let client = store.connection().await?;
    let head = format!("SELECT max(version) FROM {}.events WHERE stream_id = $1", store.quoted_schema());
    let version: Option<i64> = client.query_one(&head, &[&STREAM]).await?.get(0);
    let snapshot = store.load_snapshot(STREAM).await?;
    if version == Some(EVENTS as i64) && snapshot.is_some() {
        return Ok(None);
    }
    client.batch_execute(&format!("DROP SCHEMA {} CASCADE", store.quoted_schema())).await?;
    drop(client);
    store.migrate().await?;
    let started = Instant::now();
    let metadata = Metadata::default();
    for batch in 0..EVENTS / BATCH {
        let events = (0..BATCH)
            .map(|i| match batch * BATCH + i {
                0 => AccountEvent::from(Opened { owner: "bench".into() }).encode(),
                n => AccountEvent::from(Deposited { amount: n as i64 }).encode(),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let expected = ExpectedVersion::Exact(batch * BATCH);
        store.append("account", STREAM, expected, events, &metadata).await?;
    }
    let accounts = Repository::<Account, _>::new(store.clone());
    let loaded = accounts.load_at_version(STREAM, EVENTS - 5).await?;
    accounts.save_snapshot(STREAM, loaded.version, &loaded.state).await?;
    Ok(Some(started.elapsed()))
}

/// The median time of `runs` GETs of `path` after a warm-up, in
/// milliseconds.
async fn median_ms(router: &axum::Router, path: &str, runs: usize) -> Result<f64, BoxError> {
    let mut times = Vec::with_capacity(runs);
    for run in 0..WARM_UP.min(runs) + runs {
        let started = Instant::now();
        let response = router.clone().oneshot(Request::get(path).body(Body::empty())?).await?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        if status != StatusCode::OK || !body.windows(9).any(|w| w == b"id=\"event" || w == b"id=\"state") {
            return Err(format!("{path} answered {status} without events or state").into());
        }
        if run >= WARM_UP.min(runs) {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[runs / 2])
}
