//! The command line: `observatory [serve]`, `print-config`, `hook <agent>`, `setup <agent>`,
//! `token`, `pair`, `tunnel`, `ctl`, `run`, `status`, `export`, `service`.
//! The agents `setup` takes come from the agent registry.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{LogFormat, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "observatory",
    version,
    about = "Watches your AI coding agents and tells you when one needs you"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// Parses `args` (the program name first) against [`command`].
    pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
        Cli::from_arg_matches(&command().try_get_matches_from(args)?)
    }
}

/// The command line, with the agent names `setup` accepts (and `--help` shows) taken from the
/// agent registry: the name it shows first, the id and the other names as aliases.
pub fn command() -> clap::Command {
    let agents = crate::agents::AGENTS
        .iter()
        .filter(|s| s.setup.is_some())
        .map(|s| {
            let shown = s.names.first().copied().unwrap_or(s.agent.as_str());
            let aliases = std::iter::once(s.agent.as_str()).chain(s.names.iter().copied());
            PossibleValue::new(shown).aliases(aliases.filter(move |a| *a != shown))
        });
    let agents = PossibleValuesParser::new(agents.collect::<Vec<_>>());
    Cli::command().mut_subcommand("setup", |c| c.mut_arg("agent", |a| a.value_parser(agents)))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve(ServeArgs),
    /// Print the commented example configuration (every default, documented).
    PrintConfig,
    /// Forward one hook event to the server (what agents run as their hook; always exits 0
    /// silently, within a hard time budget).
    Hook(crate::hook::HookArgs),
    /// Make an agent send its telemetry and hooks here, through its own config files.
    Setup(crate::setup::SetupArgs),
    /// Print the control token for scripts (`Authorization: Bearer …`), or replace it.
    Token(crate::client::TokenArgs),
    /// Print a one-time link and QR code that pairs a browser with the running server.
    Pair(crate::client::TargetArgs),
    /// Interrupt, kill or restart the agent of a session (with the control token)
    Ctl(crate::client::CtlArgs),
    /// The sessions as a table: agent, project, state and for how long, tool, turns, cost
    Status(crate::client::status::StatusArgs),
    /// Sessions, turns or events as JSON Lines or CSV, by time range and agent
    Export(crate::client::export::ExportArgs),
    /// Delete what retention says now and give the file's free pages back (it shrinks)
    Compact(crate::client::TargetArgs),
    /// Start the observatory at login: a systemd user unit (Linux) or a launchd agent (macOS)
    Service(crate::client::service::ServiceArgs),
    /// Run an agent in this terminal under the observatory's control (kill, restart in place)
    Run(crate::client::run::RunArgs),
    /// (Internal) leads the pseudo-terminal `observatory run` gives an agent.
    #[command(name = "lead-terminal", hide = true)]
    LeadTerminal {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true, num_args = 1..)]
        argv: Vec<String>,
    },
    /// Reach the dashboard from a phone: the app port behind cloudflared or Tailscale Serve,
    /// with a QR code that pairs the phone.
    Tunnel(crate::client::tunnel::TunnelArgs),
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Config file [default: $XDG_CONFIG_HOME/agent-observatory/config.toml, if it exists]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the database and secrets live [default: $XDG_DATA_HOME/agent-observatory]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// OTLP/gRPC listen address [default: 127.0.0.1:4317]
    #[arg(long, value_name = "HOST:PORT")]
    pub grpc_addr: Option<SocketAddr>,
    /// OTLP/HTTP listen address [default: 127.0.0.1:4318]
    #[arg(long, value_name = "HOST:PORT")]
    pub http_addr: Option<SocketAddr>,
    /// App (dashboard and API) listen address [default: 127.0.0.1:4319]
    #[arg(long, value_name = "HOST:PORT")]
    pub app_addr: Option<SocketAddr>,
    /// Log level or tracing filter [default: info]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format [default: text]
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
}

impl ServeArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            grpc_addr: self.grpc_addr,
            http_addr: self.http_addr,
            app_addr: self.app_addr,
            log_level: self.log_level.clone(),
            log_format: self.log_format,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_of_hook_invocations_are_swallowed() {
        let check = |argv: &[&str]| {
            let err = Cli::parse_args(argv.iter().map(OsString::from)).expect_err("does not parse");
            crate::hook::swallows_parse_error(&err, argv.iter().map(OsString::from))
        };
        assert!(check(&[
            "observatory",
            "hook",
            "claude_code",
            "--unknown-flag"
        ]));
        assert!(check(&["observatory", "hook", "codex", "{}", "extra"]));
        assert!(check(&[
            "observatory",
            "hook",
            "codex",
            "--timeout-ms",
            "soon"
        ]));
        assert!(check(&["observatory", "hook"]));
        // Help is not an error, and other commands report their errors as usual.
        assert!(!check(&["observatory", "hook", "--help"]));
        assert!(!check(&["observatory", "--no-such-flag"]));
        assert!(!check(&["observatory", "serve", "--http-addr", "nope"]));
    }

    #[test]
    fn setup_takes_the_registrys_agent_names() {
        // Any of an agent's names is taken (and resolved through the registry by `setup`).
        let agent = |name: &str| match Cli::parse_args(
            ["observatory", "setup", name].map(OsString::from),
        ) {
            Ok(Cli {
                command: Some(Command::Setup(a)),
                ..
            }) => Ok(crate::agents::by_name(&a.agent).map(|s| s.agent.as_str())),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(agent("claude-code"), Ok(Some("claude_code")));
        assert_eq!(agent("claude_code"), Ok(Some("claude_code")));
        assert_eq!(agent("gemini"), Ok(Some("gemini_cli")));
        assert_eq!(agent("pi"), Ok(Some("pi")));
        let err = agent("generic").expect_err("generic has no setup");
        for shown in crate::agents::setup_names() {
            assert!(err.contains(shown), "{err}");
        }
    }
}
