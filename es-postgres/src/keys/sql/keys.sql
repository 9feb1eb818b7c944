-- The keys of the subjects in $1 that have one.
SELECT subject, key_id, key FROM {schema}.subject_keys WHERE subject = ANY($1)
