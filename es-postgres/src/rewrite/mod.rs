//! Audited rewrites of stored events, and the application role that cannot
//! make any other change.
//!
//! Events are immutable; sometimes a stored payload must change all the
//! same (personal data stored by mistake, a migration of old versions to
//! drop an upcaster). [`PgEventStore::rewrite`] is the one path: in one
//! transaction it declares the rewrite (reason, actor, filter) in
//! `rewrites`, which is what lets the events trigger accept the changes,
//! and the trigger keeps each changed row's previous content in
//! `event_revisions`. A plain `UPDATE` is still refused.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use es_core::{BoxError, EncodedEvent, Position, RecordedEvent, StoreError};
use serde_json::json;
use tokio_postgres::Transaction;

use crate::codec::convert::{stored, stored32, unsigned};
use crate::codec::json::JsonParam;
use crate::codec::row;
use crate::error::{Error, PgError};
use crate::schema::Schema;
use crate::store::PgEventStore;

/// Which stored events a rewrite considers. Every given part must match; an
/// empty filter selects every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgRewriteFilter {
    /// Only events stored under this name.
    pub event_name: Option<String>,
    /// Only the events of this stream.
    pub stream_id: Option<String>,
    /// Only events stored at these schema versions.
    pub schema_versions: Option<RangeInclusive<u32>>,
}

/// A rewrite to run: why, by whom, of which events.
#[derive(Debug, Clone)]
pub struct PgRewriteRequest {
    /// Why the events change, kept with every revision. Required.
    pub reason: String,
    /// Who asked for it. Required.
    pub actor: String,
    /// Which events to consider.
    pub filter: PgRewriteFilter,
    /// Compute the changes and return them without changing anything.
    pub dry_run: bool,
}

/// One event a rewrite changed (or would change, in a dry run).
#[derive(Debug, Clone, PartialEq)]
pub struct PgEventChange {
    /// The event as it was stored.
    pub before: RecordedEvent,
    /// Its new name, schema version and payload.
    pub after: EncodedEvent,
}

/// What a rewrite did.
#[derive(Debug, Clone, PartialEq)]
pub struct PgRewriteReport {
    /// The id of the declared rewrite in `rewrites`; `None` for a dry run or
    /// when nothing changed (then nothing is recorded).
    pub rewrite_id: Option<u64>,
    /// The events changed, in global order. Events the function returned
    /// unchanged are left out and left alone.
    pub changes: Vec<PgEventChange>,
    /// The streams touched, sorted: their snapshots were deleted.
    pub streams: Vec<String>,
    /// The lowest global position touched: projections that read past it
    /// saw the old events and should be rebuilt from before it.
    pub lowest_position: Option<Position>,
}

/// Why a rewrite did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgRewriteError {
    /// The request lacks its reason or actor.
    #[error("a rewrite needs a {missing}: say {hint}")]
    Incomplete {
        /// `reason` or `actor`.
        missing: &'static str,
        /// What to give.
        hint: &'static str,
    },
    /// The function refused an event.
    #[error("the rewrite function refused event {version} of stream `{stream_id}` ({position})")]
    Refused {
        /// The event's stream.
        stream_id: String,
        /// Its version in the stream.
        version: u64,
        /// Its global position.
        position: Position,
        /// What the function said.
        #[source]
        cause: BoxError,
    },
    /// The database refused or could not be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PgError> for PgRewriteError {
    fn from(e: PgError) -> Self {
        PgRewriteError::Store(e.into())
    }
}

impl From<Error> for PgRewriteError {
    fn from(e: Error) -> Self {
        PgRewriteError::Store(e.into())
    }
}

impl From<tokio_postgres::Error> for PgRewriteError {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::from(e).into()
    }
}

impl PgEventStore {
    /// Rewrites the events `request.filter` selects with `rewrite`, in one
    /// transaction, and reports what changed.
    ///
    /// `rewrite` gets each selected event's name, schema version and
    /// payload; returning them unchanged leaves the event alone, so running
    /// the same rewrite twice changes nothing the second time. An error
    /// from it aborts the whole rewrite. Each changed row's previous content
    /// is kept in `event_revisions` with the rewrite's id; the rewrite's
    /// reason, actor, filter and time are in `rewrites`. Snapshots of the
    /// touched streams are deleted. Concurrent rewrites of one schema run
    /// one after the other.
    ///
    /// ```no_run
    /// # use es_postgres::{PgEventStore, PgRewriteFilter, PgRewriteRequest};
    /// # async fn f(store: PgEventStore) -> Result<(), Box<dyn std::error::Error>> {
    /// let request = PgRewriteRequest {
    ///     reason: "store Deposited v1 as v2 to retire its upcaster".into(),
    ///     actor: "ops@example.com".into(),
    ///     filter: PgRewriteFilter { event_name: Some("Deposited".into()), schema_versions: Some(1..=1), ..Default::default() },
    ///     dry_run: false,
    /// };
    /// let report = store
    ///     .rewrite(request, |old| {
    ///         let old_payload = old.payload.to_value().map_err(|_| "not JSON")?;
    ///         let cents = old_payload["amount"].as_i64().ok_or("no amount")? * 100;
    ///         let payload = serde_json::json!({ "cents": cents }).into();
    ///         Ok::<_, &str>(es_core::EncodedEvent { schema_version: 2, payload, ..old.clone() })
    ///     })
    ///     .await?;
    /// println!("rebuild projections from {:?}", report.lowest_position);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn rewrite<F, E>(
        &self,
        request: PgRewriteRequest,
        mut rewrite: F,
    ) -> Result<PgRewriteReport, PgRewriteError>
    where
        F: FnMut(&EncodedEvent) -> Result<EncodedEvent, E>,
        E: Into<BoxError>,
    {
        request.check()?;
        let schema = &self.schema;
        let mut client = self.connection().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&schema.lock_key("rewrite")]).await?;

        let changes = changes(&tx, schema, &request.filter, &mut rewrite).await?;
        let streams: Vec<String> =
            changes.iter().map(|c| c.before.stream_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let lowest_position = changes.iter().map(|c| c.before.position).min();
        if request.dry_run || changes.is_empty() {
            tx.rollback().await?;
            return Ok(PgRewriteReport { rewrite_id: None, changes, streams, lowest_position });
        }
        let rewrite_id = declare(&tx, schema, &request).await?;
        apply(&tx, schema, &changes).await?;
        tx.execute(&*schema.sql(include_str!("sql/drop_snapshots.sql")), &[&streams]).await?;
        tx.commit().await?;
        Ok(PgRewriteReport { rewrite_id: Some(rewrite_id), changes, streams, lowest_position })
    }

    /// Grants `role` what an application needs and nothing more: read and
    /// append events, read and write snapshots, checkpoints and parked
    /// events, read the migrations and the rewrite audit. It gets no
    /// `UPDATE` or `DELETE` on events and owns nothing, so it can neither
    /// change an event nor disable the trigger that guards them (that
    /// needs the table's owner), nor set `session_replication_role` (that
    /// needs a superuser). Run it, like [`migrate`](Self::migrate) and
    /// [`rewrite`](Self::rewrite), as the owner; again after a migration
    /// that adds tables.
    pub async fn grant_app_role(&self, role: &str) -> Result<(), PgError> {
        if role.is_empty() || role.contains('\0') {
            return Err(PgError::InvalidConfig {
                option: None,
                reason: format!("{role:?} is not a role name: give the name of an existing role"),
            });
        }
        let quoted = format!("\"{}\"", role.replace('"', "\"\""));
        let sql = self.schema.render(&include_str!("sql/grant_app_role.sql").replace("{role}", &quoted));
        let mut client = self.connection().await?;
        let tx = client.transaction().await?;
        tx.batch_execute(&sql).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl PgRewriteRequest {
    /// A rewrite without a reason or an actor is refused before anything
    /// is read.
    fn check(&self) -> Result<(), PgRewriteError> {
        if self.reason.trim().is_empty() {
            return Err(PgRewriteError::Incomplete { missing: "reason", hint: "why the stored events must change" });
        }
        if self.actor.trim().is_empty() {
            return Err(PgRewriteError::Incomplete { missing: "actor", hint: "who asked for the rewrite" });
        }
        Ok(())
    }
}

/// The selected events, locked, that `rewrite` changes, in global order.
async fn changes<F, E>(
    tx: &Transaction<'_>,
    schema: &Schema,
    filter: &PgRewriteFilter,
    rewrite: &mut F,
) -> Result<Vec<PgEventChange>, PgRewriteError>
where
    F: FnMut(&EncodedEvent) -> Result<EncodedEvent, E>,
    E: Into<BoxError>,
{
    let (lowest, highest) = match &filter.schema_versions {
        Some(range) => (Some(schema_version(*range.start())?), Some(schema_version(*range.end())?)),
        None => (None, None),
    };
    let select = schema.sql(include_str!("sql/select.sql"));
    let rows = tx.query(&*select, &[&filter.event_name, &filter.stream_id, &lowest, &highest]).await?;
    let mut changes = Vec::new();
    for row in &rows {
        let before = row::event(row)?;
        let after = rewrite(&before.event).map_err(|cause| PgRewriteError::Refused {
            stream_id: before.stream_id.clone(),
            version: before.version,
            position: before.position,
            cause: cause.into(),
        })?;
        if after != before.event {
            changes.push(PgEventChange { before, after });
        }
    }
    Ok(changes)
}

/// Records the rewrite in `rewrites`, which opens the trigger to this
/// transaction, and returns its id.
async fn declare(tx: &Transaction<'_>, schema: &Schema, request: &PgRewriteRequest) -> Result<u64, PgRewriteError> {
    let filter = &request.filter;
    let recorded_filter = json!({
        "event_name": filter.event_name,
        "stream_id": filter.stream_id,
        "schema_versions": filter.schema_versions.as_ref().map(|r| [r.start(), r.end()]),
    });
    let declare = schema.sql(include_str!("sql/declare.sql"));
    let declared = tx.query_one(&*declare, &[&request.reason, &request.actor, &recorded_filter]).await?;
    Ok(unsigned(declared.try_get(0)?, "id", "<rewrites>", 0)?)
}

/// Writes the new content of every changed event in one statement.
async fn apply(tx: &Transaction<'_>, schema: &Schema, changes: &[PgEventChange]) -> Result<(), PgRewriteError> {
    let positions: Vec<i64> =
        changes.iter().map(|c| stored(c.before.position.sequence, "a position")).collect::<Result<_, _>>()?;
    let names: Vec<&str> = changes.iter().map(|c| c.after.name.as_str()).collect();
    let versions: Vec<i32> =
        changes.iter().map(|c| schema_version(c.after.schema_version)).collect::<Result<_, _>>()?;
    let payloads: Vec<JsonParam<'_>> = changes.iter().map(|c| JsonParam(&c.after.payload)).collect();
    tx.execute(&*schema.sql(include_str!("sql/apply.sql")), &[&positions, &names, &versions, &payloads]).await?;
    Ok(())
}

/// A schema version as the `INTEGER` column holds it.
fn schema_version(version: u32) -> Result<i32, Error> {
    stored32(version, "a schema version")
}
