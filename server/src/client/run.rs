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

use super::terminal::{self, Terminal};
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
    let spec = agents::spec(Agent::ClaudeCode);
    let waits = spec.answers.as_ref().map_or(&[][..], |a| a.events);
    for (event, matcher) in hooks.installs {
        let timeout = if waits.contains(event) {
            crate::setup::ANSWER_HOOK_TIMEOUT_S
        } else {
            5
        };
        let handler = json!({"type": "command", "command": command, "timeout": timeout});
        let mut group = json!({"hooks": [handler]});
        if let Some(m) = matcher {
            group["matcher"] = json!(m);
        }
        map.insert((*event).to_owned(), json!([group]));
    }
    Some(json!({ "hooks": map }).to_string())
}

/// The agent's command line with our additions, and the environment we add.
fn prepare(spec: &Spec, argv: &[String], ingest: &str, launch: &str) -> Started {
    let mut full = vec![argv[0].clone()];
    if spec.agent == Agent::ClaudeCode
        && let Some(settings) = claude_settings(ingest)
    {
        full.extend(["--settings".to_owned(), settings]);
    }
    full.extend(argv[1..].iter().cloned());
    let mut env = telemetry_env(spec, ingest);
    env.push(("OBSERVATORY_LAUNCH_ID".into(), launch.into()));
    Started { argv: full, env }
}

struct Started {
    argv: Vec<String>,
    env: Vec<(String, String)>,
}

/// Starts the agent: in the terminal we own when there is one, else on our own stdio.
fn start(terminal: Option<&Terminal>, s: &Started) -> Result<Child> {
    let mut cmd = match terminal {
        Some(t) => t.command(&s.argv)?,
        None => {
            let mut c = Command::new(&s.argv[0]);
            c.args(&s.argv[1..]);
            c
        }
    };
    cmd.envs(s.env.iter().cloned())
        .spawn()
        .with_context(|| format!("starting {}", s.argv[0]))
}

pub(crate) fn exit_code(status: ExitStatus) -> i32 {
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

/// One `observatory run`: the agent it started, the terminal it owns (if any), and what the
/// server knows of it.
struct Launch {
    spec: &'static Spec,
    id: String,
    name: String,
    ingest: String,
    target: Target,
    terminal: Option<Terminal>,
    child: Child,
    info: watch::Sender<Info>,
}

impl Launch {
    /// The launch's identity, as registered.
    fn info(&self, argv: &[String]) -> Info {
        let pid = self.child.id().unwrap_or(0);
        Info {
            id: self.id.clone(),
            name: self.name.clone(),
            agent: self.spec.agent.as_str().to_owned(),
            pid,
            start_ticks: crate::procfs::process_start_ticks(pid).unwrap_or(0),
            argv: argv.to_vec(),
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            terminal: self.terminal.is_some(),
        }
    }

    /// Does what the server asked, and says so; `Some(code)` when we are done.
    async fn obey(&mut self, order: Order) -> Option<i32> {
        if order.action == "interrupt" {
            self.interrupt(order);
            return None;
        }
        let (mut done, next) = stop(&mut self.child, self.terminal.is_some(), order).await;
        if let Some(resume) = next {
            let started = prepare(self.spec, &resume, &self.ingest, &self.id);
            match start(self.terminal.as_ref(), &started) {
                Ok(c) => {
                    self.child = c;
                    let _ = self.info.send(self.info(&resume));
                }
                Err(e) => {
                    done.ok = false;
                    done.detail = format!("{}; {e:#}", done.detail);
                    report(&self.target, &self.id, &done).await;
                    return Some(127);
                }
            }
        }
        report(&self.target, &self.id, &done).await;
        None
    }

    /// Types the agent's interrupt keys into its terminal, then reports (in the background:
    /// the presses are a little apart).
    fn interrupt(&self, order: Order) {
        let (target, id) = (self.target.clone(), self.id.clone());
        let keyboard = self.terminal.as_ref().map(Terminal::keyboard);
        tokio::spawn(async move {
            let (ok, detail) = match keyboard {
                Some(k) if !order.keys.is_empty() => {
                    terminal::press(&k, &order.keys).await;
                    (true, format!("pressed {} in its terminal", order.keys_name))
                }
                _ => (
                    false,
                    "this launch has no terminal of its own to type into".into(),
                ),
            };
            let r = Report {
                request_id: order.request_id,
                ok,
                detail,
            };
            report(&target, &id, &r).await;
        });
    }
}

async fn supervise(args: &RunArgs, target: Target) -> Result<i32> {
    let spec = agent_of(&args.command[0]);
    let id = crate::access::secret::random_hex()[..16].to_owned();
    let ingest = format!("http://{}", target.ingest);
    let terminal = Terminal::open()?;
    let child = start(
        terminal.as_ref(),
        &prepare(spec, &args.command, &ingest, &id),
    )?;
    let (info, info_rx) = watch::channel(Info::default());
    let mut launch = Launch {
        spec,
        id,
        name: args.name.clone().unwrap_or_default(),
        ingest,
        target: target.clone(),
        terminal,
        child,
        info,
    };
    launch.info.send_replace(launch.info(&args.command));
    let (orders_tx, mut orders) = mpsc::channel(4);
    tokio::spawn(follow_server(target, info_rx, orders_tx));
    let mut signals = Signals::new(launch.terminal.is_some())?;
    loop {
        tokio::select! {
            status = launch.child.wait() => {
                if let Some(t) = &launch.terminal {
                    t.drain().await;
                }
                return Ok(exit_code(status?));
            }
            sig = signals.next() => match (sig, &launch.terminal) {
                (Got::Forward(s), _) => forward(&launch.child, s),
                (Got::Resized, Some(t)) => t.follow_size(),
                (Got::Stopped, Some(t)) => t.suspend(),
                _ => {}
            },
            Some(order) = orders.recv() => {
                if let Some(code) = launch.obey(order).await {
                    return Ok(code);
                }
            }
        }
    }
}

/// The signals the launcher handles.
enum Got {
    /// SIGTERM, SIGHUP: passed on to the agent.
    Forward(nix::sys::signal::Signal),
    /// SIGWINCH: the user's terminal changed size.
    Resized,
    /// SIGTSTP from the terminal's leader: the agent stopped (Ctrl-Z).
    Stopped,
    /// SIGINT, SIGQUIT without a terminal of our own: the terminal sent them to the agent too,
    /// which is its to handle.
    Ignored,
}

struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    winch: tokio::signal::unix::Signal,
    /// Only with a terminal of our own (without one, Ctrl-Z must stop us as it stops the agent).
    tstp: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new(own_terminal: bool) -> Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            winch: signal(SignalKind::window_change())?,
            tstp: if own_terminal {
                Some(signal(SignalKind::from_raw(nix::libc::SIGTSTP))?)
            } else {
                None
            },
        })
    }

    async fn next(&mut self) -> Got {
        use nix::sys::signal::Signal as S;
        let tstp = async {
            match &mut self.tstp {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.term.recv() => Got::Forward(S::SIGTERM),
            _ = self.hup.recv() => Got::Forward(S::SIGHUP),
            _ = self.int.recv() => Got::Ignored,
            _ = self.quit.recv() => Got::Ignored,
            _ = self.winch.recv() => Got::Resized,
            _ = tstp => Got::Stopped,
        }
    }
}

fn forward(child: &Child, sig: nix::sys::signal::Signal) {
    if let Some(pid) = child.id() {
        let _ = process::send(pid, sig);
    }
}

/// Stops the agent for a kill or restart (and for a restart, says what to start next). In a
/// terminal of ours `child` is the terminal's leader, which exits with the agent.
async fn stop(child: &mut Child, led: bool, order: Order) -> (Report, Option<Vec<String>>) {
    let Some(pid) = child.id().map(|lead| {
        if led {
            terminal::led_by(lead).unwrap_or(lead)
        } else {
            lead
        }
    }) else {
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
