SELECT key_id, key FROM subject_keys WHERE subject = ?1
