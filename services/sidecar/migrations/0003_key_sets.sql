-- Every key-set statement the sidecar accepted, oldest first. On start the sidecar
-- replays them against its pinned roots, so it verifies deliveries with the newest one
-- even while the hub is down, and a restart cannot be fed an older one (a rollback).
CREATE TABLE key_sets (
    version     INTEGER PRIMARY KEY,
    jws         TEXT NOT NULL,
    accepted_at INTEGER NOT NULL
) STRICT;
