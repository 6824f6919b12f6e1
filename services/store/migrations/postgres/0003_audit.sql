-- Withdrawals and restorations, the hash-chained audit log, retention.

-- Withdrawal facts and the platform's answer to a withdrawal
-- (restoration: takedown.v1.RestorationResult).
ALTER TABLE targets ADD COLUMN withdraw_reason TEXT;
ALTER TABLE targets ADD COLUMN withdrawn_by TEXT;
ALTER TABLE targets ADD COLUMN restoration INTEGER;
ALTER TABLE targets ADD COLUMN restoration_text TEXT;
ALTER TABLE targets ADD COLUMN restoration_at BIGINT;

-- When retention purged the list's item bytes and notes.
ALTER TABLE lists ADD COLUMN purged_at BIGINT;

-- One row per recorded state change; hash = SHA-256 of the canonical encoding of
-- (seq, at, actor, kind, subject, details, prev_hash) (see takedown_protocol::audit).
-- Appends are serialized with pg_advisory_xact_lock, so replicas keep one chain.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
