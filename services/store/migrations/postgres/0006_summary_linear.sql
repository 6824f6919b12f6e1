-- Changed targets: the old state out, the new one in, for the day and for each referring
-- agency. 0004 joined the old and new transition tables on id, but the planner cannot
-- estimate a transition table (it assumes one row), chose a nested loop, and so compared
-- every old row with every new one: 85 ms for a 500-row update (EXPLAIN ANALYZE), most of
-- a delivery batch's cost. The contributions are additive, so each side is taken on its
-- own; a row whose state did not change adds -1 and +1 to the same key, which
-- summary_add folds away before it writes.
CREATE OR REPLACE FUNCTION summary_targets_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summary_add(ARRAY(
        SELECT summary_of(o, a.agency, -1) FROM old_rows o
        CROSS JOIN LATERAL (SELECT '' AS agency UNION
                            SELECT agency_id FROM referrals WHERE target_id = o.id) a
        WHERE o.action_day_id IS NOT NULL
        UNION ALL
        SELECT summary_of(n, a.agency, 1) FROM new_rows n
        CROSS JOIN LATERAL (SELECT '' AS agency UNION
                            SELECT agency_id FROM referrals WHERE target_id = n.id) a
        WHERE n.action_day_id IS NOT NULL));
    RETURN NULL;
END
$$;

-- Targets change state after intake (delivered, acknowledged, decided, clocked), none of it
-- in an indexed column: with room left in each page those updates are HOT (no new index
-- entries). Applies to pages written from now on.
ALTER TABLE targets SET (fillfactor = 70);

-- A report's target is checked in the transaction that records it (it must exist and have
-- been delivered to the reporting platform), and targets are never deleted. The foreign
-- key only added a row lock (FOR KEY SHARE) on the target per report: with the update of
-- the same target that follows, about 60 µs per report, most of recording a batch.
ALTER TABLE reports DROP CONSTRAINT reports_target_id_fkey;
