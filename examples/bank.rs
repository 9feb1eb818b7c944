//! The bank account, end to end: commands, rejections, a write conflict,
//! snapshots and time travel.
//!
//! ```text
//! cargo run --example bank                     # in-memory store
//! DATABASE_URL=postgres://... cargo run --example bank   # PostgreSQL
//! ```

use std::error::Error;

use es_core::{EventStore, ExecuteError, ExpectedVersion, InMemoryEventStore, Metadata, Repository, SnapshotOutcome};
use es_examples::account::{Account, AccountError, AccountEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    println!("store: in memory");
    run(InMemoryEventStore::new()).await
}

async fn run<S: EventStore + Clone>(store: S) -> Result<(), Box<dyn Error>> {
    let accounts = Repository::<Account, _>::new(store.clone());
    let id = "acc-1";

    let opened = accounts.execute(id, |a| a.open("alice")).await?;
    println!("opened {id} for alice                    -> version {}", opened.version);
    for amount in [100_00, 250_00] {
        let c = accounts.execute(id, |a| a.deposit(amount)).await?;
        println!(
            "deposited {:>8}                      -> version {}, balance {}",
            cents(amount),
            c.version,
            cents(c.state.balance)
        );
    }
    let c = accounts.execute(id, |a| a.withdraw(80_00)).await?;
    println!(
        "withdrew  {:>8}                      -> version {}, balance {}",
        cents(80_00),
        c.version,
        cents(c.state.balance)
    );

    match accounts.execute(id, |a| a.withdraw(1_000_00)).await {
        Err(ExecuteError::Rejected(e)) => println!("withdraw {:>9} rejected: {e}", cents(1_000_00)),
        other => return Err(format!("expected an insufficient-funds rejection, got {other:?}").into()),
    }

    // Two writers load the same version; the first to append wins.
    let seen_by_both = accounts.load(id).await?;
    println!("writers A and B both loaded version {}", seen_by_both.version);
    let a = accounts.execute(id, |a| a.deposit(10_00)).await?;
    println!("writer A deposited {}                -> version {}", cents(10_00), a.version);
    let stale = seen_by_both.state.deposit(20_00)?;
    let encoded = stale.iter().map(es_core::Event::encode).collect::<Result<Vec<_>, _>>()?;
    let expected = ExpectedVersion::Exact(seen_by_both.version);
    match store.append("account", id, expected, encoded, &Metadata::default()).await {
        Err(conflict @ es_core::StoreError::Conflict { .. }) => println!("writer B refused: {conflict}"),
        other => return Err(format!("expected a conflict for writer B, got {other:?}").into()),
    }
    let b = accounts.execute(id, |a| a.deposit(20_00)).await?;
    println!("writer B reloaded and retried          -> version {}, balance {}", b.version, cents(b.state.balance));
    if let SnapshotOutcome::Saved { version } = b.snapshot {
        println!(
            "snapshot taken at version {version} (every {} events)",
            <Account as es_core::Aggregate>::SNAPSHOT_EVERY
        );
    }

    let loaded = accounts.load(id).await?;
    match loaded.snapshot_version {
        Some(v) => println!(
            "reloaded from the snapshot at version {v} plus {} newer event(s): balance {}",
            loaded.version - v,
            cents(loaded.state.balance)
        ),
        None => println!("reloaded by replaying {} events: balance {}", loaded.version, cents(loaded.state.balance)),
    }

    let then = accounts.load_at_version(id, 3).await?;
    println!("time travel: balance at version 3 was {}", cents(then.state.balance));

    let closed = accounts.execute(id, Account::close).await?;
    println!("closed {id}                              -> version {}", closed.version);
    match accounts.execute(id, |a| a.deposit(5_00)).await {
        Err(ExecuteError::Rejected(e @ AccountError::Closed)) => println!("deposit {:>10} rejected: {e}", cents(5_00)),
        other => return Err(format!("expected a closed-account rejection, got {other:?}").into()),
    }

    let history = store.read_stream(id, es_core::StreamRange::all()).await?;
    println!("the stream holds {} events:", history.len());
    for recorded in &history {
        let event: AccountEvent =
            es_core::Event::decode(&recorded.event.name, recorded.event.version, recorded.event.payload.clone())?;
        println!("  v{} @ {}  {:?}", recorded.version, recorded.position, event);
    }
    Ok(())
}

/// Formats cents as dollars.
fn cents(amount: i64) -> String {
    format!("${}.{:02}", amount / 100, amount % 100)
}
