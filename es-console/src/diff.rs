//! What changed between two JSON values: the state before an event and
//! after it.

use serde_json::Value;

/// One difference, at a JSON pointer path (`/owner`, `/items/2`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    /// Only in the new value.
    Added(String, Value),
    /// Only in the old value.
    Removed(String, Value),
    /// In both, different (and not both objects or both arrays).
    Changed(String, Value, Value),
}

/// The differences from `old` to `new`, objects and arrays compared member
/// by member, in key then index order.
pub(crate) fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    walk(String::new(), old, new, &mut changes);
    changes
}

fn walk(path: String, old: &Value, new: &Value, changes: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))).collect();
            keys.sort();
            for key in keys {
                let path = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(path, x, y, changes),
                    (Some(x), None) => changes.push(Change::Removed(path, x.clone())),
                    (None, Some(y)) => changes.push(Change::Added(path, y.clone())),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let path = format!("{path}/{i}");
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => walk(path, x, y, changes),
                    (Some(x), None) => changes.push(Change::Removed(path, x.clone())),
                    (None, Some(y)) => changes.push(Change::Added(path, y.clone())),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => changes.push(Change::Changed(path, a.clone(), b.clone())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Change, diff};

    #[test]
    fn names_what_was_added_removed_and_changed() {
        let old = json!({ "balance": 5, "owner": null, "tags": ["a"], "gone": true });
        let new = json!({ "balance": 12, "owner": "ann", "tags": ["a", "b"], "new/key": 1 });
        assert_eq!(
            diff(&old, &new),
            vec![
                Change::Changed("/balance".into(), json!(5), json!(12)),
                Change::Removed("/gone".into(), json!(true)),
                Change::Added("/new~1key".into(), json!(1)),
                Change::Changed("/owner".into(), json!(null), json!("ann")),
                Change::Added("/tags/1".into(), json!("b")),
            ]
        );
    }

    #[test]
    fn equal_values_have_no_changes() {
        let value = json!({ "a": [1, { "b": 2 }] });
        assert!(diff(&value, &value).is_empty());
    }
}
