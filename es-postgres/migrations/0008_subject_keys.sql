-- One AES-256 key per subject, for crypto-shredding (es-core's `personal`
-- feature). Forgetting a subject deletes its row: the values sealed with
-- the key can no longer be read, and no event row changes. `key_id` is
-- stored beside each sealed value, so a later key of the same subject does
-- not open values sealed before it was forgotten.
CREATE TABLE {schema}.subject_keys (
    subject    TEXT PRIMARY KEY,
    key_id     BIGINT NOT NULL,
    key        BYTEA NOT NULL CHECK (octet_length(key) = 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
