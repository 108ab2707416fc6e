//! Gemini CLI: `<GEMINI_CLI_HOME or ~>/.gemini/settings.json` gets `telemetry` pointed at
//! observatory over OTLP/HTTP (Gemini's `http` protocol is OTLP/JSON; it appends `/v1/<signal>`
//! itself) and a command hook on each event we use. The user's other telemetry keys
//! (`logPrompts`, `traces`, ...) stay as they are.
//!
//! Not hooked: BeforeModel/AfterModel (AfterModel fires once per streamed chunk) and
//! PreCompress (fires before every model call); they would only spawn processes.

use anyhow::Result;

use super::journal::{self, JournalFile, Setting};
use super::json::{self, HookSpec, Json, JsonDoc, JsonFile, Object};
use super::{Context, Plan, restart_note};

const AGENT: &str = "gemini_cli";
/// Gemini's hook timeouts are in milliseconds.
const HOOK_TIMEOUT_MS: i64 = 5000;

pub const HOOK_EVENTS: &[(&str, Option<&str>)] = &[
    ("SessionStart", None),
    ("SessionEnd", None),
    ("BeforeAgent", None),
    ("AfterAgent", None),
    ("BeforeTool", Some("*")),
    ("AfterTool", Some("*")),
    ("Notification", None),
];

/// Environment variables that override the settings we write.
const OVERRIDING_VARS: &[&str] = &[
    "GEMINI_TELEMETRY_ENABLED",
    "GEMINI_TELEMETRY_TARGET",
    "GEMINI_TELEMETRY_OTLP_ENDPOINT",
    "GEMINI_TELEMETRY_OTLP_PROTOCOL",
    "GEMINI_TELEMETRY_OUTFILE",
];

fn settings(ctx: &Context) -> Vec<Setting<'static>> {
    let t = |key: &'static str, value: Json| Setting {
        path: vec!["telemetry", key],
        value: value.to_compact(),
        accepts: None,
    };
    vec![
        t("enabled", Json::Bool(true)),
        t("target", Json::str("local")),
        t("otlpEndpoint", Json::str(&ctx.endpoint)),
        t("otlpProtocol", Json::str("http")),
    ]
}

pub fn plan(ctx: &Context, undo: bool) -> Result<Plan> {
    // GEMINI_CLI_HOME replaces the home directory; `.gemini` sits inside it.
    let home = ctx
        .dir_var("GEMINI_CLI_HOME")
        .unwrap_or_else(|| ctx.home.clone());
    let mut file = JsonFile::open(home.join(".gemini").join("settings.json"))?;
    let mut journal = JournalFile::open(&file.path)?;
    let mut plan = Plan::new("Gemini CLI");
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
        what = "took out observatory's telemetry settings and hooks".to_owned();
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
                ("timeout", Json::int(HOOK_TIMEOUT_MS)),
            ]),
            is_ours: &is_ours,
        };
        json::add_hooks(&mut file.root, &spec, &name)?;
        if json::get_path(&file.root, &["telemetry", "outfile"]).is_some() {
            plan.warnings.push(format!(
                "{name}: `telemetry.outfile` is set and wins over the endpoint: remove it for \
                 Gemini CLI to send telemetry to observatory"
            ));
        }
        if json::get_path(&file.root, &["hooksConfig", "enabled"]) == Some(&Json::Bool(false)) {
            plan.warnings.push(format!(
                "{name}: `hooksConfig.enabled` is false, so Gemini CLI runs no hooks"
            ));
        }
        for var in OVERRIDING_VARS {
            if ctx.var(var).is_some() {
                plan.warnings.push(format!(
                    "{var} is set in this environment and overrides settings.json"
                ));
            }
        }
        what = format!(
            "telemetry to {} (OTLP/HTTP), `{} hook {AGENT}` on {} hook events",
            ctx.endpoint,
            ctx.observatory.display(),
            HOOK_EVENTS.len()
        );
        plan.next.push(restart_note("Gemini CLI"));
    }
    let after = file.render()?;
    plan.file(file.path.clone(), file.original.clone(), after, what);
    let journal_text = journal.render("settings.json")?;
    plan.bookkeeping(journal.path.clone(), journal.original.clone(), journal_text);
    Ok(plan)
}
