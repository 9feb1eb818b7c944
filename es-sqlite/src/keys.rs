//! Subjects' keys in the `subject_keys` table, for crypto-shredding with
//! `es_core::personal` (feature `personal`).

use std::collections::HashMap;

use es_core::StoreError;
use es_core::personal::{SubjectKey, SubjectKeys};
use rusqlite::{Connection, OptionalExtension};

use crate::codec::corrupt;
use crate::error::Error;
use crate::store::SqliteEventStore;

/// The keys `subjects` have, read on `connection`.
fn read(connection: &Connection, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, Error> {
    let mut statement = connection.prepare_cached(include_str!("keys/read.sql"))?;
    let mut keys = HashMap::new();
    for subject in subjects {
        let row: Option<(i64, Vec<u8>)> =
            statement.query_row([subject], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
        let Some((id, key)) = row else { continue };
        let Ok(bytes) = <[u8; 32]>::try_from(key.as_slice()) else {
            let cause = format!("the key of subject `{subject}` is {} bytes, not 32", key.len());
            return Err(corrupt("<subject keys>", 0, "key", cause));
        };
        // A key id is 64 random bits, stored bit for bit in an INTEGER.
        keys.insert(subject.clone(), SubjectKey::from_parts(u64::from_be_bytes(id.to_be_bytes()), bytes));
    }
    Ok(keys)
}

/// Keys live in the store's file, in `subject_keys`; wrap the store in an
/// `es_core::personal::PersonalDataStore` with itself as the key store:
/// `PersonalDataStore::new(store.clone(), store)`.
///
/// Forgetting a subject deletes its row with `secure_delete` on, so the
/// key's bytes are overwritten rather than left in a free page, then moves
/// the log into the file and empties it when no reader holds it back
/// (`wal_checkpoint(TRUNCATE)`), so that no older copy of the page stays in
/// the `-wal` file. Backups taken before still hold the key.
impl SubjectKeys for SqliteEventStore {
    async fn keys(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, StoreError> {
        let subjects = subjects.to_vec();
        Ok(self.db.read(move |tx| read(tx, &subjects)).await?)
    }

    async fn keys_or_create(&self, subjects: &[String]) -> Result<HashMap<String, SubjectKey>, StoreError> {
        let subjects = subjects.to_vec();
        let created = self.db.write(move |tx| {
            let existing = read(tx, &subjects)?;
            let mut create = tx.prepare_cached(include_str!("keys/create.sql"))?;
            for subject in subjects.iter().filter(|s| !existing.contains_key(*s)) {
                let key = SubjectKey::generate();
                let id = i64::from_be_bytes(key.id().to_be_bytes());
                create.execute((subject, id, key.bytes().as_slice()))?;
            }
            read(tx, &subjects)
        });
        Ok(created.await?)
    }

    async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        let subject = subject.to_owned();
        let forgotten = self.db.write(move |tx| Ok(tx.execute(include_str!("keys/forget.sql"), [subject])? > 0));
        let forgotten = forgotten.await?;
        // Best effort: a reader in another process may keep the log for now;
        // the next checkpoint overwrites it.
        let truncated = self.db.with_writer(|c| Ok(c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?));
        let _ = truncated.await;
        Ok(forgotten)
    }
}
