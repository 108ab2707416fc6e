//! Retention: old and over-the-cap sessions deleted whole (events, turns, alerts), running ones
//! never; the file compacted so that it shrinks; what a pass did in /api/stats and /metrics.

mod common;

use std::time::Duration;

use common::Server;
use serde_json::{Value, json};

const DAY: Duration = Duration::from_secs(86_400);

/// Posts a Claude Code hook; each `UserPromptSubmit` opens a new turn. `pad` bytes of random
/// tool input (which stored attributes cannot pack away) make the stored event bigger.
async fn hook(server: &Server, event: &str, session: &str, pad: usize) {
    use base64::Engine;
    let noise: Vec<u8> = (0..pad * 3 / 4).map(|_| rand::random::<u8>()).collect();
    let command = base64::engine::general_purpose::STANDARD.encode(noise);
    let body = json!({
        "session_id": session, "cwd": "/work/retained", "hook_event_name": event,
        "prompt": "go", "prompt_id": format!("{session}-prompt"),
        "tool_name": "Bash", "tool_input": {"command": command},
    });
    server.hook("claude_code", &body).await;
}

/// A whole run: start, one turn that asks permission and finishes, end.
async fn run(server: &Server, session: &str, pad: usize) {
    for event in [
        "SessionStart",
        "UserPromptSubmit",
        "PermissionRequest",
        "Stop",
        "SessionEnd",
    ] {
        hook(server, event, session, pad).await;
    }
}

async fn compact(server: &Server) -> Value {
    let resp = server
        .with_token(reqwest::Method::POST, "/api/store/compact")
        .send()
        .await
        .expect("compact");
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.expect("JSON")["pass"].clone()
}

fn ids(sessions: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = sessions
        .iter()
        .map(|s| s["native_id"].as_str().unwrap_or("").to_owned())
        .collect();
    v.sort();
    v
}

async fn alerts_of(server: &Server, session: &str) -> usize {
    let (_, v) = server.get_json("/api/alerts?limit=500").await;
    let id = format!("claude_code:{session}");
    v["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["session_id"] == id)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_past_the_age_limit_go_whole_and_running_ones_stay() {
    let server = Server::start_with(|c| {
        c.retention.max_age_days = 30;
        c.retention.max_size_mib = 0;
    })
    .await;
    run(&server, "old-done", 0).await;
    // Old too, but its run is not over.
    hook(&server, "SessionStart", "old-running", 0).await;
    hook(&server, "UserPromptSubmit", "old-running", 0).await;
    server.clock().advance(31 * DAY);
    run(&server, "recent-done", 0).await;
    assert_eq!(
        alerts_of(&server, "old-done").await,
        1,
        "the permission prompt's alert"
    );
    let (_, before) = server.get_json("/api/stats").await;
    let (_, old) = server.get_json("/api/sessions/claude_code:old-done").await;
    let old_events = old["events"].as_u64().expect("events");

    let pass = compact(&server).await;
    assert_eq!(pass["sessions_removed"], 1, "{pass}");
    assert_eq!(pass["events_removed"], old_events, "{pass}");
    assert_eq!(pass["compacted"], true, "{pass}");

    assert_eq!(
        ids(&server.sessions().await),
        ["old-running", "recent-done"]
    );
    let (status, _) = server.get_json("/api/sessions/claude_code:old-done").await;
    assert_eq!(status, 404);
    let (status, _) = server
        .get_json("/api/sessions/claude_code:old-done/events")
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        alerts_of(&server, "old-done").await,
        0,
        "its alert went with it"
    );
    assert_eq!(alerts_of(&server, "recent-done").await, 1);

    let (_, after) = server.get_json("/api/stats").await;
    let events = |v: &Value| v["store"]["events"].as_u64().expect("events");
    assert_eq!(events(&after), events(&before) - old_events);
    assert_eq!(after["store"]["sessions"], 2);
    assert_eq!(
        after["store"]["oldest_session"]["id"],
        "claude_code:old-running"
    );
    let totals = &after["retention"]["totals"];
    assert_eq!(
        (totals["sessions_removed"].clone(), totals["passes"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(totals["last_pass"]["events_removed"], old_events);
    assert_eq!(after["retention"]["settings"]["max_age_days"], 30);

    // The running session's turn goes on where it was, and a gone one may start again afresh.
    hook(&server, "Stop", "old-running", 0).await;
    run(&server, "old-done", 0).await;
    let (_, again) = server.get_json("/api/sessions/claude_code:old-done").await;
    assert_eq!(
        (again["counts"]["turns"].clone(), again["state"].clone()),
        (json!(1), json!("ended"))
    );

    let resp = server
        .http
        .get(server.app_url("/metrics"))
        .send()
        .await
        .expect("metrics");
    let text = resp.text().await.expect("text");
    assert!(
        text.contains("observatory_retention_removed_sessions_total 1\n"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "observatory_retention_removed_events_total {old_events}\n"
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_past_its_size_cap_loses_its_oldest_finished_sessions_and_shrinks() {
    let server = Server::start_with(|c| {
        c.retention.max_age_days = 0;
        c.retention.max_size_mib = 1;
    })
    .await;
    // ~3 MB of events in 24 finished runs, oldest first; and one running session, the oldest.
    hook(&server, "SessionStart", "running", 0).await;
    let names: Vec<String> = (0..24).map(|i| format!("run-{i:02}")).collect();
    for name in &names {
        server.clock().advance(Duration::from_secs(60));
        run(&server, name, 30_000).await;
    }
    let (_, before) = server.get_json("/api/stats").await;
    let in_use = |v: &Value| v["store"]["allocated_bytes"].as_u64().expect("allocated");
    assert!(in_use(&before) > 2 * 1024 * 1024, "{before}");

    let pass = compact(&server).await;
    let removed = pass["sessions_removed"].as_u64().expect("removed") as usize;
    assert!(removed > 12 && removed < 24, "{pass}");
    let cap = 1024 * 1024 + 256 * 1024; // the cap, and what B-tree pages hold beyond the data
    assert!(
        pass["after"]["allocated_bytes"].as_u64().expect("after") < cap,
        "{pass}"
    );
    let file = |v: &Value| v["file_bytes"].as_u64().expect("file bytes");
    assert!(
        file(&pass["after"]) < file(&pass["before"]) / 2,
        "the file shrank: {pass}"
    );

    // The oldest finished ones went; the newest and the running one stayed.
    let mut kept: Vec<String> = names[removed..].to_vec();
    kept.push("running".into());
    kept.sort();
    assert_eq!(ids(&server.sessions().await), kept);

    // A second pass finds nothing more to do.
    let again = compact(&server).await;
    assert_eq!(again["sessions_removed"], 0, "{again}");
}
