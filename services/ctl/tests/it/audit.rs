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
        }),
        statements: vec![pb::StatementOfReasons {
            target_id: "7".into(),
            platform: "video".into(),
            target: "example.org/a".into(),
            decision: "BLOCKED".into(),
            category: "terrorist_content".into(),
            legal_basis: "REMOVAL_ORDER".into(),
            removal_order_ref: "RO-1".into(),
            delivered_at: Some(takedown_protocol::timestamp::from_millis(1_700_000_000_000)),
            acted_at: Some(takedown_protocol::timestamp::from_millis(1_700_000_060_000)),
            ..Default::default()
        }],
    };
    let tco = render(&resp, ExportFormat::Tco).unwrap();
    assert_eq!(
        tco,
        "figure,count\nremoval_orders_issued,3\nacted_within_one_hour,1\nacted_later,0\n\
         refused,1\nrefused:NOT_A_VIOLATION,1\nnot_found,0\nno_decision,1\nwithdrawn,0\n"
    );
    let sor = render(&resp, ExportFormat::Sor).unwrap();
    let lines: Vec<&str> = sor.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1],
        "7,video,example.org/a,BLOCKED,,terrorist_content,REMOVAL_ORDER,RO-1,\
         2023-11-14T22:13:20Z,2023-11-14T22:14:20Z,,"
    );
}
