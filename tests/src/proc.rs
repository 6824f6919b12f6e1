//! A child process of one of the binaries under test, with its output appended to a log
//! file: started, checked for an early exit, killed (SIGKILL), stopped (SIGTERM), and its
//! log read back for failure messages.

use std::{
    fs,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

pub struct ChildProc {
    /// `takedown-hub` or `takedown-sidecar`.
    binary: &'static str,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl ChildProc {
    /// A process of `binary` run as `binary --config <config>`, logging to `log`; not
    /// started yet.
    pub fn new(binary: &'static str, config: PathBuf, log: PathBuf) -> Self {
        Self {
            binary,
            config,
            log,
            child: None,
        }
    }

    /// Starts it (its own config file only: inherited `*_CONFIG` variables are removed).
    pub fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let child = Command::new(crate::bins::path(self.binary))
            .arg("--config")
            .arg(&self.config)
            .env(
                "RUST_LOG",
                std::env::var("TEST_CHILD_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("TAKEDOWN_CONFIG")
            .env_remove("TAKEDOWN_SIDECAR_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.binary));
        self.child = Some(child);
    }

    /// Panics with the log when the process has already exited.
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            panic!(
                "{} exited early ({status}):\n{}",
                self.binary,
                self.log_tail()
            );
        }
    }

    /// SIGKILL: the process dies at once, mid-whatever.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits up to 20 s for the exit; true when it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        for _ in 0..400 {
            if let Ok(Some(s)) = c.try_wait() {
                return s.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last 60 lines of the log.
    pub fn log_tail(&self) -> String {
        last_lines(&self.log_text(), 60)
    }
}

/// The last `n` lines of `text`, for failure messages.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        self.kill();
    }
}
