//! Subjects' keys: made on first use, deleted to forget.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore;

use crate::error::StoreError;

/// One subject's AES-256 key and the id that tells it from a later key of
/// the same subject. Its `Debug` output never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectKey {
    id: u64,
    bytes: [u8; 32],
}

impl SubjectKey {
    /// A new random key, from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        SubjectKey { id: OsRng.next_u64(), bytes }
    }

    /// A key as a key store holds it.
    pub fn from_parts(id: u64, bytes: [u8; 32]) -> Self {
        SubjectKey { id, bytes }
    }

    /// The key's id, stored beside each value sealed with it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The key material, for a key store to keep. Never log it.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectKey").field("id", &self.id).field("bytes", &"<redacted>").finish()
    }
}

/// Where subjects' keys live, apart from the events they open.
pub trait SubjectKeys: Send + Sync {
    /// The keys of those `subjects` that have one.
    fn keys(&self, subjects: &[String])
    -> impl Future<Output = Result<HashMap<String, SubjectKey>, StoreError>> + Send;

    /// The keys of `subjects`, making a key for each that has none. Two
    /// concurrent calls for a new subject get the same key.
    fn keys_or_create(
        &self,
        subjects: &[String],
    ) -> impl Future<Output = Result<HashMap<String, SubjectKey>, StoreError>> + Send;

    /// Deletes the subject's key, so that every value sealed with it can no
    /// longer be read. Returns whether there was one. A later value of the
    /// same subject gets a new key, which does not open the old values.
    fn forget(&self, subject: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Keys in memory, for tests and the in-memory store.
#[derive(Default)]
pub struct InMemorySubjectKeys {
    keys: Mutex<HashMap<String, SubjectKey>>,
}

impl InMemorySubjectKeys {
    /// No keys yet.
    pub fn new() -> Self {
        InMemorySubjectKeys::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SubjectKey>> {
        // A panic while holding the lock cannot leave the map half-changed.
        self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for InMemorySubjectKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemorySubjectKeys").field("subjects", &self.lock().len()).finish()
    }
}

impl SubjectKeys for InMemorySubjectKeys {
    async fn keys(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, StoreError> {
        let keys = self.lock();
        Ok(subjects.iter().filter_map(|s| Some((s.clone(), keys.get(s)?.clone()))).collect())
    }

    async fn keys_or_create(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, StoreError> {
        let mut keys = self.lock();
        Ok(subjects
            .iter()
            .map(|s| (s.clone(), keys.entry(s.clone()).or_insert_with(SubjectKey::generate).clone()))
            .collect())
    }

    async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        Ok(self.lock().remove(subject).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::SubjectKey;

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = SubjectKey::from_parts(7, [0xab; 32]);
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.contains("171") && !shown.to_lowercase().contains("ab, "), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert_ne!(SubjectKey::generate(), SubjectKey::generate());
    }
}
