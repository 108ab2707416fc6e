//! Setup's memory of the single values it set in a config file (an env variable, an exporter,
//! a telemetry switch) and of the user's value each replaced, kept beside the file as
//! `<file>.observatory-setup.json`. Undo reads it to put the user's values back, and to tell a
//! value setup wrote (even with another `--endpoint`) from one the user changed since.
//!
//! The policy for a value the user already set differently: setup sets ours, since the agent can
//! only report to one place and the user asked for observatory; it warns, naming the old value;
//! the backup and the journal both keep it, and undo restores it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

/// A config file as the journal sees it: text values at key paths.
pub trait Doc {
    /// The value at `path` as text in the file's own syntax.
    fn get(&self, path: &[&str]) -> Option<String>;
    fn set(&mut self, path: &[&str], text: &str) -> Result<()>;
    fn remove(&mut self, path: &[&str]);
    /// Whether two value texts mean the same value.
    fn same(&self, a: &str, b: &str) -> bool;
}

/// One value setup owns while the agent is set up.
pub struct Setting<'a> {
    pub path: Vec<&'a str>,
    /// Our value, as text in the file's syntax.
    pub value: String,
    /// A user value that already does what we need (e.g. `otlp,console` for an exporter list)
    /// is left alone.
    pub accepts: Option<fn(&str) -> bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Journal {
    /// Why this file exists, for whoever opens it.
    #[serde(default)]
    about: String,
    /// Key path (dot-joined) → what setup set there and what was there before.
    #[serde(default)]
    set: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Entry {
    value: String,
    previous: Option<String>,
}

/// The journal file of one config file, as read.
pub struct JournalFile {
    pub path: PathBuf,
    pub original: Option<String>,
    pub journal: Journal,
    /// The config file's name (`settings.json`), for the journal's own explanation.
    file_name: String,
}

pub fn path_for(config: &Path) -> PathBuf {
    let mut p = config.as_os_str().to_owned();
    p.push(".observatory-setup.json");
    PathBuf::from(p)
}

impl JournalFile {
    pub fn open(config: &Path) -> Result<Self> {
        let path = path_for(config);
        let original = super::files::read(&path)?;
        let journal = match &original {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                anyhow!(
                    "{}: setup's record is damaged ({e}); nothing was changed. Remove it to go on \
                     (undo then only removes values equal to setup's)",
                    path.display()
                )
            })?,
            None => Journal::default(),
        };
        let file_name = config
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(JournalFile {
            path,
            original,
            journal,
            file_name,
        })
    }

    /// Sets every value in `doc` ([`set_all`]), or for undo takes them out ([`undo_all`], by
    /// what this journal recorded when there is one) and forgets them.
    pub fn apply(
        &mut self,
        doc: &mut dyn Doc,
        settings: &[Setting],
        file: &str,
        undo: bool,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        if undo {
            let recorded = self.original.is_some().then_some(&self.journal);
            undo_all(doc, settings, recorded, file, warnings)?;
            self.journal = Journal::default();
            Ok(())
        } else {
            set_all(doc, settings, &mut self.journal, file, warnings)
        }
    }

    /// The journal's new text: `None` once it records nothing.
    pub fn render(&self) -> Result<Option<String>> {
        if self.journal.set.is_empty() {
            return Ok(None);
        }
        if self.original.is_some()
            && self
                .original
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .as_ref()
                == Some(&self.journal)
        {
            return Ok(self.original.clone());
        }
        let mut journal = self.journal.clone();
        journal.about = format!(
            "Written by `observatory setup`: the values it set in {file_name} and the ones they \
             replaced, so that `observatory setup <agent> --undo` can put yours back.",
            file_name = self.file_name
        );
        Ok(Some(serde_json::to_string_pretty(&journal)? + "\n"))
    }
}

/// Sets every value; a value the user had set differently is replaced, recorded, and warned
/// about.
pub fn set_all(
    doc: &mut dyn Doc,
    settings: &[Setting],
    journal: &mut Journal,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<()> {
    for s in settings {
        let key = s.path.join(".");
        let current = doc.get(&s.path);
        if let Some(cur) = &current
            && (doc.same(cur, &s.value) || s.accepts.is_some_and(|ok| ok(cur)))
        {
            continue;
        }
        let previous = match journal.set.get(&key) {
            // Ours from an earlier setup (another endpoint, say): the user's value is still
            // the one recorded then.
            Some(e) if current.as_deref().is_some_and(|c| doc.same(c, &e.value)) => {
                e.previous.clone()
            }
            _ => {
                if let Some(cur) = &current {
                    warnings.push(format!(
                        "{file}: replaced your `{key}` = {cur} (the backup keeps it, and undo \
                         puts it back)"
                    ));
                }
                current.clone()
            }
        };
        doc.set(&s.path, &s.value)?;
        journal.set.insert(
            key,
            Entry {
                value: s.value.clone(),
                previous,
            },
        );
    }
    Ok(())
}

/// Takes out the values setup set and puts back those it replaced. A value the user changed
/// since is left as it is. With no journal at all (deleted, or an older setup), a value equal to
/// ours is removed.
pub fn undo_all(
    doc: &mut dyn Doc,
    settings: &[Setting],
    journal: Option<&Journal>,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<()> {
    match journal {
        Some(journal) => {
            for (key, e) in &journal.set {
                let path: Vec<&str> = key.split('.').collect();
                match doc.get(&path) {
                    Some(cur) if doc.same(&cur, &e.value) => match &e.previous {
                        Some(prev) => doc.set(&path, prev)?,
                        None => doc.remove(&path),
                    },
                    Some(cur) => warnings.push(format!(
                        "{file}: `{key}` was changed since setup (now {cur}); left as it is"
                    )),
                    None => {}
                }
            }
        }
        None => {
            for s in settings {
                if doc.get(&s.path).is_some_and(|cur| doc.same(&cur, &s.value)) {
                    doc.remove(&s.path);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::json::{Json, JsonDoc, Object, get_path, parse};
    use super::*;

    fn root(text: &str) -> Object {
        parse(Path::new("t.json"), text).expect("parse")
    }

    fn settings(endpoint: &str) -> Vec<Setting<'static>> {
        vec![
            Setting {
                path: vec!["env", "ENDPOINT"],
                value: Json::str(endpoint).to_compact(),
                accepts: None,
            },
            Setting {
                path: vec!["env", "EXPORTER"],
                value: Json::str("otlp").to_compact(),
                accepts: Some(|v| {
                    Json::from_text(v)
                        .and_then(|j| j.as_str().map(|s| s.split(',').any(|x| x == "otlp")))
                        .unwrap_or(false)
                }),
            },
        ]
    }

    #[test]
    fn a_replaced_value_comes_back_on_undo_even_after_a_new_endpoint() {
        let original = root(r#"{"env": {"ENDPOINT": "http://collector", "OTHER": "x"}}"#);
        let mut r = original.clone();
        let mut journal = Journal::default();
        let mut warnings = Vec::new();
        let mut doc = JsonDoc {
            root: &mut r,
            name: "t".into(),
        };
        set_all(
            &mut doc,
            &settings("http://a"),
            &mut journal,
            "t",
            &mut warnings,
        )
        .expect("set");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("http://collector"), "{warnings:?}");
        // Set up again with another endpoint: no new warning, the user's value still recorded.
        warnings.clear();
        set_all(
            &mut doc,
            &settings("http://b"),
            &mut journal,
            "t",
            &mut warnings,
        )
        .expect("set");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            get_path(doc.root, &["env", "ENDPOINT"]),
            Some(&Json::str("http://b"))
        );
        undo_all(
            &mut doc,
            &settings("http://b"),
            Some(&journal),
            "t",
            &mut warnings,
        )
        .expect("undo");
        assert_eq!(r, original);
    }

    #[test]
    fn accepted_user_values_are_left_and_changes_since_setup_survive_undo() {
        let mut r = root(r#"{"env": {"EXPORTER": "otlp,console"}}"#);
        let mut journal = Journal::default();
        let mut warnings = Vec::new();
        let mut doc = JsonDoc {
            root: &mut r,
            name: "t".into(),
        };
        set_all(
            &mut doc,
            &settings("http://a"),
            &mut journal,
            "t",
            &mut warnings,
        )
        .expect("set");
        assert!(warnings.is_empty());
        assert!(!journal.set.contains_key("env.EXPORTER"));
        doc.set(&["env", "ENDPOINT"], "\"http://mine\"")
            .expect("user edit");
        undo_all(
            &mut doc,
            &settings("http://a"),
            Some(&journal),
            "t",
            &mut warnings,
        )
        .expect("undo");
        assert_eq!(
            r,
            root(r#"{"env": {"EXPORTER": "otlp,console", "ENDPOINT": "http://mine"}}"#)
        );
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn without_a_journal_only_our_exact_values_go() {
        let mut r = root(r#"{"env": {"ENDPOINT": "http://a", "EXPORTER": "console"}}"#);
        let mut doc = JsonDoc {
            root: &mut r,
            name: "t".into(),
        };
        undo_all(&mut doc, &settings("http://a"), None, "t", &mut Vec::new()).expect("undo");
        assert_eq!(r, root(r#"{"env": {"EXPORTER": "console"}}"#));
    }
}
