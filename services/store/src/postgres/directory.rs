//! Organisations, key-set statements and platforms.

use super::*;
use sqlx::FromRow as _;

impl Directory for PgStore {
    async fn upsert_organization(
        &self,
        org: &Organization,
        by: &OrgId,
    ) -> StoreResult<Organization> {
        let mut tx = self.pool.begin().await?;
        let before = sqlx::query(
            "SELECT id, role, display_name, registered_at FROM organizations WHERE id = $1 FOR UPDATE",
        )
        .bind(&org.id)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(Organization::from_row)
        .transpose()?;
        let r = sqlx::query(
            "INSERT INTO organizations (id, role, display_name, registered_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET role = excluded.role, \
             display_name = excluded.display_name \
             RETURNING id, role, display_name, registered_at",
        )
        .bind(&org.id)
        .bind(org.role as i32)
        .bind(&org.display_name)
        .bind(org.registered_at)
        .fetch_one(&mut *tx)
        .await?;
        let stored = Organization::from_row(&r)?;
        if let Some(event) =
            crate::audit::organization_registered(&stored, before.as_ref(), by, org.registered_at)
        {
            super::audit::append(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_organization(&self, id: &OrgId) -> StoreResult<Option<Organization>> {
        let r = sqlx::query(
            "SELECT id, role, display_name, registered_at FROM organizations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(Organization::from_row).transpose()?)
    }

    async fn list_organizations(&self) -> StoreResult<Vec<Organization>> {
        let rs = sqlx::query(
            "SELECT id, role, display_name, registered_at FROM organizations ORDER BY id COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(Organization::from_row)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn publish_key_set(&self, k: &KeySetRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // One publisher at a time across hubs, so two cannot both pass the version check.
        sqlx::query("LOCK TABLE key_set_statements IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM key_set_statements")
            .fetch_one(&mut *tx)
            .await?;
        if let Some(newest) = newest.filter(|&v| v >= k.version) {
            return Err(StoreError::Conflict(format!(
                "key-set statement version {} is not newer than version {newest}, already published",
                k.version
            )));
        }
        sqlx::query(
            "INSERT INTO key_set_statements (version, jws, published_at, published_by) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(k.version)
        .bind(&k.jws)
        .bind(k.published_at)
        .bind(&k.published_by)
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &crate::audit::key_set_published(k)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn key_sets_after(&self, version: i64) -> StoreResult<Vec<KeySetRecord>> {
        let rs = sqlx::query(
            "SELECT version, jws, published_at, published_by FROM key_set_statements \
             WHERE version > $1 ORDER BY version",
        )
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(KeySetRecord::from_row)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn upsert_platform(&self, p: &Platform, by: &OrgId) -> StoreResult<Platform> {
        let mut tx = self.pool.begin().await?;
        let before = sqlx::query(
            "SELECT name, endpoint, display_name, registered_at, max_per_minute, staffing, delivery_mode FROM platforms WHERE name = $1 FOR UPDATE",
        )
        .bind(&p.name)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(Platform::from_row)
        .transpose()?;
        let r = sqlx::query(
            "INSERT INTO platforms \
             (name, endpoint, display_name, registered_at, max_per_minute, staffing, delivery_mode) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO UPDATE SET \
             endpoint = excluded.endpoint, display_name = excluded.display_name, \
             max_per_minute = excluded.max_per_minute, staffing = excluded.staffing, \
             delivery_mode = excluded.delivery_mode \
             RETURNING name, endpoint, display_name, registered_at, max_per_minute, staffing, \
             delivery_mode",
        )
        .bind(&p.name)
        .bind(&p.endpoint)
        .bind(&p.display_name)
        .bind(p.registered_at)
        .bind(p.max_per_minute.map(i64::from))
        .bind(
            p.staffing
                .as_ref()
                .map(|s| serde_json::to_string(s).expect("staffing serializes")),
        )
        .bind(crate::model::mode_name(p.mode))
        .fetch_one(&mut *tx)
        .await?;
        let stored = Platform::from_row(&r)?;
        if let Some(event) =
            crate::audit::platform_registered(&stored, before.as_ref(), by, p.registered_at)
        {
            super::audit::append(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_platform(&self, name: &PlatformName) -> StoreResult<Option<Platform>> {
        let r = sqlx::query(
            "SELECT name, endpoint, display_name, registered_at, max_per_minute, staffing, delivery_mode FROM platforms WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(Platform::from_row).transpose()?)
    }

    async fn list_platforms(&self) -> StoreResult<Vec<Platform>> {
        let rs = sqlx::query(
            "SELECT name, endpoint, display_name, registered_at, max_per_minute, staffing, delivery_mode FROM platforms ORDER BY name COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rs
            .iter()
            .map(Platform::from_row)
            .collect::<sqlx::Result<_>>()?)
    }
}
