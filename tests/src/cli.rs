//! Running a command-line binary under test and what one run gave: the CLI's own tests
//! (`services/ctl/tests`) and the end-to-end tests of `takedownctl` against the real hub.

use std::process::{Command, Output};

/// What one run of a binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `cmd` to its end, without the caller's `TAKEDOWN_*` variables (the binary
    /// reads only what the test gives it).
    pub fn of(mut cmd: Command) -> Self {
        for (k, _) in std::env::vars() {
            if k.starts_with("TAKEDOWN_") {
                cmd.env_remove(k);
            }
        }
        let Output {
            status,
            stdout,
            stderr,
        } = cmd
            .output()
            .unwrap_or_else(|e| panic!("running {:?}: {e}", cmd.get_program()));
        Self {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    pub fn success(&self) -> bool {
        self.code == 0
    }

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
