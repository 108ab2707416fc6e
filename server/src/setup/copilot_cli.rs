//! GitHub Copilot CLI: our own hooks file `<COPILOT_HOME or ~/.copilot>/hooks/observatory.json`
//! (Copilot merges every `hooks/*.json`, so the user's files are never touched), and
//! `<COPILOT_HOME>/observatory.env` with the variables that turn on its OpenTelemetry, which
//! Copilot reads only from its environment: the user sources that file from their shell profile.
//!
//! The hooks use the camelCase event names, whose payloads do not name their event, hence
//! `--event`.

use anyhow::Result;

use super::json::{self, Json, Object};
use super::{Context, Plan, Target, hooks_what, restart_note, shell_quote, source_line};

const HOOK_TIMEOUT_S: i64 = 5;

fn hooks_file(ctx: &Context, target: &Target) -> Result<String> {
    let mut hooks = Object::new();
    for (event, _) in target.hook_events {
        let command = format!("{} --event {event}", ctx.hook_command(target.agent));
        hooks.insert(
            event,
            Json::Array(vec![Json::Object(Object::from_pairs([
                ("type", Json::str("command")),
                ("bash", Json::str(&command)),
                (
                    "timeoutSec",
                    Json::int(if target.answer_events.contains(event) {
                        super::ANSWER_HOOK_TIMEOUT_S
                    } else {
                        HOOK_TIMEOUT_S
                    }),
                ),
            ]))]),
        );
    }
    let root = Object::from_pairs([("version", Json::int(1)), ("hooks", Json::Object(hooks))]);
    json::pretty(&root, b"  ")
}

fn env_file(ctx: &Context) -> String {
    format!(
        "# Written by `observatory setup copilot-cli`: turns on GitHub Copilot CLI's OpenTelemetry\n\
         # and sends it to observatory. Copilot reads these only from its environment, so source\n\
         # this file from your shell profile (~/.bashrc, ~/.zshrc):  {source}\n\
         # OTEL_EXPORTER_OTLP_ENDPOINT is the standard variable: other OpenTelemetry programs\n\
         # started from that shell report to observatory too.\n\
         export COPILOT_OTEL_ENABLED=true\n\
         export OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}\n",
        source = source_line(&env_path(ctx)),
        endpoint = shell_quote(&ctx.endpoint),
    )
}

fn dir(ctx: &Context) -> std::path::PathBuf {
    ctx.dir_var("COPILOT_HOME")
        .unwrap_or_else(|| ctx.home.join(".copilot"))
}

fn env_path(ctx: &Context) -> std::path::PathBuf {
    dir(ctx).join("observatory.env")
}

pub fn plan(ctx: &Context, target: &Target, undo: bool) -> Result<Plan> {
    let hooks_path = dir(ctx).join("hooks").join("observatory.json");
    let env_path = env_path(ctx);
    let mut plan = Plan::new(target.display_name);
    let (hooks, env) = (hooks_file(ctx, target)?, env_file(ctx));
    let hooks_what = if undo {
        "observatory's hooks".to_owned()
    } else {
        hooks_what(ctx, target.agent, target.hook_events.len())
    };
    plan.own_file(hooks_path, &hooks, hooks_what, undo)?;
    let env_what = if undo {
        "the OpenTelemetry variables for your shell profile".to_owned()
    } else {
        format!("OpenTelemetry variables to {}", ctx.endpoint)
    };
    let source = plan.profile_env_file(env_path, &env, env_what, undo)?;
    if !undo {
        plan.next.push(format!(
            "Copilot CLI takes OpenTelemetry settings only from its environment: add \
             `{source}` to your shell profile (~/.bashrc, ~/.zshrc) and open a new shell. The \
             hooks work without it."
        ));
        plan.next.push(restart_note("Copilot CLI"));
    }
    Ok(plan)
}
