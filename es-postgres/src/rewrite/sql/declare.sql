-- Declares the rewrite this transaction runs: $1 reason, $2 actor, $3 the
-- filter as JSON. The events trigger lets this transaction, and no other,
-- change events, and records each change against the returned id.
INSERT INTO {schema}.rewrites (reason, actor, filter)
VALUES ($1, $2, $3)
RETURNING id
