-- The stream a command id was committed on store-wide, if it was.
--
-- ?1 command id.
SELECT stream_id FROM commands WHERE command_id = ?1 AND store_wide = 1
