//! The `[answers]` section of the config: how long a waiting hook holds a permission prompt
//! open for an answer from the phone.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How long `observatory hook` waits for an answer to a permission prompt whose terminal
    /// dialog is on screen meanwhile (Claude Code: first answer wins). The agent's hook timeout
    /// that `observatory setup` writes is above it.
    pub wait_secs: u64,
    /// The same for agents that show their own prompt only once the hook returns (Codex,
    /// Copilot CLI): the terminal prompt is held back this long. 0 never holds it (answers from
    /// the phone then cannot reach those agents).
    pub hold_terminal_prompt_secs: u64,
    /// Agents whose answers are off unless listed here (`copilot_cli`: it asks its hook before
    /// every tool call, so each call would wait for the phone).
    pub opt_in: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            wait_secs: 600,
            hold_terminal_prompt_secs: 120,
            opt_in: Vec::new(),
        }
    }
}
