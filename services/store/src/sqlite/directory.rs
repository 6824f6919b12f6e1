//! Organisations, agency keys and platforms.

use super::*;

pub(super) async fn upsert_organization(
    pool: &SqlitePool,
    org: &Organization,
    by: &str,
) -> StoreResult<Organization> {
    let mut tx = write_tx(pool).await?;
    let before = sqlx::query(
        "SELECT id, role, display_name, registered_at FROM organizations WHERE id = ?1",
    )
    .bind(&org.id)
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(rows::organization)
    .transpose()?;
    let r = sqlx::query(
        "INSERT INTO organizations (id, role, display_name, registered_at) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET role = excluded.role, \
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

pub(super) async fn get_organization(
    pool: &SqlitePool,
    id: &str,
) -> StoreResult<Option<Organization>> {
    let r = sqlx::query(
        "SELECT id, role, display_name, registered_at FROM organizations WHERE id = ?1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(rows::organization).transpose()?)
}

pub(super) async fn list_organizations(pool: &SqlitePool) -> StoreResult<Vec<Organization>> {
    let rs =
        sqlx::query("SELECT id, role, display_name, registered_at FROM organizations ORDER BY id")
            .fetch_all(pool)
            .await?;
    Ok(rs
        .iter()
        .map(rows::organization)
        .collect::<sqlx::Result<_>>()?)
}

pub(super) async fn insert_agency_key(
    pool: &SqlitePool,
    key: &AgencyKey,
    by: &str,
) -> StoreResult<AgencyKey> {
    let mut tx = write_tx(pool).await?;
    let r = sqlx::query(
        "INSERT INTO agency_keys (kid, agency_id, public_key_pem, registered_at, revoked_at, \
         revoke_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kid) DO NOTHING \
         RETURNING kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason",
    )
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
    pool: &SqlitePool,
    kid: &str,
    reason: &str,
    at: i64,
    by: &str,
) -> StoreResult<Option<AgencyKey>> {
    let mut tx = write_tx(pool).await?;
    let before: Option<Option<i64>> =
        sqlx::query_scalar("SELECT revoked_at FROM agency_keys WHERE kid = ?1")
            .bind(kid)
            .fetch_optional(&mut *tx)
            .await?;
    let r = sqlx::query(
        "UPDATE agency_keys SET revoked_at = COALESCE(revoked_at, ?2), \
         revoke_reason = CASE WHEN revoked_at IS NULL THEN ?3 ELSE revoke_reason END \
         WHERE kid = ?1 \
         RETURNING kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason",
    )
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

pub(super) async fn get_agency_key(pool: &SqlitePool, kid: &str) -> StoreResult<Option<AgencyKey>> {
    let r = sqlx::query(
        "SELECT kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason \
         FROM agency_keys WHERE kid = ?1",
    )
    .bind(kid)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(rows::agency_key).transpose()?)
}

pub(super) async fn list_agency_keys(
    pool: &SqlitePool,
    agency_ids: &[String],
) -> StoreResult<Vec<AgencyKey>> {
    const COLUMNS: &str =
        "kid, agency_id, public_key_pem, registered_at, revoked_at, revoke_reason";
    if agency_ids.is_empty() {
        let sql =
            format!("SELECT {COLUMNS} FROM agency_keys ORDER BY agency_id, registered_at, rowid");
        let rs = sqlx::query(AssertSqlSafe(sql)).fetch_all(pool).await?;
        return Ok(rs
            .iter()
            .map(rows::agency_key)
            .collect::<sqlx::Result<_>>()?);
    }
    let mut keys = Vec::new();
    for chunk in agency_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT {COLUMNS} FROM agency_keys WHERE agency_id IN ({}) \
             ORDER BY agency_id, registered_at, rowid",
            anon(chunk.len())
        );
        let mut q = sized(AssertSqlSafe(sql));
        for a in chunk {
            q = q.bind(a.as_str());
        }
        for r in q.fetch_all(pool).await? {
            keys.push(rows::agency_key(&r)?);
        }
    }
    Ok(keys)
}

pub(super) async fn upsert_platform(
    pool: &SqlitePool,
    p: &Platform,
    by: &str,
) -> StoreResult<Platform> {
    let mut tx = write_tx(pool).await?;
    let before = sqlx::query(
        "SELECT name, endpoint, display_name, registered_at FROM platforms WHERE name = ?1",
    )
    .bind(&p.name)
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(rows::platform)
    .transpose()?;
    let r = sqlx::query(
        "INSERT INTO platforms (name, endpoint, display_name, registered_at) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET \
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

pub(super) async fn get_platform(pool: &SqlitePool, name: &str) -> StoreResult<Option<Platform>> {
    let r = sqlx::query(
        "SELECT name, endpoint, display_name, registered_at FROM platforms WHERE name = ?1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(rows::platform).transpose()?)
}

pub(super) async fn list_platforms(pool: &SqlitePool) -> StoreResult<Vec<Platform>> {
    let rs = sqlx::query(
        "SELECT name, endpoint, display_name, registered_at FROM platforms ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rs.iter().map(rows::platform).collect::<sqlx::Result<_>>()?)
}
