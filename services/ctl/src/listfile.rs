//! Referral list files: CSV or JSON in, [`Referral`] messages out.
//!
//! Both formats carry the same fields: `platform`, `kind`, `target`, `category`,
//! `legal_basis`, `removal_order_ref`, `note` and, optionally, `evidence_sha256` (64 hex
//! digits), and for a removal order what Annex I of Regulation (EU) 2021/784 asks it to
//! state ([`ORDER_COLUMNS`]): `issuing_authority`, `member_state` (ISO code), `issued_at`
//! (RFC 3339), `points` (the points of Art 2(7), letters or names, separated by `;`),
//! `reasons`, `legal_statement`, `contact_point`, `withhold_information` and `cross_border`
//! (`true`/`false`, `yes`/`no`; empty is false), `host_member_state` (when cross-border),
//! and optionally `additional_information` and `redress`. A CSV file has a header row naming its columns (in any order, case-insensitive;
//! `platform`, `kind`, `target` and `legal_basis` are required, the others optional). A JSON
//! file is an array of objects with those keys (string values; absent or `null` means empty).
//!
//! - `kind`: `account`, `channel`, `group`, `chat`, `post`, `bot`, case-insensitive, or the
//!   proto names (`TARGET_KIND_ACCOUNT`, ...).
//! - `legal_basis`: `tos_referral` (also `tos`) or `removal_order`, case-insensitive, or the
//!   proto names (`LEGAL_BASIS_TOS_REFERRAL`, ...). A removal order needs
//!   `removal_order_ref`.
//! - `platform` is lower-cased (`twitter` becomes `x`); `target` must normalize for its
//!   platform ([`takedown_protocol::target::normalize`]) but is kept as written.
//!
//! Every error names where it is: the line of a CSV row (the header is line 1) or the index
//! of a JSON item (from 0), and the column.

use std::{fmt, io::Read, path::Path};

use takedown_protocol::{
    ident::PlatformName,
    pb::{LegalBasis, Referral, RemovalOrderDetails, TargetKind},
    removal_order, target,
};
use time::format_description::well_known::Rfc3339;

/// The columns of every referral, in their canonical order.
const REFERRAL_COLUMNS: [&str; 8] = [
    "platform",
    "kind",
    "target",
    "category",
    "legal_basis",
    "removal_order_ref",
    "note",
    "evidence_sha256",
];

/// The columns a list file may have, in their canonical order: a referral's, then a
/// removal order's ([`ORDER_COLUMNS`]).
pub const COLUMNS: [&str; 20] = {
    let mut all = [""; 20];
    let mut i = 0;
    while i < REFERRAL_COLUMNS.len() {
        all[i] = REFERRAL_COLUMNS[i];
        i += 1;
    }
    while i < all.len() {
        all[i] = ORDER_COLUMNS[i - REFERRAL_COLUMNS.len()];
        i += 1;
    }
    all
};

/// The columns only a removal order fills (its Annex I content), named as the fields of
/// `RemovalOrderDetails`.
pub const ORDER_COLUMNS: [&str; 12] = [
    "issuing_authority",
    "member_state",
    "issued_at",
    "points",
    "reasons",
    "legal_statement",
    "contact_point",
    "withhold_information",
    "cross_border",
    "host_member_state",
    "additional_information",
    "redress",
];

/// Columns every CSV file must have.
pub const REQUIRED_COLUMNS: [&str; 4] = ["platform", "kind", "target", "legal_basis"];

/// Where in a list file a referral is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A CSV row, by its 1-based line number (the header is line 1).
    Line(u64),
    /// A JSON array element, by its 0-based index.
    Index(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(l) => write!(f, "line {l}"),
            Self::Index(i) => write!(f, "item {i}"),
        }
    }
}

/// Why a list file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListFileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: unknown list file type (expected a .csv or .json file)")]
    UnknownFileType { path: String },
    #[error("{path}: {source}")]
    InFile {
        path: String,
        #[source]
        source: Box<ListFileError>,
    },
    #[error("CSV {}: {message}", line.map_or_else(|| "header".to_string(), |l| format!("line {l}")))]
    Csv { line: Option<u64>, message: String },
    #[error("CSV header: missing column {column:?} (columns: {})", COLUMNS.join(","))]
    MissingColumn { column: &'static str },
    #[error("CSV header: unknown column {column:?} (columns: {})", COLUMNS.join(","))]
    UnknownColumn { column: String },
    #[error("CSV header: column {column:?} appears twice")]
    DuplicateColumn { column: String },
    #[error("JSON: {0}")]
    Json(String),
    #[error("{at}: unknown field {field:?} (fields: {})", COLUMNS.join(","))]
    UnknownField { at: Location, field: String },
    #[error("{at}, column {column:?}: {problem}")]
    Field {
        at: Location,
        column: &'static str,
        problem: String,
    },
    #[error("the list file holds no referrals")]
    Empty,
}

impl ListFileError {
    fn field(at: Location, column: &'static str, problem: impl Into<String>) -> Self {
        Self::Field {
            at,
            column,
            problem: problem.into(),
        }
    }
}

/// One row as written, before checking.
#[derive(Debug, Default, Clone)]
struct RawReferral {
    platform: String,
    kind: String,
    target: String,
    category: String,
    legal_basis: String,
    removal_order_ref: String,
    note: String,
    evidence_sha256: String,
    /// The removal order's columns, in [`ORDER_COLUMNS`] order.
    order: [String; 12],
}

impl RawReferral {
    fn slot(&mut self, column: &str) -> Option<&mut String> {
        Some(match column {
            "platform" => &mut self.platform,
            "kind" => &mut self.kind,
            "target" => &mut self.target,
            "category" => &mut self.category,
            "legal_basis" => &mut self.legal_basis,
            "removal_order_ref" => &mut self.removal_order_ref,
            "note" => &mut self.note,
            "evidence_sha256" => &mut self.evidence_sha256,
            other => {
                let i = ORDER_COLUMNS.iter().position(|c| *c == other)?;
                &mut self.order[i]
            }
        })
    }
}

/// Reads a `.csv` or `.json` list file (by extension, case-insensitive).
pub fn read_referrals(path: &Path) -> Result<Vec<Referral>, ListFileError> {
    let shown = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let in_file = |e: ListFileError| ListFileError::InFile {
        path: shown.clone(),
        source: Box::new(e),
    };
    let open = || {
        std::fs::File::open(path).map_err(|source| ListFileError::Io {
            path: shown.clone(),
            source,
        })
    };
    match ext.as_deref() {
        Some("csv") => parse_csv(open()?).map_err(in_file),
        Some("json") => {
            let text = std::fs::read_to_string(path).map_err(|source| ListFileError::Io {
                path: shown.clone(),
                source,
            })?;
            parse_json(&text).map_err(in_file)
        }
        _ => Err(ListFileError::UnknownFileType { path: shown }),
    }
}

/// Parses a CSV list (header row first).
pub fn parse_csv(reader: impl Read) -> Result<Vec<Referral>, ListFileError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(reader);
    let csv_error = |e: csv::Error| ListFileError::Csv {
        line: e.position().map(csv::Position::line),
        message: match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("{len} fields where the header has {expected_len}"),
            csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
            _ => e.to_string(),
        },
    };
    let header = csv.headers().map_err(csv_error)?.clone();
    let mut columns: Vec<&'static str> = Vec::with_capacity(header.len());
    for name in &header {
        let name = name.trim_start_matches('\u{feff}').to_ascii_lowercase();
        let column =
            COLUMNS
                .iter()
                .find(|c| **c == name)
                .ok_or_else(|| ListFileError::UnknownColumn {
                    column: name.clone(),
                })?;
        if columns.contains(column) {
            return Err(ListFileError::DuplicateColumn { column: name });
        }
        columns.push(column);
    }
    if let Some(missing) = REQUIRED_COLUMNS.iter().find(|c| !columns.contains(c)) {
        return Err(ListFileError::MissingColumn { column: missing });
    }
    let mut out = Vec::new();
    for record in csv.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let mut raw = RawReferral::default();
        for (column, value) in columns.iter().zip(record.iter()) {
            if let Some(slot) = raw.slot(column) {
                *slot = value.to_string();
            }
        }
        out.push(check(raw, Location::Line(line))?);
    }
    if out.is_empty() {
        return Err(ListFileError::Empty);
    }
    Ok(out)
}

/// Parses a JSON list: an array of objects with the list file fields.
pub fn parse_json(text: &str) -> Result<Vec<Referral>, ListFileError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ListFileError::Json(e.to_string()))?;
    let serde_json::Value::Array(items) = value else {
        return Err(ListFileError::Json(
            "expected an array of referral objects".into(),
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let at = Location::Index(index);
        let serde_json::Value::Object(fields) = item else {
            return Err(ListFileError::Json(format!("{at} is not an object")));
        };
        let mut raw = RawReferral::default();
        for (key, value) in fields {
            let column =
                COLUMNS
                    .iter()
                    .find(|c| **c == key)
                    .ok_or_else(|| ListFileError::UnknownField {
                        at,
                        field: key.clone(),
                    })?;
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                other => {
                    return Err(ListFileError::field(
                        at,
                        column,
                        format!("expected a string, found {other}"),
                    ));
                }
            };
            if let Some(slot) = raw.slot(column) {
                *slot = text.trim().to_string();
            }
        }
        out.push(check(raw, at)?);
    }
    if out.is_empty() {
        return Err(ListFileError::Empty);
    }
    Ok(out)
}

/// Parses a target kind: `account`, ..., or `TARGET_KIND_ACCOUNT`, case-insensitive.
pub fn parse_kind(s: &str) -> Option<TargetKind> {
    let upper = s.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("TARGET_KIND_").unwrap_or(&upper);
    Some(match bare {
        "ACCOUNT" => TargetKind::Account,
        "CHANNEL" => TargetKind::Channel,
        "GROUP" => TargetKind::Group,
        "CHAT" => TargetKind::Chat,
        "POST" => TargetKind::Post,
        "BOT" => TargetKind::Bot,
        _ => return None,
    })
}

/// Parses a legal basis: `tos_referral` (`tos`), `removal_order`, or the proto names.
pub fn parse_legal_basis(s: &str) -> Option<LegalBasis> {
    let upper = s.trim().to_ascii_uppercase().replace('-', "_");
    let bare = upper.strip_prefix("LEGAL_BASIS_").unwrap_or(&upper);
    Some(match bare {
        "TOS_REFERRAL" | "TOS" => LegalBasis::TosReferral,
        "REMOVAL_ORDER" => LegalBasis::RemovalOrder,
        _ => return None,
    })
}

fn check(raw: RawReferral, at: Location) -> Result<Referral, ListFileError> {
    if raw.platform.is_empty() {
        return Err(ListFileError::field(at, "platform", "missing platform"));
    }
    let platform = PlatformName::parse(&raw.platform)
        .map_err(|e| ListFileError::field(at, "platform", e.to_string()))?;
    if raw.kind.is_empty() {
        return Err(ListFileError::field(
            at,
            "kind",
            "missing kind (account, channel, group, chat, post or bot)",
        ));
    }
    let kind = parse_kind(&raw.kind).ok_or_else(|| {
        ListFileError::field(
            at,
            "kind",
            format!(
                "unknown kind {:?} (expected account, channel, group, chat, post or bot)",
                raw.kind
            ),
        )
    })?;
    target::normalize(platform.as_str(), &raw.target)
        .map_err(|e| ListFileError::field(at, "target", e.to_string()))?;
    if raw.legal_basis.is_empty() {
        return Err(ListFileError::field(
            at,
            "legal_basis",
            "missing legal basis (tos_referral or removal_order)",
        ));
    }
    let legal_basis = parse_legal_basis(&raw.legal_basis).ok_or_else(|| {
        ListFileError::field(
            at,
            "legal_basis",
            format!(
                "unknown legal basis {:?} (expected tos_referral or removal_order)",
                raw.legal_basis
            ),
        )
    })?;
    if legal_basis == LegalBasis::RemovalOrder && raw.removal_order_ref.is_empty() {
        return Err(ListFileError::field(
            at,
            "removal_order_ref",
            "a removal order needs its reference",
        ));
    }
    let removal_order = order_details(&raw, legal_basis, at)?;
    let evidence_sha256 = if raw.evidence_sha256.is_empty() {
        Vec::new()
    } else {
        let bytes = hex::decode(&raw.evidence_sha256).map_err(|e| {
            ListFileError::field(
                at,
                "evidence_sha256",
                format!("{:?} is not hex: {e}", raw.evidence_sha256),
            )
        })?;
        if bytes.len() != 32 {
            return Err(ListFileError::field(
                at,
                "evidence_sha256",
                format!(
                    "a SHA-256 is 32 bytes (64 hex digits), found {} bytes",
                    bytes.len()
                ),
            ));
        }
        bytes
    };
    Ok(Referral {
        platform: platform.as_str().to_string(),
        kind: kind as i32,
        target: raw.target.trim().to_string(),
        category: raw.category,
        legal_basis: legal_basis as i32,
        removal_order_ref: raw.removal_order_ref,
        evidence_sha256,
        note: raw.note,
        removal_order,
    })
}

/// A removal order's Annex I content from its columns, checked as the hub checks it
/// ([`removal_order::check`], against the time of signing, which is now); `None` for a
/// ToS referral, which must leave them empty.
fn order_details(
    raw: &RawReferral,
    basis: LegalBasis,
    at: Location,
) -> Result<Option<RemovalOrderDetails>, ListFileError> {
    let col = |name: &str| -> &str {
        ORDER_COLUMNS
            .iter()
            .position(|c| *c == name)
            .map_or("", |i| raw.order[i].as_str())
    };
    if basis != LegalBasis::RemovalOrder {
        return match ORDER_COLUMNS.iter().find(|c| !col(c).is_empty()) {
            Some(c) => Err(ListFileError::field(
                at,
                c,
                "only a removal order (legal_basis removal_order) states Annex I fields",
            )),
            None => Ok(None),
        };
    }
    let flag = |name: &'static str| -> Result<bool, ListFileError> {
        match col(name).to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "0" => Ok(false),
            "true" | "yes" | "1" => Ok(true),
            other => Err(ListFileError::field(
                at,
                name,
                format!("{other:?} is not true or false"),
            )),
        }
    };
    let issued_at = match col("issued_at") {
        "" => None,
        text => Some(
            time::OffsetDateTime::parse(text, &Rfc3339)
                .map(crate::time::to_timestamp)
                .map_err(|_| {
                    ListFileError::field(
                        at,
                        "issued_at",
                        format!("{text:?} is not an RFC 3339 time (2026-11-29T04:00:00Z)"),
                    )
                })?,
        ),
    };
    let mut points = Vec::new();
    for p in col("points")
        .split([';', ',', ' '])
        .filter(|p| !p.is_empty())
    {
        let point = removal_order::parse_point(p).ok_or_else(|| {
            ListFileError::field(
                at,
                "points",
                format!("{p:?} is not a point of Art 2(7) (a to e, or INCITES, ...)"),
            )
        })?;
        points.push(point as i32);
    }
    let details = RemovalOrderDetails {
        issuing_authority: col("issuing_authority").to_string(),
        member_state: col("member_state").to_string(),
        issued_at,
        additional_information: col("additional_information").to_string(),
        points,
        reasons: col("reasons").to_string(),
        legal_statement: col("legal_statement").to_string(),
        contact_point: col("contact_point").to_string(),
        withhold_information: flag("withhold_information")?,
        cross_border: flag("cross_border")?,
        host_member_state: col("host_member_state").to_string(),
        redress: col("redress").to_string(),
    };
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    removal_order::check(Some(&details), now_ms)
        .map(Some)
        .map_err(|e| ListFileError::field(at, e.field, e.problem))
}

#[cfg(test)]
mod tests;
