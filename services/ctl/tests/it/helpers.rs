//! Running the binary in a scratch directory.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

/// A scratch directory in which `takedownctl` runs.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

/// What one run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts failure with exit code 1 and exactly one `error: ` line; returns it.
    #[track_caller]
    pub fn one_error_line(&self) -> &str {
        assert_eq!(
            self.code, 1,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr: {}", self.stderr);
        assert!(lines[0].starts_with("error: "), "stderr: {}", self.stderr);
        lines[0]
    }
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
        for (k, _) in std::env::vars() {
            if k.starts_with("TAKEDOWN_") {
                cmd.env_remove(k);
            }
        }
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().expect("run takedownctl");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
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
