//! How a runner reads, retries, waits and treats events it cannot handle.

use std::time::{Duration, Instant};

use crate::projection::health::ReconnectBackoff;

/// How often and how patiently a runner retries a failing handler before
/// it gives up on the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per event, the first included; 0 counts as 1.
    pub attempts: u32,
    /// The pause after the first failure; it doubles after each one.
    pub initial_backoff: Duration,
    /// The longest pause.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 5, initial_backoff: Duration::from_millis(50), max_backoff: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    /// No retries: give up at the first failure.
    pub const NEVER: RetryPolicy =
        RetryPolicy { attempts: 1, initial_backoff: Duration::ZERO, max_backoff: Duration::ZERO };

    /// The pause after the `failures`-th failure (1 for the first).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// Tries per event, at least 1.
    pub fn attempts(&self) -> u32 {
        self.attempts.max(1)
    }
}

/// What a runner does with a poison event: one whose handler fails every
/// time it is tried, one that does not decode, or one whose name no event
/// type of the program knows.
///
/// For production, choose [`ParkStream`](Self::ParkStream) and alert on
/// parked events (the `es_projection_parked_streams` gauge, `es projection
/// NAME parked`): one bad event then holds back only its own stream, whose
/// later events wait parked behind it in order, while every other stream's
/// read model stays current. [`Park`](Self::Park) keeps going too but lets
/// the bad stream's later events overtake the parked one, which is right
/// only for read models that do not depend on a stream's order.
/// [`Stop`](Self::Stop) is the default because it never leaves a part of a
/// read model stale without saying so: until you watch parked events, a
/// stopped projection is the failure you notice.
///
/// ```
/// use es_core::projection::{PoisonPolicy, RunnerOptions};
///
/// let options = RunnerOptions::default().on_poison(PoisonPolicy::Park);
/// assert_eq!(options.poison, PoisonPolicy::Park);
/// assert_eq!(RunnerOptions::default().poison, PoisonPolicy::Stop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoisonPolicy {
    /// Stop the projection at the event, with an error naming it. The read
    /// model holds every event before it and none after; fix the cause and
    /// run again to resume there.
    #[default]
    Stop,
    /// Record the event as parked, with the error, in the same commit that
    /// moves the checkpoint past it, and go on. Parked events can be listed,
    /// retried once fixed, or discarded.
    Park,
    /// Park the event like [`Park`](Self::Park), and every later event of
    /// its stream behind it, in order, while other streams go on. Retrying
    /// a parked event hands the stream's parked events up to it to the
    /// projection in order, in one commit; once none of the stream's events
    /// is parked (retried or discarded), its new events are handled again.
    /// Past the options' [`ParkLimits`] the projection stops.
    ParkStream,
}

/// How much [`PoisonPolicy::ParkStream`] may park before the projection
/// stops with [`ProjectionError::ParkLimit`](super::ProjectionError::ParkLimit):
/// a read model missing that much is broken, not degraded.
///
/// ```
/// use es_core::projection::{ParkLimits, PoisonPolicy, RunnerOptions};
///
/// let options = RunnerOptions::default()
///     .on_poison(PoisonPolicy::ParkStream)
///     .park_limits(ParkLimits { per_stream: 50, streams: 10 });
/// assert_eq!(ParkLimits::default(), ParkLimits { per_stream: 1000, streams: 100 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParkLimits {
    /// Parked events of one stream, the failing one and those behind it.
    pub per_stream: usize,
    /// Streams with parked events.
    pub streams: usize,
}

impl Default for ParkLimits {
    fn default() -> Self {
        ParkLimits { per_stream: 1000, streams: 100 }
    }
}

/// How a projection runner reads, retries and waits; every runner takes
/// these.
///
/// ```
/// use std::time::Duration;
/// use es_core::projection::{RetryPolicy, RunnerOptions};
///
/// let options = RunnerOptions::default().page_size(500).poll_interval(Duration::from_millis(50));
/// assert_eq!((options.page_size, options.retry), (500, RetryPolicy::default()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerOptions {
    /// How a failing handler is retried.
    pub retry: RetryPolicy,
    /// What happens to an event that cannot be handled.
    pub poison: PoisonPolicy,
    /// How many events are read (and, in PostgreSQL, committed) at once.
    pub page_size: usize,
    /// How often a caught-up runner looks for new events when nothing wakes
    /// it, and how often a standby tries to take over.
    pub poll_interval: Duration,
    /// How a runner that lost its connection waits between attempts to
    /// reconnect.
    pub reconnect: ReconnectBackoff,
    /// How much [`PoisonPolicy::ParkStream`] may park.
    pub park_limits: ParkLimits,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            retry: RetryPolicy::default(),
            poison: PoisonPolicy::default(),
            page_size: 1000,
            poll_interval: Duration::from_millis(500),
            reconnect: ReconnectBackoff::default(),
            park_limits: ParkLimits::default(),
        }
    }
}

impl RunnerOptions {
    /// Sets how a failing handler is retried.
    pub fn retry(self, retry: RetryPolicy) -> Self {
        RunnerOptions { retry, ..self }
    }

    /// Sets what happens to an event that cannot be handled.
    pub fn on_poison(self, poison: PoisonPolicy) -> Self {
        RunnerOptions { poison, ..self }
    }

    /// Sets how many events are read at once (at least 1).
    pub fn page_size(self, page_size: usize) -> Self {
        RunnerOptions { page_size: page_size.max(1), ..self }
    }

    /// Sets the poll interval.
    pub fn poll_interval(self, poll_interval: Duration) -> Self {
        RunnerOptions { poll_interval, ..self }
    }

    /// Sets how a runner waits between attempts to reconnect.
    pub fn reconnect(self, reconnect: ReconnectBackoff) -> Self {
        RunnerOptions { reconnect, ..self }
    }

    /// Sets how much [`PoisonPolicy::ParkStream`] may park.
    pub fn park_limits(self, park_limits: ParkLimits) -> Self {
        RunnerOptions { park_limits, ..self }
    }
}

/// How far a rebuild has come, reported after each page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Events read so far (handled or skipped).
    pub done: u64,
    /// Events in the store when the rebuild started.
    pub total: u64,
    /// Events read per second since the rebuild started.
    pub events_per_second: f64,
    /// The time left at that rate, once there is a rate to go by.
    pub eta: Option<Duration>,
}

impl Progress {
    /// The progress after `done` of `total` events, `started` ago.
    pub fn since(started: Instant, done: u64, total: u64) -> Self {
        let elapsed = started.elapsed().as_secs_f64();
        let events_per_second = if elapsed > 0.0 { done as f64 / elapsed } else { 0.0 };
        let left = total.saturating_sub(done) as f64;
        let eta = (events_per_second > 0.0).then(|| Duration::from_secs_f64(left / events_per_second));
        Progress { done, total, events_per_second, eta }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_limit() {
        let policy = RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(35),
        };
        let pauses: Vec<u128> = (1..=4).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(pauses, [10, 20, 35, 35]);
        assert_eq!(RetryPolicy { attempts: 0, ..policy }.attempts(), 1);
    }

    #[test]
    fn progress_estimates_the_time_left_from_the_rate() {
        let started = Instant::now() - Duration::from_secs(2);
        let progress = Progress::since(started, 1000, 3000);
        assert!((400.0..=500.0).contains(&progress.events_per_second), "{progress:?}");
        let eta = progress.eta.unwrap().as_secs_f64();
        assert!((3.9..=5.1).contains(&eta), "{eta}");
        assert_eq!(Progress::since(Instant::now(), 0, 10).eta, None);
    }
}
