//! Organisations, agency keys and platforms.

use super::*;

const KEY_COLUMNS: &str =
    "kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason";

pub(super) async fn upsert_organization(
    pool: &PgPool,
    org: &Organization,
    by: &str,
) -> StoreResult<Organization> {
    let mut tx = pool.begin().await?;
    let before = sqlx::query(
        "SELECT id, role, display_name, registered_at FROM organizations WHERE id = $1 FOR UPDATE",
    )
    .bind(&org.id)
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(rows::organization)
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
    let stored = rows::organization(&r)?;
    if let Some(event) =
        crate::audit::organization_registered(&stored, before.as_ref(), by, org.registered_at)
    {
        super::audit::append(&mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(stored)
}

pub(super) async fn get_organization(pool: &PgPool, id: &str) -> StoreResult<Option<Organization>> {
    let r = sqlx::query(
        "SELECT id, role, display_name, registered_at FROM organizations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(rows::organization).transpose()?)
}

pub(super) async fn list_organizations(pool: &PgPool) -> StoreResult<Vec<Organization>> {
    let rs = sqlx::query(
        "SELECT id, role, display_name, registered_at FROM organizations ORDER BY id COLLATE \"C\"",
    )
    .fetch_all(pool)
    .await?;
    Ok(rs
        .iter()
        .map(rows::organization)
        .collect::<sqlx::Result<_>>()?)
}

pub(super) async fn insert_agency_key(
    pool: &PgPool,
    key: &AgencyKey,
    by: &str,
) -> StoreResult<AgencyKey> {
    let mut tx = pool.begin().await?;
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO agency_keys (kid, agency_id, public_key_pem, registered_at, revoked_at, \
         revoke_reason) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING \
         RETURNING {KEY_COLUMNS}"
    )))
    .bind(&key.kid)
    .bind(&key.agency_id)
    .bind(&key.public_key_pem)
    .bind(key.registered_at)
    .bind(key.revoked_at)
    .bind(key.revoke_reason.as_deref())
    .fetch_optional(&mut *tx)
    .await?;
    match r {
        Some(r) => {
            let stored = rows::agency_key(&r)?;
            super::audit::append(&mut tx, &crate::audit::key_registered(&stored, by)).await?;
            tx.commit().await?;
            Ok(stored)
        }
        None => Err(StoreError::Conflict(format!(
            "agency key {:?} already exists",
            key.kid
        ))),
    }
}

pub(super) async fn revoke_agency_key(
    pool: &PgPool,
    kid: &str,
    reason: &str,
    at: i64,
    by: &str,
) -> StoreResult<Option<AgencyKey>> {
    let mut tx = pool.begin().await?;
    let before: Option<Option<i64>> =
        sqlx::query_scalar("SELECT revoked_at FROM agency_keys WHERE kid = $1 FOR UPDATE")
            .bind(kid)
            .fetch_optional(&mut *tx)
            .await?;
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE agency_keys SET revoked_at = COALESCE(revoked_at, $2), \
         revoke_reason = CASE WHEN revoked_at IS NULL THEN $3 ELSE revoke_reason END \
         WHERE kid = $1 RETURNING {KEY_COLUMNS}"
    )))
    .bind(kid)
    .bind(at)
    .bind(reason)
    .fetch_optional(&mut *tx)
    .await?;
    let key = r.as_ref().map(rows::agency_key).transpose()?;
    if let (Some(k), Some(None)) = (&key, before) {
        super::audit::append(&mut tx, &crate::audit::key_revoked(k, at, by)).await?;
    }
    tx.commit().await?;
    Ok(key)
}

pub(super) async fn get_agency_key(pool: &PgPool, kid: &str) -> StoreResult<Option<AgencyKey>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM agency_keys WHERE kid = $1"
    )))
    .bind(kid)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(rows::agency_key).transpose()?)
}

pub(super) async fn list_agency_keys(
    pool: &PgPool,
    agency_ids: &[String],
) -> StoreResult<Vec<AgencyKey>> {
    let rs = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM agency_keys \
         WHERE cardinality($1::text[]) = 0 OR agency_id = ANY($1) \
         ORDER BY agency_id COLLATE \"C\", registered_at, seq"
    )))
    .bind(agency_ids)
    .fetch_all(pool)
    .await?;
    Ok(rs
        .iter()
        .map(rows::agency_key)
        .collect::<sqlx::Result<_>>()?)
}

pub(super) async fn upsert_platform(
    pool: &PgPool,
    p: &Platform,
    by: &str,
) -> StoreResult<Platform> {
    let mut tx = pool.begin().await?;
    let before = sqlx::query(
        "SELECT name, endpoint, display_name, registered_at FROM platforms WHERE name = $1 FOR UPDATE",
    )
    .bind(&p.name)
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(rows::platform)
    .transpose()?;
    let r = sqlx::query(
        "INSERT INTO platforms (name, endpoint, display_name, registered_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
         endpoint = excluded.endpoint, display_name = excluded.display_name \
         RETURNING name, endpoint, display_name, registered_at",
    )
    .bind(&p.name)
    .bind(&p.endpoint)
    .bind(&p.display_name)
    .bind(p.registered_at)
    .fetch_one(&mut *tx)
    .await?;
    let stored = rows::platform(&r)?;
    if let Some(event) =
        crate::audit::platform_registered(&stored, before.as_ref(), by, p.registered_at)
    {
        super::audit::append(&mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(stored)
}

pub(super) async fn get_platform(pool: &PgPool, name: &str) -> StoreResult<Option<Platform>> {
    let r = sqlx::query(
        "SELECT name, endpoint, display_name, registered_at FROM platforms WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(rows::platform).transpose()?)
}

pub(super) async fn list_platforms(pool: &PgPool) -> StoreResult<Vec<Platform>> {
    let rs = sqlx::query(
        "SELECT name, endpoint, display_name, registered_at FROM platforms ORDER BY name COLLATE \"C\"",
    )
    .fetch_all(pool)
    .await?;
    Ok(rs.iter().map(rows::platform).collect::<sqlx::Result<_>>()?)
}
