-- delivery_mode: 'push' (the hub dials the platform's sidecar at `endpoint`) or 'pull'
-- (the sidecar connects out and fetches its share; `endpoint` is empty). The outbox is the
-- same for both: a pull claims with the same lease as a push.
ALTER TABLE platforms ADD COLUMN delivery_mode TEXT NOT NULL DEFAULT 'push'
    CHECK (delivery_mode IN ('push', 'pull'));
