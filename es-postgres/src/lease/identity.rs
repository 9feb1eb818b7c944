//! The name a runner's connection carries in `pg_stat_activity`: built
//! here, and only here, for the runners and for the tools that look for
//! them; and the application process a runner records itself as running
//! in.

use std::sync::OnceLock;
use std::time::SystemTime;

use crate::schema::Schema;

/// The application process the runners of a store run in, as they record
/// it beside their sessions.
#[derive(Debug)]
pub(crate) struct ProcessIdentity {
    /// The application's label for it: a pod or host name.
    pub(crate) label: String,
    /// The operating system's process id.
    pub(crate) pid: u32,
    /// When the process built its first store.
    pub(crate) started: SystemTime,
}

impl ProcessIdentity {
    /// This process, under `label` or else the host's name.
    pub(crate) fn new(label: Option<String>) -> Self {
        static STARTED: OnceLock<SystemTime> = OnceLock::new();
        let started = *STARTED.get_or_init(SystemTime::now);
        ProcessIdentity { label: label.unwrap_or_else(host_name), pid: std::process::id(), started }
    }
}

/// The host's name: `HOSTNAME` (a pod's name in Kubernetes), else
/// `/etc/hostname`.
fn host_name() -> String {
    let named = |name: String| Some(name.trim().to_owned()).filter(|n| !n.is_empty());
    std::env::var("HOSTNAME")
        .ok()
        .and_then(named)
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().and_then(named))
        .unwrap_or_else(|| "unknown host".to_owned())
}

/// What kind of runner holds a connection of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunnerKind {
    /// A projection runner (a publisher is one too).
    Projection,
    /// An outbox runner.
    Outbox,
    /// The follower of a store's checkpoints, for waits.
    Checkpoints,
}

impl RunnerKind {
    /// What the runner's advisory lock key is derived from, with its name.
    pub(crate) fn lock_purpose(self) -> &'static str {
        match self {
            RunnerKind::Projection => "projection",
            RunnerKind::Outbox => "outbox",
            RunnerKind::Checkpoints => "checkpoints",
        }
    }
}

/// The prefix of the checkpoints of outbox consumers.
pub(crate) const OUTBOX_CHECKPOINT: &str = "outbox:";

/// The application name of a runner of `kind` for `name` in `schema`:
/// `es projection <schema>.<name>`, cut as PostgreSQL cuts it (63 bytes,
/// at a character boundary).
pub(crate) fn application_name(kind: RunnerKind, schema: &str, name: &str) -> String {
    let mut full = match kind {
        RunnerKind::Projection => es_core::admin::projection_runner_name(schema, name),
        RunnerKind::Outbox => format!("es outbox {schema}.{name}"),
        RunnerKind::Checkpoints => format!("es checkpoints {schema}"),
    };
    let mut cut = full.len().min(Schema::MAX_LEN);
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    full.truncate(cut);
    full
}

/// The application name of the runner that moves checkpoint `checkpoint`
/// in `schema`: an outbox consumer's (`outbox:<name>`) or a projection's.
pub(crate) fn runner_of_checkpoint(schema: &str, checkpoint: &str) -> String {
    match checkpoint.strip_prefix(OUTBOX_CHECKPOINT) {
        Some(consumer) => application_name(RunnerKind::Outbox, schema, consumer),
        None => application_name(RunnerKind::Projection, schema, checkpoint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_as_postgres_cuts_them() {
        assert_eq!(application_name(RunnerKind::Projection, "es", "balances"), "es projection es.balances");
        let long = application_name(RunnerKind::Projection, "es", &"é".repeat(40));
        assert!(long.len() <= 63 && long.starts_with("es projection es.é"), "{long}");
        assert_eq!(runner_of_checkpoint("es", "outbox:mail"), "es outbox es.mail");
        assert_eq!(runner_of_checkpoint("es", "balances[0/2]"), "es projection es.balances[0/2]");
    }
}
