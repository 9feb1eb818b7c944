//! Crypto-shredding: personal data stored encrypted per subject, and
//! forgotten by deleting the subject's key (feature `personal`).
//!
//! Events are immutable, yet a person may ask to be forgotten. A value
//! wrapped in [`Personal<T>`] names its subject (a customer id, say);
//! [`PersonalDataStore`] wraps any [`EventStore`](crate::EventStore) and,
//! where events and snapshots are written, encrypts every such value with
//! the subject's key (AES-256-GCM, a random nonce per value, the subject as
//! associated data); where they are read, it decrypts them. Keys live apart
//! from events, in a [`SubjectKeys`] store ([`InMemorySubjectKeys`], or the
//! `subject_keys` table of `es_postgres::PgEventStore`).
//! [`PersonalDataStore::forget`] deletes a subject's key: from then on its
//! values read as [`Personal::is_forgotten`], while every other field, every
//! other subject and every stored row stay as they were, so aggregates and
//! projections keep loading.
//!
//! ```
//! use es_core::personal::{InMemorySubjectKeys, Personal, PersonalDataStore};
//! use es_core::{Aggregate, Apply, Event, InMemoryEventStore, Repository};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! struct Registered { email: Personal<String>, plan: String }
//!
//! #[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
//! #[aggregate(name = "customer", event = Registered)]
//! struct Customer { email: Option<Personal<String>>, plan: String }
//!
//! impl Apply<Registered> for Customer {
//!     fn apply(&mut self, e: &Registered) {
//!         self.email = Some(e.email.clone());
//!         self.plan = e.plan.clone();
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PersonalDataStore::new(InMemoryEventStore::new(), InMemorySubjectKeys::new());
//! let customers = Repository::<Customer, _>::new(&store);
//! let email = Personal::new("c-1", "ada@example.com".to_owned());
//! customers.execute("c-1", |_| Ok::<_, String>(vec![Registered { email: email.clone(), plan: "pro".into() }])).await?;
//! assert_eq!(customers.load("c-1").await?.state.email.unwrap().get().unwrap(), "ada@example.com");
//!
//! store.forget("c-1").await?;
//! let customer = customers.load("c-1").await?.state;
//! assert!(customer.email.unwrap().is_forgotten());
//! assert_eq!(customer.plan, "pro"); // the rest of the event still loads
//! # Ok(())
//! # }
//! ```
//!
//! # What to know
//!
//! - The subject is part of the value, not of the event: `Personal` values
//!   keep it wherever they go, into an aggregate's state and its snapshots,
//!   which are sealed the same way. Several subjects may appear in one
//!   event.
//! - A forgotten value is explicit: [`Personal::get`] returns `None`, so
//!   code cannot mistake a redacted value for a real empty one.
//! - Read everything through the `PersonalDataStore`. Reading the wrapped
//!   store directly (a projection runner over the raw store, a tool) sees
//!   every sealed value as forgotten: safe, never plaintext.
//! - The subject id is stored in clear beside the ciphertext, so choose
//!   ids that are not themselves personal (a customer number, not an email).
//! - Deleting a key row makes the values unreadable for the application;
//!   the database's own copies of the deleted row (WAL, backups until they
//!   expire) are outside its reach.
//! - Key material never appears in `Debug` output, logs or errors.

mod keys;
mod seal;
mod store;
mod value;

pub use keys::{InMemorySubjectKeys, SubjectKey, SubjectKeys};
pub use store::PersonalDataStore;
pub use value::Personal;
