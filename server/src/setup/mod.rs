//! `observatory setup <agent>`: points an agent's telemetry and hooks at observatory (to be
//! written).

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    /// The agent to set up.
    pub agent: String,
}

pub fn run(_args: &SetupArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet written")
}
