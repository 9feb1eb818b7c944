//! A projection split into partitions by stream: runners of different
//! partitions share the work, each stream's events stay in order, a
//! partition's standby takes over, and all partitions rebuild together.

mod common;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use common::ledger::*;
use es_core::{Event, Position};
use es_postgres::{PgEventStore, PgPartition, PgProjectionRunner};

const THREE: NonZeroU32 = NonZeroU32::new(3).unwrap();
const RUNNER_NAMES: [&str; 3] = ["p0", "p1", "p2"];

fn partition_runner(store: &PgEventStore, index: u32) -> PgProjectionRunner<Ledger> {
    let partition = PgPartition::new(index, THREE).unwrap();
    live(PgProjectionRunner::partition(store.clone(), Ledger::new(store, RUNNER_NAMES[index as usize]), partition))
}

/// `writers` tasks append `per_writer` deposits each to 32 streams.
async fn write(store: &PgEventStore, writers: usize, per_writer: usize) -> Position {
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut last = Position::START;
                for i in 0..per_writer {
                    let stream = format!("acc-{}", fastrand::u8(..32));
                    last = last.max(deposit(&store, &stream, (w * 10_000 + i) as i64).await);
                }
                last
            })
        })
        .collect();
    let mut last = Position::START;
    for task in tasks {
        last = last.max(task.await.unwrap());
    }
    last
}

/// What one runner over every event would hold: the balance of each stream.
async fn single_runner_balances(store: &PgEventStore, last: Position) -> Vec<(String, i64)> {
    let mut balances: BTreeMap<String, i64> = BTreeMap::new();
    for event in common::read_all_through(store, Position::START, last, 1000).await {
        let deposited = Deposited::decode(&event.event.name, event.event.schema_version, &event.event.payload).unwrap();
        *balances.entry(event.stream_id).or_default() += deposited.amount;
    }
    balances.into_iter().collect()
}

/// Every event handled once; each stream's events by one runner, in order.
async fn assert_partitioned_read_model(store: &PgEventStore, last: Position) {
    let log = handled(store).await;
    let mut seen: Vec<Position> = log.iter().map(|(p, _)| *p).collect();
    seen.sort();
    assert_eq!(seen, replay(store, last).await, "every event handled exactly once");
    let streams: BTreeMap<Position, String> = common::read_all_through(store, Position::START, last, 1000)
        .await
        .into_iter()
        .map(|e| (e.position, e.stream_id))
        .collect();
    let mut by_stream: BTreeMap<&str, Vec<(Position, &str)>> = BTreeMap::new();
    for (position, runner) in &log {
        by_stream.entry(&streams[position]).or_default().push((*position, runner));
    }
    for (stream, handled) in &by_stream {
        assert!(handled.windows(2).all(|w| w[0].0 < w[1].0), "stream {stream} was handled in order");
    }
    assert_eq!(balances(store).await, single_runner_balances(store, last).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_partitions_on_three_runners_build_the_read_model_of_one() {
    let store = ledger_store().await;
    let running: Vec<_> = (0..3).map(|i| spawn(partition_runner(&store, i))).collect();
    let last = write(&store, 16, 500).await;
    within("the partitions", store.wait_for_partitions("ledger", THREE, last, Duration::from_secs(60))).await.unwrap();
    for runner in running {
        runner.stop().await;
    }
    assert_partitioned_read_model(&store, last).await;
    let log = handled(&store).await;
    let streams: BTreeMap<Position, String> = common::read_all_through(&store, Position::START, last, 1000)
        .await
        .into_iter()
        .map(|e| (e.position, e.stream_id))
        .collect();
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (position, runner) in &log {
        let first = owner.entry(&streams[position]).or_insert(runner);
        assert_eq!(first, runner, "a stream belongs to one partition");
    }
    let runners: std::collections::BTreeSet<&str> = owner.values().copied().collect();
    assert_eq!(runners.len(), 3, "every partition did a share of the work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_partition_standby_takes_over_when_its_runner_dies() {
    let store = ledger_store().await;
    let active: Vec<_> = (0..3).map(|i| spawn(partition_runner(&store, i))).collect();
    let first = write(&store, 4, 50).await;
    within("the partitions", store.wait_for_partitions("ledger", THREE, first, Duration::from_secs(60))).await.unwrap();
    let standby: Vec<_> = (0..3).map(|i| spawn(partition_runner(&store, i))).collect();

    let admin = common::raw_client().await;
    let name =
        format!("es projection {}.{}", store.schema(), PgPartition::new(1, THREE).unwrap().projection_name("ledger"));
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks \
             WHERE locktype = 'advisory' AND granted \
             AND pid IN (SELECT pid FROM pg_stat_activity WHERE application_name = $1)",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "one runner holds partition 1");
    let last = write(&store, 4, 50).await;
    within("the partitions", store.wait_for_partitions("ledger", THREE, last, Duration::from_secs(60))).await.unwrap();
    for runner in active.into_iter().chain(standby) {
        runner.stop().await;
    }
    assert_partitioned_read_model(&store, last).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projection_partitions_rebuild_together() {
    let store = ledger_store().await;
    let running: Vec<_> = (0..3).map(|i| spawn(partition_runner(&store, i))).collect();
    let last = write(&store, 4, 100).await;
    within("the partitions", store.wait_for_partitions("ledger", THREE, last, Duration::from_secs(60))).await.unwrap();
    let busy = PgProjectionRunner::rebuild_partitions(&store, THREE, || Ledger::new(&store, "rebuild"), |_| {}).await;
    assert!(matches!(busy, Err(es_core::ProjectionError::Busy { .. })), "{busy:?}");
    for runner in running {
        runner.stop().await;
    }

    let (rebuilt, reports) = within("the rebuild", async {
        loop {
            // Other tests' transactions may hold events back for a moment.
            let mut reports = Vec::new();
            let make = || Ledger::new(&store, "rebuild");
            let rebuilt =
                PgProjectionRunner::rebuild_partitions(&store, THREE, make, |p| reports.push(p.done)).await.unwrap();
            if store.wait_for_partitions("ledger", THREE, last, Duration::ZERO).await.is_ok() {
                return (rebuilt, reports);
            }
        }
    })
    .await;
    assert_eq!(rebuilt, 400);
    assert_eq!(reports.last(), Some(&400));
    assert!(handled(&store).await.iter().all(|(_, runner)| runner == "rebuild"), "the read model was emptied once");
    assert_partitioned_read_model(&store, last).await;
}
