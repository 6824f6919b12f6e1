//! Embedded migrations. Each backend has its own folder under `migrations/`, written in its
//! own dialect; the files are compiled in with `include_str!` (no `sqlx` macros needed) and
//! applied by sqlx's migrator, which records them in `_sqlx_migrations`. Append-only: a
//! committed migration is never edited or removed (`.ci/check-migrations` checks it); a
//! schema change is a new file and a new entry here.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQL) of one migration.
type Source = (i64, &'static str, &'static str);

const SQLITE: &[Source] = &[
    (
        1,
        "baseline",
        include_str!("../migrations/sqlite/0001_baseline.sql"),
    ),
    (
        2,
        "referral withdrawals",
        include_str!("../migrations/sqlite/0002_referral_withdrawals.sql"),
    ),
    (
        3,
        "referral legal basis",
        include_str!("../migrations/sqlite/0003_referral_legal_basis.sql"),
    ),
    (
        4,
        "claim owners",
        include_str!("../migrations/sqlite/0004_claim_owners.sql"),
    ),
    (
        5,
        "key set statements",
        include_str!("../migrations/sqlite/0005_key_set_statements.sql"),
    ),
    (
        6,
        "audit heads",
        include_str!("../migrations/sqlite/0006_audit_heads.sql"),
    ),
    (
        7,
        "hub secrets",
        include_str!("../migrations/sqlite/0007_hub_secrets.sql"),
    ),
    (
        8,
        "failed deliveries",
        include_str!("../migrations/sqlite/0008_failed_deliveries.sql"),
    ),
    (
        9,
        "refused reports",
        include_str!("../migrations/sqlite/0009_refused_reports.sql"),
    ),
    (
        10,
        "removal orders",
        include_str!("../migrations/sqlite/0010_removal_orders.sql"),
    ),
    (
        11,
        "removal order pauses",
        include_str!("../migrations/sqlite/0011_removal_order_pauses.sql"),
    ),
    (
        12,
        "first action",
        include_str!("../migrations/sqlite/0012_first_action.sql"),
    ),
    (
        13,
        "withdrawal grounds",
        include_str!("../migrations/sqlite/0013_withdrawal_grounds.sql"),
    ),
    (
        14,
        "platform rate limits",
        include_str!("../migrations/sqlite/0014_platform_rate_limits.sql"),
    ),
    (
        15,
        "staffed hours",
        include_str!("../migrations/sqlite/0015_staffed_hours.sql"),
    ),
    (
        16,
        "removal order deliveries",
        include_str!("../migrations/sqlite/0016_removal_order_deliveries.sql"),
    ),
    (
        17,
        "scrutiny upheld",
        include_str!("../migrations/sqlite/0017_scrutiny_upheld.sql"),
    ),
    (
        18,
        "pull mode",
        include_str!("../migrations/sqlite/0018_pull_mode.sql"),
    ),
    (
        19,
        "retention: preservations, hold salts",
        include_str!("../migrations/sqlite/0019_retention.sql"),
    ),
];

const POSTGRES: &[Source] = &[
    (
        1,
        "baseline",
        include_str!("../migrations/postgres/0001_baseline.sql"),
    ),
    (
        2,
        "referral withdrawals",
        include_str!("../migrations/postgres/0002_referral_withdrawals.sql"),
    ),
    (
        3,
        "referral legal basis",
        include_str!("../migrations/postgres/0003_referral_legal_basis.sql"),
    ),
    (
        4,
        "claim owners",
        include_str!("../migrations/postgres/0004_claim_owners.sql"),
    ),
    (
        5,
        "key set statements",
        include_str!("../migrations/postgres/0005_key_set_statements.sql"),
    ),
    (
        6,
        "audit heads",
        include_str!("../migrations/postgres/0006_audit_heads.sql"),
    ),
    (
        7,
        "hub secrets",
        include_str!("../migrations/postgres/0007_hub_secrets.sql"),
    ),
    (
        8,
        "failed deliveries",
        include_str!("../migrations/postgres/0008_failed_deliveries.sql"),
    ),
    (
        9,
        "refused reports",
        include_str!("../migrations/postgres/0009_refused_reports.sql"),
    ),
    (
        10,
        "removal orders",
        include_str!("../migrations/postgres/0010_removal_orders.sql"),
    ),
    (
        11,
        "removal order pauses",
        include_str!("../migrations/postgres/0011_removal_order_pauses.sql"),
    ),
    (
        12,
        "first action",
        include_str!("../migrations/postgres/0012_first_action.sql"),
    ),
    (
        13,
        "withdrawal grounds",
        include_str!("../migrations/postgres/0013_withdrawal_grounds.sql"),
    ),
    (
        14,
        "platform rate limits",
        include_str!("../migrations/postgres/0014_platform_rate_limits.sql"),
    ),
    (
        15,
        "staffed hours",
        include_str!("../migrations/postgres/0015_staffed_hours.sql"),
    ),
    (
        16,
        "removal order deliveries",
        include_str!("../migrations/postgres/0016_removal_order_deliveries.sql"),
    ),
    (
        17,
        "scrutiny upheld",
        include_str!("../migrations/postgres/0017_scrutiny_upheld.sql"),
    ),
    (
        18,
        "pull mode",
        include_str!("../migrations/postgres/0018_pull_mode.sql"),
    ),
    (
        19,
        "retention: preservations, hold salts",
        include_str!("../migrations/postgres/0019_retention.sql"),
    ),
];

fn migrator(sources: &[Source]) -> Migrator {
    Migrator::with_migrations(
        sources
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}
