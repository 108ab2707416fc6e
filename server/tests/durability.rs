//! Nothing acknowledged is lost: clients stream batches while the server is killed with SIGKILL;
//! after a restart every acknowledged record is there exactly once, and the sessions are kept.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Process;
use observatory::proto::common::{InstrumentationScope, any_value::Value as V};
use observatory::testkit::otlp::{kv, kv_str, log_record, logs_request};
use prost::Message;
use serde_json::Value;

const CLIENTS: usize = 4;
const BATCH: usize = 50;

/// A Claude-Code-shaped batch of api_request records, each with its own request id.
fn batch(session: &str, ids: &[String]) -> Vec<u8> {
    let records = ids
        .iter()
        .map(|id| {
            let attributes = vec![
                kv_str("session.id", session),
                kv_str("event.name", "api_request"),
                kv_str("prompt.id", "p1"),
                kv_str("request_id", id),
                kv_str("model", "claude-sonnet-4-5"),
                kv("input_tokens", V::IntValue(10)),
                kv("output_tokens", V::IntValue(5)),
                kv("cost_usd", V::DoubleValue(0.001)),
            ];
            log_record(
                1_795_320_780_000_000_000,
                "claude_code.api_request",
                attributes,
            )
        })
        .collect();
    let mut req = logs_request("claude-code", records);
    req.resource_logs[0].scope_logs[0].scope = Some(InstrumentationScope {
        name: "com.anthropic.claude_code.events".into(),
        ..Default::default()
    });
    req.encode_to_vec()
}

async fn stored_request_ids(http: &reqwest::Client, app: &str, session: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = 0u64;
    loop {
        let url = format!(
            "http://{app}/api/sessions/claude_code:{session}/events?after={after}&limit=1000"
        );
        let resp = http.get(url).send().await.expect("events");
        if resp.status() == 404 {
            return out;
        }
        let v: Value = resp.json().await.expect("json");
        for e in v["events"].as_array().expect("events") {
            if e["kind"] == "api_request" {
                out.push(
                    e["attributes"]["request_id"]
                        .as_str()
                        .expect("request_id")
                        .to_owned(),
                );
            }
        }
        match v["next"].as_u64() {
            Some(n) => after = n,
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_streaming_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Process::spawn(dir.path());
    let http = reqwest::Client::new();
    let acked: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();

    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (http, url, acked, sent) = (
            http.clone(),
            format!("http://{}/v1/logs", server.http_addr),
            acked.clone(),
            sent.clone(),
        );
        clients.push(tokio::spawn(async move {
            let session = format!("dur-{c}");
            for b in 0.. {
                let ids: Vec<String> = (0..BATCH).map(|i| format!("c{c}-b{b}-r{i}")).collect();
                sent.lock().expect("lock").extend(ids.iter().cloned());
                let resp = http
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(batch(&session, &ids))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == 200 => acked
                        .lock()
                        .expect("lock")
                        .entry(session.clone())
                        .or_default()
                        .extend(ids),
                    // 503 under load is a refusal the client would retry; not acknowledged.
                    Ok(r) if r.status() == 503 => {}
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }

    // Let acknowledgements pile up, then kill the server mid-stream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n: usize = acked.lock().expect("lock").values().map(Vec::len).sum();
        if n >= 20 * BATCH * CLIENTS || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    for c in clients {
        c.await.expect("client task");
    }
    drop(server);

    let acked = acked.lock().expect("lock").clone();
    let sent = sent.lock().expect("lock").clone();
    let total: usize = acked.values().map(Vec::len).sum();
    assert!(
        total >= BATCH * CLIENTS,
        "some batches were acknowledged before the kill ({total})"
    );

    // Restart on the same data dir: the database opens cleanly and holds every acknowledged record.
    let server = Process::spawn(dir.path());
    let (status, health) = {
        let r = http
            .get(format!("http://{}/api/health", server.app_addr))
            .send()
            .await
            .expect("health");
        (r.status().as_u16(), r.json::<Value>().await.expect("json"))
    };
    assert_eq!(status, 200, "{health}");
    for (session, ids) in &acked {
        let stored = stored_request_ids(&http, &server.app_addr, session).await;
        let unique: HashSet<&String> = stored.iter().collect();
        assert_eq!(
            unique.len(),
            stored.len(),
            "{session}: no record stored twice"
        );
        for id in ids {
            assert!(
                unique.contains(id),
                "{session}: acknowledged record {id} is missing after SIGKILL"
            );
        }
        assert!(
            stored.iter().all(|id| sent.contains(id)),
            "{session}: only records that were sent"
        );
        // The session's counter agrees with its stored events.
        let v: Value = http
            .get(format!(
                "http://{}/api/sessions/claude_code:{session}",
                server.app_addr
            ))
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        assert_eq!(
            v["counts"]["api_requests"].as_u64(),
            Some(stored.len() as u64),
            "{session}: {v}"
        );
    }

    // A clean stop (SIGTERM drains and commits, exit 0) and restart keeps every session.
    let mut server = server;
    assert!(server.terminate(), "SIGTERM stops the server cleanly");
    let server = Process::spawn(dir.path());
    let v: Value = http
        .get(format!(
            "http://{}/api/sessions?agent=claude_code",
            server.app_addr
        ))
        .send()
        .await
        .expect("sessions")
        .json()
        .await
        .expect("json");
    let ids: HashSet<&str> = v["sessions"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|s| s["native_id"].as_str())
        .collect();
    for session in acked.keys() {
        assert!(
            ids.contains(session.as_str()),
            "{session} kept across restarts: {v}"
        );
    }
}
