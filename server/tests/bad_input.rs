//! Bad input: each gets the right status and a message that says what was wrong, and the server
//! keeps serving — and keeps what it had already stored.

mod common;

use common::Server;
use observatory::proto::collector::logs::logs_service_client::LogsServiceClient;
use observatory::proto::rpc::Status;
use prost::Message;
use serde_json::{Value, json};

const PB: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// A valid Claude-Code-shaped log record export with `n` api_request records in one session.
fn claude_logs(session: &str, n: usize) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "timeUnixNano": "1795320780000000000",
                "body": {"stringValue": "claude_code.api_request"},
                "attributes": [
                    {"key": "session.id", "value": {"stringValue": session}},
                    {"key": "event.name", "value": {"stringValue": "api_request"}},
                    {"key": "prompt.id", "value": {"stringValue": "p1"}},
                    {"key": "request_id", "value": {"stringValue": format!("req_{i}")}},
                    {"key": "model", "value": {"stringValue": "claude-sonnet-4-5"}},
                    {"key": "input_tokens", "value": {"intValue": "10"}},
                    {"key": "output_tokens", "value": {"intValue": 5}},
                    {"key": "cost_usd", "value": {"doubleValue": 0.01}},
                ]
            })
        })
        .collect();
    json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}]
    }]})
}

fn json_body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("json")
}

/// A JSON logs export decoded into the protobuf request.
fn logs_request(v: &Value) -> observatory::proto::ExportLogsServiceRequest {
    match observatory::ingest::json::decode(observatory::normalize::Signal::Logs, &json_body(v))
        .map(|d| d.request)
    {
        Ok(observatory::ingest::Request::Logs(r)) => r,
        _ => panic!("valid logs request"),
    }
}

/// The `google.rpc.Status` message of an error body, in either encoding.
fn status_message(ct: &str, body: &[u8]) -> String {
    if ct.starts_with(JSON) {
        let v: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {body:?}"));
        assert!(v["code"].is_i64(), "Status has a code: {v}");
        v["message"]
            .as_str()
            .expect("Status has a message")
            .to_owned()
    } else {
        Status::decode(body)
            .expect("protobuf google.rpc.Status")
            .message
    }
}

struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    encoding: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// A piece of the message that says what was wrong (case-insensitive).
    says: &'static str,
}

fn case(
    name: &'static str,
    path: &'static str,
    ct: &'static str,
    body: Vec<u8>,
    status: u16,
    says: &'static str,
) -> Case {
    Case {
        name,
        method: "POST",
        path,
        content_type: Some(ct),
        encoding: None,
        body,
        status,
        says,
    }
}

fn gzip_bomb() -> Vec<u8> {
    // 64 MiB of zeros compress to ~64 KiB; the limit is 16 MiB after inflation.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        std::io::Write::write_all(&mut enc, &zeros).expect("gzip");
    }
    enc.finish().expect("gzip")
}

fn cases() -> Vec<Case> {
    let valid_pb = { logs_request(&claude_logs("s-pb", 3)).encode_to_vec() };
    let truncated = valid_pb[..valid_pb.len() / 2].to_vec();
    let mut bad_utf8_pb = valid_pb.clone();
    // Corrupt the bytes of the "claude-code" service name into invalid UTF-8.
    let pos = bad_utf8_pb
        .windows(11)
        .position(|w| w == b"claude-code")
        .expect("service name");
    bad_utf8_pb[pos] = 0xff;
    let big = "x".repeat(10 * 1024 * 1024);
    let mut huge_attr = claude_logs("s-big", 1);
    huge_attr["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"]
        .as_array_mut()
        .expect("attrs")
        .push(json!({"key": "tool_parameters", "value": {"stringValue": big}}));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let mut nested = String::from("{\"resourceLogs\":");
    nested.push_str(&deep);
    nested.push('}');

    vec![
        case("truncated protobuf", "/v1/logs", PB, truncated, 400, "invalid OTLP protobuf"),
        case("random bytes as protobuf", "/v1/traces", PB, vec![0xff; 64], 400, "invalid OTLP protobuf"),
        case("invalid UTF-8 in a protobuf string", "/v1/logs", PB, bad_utf8_pb, 400, "invalid OTLP protobuf"),
        case("wrong content type", "/v1/logs", "text/plain", b"hello".to_vec(), 415, "Content-Type"),
        Case { content_type: None, ..case("missing content type", "/v1/logs", "", b"{}".to_vec(), 415, "Content-Type") },
        case("form content type", "/v1/metrics", "application/x-www-form-urlencoded", b"a=b".to_vec(), 415, "Content-Type"),
        case(
            "NaN token",
            "/v1/metrics",
            JSON,
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asDouble":NaN}]}}]}]}]}"#.to_vec(),
            400,
            "line 1",
        ),
        case(
            "unknown enum value name",
            "/v1/logs",
            JSON,
            json_body(&json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityNumber": "LOUD"}]}]}]})),
            400,
            "severityNumber",
        ),
        case(
            "span id of the wrong length",
            "/v1/traces",
            JSON,
            json_body(&json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "spanId": "5b8efff798038103d269b633813fc60c"}]}]}]})),
            400,
            "spanId",
        ),
        case(
            "a bad value inside a metric",
            "/v1/metrics",
            JSON,
            json_body(&json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [{"asInt": "lots"}]}}]}]}]})),
            400,
            "gauge.dataPoints[0].asInt",
        ),
        case("JSON array at top level", "/v1/logs", JSON, b"[1,2]".to_vec(), 400, "object"),
        case("wrong JSON type", "/v1/logs", JSON, br#"{"resourceLogs":"yes"}"#.to_vec(), 400, "resourceLogs"),
        case(
            "invalid hex trace id",
            "/v1/traces",
            JSON,
            json_body(&json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "traceId": "zz"}]}]}]})),
            400,
            "traceId",
        ),
        case(
            "non-numeric 64-bit integer",
            "/v1/logs",
            JSON,
            json_body(&json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]})),
            400,
            "timeUnixNano",
        ),
        case("invalid UTF-8 in JSON", "/v1/logs", JSON, b"{\"resourceLogs\": \"\xff\xfe\"}".to_vec(), 400, "unicode"),
        case("truncated JSON", "/v1/logs", JSON, br#"{"resourceLogs": [{"scopeLogs": ["#.to_vec(), 400, "EOF"),
        case("deeply nested JSON", "/v1/logs", JSON, nested.into_bytes(), 400, "recursion"),
        case("empty body", "/v1/logs", PB, Vec::new(), 400, "empty request body"),
        case("empty JSON body", "/v1/metrics", JSON, Vec::new(), 400, "empty request body"),
        Case {
            encoding: Some("gzip"),
            ..case("gzip bomb", "/v1/logs", PB, gzip_bomb(), 413, "inflates to more than")
        },
        Case { encoding: Some("gzip"), ..case("not gzip", "/v1/logs", PB, b"plain".to_vec(), 400, "gzip") },
        Case {
            encoding: Some("br"),
            ..case("unsupported encoding", "/v1/logs", PB, b"x".to_vec(), 415, "Content-Encoding")
        },
        case("body over the limit", "/v1/logs", PB, vec![0u8; 17 * 1024 * 1024], 413, "larger than"),
        case("unknown path", "/v1/profiles", PB, b"x".to_vec(), 404, "no such endpoint"),
        case("path outside /v1", "/", JSON, b"{}".to_vec(), 404, "no such endpoint"),
        Case {
            method: "GET",
            ..case("GET on an export path", "/v1/logs", JSON, Vec::new(), 405, "only POST")
        },
        Case {
            method: "PUT",
            ..case("PUT on an export path", "/v1/traces", JSON, b"{}".to_vec(), 405, "only POST")
        },
        case("a 10 MB attribute is accepted and stored", "/v1/logs", JSON, json_body(&huge_attr), 200, ""),
    ]
}

/// Requests refused in all, as `/api/stats` counts them, and the stats.
async fn refused_requests(server: &Server) -> (u64, Value) {
    let (_, stats) = server.get_json("/api/stats").await;
    let refused = stats["records"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["refused_requests"].as_u64().unwrap_or(0))
        .sum();
    (refused, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_the_server_keeps_serving() {
    let server = Server::start().await;
    // Something stored before the abuse, which must survive it.
    let (status, _, body) = server
        .post(
            "/v1/logs",
            JSON,
            json_body(&claude_logs("before", 2)),
            false,
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    let cases = cases();
    assert!(
        cases.len() >= 25,
        "at least 25 bad inputs, have {}",
        cases.len()
    );
    for c in cases {
        let method = reqwest::Method::from_bytes(c.method.as_bytes()).expect("method");
        let mut req = server
            .http
            .request(method, server.otlp_url(c.path))
            .body(c.body);
        if let Some(ct) = c.content_type {
            req = req.header("content-type", ct);
        }
        if let Some(e) = c.encoding {
            req = req.header("content-encoding", e);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: request failed: {e}", c.name));
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp.bytes().await.expect("body");
        assert_eq!(
            status,
            c.status,
            "{}: {}",
            c.name,
            String::from_utf8_lossy(&body)
        );
        if status != 200 {
            let msg = status_message(&ct, &body);
            assert!(
                msg.to_lowercase().contains(&c.says.to_lowercase()),
                "{}: message {msg:?} should mention {:?}",
                c.name,
                c.says
            );
        }
        let (h, _) = server.get_json("/api/health").await;
        assert_eq!(h, 200, "{}: server still serving", c.name);
    }

    let (_, s) = server.get_json("/api/sessions/claude_code:before").await;
    assert_eq!(s["counts"]["api_requests"], 2, "stored data survives: {s}");
    let (_, big) = server
        .get_json("/api/sessions/claude_code:s-big/events")
        .await;
    let stored = big["events"][0]["attributes"]["tool_parameters"]
        .as_str()
        .map(str::len);
    assert_eq!(
        stored,
        Some(10 * 1024 * 1024),
        "the 10 MB attribute is kept whole"
    );
    let (refused, stats) = refused_requests(&server).await;
    assert!(refused >= 20, "refused requests are counted: {stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metric_without_data_is_a_partial_success_not_a_silent_200() {
    let server = Server::start().await;
    let body = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeMetrics": [{"metrics": [
            {"name": "empty"},
            {"name": "ok", "sum": {"aggregationTemporality": 1, "dataPoints": [{"asDouble": 1.5, "attributes": [
                {"key": "session.id", "value": {"stringValue": "m1"}}]}]}}
        ]}]
    }]});
    let (status, ct, resp) = server
        .post("/v1/metrics", JSON, json_body(&body), false)
        .await;
    assert_eq!(status, 200);
    assert!(ct.starts_with(JSON));
    let v: Value = serde_json::from_slice(&resp).expect("json");
    assert_eq!(v["partialSuccess"]["rejectedDataPoints"], "1", "{v}");
    assert!(
        v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("\"empty\""),
        "{v}"
    );

    // The same over protobuf and gRPC.
    let req = observatory::ingest::json::decode(
        observatory::normalize::Signal::Metrics,
        &json_body(&body),
    )
    .map(|d| d.request)
    .expect("decodes");
    let observatory::ingest::Request::Metrics(mut req) = req else {
        panic!("metrics")
    };
    req.resource_metrics[0].scope_metrics[0]
        .metrics
        .push(observatory::proto::metrics::Metric {
            name: "empty".into(),
            ..Default::default()
        });
    let (status, _, resp) = server
        .post("/v1/metrics", PB, req.encode_to_vec(), false)
        .await;
    assert_eq!(status, 200);
    let r = observatory::proto::ExportMetricsServiceResponse::decode(resp.as_slice())
        .expect("pb response");
    assert_eq!(r.partial_success.map(|p| p.rejected_data_points), Some(1));

    let mut c = observatory::proto::collector::metrics::metrics_service_client::MetricsServiceClient::connect(server.grpc_url())
        .await
        .expect("connect");
    let r = c.export(req).await.expect("export").into_inner();
    assert_eq!(r.partial_success.map(|p| p.rejected_data_points), Some(1));
}

/// `v` with every object key in snake_case, as a proto-name JSON mapper writes it.
fn snake_keys(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let mut key = String::new();
                    for c in k.chars() {
                        if c.is_ascii_uppercase() {
                            key.push('_');
                        }
                        key.push(c.to_ascii_lowercase());
                    }
                    (key, snake_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(snake_keys).collect()),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_collector_accepts_is_accepted_and_stored() {
    let server = Server::start().await;
    let post = |path: &'static str, body: Value| {
        let server = &server;
        async move {
            let (status, ct, resp) = server.post(path, JSON, json_body(&body), false).await;
            assert_eq!(
                status,
                200,
                "{path} {body}: {}",
                String::from_utf8_lossy(&resp)
            );
            assert!(ct.starts_with(JSON), "{ct}");
            serde_json::from_slice::<Value>(&resp).expect("a JSON answer")
        }
    };

    // snake_case keys, as a proto-name JSON mapper writes them.
    let snake = snake_keys(&claude_logs("snake", 2));
    assert!(snake.get("resource_logs").is_some(), "{snake}");
    assert_eq!(post("/v1/logs", snake).await, json!({}));

    // Exports with nothing in them.
    for path in ["/v1/logs", "/v1/traces", "/v1/metrics"] {
        assert_eq!(post(path, json!({})).await, json!({}), "{path}");
    }

    // Enum value names, integers as strings, a null array element.
    let mut logs = claude_logs("names", 1);
    let record = &mut logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    record["severityNumber"] = json!("SEVERITY_NUMBER_INFO");
    record["flags"] = json!("1");
    logs["resourceLogs"]
        .as_array_mut()
        .expect("resourceLogs")
        .insert(0, Value::Null);
    assert_eq!(post("/v1/logs", logs).await, json!({}));
    let spans = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "name": "x", "kind": "SPAN_KIND_CLIENT", "status": {"code": "STATUS_CODE_ERROR"},
        "traceId": "5B8EFFF798038103D269B633813FC60C", "startTimeUnixNano": 1795320780000000000_u64
    }]}]}]});
    assert_eq!(post("/v1/traces", spans).await, json!({}));
    let metrics = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m",
        "sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA",
                "dataPoints": [{"asDouble": "NaN"}, {"as_double": "1.5"}]}}]}]}]});
    assert_eq!(post("/v1/metrics", metrics).await, json!({}));

    for session in ["snake", "names"] {
        let (status, s) = server
            .get_json(&format!("/api/sessions/claude_code:{session}"))
            .await;
        assert_eq!(status, 200, "{session}: {s}");
        assert!(
            s["counts"]["api_requests"].as_u64() > Some(0),
            "{session}: {s}"
        );
    }
    let (refused, stats) = refused_requests(&server).await;
    assert_eq!(refused, 0, "nothing refused: {stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_refuses_garbage_and_oversized_messages_and_keeps_serving() {
    let server = Server::start_with(|c| c.ingest.max_body_bytes = 64 * 1024).await;
    let mut c = LogsServiceClient::connect(server.grpc_url())
        .await
        .expect("connect");
    let too_big = logs_request(&claude_logs("g", 2000));
    let err = c.export(too_big).await.expect_err("over the limit");
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err:?}");

    // A gzip bomb: small on the wire, far over the limit once inflated.
    let mut bomb = logs_request(&claude_logs("g", 1));
    bomb.resource_logs[0].scope_logs[0].log_records[0]
        .attributes
        .push(observatory::testkit::otlp::kv_str(
            "padding",
            &"a".repeat(8 << 20),
        ));
    let mut gz = LogsServiceClient::connect(server.grpc_url())
        .await
        .expect("connect")
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_encoding_message_size(64 << 20);
    let err = gz
        .export(bomb)
        .await
        .expect_err("inflated size over the limit");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("size limit"), "{err:?}");

    // A frame that is not an ExportLogsServiceRequest.
    let raw = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let mut frame = vec![0u8, 0, 0, 0, 4];
    frame.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let resp = raw
        .post(format!(
            "{}/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            server.grpc_url()
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(frame)
        .send()
        .await
        .expect("raw gRPC request");
    let grpc_status = resp
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    assert_eq!(
        grpc_status.as_deref(),
        Some("13"),
        "garbage is refused: {resp:?}"
    );

    let ok = c.export(logs_request(&claude_logs("g2", 1))).await;
    assert!(ok.is_ok(), "still serving: {ok:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_api_answers_bad_requests_with_json_errors() {
    let server = Server::start().await;
    for (path, status, says) in [
        ("/api/nope", 404, "no such API endpoint"),
        ("/api/sessions/nope:1", 404, "no session"),
        ("/api/sessions/nope:1/events", 404, "no session"),
        ("/api/sessions?state=sleepy", 400, "unknown state"),
        ("/api/sessions?agent=cursor", 400, "unknown agent"),
        ("/api/sessions?limit=0", 400, "limit"),
        ("/api/sessions?cursor=garbage", 400, "invalid cursor"),
        ("/api/sessions?bogus=1", 400, "bogus"),
        ("/api/sessions/x/events?after=-1", 400, "after"),
    ] {
        let (s, v) = server.get_json(path).await;
        assert_eq!(s, status, "{path}: {v}");
        assert!(
            v["error"].as_str().unwrap_or("").contains(says),
            "{path}: {v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hook_payloads_get_a_clear_error_and_good_ones_still_land() {
    let server = Server::start().await;
    let claude =
        r#"{"session_id":"h1","hook_event_name":"UserPromptSubmit","prompt_id":"p1","cwd":"/p"}"#;
    // (name, method, path, extra header, body, status, what the message says)
    type HookCase = (
        &'static str,
        &'static str,
        &'static str,
        Option<(&'static str, &'static str)>,
        Vec<u8>,
        u16,
        &'static str,
    );
    let cases: Vec<HookCase> = vec![
        (
            "not JSON",
            "POST",
            "/v1/hooks/claude_code",
            None,
            b"hello".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "truncated JSON",
            "POST",
            "/v1/hooks/codex",
            None,
            br#"{"session_id": "#.to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "an array",
            "POST",
            "/v1/hooks/gemini_cli",
            None,
            b"[1, 2]".to_vec(),
            400,
            "JSON object",
        ),
        (
            "empty body",
            "POST",
            "/v1/hooks/claude_code",
            None,
            Vec::new(),
            400,
            "not valid JSON",
        ),
        (
            "no session id",
            "POST",
            "/v1/hooks/claude_code",
            None,
            br#"{"hook_event_name":"Stop"}"#.to_vec(),
            400,
            "session_id",
        ),
        (
            "session id not a string",
            "POST",
            "/v1/hooks/claude_code",
            None,
            br#"{"hook_event_name":"Stop","session_id":7}"#.to_vec(),
            400,
            "session_id",
        ),
        (
            "no event name",
            "POST",
            "/v1/hooks/claude_code",
            None,
            br#"{"session_id":"h1"}"#.to_vec(),
            400,
            "hook_event_name",
        ),
        (
            "Copilot camelCase without ?event=",
            "POST",
            "/v1/hooks/copilot_cli",
            None,
            br#"{"sessionId":"c1","timestamp":1795320279118}"#.to_vec(),
            400,
            "?event=",
        ),
        (
            "Codex payload neither hook nor notify",
            "POST",
            "/v1/hooks/codex",
            None,
            br#"{"session_id":"x"}"#.to_vec(),
            400,
            "codex",
        ),
        (
            "unknown agent",
            "POST",
            "/v1/hooks/cursor",
            None,
            claude.as_bytes().to_vec(),
            404,
            "agents with hooks",
        ),
        (
            "generic has no hooks",
            "POST",
            "/v1/hooks/generic",
            None,
            claude.as_bytes().to_vec(),
            404,
            "agents with hooks",
        ),
        (
            "pid not a number",
            "POST",
            "/v1/hooks/claude_code",
            Some(("x-observatory-pid", "abc")),
            claude.as_bytes().to_vec(),
            400,
            "x-observatory-pid",
        ),
        (
            "pid without start time",
            "POST",
            "/v1/hooks/claude_code",
            Some(("x-observatory-pid", "12")),
            claude.as_bytes().to_vec(),
            400,
            "come together",
        ),
        (
            "payload over the limit",
            "POST",
            "/v1/hooks/claude_code",
            None,
            vec![b' '; 17 * 1024 * 1024],
            413,
            "larger than",
        ),
        (
            "GET",
            "GET",
            "/v1/hooks/claude_code",
            None,
            Vec::new(),
            405,
            "only POST",
        ),
    ];
    for (name, method, path, header, body, status, says) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = server
            .http
            .request(method, server.otlp_url(path))
            .body(body);
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = resp.status().as_u16();
        let body = resp.bytes().await.expect("body");
        assert_eq!(got, status, "{name}: {}", String::from_utf8_lossy(&body));
        let msg = status_message(JSON, &body);
        assert!(
            msg.to_lowercase().contains(&says.to_lowercase()),
            "{name}: message {msg:?} should mention {says:?}"
        );
    }
    // The server still takes good hooks, and kept nothing of the bad ones.
    let (status, _, _) = server
        .post(
            "/v1/hooks/claude-code",
            JSON,
            claude.as_bytes().to_vec(),
            false,
        )
        .await;
    assert_eq!(status, 204);
    let sessions = server.sessions().await;
    let ids: Vec<&str> = sessions.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["claude_code:h1"]);
    let (_, stats) = server.get_json("/api/stats").await;
    let hooks: Vec<&Value> = stats["records"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["signal"] == "hooks")
        .collect();
    let sum = |k: &str| {
        hooks
            .iter()
            .map(|r| r[k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    // every refusal but the 405 (no hook route took it) is counted
    assert_eq!((sum("accepted"), sum("rejected")), (1, 14), "{stats}");
}

/// Reads until the server closes the connection: true when it did within `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// The header timeout is hyper's own timer (wall time), so this waits for it: 1 s here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_and_idle_connections_are_closed_on_both_http_ports() {
    use tokio::io::AsyncWriteExt;
    let server = Server::start_with(|c| c.listen.header_timeout_secs = 1).await;
    let r = server.running.as_ref().expect("running");
    for addr in [r.http_addr, r.app_addr] {
        let mut half = tokio::net::TcpStream::connect(addr).await.expect("connect");
        half.write_all(b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .expect("write");
        let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let within = std::time::Duration::from_secs(5);
        assert!(
            closed_within(&mut half, within).await,
            "half-sent on {addr}"
        );
        assert!(closed_within(&mut silent, within).await, "silent on {addr}");
    }
    // And the port still serves.
    let (status, _) = server.get_json("/api/health").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_limit_an_agent_gets_a_fast_503_and_then_gets_through() {
    let server = Server::start_with(|c| c.listen.max_connections = 3).await;
    let addr = server.running.as_ref().expect("running").http_addr;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
    }
    let hook = json!({"session_id": "s-limit", "hook_event_name": "SessionStart"});
    let post = || {
        server
            .http
            .post(server.otlp_url("/v1/hooks/claude_code"))
            .json(&hook)
            .send()
    };
    let started = std::time::Instant::now();
    let resp = post().await.expect("an answer, not a hang");
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let body: Value = resp.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("too many"),
        "{body}"
    );

    drop(idle.pop());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = post().await.expect("answer").status();
        if status == 204 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {status}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
