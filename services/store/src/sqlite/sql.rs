//! Id sets, and chunked bulk statements within SQLite's bound-parameter limit.

use std::sync::Arc;

use sqlx::{Database, SqlSafeStr, Sqlite, query::Query};

type Args = <Sqlite as Database>::Arguments;

/// A statement whose text depends on the size of its input (a multi-row `VALUES` of a
/// bulk insert or update): prepared for this one use and not kept in the connection's
/// statement cache. Cached, every distinct size would stay there as a compiled program as
/// long as its placeholder list (up to the cache's 100 statements per connection), and the hub's
/// memory grew with the variety of batch sizes an action day brought. Preparing costs far
/// less than running such a statement over its thousands of rows.
pub(super) fn sized<'q>(sql: impl SqlSafeStr) -> Query<'q, Sqlite, Args> {
    sqlx::query(sql).persistent(false)
}

/// SQLite's limit on bound parameters per statement (`SQLITE_MAX_VARIABLE_NUMBER`).
pub(super) const MAX_PARAMS: usize = 32766;

/// A set of ids as one JSON array, bound as one parameter and read with
/// `IN (SELECT value FROM json_each(?N))`: the one way a statement here takes a set of ids
/// (as PostgreSQL's take an array, `= ANY($N)`), so its text is the same whatever the set's
/// size and it stays prepared in the connection's statement cache. Row ids are numbers and
/// names are strings in the array.
pub(super) fn id_set<T: serde::Serialize>(ids: &[T]) -> String {
    // Numbers and strings always serialize.
    serde_json::to_string(ids).expect("an id set serializes")
}

/// `?, ?, ...` (`n` anonymous placeholders).
///
/// Bulk statements use anonymous placeholders only: SQLite looks numbered ones (`?NNN`) up
/// in a linear list on every bind, which makes binding tens of thousands of them quadratic,
/// and sqlx cannot mix the two styles. Their binds follow the order of appearance.
fn anon(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

/// `(literals ?, ?, ...), (...)`: `rows` rows of `literals` (constant SQL such as
/// `"1, 0, "`) followed by `per_row` anonymous placeholders.
pub(super) fn values_rows(rows: usize, literals: &str, per_row: usize) -> String {
    let one = format!("({literals}{})", anon(per_row));
    let mut s = String::with_capacity(rows * (one.len() + 2));
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push_str(&one);
    }
    s
}

/// Splits `n` rows into chunks of at most `max` rows and gives, for each chunk, its range
/// and its SQL (built once for full chunks).
pub(super) fn chunks(
    n: usize,
    max: usize,
    sql: impl Fn(usize) -> String,
) -> Vec<(std::ops::Range<usize>, Arc<str>)> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut full: Option<Arc<str>> = None;
    let mut start = 0;
    while start < n {
        let end = (start + max).min(n);
        let text = if end - start == max {
            full.get_or_insert_with(|| Arc::from(sql(max))).clone()
        } else {
            Arc::from(sql(end - start))
        };
        out.push((start..end, text));
        start = end;
    }
    out
}

/// Rows per chunk for `per_row` parameters per row after `leading` ones.
pub(super) fn rows_per_chunk(leading: usize, per_row: usize) -> usize {
    (MAX_PARAMS - leading) / per_row
}
