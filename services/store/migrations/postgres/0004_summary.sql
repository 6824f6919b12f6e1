-- Summary rollups: what GetActionDaySummary reads instead of scanning every target.
--
-- They are derived from the facts (targets, referrals) by the statement triggers below,
-- inside the transaction that changes the facts, so they cannot drift from them;
-- `rebuild_summary` recomputes them from the facts alone, and the store's tests check that
-- both agree. Agency '' is the whole day; every other agency value is one referring
-- agency's share (a target referred by two agencies counts once for the day and once for
-- each agency). The SQLite migration of the same number has the same tables.

-- The removal-order clock of an acted-on removal order: milliseconds from delivery to
-- action, less the time a "cannot execute" report was open (see `summary::CLOCK`).
ALTER TABLE targets ADD COLUMN ro_elapsed BIGINT;

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
    due_at        BIGINT NOT NULL,
    removal_order INTEGER NOT NULL,
    delivered     INTEGER NOT NULL,
    acked         INTEGER NOT NULL,
    outcome       INTEGER NOT NULL,
    reason        INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    ro_clock      INTEGER NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (action_day_id, agency, platform, due_at, removal_order, delivered, acked,
                 outcome, reason, failed, ro_clock)
);

-- Latency histograms: measure 0 = release to acknowledgement, 1 = release to action;
-- bucket = the latency in milliseconds truncated to three significant digits.
CREATE TABLE summary_latency (
    action_day_id TEXT NOT NULL,
    agency        TEXT NOT NULL,
    platform      TEXT NOT NULL,
    measure       INTEGER NOT NULL,
    bucket        BIGINT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (action_day_id, agency, platform, measure, bucket)
);

-- Blocks per slot of acted_at, at five resolutions: slot = acted_at / (level seconds), for
-- level 1, 10, 60, 600 and 3600 (a chart of any span reads a few thousand rows at most).
CREATE TABLE summary_blocks (
    action_day_id TEXT NOT NULL,
    agency        TEXT NOT NULL,
    level         INTEGER NOT NULL,
    slot          BIGINT NOT NULL,
    platform      TEXT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (action_day_id, agency, level, slot, platform)
);

-- Per agency: its targets that another agency referred too.
CREATE TABLE summary_merged (
    action_day_id TEXT NOT NULL,
    agency        TEXT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (action_day_id, agency)
);

-- A latency truncated to three significant digits.
CREATE FUNCTION summary_bucket(v BIGINT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v < 1000 THEN v WHEN v < 10000 THEN v - v % 10
                WHEN v < 100000 THEN v - v % 100 WHEN v < 1000000 THEN v - v % 1000
                WHEN v < 10000000 THEN v - v % 10000 WHEN v < 100000000 THEN v - v % 100000
                WHEN v < 1000000000 THEN v - v % 1000000 ELSE v - v % 10000000 END
$$;

-- One target's contribution (times `sign`) to the rollups of `agency`.
CREATE TYPE summary_delta AS (
    action_day_id TEXT,
    agency        TEXT,
    platform      TEXT,
    due_at        BIGINT,
    removal_order INTEGER,
    delivered     INTEGER,
    acked         INTEGER,
    outcome       INTEGER,
    reason        INTEGER,
    failed        INTEGER,
    ro_clock      INTEGER,
    ack_bucket    BIGINT,
    action_bucket BIGINT,
    block_ms      BIGINT,
    sign          INTEGER
);

CREATE FUNCTION summary_of(t targets, agency TEXT, sign INTEGER) RETURNS summary_delta
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ROW(
        t.action_day_id, agency, t.platform, t.due_at,
        CASE WHEN t.legal_basis = 2 THEN 1 ELSE 0 END,
        CASE WHEN t.delivered_at IS NOT NULL THEN 1 ELSE 0 END,
        CASE WHEN t.acked_at IS NOT NULL THEN 1 ELSE 0 END,
        COALESCE(t.outcome, 0),
        CASE WHEN t.outcome = 5 AND t.reject_reason BETWEEN 1 AND 5 THEN t.reject_reason
             ELSE 0 END,
        CASE WHEN t.failed_at IS NOT NULL THEN 1 ELSE 0 END,
        CASE WHEN t.legal_basis = 2 AND t.delivered_at IS NOT NULL
                  AND t.ro_elapsed IS NOT NULL
             THEN CASE WHEN t.ro_elapsed <= 3600000 THEN 1 ELSE 2 END ELSE 0 END,
        CASE WHEN t.acked_at IS NULL THEN NULL
             ELSE summary_bucket(GREATEST(t.acked_at - t.due_at, 0)) END,
        CASE WHEN t.outcome BETWEEN 1 AND 4
             THEN summary_bucket(GREATEST(COALESCE(t.acted_at, 0) - t.due_at, 0)) END,
        CASE WHEN t.outcome = 1 THEN t.acted_at END,
        sign
    )::summary_delta
$$;

-- Adds contributions to the rollups, each table's rows in key order (so that concurrent
-- writers lock them in the same order).
CREATE FUNCTION summary_add(d summary_delta[]) RETURNS INTEGER
LANGUAGE plpgsql AS $$
BEGIN
    IF COALESCE(cardinality(d), 0) = 0 THEN
        RETURN 0;
    END IF;
    -- Equal contributions first (a bulk insert of fresh targets folds into a few rows), so
    -- that the large array is read once.
    d := ARRAY(
        SELECT ROW(x.action_day_id, x.agency, x.platform, x.due_at, x.removal_order,
                   x.delivered, x.acked, x.outcome, x.reason, x.failed, x.ro_clock,
                   x.ack_bucket, x.action_bucket, x.block_ms, SUM(x.sign))::summary_delta
        FROM unnest(d) x
        GROUP BY x.action_day_id, x.agency, x.platform, x.due_at, x.removal_order,
                 x.delivered, x.acked, x.outcome, x.reason, x.failed, x.ro_clock,
                 x.ack_bucket, x.action_bucket, x.block_ms);
    INSERT INTO summary_cells AS c (action_day_id, agency, platform, due_at, removal_order,
                                    delivered, acked, outcome, reason, failed, ro_clock, n)
    SELECT x.action_day_id, x.agency, x.platform, x.due_at, x.removal_order, x.delivered,
           x.acked, x.outcome, x.reason, x.failed, x.ro_clock, SUM(x.sign)
    FROM unnest(d) x
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 HAVING SUM(x.sign) <> 0
    ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    ON CONFLICT (action_day_id, agency, platform, due_at, removal_order, delivered, acked,
                 outcome, reason, failed, ro_clock)
    DO UPDATE SET n = c.n + EXCLUDED.n;

    INSERT INTO summary_latency AS c (action_day_id, agency, platform, measure, bucket, n)
    SELECT l.action_day_id, l.agency, l.platform, l.measure, l.bucket, SUM(l.sign)
    FROM (SELECT x.action_day_id, x.agency, x.platform, 0 AS measure, x.ack_bucket AS bucket,
                 x.sign
          FROM unnest(d) x WHERE x.ack_bucket IS NOT NULL
          UNION ALL
          SELECT x.action_day_id, x.agency, x.platform, 1, x.action_bucket, x.sign
          FROM unnest(d) x WHERE x.action_bucket IS NOT NULL) l
    GROUP BY 1, 2, 3, 4, 5 HAVING SUM(l.sign) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (action_day_id, agency, platform, measure, bucket)
    DO UPDATE SET n = c.n + EXCLUDED.n;

    INSERT INTO summary_blocks AS c (action_day_id, agency, level, slot, platform, n)
    SELECT x.action_day_id, x.agency, l.level, x.block_ms / (l.level * 1000), x.platform,
           SUM(x.sign)
    FROM unnest(d) x CROSS JOIN unnest(ARRAY[1, 10, 60, 600, 3600]) AS l(level)
    WHERE x.block_ms IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5 HAVING SUM(x.sign) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (action_day_id, agency, level, slot, platform)
    DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN cardinality(d);
END
$$;

-- New targets count for their day (their agencies come with their referrals).
CREATE FUNCTION summary_targets_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summary_add(ARRAY(SELECT summary_of(t, '', 1) FROM new_rows t
                              WHERE t.action_day_id IS NOT NULL));
    RETURN NULL;
END
$$;
CREATE TRIGGER summary_targets_inserted AFTER INSERT ON targets
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION summary_targets_inserted();

-- Changed targets: the old state out, the new one in, for the day and for each referring
-- agency.
CREATE FUNCTION summary_targets_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summary_add(ARRAY(
        SELECT d FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (SELECT '' AS agency UNION
                            SELECT agency_id FROM referrals WHERE target_id = n.id) a
        CROSS JOIN LATERAL unnest(ARRAY[summary_of(o, a.agency, -1),
                                        summary_of(n, a.agency, 1)]) d
        WHERE n.action_day_id IS NOT NULL
          AND summary_of(o, '', 0) IS DISTINCT FROM summary_of(n, '', 0)));
    RETURN NULL;
END
$$;
CREATE TRIGGER summary_targets_updated AFTER UPDATE ON targets
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION summary_targets_updated();

-- New (target, agency) pairs: the target joins the agency's share; a target that now has
-- two agencies or more counts as merged for each agency that did not count it before.
-- (Transition tables carry their row count, so the planner hashes `new_rows`.)
CREATE FUNCTION summary_referrals_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    added INTEGER;
BEGIN
    WITH pairs AS (
        SELECT r.target_id, r.agency_id, t.action_day_id,
               bool_or(x.list_id IS NULL) AS before
        FROM (SELECT DISTINCT target_id FROM new_rows) nt
        JOIN targets t ON t.id = nt.target_id AND t.action_day_id IS NOT NULL
        JOIN referrals r ON r.target_id = nt.target_id
        LEFT JOIN new_rows x ON x.list_id = r.list_id AND x.item_index = r.item_index
        GROUP BY r.target_id, r.agency_id, t.action_day_id),
    agencies AS (
        SELECT target_id, COUNT(*) FILTER (WHERE before) AS before_n, COUNT(*) AS after_n
        FROM pairs GROUP BY target_id),
    merged AS (
        INSERT INTO summary_merged AS m (action_day_id, agency, n)
        SELECT p.action_day_id, p.agency_id, COUNT(*)
        FROM pairs p JOIN agencies a ON a.target_id = p.target_id
        WHERE a.after_n >= 2 AND NOT (p.before AND a.before_n >= 2)
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (action_day_id, agency) DO UPDATE SET n = m.n + EXCLUDED.n)
    SELECT summary_add(ARRAY(
        SELECT summary_of(t, p.agency_id, 1)
        FROM pairs p JOIN targets t ON t.id = p.target_id
        WHERE NOT p.before))
    INTO added;
    RETURN NULL;
END
$$;
CREATE TRIGGER summary_referrals_inserted AFTER INSERT ON referrals
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION summary_referrals_inserted();

-- The rollups of the facts already stored.
SELECT summary_add(ARRAY(
    SELECT summary_of(t, '', 1) FROM targets t WHERE t.action_day_id IS NOT NULL
    UNION ALL
    SELECT summary_of(t, p.agency_id, 1)
    FROM (SELECT DISTINCT target_id, agency_id FROM referrals) p
    JOIN targets t ON t.id = p.target_id WHERE t.action_day_id IS NOT NULL));
INSERT INTO summary_merged (action_day_id, agency, n)
SELECT p.action_day_id, p.agency_id, COUNT(*) FROM
    (SELECT DISTINCT t.action_day_id, r.target_id, r.agency_id FROM referrals r
     JOIN targets t ON t.id = r.target_id WHERE t.action_day_id IS NOT NULL) p
WHERE (SELECT COUNT(DISTINCT o.agency_id) FROM referrals o WHERE o.target_id = p.target_id) >= 2
GROUP BY p.action_day_id, p.agency_id;
