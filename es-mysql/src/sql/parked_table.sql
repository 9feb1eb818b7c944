-- Events a projection set aside because it could not handle them.
CREATE TABLE IF NOT EXISTS es_parked_events (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    projection     VARCHAR(190) NOT NULL,
    tx             BIGINT UNSIGNED NOT NULL,
    position       BIGINT UNSIGNED NOT NULL,
    stream_id      TEXT NOT NULL,
    version        BIGINT UNSIGNED NOT NULL,
    event_name     TEXT NOT NULL,
    error          TEXT NOT NULL,
    attempts       INT UNSIGNED NOT NULL,
    parked_at      BIGINT NOT NULL,
    discarded_at   BIGINT NULL,
    discard_reason TEXT NULL,
    UNIQUE KEY es_parked_events_once (projection, tx, position)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
