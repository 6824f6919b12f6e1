//! The binaries under test. Cargo builds this crate's `e2e-takedown-hub`,
//! `e2e-takedown-sidecar` and `e2e-takedownctl` for its integration tests: the same `main` functions as
//! `takedown-hub` and `takedown-sidecar` (`takedown_hub::cli::main`,
//! `takedown_sidecar::cli::main`), compiled with the test run's features, so the workspace
//! is compiled once.

use std::path::PathBuf;

/// The path of `takedown-hub` or `takedown-sidecar` as built for this test run.
pub fn path(name: &str) -> PathBuf {
    let file = match name {
        "takedown-hub" => "e2e-takedown-hub",
        "takedown-sidecar" => "e2e-takedown-sidecar",
        "takedownctl" => "e2e-takedownctl",
        other => panic!("no binary {other} under test"),
    };
    // target/<profile>/deps/e2e-<hash> → target/<profile>/<file>
    let exe = std::env::current_exe().expect("current exe");
    let p = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join(format!("{file}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.exists(),
        "{} was not built (run the tests with cargo test)",
        p.display()
    );
    p
}
