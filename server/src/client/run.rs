//! `observatory run [--name N] -- <agent command…>`: starts an agent in this terminal exactly as
//! without us — same TTY, same process group (the terminal's Ctrl-C and Ctrl-Z reach it as
//! always; we ignore SIGINT and SIGQUIT ourselves and pass SIGTERM and SIGHUP on), its exit
//! code returned as ours. Where `observatory setup` was not run, it gives the agent its
//! telemetry settings through the environment (only variables not already set) and, for
//! Claude Code, its hooks through `--settings`. It registers the launch with the server and asks
//! it, in a long poll, what to do: a kill stops the agent and its children; a restart stops it
//! and starts the agent's interactive resume command in the same terminal. If the server goes
//! away the agent runs on untouched, and the launch registers again when the server is back.

use std::process::ExitStatus;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};

use super::{Target, TargetArgs};
use crate::agents::{self, Spec};
use crate::control::launches::{Command as Order, Info, Report};
use crate::control::process;
use crate::normalize::{Agent, Process};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// A name for this launch (the dashboard shows it)
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The agent's command line, after `--`
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true, num_args = 1..)]
    pub command: Vec<String>,
}

/// The registry entry whose program `argv0` runs (by its resume command's program, or a name).
fn agent_of(argv0: &str) -> &'static Spec {
    let program = std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(argv0);
    agents::AGENTS
        .iter()
        .find(|s| {
            s.control.resume.and_then(|r| r.first()) == Some(&program) || s.names.contains(&program)
        })
        .unwrap_or_else(|| agents::spec(Agent::Generic))
}

/// The environment that sends the agent's telemetry here, for the variables not already set.
fn telemetry_env(spec: &Spec, ingest: &str) -> Vec<(String, String)> {
    let mut vars = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", ingest.to_owned())];
    if spec.agent == Agent::ClaudeCode {
        for (k, v) in [
            ("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_LOGS_EXPORT_INTERVAL", "1000"),
        ] {
            vars.push((k, v.to_owned()));
        }
    }
    vars.into_iter()
        .filter(|(k, _)| std::env::var_os(k).is_none())
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// Claude Code's hooks as a `--settings` value, unless its settings already run ours.
fn claude_settings(ingest: &str) -> Option<String> {
    let dir = std::env::var_os("CLAUDE_CONFIG_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".claude")))?;
    let existing = std::fs::read_to_string(dir.join("settings.json")).unwrap_or_default();
    if existing.contains("hook claude_code") {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let command = format!(
        "{} hook claude_code --endpoint {ingest}",
        crate::setup::shell_quote(&exe.to_string_lossy())
    );
    let hooks = agents::spec(Agent::ClaudeCode).hooks.as_ref()?;
    let mut map = serde_json::Map::new();
    for (event, matcher) in hooks.installs {
        let handler = json!({"type": "command", "command": command, "timeout": 5});
        let mut group = json!({"hooks": [handler]});
        if let Some(m) = matcher {
            group["matcher"] = json!(m);
        }
        map.insert((*event).to_owned(), json!([group]));
    }
    Some(json!({ "hooks": map }).to_string())
}

/// What is started for `argv`: the program with our additions, and its environment.
fn prepare(spec: &Spec, argv: &[String], ingest: &str, launch: &str) -> Command {
    let mut cmd = Command::new(&argv[0]);
    if spec.agent == Agent::ClaudeCode
        && let Some(settings) = claude_settings(ingest)
    {
        cmd.args(["--settings", &settings]);
    }
    cmd.args(&argv[1..])
        .envs(telemetry_env(spec, ingest))
        .env("OBSERVATORY_LAUNCH_ID", launch);
    cmd
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

pub fn run(args: &RunArgs) -> Result<i32> {
    let target = Target::from_args(&args.target)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(supervise(args, target))
}

/// The launch's identity, as registered.
fn info(id: &str, name: &str, spec: &Spec, argv: &[String], child: &Child) -> Info {
    let pid = child.id().unwrap_or(0);
    Info {
        id: id.to_owned(),
        name: name.to_owned(),
        agent: spec.agent.as_str().to_owned(),
        pid,
        start_ticks: crate::procfs::process_start_ticks(pid).unwrap_or(0),
        argv: argv.to_vec(),
        cwd: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
    }
}

async fn supervise(args: &RunArgs, target: Target) -> Result<i32> {
    let spec = agent_of(&args.command[0]);
    let id = crate::access::secret::random_hex()[..16].to_owned();
    let name = args.name.clone().unwrap_or_default();
    let ingest = format!("http://{}", target.ingest);
    let mut argv = args.command.clone();
    let mut child = prepare(spec, &argv, &ingest, &id)
        .spawn()
        .with_context(|| format!("starting {}", argv[0]))?;
    let (info_tx, info_rx) = watch::channel(info(&id, &name, spec, &argv, &child));
    let (orders_tx, mut orders) = mpsc::channel(4);
    tokio::spawn(follow_server(target.clone(), info_rx, orders_tx));
    let (mut term, mut hup) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::hangup())?,
    );
    let (mut int, mut quit) = (
        signal(SignalKind::interrupt())?,
        signal(SignalKind::quit())?,
    );
    loop {
        tokio::select! {
            status = child.wait() => return Ok(exit_code(status?)),
            _ = term.recv() => forward(&child, nix::sys::signal::Signal::SIGTERM),
            _ = hup.recv() => forward(&child, nix::sys::signal::Signal::SIGHUP),
            // The terminal sent these to the agent too: they are its to handle.
            _ = int.recv() => {}
            _ = quit.recv() => {}
            Some(order) = orders.recv() => {
                let (mut done, next) = obey(&mut child, order).await;
                if let Some(resume) = next {
                    argv = resume;
                    match prepare(spec, &argv, &ingest, &id).spawn() {
                        Ok(c) => {
                            child = c;
                            let _ = info_tx.send(info(&id, &name, spec, &argv, &child));
                        }
                        Err(e) => {
                            done.ok = false;
                            done.detail = format!("{}; starting `{}` failed: {e}", done.detail, argv.join(" "));
                            report(&target, &id, &done).await;
                            return Ok(127);
                        }
                    }
                }
                report(&target, &id, &done).await;
            }
        }
    }
}

fn forward(child: &Child, sig: nix::sys::signal::Signal) {
    if let Some(pid) = child.id() {
        let _ = process::send(pid, sig);
    }
}

/// Does what the server asked: stops the agent (and for a restart, says what to start next).
async fn obey(child: &mut Child, order: Order) -> (Report, Option<Vec<String>>) {
    let Some(pid) = child.id() else {
        let r = Report {
            request_id: order.request_id,
            ok: false,
            detail: "the agent had already exited".into(),
        };
        return (r, None);
    };
    let agent = Process {
        pid,
        start_ticks: crate::procfs::process_start_ticks(pid).unwrap_or(0),
    };
    let grace = Duration::from_secs(order.grace_secs);
    let stopped = match process::kill_tree(agent, grace).await {
        Ok(k) => k.describe(pid),
        Err(e) => {
            let r = Report {
                request_id: order.request_id,
                ok: false,
                detail: e,
            };
            return (r, None);
        }
    };
    let _ = child.wait().await;
    let restart = order.action == "restart" && !order.resume.is_empty();
    let detail = if restart {
        format!(
            "{stopped}; then started `{}` in its terminal",
            order.resume.join(" ")
        )
    } else {
        stopped
    };
    let report = Report {
        request_id: order.request_id,
        ok: true,
        detail,
    };
    (report, restart.then_some(order.resume))
}

type Orders = mpsc::Sender<Order>;

/// Tells the server what became of an order (before anything else: after a kill the launcher
/// exits with the agent).
async fn report(target: &Target, id: &str, r: &Report) {
    let body = serde_json::to_value(r).unwrap_or(Value::Null);
    let path = format!("/api/launches/{id}/report");
    if let Err(e) = target.call(reqwest::Method::POST, &path, Some(body)).await {
        tracing::debug!(error = %e, "reporting to the server");
    }
}

/// Registers the launch and follows the server's orders; registers again whenever the server
/// forgot it (it restarted) or the agent changed (a restart); never gives up.
async fn follow_server(target: Target, mut info: watch::Receiver<Info>, orders: Orders) {
    let retry = Duration::from_secs(2);
    loop {
        let current = info.borrow_and_update().clone();
        let body = serde_json::to_value(&current).unwrap_or(Value::Null);
        let registered = target
            .call(reqwest::Method::POST, "/api/launches", Some(body))
            .await;
        if !matches!(registered, Ok(Some(_))) {
            tokio::time::sleep(retry).await;
            continue;
        }
        let path = format!("/api/launches/{}/next?wait_secs=25", current.id);
        loop {
            if info.has_changed().unwrap_or(false) {
                break;
            }
            match target.poll(&path).await {
                Ok(Some(order)) => {
                    if orders.send(order).await.is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(_) => {
                    tokio::time::sleep(retry).await;
                    break;
                }
            }
        }
    }
}
