-- The versions a command with a command id appended to a stream.
--
-- ?1 stream id, ?2 command id.
SELECT first_version, last_version FROM commands WHERE stream_id = ?1 AND command_id = ?2
