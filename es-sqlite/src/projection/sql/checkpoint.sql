-- A projection's checkpoint and why it stopped, if it did.
SELECT tx, position, error, revision FROM checkpoints WHERE projection = ?1
