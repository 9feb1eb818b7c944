-- How many times each checkpoint row has changed. Every statement that
-- changes a checkpoint (a commit, a stop, a runner taking it over, a reset)
-- adds one and notifies, so that a process following checkpoints keeps the
-- latest state whatever order its reads come back in: a projection that
-- stopped and was resumed elsewhere is seen running again.
ALTER TABLE {schema}.checkpoints ADD COLUMN revision BIGINT NOT NULL DEFAULT 0 CHECK (revision >= 0);
