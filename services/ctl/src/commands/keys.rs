//! `keys generate`.

use anyhow::Result;

use crate::{cli::KeysCommand, keys};

pub fn run(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Generate(a) => {
            let files = keys::generate(&a.out, &a.kid)?;
            println!("private key: {}", files.private_key.display());
            println!("public key:  {}", files.public_key.display());
            println!(
                "register it (as a coordinator): takedownctl --as <COORDINATOR> directory key add --agency <ID> --kid {} --public-key {}",
                a.kid,
                files.public_key.display()
            );
            Ok(())
        }
    }
}
