//! Action days.

use super::*;

const DAY_COLUMNS: &str =
    "id, name, starts_at, ends_at, platforms, agencies, created_at, released_at, closed_at";

fn day_row(r: &PgRow) -> sqlx::Result<ActionDay> {
    Ok(ActionDay {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        platforms: r.try_get("platforms")?,
        agencies: r.try_get("agencies")?,
        created_at: r.try_get("created_at")?,
        released_at: r.try_get("released_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

pub(super) async fn days(
    pool: &PgPool,
    sql: String,
    now: Option<i64>,
) -> StoreResult<Vec<ActionDay>> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(now) = now {
        q = q.bind(now);
    }
    let rs = q.fetch_all(pool).await?;
    Ok(rs.iter().map(day_row).collect::<sqlx::Result<_>>()?)
}

async fn day_by_id(pool: &PgPool, id: &ActionDayId) -> StoreResult<Option<ActionDay>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DAY_COLUMNS} FROM action_days WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(day_row).transpose()?)
}

impl ActionDays for PgStore {
    async fn insert_action_day(&self, day: &ActionDay, by: &OrgId) -> StoreResult<ActionDay> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO action_days (id, name, starts_at, ends_at, platforms, agencies, \
             created_at, released_at, closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO NOTHING RETURNING {DAY_COLUMNS}"
        )))
        .bind(&day.id)
        .bind(&day.name)
        .bind(day.starts_at)
        .bind(day.ends_at)
        .bind(plan::sorted_set(&day.platforms))
        .bind(plan::sorted_set(&day.agencies))
        .bind(day.created_at)
        .bind(day.released_at)
        .bind(day.closed_at)
        .fetch_optional(&mut *tx)
        .await?;
        match r {
            Some(r) => {
                let stored = day_row(&r)?;
                super::audit::append(&mut tx, &crate::audit::action_day_created(&stored, by))
                    .await?;
                tx.commit().await?;
                Ok(stored)
            }
            None => Err(StoreError::Conflict(format!(
                "action day {:?} already exists",
                day.id
            ))),
        }
    }

    async fn get_action_day(&self, id: &ActionDayId) -> StoreResult<Option<ActionDay>> {
        day_by_id(&self.pool, id).await
    }

    async fn list_action_days(&self) -> StoreResult<Vec<ActionDay>> {
        days(
            &self.pool,
            format!("SELECT {DAY_COLUMNS} FROM action_days ORDER BY starts_at, id COLLATE \"C\""),
            None,
        )
        .await
    }

    async fn close_action_day(
        &self,
        id: &ActionDayId,
        at: i64,
        by: &OrgId,
    ) -> StoreResult<Option<ActionDay>> {
        let mut tx = self.pool.begin().await?;
        let before: Option<Option<i64>> =
            sqlx::query_scalar("SELECT closed_at FROM action_days WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE action_days SET closed_at = COALESCE(closed_at, $2) WHERE id = $1 \
             RETURNING {DAY_COLUMNS}"
        )))
        .bind(id)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?;
        let day = r.as_ref().map(day_row).transpose()?;
        if let Some(None) = before {
            super::audit::append(
                &mut tx,
                &crate::audit::action_day_event(id, "action_day_closed", at, by),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(day)
    }

    /// Under `FOR UPDATE` on the day, which intake's `FOR SHARE` waits for; the day's target
    /// rows are locked by the first UPDATE, so a writer that changed them finishes first and
    /// the rebuild sees its change.
    async fn move_action_day(
        &self,
        id: &ActionDayId,
        starts_at: i64,
        ends_at: Option<i64>,
        now: i64,
        by: &OrgId,
    ) -> StoreResult<DayMove> {
        let pool = &self.pool;
        let mut tx = pool.begin().await?;
        let Some(r) = sqlx::query(crate::day_move::DAY_STATE_FOR_UPDATE)
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
        Ok(match day_by_id(pool, id).await? {
            Some(day) => DayMove::Moved(day),
            None => DayMove::NotFound,
        })
    }

    async fn mark_released(&self, id: &ActionDayId, at: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE action_days SET released_at = $2 WHERE id = $1 AND released_at IS NULL",
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
        days(
            &self.pool,
            format!(
                "SELECT {DAY_COLUMNS} FROM action_days \
                 WHERE released_at IS NULL AND starts_at <= $1 ORDER BY starts_at, id COLLATE \"C\""
            ),
            Some(now),
        )
        .await
    }

    async fn next_release_after(&self, now: i64) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(starts_at) FROM action_days WHERE released_at IS NULL AND starts_at > $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }
}
