//! Embedded migrations. Each backend has its own folder under `migrations/`, written in its
//! own dialect; the files are compiled in with `include_str!` (no `sqlx` macros needed) and
//! applied by sqlx's migrator, which records them in `_sqlx_migrations`.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQL) of one migration.
type Source = (i64, &'static str, &'static str);

const SQLITE: &[Source] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        3,
        "audit",
        include_str!("../migrations/sqlite/0003_audit.sql"),
    ),
    (
        4,
        "summary",
        include_str!("../migrations/sqlite/0004_summary.sql"),
    ),
    (
        5,
        "claim order",
        include_str!("../migrations/sqlite/0005_claim_order.sql"),
    ),
    (
        6,
        "summary sets",
        include_str!("../migrations/sqlite/0006_summary_sets.sql"),
    ),
];

const POSTGRES: &[Source] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        3,
        "audit",
        include_str!("../migrations/postgres/0003_audit.sql"),
    ),
    (
        4,
        "summary",
        include_str!("../migrations/postgres/0004_summary.sql"),
    ),
    (
        5,
        "claim order",
        include_str!("../migrations/postgres/0005_claim_order.sql"),
    ),
    (
        6,
        "summary linear",
        include_str!("../migrations/postgres/0006_summary_linear.sql"),
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
