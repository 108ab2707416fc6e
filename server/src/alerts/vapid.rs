//! The server's VAPID key (RFC 8292): the P-256 key that signs every Web Push request, kept in
//! `<data dir>/vapid_private.pem`, made on first start and never replaced — browsers subscribe
//! with its public half (`applicationServerKey`), so a new key would silently orphan every
//! device. Also checks the VAPID `sub` the operator configures.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::ES256KeyPair;
use web_push::{PartialVapidSignatureBuilder, VapidSignatureBuilder};

pub const KEY_FILE: &str = "vapid_private.pem";

/// The private key and what is derived from it. `Debug` never shows the private key, so logging
/// a struct that holds one is safe.
#[derive(Clone)]
pub struct VapidKey {
    /// Uncompressed public point, base64url without padding.
    public_key: String,
    /// web-push's parsed signer, parsed once here so sending never has a key error to handle.
    signer: PartialVapidSignatureBuilder,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl VapidKey {
    /// Loads `<data_dir>/vapid_private.pem`, or creates it on first start (P-256, PKCS#8 PEM),
    /// written 0600 through a temp file and a rename so a crash never leaves half a key. An
    /// existing file that is not a usable key is an error naming the file; it is never
    /// overwritten, because replacing the key would unsubscribe every browser.
    pub fn load_or_create(data_dir: &Path) -> Result<VapidKey> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                warn_if_readable_by_others(&path);
                VapidKey::from_pem(&bytes).with_context(|| {
                    format!(
                        "{} is not a VAPID private key (a P-256 key in PEM); move it away to have a \
                         new one made (every browser will then have to subscribe again)",
                        path.display()
                    )
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(data_dir, &path),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn from_pem(pem: &[u8]) -> Result<VapidKey> {
        let signer =
            VapidSignatureBuilder::from_pem_no_sub(pem).map_err(|e| anyhow::anyhow!("{e}"))?;
        let point = signer.get_public_key();
        if point.len() != 65 || point[0] != 4 {
            bail!("the public key is not an uncompressed P-256 point");
        }
        Ok(VapidKey {
            public_key: URL_SAFE_NO_PAD.encode(point),
            signer,
        })
    }

    /// The uncompressed public point (65 bytes), base64url without padding: the
    /// `applicationServerKey` browsers subscribe with.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// A signer for one message; web-push's builder is consumed per subscription.
    pub(crate) fn signer(&self) -> PartialVapidSignatureBuilder {
        self.signer.clone()
    }
}

fn create(data_dir: &Path, path: &Path) -> Result<VapidKey> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
    let pem = ES256KeyPair::generate()
        .to_pem()
        .map_err(|e| anyhow::anyhow!("encoding a new VAPID key: {e}"))?;
    // Parse what will be written before writing it, so the file on disk is always one that loads.
    let key = VapidKey::from_pem(pem.as_bytes()).context("a new VAPID key")?;
    let tmp = temp_path(path);
    let written = write_private(&tmp, pem.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename is only durable once the directory entry is on disk.
    if let Ok(dir) = std::fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }
    tracing::info!(file = %path.display(), "made a new VAPID key for Web Push");
    Ok(key)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Writes `bytes` to a new file only its owner can read, and syncs it.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                "the VAPID private key can be read by other users: chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A VAPID `sub` must be a real `mailto:` (an address with an '@') or an `https://` URL with a
/// host: push services use it to contact the operator, and some (Apple's) refuse a request
/// whose `sub` is neither. The error says what is wrong and what to set.
pub fn check_subject(subject: &str) -> Result<(), String> {
    const SET: &str = "set [push] subject in config.toml to a mailto: address or an https: URL \
                       where push services can reach you, e.g. \"mailto:you@example.com\"";
    if subject.trim().is_empty() {
        return Err(format!("the VAPID subject is empty: {SET}"));
    }
    if subject.chars().any(char::is_whitespace) {
        return Err(format!(
            "the VAPID subject {subject:?} contains white space: {SET}"
        ));
    }
    let lower = subject.to_ascii_lowercase();
    if let Some(address) = lower.strip_prefix("mailto:") {
        let real = address.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && !host.is_empty() && !host.contains('@')
        });
        if !real {
            return Err(format!(
                "the VAPID subject {subject:?} has no e-mail address after mailto: ({SET})"
            ));
        }
        return Ok(());
    }
    if let Some(rest) = lower.strip_prefix("https://") {
        // The URL parser would read "https:///x" as host "x"; a subject must name its host.
        let has_host = !rest.starts_with('/')
            && reqwest::Url::parse(subject)
                .ok()
                .and_then(|u| u.host_str().map(|h| !h.is_empty()))
                .unwrap_or(false);
        if !has_host {
            return Err(format!(
                "the VAPID subject {subject:?} is not an https URL with a host: {SET}"
            ));
        }
        return Ok(());
    }
    if lower.starts_with("http://") {
        return Err(format!(
            "the VAPID subject {subject:?} is http:, push services accept only https: URLs \
             (or a mailto: address): {SET}"
        ));
    }
    if !lower.contains(':') && lower.contains('@') {
        return Err(format!(
            "the VAPID subject {subject:?} looks like an e-mail address: write it as \
             \"mailto:{subject}\""
        ));
    }
    Err(format!(
        "the VAPID subject {subject:?} is neither a mailto: address nor an https: URL: {SET}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_reloads_with_the_same_public_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = VapidKey::load_or_create(dir.path()).expect("create");
        let loaded = VapidKey::load_or_create(dir.path()).expect("reload");
        assert_eq!(made.public_key(), loaded.public_key());
        let point = URL_SAFE_NO_PAD
            .decode(made.public_key())
            .expect("base64url public key");
        assert_eq!(point.len(), 65);
        assert_eq!(point[0], 4, "uncompressed point");
        // The file is exactly what web-push reads.
        let file = std::fs::read(dir.path().join(KEY_FILE)).expect("key file");
        assert!(VapidSignatureBuilder::from_pem_no_sub(file.as_slice()).is_ok());
        // No temp file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, [KEY_FILE]);
    }

    #[test]
    fn two_data_dirs_get_different_keys() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let ka = VapidKey::load_or_create(a.path()).expect("a");
        let kb = VapidKey::load_or_create(b.path()).expect("b");
        assert_ne!(ka.public_key(), kb.public_key());
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_only_for_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        VapidKey::load_or_create(dir.path()).expect("create");
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused_and_left_alone() {
        for garbage in [
            &b"not a key"[..],
            b"",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            &[0xff, 0xfe, 0x00],
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(KEY_FILE);
            std::fs::write(&path, garbage).expect("write");
            let err = VapidKey::load_or_create(dir.path()).expect_err("refused");
            let text = format!("{err:#}");
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert_eq!(std::fs::read(&path).expect("still there"), garbage);
        }
    }

    #[test]
    fn debug_redacts_the_private_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = VapidKey::load_or_create(dir.path()).expect("create");
        let shown = format!("{key:?}");
        assert!(shown.contains(key.public_key()), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        let pem = std::fs::read_to_string(dir.path().join(KEY_FILE)).expect("key file");
        let body = pem.lines().nth(1).unwrap_or_default();
        assert!(!body.is_empty() && !shown.contains(body), "{shown}");
    }

    #[test]
    fn subjects() {
        let table: &[(&str, Option<&str>)] = &[
            ("mailto:me@example.com", None),
            ("MAILTO:me@example.com", None),
            ("https://example.com", None),
            ("https://obs.example.ts.net/about", None),
            ("", Some("empty")),
            ("   ", Some("empty")),
            ("http://x", Some("https")),
            ("mailto:", Some("no e-mail address")),
            ("mailto:me", Some("no e-mail address")),
            ("mailto:@example.com", Some("no e-mail address")),
            ("mailto:me@", Some("no e-mail address")),
            ("me@x.com", Some("mailto:me@x.com")),
            ("https://", Some("host")),
            ("https:///path", Some("host")),
            ("mailto: me@x.com", Some("white space")),
            ("ftp://example.com", Some("neither")),
            ("example.com", Some("neither")),
        ];
        for (subject, want) in table {
            let got = check_subject(subject);
            match want {
                None => assert_eq!(got, Ok(()), "{subject:?}"),
                Some(part) => {
                    let err = got.expect_err(subject);
                    assert!(err.contains(part), "{subject:?}: {err}");
                    assert!(
                        err.contains("mailto:"),
                        "{subject:?} says what to set: {err}"
                    );
                }
            }
        }
    }
}
