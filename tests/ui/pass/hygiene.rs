// Generated code keeps working when the user's crate shadows common names.
#![allow(dead_code, non_camel_case_types)]

use ::serde::{Deserialize, Serialize};

struct Result;
struct Option;
struct Ok;
struct Err;
struct Value;
struct String;
struct Vec;
enum DecodeError {}
trait From {}
trait ToOwned {}
mod serde_json {}
mod inventory {}
mod core {}
mod std {}
struct __A;
struct __EsAggregate;

#[derive(::es_core::Event, Serialize, Deserialize)]
#[event(version = 2)]
#[upcast(from = 1, with = v1)]
struct Deposited {
    cents: i64,
}

fn v1(payload: ::serde_json::Value) -> ::serde_json::Value {
    payload
}

#[derive(::es_core::Event)]
enum AccountEvent {
    Deposited(Deposited),
}

#[derive(::es_core::Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "account", event = AccountEvent)]
struct Account {
    cents: i64,
}

impl ::es_core::Apply<Deposited> for Account {
    fn apply(&mut self, event: &Deposited) {
        self.cents += event.cents;
    }
}

fn main() {
    let mut account = Account::default();
    <Account as ::es_core::Aggregate>::apply(&mut account, &AccountEvent::Deposited(Deposited { cents: 1 }));
    ::std::assert_eq!(account.cents, 1);
}
