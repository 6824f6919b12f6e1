//! `certs dev` and `certs issue`.

use anyhow::Result;
use takedown_protocol::ident::IdentityRole;

use crate::{
    cli::{CertRole, CertsCommand, GlobalOptions},
    pki::{self, DevPki},
};

pub fn run(global: &GlobalOptions, command: CertsCommand) -> Result<()> {
    match command {
        CertsCommand::Dev(a) => {
            let dir = a.out.unwrap_or_else(|| global.certs.clone());
            let spec = DevPki {
                coordinators: a.coordinators,
                agencies: a.agencies,
                platforms: a.platforms,
                dns: a.dns,
            };
            let ids = spec.write(&dir, a.force)?;
            println!("wrote a development CA to {}", dir.join("ca.pem").display());
            for id in &ids {
                let dns = spec.dns_of(id);
                let dns = if dns.is_empty() {
                    String::new()
                } else {
                    format!(" (DNS {})", dns.join(", "))
                };
                println!("  {}.pem  {}{dns}", id.id, id.to_uri());
            }
            Ok(())
        }
        CertsCommand::Issue(a) => {
            let dir = a.out.unwrap_or_else(|| global.certs.clone());
            let role = match a.role {
                CertRole::Agency => IdentityRole::Agency,
                CertRole::Platform => IdentityRole::Platform,
                CertRole::Coordinator => IdentityRole::Coordinator,
                CertRole::Hub => IdentityRole::Hub,
            };
            let id = pki::identity(role, &a.id)?;
            let pem = pki::issue(&dir, &id, &a.dns, a.force)?;
            println!("wrote {} for {}", pem.display(), id.to_uri());
            Ok(())
        }
    }
}
