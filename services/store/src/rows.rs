//! Row decoding shared by both backends. The model's rows derive `sqlx::FromRow` (the
//! column names are the same in both schemas); here are the columns whose stored form is not
//! the model's type, and the conversions both backends use.

/// A stored count (`item_count`, `new_targets`, ...) as the `u32` of the model.
pub(crate) fn count(v: i64) -> Result<u32, sqlx::Error> {
    u32::try_from(v).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A `u32` of the model as a stored integer.
pub(crate) fn to_i64(v: u32) -> i64 {
    i64::from(v)
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

/// A nullable count column (`platforms.max_per_minute`) as the model's `Option<u32>`.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct Cap(Option<i64>);

impl TryFrom<Cap> for Option<u32> {
    type Error = std::num::TryFromIntError;

    fn try_from(c: Cap) -> Result<Self, Self::Error> {
        c.0.map(u32::try_from).transpose()
    }
}

/// `platforms.staffing`: the platform's staffed hours as JSON text, or NULL.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct StaffingJson(Option<String>);

impl TryFrom<StaffingJson> for Option<takedown_protocol::staffing::Staffing> {
    type Error = serde_json::Error;

    fn try_from(j: StaffingJson) -> Result<Self, Self::Error> {
        j.0.map(|j| serde_json::from_str(&j)).transpose()
    }
}

/// `platforms.delivery_mode`: `push` or `pull`.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct ModeName(String);

impl TryFrom<ModeName> for takedown_protocol::pb::DeliveryMode {
    type Error = String;

    fn try_from(m: ModeName) -> Result<Self, String> {
        crate::model::mode_of(&m.0).ok_or_else(|| format!("unknown delivery mode {:?}", m.0))
    }
}

/// Nullable text read as empty when NULL (`deliveries.last_error`).
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct OptText(Option<String>);

impl From<OptText> for String {
    fn from(t: OptText) -> String {
        t.0.unwrap_or_default()
    }
}

/// A `referrals` row as delivered: its target and payload.
#[derive(sqlx::FromRow)]
pub(crate) struct ReferralRow {
    pub target_id: crate::model::TargetId,
    #[sqlx(flatten)]
    pub payload: crate::model::ReferralPayload,
}
