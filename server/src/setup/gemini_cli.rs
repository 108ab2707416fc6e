//! Gemini CLI: `<GEMINI_CLI_HOME or ~>/.gemini/settings.json` gets `telemetry` pointed at
//! observatory over OTLP/HTTP (Gemini's `http` protocol is OTLP/JSON; it appends `/v1/<signal>`
//! itself) and a command hook on each event we use. The user's other telemetry keys
//! (`logPrompts`, `traces`, ...) stay as they are.
//!
//! Not hooked: BeforeModel/AfterModel (AfterModel fires once per streamed chunk) and
//! PreCompress (fires before every model call); they would only spawn processes.

use anyhow::Result;

use super::journal::Setting;
use super::json::{self, Json};
use super::{CommandHooks, Context, JsonEdit, Plan, Target, hooks_what, restart_note};

/// Gemini's hook timeouts are in milliseconds.
const HOOK_TIMEOUT_MS: i64 = 5000;

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

pub fn plan(ctx: &Context, target: &Target, undo: bool) -> Result<Plan> {
    // GEMINI_CLI_HOME replaces the home directory; `.gemini` sits inside it.
    let home = ctx
        .dir_var("GEMINI_CLI_HOME")
        .unwrap_or_else(|| ctx.home.clone());
    let mut plan = Plan::new(target.display_name);
    let what = if undo {
        "took out observatory's telemetry settings and hooks".to_owned()
    } else {
        format!(
            "telemetry to {} (OTLP/HTTP), {}",
            ctx.endpoint,
            hooks_what(ctx, target.agent, target.hook_events.len())
        )
    };
    let edit = JsonEdit {
        path: home.join(".gemini").join("settings.json"),
        settings: settings(ctx),
        hooks: Some(CommandHooks {
            agent: target.agent,
            events: target.hook_events,
            timeout: HOOK_TIMEOUT_MS,
            // Gemini CLI's hooks cannot grant a permission: none waits for an answer.
            timeouts: Vec::new(),
        }),
        what,
    };
    plan.json_file(ctx, edit, undo, |root, name, warnings| {
        if json::get_path(root, &["telemetry", "outfile"]).is_some() {
            warnings.push(format!(
                "{name}: `telemetry.outfile` is set and wins over the endpoint: remove it for \
                 Gemini CLI to send telemetry to observatory"
            ));
        }
        if json::get_path(root, &["hooksConfig", "enabled"]) == Some(&Json::Bool(false)) {
            warnings.push(format!(
                "{name}: `hooksConfig.enabled` is false, so Gemini CLI runs no hooks"
            ));
        }
    })?;
    if !undo {
        for var in OVERRIDING_VARS {
            if ctx.var(var).is_some() {
                plan.warnings.push(format!(
                    "{var} is set in this environment and overrides settings.json"
                ));
            }
        }
        plan.next.push(restart_note("Gemini CLI"));
    }
    Ok(plan)
}
