//! `observatory hook <agent>`: the command agents run as their hook (to be written).

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct HookArgs {
    /// The agent whose hook this is (claude_code, codex, gemini_cli, copilot_cli, opencode, pi).
    pub agent: String,
}

/// Always succeeds: a hook must never fail or block its agent.
pub fn run(_args: &HookArgs) {}
