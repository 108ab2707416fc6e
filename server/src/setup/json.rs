//! Agents' JSON config files, edited in place: an order-keeping JSON value (so a rewritten file
//! keeps the user's key order, which `serde_json::Value` would sort), parsing with errors that
//! name the file and line, writing back in the file's own indentation, and the merges every
//! JSON agent shares: a value at a key path, and Claude-style hook lists
//! (`{"hooks": {"<Event>": [{"matcher": ..., "hooks": [{"type": "command", ...}]}]}}`, used by
//! Claude Code, Codex's hooks.json and Gemini CLI).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep their keys in file order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

/// A JSON object in file order. Equality ignores order.
#[derive(Clone, Debug, Default)]
pub struct Object(Vec<(String, Json)>);

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Object {
    pub fn new() -> Self {
        Object(Vec::new())
    }

    /// Like `JSON.parse`, the last of duplicate keys wins.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.0
            .iter_mut()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Replaces the value in place (keeping the key's position) or appends the key.
    pub fn insert(&mut self, key: &str, value: Json) {
        match self.get_mut(key) {
            Some(slot) => *slot = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Json> {
        let old = self.get(key).cloned();
        self.0.retain(|(k, _)| k != key);
        old
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Json)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Builds an object from pairs, in their order.
    pub fn from_pairs<const N: usize>(pairs: [(&str, Json); N]) -> Self {
        Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// The object under `key`, created when missing. `what` names the place for the error when
    /// the key holds something else.
    pub fn object_mut(&mut self, key: &str, what: &str) -> Result<&mut Object> {
        if self.get(key).is_none() {
            self.insert(key, Json::Object(Object::new()));
        }
        match self.get_mut(key) {
            Some(Json::Object(o)) => Ok(o),
            _ => bail!("{what}: `{key}` is not a JSON object; nothing was changed"),
        }
    }
}

impl Json {
    pub fn str(s: &str) -> Json {
        Json::String(s.to_owned())
    }

    pub fn int(n: i64) -> Json {
        Json::Number(n.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Compact JSON text, the form the journal keeps values in.
    pub fn to_compact(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_text(text: &str) -> Option<Json> {
        serde_json::from_str(text).ok()
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::str(s))
    }
    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            entries.push((k, v));
        }
        Ok(Json::Object(Object(entries)))
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(v) => s.serialize_str(v),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(o) => o.serialize(s),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Pretty JSON with the given indentation and a final newline.
pub fn pretty(value: &Object, indent: &[u8]) -> Result<String> {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(indent),
    );
    value.serialize(&mut ser)?;
    buf.push(b'\n');
    Ok(String::from_utf8(buf)?)
}

/// The indentation a JSON text uses (that of its first indented line), two spaces by default.
fn indent_of(text: &str) -> Vec<u8> {
    text.lines()
        .skip(1)
        .map(|l| &l[..l.len() - l.trim_start().len()])
        .find(|ws| !ws.is_empty())
        .map_or_else(|| b"  ".to_vec(), |ws| ws.as_bytes().to_vec())
}

/// Parses a config file's text into its top-level object. An empty file is an empty object.
pub fn parse(path: &Path, text: &str) -> Result<Object> {
    if text.trim().is_empty() {
        return Ok(Object::new());
    }
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(o)) => Ok(o),
        Ok(_) => bail!(
            "{}: expected a JSON object at the top; nothing was changed",
            path.display()
        ),
        Err(e) => Err(anyhow!(
            "{}:{}:{}: not valid JSON ({e}); nothing was changed. Fix the file (setup cannot \
             keep comments, so it edits plain JSON only) and run setup again",
            path.display(),
            e.line(),
            e.column()
        )),
    }
}

/// A JSON config file being edited: its text as read, and the object to change.
pub struct JsonFile {
    pub path: PathBuf,
    pub original: Option<String>,
    parsed: Object,
    pub root: Object,
    /// Text to write as is when it says exactly what `root` does (see
    /// [`JsonFile::prefer_backup_text`]).
    exact: Option<String>,
}

impl JsonFile {
    pub fn open(path: PathBuf) -> Result<Self> {
        let original = super::files::read(&path)?;
        let parsed = match &original {
            Some(text) => parse(&path, text)?,
            None => Object::new(),
        };
        Ok(JsonFile {
            path,
            original,
            root: parsed.clone(),
            parsed,
            exact: None,
        })
    }

    /// For undo: when one of the file's backups holds exactly what undo arrives at (the usual
    /// case, when nothing else changed since setup), its bytes are written back as they were,
    /// formatting included, instead of a re-indented rendering.
    pub fn prefer_backup_text(&mut self) {
        for backup in super::files::backups_of(&self.path).iter().rev() {
            let Ok(Some(text)) = super::files::read(backup) else {
                continue;
            };
            if parse(&self.path, &text)
                .is_ok_and(|o| o == self.root && structure_same(&o, &self.root))
            {
                self.exact = Some(text);
                return;
            }
        }
    }

    /// The file's new text: the original bytes when nothing changed (so a second run is no
    /// change at all), `None` (no file) when it did not exist and stays empty, or when an undo
    /// leaves nothing in it.
    pub fn render(&self) -> Result<Option<String>> {
        if self.root == self.parsed && structure_same(&self.root, &self.parsed) {
            return Ok(self.original.clone());
        }
        if let Some(text) = &self.exact {
            return Ok(Some(text.clone()));
        }
        if self.root.is_empty() {
            return Ok(None);
        }
        let indent = self
            .original
            .as_deref()
            .map_or_else(|| b"  ".to_vec(), indent_of);
        pretty(&self.root, &indent).map(Some)
    }

    /// Where errors about this file point.
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// Equal including key order, so a reorder would still be written.
fn structure_same(a: &Object, b: &Object) -> bool {
    a.to_compact_text() == b.to_compact_text()
}

impl Object {
    fn to_compact_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The value at a key path.
pub fn get_path<'a>(root: &'a Object, path: &[&str]) -> Option<&'a Json> {
    let (last, parents) = path.split_last()?;
    let mut obj = root;
    for key in parents {
        obj = obj.get(key)?.as_object()?;
    }
    obj.get(last)
}

/// Sets the value at a key path, creating the objects on the way.
pub fn set_path(root: &mut Object, path: &[&str], value: Json, what: &str) -> Result<()> {
    let Some((last, parents)) = path.split_last() else {
        bail!("{what}: empty key path");
    };
    let mut obj = root;
    for key in parents {
        obj = obj.object_mut(key, what)?;
    }
    obj.insert(last, value);
    Ok(())
}

/// Removes the value at a key path, and the objects on the way that this leaves empty.
pub fn remove_path(root: &mut Object, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        root.remove(first);
        return;
    }
    if let Some(Json::Object(child)) = root.get_mut(first) {
        remove_path(child, rest);
        if child.is_empty() {
            root.remove(first);
        }
    }
}

/// The hooks one agent wants in a Claude-style hook list.
pub struct HookSpec<'a> {
    /// Each event, with the matcher its entry gets (`None`: no matcher key).
    pub events: &'a [(&'a str, Option<&'a str>)],
    /// The handler object (`{"type": "command", "command": ..., "timeout": ...}`).
    pub handler: Object,
    /// Events whose handler gets another `timeout` than the handler's.
    pub timeouts: &'a [(&'a str, i64)],
    /// Whether a handler's command is one of ours (from any earlier setup too).
    pub is_ours: &'a dyn Fn(&str) -> bool,
}

fn handler_is_ours(handler: &Json, is_ours: &dyn Fn(&str) -> bool) -> bool {
    handler
        .as_object()
        .and_then(|h| h.get("command"))
        .and_then(Json::as_str)
        .is_some_and(is_ours)
}

/// Adds our handler to each event's list, after the user's own entries. An entry of ours
/// already there (from an earlier setup) is brought up to date in place rather than added
/// twice. Entries for other events and other handlers are left exactly as they are.
pub fn add_hooks(root: &mut Object, spec: &HookSpec, what: &str) -> Result<()> {
    let hooks = root.object_mut("hooks", what)?;
    for (event, matcher) in spec.events {
        let mut handler = spec.handler.clone();
        if let Some((_, t)) = spec.timeouts.iter().find(|(e, _)| e == event) {
            handler.insert("timeout", Json::int(*t));
        }
        if hooks.get(event).is_none() {
            hooks.insert(event, Json::Array(Vec::new()));
        }
        let Some(Json::Array(groups)) = hooks.get_mut(event) else {
            bail!("{what}: `hooks.{event}` is not a JSON list; nothing was changed");
        };
        let mut found = false;
        for group in groups.iter_mut() {
            let Json::Object(group) = group else { continue };
            let Some(Json::Array(handlers)) = group.get_mut("hooks") else {
                continue;
            };
            let before = handlers.len();
            let mut kept = Vec::with_capacity(before);
            for h in handlers.drain(..) {
                if handler_is_ours(&h, spec.is_ours) {
                    if !found {
                        kept.push(Json::Object(handler.clone()));
                        found = true;
                    }
                } else {
                    kept.push(h);
                }
            }
            *handlers = kept;
        }
        // A duplicate of ours removed above may leave its entry empty.
        groups.retain(|g| {
            !matches!(g.as_object().and_then(|o| o.get("hooks")), Some(Json::Array(h)) if h.is_empty())
        });
        if !found {
            let mut group = Object::new();
            if let Some(m) = matcher {
                group.insert("matcher", Json::str(m));
            }
            group.insert("hooks", Json::Array(vec![Json::Object(handler)]));
            groups.push(Json::Object(group));
        }
    }
    Ok(())
}

/// Takes our handlers out of every event's list; entries, events and the `hooks` object this
/// leaves empty go too. Returns how many handlers were removed.
pub fn remove_hooks(root: &mut Object, is_ours: &dyn Fn(&str) -> bool) -> usize {
    let mut removed = 0;
    let Some(Json::Object(hooks)) = root.get_mut("hooks") else {
        return 0;
    };
    let mut emptied = Vec::new();
    for (event, list) in hooks.iter_mut() {
        let Json::Array(groups) = list else { continue };
        let mut touched = false;
        for group in groups.iter_mut() {
            let Some(Json::Array(handlers)) =
                group.as_object_mut().and_then(|g| g.get_mut("hooks"))
            else {
                continue;
            };
            let before = handlers.len();
            handlers.retain(|h| !handler_is_ours(h, is_ours));
            if handlers.len() != before {
                removed += before - handlers.len();
                touched = true;
            }
        }
        if touched {
            groups.retain(|g| {
                !matches!(g.as_object().and_then(|o| o.get("hooks")), Some(Json::Array(h)) if h.is_empty())
            });
            if groups.is_empty() {
                emptied.push(event.clone());
            }
        }
    }
    for event in emptied {
        hooks.remove(&event);
    }
    if removed > 0 && hooks.is_empty() {
        root.remove("hooks");
    }
    removed
}

impl Json {
    fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }
}

/// A JSON file as the journal sees it: values at key paths, as compact JSON text.
pub struct JsonDoc<'a> {
    pub root: &'a mut Object,
    pub name: String,
}

impl super::journal::Doc for JsonDoc<'_> {
    fn get(&self, path: &[&str]) -> Option<String> {
        get_path(self.root, path).map(Json::to_compact)
    }

    fn set(&mut self, path: &[&str], text: &str) -> Result<()> {
        let value = Json::from_text(text)
            .ok_or_else(|| anyhow!("{}: cannot read back the value {text}", self.name))?;
        set_path(self.root, path, value, &self.name)
    }

    fn remove(&mut self, path: &[&str]) {
        remove_path(self.root, path);
    }

    fn same(&self, a: &str, b: &str) -> bool {
        match (Json::from_text(a), Json::from_text(b)) {
            (Some(a), Some(b)) => a == b,
            _ => a == b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(text: &str) -> Object {
        parse(Path::new("test.json"), text).expect("parse")
    }

    fn ours(cmd: &str) -> bool {
        cmd.starts_with("/bin/observatory hook")
    }

    fn spec_handler() -> Object {
        Object::from_pairs([
            ("type", Json::str("command")),
            ("command", Json::str("/bin/observatory hook claude_code")),
            ("timeout", Json::int(5)),
        ])
    }

    #[test]
    fn key_order_and_indentation_survive_a_rewrite() {
        let text =
            "{\n    \"zeta\": 1,\n    \"alpha\": {\"b\": 2, \"a\": [1, 2.5, null, true]}\n}\n";
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        std::fs::write(&path, text).expect("write");
        let mut file = JsonFile::open(path).expect("open");
        assert_eq!(file.render().expect("render").as_deref(), Some(text));
        file.root.insert("new", Json::Bool(false));
        let out = file.render().expect("render").expect("some");
        assert_eq!(
            out,
            "{\n    \"zeta\": 1,\n    \"alpha\": {\n        \"b\": 2,\n        \"a\": [\n            1,\n            2.5,\n            null,\n            true\n        ]\n    },\n    \"new\": false\n}\n"
        );
    }

    #[test]
    fn parse_errors_name_the_file_and_line() {
        let err =
            parse(Path::new("/x/settings.json"), "{\n  \"a\": 1,\n  oops\n}").expect_err("invalid");
        let msg = err.to_string();
        assert!(msg.starts_with("/x/settings.json:3:"), "{msg}");
        assert!(msg.contains("nothing was changed"), "{msg}");
        assert!(parse(Path::new("a"), "[1]").is_err());
        assert!(parse(Path::new("a"), " \n").expect("empty").is_empty());
    }

    #[test]
    fn our_hooks_go_after_the_users_and_come_out_again() {
        let original = obj(r#"{
            "model": "opus",
            "hooks": {
                "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}],
                "Setup": [{"hooks": [{"type": "command", "command": "echo hi"}]}]
            }
        }"#);
        let mut root = original.clone();
        let spec = HookSpec {
            events: &[("Stop", None), ("PreToolUse", Some("*"))],
            handler: spec_handler(),
            timeouts: &[("PreToolUse", 3660)],
            is_ours: &ours,
        };
        add_hooks(&mut root, &spec, "t").expect("add");
        let stop = get_path(&root, &["hooks", "Stop"]).expect("stop");
        let Json::Array(groups) = stop else {
            panic!("not a list")
        };
        assert_eq!(groups.len(), 2);
        assert_eq!(
            get_path(groups[0].as_object().expect("o"), &["hooks"]),
            get_path(&original, &["hooks", "Stop"])
                .and_then(|g| match g {
                    Json::Array(g) => g[0].as_object(),
                    _ => None,
                })
                .and_then(|o| o.get("hooks"))
        );
        let pre = get_path(&root, &["hooks", "PreToolUse"]).expect("pre");
        let mut longer = spec_handler();
        longer.insert("timeout", Json::int(3660));
        assert_eq!(
            pre,
            &Json::Array(vec![Json::Object(Object::from_pairs([
                ("matcher", Json::str("*")),
                ("hooks", Json::Array(vec![Json::Object(longer)])),
            ]))])
        );

        // Again: nothing changes.
        let once = root.clone();
        add_hooks(&mut root, &spec, "t").expect("add again");
        assert_eq!(root, once);
        assert!(structure_same(&root, &once));

        assert_eq!(remove_hooks(&mut root, &ours), 2);
        assert_eq!(root, original);
    }

    #[test]
    fn an_old_entry_of_ours_is_updated_in_place_and_duplicates_go() {
        let mut root = obj(r#"{"hooks": {"Stop": [
            {"hooks": [{"type": "command", "command": "/bin/observatory hook claude_code --old", "timeout": 60}]},
            {"hooks": [{"type": "command", "command": "say done"}, {"type": "command", "command": "/bin/observatory hook x"}]}
        ]}}"#);
        let spec = HookSpec {
            events: &[("Stop", None)],
            handler: spec_handler(),
            timeouts: &[],
            is_ours: &ours,
        };
        add_hooks(&mut root, &spec, "t").expect("add");
        let expected = obj(r#"{"hooks": {"Stop": [
            {"hooks": [{"type": "command", "command": "/bin/observatory hook claude_code", "timeout": 5}]},
            {"hooks": [{"type": "command", "command": "say done"}]}
        ]}}"#);
        assert_eq!(root, expected);
    }

    #[test]
    fn hooks_that_are_not_lists_are_refused() {
        let mut root = obj(r#"{"hooks": {"Stop": "nope"}}"#);
        let spec = HookSpec {
            events: &[("Stop", None)],
            handler: spec_handler(),
            timeouts: &[],
            is_ours: &ours,
        };
        let err = add_hooks(&mut root, &spec, "f.json").expect_err("refused");
        assert!(err.to_string().contains("hooks.Stop"), "{err}");
        let mut root = obj(r#"{"hooks": []}"#);
        assert!(add_hooks(&mut root, &spec, "f.json").is_err());
    }

    #[test]
    fn paths_are_set_and_pruned() {
        let mut root = obj(r#"{"a": 1}"#);
        set_path(&mut root, &["env", "X"], Json::str("1"), "t").expect("set");
        assert_eq!(get_path(&root, &["env", "X"]), Some(&Json::str("1")));
        remove_path(&mut root, &["env", "X"]);
        assert_eq!(root, obj(r#"{"a": 1}"#));
        assert!(set_path(&mut root, &["a", "b"], Json::Null, "t").is_err());
    }
}
