-- The sidecar's durable state: the inbox of verified deliveries, the record of every
-- handoff to the platform, and the outbox of reports to the hub. Times are Unix ms.

CREATE TABLE deliveries (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT, -- handoff order
    target_id         TEXT    NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('takedown', 'withdrawal')),
    delivery_id       TEXT    NOT NULL,
    batch_id          TEXT    NOT NULL,
    normalized_target TEXT    NOT NULL,
    body              TEXT    NOT NULL, -- the target as handed to the platform (JSON)
    received_at       INTEGER NOT NULL,
    handed_at         INTEGER,          -- NULL until handed to the platform
    UNIQUE (target_id, kind)
);

CREATE INDEX deliveries_pending ON deliveries (seq) WHERE handed_at IS NULL;

CREATE TABLE handoffs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    handoff_id TEXT    NOT NULL,
    target_id  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    mode       TEXT    NOT NULL,
    handed_at  INTEGER NOT NULL
);

CREATE INDEX handoffs_target ON handoffs (target_id, kind);

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id  TEXT    NOT NULL UNIQUE,
    target_id  TEXT    NOT NULL,
    report     BLOB    NOT NULL, -- encoded takedown.v1.PlatformReport
    created_at INTEGER NOT NULL,
    due_at     INTEGER NOT NULL, -- not sent before (simulated moderation delays)
    state      TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'parked')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    sent_at    INTEGER,
    last_error TEXT
);

CREATE INDEX outbox_due ON outbox (due_at, seq) WHERE state = 'pending';
