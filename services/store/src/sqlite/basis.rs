//! The SQLite side of re-deriving legal bases (see [`crate::basis`]).

use super::*;
use crate::basis::{BasisTx, Change, Standing, StandingRow};
use crate::codes::{REMOVAL_ORDER, TAKEDOWN};
use const_format::formatcp;

impl BasisTx for Transaction<'_, Sqlite> {
    async fn standing(&mut self, ids: &[i64]) -> StoreResult<Vec<Standing>> {
        let rows: Vec<StandingRow> = sqlx::query_as(
            formatcp!("SELECT t.id, t.legal_basis, t.removal_order_ref, \
             (SELECT MAX(r.legal_basis) FROM referrals r \
              WHERE r.target_id = t.id AND r.withdrawn_at IS NULL) AS strongest, \
             (SELECT r.removal_order_ref FROM referrals r JOIN lists l ON l.list_id = r.list_id \
              WHERE r.target_id = t.id AND r.withdrawn_at IS NULL AND r.legal_basis = {REMOVAL_ORDER} \
              ORDER BY l.accepted_at, r.list_id, r.item_index LIMIT 1) AS order_ref \
             FROM targets t WHERE t.id IN (SELECT value FROM json_each(?1)) \
             AND NOT EXISTS (SELECT 1 FROM deliveries d \
                             WHERE d.target_id = t.id AND d.kind = {TAKEDOWN} AND d.attempts > 0) \
             ORDER BY t.id"),
        )
        .bind(id_set(ids))
        .fetch_all(&mut **self)
        .await?;
        Ok(rows.into_iter().map(Standing::from).collect())
    }

    async fn set_basis(&mut self, changes: &[Change]) -> StoreResult<()> {
        let rows = serde_json::to_string(changes).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "UPDATE targets SET legal_basis = c.value ->> 1, removal_order_ref = c.value ->> 2 \
             FROM json_each(?1) AS c WHERE targets.id = c.value ->> 0",
        )
        .bind(rows)
        .execute(&mut **self)
        .await?;
        Ok(())
    }
}
