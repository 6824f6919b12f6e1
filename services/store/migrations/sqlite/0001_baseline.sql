-- takedown hub schema, SQLite dialect: the baseline, squashed on 2026-12-01 from the
-- migrations before it (no release had been made). From here on migrations are
-- append-only: a committed migration is never edited or removed (`.ci/check-migrations`).
--
-- Times are Unix milliseconds; enumerations are the integer values of their protobuf
-- enums. No triggers: the store is the only writer, and keeps the summary rollups itself
-- in the transaction of each change (see `services/store/src/rollup.rs`).

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

-- purged_at: when retention purged the list's item bytes and notes.
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
    merged         INTEGER NOT NULL DEFAULT 0,
    purged_at      INTEGER
) STRICT;

-- One row per (scope, platform, normalized target); scope is the action day id, or '' for
-- the standing scope. The descriptive columns come from the first referral.
-- ro_elapsed: the removal-order clock of an acted-on removal order, milliseconds from
-- delivery to action less the time a "cannot execute" answer was open (`summary::clock!`).
-- restoration: the platform's answer to a withdrawal (takedown.v1.RestorationResult).
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
    withdraw_reason   TEXT,
    withdrawn_by      TEXT,
    restoration       INTEGER,
    restoration_text  TEXT,
    restoration_at    INTEGER,
    ro_elapsed        INTEGER,
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
-- 2 WITHDRAWAL. For INFLIGHT rows next_at is the lease expiry. Claims take due deliveries
-- in (next_at, id) order, LIMIT n, straight off the index.
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
CREATE INDEX deliveries_due ON deliveries (platform, next_at, id) WHERE state IN (0, 1);

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

-- One row per recorded state change; hash = SHA-256 of the canonical encoding of
-- (seq, at, actor, kind, subject, details, prev_hash) (see takedown_protocol::audit).
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
) STRICT;

-- Summary rollups: what GetActionDaySummary reads instead of scanning every target, kept
-- by the store (`rollup.rs`) and recomputed from the facts by `rebuild_summary`. Agency ''
-- is the whole day; every other agency value is one referring agency's share.

-- Targets per state. removal_order: legal basis REMOVAL_ORDER; outcome 0 = none;
-- reason: the reject reason of a REJECTED outcome (0 = unspecified or unknown);
-- ro_clock: 0 = not an acted-on delivered removal order, 1 = acted on within the hour,
-- 2 = later.
CREATE TABLE summary_cells (
    action_day_id TEXT NOT NULL,
    agency        TEXT NOT NULL,
    platform      TEXT NOT NULL,
    due_at        INTEGER NOT NULL,
    removal_order INTEGER NOT NULL,
    delivered     INTEGER NOT NULL,
    acked         INTEGER NOT NULL,
    outcome       INTEGER NOT NULL,
    reason        INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    ro_clock      INTEGER NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (action_day_id, agency, platform, due_at, removal_order, delivered, acked,
                 outcome, reason, failed, ro_clock)
) STRICT, WITHOUT ROWID;

-- Latency histograms: measure 0 = release to acknowledgement, 1 = release to action;
-- bucket = the latency in milliseconds truncated to three significant digits.
CREATE TABLE summary_latency (
    action_day_id TEXT NOT NULL,
    agency        TEXT NOT NULL,
    platform      TEXT NOT NULL,
    measure       INTEGER NOT NULL,
    bucket        INTEGER NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (action_day_id, agency, platform, measure, bucket)
) STRICT, WITHOUT ROWID;

-- Blocks per slot of acted_at, at five resolutions: slot = acted_at / (level seconds), for
-- level 1, 10, 60, 600 and 3600 (a chart of any span reads a few thousand rows at most).
CREATE TABLE summary_blocks (
    action_day_id TEXT NOT NULL,
    agency        TEXT NOT NULL,
    level         INTEGER NOT NULL,
    slot          INTEGER NOT NULL,
    platform      TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (action_day_id, agency, level, slot, platform)
) STRICT, WITHOUT ROWID;

-- Per agency: its targets that another agency referred too.
CREATE TABLE summary_merged (
    action_day_id TEXT NOT NULL,
    agency        TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (action_day_id, agency)
) STRICT, WITHOUT ROWID;
