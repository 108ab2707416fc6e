//! Claude Code: `<CLAUDE_CONFIG_DIR or ~/.claude>/settings.json` gets the OpenTelemetry
//! variables in `env` (Claude applies them to itself) and a command hook on every event the
//! session tracker uses.
//!
//! Hooks are synchronous (no `"async": true`): `observatory hook` answers within its budget and
//! prints nothing, so it never changes Claude's decision, and running in order keeps
//! PreToolUse before PostToolUse and lets SessionEnd finish before Claude exits.

use anyhow::Result;

use super::journal::{self, JournalFile, Setting};
use super::json::{self, HookSpec, Json, JsonDoc, JsonFile, Object};
use super::{Context, Plan, restart_note};

/// The hook's agent argument, as `observatory hook` and `/v1/hooks/{agent}` name it.
const AGENT: &str = "claude_code";

/// Seconds Claude waits for our hook; it answers far sooner, this only bounds a stuck machine.
const HOOK_TIMEOUT_S: i64 = 5;

/// Events we hook, with the matcher of our entry: `*` on the tool events (every tool), none on
/// events that have no matcher or where no matcher means all.
pub const HOOK_EVENTS: &[(&str, Option<&str>)] = &[
    ("SessionStart", None),
    ("SessionEnd", None),
    ("UserPromptSubmit", None),
    ("PreToolUse", Some("*")),
    ("PostToolUse", Some("*")),
    ("PostToolUseFailure", Some("*")),
    ("PermissionRequest", Some("*")),
    ("PermissionDenied", Some("*")),
    ("Notification", None),
    ("Stop", None),
    ("StopFailure", None),
    ("SubagentStart", None),
    ("SubagentStop", None),
    ("PreCompact", None),
    ("PostCompact", None),
    ("Elicitation", None),
    ("ElicitationResult", None),
    ("MessageDisplay", None),
];

/// An exporter list that already includes `otlp` (say `otlp,console`) does what we need.
fn exports_otlp(text: &str) -> bool {
    Json::from_text(text)
        .and_then(|v| v.as_str().map(|s| s.split(',').any(|e| e.trim() == "otlp")))
        .unwrap_or(false)
}

fn settings(ctx: &Context) -> Vec<Setting<'static>> {
    let env = |name: &'static str, value: &str, accepts: Option<fn(&str) -> bool>| Setting {
        path: vec!["env", name],
        value: Json::str(value).to_compact(),
        accepts,
    };
    vec![
        env("CLAUDE_CODE_ENABLE_TELEMETRY", "1", None),
        env("OTEL_LOGS_EXPORTER", "otlp", Some(exports_otlp)),
        env("OTEL_METRICS_EXPORTER", "otlp", Some(exports_otlp)),
        // Traces (beta) give the permission wait and tool execution spans; Claude 2.1 sends
        // none without the beta switch.
        env("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1", None),
        env("OTEL_TRACES_EXPORTER", "otlp", Some(exports_otlp)),
        env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", None),
        env("OTEL_EXPORTER_OTLP_ENDPOINT", &ctx.endpoint, None),
        // Events are the live path (prompts, API requests with cost): 1 s instead of 5 s.
        env("OTEL_LOGS_EXPORT_INTERVAL", "1000", None),
        // Metrics are only totals here; 10 s instead of 60 s keeps live figures fresh.
        env("OTEL_METRIC_EXPORT_INTERVAL", "10000", None),
    ]
}

pub fn plan(ctx: &Context, undo: bool) -> Result<Plan> {
    let dir = ctx
        .dir_var("CLAUDE_CONFIG_DIR")
        .unwrap_or_else(|| ctx.home.join(".claude"));
    let mut file = JsonFile::open(dir.join("settings.json"))?;
    let mut journal = JournalFile::open(&file.path)?;
    let mut plan = Plan::new("Claude Code");
    let name = file.name();
    let settings = settings(ctx);
    let is_ours = |cmd: &str| ctx.is_our_hook(cmd, AGENT);
    let what;
    if undo {
        json::remove_hooks(&mut file.root, &is_ours);
        let mut doc = JsonDoc {
            root: &mut file.root,
            name: name.clone(),
        };
        let recorded = journal.original.is_some().then_some(&journal.journal);
        journal::undo_all(&mut doc, &settings, recorded, &name, &mut plan.warnings)?;
        journal.journal = journal::Journal::default();
        file.prefer_backup_text();
        what = "took out observatory's env settings and hooks".to_owned();
    } else {
        let mut doc = JsonDoc {
            root: &mut file.root,
            name: name.clone(),
        };
        journal::set_all(
            &mut doc,
            &settings,
            &mut journal.journal,
            &name,
            &mut plan.warnings,
        )?;
        let spec = HookSpec {
            events: HOOK_EVENTS,
            handler: Object::from_pairs([
                ("type", Json::str("command")),
                ("command", Json::str(&ctx.hook_command(AGENT))),
                ("timeout", Json::int(HOOK_TIMEOUT_S)),
            ]),
            is_ours: &is_ours,
        };
        json::add_hooks(&mut file.root, &spec, &name)?;
        if json::get_path(&file.root, &["disableAllHooks"]) == Some(&Json::Bool(true)) {
            plan.warnings.push(format!(
                "{name}: `disableAllHooks` is true, so Claude Code runs no hooks; observatory \
                 gets telemetry only until you turn it off"
            ));
        }
        what = format!(
            "OpenTelemetry to {} in `env`, `{} hook {AGENT}` on {} hook events",
            ctx.endpoint,
            ctx.observatory.display(),
            HOOK_EVENTS.len()
        );
        plan.next.push(restart_note("Claude Code"));
    }
    let after = file.render()?;
    plan.file(file.path.clone(), file.original.clone(), after, what);
    let journal_text = journal.render("settings.json")?;
    plan.bookkeeping(journal.path.clone(), journal.original.clone(), journal_text);
    Ok(plan)
}
