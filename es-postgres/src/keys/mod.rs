//! Subjects' keys in the `subject_keys` table, for crypto-shredding with
//! `es_core::personal` (feature `personal`).

use std::collections::HashMap;

use es_core::StoreError;
use es_core::personal::{SubjectKey, SubjectKeys};

use crate::codec::convert::corrupt;
use crate::error::Error;
use crate::store::PgEventStore;

impl PgEventStore {
    async fn read_keys(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, Error> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.schema.sql(include_str!("sql/keys.sql"))).await?;
        let rows = client.query(&statement, &[&subjects]).await?;
        rows.iter()
            .map(|row| {
                let subject: String = row.try_get(0)?;
                let id: i64 = row.try_get(1)?;
                let key: Vec<u8> = row.try_get(2)?;
                let Ok(bytes) = <[u8; 32]>::try_from(key.as_slice()) else {
                    let cause = format!("the key of subject `{subject}` is {} bytes, not 32", key.len());
                    return Err(corrupt("<subject keys>", 0, "key", cause));
                };
                // A key id is 64 random bits, stored bit for bit in a BIGINT.
                Ok((subject, SubjectKey::from_parts(u64::from_be_bytes(id.to_be_bytes()), bytes)))
            })
            .collect()
    }

    async fn create_keys(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, Error> {
        let existing = self.read_keys(subjects).await?;
        let missing: Vec<&String> = subjects.iter().filter(|s| !existing.contains_key(*s)).collect();
        if missing.is_empty() {
            return Ok(existing);
        }
        let fresh: Vec<SubjectKey> = missing.iter().map(|_| SubjectKey::generate()).collect();
        let ids: Vec<i64> = fresh.iter().map(|k| i64::from_be_bytes(k.id().to_be_bytes())).collect();
        let keys: Vec<&[u8]> = fresh.iter().map(|k| k.bytes().as_slice()).collect();
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.schema.sql(include_str!("sql/create.sql"))).await?;
        client.execute(&statement, &[&missing, &ids, &keys]).await?;
        drop(client);
        // Read back: a concurrent writer's key wins over ours.
        self.read_keys(subjects).await
    }

    async fn forget_key(&self, subject: &str) -> Result<bool, Error> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.schema.sql(include_str!("sql/forget.sql"))).await?;
        Ok(client.execute(&statement, &[&subject]).await? > 0)
    }
}

/// Keys live in the store's schema, in `subject_keys`; wrap the store in an
/// `es_core::personal::PersonalDataStore` with itself as the key store:
/// `PersonalDataStore::new(store.clone(), store)`.
impl SubjectKeys for PgEventStore {
    async fn keys(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, StoreError> {
        Ok(self.read_keys(subjects).await?)
    }

    async fn keys_or_create(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, StoreError> {
        Ok(self.create_keys(subjects).await?)
    }

    async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        Ok(self.forget_key(subject).await?)
    }
}
