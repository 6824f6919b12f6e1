//! `audit export [--out FILE]`: the hub's audit log as JSON lines (one entry per line, with
//! both hashes in lowercase hex), ending with the newest head the hub signed over it;
//! `audit head [--out FILE]`: the newest signed head alone, to keep apart from exports;
//! `audit verify FILE [--head FILE] [--audit-key FILE]`: checks an export offline (each
//! entry's hash and its link to the previous one, and that it is whole up to the signed
//! head) and names the first entry that does not match, or the entries missing. The
//! encoding is documented in `takedown_protocol::audit`.

use std::{io::Write, path::PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use takedown_protocol::{
    audit::{AuditRecord, ChainSummary, HeadLine, verify_export},
    pb::{self, ListAuditEntriesRequest, audit_service_client::AuditServiceClient},
    timestamp::utc,
};

use crate::cli::GlobalOptions;

/// Entries asked for per page.
const PAGE: u32 = 5_000;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Export the hub's audit log as JSON lines (coordinators).
    Export(AuditExportArgs),
    /// Verify an exported audit log offline: OK with the count and head hash, or exit 1
    /// naming the first entry (line and seq) that does not match, or the entries missing
    /// before the hub's signed head.
    Verify(AuditVerifyArgs),
    /// The newest head the hub signed, as a line `audit verify --head` takes (coordinators).
    Head(AuditExportArgs),
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
    /// A signed head kept apart from the file (`audit head`): a file cut short of it fails
    /// even if its own last line was cut off too.
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
    /// The hub's audit public key (SPKI PEM) to check the head with, instead of the key the
    /// head line carries.
    #[arg(long, value_name = "FILE")]
    pub audit_key: Option<PathBuf>,
}

pub async fn run(global: &GlobalOptions, cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::Export(a) => export(global, a).await,
        AuditCommand::Verify(a) => {
            let head = match &a.head {
                Some(p) => Some(
                    serde_json::from_str::<HeadLine>(
                        std::fs::read_to_string(p)
                            .with_context(|| format!("reading {}", p.display()))?
                            .trim(),
                    )
                    .with_context(|| format!("{} is not a signed head line", p.display()))?,
                ),
                None => None,
            };
            let key = match &a.audit_key {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
                None => None,
            };
            let s = verify_with(&a.file, head.as_ref(), key.as_deref())?;
            println!("OK: {} entries, head {}", s.entries, s.head);
            match &s.signed {
                Some(h) => println!(
                    "signed head: the hub ({}) signed the first {} entries at {}{}",
                    h.hub_id,
                    h.seq,
                    utc(h.iat),
                    if a.audit_key.is_some() {
                        ""
                    } else {
                        " (with the key in the head line; pass --audit-key to check it is the hub's)"
                    }
                ),
                None => println!(
                    "no signed head: a file cut short cannot be told from a whole one (pass --head)"
                ),
            }
            Ok(())
        }
        AuditCommand::Head(a) => {
            let channel = global.hub_options().connect().await?;
            let client = AuditServiceClient::new(channel);
            let line = head_line(&client, 0)
                .await?
                .context("the hub has not signed an audit head yet")?;
            let text = serde_json::to_string(&line)? + "\n";
            match &a.out {
                Some(path) => {
                    std::fs::write(path, &text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("wrote the signed audit head to {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
    }
}

/// The newest head signed over at most `upto` entries (0: the newest), as an export line.
async fn head_line(
    client: &AuditServiceClient<tonic::transport::Channel>,
    upto: u64,
) -> Result<Option<HeadLine>> {
    let mut c = client.clone();
    match c
        .get_audit_head(pb::GetAuditHeadRequest { upto_seq: upto })
        .await
    {
        Ok(r) => {
            let h = r.into_inner();
            Ok(Some(HeadLine {
                signed_head: h.signed_head,
                audit_key: h.audit_key,
            }))
        }
        Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
        Err(s) => Err(crate::client::HubError(s).into()),
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
    // The newest head signed over what was exported (none yet: the export says nothing of
    // its completeness, and verify says so).
    let signed = match after {
        0 => None,
        n => head_line(&client, n).await?,
    };
    if let Some(line) = signed {
        text.push_str(&serde_json::to_string(&line)?);
        text.push('\n');
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

/// Verifies an export file (against the head it ends with, if any).
pub fn verify_file(path: &std::path::Path) -> Result<ChainSummary> {
    verify_with(path, None, None)
}

/// Verifies an export file against `head` (else the head it ends with) and `audit_key`
/// (else the key of the head line).
pub fn verify_with(
    path: &std::path::Path,
    head: Option<&HeadLine>,
    audit_key: Option<&str>,
) -> Result<ChainSummary> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match verify_export(&text, head, audit_key) {
        Ok(s) => Ok(s),
        Err(
            e @ (takedown_protocol::audit::ChainError::CutShort { .. }
            | takedown_protocol::audit::ChainError::Head(_)
            | takedown_protocol::audit::ChainError::HeadMismatch { .. }),
        ) => bail!("audit export incomplete: {e}"),
        Err(e) => bail!("audit chain broken at {e}"),
    }
}
