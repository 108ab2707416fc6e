//! Control: interrupting, killing and restarting an agent — the half of the product that acts.
//! A session's process is the one its hooks reported (pid and start time); it is signalled
//! only while it is still that process. `interrupt` has the session's `observatory run` type the
//! agent's own interrupt key (Esc…) into the terminal it owns; for a session we only watch it
//! sends SIGINT only where the registry says that stops a turn (none of the six agents: each
//! exits or ignores it), else it is refused with why. `kill` sends SIGTERM to the agent and
//! its descendants, SIGKILL after `[control] kill_grace_secs`; `restart` kills it and continues
//! the session with the agent's non-interactive resume command (from the agent registry) as a
//! supervised background process in the session's directory, its output in
//! `<data dir>/launches/`. A session started by `observatory run` ([`launches`]) is killed and
//! restarted by its launcher instead, in its own terminal, with the interactive resume command.
//! Every action is written to the session's stream (`control_requested`, then
//! `control_finished`) and to the audit log; a session we stopped ends `killed`, never
//! `crashed`. Who may act is the access stage's business; this module acts.

pub mod launches;
pub mod process;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal as Sig;
use serde::{Deserialize, Serialize};

use crate::access::{Access, Caller, Event as AuditEvent};
use crate::agents::{self, Control as AgentControl};
use crate::clock::Clock;
use crate::ingest::Pipeline;
use crate::normalize::{Agent, EventKind, Process, SessionEvent, Signal};
use crate::proto::store::Session;
use crate::store::Store;

/// What a restart tells the resumed agent.
pub const CONTINUE_PROMPT: &str =
    "You were stopped and restarted by Agent Observatory. Continue where you left off.";

/// The `[control]` section of the config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How long a killed agent has between SIGTERM and SIGKILL.
    pub kill_grace_secs: u64,
    /// Control actions one client may ask for in a minute (429 past it).
    pub max_actions_per_minute: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            kill_grace_secs: 5,
            max_actions_per_minute: 30,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Interrupt,
    Kill,
    Restart,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Interrupt, Action::Kill, Action::Restart];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Interrupt => "interrupt",
            Action::Kill => "kill",
            Action::Restart => "restart",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Why an action cannot be done; the web layer maps it to a status.
#[derive(Debug)]
pub enum Refused {
    NotFound(String),
    /// 409: not possible now (the process is gone, no resume command…).
    Conflict(String),
    TooMany(String),
}

/// What was done.
#[derive(Debug, Serialize)]
pub struct Done {
    pub action: Action,
    pub session_id: String,
    pub pid: Option<u32>,
    pub outcome: &'static str,
    pub done: String,
    pub audit_id: u64,
}

/// A session, the process it runs in when that is still the same process, and its agent's
/// control facts.
struct Target {
    session: Session,
    agent: Agent,
    control: &'static AgentControl,
    process: Option<Process>,
    /// The `observatory run` that started it, when one did and still asks.
    launch: Option<launches::Info>,
    /// Why nothing is done: the process is one the agent shares between sessions.
    shared: Option<&'static str>,
}

impl Target {
    fn pid_known(&self) -> bool {
        self.session.pid != 0
    }

    /// What `action` would do, or why it cannot be done.
    fn what(&self, action: Action, grace: u64) -> Result<String, String> {
        let gone = || {
            if self.pid_known() {
                "that process is gone".to_owned()
            } else {
                "no live process for this session (its hooks never said which process it is)"
                    .to_owned()
            }
        };
        let proc_name = |p: Process| format!("{} (pid {})", process::name(p.pid), p.pid);
        if let (Some(why), Some(p)) = (self.shared, self.process) {
            return Err(format!("{why} (its pid is {})", p.pid));
        }
        match (action, self.process) {
            (Action::Interrupt, Some(p)) => self.interrupt_what(p),
            (Action::Kill, Some(p)) => Ok(format!(
                "sends SIGTERM to {} and its child processes, SIGKILL to what still runs after {grace} s",
                proc_name(p)
            )),
            (Action::Restart, Some(p)) if self.launch.is_some() => {
                let argv = self.resume_interactive()?;
                Ok(format!(
                    "stops {} (as Kill does), then runs `{}` in its terminal",
                    proc_name(p),
                    shown(&argv)
                ))
            }
            (Action::Interrupt | Action::Kill, None) => Err(gone()),
            (Action::Restart, p) => {
                let argv = self.resume_argv()?;
                let stop = p.map_or(String::new(), |p| {
                    format!("stops {} (as Kill does), then ", proc_name(p))
                });
                Ok(format!(
                    "{stop}runs `{}` in {} in the background",
                    shown(&argv),
                    self.session.cwd
                ))
            }
        }
    }

    /// The keys its launcher types to stop a turn, when it owns the agent's terminal.
    fn typing(&self) -> Option<&'static agents::Keys> {
        let keys = &self.control.keys;
        (self.launch.as_ref().is_some_and(|l| l.terminal) && !keys.presses.is_empty())
            .then_some(keys)
    }

    /// What an interrupt does: the keys through the launcher, SIGINT where that stops a turn,
    /// else why neither can.
    fn interrupt_what(&self, p: Process) -> Result<String, String> {
        use crate::session::state::State;
        let keys = &self.control.keys;
        if let Some(waiting @ (State::AwaitingInput | State::Idle)) =
            State::parse(&self.session.state)
        {
            // Its key would not stop anything then (a second Ctrl-C ends Copilot CLI; a second
            // Esc opens Claude Code's rewind menu).
            return Err(format!(
                "nothing to interrupt: the session is {}, waiting for its next prompt",
                waiting.as_str()
            ));
        }
        if self.typing().is_some() {
            return Ok(format!(
                "presses {} in its terminal (through its `observatory run`): {}",
                keys.name, keys.effect
            ));
        }
        if self.control.sigint_interrupts {
            return Ok(format!(
                "sends SIGINT to {} (pid {}): {}",
                process::name(p.pid),
                p.pid,
                self.control.sigint
            ));
        }
        Err(format!(
            "{} stops a turn only when {} is pressed in its terminal, which only a session \
             started with `observatory run` lets us do; SIGINT would not interrupt it ({}). \
             Kill stops it; Restart continues it",
            agents::spec(self.agent).display_name,
            keys.name,
            self.control.sigint
        ))
    }

    fn resume_interactive(&self) -> Result<Vec<String>, String> {
        let template = self.control.resume.ok_or_else(|| {
            format!(
                "no resume command is known for this agent ({})",
                self.control.source
            )
        })?;
        Ok(AgentControl::argv(template, &self.session.native_id, ""))
    }

    fn resume_argv(&self) -> Result<Vec<String>, String> {
        let Some(template) = self.control.resume_headless else {
            return Err(format!(
                "no way to resume this agent without a terminal is known ({})",
                self.control.source
            ));
        };
        if self.session.cwd.is_empty() || !Path::new(&self.session.cwd).is_dir() {
            return Err(format!(
                "its working directory {:?} is not a directory here",
                self.session.cwd
            ));
        }
        Ok(AgentControl::argv(
            template,
            &self.session.native_id,
            CONTINUE_PROMPT,
        ))
    }
}

/// Why process `pid` must not be acted on, when it is one the agent shares between sessions.
fn shared_why(control: &AgentControl, pid: u32) -> Option<&'static str> {
    let shared = control.shared.as_ref()?;
    let args = crate::procfs::cmdline(pid);
    args.iter().any(|a| a == shared.arg).then_some(shared.why)
}

/// A command line as a person would type it.
fn shown(argv: &[String]) -> String {
    argv.iter()
        .map(|a| crate::setup::shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Store,
    pipeline: Pipeline,
    access: Access,
    launches_dir: PathBuf,
    launches: launches::Launches,
    clock: Clock,
    recent: Mutex<HashMap<String, Vec<i64>>>,
}

impl Controller {
    pub fn new(
        settings: Settings,
        store: Store,
        pipeline: Pipeline,
        access: Access,
        data_dir: &Path,
        clock: Clock,
    ) -> Controller {
        Controller {
            inner: Arc::new(Inner {
                settings,
                store,
                pipeline,
                access,
                launches_dir: data_dir.join("launches"),
                launches: launches::Launches::new(clock.clone()),
                clock,
                recent: Mutex::default(),
            }),
        }
    }

    fn grace(&self) -> u64 {
        self.inner.settings.kill_grace_secs
    }

    async fn target(&self, session_id: &str) -> Result<Target, Refused> {
        let (store, id) = (self.inner.store.clone(), session_id.to_owned());
        let session = tokio::task::spawn_blocking(move || store.session(&id))
            .await
            .map_err(|e| Refused::Conflict(e.to_string()))?
            .map_err(|e| Refused::Conflict(e.to_string()))?
            .ok_or_else(|| Refused::NotFound(format!("no session {session_id:?}")))?;
        let agent = Agent::parse(&session.agent).unwrap_or(Agent::Generic);
        let process = (session.pid != 0)
            .then_some(Process {
                pid: session.pid,
                start_ticks: session.pid_start_ticks,
            })
            .filter(|p| process::same(*p));
        let control = &agents::spec(agent).control;
        let shared = process.and_then(|p| shared_why(control, p.pid));
        let launch = process
            .filter(|_| shared.is_none())
            .and_then(|p| self.inner.launches.of_process(p.pid));
        Ok(Target {
            control,
            session,
            agent,
            process,
            launch,
            shared,
        })
    }

    /// What each action would do to a session, or why it cannot.
    pub async fn options(&self, session_id: &str) -> Result<serde_json::Value, Refused> {
        let t = self.target(session_id).await?;
        let mut actions = serde_json::Map::new();
        for a in Action::ALL {
            let (available, what, why) = match t.what(a, self.grace()) {
                Ok(what) => (true, Some(what), None),
                Err(why) => (false, None, Some(why)),
            };
            actions.insert(
                a.as_str().into(),
                serde_json::json!({"available": available, "what": what, "why": why}),
            );
        }
        Ok(serde_json::json!({
            "session_id": session_id,
            "agent": t.agent.as_str(),
            "pid": t.process.map(|p| p.pid),
            "launched": t.launch.is_some(),
            "actions": actions,
        }))
    }

    /// Does `action` to the session's agent, on its stream and in the audit log.
    pub async fn act(
        &self,
        caller: &Caller,
        session_id: &str,
        action: Action,
    ) -> Result<Done, Refused> {
        self.within_rate(caller)?;
        let t = self.target(session_id).await?;
        if let Err(why) = t.what(action, self.grace()) {
            let entry = AuditEvent::refused(action.as_str(), &why).on(session_id);
            self.inner.access.audit().record(caller, entry).await;
            return Err(Refused::Conflict(why));
        }
        let asked = format!("by {}", caller.describe());
        self.record(&t, EventKind::ControlRequested, action, None, &asked)
            .await;
        let result = self.perform(&t, action).await;
        let (success, done) = match &result {
            Ok(done) => (true, done.clone()),
            Err(e) => (false, e.clone()),
        };
        self.record(&t, EventKind::ControlFinished, action, Some(success), &done)
            .await;
        let pid = t.process.map(|p| p.pid);
        let detail = match pid {
            Some(pid) => format!("{} of pid {pid}: {done}", action.as_str()),
            None => format!("{}: {done}", action.as_str()),
        };
        let mut entry = AuditEvent::ok(action.as_str(), detail).on(session_id);
        if !success {
            entry.outcome = crate::access::audit::Outcome::Failed;
        }
        let audited = self.inner.access.audit().record(caller, entry).await;
        Ok(Done {
            action,
            session_id: session_id.to_owned(),
            pid,
            outcome: if success { "ok" } else { "failed" },
            done,
            audit_id: audited.id,
        })
    }

    async fn perform(&self, t: &Target, action: Action) -> Result<String, String> {
        let grace = Duration::from_secs(self.grace());
        if let Some(launch) = &t.launch
            && (action != Action::Interrupt || t.typing().is_some())
        {
            return self.through_launcher(t, launch, action).await;
        }
        match (action, t.process) {
            (Action::Interrupt, Some(p)) => {
                process::send(p.pid, Sig::SIGINT)?;
                Ok(format!(
                    "sent SIGINT to {} (pid {})",
                    process::name(p.pid),
                    p.pid
                ))
            }
            (Action::Kill, Some(p)) => Ok(process::kill_tree(p, grace).await?.describe(p.pid)),
            (Action::Restart, p) => {
                let stopped = match p {
                    Some(p) => format!(
                        "{}; then ",
                        process::kill_tree(p, grace).await?.describe(p.pid)
                    ),
                    None => String::new(),
                };
                let argv = t.resume_argv()?;
                let started = self.spawn_resume(t, &argv)?;
                Ok(format!("{stopped}{started}"))
            }
            (_, None) => Err("that process is gone".into()),
        }
    }

    /// Has the session's `observatory run` stop (and for a restart, resume) the agent in its
    /// terminal.
    async fn through_launcher(
        &self,
        t: &Target,
        launch: &launches::Info,
        action: Action,
    ) -> Result<String, String> {
        let mut command = launches::Command {
            request_id: 0,
            action: action.as_str().to_owned(),
            resume: Vec::new(),
            keys: Vec::new(),
            keys_name: String::new(),
            grace_secs: self.grace(),
        };
        match action {
            Action::Restart => command.resume = t.resume_interactive()?,
            Action::Interrupt => {
                let keys = &t.control.keys;
                command.keys = keys.presses.iter().map(|k| (*k).to_owned()).collect();
                command.keys_name = keys.name.to_owned();
            }
            Action::Kill => {}
        }
        let wait = Duration::from_secs(self.grace() + 10);
        let report = self.inner.launches.ask(&launch.id, command, wait).await?;
        let by = format!(
            "by its `observatory run` ({}): {}",
            launch.id, report.detail
        );
        if report.ok { Ok(by) } else { Err(by) }
    }

    pub fn launches(&self) -> &launches::Launches {
        &self.inner.launches
    }

    /// Starts the resume command in the session's directory, in a process group of its own,
    /// its output in a log file; a task reaps it.
    fn spawn_resume(&self, t: &Target, argv: &[String]) -> Result<String, String> {
        let dir = &self.inner.launches_dir;
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let safe: String = t
            .session
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let log = dir.join(format!("{safe}-{}.log", crate::clock::now_unix_nano()));
        let out =
            std::fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut child = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&t.session.cwd)
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting `{}`: {e}", argv.join(" ")))?;
        let pid = child.id().unwrap_or(0);
        let command = shown(argv);
        tokio::spawn(async move {
            let status = child.wait().await;
            tracing::info!(pid, %command, ?status, "a restarted agent exited");
        });
        Ok(format!(
            "started `{}` (pid {pid}) in {}, output in {}",
            shown(argv),
            t.session.cwd,
            log.display()
        ))
    }

    async fn record(
        &self,
        t: &Target,
        kind: EventKind,
        action: Action,
        success: Option<bool>,
        detail: &str,
    ) {
        let mut ev = SessionEvent::new(t.agent, t.session.native_id.clone(), kind, Signal::Logs);
        ev.event.source = "observatory".into();
        ev.event.name = action.as_str().into();
        ev.event.success = success;
        ev.event.detail = detail.into();
        if let Err(e) = self.inner.pipeline.record(vec![ev]).await {
            tracing::error!(error = %e, session = %t.session.id, "recording a control event");
        }
    }

    fn within_rate(&self, caller: &Caller) -> Result<(), Refused> {
        let now = self.inner.clock.now();
        let mut recent = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
        let times = recent.entry(caller.client.clone()).or_default();
        times.retain(|t| now - t < 60_000_000_000);
        let max = self.inner.settings.max_actions_per_minute;
        if times.len() >= max {
            return Err(Refused::TooMany(format!(
                "more than {max} control actions in a minute from {}: wait a little",
                caller.client
            )));
        }
        times.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(agent: Agent, terminal: Option<bool>) -> Target {
        let launch = terminal.map(|terminal| launches::Info {
            terminal,
            ..launches::Info::default()
        });
        Target {
            session: Session {
                pid: 42,
                ..Session::default()
            },
            agent,
            control: &agents::spec(agent).control,
            process: Some(Process {
                pid: 42,
                start_ticks: 1,
            }),
            launch,
            shared: None,
        }
    }

    fn interrupt(agent: Agent, terminal: Option<bool>) -> Result<String, String> {
        target(agent, terminal).what(Action::Interrupt, 5)
    }

    #[test]
    fn an_interrupt_is_a_key_in_a_terminal_we_own_else_sigint_only_where_it_stops_a_turn() {
        let typed = interrupt(Agent::ClaudeCode, Some(true)).expect("typed");
        assert!(typed.starts_with("presses Esc in its terminal"), "{typed}");
        let twice = interrupt(Agent::Opencode, Some(true)).expect("typed");
        assert!(twice.starts_with("presses Esc twice"), "{twice}");
        let copilot = interrupt(Agent::CopilotCli, Some(true)).expect("typed");
        assert!(copilot.starts_with("presses Ctrl-C"), "{copilot}");
        for terminal in [None, Some(false)] {
            let why = interrupt(Agent::Codex, terminal).expect_err("no key, no signal");
            assert!(
                why.contains("Codex exits (status 130)") && why.contains("observatory run"),
                "{why}"
            );
        }
        let generic = interrupt(Agent::Generic, None).expect("SIGINT");
        assert!(generic.starts_with("sends SIGINT to"), "{generic}");
        for (state, ok) in [
            ("active", true),
            ("awaiting_permission", true),
            ("idle", false),
        ] {
            let mut t = target(Agent::CopilotCli, Some(true));
            t.session.state = state.into();
            let what = t.what(Action::Interrupt, 5);
            assert_eq!(what.is_ok(), ok, "{state}: {what:?}");
        }
        let mut waiting = target(Agent::ClaudeCode, Some(true));
        waiting.session.state = "awaiting_input".into();
        let why = waiting
            .what(Action::Interrupt, 5)
            .expect_err("nothing to stop");
        assert!(why.starts_with("nothing to interrupt"), "{why}");
    }

    #[test]
    fn codex_s_shared_app_server_is_never_acted_on() {
        let mut server = std::process::Command::new("python3")
            .args(["-c", "import time; time.sleep(30)", "app-server"])
            .spawn()
            .expect("python3");
        // Until it has its command line (python3 may be a shim that execs the real one).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while crate::procfs::cmdline(server.id())
            .last()
            .map(String::as_str)
            != Some("app-server")
        {
            assert!(std::time::Instant::now() < deadline, "python3 never ran");
            std::thread::sleep(Duration::from_millis(10));
        }
        let codex = &agents::spec(Agent::Codex).control;
        // Read again until it answers: an exec under way shows an empty command line.
        let why = loop {
            match shared_why(codex, server.id()) {
                Some(why) => break why,
                None if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                None => panic!(
                    "never seen as shared: {:?}",
                    crate::procfs::cmdline(server.id())
                ),
            }
        };
        assert!(why.contains("--no-daemon"), "{why}");
        let claude = &agents::spec(Agent::ClaudeCode).control;
        assert_eq!(shared_why(claude, server.id()), None, "only Codex has one");
        assert_eq!(
            shared_why(codex, std::process::id()),
            None,
            "not the app-server"
        );
        let mut t = target(Agent::Codex, Some(true));
        t.shared = Some(why);
        for action in Action::ALL {
            let refused = t.what(action, 5).expect_err("refused");
            assert!(
                refused.starts_with("this Codex session runs in"),
                "{refused}"
            );
        }
        let _ = server.kill();
        let _ = server.wait();
    }
}
