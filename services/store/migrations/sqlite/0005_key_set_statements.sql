-- Agency keys come only from key-set statements, signed offline with a coordinator root
-- key. The hub stores them verbatim and verifies each against its pinned roots before
-- use, so a row written here by anyone but a root holder is refused, not trusted. The
-- keys registered one by one before are no longer read: the coordinator publishes the
-- first statement (`takedownctl keys publish`) when upgrading.
CREATE TABLE key_set_statements (
    version      INTEGER PRIMARY KEY,
    jws          TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    published_by TEXT NOT NULL
) STRICT;

DROP TABLE agency_keys;

-- The key that signed each list and when the agency says it signed it (the JWS `kid` and
-- `iat`, Unix seconds), so that a statement declaring a key compromised can name the
-- lists it invalidates. Lists accepted before this migration have neither.
ALTER TABLE lists ADD COLUMN kid TEXT;
ALTER TABLE lists ADD COLUMN signed_at INTEGER;
CREATE INDEX lists_by_kid ON lists (kid, signed_at);
