//! `takedown-sidecar --check-config`: the startup configuration check alone, on the real
//! binary with nothing but the given environment.

use std::process::{Command, Output};

/// Runs `takedown-sidecar --check-config` with `vars` as its whole environment (and
/// PATH), in an empty directory.
fn check(vars: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_takedown-sidecar"));
    cmd.arg("--check-config")
        .env_clear()
        .current_dir(dir.path());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(vars.iter().copied())
        .output()
        .expect("running takedown-sidecar")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A sidecar as docker-compose.yml configures one, with certificates that do not exist.
const COMPOSE_LIKE: &[(&str, &str)] = &[
    ("TAKEDOWN_SIDECAR_PLATFORM", "telegram"),
    ("TAKEDOWN_SIDECAR_LISTEN", "0.0.0.0:7443"),
    ("TAKEDOWN_SIDECAR_HUB_ENDPOINT", "https://hub:7400"),
    ("TAKEDOWN_SIDECAR_INBOX", "/nonexistent/sidecar-telegram.db"),
    ("TAKEDOWN_SIDECAR_TLS__CA", "/nonexistent/ca.pem"),
    ("TAKEDOWN_SIDECAR_TLS__CERT", "/nonexistent/telegram.pem"),
    ("TAKEDOWN_SIDECAR_TLS__KEY", "/nonexistent/telegram.key"),
    (
        "TAKEDOWN_SIDECAR_TRUST__ROOTS",
        r#"["/nonexistent/root.pub.pem"]"#,
    ),
    ("TAKEDOWN_SIDECAR_INTEGRATION__MODE", "auto"),
];

#[test]
fn a_valid_configuration_is_ok_without_inbox_port_or_certificates() {
    let out = check(COMPOSE_LIKE);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        stdout,
        "takedown-sidecar: configuration OK (platform telegram, push, listen 0.0.0.0:7443, integration auto)\n"
    );
}

#[test]
fn shares_over_one_are_one_line_naming_the_field_and_a_failure() {
    let mut vars = COMPOSE_LIKE.to_vec();
    vars.push(("TAKEDOWN_SIDECAR_INTEGRATION__BLOCK_SHARE", "0.9"));
    let out = check(&vars);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: configuration: integration: block_share + reject_share + gone_share = 1.1"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
