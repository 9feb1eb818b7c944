-- A command id names one request in the whole store, not one per stream:
-- the commands recorded from now on are store-wide and unique by id. Those
-- recorded before keep the per-stream rule they were committed under, so
-- no stored row changes and no existing file fails to migrate.
ALTER TABLE commands ADD COLUMN store_wide INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX commands_once_per_store ON commands (command_id) WHERE store_wide = 1;
