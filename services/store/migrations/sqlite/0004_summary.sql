-- Summary rollups: what GetActionDaySummary reads instead of scanning every target.
--
-- They are derived from the facts (targets, referrals) by the triggers below, inside the
-- transaction that changes the facts, so they cannot drift from them; `rebuild_summary`
-- recomputes them from the facts alone, and the store's tests check that both agree.
-- Agency '' is the whole day; every other agency value is one referring agency's share
-- (a target referred by two agencies counts once for the day and once for each agency).

-- The removal-order clock of an acted-on removal order: milliseconds from delivery to
-- action, less the time a "cannot execute" report was open (see `summary::CLOCK`).
ALTER TABLE targets ADD COLUMN ro_elapsed INTEGER;

-- Removal-order clocks of the facts already stored (the same computation as the store's
-- `summary::clock!`, which keeps them from now on), before the triggers exist.
WITH ro AS (SELECT t.id, t.delivered_at FROM targets t
            WHERE t.legal_basis = 2 AND t.delivered_at IS NOT NULL),
d AS (SELECT ro.id, ro.delivered_at, p.reported_at AS at, p.outcome, p.reason,
             LEAD(p.reported_at) OVER (PARTITION BY p.target_id
                  ORDER BY p.reported_at, p.received_at, p.report_id) AS next_at
      FROM ro JOIN reports p ON p.target_id = ro.id AND p.kind = 2),
a AS (SELECT id, MIN(at) AS acted FROM d WHERE outcome BETWEEN 1 AND 4 GROUP BY id),
z AS (SELECT d.id, CASE WHEN d.at > d.delivered_at THEN d.at ELSE d.delivered_at END AS s,
             CASE WHEN d.next_at IS NOT NULL AND d.next_at < a.acted
                  THEN d.next_at ELSE a.acted END AS e
      FROM d JOIN a ON a.id = d.id
      WHERE d.outcome = 5 AND d.reason IN (2, 3, 4) AND d.at < a.acted),
pz AS (SELECT id, CAST(SUM(CASE WHEN e > s THEN e - s ELSE 0 END) AS BIGINT) AS paused
       FROM z GROUP BY id),
res AS (SELECT ro.id, a.acted - ro.delivered_at - COALESCE(pz.paused, 0) AS el
        FROM ro JOIN a ON a.id = ro.id LEFT JOIN pz ON pz.id = ro.id)
UPDATE targets SET ro_elapsed = res.el FROM res WHERE targets.id = res.id;

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

-- A target of an action day as the rollups see it.
CREATE VIEW summary_facts AS
SELECT id, action_day_id, platform, due_at, removal_order, delivered, acked, outcome, reason,
       failed, ro_clock,
       CASE WHEN ack_ms < 1000 THEN ack_ms WHEN ack_ms < 10000 THEN ack_ms - ack_ms % 10
            WHEN ack_ms < 100000 THEN ack_ms - ack_ms % 100
            WHEN ack_ms < 1000000 THEN ack_ms - ack_ms % 1000
            WHEN ack_ms < 10000000 THEN ack_ms - ack_ms % 10000
            WHEN ack_ms < 100000000 THEN ack_ms - ack_ms % 100000
            WHEN ack_ms < 1000000000 THEN ack_ms - ack_ms % 1000000
            ELSE ack_ms - ack_ms % 10000000 END AS ack_bucket,
       CASE WHEN act_ms < 1000 THEN act_ms WHEN act_ms < 10000 THEN act_ms - act_ms % 10
            WHEN act_ms < 100000 THEN act_ms - act_ms % 100
            WHEN act_ms < 1000000 THEN act_ms - act_ms % 1000
            WHEN act_ms < 10000000 THEN act_ms - act_ms % 10000
            WHEN act_ms < 100000000 THEN act_ms - act_ms % 100000
            WHEN act_ms < 1000000000 THEN act_ms - act_ms % 1000000
            ELSE act_ms - act_ms % 10000000 END AS action_bucket,
       block_ms
FROM (
    SELECT id, action_day_id, platform, due_at,
           CASE WHEN legal_basis = 2 THEN 1 ELSE 0 END AS removal_order,
           CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END AS delivered,
           CASE WHEN acked_at IS NOT NULL THEN 1 ELSE 0 END AS acked,
           COALESCE(outcome, 0) AS outcome,
           CASE WHEN outcome = 5 AND reject_reason BETWEEN 1 AND 5 THEN reject_reason
                ELSE 0 END AS reason,
           CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END AS failed,
           CASE WHEN legal_basis = 2 AND delivered_at IS NOT NULL AND ro_elapsed IS NOT NULL
                THEN CASE WHEN ro_elapsed <= 3600000 THEN 1 ELSE 2 END ELSE 0 END AS ro_clock,
           CASE WHEN acked_at IS NULL THEN NULL WHEN acked_at > due_at
                THEN acked_at - due_at ELSE 0 END AS ack_ms,
           CASE WHEN outcome NOT BETWEEN 1 AND 4 OR outcome IS NULL THEN NULL
                WHEN acted_at > due_at THEN acted_at - due_at ELSE 0 END AS act_ms,
           CASE WHEN outcome = 1 THEN acted_at END AS block_ms
    FROM targets WHERE action_day_id IS NOT NULL
);

-- Inserting (target_id, agency, sign) into these views adds sign times the target's current
-- state to the rollups of `agency`: summary_apply_timings to the latency histograms and
-- block counts, summary_apply to those and the state cells. Nothing is stored in the views.
-- The hot paths below (a new target, a state change) write the cells directly from the
-- row's values instead; the same expressions as in summary_facts, which they must match.
CREATE VIEW summary_apply AS
SELECT CAST(0 AS INTEGER) AS target_id, '' AS agency, CAST(0 AS INTEGER) AS sign WHERE 0;
CREATE VIEW summary_apply_timings AS
SELECT CAST(0 AS INTEGER) AS target_id, '' AS agency, CAST(0 AS INTEGER) AS sign WHERE 0;

CREATE TRIGGER summary_apply_timings_insert INSTEAD OF INSERT ON summary_apply_timings
BEGIN
    INSERT INTO summary_latency (action_day_id, agency, platform, measure, bucket, n)
    SELECT action_day_id, NEW.agency, platform, 0, ack_bucket, NEW.sign
    FROM summary_facts WHERE id = NEW.target_id AND ack_bucket IS NOT NULL
    UNION ALL
    SELECT action_day_id, NEW.agency, platform, 1, action_bucket, NEW.sign
    FROM summary_facts WHERE id = NEW.target_id AND action_bucket IS NOT NULL
    ON CONFLICT (action_day_id, agency, platform, measure, bucket)
    DO UPDATE SET n = n + excluded.n;
END;

-- (A trigger of its own: see summary_target_block_update.)
CREATE TRIGGER summary_apply_blocks_insert INSTEAD OF INSERT ON summary_apply_timings
BEGIN
    INSERT INTO summary_blocks (action_day_id, agency, level, slot, platform, n)
    SELECT action_day_id, NEW.agency, l.level, block_ms / (l.level * 1000), platform, NEW.sign
    FROM summary_facts,
         (SELECT 1 AS level UNION ALL SELECT 10 UNION ALL SELECT 60 UNION ALL SELECT 600
          UNION ALL SELECT 3600) l
    WHERE id = NEW.target_id AND block_ms IS NOT NULL
    ON CONFLICT (action_day_id, agency, level, slot, platform) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER summary_apply_insert INSTEAD OF INSERT ON summary_apply
BEGIN
    INSERT INTO summary_cells (action_day_id, agency, platform, due_at, removal_order,
                           delivered, acked, outcome, reason, failed, ro_clock, n)
    SELECT action_day_id, NEW.agency, platform, due_at, removal_order, delivered, acked,
           outcome, reason, failed, ro_clock, NEW.sign
    FROM summary_facts WHERE id = NEW.target_id
    ON CONFLICT (action_day_id, agency, platform, due_at, removal_order, delivered, acked,
             outcome, reason, failed, ro_clock) DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_apply_timings (target_id, agency, sign)
    VALUES (NEW.target_id, NEW.agency, NEW.sign);
END;

-- A new target counts for its day (its agencies come with its referrals).
CREATE TRIGGER summary_target_insert AFTER INSERT ON targets
WHEN NEW.action_day_id IS NOT NULL
BEGIN
    INSERT INTO summary_cells (action_day_id, agency, platform, due_at, removal_order,
                           delivered, acked, outcome, reason, failed, ro_clock, n)
    SELECT NEW.action_day_id, a.agency, NEW.platform, NEW.due_at,
           CASE WHEN NEW.legal_basis = 2 THEN 1 ELSE 0 END,
           CASE WHEN NEW.delivered_at IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN NEW.acked_at IS NOT NULL THEN 1 ELSE 0 END,
           COALESCE(NEW.outcome, 0),
           CASE WHEN NEW.outcome = 5 AND NEW.reject_reason BETWEEN 1 AND 5
                THEN NEW.reject_reason ELSE 0 END,
           CASE WHEN NEW.failed_at IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN NEW.legal_basis = 2 AND NEW.delivered_at IS NOT NULL
                     AND NEW.ro_elapsed IS NOT NULL
                THEN CASE WHEN NEW.ro_elapsed <= 3600000 THEN 1 ELSE 2 END ELSE 0 END, 1
    FROM (SELECT '' AS agency) a WHERE TRUE
    ON CONFLICT (action_day_id, agency, platform, due_at, removal_order, delivered, acked,
             outcome, reason, failed, ro_clock) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER summary_target_insert_timed AFTER INSERT ON targets
WHEN NEW.action_day_id IS NOT NULL AND (NEW.acked_at IS NOT NULL OR NEW.outcome IS NOT NULL)
BEGIN
    INSERT INTO summary_apply_timings (target_id, agency, sign) VALUES (NEW.id, '', 1);
END;

-- A state change: the old state's cell down, the new one's up, for the day and for each
-- referring agency.
CREATE TRIGGER summary_target_update
AFTER UPDATE OF due_at, legal_basis, delivered_at, acked_at, outcome, reject_reason,
                failed_at, ro_elapsed ON targets
WHEN NEW.action_day_id IS NOT NULL
     AND ((OLD.delivered_at IS NULL) <> (NEW.delivered_at IS NULL)
          OR (OLD.acked_at IS NULL) <> (NEW.acked_at IS NULL)
          OR OLD.outcome IS NOT NEW.outcome OR OLD.reject_reason IS NOT NEW.reject_reason
          OR (OLD.failed_at IS NULL) <> (NEW.failed_at IS NULL)
          OR OLD.ro_elapsed IS NOT NEW.ro_elapsed
          OR OLD.due_at <> NEW.due_at OR OLD.legal_basis <> NEW.legal_basis)
BEGIN
    INSERT INTO summary_cells (action_day_id, agency, platform, due_at, removal_order,
                           delivered, acked, outcome, reason, failed, ro_clock, n)
    SELECT OLD.action_day_id, a.agency, OLD.platform, OLD.due_at,
           CASE WHEN OLD.legal_basis = 2 THEN 1 ELSE 0 END,
           CASE WHEN OLD.delivered_at IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN OLD.acked_at IS NOT NULL THEN 1 ELSE 0 END,
           COALESCE(OLD.outcome, 0),
           CASE WHEN OLD.outcome = 5 AND OLD.reject_reason BETWEEN 1 AND 5
                THEN OLD.reject_reason ELSE 0 END,
           CASE WHEN OLD.failed_at IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN OLD.legal_basis = 2 AND OLD.delivered_at IS NOT NULL
                     AND OLD.ro_elapsed IS NOT NULL
                THEN CASE WHEN OLD.ro_elapsed <= 3600000 THEN 1 ELSE 2 END ELSE 0 END, -1
    FROM (SELECT '' AS agency UNION
          SELECT agency_id FROM referrals WHERE target_id = OLD.id) a WHERE TRUE
    UNION ALL
    SELECT NEW.action_day_id, a.agency, NEW.platform, NEW.due_at,
           CASE WHEN NEW.legal_basis = 2 THEN 1 ELSE 0 END,
           CASE WHEN NEW.delivered_at IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN NEW.acked_at IS NOT NULL THEN 1 ELSE 0 END,
           COALESCE(NEW.outcome, 0),
           CASE WHEN NEW.outcome = 5 AND NEW.reject_reason BETWEEN 1 AND 5
                THEN NEW.reject_reason ELSE 0 END,
           CASE WHEN NEW.failed_at IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN NEW.legal_basis = 2 AND NEW.delivered_at IS NOT NULL
                     AND NEW.ro_elapsed IS NOT NULL
                THEN CASE WHEN NEW.ro_elapsed <= 3600000 THEN 1 ELSE 2 END ELSE 0 END, 1
    FROM (SELECT '' AS agency UNION
          SELECT agency_id FROM referrals WHERE target_id = NEW.id) a WHERE TRUE
    ON CONFLICT (action_day_id, agency, platform, due_at, removal_order, delivered, acked,
             outcome, reason, failed, ro_clock) DO UPDATE SET n = n + excluded.n;
END;

-- A change of the times: the old latency (and block) out, the new one in, for the day and
-- for each referring agency (sign -1 reads OLD, +1 NEW).
CREATE TRIGGER summary_target_ack_update
AFTER UPDATE OF due_at, acked_at ON targets
WHEN NEW.action_day_id IS NOT NULL
     AND (OLD.acked_at IS NOT NEW.acked_at OR OLD.due_at <> NEW.due_at)
BEGIN
    INSERT INTO summary_latency (action_day_id, agency, platform, measure, bucket, n)
    SELECT NEW.action_day_id, agency, NEW.platform, 0,
           CASE WHEN v < 1000 THEN v WHEN v < 10000 THEN v - v % 10
                WHEN v < 100000 THEN v - v % 100
                WHEN v < 1000000 THEN v - v % 1000
                WHEN v < 10000000 THEN v - v % 10000
                WHEN v < 100000000 THEN v - v % 100000
                WHEN v < 1000000000 THEN v - v % 1000000
                ELSE v - v % 10000000 END, sign
    FROM (SELECT a.agency, s.sign,
                 CASE WHEN s.sign < 0 THEN CASE WHEN OLD.acked_at > OLD.due_at THEN OLD.acked_at - OLD.due_at ELSE 0 END
                      ELSE CASE WHEN NEW.acked_at > NEW.due_at THEN NEW.acked_at - NEW.due_at ELSE 0 END END AS v
          FROM (SELECT '' AS agency UNION
          SELECT agency_id FROM referrals WHERE target_id = NEW.id) a,
         (SELECT -1 AS sign UNION ALL SELECT 1) s
          WHERE CASE WHEN s.sign < 0 THEN OLD.acked_at ELSE NEW.acked_at END IS NOT NULL)
    WHERE TRUE
    ON CONFLICT (action_day_id, agency, platform, measure, bucket)
    DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER summary_target_action_update
AFTER UPDATE OF due_at, outcome, acted_at ON targets
WHEN NEW.action_day_id IS NOT NULL
     AND (OLD.outcome IS NOT NEW.outcome OR OLD.acted_at IS NOT NEW.acted_at
          OR OLD.due_at <> NEW.due_at)
BEGIN
    INSERT INTO summary_latency (action_day_id, agency, platform, measure, bucket, n)
    SELECT NEW.action_day_id, agency, NEW.platform, 1,
           CASE WHEN v < 1000 THEN v WHEN v < 10000 THEN v - v % 10
                WHEN v < 100000 THEN v - v % 100
                WHEN v < 1000000 THEN v - v % 1000
                WHEN v < 10000000 THEN v - v % 10000
                WHEN v < 100000000 THEN v - v % 100000
                WHEN v < 1000000000 THEN v - v % 1000000
                ELSE v - v % 10000000 END, sign
    FROM (SELECT a.agency, s.sign,
                 CASE WHEN s.sign < 0 THEN CASE WHEN OLD.acted_at > OLD.due_at THEN OLD.acted_at - OLD.due_at ELSE 0 END
                      ELSE CASE WHEN NEW.acted_at > NEW.due_at THEN NEW.acted_at - NEW.due_at ELSE 0 END END AS v
          FROM (SELECT '' AS agency UNION
          SELECT agency_id FROM referrals WHERE target_id = NEW.id) a,
         (SELECT -1 AS sign UNION ALL SELECT 1) s
          WHERE CASE WHEN s.sign < 0 THEN OLD.outcome ELSE NEW.outcome END BETWEEN 1 AND 4)
    WHERE TRUE
    ON CONFLICT (action_day_id, agency, platform, measure, bucket)
    DO UPDATE SET n = n + excluded.n;
END;

-- (Blocks have their own trigger: in the same trigger as the latency, or joined with the
-- OLD/NEW sides in one statement, they cost ten times as much on SQLite 3.40 to 3.51.)
CREATE TRIGGER summary_target_block_update
AFTER UPDATE OF outcome, acted_at ON targets
WHEN NEW.action_day_id IS NOT NULL
     AND (OLD.outcome IS NOT NEW.outcome OR OLD.acted_at IS NOT NEW.acted_at)
BEGIN
    INSERT INTO summary_blocks (action_day_id, agency, level, slot, platform, n)
    SELECT NEW.action_day_id, a.agency, l.level, OLD.acted_at / (l.level * 1000),
           NEW.platform, -1
    FROM (SELECT '' AS agency UNION
          SELECT agency_id FROM referrals WHERE target_id = NEW.id) a,
         (SELECT 1 AS level UNION ALL SELECT 10 UNION ALL SELECT 60 UNION ALL SELECT 600
          UNION ALL SELECT 3600) l
    WHERE OLD.outcome = 1 AND OLD.acted_at IS NOT NULL
    ON CONFLICT (action_day_id, agency, level, slot, platform) DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_blocks (action_day_id, agency, level, slot, platform, n)
    SELECT NEW.action_day_id, a.agency, l.level, NEW.acted_at / (l.level * 1000),
           NEW.platform, 1
    FROM (SELECT '' AS agency UNION
          SELECT agency_id FROM referrals WHERE target_id = NEW.id) a,
         (SELECT 1 AS level UNION ALL SELECT 10 UNION ALL SELECT 60 UNION ALL SELECT 600
          UNION ALL SELECT 3600) l
    WHERE NEW.outcome = 1 AND NEW.acted_at IS NOT NULL
    ON CONFLICT (action_day_id, agency, level, slot, platform) DO UPDATE SET n = n + excluded.n;
END;

-- The first referral of a target by an agency: the target joins the agency's share, and
-- if it now has two agencies it counts as merged for both (for the one that was alone
-- before, and for the newcomer).
CREATE TRIGGER summary_referral_insert AFTER INSERT ON referrals
WHEN NOT EXISTS (SELECT 1 FROM referrals r WHERE r.target_id = NEW.target_id
                 AND r.agency_id = NEW.agency_id AND r.rowid <> NEW.rowid)
     AND (SELECT action_day_id FROM targets WHERE id = NEW.target_id) IS NOT NULL
BEGIN
    INSERT INTO summary_apply (target_id, agency, sign) VALUES (NEW.target_id, NEW.agency_id, 1);
    INSERT INTO summary_merged (action_day_id, agency, n)
    SELECT t.action_day_id, o.agency, 1
    FROM targets t,
         (SELECT NEW.agency_id AS agency
          WHERE EXISTS (SELECT 1 FROM referrals r WHERE r.target_id = NEW.target_id
                        AND r.agency_id <> NEW.agency_id)
          UNION ALL
          SELECT MIN(r.agency_id) FROM referrals r
          WHERE r.target_id = NEW.target_id AND r.agency_id <> NEW.agency_id
          HAVING COUNT(DISTINCT r.agency_id) = 1) o
    WHERE t.id = NEW.target_id
    ON CONFLICT (action_day_id, agency) DO UPDATE SET n = n + excluded.n;
END;

-- The rollups of the facts already stored.
INSERT INTO summary_apply (target_id, agency, sign)
SELECT id, '', 1 FROM targets WHERE action_day_id IS NOT NULL
UNION ALL
SELECT DISTINCT r.target_id, r.agency_id, 1 FROM referrals r
JOIN targets t ON t.id = r.target_id WHERE t.action_day_id IS NOT NULL;
INSERT INTO summary_merged (action_day_id, agency, n)
SELECT p.action_day_id, p.agency_id, COUNT(*) FROM
    (SELECT DISTINCT t.action_day_id, r.target_id, r.agency_id FROM referrals r
     JOIN targets t ON t.id = r.target_id WHERE t.action_day_id IS NOT NULL) p
WHERE (SELECT COUNT(DISTINCT o.agency_id) FROM referrals o WHERE o.target_id = p.target_id) >= 2
GROUP BY p.action_day_id, p.agency_id;
