//! The name a runner's connection carries in `pg_stat_activity`: built
//! here, and only here, for the runners and for the tools that look for
//! them.

use crate::schema::Schema;

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
        RunnerKind::Projection => format!("es projection {schema}.{name}"),
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
