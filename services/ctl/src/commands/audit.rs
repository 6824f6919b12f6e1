//! `audit export [--out FILE]`: the hub's audit log as JSON lines (one entry per line, with
//! both hashes in lowercase hex); `audit verify FILE`: checks an export offline (each
//! entry's hash and its link to the previous one) and names the first entry that does not
//! match. The encoding is documented in `takedown_protocol::audit`.

use std::{io::Write, path::PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use takedown_protocol::{
    audit::{AuditRecord, ChainSummary, verify_jsonl},
    pb::{self, ListAuditEntriesRequest, audit_service_client::AuditServiceClient},
};

use crate::cli::GlobalOptions;

/// Entries asked for per page.
const PAGE: u32 = 5_000;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Export the hub's audit log as JSON lines (coordinators).
    Export(AuditExportArgs),
    /// Verify an exported audit log offline: OK with the count and head hash, or exit 1
    /// naming the first entry (line and seq) that does not match.
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Write to FILE instead of standard output (replaces FILE).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// A file written by `audit export`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

pub async fn run(global: &GlobalOptions, cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::Export(a) => export(global, a).await,
        AuditCommand::Verify(a) => {
            let s = verify_file(&a.file)?;
            println!("OK: {} entries, head {}", s.entries, s.head);
            Ok(())
        }
    }
}

/// One exported line of an entry.
pub fn record(e: &pb::AuditEntry) -> AuditRecord {
    AuditRecord {
        seq: e.seq,
        at: e.at_ms,
        actor: e.actor.clone(),
        kind: e.kind.clone(),
        subject: e.subject.clone(),
        details: e.details.clone(),
        prev_hash: hex::encode(&e.prev_hash),
        hash: hex::encode(&e.hash),
    }
}

async fn export(global: &GlobalOptions, args: AuditExportArgs) -> Result<()> {
    let channel = global.hub_options().connect().await?;
    let client = AuditServiceClient::new(channel);
    let mut text = String::new();
    let mut after = 0u64;
    let mut count = 0u64;
    loop {
        let page = ask!(client => list_audit_entries(ListAuditEntriesRequest {
            after_seq: after,
            limit: PAGE,
        }))?;
        let Some(last) = page.entries.last() else {
            break;
        };
        after = last.seq;
        for e in &page.entries {
            text.push_str(&serde_json::to_string(&record(e))?);
            text.push('\n');
            count += 1;
        }
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {count} audit entries to {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Verifies an export file.
pub fn verify_file(path: &std::path::Path) -> Result<ChainSummary> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match verify_jsonl(&text) {
        Ok(s) => Ok(s),
        Err(e) => bail!("audit chain broken at {e}"),
    }
}
