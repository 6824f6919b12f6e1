//! Running the binary in a scratch directory (a run is the test kit's `cli::Run`).

use std::path::{Path, PathBuf};

pub use takedown_tests::cli::Run;

/// A scratch directory in which `takedownctl` runs.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Runs `takedownctl args...` in the directory, without TAKEDOWN_* from the caller.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_takedownctl"));
        cmd.current_dir(self.dir.path()).args(args);
        Run::of(cmd)
    }
}

/// A demo list file of the crate.
pub fn demo(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo")
        .join(name)
        .display()
        .to_string()
}
