//! OpenCode: our own plugin `<XDG_CONFIG_HOME or ~/.config>/opencode/plugins/observatory.js`
//! (OpenCode loads every `plugins/*.js`), which forwards OpenCode's events to
//! `<endpoint>/v1/hooks/opencode`. OpenCode has no command hooks; a plugin is its hook.
//!
//! OpenTelemetry: OpenCode exports OTLP (JSON) only when `OTEL_EXPORTER_OTLP_ENDPOINT` is in its
//! environment, and `experimental.openTelemetry` in opencode.json adds the AI SDK spans (model
//! calls with tokens). Setup sets the switch in opencode.json and writes
//! `<config>/opencode/observatory.env` for the user's shell profile. The plugin alone already
//! carries prompts, tools, tokens and cost (`message.updated`), so the variable is optional.

use anyhow::Result;

use super::journal::Setting;
use super::json::Json;
use super::{Context, JsonEdit, Plan, Target, restart_note, shell_quote, source_line};

const PLUGIN_SOURCE: &str = include_str!("../../../config/agents/opencode-plugin.js");
/// The placeholder in the plugin source, with its quotes: replaced by the endpoint as a JS string.
pub const ENDPOINT_PLACEHOLDER: &str = "\"__OBSERVATORY_ENDPOINT__\"";

pub fn plugin_source(endpoint: &str) -> Result<String> {
    let literal = serde_json::to_string(endpoint)?;
    Ok(PLUGIN_SOURCE.replacen(ENDPOINT_PLACEHOLDER, &literal, 1))
}

fn env_file(endpoint: &str, path: &std::path::Path) -> String {
    format!(
        "# Written by `observatory setup opencode`: sends OpenCode's OpenTelemetry to observatory.\n\
         # OpenCode reads it only from its environment, so source this file from your shell\n\
         # profile (~/.bashrc, ~/.zshrc):  {source}\n\
         # Optional: the observatory plugin already reports sessions. OTEL_EXPORTER_OTLP_ENDPOINT\n\
         # is the standard variable: other OpenTelemetry programs started from that shell report\n\
         # to observatory too.\n\
         export OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}\n",
        source = source_line(path),
        endpoint = shell_quote(endpoint),
    )
}

pub fn plan(ctx: &Context, target: &Target, undo: bool) -> Result<Plan> {
    let dir = ctx.xdg_config_home().join("opencode");
    let plugin_path = dir.join("plugins").join("observatory.js");
    let env_path = dir.join("observatory.env");
    let mut plan = Plan::new(target.display_name);

    let plugin = plugin_source(&ctx.endpoint)?;
    let plugin_what = if undo {
        "observatory's plugin".to_owned()
    } else {
        format!("plugin forwarding OpenCode's events to {}", ctx.endpoint)
    };
    plan.own_file(plugin_path, &plugin, plugin_what, undo)?;

    // opencode.jsonc would need its comments kept, which this JSON editor cannot: leave the
    // switch to the user there.
    let jsonc = dir.join("opencode.jsonc");
    let json_path = dir.join("opencode.json");
    if jsonc.exists() && !json_path.exists() {
        if !undo {
            plan.warnings.push(format!(
                "{} has comments setup cannot keep: add `\"experimental\": {{\"openTelemetry\": \
                 true}}` there yourself for OpenCode's model-call spans",
                jsonc.display()
            ));
        }
    } else {
        let edit = JsonEdit {
            path: json_path,
            settings: vec![Setting {
                path: vec!["experimental", "openTelemetry"],
                value: Json::Bool(true).to_compact(),
                accepts: None,
            }],
            hooks: None,
            what: if undo {
                "took out `experimental.openTelemetry`"
            } else {
                "`experimental.openTelemetry` (model-call spans in OpenCode's OpenTelemetry)"
            }
            .to_owned(),
        };
        plan.json_file(ctx, edit, undo, |_, _, _| {})?;
    }

    let env = env_file(&ctx.endpoint, &env_path);
    let env_what = if undo {
        "the OpenTelemetry variable for your shell profile".to_owned()
    } else {
        format!(
            "OTEL_EXPORTER_OTLP_ENDPOINT={} for your shell profile",
            ctx.endpoint
        )
    };
    let source = plan.profile_env_file(env_path, &env, env_what, undo)?;
    if !undo {
        plan.next.push(format!(
            "Optional, for OpenCode's own OpenTelemetry: add `{source}` to your shell profile \
             (~/.bashrc, ~/.zshrc). The plugin reports sessions without it."
        ));
        plan.next.push(restart_note("OpenCode"));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_substituted_once_as_a_string() {
        assert_eq!(PLUGIN_SOURCE.matches(ENDPOINT_PLACEHOLDER).count(), 1);
        let src = plugin_source("http://127.0.0.1:9999").expect("source");
        assert!(src.contains("const ENDPOINT = \"http://127.0.0.1:9999\";"));
        assert!(!src.contains("__OBSERVATORY_ENDPOINT__"));
        // One export only: OpenCode calls every export as a plugin.
        assert_eq!(src.lines().filter(|l| l.starts_with("export ")).count(), 1);
    }
}
