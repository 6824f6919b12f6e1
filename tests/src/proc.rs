//! A child process of one of the binaries under test, with its output appended to a log
//! file: started, checked for an early exit, asked where it listens (its ready file),
//! killed (SIGKILL), stopped (SIGTERM), and its log read back for failure messages.
//!
//! Services under test bind port 0 and say which ports the system gave them in their
//! `--ready-file`: no port is picked "free" beforehand, so none can be taken in between.

use std::{
    collections::BTreeMap,
    fs,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

pub struct ChildProc {
    /// `takedown-hub` or `takedown-sidecar`, for messages.
    binary: &'static str,
    program: PathBuf,
    config: PathBuf,
    log: PathBuf,
    ready: PathBuf,
    /// `RUST_LOG` of the child, from this variable of ours (`info` when unset).
    log_var: &'static str,
    child: Option<Child>,
}

impl ChildProc {
    /// A process of `binary` as built for this test run, run as
    /// `binary --config <config> --ready-file <log>.ready`, logging to `log`; not started yet.
    pub fn new(binary: &'static str, config: PathBuf, log: PathBuf) -> Self {
        Self::of_program(
            binary,
            crate::bins::path(binary),
            config,
            log,
            "TEST_CHILD_LOG",
        )
    }

    /// [`Self::new`] for the binary at `program` (the bench's release build), with
    /// `RUST_LOG` taken from `log_var`.
    pub fn of_program(
        binary: &'static str,
        program: PathBuf,
        config: PathBuf,
        log: PathBuf,
        log_var: &'static str,
    ) -> Self {
        let mut ready = log.clone().into_os_string();
        ready.push(".ready");
        Self {
            binary,
            program,
            config,
            log,
            ready: ready.into(),
            log_var,
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
        // What an earlier run of it said no longer holds.
        let _ = fs::remove_file(&self.ready);
        let child = Command::new(&self.program)
            .arg("--config")
            .arg(&self.config)
            .arg("--ready-file")
            .arg(&self.ready)
            .env(
                "RUST_LOG",
                std::env::var(self.log_var).unwrap_or_else(|_| "info".into()),
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
        if let Err(e) = self.check_running() {
            panic!("{e}");
        }
    }

    /// The process's id (0 when not running).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The early exit, with the log, when the process has already exited.
    pub fn check_running(&mut self) -> Result<(), String> {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            return Err(format!(
                "{} exited early ({status}):\n{}",
                self.binary,
                self.log_tail()
            ));
        }
        Ok(())
    }

    /// Waits (up to [`crate::LONG`]) until the process has written its ready file: the
    /// address it bound for each configuration key (`listen`, `metrics.listen`, ...).
    pub async fn addresses(&mut self) -> Result<BTreeMap<String, SocketAddr>, String> {
        let deadline = tokio::time::Instant::now() + crate::LONG;
        loop {
            self.check_running()?;
            match takedown_net::service::read_ready_file(&self.ready) {
                Ok(Some(addrs)) => return Ok(addrs),
                Ok(None) => {}
                Err(e) => return Err(format!("{}: {e}", self.ready.display())),
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "{} wrote no ready file within {:?}:\n{}",
                    self.binary,
                    crate::LONG,
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills and starts the process again, and checks that it came back on the same
    /// `listen` port (its configuration names the port it chose the first time).
    pub async fn restart_on(&mut self, port: u16) {
        self.kill();
        self.spawn();
        let addrs = self.addresses().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            addrs.get("listen").map_or(0, |a| a.port()),
            port,
            "{} came back on its port",
            self.binary
        );
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
