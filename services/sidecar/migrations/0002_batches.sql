-- Handoff batches are recorded before the platform sees them: a crash or a failed attempt
-- repeats the same batch (same handoff id, members and handed_at) instead of making a new
-- one, so at most the one batch in flight is ever repeated, and recognisably so. Each
-- target also carries a stable idempotency key, "<target_id>:<kind>".

CREATE TABLE batches (
    handoff_id TEXT    PRIMARY KEY,
    handed_at  INTEGER NOT NULL,           -- the document's handed_at, on every attempt
    attempts   INTEGER NOT NULL DEFAULT 0, -- times handed over (or tried)
    done_at    INTEGER                     -- NULL while in flight
);

CREATE INDEX batches_open ON batches (handoff_id) WHERE done_at IS NULL;

ALTER TABLE deliveries ADD COLUMN handoff_id TEXT REFERENCES batches (handoff_id);

CREATE INDEX deliveries_batch ON deliveries (handoff_id, seq) WHERE handoff_id IS NOT NULL;

-- Deliveries stored before this migration and not handed yet get their key.
UPDATE deliveries SET body = json_set(body, '$.idempotency_key', target_id || ':' || kind)
 WHERE handed_at IS NULL;
