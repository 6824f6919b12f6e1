//! `audit verify` on exported chains (no hub), and the transparency CSV rendering.

use takedown_ctl::commands::export::{ExportFormat, render};
use takedown_protocol::{
    audit::{AuditRecord, GENESIS, entry_hash},
    pb,
};

use crate::helpers::Workdir;

fn chain(n: u64) -> Vec<AuditRecord> {
    let mut prev = GENESIS;
    (1..=n)
        .map(|seq| {
            let details = format!("{{\"target_ids\":[{seq}]}}");
            let at = 1_700_000_000_000 + seq as i64;
            let h = entry_hash(seq, at, "hub", "delivered", "video", &details, &prev);
            let r = AuditRecord {
                seq,
                at,
                actor: "hub".into(),
                kind: "delivered".into(),
                subject: "video".into(),
                details,
                prev_hash: hex::encode(prev),
                hash: hex::encode(h),
            };
            prev = h;
            r
        })
        .collect()
}

fn write(w: &Workdir, name: &str, rs: &[AuditRecord]) -> String {
    let text: String = rs
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(w.path(name), text).unwrap();
    name.to_string()
}

#[test]
fn verify_passes_an_untouched_export() {
    let w = Workdir::new();
    let rs = chain(6);
    let f = write(&w, "audit.jsonl", &rs);
    let out = w.run(&["audit", "verify", &f]);
    assert_eq!(
        out.ok().trim(),
        format!(
            "OK: 6 entries, head {}\n\
             no signed head: a file cut short cannot be told from a whole one (pass --head)",
            rs[5].hash
        )
    );
}

#[test]
fn verify_names_a_changed_deleted_or_reordered_entry() {
    let w = Workdir::new();

    let mut changed = chain(6);
    changed[3].details = "{\"target_ids\":[99]}".into();
    let f = write(&w, "changed.jsonl", &changed);
    let e = w.run(&["audit", "verify", &f]);
    let line = e.one_error_line();
    assert!(line.contains("line 4 (seq 4)"), "{line}");
    assert!(line.contains("hash does not match"), "{line}");

    let mut deleted = chain(6);
    deleted.remove(2);
    let f = write(&w, "deleted.jsonl", &deleted);
    let line = w.run(&["audit", "verify", &f]).one_error_line().to_string();
    assert!(line.contains("line 3 (seq 4)"), "{line}");
    assert!(line.contains("expected seq 3"), "{line}");

    let mut swapped = chain(6);
    swapped.swap(1, 4);
    let f = write(&w, "swapped.jsonl", &swapped);
    let line = w.run(&["audit", "verify", &f]).one_error_line().to_string();
    assert!(line.contains("line 2 (seq 5)"), "{line}");

    let missing = w.run(&["audit", "verify", "nope.jsonl"]);
    assert!(missing.one_error_line().contains("nope.jsonl"));
}

#[test]
fn transparency_csv_matches_the_figures_and_rows() {
    let resp = pb::TransparencyResponse {
        tco: Some(pb::TcoFigures {
            action_day_id: "d1".into(),
            removal_orders_issued: 3,
            acted_within_one_hour: 1,
            acted_later: 0,
            refused: 1,
            refused_by_reason: vec![pb::RefusalCount {
                reason: "NOT_A_VIOLATION".into(),
                count: 1,
            }],
            not_found: 0,
            no_decision: 1,
            withdrawn: 0,
            by_authority: vec![pb::AuthorityOrders {
                issuing_authority: "Bundeskriminalamt".into(),
                member_state: "DE".into(),
                orders: 3,
                acted_within_one_hour: 1,
                acted_later: 0,
                refused: 1,
                no_decision: 1,
            }],
            cross_border_orders: 1,
            cross_border_by_host: vec![pb::HostMemberStateCount {
                host_member_state: "FR".into(),
                orders: 1,
            }],
            ceased_on_scrutiny: 1,
            annulled_on_review: 0,
            scrutinised: 1,
            upheld_on_scrutiny: 0,
        }),
        statements: vec![
            pb::StatementOfReasons {
                target_id: "t-7".into(),
                platform: "video".into(),
                target: "example.org/a".into(),
                decision: "BLOCKED".into(),
                category: "terrorist_content".into(),
                legal_basis: "REMOVAL_ORDER".into(),
                removal_order_ref: "RO-1".into(),
                delivered_at: Some(takedown_protocol::timestamp::from_millis(1_700_000_000_000)),
                acted_at: Some(takedown_protocol::timestamp::from_millis(1_700_000_060_000)),
                target_kind: "POST".into(),
                issuing_authority: "Bundeskriminalamt".into(),
                member_state: "DE".into(),
                order_issued_at: Some(takedown_protocol::timestamp::from_millis(1_699_990_000_000)),
                ..Default::default()
            },
            // A ToS referral of an account, blocked, then withdrawn and restored.
            pb::StatementOfReasons {
                target_id: "t-8".into(),
                platform: "video".into(),
                target: "someone".into(),
                decision: "BLOCKED".into(),
                category: "propaganda".into(),
                legal_basis: "TOS_REFERRAL".into(),
                delivered_at: Some(takedown_protocol::timestamp::from_millis(1_700_000_000_000)),
                acted_at: Some(takedown_protocol::timestamp::from_millis(1_700_000_060_000)),
                withdrawn_at: Some(takedown_protocol::timestamp::from_millis(1_700_100_000_000)),
                restoration: "RESTORED".into(),
                restoration_at: Some(takedown_protocol::timestamp::from_millis(1_700_200_000_000)),
                target_kind: "ACCOUNT".into(),
                ..Default::default()
            },
            // Rejected: no restriction, so no statement of reasons.
            pb::StatementOfReasons {
                target_id: "t-9".into(),
                platform: "video".into(),
                target: "other".into(),
                decision: "REJECTED".into(),
                reject_reason: "NOT_A_VIOLATION".into(),
                legal_basis: "TOS_REFERRAL".into(),
                target_kind: "CHANNEL".into(),
                ..Default::default()
            },
        ],
    };
    let tco = render(&resp, ExportFormat::Tco).unwrap();
    assert_eq!(
        tco,
        "figure,count\nremoval_orders_issued,3\nacted_within_one_hour,1\nacted_later,0\n\
         refused,1\nrefused:NOT_A_VIOLATION,1\nnot_found,0\nno_decision,1\nwithdrawn,0\n\
         orders:DE:Bundeskriminalamt,3\nacted_within_one_hour:DE:Bundeskriminalamt,1\n\
         acted_later:DE:Bundeskriminalamt,0\nrefused:DE:Bundeskriminalamt,1\n\
         no_decision:DE:Bundeskriminalamt,1\ncross_border_orders,1\ncross_border_to:FR,1\n\
         scrutinised,1\nupheld_on_scrutiny,0\nceased_on_scrutiny,1\nannulled_on_review,0\n"
    );
    let decisions = render(&resp, ExportFormat::Decisions).unwrap();
    let lines: Vec<&str> = decisions.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[1],
        "t-7,video,example.org/a,BLOCKED,,terrorist_content,REMOVAL_ORDER,RO-1,\
         2023-11-14T22:13:20Z,2023-11-14T22:14:20Z,,"
    );

    // Statements of reasons: the two restrictions, in the DSA database's schema.
    let jsonl = render(&resp, ExportFormat::SorJsonl).unwrap();
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{jsonl}");
    let (order, tos) = (&rows[0], &rows[1]);
    assert_eq!(order["puid"], "t-7");
    assert_eq!(
        order["decision_visibility"],
        serde_json::json!(["DECISION_VISIBILITY_CONTENT_REMOVED"])
    );
    assert_eq!(order["decision_ground"], "DECISION_GROUND_ILLEGAL_CONTENT");
    assert_eq!(
        order["illegal_content_legal_ground"],
        "Regulation (EU) 2021/784, Article 3: removal order RO-1"
    );
    assert!(
        order["illegal_content_explanation"]
            .as_str()
            .unwrap()
            .contains("issued by Bundeskriminalamt (DE) on 2023-11-14"),
        "{order}"
    );
    assert_eq!(order["source_identity"], "Bundeskriminalamt");
    assert_eq!(
        order["category"],
        "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"
    );
    assert_eq!(
        order["category_specification"],
        serde_json::json!(["KEYWORD_TERRORIST_CONTENT"])
    );
    assert_eq!(order["territorial_scope"].as_array().unwrap().len(), 27);
    assert_eq!(
        (
            order["content_date"].as_str(),
            order["application_date"].as_str()
        ),
        (Some("2023-11-14"), Some("2023-11-14"))
    );
    assert!(order.get("incompatible_content_ground").is_none());
    assert!(order.get("decision_account").is_none());
    // An account: its restriction is on the account, ended by the restoration.
    assert_eq!(tos["decision_account"], "DECISION_ACCOUNT_TERMINATED");
    assert_eq!(tos["end_date_account_restriction"], "2023-11-17");
    assert!(tos.get("decision_visibility").is_none());
    assert_eq!(
        tos["decision_ground"],
        "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    );
    assert_eq!(
        tos["incompatible_content_ground"],
        "terms of service: propaganda"
    );
    assert!(tos.get("illegal_content_legal_ground").is_none());
    assert!(tos.get("source_identity").is_none());
    for row in &rows {
        for required in [
            "decision_ground",
            "content_type",
            "category",
            "content_date",
            "application_date",
            "decision_facts",
            "source_type",
            "automated_detection",
            "automated_decision",
            "puid",
        ] {
            assert!(row.get(required).is_some(), "{required} missing: {row}");
        }
    }

    // The CSV holds the same statements under the same names.
    let sor = render(&resp, ExportFormat::Sor).unwrap();
    let mut csv = csv::Reader::from_reader(sor.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2);
    let cell = |r: &csv::StringRecord, name: &str| {
        r.get(header.iter().position(|h| h == name).unwrap())
            .unwrap()
            .to_string()
    };
    assert_eq!(cell(&records[0], "puid"), "t-7");
    assert_eq!(
        cell(&records[0], "decision_visibility"),
        "[\"DECISION_VISIBILITY_CONTENT_REMOVED\"]"
    );
    assert_eq!(
        cell(&records[1], "decision_account"),
        "DECISION_ACCOUNT_TERMINATED"
    );
    // Both forms name the same fields: every JSON key is a CSV column.
    assert_eq!(header, takedown_ctl::commands::export::sor::COLUMNS);
    for row in &rows {
        for key in row.as_object().unwrap().keys() {
            assert!(header.contains(key), "JSON field {key} is no CSV column");
        }
    }
}
