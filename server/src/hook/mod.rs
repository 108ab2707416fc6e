//! `observatory hook <agent>`: the command agents run as their hook (to be written).

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct HookArgs {
    /// The agent whose hook this is (claude_code, codex, gemini_cli, copilot_cli, opencode, pi).
    pub agent: String,
}

/// Always succeeds: a hook must never fail or block its agent.
pub fn run(_args: &HookArgs) {}

/// The start time (clock ticks after boot) of a running process; `None` when there is none.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold anything.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    // field 3 is the state: a zombie has exited
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}
