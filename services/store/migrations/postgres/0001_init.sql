-- takedown hub schema, PostgreSQL dialect. Times are Unix milliseconds; enumerations are
-- the integer values of their protobuf enums.

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    role          INTEGER NOT NULL,
    display_name  TEXT NOT NULL,
    registered_at BIGINT NOT NULL
);

CREATE TABLE platforms (
    name          TEXT PRIMARY KEY,
    endpoint      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    registered_at BIGINT NOT NULL
);

CREATE TABLE agency_keys (
    kid            TEXT PRIMARY KEY,
    seq            BIGINT GENERATED ALWAYS AS IDENTITY,
    agency_id      TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    registered_at  BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoke_reason  TEXT
);
CREATE INDEX agency_keys_by_agency ON agency_keys (agency_id, registered_at, seq);

-- platforms and agencies are kept sorted.
CREATE TABLE action_days (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT NOT NULL,
    platforms   TEXT[] NOT NULL,
    agencies    TEXT[] NOT NULL,
    created_at  BIGINT NOT NULL,
    released_at BIGINT,
    closed_at   BIGINT
);
CREATE INDEX action_days_unreleased ON action_days (starts_at) WHERE released_at IS NULL;

CREATE TABLE lists (
    list_id        TEXT PRIMARY KEY,
    agency_id      TEXT NOT NULL,
    action_day_id  TEXT,
    content_sha256 BYTEA NOT NULL,
    jws            TEXT NOT NULL,
    item_count     BIGINT NOT NULL,
    leaf_hashes    BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    accepted_at    BIGINT NOT NULL,
    due_at         BIGINT NOT NULL,
    new_targets    BIGINT NOT NULL DEFAULT 0,
    merged         BIGINT NOT NULL DEFAULT 0
);

-- One row per (scope, platform, normalized target); scope is the action day id, or '' for
-- the standing scope. The descriptive columns come from the first referral.
CREATE TABLE targets (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope             TEXT NOT NULL,
    action_day_id     TEXT,
    platform          TEXT NOT NULL CHECK (platform <> ''),
    normalized        TEXT NOT NULL CHECK (normalized <> ''),
    kind              INTEGER NOT NULL,
    original          TEXT NOT NULL,
    category          TEXT NOT NULL,
    legal_basis       INTEGER NOT NULL,
    removal_order_ref TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    due_at            BIGINT NOT NULL,
    delivered_at      BIGINT,
    acked_at          BIGINT,
    outcome           INTEGER,
    reject_reason     INTEGER,
    outcome_text      TEXT,
    acted_at          BIGINT,
    fail_reason       TEXT,
    failed_at         BIGINT,
    withdrawn_at      BIGINT,
    UNIQUE (scope, platform, normalized)
);
CREATE INDEX targets_by_day ON targets (action_day_id, platform) WHERE action_day_id IS NOT NULL;

-- referrals and deliveries are written in bulk only by the intake transaction, which
-- creates their lists and targets in the same transaction; they carry no foreign keys
-- because PostgreSQL checks those with a trigger per row (a third of the intake time).
CREATE TABLE referrals (
    list_id    TEXT NOT NULL,
    item_index BIGINT NOT NULL,
    target_id  BIGINT NOT NULL,
    agency_id  TEXT NOT NULL,
    item       BYTEA NOT NULL,
    PRIMARY KEY (list_id, item_index)
);
CREATE INDEX referrals_by_target ON referrals (target_id);

-- The outbox. state: 0 PENDING, 1 INFLIGHT, 2 DELIVERED, 3 FAILED; kind: 1 TAKEDOWN,
-- 2 WITHDRAWAL. For INFLIGHT rows next_at is the lease expiry.
CREATE TABLE deliveries (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id    BIGINT NOT NULL,
    platform     TEXT NOT NULL,
    normalized   TEXT NOT NULL,
    kind         INTEGER NOT NULL,
    state        INTEGER NOT NULL,
    next_at      BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    delivered_at BIGINT,
    failed_at    BIGINT,
    UNIQUE (target_id, kind)
);
CREATE INDEX deliveries_due ON deliveries (platform, next_at) WHERE state IN (0, 1);

CREATE TABLE holds (
    id          TEXT PRIMARY KEY,
    platform    TEXT NOT NULL,
    target      TEXT NOT NULL,
    normalized  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    placed_by   TEXT NOT NULL,
    released_at BIGINT
);
CREATE INDEX holds_by_target ON holds (platform, normalized);

-- Report ids are unique per platform.
CREATE TABLE reports (
    platform    TEXT NOT NULL,
    report_id   TEXT NOT NULL,
    target_id   BIGINT NOT NULL REFERENCES targets (id),
    kind        INTEGER NOT NULL,
    outcome     INTEGER NOT NULL,
    reason      INTEGER NOT NULL,
    report_text TEXT NOT NULL,
    reported_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (platform, report_id)
);
CREATE INDEX reports_by_target ON reports (target_id);
