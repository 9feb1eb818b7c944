DELETE FROM subject_keys WHERE subject = ?1
