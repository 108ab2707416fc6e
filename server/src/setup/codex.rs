//! Codex: `<CODEX_HOME or ~/.codex>/config.toml` gets the three `[otel]` exporters (Codex reads
//! its OTLP endpoints only from there, each the full URL of its signal) and `notify`;
//! `<CODEX_HOME>/hooks.json` gets a command hook on each event (Claude-compatible format).
//!
//! `notify` holds one program. When the user already has one of their own, setup leaves it and
//! says so rather than replacing it: the Stop hook tells observatory the same thing (a turn
//! finished), so nothing is lost but a fallback for when hooks are not trusted yet.

use anyhow::Result;
use toml_edit::{Array, Item, Value};

use super::journal::{JournalFile, Setting};
use super::toml_doc::{TomlDoc, TomlFile};
use super::{CommandHooks, Context, JsonEdit, Plan, Target, hooks_what, restart_note};

const HOOK_TIMEOUT_S: i64 = 5;
/// Codex 0.169.0 clamps these events' hook timeouts to 3 s and prints a warning item into every
/// `codex exec --json` run when a longer one is set ("clamping SessionEnd hook timeout to 3s"; Interrupt too).
const CLAMPED: &[&str] = &["SessionEnd", "Interrupt"];
const CLAMPED_TIMEOUT_S: i64 = 3;

fn exporter(endpoint: &str, signal: &str) -> String {
    format!(r#"{{ otlp-http = {{ endpoint = "{endpoint}/v1/{signal}", protocol = "binary" }} }}"#)
}

fn settings(ctx: &Context) -> Vec<Setting<'static>> {
    [
        ("exporter", "logs"),
        ("trace_exporter", "traces"),
        ("metrics_exporter", "metrics"),
    ]
    .into_iter()
    .map(|(key, signal)| Setting {
        path: vec!["otel", key],
        value: exporter(&toml_string_safe(&ctx.endpoint), signal),
        accepts: None,
    })
    .collect()
}

/// The endpoint inside a TOML basic string (it was checked to be a URL; quotes and backslashes
/// are escaped all the same).
fn toml_string_safe(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn notify_argv(ctx: &Context, target: &Target) -> Vec<String> {
    ctx.hook_argv(target.agent)
}

fn as_argv(item: &Item) -> Option<Vec<String>> {
    let array = item.as_array()?;
    array
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Sets `notify` to ours unless the user has their own program there.
fn set_notify(
    ctx: &Context,
    target: &Target,
    config: &mut TomlFile,
    warnings: &mut Vec<String>,
    name: &str,
) {
    let ours = notify_argv(ctx, target);
    match config.doc.get("notify").map(as_argv) {
        Some(Some(argv)) if !ctx.is_our_argv(&argv, target.agent) => warnings.push(format!(
            "{name}: `notify` already runs {argv:?}; left as it is (Codex runs only one notify \
             program). The Stop hook gives observatory the same signal once the hooks are \
             trusted."
        )),
        Some(None) => warnings.push(format!(
            "{name}: `notify` is not a list of strings; left as it is"
        )),
        Some(Some(argv)) if argv == ours => {}
        _ => {
            let array: Array = ours.iter().map(String::as_str).collect();
            match config.doc.get_mut("notify") {
                // An older entry of ours: replaced in place, keeping its comments.
                Some(Item::Value(old)) => {
                    let decor = old.decor().clone();
                    *old = Value::Array(array);
                    *old.decor_mut() = decor;
                }
                _ => {
                    config
                        .doc
                        .insert("notify", Item::Value(Value::Array(array)));
                }
            }
        }
    }
}

/// What in config.toml keeps our hooks from running as installed: `[features]` that turn them
/// off, or inline `[hooks]` Codex merges with hooks.json.
fn warn_of_hooks_off_or_inline(config: &TomlFile, config_name: &str, warnings: &mut Vec<String>) {
    for key in ["hooks", "codex_hooks"] {
        let off = config
            .doc
            .get("features")
            .and_then(|f| f.get(key))
            .and_then(Item::as_bool)
            == Some(false);
        if off {
            warnings.push(format!(
                "{config_name}: `[features] {key} = false` turns Codex hooks off; \
                 observatory gets telemetry and notify only until you remove it"
            ));
        }
    }
    if config.doc.get("hooks").is_some() {
        warnings.push(format!(
            "{config_name} also has inline [hooks]: Codex merges them with hooks.json and \
             warns at start-up"
        ));
    }
}

pub fn plan(ctx: &Context, target: &Target, undo: bool) -> Result<Plan> {
    let dir = ctx
        .dir_var("CODEX_HOME")
        .unwrap_or_else(|| ctx.home.join(".codex"));
    let mut config = TomlFile::open(dir.join("config.toml"))?;
    let mut journal = JournalFile::open(&config.path)?;
    let mut plan = Plan::new(target.display_name);
    let config_name = config.path.display().to_string();
    let settings = settings(ctx);

    if undo {
        let notify = config.doc.get("notify").and_then(as_argv);
        if notify.is_some_and(|argv| ctx.is_our_argv(&argv, target.agent)) {
            config.doc.remove("notify");
        }
    }
    let mut doc = TomlDoc {
        doc: &mut config.doc,
        name: config_name.clone(),
    };
    journal.apply(&mut doc, &settings, &config_name, undo, &mut plan.warnings)?;
    if !undo {
        set_notify(ctx, target, &mut config, &mut plan.warnings, &config_name);
        warn_of_hooks_off_or_inline(&config, &config_name, &mut plan.warnings);
    }
    let (config_what, hooks_summary) = if undo {
        (
            "took out observatory's [otel] exporters and notify".to_owned(),
            "took out observatory's hooks".to_owned(),
        )
    } else {
        (
            format!(
                "[otel] logs, traces and metrics to {} (OTLP/HTTP protobuf), notify",
                ctx.endpoint
            ),
            hooks_what(ctx, target.agent, target.hook_events.len()),
        )
    };
    let config_after = config.render();
    plan.file(
        config.path.clone(),
        config.original.clone(),
        config_after,
        config_what,
    );
    // hooks.json holds nothing but hooks: no settings, so no journal of its own.
    let hooks = JsonEdit {
        path: dir.join("hooks.json"),
        settings: Vec::new(),
        hooks: Some(CommandHooks {
            agent: target.agent,
            events: target.hook_events,
            timeout: HOOK_TIMEOUT_S,
            timeouts: target
                .answer_events
                .iter()
                .map(|e| (*e, super::ANSWER_HOOK_TIMEOUT_S))
                .chain(CLAMPED.iter().map(|e| (*e, CLAMPED_TIMEOUT_S)))
                .collect(),
        }),
        what: hooks_summary,
    };
    plan.json_file(ctx, hooks, undo, |_, _, _| {})?;
    plan.journal(&journal)?;
    if !undo {
        plan.next.push(
            "Trust the new hooks: Codex skips hooks it has not reviewed. Start Codex, open \
             /hooks and trust the observatory hooks (or, for one run, `codex exec \
             --dangerously-bypass-hook-trust`)."
                .to_owned(),
        );
        plan.next.push(restart_note("Codex"));
    }
    Ok(plan)
}
