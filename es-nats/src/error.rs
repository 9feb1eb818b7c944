//! What can go wrong when publishing.

use async_nats::jetstream::context::PublishError as NatsPublishError;

/// A publisher that cannot be built as configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The subject prefix is not one or more NATS subject tokens.
    #[error(
        "subject prefix `{prefix}` is not valid: use one or more non-empty tokens separated by `.`, \
         of printable ASCII without `*` or `>` (for example `es.events`)"
    )]
    InvalidPrefix {
        /// The prefix as given.
        prefix: String,
    },
}

/// JetStream did not take a message: NATS is down or unreachable, no
/// JetStream stream listens on the subject, or the acknowledgment did not
/// come in time. The checkpoint stays before the message, and the
/// publisher tries again.
#[derive(Debug, thiserror::Error)]
#[error(
    "JetStream did not acknowledge {what} on subject `{subject}`: {cause}; \
     check that NATS is up and that a JetStream stream captures the subject"
)]
pub struct PublishError {
    /// What was published: an event of a stream, or an outbox message.
    pub what: String,
    /// The subject it was published on.
    pub subject: String,
    /// What the client reported.
    pub cause: NatsPublishError,
}
