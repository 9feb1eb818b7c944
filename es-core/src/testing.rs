//! A given/when/then kit for testing aggregates without a store.
//!
//! ```
//! # use es_core::{Aggregate, Apply, Event};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! # struct Incremented;
//! # #[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
//! # #[aggregate(name = "counter", event = Incremented)]
//! # struct Counter { value: u64 }
//! # impl Apply<Incremented> for Counter { fn apply(&mut self, _: &Incremented) { self.value += 1 } }
//! # impl Counter {
//! #     fn increment(&self, limit: u64) -> Result<Vec<Incremented>, String> {
//! #         if self.value >= limit { Err("limit reached".into()) } else { Ok(vec![Incremented]) }
//! #     }
//! # }
//! use es_core::testing::given;
//!
//! given::<Counter>([Incremented]).when(|c| c.increment(2)).then([Incremented]);
//! given::<Counter>([Incremented, Incremented]).when(|c| c.increment(2)).then_error("limit reached".to_string());
//! ```
//!
//! A history of several event types is built one event at a time with
//! [`Given::and`], each converted into the aggregate's event type:
//! `given_no_events::<Account>().and(Opened { .. }).and(Deposited { .. })`.

use std::fmt::Debug;

use crate::aggregate::Aggregate;

/// Starts a test from the events that already happened to an aggregate.
pub fn given<A: Aggregate>(history: impl IntoIterator<Item = impl Into<A::Event>>) -> Given<A> {
    let mut state = A::default();
    history.into_iter().for_each(|event| state.apply(&event.into()));
    Given { state }
}

/// Starts a test from an aggregate with no history.
pub fn given_no_events<A: Aggregate>() -> Given<A> {
    Given { state: A::default() }
}

/// An aggregate with a history, waiting for a command.
#[derive(Debug)]
pub struct Given<A> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    /// Adds one more event to the history: any type that converts into the
    /// aggregate's event type, so that histories can mix event types.
    pub fn and(mut self, event: impl Into<A::Event>) -> Self {
        self.state.apply(&event.into());
        self
    }

    /// Runs a command against the state built from the history.
    pub fn when<E>(self, command: impl FnOnce(&A) -> Result<Vec<A::Event>, E>) -> When<A, E> {
        let outcome = command(&self.state);
        When { state: self.state, outcome }
    }
}

/// The outcome of a command, waiting for what it should have been.
#[derive(Debug)]
pub struct When<A: Aggregate, E> {
    state: A,
    outcome: Result<Vec<A::Event>, E>,
}

impl<A, E> When<A, E>
where
    A: Aggregate,
    A::Event: PartialEq + Debug,
    E: Debug,
{
    /// Asserts that the command produced exactly `expected`, and returns the
    /// state after applying them for further checks.
    ///
    /// # Panics
    ///
    /// When the command failed or produced other events.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = impl Into<A::Event>>) -> A {
        let expected: Vec<A::Event> = expected.into_iter().map(Into::into).collect();
        match self.outcome {
            Ok(events) => {
                assert_eq!(events, expected, "the command produced other events than expected");
                let mut state = self.state;
                events.iter().for_each(|e| state.apply(e));
                state
            }
            Err(e) => panic!("expected events {expected:?}, but the command was rejected with {e:?}"),
        }
    }

    /// Asserts that the command succeeded and produced no event (it had
    /// nothing to do), and returns the state, unchanged.
    ///
    /// # Panics
    ///
    /// When the command failed or produced events.
    #[track_caller]
    pub fn then_no_events(self) -> A {
        match self.outcome {
            Ok(events) => {
                assert!(events.is_empty(), "expected no events, but the command produced {events:?}");
                self.state
            }
            Err(e) => panic!("expected no events, but the command was rejected with {e:?}"),
        }
    }

    /// Asserts that the command was rejected with `expected`.
    ///
    /// # Panics
    ///
    /// When the command succeeded or failed otherwise.
    #[track_caller]
    pub fn then_error(self, expected: E)
    where
        E: PartialEq,
    {
        match self.outcome {
            Ok(events) => panic!("expected rejection {expected:?}, but the command produced {events:?}"),
            Err(e) => assert_eq!(e, expected, "the command was rejected with another error"),
        }
    }
}
