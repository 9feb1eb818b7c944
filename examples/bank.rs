//! The bank account, end to end: commands, rejections, a write conflict and
//! its retry, a command that awaits a check, a retried request that appends
//! once, a snapshot, and time travel.
//!
//! ```text
//! cargo run --example bank                                  # a SQLite file
//! DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run --example bank
//! ```
//!
//! The history is kept in `target/bank.sqlite3` (or where `DATABASE_URL`
//! says): each run opens a new account, and first prints what earlier runs
//! recorded. Delete the file to start afresh.

use std::error::Error;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use es_core::{
    Aggregate, Committed, Event, EventStore, ExecuteError, ExpectedVersion, Metadata, Position, Repository,
    SnapshotOutcome, StoreError, StreamRange,
};
use es_examples::account::{Account, AccountError, AccountEvent, dollars, usd};
use es_postgres::PgEventStore;
use es_sqlite::SqliteEventStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // At start-up: no two event types linked into the program share a name.
    es_core::registry::validate()?;
    let events: Vec<String> =
        es_core::registry::events().map(|e| format!("{} v{}", e.name(), e.schema_version())).collect();
    println!("registered events: {}", events.join(", "));
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let store = PgEventStore::connect(&url).await?;
            store.migrate().await?;
            println!("store: PostgreSQL, schema `{}`", store.schema());
            history(&store).await?;
            run(store).await
        }
        Ok(url) => {
            let store = SqliteEventStore::connect(&url).await?;
            println!("store: SQLite, {url}");
            history(&store).await?;
            run(store).await
        }
        Err(_) => {
            let file = default_file()?;
            let store = SqliteEventStore::open(&file).await?;
            println!("store: SQLite file {} (delete it to start afresh)", file.display());
            history(&store).await?;
            run(store).await
        }
    }
}

/// `target/bank.sqlite3` in the workspace: built output, which git ignores.
fn default_file() -> std::io::Result<PathBuf> {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::create_dir_all(&target)?;
    Ok(target.canonicalize()?.join("bank.sqlite3"))
}

/// Prints the events earlier runs recorded, in global order, and returns
/// how many there were.
pub async fn history(store: &impl EventStore) -> Result<usize, Box<dyn Error>> {
    let mut after = Position::START;
    let mut printed = 0;
    loop {
        let page = store.read_all(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for recorded in &page {
            if printed == 0 {
                println!("\n-- what earlier runs recorded --");
            }
            let e = &recorded.event;
            let event = AccountEvent::decode(&e.name, e.schema_version, &e.payload)?;
            println!("  {} v{} at {}: {event:?}", recorded.stream_id, recorded.version, recorded.position);
            printed += 1;
        }
    }
    match printed {
        0 => println!("no earlier runs: the store is empty"),
        n => println!("{n} events from earlier runs"),
    }
    Ok(printed)
}

pub async fn run<S: EventStore + Clone>(store: S) -> Result<(), Box<dyn Error>> {
    let accounts = Repository::<Account, _>::new(store.clone());
    // A new account on every run, so that reruns against a database work.
    let id = &format!("acc-{}", SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis());
    let metadata = Metadata::default().with_actor("teller-1");

    report("open for alice", &accounts.execute_with(id, &metadata, |a| a.open("alice")).await?);
    report("deposit $100.00", &accounts.execute(id, |a| a.deposit(usd(100))).await?);
    let second = accounts.execute(id, |a| a.deposit(usd(250))).await?;
    report("deposit $250.00", &second);
    let after_second_deposit = recorded_at(&store, id, second.version).await?;
    report("withdraw $80.00", &accounts.execute(id, |a| a.withdraw(usd(80))).await?);
    rejected("withdraw $1000.00", accounts.execute(id, |a| a.withdraw(usd(1000))).await)?;

    println!("\n-- two writers, one account --");
    let seen_by_both = accounts.load(id).await?;
    println!("writers A and B both loaded version {}", seen_by_both.version);
    report("writer A: deposit $10.00", &accounts.execute(id, |a| a.deposit(usd(10))).await?);
    let stale: Vec<_> = seen_by_both.state.deposit(usd(20))?.iter().map(Event::encode).collect::<Result<_, _>>()?;
    let expected = ExpectedVersion::Exact(seen_by_both.version);
    match store.append(Account::TYPE, id, expected, stale, &Metadata::default()).await {
        Err(conflict @ StoreError::Conflict { .. }) => println!("writer B: {conflict}"),
        other => return Err(format!("expected a conflict for writer B, got {other:?}").into()),
    }
    report("writer B reloads and retries: deposit $20.00", &accounts.execute(id, |a| a.deposit(usd(20))).await?);

    println!("\n-- a command that awaits, and a request sent twice --");
    // The command awaits a check before it decides (here a daily limit
    // looked up elsewhere); it gets a copy of the state.
    let limited = accounts
        .execute_async(id, |account: Account| async move {
            let limit = daily_limit("alice").await;
            if usd(50) > limit {
                return Err(AccountError::InsufficientFunds { balance: limit, requested: usd(50) });
            }
            account.withdraw(usd(50))
        })
        .await?;
    report("withdraw $50.00 (limit checked)", &limited);
    // A client times out and sends the same request again: with a command
    // id, the second send returns the first commit and appends nothing.
    let request = Metadata::default().with_command_id(format!("{id}/deposit-req-42"));
    let sent = accounts.execute_with(id, &request, |a| a.deposit(usd(30))).await?;
    report("deposit $30.00 (request 42)", &sent);
    let resent = accounts.execute_with(id, &request, |a| a.deposit(usd(30))).await?;
    println!(
        "{:<28} -> version {}, balance {}: the first commit, not appended again",
        "request 42 sent again",
        resent.version,
        dollars(resent.state.balance)
    );
    if (resent.version, resent.attempts) != (sent.version, 0) {
        return Err("the retried request appended again".into());
    }

    println!("\n-- snapshots and time travel --");
    let loaded = accounts.load(id).await?;
    match loaded.snapshot_at {
        Some(v) => println!(
            "loaded from the snapshot at version {v} plus {} newer event(s): balance {}",
            loaded.version - v,
            dollars(loaded.state.balance)
        ),
        None => println!("loaded by replaying {} events: balance {}", loaded.version, dollars(loaded.state.balance)),
    }
    let past = accounts.load_at_version(id, 2).await?;
    println!("balance as of version 2: {}", dollars(past.state.balance));
    let past = accounts.load_as_of(id, after_second_deposit).await?;
    println!(
        "balance as of the second deposit's timestamp: {} (version {})",
        dollars(past.state.balance),
        past.version
    );

    println!("\n-- closing --");
    report("close", &accounts.execute(id, Account::close).await?);
    rejected("deposit $5.00", accounts.execute(id, |a| a.deposit(usd(5))).await)?;

    println!("\nthe stream `{id}` holds:");
    for recorded in store.read_stream(id, StreamRange::all()).await? {
        let e = &recorded.event;
        let event = AccountEvent::decode(&e.name, e.schema_version, &e.payload)?;
        println!("  v{} at {}: {event:?}", recorded.version, recorded.position);
    }
    Ok(())
}

/// Prints what a command committed.
fn report(command: &str, committed: &Committed<Account>) {
    let retried =
        if committed.attempts > 1 { format!(" after {} attempts", committed.attempts) } else { String::new() };
    println!("{command:<28} -> version {}, balance {}{retried}", committed.version, dollars(committed.state.balance));
    match &committed.snapshot {
        SnapshotOutcome::Saved { version } => {
            println!("{:<28}    snapshot saved at version {version} (every {} events)", "", Account::SNAPSHOT_EVERY)
        }
        SnapshotOutcome::Failed(e) => println!("{:<28}    snapshot not saved: {}", "", es_core::ErrorReport::new(e)),
        _ => {}
    }
}

/// Prints a rejection, and fails if the command was not rejected.
fn rejected(
    command: &str,
    outcome: Result<Committed<Account>, ExecuteError<AccountError>>,
) -> Result<(), Box<dyn Error>> {
    match outcome {
        Err(ExecuteError::Rejected(e)) => {
            println!("{command:<28} -> rejected: {}", es_core::ErrorReport::new(&e));
            Ok(())
        }
        other => Err(format!("expected `{command}` to be rejected, got {other:?}").into()),
    }
}

/// The most a customer may withdraw today, as another service would tell.
async fn daily_limit(_customer: &str) -> i64 {
    tokio::task::yield_now().await;
    usd(500)
}

/// When the store recorded event `version` of stream `id`.
async fn recorded_at(store: &impl EventStore, id: &str, version: u64) -> Result<SystemTime, StoreError> {
    let events = store.read_stream(id, StreamRange::after(version - 1).up_to_version(version)).await?;
    Ok(events.first().map_or_else(SystemTime::now, |e| e.recorded_at))
}
