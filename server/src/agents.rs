//! The agent registry: the one place that knows each agent. For every [`Agent`] it holds its id and
//! display name, how its telemetry is recognised (service names, instrumentation scopes), its OTLP
//! adapter, its hooks (how the agent delivers them, the events `observatory setup` installs, and
//! the hook adapter that reads them), its setup planner, and where its recorded fixtures are.
//! Everything per-agent reads it: ingest routes OTLP resources and hook payloads through it,
//! `observatory hook` and `observatory setup` take their agent names from it, the alerts' titles
//! and the dashboard's names (`GET /api/config`) come from it.
//!
//! It sits after the adapters (`normalize`) and the setup planners (`setup`), which it points to,
//! and before every stage that asks it which agent is which.
//!
//! # Adding an agent
//!
//! 1. Add its id to [`Agent`] in `normalize/mod.rs` (`Agent::ALL` and `as_str`, in the same order
//!    as [`AGENTS`] here).
//! 2. Write its OTLP adapter, `normalize/<agent>.rs` (`logs`, `spans`, `metrics`: pure functions
//!    of one scope's records into a [`normalize::Sink`]) — or point at `normalize::generic` if it
//!    follows the OpenTelemetry GenAI conventions — with table tests over its recorded telemetry.
//! 3. Record its telemetry and hook payloads with the real CLI into
//!    `server/tests/fixtures/<agent>-<version>/<scenario>/` and name that folder in
//!    [`Spec::fixtures`]; add its models to the price table (`normalize/prices.rs`) unless it
//!    reports its own cost.
//! 4. If it has hooks: its hook adapter, `normalize/hooks/<agent>.rs` (`normalize`, and `EVENTS`,
//!    the hook event names it reads), and its setup planner, `setup/<agent>.rs`; list the events
//!    setup installs in [`Hooks::installs`].
//! 5. Add its [`Spec`] to [`AGENTS`]. `cargo test agents` checks the entry against the rest:
//!    fixtures present, every model priced, every installed hook event read by the adapter, and
//!    every hook event the adapter turns into a state change installed.
//!
//! Later capabilities add their per-agent facts here as new `Spec` fields (the resume command,
//! the process names, how the agent takes a permission decision), each with where it came from.

use crate::normalize::hooks::{self, Hook, HookError, HookReader};
use crate::normalize::{
    self, Agent, EventKind, Normalized, OtlpAdapter, Prices, Request, SessionEvent, Signal,
};
use crate::proto::common::InstrumentationScope;
use crate::proto::resource::Resource;
use crate::setup::{self, HookEvent, Planner, Target};

/// Everything the product knows about one agent.
pub struct Spec {
    pub agent: Agent,
    /// The product's own name, for people (notifications, the dashboard).
    pub display_name: &'static str,
    /// Names people may type on the command line besides the id (`claude-code`, `claude`); the
    /// first is the one `observatory setup` shows.
    pub names: &'static [&'static str],
    pub telemetry: Telemetry,
    pub otlp: OtlpAdapter,
    /// `None` for agents that send OpenTelemetry only.
    pub hooks: Option<Hooks>,
    /// `None` for agents `observatory setup` does not know.
    pub setup: Option<Planner>,
    /// The folder of recorded telemetry under `server/tests/fixtures/`, or why there is none.
    pub fixtures: Fixtures,
    /// How the observatory acts on the agent's process: interrupt, kill, resume.
    pub control: Control,
    /// How a permission prompt is answered through the agent's own hook, or why it cannot be.
    pub answers: Result<Answers, &'static str>,
}

/// What answering a permission prompt through an agent's hook takes.
pub struct Answers {
    /// The hook events whose hook may return a decision.
    pub events: &'static [&'static str],
    pub format: DecisionFormat,
    /// The agent shows its own prompt only once the hook has returned, so a waiting hook holds
    /// it back (`[answers] hold_terminal_prompt_secs`).
    pub prompt_after_hook: bool,
    /// When the hook only reports a request and does not wait: runs nobody attends, and runs
    /// whose requests may be allowed without a dialog — held up for nothing otherwise.
    pub no_wait: NoWait,
    /// Why answers for this agent are off unless the config lists it in `[answers] opt_in`.
    pub opt_in: Option<&'static str>,
    /// Where this comes from (the CLI version it was checked with, and how).
    pub source: &'static str,
}

/// Signs, in the hook's environment or on the agent's command line, that a permission request
/// needs no answer from a person.
pub struct NoWait {
    /// A variable and the value the agent gives its hooks in a run nobody attends.
    pub env: Option<(&'static str, &'static str)>,
    /// Arguments of the agent's process (exactly, or as `--flag=…`) with which nobody is asked:
    /// the agent settles every call itself (allows them all, or runs headless), though it still
    /// asks its hook.
    pub args: &'static [&'static str],
    /// Arguments with which the agent settles some calls itself and still asks its hook for
    /// them: the hook is not held, but a dialog may follow.
    pub some_args: &'static [&'static str],
    /// The agent asks a person only when its standard input is a terminal (a prompt piped in
    /// runs headless).
    pub tty: bool,
}

/// Who a permission request reaches, as far as the hook's environment and the agent's command
/// line tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asks {
    /// A person may be asked: the hook may wait for the phone.
    Person,
    /// A person may be asked, but the agent may settle it itself: the hook does not wait.
    Maybe,
    /// Nobody: the agent settles it itself, at once — no "needs you", no prompt.
    Nobody,
}

impl NoWait {
    pub const NEVER: NoWait = NoWait {
        env: None,
        args: &[],
        some_args: &[],
        tty: false,
    };

    /// Whether [`NoWait::asks`] needs the agent's command line.
    pub fn reads_argv(&self) -> bool {
        !self.args.is_empty() || !self.some_args.is_empty()
    }

    /// Who a request of an agent run with `argv`, whose hook has `env_value` (the value of
    /// [`NoWait::env`]'s variable), reaches; `tty` is whether the agent's standard input is a
    /// terminal, when known.
    pub fn asks(
        &self,
        env_value: Option<&std::ffi::OsStr>,
        argv: &[String],
        tty: Option<bool>,
    ) -> Asks {
        let flagged = |flags: &[&str]| {
            argv.iter().skip(1).any(|a| {
                flags
                    .iter()
                    .any(|f| a == f || a.strip_prefix(f).is_some_and(|r| r.starts_with('=')))
            })
        };
        let headless = self
            .env
            .is_some_and(|(_, value)| env_value.is_some_and(|v| v == value));
        let piped = self.tty && tty == Some(false);
        if headless || piped || flagged(self.args) {
            Asks::Nobody
        } else if flagged(self.some_args) {
            Asks::Maybe
        } else {
            Asks::Person
        }
    }
}

/// How a hook prints a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionFormat {
    /// `{"hookSpecificOutput":{"hookEventName":<event>,"decision":{"behavior":"allow"}}}`, a deny
    /// with `"message"` (Claude Code, Codex).
    HookSpecificOutput,
    /// `{"behavior":"allow"}`, a deny with `"message"` (Copilot CLI).
    Flat,
    /// Nothing printed: our plugin inside the agent asks for the answer and gives it to the
    /// agent itself (OpenCode).
    Plugin,
}

impl DecisionFormat {
    /// The line a hook prints for `event`: allow, or deny with `message`. Only one-shot
    /// decisions: never "always allow", never a rewritten tool input.
    pub fn render(self, event: &str, allow: bool, message: &str) -> String {
        let mut decision = serde_json::json!({"behavior": if allow { "allow" } else { "deny" }});
        if !allow {
            decision["message"] = message.into();
        }
        match self {
            DecisionFormat::HookSpecificOutput => serde_json::json!({
                "hookSpecificOutput": {"hookEventName": event, "decision": decision}
            })
            .to_string(),
            DecisionFormat::Flat => decision.to_string(),
            DecisionFormat::Plugin => String::new(),
        }
    }
}

/// What control needs to know of an agent. Commands are argv templates: `{id}` is the agent's
/// own session id, `{prompt}` the message that continues the work.
pub struct Control {
    /// What SIGINT does to the agent's process.
    pub sigint: &'static str,
    /// Whether SIGINT stops the current turn and leaves the agent running: then `interrupt`
    /// sends it to a session we only watch. (None of the six agents does: their TUIs read
    /// Ctrl-C as a key in raw mode, and the signal ends them or does nothing.)
    pub sigint_interrupts: bool,
    /// The key presses that stop a turn in the agent's terminal UI: `observatory run`, which
    /// owns the terminal the agent runs in, types them for `interrupt`.
    pub keys: Keys,
    /// A process the agent shares between its sessions (a server its windows talk to): when a
    /// session's hooks name it, no action touches it (it would reach every session) and none
    /// is attributed to a launch.
    pub shared: Option<Shared>,
    /// Resumes session `{id}` in a terminal (a restart in place).
    pub resume: Option<&'static [&'static str]>,
    /// Continues session `{id}` with `{prompt}` without a terminal and exits (a restart of a
    /// session we did not launch, as a supervised background process).
    pub resume_headless: Option<&'static [&'static str]>,
    /// Where these come from (the CLI version whose `--help` or behaviour was checked), and why
    /// what is `None` is none.
    pub source: &'static str,
}

/// Key presses, each written to the terminal on its own (two Esc in one write would read as
/// Alt-Esc).
pub struct Keys {
    pub presses: &'static [&'static str],
    /// For people: "Esc", "Esc twice".
    pub name: &'static str,
    /// What they do, seen with the real CLI.
    pub effect: &'static str,
}

const ESC: &[&str] = &["\x1b"];
const ESC_TWICE: &[&str] = &["\x1b", "\x1b"];
const CTRL_C: &[&str] = &["\x03"];

/// How a shared process is recognised, and what to tell the user.
pub struct Shared {
    /// An argument on its command line.
    pub arg: &'static str,
    pub why: &'static str,
}

impl Control {
    /// `template` with `{id}` and `{prompt}` filled in.
    pub fn argv(template: &[&str], id: &str, prompt: &str) -> Vec<String> {
        template
            .iter()
            .map(|a| a.replace("{id}", id).replace("{prompt}", prompt))
            .collect()
    }
}

/// How a resource's telemetry is recognised as this agent's.
pub struct Telemetry {
    /// `service.name` values; the first match in [`AGENTS`] order wins.
    pub service_names: &'static [ServiceName],
    /// Instrumentation scope names the agent uses: they recognise it when the resource names
    /// no service (absent, or the SDKs' `unknown_service` default). A service name of the user's
    /// own choosing stays theirs: such telemetry goes to the generic adapter.
    pub scopes: &'static [&'static str],
}

pub enum ServiceName {
    Exact(&'static str),
    Prefix(&'static str),
    Contains(&'static str),
}

impl ServiceName {
    fn matches(&self, name: &str) -> bool {
        match self {
            ServiceName::Exact(s) => name == *s,
            ServiceName::Prefix(s) => name.starts_with(s),
            ServiceName::Contains(s) => name.contains(s),
        }
    }
}

/// An agent's hooks.
pub struct Hooks {
    /// How the agent delivers them to `observatory hook` (or straight to `/v1/hooks/{agent}`).
    pub dialect: HookDialect,
    pub read: HookReader,
    /// The event names the adapter reads, with the kind each is read as (before the payload
    /// refines it, e.g. a `Notification` that is a permission prompt).
    pub reads: &'static [(&'static str, EventKind)],
    /// The hook events setup installs, with our entry's matcher. An event name ending in `*`
    /// stands for every event with that prefix (a plugin that forwards all of them).
    pub installs: &'static [HookEvent],
    /// Events setup makes the agent send some other way than a hook entry.
    pub also_sent: &'static [&'static str],
    /// Events the adapter reads that setup does not make the agent send, each with why: the
    /// registry test holds every other event that moves a session to be installed.
    pub not_installed: &'static [(&'static str, &'static str)],
}

/// How an agent hands its hook events over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookDialect {
    /// Command hooks from a JSON settings file; the payload names its event
    /// (`hook_event_name`) and the session. Claude Code, Codex, Gemini CLI.
    SettingsCommand,
    /// Command hooks from a hooks file of ours; camelCase payloads that do not name their
    /// event, so the command passes `--event` (`?event=`). Copilot CLI.
    HooksFileCommand,
    /// A plugin file of ours inside the agent that POSTs each event with `?event=`. OpenCode,
    /// Pi.
    Plugin,
}

pub enum Fixtures {
    Recorded(&'static str),
    /// No recorded telemetry yet, and why.
    None(&'static str),
}

impl Spec {
    /// What setup needs to know about this agent.
    pub fn setup_target(&self) -> Target {
        Target {
            agent: self.agent.as_str(),
            display_name: self.display_name,
            hook_events: self.hooks.as_ref().map_or(&[], |h| h.installs),
            answer_events: self.answers.as_ref().map_or(&[], |a| a.events),
        }
    }

    /// Whether `name` (as typed on a command line or in a URL) names this agent.
    pub fn is_named(&self, name: &str) -> bool {
        name == self.agent.as_str() || self.names.contains(&name)
    }
}

const COPILOT_PASCAL_CASE: &str = "Copilot's PascalCase (\"VS Code compatible\") dialect, from \
     hook files people share with Claude Code; setup writes the camelCase one";

/// Every agent, in [`Agent::ALL`] order; `generic` last, since it takes what no other does.
pub static AGENTS: [Spec; 7] = [
    Spec {
        agent: Agent::ClaudeCode,
        display_name: "Claude Code",
        names: &["claude-code", "claude"],
        telemetry: Telemetry {
            // `claude-code-desktop`: the Desktop app's Code tab (agent-telemetry.md).
            service_names: &[
                ServiceName::Exact("claude-code"),
                ServiceName::Exact("claude-code-desktop"),
            ],
            scopes: &[
                "com.anthropic.claude_code.events",
                "com.anthropic.claude_code",
            ],
        },
        otlp: OtlpAdapter {
            logs: normalize::claude_code::logs,
            spans: normalize::claude_code::spans,
            metrics: normalize::claude_code::metrics,
        },
        hooks: Some(Hooks {
            dialect: HookDialect::SettingsCommand,
            read: hooks::claude_code::normalize,
            reads: hooks::claude_code::EVENTS,
            // The tool events match every tool (`*`); the rest have no matcher or match all
            // without one.
            installs: &[
                ("SessionStart", None),
                ("SessionEnd", None),
                ("UserPromptSubmit", None),
                ("PreToolUse", Some("*")),
                ("PostToolUse", Some("*")),
                ("PostToolUseFailure", Some("*")),
                ("PermissionRequest", Some("*")),
                ("PermissionDenied", Some("*")),
                ("Notification", None),
                ("Stop", None),
                ("StopFailure", None),
                ("SubagentStart", None),
                ("SubagentStop", None),
                ("PreCompact", None),
                ("PostCompact", None),
                ("Elicitation", None),
                ("ElicitationResult", None),
                ("MessageDisplay", None),
            ],
            also_sent: &[],
            not_installed: &[],
        }),
        setup: Some(setup::claude_code::plan),
        fixtures: Fixtures::Recorded("claude-code-2.1.328"),
        control: Control {
            sigint: "Claude Code exits (status 0), even in the middle of a turn",
            sigint_interrupts: false,
            keys: Keys {
                presses: ESC,
                name: "Esc",
                effect: "Claude Code stops the turn (and answers an open permission dialog with no) and waits for the next prompt",
            },
            shared: None,
            resume: Some(&["claude", "--resume", "{id}"]),
            resume_headless: Some(&["claude", "-p", "--resume", "{id}", "{prompt}"]),
            source: "Claude Code 2.1.328, run under tmux against a scripted model (2026-12-03): \
                     `--resume <uuid>` and `-p --resume <uuid> <prompt>` resume the same session from any \
                     directory; SIGINT exits 0 even when busy; SIGTERM exits 143 and ends its tool's child; Esc typed \
                     through `observatory run` stopped a streaming turn (\"Interrupted\") and claude ran on",
        },
        answers: Ok(Answers {
            events: &["PermissionRequest"],
            format: DecisionFormat::HookSpecificOutput,
            prompt_after_hook: false,
            opt_in: None,
            no_wait: NoWait {
                env: Some(("CLAUDE_CODE_SESSION_ATTENDED", "0")),
                args: &[],
                some_args: &[],
                tty: false,
            },
            source: "Claude Code 2.1.328 under a TTY (2026-12-03): a PermissionRequest hook printing \
                     decision.behavior allow ran the tool with the dialog on screen, no key pressed; deny \
                     with a message stopped it; the dialog shows while the hook runs, the first answer \
                     wins, and a local answer kills the hook; under -p its hooks get \
                     CLAUDE_CODE_SESSION_ATTENDED=0",
        }),
    },
    Spec {
        agent: Agent::Codex,
        display_name: "Codex",
        names: &[],
        telemetry: Telemetry {
            // The originator, `codex_cli_rs` by default; early builds said `codex-cli`.
            service_names: &[ServiceName::Prefix("codex")],
            scopes: &[],
        },
        otlp: OtlpAdapter {
            logs: normalize::codex::logs,
            spans: normalize::codex::spans,
            metrics: normalize::codex::metrics,
        },
        hooks: Some(Hooks {
            dialect: HookDialect::SettingsCommand,
            read: hooks::codex::normalize,
            reads: hooks::codex::EVENTS,
            installs: &[
                ("SessionStart", None),
                ("SessionEnd", None),
                ("UserPromptSubmit", None),
                ("PreToolUse", Some("*")),
                ("PermissionRequest", Some("*")),
                ("PostToolUse", Some("*")),
                ("PreCompact", None),
                ("PostCompact", None),
                ("SubagentStart", None),
                ("SubagentStop", None),
                ("Stop", None),
                ("StopFailure", None),
                // A turn the user interrupted: without it the session would look busy until
                // it stalls.
                ("Interrupt", None),
            ],
            // The `notify` program setup puts in config.toml (its payload's `type` says what
            // happened: `agent-turn-complete`).
            also_sent: &["notify"],
            not_installed: &[],
        }),
        setup: Some(setup::codex::plan),
        fixtures: Fixtures::Recorded("codex-0.169.0"),
        control: Control {
            sigint: "Codex exits (status 130)",
            sigint_interrupts: false,
            keys: Keys {
                presses: ESC,
                name: "Esc",
                effect: "Codex stops the turn (\"Conversation interrupted\") and waits for the next prompt",
            },
            shared: Some(Shared {
                arg: "app-server",
                why: "this Codex session runs in Codex's shared app-server, which serves every Codex \
                      window on this machine: stopping it would stop them all, and which window shows \
                      this session is not known. Start Codex with --no-daemon (`observatory run -- \
                      codex --no-daemon`) to control its sessions",
            }),
            resume: Some(&["codex", "resume", "{id}"]),
            resume_headless: Some(&[
                "codex",
                "exec",
                "--skip-git-repo-check",
                "resume",
                "{id}",
                "{prompt}",
            ]),
            source: "Codex 0.169.0, run (2026-12-03): `resume <uuid>` (in the session's directory, else \
                     a directory picker blocks), `exec resume <uuid> <prompt>` (an untrusted directory \
                     needs --skip-git-repo-check); a node wrapper runs the native binary, so a kill takes \
                     the tree. By default the TUI starts a shared `codex app-server` daemon (first a child \
                     of the TUI, later of pid 1) that outlives it and runs the hooks of every Codex window's \
                     sessions, so their hooks name it; with --no-daemon the hooks name the TUI's own codex. \
                     Esc typed through `observatory run` stopped a turn in both modes",
        },
        answers: Ok(Answers {
            events: &["PermissionRequest"],
            format: DecisionFormat::HookSpecificOutput,
            prompt_after_hook: true,
            opt_in: None,
            no_wait: NoWait::NEVER,
            source: "Codex 0.169.0 (2026-12-03): the PermissionRequest hook's nested decision, allow and \
                     deny with a message, verified; its approval prompt shows only after the hook returns \
                     (empty output: the normal prompt); interrupt, updatedInput and updatedPermissions are \
                     reserved and make it fail closed; a cancel (Esc) in the terminal while the hook \
                     holds the prompt ends the hook; it asks the hook only when a dialog follows (not after \
                     \"don't ask again\", not with -a never)",
        }),
    },
    Spec {
        agent: Agent::GeminiCli,
        display_name: "Gemini CLI",
        names: &["gemini-cli", "gemini"],
        telemetry: Telemetry {
            service_names: &[ServiceName::Exact("gemini-cli")],
            scopes: &[],
        },
        otlp: OtlpAdapter {
            logs: normalize::gemini_cli::logs,
            spans: normalize::gemini_cli::spans,
            metrics: normalize::gemini_cli::metrics,
        },
        hooks: Some(Hooks {
            dialect: HookDialect::SettingsCommand,
            read: hooks::gemini_cli::normalize,
            reads: hooks::gemini_cli::EVENTS,
            installs: &[
                ("SessionStart", None),
                ("SessionEnd", None),
                ("BeforeAgent", None),
                ("AfterAgent", None),
                ("BeforeTool", Some("*")),
                ("AfterTool", Some("*")),
                ("Notification", None),
            ],
            also_sent: &[],
            not_installed: &[],
        }),
        setup: Some(setup::gemini_cli::plan),
        fixtures: Fixtures::Recorded("gemini-cli-0.61.0"),
        control: Control {
            sigint: "the outer Gemini CLI process ignores it and does not pass it on: nothing happens",
            sigint_interrupts: false,
            keys: Keys {
                presses: ESC,
                name: "Esc",
                effect: "Gemini CLI cancels the request (\"Request cancelled.\") and waits for the next prompt",
            },
            shared: None,
            resume: Some(&["gemini", "--resume", "{id}"]),
            resume_headless: Some(&["gemini", "--resume", "{id}", "-p", "{prompt}"]),
            source: "Gemini CLI 0.61.0, run (2026-12-03): `--resume <uuid>` works though --help names \
                     only `latest` or an index, in the session's own project directory only (exit 42 \
                     elsewhere); two node processes, the outer ignoring INT/TERM/HUP, so a kill takes \
                     the tree; Esc typed through `observatory run` stopped a streaming turn (\"Request \
                     cancelled.\") and gemini ran on",
        },
        answers: Err(
            "Gemini CLI's hooks cannot grant a tool confirmation (0.61.0: BeforeTool can only deny or \
             force the dialog; its policy engine decides): answer it in its terminal",
        ),
    },
    Spec {
        agent: Agent::CopilotCli,
        display_name: "Copilot CLI",
        names: &["copilot-cli", "copilot"],
        telemetry: Telemetry {
            // `github-copilot` by default (`OTEL_SERVICE_NAME`).
            service_names: &[ServiceName::Contains("copilot")],
            scopes: &["github.copilot"],
        },
        otlp: OtlpAdapter {
            logs: normalize::copilot_cli::logs,
            spans: normalize::copilot_cli::spans,
            metrics: normalize::copilot_cli::metrics,
        },
        hooks: Some(Hooks {
            dialect: HookDialect::HooksFileCommand,
            read: hooks::copilot_cli::normalize,
            reads: hooks::copilot_cli::EVENTS,
            installs: &[
                ("sessionStart", None),
                ("sessionEnd", None),
                ("userPromptSubmitted", None),
                ("preToolUse", None),
                ("postToolUse", None),
                ("postToolUseFailure", None),
                ("permissionRequest", None),
                ("agentStop", None),
                ("subagentStart", None),
                ("subagentStop", None),
                ("errorOccurred", None),
                ("notification", None),
                ("preCompact", None),
            ],
            also_sent: &[],
            not_installed: &[
                ("UserPromptSubmit", COPILOT_PASCAL_CASE),
                ("Stop", COPILOT_PASCAL_CASE),
            ],
        }),
        setup: Some(setup::copilot_cli::plan),
        fixtures: Fixtures::Recorded("copilot-cli-1.0.102"),
        control: Control {
            sigint: "its node loader ignores it and does not pass it on to the native binary: nothing happens",
            sigint_interrupts: false,
            keys: Keys {
                presses: CTRL_C,
                name: "Ctrl-C",
                effect: "Copilot CLI cancels the operation (\"Operation cancelled by user\"); when idle, a single Ctrl-C only arms its exit",
            },
            shared: None,
            resume: Some(&["copilot", "--resume={id}"]),
            resume_headless: Some(&["copilot", "-p", "{prompt}", "--resume={id}"]),
            source: "Copilot CLI 1.0.102, run (2026-12-03): `--resume=<uuid>` from any directory, \
                     `-p <prompt> --resume=<uuid>`; a node loader runs the native binary and forwards \
                     no signal, so a kill takes the tree; Ctrl-C typed through `observatory run` stopped \
                     a streaming turn (\"Operation cancelled by user\"); a second one when idle exits it",
        },
        answers: Ok(Answers {
            events: &["permissionRequest"],
            format: DecisionFormat::Flat,
            prompt_after_hook: true,
            opt_in: Some(
                "Copilot CLI asks its permissionRequest hook before every tool call, also ones it \
                 then allows itself (commands that never ask, \"don't ask again\" rules, \
                 --allow-all-tools), and waits for it: holding it for the phone would hold up \
                 every call",
            ),
            // With these it sends permissionRequest though it then allows the call itself
            // (seen with --allow-all-tools: the hook was waited on, then no dialog), or runs
            // headless (-p).
            no_wait: NoWait {
                env: None,
                args: &["--allow-all", "--yolo", "-p", "--prompt"],
                // --allow-all-tools does not cover paths outside the project: those still get
                // a dialog (verified with 1.0.102), so a person may yet be asked.
                some_args: &["--allow-tool", "--allow-all-tools"],
                // Seen with 1.0.102: a prompt on a piped stdin runs headless, and a call that
                // would ask is denied at once ("no one to approve").
                tty: true,
            },
            source: "Copilot CLI 1.0.102 (2026-12-03): the camelCase permissionRequest hook's top-level \
                     {\"behavior\":\"allow\"} and deny with a message, verified (Claude's nested form is \
                     ignored); its dialog shows only after the hook returns; it asks the hook before \
                     every tool call, dialog or not (commands that never ask, saved \"don't ask again\" \
                     rules, --allow-tool, --allow-all-tools: same payload), and waits for it; a \
                     `notification` of type permission_prompt follows 5-21 ms later exactly when a \
                     dialog goes on screen (20 notifications, 18 dialogs over the TUI runs: parallel \
                     calls queue), never without one; under -p or with the prompt on a piped stdin \
                     the same notification comes and the call is denied at once (\"no one to \
                     approve\"); the hook's parent is the copilot process (argv, fd 0 read there); \
                     --allow-all-tools still shows a dialog (and its notification) for paths outside \
                     the project, --allow-all and --yolo do not; Esc in a dialog fires no hook, and \
                     the turn's span ends \"Operation aborted\" (cancelled)",
        }),
    },
    Spec {
        agent: Agent::Opencode,
        display_name: "OpenCode",
        names: &[],
        telemetry: Telemetry {
            service_names: &[ServiceName::Exact("opencode")],
            scopes: &[],
        },
        otlp: OtlpAdapter {
            logs: normalize::opencode::logs,
            spans: normalize::opencode::spans,
            metrics: normalize::opencode::metrics,
        },
        hooks: Some(Hooks {
            dialect: HookDialect::Plugin,
            read: hooks::opencode::normalize,
            reads: hooks::opencode::EVENTS,
            // config/agents/opencode-plugin.js: its hooks, and every bus event as `event.<type>`
            // but the streamed chunks; `dispose` once per session as OpenCode exits normally.
            // Seen with OpenCode 1.18.33 (2026-12-03): it awaits a plugin's `dispose` on every
            // normal exit (`opencode run` done, 0, or after a model error, 1; the TUI's /exit,
            // Ctrl-C, SIGTERM, SIGHUP, a closed terminal: 0), never on SIGKILL or a signal to
            // `opencode run` (143/130/129); under `opencode run` an ask is rejected (approved
            // with --auto) 5-14 ms after `permission.asked`, and the plugin, loaded on the main
            // thread with run's argv (the TUI loads it in a Worker), says nobody is asked;
            // `server.instance.disposed` and `global.disposed`
            // never reach a plugin's `event`; `process.on("exit")` runs in `run` only (the TUI
            // runs plugins in a Worker).
            installs: &[
                ("tool.execute.before", None),
                ("tool.execute.after", None),
                ("chat.message", None),
                ("event.*", None),
                ("dispose", None),
            ],
            also_sent: &[],
            not_installed: &[(
                "permission.ask",
                "OpenCode 1.18.33 never calls plugins' permission.ask: the bus event \
                 `permission.asked` reports the prompt, and our plugin answers it through \
                 OpenCode's own client",
            )],
        }),
        setup: Some(setup::opencode::plan),
        fixtures: Fixtures::Recorded("opencode-1.18.33"),
        control: Control {
            sigint: "OpenCode exits",
            sigint_interrupts: false,
            keys: Keys {
                presses: ESC_TWICE,
                name: "Esc twice",
                effect: "OpenCode stops the turn (the first Esc arms it: \"esc again to interrupt\")",
            },
            shared: None,
            resume: Some(&["opencode", "-s", "{id}"]),
            resume_headless: Some(&["opencode", "run", "-s", "{id}", "{prompt}"]),
            source: "OpenCode 1.18.33, run (2026-12-03): `-s <ses_id>`, `run -s <ses_id> <message>` \
                     in the session's project (it hung from another directory; `run` rejects \
                     permission prompts unless --auto); Esc twice, 200 ms apart, typed through \
                     `observatory run` stopped a streaming turn (\"interrupted\")",
        },
        answers: Ok(Answers {
            events: &["event.permission.asked"],
            format: DecisionFormat::Plugin,
            prompt_after_hook: false,
            opt_in: None,
            no_wait: NoWait::NEVER,
            source: "OpenCode 1.18.33 (2026-12-03): plugins' permission.ask hook is never called; a \
                     plugin's event hook sees permission.asked (the dialog already on screen) and answers \
                     with client.postSessionIdPermissionsPermissionId, response once (the command ran) or \
                     reject (the turn stopped), verified; our plugin does that with the phone's answer: \
                     run through it, allow ran the command <=0.07 s after the POST and the dialog closed, \
                     reject stopped the turn (a deny message is not passed on: the reply takes none), a \
                     terminal answer settled the prompt in 0.03 s; OpenCode rejects open asks when it quits",
        }),
    },
    Spec {
        agent: Agent::Pi,
        display_name: "Pi",
        names: &[],
        telemetry: Telemetry {
            // The pi-otel extension; it follows the GenAI conventions (normalize::generic).
            service_names: &[ServiceName::Exact("pi")],
            scopes: &[],
        },
        otlp: OtlpAdapter {
            logs: normalize::generic::logs,
            spans: normalize::generic::spans,
            metrics: normalize::generic::metrics,
        },
        hooks: Some(Hooks {
            dialect: HookDialect::Plugin,
            read: hooks::pi::normalize,
            reads: hooks::pi::EVENTS,
            // config/agents/pi-extension.ts
            installs: &[
                ("session_start", None),
                ("agent_start", None),
                ("agent_end", None),
                ("turn_start", None),
                ("turn_end", None),
                ("tool_execution_start", None),
                ("tool_execution_end", None),
                ("session_shutdown", None),
            ],
            also_sent: &[],
            not_installed: &[],
        }),
        setup: Some(setup::pi::plan),
        fixtures: Fixtures::None(
            "not recorded yet: the real Pi CLI has not been run against the product \
             (its hook contract is our own extension's, tested in normalize/hooks/pi.rs)",
        ),
        control: Control {
            sigint: "Pi exits (status 130)",
            sigint_interrupts: false,
            keys: Keys {
                presses: ESC,
                name: "Esc",
                effect: "Pi aborts the operation (\"Operation aborted\") and waits for the next prompt",
            },
            shared: None,
            resume: Some(&["pi", "--session", "{id}"]),
            resume_headless: Some(&["pi", "-p", "--session", "{id}", "{prompt}"]),
            source: "Pi 0.73.1 (@mariozechner/pi-coding-agent), run (2026-12-03): `--session <uuid>` \
                     and `-p --session <uuid> <prompt>`, in the session's project (elsewhere a blocking \
                     \"Fork?\" question); Esc typed through `observatory run` stopped a streaming turn \
                     (\"Operation aborted\")",
        },
        answers: Err("Pi asks for no permissions by default (0.73.1): there is nothing to allow"),
    },
    Spec {
        agent: Agent::Generic,
        display_name: "Generic agent",
        names: &[],
        telemetry: Telemetry {
            service_names: &[],
            scopes: &[],
        },
        otlp: OtlpAdapter {
            logs: normalize::generic::logs,
            spans: normalize::generic::spans,
            metrics: normalize::generic::metrics,
        },
        hooks: None,
        setup: None,
        fixtures: Fixtures::None(
            "any OpenTelemetry GenAI emitter; its adapter is tested on Copilot CLI's recorded \
             spans (normalize/generic.rs)",
        ),
        control: Control {
            sigint: "whatever the program does with it",
            sigint_interrupts: true,
            keys: Keys {
                presses: CTRL_C,
                name: "Ctrl-C",
                effect: "what Ctrl-C typed in its terminal does",
            },
            shared: None,
            resume: None,
            resume_headless: None,
            source: "an unknown program: no resume command is known",
        },
        answers: Err("no way to answer this program's prompts is known"),
    },
];

/// The registry's entry for `agent`.
pub fn spec(agent: Agent) -> &'static Spec {
    // AGENTS is in Agent::ALL order (a test checks): the position is the index.
    let i = Agent::ALL.iter().position(|a| *a == agent).unwrap_or(0);
    &AGENTS[i]
}

/// The agent a name on a command line or in a URL names: its id or one of its other names.
pub fn by_name(name: &str) -> Option<&'static Spec> {
    AGENTS.iter().find(|s| s.is_named(name))
}

/// The agents that send hooks.
pub fn with_hooks() -> impl Iterator<Item = &'static Spec> {
    AGENTS.iter().filter(|s| s.hooks.is_some())
}

/// Which agent a resource's telemetry is: by `service.name`; by its scope when it names no
/// service; else generic.
pub fn recognise(service_name: &str, scope_name: &str) -> Agent {
    let by_service = AGENTS.iter().find(|s| {
        s.telemetry
            .service_names
            .iter()
            .any(|n| n.matches(service_name))
    });
    let unnamed = service_name.is_empty() || service_name.starts_with("unknown_service");
    let by_scope = || {
        AGENTS
            .iter()
            .find(|s| unnamed && !scope_name.is_empty() && s.telemetry.scopes.contains(&scope_name))
    };
    by_service
        .or_else(by_scope)
        .map_or(Agent::Generic, |s| s.agent)
}

/// Reads a decoded OTLP request: each scope's records go to the adapter of the agent its
/// resource and scope name.
pub fn read_otlp(request: Request, prices: &Prices, out: &mut Normalized) {
    match request {
        Request::Logs(req) => {
            for rl in req.resource_logs {
                for sl in rl.scope_logs {
                    let n = sl.log_records.len();
                    let (adapter, ctx) = route(&rl.resource, &sl.scope, Signal::Logs, prices);
                    (adapter.logs)(sl.log_records, &mut normalize::sink(ctx, out, n));
                }
            }
        }
        Request::Traces(req) => {
            for rs in req.resource_spans {
                for ss in rs.scope_spans {
                    let n = ss.spans.len();
                    let (adapter, ctx) = route(&rs.resource, &ss.scope, Signal::Traces, prices);
                    (adapter.spans)(ss.spans, &mut normalize::sink(ctx, out, n));
                }
            }
        }
        Request::Metrics(req) => {
            for rm in req.resource_metrics {
                for sm in rm.scope_metrics {
                    let n = sm.metrics.iter().map(normalize::data_points).sum();
                    let (adapter, ctx) = route(&rm.resource, &sm.scope, Signal::Metrics, prices);
                    (adapter.metrics)(sm.metrics, &mut normalize::sink(ctx, out, n));
                }
            }
        }
    }
}

fn route<'a>(
    resource: &'a Option<Resource>,
    scope: &'a Option<InstrumentationScope>,
    signal: Signal,
    prices: &'a Prices,
) -> (&'static OtlpAdapter, normalize::Ctx<'a>) {
    let attrs = normalize::resource_attrs(resource);
    let scope_name = normalize::scope_name(scope);
    let agent = recognise(attrs.str("service.name").unwrap_or(""), scope_name);
    let ctx = normalize::Ctx::new(agent, signal, attrs, scope_name, prices);
    (&spec(agent).otlp, ctx)
}

/// Reads one hook payload of `agent` with its hook adapter.
pub fn read_hook(agent: Agent, body: &[u8], hook: &Hook) -> Result<Vec<SessionEvent>, HookError> {
    match &spec(agent).hooks {
        Some(h) => hooks::read(h.read, body, hook),
        None => Err(HookError(format!(
            "{} agents send OpenTelemetry only, no hooks",
            agent.as_str()
        ))),
    }
}

/// `observatory setup <agent>`: the agent named on the command line, set up by its planner.
pub fn setup(args: &setup::SetupArgs) -> anyhow::Result<()> {
    let found = by_name(&args.agent).and_then(|s| s.setup.map(|p| (s, p)));
    let Some((spec, planner)) = found else {
        anyhow::bail!(
            "unknown agent {:?}: observatory setup knows {}",
            args.agent,
            setup_names().join(", ")
        );
    };
    setup::run(args, &spec.setup_target(), planner)
}

/// The names `observatory setup` shows for the agents it knows.
pub fn setup_names() -> Vec<&'static str> {
    AGENTS
        .iter()
        .filter(|s| s.setup.is_some())
        .map(|s| s.names.first().copied().unwrap_or(s.agent.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::testkit::fixtures as fixture;

    #[test]
    fn the_registry_is_in_agent_order_and_names_each_agent_once() {
        let order: Vec<Agent> = AGENTS.iter().map(|s| s.agent).collect();
        assert_eq!(order, Agent::ALL);
        let mut names = BTreeSet::new();
        for s in &AGENTS {
            assert_eq!(spec(s.agent).agent, s.agent);
            assert!(!s.display_name.is_empty());
            for n in std::iter::once(s.agent.as_str()).chain(s.names.iter().copied()) {
                assert!(names.insert(n), "{n} names two agents");
                assert_eq!(by_name(n).map(|f| f.agent), Some(s.agent));
            }
        }
        assert!(by_name("cursor").is_none());
    }

    #[test]
    fn telemetry_is_recognised_by_service_name_then_scope() {
        for s in &AGENTS {
            for n in s.telemetry.service_names {
                let name = match n {
                    ServiceName::Exact(x) | ServiceName::Prefix(x) | ServiceName::Contains(x) => x,
                };
                assert_eq!(recognise(name, ""), s.agent, "{name}");
            }
            for scope in s.telemetry.scopes {
                assert_eq!(recognise("", scope), s.agent, "{scope}");
                assert_eq!(recognise("unknown_service:node", scope), s.agent, "{scope}");
                assert_eq!(recognise("named-by-the-user", scope), Agent::Generic);
            }
        }
        assert_eq!(recognise("codex_cli_rs", ""), Agent::Codex);
        assert_eq!(recognise("github-copilot", ""), Agent::CopilotCli);
        assert_eq!(recognise("my-agent", "my.scope"), Agent::Generic);
        // The service name wins over a scope another agent uses.
        assert_eq!(recognise("opencode", "github.copilot"), Agent::Opencode);
    }

    /// Every agent with recorded telemetry: the fixtures are there, and each model they use has
    /// a price (a model we cannot price makes a session's cost unknown).
    #[test]
    fn every_agent_has_recorded_fixtures_and_a_price_for_each_model_they_use() {
        let prices = Prices::default();
        let mut missing: Vec<String> = Vec::new();
        for s in &AGENTS {
            let folder = match s.fixtures {
                Fixtures::Recorded(folder) => folder,
                Fixtures::None(why) => {
                    assert!(
                        !why.is_empty(),
                        "{}: say why there are no fixtures",
                        s.agent
                    );
                    continue;
                }
            };
            let root = fixture::dir(folder, "");
            let scenarios: Vec<_> = std::fs::read_dir(&root)
                .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
                .flatten()
                .filter(|e| e.path().join("otlp").is_dir())
                .collect();
            assert!(!scenarios.is_empty(), "{}: no recorded scenario", s.agent);
            let mut models = BTreeSet::new();
            for scenario in scenarios {
                let mut out = Normalized::default();
                for b in fixture::bodies(&scenario.path()) {
                    read_otlp(fixture::decode(&b), &prices, &mut out);
                }
                assert!(
                    out.events.iter().any(|e| e.agent == s.agent),
                    "{}: {} is not recognised as its agent's",
                    s.agent,
                    scenario.path().display()
                );
                models.extend(out.events.into_iter().map(|e| e.event.model));
            }
            models.remove("");
            assert!(
                !models.is_empty(),
                "{}: the fixtures name no model",
                s.agent
            );
            missing.extend(
                models
                    .into_iter()
                    .filter(|m| prices.lookup(m).is_none())
                    .map(|m| format!("{}: {m}", s.agent)),
            );
        }
        assert!(missing.is_empty(), "models without a price: {missing:?}");
    }

    #[test]
    fn who_a_request_reaches_follows_the_agent_s_environment_and_command_line() {
        let copilot = &spec(Agent::CopilotCli)
            .answers
            .as_ref()
            .expect("answers")
            .no_wait;
        let argv = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let asks = |a: &[&str]| copilot.asks(None, &argv(a), Some(true));
        assert_eq!(asks(&["copilot", "--allow-all"]), Asks::Nobody);
        assert_eq!(
            asks(&["copilot", "--allow-all-tools"]),
            Asks::Maybe,
            "paths outside the project still ask"
        );
        assert_eq!(asks(&["copilot", "-p", "fix it"]), Asks::Nobody);
        assert_eq!(
            asks(&["copilot", "--allow-tool=shell(git:*)"]),
            Asks::Maybe,
            "other tools still ask"
        );
        assert_eq!(asks(&["copilot", "--model", "x"]), Asks::Person);
        assert_eq!(asks(&["--allow-all-tools"]), Asks::Person, "not argv[0]");
        let copilot_argv = argv(&["copilot"]);
        assert_eq!(
            copilot.asks(None, &copilot_argv, Some(false)),
            Asks::Nobody,
            "a prompt piped in"
        );
        assert_eq!(copilot.asks(None, &copilot_argv, None), Asks::Person);
        let claude = &spec(Agent::ClaudeCode)
            .answers
            .as_ref()
            .expect("answers")
            .no_wait;
        let zero = std::ffi::OsStr::new("0");
        assert_eq!(claude.asks(Some(zero), &[], None), Asks::Nobody);
        assert_eq!(
            claude.asks(Some(std::ffi::OsStr::new("1")), &[], Some(false)),
            Asks::Person
        );
        assert_eq!(
            claude.asks(None, &argv(&["claude", "-p"]), None),
            Asks::Person,
            "Claude says so by env"
        );
    }

    #[test]
    fn decisions_print_in_each_agent_s_format() {
        let claude = DecisionFormat::HookSpecificOutput.render("PermissionRequest", true, "");
        assert_eq!(
            claude,
            r#"{"hookSpecificOutput":{"decision":{"behavior":"allow"},"hookEventName":"PermissionRequest"}}"#
        );
        let deny = DecisionFormat::HookSpecificOutput.render("PermissionRequest", false, "no");
        assert!(
            deny.contains(r#""decision":{"behavior":"deny","message":"no"}"#),
            "{deny}"
        );
        let copilot = DecisionFormat::Flat.render("permissionRequest", false, "not now");
        assert_eq!(copilot, r#"{"behavior":"deny","message":"not now"}"#);
        let answerable: Vec<&str> = AGENTS
            .iter()
            .filter(|s| s.answers.is_ok())
            .map(|s| s.agent.as_str())
            .collect();
        assert_eq!(
            answerable,
            ["claude_code", "codex", "copilot_cli", "opencode"]
        );
    }

    /// Whether the state machine moves a session on this kind of event by itself (a prompt, a
    /// question or permission prompt, a turn's or the session's end), not only as activity.
    fn moves_a_session(kind: EventKind) -> bool {
        use crate::session::state::{Arrival, State, on_event};
        let arrival = Arrival {
            kind,
            time: 2,
            state_since: 1,
            current_turn: true,
            new_turn: false,
            closed_turn: false,
            stops: false,
            new_session: false,
        };
        [State::Active, State::Idle]
            .into_iter()
            .any(|s| on_event(s, arrival).is_some())
    }

    fn covers(installed: &str, event: &str) -> bool {
        match installed.strip_suffix('*') {
            Some(prefix) => event.starts_with(prefix),
            None => installed == event,
        }
    }

    /// Setup and the hook adapter agree: every event setup installs (or makes the agent send
    /// otherwise) is one the adapter reads, and every event the adapter turns into a state
    /// change is one setup installs — else a session would wait for a signal that never comes.
    #[test]
    fn setup_installs_the_hook_events_the_adapter_reads() {
        for s in with_hooks() {
            let h = s.hooks.as_ref().expect("hooks");
            assert!(
                !h.reads.is_empty(),
                "{}: the adapter reads no event",
                s.agent
            );
            let reads = |event: &str| h.reads.iter().any(|(name, _)| covers(event, name));
            for (event, _) in h.installs {
                assert!(
                    reads(event),
                    "{}: setup installs {event}, never read",
                    s.agent
                );
            }
            for event in h.also_sent {
                assert!(reads(event), "{}: {event} is sent, never read", s.agent);
            }
            for (event, why) in h.not_installed {
                assert!(reads(event) && !why.is_empty(), "{}: {event}", s.agent);
                assert!(
                    !h.installs.iter().any(|(i, _)| covers(i, event)),
                    "{}: {event} is installed after all",
                    s.agent
                );
            }
            let installed = |event: &str| {
                h.installs.iter().any(|(i, _)| covers(i, event))
                    || h.also_sent.contains(&event)
                    || h.not_installed.iter().any(|(e, _)| *e == event)
            };
            for (event, kind) in h.reads {
                if moves_a_session(*kind) {
                    assert!(
                        installed(event),
                        "{}: {event} moves a session ({kind:?}) but setup does not install it",
                        s.agent
                    );
                }
            }
        }
    }

    /// For agents whose hooks are a plugin file of ours, the file sends what the registry says.
    #[test]
    fn the_plugin_files_send_the_installed_events() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/agents");
        for (agent, file) in [
            (Agent::Opencode, "opencode-plugin.js"),
            (Agent::Pi, "pi-extension.ts"),
        ] {
            let h = spec(agent).hooks.as_ref().expect("hooks");
            assert_eq!(h.dialect, HookDialect::Plugin);
            let text = std::fs::read_to_string(dir.join(file)).expect("plugin file");
            for (event, _) in h.installs {
                let sent = match event.strip_suffix('*') {
                    Some(prefix) => text.contains(&format!("`{prefix}${{type}}`")),
                    None => text.contains(&format!("\"{event}\"")),
                };
                assert!(sent, "{file} does not send {event}");
            }
        }
    }

    #[test]
    fn hooks_of_an_agent_without_hooks_are_refused() {
        let err = read_hook(Agent::Generic, b"{}", &Hook::default()).expect_err("no hooks");
        assert!(err.0.contains("OpenTelemetry only"), "{err}");
        assert_eq!(
            setup_names(),
            [
                "claude-code",
                "codex",
                "gemini-cli",
                "copilot-cli",
                "opencode",
                "pi"
            ]
        );
    }
}
