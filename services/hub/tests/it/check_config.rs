//! `takedown-hub --check-config`: the startup configuration check alone, on the real
//! binary with nothing but the given environment.

use std::process::{Command, Output};

/// Runs `takedown-hub --check-config` with `vars` as its whole environment (and PATH),
/// in an empty directory.
fn check(vars: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_takedown-hub"));
    cmd.arg("--check-config")
        .env_clear()
        .current_dir(dir.path());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(vars.iter().copied())
        .output()
        .expect("running takedown-hub")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_valid_configuration_is_ok_without_database_port_or_certificates() {
    // Nothing listens on port 1 and no certificate exists: neither is touched.
    let out = check(&[
        ("TAKEDOWN_LISTEN", "0.0.0.0:7400"),
        (
            "TAKEDOWN_DATABASE_URL",
            "postgres://takedown:secret@127.0.0.1:1/takedown",
        ),
        ("TAKEDOWN_TLS__CA", "/nonexistent/ca.pem"),
        ("TAKEDOWN_TLS__CERT", "/nonexistent/hub.pem"),
        ("TAKEDOWN_TLS__KEY", "/nonexistent/hub.key"),
        ("TAKEDOWN_RETENTION__DAYS", "30"),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        stdout,
        "takedown-hub: configuration OK (hub_id hub, listen 0.0.0.0:7400, database PostgreSQL)\n"
    );
    assert!(
        !stdout.contains("secret"),
        "the password is printed: {stdout}"
    );
}

#[test]
fn an_invalid_configuration_is_one_line_naming_the_field_and_a_failure() {
    let out = check(&[("TAKEDOWN_RETENTION__DAYS", "0")]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a refused configuration, as the sidecar's"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "error: configuration: retention.days: must be positive\n"
    );
}

#[test]
fn a_misspelt_nested_key_is_refused() {
    let out = check(&[("TAKEDOWN_RETENTION__DAYZ", "30")]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("dayz"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
