-- A command id names one request in the whole store, not one per stream:
-- the commands recorded from now on are store-wide and unique by id. Those
-- recorded before keep the per-stream rule they were committed under, so
-- no stored row changes and no schema fails to migrate.
ALTER TABLE {schema}.commands ADD COLUMN store_wide BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE {schema}.commands ALTER COLUMN store_wide SET DEFAULT true;
CREATE UNIQUE INDEX commands_once_per_store ON {schema}.commands (command_id) WHERE store_wide;
