//! [`ProjectionAdmin`] for a [`PgEventStore`]: the checkpoints in its
//! schema, the runners holding them, parked events and resets.

use es_core::Position;
use std::time::SystemTime;

use es_core::admin::{AdminError, AdminFuture, Location, ProjectionAdmin, ProjectionStatus, RunnerInfo, RunnerProcess};
use es_core::projection::ParkedEvent;

use crate::codec::convert::{bound, unsigned};
use crate::connection::Executor;
use crate::error::Error;
use crate::lease::identity::runner_of_checkpoint;
use crate::projection::{checkpoint, parked};
use crate::store::PgEventStore;

/// Where the statements here read, for the errors about their rows.
const CHECKPOINTS: &str = "<checkpoints>";

impl PgEventStore {
    /// The sessions of this database that runners connect with, and
    /// whether each holds its runner's lock.
    async fn runners<E: Executor>(&self, on: &E) -> Result<Vec<(RunnerInfo, bool)>, Error> {
        let rows = on.fetch_all(&self.schema.sql(include_str!("sql/runners.sql")), &[]).await?;
        rows.iter()
            .map(|row| {
                let label: Option<String> = row.try_get(4)?;
                let process_id: Option<i64> = row.try_get(5)?;
                let started_at: Option<SystemTime> = row.try_get(6)?;
                let process = match (label, process_id.and_then(|p| u32::try_from(p).ok()), started_at) {
                    (Some(label), Some(pid), Some(started_at)) => Some(RunnerProcess { label, pid, started_at }),
                    _ => None,
                };
                let pid = row.try_get::<_, i32>(2)?.into();
                Ok((RunnerInfo { name: row.try_get(0)?, host: row.try_get(1)?, pid, process }, row.try_get(3)?))
            })
            .collect()
    }

    /// The runner among `runners` that holds checkpoint `name`, and those
    /// standing by for it.
    fn runners_of(&self, name: &str, runners: &[(RunnerInfo, bool)]) -> (Option<RunnerInfo>, Vec<RunnerInfo>) {
        let application_name = runner_of_checkpoint(self.schema(), name);
        let of = runners.iter().filter(|(r, _)| r.name == application_name);
        let active = of.clone().find(|(_, holds)| *holds).map(|(r, _)| r.clone());
        (active, of.filter(|(_, holds)| !holds).map(|(r, _)| r.clone()).collect())
    }
}

impl ProjectionAdmin for PgEventStore {
    fn location(&self) -> Location {
        PgEventStore::location(self)
    }

    fn projections<'a>(&'a self, after: Option<&'a str>, limit: usize) -> AdminFuture<'a, Vec<ProjectionStatus>> {
        self.admin(move |on| async move {
            let sql = self.schema.sql(include_str!("sql/projections.sql"));
            let rows = on.fetch_all(&sql, &[&after, &bound(limit as u64)]).await?;
            let runners = self.runners(&on).await?;
            rows.iter()
                .map(|row| {
                    let name: String = row.try_get(0)?;
                    let (runner, standbys) = self.runners_of(&name, &runners);
                    let column = |i, column| unsigned(row.try_get(i)?, column, CHECKPOINTS, 0);
                    Ok(ProjectionStatus {
                        checkpoint: Position::new(column(1, "tx")?, column(2, "position")?),
                        updated_at: row.try_get(3)?,
                        stopped: row.try_get(4)?,
                        parked: column(5, "parked")?,
                        runner,
                        standbys,
                        name,
                    })
                })
                .collect()
        })
    }

    fn parked<'a>(&'a self, projection: &'a str, after: u64, limit: usize) -> AdminFuture<'a, Vec<ParkedEvent>> {
        self.admin(move |on| async move { parked::list(&on, &self.schema, projection, after, Some(limit)).await })
    }

    fn discard_parked<'a>(&'a self, projection: &'a str, id: u64, reason: &'a str) -> AdminFuture<'a, ()> {
        Box::pin(async move {
            let discarded =
                self.admin(move |on| async move { parked::discard(&on, &self.schema, projection, id, reason).await });
            match discarded.await? {
                true => Ok(()),
                false => Err(AdminError::NotParked { projection: projection.to_owned(), id }),
            }
        })
    }

    fn reset<'a>(&'a self, projection: &'a str) -> AdminFuture<'a, ()> {
        Box::pin(async move {
            let runners = self.admin(move |on| async move { self.runners(&on).await }).await?;
            if let (Some(runner), _) = self.runners_of(projection, &runners) {
                return Err(AdminError::Running { projection: projection.to_owned(), runner: Box::new(runner) });
            }
            let reset = self.admin(move |on| async move { checkpoint::reset(&on, &self.schema, projection).await });
            match reset.await? {
                true => Ok(()),
                false => Err(AdminError::UnknownProjection { location: self.location(), name: projection.to_owned() }),
            }
        })
    }
}
