//! A projection's checkpoint as the queries of a process see it, so that
//! they can wait until it reflects a command (read your own writes).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::envelope::Position;
use crate::projection::error::WaitError;

/// Where a projection stands: its committed checkpoint and, when it stopped
/// on an error, why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckpointState {
    /// The position of the last event the projection committed.
    pub position: Position,
    /// Why the projection stopped, if it stopped on an error at `position`.
    pub stopped: Option<String>,
}

/// Publishes a projection's checkpoint to the waiters of a process. Runners
/// and backends publish; queries hold [`CheckpointWaiter`]s.
#[derive(Debug, Clone)]
pub struct CheckpointWatch {
    projection: Arc<str>,
    sender: Arc<watch::Sender<CheckpointState>>,
}

impl CheckpointWatch {
    /// A watch for `projection`, at the start of the order.
    pub fn new(projection: &str) -> Self {
        CheckpointWatch {
            projection: projection.into(),
            sender: Arc::new(watch::Sender::new(CheckpointState::default())),
        }
    }

    /// The projection's name.
    pub fn projection(&self) -> &str {
        &self.projection
    }

    /// Publishes a committed checkpoint. A checkpoint behind the published
    /// one is ignored (a late report of an older state), unless `reset`
    /// says the projection restarted from there (a rebuild).
    pub fn publish(&self, state: CheckpointState, reset: bool) {
        self.sender.send_if_modified(|current| {
            let newer = state.position > current.position || (state.position == current.position && state != *current);
            let changed = if reset { state != *current } else { newer };
            if changed {
                *current = state;
            }
            changed
        });
    }

    /// The latest published state.
    pub fn state(&self) -> CheckpointState {
        self.sender.borrow().clone()
    }

    /// Whether any waiter still listens.
    pub fn is_watched(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// A handle that queries use to wait for positions.
    pub fn waiter(&self) -> CheckpointWaiter {
        CheckpointWaiter { projection: Arc::clone(&self.projection), receiver: self.sender.subscribe() }
    }
}

/// Waits until a projection has committed the events up to a position.
#[derive(Debug, Clone)]
pub struct CheckpointWaiter {
    projection: Arc<str>,
    receiver: watch::Receiver<CheckpointState>,
}

impl CheckpointWaiter {
    /// The projection's checkpoint as last published.
    pub fn position(&self) -> Position {
        self.receiver.borrow().position
    }

    /// Resolves once the projection's checkpoint is at or after `position`.
    /// Fails with [`WaitError::Stopped`] as soon as the projection stops on
    /// an error before it, and with [`WaitError::Timeout`] after `timeout`.
    /// Pass the position a command returned to read your own writes.
    pub async fn wait_for(&self, position: Position, timeout: Duration) -> Result<(), WaitError> {
        let mut receiver = self.receiver.clone();
        let settled = |s: &CheckpointState| s.position >= position || s.stopped.is_some();
        let waited = tokio::time::timeout(timeout, receiver.wait_for(settled)).await;
        let state = self.receiver.borrow().clone();
        if state.position >= position {
            return Ok(());
        }
        match (waited, state.stopped) {
            (Ok(Ok(_)), Some(error)) => Err(WaitError::Stopped {
                projection: self.projection.to_string(),
                wanted: position,
                reached: state.position,
                error,
            }),
            _ => Err(WaitError::Timeout {
                projection: self.projection.to_string(),
                wanted: position,
                reached: state.position,
                timeout,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(sequence: u64) -> CheckpointState {
        CheckpointState { position: Position::new(1, sequence), stopped: None }
    }

    #[test]
    fn published_checkpoints_only_move_forward_unless_reset() {
        let watch = CheckpointWatch::new("p");
        watch.publish(at(5), false);
        watch.publish(at(3), false);
        assert_eq!(watch.state(), at(5));
        watch.publish(CheckpointState::default(), true);
        assert_eq!(watch.state(), CheckpointState::default());
    }

    #[tokio::test]
    async fn a_waiter_returns_once_reached_and_fails_at_once_when_stopped() {
        let watch = CheckpointWatch::new("p");
        let waiter = watch.waiter();
        let wait = tokio::spawn({
            let waiter = waiter.clone();
            async move { waiter.wait_for(Position::new(1, 4), Duration::from_secs(60)).await }
        });
        watch.publish(at(4), false);
        assert_eq!(wait.await.unwrap(), Ok(()));

        let wait = tokio::spawn({
            let waiter = waiter.clone();
            async move { waiter.wait_for(Position::new(1, 9), Duration::from_secs(60)).await }
        });
        watch.publish(CheckpointState { position: Position::new(1, 6), stopped: Some("boom".into()) }, false);
        let err = wait.await.unwrap().unwrap_err();
        assert!(matches!(&err, WaitError::Stopped { error, .. } if error == "boom"), "{err:?}");

        let err = waiter.wait_for(Position::new(2, 0), Duration::from_millis(1)).await;
        assert!(matches!(err, Err(WaitError::Stopped { .. })), "a stopped projection fails waits at once");
    }

    #[tokio::test]
    async fn a_wait_times_out_naming_where_the_projection_is() {
        let watch = CheckpointWatch::new("p");
        watch.publish(at(2), false);
        let err = watch.waiter().wait_for(Position::new(1, 3), Duration::from_millis(5)).await.unwrap_err();
        assert_eq!(
            err,
            WaitError::Timeout {
                projection: "p".into(),
                wanted: Position::new(1, 3),
                reached: Position::new(1, 2),
                timeout: Duration::from_millis(5)
            }
        );
    }
}
