-- Where each projection stands in the source's global order, and why it
-- stopped if it did; every change adds one to its revision. Times are
-- microseconds since the Unix epoch.
CREATE TABLE IF NOT EXISTS es_checkpoints (
    projection VARCHAR(190) NOT NULL PRIMARY KEY,
    tx         BIGINT UNSIGNED NOT NULL DEFAULT 0,
    position   BIGINT UNSIGNED NOT NULL DEFAULT 0,
    revision   BIGINT UNSIGNED NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    error      TEXT NULL,
    failed_at  BIGINT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
