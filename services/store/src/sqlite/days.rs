//! Action days.

use super::*;

const DAY_COLUMNS: &str = "id, name, starts_at, ends_at, created_at, released_at, closed_at";

fn day_row(r: &SqliteRow) -> sqlx::Result<ActionDay> {
    Ok(ActionDay {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        platforms: Vec::new(),
        agencies: Vec::new(),
        created_at: r.try_get("created_at")?,
        released_at: r.try_get("released_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

/// Fills in the platforms and agencies of these days.
pub(super) async fn with_members(
    pool: &SqlitePool,
    mut days: Vec<ActionDay>,
) -> StoreResult<Vec<ActionDay>> {
    if days.is_empty() {
        return Ok(days);
    }
    let ids: Vec<&str> = days.iter().map(|d| d.id.as_str()).collect();
    let pos: std::collections::HashMap<&str, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let set = id_set(&ids);
    let mut platforms: Vec<(usize, String)> = Vec::new();
    let mut agencies: Vec<(usize, String)> = Vec::new();
    for (sql, out) in [
        (
            "SELECT action_day_id, platform FROM action_day_platforms \
             WHERE action_day_id IN (SELECT value FROM json_each(?1)) ORDER BY action_day_id, platform",
            &mut platforms,
        ),
        (
            "SELECT action_day_id, agency_id FROM action_day_agencies \
             WHERE action_day_id IN (SELECT value FROM json_each(?1)) \
             ORDER BY action_day_id, agency_id",
            &mut agencies,
        ),
    ] {
        let rows: Vec<(String, String)> = sqlx::query_as(sql).bind(&set).fetch_all(pool).await?;
        for (day, member) in rows {
            if let Some(&i) = pos.get(day.as_str()) {
                out.push((i, member));
            }
        }
    }
    for (i, p) in platforms {
        days[i].platforms.push(crate::rows::to_id("platform", &p)?);
    }
    for (i, a) in agencies {
        days[i].agencies.push(crate::rows::to_id("agency_id", &a)?);
    }
    Ok(days)
}

pub(super) async fn days_where(
    pool: &SqlitePool,
    condition: &str,
    binds: &[i64],
) -> StoreResult<Vec<ActionDay>> {
    let sql = format!("SELECT {DAY_COLUMNS} FROM action_days {condition} ORDER BY starts_at, id");
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(*b);
    }
    let days = q
        .fetch_all(pool)
        .await?
        .iter()
        .map(day_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    with_members(pool, days).await
}

async fn day_by_id(pool: &SqlitePool, id: &ActionDayId) -> StoreResult<Option<ActionDay>> {
    let r = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DAY_COLUMNS} FROM action_days WHERE id = ?1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(r) = r else { return Ok(None) };
    let days = with_members(pool, vec![day_row(&r)?]).await?;
    Ok(days.into_iter().next())
}

impl ActionDays for SqliteStore {
    async fn insert_action_day(&self, day: &ActionDay, by: &OrgId) -> StoreResult<ActionDay> {
        let mut tx = write_tx(&self.writer).await?;
        let inserted = sqlx::query(
            "INSERT INTO action_days (id, name, starts_at, ends_at, created_at, released_at, \
             closed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&day.id)
        .bind(&day.name)
        .bind(day.starts_at)
        .bind(day.ends_at)
        .bind(day.created_at)
        .bind(day.released_at)
        .bind(day.closed_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "action day {:?} already exists",
                day.id
            )));
        }
        let platforms = plan::sorted_set(&day.platforms);
        let agencies = plan::sorted_set(&day.agencies);
        for p in &platforms {
            sqlx::query(
                "INSERT INTO action_day_platforms (action_day_id, platform) VALUES (?1, ?2)",
            )
            .bind(&day.id)
            .bind(p)
            .execute(&mut *tx)
            .await?;
        }
        for a in &agencies {
            sqlx::query(
                "INSERT INTO action_day_agencies (action_day_id, agency_id) VALUES (?1, ?2)",
            )
            .bind(&day.id)
            .bind(a)
            .execute(&mut *tx)
            .await?;
        }
        let stored = ActionDay {
            platforms,
            agencies,
            ..day.clone()
        };
        super::audit::append(&mut tx, &crate::audit::action_day_created(&stored, by)).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_action_day(&self, id: &ActionDayId) -> StoreResult<Option<ActionDay>> {
        day_by_id(&self.pool, id).await
    }

    async fn list_action_days(&self) -> StoreResult<Vec<ActionDay>> {
        days_where(&self.pool, "", &[]).await
    }

    async fn close_action_day(
        &self,
        id: &ActionDayId,
        at: i64,
        by: &OrgId,
    ) -> StoreResult<Option<ActionDay>> {
        let writer = &self.writer;
        let mut tx = write_tx(writer).await?;
        let n = sqlx::query(
            "UPDATE action_days SET closed_at = ?2 WHERE id = ?1 AND closed_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            super::audit::append(
                &mut tx,
                &crate::audit::action_day_event(id, "action_day_closed", at, by),
            )
            .await?;
        }
        tx.commit().await?;
        day_by_id(writer, id).await
    }

    async fn move_action_day(
        &self,
        id: &ActionDayId,
        starts_at: i64,
        ends_at: Option<i64>,
        now: i64,
        by: &OrgId,
    ) -> StoreResult<DayMove> {
        let writer = &self.writer;
        let mut tx = write_tx(writer).await?;
        let sql = crate::day_move::DAY_STATE;
        let Some(r) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(DayMove::NotFound);
        };
        let day = crate::day_move::DayState {
            starts_at: r.try_get(0)?,
            ends_at: r.try_get(1)?,
            released_at: r.try_get(2)?,
            closed_at: r.try_get(3)?,
        };
        let end = match crate::day_move::plan(&day, starts_at, ends_at, now)? {
            Ok(end) => end,
            Err(refused) => return Ok(refused),
        };
        sqlx::query(crate::day_move::MOVE_DAY)
            .bind(id)
            .bind(starts_at)
            .bind(end)
            .execute(&mut *tx)
            .await?;
        for sql in crate::day_move::MOVE_DUE {
            sqlx::query(sql)
                .bind(id)
                .bind(starts_at)
                .execute(&mut *tx)
                .await?;
        }
        super::summary::rebuild_in(&mut tx, id).await?;
        super::audit::append(
            &mut tx,
            &crate::audit::action_day_moved(
                id,
                (day.starts_at, day.ends_at),
                (starts_at, end),
                now,
                by,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(match day_by_id(writer, id).await? {
            Some(day) => DayMove::Moved(day),
            None => DayMove::NotFound,
        })
    }

    async fn mark_released(&self, id: &ActionDayId, at: i64) -> StoreResult<bool> {
        let mut tx = write_tx(&self.writer).await?;
        let n = sqlx::query(
            "UPDATE action_days SET released_at = ?2 WHERE id = ?1 AND released_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            super::audit::append(
                &mut tx,
                &crate::audit::action_day_event(
                    id,
                    "action_day_released",
                    at,
                    crate::audit::HUB_ACTOR,
                ),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn due_releases(&self, now: i64) -> StoreResult<Vec<ActionDay>> {
        days_where(
            &self.pool,
            "WHERE released_at IS NULL AND starts_at <= ?1",
            &[now],
        )
        .await
    }

    async fn next_release_after(&self, now: i64) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(starts_at) FROM action_days WHERE released_at IS NULL AND starts_at > ?1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }
}
