//! `observatory setup <agent>`: makes an agent send its OpenTelemetry and hook events to
//! observatory, by merging entries into the agent's own config files (or writing our own small
//! file where the agent loads a whole directory), and `--undo` takes them out again.
//!
//! It sits outside the data flow: it only edits files, once, so that the agents start talking to
//! `ingest`. Each agent has its own module that knows where its files live and what to put in
//! them; `json`, `toml_doc` and `journal` merge into existing files without losing the user's
//! settings or comments, and `files` reads, backs up and writes them. The flow agents share
//! (settings through the journal plus our hooks in a JSON file, and its undo) is
//! [`Plan::json_file`] here, so each agent's module says only what is its own. Every planner
//! builds the new content of each file first and changes nothing, so `--print` and a malformed
//! file stop before any write.

pub mod claude_code;
pub mod codex;
pub mod copilot_cli;
mod files;
pub mod gemini_cli;
mod journal;
mod json;
pub mod opencode;
pub mod pi;
mod toml_doc;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;

use journal::{JournalFile, Setting};
use json::{HookSpec, Json, JsonDoc, JsonFile};

/// The default OTLP/HTTP endpoint: what `setup` writes into agents' configs unless `--endpoint`
/// says otherwise, and where `observatory hook` posts when neither `--endpoint` nor
/// `OBSERVATORY_HOOK_ENDPOINT` is given.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4318";

#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    /// The agent to set up (the names come from the agent registry: see `cli::command`).
    pub agent: String,
    /// Show which files would change and how, and change nothing.
    #[arg(long)]
    pub print: bool,
    /// Take out what setup added, putting back any value it replaced.
    #[arg(long)]
    pub undo: bool,
    /// Base URL of observatory's OTLP/HTTP and hook receiver.
    #[arg(long, value_name = "URL", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// The observatory program the agents' hooks run [default: this executable].
    #[arg(long, value_name = "PATH")]
    pub observatory: Option<PathBuf>,
}

/// What the agent registry tells setup about the agent it sets up: each agent's planner is a
/// function of the [`Context`], this, and whether to undo.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The id `observatory hook` and `/v1/hooks/{agent}` take (`claude_code`).
    pub agent: &'static str,
    /// The agent's name for people (`Claude Code`).
    pub display_name: &'static str,
    /// The hook events setup installs, with the matcher of our entry where the agent's hooks
    /// take one (`*`: every tool); empty for agents whose hooks are a plugin file of ours.
    pub hook_events: &'static [HookEvent],
    /// The events whose hook waits for an answer from the phone: their timeout is
    /// [`ANSWER_HOOK_TIMEOUT_S`].
    pub answer_events: &'static [&'static str],
}

/// The hook timeout of events whose hook waits for an answer: above the longest wait
/// `observatory hook` keeps (an hour; the server's `[answers]` waits are shorter), so the agent
/// never kills a hook that is about to hand it the person's answer.
pub const ANSWER_HOOK_TIMEOUT_S: i64 = 3660;

/// A hook event to install: its name, and the matcher of our entry.
pub type HookEvent = (&'static str, Option<&'static str>);

/// One agent's planner (the registry holds it).
pub type Planner = fn(&Context, &Target, bool) -> Result<Plan>;

/// Sets up (or undoes) `target` with its `planner`, as the command line asked.
pub fn run(args: &SetupArgs, target: &Target, planner: Planner) -> Result<()> {
    let observatory = match &args.observatory {
        Some(p) => std::path::absolute(p)
            .with_context(|| format!("--observatory {}: cannot make it absolute", p.display()))?,
        None => std::env::current_exe().context("cannot find the observatory executable")?,
    };
    let ctx = Context::new(std::env::vars().collect(), &args.endpoint, observatory)?;
    let plan = planner(&ctx, target, args.undo)?;
    let out = if args.print {
        plan.render_preview(args.undo)
    } else {
        let done = plan.apply()?;
        plan.render_done(&done, args.undo)
    };
    print!("{out}");
    Ok(())
}

/// Everything a planner needs from the outside world, gathered once so planners stay pure
/// functions of it (and tests can hand them any environment).
#[derive(Debug, Clone)]
pub struct Context {
    vars: HashMap<String, String>,
    /// `$HOME`, the root of every default config directory.
    pub home: PathBuf,
    /// Base URL without a trailing slash: `<endpoint>/v1/logs`, `<endpoint>/v1/hooks/pi`, ...
    pub endpoint: String,
    /// Absolute path of the program hooks run.
    pub observatory: PathBuf,
}

impl Context {
    pub fn new(
        vars: HashMap<String, String>,
        endpoint: &str,
        observatory: PathBuf,
    ) -> Result<Self> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_owned();
        let rest = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {}
            _ => bail!(
                "--endpoint {endpoint:?}: expected an http:// or https:// URL such as {DEFAULT_ENDPOINT}"
            ),
        }
        let home = match vars.get("HOME") {
            Some(h) if !h.is_empty() => PathBuf::from(h),
            _ => bail!("HOME is not set: cannot find the agents' config directories"),
        };
        Ok(Context {
            vars,
            home,
            endpoint,
            observatory,
        })
    }

    /// A directory named by an environment variable, when it is set and not empty.
    pub fn dir_var(&self, name: &str) -> Option<PathBuf> {
        self.vars
            .get(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `$XDG_CONFIG_HOME`, or `~/.config`.
    pub fn xdg_config_home(&self) -> PathBuf {
        self.dir_var("XDG_CONFIG_HOME")
            .unwrap_or_else(|| self.home.join(".config"))
    }

    /// What an agent runs as its hook: `<observatory> hook <agent>`, with `--endpoint` when the
    /// server is not at the default address.
    pub fn hook_argv(&self, agent: &str) -> Vec<String> {
        let mut argv = vec![
            self.observatory.to_string_lossy().into_owned(),
            "hook".to_owned(),
            agent.to_owned(),
        ];
        if self.endpoint != DEFAULT_ENDPOINT {
            argv.extend(["--endpoint".to_owned(), self.endpoint.clone()]);
        }
        argv
    }

    /// [`Context::hook_argv`] as one shell command.
    pub fn hook_command(&self, agent: &str) -> String {
        let words: Vec<String> = self
            .hook_argv(agent)
            .iter()
            .map(|w| shell_quote(w))
            .collect();
        words.join(" ")
    }

    /// Whether a hook command is one of ours for `agent`, whatever observatory path it was
    /// written with (the binary may have moved since): the program is named `observatory*` or is
    /// the one given now, and its arguments start with `hook <agent>`.
    pub fn is_our_hook(&self, command: &str, agent: &str) -> bool {
        let words = split_words(command);
        self.is_our_argv(&words, agent)
    }

    pub fn is_our_argv(&self, words: &[String], agent: &str) -> bool {
        let [program, hook, name, ..] = words else {
            return false;
        };
        let program = Path::new(program);
        let named_ours = program
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("observatory"));
        (named_ours || program == self.observatory) && hook == "hook" && name == agent
    }
}

/// Quotes a word for `sh -c`, the way agents run hook commands.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Splits a command line into words like `sh` does for the simple cases hooks use (quotes and
/// backslashes; no expansions), enough to recognise our own hook commands.
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// What setup or undo would do to one agent: the new content of each file it touches, and
/// what to tell the user.
#[derive(Debug, Default)]
pub struct Plan {
    /// The agent's name as people know it, for the summary.
    pub agent: &'static str,
    /// Files whose content changes (created, rewritten or removed), in the order to write them.
    pub changes: Vec<Change>,
    /// Every file looked at, changed or not, so "already set up" can say where.
    pub checked: Vec<PathBuf>,
    /// Things the user should know: a value of theirs replaced, a part left alone.
    pub warnings: Vec<String>,
    /// What the user still has to do for the change to take effect.
    pub next: Vec<String>,
}

#[derive(Debug)]
pub struct Change {
    pub path: PathBuf,
    /// Content now; `None` when the file does not exist.
    pub before: Option<String>,
    /// Content after; `None` removes the file.
    pub after: Option<String>,
    /// One line on what changes, for the summary.
    pub what: String,
    /// Whether to keep a copy of the old content first: off for files that hold nothing of
    /// the user's (the journal, an unedited file of setup's own).
    pub backup: bool,
    /// Setup's own record (the journal): listed, but its content is not shown by `--print`.
    pub bookkeeping: bool,
}

/// What applying a change did, for the summary.
#[derive(Debug)]
pub struct Done {
    pub backup: Option<PathBuf>,
}

impl Plan {
    fn new(agent: &'static str) -> Self {
        Plan {
            agent,
            ..Plan::default()
        }
    }

    /// Records a file's new content; a file whose content stays the same is no change.
    fn file(
        &mut self,
        path: PathBuf,
        before: Option<String>,
        after: Option<String>,
        what: impl Into<String>,
    ) {
        self.checked.push(path.clone());
        if before != after {
            self.changes.push(Change {
                path,
                before,
                after,
                what: what.into(),
                backup: true,
                bookkeeping: false,
            });
        }
    }

    /// A file setup owns whole (a plugin, an env file), whose content is `generated`: written,
    /// or for undo removed. Its old content is backed up only when it differs from `generated`
    /// (the user edited it, or an older setup wrote it), so undo does not leave copies of
    /// setup's own files around. Returns whether the file existed.
    fn own_file(
        &mut self,
        path: PathBuf,
        generated: &str,
        what: String,
        undo: bool,
    ) -> Result<bool> {
        let before = files::read(&path)?;
        let existed = before.is_some();
        let backup = before.as_deref().is_some_and(|b| b != generated);
        let changes = self.changes.len();
        self.file(path, before, (!undo).then(|| generated.to_owned()), what);
        if self.changes.len() > changes
            && let Some(change) = self.changes.last_mut()
        {
            change.backup &= backup;
        }
        Ok(existed)
    }

    /// [`Plan::own_file`] for an env file for the user's shell profile (for an agent that reads
    /// its OpenTelemetry settings only from its environment); for undo, with a reminder to take
    /// its line out of the profile. Returns that line.
    fn profile_env_file(
        &mut self,
        path: PathBuf,
        generated: &str,
        what: String,
        undo: bool,
    ) -> Result<String> {
        let source = source_line(&path);
        if self.own_file(path, generated, what, undo)? && undo {
            self.warnings.push(format!(
                "remove the line `{source}` from your shell profile if you added it"
            ));
        }
        Ok(source)
    }

    /// Like [`Plan::file`] for setup's own bookkeeping, the journal: no backup, and not listed as
    /// checked.
    fn journal(&mut self, journal: &JournalFile) -> Result<()> {
        let (before, after) = (journal.original.clone(), journal.render()?);
        if before != after {
            let what = if after.is_some() {
                "what setup set and any value it replaced, for --undo"
            } else {
                "setup's record of what it set"
            };
            self.changes.push(Change {
                path: journal.path.clone(),
                before,
                after,
                what: what.to_owned(),
                backup: false,
                bookkeeping: true,
            });
        }
        Ok(())
    }

    /// The shared flow for a JSON config file of the agent's: sets `edit.settings` through the
    /// file's journal and adds our hooks, or for undo takes both out again, and records the
    /// file (and its journal). `check` looks at the set-up file (by its name) for anything that
    /// would stop it working, and adds warnings.
    fn json_file(
        &mut self,
        ctx: &Context,
        edit: JsonEdit,
        undo: bool,
        check: impl FnOnce(&json::Object, &str, &mut Vec<String>),
    ) -> Result<()> {
        let mut file = JsonFile::open(edit.path)?;
        let name = file.name();
        let mut journal = (!edit.settings.is_empty())
            .then(|| JournalFile::open(&file.path))
            .transpose()?;
        if let Some(journal) = &mut journal {
            let mut doc = JsonDoc {
                root: &mut file.root,
                name: name.clone(),
            };
            journal.apply(&mut doc, &edit.settings, &name, undo, &mut self.warnings)?;
        }
        if let Some(hooks) = &edit.hooks {
            let is_ours = |cmd: &str| ctx.is_our_hook(cmd, hooks.agent);
            if undo {
                json::remove_hooks(&mut file.root, &is_ours);
            } else {
                let spec = HookSpec {
                    events: hooks.events,
                    handler: json::Object::from_pairs([
                        ("type", Json::str("command")),
                        ("command", Json::str(&ctx.hook_command(hooks.agent))),
                        ("timeout", Json::int(hooks.timeout)),
                    ]),
                    timeouts: &hooks.timeouts,
                    is_ours: &is_ours,
                };
                json::add_hooks(&mut file.root, &spec, &name)?;
            }
        }
        if undo {
            file.prefer_backup_text();
        } else {
            check(&file.root, &name, &mut self.warnings);
        }
        let after = file.render()?;
        self.file(file.path.clone(), file.original.clone(), after, edit.what);
        if let Some(journal) = &journal {
            self.journal(journal)?;
        }
        Ok(())
    }

    /// Writes every change, keeping a backup of each file that existed.
    pub fn apply(&self) -> Result<Vec<Done>> {
        let mut done = Vec::new();
        for change in &self.changes {
            let backup = match (&change.before, change.backup) {
                (Some(_), true) => Some(files::backup(&change.path)?),
                _ => None,
            };
            match &change.after {
                Some(text) => files::write(&change.path, text)?,
                None => files::remove(&change.path)?,
            }
            done.push(Done { backup });
        }
        Ok(done)
    }

    fn render_nothing(&self, undo: bool) -> String {
        let mut out = String::new();
        let where_ = self
            .checked
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if undo {
            out.push_str(&format!(
                "{}: nothing to undo: no observatory entries in {where_}\n",
                self.agent
            ));
        } else {
            out.push_str(&format!(
                "{}: already set up, nothing to change ({where_})\n",
                self.agent
            ));
        }
        self.render_notes(&mut out, undo);
        out
    }

    fn render_notes(&self, out: &mut String, undo: bool) {
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        if !undo && !self.next.is_empty() {
            out.push_str("Next:\n");
            for n in &self.next {
                out.push_str(&format!("  - {n}\n"));
            }
        }
    }

    /// `--print`: every file that would change, as a diff, and nothing written.
    pub fn render_preview(&self, undo: bool) -> String {
        if self.changes.is_empty() {
            return self.render_nothing(undo);
        }
        let verb = if undo { "undo" } else { "setup" };
        let mut out = format!(
            "{}: {verb} would change {} file(s); --print changes nothing.\n",
            self.agent,
            self.changes.len()
        );
        for c in &self.changes {
            let path = c.path.display();
            out.push('\n');
            match (&c.before, &c.after) {
                (_, Some(_)) if c.bookkeeping => {
                    out.push_str(&format!("+++ {path} ({})\n", c.what));
                }
                (None, Some(after)) => {
                    out.push_str(&format!("+++ {path} (new file: {})\n", c.what));
                    for line in after.lines() {
                        out.push_str(&format!("+{line}\n"));
                    }
                }
                (Some(_), None) => {
                    out.push_str(&format!("--- {path} (would be removed: {})\n", c.what));
                }
                (Some(before), Some(after)) => {
                    out.push_str(&format!("--- {path}\n+++ {path} ({})\n", c.what));
                    out.push_str(&files::diff(before, after));
                }
                (None, None) => {}
            }
        }
        out.push('\n');
        self.render_notes(&mut out, undo);
        out
    }

    /// The summary after applying.
    pub fn render_done(&self, done: &[Done], undo: bool) -> String {
        if self.changes.is_empty() {
            return self.render_nothing(undo);
        }
        let mut out = if undo {
            format!("{}: observatory setup undone.\n", self.agent)
        } else {
            format!("{}: set up to report to observatory.\n", self.agent)
        };
        for (c, d) in self.changes.iter().zip(done) {
            let verb = match (&c.before, &c.after) {
                (None, _) => "created",
                (Some(_), None) => "removed",
                (Some(_), Some(_)) => "updated",
            };
            out.push_str(&format!("  {verb} {}: {}\n", c.path.display(), c.what));
            if let Some(b) = &d.backup {
                out.push_str(&format!("    backup of the old file: {}\n", b.display()));
            }
        }
        self.render_notes(&mut out, undo);
        out
    }
}

/// One JSON config file of the agent's that setup merges into.
struct JsonEdit<'a> {
    path: PathBuf,
    /// Single values setup owns, kept in the file's journal (none: the file has no journal).
    settings: Vec<Setting<'a>>,
    hooks: Option<CommandHooks>,
    /// One line on what changes, for the summary.
    what: String,
}

/// Our command hook, `<observatory> hook <agent>`, in a Claude-style `hooks` object (Claude
/// Code's and Gemini CLI's settings.json, Codex's hooks.json).
struct CommandHooks {
    agent: &'static str,
    /// Each event, with the matcher of our entry.
    events: &'static [(&'static str, Option<&'static str>)],
    /// How long the agent waits for the hook, in its own unit.
    timeout: i64,
    /// Events that get another timeout.
    timeouts: Vec<(&'static str, i64)>,
}

/// The summary line for hooks of ours: "`<observatory> hook <agent>` on N hook events".
fn hooks_what(ctx: &Context, agent: &str, events: usize) -> String {
    format!(
        "`{} hook {agent}` on {events} hook events",
        ctx.observatory.display()
    )
}

/// A line for the user's shell profile that loads `path`, and does nothing once undo has
/// removed the file (so an undo never leaves a profile that errors).
fn source_line(path: &Path) -> String {
    let quoted = shell_quote(&path.to_string_lossy());
    format!("[ -f {quoted} ] && . {quoted}")
}

/// The "Next" lines every agent shares.
fn restart_note(agent: &str) -> String {
    format!(
        "Restart {agent}: sessions already running keep the settings they started with. \
         Keep `observatory` running to receive them (hooks do nothing while it is down)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        let vars = HashMap::from([("HOME".to_owned(), "/home/u".to_owned())]);
        Context::new(
            vars,
            "http://127.0.0.1:4318/",
            "/opt/obs/observatory".into(),
        )
        .expect("context")
    }

    #[test]
    fn endpoint_loses_its_trailing_slash_and_must_be_http() {
        assert_eq!(ctx().endpoint, "http://127.0.0.1:4318");
        let vars = HashMap::from([("HOME".to_owned(), "/h".to_owned())]);
        for bad in ["127.0.0.1:4318", "ftp://x", "http://", "http://a b"] {
            assert!(
                Context::new(vars.clone(), bad, "/o".into()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn hooks_of_a_server_elsewhere_are_told_where() {
        let c = Context::new(
            HashMap::from([("HOME".to_owned(), "/h".to_owned())]),
            "http://127.0.0.1:14318/",
            "/opt/obs/observatory".into(),
        )
        .expect("context");
        assert_eq!(
            c.hook_command("codex"),
            "/opt/obs/observatory hook codex --endpoint http://127.0.0.1:14318"
        );
        assert!(c.is_our_hook(&c.hook_command("codex"), "codex"));
        // at the default address, the hook needs no flag
        assert_eq!(
            ctx().hook_argv("pi"),
            ["/opt/obs/observatory", "hook", "pi"]
        );
    }

    #[test]
    fn hook_commands_are_quoted_and_recognised() {
        let c = ctx();
        assert_eq!(
            c.hook_command("claude_code"),
            "/opt/obs/observatory hook claude_code"
        );
        assert!(c.is_our_hook("/opt/obs/observatory hook claude_code", "claude_code"));
        // Written by an older setup with the binary somewhere else, and quoted.
        assert!(c.is_our_hook("'/old place/observatory' hook codex", "codex"));
        assert!(!c.is_our_hook("/opt/obs/observatory hook codex", "claude_code"));
        assert!(!c.is_our_hook("curl -s http://x/hook/claude_code", "claude_code"));
        assert!(!c.is_our_hook("my-notifier hook claude_code", "claude_code"));

        let spaced = Context::new(
            HashMap::from([("HOME".to_owned(), "/h".to_owned())]),
            DEFAULT_ENDPOINT,
            "/my tools/it's/obs".into(),
        )
        .expect("context");
        let cmd = spaced.hook_command("pi");
        assert_eq!(cmd, r"'/my tools/it'\''s/obs' hook pi");
        assert_eq!(split_words(&cmd), ["/my tools/it's/obs", "hook", "pi"]);
        assert!(spaced.is_our_hook(&cmd, "pi"));
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words(r#"  a "b c" 'd e'f g\ h "i\"j"  "#),
            ["a", "b c", "d ef", "g h", "i\"j"]
        );
        assert!(split_words("   ").is_empty());
        assert_eq!(split_words("''"), [""]);
    }
}
