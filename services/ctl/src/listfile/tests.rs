use std::collections::HashSet;

use super::*;

const HEADER: &str = "platform,kind,target,category,legal_basis,removal_order_ref,note\n";

fn csv(body: &str) -> Result<Vec<Referral>, ListFileError> {
    parse_csv(format!("{HEADER}{body}").as_bytes())
}

/// The error's message, checked to name the place and the column.
fn csv_err(body: &str) -> String {
    csv(body).unwrap_err().to_string()
}

/// The header of a list with removal orders: [`HEADER`] and the Annex I columns.
const ORDER_HEADER: &str = "platform,kind,target,category,legal_basis,removal_order_ref,note,\
    issuing_authority,member_state,issued_at,points,reasons,legal_statement,contact_point,\
    withhold_information,cross_border,host_member_state\n";

/// An order's Annex I columns, after `note` in [`ORDER_HEADER`].
const ORDER: &str = "OCLCTIC,fr,2026-11-29T04:00:00Z,a;e,Calls to attack,\
    Article 3 of Regulation (EU) 2021/784,tco@interieur.example,yes,true,DE";

fn order_csv(body: &str) -> Result<Vec<Referral>, ListFileError> {
    parse_csv(format!("{ORDER_HEADER}{body}").as_bytes())
}

#[test]
fn a_good_csv_becomes_referrals() {
    let refs = order_csv(&format!(
        "telegram,channel,@demo_channel_0001,terrorist-propaganda,tos_referral,,first,,,,,,,,,,\n\
         Twitter,TARGET_KIND_POST,https://x.com/demo/status/1,recruitment,LEGAL_BASIS_REMOVAL_ORDER,RO-2026-FR-0001,,{ORDER}\n\
          tamtam , Group , tamtam.chat/demo_group_117 ,,tos,,,,,,,,,,,,\n",
    ))
    .unwrap();
    assert_eq!(refs.len(), 3);
    assert_eq!(refs[0].platform, "telegram");
    assert_eq!(refs[0].kind, TargetKind::Channel as i32);
    assert_eq!(refs[0].target, "@demo_channel_0001");
    assert_eq!(refs[0].note, "first");
    assert_eq!(refs[1].platform, "x");
    assert_eq!(refs[1].kind, TargetKind::Post as i32);
    assert_eq!(refs[1].legal_basis, LegalBasis::RemovalOrder as i32);
    assert_eq!(refs[1].removal_order_ref, "RO-2026-FR-0001");
    let order = refs[1].removal_order.as_ref().expect("Annex I content");
    assert_eq!(order.issuing_authority, "OCLCTIC");
    assert_eq!(
        (
            order.member_state.as_str(),
            order.host_member_state.as_str()
        ),
        ("FR", "DE")
    );
    assert_eq!(
        order.points,
        [pb_point::Incites as i32, pb_point::Threatens as i32]
    );
    assert!(order.withhold_information && order.cross_border);
    assert_eq!(
        order
            .issued_at
            .as_ref()
            .map(takedown_protocol::timestamp::to_millis),
        Some(1_795_924_800_000)
    );
    assert!(refs[0].removal_order.is_none());
    assert_eq!(refs[2].platform, "tamtam");
    assert_eq!(refs[2].kind, TargetKind::Group as i32);
    assert_eq!(refs[2].target, "tamtam.chat/demo_group_117");
    assert_eq!(refs[2].legal_basis, LegalBasis::TosReferral as i32);
    assert!(refs[2].evidence_sha256.is_empty());
}

use takedown_protocol::pb::TerroristContentPoint as pb_point;

#[test]
fn a_removal_order_states_its_annex_i_content() {
    let row = |order: &str| {
        order_csv(&format!(
            "telegram,channel,@demo,c,removal_order,RO-1,,{order}\n"
        ))
        .unwrap_err()
        .to_string()
    };
    let e = row("OCLCTIC,,2026-11-29T04:00:00Z,a,r,l,c,,,");
    assert_eq!(
        e,
        "line 2, column \"member_state\": required for a removal order (Annex I)"
    );
    let e = row("OCLCTIC,FR,yesterday,a,r,l,c,,,");
    assert!(
        e.starts_with("line 2, column \"issued_at\": \"yesterday\" is not"),
        "{e}"
    );
    let e = row("OCLCTIC,FR,2026-11-29T04:00:00Z,f,r,l,c,,,");
    assert!(e.starts_with("line 2, column \"points\": \"f\""), "{e}");
    let e = row("OCLCTIC,FR,2026-11-29T04:00:00Z,a,r,l,c,maybe,,");
    assert!(
        e.starts_with("line 2, column \"withhold_information\""),
        "{e}"
    );
    let e = row("OCLCTIC,FR,2026-11-29T04:00:00Z,a,r,l,c,,yes,");
    assert!(e.starts_with("line 2, column \"host_member_state\""), "{e}");
    let e = row("OCLCTIC,FR,2026-11-29T04:00:00Z,a,r,l,,,,");
    assert!(e.starts_with("line 2, column \"contact_point\""), "{e}");
    // A ToS referral leaves the order's columns empty.
    let e = order_csv("telegram,channel,@demo,c,tos,,,OCLCTIC,,,,,,,,,\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("line 2, column \"issuing_authority\": only a removal order"),
        "{e}"
    );
}

#[test]
fn columns_may_come_in_any_order_with_evidence() {
    let digest = "ab".repeat(32);
    let text = format!(
        "Target,Platform,Kind,Legal_Basis,evidence_sha256\n@demo_x,telegram,account,tos,{digest}\n"
    );
    let refs = parse_csv(text.as_bytes()).unwrap();
    assert_eq!(refs[0].target, "@demo_x");
    assert_eq!(refs[0].evidence_sha256, vec![0xab; 32]);
}

#[test]
fn csv_errors_name_line_and_column() {
    let e = csv_err(concat!(
        "telegram,channel,@ok,c,tos_referral,,\n",
        "telegram,channnel,@demo,c,tos_referral,,\n"
    ));
    assert!(
        e.starts_with("line 3, column \"kind\": unknown kind \"channnel\""),
        "{e}"
    );

    let e = csv_err("telegram,channel,@demo,c,voluntary,,\n");
    assert!(
        e.starts_with("line 2, column \"legal_basis\": unknown legal basis \"voluntary\""),
        "{e}"
    );

    let e = csv_err("telegram,channel,@demo,c,removal_order,,\n");
    assert_eq!(
        e,
        "line 2, column \"removal_order_ref\": a removal order needs its reference"
    );

    let e = csv_err("telegram,channel,https://x.com/demo,c,tos,,\n");
    assert!(e.starts_with("line 2, column \"target\": "), "{e}");

    let e = csv_err("Not A Platform,channel,@demo,c,tos,,\n");
    assert!(e.starts_with("line 2, column \"platform\": "), "{e}");

    let e = csv_err(",channel,@demo,c,tos,,\n");
    assert_eq!(e, "line 2, column \"platform\": missing platform");

    let e = csv_err("telegram,,@demo,c,tos,,\n");
    assert!(
        e.starts_with("line 2, column \"kind\": missing kind"),
        "{e}"
    );

    let e = csv_err("telegram,channel,@demo,c\n");
    assert!(
        e.starts_with("CSV line 2: 4 fields where the header has 7"),
        "{e}"
    );

    let text = "platform,kind,target,legal_basis,evidence_sha256\ntelegram,bot,@b,tos,zz\n";
    let e = parse_csv(text.as_bytes()).unwrap_err().to_string();
    assert!(
        e.starts_with("line 2, column \"evidence_sha256\": \"zz\" is not hex"),
        "{e}"
    );
    let text = "platform,kind,target,legal_basis,evidence_sha256\ntelegram,bot,@b,tos,abcd\n";
    let e = parse_csv(text.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("found 2 bytes"), "{e}");
}

#[test]
fn csv_header_errors() {
    let e = parse_csv("platform,kind,target\ntelegram,bot,@b\n".as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("CSV header: missing column \"legal_basis\""),
        "{e}"
    );
    let e = parse_csv("platform,kind,target,legal-basis\n".as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("CSV header: unknown column \"legal-basis\""),
        "{e}"
    );
    let e = parse_csv("platform,kind,target,legal_basis,kind\n".as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"kind\" appears twice"), "{e}");
    assert!(matches!(csv(""), Err(ListFileError::Empty)));
}

#[test]
fn json_lists_and_their_errors() {
    let refs = parse_json(
        r#"[{"platform": "tamtam", "kind": "group", "target": "@demo_group_001",
             "legal_basis": "tos_referral", "category": "recruitment", "note": null},
            {"platform": "x", "kind": "POST", "target": "https://x.com/a/status/9",
             "legal_basis": "removal_order", "removal_order_ref": "RO-2026-DE-0001",
             "issuing_authority": "Bundeskriminalamt", "member_state": "DE",
             "issued_at": "2026-11-29T04:00:00+01:00", "points": "INCITES",
             "reasons": "Calls to attack", "legal_statement": "Article 3 TCO",
             "contact_point": "+49 611 55 0"}]"#,
    )
    .unwrap();
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[0].category, "recruitment");
    assert_eq!(refs[1].removal_order_ref, "RO-2026-DE-0001");
    assert_eq!(
        refs[1]
            .removal_order
            .as_ref()
            .map(|o| o.contact_point.as_str()),
        Some("+49 611 55 0")
    );

    let e = parse_json(
        r#"[{"platform": "x", "kind": "post", "target": "@a", "legal_basis": "tos"},
            {"platform": "x", "kind": "post", "target": "@a", "legal_basis": "removal_order"}]"#,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "item 1, column \"removal_order_ref\": a removal order needs its reference"
    );
    let e = parse_json(r#"[{"platform": "x", "kind": 5, "target": "@a"}]"#)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "item 0, column \"kind\": expected a string, found 5");
    let e = parse_json(r#"[{"platfrom": "x"}]"#)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("item 0: unknown field \"platfrom\""), "{e}");
    let e = parse_json(r#"{"platform": "x"}"#).unwrap_err().to_string();
    assert!(e.contains("expected an array"), "{e}");
    let e = parse_json("[1]").unwrap_err().to_string();
    assert!(e.contains("item 0 is not an object"), "{e}");
    assert!(matches!(parse_json("[{"), Err(ListFileError::Json(_))));
    assert!(matches!(parse_json("[]"), Err(ListFileError::Empty)));
}

#[test]
fn files_are_read_by_extension_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("l.JSON");
    std::fs::write(
        &good,
        r#"[{"platform":"telegram","kind":"bot","target":"@b","legal_basis":"tos"}]"#,
    )
    .unwrap();
    assert_eq!(read_referrals(&good).unwrap().len(), 1);
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, format!("{HEADER}telegram,blog,@b,,tos,,\n")).unwrap();
    let e = read_referrals(&bad).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: line 2, column \"kind\"", bad.display())),
        "{e}"
    );
    let e = read_referrals(&dir.path().join("l.txt")).unwrap_err();
    assert!(matches!(e, ListFileError::UnknownFileType { .. }));
    let e = read_referrals(&dir.path().join("missing.csv")).unwrap_err();
    assert!(matches!(e, ListFileError::Io { .. }));
}

/// The normalized keys of a demo file.
fn demo_keys(name: &str) -> (usize, HashSet<(String, String)>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo")
        .join(name);
    let refs = read_referrals(&path).unwrap();
    let keys: HashSet<(String, String)> = refs
        .iter()
        .map(|r| {
            let n = target::normalize(&r.platform, &r.target)
                .unwrap_or_else(|e| panic!("{name}: {}: {e}", r.target));
            (r.platform.clone(), n.into_string())
        })
        .collect();
    (refs.len(), keys)
}

#[test]
fn demo_lists_normalize_and_overlap_on_forty_targets() {
    let (fr_rows, fr) = demo_keys("agency-fr.csv");
    let (de_rows, de) = demo_keys("agency-de.csv");
    // No list names a target twice.
    assert_eq!(fr.len(), fr_rows);
    assert_eq!(de.len(), de_rows);
    assert!(fr_rows > 300 && de_rows > 250, "{fr_rows} {de_rows}");
    // The two agencies' lists share 40 targets, written differently.
    assert_eq!(fr.intersection(&de).count(), 40);
    let all: HashSet<_> = fr.union(&de).collect();
    let count = |platform: &str, prefix: &str| {
        all.iter()
            .filter(|(p, t)| p == platform && t.starts_with(prefix))
            .count()
    };
    assert_eq!(count("tamtam", "demo_group_"), 165);
    assert_eq!(
        count("tamtam", "demo_chat_") + count("telegram", "+DemoChat"),
        50
    );
    let telegram = all.iter().filter(|(p, _)| p == "telegram").count();
    assert!((300..=400).contains(&telegram), "{telegram}");
    assert!(all.iter().any(|(p, _)| p == "x"));
}
