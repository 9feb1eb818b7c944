//! Subjects' keys in the `subject_keys` table, for crypto-shredding with
//! `es_core::personal` (feature `personal`).

use std::collections::HashMap;

use es_core::StoreError;
use es_core::personal::{SubjectKey, SubjectKeys};

use crate::error::store_error;
use crate::schema::Schema;
use crate::store::PgEventStore;

impl PgEventStore {
    fn keys_sql(&self, template: &str) -> Result<String, StoreError> {
        Ok(Schema::new(self.schema())?.render(template))
    }
}

/// Keys live in the store's schema, in `subject_keys`; wrap the store in an
/// `es_core::personal::PersonalDataStore` with itself as the key store:
/// `PersonalDataStore::new(store.clone(), store)`.
impl SubjectKeys for PgEventStore {
    async fn keys(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&self.keys_sql(include_str!("sql/subject_keys.sql"))?, &[&subjects])
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let subject: String = row.try_get(0).map_err(store_error)?;
                let id: i64 = row.try_get(1).map_err(store_error)?;
                let key: Vec<u8> = row.try_get(2).map_err(store_error)?;
                let bytes = <[u8; 32]>::try_from(key.as_slice()).map_err(|_| StoreError::Corrupt {
                    stream_id: "<subject keys>".into(),
                    version: 0,
                    cause: format!("the key of subject `{subject}` is {} bytes, not 32", key.len()),
                })?;
                Ok((subject, SubjectKey::from_parts(u64::from_be_bytes(id.to_be_bytes()), bytes)))
            })
            .collect()
    }

    async fn keys_or_create(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, StoreError> {
        let existing = self.keys(subjects).await?;
        let missing: Vec<&String> = subjects.iter().filter(|s| !existing.contains_key(*s)).collect();
        if missing.is_empty() {
            return Ok(existing);
        }
        let fresh: Vec<SubjectKey> = missing.iter().map(|_| SubjectKey::generate()).collect();
        let ids: Vec<i64> = fresh.iter().map(|k| i64::from_be_bytes(k.id().to_be_bytes())).collect();
        let keys: Vec<&[u8]> = fresh.iter().map(|k| k.bytes().as_slice()).collect();
        let client = self.client().await?;
        client
            .execute(&self.keys_sql(include_str!("sql/create_subject_keys.sql"))?, &[&missing, &ids, &keys])
            .await
            .map_err(store_error)?;
        drop(client);
        // Read back: a concurrent writer's key wins over ours.
        self.keys(subjects).await
    }

    async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let deleted = client
            .execute(&self.keys_sql(include_str!("sql/forget_subject.sql"))?, &[&subject])
            .await
            .map_err(store_error)?;
        Ok(deleted > 0)
    }
}
