-- takedown hub schema, SQLite dialect. Times are Unix milliseconds; enumerations are the
-- integer values of their protobuf enums.

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    role          INTEGER NOT NULL,
    display_name  TEXT NOT NULL,
    registered_at INTEGER NOT NULL
) STRICT;

CREATE TABLE platforms (
    name          TEXT PRIMARY KEY,
    endpoint      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    registered_at INTEGER NOT NULL
) STRICT;

-- The implicit rowid keeps registration order.
CREATE TABLE agency_keys (
    kid            TEXT PRIMARY KEY,
    agency_id      TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    registered_at  INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoke_reason  TEXT
) STRICT;
CREATE INDEX agency_keys_by_agency ON agency_keys (agency_id, registered_at);

CREATE TABLE action_days (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    released_at INTEGER,
    closed_at   INTEGER
) STRICT;
CREATE INDEX action_days_unreleased ON action_days (starts_at) WHERE released_at IS NULL;

CREATE TABLE action_day_platforms (
    action_day_id TEXT NOT NULL REFERENCES action_days (id),
    platform      TEXT NOT NULL,
    PRIMARY KEY (action_day_id, platform)
) STRICT, WITHOUT ROWID;

CREATE TABLE action_day_agencies (
    action_day_id TEXT NOT NULL REFERENCES action_days (id),
    agency_id     TEXT NOT NULL,
    PRIMARY KEY (action_day_id, agency_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE lists (
    list_id        TEXT PRIMARY KEY,
    agency_id      TEXT NOT NULL,
    action_day_id  TEXT,
    content_sha256 BLOB NOT NULL,
    jws            TEXT NOT NULL,
    item_count     INTEGER NOT NULL,
    leaf_hashes    BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    accepted_at    INTEGER NOT NULL,
    due_at         INTEGER NOT NULL,
    new_targets    INTEGER NOT NULL DEFAULT 0,
    merged         INTEGER NOT NULL DEFAULT 0
) STRICT;

-- One row per (scope, platform, normalized target); scope is the action day id, or '' for
-- the standing scope. The descriptive columns come from the first referral.
CREATE TABLE targets (
    id                INTEGER PRIMARY KEY,
    scope             TEXT NOT NULL,
    action_day_id     TEXT,
    platform          TEXT NOT NULL CHECK (platform <> ''),
    normalized        TEXT NOT NULL CHECK (normalized <> ''),
    kind              INTEGER NOT NULL,
    original          TEXT NOT NULL,
    category          TEXT NOT NULL,
    legal_basis       INTEGER NOT NULL,
    removal_order_ref TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    due_at            INTEGER NOT NULL,
    delivered_at      INTEGER,
    acked_at          INTEGER,
    outcome           INTEGER,
    reject_reason     INTEGER,
    outcome_text      TEXT,
    acted_at          INTEGER,
    fail_reason       TEXT,
    failed_at         INTEGER,
    withdrawn_at      INTEGER,
    UNIQUE (scope, platform, normalized)
) STRICT;
CREATE INDEX targets_by_day ON targets (action_day_id, platform) WHERE action_day_id IS NOT NULL;

CREATE TABLE referrals (
    list_id    TEXT NOT NULL REFERENCES lists (list_id),
    item_index INTEGER NOT NULL,
    target_id  INTEGER NOT NULL REFERENCES targets (id),
    agency_id  TEXT NOT NULL,
    item       BLOB NOT NULL,
    PRIMARY KEY (list_id, item_index)
) STRICT;
CREATE INDEX referrals_by_target ON referrals (target_id);

-- The outbox. state: 0 PENDING, 1 INFLIGHT, 2 DELIVERED, 3 FAILED; kind: 1 TAKEDOWN,
-- 2 WITHDRAWAL. For INFLIGHT rows next_at is the lease expiry.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    target_id    INTEGER NOT NULL REFERENCES targets (id),
    platform     TEXT NOT NULL,
    normalized   TEXT NOT NULL,
    kind         INTEGER NOT NULL,
    state        INTEGER NOT NULL,
    next_at      INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    failed_at    INTEGER,
    UNIQUE (target_id, kind)
) STRICT;
CREATE INDEX deliveries_due ON deliveries (platform, next_at) WHERE state IN (0, 1);

CREATE TABLE holds (
    id          TEXT PRIMARY KEY,
    platform    TEXT NOT NULL,
    target      TEXT NOT NULL,
    normalized  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    placed_by   TEXT NOT NULL,
    released_at INTEGER
) STRICT;
CREATE INDEX holds_by_target ON holds (platform, normalized);

-- Report ids are unique per platform.
CREATE TABLE reports (
    platform    TEXT NOT NULL,
    report_id   TEXT NOT NULL,
    target_id   INTEGER NOT NULL REFERENCES targets (id),
    kind        INTEGER NOT NULL,
    outcome     INTEGER NOT NULL,
    reason      INTEGER NOT NULL,
    report_text TEXT NOT NULL,
    reported_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (platform, report_id)
) STRICT;
CREATE INDEX reports_by_target ON reports (target_id);
