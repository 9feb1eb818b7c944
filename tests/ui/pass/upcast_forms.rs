// The three forms of a step: JSON, fallible JSON, typed; declared in any
// order.
use es_core::{DecodeError, Event};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(version = 4)]
#[upcast(from = 3, with = add_memo)]
#[upcast(from = 1, via = DepositedV1, with = dollars_to_cents)]
#[upcast(from = 2, with = self::steps::rename_cents)]
struct Deposited {
    amount_cents: i64,
    memo: String,
}

#[derive(Deserialize)]
struct DepositedV1 {
    dollars: i64,
}

#[derive(Serialize)]
struct DepositedV2 {
    cents: i64,
}

fn dollars_to_cents(v1: DepositedV1) -> DepositedV2 {
    DepositedV2 { cents: v1.dollars * 100 }
}

mod steps {
    use serde_json::{Value, json};

    pub fn rename_cents(v2: Value) -> Result<Value, serde_json::Error> {
        let cents = v2["cents"].as_i64().ok_or_else(|| serde::de::Error::custom("`cents` is not an integer"))?;
        Ok(json!({ "amount_cents": cents }))
    }
}

fn add_memo(mut v3: Value) -> Value {
    v3["memo"] = json!("");
    v3
}

fn main() {
    let expected = Deposited { amount_cents: 700, memo: String::new() };
    assert_eq!(Deposited::decode("Deposited", 1, &json!({ "dollars": 7 }).into()).unwrap(), expected);
    assert_eq!(Deposited::decode("Deposited", 2, &json!({ "cents": 700 }).into()).unwrap(), expected);
    assert_eq!(Deposited::decode("Deposited", 3, &json!({ "amount_cents": 700 }).into()).unwrap(), expected);
    let refused = Deposited::decode("Deposited", 2, &json!({ "cents": "seven" }).into()).unwrap_err();
    assert!(matches!(refused, DecodeError::Upcast { from: 2, .. }), "{refused}");
}
