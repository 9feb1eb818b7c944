//! Waking projection runners after appends: one `NOTIFY` for each batch of
//! appends, sent by a task of its own, instead of one for each append.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long the task waits before sending again after a failure, at first
/// and at most.
const RETRY: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));

/// The least time between two notifications. The first append after a
/// quiet spell is notified at once; under a stream of appends, runners are
/// woken at most this often (25 times more often than they poll by
/// default), so that each wake-up, which costs a runner a read and often a
/// checkpoint commit, serves many appends instead of one.
const SPACING: Duration = Duration::from_millis(20);

/// Sends a store's wake-ups, at most one at a time.
///
/// An append that may have committed marks the notifier dirty; the task
/// clears the mark, then sends one `NOTIFY`. Every append marked before the
/// mark was cleared had committed by then, so the notification (delivered
/// when its own transaction commits, later) finds it readable; an append
/// marked after that leaves the mark set, and another notification
/// follows, [`SPACING`] after the last. So no wake-up is lost, and however
/// many appends commit while one notification is on its way, one more
/// follows them.
pub(crate) struct Notifier {
    shared: Arc<Shared>,
    send: Arc<SendFn>,
}

/// Sends one notification; tells whether it was sent.
type SendFn = dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync;

#[derive(Debug, Default)]
struct Shared {
    /// An append may have committed since the last notification was sent.
    dirty: AtomicBool,
    /// The task is running (cleared when it ends or its runtime drops it).
    running: AtomicBool,
    /// The store is gone: send what is due, then stop.
    closed: AtomicBool,
    wake: Notify,
}

impl Notifier {
    /// A notifier on `channel`, sending through `pool`.
    pub(crate) fn new(pool: Pool, channel: String) -> Self {
        let channel = Arc::new(channel);
        Self::sending_with(Arc::new(move || {
            let (pool, channel) = (pool.clone(), Arc::clone(&channel));
            Box::pin(async move { notify(&pool, &channel).await.is_ok() })
        }))
    }

    /// A notifier that sends with `send`.
    fn sending_with(send: Arc<SendFn>) -> Self {
        Notifier { shared: Arc::default(), send }
    }

    /// Marks that an append may have committed: a notification follows.
    pub(crate) fn appended(&self) {
        if !self.shared.dirty.swap(true, Ordering::SeqCst) {
            self.shared.wake.notify_one();
        }
        // Started on first use, and again should the runtime that ran it
        // have been shut down.
        if !self.shared.running.load(Ordering::SeqCst) {
            self.start();
        }
    }

    fn start(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.shared.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let running = Running(Arc::clone(&self.shared));
        runtime.spawn(send_while_dirty(running, Arc::clone(&self.send)));
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").field("shared", &self.shared).finish_non_exhaustive()
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }
}

/// Clears `running` when the task ends, however it ends.
struct Running(Arc<Shared>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

/// The task: sends one notification whenever the notifier is dirty, until
/// the store is gone.
async fn send_while_dirty(running: Running, send: Arc<SendFn>) {
    let shared = &running.0;
    let mut retry = RETRY.0;
    let mut next = Instant::now();
    loop {
        if shared.dirty.load(Ordering::SeqCst) {
            // Appends that commit meanwhile are notified with this one.
            tokio::time::sleep_until(next).await;
            // Only this task clears the mark: it is still set.
            shared.dirty.store(false, Ordering::SeqCst);
            if send().await {
                retry = RETRY.0;
                next = Instant::now() + SPACING;
                continue;
            }
            // Runners poll meanwhile; a store that is gone stops trying.
            if shared.closed.load(Ordering::SeqCst) {
                return;
            }
            shared.dirty.store(true, Ordering::SeqCst);
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(RETRY.1);
            continue;
        }
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        shared.wake.notified().await;
    }
}

/// One `NOTIFY`, in a transaction of its own: it wrote nothing else, so its
/// commit waits for no WAL flush.
async fn notify(pool: &Pool, channel: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let client = pool.get().await?;
    let statement = client.prepare_cached("SELECT pg_notify($1, '')").await?;
    client.execute(&statement, &[&channel]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::{Semaphore, mpsc};

    use super::*;

    /// A notifier whose sends each wait for a permit of the semaphore, and
    /// report on the channel when they start.
    fn gated() -> (Notifier, Arc<Semaphore>, mpsc::UnboundedReceiver<usize>) {
        let gate = Arc::new(Semaphore::new(0));
        let (started, starts) = mpsc::unbounded_channel();
        let count = Arc::new(AtomicUsize::new(0));
        let send_gate = Arc::clone(&gate);
        let notifier = Notifier::sending_with(Arc::new(move || {
            let (gate, started) = (Arc::clone(&send_gate), started.clone());
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                let _ = started.send(n);
                gate.acquire().await.unwrap().forget();
                true
            })
        }));
        (notifier, gate, starts)
    }

    /// The number of the next send to start, or `None` once the task ended.
    async fn next(starts: &mut mpsc::UnboundedReceiver<usize>) -> Option<usize> {
        tokio::time::timeout(Duration::from_secs(10), starts.recv()).await.expect("a send started, or the task ended")
    }

    #[tokio::test]
    async fn an_append_during_a_send_gets_a_send_of_its_own() {
        let (notifier, gate, mut starts) = gated();
        notifier.appended();
        assert_eq!(next(&mut starts).await, Some(1));
        // Commits while the first notification is on its way: however
        // many, one more follows.
        notifier.appended();
        notifier.appended();
        gate.add_permits(1);
        assert_eq!(next(&mut starts).await, Some(2));
        gate.add_permits(1);
        // Nothing else is due: the next send is the next append's.
        notifier.appended();
        assert_eq!(next(&mut starts).await, Some(3));
        gate.add_permits(1);
        drop(notifier);
        assert_eq!(next(&mut starts).await, None, "the task ended with the notifier");
    }

    #[tokio::test]
    async fn what_is_due_is_sent_before_the_task_ends() {
        let (notifier, gate, mut starts) = gated();
        notifier.appended();
        assert_eq!(next(&mut starts).await, Some(1));
        notifier.appended();
        drop(notifier);
        gate.add_permits(2);
        assert_eq!(next(&mut starts).await, Some(2));
        assert_eq!(next(&mut starts).await, None);
    }
}
