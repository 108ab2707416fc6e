//! Secrets: random 256-bit values, their SHA-256 (what is kept), constant-time comparison, and
//! the control token's file (`control-token` in the data dir, 0600, one line).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const TOKEN_FILE: &str = "control-token";

/// A SHA-256 digest of a secret.
pub type Hash = [u8; 32];

/// 32 random bytes from the operating system, as 64 hex digits.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

pub fn hash(secret: &str) -> Hash {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `secret` hashes to `kept`, in time that does not depend on where they differ.
pub fn matches(secret: &str, kept: &Hash) -> bool {
    hash(secret).ct_eq(kept).into()
}

pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE)
}

/// The control token, made (and written 0600) when there is none yet.
pub fn load_or_create_token(data_dir: &Path) -> Result<String> {
    let path = token_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) if is_token(text.trim()) => Ok(text.trim().to_owned()),
        Ok(_) => anyhow::bail!(
            "{} does not hold a control token (64 hex digits): delete it or run `observatory token --rotate`",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_new_token(data_dir),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn is_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Writes a fresh token (to a 0600 temporary file, then renamed over the old one).
pub fn write_new_token(data_dir: &Path) -> Result<String> {
    let token = random_hex();
    let path = token_path(data_dir);
    let tmp = data_dir.join(format!("{TOKEN_FILE}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_made_once_private_and_replaced_on_rotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create_token(dir.path()).expect("create");
        assert!(is_token(&first));
        assert_eq!(load_or_create_token(dir.path()).expect("load"), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(token_path(dir.path()))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = write_new_token(dir.path()).expect("rotate");
        assert_ne!(first, second);
        assert_eq!(load_or_create_token(dir.path()).expect("load"), second);
        assert!(matches(&second, &hash(&second)));
        assert!(!matches(&first, &hash(&second)));
        std::fs::write(token_path(dir.path()), "not a token\n").expect("write");
        assert!(load_or_create_token(dir.path()).is_err());
    }
}
