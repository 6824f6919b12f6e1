-- Reports the hub refused for good (INVALID_ARGUMENT), one row per platform and report id,
-- so that a coordinator sees what a platform's sidecar parked: the target id as the platform
-- sent it, the hub's reason, when first and last, and how often it was sent.
CREATE TABLE refused_reports (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform  TEXT NOT NULL,
    report_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    reason    TEXT NOT NULL,
    first_at  BIGINT NOT NULL,
    last_at   BIGINT NOT NULL,
    times     BIGINT NOT NULL,
    UNIQUE (platform, report_id)
);
