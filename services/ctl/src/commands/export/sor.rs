//! Statements of reasons in the form the DSA Transparency Database takes them (Art 24(5) of
//! Regulation (EU) 2022/2065): the field names and values of its submission API
//! (`POST /api/v1/statement`), one statement per restriction a platform imposed on a
//! referred target.
//!
//! Only restrictions get a statement: BLOCKED (removal) and GEO_BLOCKED (access disabled).
//! ALREADY_GONE, NOT_FOUND and REJECTED restricted nothing, so the database would refuse
//! them (every statement names at least one restriction); they stay in `--format
//! decisions` and in the TCO figures.
//!
//! How the hub's facts fill the schema:
//!
//! | field | value |
//! |---|---|
//! | `decision_visibility` | BLOCKED: `DECISION_VISIBILITY_CONTENT_REMOVED`; GEO_BLOCKED: `DECISION_VISIBILITY_CONTENT_DISABLED` (posts, channels, groups, chats) |
//! | `decision_account` | BLOCKED: `DECISION_ACCOUNT_TERMINATED`; GEO_BLOCKED: `DECISION_ACCOUNT_SUSPENDED` (accounts and bots) |
//! | `end_date_visibility_restriction`, `end_date_account_restriction` | the day the platform restored the target after a withdrawal |
//! | `decision_ground` | removal order: `DECISION_GROUND_ILLEGAL_CONTENT`, with `illegal_content_legal_ground` (Regulation (EU) 2021/784, Art 3, the order's reference) and `illegal_content_explanation` (the issuing authority, its member state, the date of issue); ToS referral: `DECISION_GROUND_INCOMPATIBLE_CONTENT`, with `incompatible_content_ground` (the referral's category) and `incompatible_content_explanation` |
//! | `category`, `category_specification` | `STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY`, `KEYWORD_TERRORIST_CONTENT` |
//! | `content_type`, `content_type_other` | `CONTENT_TYPE_OTHER`, the platform and the kind of target ("telegram channel") |
//! | `territorial_scope` | the 27 member states (a removal order binds in all of them) |
//! | `content_date` | the day of delivery: the hub does not know when the content was posted, and the database wants a date no later than `application_date` |
//! | `application_date` | the day the platform acted |
//! | `source_type`, `source_identity` | `SOURCE_TYPE_OTHER_NOTIFICATION` (the schema has no type for an authority's order or referral); a removal order's issuing authority |
//! | `automated_detection`, `automated_decision` | `No` (a person referred it); `AUTOMATED_DECISION_NOT_AUTOMATED` (the hub does not see how the platform decided: a platform submitting these corrects it) |
//! | `decision_facts` | what happened, in one sentence |
//! | `puid` | the target's public id (`t-` and 32 hex digits) |
//! | `platform_name` | the platform (the database sets it from the submitter's account; kept so one file can hold several platforms) |
//!
//! JSON lines carry arrays as arrays; CSV carries them as JSON array text in one cell, as the
//! database's own data downloads do.

use serde::Serialize;
use takedown_protocol::{pb, removal_order::MEMBER_STATES};

/// One statement, with the schema's field names; `None` fields are left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    pub puid: String,
    pub platform_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_visibility: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date_visibility_restriction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_account: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date_account_restriction: Option<String>,
    pub decision_ground: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub illegal_content_legal_ground: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub illegal_content_explanation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incompatible_content_ground: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incompatible_content_explanation: Option<String>,
    pub category: &'static str,
    pub category_specification: Vec<&'static str>,
    pub content_type: Vec<&'static str>,
    pub content_type_other: String,
    pub territorial_scope: Vec<&'static str>,
    pub content_date: String,
    pub application_date: String,
    pub source_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    pub automated_detection: &'static str,
    pub automated_decision: &'static str,
    pub decision_facts: String,
}

/// The CSV columns, in order: every field of [`Statement`].
pub const COLUMNS: [&str; 23] = [
    "puid",
    "platform_name",
    "decision_visibility",
    "end_date_visibility_restriction",
    "decision_account",
    "end_date_account_restriction",
    "decision_ground",
    "illegal_content_legal_ground",
    "illegal_content_explanation",
    "incompatible_content_ground",
    "incompatible_content_explanation",
    "category",
    "category_specification",
    "content_type",
    "content_type_other",
    "territorial_scope",
    "content_date",
    "application_date",
    "source_type",
    "source_identity",
    "automated_detection",
    "automated_decision",
    "decision_facts",
];

/// `YYYY-MM-DD` of a timestamp (UTC), as the schema writes dates.
fn date(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    let t = ts?;
    let d = time::OffsetDateTime::from_unix_timestamp(t.seconds).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}",
        d.year(),
        u8::from(d.month()),
        d.day()
    ))
}

/// The statement of one decided target, or `None` when its decision restricted nothing.
pub fn statement(s: &pb::StatementOfReasons) -> Option<Statement> {
    let removed = match s.decision.as_str() {
        "BLOCKED" => true,
        "GEO_BLOCKED" => false,
        _ => return None,
    };
    let account = matches!(s.target_kind.as_str(), "ACCOUNT" | "BOT");
    let restored = (s.restoration == "RESTORED")
        .then(|| date(s.restoration_at.as_ref()))
        .flatten();
    let order = s.legal_basis == "REMOVAL_ORDER";
    let kind = s.target_kind.to_ascii_lowercase();
    let acted = date(s.acted_at.as_ref()).unwrap_or_default();
    let authority = (!s.issuing_authority.is_empty()).then(|| s.issuing_authority.clone());
    let issued = date(s.order_issued_at.as_ref());
    let explanation = match (&authority, &issued) {
        (Some(a), Some(d)) => format!(
            "Removal order {} issued by {a} ({}) on {d} for terrorist content ({}).",
            s.removal_order_ref, s.member_state, s.category
        ),
        _ => format!(
            "Removal order {} for terrorist content ({}).",
            s.removal_order_ref, s.category
        ),
    };
    let what = if removed {
        "removed"
    } else {
        "disabled access to"
    };
    Some(Statement {
        puid: s.target_id.clone(),
        platform_name: s.platform.clone(),
        decision_visibility: (!account).then(|| {
            vec![if removed {
                "DECISION_VISIBILITY_CONTENT_REMOVED"
            } else {
                "DECISION_VISIBILITY_CONTENT_DISABLED"
            }]
        }),
        end_date_visibility_restriction: restored.clone().filter(|_| !account),
        decision_account: account.then_some(if removed {
            "DECISION_ACCOUNT_TERMINATED"
        } else {
            "DECISION_ACCOUNT_SUSPENDED"
        }),
        end_date_account_restriction: restored.filter(|_| account),
        decision_ground: if order {
            "DECISION_GROUND_ILLEGAL_CONTENT"
        } else {
            "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        },
        illegal_content_legal_ground: order.then(|| {
            format!(
                "Regulation (EU) 2021/784, Article 3: removal order {}",
                s.removal_order_ref
            )
        }),
        illegal_content_explanation: order.then_some(explanation),
        incompatible_content_ground: (!order).then(|| {
            if s.category.is_empty() {
                "terms of service: terrorist content".to_string()
            } else {
                format!("terms of service: {}", s.category)
            }
        }),
        incompatible_content_explanation: (!order).then(|| {
            format!(
                "Referred by a national referral unit for review under the terms of service; \
                 the platform found the {kind} incompatible with them."
            )
        }),
        category: "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        category_specification: vec!["KEYWORD_TERRORIST_CONTENT"],
        content_type: vec!["CONTENT_TYPE_OTHER"],
        content_type_other: format!("{} {kind}", s.platform),
        territorial_scope: MEMBER_STATES.to_vec(),
        content_date: date(s.delivered_at.as_ref()).unwrap_or_else(|| acted.clone()),
        application_date: acted.clone(),
        source_type: "SOURCE_TYPE_OTHER_NOTIFICATION",
        source_identity: authority,
        automated_detection: "No",
        automated_decision: "AUTOMATED_DECISION_NOT_AUTOMATED",
        decision_facts: format!(
            "The platform {what} the {kind} {} on {acted} after a coordinated referral{}.",
            s.target,
            if order { " under a removal order" } else { "" }
        ),
    })
}

impl Statement {
    /// The CSV cells, in [`COLUMNS`] order (arrays as JSON array text, absent as empty).
    pub fn cells(&self) -> Vec<String> {
        let list = |v: &[&str]| serde_json::to_string(v).unwrap_or_default();
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            self.puid.clone(),
            self.platform_name.clone(),
            self.decision_visibility
                .as_deref()
                .map(list)
                .unwrap_or_default(),
            opt(&self.end_date_visibility_restriction),
            self.decision_account.unwrap_or_default().to_string(),
            opt(&self.end_date_account_restriction),
            self.decision_ground.to_string(),
            opt(&self.illegal_content_legal_ground),
            opt(&self.illegal_content_explanation),
            opt(&self.incompatible_content_ground),
            opt(&self.incompatible_content_explanation),
            self.category.to_string(),
            list(&self.category_specification),
            list(&self.content_type),
            self.content_type_other.clone(),
            list(&self.territorial_scope),
            self.content_date.clone(),
            self.application_date.clone(),
            self.source_type.to_string(),
            opt(&self.source_identity),
            self.automated_detection.to_string(),
            self.automated_decision.to_string(),
            self.decision_facts.clone(),
        ]
    }
}
