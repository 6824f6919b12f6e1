-- The store's hot writers (delivered, failed, acknowledgements and decisions, removal-order
-- clocks) change hundreds of targets per statement. Row by row, the summary triggers cost
-- three times the update itself (store write-path timing: 10 000 targets' reports in
-- 1.1 s with them, 0.27 s without). Those writers now move a batch's contributions out of
-- the rollups and back in with a few grouped statements (see `sqlite/summary.rs`), and
-- mark that with a row in `summary_suspend`, which exists only inside their transaction;
-- the row triggers stand aside meanwhile and keep every other write (intake, operator SQL,
-- future code) correct as before.
CREATE TABLE summary_suspend (one INTEGER PRIMARY KEY CHECK (one = 1));

DROP TRIGGER summary_target_update;
CREATE TRIGGER summary_target_update
AFTER UPDATE OF due_at, legal_basis, delivered_at, acked_at, outcome, reject_reason,
                failed_at, ro_elapsed ON targets
WHEN NEW.action_day_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM summary_suspend)
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

DROP TRIGGER summary_target_ack_update;
CREATE TRIGGER summary_target_ack_update
AFTER UPDATE OF due_at, acked_at ON targets
WHEN NEW.action_day_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM summary_suspend)
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

DROP TRIGGER summary_target_action_update;
CREATE TRIGGER summary_target_action_update
AFTER UPDATE OF due_at, outcome, acted_at ON targets
WHEN NEW.action_day_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM summary_suspend)
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

DROP TRIGGER summary_target_block_update;
CREATE TRIGGER summary_target_block_update
AFTER UPDATE OF outcome, acted_at ON targets
WHEN NEW.action_day_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM summary_suspend)
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
