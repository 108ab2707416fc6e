//! Live state over real sockets: hooks and telemetry replayed as recorded move sessions through
//! their states on the WebSocket feed; a permission prompt shows at once; an agent process that
//! dies is `crashed` (how soon is measured by `scripts/bench`).

mod common;

use std::time::{Duration, Instant};

use common::ws::{Ws, connect, frames_until_sentinel, next_frame};
use common::{Server, fixtures_root, opencode_driver, recording, stand_in_agent};

/// Posts a scenario's recorded requests, OTLP and hooks, in their recorded order.
async fn replay(server: &Server, agent_dir: &str, scenario: &str) {
    for r in recording(agent_dir, scenario) {
        let (status, _, body) = server.post(&r.path, r.content_type, r.bytes, false).await;
        assert!(
            status == 200 || status == 204,
            "{}: {status} {}",
            r.name,
            String::from_utf8_lossy(&body)
        );
    }
}

/// The states a session moved through, as the feed told them.
async fn transitions(server: &Server, ws: &mut Ws, session: &str) -> Vec<String> {
    frames_until_sentinel(server, ws)
        .await
        .into_iter()
        .map(|f| f["event"].clone())
        .filter(|e| e["kind"] == "state_changed" && e["session_id"] == session)
        .map(|e| e["state"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn hook_payload(agent_dir: &str, scenario: &str, file: &str) -> Vec<u8> {
    std::fs::read(
        fixtures_root()
            .join(agent_dir)
            .join(scenario)
            .join("hooks")
            .join(file),
    )
    .expect("hook fixture")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_sessions_show_their_transitions_over_the_feed_in_order() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // the permission prompt, answered (denied), then the turn ends and the session with it
        (
            "claude-code-2.1.328",
            "denied",
            "claude_code:cb477963-4b6f-40e1-8e01-103aaeb9e9b5",
            &["awaiting_permission", "active", "idle", "ended"],
        ),
        // every model call fails: the turn fails, then the session ends
        ("claude-code-2.1.328", "error500", "", &["errored", "ended"]),
        // Codex: the Stop hook and the notify program both say the turn is done: idle once
        ("codex-0.169.0", "bash", "", &["idle", "ended"]),
    ];
    for (agent_dir, scenario, session, expected) in cases {
        let mut server = Server::start().await;
        let (mut ws, _) = connect(&server, 0).await;
        replay(&server, agent_dir, scenario).await;
        let session = if session.is_empty() {
            let sessions = server.sessions().await;
            assert_eq!(sessions.len(), 1, "{scenario}: {sessions:?}");
            sessions[0]["id"].as_str().expect("id").to_owned()
        } else {
            (*session).to_owned()
        };
        assert_eq!(
            transitions(&server, &mut ws, &session).await,
            *expected,
            "{agent_dir}/{scenario}"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_request_hook_makes_the_session_awaiting_permission_at_once() {
    let mut server = Server::start_with(|c| c.live.tick_interval_ms = 50).await;
    let dir = "claude-code-2.1.328";
    for file in [
        "0001-claude-SessionStart.json",
        "0002-claude-UserPromptSubmit.json",
        "0004-claude-PreToolUse.json",
    ] {
        let body = hook_payload(dir, "denied", file);
        let (status, _, _) = server
            .post("/v1/hooks/claude_code", "application/json", body, false)
            .await;
        assert_eq!(status, 204, "{file}");
    }
    let (mut ws, hello) = connect(&server, 0).await;
    let since = hello["seq"].as_u64().unwrap_or(0);
    while next_frame(&mut ws)
        .await
        .is_some_and(|f| f["type"] != "tick")
    {}

    let body = hook_payload(dir, "denied", "0005-claude-PermissionRequest.json");
    let sent = Instant::now();
    let (status, _, _) = server
        .post("/v1/hooks/claude_code", "application/json", body, false)
        .await;
    assert_eq!(status, 204);
    // The hook is answered only once the state is stored: reading it now shows it.
    let (_, s) = server
        .get_json("/api/sessions/claude_code:cb477963-4b6f-40e1-8e01-103aaeb9e9b5")
        .await;
    assert_eq!(s["state"], "awaiting_permission", "{s}");
    assert_eq!(s["current_tool"], "Bash", "{s}");
    // ... and the feed carries the transition.
    let mut latency = None;
    while let Some(f) = next_frame(&mut ws).await {
        if f["type"] == "event" && f["event"]["kind"] == "state_changed" {
            assert!(f["event"]["seq"].as_u64() > Some(since));
            assert_eq!(f["event"]["state"], "awaiting_permission");
            assert_eq!(f["event"]["reason"], "permission_requested");
            latency = Some(sent.elapsed());
            break;
        }
    }
    let latency = latency.expect("no state_changed frame");
    eprintln!("PermissionRequest POST → awaiting_permission on the feed: {latency:?}");
    server.stop().await;
}

/// How soon after the kill is a figure `scripts/bench` measures (examples/pushbench.rs), not
/// asserted here: this test checks that it happens, with the session clock checking every 20 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_process_is_crashed() {
    let mut server = Server::start_with(|c| c.session.check_interval_ms = 20).await;
    let mut agent = stand_in_agent(&server);
    let id = "claude_code:cb477963-4b6f-40e1-8e01-103aaeb9e9b5";
    let (_, s) = server.get_json(&format!("/api/sessions/{id}")).await;
    assert_eq!(s["pid"], agent.id(), "{s}");
    assert_eq!(s["state"], "active", "{s}");

    let (mut ws, _) = connect(&server, 0).await;
    agent.kill().expect("SIGKILL");
    agent.wait().expect("reap");
    // The timeout only bounds a broken server.
    let crashed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(f) = next_frame(&mut ws).await
                && f["type"] == "event"
                && f["event"]["state"] == "crashed"
            {
                return f;
            }
        }
    })
    .await
    .expect("no crashed transition");
    assert_eq!(crashed["event"]["reason"], "process_gone");
    let (_, s) = server.get_json(&format!("/api/sessions/{id}")).await;
    assert_eq!(s["state"], "crashed", "{s}");
    server.stop().await;
}

/// OpenCode says nothing that ends a session but our plugin's `dispose`, which OpenCode awaits
/// on a normal exit: the session ends, and its process being gone later is no crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opencode_that_exits_normally_ended_and_did_not_crash() {
    let server = Server::start_with(|c| c.session.check_interval_ms = 20).await;
    let (_dir, mut node) = opencode_driver(&server);
    let out = node.args(["exit", "ses_exits"]).output().expect("node");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "disposed\n");
    assert!(out.status.success(), "{out:?}");
    let (_, s) = server.get_json("/api/sessions/opencode:ses_exits").await;
    assert_eq!(s["pid"].as_u64().map(|p| p > 0), Some(true), "{s}");
    assert_eq!(
        (s["state"].as_str(), s["end_reason"].as_str()),
        (Some("ended"), Some("exited")),
        "{s}"
    );
    // Its process is gone now: still ended, no crashed alert.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, s) = server.get_json("/api/sessions/opencode:ses_exits").await;
    assert_eq!(s["state"], "ended", "{s}");
    let (_, v) = server.get_json("/api/alerts").await;
    assert_eq!(v["alerts"], serde_json::json!([]), "{v}");
}
