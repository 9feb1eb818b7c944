//! Sealing and opening the personal values inside a JSON document.
//!
//! A personal value is an object `{"$personal": {...}}` anywhere in an
//! event's payload or a snapshot's state. Open, its inner object holds
//! `subject` and `value`; sealed, `subject`, `key` (the key's id), `nonce`
//! and `ciphertext` (base64). The subject is the associated data, so a
//! ciphertext moved to another subject does not open.

use std::collections::{BTreeSet, HashMap};

use aes_gcm::aead::{Aead, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use super::keys::SubjectKey;
use super::value::TAG;

/// Visits the inner object of every personal value in `doc`.
fn each_envelope<E>(doc: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>) -> Result<(), E>) -> Result<(), E> {
    match doc {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::Object(inner)) = map.get_mut(TAG) {
                    return f(inner);
                }
            }
            map.values_mut().try_for_each(|v| each_envelope(v, f))
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| each_envelope(v, f)),
        _ => Ok(()),
    }
}

fn subject_of(inner: &Map<String, Value>) -> Option<String> {
    inner.get("subject").and_then(Value::as_str).map(str::to_owned)
}

/// The subjects of the open values in `doc` (to seal) or of the sealed
/// ones (to open).
pub(crate) fn subjects(doc: &mut Value, sealed: bool, out: &mut BTreeSet<String>) {
    let field = if sealed { "ciphertext" } else { "value" };
    let _ = each_envelope::<()>(doc, &mut |inner| {
        if inner.contains_key(field) {
            out.extend(subject_of(inner));
        }
        Ok(())
    });
}

/// Seals every open value in `doc` with its subject's key from `keys`.
pub(crate) fn seal(doc: &mut Value, keys: &HashMap<String, SubjectKey>) -> Result<(), String> {
    each_envelope(doc, &mut |inner| {
        let Some(value) = inner.get("value") else { return Ok(()) };
        let subject = subject_of(inner).ok_or("a personal value has no `subject`")?;
        let key = keys.get(&subject).ok_or_else(|| format!("no key was made for subject `{subject}`"))?;
        let plaintext = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes()));
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(&nonce, Payload { msg: &plaintext, aad: subject.as_bytes() })
            .map_err(|_| format!("encrypting a value of subject `{subject}` failed"))?;
        *inner = Map::from_iter([
            ("subject".to_owned(), Value::String(subject)),
            ("key".to_owned(), Value::String(key.id().to_string())),
            ("nonce".to_owned(), Value::String(BASE64.encode(nonce))),
            ("ciphertext".to_owned(), Value::String(BASE64.encode(ciphertext))),
        ]);
        Ok(())
    })
}

/// Opens every sealed value in `doc` whose subject's key is in `keys`;
/// a value whose key is gone (forgotten, or replaced by a newer key) is
/// left as `{"subject": ...}`, which reads as forgotten.
pub(crate) fn open(doc: &mut Value, keys: &HashMap<String, SubjectKey>) -> Result<(), String> {
    each_envelope(doc, &mut |inner| {
        if !inner.contains_key("ciphertext") {
            return Ok(());
        }
        let subject = subject_of(inner).ok_or("a sealed personal value has no `subject`")?;
        let key_id = inner.get("key").and_then(Value::as_str).and_then(|k| k.parse::<u64>().ok());
        let Some(key) = keys.get(&subject).filter(|k| Some(k.id()) == key_id) else {
            *inner = Map::from_iter([("subject".to_owned(), Value::String(subject))]);
            return Ok(());
        };
        let bytes = |field: &str| {
            inner
                .get(field)
                .and_then(Value::as_str)
                .and_then(|b| BASE64.decode(b).ok())
                .ok_or_else(|| format!("a sealed value of subject `{subject}` has no readable `{field}`"))
        };
        let (nonce, ciphertext) = (bytes("nonce")?, bytes("ciphertext")?);
        if nonce.len() != 12 {
            return Err(format!("a sealed value of subject `{subject}` has a nonce of {} bytes, not 12", nonce.len()));
        }
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes()));
        let plaintext = cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: subject.as_bytes() })
            .map_err(|_| format!("a sealed value of subject `{subject}` does not open with its key: it was altered"))?;
        let value: Value = serde_json::from_slice(&plaintext).map_err(|e| e.to_string())?;
        *inner = Map::from_iter([("subject".to_owned(), Value::String(subject)), ("value".to_owned(), value)]);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(subjects: &[&str]) -> HashMap<String, SubjectKey> {
        subjects.iter().map(|s| ((*s).to_owned(), SubjectKey::generate())).collect()
    }

    #[test]
    fn values_are_sealed_with_a_fresh_nonce_and_open_again() {
        let keys = keys(&["a", "b"]);
        let open_doc = json!({
            "plan": "pro",
            "email": { "$personal": { "subject": "a", "value": "ada@example.com" } },
            "contacts": [{ "$personal": { "subject": "b", "value": { "phone": "123" } } }],
        });
        let mut doc = open_doc.clone();
        seal(&mut doc, &keys).unwrap();
        let text = doc.to_string();
        // Random key ids and ciphertexts may hold any digits: look for what
        // only the clear text has.
        assert!(!text.contains("ada@example.com") && !text.contains("phone"), "{text}");
        assert_eq!(doc["plan"], "pro");
        let mut again = open_doc.clone();
        seal(&mut again, &keys).unwrap();
        assert_ne!(doc["email"], again["email"], "a new nonce each time");
        let mut subjects_found = BTreeSet::new();
        subjects(&mut doc, true, &mut subjects_found);
        assert_eq!(subjects_found, BTreeSet::from(["a".to_owned(), "b".to_owned()]));
        open(&mut doc, &keys).unwrap();
        assert_eq!(doc, open_doc);
    }

    #[test]
    fn without_its_key_a_value_reads_as_forgotten_and_an_altered_one_is_refused() {
        let keys = keys(&["a"]);
        let mut doc = json!({ "$personal": { "subject": "a", "value": 1 } });
        seal(&mut doc, &keys).unwrap();
        let mut forgotten = doc.clone();
        open(&mut forgotten, &HashMap::new()).unwrap();
        assert_eq!(forgotten, json!({ "$personal": { "subject": "a" } }));

        let mut moved = doc.clone();
        moved["$personal"]["subject"] = json!("b");
        let mut other_keys = keys.clone();
        other_keys.insert("b".into(), keys["a"].clone());
        assert!(open(&mut moved, &other_keys).unwrap_err().contains("altered"));
    }
}
