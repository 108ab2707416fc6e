//! TOML config files (Codex's config.toml) edited with `toml_edit`, so the user's comments,
//! ordering and layout stay as they wrote them and only our keys change.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use toml_edit::{DocumentMut, Item, Table, Value};

pub struct TomlFile {
    pub path: PathBuf,
    pub original: Option<String>,
    pub doc: DocumentMut,
}

impl TomlFile {
    pub fn open(path: PathBuf) -> Result<Self> {
        let original = super::files::read(&path)?;
        let doc = match &original {
            Some(text) => parse(&path, text)?,
            None => DocumentMut::new(),
        };
        Ok(TomlFile {
            path,
            original,
            doc,
        })
    }

    /// The new text: the original when nothing changed, `None` when an undo leaves nothing but
    /// blank lines (or the file never existed and stays empty).
    pub fn render(&self) -> Option<String> {
        let text = self.doc.to_string();
        if self.original.as_deref() == Some(text.as_str()) {
            return self.original.clone();
        }
        if text.trim().is_empty() {
            return None;
        }
        Some(text)
    }
}

pub fn parse(path: &Path, text: &str) -> Result<DocumentMut> {
    text.parse::<DocumentMut>().map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map(|l| format!(":{l}")).unwrap_or_default();
        anyhow!(
            "{}{at}: not valid TOML; nothing was changed.\n{e}",
            path.display()
        )
    })
}

/// A value's text without the spacing around it.
pub fn value_text(v: &Value) -> String {
    let mut v = v.clone();
    v.decor_mut().clear();
    v.to_string()
}

/// The value of an item, also when it is written as a `[table]` section.
fn item_value(item: &Item) -> Option<Value> {
    item.clone().into_value().ok()
}

/// The table-like at a key path, created (as a `[section]`) when missing.
fn table_mut<'a>(
    root: &'a mut Table,
    path: &[&str],
    what: &str,
) -> Result<&'a mut dyn toml_edit::TableLike> {
    let mut table: &mut dyn toml_edit::TableLike = root;
    for key in path {
        if table.get(key).is_none() {
            let mut t = Table::new();
            t.set_implicit(false);
            table.insert(key, Item::Table(t));
        }
        table = match table.get_mut(key) {
            Some(item) => match item.as_table_like_mut() {
                Some(t) => t,
                None => bail!("{what}: `{key}` is not a table; nothing was changed"),
            },
            None => bail!("{what}: cannot create `{key}`"),
        };
    }
    Ok(table)
}

/// A TOML document as the journal sees it.
pub struct TomlDoc<'a> {
    pub doc: &'a mut DocumentMut,
    pub name: String,
}

impl super::journal::Doc for TomlDoc<'_> {
    fn get(&self, path: &[&str]) -> Option<String> {
        let (last, parents) = path.split_last()?;
        let mut table: &dyn toml_edit::TableLike = self.doc.as_table();
        for key in parents {
            table = table.get(key)?.as_table_like()?;
        }
        item_value(table.get(last)?).map(|v| value_text(&v))
    }

    fn set(&mut self, path: &[&str], text: &str) -> Result<()> {
        let Some((last, parents)) = path.split_last() else {
            bail!("{}: empty key path", self.name);
        };
        let value: Value = text
            .parse()
            .map_err(|e| anyhow!("{}: cannot read back the value {text}: {e}", self.name))?;
        let table = table_mut(self.doc.as_table_mut(), parents, &self.name)?;
        match table.get_mut(last) {
            // Keep the key where it is, with its comments.
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                *old = value;
                *old.decor_mut() = decor;
            }
            _ => {
                table.insert(last, Item::Value(value));
            }
        }
        Ok(())
    }

    fn remove(&mut self, path: &[&str]) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        remove_in(self.doc.as_table_mut(), parents, last);
    }

    fn same(&self, a: &str, b: &str) -> bool {
        match (semantic(a), semantic(b)) {
            (Some(a), Some(b)) => a == b,
            _ => a == b,
        }
    }
}

/// Removes `last` under `parents`, then any parent table this leaves empty.
fn remove_in(table: &mut dyn toml_edit::TableLike, parents: &[&str], last: &str) {
    match parents.split_first() {
        None => {
            table.remove(last);
        }
        Some((first, rest)) => {
            if let Some(child) = table.get_mut(first).and_then(Item::as_table_like_mut) {
                remove_in(child, rest, last);
                if child.is_empty() {
                    table.remove(first);
                }
            }
        }
    }
}

/// What a TOML value text means, ignoring how it is written.
fn semantic(text: &str) -> Option<::toml::Value> {
    let mut table: ::toml::Table = ::toml::from_str(&format!("v = {text}")).ok()?;
    table.remove("v")
}

#[cfg(test)]
mod tests {
    use super::super::journal::Doc as _;
    use super::*;

    #[test]
    fn values_are_set_keeping_comments_and_compared_by_meaning() {
        let text = "# my config\nmodel = \"o3\" # favourite\n\n[otel]\n# where logs go\nexporter = \"none\"\n";
        let mut doc = parse(Path::new("c.toml"), text).expect("parse");
        let mut d = TomlDoc {
            doc: &mut doc,
            name: "c.toml".into(),
        };
        let ours = r#"{ otlp-http = { endpoint = "http://h/v1/logs", protocol = "binary" } }"#;
        d.set(&["otel", "exporter"], ours).expect("set");
        d.set(&["otel", "trace_exporter"], ours).expect("set");
        assert!(d.same(
            &d.get(&["otel", "exporter"]).expect("get"),
            r#"{otlp-http={protocol="binary",endpoint="http://h/v1/logs"}}"#
        ));
        let out = doc.to_string();
        assert!(
            out.starts_with("# my config\nmodel = \"o3\" # favourite\n"),
            "{out}"
        );
        assert!(out.contains("# where logs go\nexporter = {"), "{out}");

        let mut d = TomlDoc {
            doc: &mut doc,
            name: "c.toml".into(),
        };
        d.set(&["otel", "exporter"], "\"none\"").expect("restore");
        d.remove(&["otel", "trace_exporter"]);
        assert_eq!(doc.to_string(), text);
    }

    #[test]
    fn a_table_emptied_by_removal_goes_and_sections_read_as_values() {
        let text = "a = 1\n\n[otel.exporter.otlp-http]\nendpoint = \"x\"\n";
        let mut doc = parse(Path::new("c.toml"), text).expect("parse");
        let mut d = TomlDoc {
            doc: &mut doc,
            name: "c.toml".into(),
        };
        assert!(d.same(
            &d.get(&["otel", "exporter"]).expect("get"),
            r#"{ otlp-http = { endpoint = "x" } }"#
        ));
        d.remove(&["otel", "exporter"]);
        assert_eq!(doc.to_string(), "a = 1\n");
    }

    #[test]
    fn parse_errors_name_the_file_and_line() {
        let err = parse(Path::new("/c/config.toml"), "a = 1\nb = = 2\n").expect_err("bad");
        assert!(
            err.to_string()
                .starts_with("/c/config.toml:2: not valid TOML"),
            "{err}"
        );
    }
}
