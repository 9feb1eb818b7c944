-- One AES-256 key per subject, for crypto-shredding (es-core's `personal`
-- feature): forgetting a subject deletes its row.
CREATE TABLE subject_keys (
    subject    TEXT PRIMARY KEY,
    key_id     INTEGER NOT NULL,
    key        BLOB NOT NULL CHECK (length(key) = 32),
    created_at INTEGER NOT NULL
) STRICT;
