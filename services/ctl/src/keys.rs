//! Ed25519 list-signing keys: `<dir>/<kid>.key` (PKCS#8 PEM, mode 0600) and
//! `<dir>/<kid>.pub.pem` (SubjectPublicKeyInfo PEM, what the hub's directory registers).

use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// Why a key was not generated.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "key id {0:?} must be 1-64 characters of A-Z, a-z, 0-9, '-', '_' and '.', not starting with '.'"
    )]
    BadKid(String),
    #[error("{0} already exists; refusing to overwrite a key")]
    Exists(PathBuf),
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The files of a generated key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFiles {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
}

/// Checks a key id: it names files, so it is kept to a safe alphabet.
pub fn check_kid(kid: &str) -> Result<(), KeyError> {
    let ok = !kid.is_empty()
        && kid.len() <= 64
        && !kid.starts_with('.')
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadKid(kid.to_string()))
    }
}

/// Generates an Ed25519 key pair into `dir`; refuses to replace either file.
pub fn generate(dir: &Path, kid: &str) -> Result<KeyFiles, KeyError> {
    check_kid(kid)?;
    let files = KeyFiles {
        private_key: dir.join(format!("{kid}.key")),
        public_key: dir.join(format!("{kid}.pub.pem")),
    };
    for p in [&files.private_key, &files.public_key] {
        if crate::client::exists(p) {
            return Err(KeyError::Exists(p.clone()));
        }
    }
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write_new(&files.private_key, &pair.serialize_pem(), 0o600)?;
    write_new(&files.public_key, &pair.public_key_pem(), 0o644)?;
    Ok(files)
}

/// Creates `path` (failing if it exists) with `mode` and writes `content`.
fn write_new(path: &Path, content: &str, mode: u32) -> Result<(), KeyError> {
    let err = |source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.to_path_buf())
        } else {
            err(source)
        }
    })?;
    file.write_all(content.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_usable_pair_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate(dir.path(), "agency-fr-2026").unwrap();
        let private = std::fs::read_to_string(&files.private_key).unwrap();
        let public = std::fs::read_to_string(&files.public_key).unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.private_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            generate(dir.path(), "agency-fr-2026"),
            Err(KeyError::Exists(_))
        ));
        assert!(matches!(
            generate(dir.path(), "../x"),
            Err(KeyError::BadKid(_))
        ));
        assert!(matches!(generate(dir.path(), ""), Err(KeyError::BadKid(_))));
    }
}
