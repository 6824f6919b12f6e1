//! `command`: runs a program with the batch JSON on its standard input; exit status 0
//! means the platform received the batch, and what it prints on standard output are
//! outcomes (one JSON array, or one JSON object per line; nothing is fine too).

use std::{process::Stdio, time::Duration};

use tokio::{io::AsyncWriteExt, process::Command};

use super::HandoffError;
use crate::{
    config::CommandSettings,
    document::{PlatformOutcome, parse_outcomes},
};

#[derive(Debug, Clone)]
pub struct CommandIntegration {
    settings: CommandSettings,
}

impl CommandIntegration {
    pub fn new(settings: CommandSettings) -> Self {
        Self { settings }
    }

    /// Runs the program once for batch `handoff_id`, its document `json` on stdin and
    /// its id in `TAKEDOWN_HANDOFF_ID`.
    pub async fn hand_off(
        &self,
        handoff_id: &str,
        json: &str,
    ) -> Result<Vec<PlatformOutcome>, HandoffError> {
        let s = &self.settings;
        let mut child = Command::new(&s.program)
            .args(&s.args)
            .env("TAKEDOWN_HANDOFF_ID", handoff_id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| HandoffError::Failed(format!("cannot start {:?}: {e}", s.program)))?;
        let stdin = child.stdin.take();
        let write = async move {
            if let Some(mut stdin) = stdin {
                // A program that does not read its input is its own business.
                let _ = stdin.write_all(json.as_bytes()).await;
                let _ = stdin.shutdown().await;
            }
        };
        let run = async { tokio::join!(write, child.wait_with_output()).1 };
        let out = tokio::time::timeout(Duration::from_millis(s.timeout_ms), run)
            .await
            .map_err(|_| HandoffError::Failed(format!("{:?} timed out", s.program)))?
            .map_err(|e| HandoffError::Failed(format!("{:?}: {e}", s.program)))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(HandoffError::Failed(format!(
                "{:?} exited with {}: {}",
                s.program,
                out.status,
                stderr.trim().chars().take(500).collect::<String>()
            )));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        match parse_outcomes(&stdout) {
            Ok(o) => Ok(o),
            Err(e) => {
                // The platform did receive the batch; its answer is unreadable.
                tracing::error!(program = %s.program, error = %e, "command printed unreadable outcomes");
                Ok(Vec::new())
            }
        }
    }
}
