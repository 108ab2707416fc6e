//! The command line: `observatory [serve]`, `print-config`, `hook <agent>`, `setup <agent>`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
            let err = Cli::try_parse_from(argv).expect_err("does not parse");
            crate::hook::swallows_parse_error(&err, argv.iter().map(std::ffi::OsString::from))
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
}
