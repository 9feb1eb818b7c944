-- A projection's checkpoint, why it stopped if it did, and its revision.
SELECT tx, position, error, revision FROM es_checkpoints WHERE projection = ?
