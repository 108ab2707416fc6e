//! Claude Code: `<CLAUDE_CONFIG_DIR or ~/.claude>/settings.json` gets the OpenTelemetry
//! variables in `env` (Claude applies them to itself) and a command hook on every event the
//! session tracker uses.
//!
//! Hooks are synchronous (no `"async": true`): `observatory hook` answers within its budget and
//! prints nothing, so it never changes Claude's decision, and running in order keeps
//! PreToolUse before PostToolUse and lets SessionEnd finish before Claude exits.

use anyhow::Result;

use super::journal::Setting;
use super::json::{self, Json};
use super::{CommandHooks, Context, JsonEdit, Plan, Target, hooks_what, restart_note};

/// Seconds Claude waits for our hook; it answers far sooner, this only bounds a stuck machine.
const HOOK_TIMEOUT_S: i64 = 5;

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

pub fn plan(ctx: &Context, target: &Target, undo: bool) -> Result<Plan> {
    let dir = ctx
        .dir_var("CLAUDE_CONFIG_DIR")
        .unwrap_or_else(|| ctx.home.join(".claude"));
    let mut plan = Plan::new(target.display_name);
    let what = if undo {
        "took out observatory's env settings and hooks".to_owned()
    } else {
        format!(
            "OpenTelemetry to {} in `env`, {}",
            ctx.endpoint,
            hooks_what(ctx, target.agent, target.hook_events.len())
        )
    };
    let edit = JsonEdit {
        path: dir.join("settings.json"),
        settings: settings(ctx),
        hooks: Some(CommandHooks {
            agent: target.agent,
            events: target.hook_events,
            timeout: HOOK_TIMEOUT_S,
            timeouts: target
                .answer_events
                .iter()
                .map(|e| (*e, super::ANSWER_HOOK_TIMEOUT_S))
                .collect(),
        }),
        what,
    };
    plan.json_file(ctx, edit, undo, |root, name, warnings| {
        if json::get_path(root, &["disableAllHooks"]) == Some(&Json::Bool(true)) {
            warnings.push(format!(
                "{name}: `disableAllHooks` is true, so Claude Code runs no hooks; observatory \
                 gets telemetry only until you turn it off"
            ));
        }
    })?;
    if !undo {
        plan.next.push(restart_note("Claude Code"));
    }
    Ok(plan)
}
