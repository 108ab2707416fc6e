//! The disk side of setup: reading config files as text, keeping a backup before changing one,
//! writing atomically (through symlinks, so dotfile managers keep their links), and the line diff
//! `--print` shows.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};

/// A file's text, or `None` when it does not exist.
pub fn read(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| anyhow!("{}: not UTF-8 text; nothing was changed", path.display())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("{}: {e}", path.display())),
    }
}

/// Suffix of backup files, before their timestamp.
pub const BACKUP_SUFFIX: &str = ".observatory-backup-";

/// Copies `path` to `<path>.observatory-backup-<UTC time>` (a counter is added when that name
/// is taken, as when setup and undo run within one second) and returns the copy's path.
pub fn backup(path: &Path) -> Result<PathBuf> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .context("formatting the backup time")?;
    let base = format!("{}{BACKUP_SUFFIX}{stamp}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.symlink_metadata().is_ok() {
        n += 1;
        candidate = PathBuf::from(format!("{base}-{n}"));
    }
    fs::copy(path, &candidate).with_context(|| {
        format!(
            "keeping a backup of {} as {}; nothing was changed",
            path.display(),
            candidate.display()
        )
    })?;
    Ok(candidate)
}

/// The backups of `path`, oldest first.
pub fn backups_of(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}{BACKUP_SUFFIX}", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| {
            let modified = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (modified, e.path())
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// Where writing `path` must go: the file a symlink points to, so the link survives.
fn target(path: &Path) -> PathBuf {
    match path.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).unwrap_or(path.into()),
        _ => path.to_owned(),
    }
}

/// Replaces `path`'s content atomically (a temporary file renamed over it), keeping the old
/// file's permissions, creating missing parent directories.
pub fn write(path: &Path, text: &str) -> Result<()> {
    let target = target(path);
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut tmp = target.clone().into_os_string();
    tmp.push(".observatory-tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    if let Ok(meta) = fs::metadata(&target) {
        fs::set_permissions(&tmp, meta.permissions())
            .with_context(|| format!("setting permissions of {}", tmp.display()))?;
    }
    fs::rename(&tmp, &target).with_context(|| format!("writing {}", target.display()))
}

pub fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(anyhow!("removing {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Lines of context kept around each change in a diff.
const CONTEXT: usize = 2;
/// Above this many line pairs the diff table would be too big: show the new file whole.
const MAX_DIFF_CELLS: usize = 4_000_000;

/// A line diff of two texts: changed lines marked `-`/`+`, [`CONTEXT`] lines around them, `@@`
/// between distant hunks.
pub fn diff(before: &str, after: &str) -> String {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let (n, m) = (a.len(), b.len());
    if (n + 1) * (m + 1) > MAX_DIFF_CELLS {
        let mut out = String::from("@@ whole new content @@\n");
        for line in &b {
            out.push_str(&format!("+{line}\n"));
        }
        return out;
    }
    // Longest common subsequence lengths of every pair of suffixes.
    let w = m + 1;
    let mut lcs = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * w + j] = if a[i] == b[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
    let mut out = String::new();
    let mut skipped = true;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near(k) {
            if skipped {
                out.push_str("@@\n");
            }
            out.push_str(&format!("{op}{line}\n"));
            skipped = false;
        } else {
            skipped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_changes_with_context() {
        let before = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let after = "a\nb\nc\nX\ne\nf\ng\nh\ni\nj\nk\n";
        assert_eq!(
            diff(before, after),
            "@@\n b\n c\n-d\n+X\n e\n f\n@@\n i\n j\n+k\n"
        );
        assert_eq!(diff("same\n", "same\n"), "");
    }

    #[test]
    fn backups_never_overwrite_each_other() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("settings.json");
        fs::write(&file, "one").expect("write");
        let first = backup(&file).expect("backup");
        fs::write(&file, "two").expect("write");
        let second = backup(&file).expect("backup");
        assert_ne!(first, second);
        assert_eq!(fs::read_to_string(&first).expect("read"), "one");
        assert_eq!(fs::read_to_string(&second).expect("read"), "two");
        assert!(
            first
                .to_string_lossy()
                .starts_with(&format!("{}{BACKUP_SUFFIX}", file.display()))
        );
    }

    #[cfg(unix)]
    #[test]
    fn writing_keeps_symlinks_and_permissions() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("dotfiles").join("settings.json");
        fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
        fs::write(&real, "old").expect("write");
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).expect("chmod");
        let link = dir.path().join("settings.json");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");

        write(&link, "new").expect("write through link");
        assert!(
            link.symlink_metadata()
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).expect("read"), "new");
        let mode = fs::metadata(&real).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
