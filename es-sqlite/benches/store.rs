//! `cargo bench -p es-sqlite --bench store`: es-sqlite against plain
//! rusqlite calls running the store's own statements on the same kind of
//! file.
//!
//! Every file lives under a fresh directory,
//! `std::env::temp_dir()/es-sqlite-bench-<pid>`, removed at the end. The raw
//! side opens its connections with the store's flags and PRAGMAs (WAL,
//! `synchronous=FULL`, a 5 s busy timeout, foreign keys), runs the SQL
//! text of the store's statements (`src/store/sql`, `src/projection/sql`)
//! and hops to Tokio's blocking pool once per call, as the store does.
//! Each workload prints JSON lines such as
//! `{"workload":"W1","unit":"events/s","es":…,"raw":…,"ratio":…,"raw_inline":…}`
//! where `ratio` is es/raw for throughput and raw/es for latency (higher is
//! better), and `raw_inline` is the raw figure with the calls made on the
//! caller's thread, without the hop.
//!
//! - W1: commands (load the stream, append one event) through a
//!   repository, one client.
//! - W3: loading and folding a 10,000-event stream, median of 20 runs.
//! - W4: a projection catching up over 100,000 events into a one-table
//!   read model in the store's own file, median of 5 catch-ups.
//! - W5: a projection rebuilt over 1,000,000 events of a PostgreSQL store
//!   (`DATABASE_URL`, default the local server) into a SQLite file.
//!
//! The sides take turns within each workload, each going first in turn,
//! so that none gets a quieter machine.
//!
//! Set `ES_BENCH_ONLY` to run some workloads (`ES_BENCH_ONLY=W1,W4`) and
//! `ES_BENCH_SCALE` (default 1) to shrink them while iterating, e.g.
//! `ES_BENCH_SCALE=0.1`.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use es_core::{
    Aggregate, BoxError, DecodeError, EncodedEvent, Event, EventStore, ExpectedVersion, Metadata, Payload,
    RecordedEvent, Repository,
};
use es_postgres::tokio_postgres::Client as PgClient;
use es_sqlite::{SqliteEventStore, SqliteProjection, SqliteProjectionRunner, SqliteTarget, SqliteTransaction};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

/// The store's SELECT of a stream's events as a fold reads them.
const READ_STREAM_EVENTS: &str = include_str!("../src/store/sql/read_stream_events.sql");
/// The store's SELECT of the last append's number.
const LAST_TX: &str = include_str!("../src/store/sql/last_tx.sql");
/// The store's INSERT of one event.
const INSERT_EVENT: &str = include_str!("../src/store/sql/insert_event.sql");
/// The store's SELECT of a page of the global order.
const READ_ALL: &str = include_str!("../src/store/sql/read_all.sql");
/// The runner's statement taking a checkpoint over.
const LOAD_CHECKPOINT: &str = include_str!("../src/projection/sql/load_checkpoint.sql");
/// The runner's compare-and-set of a checkpoint.
const SAVE_CHECKPOINT: &str = include_str!("../src/projection/sql/save_checkpoint.sql");

/// The events a projection reads at once: the runner's default page size.
const PAGE: usize = 1000;

// ---------------------------------------------------------------------------
// The domain: an account opened once, then deposited into.

/// An account was opened.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Opened {
    owner: String,
}

/// Money was deposited into an account.
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

/// The event of a row's name and payload, parsed straight from the
/// payload's text, as hand-written code does.
fn raw_event(name: &str, payload: &str) -> Result<AccountEvent, serde_json::Error> {
    Ok(match name {
        "Opened" => AccountEvent::Opened(serde_json::from_str(payload)?),
        _ => AccountEvent::Deposited(serde_json::from_str(payload)?),
    })
}

/// An account's state.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Account {
    open: bool,
    balance: i64,
}

impl Account {
    /// Applies one event.
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

/// `n` deposits of 0, 1, 2… .
fn deposits(n: usize) -> Vec<AccountEvent> {
    (0..n).map(|i| AccountEvent::Deposited(Deposited { amount: i as i64 })).collect()
}

// ---------------------------------------------------------------------------
// Setup.

/// The run's settings and the directory its files live in.
#[derive(Debug)]
struct Bench {
    dir: PathBuf,
    scale: f64,
}

impl Bench {
    /// `n` at the run's scale, at least 1.
    fn scaled(&self, n: usize) -> usize {
        ((n as f64 * self.scale).round() as usize).max(1)
    }

    /// A fresh store in file `name` of the run's directory.
    async fn store(&self, name: &str) -> Result<SqliteEventStore, BoxError> {
        Ok(SqliteEventStore::open(self.dir.join(name)).await?)
    }

    /// A fresh file `name` with the store's tables, created by the store
    /// itself, for the raw side to write to.
    async fn raw_file(&self, name: &str) -> Result<PathBuf, BoxError> {
        drop(self.store(name).await?);
        Ok(self.dir.join(name))
    }
}

/// How a raw call runs.
#[derive(Debug, Clone, Copy)]
enum Hop {
    /// On Tokio's blocking pool, one `spawn_blocking` per call, as the
    /// store's calls run.
    Blocking,
    /// On the caller's thread.
    Inline,
}

/// A plain rusqlite connection, shared with the blocking pool as the store
/// shares its own, and how its calls run.
#[derive(Debug)]
struct Raw {
    connection: Arc<Mutex<Connection>>,
    hop: Hop,
}

impl Raw {
    /// A connection to the file at `path`, set up as the store sets up its
    /// own at its default settings: the same open flags and PRAGMAs.
    fn open(path: &Path, hop: Hop) -> Result<Self, BoxError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Raw { connection: Arc::new(Mutex::new(connection)), hop })
    }

    /// Runs `work` on the connection, hopping to the blocking pool or not.
    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, BoxError> + Send + 'static,
    ) -> Result<T, BoxError> {
        let connection = Arc::clone(&self.connection);
        let work = move || work(&mut *connection.lock().map_err(|_| "a raw call panicked")?);
        match self.hop {
            Hop::Blocking => tokio::task::spawn_blocking(work).await?,
            Hop::Inline => work(),
        }
    }
}

/// The raw connections of a workload, one per hop.
#[derive(Debug)]
struct RawSides {
    blocking: Raw,
    inline: Raw,
}

impl RawSides {
    /// Connections to `blocking`'s file and `inline`'s (which may be the
    /// same).
    fn open(blocking: &Path, inline: &Path) -> Result<Self, BoxError> {
        Ok(RawSides { blocking: Raw::open(blocking, Hop::Blocking)?, inline: Raw::open(inline, Hop::Inline)? })
    }

    /// The connection whose calls run as `hop` says.
    fn get(&self, hop: Hop) -> &Raw {
        match hop {
            Hop::Blocking => &self.blocking,
            Hop::Inline => &self.inline,
        }
    }
}

/// One way of running a workload.
#[derive(Debug, Clone, Copy)]
enum Side {
    /// es-sqlite: the repository (without its cache) or a projection
    /// runner.
    Es,
    /// Plain rusqlite.
    Raw(Hop),
}

/// Every side of a workload, in the order of their figures.
const SIDES: [Side; 3] = [Side::Es, Side::Raw(Hop::Blocking), Side::Raw(Hop::Inline)];

impl Side {
    /// The side's name in file and table names.
    fn label(self) -> &'static str {
        match self {
            Side::Es => "es",
            Side::Raw(Hop::Blocking) => "raw",
            Side::Raw(Hop::Inline) => "raw_inline",
        }
    }
}

/// The time as the store stores it: microseconds since the Unix epoch.
fn now() -> Result<i64, BoxError> {
    Ok(i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros())?)
}

/// Prints a workload's JSON line: its figures, their ratio (higher is
/// better) and `extra` fields.
fn report(workload: &str, unit: &str, es: f64, raw: f64, higher_is_better: bool, extra: &str) {
    let ratio = if higher_is_better { es / raw } else { raw / es };
    println!(
        "{{\"workload\":\"{workload}\",\"unit\":\"{unit}\",\"es\":{es:.2},\"raw\":{raw:.2},\"ratio\":{ratio:.3}{extra}}}"
    );
}

/// A rate of `events` in `elapsed`.
fn per_second(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

/// The median of `samples`.
fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Folds the rows of the store's stream SELECT for `stream`, every version:
/// each payload decoded with serde_json straight into its event type.
/// Returns the state and the last version.
fn fold_stream(connection: &Connection, stream: &str) -> Result<(Account, i64), BoxError> {
    let mut select = connection.prepare_cached(READ_STREAM_EVENTS)?;
    let mut rows = select.query((stream, 0_i64, i64::MAX, None::<i64>))?;
    let (mut state, mut version) = (Account::default(), 0);
    while let Some(row) = rows.next()? {
        version = row.get(1)?;
        state.fold(&raw_event(row.get_ref(2)?.as_str()?, row.get_ref(4)?.as_str()?)?);
    }
    Ok((state, version))
}

/// Per stream of the file at `path`: its events and the sum of their
/// amounts.
fn stream_totals(path: &Path) -> Result<Vec<(String, i64, i64)>, BoxError> {
    let connection = Connection::open(path)?;
    let mut statement = connection.prepare(
        "SELECT stream_id, count(*), sum(coalesce(json_extract(payload, '$.amount'), 0)) \
         FROM events GROUP BY stream_id ORDER BY stream_id",
    )?;
    let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ---------------------------------------------------------------------------
// W1: one command per transaction (load the stream, append one event).

/// Runs the W1 commands of `accounts` through `repository`.
async fn w1_es(
    repository: &Repository<Account, SqliteEventStore>,
    accounts: std::ops::Range<usize>,
    events: usize,
) -> Result<(), BoxError> {
    for account in accounts {
        let id = format!("account-{account}");
        for _ in 0..events {
            repository.execute(&id, Account::next).await?;
        }
    }
    Ok(())
}

/// One command with plain rusqlite, in one write transaction: select the
/// stream's events, decode and fold them, read the last append's number
/// (the `tx` column the store gives each append), insert the next event.
fn raw_command(connection: &mut Connection, stream: &str) -> Result<(), BoxError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (state, mut version) = fold_stream(&tx, stream)?;
    let Ok(new) = state.next();
    let last_tx: Option<i64> = tx.prepare_cached(LAST_TX)?.query_row([], |r| r.get(0)).optional()?;
    let (commit, recorded_at) = (last_tx.unwrap_or(0) + 1, now()?);
    {
        let mut insert = tx.prepare_cached(INSERT_EVENT)?;
        for event in new {
            version += 1;
            let payload = serde_json::to_string(&event)?;
            insert.execute((commit, "account", stream, version, event.event_name(), 1, payload, "{}", recorded_at))?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The W1 commands of `accounts` with plain rusqlite, one call each.
async fn w1_raw(raw: &Raw, accounts: std::ops::Range<usize>, events: usize) -> Result<(), BoxError> {
    for account in accounts {
        let id = format!("account-{account}");
        for _ in 0..events {
            let id = id.clone();
            raw.call(move |c| raw_command(c, &id)).await?;
        }
    }
    Ok(())
}

/// W1 over every side, one JSON line.
async fn w1(bench: &Bench) -> Result<(), BoxError> {
    let accounts = bench.scaled(1000);
    let events_per_account = 10;
    let total = accounts * events_per_account;
    let rounds = 10.min(accounts);
    println!(
        "W1: {accounts} accounts x {events_per_account} events (Opened + {} Deposited), one command at a time, \
         1 client, a file per side; es: Repository::execute without cache (the stream read in a read transaction, \
         then the append in a write transaction); raw: one write transaction per command (the store's stream \
         SELECT, fold, the store's last-tx SELECT and INSERT); {SIDES:?} take turns in {rounds} rounds",
        events_per_account - 1,
    );
    let store = bench.store("w1-es.sqlite3").await?;
    let repository = Repository::<Account, _>::new(store.clone());
    let mut paths = vec![store.path().ok_or("the W1 store has no file")?.to_path_buf()];
    for side in &SIDES[1..] {
        paths.push(bench.raw_file(&format!("w1-{}.sqlite3", side.label())).await?);
    }
    let raws = RawSides::open(&paths[1], &paths[2])?;

    let mut times = [Duration::ZERO; SIDES.len()];
    for round in 0..rounds {
        let slice = (accounts * round / rounds)..(accounts * (round + 1) / rounds);
        // Each side goes first in turn, so that none gets a quieter machine.
        for turn in 0..SIDES.len() {
            let i = (round + turn) % SIDES.len();
            let started = Instant::now();
            match SIDES[i] {
                Side::Es => w1_es(&repository, slice.clone(), events_per_account).await?,
                Side::Raw(hop) => w1_raw(raws.get(hop), slice.clone(), events_per_account).await?,
            }
            times[i] += started.elapsed();
        }
    }

    let mut ids: Vec<String> = (0..accounts).map(|a| format!("account-{a}")).collect();
    ids.sort();
    let deposited = 100 * (events_per_account as i64 - 1);
    let expected: Vec<(String, i64, i64)> =
        ids.into_iter().map(|id| (id, events_per_account as i64, deposited)).collect();
    for (side, path) in SIDES.iter().zip(&paths) {
        if stream_totals(path)? != expected {
            return Err(format!("W1: the streams {} wrote are not the expected ones", side.label()).into());
        }
    }
    let [es, raw, inline] = times.map(|t| per_second(total, t));
    report("W1", "events/s", es, raw, true, &format!(",\"cache\":false,\"raw_inline\":{inline:.2}"));
    Ok(())
}

// ---------------------------------------------------------------------------
// W3: load one 10,000-event stream and fold it.

/// Appends an account of `length` events to `stream`, in appends of 1,000.
async fn fill(store: &SqliteEventStore, stream: &str, length: usize) -> Result<(), BoxError> {
    let mut events = vec![AccountEvent::Opened(Opened { owner: "bench".into() })];
    events.extend(deposits(length - 1));
    for (i, chunk) in events.chunks(1000).enumerate() {
        let encoded: Vec<EncodedEvent> = chunk.iter().map(Event::encode).collect::<Result<_, _>>()?;
        let expected = ExpectedVersion::Exact((i * 1000) as u64);
        store.append(Account::TYPE, stream, expected, encoded, &Metadata::default()).await?;
    }
    Ok(())
}

/// W3 over every side, one JSON line.
async fn w3(bench: &Bench) -> Result<(), BoxError> {
    let length = bench.scaled(10_000).max(20);
    let (runs, warm_up) = (20, 2);
    println!(
        "W3: load and fold one {length}-event stream, median of {runs} runs after {warm_up} warm-up runs; \
         es: Repository::load; raw: the store's stream SELECT and a fold, on plain connections to the same file; \
         {SIDES:?} take turns"
    );
    let store = bench.store("w3.sqlite3").await?;
    let stream = "account-w3";
    fill(&store, stream, length).await?;
    let expected = (length as i64, (0..length as i64 - 1).sum::<i64>());
    let path = store.path().ok_or("the W3 store has no file")?;
    let raws = RawSides::open(path, path)?;
    let repository = Repository::<Account, _>::new(store.clone());

    let mut samples: [Vec<Duration>; SIDES.len()] = Default::default();
    for run in 0..runs + warm_up {
        for turn in 0..SIDES.len() {
            let i = (run + turn) % SIDES.len();
            let started = Instant::now();
            let (version, balance) = match SIDES[i] {
                Side::Es => {
                    let loaded = repository.load(stream).await?;
                    (loaded.version as i64, loaded.state.balance)
                }
                Side::Raw(hop) => {
                    let (state, version) = raws.get(hop).call(move |c| fold_stream(c, stream)).await?;
                    (version, state.balance)
                }
            };
            let elapsed = started.elapsed();
            if (version, balance) != expected {
                let side = SIDES[i].label();
                return Err(
                    format!("W3: {side} loaded (version, balance) ({version}, {balance}), not {expected:?}").into()
                );
            }
            if run >= warm_up {
                samples[i].push(elapsed);
            }
        }
    }
    let [es, raw, inline] = samples.map(|s| median(s).as_secs_f64() * 1000.0);
    report("W3", "ms", es, raw, false, &format!(",\"raw_inline\":{inline:.3}"));
    Ok(())
}

// ---------------------------------------------------------------------------
// W4: catch a one-table projection up over 100,000 events.

/// The read model's table `table`.
fn create_totals(table: &str) -> String {
    format!("CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, total INTEGER NOT NULL) STRICT")
}

/// One deposit added to stream `?1`'s total in `table`.
fn upsert_totals(table: &str) -> String {
    format!(
        "INSERT INTO {table} (id, total) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET total = total + excluded.total"
    )
}

/// Totals per stream, one upsert per deposit.
#[derive(Debug)]
struct Totals {
    table: String,
    upsert: String,
}

impl SqliteProjection for Totals {
    type Event = AccountEvent;

    /// Named after its table.
    fn name(&self) -> &str {
        &self.table
    }

    fn setup(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
        tx.execute_batch(&create_totals(&self.table))?;
        Ok(())
    }

    fn handle(
        &mut self,
        tx: &SqliteTransaction<'_>,
        event: &AccountEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        if let AccountEvent::Deposited(d) = event {
            tx.prepare_cached(&self.upsert)?.execute((&env.stream_id, d.amount))?;
        }
        Ok(())
    }

    fn reset(&mut self, tx: &SqliteTransaction<'_>) -> Result<(), BoxError> {
        tx.execute_batch(&format!("DELETE FROM {}", self.table))?;
        Ok(())
    }
}

/// A checkpoint as stored: (tx, position).
type Checkpoint = (i64, i64);

/// One page with plain rusqlite: read up to [`PAGE`] events after `from`
/// with the store's global-order SELECT, then in one write transaction
/// upsert each deposit and move checkpoint `name` from `from` with the
/// store's compare-and-set. Returns how many events were read and the new
/// checkpoint (tx, position), `None` at the end of the log.
fn raw_page(
    connection: &mut Connection,
    name: &str,
    upsert: &str,
    from: Checkpoint,
) -> Result<Option<(usize, Checkpoint)>, BoxError> {
    let mut page: Vec<(i64, i64, String, Option<i64>)> = Vec::with_capacity(PAGE);
    {
        let mut read = connection.prepare_cached(READ_ALL)?;
        let mut rows = read.query((from.1, PAGE as i64))?;
        while let Some(row) = rows.next()? {
            let amount = match raw_event(row.get_ref(5)?.as_str()?, row.get_ref(7)?.as_str()?)? {
                AccountEvent::Deposited(d) => Some(d.amount),
                AccountEvent::Opened(_) => None,
            };
            page.push((row.get(0)?, row.get(1)?, row.get(9)?, amount));
        }
    }
    let Some(&(position, commit, ..)) = page.last() else { return Ok(None) };
    let deposits = page.iter().filter_map(|(_, _, stream, amount)| amount.map(|a| (stream.as_str(), a)));
    raw_write(connection, name, upsert, from, (commit, position), deposits)?;
    Ok(Some((page.len(), (commit, position))))
}

/// One page's write with plain rusqlite: in one write transaction, upsert
/// each deposit and move checkpoint `name` `from` → `to` with the store's
/// compare-and-set.
fn raw_write<'a>(
    connection: &mut Connection,
    name: &str,
    upsert: &str,
    from: Checkpoint,
    to: Checkpoint,
    deposits: impl Iterator<Item = (&'a str, i64)>,
) -> Result<(), BoxError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut upsert = tx.prepare_cached(upsert)?;
        for (stream, amount) in deposits {
            upsert.execute((stream, amount))?;
        }
    }
    let moved: Option<i64> = tx
        .prepare_cached(SAVE_CHECKPOINT)?
        .query_row((name, from.0, from.1, to.0, to.1, now()?), |r| r.get(0))
        .optional()?;
    if moved.is_none() {
        return Err(format!("checkpoint {name} was moved by someone else").into());
    }
    tx.commit()?;
    Ok(())
}

/// Creates read model `table` and takes the checkpoint named after it over
/// with the store's statement, in one transaction; where it stands.
fn raw_take_over(connection: &mut Connection, table: &str) -> Result<Checkpoint, BoxError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(&create_totals(table))?;
    let at = tx.prepare_cached(LOAD_CHECKPOINT)?.query_row((table, now()?), |r| Ok((r.get(0)?, r.get(1)?)))?;
    tx.commit()?;
    Ok(at)
}

/// The raw catch-up into `table`: in one transaction, create the table and
/// take the checkpoint named after it over with the store's statement;
/// then page by page, one call each.
async fn w4_raw(raw: &Raw, table: &str) -> Result<usize, BoxError> {
    let (name, upsert) = (Arc::<str>::from(table), Arc::<str>::from(upsert_totals(table)));
    let taken_over = Arc::clone(&name);
    let mut checkpoint = raw.call(move |c| raw_take_over(c, &taken_over)).await?;
    let mut handled = 0;
    loop {
        let (name, upsert) = (Arc::clone(&name), Arc::clone(&upsert));
        let Some((read, to)) = raw.call(move |c| raw_page(c, &name, &upsert, checkpoint)).await? else {
            return Ok(handled);
        };
        handled += read;
        checkpoint = to;
    }
}

/// The rows of read model `table`, by id.
fn totals(connection: &Connection, table: &str) -> Result<Vec<(String, i64)>, BoxError> {
    let mut statement = connection.prepare(&format!("SELECT id, total FROM {table} ORDER BY id"))?;
    let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// W4 over every side, one JSON line.
async fn w4(bench: &Bench) -> Result<(), BoxError> {
    let total = bench.scaled(100_000).div_ceil(1000) * 1000;
    let (batch, streams, rounds) = (1000, 10, 5);
    println!(
        "W4: catch-up of {total} events ({streams} streams, appends of {batch}) into a one-table read model in the \
         store's file, one upsert per event, pages of {PAGE}; es: SqliteProjectionRunner::catch_up; raw: per page \
         the store's global-order SELECT, then one write transaction with the upserts and the store's checkpoint \
         compare-and-set; median of {rounds} rounds where {SIDES:?} take turns, each catch-up from the start into \
         a table (and checkpoint) of its own"
    );
    let store = bench.store("w4.sqlite3").await?;
    for b in 0..total / batch {
        let expected = ExpectedVersion::Exact((b / streams * batch) as u64);
        let encoded: Vec<EncodedEvent> = deposits(batch).iter().map(Event::encode).collect::<Result<_, _>>()?;
        store
            .append(Account::TYPE, &format!("stream-{}", b % streams), expected, encoded, &Metadata::default())
            .await?;
    }
    let path = store.path().ok_or("the W4 store has no file")?;
    let raws = RawSides::open(path, path)?;
    let target = SqliteTarget::of(&store).await?;
    // Every side reads the same rows: read them once first so that none
    // pays for a cold cache.
    let warm = "SELECT sum(length(payload)) FROM events";
    raws.blocking.call(move |c| Ok(c.query_row(warm, [], |r| r.get::<_, i64>(0))?)).await?;

    let per_stream = (total / batch / streams) as i64 * (0..batch as i64).sum::<i64>();
    let expected: Vec<(String, i64)> = (0..streams).map(|s| (format!("stream-{s}"), per_stream)).collect();
    let check = Connection::open(path)?;
    let mut samples: [Vec<Duration>; SIDES.len()] = Default::default();
    for round in 0..rounds {
        for turn in 0..SIDES.len() {
            let i = (round + turn) % SIDES.len();
            let table = format!("totals_{}_{round}", SIDES[i].label());
            let started = Instant::now();
            let handled = match SIDES[i] {
                Side::Es => {
                    let projection = Totals { upsert: upsert_totals(&table), table: table.clone() };
                    SqliteProjectionRunner::new(store.clone(), target.clone(), projection).catch_up().await? as usize
                }
                Side::Raw(hop) => w4_raw(raws.get(hop), &table).await?,
            };
            samples[i].push(started.elapsed());
            if handled != total || totals(&check, &table)? != expected {
                return Err(format!("W4: {table} handled {handled} of {total} events, or not as expected").into());
            }
        }
    }
    let [es, raw, inline] = samples.map(|s| per_second(total, median(s)));
    report("W4", "events/s", es, raw, true, &format!(",\"raw_inline\":{inline:.2}"));
    Ok(())
}

// ---------------------------------------------------------------------------
// W5: rebuild a one-table projection over 1,000,000 events of a PostgreSQL
// store into a SQLite file.

/// The global order of a PostgreSQL store in `schema`, a page after
/// (`$1`, `$2`), as a hand-written loop reads it.
fn pg_read_all(schema: &str) -> String {
    format!(
        "SELECT tx::text::int8 AS commit, position, stream_id, event_name, payload::text FROM \"{schema}\".events \
         WHERE (tx, position) > ($1::int8::text::xid8, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY tx, position LIMIT {PAGE}"
    )
}

/// The raw rebuild: pages of the PostgreSQL store read with plain
/// tokio-postgres; each page written with plain rusqlite in one call on the
/// blocking pool.
async fn w5_raw(pg: &PgClient, schema: &str, raw: &Raw, table: &str) -> Result<usize, BoxError> {
    let (name, upsert) = (Arc::<str>::from(table), Arc::<str>::from(upsert_totals(table)));
    let taken_over = Arc::clone(&name);
    let mut checkpoint = raw.call(move |c| raw_take_over(c, &taken_over)).await?;
    let read = pg.prepare(&pg_read_all(schema)).await?;
    let mut handled = 0;
    loop {
        let rows = pg.query(&read, &[&checkpoint.0, &checkpoint.1]).await?;
        let Some(last) = rows.last() else { return Ok(handled) };
        let to: Checkpoint = (last.get(0), last.get(1));
        let mut deposits = Vec::with_capacity(rows.len());
        for row in &rows {
            if let AccountEvent::Deposited(d) = raw_event(row.get(3), row.get(4))? {
                deposits.push((row.get::<_, String>(2), d.amount));
            }
        }
        let (name, upsert, from) = (Arc::clone(&name), Arc::clone(&upsert), checkpoint);
        raw.call(move |c| raw_write(c, &name, &upsert, from, to, deposits.iter().map(|(s, a)| (s.as_str(), *a))))
            .await?;
        handled += rows.len();
        checkpoint = to;
    }
}

/// W5 from PostgreSQL (`DATABASE_URL`, default the local server) into a
/// SQLite file, es and raw in turn, one JSON line.
async fn w5(bench: &Bench) -> Result<(), BoxError> {
    let total = bench.scaled(1_000_000).div_ceil(1000) * 1000;
    let (batch, streams) = (1000, 100);
    println!(
        "W5: rebuild of a one-table projection over {total} events of a PostgreSQL store ({streams} streams, \
         appends of {batch}) into a SQLite file, one upsert per deposit, pages of {PAGE}; es: \
         SqliteProjectionRunner::rebuild reading a PgEventStore; raw: the same pages read with tokio-postgres, each \
         written in one rusqlite transaction with the store's checkpoint compare-and-set, one hop per page"
    );
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("es_sqlite_bench_{}", std::process::id());
    let (pg, connection) = es_postgres::tokio_postgres::connect(&url, es_postgres::tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    pg.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
    let store = es_postgres::PgEventStore::builder_from_url(&url)?
        .ssl_mode(es_postgres::PgSslMode::Disable)
        .schema(&schema)
        .build()?;
    store.migrate().await?;
    let result = async {
        for b in 0..total / batch {
            let expected = ExpectedVersion::Exact((b / streams * batch) as u64);
            let encoded: Vec<EncodedEvent> = deposits(batch).iter().map(Event::encode).collect::<Result<_, _>>()?;
            store
                .append(Account::TYPE, &format!("stream-{}", b % streams), expected, encoded, &Metadata::default())
                .await?;
        }
        pg.batch_execute(&format!("ANALYZE \"{schema}\".events")).await?;
        pg.query_one(&format!("SELECT sum(length(payload::text)) FROM \"{schema}\".events"), &[]).await?;
        let (es_file, raw_file) = (bench.raw_file("w5_es.sqlite3").await?, bench.raw_file("w5_raw.sqlite3").await?);
        let raw = Raw::open(&raw_file, Hop::Blocking)?;

        let started = Instant::now();
        let raw_handled = w5_raw(&pg, &schema, &raw, "totals").await?;
        let raw_time = started.elapsed();
        let projection = Totals { upsert: upsert_totals("totals"), table: "totals".into() };
        let mut runner = SqliteProjectionRunner::new(store.clone(), SqliteTarget::open(&es_file).await?, projection);
        let started = Instant::now();
        let es_handled = runner.rebuild(|_| {}).await? as usize;
        let es_time = started.elapsed();
        let per_stream = (total / batch / streams) as i64 * (0..batch as i64).sum::<i64>();
        let mut expected: Vec<(String, i64)> = (0..streams).map(|s| (format!("stream-{s}"), per_stream)).collect();
        expected.sort();
        for (handled, file) in [(es_handled, &es_file), (raw_handled, &raw_file)] {
            if handled != total || totals(&Connection::open(file)?, "totals")? != expected {
                return Err(
                    format!("W5: {} handled {handled} of {total} events, or not as expected", file.display()).into()
                );
            }
        }
        report(
            "W5",
            "events/s",
            per_second(total, es_time),
            per_second(total, raw_time),
            true,
            ",\"target\":\"sqlite\"",
        );
        Ok::<_, BoxError>(())
    }
    .await;
    pg.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
    result
}

// ---------------------------------------------------------------------------

/// Runs the workloads `only` names (every one when `None`).
async fn run(bench: &Bench, only: Option<&str>) -> Result<(), BoxError> {
    let wanted = |w: &str| only.is_none_or(|o| o.split(',').any(|x| x.eq_ignore_ascii_case(w)));
    if wanted("W1") {
        w1(bench).await?;
    }
    if wanted("W3") {
        w3(bench).await?;
    }
    if wanted("W4") {
        w4(bench).await?;
    }
    if wanted("W5") {
        w5(bench).await?;
    }
    Ok(())
}

/// Runs the benchmark in a fresh directory, removed at the end.
fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let scale = std::env::var("ES_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let only = std::env::var("ES_BENCH_ONLY").ok();
    let bench = Bench { dir: std::env::temp_dir().join(format!("es-sqlite-bench-{}", std::process::id())), scale };
    println!(
        "es-sqlite store benchmark in {} (scale {scale}; WAL, synchronous=FULL, as the store's defaults)",
        bench.dir.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let result = std::fs::create_dir_all(&bench.dir)
        .map_err(BoxError::from)
        .and_then(|()| runtime.block_on(run(&bench, only.as_deref())));
    drop(runtime);
    let _ = std::fs::remove_dir_all(&bench.dir);
    if let Err(e) = result {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}
