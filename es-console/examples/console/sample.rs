//! The console's sample: the bank's accounts, a customer whose name was
//! stored by an older release, and a projection that parked an event.
//! The `console` example serves it; the browser tests look at it.

use std::time::Duration;

use es_core::projection::{PoisonPolicy, RetryPolicy, RunnerOptions};
use es_core::{
    Aggregate, Apply, BoxError, EncodedEvent, Event, EventStore, ExpectedVersion, Metadata, RecordedEvent, Repository,
};
use es_examples::account::{Account, AccountEvent};
use es_postgres::{PgEventStore, PgProjection, PgProjectionRunner, PgTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A customer's name. Release 1 stored it whole, `{"full_name": "Ann Lee"}`;
/// release 2 stores its parts.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "sample.Named", version = 2)]
#[upcast(from = 1, with = split_full_name)]
pub struct Named {
    /// The first name.
    pub first: String,
    /// The last name, empty when there is none.
    pub last: String,
}

/// Step 1 → 2: the full name split at its first space.
fn split_full_name(v1: Value) -> Value {
    let full = v1["full_name"].as_str().unwrap_or_default();
    let (first, last) = full.split_once(' ').unwrap_or((full, ""));
    json!({ "first": first, "last": last })
}

/// A customer of the bank.
#[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
#[aggregate(name = "customer", event = Named)]
pub struct Customer {
    /// The name, as the last event gave it.
    pub name: Option<Named>,
}

impl Apply<Named> for Customer {
    fn apply(&mut self, event: &Named) {
        self.name = Some(event.clone());
    }
}

/// The money paid into each account, in the sample's schema. Deposits to
/// an account listed in `held` fail until it is released, so the runner
/// parks them.
#[derive(Debug)]
pub struct Deposits {
    schema: String,
}

impl Deposits {
    /// The projection over the tables of `store`'s schema.
    pub fn new(store: &PgEventStore) -> Self {
        Deposits { schema: store.quoted_schema().to_owned() }
    }
}

impl PgProjection for Deposits {
    type Event = AccountEvent;

    fn name(&self) -> &str {
        "deposits"
    }

    async fn handle(
        &mut self,
        tx: &PgTransaction<'_>,
        event: &AccountEvent,
        env: &RecordedEvent,
    ) -> Result<(), BoxError> {
        let AccountEvent::Deposited(deposit) = event else { return Ok(()) };
        let held = format!("SELECT 1 FROM {}.held WHERE stream_id = $1", self.schema);
        if !tx.query(&held, &[&env.stream_id]).await?.is_empty() {
            return Err(format!("account {} is held: its deposits wait until it is released", env.stream_id).into());
        }
        let upsert = format!(
            "INSERT INTO {0}.deposits (id, total) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET total = deposits.total + $2",
            self.schema
        );
        tx.execute(&upsert, &[&env.stream_id, &deposit.amount]).await?;
        Ok(())
    }

    async fn reset(&mut self, tx: &PgTransaction<'_>) -> Result<(), BoxError> {
        tx.batch_execute(&format!("TRUNCATE {}.deposits", self.schema)).await?;
        Ok(())
    }
}

/// An owner whose name is markup, to show that the console prints it as text.
pub const SCRIPT_OWNER: &str = "<script>alert(1)</script>";

/// Fills `store` (migrated, empty) with the sample: accounts `acc-1` (opened,
/// two deposits, a withdrawal), `acc-2` (owned by [`SCRIPT_OWNER`]),
/// `acc-3` (held, its deposit parked by `deposits`), and customer `cust-1`
/// whose name is stored at schema version 1.
pub async fn seed(store: &PgEventStore) -> Result<(), BoxError> {
    let schema = store.quoted_schema();
    store
        .connection()
        .await?
        .batch_execute(&format!(
            "CREATE TABLE {schema}.deposits (id TEXT PRIMARY KEY, total BIGINT NOT NULL);
             CREATE TABLE {schema}.held (stream_id TEXT PRIMARY KEY);
             INSERT INTO {schema}.held VALUES ('acc-3');"
        ))
        .await?;
    let accounts = Repository::<Account, _>::new(store.clone());
    accounts.execute("acc-1", |a| a.open("Ann")).await?;
    let teller = Metadata::default().with_actor("teller-7");
    accounts.execute_with("acc-1", &teller, |a| a.deposit(500)).await?;
    accounts.execute_with("acc-1", &teller, |a| a.deposit(250)).await?;
    accounts.execute_with("acc-1", &teller, |a| a.withdraw(100)).await?;
    accounts.execute("acc-2", |a| a.open(SCRIPT_OWNER)).await?;
    accounts.execute("acc-2", |a| a.deposit(42)).await?;
    accounts.execute("acc-3", |a| a.open("Held Co")).await?;
    accounts.execute("acc-3", |a| a.deposit(900)).await?;

    // Release 1 wrote the customer's name whole.
    let old = EncodedEvent {
        name: "sample.Named".into(),
        schema_version: 1,
        payload: json!({ "full_name": "Ann Lee" }).into(),
    };
    let last =
        store.append(Customer::TYPE, "cust-1", ExpectedVersion::NoStream, vec![old], &Metadata::default()).await?;
    let last = last.position().ok_or("the append recorded no event")?;

    // The runner reads what other transactions of the database no longer
    // hold back, so it runs until its checkpoint passes the last event.
    let options = RunnerOptions::default().retry(RetryPolicy::NEVER).on_poison(PoisonPolicy::Park);
    let mut runner = PgProjectionRunner::new(store.clone(), Deposits::new(store)).with_options(options);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move { runner.run(async { drop(stopped.await) }).await });
    let waited = store.wait_for_projection("deposits", last, Duration::from_secs(60)).await;
    let _ = stop.send(());
    running.await??;
    waited?;
    Ok(())
}
