//! [`Personal<T>`]: a value of one subject, or the fact that it was
//! forgotten.

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The key of the JSON object that holds a personal value:
/// `{"$personal": {"subject": "c-1", "value": ...}}` in clear, or with
/// `key`, `nonce` and `ciphertext` instead of `value` once sealed.
pub(crate) const TAG: &str = "$personal";

/// A value that belongs to one subject (a person), stored encrypted with
/// that subject's key, or forgotten once the key is deleted.
///
/// Use it for event fields (and state fields) holding personal data. Store
/// events through a [`PersonalDataStore`](super::PersonalDataStore) so
/// that the value is sealed on write and opened on read; see the
/// [module](super) for the whole picture.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Personal<T> {
    subject: String,
    value: Option<T>,
}

impl<T> Personal<T> {
    /// `value`, belonging to `subject`.
    pub fn new(subject: impl Into<String>, value: T) -> Self {
        Personal { subject: subject.into(), value: Some(value) }
    }

    /// A value of `subject` that was forgotten.
    pub fn forgotten(subject: impl Into<String>) -> Self {
        Personal { subject: subject.into(), value: None }
    }

    /// The subject the value belongs to.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The value, or `None` once its subject was forgotten.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The value, or `None` once its subject was forgotten.
    pub fn into_inner(self) -> Option<T> {
        self.value
    }

    /// Whether the subject's key was deleted, so the value is gone.
    pub fn is_forgotten(&self) -> bool {
        self.value.is_none()
    }
}

#[derive(Serialize)]
struct OpenRef<'a, T> {
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a T>,
}

impl<T: Serialize> Serialize for Personal<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(TAG, &OpenRef { subject: &self.subject, value: self.value.as_ref() })?;
        map.end()
    }
}

#[derive(Deserialize)]
struct Outer<T> {
    #[serde(rename = "$personal")]
    inner: Inner<T>,
}

/// A sealed value has `ciphertext` instead of `value`: read as forgotten.
#[derive(Deserialize)]
struct Inner<T> {
    subject: String,
    #[serde(default = "none")]
    value: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Personal<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Outer { inner } = Outer::<T>::deserialize(deserializer)?;
        Ok(Personal { subject: inner.subject, value: inner.value })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Personal;

    #[test]
    fn a_value_and_a_forgotten_one_round_trip_through_json() {
        let known = Personal::new("c-1", 42_u32);
        assert_eq!(serde_json::to_value(&known).unwrap(), json!({ "$personal": { "subject": "c-1", "value": 42 } }));
        assert_eq!(serde_json::from_value::<Personal<u32>>(serde_json::to_value(&known).unwrap()).unwrap(), known);
        let gone = Personal::<u32>::forgotten("c-1");
        assert_eq!(serde_json::to_value(&gone).unwrap(), json!({ "$personal": { "subject": "c-1" } }));
        let sealed = json!({ "$personal": { "subject": "c-1", "key": "1", "nonce": "AA", "ciphertext": "AA" } });
        assert_eq!(serde_json::from_value::<Personal<u32>>(sealed).unwrap(), gone);
    }
}
