-- Stores new keys ($1 subjects, $2 key ids, $3 keys) for the subjects that
-- have none; a subject given a key concurrently keeps the first one.
INSERT INTO {schema}.subject_keys (subject, key_id, key)
SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bytea[])
ON CONFLICT (subject) DO NOTHING
