INSERT INTO subject_keys (subject, key_id, key, created_at) VALUES (?1, ?2, ?3, unixepoch())
ON CONFLICT (subject) DO NOTHING
