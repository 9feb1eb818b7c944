//! What a runner is doing, for the application to read while it runs.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

/// What a projection runner is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RunnerState {
    /// Not running (before `run`, or after it returned).
    #[default]
    Idle,
    /// Connected, waiting for another runner to release the projection.
    StandingBy,
    /// Holding the projection: catching up or following new events.
    Running,
    /// The connection was lost or the server cannot be reached: trying
    /// again, with backoff, since `since`.
    Reconnecting {
        /// When the outage began.
        since: SystemTime,
        /// Attempts to reconnect so far.
        attempts: u32,
    },
    /// `run` returned on an error that retrying cannot fix.
    Stopped,
}

/// A runner's state and the last error it met, with when.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunnerHealth {
    /// What it is doing.
    pub state: RunnerState,
    /// The last error, and when it happened; it stays after the runner
    /// recovered, as a record.
    pub last_error: Option<(SystemTime, String)>,
}

/// Where a runner publishes its health.
#[derive(Debug, Clone, Default)]
pub(crate) struct HealthSender(Arc<watch::Sender<RunnerHealth>>);

impl HealthSender {
    /// Moves to `state`.
    pub(crate) fn set(&self, state: RunnerState) {
        self.0.send_if_modified(|health| {
            let changed = health.state != state;
            health.state = state;
            changed
        });
    }

    /// Records `error` and moves to `state`.
    pub(crate) fn fail(&self, state: RunnerState, error: String) {
        self.0.send_modify(|health| {
            health.state = state;
            health.last_error = Some((SystemTime::now(), error));
        });
    }

    pub(crate) fn reader(&self) -> Health {
        Health(self.0.subscribe())
    }
}

/// Reads a runner's health while it runs, from any task.
///
/// ```
/// use es_core::projection::{Health, RunnerState};
/// # fn f(health: Health) {
/// match health.now().state {
///     RunnerState::Reconnecting { since, .. } => eprintln!("projection down since {since:?}"),
///     state => println!("{state:?}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Health(watch::Receiver<RunnerHealth>);

impl Health {
    /// The runner's health now.
    pub fn now(&self) -> RunnerHealth {
        self.0.borrow().clone()
    }

    /// Waits until the runner's state satisfies `wanted`, for at most
    /// `timeout`; the health then, or `None` on timeout.
    pub async fn wait_until(
        &self,
        wanted: impl FnMut(&RunnerState) -> bool,
        timeout: Duration,
    ) -> Option<RunnerHealth> {
        let mut receiver = self.0.clone();
        let mut wanted = wanted;
        let reached = tokio::time::timeout(timeout, receiver.wait_for(|h| wanted(&h.state))).await;
        match reached {
            Ok(Ok(health)) => Some(health.clone()),
            _ => None,
        }
    }
}

/// Pauses between reconnection attempts: doubling from `initial` up to
/// `max`, each drawn at random between half and all of it (jitter), so
/// that runners of many processes do not reconnect in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectBackoff {
    /// The pause before the first attempt.
    pub initial: Duration,
    /// The longest pause.
    pub max: Duration,
}

impl Default for ReconnectBackoff {
    fn default() -> Self {
        ReconnectBackoff { initial: Duration::from_millis(100), max: Duration::from_secs(5) }
    }
}

impl ReconnectBackoff {
    /// The pause before attempt `attempt` (1 for the first).
    pub fn pause(&self, attempt: u32) -> Duration {
        let full = self.initial.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))).min(self.max);
        full.mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_limit() {
        let backoff = ReconnectBackoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) };
        for (attempt, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (30, 1000)] {
            let pause = backoff.pause(attempt).as_millis();
            assert!((full / 2..=full).contains(&pause), "attempt {attempt}: {pause} ms");
        }
    }

    #[tokio::test]
    async fn health_records_the_last_error_and_waits_for_a_state() {
        let sender = HealthSender::default();
        let health = sender.reader();
        assert_eq!(health.now(), RunnerHealth::default());
        sender.fail(RunnerState::Reconnecting { since: SystemTime::now(), attempts: 1 }, "refused".into());
        let reconnecting = health.wait_until(|s| matches!(s, RunnerState::Reconnecting { .. }), Duration::ZERO).await;
        assert_eq!(reconnecting.and_then(|h| h.last_error).map(|(_, e)| e), Some("refused".to_owned()));
        sender.set(RunnerState::Running);
        assert_eq!(health.now().state, RunnerState::Running);
        assert!(health.now().last_error.is_some(), "the last error stays on record");
        assert!(health.wait_until(|s| *s == RunnerState::Idle, Duration::from_millis(5)).await.is_none());
    }
}
