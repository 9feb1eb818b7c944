//! What can go wrong, the exit code each failure maps to, and how an error
//! is reported.

use es_core::admin::{AdminError, FoldError, Location};
use es_core::{ErrorReport, ProjectionError, StoreError};
use es_postgres::PgError;
use es_sqlite::SqliteError;

/// Why a command failed.
///
/// [`exit_code`](Error::exit_code) tells a usage or connection problem
/// (2) from a command that ran and failed (1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The arguments do not parse (or help or the version was asked for).
    #[error(transparent)]
    Usage(#[from] clap::Error),
    /// Connecting, migrating or a query of the command failed.
    #[error(transparent)]
    Database(#[from] PgError),
    /// Opening a SQLite store failed.
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store refused an operator's action, or failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A projection failed while rebuilding.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// The command needs an application type that was not registered.
    #[error(
        "no {kind} `{name}` is registered with this command line (registered: {known}); \
         register it with `es_cli::Cli::{kind}`"
    )]
    NotRegistered {
        /// `aggregate` or `projection`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names that are registered.
        known: String,
    },
    /// The command decodes events, which the standalone `es` cannot do.
    #[error(
        "`{command}` needs the application's {needs}: run it from the application's binary, \
         which mounts `es_cli::Cli` with its types registered"
    )]
    NeedsApplication {
        /// The command.
        command: &'static str,
        /// What it needs: aggregates or projections.
        needs: &'static str,
    },
    /// No store was named.
    #[error("no store given: pass --database-url, or set DATABASE_URL (and ES_SCHEMA for another schema than `es`)")]
    NoDatabase,
    /// The URL names a kind of store the command line does not reach.
    #[error("`{scheme}://` names no store the command line knows: use {supported}")]
    UnknownScheme {
        /// The URL's scheme.
        scheme: String,
        /// The schemes it knows.
        supported: &'static str,
    },
    /// The command needs what only another kind of store does.
    #[error("`{command}` is not supported on the store at {location}")]
    NotSupported {
        /// The command.
        command: &'static str,
        /// Where the store lives.
        location: Location,
    },
    /// The location holds no event store.
    #[error("{location} holds no event store: check --database-url and --schema, or create one with `es migrate`")]
    NoStore {
        /// Where it was looked for.
        location: Location,
    },
    /// The user did not confirm a reset.
    #[error("reset of projection `{name}` not confirmed: nothing changed (pass --yes to skip the question)")]
    NotConfirmed {
        /// The projection.
        name: String,
    },
    /// The stream has no events (in the range asked for).
    #[error("stream `{stream_id}` has no events{range}")]
    NoEvents {
        /// The stream.
        stream_id: String,
        /// `" in that range"` when a range was given, else empty.
        range: &'static str,
    },
    /// A stream could not be folded with its aggregate.
    #[error(transparent)]
    Fold(#[from] FoldError),
    /// A state or a value could not be turned into JSON.
    #[error("cannot serialize {what} as JSON")]
    Json {
        /// What was being serialized.
        what: &'static str,
        /// The serializer's complaint.
        source: serde_json::Error,
    },
    /// `check` found events that do not decode or versions that are missing.
    #[error("check found {problems} problem(s) in the store")]
    CheckFailed {
        /// How many.
        problems: usize,
    },
    /// Writing the output or reading the terminal failed.
    #[error("cannot {doing}")]
    Io {
        /// What was being done.
        doing: &'static str,
        /// The system's complaint.
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code: 2 for a usage or connection problem (and 0
    /// for `--help` and `--version`), 1 for a command that failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(e) => u8::try_from(e.exit_code()).unwrap_or(2),
            Error::Database(e) if e.is_unavailable() => 2,
            Error::Database(
                PgError::InvalidConfig { .. }
                | PgError::InvalidSchema { .. }
                | PgError::InvalidCaFile { .. }
                | PgError::Pool(_)
                | PgError::Tls { .. }
                | PgError::Authentication { .. }
                | PgError::DatabaseMissing { .. }
                | PgError::RoleMissing { .. },
            ) => 2,
            Error::Sqlite(_) => 2,
            Error::Store(StoreError::Unavailable(_)) | Error::Admin(AdminError::Store(StoreError::Unavailable(_))) => 2,
            Error::NotRegistered { .. }
            | Error::NeedsApplication { .. }
            | Error::NoStore { .. }
            | Error::NoDatabase
            | Error::UnknownScheme { .. }
            | Error::NotSupported { .. } => 2,
            _ => 1,
        }
    }

    /// The error and its causes, one per line, leaving out a cause whose
    /// text the lines before already carry.
    pub fn report(&self) -> String {
        format!("{:#}", ErrorReport::new(self))
    }

    pub(crate) fn output(source: std::io::Error) -> Self {
        Error::Io { doing: "write the output", source }
    }
}

impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::output(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Refused;

    #[test]
    fn each_cause_gets_its_own_line() {
        let error = Error::Store(StoreError::Unavailable(Box::new(Refused)));
        assert_eq!(error.report(), "the event store is unreachable\n  caused by: connection refused");
        assert_eq!(error.exit_code(), 2);
        let error = Error::Io { doing: "read", source: std::io::Error::other(Refused) };
        assert_eq!(error.exit_code(), 1);
        assert_eq!(error.report(), "cannot read\n  caused by: connection refused");
    }
}
