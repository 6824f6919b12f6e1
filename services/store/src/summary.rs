//! The action-day summary, shared by the backends: the queries (written once, the same
//! text in both dialects, with `$N` parameters, which SQLite binds by number too) and the
//! assembly of their rows into [`SummaryFacts`].
//!
//! The queries read the summary rollups (`summary_cells`, `summary_latency`,
//! `summary_blocks`, `summary_merged`), which the store's writers keep in the transaction
//! of every change to `targets` and `referrals` ([`crate::rollup`]): a few hundred rows per
//! day whatever its size, where scanning a million targets took seconds. The rollups are
//! derived from the stored facts and [`rebuild`](crate::Store::rebuild_summary) recomputes
//! them from those facts alone. What depends on the reader's clock is read from
//! the facts: holds (active at `now`) are few, and their targets are looked up one by one.
//!
//! The parameters of the per-view queries are: `$1` action day id, `$2` now, `$3` platform
//! of a platform view (NULL otherwise), `$4` agency of an agency view (NULL otherwise).
//! Rollup rows of agency '' are the whole day's; an agency view reads its own agency's rows.
//!
//! Precision: latency percentiles are nearest-rank over the latency truncated to three
//! significant digits (exact below one second, at most 1 % low above); the block series
//! is read at the coarsest of five resolutions (1 s to 1 h) that fits its ~200 buckets,
//! each point at the end of its bucket's last slot with a block.

use std::collections::BTreeMap;

use const_format::{concatcp, formatcp};

use crate::codes::{
    ALREADY_GONE, BLOCKED, DECISION, FORCE_MAJEURE, GEO_BLOCKED, INSUFFICIENT_INFORMATION,
    MANIFEST_ERROR, NO_REASON, NOT_A_VIOLATION, NOT_FOUND, OTHER_REASON, REJECTED, REMOVAL_ORDER,
    UNDECIDED,
};
use crate::model::*;

/// The rollup rows of the view.
macro_rules! rollup_view {
    () => {
        "action_day_id = $1 AND agency = COALESCE($4, '') AND ($3 IS NULL OR platform = $3)"
    };
}

/// `SUM(n)` over the cells that match a condition, as BIGINT on both backends.
macro_rules! sum_if {
    ($cond:expr, $name:literal) => {
        concatcp!(
            "CAST(SUM(CASE WHEN ",
            $cond,
            " THEN n ELSE 0 END) AS BIGINT) AS ",
            $name,
            ", "
        )
    };
}

/// Per-platform counts from `summary_cells`, before the hold correction of [`HELD`]:
/// `released` and `pending` count every due target as released. Rejections by reason
/// (`r0` = unspecified or unknown); delivered removal orders, acted on, within the hour.
pub(crate) const COUNTS: &str = concatcp!(
    "SELECT platform, CAST(SUM(n) AS BIGINT) AS referred, ",
    sum_if!("delivered = 1 OR due_at <= $2", "released"),
    sum_if!("delivered = 1", "delivered"),
    sum_if!("acked = 1", "acknowledged"),
    sum_if!(formatcp!("outcome = {BLOCKED}"), "blocked"),
    sum_if!(formatcp!("outcome = {ALREADY_GONE}"), "already_gone"),
    sum_if!(formatcp!("outcome = {NOT_FOUND}"), "not_found"),
    sum_if!(formatcp!("outcome = {GEO_BLOCKED}"), "geo_blocked"),
    sum_if!(formatcp!("outcome = {REJECTED}"), "rejected"),
    sum_if!("failed = 1", "failed"),
    sum_if!(
        formatcp!("(delivered = 1 OR due_at <= $2) AND failed = 0 AND outcome = {UNDECIDED}"),
        "pending"
    ),
    // r<n>: rejections with reason number n (decoded back with `RejectReason::try_from`).
    sum_if!(
        formatcp!("outcome = {REJECTED} AND reason = {NO_REASON}"),
        "r0"
    ),
    sum_if!(
        formatcp!("outcome = {REJECTED} AND reason = {NOT_A_VIOLATION}"),
        "r1"
    ),
    sum_if!(
        formatcp!("outcome = {REJECTED} AND reason = {INSUFFICIENT_INFORMATION}"),
        "r2"
    ),
    sum_if!(
        formatcp!("outcome = {REJECTED} AND reason = {MANIFEST_ERROR}"),
        "r3"
    ),
    sum_if!(
        formatcp!("outcome = {REJECTED} AND reason = {FORCE_MAJEURE}"),
        "r4"
    ),
    sum_if!(
        formatcp!("outcome = {REJECTED} AND reason = {OTHER_REASON}"),
        "r5"
    ),
    sum_if!("removal_order = 1 AND delivered = 1", "removal_orders"),
    sum_if!(
        "removal_order = 1 AND ro_clock IN (1, 2)",
        "removal_orders_acted"
    ),
    sum_if!(
        formatcp!(
            "removal_order = 1 AND outcome = {REJECTED} AND reason IN \
             ({INSUFFICIENT_INFORMATION}, {MANIFEST_ERROR}, {FORCE_MAJEURE})"
        ),
        "removal_orders_cannot_execute"
    ),
    sum_if!(
        "removal_order = 1 AND ro_clock = 1",
        "removal_orders_within_hour"
    ),
    sum_if!("removal_order = 0 AND delivered = 1", "tos_referrals"),
    sum_if!(
        "removal_order = 0 AND ro_clock IN (1, 2)",
        "tos_referrals_acted"
    ),
    "CAST(SUM(CASE WHEN removal_order = 0 AND ro_clock = 1 THEN n ELSE 0 END) AS BIGINT) \
       AS tos_referrals_within_hour \
     FROM summary_cells WHERE ",
    rollup_view!(),
    " GROUP BY platform HAVING SUM(n) > 0"
);

/// The day's targets not yet delivered and under a hold active at `$2`, read from the facts
/// (holds are few; each is looked up by its target's key): rows (agency, platform, held,
/// held and due, held and due and neither failed nor decided), agency '' for the whole
/// day, then one row set per referring agency (only `$4`'s in an agency view).
pub(crate) const HELD: &str = "WITH ht AS (SELECT DISTINCT t.id, t.platform, t.due_at, \
       t.failed_at, t.outcome FROM holds h JOIN targets t ON t.scope = $1 \
       AND t.platform = h.platform AND t.normalized = h.normalized \
     WHERE h.released_at IS NULL AND h.expires_at > $2 AND t.action_day_id = $1 \
       AND t.delivered_at IS NULL AND ($3 IS NULL OR t.platform = $3)), \
     a AS (SELECT '' AS agency, id FROM ht UNION \
           SELECT r.agency_id, r.target_id FROM referrals r JOIN ht ON ht.id = r.target_id) \
     SELECT a.agency, ht.platform, COUNT(*) AS held, \
       COUNT(*) FILTER (WHERE ht.due_at <= $2) AS held_due, \
       COUNT(*) FILTER (WHERE ht.due_at <= $2 AND ht.failed_at IS NULL \
             AND ht.outcome IS NULL) AS held_pending \
     FROM a JOIN ht ON ht.id = a.id WHERE $4 IS NULL OR a.agency = $4 \
     GROUP BY a.agency, ht.platform";

/// The latency histograms of the view, in key order: rows (platform, measure, bucket, n);
/// measure 0 is release to acknowledgement, 1 release to action, 2 the paused time of the
/// removal orders acted on after a pause ([`crate::rollup::PAUSED`]). Nearest-rank percentiles
/// are read off them in [`assemble`] (an index range, no sort).
pub(crate) const LATENCY: &str = concatcp!(
    "SELECT platform, CAST(measure AS BIGINT) AS measure, bucket, n FROM summary_latency \
     WHERE n > 0 AND ",
    rollup_view!(),
    " ORDER BY summary_latency.platform, summary_latency.measure, summary_latency.bucket"
);

/// Per agency: rows (agency, lists, items) of its lists of the day. Parameters: `$1` day,
/// `$2` agency of an agency view (NULL for all).
pub(crate) const AGENCY_LISTS: &str = "SELECT agency_id, COUNT(*) AS lists, \
       CAST(SUM(item_count) AS BIGINT) AS items \
     FROM lists WHERE action_day_id = $1 AND ($2 IS NULL OR agency_id = $2) \
     GROUP BY agency_id";

/// Per agency, over the distinct targets it referred: rows (agency, delivered, blocked,
/// rejected, not a violation, merged). Parameters: `$1` day, `$2` agency of an agency view
/// (NULL for all).
pub(crate) const AGENCY_TARGETS: &str = concatcp!(
    "WITH c AS (SELECT agency, ",
    sum_if!("delivered = 1", "delivered"),
    sum_if!(formatcp!("outcome = {BLOCKED}"), "blocked"),
    sum_if!(formatcp!("outcome = {REJECTED}"), "rejected"),
    formatcp!(
        "CAST(SUM(CASE WHEN outcome = {REJECTED} AND reason = {NOT_A_VIOLATION} \
         AND delivered = 1 THEN n ELSE 0 END) AS BIGINT) AS not_a_violation "
    ),
    "\
     FROM summary_cells WHERE action_day_id = $1 AND agency <> '' \
       AND ($2 IS NULL OR agency = $2) GROUP BY agency) \
     SELECT c.agency, c.delivered, c.blocked, c.rejected, c.not_a_violation, \
       COALESCE(m.n, 0) AS merged \
     FROM c LEFT JOIN summary_merged m ON m.action_day_id = $1 AND m.agency = c.agency"
);

/// The first and last second with a block in the view: one row (lo, hi), NULLs when none.
pub(crate) const BLOCK_EDGES: &str = concatcp!(
    "SELECT (SELECT slot FROM summary_blocks WHERE level = 1 AND n > 0 AND ",
    rollup_view!(),
    " ORDER BY slot LIMIT 1) AS lo, \
     (SELECT slot FROM summary_blocks WHERE level = 1 AND n > 0 AND ",
    rollup_view!(),
    " ORDER BY slot DESC LIMIT 1) AS hi"
);

/// The blocks of the view at level `$5` for slots `$6..=$7`: rows (platform, slot, n).
pub(crate) const BLOCK_SLOTS: &str = concatcp!(
    "SELECT platform, slot, n FROM summary_blocks \
     WHERE level = $5 AND slot BETWEEN $6 AND $7 AND n > 0 AND ",
    rollup_view!()
);

/// The resolutions of `summary_blocks`, in seconds.
const BLOCK_LEVELS: [i64; 5] = [1, 10, 60, 600, 3600];

/// How the block series of a span is read: buckets of `width` seconds from `origin`, made
/// of slots of `level` seconds (the coarsest level that fits a bucket, so that a series
/// reads at most about 2 000 slots per platform whatever its span).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockGrid {
    pub level: i64,
    pub width: i64,
    pub origin: i64,
}

impl BlockGrid {
    /// At most about 200 buckets over the seconds `lo..=hi`.
    pub fn new(lo: i64, hi: i64) -> Self {
        let width = ((hi - lo + 199) / 200).max(1);
        let level = BLOCK_LEVELS
            .iter()
            .rev()
            .copied()
            .find(|&l| l <= width)
            .unwrap_or(1);
        Self {
            level,
            width: (width + level - 1) / level * level,
            origin: lo - lo.rem_euclid(level),
        }
    }

    /// The slots (at `level`) that cover `lo..=hi`.
    pub fn slots(&self, lo: i64, hi: i64) -> (i64, i64) {
        (lo.div_euclid(self.level), hi.div_euclid(self.level))
    }

    /// Sums slot rows (platform, slot, n) into buckets: rows (platform, end of the bucket's
    /// last slot with a block in milliseconds, blocks).
    pub fn buckets(&self, rows: Vec<(PlatformName, i64, i64)>) -> Vec<BlockRow> {
        let mut sums: BTreeMap<(PlatformName, i64), (i64, i64)> = BTreeMap::new();
        for (platform, slot, n) in rows {
            let start = slot * self.level;
            let bucket = (start - self.origin).div_euclid(self.width);
            let e = sums.entry((platform, bucket)).or_insert((start, 0));
            e.0 = e.0.max(start);
            e.1 += n;
        }
        sums.into_iter()
            .map(|((platform, _), (last, n))| (platform, (last + self.level) * 1000, n))
            .collect()
    }
}

/// The removal-order clock of the delivered removal orders selected by `$filter` (on
/// targets `t`), written to `targets.ro_elapsed` (and the time it stood still to
/// `targets.ro_paused`): from delivery to the first action
/// (decision BLOCKED, ALREADY_GONE, NOT_FOUND or GEO_BLOCKED), less the time a "cannot
/// execute" decision (INSUFFICIENT_INFORMATION, MANIFEST_ERROR, FORCE_MAJEURE) was open,
/// i.e. until the next decision. (`CROSS JOIN` makes SQLite look the reports up per removal
/// order instead of scanning them all.)
macro_rules! clock {
    ($filter:literal) => {
        concatcp!(
            formatcp!(
                "WITH ro AS (SELECT t.id, t.delivered_at FROM targets t \
                 WHERE t.legal_basis = {REMOVAL_ORDER} AND t.delivered_at IS NOT NULL AND "
            ),
            $filter,
            formatcp!("), d AS (SELECT ro.id, ro.delivered_at, p.reported_at AS at, p.outcome, p.reason, \
                  LEAD(p.reported_at) OVER (PARTITION BY p.target_id \
                       ORDER BY p.reported_at, p.received_at, p.report_id) AS next_at \
                FROM ro CROSS JOIN reports p WHERE p.target_id = ro.id AND p.kind = {DECISION}), \
             a AS (SELECT id, MIN(at) AS acted FROM d WHERE outcome BETWEEN {BLOCKED} AND {GEO_BLOCKED} \
                  GROUP BY id), \
             z AS (SELECT d.id, \
                  CASE WHEN d.at > d.delivered_at THEN d.at ELSE d.delivered_at END AS s, \
                  CASE WHEN d.next_at IS NOT NULL AND d.next_at < a.acted \
                       THEN d.next_at ELSE a.acted END AS e \
                FROM d JOIN a ON a.id = d.id \
                WHERE d.outcome = {REJECTED} \
                  AND d.reason IN ({INSUFFICIENT_INFORMATION}, {MANIFEST_ERROR}, {FORCE_MAJEURE}) \
                  AND d.at < a.acted), \
             pz AS (SELECT id, CAST(SUM(CASE WHEN e > s THEN e - s ELSE 0 END) AS BIGINT) \
                      AS paused FROM z GROUP BY id), \
             res AS (SELECT ro.id, a.acted - ro.delivered_at - COALESCE(pz.paused, 0) AS el, \
                  COALESCE(pz.paused, 0) AS paused \
                FROM ro JOIN a ON a.id = ro.id LEFT JOIN pz ON pz.id = ro.id) \
             UPDATE targets SET ro_elapsed = res.el, ro_paused = res.paused FROM res \
             WHERE targets.id = res.id AND (targets.ro_elapsed IS NULL \
                   OR targets.ro_elapsed <> res.el OR targets.ro_paused IS NULL \
                   OR targets.ro_paused <> res.paused)")
        )
    };
}

/// The clock of the targets in the JSON array `$1` (SQLite).
pub(crate) const CLOCK_OF_JSON_TARGETS: &str = clock!("t.id IN (SELECT value FROM json_each($1))");
/// The clock of the targets in the array `$1` (PostgreSQL).
pub(crate) const CLOCK_OF_TARGETS: &str = clock!("t.id = ANY($1)");
/// The clock of every removal order of a day (`$1`).
pub(crate) const CLOCK_OF_DAY: &str = clock!("t.action_day_id = $1");

/// Rebuilding a day's rollups (`$1`): first these deletions, then each backend adds every
/// target's contribution again ([`crate::rollup`]).
pub(crate) const REBUILD_DELETE: [&str; 4] = [
    "DELETE FROM summary_cells WHERE action_day_id = $1",
    "DELETE FROM summary_latency WHERE action_day_id = $1",
    "DELETE FROM summary_blocks WHERE action_day_id = $1",
    "DELETE FROM summary_merged WHERE action_day_id = $1",
];

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
    /// `held` is 0 here; `released` and `pending` include held targets.
    pub counts: PlatformCounts,
    /// Rejections by reason 0..=5.
    pub reasons: [i64; 6],
    pub removal_orders: i64,
    pub removal_orders_acted: i64,
    pub removal_orders_within_hour: i64,
    pub removal_orders_cannot_execute: i64,
    pub tos_referrals: i64,
    pub tos_referrals_acted: i64,
    pub tos_referrals_within_hour: i64,
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
                held: 0,
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
            removal_orders_acted: r.try_get("removal_orders_acted")?,
            removal_orders_within_hour: r.try_get("removal_orders_within_hour")?,
            removal_orders_cannot_execute: r.try_get("removal_orders_cannot_execute")?,
            tos_referrals: r.try_get("tos_referrals")?,
            tos_referrals_acted: r.try_get("tos_referrals_acted")?,
            tos_referrals_within_hour: r.try_get("tos_referrals_within_hour")?,
        }
    }};
}
pub(crate) use decode_counts;

/// Binds the four parameters every view-scoped summary query takes, in order: day, reader's
/// clock, platform filter, agency filter.
macro_rules! bind_view {
    ($q:expr, $day:expr, $now:expr, $platform:expr, $agency:expr) => {
        $q.bind($day).bind($now).bind($platform).bind($agency)
    };
}
pub(crate) use bind_view;

/// Runs every query of a summary of `$day` for `$view` at `$now` in the transaction `$tx`
/// (one snapshot) and gives their [`Rows`], for either backend (`$row` is its row type).
macro_rules! read_rows {
    ($tx:ident, $row:ty, $day:expr, $view:expr, $now:expr) => {{
        use $crate::summary as q;
        let (day, now, view) = ($day, $now, $view);
        let (platform, agency) = q::view_params(view);
        let counts = q::bind_view!(sqlx::query(q::COUNTS), day, now, platform, agency)
            .fetch_all(&mut *$tx)
            .await?
            .iter()
            .map(|r: &$row| Ok(q::decode_counts!(r)))
            .collect::<sqlx::Result<Vec<_>>>()?;
        let held = q::bind_view!(sqlx::query_as(q::HELD), day, now, platform, agency)
            .fetch_all(&mut *$tx)
            .await?;
        let latency = q::bind_view!(sqlx::query_as(q::LATENCY), day, now, platform, agency)
            .fetch_all(&mut *$tx)
            .await?;
        let (lo, hi): (Option<i64>, Option<i64>) =
            q::bind_view!(sqlx::query_as(q::BLOCK_EDGES), day, now, platform, agency)
                .fetch_one(&mut *$tx)
                .await?;
        let blocks = match (lo, hi) {
            (Some(lo), Some(hi)) => {
                let grid = q::BlockGrid::new(lo, hi);
                let (first, last) = grid.slots(lo, hi);
                let slots =
                    q::bind_view!(sqlx::query_as(q::BLOCK_SLOTS), day, now, platform, agency)
                        .bind(grid.level)
                        .bind(first)
                        .bind(last)
                        .fetch_all(&mut *$tx)
                        .await?;
                grid.buckets(slots)
            }
            _ => Vec::new(),
        };
        let (lists, agencies) = if matches!(view, $crate::model::SummaryView::Platform(_)) {
            (Vec::new(), Vec::new())
        } else {
            let lists = sqlx::query_as(q::AGENCY_LISTS)
                .bind(day)
                .bind(agency)
                .fetch_all(&mut *$tx)
                .await?;
            let agencies = sqlx::query_as(q::AGENCY_TARGETS)
                .bind(day)
                .bind(agency)
                .fetch_all(&mut *$tx)
                .await?;
            (lists, agencies)
        };
        q::Rows {
            agency: agency.unwrap_or_default().to_string(),
            without_holds: matches!(view, $crate::model::SummaryView::Platform(_)),
            counts,
            held,
            latency,
            lists,
            agencies,
            blocks,
        }
    }};
}
pub(crate) use read_rows;

/// (agency, platform, held, held and due, held and pending)
pub(crate) type HeldRow = (String, String, i64, i64, i64);
/// (platform, measure, bucket, n)
pub(crate) type LatencyRow = (String, i64, i64, i64);
/// (agency, lists, items)
pub(crate) type ListsRow = (OrgId, i64, i64);
/// (agency, delivered, blocked, rejected, not a violation, merged)
pub(crate) type AgencyRow = (OrgId, i64, i64, i64, i64, i64);
/// (platform, at, blocks)
pub(crate) type BlockRow = (PlatformName, i64, i64);

/// Every query's rows, as read in one snapshot.
pub(crate) struct Rows {
    /// The agency whose rollups were read: '' for the whole day.
    pub agency: String,
    /// A platform's view: held targets do not exist in it (not referred, not held, not
    /// released, not pending), so that it never learns that a hold exists.
    pub without_holds: bool,
    pub counts: Vec<CountsRow>,
    pub held: Vec<HeldRow>,
    pub latency: Vec<LatencyRow>,
    pub lists: Vec<ListsRow>,
    pub agencies: Vec<AgencyRow>,
    pub blocks: Vec<BlockRow>,
}

/// The 1-based nearest rank of percentile `p` among `n` values.
fn rank(p: i64, n: i64) -> i64 {
    (p * n + 99) / 100
}

/// Nearest-rank percentiles of a histogram: (bucket, count) rows in bucket order.
fn percentiles(rows: &[(i64, i64)]) -> LatencyPercentiles {
    let n: i64 = rows.iter().map(|r| r.1).sum();
    if n == 0 {
        return LatencyPercentiles::default();
    }
    let at = |p: i64| {
        let k = rank(p, n);
        let mut seen = 0;
        for &(bucket, count) in rows {
            seen += count;
            if seen >= k {
                return bucket;
            }
        }
        0
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
                let mine: Vec<(i64, i64)> = rows
                    .latency
                    .iter()
                    .filter(|r| r.0 == name && r.1 == m)
                    .map(|r| (r.2, r.3))
                    .collect();
                percentiles(&mine)
            };
            let paused_rows: Vec<(i64, i64)> = rows
                .latency
                .iter()
                .filter(|r| r.0 == name && r.1 == i64::from(crate::rollup::PAUSED))
                .map(|r| (r.2, r.3))
                .collect();
            let paused = percentiles(&paused_rows);
            let paused_total: i64 = paused_rows.iter().map(|(b, n)| b * n).sum();
            let mut counts = c.counts;
            for (_, _, held, due, pending) in rows
                .held
                .iter()
                .filter(|h| h.0 == rows.agency && h.1 == name)
            {
                if rows.without_holds {
                    counts.referred -= held;
                } else {
                    counts.held += held;
                }
                counts.released -= due;
                counts.pending -= pending;
            }
            PlatformFacts {
                rejected_by_reason: (0..6)
                    .zip(c.reasons)
                    .filter(|(_, n)| *n > 0)
                    .map(|(r, n)| {
                        (
                            RejectReason::try_from(r).unwrap_or(RejectReason::Unspecified),
                            n,
                        )
                    })
                    .collect(),
                release_to_ack: of(crate::rollup::ACK.into()),
                release_to_action: of(crate::rollup::ACTION.into()),
                removal_orders: c.removal_orders,
                removal_orders_acted: c.removal_orders_acted,
                removal_orders_within_hour: c.removal_orders_within_hour,
                removal_orders_cannot_execute: c.removal_orders_cannot_execute,
                removal_orders_resumed: paused.count,
                // Each pause is kept to three significant digits (the histogram's buckets).
                removal_orders_paused_ms: paused_total,
                tos_referrals: c.tos_referrals,
                tos_referrals_acted: c.tos_referrals_acted,
                tos_referrals_within_hour: c.tos_referrals_within_hour,
                counts,
            }
        })
        .collect();
    platforms.sort_by(|a, b| a.counts.platform.cmp(&b.counts.platform));

    let mut agencies: BTreeMap<OrgId, AgencyFacts> = BTreeMap::new();
    for (agency, lists, items) in rows.lists {
        let a = agencies
            .entry(agency.clone())
            .or_insert_with(|| AgencyFacts::new(agency));
        a.lists = lists;
        a.items = items;
    }
    for (agency, delivered, blocked, rejected, nav, merged) in rows.agencies {
        let a = agencies
            .entry(agency.clone())
            .or_insert_with(|| AgencyFacts::new(agency));
        a.merged_with_other_agencies = merged;
        a.delivered = delivered;
        a.blocked = blocked;
        a.rejected = rejected;
        a.rejected_not_a_violation = nav;
    }
    for (agency, _, held, _, _) in rows.held.iter().filter(|h| !h.0.is_empty()) {
        if let Some(a) = agencies.get_mut(agency.as_str()) {
            a.held += held;
        }
    }

    let mut series: BTreeMap<PlatformName, Vec<(i64, i64)>> = BTreeMap::new();
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

/// The summary's queries (the same text on both backends), named, with their parameters, so that benchmarks can show their plans: 4 = (day, now, platform,
/// agency), 2 = (day, agency).
#[cfg(feature = "test-util")]
pub fn queries() -> [(&'static str, &'static str, usize); 6] {
    [
        ("counts", COUNTS, 4),
        ("held", HELD, 4),
        ("latency", LATENCY, 4),
        ("block edges", BLOCK_EDGES, 4),
        ("agency lists", AGENCY_LISTS, 2),
        ("agency targets", AGENCY_TARGETS, 2),
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
    fn block_grids() {
        // One second, or a short span: one-second slots.
        let g = BlockGrid::new(100, 100);
        assert_eq!((g.level, g.width, g.origin), (1, 1, 100));
        assert_eq!(BlockGrid::new(0, 199).width, 1);
        // Two hours: 36-second buckets of 10-second slots, from a slot boundary.
        let g = BlockGrid::new(1005, 1005 + 7200);
        assert_eq!((g.level, g.width, g.origin), (10, 40, 1000));
        assert_eq!(g.slots(1005, 8205), (100, 820));
        // A week: ten minutes; a month: hours.
        assert_eq!(BlockGrid::new(0, 7 * 86_400).level, 600);
        assert_eq!(BlockGrid::new(0, 30 * 86_400).level, 3600);
        // Buckets sum their slots and end at the last slot's end.
        let (p, q) = (
            PlatformName::parse("p").unwrap(),
            PlatformName::parse("q").unwrap(),
        );
        let rows = vec![
            (p.clone(), 100, 2),
            (p.clone(), 103, 1),
            (p.clone(), 104, 5),
            (q.clone(), 101, 1),
        ];
        assert_eq!(
            g.buckets(rows),
            vec![
                (p.clone(), 1040 * 1000, 3),
                (p.clone(), 1050 * 1000, 5),
                (q.clone(), 1020 * 1000, 1),
            ]
        );
    }

    #[test]
    fn histogram_percentiles() {
        let p = percentiles(&[(10, 1), (20, 2), (30, 96), (40, 1)]);
        assert_eq!((p.count, p.p50, p.p90, p.p99), (100, 30, 30, 30));
        let p = percentiles(&[(10, 1), (20, 1), (30, 1), (40, 1)]);
        assert_eq!((p.count, p.p50, p.p90, p.p99), (4, 20, 40, 40));
        assert_eq!(percentiles(&[]), LatencyPercentiles::default());
    }

    /// Both backends run these texts as they are: PostgreSQL knows only `$N` parameters.
    #[test]
    fn shared_statements_use_numbered_dollar_parameters() {
        let shared = [
            COUNTS,
            HELD,
            LATENCY,
            AGENCY_LISTS,
            AGENCY_TARGETS,
            BLOCK_EDGES,
            BLOCK_SLOTS,
            CLOCK_OF_TARGETS,
            CLOCK_OF_DAY,
            crate::day_move::MOVE_DAY,
            crate::day_move::DAY_STATE_FOR_UPDATE,
        ]
        .into_iter()
        .chain(REBUILD_DELETE)
        .chain(crate::day_move::MOVE_DUE);
        for sql in shared {
            assert!(!sql.contains('?'), "{sql}");
            assert!(sql.contains("$1"), "{sql}");
        }
    }
}
