//! `observatory hook <agent>`: the command agents run as their hook. It takes one hook payload
//! (stdin, or the last argument for Codex's `notify`), names the agent's process (pid and start
//! ticks, found by walking up past shells), and POSTs it unchanged to the server's
//! `/v1/hooks/{agent}` on the OTLP/HTTP port. It sits before ingest in the data flow and shares
//! with the server only the agent registry (which agents have hooks) and the `/proc` reader the
//! liveness check also uses (`crate::procfs`).
//!
//! Hooks fail open (DESIGN.md, security model): whatever happens — server down, slow, erroring,
//! garbage payload, stdin never closed — it prints nothing and exits 0 within its time budget, so
//! the agent never waits on us. The one exception is a permission request of an agent whose hook
//! can decide it (the registry's `answers`): having reported it with a key of its own, the hook
//! waits for an answer from the phone (`GET /v1/answers/{key}`, a long poll) and prints it in
//! the agent's format — or exits printing nothing, leaving the terminal's prompt, as soon as the
//! server says it was settled otherwise (answered in the terminal, agent gone, wait over), the
//! server cannot be reached, or the agent process is gone. A run whose agent asks nobody (run
//! headless, or allowing every call: the registry's `no_wait`, read from the hook's environment
//! and the agent's command line and stdin) says so with every report (`X-Observatory-Asks:
//! nobody`), so its requests make no "needs you". `OBSERVATORY_HOOK_DEBUG=1` prints what
//! happened to stderr, for people setting it up. `main.rs` calls it before any logging or runtime set-up: the whole
//! exchange must stay within a few milliseconds.

pub mod wire;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::agents;
use crate::procfs::agent_process;
use crate::setup::DEFAULT_ENDPOINT;

/// Larger payloads are not hook events worth holding an agent for; they are dropped whole
/// rather than cut (a cut JSON document is useless to the server).
pub const MAX_PAYLOAD: usize = 1 << 20;
/// However long `--timeout-ms` asks for, a hook never holds its agent longer than this.
const MAX_TIMEOUT_MS: u64 = 60_000;
/// One long poll for an answer: between two, the hook checks that its agent still runs.
const ANSWER_POLL_SECS: u64 = 5;
/// A waiting hook never waits longer than this, whatever the server says.
const MAX_ANSWER_WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Args)]
pub struct HookArgs {
    /// The agent whose hook this is: claude_code, codex, gemini_cli, copilot_cli, opencode, pi
    /// (claude-code, gemini-cli and copilot-cli also work).
    pub agent: String,
    /// The hook event's name, for agents whose payload does not carry it (sent as `?event=`).
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
    /// The server's OTLP/HTTP address, as http://host:port [default: http://127.0.0.1:4318]
    #[arg(long, value_name = "URL", env = "OBSERVATORY_HOOK_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Hard time budget in milliseconds: reading stdin, connecting, sending and reading the
    /// answer's status line all fit in it.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub timeout_ms: u64,
    /// The payload, for agents that pass it as an argument (Codex `notify`); without it the
    /// payload is read from stdin.
    #[arg(value_name = "PAYLOAD")]
    pub payload: Option<OsString>,
}

/// Always succeeds and prints nothing (unless `OBSERVATORY_HOOK_DEBUG=1`): a hook must never
/// fail or block its agent.
pub fn run(args: &HookArgs) {
    let started = Instant::now();
    let timeout = Duration::from_millis(args.timeout_ms.min(MAX_TIMEOUT_MS));
    let deadline = started.checked_add(timeout).unwrap_or(started);
    let outcome = forward(args, deadline);
    if let Ok(Sent {
        status: 204,
        waiting: Some(w),
        ..
    }) = &outcome
        && let Some(decision) = wait_for_answer(w)
    {
        // What the agent reads as the hook's decision; a closed stdout changes nothing.
        let _ = writeln!(std::io::stdout(), "{decision}");
    }
    if std::env::var_os("OBSERVATORY_HOOK_DEBUG").is_some_and(|v| v == "1") {
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let line = match outcome {
            Ok(sent) => format!(
                "observatory hook {}: sent {} bytes to {}, agent process {}: HTTP {} ({ms:.1} ms)",
                args.agent,
                sent.bytes,
                sent.url,
                sent.agent_process
                    .map_or("unknown".to_owned(), |(pid, start)| format!(
                        "pid {pid} (start {start})"
                    )),
                sent.status,
            ),
            Err(why) => format!(
                "observatory hook {}: nothing sent: {why} ({ms:.1} ms)",
                args.agent
            ),
        };
        // Even a closed stderr must not turn into a panic (and a non-zero exit).
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// Whether a command-line parse error should be swallowed (exit 0, silent) rather than reported
/// by clap with its exit code 2: true when `argv` runs `observatory hook`. A hook that fails to
/// parse must still fail open — and to Claude Code, exit code 2 means "block this tool call".
/// `main` asks this before letting clap report the error; help and version requests are not
/// errors and still print.
pub fn swallows_parse_error(err: &clap::Error, mut argv: impl Iterator<Item = OsString>) -> bool {
    let is_hook = argv.nth(1).is_some_and(|a| a == "hook");
    if is_hook
        && err.use_stderr()
        && std::env::var_os("OBSERVATORY_HOOK_DEBUG").is_some_and(|v| v == "1")
    {
        let _ = writeln!(std::io::stderr(), "observatory hook: nothing sent: {err}");
    }
    is_hook && err.use_stderr()
}

/// What one successful forward did, for the debug line.
struct Sent {
    url: String,
    bytes: usize,
    agent_process: Option<(u32, u64)>,
    status: u16,
    /// Set when the event was a decidable permission request: what to wait for.
    waiting: Option<Waiting>,
}

/// A permission request reported with a key, whose answer the hook waits for.
struct Waiting {
    endpoint: wire::Endpoint,
    key: String,
    event: String,
    format: agents::DecisionFormat,
    agent_process: Option<(u32, u64)>,
}

/// What the hook does with a payload beyond sending it.
enum Decidable {
    /// Not a permission request whose hook can decide it, or one that may be settled without
    /// a person: send it and go.
    No,
    /// The agent asks nobody (it settles every request itself): sent as such, so its
    /// permission requests and questions make no "needs you".
    Nobody,
    /// A permission request a person may answer: its event name and decision format.
    Wait(String, agents::DecisionFormat),
}

/// Whether a payload is a permission request the agent's hook can decide, and who the agent's
/// requests reach: a run that settles them all itself is told as such with every event.
fn decidable(name: &str, agent: Option<(u32, u64)>, flag: Option<&str>, body: &[u8]) -> Decidable {
    let Some(answers) = agents::AGENTS
        .iter()
        .find(|s| s.agent.as_str() == name)
        .and_then(|s| s.answers.as_ref().ok())
        .filter(|a| a.format != agents::DecisionFormat::Plugin)
    else {
        return Decidable::No;
    };
    let no_wait = &answers.no_wait;
    let env = no_wait.env.and_then(|(var, _)| std::env::var_os(var));
    let argv = match agent {
        Some((pid, _)) if no_wait.reads_argv() => crate::procfs::cmdline(pid),
        _ => Vec::new(),
    };
    let tty = agent
        .filter(|_| no_wait.tty)
        .and_then(|(pid, _)| crate::procfs::stdin_is_terminal(pid));
    let asks = no_wait.asks(env.as_deref(), &argv, tty);
    if asks == agents::Asks::Nobody {
        return Decidable::Nobody;
    }
    let named = match flag {
        Some(e) => Some(e.to_owned()),
        None => serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                let n = v
                    .get("hook_event_name")
                    .or_else(|| v.get("hookEventName"))
                    .or_else(|| v.get("hookName"))?;
                Some(n.as_str()?.to_owned())
            }),
    };
    match named {
        Some(n) if asks == agents::Asks::Person && answers.events.contains(&n.as_str()) => {
            Decidable::Wait(n, answers.format)
        }
        _ => Decidable::No,
    }
}

/// A fresh key for a prompt: 128 random bits, hex.
fn prompt_key() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Waits for the answer to a reported prompt: the decision as the agent reads it, or `None`
/// (print nothing) when it was settled otherwise, the server is gone, or so is the agent.
fn wait_for_answer(w: &Waiting) -> Option<String> {
    let started = Instant::now();
    let path = format!("/v1/answers/{}?wait_secs={ANSWER_POLL_SECS}", w.key);
    while started.elapsed() < MAX_ANSWER_WAIT {
        if let Some((pid, start)) = w.agent_process
            && crate::procfs::process_start_ticks(pid) != Some(start)
        {
            return None;
        }
        let deadline = Instant::now() + Duration::from_secs(ANSWER_POLL_SECS + 2);
        match wire::get(&w.endpoint, &path, deadline).ok()? {
            (204, _) => continue,
            (200, body) => {
                let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
                let allow = match v.get("decision")?.as_str()? {
                    "allow" => true,
                    "deny" => false,
                    _ => return None,
                };
                let message = v
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or_default();
                return Some(w.format.render(&w.event, allow, message));
            }
            _ => return None,
        }
    }
    None
}

fn forward(args: &HookArgs, deadline: Instant) -> Result<Sent, String> {
    let agent = canonical_agent(&args.agent).ok_or_else(|| {
        let known: Vec<&str> = agents::with_hooks().map(|s| s.agent.as_str()).collect();
        format!(
            "unknown agent {:?} (one of {})",
            args.agent,
            known.join(", ")
        )
    })?;
    let url = args
        .endpoint
        .as_deref()
        .filter(|e| !e.is_empty())
        .unwrap_or(DEFAULT_ENDPOINT);
    let endpoint = wire::Endpoint::parse(url)?;
    let body = match &args.payload {
        Some(arg) => payload_from_arg(arg)?,
        None => payload_from_stdin(deadline)?,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("empty payload".into());
    }
    let agent_process = agent_process();
    let (waiting, nobody) = match decidable(agent, agent_process, args.event.as_deref(), &body) {
        Decidable::Wait(event, format) => {
            let waiting = prompt_key().map(|key| Waiting {
                endpoint: endpoint.clone(),
                key,
                event,
                format,
                agent_process,
            });
            (waiting, false)
        }
        Decidable::Nobody => (None, true),
        Decidable::No => (None, false),
    };
    let asks = match &waiting {
        Some(w) => wire::Asks::Key(&w.key),
        None if nobody => wire::Asks::Nobody,
        None => wire::Asks::Unsaid,
    };
    let req = wire::request(
        &endpoint,
        agent,
        args.event.as_deref(),
        agent_process,
        asks,
        &body,
    );
    let status = wire::send(&endpoint, &req, deadline).map_err(|e| format!("{url}: {e}"))?;
    Ok(Sent {
        url: url.to_owned(),
        bytes: body.len(),
        agent_process,
        status,
        waiting,
    })
}

/// `claude-code` → `claude_code`; `None` for an agent without hooks.
pub fn canonical_agent(name: &str) -> Option<&'static str> {
    let snake = name.replace('-', "_");
    agents::with_hooks()
        .map(|s| s.agent.as_str())
        .find(|a| *a == snake)
}

fn payload_from_arg(arg: &OsString) -> Result<Vec<u8>, String> {
    // The bytes as the agent passed them, UTF-8 or not: the server judges the payload.
    let bytes = arg.as_encoded_bytes();
    if bytes.len() > MAX_PAYLOAD {
        return Err(format!(
            "payload of {} bytes is over {MAX_PAYLOAD}",
            bytes.len()
        ));
    }
    Ok(bytes.to_vec())
}

/// Reads stdin until it closes, holds a complete JSON document, runs over [`MAX_PAYLOAD`], or
/// the deadline passes. `std` cannot time out a read from stdin, so a thread reads and this one
/// waits with a timeout; a thread still blocked in `read` dies with the process.
fn payload_from_stdin(deadline: Instant) -> Result<Vec<u8>, String> {
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>();
    std::thread::Builder::new()
        .name("hook-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let got = match stdin.read(&mut chunk) {
                    Ok(n) => Ok(chunk.get(..n).unwrap_or_default().to_vec()),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let done = !matches!(&got, Ok(c) if !c.is_empty());
                if tx.send(got).is_err() || done {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start the stdin reader: {e}"))?;

    let mut buf = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(chunk)) if chunk.is_empty() => return Ok(buf),
            Ok(Ok(chunk)) => {
                buf.extend_from_slice(&chunk);
                if buf.len() > MAX_PAYLOAD {
                    return Err(format!("payload on stdin is over {MAX_PAYLOAD} bytes"));
                }
                // An agent that writes its payload but keeps stdin open still gets its event
                // through, without spending the budget waiting for an end of file.
                if is_complete_json(&buf) {
                    return Ok(buf);
                }
            }
            Ok(Err(e)) => return Err(format!("reading stdin: {e}")),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "stdin was not closed within the time budget ({} bytes read, not a complete JSON document)",
                    buf.len()
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(buf),
        }
    }
}

/// Whether `buf` is one whole JSON object or array. Checked only when the last byte that is not
/// whitespace closes one, so a large payload arriving in chunks is not re-parsed at every chunk.
fn is_complete_json(buf: &[u8]) -> bool {
    let last = buf.iter().rev().find(|b| !b.is_ascii_whitespace());
    matches!(last, Some(b'}' | b']'))
        && serde_json::from_slice::<serde::de::IgnoredAny>(buf).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names() {
        assert_eq!(canonical_agent("claude_code"), Some("claude_code"));
        assert_eq!(canonical_agent("claude-code"), Some("claude_code"));
        assert_eq!(canonical_agent("gemini-cli"), Some("gemini_cli"));
        assert_eq!(canonical_agent("copilot-cli"), Some("copilot_cli"));
        for a in agents::with_hooks().map(|s| s.agent.as_str()) {
            assert_eq!(canonical_agent(a), Some(a));
        }
        assert_eq!(canonical_agent("generic"), None);
        assert_eq!(canonical_agent("claude"), None);
        assert_eq!(canonical_agent("../claude_code"), None);
    }

    #[test]
    fn complete_json() {
        assert!(is_complete_json(br#"{"a":[1,2]}"#));
        assert!(is_complete_json(b"[1]\n"));
        assert!(!is_complete_json(br#"{"a":[1,2]"#));
        assert!(!is_complete_json(br#"{"a":"}"#));
        assert!(!is_complete_json(br#"{"a":1}{"b":"#));
        assert!(!is_complete_json(b"42"));
        assert!(!is_complete_json(b""));
    }
}
