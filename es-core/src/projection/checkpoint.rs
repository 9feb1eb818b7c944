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
    /// How many times the stored checkpoint has changed: every commit,
    /// stop, resume and reset adds one, so that of two reports of the
    /// checkpoint the later one wins, whatever order they arrive in.
    pub revision: u64,
}

/// What a watch holds: the latest state, and whether it is known to be
/// current (a watch fed from a database is not while it cannot follow the
/// database's changes).
#[derive(Debug, Clone, Default)]
struct Published {
    state: CheckpointState,
    current: bool,
}

/// Publishes a projection's checkpoint to the waiters of a process. Runners
/// and backends publish; queries hold [`CheckpointWaiter`]s.
///
/// A state replaces the published one when its
/// [`revision`](CheckpointState::revision) is not older, so a stopped
/// projection that is resumed, reset or rebuilt — by any process — is seen
/// running again, and a late report of an older state is ignored.
#[derive(Debug, Clone)]
pub struct CheckpointWatch {
    projection: Arc<str>,
    sender: Arc<watch::Sender<Published>>,
}

impl CheckpointWatch {
    /// A watch for `projection`, at the start of the order and current (a
    /// runner that keeps its checkpoint in memory starts there).
    pub fn new(projection: &str) -> Self {
        let published = Published { state: CheckpointState::default(), current: true };
        CheckpointWatch { projection: projection.into(), sender: Arc::new(watch::Sender::new(published)) }
    }

    /// The projection's name.
    pub fn projection(&self) -> &str {
        &self.projection
    }

    /// Publishes the stored checkpoint, which is current from now on. A
    /// state of an older revision than the published one is ignored.
    pub fn publish(&self, state: CheckpointState) {
        self.sender.send_if_modified(|published| {
            if state.revision < published.state.revision {
                return false;
            }
            let changed = state != published.state || !published.current;
            *published = Published { state, current: true };
            changed
        });
    }

    /// Publishes that the projection stopped on `error` at its checkpoint,
    /// when the stop could not be stored with a revision of its own: it
    /// stands until the next stored change.
    pub fn publish_stop(&self, error: String) {
        self.sender.send_modify(|published| {
            published.state.stopped = Some(error);
            published.current = true;
        });
    }

    /// Marks the published state as possibly out of date (the changes of
    /// the stored checkpoint cannot be followed for now): waits do not
    /// settle on it until the next [`publish`](Self::publish).
    pub fn mark_stale(&self) {
        self.sender.send_if_modified(|published| std::mem::replace(&mut published.current, false));
    }

    /// The latest published state.
    pub fn state(&self) -> CheckpointState {
        self.sender.borrow().state.clone()
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
    receiver: watch::Receiver<Published>,
}

impl CheckpointWaiter {
    /// The projection's checkpoint as last published.
    pub fn position(&self) -> Position {
        self.receiver.borrow().state.position
    }

    /// Resolves once the projection's checkpoint is at or after `position`.
    /// Fails with [`WaitError::Stopped`] as soon as the projection stops on
    /// an error before it, and with [`WaitError::Timeout`] after `timeout`.
    /// Pass the position a command returned to read your own writes.
    ///
    /// Only a current state settles a wait: a projection that stopped, then
    /// was resumed, reset or rebuilt elsewhere while this process could not
    /// follow, is waited for until its state is known again.
    pub async fn wait_for(&self, position: Position, timeout: Duration) -> Result<(), WaitError> {
        let mut receiver = self.receiver.clone();
        let settled = |p: &Published| p.current && (p.state.position >= position || p.state.stopped.is_some());
        let waited = tokio::time::timeout(timeout, receiver.wait_for(settled)).await;
        let Published { state, current } = self.receiver.borrow().clone();
        if current && state.position >= position {
            return Ok(());
        }
        match (waited, state.stopped) {
            (Ok(Ok(_)), Some(error)) if current => Err(WaitError::Stopped {
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

    fn at(sequence: u64, revision: u64) -> CheckpointState {
        CheckpointState { position: Position::new(1, sequence), stopped: None, revision }
    }

    #[test]
    fn the_latest_revision_wins_whatever_its_position() {
        let watch = CheckpointWatch::new("p");
        watch.publish(at(5, 2));
        watch.publish(at(3, 1));
        assert_eq!(watch.state(), at(5, 2), "an older report is ignored");
        watch.publish(CheckpointState { revision: 3, ..CheckpointState::default() });
        assert_eq!(watch.state().position, Position::START, "a reset moves it back");
    }

    #[tokio::test]
    async fn a_waiter_returns_once_reached_and_fails_at_once_when_stopped() {
        let watch = CheckpointWatch::new("p");
        let waiter = watch.waiter();
        let wait = tokio::spawn({
            let waiter = waiter.clone();
            async move { waiter.wait_for(Position::new(1, 4), Duration::from_secs(60)).await }
        });
        watch.publish(at(4, 1));
        assert_eq!(wait.await.unwrap(), Ok(()));

        let wait = tokio::spawn({
            let waiter = waiter.clone();
            async move { waiter.wait_for(Position::new(1, 9), Duration::from_secs(60)).await }
        });
        watch.publish(CheckpointState { position: Position::new(1, 6), stopped: Some("boom".into()), revision: 2 });
        let err = wait.await.unwrap().unwrap_err();
        assert!(matches!(&err, WaitError::Stopped { error, .. } if error == "boom"), "{err:?}");

        let err = waiter.wait_for(Position::new(2, 0), Duration::from_millis(1)).await;
        assert!(matches!(err, Err(WaitError::Stopped { .. })), "a stopped projection fails waits at once");
    }

    #[tokio::test]
    async fn a_resumed_projection_is_waited_for_again() {
        let watch = CheckpointWatch::new("p");
        let waiter = watch.waiter();
        watch.publish(CheckpointState { position: Position::new(1, 6), stopped: Some("boom".into()), revision: 2 });
        let err = waiter.wait_for(Position::new(1, 7), Duration::from_secs(60)).await;
        assert!(matches!(err, Err(WaitError::Stopped { .. })), "{err:?}");
        watch.publish(at(6, 3));
        let wait = tokio::spawn({
            let waiter = waiter.clone();
            async move { waiter.wait_for(Position::new(1, 7), Duration::from_secs(60)).await }
        });
        watch.publish(at(7, 4));
        assert_eq!(wait.await.unwrap(), Ok(()), "the wait after the resume succeeds");
    }

    #[tokio::test]
    async fn a_stale_state_settles_no_wait_until_it_is_current_again() {
        let watch = CheckpointWatch::new("p");
        watch.publish(CheckpointState { position: Position::new(1, 6), stopped: Some("boom".into()), revision: 2 });
        watch.mark_stale();
        let waiter = watch.waiter();
        let err = waiter.wait_for(Position::new(1, 3), Duration::from_millis(20)).await.unwrap_err();
        assert!(matches!(err, WaitError::Timeout { .. }), "neither the stop nor the position count: {err:?}");
        let wait = tokio::spawn({
            let waiter = waiter.clone();
            async move { waiter.wait_for(Position::new(1, 7), Duration::from_secs(60)).await }
        });
        // The same revision read again confirms the state.
        watch.publish(at(7, 3));
        assert_eq!(wait.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn a_wait_times_out_naming_where_the_projection_is() {
        let watch = CheckpointWatch::new("p");
        watch.publish(at(2, 1));
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
