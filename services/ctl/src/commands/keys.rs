//! `keys generate | generate-root | publish | upload`.
//!
//! `publish` is the coordinator's key ceremony: it takes the newest key-set statement (from
//! the hub, or a file for offline signing), checks that a root it trusts signed it, applies
//! the changes, shows them, signs version + 1 with the root key read from a local file,
//! and publishes it (or writes it with `--out`). The root key never leaves this machine.

use std::path::Path;

use anyhow::{Context, Result, bail};
use takedown_protocol::{
    keyset::{self, KeySetClaims, Roots},
    pb::{self, directory_service_client::DirectoryServiceClient},
    timestamp::now_millis,
};

use crate::{
    cli::{GlobalOptions, KeysCommand, KeysPublishArgs},
    keys,
    keyset::{Changes, next, parse_add},
    time::parse_instant_now,
};

pub async fn run(global: &GlobalOptions, command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Generate(a) => {
            let files = keys::generate(&a.out, &a.kid)?;
            println!("private key: {}", files.private_key.display());
            println!("public key:  {}", files.public_key.display());
            println!(
                "send the public key to the coordinator, who publishes it: takedownctl --as <COORDINATOR> keys publish --root-key <ROOT.key> --add <AGENCY>:{}:{}",
                a.kid,
                files.public_key.display()
            );
            Ok(())
        }
        KeysCommand::GenerateRoot { out } => {
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            for name in [
                takedown_net::pki::DEV_ROOT_KEY,
                takedown_net::pki::DEV_ROOT_PUBLIC,
            ] {
                if out.join(name).exists() {
                    bail!(
                        "{} already exists; refusing to overwrite a root key",
                        out.join(name).display()
                    );
                }
            }
            takedown_net::pki::write_root_key(&out)?;
            let public = read(&out.join(takedown_net::pki::DEV_ROOT_PUBLIC))?;
            println!(
                "root {}: private key {} (keep it offline), public key {} (pin it in trust.roots of the hub and every sidecar)",
                keyset::thumbprint(&public)?,
                out.join(takedown_net::pki::DEV_ROOT_KEY).display(),
                out.join(takedown_net::pki::DEV_ROOT_PUBLIC).display()
            );
            Ok(())
        }
        KeysCommand::Publish(a) => publish(global, *a).await,
        KeysCommand::Current { out } => {
            let c = client(global).await?;
            let s = ask!(c => get_key_set(pb::GetKeySetRequest {}))?;
            std::fs::write(&out, format!("{}\n", s.jws))
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "wrote key-set statement version {} (published by {}) to {}",
                s.version,
                s.published_by,
                out.display()
            );
            Ok(())
        }
        KeysCommand::Upload { file } => {
            let jws = read(&file)?.trim().to_string();
            let claims = keyset::peek(&jws)?;
            upload(global, jws, claims.version).await
        }
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

async fn client(
    global: &GlobalOptions,
) -> Result<DirectoryServiceClient<tonic::transport::Channel>> {
    Ok(DirectoryServiceClient::new(
        global.hub_options().connect().await?,
    ))
}

async fn publish(global: &GlobalOptions, a: KeysPublishArgs) -> Result<()> {
    // Everything local is read and checked before the hub is called.
    let root_private = read(&a.root_key)?;
    let root_public = rcgen::KeyPair::from_pem(&root_private)
        .with_context(|| format!("{} is not a PKCS#8 private key", a.root_key.display()))?
        .public_key_pem();
    let root_kid = keyset::thumbprint(&root_public)?;
    let mut trusted = vec![root_public];
    for p in &a.trust_root {
        trusted.push(read(p)?);
    }
    let roots = Roots::from_pems(trusted.iter().map(String::as_str))?;
    let mut changes = Changes {
        retire: a.retire,
        compromise: a.compromise,
        at: parse_instant_now(&a.at)?.unix_timestamp(),
        reason: a.reason,
        drop_roots: a.drop_root,
        ..Changes::default()
    };
    for spec in &a.add {
        let (agency, kid, file) = parse_add(spec)?;
        changes.add.push((agency, kid, read(Path::new(&file))?));
    }
    for p in &a.endorse_root {
        changes.endorse_roots.push(read(p)?);
    }

    // The newest statement, verified: a hub cannot slip in a key to be signed along.
    let current_jws = match &a.current {
        Some(f) => Some(read(f)?.trim().to_string()),
        None if a.first => None,
        None if a.out.is_some() => bail!(
            "signing offline (--out) needs the newest statement: --current FILE (from \
             `takedownctl keys current --out FILE` on a connected machine), or --first"
        ),
        None => {
            let mut c = client(global).await?;
            match c.get_key_set(pb::GetKeySetRequest {}).await {
                Ok(r) => Some(r.into_inner().jws),
                Err(s) if s.code() == tonic::Code::NotFound => None,
                Err(s) => return Err(crate::client::HubError(s).into()),
            }
        }
    };
    let current: Option<KeySetClaims> = match &current_jws {
        None => None,
        Some(jws) => Some(keyset::verify(jws, &roots).with_context(|| {
            "the newest key-set statement does not verify against this root (pass the root \
             that signed it with --trust-root)"
        })?),
    };
    let now = now_millis().div_euclid(1000);
    let (claims, said) = next(current.as_ref(), &changes, now)?;
    for line in &said {
        println!("{line}");
    }
    let jws = keyset::sign(&claims, &root_kid, root_private.as_bytes())?;
    match &a.out {
        Some(out) => {
            std::fs::write(out, format!("{jws}\n"))
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "signed statement version {} with {root_kid}: {} (publish it with takedownctl keys upload)",
                claims.version,
                out.display()
            );
            Ok(())
        }
        None => upload(global, jws, claims.version).await,
    }
}

async fn upload(global: &GlobalOptions, jws: String, version: u64) -> Result<()> {
    let c = client(global).await?;
    let s = ask!(c => publish_key_set(pb::PublishKeySetRequest { jws }))?;
    debug_assert_eq!(s.version, version);
    println!(
        "published key-set statement version {} (sidecars and the hub use it from now on)",
        s.version
    );
    if !s.invalidated_lists.is_empty() {
        println!(
            "{} list(s) signed with a key now compromised are void at every sidecar:",
            s.invalidated_lists.len()
        );
        for l in &s.invalidated_lists {
            println!(
                "  {} of {} (key {}, signed {}){}",
                l.list_id,
                l.agency_id,
                l.kid,
                crate::time::format_timestamp(l.signed_at.as_ref()),
                if l.embargoed {
                    ", still embargoed: withdraw it (list withdraw --list) and ask for it re-signed"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}
