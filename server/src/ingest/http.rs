//! OTLP/HTTP receiver on :4318: `POST /v1/logs`, `/v1/traces`, `/v1/metrics`, with protobuf or
//! JSON bodies, optionally gzip. Checks content type, encoding, body size and inflated size before
//! decoding; answers in the request's own encoding, as the OTLP spec requires.
//!
//! Hooks arrive here too: `POST /v1/hooks/{agent}[?event=<hook name>]` with the agent's native
//! JSON payload, and the agent's process in `X-Observatory-Pid` / `X-Observatory-Pid-Start` when
//! `observatory hook` found it. Answered 204 once stored (an empty 2xx is what Claude Code's
//! `http` hooks expect), 400 with a message for a payload that cannot be read.

use std::io::Read;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request as HttpRequest, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt;
use prost::Message;

use super::guard::Guard;
use super::{
    HookIngestError, HookOutcome, IngestError, Pipeline, Protocol, Refused, Request, json, partial,
};
use crate::agents;
use crate::normalize::{Agent, Process, Signal, hooks};
use crate::proto::rpc::Status;

/// The HTTP ingest routes, behind `guard` (Host and browser checks, before any handler).
pub fn router(pipeline: Pipeline, guard: Guard) -> Router {
    let route = |signal: Signal| {
        post(
            move |State(p): State<Pipeline>, headers: HeaderMap, req: HttpRequest| async move {
                export(p, signal, headers, req.into_body()).await
            },
        )
        .fallback(|| async {
            let mut r = OtlpError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Encoding::Json,
                "only POST is allowed here (OTLP/HTTP export)".into(),
            )
            .into_response();
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            r
        })
    };
    Router::new()
        .route(
            "/v1/hooks/{agent}",
            post(hook).fallback(|| async {
                let mut r = OtlpError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    Encoding::Json,
                    "only POST is allowed here (hook payloads)".into(),
                )
                .into_response();
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                r
            }),
        )
        .route("/v1/answers/{key}", axum::routing::get(answer))
        .route("/v1/logs", route(Signal::Logs))
        .route("/v1/traces", route(Signal::Traces))
        .route("/v1/metrics", route(Signal::Metrics))
        .fallback(|req: HttpRequest| async move {
            OtlpError::new(
                StatusCode::NOT_FOUND,
                Encoding::Json,
                format!(
                    "no such endpoint: {} {} (OTLP/HTTP paths are /v1/logs, /v1/traces, /v1/metrics; hooks /v1/hooks/{{agent}})",
                    req.method(),
                    req.uri().path()
                ),
            )
        })
        .with_state(pipeline)
        .layer(axum::middleware::from_fn(
            move |req: HttpRequest, next: axum::middleware::Next| {
                let refused = guard.check(req.headers(), req.uri());
                async move {
                    match refused {
                        Ok(()) => next.run(req).await,
                        Err((status, why)) => {
                            OtlpError::new(status, Encoding::Json, why).into_response()
                        }
                    }
                }
            },
        ))
}

#[derive(serde::Deserialize)]
struct HookQuery {
    event: Option<String>,
}

/// The agent process headers `observatory hook` adds.
const PID: &str = "x-observatory-pid";
const PID_START: &str = "x-observatory-pid-start";
/// The key a waiting `observatory hook` will ask its answer under (16 to 64 hex digits).
const PROMPT: &str = "x-observatory-prompt";
/// `nobody` when `observatory hook` knows no person is asked (the agent settles it itself).
const ASKS: &str = "x-observatory-asks";

async fn hook(
    State(p): State<Pipeline>,
    Path(agent): Path<String>,
    Query(q): Query<HookQuery>,
    headers: HeaderMap,
    req: HttpRequest,
) -> Response {
    let started = std::time::Instant::now();
    let err = |status, message: String| OtlpError::new(status, Encoding::Json, message);
    let with_hooks = |a: &Agent| agents::spec(*a).hooks.is_some();
    let Some(agent) = Agent::parse(&agent.replace('-', "_")).filter(with_hooks) else {
        p.stats().hook(None, HookOutcome::Refused);
        let known: Vec<&str> = agents::with_hooks().map(|s| s.agent.as_str()).collect();
        return err(
            StatusCode::NOT_FOUND,
            format!(
                "no hooks for agent {agent:?}; agents with hooks: {}",
                known.join(", ")
            ),
        )
        .into_response();
    };
    let result = async {
        let refused = |e: OtlpError| {
            p.stats().hook(Some(agent), HookOutcome::Refused);
            e
        };
        let process =
            process_headers(&headers).map_err(|m| refused(err(StatusCode::BAD_REQUEST, m)))?;
        let asked =
            prompt_header(&headers).map_err(|m| refused(err(StatusCode::BAD_REQUEST, m)))?;
        // A waiting hook whose agent takes no answers (not opted in) is told at once: 202.
        let prompt = asked.filter(|_| p.answers().is_some_and(|desk| desk.takes(agent)));
        let answered = if asked.is_some() && prompt.is_none() {
            StatusCode::ACCEPTED
        } else {
            StatusCode::NO_CONTENT
        };
        let nobody_asked =
            asks_header(&headers).map_err(|m| refused(err(StatusCode::BAD_REQUEST, m)))?;
        let max = p.max_body_bytes();
        let body = read_limited(req.into_body(), max).await.map_err(|e| {
            refused(match e {
                ReadError::TooLarge => err(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("hook payload is larger than the {max}-byte limit"),
                ),
                ReadError::Io(m) => err(StatusCode::BAD_REQUEST, format!("reading the body: {m}")),
            })
        })?;
        let h = hooks::Hook {
            event: q.event.as_deref().filter(|e| !e.is_empty()),
            process,
            received: p.now(),
            prompt,
            nobody_asked,
        };
        p.hook(agent, &body, &h).await.map_err(|e| match e {
            HookIngestError::Malformed(m) => {
                err(StatusCode::BAD_REQUEST, format!("{}: {m}", agent.as_str()))
            }
            HookIngestError::Ingest(e) => ingest_error(e, Encoding::Json),
        })?;
        Ok::<_, OtlpError>(answered)
    }
    .await;
    p.stats().hook_latency(Some(agent), started.elapsed());
    match result {
        Ok(status) => status.into_response(),
        Err(e) => {
            tracing::debug!(agent = agent.as_str(), status = %e.status, message = %e.message, "refused hook payload");
            e.into_response()
        }
    }
}

fn prompt_header(headers: &HeaderMap) -> Result<Option<&str>, String> {
    let Some(v) = headers.get(PROMPT) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .filter(|k| (16..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(Some)
        .ok_or_else(|| format!("header {PROMPT} must be 16 to 64 hexadecimal digits"))
}

/// Whether the hook says nobody is asked (`X-Observatory-Asks: nobody`).
fn asks_header(headers: &HeaderMap) -> Result<bool, String> {
    match headers.get(ASKS).map(|v| v.to_str()) {
        None => Ok(false),
        Some(Ok("nobody")) => Ok(true),
        Some(_) => Err(format!("header {ASKS} may only be \"nobody\"")),
    }
}

#[derive(serde::Deserialize)]
struct AnswerQuery {
    wait_secs: Option<u64>,
}

/// The longest a waiting hook's request is held.
const MAX_ANSWER_WAIT_SECS: u64 = 30;

/// `GET /v1/answers/{key}[?wait_secs=N]`: what `observatory hook` waits for. 200 with the
/// decision, 204 nothing yet, 410 settled elsewhere (with how), 404 no such prompt.
async fn answer(
    State(p): State<Pipeline>,
    Path(key): Path<String>,
    Query(q): Query<AnswerQuery>,
) -> Response {
    let Some(desk) = p.answers() else {
        return (StatusCode::NOT_FOUND, "answers are not enabled").into_response();
    };
    let wait = std::time::Duration::from_secs(q.wait_secs.unwrap_or(0).min(MAX_ANSWER_WAIT_SECS));
    match desk.wait(key, wait).await {
        crate::ingest::Waited::Decided { allow, message } => {
            let decision = if allow { "allow" } else { "deny" };
            axum::Json(serde_json::json!({"decision": decision, "message": message}))
                .into_response()
        }
        crate::ingest::Waited::Pending => StatusCode::NO_CONTENT.into_response(),
        crate::ingest::Waited::Resolved(state) => (
            StatusCode::GONE,
            axum::Json(serde_json::json!({"state": state})),
        )
            .into_response(),
        crate::ingest::Waited::Unknown => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"error": "no such prompt"})),
        )
            .into_response(),
    }
}

/// The agent's process from the hook's headers; both or neither.
fn process_headers(headers: &HeaderMap) -> Result<Option<Process>, String> {
    let num = |name: &str| -> Result<Option<u64>, String> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or_else(|| format!("header {name} must be a non-negative integer"))
            })
            .transpose()
    };
    match (num(PID)?, num(PID_START)?) {
        (None, None) => Ok(None),
        (Some(pid), Some(start_ticks)) => {
            let pid = u32::try_from(pid)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("header {PID} must be a process id"))?;
            Ok(Some(Process { pid, start_ticks }))
        }
        _ => Err(format!("headers {PID} and {PID_START} come together")),
    }
}

/// The body encoding of a request, and so of its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }

    fn protocol(self) -> Protocol {
        match self {
            Encoding::Protobuf => Protocol::HttpProtobuf,
            Encoding::Json => Protocol::HttpJson,
        }
    }
}

/// An OTLP failure: a status code and a `google.rpc.Status` body in the request's encoding.
#[derive(Debug)]
pub struct OtlpError {
    status: StatusCode,
    encoding: Encoding,
    message: String,
    retry_after: Option<u32>,
}

impl OtlpError {
    fn new(status: StatusCode, encoding: Encoding, message: String) -> Self {
        OtlpError {
            status,
            encoding,
            message,
            retry_after: None,
        }
    }
}

impl IntoResponse for OtlpError {
    fn into_response(self) -> Response {
        // gRPC codes, as google.rpc.Status carries them.
        let code = match self.status {
            StatusCode::BAD_REQUEST => 3,
            StatusCode::NOT_FOUND => 5,
            StatusCode::FORBIDDEN | StatusCode::MISDIRECTED_REQUEST => 7,
            StatusCode::PAYLOAD_TOO_LARGE => 8,
            StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::METHOD_NOT_ALLOWED => 12,
            StatusCode::SERVICE_UNAVAILABLE => 14,
            _ => 13,
        };
        let status = Status {
            code,
            message: self.message,
        };
        let body = match self.encoding {
            Encoding::Protobuf => status.encode_to_vec(),
            Encoding::Json => serde_json::to_vec(&serde_json::json!({
                "code": status.code,
                "message": status.message,
            }))
            .unwrap_or_default(),
        };
        let mut r = (
            self.status,
            [(header::CONTENT_TYPE, self.encoding.content_type())],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

fn media_type(headers: &HeaderMap) -> Result<Encoding, String> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .ok_or("missing Content-Type: use application/x-protobuf or application/json")?;
    let raw = raw
        .to_str()
        .map_err(|_| "Content-Type is not readable text".to_owned())?;
    let mt = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mt.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err(format!(
            "unsupported Content-Type {raw:?}: use application/x-protobuf or application/json"
        )),
    }
}

async fn export(p: Pipeline, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    match export_inner(&p, signal, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            if e.status != StatusCode::SERVICE_UNAVAILABLE {
                let protocol = e.encoding.protocol();
                p.stats().refused_request(signal, protocol);
                tracing::debug!(signal = signal.as_str(), status = %e.status, message = %e.message, "refused OTLP/HTTP request");
            }
            e.into_response()
        }
    }
}

async fn export_inner(
    p: &Pipeline,
    signal: Signal,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, OtlpError> {
    let encoding = media_type(headers)
        .map_err(|m| OtlpError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, Encoding::Json, m))?;
    let err = |status, message: String| OtlpError::new(status, encoding, message);
    let max = p.max_body_bytes();
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => false,
        Some(e) if e.is_empty() || e == "identity" => false,
        Some(e) if e == "gzip" => true,
        Some(e) => {
            return Err(err(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Encoding {e:?}: use gzip or none"),
            ));
        }
    };
    let raw = read_limited(body, max).await.map_err(|e| match e {
        ReadError::TooLarge => err(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the {max}-byte limit"),
        ),
        ReadError::Io(m) => err(
            StatusCode::BAD_REQUEST,
            format!("reading request body: {m}"),
        ),
    })?;
    let bytes = if gzip {
        gunzip(&raw, max).map_err(|e| match e {
            ReadError::TooLarge => err(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body inflates to more than the {max}-byte limit"),
            ),
            ReadError::Io(m) => err(
                StatusCode::BAD_REQUEST,
                format!("body is not valid gzip: {m}"),
            ),
        })?
    } else {
        raw
    };
    if bytes.is_empty() {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "empty request body: expected an OTLP export request".into(),
        ));
    }

    let (request, refused) = match encoding {
        Encoding::Protobuf => decode_protobuf(signal, bytes).map(|r| (r, Refused::default())),
        Encoding::Json => json::decode(signal, &bytes)
            .map(|d| {
                let refused = Refused {
                    records: d.rejected,
                    problems: d.problems,
                };
                (d.request, refused)
            })
            .map_err(|e| e.to_string()),
    }
    .map_err(|m| err(StatusCode::BAD_REQUEST, m))?;

    let refused = p
        .submit(encoding.protocol(), request, refused)
        .await
        .map_err(|e| ingest_error(e, encoding))?;
    Ok(success(signal, encoding, &refused))
}

/// The pipeline could not take the request now: 503, retry after a second.
fn ingest_error(e: IngestError, encoding: Encoding) -> OtlpError {
    let mut o = match e {
        IngestError::Busy | IngestError::Closed | IngestError::Store(_) => {
            OtlpError::new(StatusCode::SERVICE_UNAVAILABLE, encoding, e.to_string())
        }
    };
    o.retry_after = Some(1);
    o
}

fn decode_protobuf(signal: Signal, bytes: Bytes) -> Result<Request, String> {
    let what =
        |e: prost::DecodeError| format!("invalid OTLP protobuf {} request: {e}", signal.as_str());
    Ok(match signal {
        Signal::Logs => Request::Logs(Message::decode(bytes).map_err(what)?),
        Signal::Traces => Request::Traces(Message::decode(bytes).map_err(what)?),
        Signal::Metrics => Request::Metrics(Message::decode(bytes).map_err(what)?),
    })
}

/// The success answer: an empty `Export*ServiceResponse`, with `partial_success` when some
/// records were refused.
fn success(signal: Signal, encoding: Encoding, refused: &Refused) -> Response {
    let rejected = refused.records;
    let message = refused.message();
    let body = match encoding {
        Encoding::Json => {
            let v = if rejected == 0 {
                serde_json::json!({})
            } else {
                let field = match signal {
                    Signal::Logs => "rejectedLogRecords",
                    Signal::Traces => "rejectedSpans",
                    Signal::Metrics => "rejectedDataPoints",
                };
                serde_json::json!({"partialSuccess": {field: rejected.to_string(), "errorMessage": message}})
            };
            serde_json::to_vec(&v).unwrap_or_default()
        }
        Encoding::Protobuf => match signal {
            Signal::Logs => partial::logs(refused).encode_to_vec(),
            Signal::Traces => partial::traces(refused).encode_to_vec(),
            Signal::Metrics => partial::metrics(refused).encode_to_vec(),
        },
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}

pub(crate) enum ReadError {
    TooLarge,
    Io(String),
}

/// Reads a body, refusing it once it passes `max` bytes. The rest of an oversized body is read
/// and thrown away (up to a bound), so the client finishes sending and sees the 413 instead of a
/// connection reset.
pub(crate) async fn read_limited(mut body: Body, max: usize) -> Result<Bytes, ReadError> {
    /// How much of an oversized body is drained before the connection is given up.
    const DRAIN_MAX: usize = 64 * 1024 * 1024;
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Io(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= max {
            buf.extend_from_slice(&data);
        } else if seen > max.saturating_add(DRAIN_MAX) {
            break;
        }
    }
    if seen > max {
        return Err(ReadError::TooLarge);
    }
    Ok(buf.freeze())
}

/// Inflates gzip, refusing output beyond `max` bytes (a gzip bomb is stopped at the limit).
pub(crate) fn gunzip(raw: &[u8], max: usize) -> Result<Bytes, ReadError> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(max));
    let mut dec = flate2::read::MultiGzDecoder::new(raw).take(max as u64 + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    if out.len() > max {
        return Err(ReadError::TooLarge);
    }
    Ok(Bytes::from(out))
}
