//! Ingest → WebSocket delivery latency for `scripts/bench` (DESIGN.md: p99 < 20 ms at 1,000
//! events/s). Connects `--clients` feed clients to a running server's `/api/stream` — one of them
//! never reads — then sends `--rate` events/s over OTLP/HTTP JSON for `--duration` seconds, each
//! record stamped with its send time. Each reading client's latency for an event is the time it
//! received the frame minus that stamp (same machine, same clock). Prints one JSON object.
//!
//! Usage: wsdelivery --otlp-url http://127.0.0.1:4318 --app-addr 127.0.0.1:4319
//!                   [--clients 20] [--rate 1000] [--duration 10]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use support::{arg, percentile};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_tungstenite::tungstenite::Message;

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let otlp = arg(&args, "--otlp-url", "http://127.0.0.1:4318");
    let app = arg(&args, "--app-addr", "127.0.0.1:4319");
    let clients: usize = arg(&args, "--clients", "20").parse()?;
    let rate: u64 = arg(&args, "--rate", "1000").parse()?;
    let duration: u64 = arg(&args, "--duration", "10").parse()?;
    if clients < 2 || rate == 0 || duration == 0 {
        bail!("need at least 2 clients, a rate and a duration");
    }

    // Start after whatever the store already holds: only this run's events are measured.
    let health: Value = reqwest::get(format!("http://{app}/api/health"))
        .await?
        .json()
        .await?;
    let since = health["last_seq"].as_u64().context("last_seq")?;
    let mut readers = Vec::new();
    let mut stuck = None;
    for i in 0..clients {
        let url = format!("ws://{app}/api/stream?since={since}");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .context("websocket")?;
        if i == 0 {
            stuck = Some(ws); // connected, never read
            continue;
        }
        readers.push(tokio::spawn(async move {
            let mut ws = ws;
            let mut latencies = Vec::new();
            let mut resynced = false;
            while let Ok(Some(Ok(m))) =
                tokio::time::timeout(Duration::from_secs(3), ws.next()).await
            {
                let Message::Text(t) = m else { continue };
                let received = now_ns();
                let Ok(f) = serde_json::from_str::<Value>(&t) else {
                    continue;
                };
                match f["type"].as_str() {
                    Some("event") if f["event"]["kind"] == "api_request" => {
                        let sent = f["event"]["time"]
                            .as_str()
                            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
                            .map(|t| t.unix_timestamp_nanos());
                        if let Some(sent) = sent {
                            latencies.push((received - sent) as f64 / 1e6);
                        }
                    }
                    Some("resync") => resynced = true,
                    _ => {}
                }
            }
            (latencies, resynced)
        }));
    }

    // 20 requests a second, each carrying rate/20 api_request records stamped with the send time.
    let http = reqwest::Client::new();
    let per_request = (rate / 20).max(1);
    let mut every = tokio::time::interval(Duration::from_millis(50));
    let (mut sent_events, mut failed) = (0u64, 0u64);
    for n in 0..duration * 20 {
        every.tick().await;
        let stamp = now_ns().to_string();
        let records: Vec<Value> = (0..per_request)
            .map(|j| {
                json!({"timeUnixNano": stamp, "attributes": [
                    {"key": "session.id", "value": {"stringValue": format!("ws-{}", n % 5)}},
                    {"key": "event.name", "value": {"stringValue": "api_request"}},
                    {"key": "request_id", "value": {"stringValue": format!("ws-{since}-{n}-{j}")}},
                    {"key": "model", "value": {"stringValue": "claude-sonnet-4-5"}},
                    {"key": "cost_usd", "value": {"doubleValue": 0.001}},
                ]})
            })
            .collect();
        let body = json!({"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
            "scopeLogs": [{"logRecords": records}]
        }]});
        let ok = http
            .post(format!("{otlp}/v1/logs"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ok {
            sent_events += per_request;
        } else {
            failed += 1;
        }
    }

    let mut all = Vec::new();
    let (mut complete, mut resyncs) = (0usize, 0usize);
    for r in readers {
        let (lat, resynced) = r.await?;
        complete += usize::from(lat.len() as u64 == sent_events);
        resyncs += usize::from(resynced);
        all.extend(lat);
    }
    drop(stuck);
    all.sort_by(f64::total_cmp);
    let out = json!({
        "ws_clients": clients,
        "ws_rate_events_per_s": rate,
        "ws_events_sent": sent_events,
        "ws_failed_requests": failed,
        "ws_readers_complete": complete,
        "ws_readers": clients - 1,
        "ws_resyncs": resyncs,
        "ws_latency_p50_ms": (percentile(&all, 0.50) * 100.0).round() / 100.0,
        "ws_latency_p99_ms": (percentile(&all, 0.99) * 100.0).round() / 100.0,
        "ws_latency_max_ms": (all.last().copied().unwrap_or(f64::NAN) * 100.0).round() / 100.0,
    });
    println!("{out}");
    Ok(())
}
