//! `cargo bench -p es-postgres --bench store`: es-postgres against plain
//! tokio-postgres doing the same round trips on the same table.
//!
//! Each workload runs on fresh, empty schemas (one for es-postgres, one for
//! the raw driver, both created by `migrate`) and prints JSON lines such as
//! `{"workload":"W1","unit":"events/s","es":…,"raw":…,"ratio":…,"cache":false}`
//! where `ratio` is es/raw for throughput and raw/es for latency (higher is
//! better), and `cache` tells whether the repository kept states.
//!
//! - W1, W1b: commands (load, append) with 1 and 8 clients, with the
//!   repository's cache off and on; W1b with a projection runner waiting,
//!   and a `W1b-notify` line: appends that notify it against appends that
//!   do not.
//! - W2: appends of 1,000 events.
//! - W3: loading a 10,000-event stream, then from a snapshot; and the time
//!   per event of streams of 1,000, 10,000 and 100,000 events.
//! - W4: a projection catching up.
//! - W5: a projection rebuilt over 1,000,000 events, in the store's
//!   database and (`"target":"postgres"`) into another database of the
//!   server.
//! - W6: commands on a 10,000-event stream with a snapshot near its head.
//!
//! Set `DATABASE_URL` to choose the server, `ES_BENCH_ONLY` to run some
//! workloads (`ES_BENCH_ONLY=W1,W6`) and `ES_BENCH_SCALE` (default 1) to
//! shrink them while iterating, e.g. `ES_BENCH_SCALE=0.1`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use es_core::projection::Envelope;
use es_core::{
    Aggregate, AggregateTypes, DecodeError, EncodedEvent, Event, EventStore, ExpectedVersion, Metadata, Payload,
    RecordedEvent, Repository, StreamRange,
};
use es_postgres::tokio_postgres::types::{Json, ToSql};
use es_postgres::tokio_postgres::{self, Client, NoTls};
use es_postgres::{PgEventStore, PgPartition, PgProjection, PgProjectionRunner, PgSslMode, PgTarget, PgTransaction};
use serde::{Deserialize, Serialize};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ---------------------------------------------------------------------------
// The domain: an account opened once, then deposited into.

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Opened {
    owner: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Deposited {
    amount: i64,
}

/// Serialized as the event it holds, the way a hand-written loop writes it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
}

impl Event for AccountEvent {
    fn event_name(&self) -> &'static str {
        match self {
            AccountEvent::Opened(_) => "Opened",
            AccountEvent::Deposited(_) => "Deposited",
        }
    }

    fn schema_version(&self) -> u32 {
        1
    }

    fn encode(&self) -> Result<EncodedEvent, serde_json::Error> {
        Ok(EncodedEvent { name: self.event_name().to_owned(), schema_version: 1, payload: Payload::serialize(self)? })
    }

    fn decode(name: &str, version: u32, payload: &Payload) -> Result<Self, DecodeError> {
        let payload_error = |source| DecodeError::Payload { name: name.to_owned(), version, cause: source };
        match name {
            "Opened" => payload.deserialize().map(AccountEvent::Opened).map_err(payload_error),
            "Deposited" => payload.deserialize().map(AccountEvent::Deposited).map_err(payload_error),
            _ => Err(DecodeError::UnknownEvent { name: name.to_owned() }),
        }
    }
}

impl AccountEvent {
    /// The event's name, as a parameter.
    fn name_ref(&self) -> &&'static str {
        match self {
            AccountEvent::Opened(_) => &"Opened",
            AccountEvent::Deposited(_) => &"Deposited",
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Account {
    open: bool,
    balance: i64,
}

impl Account {
    fn fold(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened(_) => self.open = true,
            AccountEvent::Deposited(e) => self.balance += e.amount,
        }
    }

    /// The command of W1: open the account, or deposit into it.
    fn next(&self) -> Result<Vec<AccountEvent>, Infallible> {
        Ok(vec![if self.open {
            AccountEvent::Deposited(Deposited { amount: 100 })
        } else {
            AccountEvent::Opened(Opened { owner: "bench".into() })
        }])
    }
}

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Event = AccountEvent;

    fn apply(&mut self, event: &AccountEvent) {
        self.fold(event);
    }
}

/// The same account with snapshots enabled, for W3.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct SnapshottedAccount(Account);

impl Aggregate for SnapshottedAccount {
    const TYPE: &'static str = "account";
    const SNAPSHOT_EVERY: u64 = 1_000_000;
    type Event = AccountEvent;

    fn apply(&mut self, event: &AccountEvent) {
        self.0.fold(event);
    }
}

// ---------------------------------------------------------------------------
// Setup.

struct Bench {
    config: tokio_postgres::Config,
    scale: f64,
    schemas: Vec<String>,
}

impl Bench {
    fn scaled(&self, n: usize) -> usize {
        ((n as f64 * self.scale).round() as usize).max(1)
    }

    /// A migrated, empty store in a schema of its own.
    async fn fresh(&mut self, name: &str, pool_size: usize) -> Result<PgEventStore, BoxError> {
        let schema = format!("es_bench_{}_{name}", std::process::id());
        let store = self.store(&schema, pool_size, true)?;
        let client = self.raw().await?;
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
        store.migrate().await?;
        self.schemas.push(schema);
        Ok(store)
    }

    /// A store on `schema`, which notifies projection runners of appends
    /// or not.
    fn store(&self, schema: &str, pool_size: usize, notify: bool) -> Result<PgEventStore, BoxError> {
        // The raw driver runs without TLS (NoTls): so does the store, or the
        // ratio would measure encryption.
        Ok(PgEventStore::builder(self.config.clone())
            .ssl_mode(PgSslMode::Disable)
            .schema(schema)
            .pool_size(pool_size)
            .notify_appends(notify)
            .build()?)
    }

    async fn raw(&self) -> Result<Client, BoxError> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn cleanup(&self) -> Result<(), BoxError> {
        let client = self.raw().await?;
        for schema in &self.schemas {
            client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
        }
        Ok(())
    }
}

fn report(workload: &str, unit: &str, es: f64, raw: f64, higher_is_better: bool, extra: &str) {
    let ratio = if higher_is_better { es / raw } else { raw / es };
    println!(
        "{{\"workload\":\"{workload}\",\"unit\":\"{unit}\",\"es\":{es:.2},\"raw\":{raw:.2},\"ratio\":{ratio:.3}{extra}}}"
    );
}

fn per_second(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

/// The raw pattern's fold: each row's payload decoded with serde_json
/// straight into its event type; returns the state and the last version.
fn fold_rows(rows: &[tokio_postgres::Row]) -> Result<(Account, i64), BoxError> {
    let mut state = Account::default();
    let mut version = 0_i64;
    for row in rows {
        version = row.try_get(0)?;
        state.fold(&raw_event(row, 1, 3)?);
    }
    Ok((state, version))
}

/// The event of a row whose name is column `name` and payload column
/// `payload`, parsed straight from the payload's bytes, as hand-written
/// code does.
fn raw_event(row: &tokio_postgres::Row, name: usize, payload: usize) -> Result<AccountEvent, BoxError> {
    Ok(match row.try_get::<_, &str>(name)? {
        "Opened" => AccountEvent::Opened(row.try_get::<_, Json<Opened>>(payload)?.0),
        _ => AccountEvent::Deposited(row.try_get::<_, Json<Deposited>>(payload)?.0),
    })
}

// ---------------------------------------------------------------------------
// W1 / W1b: one command per transaction (load the stream, append one event).

/// The states a W1 repository keeps: more than one client's accounts of a
/// round.
const W1_CACHE: usize = 4096;

/// One way of running W1's commands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    /// The repository, with or without its cache, on a store that notifies
    /// projection runners of appends or not.
    Es { cache: bool, notify: bool },
    /// Plain tokio-postgres.
    Raw,
}

/// Runs the W1 commands of `accounts` through a repository.
async fn w1_es(
    store: PgEventStore,
    cache: bool,
    prefix: String,
    accounts: std::ops::Range<usize>,
    events: usize,
) -> Result<(), BoxError> {
    let repository = Repository::<Account, _>::new(store);
    let repository = if cache { repository.with_cache(W1_CACHE) } else { repository };
    for account in accounts {
        let id = format!("{prefix}-{account}");
        for _ in 0..events {
            repository.execute(&id, Account::next).await?;
        }
    }
    Ok(())
}

/// The same with the raw driver: in one transaction, select the stream's
/// events, decode and fold them, insert the next one.
async fn w1_raw(
    mut client: Client,
    schema: String,
    accounts: std::ops::Range<usize>,
    events: usize,
) -> Result<Client, BoxError> {
    let select = client
        .prepare(&format!(
            "SELECT version, event_name, event_version, payload FROM \"{schema}\".events WHERE stream_id = $1 ORDER BY version"
        ))
        .await?;
    let insert = client
        .prepare(&format!(
            "INSERT INTO \"{schema}\".events (aggregate_type, stream_id, version, event_name, event_version, payload, metadata) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .await?;
    let metadata = serde_json::json!({});
    for account in accounts {
        let id = format!("account-{account}");
        for _ in 0..events {
            let tx = client.transaction().await?;
            let (state, mut version) = fold_rows(&tx.query(&select, &[&id]).await?)?;
            let Ok(new) = state.next();
            for event in new {
                version += 1;
                let params: [&(dyn ToSql + Sync); 7] =
                    [&"account", &id, &version, &event.event_name(), &1_i32, &Json(&event), &metadata];
                tx.execute(&insert, &params).await?;
            }
            tx.commit().await?;
        }
    }
    Ok(client)
}

/// A projection of events no workload writes: a runner that waits for
/// notifications, as a deployment's runners do.
struct Idle;

impl PgProjection for Idle {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "idle"
    }

    fn aggregate_types(&self) -> AggregateTypes {
        AggregateTypes::only(["none"])
    }

    async fn handle(&mut self, _: &PgTransaction<'_>, _: &AccountEvent, _: &RecordedEvent) -> Result<(), BoxError> {
        Ok(())
    }

    async fn reset(&mut self, _: &PgTransaction<'_>) -> Result<(), BoxError> {
        Ok(())
    }
}

async fn w1(bench: &mut Bench, workload: &str, clients: usize) -> Result<(), BoxError> {
    let accounts = bench.scaled(10_000);
    let events_per_account = 10;
    let total = accounts * events_per_account;
    let rounds = 10.min(accounts);
    let mut sides = vec![Side::Es { cache: false, notify: true }, Side::Es { cache: true, notify: true }, Side::Raw];
    if clients > 1 {
        sides.push(Side::Es { cache: false, notify: false });
    }
    println!(
        "{workload}: {accounts} accounts x {events_per_account} events (Opened + {} Deposited), \
         one command (load + append with Exact) per transaction, {clients} client(s) on disjoint streams{}; \
         {sides:?} take turns in {rounds} rounds",
        events_per_account - 1,
        if clients > 1 { ", a projection runner waiting" } else { "" }
    );
    let raw_store = bench.fresh(&format!("{}_raw", workload.to_lowercase()), 1).await?;
    let raw_schema = raw_store.schema().to_owned();
    let notifying = bench.fresh(&format!("{}_es", workload.to_lowercase()), clients).await?;
    let silent = bench.store(notifying.schema(), clients, false)?;
    let stores = [notifying.clone(), silent.clone()];
    // Open every connection before the clock starts, on both sides.
    for store in &stores {
        let warm: Vec<_> = (0..clients).map(|_| store.pool().get()).collect();
        for connection in warm {
            drop(connection.await?);
        }
    }
    let mut raw_clients = Vec::new();
    for _ in 0..clients {
        raw_clients.push(bench.raw().await?);
    }
    // With several clients, a projection runner waits for the appends'
    // notifications (for events of another aggregate type: its work is being
    // woken), so that the cost of waking it is measured.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The runner has a pool of its own, as in a projection worker: its
    // reads do not queue for the writers' connections.
    let mut waiting = PgProjectionRunner::new(bench.store(notifying.schema(), 2, true)?, Idle);
    let runner = tokio::spawn(async move {
        if clients == 1 {
            return Ok(());
        }
        waiting.run(async { stopped.await.unwrap_or(()) }).await
    });

    let mut times = vec![Duration::ZERO; sides.len()];
    for round in 0..rounds {
        let round_accounts = (accounts * round / rounds)..(accounts * (round + 1) / rounds);
        let n = round_accounts.len();
        let slices: Vec<std::ops::Range<usize>> = (0..clients)
            .map(|c| (round_accounts.start + n * c / clients)..(round_accounts.start + n * (c + 1) / clients))
            .collect();
        // Each side goes first in turn, so that none gets a quieter machine.
        for turn in 0..sides.len() {
            let i = (round + turn) % sides.len();
            let started = Instant::now();
            match sides[i] {
                Side::Es { cache, notify } => {
                    let store = if notify { &notifying } else { &silent };
                    let tasks: Vec<_> = slices
                        .iter()
                        .map(|slice| {
                            let prefix = format!("account-{i}");
                            tokio::spawn(w1_es(store.clone(), cache, prefix, slice.clone(), events_per_account))
                        })
                        .collect();
                    for task in tasks {
                        task.await??;
                    }
                }
                Side::Raw => {
                    let tasks: Vec<_> = std::mem::take(&mut raw_clients)
                        .into_iter()
                        .zip(&slices)
                        .map(|(client, slice)| {
                            tokio::spawn(w1_raw(client, raw_schema.clone(), slice.clone(), events_per_account))
                        })
                        .collect();
                    for task in tasks {
                        raw_clients.push(task.await??);
                    }
                }
            }
            times[i] += started.elapsed();
        }
    }
    let _ = stop.send(());
    runner.await??;

    let rate = |side: Side| sides.iter().position(|s| *s == side).map(|i| per_second(total, times[i]));
    let raw = rate(Side::Raw).unwrap_or(f64::NAN);
    for cache in [false, true] {
        let es = rate(Side::Es { cache, notify: true }).unwrap_or(f64::NAN);
        report(workload, "events/s", es, raw, true, &format!(",\"cache\":{cache}"));
    }
    if let Some(without) = rate(Side::Es { cache: false, notify: false }) {
        let with = rate(Side::Es { cache: false, notify: true }).unwrap_or(f64::NAN);
        println!(
            "{{\"workload\":\"{workload}-notify\",\"unit\":\"events/s\",\"cache\":false,\"notify\":{with:.2},\
             \"no_notify\":{without:.2},\"ratio\":{:.3}}}",
            with / without
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// W2: batches of 1,000 events per append.

fn deposits(n: usize) -> Vec<AccountEvent> {
    (0..n).map(|i| AccountEvent::Deposited(Deposited { amount: i as i64 })).collect()
}

async fn w2(bench: &mut Bench) -> Result<(), BoxError> {
    let total = bench.scaled(100_000).div_ceil(1000) * 1000;
    let batch = 1000;
    let streams = 10;
    let batches = total / batch;
    println!("W2: {total} events appended in {batches} batches of {batch} events, {streams} streams, 1 client");

    let raw_store = bench.fresh("w2_raw", 1).await?;
    let schema = raw_store.schema().to_owned();
    let store = bench.fresh("w2_es", 1).await?;
    drop(store.pool().get().await?);
    let client = bench.raw().await?;
    let columns = 7;
    let values: Vec<String> = (0..batch)
        .map(|r| {
            let p: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
            format!("({})", p.join(", "))
        })
        .collect();
    let insert = client
        .prepare(&format!(
            "INSERT INTO \"{schema}\".events (aggregate_type, stream_id, version, event_name, event_version, payload, metadata) VALUES {}",
            values.join(", ")
        ))
        .await?;
    let metadata = serde_json::json!({});
    let (mut es_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
    // Alternate es and raw batch by batch, so that both see the same machine.
    for b in 0..batches {
        let stream = format!("stream-{}", b % streams);
        let first_version = (b / streams * batch) as i64;

        for es_turn in [b % 2 == 0, b % 2 == 1] {
            if es_turn {
                let started = Instant::now();
                let expected = ExpectedVersion::Exact(first_version as u64);
                let encoded: Vec<EncodedEvent> = deposits(batch).iter().map(Event::encode).collect::<Result<_, _>>()?;
                store.append(Account::TYPE, &stream, expected, encoded, &Metadata::default()).await?;
                es_time += started.elapsed();
            } else {
                let started = Instant::now();
                let events = deposits(batch);
                let payloads: Vec<Json<&AccountEvent>> = events.iter().map(Json).collect();
                let versions: Vec<i64> = (1..=batch as i64).map(|v| first_version + v).collect();
                let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(batch * columns);
                for ((event, payload), version) in events.iter().zip(&payloads).zip(&versions) {
                    params.extend([
                        &"account" as &(dyn ToSql + Sync),
                        &stream,
                        version,
                        event.name_ref(),
                        &1_i32,
                        payload,
                        &metadata,
                    ]);
                }
                client.execute(&insert, &params).await?;
                raw_time += started.elapsed();
            }
        }
    }
    let (es, raw) = (per_second(total, es_time), per_second(total, raw_time));
    report("W2", "events/s", es, raw, true, "");
    Ok(())
}

// ---------------------------------------------------------------------------
// W3: load one 10,000-event stream and fold it.

/// Appends an account of `length` events to `stream`, in appends of 1,000.
async fn fill(store: &PgEventStore, stream: &str, length: usize) -> Result<(), BoxError> {
    let mut events = vec![AccountEvent::Opened(Opened { owner: "bench".into() })];
    events.extend(deposits(length - 1));
    for (i, chunk) in events.chunks(1000).enumerate() {
        let encoded: Vec<EncodedEvent> = chunk.iter().map(Event::encode).collect::<Result<_, _>>()?;
        let expected = ExpectedVersion::Exact((i * 1000) as u64);
        store.append(Account::TYPE, stream, expected, encoded, &Metadata::default()).await?;
    }
    Ok(())
}

/// The medians (ms) of `runs` full loads of `stream` (`length` events) by
/// `repository` and by the raw SELECT and fold, alternating, after two
/// warm-up rounds.
async fn full_loads(
    repository: &Repository<SnapshottedAccount, PgEventStore>,
    client: &tokio_postgres::Client,
    select: &tokio_postgres::Statement,
    stream: &str,
    length: usize,
    runs: usize,
) -> Result<(f64, f64), BoxError> {
    let expected_balance: i64 = (0..length as i64 - 1).sum();
    let mut raw_samples = Vec::new();
    let mut es_samples = Vec::new();
    for run in 0..runs + 2 {
        let started = Instant::now();
        let (state, version) = fold_rows(&client.query(select, &[&stream]).await?)?;
        let raw_elapsed = started.elapsed();
        assert_eq!((version as usize, state.balance), (length, expected_balance));

        let started = Instant::now();
        let loaded = repository.load(stream).await?;
        let es_elapsed = started.elapsed();
        assert_eq!((loaded.version as usize, loaded.state.0.balance), (length, expected_balance));
        if run >= 2 {
            raw_samples.push(raw_elapsed);
            es_samples.push(es_elapsed);
        }
    }
    Ok((median(es_samples), median(raw_samples)))
}

async fn w3(bench: &mut Bench) -> Result<(), BoxError> {
    let length = bench.scaled(10_000).max(20);
    let runs = 20;
    let snapshot_at = length - 10;
    println!("W3: load and fold one {length}-event stream, median of {runs}; then with a snapshot at {snapshot_at}");

    let store = bench.fresh("w3", 2).await?;
    let stream = "account-w3";
    fill(&store, stream, length).await?;
    let expected_balance: i64 = (0..length as i64 - 1).sum();

    let client = bench.raw().await?;
    let select = client
        .prepare(&format!(
            "SELECT version, event_name, event_version, payload FROM {}.events WHERE stream_id = $1 ORDER BY version",
            store.quoted_schema()
        ))
        .await?;
    let repository = Repository::<SnapshottedAccount, _>::new(store.clone());
    let (es, raw) = full_loads(&repository, &client, &select, stream, length, runs).await?;

    // The cost per event, for streams ten times shorter and longer.
    let mut per_event = Vec::new();
    for scaled_length in [length / 10, length, length * 10] {
        let scaled_stream = format!("account-w3-{scaled_length}");
        fill(&store, &scaled_stream, scaled_length).await?;
        let scaled_runs = if scaled_length > length { 5 } else { runs };
        let (es, raw) = full_loads(&repository, &client, &select, &scaled_stream, scaled_length, scaled_runs).await?;
        let micros = |ms: f64| ms * 1000.0 / scaled_length as f64;
        println!(
            "W3: a {scaled_length}-event stream: es {es:.2} ms ({:.3} µs/event), raw {raw:.2} ms ({:.3} µs/event), \
             ratio {:.3}",
            micros(es),
            micros(raw),
            raw / es
        );
        per_event.push(micros(es));
    }
    let growth = per_event[2] / per_event[1];
    println!("W3: time per event at {} events / at {length}: {growth:.3}", length * 10);

    let past = repository.load_at_version(stream, snapshot_at as u64).await?;
    repository.save_snapshot(stream, past.version, &past.state).await?;
    let mut snapshot_samples = Vec::new();
    for run in 0..runs + 2 {
        let started = Instant::now();
        let loaded = repository.load(stream).await?;
        let elapsed = started.elapsed();
        assert_eq!(loaded.snapshot_at, Some(snapshot_at as u64));
        assert_eq!((loaded.version as usize, loaded.state.0.balance), (length, expected_balance));
        if run >= 2 {
            snapshot_samples.push(elapsed);
        }
    }
    let snapshot = median(snapshot_samples);
    println!(
        "W3: load with a snapshot at {snapshot_at}: {snapshot:.3} ms ({:.1}x faster than the full load)",
        es / snapshot
    );
    report(
        "W3",
        "ms",
        es,
        raw,
        false,
        &format!(
            ",\"snapshot_ms\":{snapshot:.3},\"snapshot_speedup\":{:.1},\"per_event_growth_10x\":{growth:.3}",
            es / snapshot
        ),
    );

    // Where the full load's time goes: the SQL alone (rows fetched, not
    // decoded) for both column lists, the store's read, and the fold.
    let es_sql = client
        .prepare(&format!(
            "SELECT position, tx, version, recorded_at, aggregate_type, event_name, event_version, payload, metadata \
             FROM {}.events WHERE stream_id = $1 ORDER BY version",
            store.quoted_schema()
        ))
        .await?;
    let (mut raw_sql, mut es_sql_samples, mut read, mut fold) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut narrow = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        assert_eq!(client.query(&select, &[&stream]).await?.len(), length);
        raw_sql.push(started.elapsed());
        let started = Instant::now();
        assert_eq!(client.query(&es_sql, &[&stream]).await?.len(), length);
        es_sql_samples.push(started.elapsed());
        let started = Instant::now();
        let events = store.read_stream(stream, StreamRange::all()).await?;
        read.push(started.elapsed());
        let started = Instant::now();
        let mut state = Account::default();
        for recorded in events {
            state.fold(&AccountEvent::decode(
                &recorded.event.name,
                recorded.event.schema_version,
                &recorded.event.payload,
            )?);
        }
        fold.push(started.elapsed());
        assert_eq!(state.balance, expected_balance);

        let started = Instant::now();
        let mut state = Account::default();
        for (_, event) in store.read_stream_events("account", stream, StreamRange::all()).await? {
            state.fold(&AccountEvent::decode(&event.name, event.schema_version, &event.payload)?);
        }
        narrow.push(started.elapsed());
        assert_eq!(state.balance, expected_balance);
    }
    println!(
        "W3: where the time goes (medians, ms): rows of the raw SELECT {:.2}, rows of the store's SELECT {:.2}, \
         read_stream (rows + decoding into RecordedEvent) {:.2}, Event::decode + apply {:.2}",
        median(raw_sql),
        median(es_sql_samples),
        median(read),
        median(fold)
    );
    let narrow = median(narrow);
    println!(
        "W3: the same fold over PgEventStore::read_stream_events (no envelope columns): {narrow:.2} ms, \
         ratio {:.3} against raw",
        raw / narrow
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// W6: one command on a long stream with a snapshot near its head.

/// The raw pattern in two round trips: one statement reads the snapshot and
/// the events after it, the state is decoded and folded, one INSERT
/// appends the next event.
async fn w6_raw(client: &Client, schema: &str, stream: &str, commands: usize) -> Result<(), BoxError> {
    let read = client
        .prepare(&format!(
            "WITH s AS (SELECT version, state FROM \"{schema}\".snapshots WHERE stream_id = $1) \
             SELECT version, state, NULL::int8, NULL::text, NULL::jsonb FROM s \
             UNION ALL \
             (SELECT NULL, NULL, version, event_name, payload FROM \"{schema}\".events \
              WHERE stream_id = $1 AND version > coalesce((SELECT version FROM s), 0) ORDER BY version)"
        ))
        .await?;
    let insert = client
        .prepare(&format!(
            "INSERT INTO \"{schema}\".events (aggregate_type, stream_id, version, event_name, event_version, payload, metadata) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .await?;
    let metadata = serde_json::json!({});
    for _ in 0..commands {
        let (mut state, mut version) = (Account::default(), 0_i64);
        for row in client.query(&read, &[&stream]).await? {
            if let Some(at) = row.try_get::<_, Option<i64>>(0)? {
                state = row.try_get::<_, Json<Account>>(1)?.0;
                version = at;
                continue;
            }
            version = row.try_get(2)?;
            let event = match row.try_get::<_, &str>(3)? {
                "Opened" => AccountEvent::Opened(row.try_get::<_, Json<Opened>>(4)?.0),
                _ => AccountEvent::Deposited(row.try_get::<_, Json<Deposited>>(4)?.0),
            };
            state.fold(&event);
        }
        let Ok(new) = state.next();
        for event in new {
            version += 1;
            let params: [&(dyn ToSql + Sync); 7] =
                [&"account", &stream, &version, &event.event_name(), &1_i32, &Json(&event), &metadata];
            client.execute(&insert, &params).await?;
        }
    }
    Ok(())
}

async fn w6(bench: &mut Bench) -> Result<(), BoxError> {
    // The scale sets the number of commands only: the stream's length is
    // what the workload is about.
    let length = 10_000;
    let snapshot_at = length - 10;
    let rounds = 10;
    let commands = bench.scaled(1000).div_ceil(rounds) * rounds;
    println!(
        "W6: {commands} commands, one at a time, on a {length}-event stream with a snapshot at {snapshot_at}, \
         no cache; raw: one statement for snapshot and newer events, one INSERT; the two alternate in {rounds} rounds"
    );
    let store = bench.fresh("w6_es", 1).await?;
    let raw_store = bench.fresh("w6_raw", 1).await?;
    let stream = "account-w6";
    for store in [&store, &raw_store] {
        fill(store, stream, length).await?;
        let repository = Repository::<SnapshottedAccount, _>::new(store.clone());
        let past = repository.load_at_version(stream, snapshot_at as u64).await?;
        repository.save_snapshot(stream, past.version, &past.state).await?;
    }
    let repository = Repository::<SnapshottedAccount, _>::new(store.clone());
    let client = bench.raw().await?;
    let (mut es_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        for es_turn in [round % 2 == 0, round % 2 == 1] {
            let started = Instant::now();
            if es_turn {
                for _ in 0..commands / rounds {
                    repository.execute(stream, |a| a.0.next()).await?;
                }
                es_time += started.elapsed();
            } else {
                w6_raw(&client, raw_store.schema(), stream, commands / rounds).await?;
                raw_time += started.elapsed();
            }
        }
    }
    let loaded = repository.load(stream).await?;
    let raw_loaded = Repository::<SnapshottedAccount, _>::new(raw_store.clone()).load(stream).await?;
    if (loaded.version, loaded.state.0.balance) != (raw_loaded.version, raw_loaded.state.0.balance)
        || loaded.version as usize != length + commands
    {
        return Err("W6: the repository and the raw pattern disagree".into());
    }
    report("W6", "commands/s", per_second(commands, es_time), per_second(commands, raw_time), true, ",\"cache\":false");
    Ok(())
}

// ---------------------------------------------------------------------------
// W4: catch a one-table projection up over W2's events.

/// Totals per stream, one upsert per deposit.
struct Totals {
    upsert: String,
    table: String,
}

impl Totals {
    fn new(table: String) -> Self {
        let upsert = format!(
            "INSERT INTO {table} (id, total) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET total = {table}.total + EXCLUDED.total"
        );
        Totals { upsert, table }
    }
}

impl PgProjection for Totals {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "totals"
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &AccountEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        if let AccountEvent::Deposited(d) = event {
            let upsert = tx.prepare_cached(&self.upsert).await?;
            tx.execute(&upsert, &[&env.stream_id, &d.amount]).await?;
        }
        Ok(())
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute(&format!("TRUNCATE {}", self.table)).await?;
        Ok(())
    }
}

/// The raw pattern: read the global order in pages, then upsert each event
/// in one transaction per page.
async fn w4_raw(client: &mut Client, schema: &str, upsert: &str) -> Result<usize, BoxError> {
    let read = client
        .prepare(&format!(
            "SELECT tx::text::int8 AS commit, position, stream_id, event_name, event_version, payload FROM \"{schema}\".events \
             WHERE (tx, position) > ($1::int8::text::xid8, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY tx, position LIMIT 1000"
        ))
        .await?;
    let upsert = client.prepare(upsert).await?;
    let (mut after, mut handled) = ((0_i64, 0_i64), 0);
    loop {
        let rows = client.query(&read, &[&after.0, &after.1]).await?;
        let Some(last) = rows.last() else { return Ok(handled) };
        after = (last.get(0), last.get(1));
        let tx = client.transaction().await?;
        for row in &rows {
            if let AccountEvent::Deposited(d) = raw_event(row, 3, 5)? {
                tx.execute(&upsert, &[&row.get::<_, &str>(2), &d.amount]).await?;
            }
        }
        tx.commit().await?;
        handled += rows.len();
    }
}

async fn w4(bench: &mut Bench) -> Result<(), BoxError> {
    let total = bench.scaled(100_000).div_ceil(1000) * 1000;
    let (batch, streams) = (1000, 10);
    println!(
        "W4: catch-up of {total} events (W2's shape: {streams} streams, appends of {batch}) into a one-table \
         projection, one upsert per event, pages of 1,000; raw: the same pages and upserts, one transaction per page"
    );
    let store = bench.fresh("w4", 2).await?;
    for b in 0..total / batch {
        let expected = ExpectedVersion::Exact((b / streams * batch) as u64);
        let encoded: Vec<EncodedEvent> = deposits(batch).iter().map(Event::encode).collect::<Result<_, _>>()?;
        store
            .append(Account::TYPE, &format!("stream-{}", b % streams), expected, encoded, &Metadata::default())
            .await?;
    }
    let schema = store.schema().to_owned();
    let mut client = bench.raw().await?;
    client
        .batch_execute(&format!(
            "CREATE TABLE \"{schema}\".totals_es (id TEXT PRIMARY KEY, total BIGINT NOT NULL);
             CREATE TABLE \"{schema}\".totals_raw (id TEXT PRIMARY KEY, total BIGINT NOT NULL);"
        ))
        .await?;

    // Both read the same rows: read them once first so that neither pays
    // for a cold cache.
    client.query_one(&format!("SELECT sum(length(payload::text)) FROM \"{schema}\".events"), &[]).await?;
    let raw_projection = Totals::new(format!("\"{schema}\".totals_raw"));
    let started = Instant::now();
    let raw_handled = w4_raw(&mut client, &schema, &raw_projection.upsert).await?;
    let raw_time = started.elapsed();

    let mut runner = PgProjectionRunner::new(store.clone(), Totals::new(format!("\"{schema}\".totals_es")));
    let started = Instant::now();
    let es_handled = runner.catch_up().await?;
    let es_time = started.elapsed();
    if (es_handled as usize, raw_handled) != (total, total) {
        return Err(format!("W4 handled {es_handled} (es) and {raw_handled} (raw) of {total} events").into());
    }

    let started = Instant::now();
    runner.rebuild(|_| {}).await?;
    let rebuild = started.elapsed();
    let same: bool = client
        .query_one(
            &format!(
                "SELECT NOT EXISTS (SELECT * FROM \"{schema}\".totals_es FULL JOIN \"{schema}\".totals_raw USING (id) \
                 WHERE totals_es.total IS DISTINCT FROM totals_raw.total)"
            ),
            &[],
        )
        .await?
        .get(0);
    if !same {
        return Err("W4: the projection and the raw pattern disagree".into());
    }
    println!("W4: rebuild of the projection (reset + replay of {total} events): {:.2} s", rebuild.as_secs_f64());
    report("W4", "events/s", per_second(total, es_time), per_second(total, raw_time), true, ",\"partitions\":1");

    // The same catch-up split into 2 partitions, one runner (and
    // connection) each, side by side.
    client
        .batch_execute(&format!("CREATE TABLE \"{schema}\".totals_p2 (id TEXT PRIMARY KEY, total BIGINT NOT NULL)"))
        .await?;
    let two = std::num::NonZeroU32::new(2).ok_or("two is not zero")?;
    let mut runners: Vec<_> = PgPartition::all(two)
        .map(|p| PgProjectionRunner::partition(store.clone(), Totals::new(format!("\"{schema}\".totals_p2")), p))
        .collect();
    let started = Instant::now();
    let handled = futures_util::future::try_join_all(runners.iter_mut().map(PgProjectionRunner::catch_up)).await?;
    let partitioned_time = started.elapsed();
    if handled.iter().sum::<u64>() as usize != total {
        return Err(format!("W4 with 2 partitions handled {handled:?} of {total} events").into());
    }
    report(
        "W4",
        "events/s",
        per_second(total, partitioned_time),
        per_second(total, raw_time),
        true,
        ",\"partitions\":2",
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// W5: rebuild a one-table projection over 1,000,000 events, a page at once.

/// Totals per stream, written with one multi-row upsert per page.
struct BatchTotals {
    per_event: Totals,
    upsert: String,
}

impl BatchTotals {
    fn new(table: String) -> Self {
        let upsert = format!(
            "INSERT INTO {table} (id, total) SELECT * FROM unnest($1::text[], $2::int8[]) \
             ON CONFLICT (id) DO UPDATE SET total = {table}.total + EXCLUDED.total"
        );
        BatchTotals { per_event: Totals::new(table), upsert }
    }
}

/// The deposits of a page summed per stream, in first-seen order.
fn page_totals<'a>(deposits: impl Iterator<Item = (&'a str, i64)>) -> (Vec<&'a str>, Vec<i64>) {
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let (mut ids, mut totals) = (Vec::new(), Vec::new());
    for (id, amount) in deposits {
        let at = *index.entry(id).or_insert_with(|| {
            ids.push(id);
            totals.push(0);
            ids.len() - 1
        });
        totals[at] += amount;
    }
    (ids, totals)
}

impl PgProjection for BatchTotals {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "batch_totals"
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &AccountEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        self.per_event.handle(tx, event, env).await
    }

    async fn handle_batch(
        &mut self,
        tx: &PgTransaction<'_>,
        events: &[Envelope<'_, AccountEvent>],
    ) -> Result<(), BoxError> {
        let deposits = events.iter().filter_map(|e| match e.event {
            AccountEvent::Deposited(d) => Some((e.recorded.stream_id.as_str(), d.amount)),
            AccountEvent::Opened(_) => None,
        });
        let (ids, totals) = page_totals(deposits);
        let upsert = tx.prepare_cached(&self.upsert).await?;
        tx.execute(&upsert, &[&ids, &totals]).await?;
        Ok(())
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        self.per_event.reset(tx).await
    }
}

/// The raw pattern of a batched rebuild: read the global order of the
/// store in `schema` in pages on `reader`; per page, one transaction on
/// `writer` (the same database, or the target's) with one multi-row upsert
/// into `table` and the checkpoint in `checkpoints`.
async fn w5_raw(
    reader: &Client,
    writer: &mut Client,
    schema: &str,
    checkpoints: &str,
    table: &str,
) -> Result<usize, BoxError> {
    writer
        .batch_execute(&format!(
            "TRUNCATE {table}; CREATE TABLE IF NOT EXISTS \"{checkpoints}\".raw_checkpoint (tx BIGINT, position BIGINT);
             TRUNCATE \"{checkpoints}\".raw_checkpoint; INSERT INTO \"{checkpoints}\".raw_checkpoint VALUES (0, 0);"
        ))
        .await?;
    let read = reader
        .prepare(&format!(
            "SELECT tx::text::int8 AS commit, position, stream_id, event_name, event_version, payload FROM \"{schema}\".events \
             WHERE (tx, position) > ($1::int8::text::xid8, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY tx, position LIMIT 1000"
        ))
        .await?;
    let upsert = writer.prepare(&BatchTotals::new(table.to_owned()).upsert).await?;
    let checkpoint =
        writer.prepare(&format!("UPDATE \"{checkpoints}\".raw_checkpoint SET tx = $1, position = $2")).await?;
    let (mut after, mut handled) = ((0_i64, 0_i64), 0);
    loop {
        let rows = reader.query(&read, &[&after.0, &after.1]).await?;
        let Some(last) = rows.last() else { return Ok(handled) };
        after = (last.get(0), last.get(1));
        let mut deposits = Vec::with_capacity(rows.len());
        for row in &rows {
            if let AccountEvent::Deposited(d) = raw_event(row, 3, 5)? {
                deposits.push((row.get::<_, &str>(2), d.amount));
            }
        }
        let (ids, totals) = page_totals(deposits.into_iter());
        let tx = writer.transaction().await?;
        tx.execute(&upsert, &[&ids, &totals]).await?;
        tx.execute(&checkpoint, &[&after.0, &after.1]).await?;
        tx.commit().await?;
        handled += rows.len();
    }
}

/// Whether tables `a` and `b` (reached on `client`) hold the same totals.
async fn same_totals(client: &Client, a: &str, b: &str) -> Result<bool, BoxError> {
    let query = format!(
        "SELECT NOT EXISTS (SELECT * FROM {a} a FULL JOIN {b} b USING (id) WHERE a.total IS DISTINCT FROM b.total)"
    );
    Ok(client.query_one(&query, &[]).await?.get(0))
}

/// W5 into another database of the server, `es_bench_targets`: the same
/// rebuild, its read model and checkpoint there.
async fn w5_target(bench: &Bench, store: &PgEventStore, total: usize) -> Result<(), BoxError> {
    const DATABASE: &str = "es_bench_targets";
    let reader = bench.raw().await?;
    if let Err(e) = reader.batch_execute(&format!("CREATE DATABASE {DATABASE}")).await {
        if e.code() != Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) {
            return Err(e.into());
        }
    }
    let mut config = bench.config.clone();
    config.dbname(DATABASE);
    let schema = store.schema();
    let builder = PgEventStore::builder(config.clone()).ssl_mode(PgSslMode::Disable).schema(schema).pool_size(2);
    let target = PgTarget::from_builder(builder)?;
    let (mut writer, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    writer.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
    target.migrate().await?;
    let tables = ["totals_es", "totals_raw"].map(|t| format!("\"{schema}\".{t}"));
    for table in &tables {
        writer.batch_execute(&format!("CREATE TABLE {table} (id TEXT PRIMARY KEY, total BIGINT NOT NULL)")).await?;
    }
    let started = Instant::now();
    let raw_handled = w5_raw(&reader, &mut writer, schema, schema, &tables[1]).await?;
    let raw_time = started.elapsed();
    let mut runner = PgProjectionRunner::with_target(store.clone(), target, BatchTotals::new(tables[0].clone()));
    let started = Instant::now();
    let es_handled = runner.rebuild(|_| {}).await? as usize;
    let es_time = started.elapsed();
    if (es_handled, raw_handled) != (total, total) {
        return Err(format!("W5 into a target handled {es_handled} and {raw_handled} of {total} events").into());
    }
    if !same_totals(&writer, &tables[0], &tables[1]).await? {
        return Err("W5: the target's read models disagree".into());
    }
    writer.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await?;
    report("W5", "events/s", per_second(total, es_time), per_second(total, raw_time), true, ",\"target\":\"postgres\"");
    Ok(())
}

async fn w5(bench: &mut Bench) -> Result<(), BoxError> {
    let total = bench.scaled(1_000_000).div_ceil(1000) * 1000;
    let (batch, streams) = (1000, 100);
    println!(
        "W5: rebuild of a one-table projection over {total} events ({streams} streams, appends of {batch}), \
         pages of 1,000: es through handle_batch (one multi-row upsert per page); raw: the same pages, one \
         transaction per page with one multi-row upsert and the checkpoint; per_event: es through handle"
    );
    let store = bench.fresh("w5", 2).await?;
    for b in 0..total / batch {
        let expected = ExpectedVersion::Exact((b / streams * batch) as u64);
        let encoded: Vec<EncodedEvent> = deposits(batch).iter().map(Event::encode).collect::<Result<_, _>>()?;
        store
            .append(Account::TYPE, &format!("stream-{}", b % streams), expected, encoded, &Metadata::default())
            .await?;
    }
    let schema = store.schema().to_owned();
    let client = bench.raw().await?;
    let tables = ["totals_batch", "totals_raw", "totals_each"].map(|t| format!("\"{schema}\".{t}"));
    for table in &tables {
        client.batch_execute(&format!("CREATE TABLE {table} (id TEXT PRIMARY KEY, total BIGINT NOT NULL)")).await?;
    }
    // Both read the same rows: read them once first so that neither pays
    // for a cold cache, and give the planner the table's statistics.
    client.batch_execute(&format!("ANALYZE \"{schema}\".events")).await?;
    client.query_one(&format!("SELECT sum(length(payload::text)) FROM \"{schema}\".events"), &[]).await?;

    let started = Instant::now();
    let mut writer = bench.raw().await?;
    let raw_handled = w5_raw(&client, &mut writer, &schema, &schema, &tables[1]).await?;
    let raw_time = started.elapsed();

    let mut batched = PgProjectionRunner::new(store.clone(), BatchTotals::new(tables[0].clone()));
    let started = Instant::now();
    let es_handled = batched.rebuild(|_| {}).await?;
    let es_time = started.elapsed();

    let mut each = PgProjectionRunner::new(store.clone(), Totals::new(tables[2].clone()));
    let started = Instant::now();
    let each_handled = each.rebuild(|_| {}).await?;
    let each_time = started.elapsed();
    if (es_handled as usize, raw_handled, each_handled as usize) != (total, total, total) {
        return Err(format!("W5 handled {es_handled}, {raw_handled} and {each_handled} of {total} events").into());
    }
    for other in &tables[1..] {
        if !same_totals(&client, &tables[0], other).await? {
            return Err(format!("W5: {} and {other} disagree", tables[0]).into());
        }
    }
    let per_event = format!(",\"per_event\":{:.2}", per_second(total, each_time));
    report("W5", "events/s", per_second(total, es_time), per_second(total, raw_time), true, &per_event);
    w5_target(bench, &store, total).await
}

// ---------------------------------------------------------------------------

async fn run() -> Result<(), BoxError> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let scale = std::env::var("ES_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let only = std::env::var("ES_BENCH_ONLY").ok();
    let mut bench = Bench { config: url.parse()?, scale, schemas: Vec::new() };
    println!("es-postgres store benchmark against {url} (scale {scale})");
    let wanted = |w: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x.eq_ignore_ascii_case(w)));
    let result = async {
        if wanted("W1") {
            w1(&mut bench, "W1", 1).await?;
        }
        if wanted("W1b") {
            w1(&mut bench, "W1b", 8).await?;
        }
        if wanted("W2") {
            w2(&mut bench).await?;
        }
        if wanted("W3") {
            w3(&mut bench).await?;
        }
        if wanted("W6") {
            w6(&mut bench).await?;
        }
        if wanted("W4") {
            w4(&mut bench).await?;
        }
        if wanted("W5") {
            w5(&mut bench).await?;
        }
        Ok::<_, BoxError>(())
    }
    .await;
    bench.cleanup().await?;
    result
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}
