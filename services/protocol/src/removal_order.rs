//! What a removal order must state (Annex I of Regulation (EU) 2021/784), checked the same
//! way by `takedownctl` before it signs a list and by the hub at intake.
//!
//! The order's reference (`Referral.removal_order_ref`) and its exact URL
//! (`Referral.target`) travel in the referral itself; [`check`] judges the rest.

use crate::pb::{RemovalOrderDetails, TerroristContentPoint};

/// The member states of the European Union, ISO 3166-1 alpha-2 (Greece is also accepted as
/// "EL", the Union's own code, and stored as "GR").
pub const MEMBER_STATES: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// How far after its list's signing an order's issue time may lie (clock skew).
pub const ISSUE_SKEW_MS: i64 = 5 * 60 * 1000;

/// Upper bound of each free-text field, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// One missing or malformed field of a removal order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("removal_order.{field}: {problem}")]
pub struct FieldError {
    /// The field's name inside `RemovalOrderDetails` (`member_state`, `points`, ...).
    pub field: &'static str,
    pub problem: String,
}

fn error(field: &'static str, problem: impl Into<String>) -> FieldError {
    FieldError {
        field,
        problem: problem.into(),
    }
}

/// A member state's canonical code (upper case, "EL" as "GR"), or `None` when `code` names
/// none.
pub fn member_state(code: &str) -> Option<&'static str> {
    let upper = code.trim().to_ascii_uppercase();
    let upper = if upper == "EL" {
        "GR".to_string()
    } else {
        upper
    };
    MEMBER_STATES.iter().copied().find(|m| *m == upper)
}

fn required_text(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(error(field, "required for a removal order (Annex I)"));
    }
    optional_text(field, value)
}

fn optional_text(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(error(
            field,
            format!("is {} bytes; the limit is {MAX_TEXT_BYTES}", value.len()),
        ));
    }
    Ok(())
}

/// Checks an order's Annex I content; `signed_at_ms` is when its list was signed (an order
/// cannot be issued after the list that carries it, beyond [`ISSUE_SKEW_MS`]). Returns the
/// details with member-state codes in canonical form.
pub fn check(
    details: Option<&RemovalOrderDetails>,
    signed_at_ms: i64,
) -> Result<RemovalOrderDetails, FieldError> {
    let d = details.ok_or_else(|| {
        error(
            "issuing_authority",
            "a removal order states its Annex I content (issuing authority, member state, \
             time of issue, reasons, legal basis, contact point)",
        )
    })?;
    let mut d = d.clone();
    required_text("issuing_authority", &d.issuing_authority)?;
    if d.member_state.trim().is_empty() {
        return Err(error(
            "member_state",
            "required for a removal order (Annex I)",
        ));
    }
    d.member_state = member_state(&d.member_state)
        .ok_or_else(|| {
            error(
                "member_state",
                format!("{:?} is not an EU member state's ISO code", d.member_state),
            )
        })?
        .to_string();
    let issued = d
        .issued_at
        .as_ref()
        .ok_or_else(|| error("issued_at", "required for a removal order (Annex I)"))?;
    let issued_ms = crate::timestamp::to_millis(issued);
    if issued_ms > signed_at_ms.saturating_add(ISSUE_SKEW_MS) {
        return Err(error(
            "issued_at",
            "is later than the list's signature: an order is issued before it is sent",
        ));
    }
    optional_text("additional_information", &d.additional_information)?;
    if d.points.is_empty() {
        return Err(error(
            "points",
            "name at least one point of Art 2(7) (INCITES, SOLICITS_OFFENCES, \
             SOLICITS_PARTICIPATION, INSTRUCTS, THREATENS)",
        ));
    }
    for p in &d.points {
        if TerroristContentPoint::try_from(*p)
            .ok()
            .filter(|p| *p != TerroristContentPoint::Unspecified)
            .is_none()
        {
            return Err(error("points", format!("{p} is not a point of Art 2(7)")));
        }
    }
    required_text("reasons", &d.reasons)?;
    required_text("legal_statement", &d.legal_statement)?;
    required_text("contact_point", &d.contact_point)?;
    optional_text("redress", &d.redress)?;
    if d.cross_border {
        if d.host_member_state.trim().is_empty() {
            return Err(error(
                "host_member_state",
                "a cross-border order (Art 4) names the host member state",
            ));
        }
        let host = member_state(&d.host_member_state).ok_or_else(|| {
            error(
                "host_member_state",
                format!(
                    "{:?} is not an EU member state's ISO code",
                    d.host_member_state
                ),
            )
        })?;
        if host == d.member_state {
            return Err(error(
                "host_member_state",
                "is the issuing member state: the order is not cross-border",
            ));
        }
        d.host_member_state = host.to_string();
    } else if !d.host_member_state.trim().is_empty() {
        return Err(error(
            "host_member_state",
            "set on an order that is not cross-border (set cross_border too)",
        ));
    }
    Ok(d)
}

/// `TERRORIST_CONTENT_POINT_INCITES` → `INCITES`.
pub fn point_name(p: i32) -> &'static str {
    TerroristContentPoint::try_from(p)
        .unwrap_or(TerroristContentPoint::Unspecified)
        .as_str_name()
        .trim_start_matches("TERRORIST_CONTENT_POINT_")
}

/// `incites`, `INCITES`, `TERRORIST_CONTENT_POINT_INCITES` or the Art 2(7) letter `a`
/// → the point.
pub fn parse_point(s: &str) -> Option<TerroristContentPoint> {
    let upper = s.trim().to_ascii_uppercase();
    let by_letter = match upper.as_str() {
        "A" => Some(TerroristContentPoint::Incites),
        "B" => Some(TerroristContentPoint::SolicitsOffences),
        "C" => Some(TerroristContentPoint::SolicitsParticipation),
        "D" => Some(TerroristContentPoint::Instructs),
        "E" => Some(TerroristContentPoint::Threatens),
        _ => None,
    };
    by_letter
        .or_else(|| TerroristContentPoint::from_str_name(&upper))
        .or_else(|| {
            TerroristContentPoint::from_str_name(&format!("TERRORIST_CONTENT_POINT_{upper}"))
        })
        .filter(|p| *p != TerroristContentPoint::Unspecified)
}

/// A complete order, for tests, demos and benchmarks: issued by `authority` of
/// `member_state` at `issued_at_ms`, on point (a).
pub fn example(authority: &str, member_state: &str, issued_at_ms: i64) -> RemovalOrderDetails {
    RemovalOrderDetails {
        issuing_authority: authority.to_string(),
        member_state: member_state.to_string(),
        issued_at: Some(crate::timestamp::from_millis(issued_at_ms)),
        additional_information: String::new(),
        points: vec![TerroristContentPoint::Incites as i32],
        reasons: "The channel republishes a terrorist group's calls to attack.".into(),
        legal_statement: "Article 3 of Regulation (EU) 2021/784".into(),
        contact_point: "tco-contact@authority.example".into(),
        withhold_information: false,
        cross_border: false,
        host_member_state: String::new(),
        redress: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000_000;

    fn order() -> RemovalOrderDetails {
        example("Bundeskriminalamt", "de", T - 60_000)
    }

    fn field_of(d: RemovalOrderDetails) -> &'static str {
        check(Some(&d), T).unwrap_err().field
    }

    #[test]
    fn a_complete_order_passes_in_canonical_form() {
        let mut d = order();
        d.cross_border = true;
        d.host_member_state = "el".into();
        let c = check(Some(&d), T).unwrap();
        assert_eq!(
            (c.member_state.as_str(), c.host_member_state.as_str()),
            ("DE", "GR")
        );
    }

    #[test]
    fn each_missing_or_wrong_field_is_named() {
        assert_eq!(check(None, T).unwrap_err().field, "issuing_authority");
        let mut d = order();
        d.issuing_authority = " ".into();
        assert_eq!(field_of(d), "issuing_authority");
        let mut d = order();
        d.member_state = "CH".into();
        assert_eq!(field_of(d), "member_state");
        let mut d = order();
        d.issued_at = None;
        assert_eq!(field_of(d), "issued_at");
        let mut d = order();
        d.issued_at = Some(crate::timestamp::from_millis(T + ISSUE_SKEW_MS + 1));
        assert_eq!(field_of(d), "issued_at");
        let mut d = order();
        d.points.clear();
        assert_eq!(field_of(d), "points");
        let mut d = order();
        d.points = vec![0];
        assert_eq!(field_of(d), "points");
        let mut d = order();
        d.reasons.clear();
        assert_eq!(field_of(d), "reasons");
        let mut d = order();
        d.legal_statement.clear();
        assert_eq!(field_of(d), "legal_statement");
        let mut d = order();
        d.contact_point.clear();
        assert_eq!(field_of(d), "contact_point");
        let mut d = order();
        d.cross_border = true;
        assert_eq!(field_of(d), "host_member_state");
        let mut d = order();
        d.cross_border = true;
        d.host_member_state = "DE".into();
        assert_eq!(field_of(d), "host_member_state");
        let mut d = order();
        d.host_member_state = "FR".into();
        assert_eq!(field_of(d), "host_member_state");
        let mut d = order();
        d.redress = "x".repeat(MAX_TEXT_BYTES + 1);
        assert_eq!(field_of(d), "redress");
    }

    #[test]
    fn points_parse_by_letter_and_by_name() {
        assert_eq!(parse_point("a"), Some(TerroristContentPoint::Incites));
        assert_eq!(
            parse_point("threatens"),
            Some(TerroristContentPoint::Threatens)
        );
        assert_eq!(
            parse_point("TERRORIST_CONTENT_POINT_INSTRUCTS"),
            Some(TerroristContentPoint::Instructs)
        );
        assert_eq!(parse_point("f"), None);
        assert_eq!(parse_point("unspecified"), None);
        assert_eq!(
            point_name(TerroristContentPoint::SolicitsOffences as i32),
            "SOLICITS_OFFENCES"
        );
    }
}
