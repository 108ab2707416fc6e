//! Replays every recorded scenario of every agent into a running server — over the transport the
//! agent used, and over the other two (OTLP/HTTP protobuf ↔ OTLP/HTTP JSON ↔ OTLP/gRPC) — and
//! checks that every record is counted and that all transports give the same sessions.

mod common;

use common::{Body, Server, bodies, scenarios};
use observatory::ingest::Request;
use observatory::proto::collector::{logs, metrics, trace};
use observatory::testkit::otlp::records;
use prost::Message;
use serde_json::{Value, json};
use tonic::codec::CompressionEncoding;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    /// The bytes exactly as the agent sent them, with its content type.
    Original,
    HttpProtobuf,
    HttpJson,
    /// gRPC, gzip-compressed.
    Grpc,
}

fn decode(b: &Body) -> Request {
    observatory::testkit::fixtures::decode(b)
}

async fn send(server: &Server, b: &Body, t: Transport) {
    let req = decode(b);
    let (status, ct, body) = match t {
        Transport::Original => {
            let ct = if b.json {
                "application/json"
            } else {
                "application/x-protobuf"
            };
            server.post(b.path(), ct, b.bytes.clone(), false).await
        }
        Transport::HttpProtobuf => {
            let bytes = match &req {
                Request::Logs(r) => r.encode_to_vec(),
                Request::Traces(r) => r.encode_to_vec(),
                Request::Metrics(r) => r.encode_to_vec(),
            };
            server
                .post(b.path(), "application/x-protobuf", bytes, true)
                .await
        }
        Transport::HttpJson => {
            // The opentelemetry-proto crate's own OTLP/JSON encoding (hex ids, lowerCamelCase).
            let bytes = match &req {
                Request::Logs(r) => serde_json::to_vec(r),
                Request::Traces(r) => serde_json::to_vec(r),
                Request::Metrics(r) => serde_json::to_vec(r),
            }
            .expect("OTLP/JSON");
            server
                .post(b.path(), "application/json", bytes, false)
                .await
        }
        Transport::Grpc => {
            let url = server.grpc_url();
            match req {
                Request::Logs(r) => {
                    let mut c = logs::logs_service_client::LogsServiceClient::connect(url)
                        .await
                        .expect("connect");
                    c = c.send_compressed(CompressionEncoding::Gzip);
                    let resp = c
                        .export(r)
                        .await
                        .unwrap_or_else(|e| panic!("{}: {e}", b.name))
                        .into_inner();
                    assert_eq!(resp.partial_success, None, "{}", b.name);
                }
                Request::Traces(r) => {
                    let mut c = trace::trace_service_client::TraceServiceClient::connect(url)
                        .await
                        .expect("connect");
                    c = c.send_compressed(CompressionEncoding::Gzip);
                    let resp = c
                        .export(r)
                        .await
                        .unwrap_or_else(|e| panic!("{}: {e}", b.name))
                        .into_inner();
                    assert_eq!(resp.partial_success, None, "{}", b.name);
                }
                Request::Metrics(r) => {
                    let mut c = metrics::metrics_service_client::MetricsServiceClient::connect(url)
                        .await
                        .expect("connect");
                    c = c.send_compressed(CompressionEncoding::Gzip);
                    let resp = c
                        .export(r)
                        .await
                        .unwrap_or_else(|e| panic!("{}: {e}", b.name))
                        .into_inner();
                    assert_eq!(resp.partial_success, None, "{}", b.name);
                }
            }
            return;
        }
    };
    assert_eq!(
        status,
        200,
        "{} over {t:?}: {}",
        b.name,
        String::from_utf8_lossy(&body)
    );
    // Success is an empty Export*ServiceResponse, in the request's encoding.
    if ct.starts_with("application/json") {
        assert_eq!(body, b"{}", "{} over {t:?}", b.name);
    } else {
        assert!(body.is_empty(), "{} over {t:?}: {body:?}", b.name);
    }
}

/// The parts of a session every transport must agree on.
fn summary(s: &Value) -> Value {
    json!({
        "id": s["id"], "agent": s["agent"], "state": s["state"], "counts": s["counts"], "tokens": s["tokens"],
        "cost_usd": s["cost_usd"], "models": s["models"], "first_seen": s["first_seen"], "last_seen": s["last_seen"],
        "cwd": s["cwd"], "service_version": s["service_version"],
    })
}

async fn replay(agent: &str, scenario: &str, t: Transport) -> (Vec<Value>, Value) {
    let mut server = Server::start().await;
    let mut sent = 0;
    for b in bodies(agent, scenario) {
        sent += records(&decode(&b)) as u64;
        send(&server, &b, t).await;
    }
    let (status, stats) = server.get_json("/api/stats").await;
    assert_eq!(status, 200);
    let rows = stats["records"].as_array().expect("rows");
    let sum = |k: &str| rows.iter().map(|r| r[k].as_u64().unwrap_or(0)).sum::<u64>();
    assert_eq!(
        sum("received"),
        sent,
        "{agent}/{scenario} over {t:?}: every record is counted: {stats}"
    );
    assert_eq!(sum("rejected"), 0, "{agent}/{scenario} over {t:?}: {stats}");
    assert_eq!(
        sum("accepted") + sum("unattributed"),
        sent,
        "{agent}/{scenario} over {t:?}: each record accepted or unattributed: {stats}"
    );
    let mut sessions: Vec<Value> = server.sessions().await.iter().map(summary).collect();
    sessions.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    server.stop().await;
    (sessions, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_gives_the_same_sessions_over_every_transport() {
    for (agent, scenario) in scenarios() {
        let (original, _) = replay(&agent, &scenario, Transport::Original).await;
        for t in [
            Transport::HttpProtobuf,
            Transport::HttpJson,
            Transport::Grpc,
        ] {
            let (other, _) = replay(&agent, &scenario, t).await;
            assert_eq!(
                original, other,
                "{agent}/{scenario}: {t:?} differs from the original transport"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_bash_is_one_session_with_two_requests_and_one_bash_call() {
    let (sessions, _) = replay("claude-code-2.1.328", "bash", Transport::Original).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let s = &sessions[0];
    assert_eq!(s["agent"], "claude_code");
    assert_eq!(s["id"], "claude_code:4c7e6ebb-e1ae-4272-b706-a5afee6dd121");
    assert_eq!(s["counts"]["api_requests"], 2);
    assert_eq!(s["counts"]["tool_calls"], 1);
    assert_eq!(s["counts"]["tool_errors"], 0);
    assert_eq!(s["counts"]["api_errors"], 0);
    assert_eq!(
        s["tokens"],
        json!({"input": 2468, "output": 84, "cache_read": 16384, "cache_write": 4096})
    );
    let cost = s["cost_usd"].as_f64().expect("cost known");
    assert!((cost - 2.0 * 0.0176544).abs() < 1e-9, "{cost}");
}
