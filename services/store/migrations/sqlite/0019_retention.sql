-- Preservation past the retention period (TCO Art 6(2)): a competent authority asked that a
-- target's content and related data be kept until `until` (for an administrative or
-- judicial review or a complaint). One row per request; the latest `until` governs.
-- Retention leaves every list with a referral of a preserved target untouched until then.
CREATE TABLE preservations (
    id           INTEGER PRIMARY KEY,
    target_id    INTEGER NOT NULL REFERENCES targets (id),
    until        INTEGER NOT NULL,
    authority    TEXT NOT NULL CHECK (authority <> ''),
    reference    TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    at           INTEGER NOT NULL
) STRICT;
CREATE INDEX preservations_by_target ON preservations (target_id, until);

-- A hold's audit entry names its target by a commitment, SHA-256(salt || platform || 0x00
-- || normalized), not by the identifier: retention clears the salt with the identifier, so
-- the chain keeps verifying and no longer reveals whom the hold was about. NULL: a hold
-- placed before this migration (its entry names the identifier) or one already purged.
ALTER TABLE holds ADD COLUMN salt BLOB;
