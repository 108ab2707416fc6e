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

use super::journal::{self, JournalFile, Setting};
use super::json::{Json, JsonDoc, JsonFile};
use super::{Context, Plan, files, restart_note, shell_quote, source_line};

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

pub fn plan(ctx: &Context, undo: bool) -> Result<Plan> {
    let dir = ctx.xdg_config_home().join("opencode");
    let plugin_path = dir.join("plugins").join("observatory.js");
    let env_path = dir.join("observatory.env");
    let mut plan = Plan::new("OpenCode");

    let plugin = plugin_source(&ctx.endpoint)?;
    let plugin_after = (!undo).then(|| plugin.clone());
    let plugin_what = if undo {
        "observatory's plugin".to_owned()
    } else {
        format!("plugin forwarding OpenCode's events to {}", ctx.endpoint)
    };
    plan.own_file(
        plugin_path.clone(),
        files::read(&plugin_path)?,
        plugin_after,
        plugin_what,
        &plugin,
    );

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
        let mut file = JsonFile::open(json_path)?;
        let mut journal = JournalFile::open(&file.path)?;
        let name = file.name();
        let settings = vec![Setting {
            path: vec!["experimental", "openTelemetry"],
            value: Json::Bool(true).to_compact(),
            accepts: None,
        }];
        let mut doc = JsonDoc {
            root: &mut file.root,
            name: name.clone(),
        };
        let what = if undo {
            let recorded = journal.original.is_some().then_some(&journal.journal);
            journal::undo_all(&mut doc, &settings, recorded, &name, &mut plan.warnings)?;
            journal.journal = journal::Journal::default();
            file.prefer_backup_text();
            "took out `experimental.openTelemetry`"
        } else {
            journal::set_all(
                &mut doc,
                &settings,
                &mut journal.journal,
                &name,
                &mut plan.warnings,
            )?;
            "`experimental.openTelemetry` (model-call spans in OpenCode's OpenTelemetry)"
        };
        let after = file.render()?;
        plan.file(file.path.clone(), file.original.clone(), after, what);
        let journal_text = journal.render("opencode.json")?;
        plan.bookkeeping(journal.path.clone(), journal.original.clone(), journal_text);
    }

    let env_before = files::read(&env_path)?;
    let had_env = env_before.is_some();
    let env = env_file(&ctx.endpoint, &env_path);
    let env_after = (!undo).then(|| env.clone());
    let env_what = if undo {
        "the OpenTelemetry variable for your shell profile".to_owned()
    } else {
        format!(
            "OTEL_EXPORTER_OTLP_ENDPOINT={} for your shell profile",
            ctx.endpoint
        )
    };
    plan.own_file(env_path.clone(), env_before, env_after, env_what, &env);
    let source = source_line(&env_path);
    if undo {
        if had_env {
            plan.warnings.push(format!(
                "remove the line `{source}` from your shell profile if you added it"
            ));
        }
    } else {
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
