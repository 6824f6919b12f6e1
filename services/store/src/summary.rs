//! The action-day summary, shared by the backends: the queries (written once, with `?N`
//! parameters, which [`pg`] turns into `$N`) and the assembly of their rows into
//! [`SummaryFacts`].
//!
//! Every query aggregates in the database (`GROUP BY`, window functions for percentiles);
//! at most a few hundred rows come back whatever the size of the day. The parameters of the
//! per-target queries are: `?1` action day id, `?2` now, `?3` platform of a platform view
//! (NULL otherwise), `?4` agency of an agency view (NULL otherwise); the per-agency ones say
//! theirs.
//!
//! Each query reads `targets` once through `targets_by_day`. The hold check is a lookup in
//! `holds_by_target` and is only made for targets not yet delivered; an agency view checks
//! `referrals_by_target` per target; the removal-order clock reads `reports_by_target` for
//! delivered removal orders only.

use std::collections::BTreeMap;

use crate::model::*;

/// The targets of the view (alias `t`).
macro_rules! in_view {
    () => {
        "t.action_day_id = ?1 AND (?3 IS NULL OR t.platform = ?3) \
         AND (?4 IS NULL OR EXISTS (SELECT 1 FROM referrals v \
              WHERE v.target_id = t.id AND v.agency_id = ?4))"
    };
}

/// Whether target `t` is not delivered yet and under an active hold at `?2`.
macro_rules! held {
    () => {
        "CASE WHEN t.delivered_at IS NULL THEN EXISTS (SELECT 1 FROM holds h \
              WHERE h.platform = t.platform AND h.normalized = t.normalized \
              AND h.released_at IS NULL AND h.expires_at > ?2) ELSE FALSE END"
    };
}

/// Per-platform counts, rejections by reason (`r0` = unspecified or unknown) and delivered
/// removal orders. Released = delivered, or past `due_at` and not held.
pub(crate) const COUNTS: &str = concat!(
    "WITH x AS (SELECT t.platform, t.delivered_at, t.acked_at, t.outcome, t.reject_reason, \
            t.failed_at, t.legal_basis, t.due_at, ",
    held!(),
    " AS held FROM targets t WHERE ",
    in_view!(),
    "), y AS (SELECT x.*, (delivered_at IS NOT NULL OR (due_at <= ?2 AND NOT held)) AS rel \
            FROM x) \
     SELECT platform, \
       COUNT(*) AS referred, \
       COUNT(*) FILTER (WHERE held) AS held, \
       COUNT(*) FILTER (WHERE rel) AS released, \
       COUNT(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered, \
       COUNT(*) FILTER (WHERE acked_at IS NOT NULL) AS acknowledged, \
       COUNT(*) FILTER (WHERE outcome = 1) AS blocked, \
       COUNT(*) FILTER (WHERE outcome = 2) AS already_gone, \
       COUNT(*) FILTER (WHERE outcome = 3) AS not_found, \
       COUNT(*) FILTER (WHERE outcome = 4) AS geo_blocked, \
       COUNT(*) FILTER (WHERE outcome = 5) AS rejected, \
       COUNT(*) FILTER (WHERE failed_at IS NOT NULL) AS failed, \
       COUNT(*) FILTER (WHERE rel AND failed_at IS NULL AND outcome IS NULL) AS pending, \
       COUNT(*) FILTER (WHERE outcome = 5 AND (reject_reason IS NULL \
             OR reject_reason NOT BETWEEN 1 AND 5)) AS r0, \
       COUNT(*) FILTER (WHERE outcome = 5 AND reject_reason = 1) AS r1, \
       COUNT(*) FILTER (WHERE outcome = 5 AND reject_reason = 2) AS r2, \
       COUNT(*) FILTER (WHERE outcome = 5 AND reject_reason = 3) AS r3, \
       COUNT(*) FILTER (WHERE outcome = 5 AND reject_reason = 4) AS r4, \
       COUNT(*) FILTER (WHERE outcome = 5 AND reject_reason = 5) AS r5, \
       COUNT(*) FILTER (WHERE legal_basis = 2 AND delivered_at IS NOT NULL) AS removal_orders \
     FROM y GROUP BY platform"
);

/// Nearest-rank percentiles: rows (platform, measure, n, rank, value) at the ranks
/// `ceil(p * n / 100)` for p = 50, 90, 99; measure 0 is release to acknowledgement, 1
/// release to action.
pub(crate) const PERCENTILES: &str = concat!(
    "WITH l AS ( \
       SELECT t.platform, CAST(0 AS BIGINT) AS m, \
              CASE WHEN t.acked_at > t.due_at THEN t.acked_at - t.due_at ELSE 0 END AS v \
       FROM targets t WHERE t.acked_at IS NOT NULL AND ",
    in_view!(),
    " UNION ALL \
       SELECT t.platform, CAST(1 AS BIGINT) AS m, \
              CASE WHEN t.acted_at > t.due_at THEN t.acted_at - t.due_at ELSE 0 END AS v \
       FROM targets t WHERE t.outcome BETWEEN 1 AND 4 AND ",
    in_view!(),
    "), r AS (SELECT platform, m, v, \
              ROW_NUMBER() OVER (PARTITION BY platform, m ORDER BY v) AS rn, \
              COUNT(*) OVER (PARTITION BY platform, m) AS n FROM l) \
     SELECT platform, m, n, rn, v FROM r \
     WHERE rn = (50 * n + 99) / 100 OR rn = (90 * n + 99) / 100 OR rn = (99 * n + 99) / 100"
);

/// Delivered removal orders acted on, and acted on within the hour of paused clock:
/// rows (platform, acted, within_hour).
pub(crate) const REMOVAL_ORDERS: &str = concat!(
    "WITH ro AS (SELECT t.id, t.platform, t.delivered_at FROM targets t \
       WHERE t.legal_basis = 2 AND t.delivered_at IS NOT NULL AND ",
    in_view!(),
    "), d AS (SELECT ro.id, ro.delivered_at, p.reported_at AS at, p.outcome, p.reason, \
              LEAD(p.reported_at) OVER (PARTITION BY p.target_id \
                   ORDER BY p.reported_at, p.received_at, p.report_id) AS next_at \
            FROM ro JOIN reports p ON p.target_id = ro.id AND p.kind = 2), \
     a AS (SELECT id, MIN(at) AS acted FROM d WHERE outcome BETWEEN 1 AND 4 GROUP BY id), \
     z AS (SELECT d.id, \
              CASE WHEN d.at > d.delivered_at THEN d.at ELSE d.delivered_at END AS s, \
              CASE WHEN d.next_at IS NOT NULL AND d.next_at < a.acted \
                   THEN d.next_at ELSE a.acted END AS e \
            FROM d JOIN a ON a.id = d.id \
            WHERE d.outcome = 5 AND d.reason IN (2, 3, 4) AND d.at < a.acted), \
     pz AS (SELECT id, CAST(SUM(CASE WHEN e > s THEN e - s ELSE 0 END) AS BIGINT) AS paused \
            FROM z GROUP BY id) \
     SELECT ro.platform, COUNT(*) AS acted, \
       COUNT(*) FILTER (WHERE a.acted - ro.delivered_at - COALESCE(pz.paused, 0) <= 3600000) \
         AS within_hour \
     FROM ro JOIN a ON a.id = ro.id LEFT JOIN pz ON pz.id = ro.id GROUP BY ro.platform"
);

/// Per agency: rows (agency, lists, items) of its lists of the day. Parameters: `?1` day,
/// `?2` agency of an agency view (NULL for all).
pub(crate) const AGENCY_LISTS: &str = "SELECT agency_id, COUNT(*) AS lists, \
       CAST(SUM(item_count) AS BIGINT) AS items \
     FROM lists WHERE action_day_id = ?1 AND (?2 IS NULL OR agency_id = ?2) \
     GROUP BY agency_id";

/// Per agency: rows (agency, merged, held, delivered, blocked, rejected, not a violation)
/// over the distinct targets it referred. Parameters: `?1` day, `?2` now, `?3` agency of an
/// agency view (NULL for all).
pub(crate) const AGENCY_TARGETS: &str = concat!(
    "WITH rr AS (SELECT DISTINCT r.agency_id, r.target_id FROM lists l \
       JOIN referrals r ON r.list_id = l.list_id \
       WHERE l.action_day_id = ?1 AND (?3 IS NULL OR l.agency_id = ?3)), \
     x AS (SELECT rr.agency_id, t.delivered_at, t.outcome, t.reject_reason, \
              EXISTS (SELECT 1 FROM referrals o WHERE o.target_id = rr.target_id \
                      AND o.agency_id <> rr.agency_id) AS merged, ",
    held!(),
    " AS held FROM rr JOIN targets t ON t.id = rr.target_id) \
     SELECT agency_id, \
       COUNT(*) FILTER (WHERE merged) AS merged, \
       COUNT(*) FILTER (WHERE held) AS held, \
       COUNT(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered, \
       COUNT(*) FILTER (WHERE outcome = 1) AS blocked, \
       COUNT(*) FILTER (WHERE outcome = 5) AS rejected, \
       COUNT(*) FILTER (WHERE outcome = 5 AND reject_reason = 1 \
             AND delivered_at IS NOT NULL) AS not_a_violation \
     FROM x GROUP BY agency_id"
);

/// Blocks bucketed by `acted_at`: rows (platform, last block time of the bucket, blocks).
pub(crate) const BLOCKS: &str = concat!(
    "WITH b AS (SELECT t.platform, t.acted_at FROM targets t WHERE t.outcome = 1 AND ",
    in_view!(),
    "), s AS (SELECT MIN(acted_at) AS lo, MAX(acted_at) AS hi FROM b), \
     w AS (SELECT lo, CASE WHEN (hi - lo + 199) / 200 > 1000 \
                      THEN (hi - lo + 199) / 200 ELSE 1000 END AS width FROM s) \
     SELECT b.platform, MAX(b.acted_at) AS at, COUNT(*) AS n FROM b, w \
     GROUP BY b.platform, (b.acted_at - w.lo) / w.width"
);

/// The PostgreSQL text of a query (`$N` parameters).
pub fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The (platform, agency) parameters of a view.
pub(crate) fn view_params(view: &SummaryView) -> (Option<&str>, Option<&str>) {
    match view {
        SummaryView::All => (None, None),
        SummaryView::Agency(a) => (None, Some(a.as_str())),
        SummaryView::Platform(p) => (Some(p.as_str()), None),
    }
}

/// One row of [`COUNTS`].
pub(crate) struct CountsRow {
    pub counts: PlatformCounts,
    /// Rejections by reason 0..=5.
    pub reasons: [i64; 6],
    pub removal_orders: i64,
}

/// Decodes a [`COUNTS`] row of either backend.
macro_rules! decode_counts {
    ($r:expr) => {{
        use sqlx::Row;
        let r = $r;
        let mut reasons = [0i64; 6];
        for (i, slot) in reasons.iter_mut().enumerate() {
            *slot = r.try_get(format!("r{i}").as_str())?;
        }
        $crate::summary::CountsRow {
            counts: $crate::model::PlatformCounts {
                platform: r.try_get("platform")?,
                referred: r.try_get("referred")?,
                held: r.try_get("held")?,
                released: r.try_get("released")?,
                delivered: r.try_get("delivered")?,
                acknowledged: r.try_get("acknowledged")?,
                blocked: r.try_get("blocked")?,
                already_gone: r.try_get("already_gone")?,
                not_found: r.try_get("not_found")?,
                geo_blocked: r.try_get("geo_blocked")?,
                rejected: r.try_get("rejected")?,
                failed: r.try_get("failed")?,
                pending: r.try_get("pending")?,
            },
            reasons,
            removal_orders: r.try_get("removal_orders")?,
        }
    }};
}
pub(crate) use decode_counts;

/// (platform, measure, n, rank, value)
pub(crate) type PercentileRow = (String, i64, i64, i64, i64);
/// (platform, acted, within hour)
pub(crate) type RemovalRow = (String, i64, i64);
/// (agency, lists, items)
pub(crate) type ListsRow = (String, i64, i64);
/// (agency, merged, held, delivered, blocked, rejected, not a violation)
pub(crate) type AgencyRow = (String, i64, i64, i64, i64, i64, i64);
/// (platform, at, blocks)
pub(crate) type BlockRow = (String, i64, i64);

/// Every query's rows, as read in one snapshot.
pub(crate) struct Rows {
    pub counts: Vec<CountsRow>,
    pub percentiles: Vec<PercentileRow>,
    pub removal: Vec<RemovalRow>,
    pub lists: Vec<ListsRow>,
    pub agencies: Vec<AgencyRow>,
    pub blocks: Vec<BlockRow>,
}

/// The 1-based nearest rank of percentile `p` among `n` values.
fn rank(p: i64, n: i64) -> i64 {
    (p * n + 99) / 100
}

fn percentiles(rows: &[&PercentileRow]) -> LatencyPercentiles {
    let Some(n) = rows.first().map(|r| r.2) else {
        return LatencyPercentiles::default();
    };
    let at = |p: i64| {
        let k = rank(p, n);
        rows.iter().find(|r| r.3 == k).map(|r| r.4).unwrap_or(0)
    };
    LatencyPercentiles {
        count: n,
        p50: at(50),
        p90: at(90),
        p99: at(99),
    }
}

/// Assembles the rows into the summary, sorted by platform / agency.
pub(crate) fn assemble(rows: Rows) -> SummaryFacts {
    let mut platforms: Vec<PlatformFacts> = rows
        .counts
        .into_iter()
        .map(|c| {
            let name = c.counts.platform.clone();
            let of = |m: i64| {
                let mine: Vec<&PercentileRow> = rows
                    .percentiles
                    .iter()
                    .filter(|r| r.0 == name && r.1 == m)
                    .collect();
                percentiles(&mine)
            };
            let (acted, within) = rows
                .removal
                .iter()
                .find(|r| r.0 == name)
                .map(|r| (r.1, r.2))
                .unwrap_or((0, 0));
            PlatformFacts {
                rejected_by_reason: (0..6).zip(c.reasons).filter(|(_, n)| *n > 0).collect(),
                release_to_ack: of(0),
                release_to_action: of(1),
                removal_orders: c.removal_orders,
                removal_orders_acted: acted,
                removal_orders_within_hour: within,
                counts: c.counts,
            }
        })
        .collect();
    platforms.sort_by(|a, b| a.counts.platform.cmp(&b.counts.platform));

    let mut agencies: BTreeMap<String, AgencyFacts> = BTreeMap::new();
    for (agency, lists, items) in rows.lists {
        let a = agencies.entry(agency.clone()).or_default();
        a.agency_id = agency;
        a.lists = lists;
        a.items = items;
    }
    for (agency, merged, held, delivered, blocked, rejected, nav) in rows.agencies {
        let a = agencies.entry(agency.clone()).or_default();
        a.agency_id = agency;
        a.merged_with_other_agencies = merged;
        a.held = held;
        a.delivered = delivered;
        a.blocked = blocked;
        a.rejected = rejected;
        a.rejected_not_a_violation = nav;
    }

    let mut series: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for (platform, at, n) in rows.blocks {
        series.entry(platform).or_default().push((at, n));
    }
    let blocks = series
        .into_iter()
        .map(|(platform, mut buckets)| {
            buckets.sort_unstable();
            let mut total = 0;
            let points = buckets
                .into_iter()
                .map(|(at, n)| {
                    total += n;
                    BlockPoint {
                        at,
                        cumulative: total,
                    }
                })
                .collect();
            BlockSeriesFacts { platform, points }
        })
        .collect();

    SummaryFacts {
        platforms,
        agencies: agencies.into_values().collect(),
        blocks,
    }
}

/// The summary's queries in the SQLite dialect (PostgreSQL: [`pg`] of them), named, with
/// their parameters, so that benchmarks can show their plans: 4 = (day, now, platform,
/// agency), 3 = (day, now, agency), 2 = (day, agency).
#[cfg(feature = "test-util")]
pub fn queries() -> [(&'static str, &'static str, usize); 6] {
    [
        ("counts", COUNTS, 4),
        ("percentiles", PERCENTILES, 4),
        ("removal orders", REMOVAL_ORDERS, 4),
        ("blocks", BLOCKS, 4),
        ("agency lists", AGENCY_LISTS, 2),
        ("agency targets", AGENCY_TARGETS, 3),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        assert_eq!(rank(50, 1), 1);
        assert_eq!(rank(99, 1), 1);
        assert_eq!(rank(50, 4), 2);
        assert_eq!(rank(90, 4), 4);
        assert_eq!(rank(50, 5), 3);
        assert_eq!(rank(90, 10), 9);
        assert_eq!(rank(99, 10), 10);
        assert_eq!(rank(99, 100), 99);
        assert_eq!(rank(90, 1_000_000), 900_000);
    }

    #[test]
    fn postgres_parameters() {
        assert_eq!(pg("a = ?1 AND b = ?12"), "a = $1 AND b = $12");
        assert!(!pg(COUNTS).contains('?'));
    }
}
