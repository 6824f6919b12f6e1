-- Secrets the hub makes on first start and every replica shares: today the key that turns
-- row ids into the opaque ids clients see (`public-ids`). The first row stored under a name
-- wins; a replica starting at the same moment reads the winner's.
CREATE TABLE hub_secrets (
    name       TEXT PRIMARY KEY,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
