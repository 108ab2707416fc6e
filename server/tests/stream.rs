//! The live feed: `GET /api/stream?since=<seq>` replays from the store, then goes live, with no
//! event missing or repeated across the switch; a reconnect with `since` gets exactly what it
//! missed.

mod common;

use std::time::Duration;

use common::ws::{Ws, connect, frames_until_sentinel};
use common::{Server, bodies};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// Event seqs received until the feed is quiet.
/// The seqs of the events the feed sends before a sentinel posted now (see
/// `frames_until_sentinel`).
async fn event_seqs(server: &Server, ws: &mut Ws) -> Vec<u64> {
    frames_until_sentinel(server, ws)
        .await
        .iter()
        .filter(|f| f["type"] == "event")
        .map(|f| f["event"]["seq"].as_u64().expect("seq"))
        .collect()
}

async fn send_scenario(server: &Server, agent: &str, scenario: &str) {
    for b in bodies(agent, scenario) {
        let ct = if b.json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let (status, _, body) = server.post(b.path(), ct, b.bytes, false).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_then_live_then_an_exact_reconnect() {
    let server = Server::start().await;
    send_scenario(&server, "claude-code-2.1.328", "bash").await;
    let (_, health) = server.get_json("/api/health").await;
    let stored = health["last_seq"].as_u64().expect("last_seq");
    assert!(stored > 0);

    let (mut ws, hello) = connect(&server, 0).await;
    assert_eq!(hello["last_seq"].as_u64(), Some(stored));
    let replayed = event_seqs(&server, &mut ws).await;
    assert_eq!(
        replayed,
        (1..=stored).collect::<Vec<_>>(),
        "the whole store, in order, once"
    );

    // Live: new events follow with the next seqs, and the session's new state comes too. (The
    // first sentinel's event took seq `stored + 1`.)
    let sentinel = stored + 1;
    send_scenario(&server, "claude-code-2.1.328", "plain").await;
    let (_, health) = server.get_json("/api/health").await;
    let last = health["last_seq"].as_u64().expect("last_seq");
    let mut live = Vec::new();
    let mut sessions = Vec::new();
    for f in frames_until_sentinel(&server, &mut ws).await {
        match f["type"].as_str() {
            Some("event") => live.push(f["event"]["seq"].as_u64().expect("seq")),
            Some("session") => sessions.push(f["session"].clone()),
            _ => {}
        }
    }
    assert_eq!(live, (sentinel + 1..=last).collect::<Vec<_>>());
    assert!(
        sessions
            .iter()
            .any(|s| s["state"] == "idle" && s["agent"] == "claude_code"),
        "{sessions:?}"
    );

    // A client that saw up to `stored` reconnects and gets exactly what it missed: the plain
    // scenario and both sentinels' events.
    let (_, health) = server.get_json("/api/health").await;
    let now_last = health["last_seq"].as_u64().expect("last_seq");
    let (mut again, _) = connect(&server, stored).await;
    let missed = event_seqs(&server, &mut again).await;
    assert_eq!(missed, (stored + 1..=now_last).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_missed_or_repeated_while_connecting_during_ingest() {
    let server = Server::start().await;
    let url = server.otlp_url("/v1/logs");
    let http = server.http.clone();
    let writer = tokio::spawn(async move {
        for i in 0..60 {
            let body = serde_json::json!({"resourceLogs": [{
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
                "scopeLogs": [{"logRecords": (0..20).map(|j| serde_json::json!({
                    "attributes": [
                        {"key": "session.id", "value": {"stringValue": format!("s{}", i % 3)}},
                        {"key": "event.name", "value": {"stringValue": "api_request"}},
                        {"key": "request_id", "value": {"stringValue": format!("r{i}-{j}")}},
                    ]
                })).collect::<Vec<_>>()}]
            }]});
            let r = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .expect("post");
            assert_eq!(r.status(), 200);
        }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let (mut ws, _) = connect(&server, 0).await;
    writer.await.expect("writer");
    let (_, health) = server.get_json("/api/health").await;
    let last = health["last_seq"].as_u64().expect("last_seq");
    let seqs = event_seqs(&server, &mut ws).await;
    assert_eq!(
        seqs,
        (1..=last).collect::<Vec<_>>(),
        "gap-free, no duplicates, across replay → live"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_since_is_a_json_400() {
    let server = Server::start().await;
    let (status, v) = server.get_json("/api/stream?since=soon").await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap_or("").contains("since"), "{v}");
    let (status, v) = server.get_json("/api/stream").await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("WebSocket"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_past_the_cap_get_503_until_one_closes() {
    let server = Server::start_with(|c| c.live.max_feed_clients = 2).await;
    let (first, _) = connect(&server, 0).await;
    let (_second, _) = connect(&server, 0).await;
    let url = format!(
        "ws://{}/api/stream?since=0",
        server.running.as_ref().expect("running").app_addr
    );
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 503);
            assert_eq!(
                resp.headers().get("retry-after").map(|v| v.as_bytes()),
                Some(&b"5"[..])
            );
            let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default());
            assert!(body.contains("max_feed_clients"), "{body}");
        }
        other => panic!("a third feed: {:?}", other.map(|(_, r)| r.status())),
    }
    drop(first);
    // The closed feed's place is free once the server saw it go.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok(_) => break,
            Err(e) => assert!(std::time::Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_without_slowing_ingest_or_others() {
    let server = Server::start_with(|c| c.live.max_lag_commits = 32).await;
    // One client connects and never reads again; another keeps up.
    let (mut stuck, _) = connect(&server, 0).await;
    let (mut good, _) = connect(&server, 0).await;
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        let mut resync = false;
        loop {
            match tokio::time::timeout(Duration::from_secs(3), good.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let f: Value = serde_json::from_str(&t).expect("frame");
                    match f["type"].as_str() {
                        Some("event") => seqs.push(f["event"]["seq"].as_u64().expect("seq")),
                        Some("resync") => resync = true,
                        _ => {}
                    }
                }
                Ok(Some(Ok(_))) => {}
                _ => return (seqs, resync),
            }
        }
    });
    // Large events so the stuck client's socket buffers fill up.
    let pad = "x".repeat(16 * 1024);
    for i in 0..200 {
        let body = serde_json::json!({"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
            "scopeLogs": [{"logRecords": (0..10).map(|j| serde_json::json!({
                "attributes": [
                    {"key": "session.id", "value": {"stringValue": "slow"}},
                    {"key": "event.name", "value": {"stringValue": "api_request"}},
                    {"key": "request_id", "value": {"stringValue": format!("r{i}-{j}")}},
                    {"key": "model", "value": {"stringValue": pad}},
                ]
            })).collect::<Vec<_>>()}]
        }]});
        let (status, _, _) = server
            .post(
                "/v1/logs",
                "application/json",
                body.to_string().into_bytes(),
                false,
            )
            .await;
        assert_eq!(
            status, 200,
            "ingest is never refused or blocked by a stuck client"
        );
    }
    let (seqs, good_resynced) = reader.await.expect("reader");
    let (_, health) = server.get_json("/api/health").await;
    let last = health["last_seq"].as_u64().expect("last_seq");
    if !good_resynced {
        assert_eq!(
            seqs,
            (1..=last).collect::<Vec<_>>(),
            "the reading client got everything"
        );
    }
    // The stuck client is told to resync or dropped: its stream ends well before it could hold
    // everything that was committed.
    let mut got = 0usize;
    let mut told = false;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(15), stuck.next()).await {
        if let Message::Text(t) = m {
            let f: Value = serde_json::from_str(&t).expect("frame");
            told |= f["type"] == "resync";
            got += usize::from(f["type"] == "event");
        }
    }
    assert!(
        told || (got as u64) < last,
        "stuck client: resync={told}, {got} of {last} events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burn_tool_latency_and_ticks() {
    let server = Server::start_with(|c| c.live.tick_interval_ms = 50).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos()
        .to_string();
    let rec = |name: &str, extra: Vec<Value>| {
        let mut attrs = vec![
            serde_json::json!({"key": "session.id", "value": {"stringValue": "burn"}}),
            serde_json::json!({"key": "event.name", "value": {"stringValue": name}}),
            serde_json::json!({"key": "prompt.id", "value": {"stringValue": "p1"}}),
        ];
        attrs.extend(extra);
        serde_json::json!({"timeUnixNano": now, "attributes": attrs})
    };
    let kv = |k: &str, v: Value| serde_json::json!({"key": k, "value": v});
    let records: Vec<Value> = vec![
        rec("user_prompt", vec![]),
        rec(
            "api_request",
            vec![
                kv("request_id", serde_json::json!({"stringValue": "r1"})),
                kv(
                    "model",
                    serde_json::json!({"stringValue": "claude-sonnet-4-5"}),
                ),
                kv("cost_usd", serde_json::json!({"doubleValue": 0.25})),
            ],
        ),
        rec(
            "api_request",
            vec![
                kv("request_id", serde_json::json!({"stringValue": "r2"})),
                kv(
                    "model",
                    serde_json::json!({"stringValue": "claude-sonnet-4-5"}),
                ),
                kv("cost_usd", serde_json::json!({"doubleValue": 0.5})),
            ],
        ),
    ]
    .into_iter()
    .chain((1..=10).map(|i| {
        rec(
            "tool_result",
            vec![
                kv(
                    "tool_use_id",
                    serde_json::json!({"stringValue": format!("t{i}")}),
                ),
                kv("tool_name", serde_json::json!({"stringValue": "Bash"})),
                kv("success", serde_json::json!({"stringValue": "true"})),
                kv(
                    "duration_ms",
                    serde_json::json!({"stringValue": (i * 10).to_string()}),
                ),
            ],
        )
    }))
    .collect();
    let body = serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"logRecords": records}]
    }]});
    let (status, _, _) = server
        .post(
            "/v1/logs",
            "application/json",
            body.to_string().into_bytes(),
            false,
        )
        .await;
    assert_eq!(status, 200);

    let (status, v) = server.get_json("/api/live/stats").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["burn"]["usd_per_hour"], 0.75, "{v}");
    assert_eq!(v["burn"]["usd_per_min"], 0.15, "{v}");
    assert_eq!(v["burn"]["usd_projected_month"], 0.75 * 24.0 * 30.0, "{v}");
    let bash = &v["tool_latency"]["tools"][0];
    assert_eq!(bash["tool"], "Bash", "{v}");
    assert_eq!(
        (
            bash["count"].as_u64(),
            bash["p50_ms"].as_f64(),
            bash["p95_ms"].as_f64()
        ),
        (Some(10), Some(50.0), Some(100.0))
    );
    assert_eq!(v["sessions_by_state"]["active"], 1, "{v}");

    // The feed's tick frame (every 50 ms in this server) carries the same figures. The timeout
    // only bounds a broken server: the first tick comes long before it.
    let (mut ws, _) = connect(&server, 0).await;
    let tick = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await {
                let f: Value = serde_json::from_str(&t).expect("frame");
                if f["type"] == "tick" && f["sessions_by_state"]["active"] == 1 {
                    return f;
                }
            }
        }
    })
    .await
    .expect("a tick frame");
    assert_eq!(tick["burn"]["usd_per_hour"], 0.75, "{tick}");
    assert_eq!(tick["sessions_by_state"]["active"], 1, "{tick}");
}
