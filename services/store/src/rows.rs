//! Row decoding shared by both backends. The column names are the same in both schemas,
//! so one macro expands the same decoders for `SqliteRow` and `PgRow`.

/// A stored count (`item_count`, `new_targets`, ...) as the `u32` of the model.
pub(crate) fn count(v: i64) -> Result<u32, sqlx::Error> {
    u32::try_from(v).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A `u32` of the model as a stored integer.
pub(crate) fn to_i64(v: u32) -> i64 {
    i64::from(v)
}

/// A stored enumeration number as its enum; an unknown number is a decoding error of `column`.
pub(crate) fn to_enum<E: TryFrom<i32>>(column: &str, v: i32) -> sqlx::Result<E> {
    E::try_from(v).map_err(|_| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {v}").into(),
    })
}

/// A stored id read as text, checked as its type; a bad one is a decoding error of `column`.
pub(crate) fn to_id<T>(column: &str, v: &str) -> sqlx::Result<T>
where
    T: std::str::FromStr<Err = takedown_protocol::ident::IdentError>,
{
    v.parse().map_err(
        |e: takedown_protocol::ident::IdentError| sqlx::Error::ColumnDecode {
            index: column.to_string(),
            source: Box::new(e),
        },
    )
}

/// Expands row decoders for one backend's row type inside the invoking module.
macro_rules! row_decoders {
    ($row:ty) => {
        use sqlx::Row as _;

        use $crate::model::*;
        use $crate::rows::{count, to_enum};

        /// An enumeration column.
        pub(crate) fn enum_col<E: TryFrom<i32>>(r: &$row, column: &str) -> sqlx::Result<E> {
            to_enum(column, r.try_get(column)?)
        }

        /// A nullable enumeration column.
        pub(crate) fn opt_enum_col<E: TryFrom<i32>>(
            r: &$row,
            column: &str,
        ) -> sqlx::Result<Option<E>> {
            let v: Option<i32> = r.try_get(column)?;
            v.map(|v| to_enum(column, v)).transpose()
        }

        pub(crate) fn organization(r: &$row) -> sqlx::Result<Organization> {
            Ok(Organization {
                id: r.try_get("id")?,
                role: enum_col(r, "role")?,
                display_name: r.try_get("display_name")?,
                registered_at: r.try_get("registered_at")?,
            })
        }

        pub(crate) fn hub_audit_key(r: &$row) -> sqlx::Result<HubAuditKey> {
            Ok(HubAuditKey {
                kid: r.try_get("kid")?,
                private_pem: r.try_get("private_pem")?,
                public_pem: r.try_get("public_pem")?,
                created_at: r.try_get("created_at")?,
            })
        }

        pub(crate) fn signed_head(r: &$row) -> sqlx::Result<SignedHeadRecord> {
            Ok(SignedHeadRecord {
                seq: r.try_get("seq")?,
                jws: r.try_get("jws")?,
                signed_at: r.try_get("signed_at")?,
            })
        }

        pub(crate) fn signed_list(r: &$row) -> sqlx::Result<SignedListRecord> {
            Ok(SignedListRecord {
                list_id: r.try_get("list_id")?,
                agency_id: r.try_get("agency_id")?,
                action_day_id: r.try_get("action_day_id")?,
                signed_at: r.try_get("signed_at")?,
                due_at: r.try_get("due_at")?,
            })
        }

        pub(crate) fn key_set(r: &$row) -> sqlx::Result<KeySetRecord> {
            Ok(KeySetRecord {
                version: r.try_get("version")?,
                jws: r.try_get("jws")?,
                published_at: r.try_get("published_at")?,
                published_by: r.try_get("published_by")?,
            })
        }

        pub(crate) fn platform(r: &$row) -> sqlx::Result<Platform> {
            Ok(Platform {
                name: r.try_get("name")?,
                endpoint: r.try_get("endpoint")?,
                display_name: r.try_get("display_name")?,
                registered_at: r.try_get("registered_at")?,
                max_per_minute: r
                    .try_get::<Option<i64>, _>("max_per_minute")?
                    .and_then(|n| u32::try_from(n).ok()),
                staffing: r
                    .try_get::<Option<String>, _>("staffing")?
                    .map(|j| serde_json::from_str(&j))
                    .transpose()
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                mode: {
                    let m: String = r.try_get("delivery_mode")?;
                    crate::model::mode_of(&m).ok_or_else(|| {
                        sqlx::Error::Decode(format!("unknown delivery_mode {m:?}").into())
                    })?
                },
            })
        }

        pub(crate) fn failed_delivery(r: &$row) -> sqlx::Result<FailedDelivery> {
            Ok(FailedDelivery {
                id: r.try_get("id")?,
                target_id: r.try_get("target_id")?,
                platform: r.try_get("platform")?,
                normalized: r.try_get("normalized")?,
                kind: enum_col(r, "kind")?,
                action_day_id: r.try_get("action_day_id")?,
                attempts: r.try_get("attempts")?,
                failed_at: r.try_get("failed_at")?,
                reason: r
                    .try_get::<Option<String>, _>("last_error")?
                    .unwrap_or_default(),
            })
        }

        pub(crate) fn refused_report(r: &$row) -> sqlx::Result<RefusedReport> {
            Ok(RefusedReport {
                id: r.try_get("id")?,
                platform: r.try_get("platform")?,
                report_id: r.try_get("report_id")?,
                target_id: r.try_get("target_id")?,
                reason: r.try_get("reason")?,
                first_at: r.try_get("first_at")?,
                last_at: r.try_get("last_at")?,
                times: r.try_get("times")?,
            })
        }

        pub(crate) fn hold(r: &$row) -> sqlx::Result<Hold> {
            Ok(Hold {
                id: r.try_get("id")?,
                platform: r.try_get("platform")?,
                target: r.try_get("target")?,
                normalized: r.try_get("normalized")?,
                reason: r.try_get("reason")?,
                expires_at: r.try_get("expires_at")?,
                created_at: r.try_get("created_at")?,
                placed_by: r.try_get("placed_by")?,
                released_at: r.try_get("released_at")?,
            })
        }

        pub(crate) fn list_record(r: &$row) -> sqlx::Result<ListRecord> {
            Ok(ListRecord {
                list_id: r.try_get("list_id")?,
                agency_id: r.try_get("agency_id")?,
                action_day_id: r.try_get("action_day_id")?,
                content_sha256: r.try_get("content_sha256")?,
                item_count: count(r.try_get("item_count")?)?,
                created_at: r.try_get("created_at")?,
                accepted_at: r.try_get("accepted_at")?,
                new_targets: count(r.try_get("new_targets")?)?,
                merged: count(r.try_get("merged")?)?,
            })
        }

        pub(crate) fn item_record(r: &$row) -> sqlx::Result<ItemRecord> {
            Ok(ItemRecord {
                index: count(r.try_get("item_index")?)?,
                target_id: r.try_get("target_id")?,
                platform: r.try_get("platform")?,
                normalized: r.try_get("normalized")?,
                due_at: r.try_get("due_at")?,
                held: r.try_get("held")?,
                delivery_state: opt_enum_col(r, "delivery_state")?,
                delivered_at: r.try_get("delivered_at")?,
                acked_at: r.try_get("acked_at")?,
                outcome: opt_enum_col(r, "outcome")?,
                reject_reason: opt_enum_col(r, "reject_reason")?,
                outcome_text: r.try_get("outcome_text")?,
                fail_reason: r.try_get("fail_reason")?,
                withdrawn_at: r.try_get("withdrawn_at")?,
            })
        }

        pub(crate) fn claimed(r: &$row) -> sqlx::Result<ClaimedDelivery> {
            Ok(ClaimedDelivery {
                id: r.try_get("id")?,
                target_id: r.try_get("target_id")?,
                kind: enum_col(r, "kind")?,
                attempts: r.try_get("attempts")?,
            })
        }

        /// A target row without its referrals.
        pub(crate) fn target_payload(r: &$row) -> sqlx::Result<TargetPayload> {
            Ok(TargetPayload {
                target_id: r.try_get("id")?,
                platform: r.try_get("platform")?,
                kind: enum_col(r, "kind")?,
                normalized: r.try_get("normalized")?,
                original: r.try_get("original")?,
                category: r.try_get("category")?,
                legal_basis: enum_col(r, "legal_basis")?,
                removal_order_ref: r.try_get("removal_order_ref")?,
                action_day_id: r.try_get("action_day_id")?,
                referrals: Vec::new(),
            })
        }

        /// A referral row: its target id and payload.
        pub(crate) fn referral_payload(r: &$row) -> sqlx::Result<(i64, ReferralPayload)> {
            Ok((
                r.try_get("target_id")?,
                ReferralPayload {
                    list_id: r.try_get("list_id")?,
                    item_index: count(r.try_get("item_index")?)?,
                    agency_id: r.try_get("agency_id")?,
                    item: r.try_get("item")?,
                },
            ))
        }

        pub(crate) fn proof_material(r: &$row) -> sqlx::Result<ListProofMaterial> {
            Ok(ListProofMaterial {
                list_id: r.try_get("list_id")?,
                agency_id: r.try_get("agency_id")?,
                jws: r.try_get("jws")?,
                item_count: count(r.try_get("item_count")?)?,
                leaf_hashes: r.try_get("leaf_hashes")?,
            })
        }

        pub(crate) fn transparency_row(r: &$row) -> sqlx::Result<$crate::audit::TransparencyRow> {
            Ok($crate::audit::TransparencyRow {
                target_id: r.try_get("id")?,
                platform: r.try_get("platform")?,
                normalized: r.try_get("normalized")?,
                kind: enum_col(r, "kind")?,
                category: r.try_get("category")?,
                legal_basis: enum_col(r, "legal_basis")?,
                removal_order_ref: r.try_get("removal_order_ref")?,
                delivered_at: r.try_get("delivered_at")?,
                acted_at: r.try_get("acted_at")?,
                outcome: opt_enum_col(r, "outcome")?,
                reject_reason: opt_enum_col(r, "reject_reason")?,
                withdrawn_at: r.try_get("withdrawn_at")?,
                ro_elapsed: r.try_get("ro_elapsed")?,
                restoration: opt_enum_col(r, "restoration")?,
                restoration_at: r.try_get("restoration_at")?,
                order: None,
                order_withdrawn_on: None,
                order_upheld_on_scrutiny_at: None,
            })
        }

        /// (target id, reference, facts, withdrawal ground if withdrawn) of a
        /// `removal_orders` row.
        pub(crate) fn removal_order(r: &$row) -> sqlx::Result<$crate::audit::OrderRow> {
            Ok((
                r.try_get("target_id")?,
                r.try_get("reference")?,
                $crate::RemovalOrderFacts {
                    issuing_authority: r.try_get("issuing_authority")?,
                    member_state: r.try_get("member_state")?,
                    issued_at: r.try_get("issued_at")?,
                    host_member_state: r.try_get("host_member_state")?,
                },
                opt_enum_col(r, "withdraw_ground")?,
                r.try_get("scrutiny_upheld_at")?,
            ))
        }

        pub(crate) fn audit_entry(r: &$row) -> sqlx::Result<$crate::audit::AuditEntry> {
            Ok($crate::audit::AuditEntry {
                seq: r.try_get("seq")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                kind: r.try_get("kind")?,
                subject: r.try_get("subject")?,
                details: r.try_get("details")?,
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        }
    };
}

pub(crate) use row_decoders;
