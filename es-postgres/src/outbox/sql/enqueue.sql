-- Enqueues a message in the caller's transaction, and wakes outbox runners
-- when it commits (a notification is sent only if the transaction commits).
--
-- $1 topic, $2 key, $3 payload, $4 the channel runners listen on.
WITH enqueued AS (
    INSERT INTO {schema}.outbox (topic, key, payload) VALUES ($1, $2, $3)
    RETURNING tx, position
)
SELECT tx::text::int8, position, pg_notify($4, '') FROM enqueued
