-- Forgets subject $1: deletes its key.
DELETE FROM {schema}.subject_keys WHERE subject = $1
