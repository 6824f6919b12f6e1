//! The PostgreSQL side of re-deriving legal bases (see [`crate::basis`]). Callers hold the
//! targets' rows locked (intake and withdrawals lock them first).

use super::*;
use crate::basis::{BasisTx, Change, Standing, StandingRow};
use crate::codes::{REMOVAL_ORDER, TAKEDOWN};
use const_format::formatcp;

impl BasisTx for Transaction<'_, Postgres> {
    async fn standing(&mut self, ids: &[i64]) -> StoreResult<Vec<Standing>> {
        let rows: Vec<StandingRow> = sqlx::query_as(
            formatcp!("SELECT t.id, t.legal_basis, t.removal_order_ref, \
             (SELECT MAX(r.legal_basis) FROM referrals r \
              WHERE r.target_id = t.id AND r.withdrawn_at IS NULL) AS strongest, \
             (SELECT r.removal_order_ref FROM referrals r JOIN lists l ON l.list_id = r.list_id \
              WHERE r.target_id = t.id AND r.withdrawn_at IS NULL AND r.legal_basis = {REMOVAL_ORDER} \
              ORDER BY l.accepted_at, r.list_id, r.item_index LIMIT 1) AS order_ref \
             FROM targets t WHERE t.id = ANY($1) \
             AND NOT EXISTS (SELECT 1 FROM deliveries d \
                             WHERE d.target_id = t.id AND d.kind = {TAKEDOWN} AND d.attempts > 0) \
             ORDER BY t.id"),
        )
        .bind(ids)
        .fetch_all(&mut **self)
        .await?;
        Ok(rows.into_iter().map(Standing::from).collect())
    }

    async fn set_basis(&mut self, changes: &[Change]) -> StoreResult<()> {
        let ids: Vec<i64> = changes.iter().map(|c| c.0).collect();
        let bases: Vec<i32> = changes.iter().map(|c| c.1).collect();
        let refs: Vec<&str> = changes.iter().map(|c| c.2.as_str()).collect();
        sqlx::query(
            "UPDATE targets t SET legal_basis = c.b, removal_order_ref = c.r \
             FROM UNNEST($1::int8[], $2::int4[], $3::text[]) AS c(id, b, r) WHERE t.id = c.id",
        )
        .bind(&ids)
        .bind(&bases)
        .bind(&refs)
        .execute(&mut **self)
        .await?;
        Ok(())
    }
}
