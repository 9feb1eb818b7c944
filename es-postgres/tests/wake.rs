//! Appends wake live projection runners, however their commits fall
//! against the notifications already on their way.

mod common;

use std::time::Duration;

use common::ledger::{Ledger, deposit, ledger_store, start, within};
use es_core::projection::RunnerOptions;
use es_postgres::PgProjectionRunner;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_burst_of_appends_wakes_the_runner() {
    let store = ledger_store().await;
    // Polling would hide a lost wake-up: the runner polls once an hour.
    let options = RunnerOptions::default().poll_interval(Duration::from_secs(3600));
    let runner = PgProjectionRunner::new(store.clone(), Ledger::new(&store, "one")).with_options(options);
    let (waiter, running) = start(runner);
    for burst in 0..40_i64 {
        // Appends that commit while the notification of the previous ones
        // is being sent, or just after.
        let appends: Vec<_> = (0..1 + burst % 8)
            .map(|k| {
                let store = store.clone();
                tokio::spawn(async move { deposit(&store, &format!("acc-{k}"), 1 + burst).await })
            })
            .collect();
        let mut last = None;
        for append in appends {
            last = last.max(Some(append.await.unwrap()));
        }
        let last = last.unwrap();
        within("the runner handles the burst", waiter.wait_for(last, Duration::from_secs(30))).await.unwrap();
    }
    running.stop().await;
}
