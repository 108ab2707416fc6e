//! Answers from the phone, against the real `observatory hook`: a stand-in agent
//! (`tests/standins/asker.py`, a Python process) runs the hook with a recorded permission request
//! and keeps what the hook printed. The hook reports the request with a key, waits, and prints
//! the agent's decision format when the phone answers — or exits printing nothing (the terminal's
//! prompt stays) when the prompt is answered in the terminal, the agent is gone, the server goes
//! away, or the wait runs out. Who may answer: a credential; from another device as `[access]
//! remote_answers` says.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Paired, Server, fixtures_root, opencode_driver};
use serde_json::{Value, json};

const CLAUDE_SESSION: &str = "cb477963-4b6f-40e1-8e01-103aaeb9e9b5";

/// SIGKILL to `pid`.
fn nix_kill(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(fixtures_root().join(path)).expect("fixture")
}

/// Claude Code's recorded PermissionRequest (the `denied` scenario: Bash `touch …`).
fn claude_request() -> String {
    fixture("claude-code-2.1.328/denied/hooks/0005-claude-PermissionRequest.json")
}

/// The same request from another session.
fn claude_request_in(session: &str) -> String {
    claude_request().replace(CLAUDE_SESSION, session)
}

/// A stand-in agent whose hook is waiting for an answer.
struct Asker {
    child: std::process::Child,
    hook_pid: u32,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Asker {
    fn start(server: &Server, agent: &str, payload: &str, hook_args: &[&str]) -> Asker {
        Asker::start_with(server, agent, payload, hook_args, &[])
    }

    /// With `env` added to the agent's (and so its hook's) environment.
    fn start_with(
        server: &Server,
        agent: &str,
        payload: &str,
        hook_args: &[&str],
        env: &[(&str, &str)],
    ) -> Asker {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("hook.json");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/asker.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .args([env!("CARGO_BIN_EXE_observatory"), &server.otlp_url("")])
            .args([agent, payload])
            .arg(&out)
            .args(hook_args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("asker output");
        let hook_pid = line
            .trim()
            .strip_prefix("hook ")
            .and_then(|p| p.parse().ok())
            .expect("hook pid");
        Asker {
            child,
            hook_pid,
            out,
            _dir: dir,
        }
    }

    /// What the hook printed and its exit code, once it exited (within `within`).
    async fn hook_result(&self, within: Duration) -> (String, i64) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.out) {
                let v: Value = serde_json::from_str(&text).expect("asker json");
                let stdout = v["stdout"].as_str().unwrap_or_default().to_owned();
                return (stdout, v["code"].as_i64().unwrap_or(-1));
            }
            assert!(
                Instant::now() < deadline,
                "the hook did not exit within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How long the hook ran, in ms, once it exited.
    fn took_ms(&self) -> f64 {
        let text = std::fs::read_to_string(&self.out).expect("the hook exited");
        let v: Value = serde_json::from_str(&text).expect("asker json");
        v["ms"].as_f64().expect("ms")
    }

    /// Waits (up to `within`) until the hook has exited, after `what` should have ended it.
    async fn until_hook_gone(&self, within: Duration, what: &str) {
        let deadline = Instant::now() + within;
        while self.hook_running() {
            assert!(Instant::now() < deadline, "the hook outlived {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn hook_running(&self) -> bool {
        observatory::procfs::read_stat(self.hook_pid).is_some_and(|s| !s.is_gone())
    }
}

impl Drop for Asker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Claude Code hook report straight to the server (no waiting hook), taken in.
async fn report_claude(server: &Server, payload: &Value) {
    let body = payload.to_string().into_bytes();
    let (status, ..) = server
        .post("/v1/hooks/claude_code", "application/json", body, false)
        .await;
    assert_eq!(status, 204);
}

/// `GET /api/prompts?session=…`.
async fn prompts(server: &Server, session: &str) -> Value {
    let (_, v) = server
        .get_json(&format!("/api/prompts?session={session}"))
        .await;
    v
}

/// The session's prompts, waiting until one is pending.
async fn pending(server: &Server, session: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = prompts(server, session).await;
        if let Some(p) = v["prompts"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["state"] == "pending"))
        {
            return p.clone();
        }
        assert!(Instant::now() < deadline, "no pending prompt: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The session was seen, and asks nobody: not awaiting permission, no prompt, no alert.
async fn needs_nobody(server: &Server, session: &str) {
    let (status, s) = server.get_json(&format!("/api/sessions/{session}")).await;
    assert_eq!(status, 200, "{s}");
    assert_ne!(s["state"], "awaiting_permission", "{s}");
    let v = prompts(server, session).await;
    assert_eq!(v["prompts"], json!([]), "no prompt: {v}");
    let (_, v) = server.get_json("/api/alerts").await;
    assert_eq!(v["alerts"], json!([]), "no needs-you: {v}");
}

async fn answer(
    server: &Server,
    device: &Paired,
    prompt: &Value,
    decision: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let id = prompt["id"].as_str().expect("id");
    let path = format!("/api/prompts/{id}/{decision}");
    device
        .send(server, reqwest::Method::POST, &path, body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_from_the_phone_is_printed_by_the_waiting_hook_in_claude_s_format() {
    let server = Server::start().await;
    let phone = server.pair("Pixel 8").await;
    let asker = Asker::start(&server, "claude_code", &claude_request(), &[]);
    let session = format!("claude_code:{CLAUDE_SESSION}");
    let prompt = pending(&server, &session).await;
    assert_eq!(
        (prompt["tool"].as_str(), prompt["detail"].as_str()),
        (Some("Bash"), Some("touch created_by_agent.txt"))
    );
    assert_eq!(prompt["answerable"], true, "{prompt}");
    assert!(asker.hook_running(), "the hook waits");

    // Claude's notification of the same ask is not a second prompt.
    let notice = json!({"session_id": CLAUDE_SESSION, "hook_event_name": "Notification",
        "notification_type": "permission_prompt", "message": "Claude needs your permission to use Bash"});
    report_claude(&server, &notice).await;
    let v = prompts(&server, &session).await;
    assert_eq!(v["prompts"].as_array().map(Vec::len), Some(1), "{v}");

    let (status, v) = answer(&server, &phone, &prompt, "allow", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["prompt"]["state"], "allowed");
    assert_eq!(v["prompt"]["by"], "Pixel 8");
    assert_eq!(v["prompt"]["delivered"], true, "the hook took it: {v}");
    let (stdout, code) = asker.hook_result(Duration::from_secs(5)).await;
    assert_eq!(code, 0);
    let printed: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(
        printed,
        json!({"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}})
    );

    let (status, v) = answer(&server, &phone, &prompt, "deny", None).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (409, Some("already allowed from Pixel 8"))
    );
    let (_, audit) = server.get_json("/api/audit").await;
    let answers: Vec<&Value> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "answer")
        .collect();
    assert_eq!(answers.len(), 2, "{audit}");
    assert_eq!(answers[1]["outcome"], "ok");
    assert_eq!(answers[1]["device_name"], "Pixel 8");
    assert_eq!(answers[1]["target"], session.as_str());
    let detail = answers[1]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("allowed Bash: touch created_by_agent.txt")
            && detail.contains("the agent's hook took it"),
        "{detail}"
    );
    assert_eq!(answers[0]["outcome"], "refused", "the second answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_agent_s_prompt_is_answered_like_its_parent_s() {
    // Claude Code runs a sub-agent's PermissionRequest hook in the parent's session, with the
    // sub-agent's `agent_id` and `agent_type` (as its other hooks: the `subagent` recording).
    let server = Server::start().await;
    let phone = server.pair("Pixel 8").await;
    let mut payload: Value = serde_json::from_str(&claude_request_in("sub-1")).expect("json");
    payload["agent_id"] = json!("a3dffbc7ce055e4f6");
    payload["agent_type"] = json!("general-purpose");
    let asker = Asker::start(&server, "claude_code", &payload.to_string(), &[]);
    let prompt = pending(&server, "claude_code:sub-1").await;
    assert_eq!(prompt["answerable"], true, "{prompt}");
    let (status, v) = answer(
        &server,
        &phone,
        &prompt,
        "deny",
        Some(json!({"message": "not now"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (stdout, code) = asker.hook_result(Duration::from_secs(5)).await;
    assert_eq!(code, 0);
    let printed: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(
        printed["hookSpecificOutput"]["decision"],
        json!({"behavior": "deny", "message": "not now"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_reaches_copilot_and_codex_in_their_own_formats() {
    // Copilot CLI's answers are opt-in (it asks its hook before every tool call).
    let server = Server::start_with(|c| c.answers.opt_in = vec!["copilot_cli".into()]).await;
    let phone = server.pair("Pixel 8").await;
    // Copilot CLI's recorded permissionRequest: its hook runs with `--event`, and prints the
    // flat form.
    let copilot = fixture("copilot-cli-1.0.102/bash/hooks/0004-copilot-permissionRequest.json");
    let asker = Asker::start(
        &server,
        "copilot_cli",
        &copilot,
        &["--event", "permissionRequest"],
    );
    let prompt = pending(&server, "copilot_cli:2dfb2bc5-2735-4d6e-8b24-4947fed1d9c2").await;
    assert!(
        prompt["holds_terminal_prompt_until_unix_nano"].as_i64() > Some(0),
        "Copilot shows its dialog only after the hook: {prompt}"
    );
    let body = json!({"message": "not now"});
    let (status, v) = answer(&server, &phone, &prompt, "deny", Some(body)).await;
    assert_eq!(
        (status, v["prompt"]["state"].as_str()),
        (200, Some("denied")),
        "{v}"
    );
    let (stdout, _) = asker.hook_result(Duration::from_secs(5)).await;
    let printed: Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(printed, json!({"behavior": "deny", "message": "not now"}));

    // Codex's PermissionRequest has Claude Code's shape (no recording: the recorded Codex runs
    // approved everything); it prints the nested form.
    let codex = json!({"session_id": "01a2016c-7bc6-7e70-9f1e-3c2b1a0f9e8d", "hook_event_name": "PermissionRequest",
        "cwd": "/tmp", "tool_name": "shell", "tool_input": {"command": "cargo test"}});
    let asker = Asker::start(&server, "codex", &codex.to_string(), &[]);
    let prompt = pending(&server, "codex:01a2016c-7bc6-7e70-9f1e-3c2b1a0f9e8d").await;
    let (status, _) = answer(&server, &phone, &prompt, "deny", None).await;
    assert_eq!(status, 200);
    let (stdout, _) = asker.hook_result(Duration::from_secs(5)).await;
    let printed: Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(
        printed["hookSpecificOutput"]["decision"],
        json!({"behavior": "deny", "message": "Denied by the user from Pixel 8"})
    );
    assert_eq!(
        printed["hookSpecificOutput"]["hookEventName"],
        "PermissionRequest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_in_the_terminal_first_lets_the_hook_go_at_once() {
    let server = Server::start().await;
    let phone = server.pair("Pixel 8").await;
    let asker = Asker::start(&server, "claude_code", &claude_request(), &[]);
    let session = format!("claude_code:{CLAUDE_SESSION}");
    let prompt = pending(&server, &session).await;
    // The person pressed 1 in the terminal: the tool ran, and its PostToolUse is the session's
    // next report.
    let mut next: Value = serde_json::from_str(&claude_request()).expect("json");
    next["hook_event_name"] = "PostToolUse".into();
    next["tool_response"] = json!({"stdout": "", "stderr": "", "interrupted": false});
    let reported = Instant::now();
    report_claude(&server, &next).await;
    let (stdout, code) = asker.hook_result(Duration::from_secs(2)).await;
    assert!(
        reported.elapsed() < Duration::from_secs(1),
        "{:?}",
        reported.elapsed()
    );
    assert_eq!(
        (stdout.as_str(), code),
        ("", 0),
        "nothing printed: the terminal's answer stands"
    );
    let (status, v) = answer(&server, &phone, &prompt, "allow", None).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (409, Some("already answered in the terminal"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_gives_up_when_its_agent_is_gone_the_server_goes_or_the_wait_ends() {
    // The agent goes: its hook exits printing nothing, the prompt says so.
    let mut server = Server::start().await;
    let mut asker = Asker::start(&server, "claude_code", &claude_request(), &[]);
    let session = format!("claude_code:{CLAUDE_SESSION}");
    pending(&server, &session).await;
    let _ = asker.child.kill();
    let _ = asker.child.wait();
    asker
        .until_hook_gone(Duration::from_secs(7), "its agent")
        .await;
    let v = prompts(&server, &session).await;
    assert_eq!(v["prompts"][0]["state"], "agent_gone", "{v}");

    // The agent ends the hook (Claude Code kills it when the terminal's answer wins; Copilot CLI
    // on a cancel): the prompt is settled once no request of its hook has come for a moment.
    let ended = "5c4b3a29-1807-4f6e-9d8c-7b6a5f4e3d2c";
    let asker = Asker::start(&server, "claude_code", &claude_request_in(ended), &[]);
    let session = format!("claude_code:{ended}");
    pending(&server, &session).await;
    let _ = nix_kill(asker.hook_pid);
    asker
        .until_hook_gone(Duration::from_secs(5), "SIGKILL")
        .await;
    server.clock().advance(Duration::from_secs(4));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = prompts(&server, &session).await;
        if v["prompts"][0]["state"] == "answered_in_terminal" {
            break;
        }
        assert!(Instant::now() < deadline, "not settled: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The wait runs out ([answers] wait_secs on the server's clock).
    let waits = "2b4f1c3e-0d9a-4e8b-a7c6-5f3e2d1c0b9a";
    let asker = Asker::start(&server, "claude_code", &claude_request_in(waits), &[]);
    let session = format!("claude_code:{waits}");
    pending(&server, &session).await;
    server.clock().advance(Duration::from_secs(601));
    let (stdout, code) = asker.hook_result(Duration::from_secs(3)).await;
    assert_eq!((stdout.as_str(), code), ("", 0));
    let v = prompts(&server, &session).await;
    assert_eq!(v["prompts"][0]["state"], "expired", "{v}");

    // The server goes away while the hook waits.
    let away = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918";
    let asker = Asker::start(&server, "claude_code", &claude_request_in(away), &[]);
    pending(&server, &format!("claude_code:{away}")).await;
    server.stop().await;
    let (stdout, code) = asker.hook_result(Duration::from_secs(8)).await;
    assert_eq!((stdout.as_str(), code), ("", 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copilot_is_not_held_up_unless_its_answers_are_opted_in() {
    // Copilot CLI asks its permissionRequest hook before every tool call, dialog or not: without
    // opt_in the hook does not hold it and it needs nobody; the `permission_prompt`
    // notification that comes with a dialog does, without buttons, saying how to get them.
    let server = Server::start().await;
    let session = "copilot_cli:2dfb2bc5-2735-4d6e-8b24-4947fed1d9c2";
    let copilot = fixture("copilot-cli-1.0.102/bash/hooks/0004-copilot-permissionRequest.json");
    let asker = Asker::start(
        &server,
        "copilot_cli",
        &copilot,
        &["--event", "permissionRequest"],
    );
    let (stdout, code) = asker.hook_result(Duration::from_secs(3)).await;
    assert_eq!((stdout.as_str(), code), ("", 0));
    // Told by the report's answer (202) that no answer comes: it does not ask for one, which
    // the server would hold for its registration grace (2 s) before saying it knows no such key.
    let took = asker.took_ms();
    assert!(took < 1500.0, "held up for {took} ms");
    let v = prompts(&server, session).await;
    assert_eq!(v["prompts"], json!([]), "a call about to run: {v}");

    let notification = json!({"sessionId": "2dfb2bc5-2735-4d6e-8b24-4947fed1d9c2",
        "hook_event_name": "Notification", "notification_type": "permission_prompt",
        "title": "Permission needed", "message": "Run command: touch x"});
    let asker = Asker::start(
        &server,
        "copilot_cli",
        &notification.to_string(),
        &["--event", "notification"],
    );
    asker.hook_result(Duration::from_secs(3)).await;
    let prompt = pending(&server, session).await;
    assert_eq!(prompt["answerable"], false, "{prompt}");
    assert!(
        prompt["why_not"]
            .as_str()
            .unwrap_or_default()
            .contains("opt_in"),
        "says how to turn it on: {prompt}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copilot_run_with_its_prompt_on_a_pipe_needs_nobody() {
    // `copilot -p`, or a prompt piped in: Copilot 1.0.102 still sends its permission_prompt
    // notification, then denies the call itself ("no one to approve").
    let server = Server::start_with(|c| c.answers.opt_in = vec!["copilot_cli".into()]).await;
    let notification = json!({"sessionId": "piped-1", "hook_event_name": "Notification",
        "notification_type": "permission_prompt", "message": "Run command: touch x"});
    let piped = [("ASKER_PIPED", "1")];
    for (event, payload) in [
        (
            "permissionRequest",
            fixture("copilot-cli-1.0.102/bash/hooks/0004-copilot-permissionRequest.json")
                .replace("2dfb2bc5-2735-4d6e-8b24-4947fed1d9c2", "piped-1"),
        ),
        ("notification", notification.to_string()),
    ] {
        let asker = Asker::start_with(
            &server,
            "copilot_cli",
            &payload,
            &["--event", event],
            &piped,
        );
        let (stdout, code) = asker.hook_result(Duration::from_secs(3)).await;
        assert_eq!((stdout.as_str(), code), ("", 0), "{event}: not held");
    }
    needs_nobody(&server, "copilot_cli:piped-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_s_prompt_needs_you_without_buttons_and_says_why() {
    // Gemini CLI's hooks cannot grant a confirmation: its ToolPermission notification is a
    // prompt the phone sees, with the reason, and an answer is refused rather than lost.
    let server = Server::start().await;
    let phone = server.pair("Pixel 8").await;
    let payload = json!({
        "session_id": "g1", "hook_event_name": "Notification", "cwd": "/tmp",
        "notification_type": "ToolPermission", "message": "Allow execution?",
        "details": {"tool_name": "run_shell_command"}
    });
    let asker = Asker::start(&server, "gemini_cli", &payload.to_string(), &[]);
    let (stdout, code) = asker.hook_result(Duration::from_secs(3)).await;
    assert_eq!((stdout.as_str(), code), ("", 0), "never waits");
    let prompt = pending(&server, "gemini_cli:g1").await;
    assert_eq!(prompt["answerable"], false, "{prompt}");
    assert_eq!(prompt["tool"], "run_shell_command", "{prompt}");
    assert!(
        prompt["why_not"]
            .as_str()
            .unwrap_or_default()
            .contains("Gemini CLI's hooks cannot grant"),
        "{prompt}"
    );
    let (status, v) = answer(&server, &phone, &prompt, "allow", None).await;
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unattended_claude_run_is_never_held_up_and_needs_nobody() {
    // `claude -p` gives its hooks CLAUDE_CODE_SESSION_ATTENDED=0: nobody is at a dialog, the
    // request is settled by the run's own rules, and a headless run must not wait for a phone
    // nor tell the phone it "needs you".
    let server = Server::start().await;
    let attended = [("CLAUDE_CODE_SESSION_ATTENDED", "0")];
    let asker = Asker::start_with(&server, "claude_code", &claude_request(), &[], &attended);
    let (stdout, code) = asker.hook_result(Duration::from_secs(2)).await;
    assert_eq!((stdout.as_str(), code), ("", 0), "reported, not waited on");
    let session = format!("claude_code:{CLAUDE_SESSION}");
    // A report after it, through the same hook binary, to know the request was taken in.
    let stop = claude_request().replace("\"PermissionRequest\"", "\"Stop\"");
    let after = Asker::start_with(&server, "claude_code", &stop, &[], &attended);
    after.hook_result(Duration::from_secs(2)).await;
    needs_nobody(&server, &session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_answer_a_credential_and_from_elsewhere_as_remote_answers_says() {
    let server = Server::start_with(|c| {
        c.access.remote_answers = observatory::access::RemoteAnswers::DenyOnly;
    })
    .await;
    let phone = server.pair("Pixel 8").await;
    let _asker = Asker::start(&server, "claude_code", &claude_request(), &[]);
    let prompt = pending(&server, &format!("claude_code:{CLAUDE_SESSION}")).await;
    let id = prompt["id"].as_str().expect("id");

    let resp = server
        .http
        .post(server.app_url(&format!("/api/prompts/{id}/allow")))
        .header("x-observatory", "1")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 401, "no credential");

    let remote = |decision: &str| {
        server
            .http
            .post(server.app_url(&format!("/api/prompts/{id}/{decision}")))
            .header("cookie", &phone.cookie)
            .header("x-observatory", "1")
            .header("x-forwarded-for", "203.0.113.7")
            .send()
    };
    let resp = remote("allow").await.expect("post");
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.expect("json");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("remote_answers"),
        "says how to enable it: {v}"
    );
    let resp = remote("deny").await.expect("post");
    assert_eq!(resp.status(), 200, "deny is always allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_s_plugin_gives_opencode_the_phone_s_answer_through_its_client() {
    let server = Server::start().await;
    let phone = server.pair("Pixel 8").await;
    let (_dir, mut node) = opencode_driver(&server);
    let mut node = node
        .args(["ask", "ses_answers", "per_1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node");
    let mut out = std::io::BufReader::new(node.stdout.take().expect("stdout")).lines();
    assert_eq!(out.next().expect("a line").expect("utf-8"), "asked");
    let prompt = pending(&server, "opencode:ses_answers").await;
    assert_eq!(prompt["answerable"], true, "{prompt}");
    assert_eq!(prompt["detail"], "echo hi > fake_out.txt", "{prompt}");
    let (status, v) = answer(&server, &phone, &prompt, "allow", None).await;
    assert_eq!(
        (status, v["prompt"]["delivered"].as_bool()),
        (200, Some(true)),
        "{v}"
    );
    let given: Value =
        serde_json::from_str(&out.next().expect("the answer").expect("utf-8")).expect("json");
    assert_eq!(
        given,
        json!({"path": {"id": "ses_answers", "permissionID": "per_1"}, "body": {"response": "once"}}),
        "OpenCode's own client call, one-shot"
    );
    assert!(node.wait().expect("node exits").success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ask_under_opencode_run_needs_nobody() {
    // `opencode run` rejects an ask itself within milliseconds: our plugin sees its own argv
    // and says nobody is asked.
    let server = Server::start().await;
    let (_dir, mut node) = opencode_driver(&server);
    let out = node
        .args(["run-ask", "ses_headless", "per_2"])
        .output()
        .expect("node");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "asked\n", "{out:?}");
    needs_nobody(&server, "opencode:ses_headless").await;
}
