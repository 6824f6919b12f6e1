//! The README's first command: the demo runs a whole action day and every delivered target
//! gets its decision.

#[test]
fn the_demo_runs_an_action_day_to_the_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_takedown-demo"))
        .arg("--dir")
        .arg(dir.path())
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the demo failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for platform in ["telegram", "tamtam", "x"] {
        assert!(
            stdout.contains(platform),
            "no row for {platform}:\n{stdout}"
        );
    }
    // The demo lists' 11 removal orders, and their clock.
    assert!(
        stdout.contains(
            "Removal orders (one hour from delivery to act, TCO Regulation Art 3(3)): 11 delivered; "
        ),
        "no removal-order line:\n{stdout}"
    );
    assert!(stdout.contains("ToS referrals: "), "{stdout}");
}
