//! The binaries under test, built once per test run with the same profile and target dir.

use std::{path::PathBuf, process::Command, sync::OnceLock};

/// The directory the test binary's profile writes binaries to (`target/debug`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/debug/deps/e2e-xxxx → target/debug
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .to_path_buf()
}

/// Builds `takedown-hub`, `takedown-sidecar` and `takedownctl` (once) and returns the path
/// of `name`.
pub fn path(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .args([
                "-p",
                "takedown-hub",
                "-p",
                "takedown-sidecar",
                "-p",
                "takedown-ctl",
                "--bins",
            ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "building the binaries failed");
    });
    let p = bin_dir().join(name);
    assert!(p.exists(), "{} was not built", p.display());
    p
}
