//! Generic adapter: anything that follows the OpenTelemetry GenAI semantic conventions, and the
//! `pi` coding agent through its `pi-otel` extension (which routes here as `Agent::Pi`).
//!
//! The session is `gen_ai.conversation.id` on the record, else on the resource; `session.id` and
//! pi's `pi.session.id` are accepted in its place (pi-otel's lifecycle logs carry only the
//! latter). A record with none of them belongs to no session: unattributed.
//!
//! | record | event |
//! |---|---|
//! | span `chat` / `text_completion` / `generate_content` (pi: `pi.llm_request`) | `ApiRequest`; `ApiError` when the status is ERROR, `error.type` is set or a finish reason is `error`; fact `api:<gen_ai.response.id>` |
//! | span `execute_tool` (pi: `pi.tool.<name>`) | `ToolFinished`, failed on ERROR / `error.type` / `pi.tool.is_error`; fact `tool:<gen_ai.tool.call.id>` |
//! | root span `invoke_agent` (pi: `pi.interaction`) | a turn: `Prompt` at its start, `TurnFinished` (`TurnFailed` if it failed) at its end; turn id = span id (hex) |
//! | nested span `invoke_agent` (has a local parent) | `SubagentFinished` in its root's turn |
//! | other spans (`pi.turn`, `embeddings`, HTTP, …) | ignored |
//! | log `gen_ai.client.inference.operation.details` with `gen_ai.response.id` | as the `chat` span, same fact key |
//! | log `pi.session.start` / `pi.session.end` | `SessionStarted` (with `pi.cwd`) / `SessionEnded` |
//! | other logs (`gen_ai.*.message`, `gen_ai.choice`, `pi.tool.error`, …) | ignored: they repeat spans or carry content only |
//! | metrics (`gen_ai.client.token.usage`, …) | ignored: they repeat the spans |
//!
//! The operation is `gen_ai.operation.name`, else read from the span name (`chat gpt-4o`,
//! `execute_tool bash`, and pi-otel's legacy `pi.*` names, which carry no operation attribute).
//!
//! **Turns.** A span's turn is the root `invoke_agent` reached through its parents within the same
//! export, else the root `invoke_agent` of the same trace in that export; spans exported before
//! their turn's root (a long turn flushes its children first) join the session's current turn.
//! Within an export, the `Prompt`s go first and the turn ends last, so the work of a turn lands in
//! it. Token usage on `invoke_agent` itself (Copilot puts a total there) is not counted: the
//! `chat` spans under it are.
//!
//! **Tokens.** Our `input` is uncached. The current conventions (`gen_ai.usage.cache_read.input_tokens`,
//! `…cache_creation.input_tokens`, and Copilot's `…cache_write.input_tokens`) count cached tokens
//! inside `gen_ai.usage.input_tokens`, so they are subtracted (unless that would go below zero,
//! which means the emitter did not include them). The older Anthropic-style names
//! (`gen_ai.usage.cache_read_input_tokens`, `…cache_creation_input_tokens`,
//! `…cache_write_input_tokens`) are taken as excluded from the input, which is what pi-otel sends
//! (pi's own usage is uncached input). **Cost** is the emitter's own (`pi.cost.usd`,
//! `gen_ai.usage.cost`) when present, else the price table (estimated), else unknown.

use super::attrs::{Attrs, any_str};
use super::{Agent, EventKind, Prices, SessionEvent, Sink, log_time, nanos, span_ms};
use crate::proto::logs::LogRecord;
use crate::proto::metrics::Metric;
use crate::proto::store::{Event, Tokens};
use crate::proto::trace::{Span, status::StatusCode};

const SESSION_KEYS: [&str; 3] = ["gen_ai.conversation.id", "session.id", "pi.session.id"];
/// Parent links followed to find a span's turn; agent traces are shallow.
const MAX_DEPTH: usize = 32;
/// `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`: the parent lives in another process.
const PARENT_IS_REMOTE: u32 = 0x200;

fn session_id<'r>(a: Attrs<'r>, resource: Attrs<'r>) -> Option<&'r str> {
    a.first_str(&SESSION_KEYS)
        .or_else(|| resource.first_str(&SESSION_KEYS))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Chat,
    Tool,
    Agent,
    Other,
}

fn operation(span: &Span, a: Attrs<'_>) -> Op {
    let op = a
        .str("gen_ai.operation.name")
        .unwrap_or_else(|| match span.name.as_str() {
            "pi.interaction" => "invoke_agent",
            "pi.llm_request" => "chat",
            n if n.starts_with("pi.tool.") => "execute_tool",
            n => n.split(' ').next().unwrap_or(n),
        });
    match op {
        "chat" | "text_completion" | "generate_content" => Op::Chat,
        "execute_tool" => Op::Tool,
        "invoke_agent" => Op::Agent,
        _ => Op::Other,
    }
}

/// A root `invoke_agent` is a turn; one under a local parent is a sub-agent working inside one.
fn is_root(span: &Span) -> bool {
    span.parent_span_id.is_empty() || span.flags & PARENT_IS_REMOTE != 0
}

fn span_key(id: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(id).ok().map(u64::from_be_bytes)
}

/// For each span, the index of the root `invoke_agent` whose turn it belongs to, if that span is
/// in this export.
fn turn_roots(spans: &[Span], ops: &[Op]) -> Vec<Option<usize>> {
    let is_turn = |i: usize| ops[i] == Op::Agent && is_root(&spans[i]);
    let turns: Vec<usize> = (0..spans.len()).filter(|&i| is_turn(i)).collect();
    if turns.is_empty() {
        return vec![None; spans.len()];
    }
    let mut by_id: Vec<(u64, usize)> = spans
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((span_key(&s.span_id)?, i)))
        .collect();
    by_id.sort_unstable();
    let find = |id: &[u8]| {
        let key = span_key(id)?;
        by_id
            .binary_search_by_key(&key, |(k, _)| *k)
            .ok()
            .map(|at| by_id[at].1)
    };
    (0..spans.len())
        .map(|i| {
            let mut at = i;
            for _ in 0..MAX_DEPTH {
                if is_turn(at) {
                    return Some(at);
                }
                match find(&spans[at].parent_span_id) {
                    Some(parent) if parent != at => at = parent,
                    _ => break,
                }
            }
            let trace = &spans[i].trace_id;
            turns.iter().copied().find(|&j| spans[j].trace_id == *trace)
        })
        .collect()
}

pub fn spans(spans: Vec<Span>, out: &mut Sink<'_>) {
    let ops: Vec<Op> = spans
        .iter()
        .map(|s| operation(s, Attrs(&s.attributes)))
        .collect();
    let roots = turn_roots(&spans, &ops);
    let turn_ids = open_turns(&spans, &roots, out);

    let mut turn_ends = Vec::new();
    for (i, span) in spans.into_iter().enumerate() {
        let turn = roots[i].and_then(|r| turn_ids[r].as_deref());
        let turn_root = roots[i] == Some(i);
        let Some(e) = span_event(span, ops[i], turn_root, turn, out) else {
            continue;
        };
        // A turn's root span is its end (`TurnFinished` / `TurnFailed`): held back until the
        // export's other events are in, so the work of the turn lands in it.
        if turn_root {
            turn_ends.push(e);
        } else {
            out.push(e);
        }
    }
    for e in turn_ends {
        out.push(e);
    }
}

/// Opens the export's turns: a `Prompt` at the start of each root `invoke_agent`, pushed before
/// any other event of the export. Returns, by span index, each root's turn id (its span id).
fn open_turns(spans: &[Span], roots: &[Option<usize>], out: &mut Sink<'_>) -> Vec<Option<String>> {
    let resource = out.ctx.resource;
    let mut turn_ids: Vec<Option<String>> = vec![None; spans.len()];
    for (i, span) in spans.iter().enumerate() {
        if roots[i] != Some(i) {
            continue;
        }
        turn_ids[i] = Some(hex::encode(&span.span_id));
        let a = Attrs(&span.attributes);
        let Some(sid) = session_id(a, resource) else {
            continue;
        };
        let mut e = out.event(sid, EventKind::Prompt);
        e.event.time_unix_nano = nanos(span.start_time_unix_nano);
        e.event.turn_id = hex::encode(&span.span_id);
        e.event.name.clone_from(&span.name);
        e.cwd = a.str("pi.cwd").map(str::to_owned);
        out.push(e);
    }
    turn_ids
}

/// The event one span makes, if any (an ignored or unattributed span is tallied here).
/// `turn_root` says the span is its turn's root `invoke_agent`; `turn` is the turn it belongs to.
fn span_event(
    span: Span,
    op: Op,
    turn_root: bool,
    turn: Option<&str>,
    out: &mut Sink<'_>,
) -> Option<SessionEvent> {
    let a = Attrs(&span.attributes);
    let Some(sid) = session_id(a, out.ctx.resource) else {
        out.unattributed();
        return None;
    };
    let failed = span_failed(&span, a);
    let Some(kind) = span_kind(op, turn_root, failed) else {
        out.ignored();
        return None;
    };
    let mut e = out.event(sid, kind);
    let ev = &mut e.event;
    ev.time_unix_nano = nanos(span.end_time_unix_nano);
    ev.turn_id = turn.unwrap_or_default().to_owned();
    ev.duration_ms = span_ms(&span);
    match kind {
        EventKind::ApiRequest | EventKind::ApiError => {
            e.fact_key = model_call(ev, a, failed, out.ctx.agent, out.ctx.prices);
            if failed {
                ev.error = error_text(&span, a);
            }
        }
        EventKind::ToolFinished => tool_call(&mut e, &span, a, failed),
        EventKind::TurnFailed => ev.error = error_text(&span, a),
        _ => {}
    }
    e.event.name = span.name;
    e.event.attributes = span.attributes;
    Some(e)
}

/// The event a span of this operation makes: `turn_root` tells a turn from a sub-agent.
fn span_kind(op: Op, turn_root: bool, failed: bool) -> Option<EventKind> {
    match op {
        Op::Chat if failed => Some(EventKind::ApiError),
        Op::Chat => Some(EventKind::ApiRequest),
        Op::Tool => Some(EventKind::ToolFinished),
        Op::Agent if turn_root && failed => Some(EventKind::TurnFailed),
        Op::Agent if turn_root => Some(EventKind::TurnFinished),
        Op::Agent => Some(EventKind::SubagentFinished),
        Op::Other => None,
    }
}

/// An `execute_tool` span (pi: `pi.tool.<name>`): the tool, its call id (the fact key) and
/// whether it failed.
fn tool_call(e: &mut SessionEvent, span: &Span, a: Attrs<'_>, failed: bool) {
    let ev = &mut e.event;
    ev.tool_name = a
        .first_str(&["gen_ai.tool.name", "pi.tool.name"])
        .or_else(|| span.name.strip_prefix("pi.tool."))
        .or_else(|| span.name.strip_prefix("execute_tool "))
        .unwrap_or_default()
        .to_owned();
    ev.tool_call_id = a
        .first_str(&["gen_ai.tool.call.id", "pi.tool.call_id"])
        .unwrap_or_default()
        .to_owned();
    let failed = failed || a.bool("pi.tool.is_error") == Some(true);
    ev.success = Some(!failed);
    if failed {
        ev.error = error_text(span, a);
    }
    if !ev.tool_call_id.is_empty() {
        e.fact_key = Some(format!("tool:{}", ev.tool_call_id));
    }
}

/// Fills a model call's model, tokens and cost; returns its fact key.
fn model_call(
    ev: &mut Event,
    a: Attrs<'_>,
    failed: bool,
    agent: Agent,
    prices: &Prices,
) -> Option<String> {
    ev.model = a
        .first_str(&["gen_ai.response.model", "gen_ai.request.model"])
        .unwrap_or_default()
        .to_owned();
    ev.status_code = a
        .i64("http.response.status_code")
        .and_then(|c| i32::try_from(c).ok());
    let response_id = a.str("gen_ai.response.id");
    if failed {
        return response_id.map(|id| format!("api_error:{id}"));
    }
    let tokens = tokens(a, agent);
    ev.cost_usd = a.f64("pi.cost.usd").or_else(|| a.f64("gen_ai.usage.cost"));
    if ev.cost_usd.is_none() {
        ev.cost_usd = prices.cost(&ev.model, &tokens);
        ev.cost_estimated = ev.cost_usd.is_some();
    }
    ev.tokens = Some(tokens);
    response_id.map(|id| format!("api:{id}"))
}

/// Token usage with `input` uncached (see the module docs for the conventions).
fn tokens(a: Attrs<'_>, agent: Agent) -> Tokens {
    let input = a
        .u64("gen_ai.usage.input_tokens")
        .or_else(|| a.u64("gen_ai.usage.prompt_tokens"))
        .unwrap_or(0);
    let output = a
        .u64("gen_ai.usage.output_tokens")
        .or_else(|| a.u64("gen_ai.usage.completion_tokens"))
        .unwrap_or(0);
    let included_read = a.u64("gen_ai.usage.cache_read.input_tokens");
    let included_write = a
        .u64("gen_ai.usage.cache_creation.input_tokens")
        .or_else(|| a.u64("gen_ai.usage.cache_write.input_tokens"));
    let cache_read = included_read
        .or_else(|| a.u64("gen_ai.usage.cache_read_input_tokens"))
        .unwrap_or(0);
    let cache_write = included_write
        .or_else(|| a.u64("gen_ai.usage.cache_creation_input_tokens"))
        .or_else(|| a.u64("gen_ai.usage.cache_write_input_tokens"))
        .unwrap_or(0);
    let included = agent != Agent::Pi && (included_read.is_some() || included_write.is_some());
    let cached = cache_read + cache_write;
    Tokens {
        input: if included && input >= cached {
            input - cached
        } else {
            input
        },
        output,
        cache_read,
        cache_write,
    }
}

fn span_failed(span: &Span, a: Attrs<'_>) -> bool {
    span.status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32)
        || attrs_failed(a)
}

fn attrs_failed(a: Attrs<'_>) -> bool {
    a.get("error.type").is_some() || finished_with_error(a)
}

/// `gen_ai.response.finish_reasons` (an array, or a single string) includes `error`.
fn finished_with_error(a: Attrs<'_>) -> bool {
    use crate::proto::common::any_value::Value;
    match a.get("gen_ai.response.finish_reasons") {
        Some(Value::ArrayValue(list)) => list
            .values
            .iter()
            .any(|v| matches!(&v.value, Some(Value::StringValue(s)) if s == "error")),
        Some(Value::StringValue(s)) => s == "error",
        _ => false,
    }
}

fn error_text(span: &Span, a: Attrs<'_>) -> String {
    span.status
        .as_ref()
        .map(|s| s.message.as_str())
        .filter(|m| !m.is_empty())
        .or_else(|| a.first_str(&["error.message", "error.type"]))
        .unwrap_or_default()
        .to_owned()
}

pub fn logs(records: Vec<LogRecord>, out: &mut Sink<'_>) {
    let resource = out.ctx.resource;
    for record in records {
        let a = Attrs(&record.attributes);
        let Some(sid) = session_id(a, resource) else {
            out.unattributed();
            continue;
        };
        let name = if record.event_name.is_empty() {
            a.str("event.name").unwrap_or_default()
        } else {
            record.event_name.as_str()
        };
        let kind = match name {
            "gen_ai.client.inference.operation.details"
                if a.get("gen_ai.response.id").is_some() =>
            {
                if attrs_failed(a) {
                    EventKind::ApiError
                } else {
                    EventKind::ApiRequest
                }
            }
            "pi.session.start" => EventKind::SessionStarted,
            "pi.session.end" => EventKind::SessionEnded,
            _ => {
                out.ignored();
                continue;
            }
        };
        let mut e = out.event(sid, kind);
        e.event.time_unix_nano = log_time(&record);
        e.event.name = name.to_owned();
        match kind {
            EventKind::ApiRequest | EventKind::ApiError => {
                let failed = kind == EventKind::ApiError;
                e.fact_key = model_call(&mut e.event, a, failed, out.ctx.agent, out.ctx.prices);
                if failed {
                    e.event.error = a
                        .first_str(&["error.message", "error.type"])
                        .or_else(|| any_str(&record.body))
                        .unwrap_or_default()
                        .to_owned();
                }
            }
            EventKind::SessionStarted => e.cwd = a.str("pi.cwd").map(str::to_owned),
            _ => {}
        }
        e.event.attributes = record.attributes;
        out.push(e);
    }
}

pub fn metrics(metrics: Vec<Metric>, out: &mut Sink<'_>) {
    let resource = out.ctx.resource;
    for m in &metrics {
        for attributes in super::data_point_attributes(m) {
            if session_id(Attrs(attributes), resource).is_some() {
                out.ignored();
            } else {
                out.unattributed();
            }
        }
    }
}

#[cfg(test)]
pub(in crate::normalize) mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::ingest::{Request, json as otlp_json};
    use crate::normalize::{Normalized, RecordTally, SessionEvent, Signal};
    use crate::proto::common::{AnyValue, any_value};
    use crate::proto::store::{Cost, Counts, Session};
    use crate::session::Commit;
    use crate::session::{NoBacking, Tracker};
    use crate::testkit::fixtures::{bodies, decode, dir};

    /// OTLP/JSON attributes from a JSON object; integers go as `intValue` strings, as on the wire.
    pub(in crate::normalize) fn kvs(attrs: &Value) -> Value {
        let map = attrs.as_object().expect("attributes object");
        map.iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => json!({ "stringValue": s }),
                    Value::Bool(b) => json!({ "boolValue": b }),
                    Value::Number(n) if n.is_i64() => json!({ "intValue": n.to_string() }),
                    Value::Number(n) => json!({ "doubleValue": n }),
                    Value::Array(items) => json!({ "arrayValue": { "values":
                        items.iter().map(|i| json!({ "stringValue": i.as_str().expect("string item") })).collect::<Vec<_>>() } }),
                    other => panic!("unsupported attribute value {other}"),
                };
                json!({ "key": k, "value": value })
            })
            .collect()
    }

    /// Decodes an OTLP/JSON body and normalizes it, as the HTTP receiver would.
    pub(in crate::normalize) fn normalize(signal: Signal, body: Value) -> Normalized {
        let decoded =
            otlp_json::decode(signal, body.to_string().as_bytes()).expect("valid OTLP/JSON");
        let prices = Prices::default();
        let mut out = Normalized::default();
        match decoded.request {
            Request::Logs(r) => crate::agents::read_otlp(Request::Logs(r), &prices, &mut out),
            Request::Traces(r) => crate::agents::read_otlp(Request::Traces(r), &prices, &mut out),
            Request::Metrics(r) => crate::agents::read_otlp(Request::Metrics(r), &prices, &mut out),
        }
        out
    }

    fn resource(service: &str) -> Value {
        json!({ "attributes": kvs(&json!({ "service.name": service, "service.version": "1.2.3" })) })
    }

    fn traces(service: &str, spans: Vec<Value>) -> Normalized {
        normalize(
            Signal::Traces,
            json!({ "resourceSpans": [{ "resource": resource(service), "scopeSpans": [{ "spans": spans }] }] }),
        )
    }

    const TRACE: &str = "0102030405060708090a0b0c0d0e0f10";
    const ROOT: &str = "a1a2a3a4a5a6a7a8";
    const CONV: &str = "conv-1";

    /// A span; `attrs` gets the conversation id unless it sets `gen_ai.conversation.id` to null.
    fn span(name: &str, id: &str, parent: &str, (start, end): (u64, u64), attrs: Value) -> Value {
        let mut attrs = attrs;
        match attrs.get("gen_ai.conversation.id") {
            Some(Value::Null) => {
                attrs
                    .as_object_mut()
                    .expect("object")
                    .remove("gen_ai.conversation.id");
            }
            Some(_) => {}
            None => attrs["gen_ai.conversation.id"] = json!(CONV),
        }
        let mut s = json!({
            "traceId": TRACE, "spanId": id, "name": name, "kind": 1,
            "startTimeUnixNano": start.to_string(), "endTimeUnixNano": end.to_string(), "attributes": kvs(&attrs),
        });
        if !parent.is_empty() {
            s["parentSpanId"] = json!(parent);
        }
        s
    }

    fn failed(mut span: Value, message: &str) -> Value {
        span["status"] = json!({ "code": 2, "message": message });
        span
    }

    fn apply(events: Vec<SessionEvent>) -> (Tracker, Commit) {
        let mut tracker = Tracker::new(0);
        let applied = tracker.apply(events, 1, &NoBacking).expect("apply");
        (tracker, applied.commit)
    }

    fn session(tracker: &Tracker, id: &str) -> Session {
        tracker
            .session(id)
            .cloned()
            .unwrap_or_else(|| panic!("no session {id}"))
    }

    fn kinds(commit: &Commit) -> Vec<&str> {
        commit.events.iter().map(|e| e.kind.as_str()).collect()
    }

    fn tally(out: &Normalized, agent: Agent, signal: Signal) -> RecordTally {
        out.tally.get(&(agent, signal)).copied().unwrap_or_default()
    }

    #[test]
    fn genai_spans_make_a_turn_with_its_requests_and_tools() {
        // Exporters send children first: the root ends last.
        let out = traces(
            "my-agent",
            vec![
                span(
                    "chat gpt-5",
                    "b1b2b3b4b5b6b7b8",
                    ROOT,
                    (20, 30),
                    json!({ "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-5",
                            "gen_ai.response.model": "gpt-5-2025-08-07", "gen_ai.response.id": "resp_1",
                            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 50,
                            "gen_ai.usage.cache_read.input_tokens": 400 }),
                ),
                span(
                    "execute_tool bash",
                    "c1c2c3c4c5c6c7c8",
                    ROOT,
                    (31, 41),
                    json!({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "bash",
                            "gen_ai.tool.call.id": "call_1" }),
                ),
                span(
                    "execute_tool read",
                    "d1d2d3d4d5d6d7d8",
                    ROOT,
                    (42, 43),
                    json!({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "read",
                            "gen_ai.tool.call.id": "call_2", "error.type": "FileNotFound" }),
                ),
                span(
                    "invoke_agent my-agent",
                    ROOT,
                    "",
                    (10, 50_000_010),
                    json!({ "gen_ai.operation.name": "invoke_agent" }),
                ),
            ],
        );
        assert_eq!(
            tally(&out, Agent::Generic, Signal::Traces),
            RecordTally {
                records: 4,
                unattributed: 0,
                ignored: 0
            }
        );
        let (tracker, commit) = apply(out.events);
        let s = session(&tracker, "generic:conv-1");
        assert_eq!(s.state, "idle");
        assert_eq!(s.service_version, "1.2.3");
        assert_eq!(
            s.counts,
            Some(Counts {
                turns: 1,
                tool_calls: 2,
                tool_errors: 1,
                api_requests: 1,
                api_errors: 0
            })
        );
        // input_tokens includes the cached 400 under the current conventions.
        assert_eq!(
            s.tokens,
            Some(Tokens {
                input: 600,
                output: 50,
                cache_read: 400,
                cache_write: 0
            })
        );
        let cost = s.cost.unwrap_or_default();
        assert!(
            (cost.known_usd - (600.0 * 1.25 + 50.0 * 10.0 + 400.0 * 0.125) / 1e6).abs() < 1e-12,
            "{cost:?}"
        );
        assert_eq!((cost.estimated_requests, cost.unknown_requests), (1, 0));
        assert_eq!(s.models, ["gpt-5-2025-08-07"]);
        assert_eq!(
            kinds(&commit),
            [
                "prompt",
                "api_request",
                "tool_finished",
                "tool_finished",
                "turn_finished",
                "state_changed"
            ]
        );
        assert!(
            commit.events.iter().all(|e| e.turn_id == ROOT),
            "every event is in the root's turn"
        );
        let prompt = &commit.events[0];
        assert_eq!(
            (prompt.time_unix_nano, prompt.name.as_str()),
            (10, "invoke_agent my-agent")
        );
        let read = &commit.events[3];
        assert_eq!(
            (read.tool_name.as_str(), read.success, read.error.as_str()),
            ("read", Some(false), "FileNotFound")
        );
        assert_eq!(read.duration_ms, Some(1e-6));
        assert_eq!(commit.events[4].duration_ms, Some(50.0));
        let facts: Vec<&str> = commit.facts.iter().map(|(_, k, _)| k.as_str()).collect();
        assert_eq!(facts, ["api:resp_1", "tool:call_1", "tool:call_2"]);
    }

    #[test]
    fn failed_calls_are_api_errors_and_a_failed_agent_fails_the_turn() {
        let out = traces(
            "my-agent",
            vec![
                failed(
                    span(
                        "chat",
                        "b1b2b3b4b5b6b7b8",
                        ROOT,
                        (20, 30),
                        json!({ "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "gpt-5", "http.response.status_code": 529 }),
                    ),
                    "overloaded",
                ),
                span(
                    "chat",
                    "c1c2c3c4c5c6c7c8",
                    ROOT,
                    (31, 40),
                    json!({ "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-5", "gen_ai.response.finish_reasons": ["error"] }),
                ),
                // A model missing from the price table has an unknown cost, never zero.
                span(
                    "chat",
                    "d1d2d3d4d5d6d7d8",
                    ROOT,
                    (41, 42),
                    json!({ "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "some-local-model", "gen_ai.usage.input_tokens": 10 }),
                ),
                failed(
                    span(
                        "invoke_agent",
                        ROOT,
                        "",
                        (10, 50),
                        json!({ "gen_ai.operation.name": "invoke_agent" }),
                    ),
                    "gave up",
                ),
            ],
        );
        let (tracker, commit) = apply(out.events);
        let s = session(&tracker, "generic:conv-1");
        assert_eq!(s.state, "errored");
        assert_eq!(
            s.counts.as_ref().map(|c| (c.api_requests, c.api_errors)),
            Some((1, 2))
        );
        assert_eq!(
            s.cost,
            Some(Cost {
                known_usd: 0.0,
                unknown_requests: 1,
                estimated_requests: 0
            })
        );
        let errors: Vec<_> = commit
            .events
            .iter()
            .filter(|e| e.kind == "api_error")
            .collect();
        assert_eq!(
            (errors[0].status_code, errors[0].error.as_str()),
            (Some(529), "overloaded")
        );
        let turn_failed = commit
            .events
            .iter()
            .find(|e| e.kind == "turn_failed")
            .expect("turn_failed");
        assert_eq!(turn_failed.error, "gave up");
    }

    #[test]
    fn records_without_a_conversation_are_unattributed_and_other_operations_ignored() {
        let out = traces(
            "my-agent",
            vec![
                span(
                    "chat",
                    "b1b2b3b4b5b6b7b8",
                    "",
                    (1, 2),
                    json!({ "gen_ai.operation.name": "chat",
                    "gen_ai.conversation.id": null }),
                ),
                span(
                    "embeddings",
                    "c1c2c3c4c5c6c7c8",
                    "",
                    (1, 2),
                    json!({ "gen_ai.operation.name": "embeddings" }),
                ),
                span("GET /", "d1d2d3d4d5d6d7d8", "", (1, 2), json!({})),
            ],
        );
        assert_eq!(
            tally(&out, Agent::Generic, Signal::Traces),
            RecordTally {
                records: 3,
                unattributed: 1,
                ignored: 2
            }
        );
        assert!(out.events.is_empty());

        // The resource may carry the conversation for all its records.
        let body = json!({ "resourceSpans": [{
            "resource": { "attributes": kvs(&json!({ "service.name": "x", "gen_ai.conversation.id": "conv-2" })) },
            "scopeSpans": [{ "spans": [span("chat", "b1b2b3b4b5b6b7b8", "", (1, 2),
                json!({ "gen_ai.operation.name": "chat", "gen_ai.conversation.id": null }))] }] }] });
        let out = normalize(Signal::Traces, body);
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].native_id, "conv-2");
    }

    #[test]
    fn a_nested_agent_is_a_sub_agent_inside_the_turn() {
        let out = traces(
            "my-agent",
            vec![
                span(
                    "chat",
                    "c1c2c3c4c5c6c7c8",
                    "b1b2b3b4b5b6b7b8",
                    (21, 22),
                    json!({ "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-5", "gen_ai.usage.input_tokens": 1 }),
                ),
                span(
                    "invoke_agent helper",
                    "b1b2b3b4b5b6b7b8",
                    "e1e2e3e4e5e6e7e8",
                    (20, 30),
                    json!({ "gen_ai.operation.name": "invoke_agent" }),
                ),
                span(
                    "execute_tool task",
                    "e1e2e3e4e5e6e7e8",
                    ROOT,
                    (15, 35),
                    json!({ "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "task", "gen_ai.tool.call.id": "call_9" }),
                ),
                span(
                    "invoke_agent",
                    ROOT,
                    "",
                    (10, 40),
                    json!({ "gen_ai.operation.name": "invoke_agent" }),
                ),
            ],
        );
        let (tracker, commit) = apply(out.events);
        let s = session(&tracker, "generic:conv-1");
        assert_eq!(
            s.counts
                .as_ref()
                .map(|c| (c.turns, c.api_requests, c.tool_calls)),
            Some((1, 1, 1))
        );
        assert_eq!(
            kinds(&commit),
            [
                "prompt",
                "api_request",
                "subagent_finished",
                "tool_finished",
                "turn_finished",
                "state_changed"
            ]
        );
        assert!(commit.events.iter().all(|e| e.turn_id == ROOT));
    }

    #[test]
    fn children_exported_before_their_root_join_the_current_turn() {
        let mut tracker = Tracker::new(0);
        let first = traces(
            "my-agent",
            vec![span(
                "invoke_agent",
                ROOT,
                "",
                (1, 2),
                json!({ "gen_ai.operation.name": "invoke_agent" }),
            )],
        );
        tracker.apply(first.events, 1, &NoBacking).expect("apply");
        let late = traces(
            "my-agent",
            vec![span(
                "execute_tool x",
                "c1c2c3c4c5c6c7c8",
                "f1f2f3f4f5f6f7f8",
                (3, 4),
                json!({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.id": "c" }),
            )],
        );
        assert_eq!(late.events[0].event.turn_id, "");
        tracker.apply(late.events, 2, &NoBacking).expect("apply");
        let s = session(&tracker, "generic:conv-1");
        assert_eq!(
            (s.state.as_str(), s.counts.as_ref().map(|c| c.tool_calls)),
            ("idle", Some(1))
        );
    }

    #[test]
    fn a_pi_otel_trace_is_read_with_pis_own_names_and_conventions() {
        let sid = "2026-03-15T10-00-00-000Z_6f0c";
        let common = |extra: Value| {
            let mut a = json!({ "gen_ai.system": "pi", "pi.cwd": "/home/me/project", "pi.session.id": sid,
                                "session.id": sid, "gen_ai.conversation.id": sid });
            for (k, v) in extra.as_object().expect("object") {
                a[k] = v.clone();
            }
            a
        };
        let turn = "b1b2b3b4b5b6b7b8";
        let out = traces(
            "pi",
            vec![
                span(
                    "pi.llm_request",
                    "c1c2c3c4c5c6c7c8",
                    turn,
                    (20, 30),
                    common(json!({
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-sonnet-4-5",
                    "gen_ai.response.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 200,
                    "gen_ai.usage.output_tokens": 80, "gen_ai.usage.cache_read_input_tokens": 5000,
                    "gen_ai.usage.cache_write_input_tokens": 100, "pi.cost.usd": 0.0123,
                    "gen_ai.response.finish_reasons": ["toolUse"] })),
                ),
                span(
                    "pi.tool.bash",
                    "d1d2d3d4d5d6d7d8",
                    turn,
                    (31, 60),
                    common(json!({
                    "pi.tool.name": "bash", "pi.tool.call_id": "toolu_1", "gen_ai.tool.name": "bash",
                    "gen_ai.tool.call.id": "toolu_1", "pi.tool.is_error": false })),
                ),
                failed(
                    span(
                        "pi.tool.read",
                        "e1e2e3e4e5e6e7e8",
                        turn,
                        (61, 62),
                        common(json!({
                        "pi.tool.name": "read", "pi.tool.call_id": "toolu_2", "pi.tool.is_error": true })),
                    ),
                    "",
                ),
                span(
                    "pi.turn",
                    turn,
                    ROOT,
                    (15, 70),
                    common(json!({ "pi.turn_index": 0 })),
                ),
                span(
                    "pi.interaction",
                    ROOT,
                    "",
                    (10, 80),
                    common(json!({ "pi.user_prompt_length": 12,
                    "pi.turn_count": 1, "pi.tool_count": 2 })),
                ),
            ],
        );
        assert_eq!(
            tally(&out, Agent::Pi, Signal::Traces),
            RecordTally {
                records: 5,
                unattributed: 0,
                ignored: 1
            }
        );
        let (tracker, commit) = apply(out.events);
        let s = session(&tracker, &format!("pi:{sid}"));
        assert_eq!(
            (s.state.as_str(), s.cwd.as_str()),
            ("idle", "/home/me/project")
        );
        assert_eq!(
            s.counts,
            Some(Counts {
                turns: 1,
                tool_calls: 2,
                tool_errors: 1,
                api_requests: 1,
                api_errors: 0
            })
        );
        // pi reports uncached input and its own cost.
        assert_eq!(
            s.tokens,
            Some(Tokens {
                input: 200,
                output: 80,
                cache_read: 5000,
                cache_write: 100
            })
        );
        assert_eq!(
            s.cost,
            Some(Cost {
                known_usd: 0.0123,
                unknown_requests: 0,
                estimated_requests: 0
            })
        );
        let tools: Vec<(&str, &str, Option<bool>)> = commit
            .events
            .iter()
            .filter(|e| e.kind == "tool_finished")
            .map(|e| (e.tool_name.as_str(), e.tool_call_id.as_str(), e.success))
            .collect();
        assert_eq!(
            tools,
            [
                ("bash", "toolu_1", Some(true)),
                ("read", "toolu_2", Some(false))
            ]
        );
        assert!(commit.events.iter().all(|e| e.turn_id == ROOT));
    }

    #[test]
    fn pi_lifecycle_logs_start_and_end_the_session() {
        let sid = "2026-03-15T10-00-00-000Z_6f0c";
        let record = |t: u64, name: &str, attrs: Value| {
            let mut attrs = attrs;
            attrs["event.name"] = json!(name);
            json!({ "observedTimeUnixNano": t.to_string(), "body": { "stringValue": "pi" }, "attributes": kvs(&attrs) })
        };
        let out = normalize(
            Signal::Logs,
            json!({ "resourceLogs": [{ "resource": resource("pi"), "scopeLogs": [{ "logRecords": [
                record(1, "pi.session.start", json!({ "pi.session.id": sid, "pi.cwd": "/src/app", "gen_ai.system": "pi" })),
                // pi-otel's error logs carry no session and repeat the spans' status.
                record(2, "pi.tool.error", json!({ "gen_ai.tool.name": "bash", "gen_ai.tool.call.id": "t" })),
                record(3, "pi.session.end", json!({ "pi.session.id": sid })),
            ] }] }] }),
        );
        assert_eq!(
            tally(&out, Agent::Pi, Signal::Logs),
            RecordTally {
                records: 3,
                unattributed: 1,
                ignored: 0
            }
        );
        let (tracker, commit) = apply(out.events);
        let s = session(&tracker, &format!("pi:{sid}"));
        assert_eq!(
            (s.state.as_str(), s.cwd.as_str(), s.end_reason.as_str()),
            ("ended", "/src/app", "session_ended")
        );
        assert_eq!(
            commit.events[0].time_unix_nano, 1,
            "observed time when the record has none"
        );
    }

    #[test]
    fn an_inference_details_log_and_its_span_count_once() {
        let details = json!({ "resourceLogs": [{ "resource": resource("my-agent"), "scopeLogs": [{ "logRecords": [{
            "timeUnixNano": "30", "eventName": "gen_ai.client.inference.operation.details",
            "attributes": kvs(&json!({ "gen_ai.conversation.id": CONV, "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-5", "gen_ai.response.id": "resp_1",
                "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10 })) },
            { "timeUnixNano": "31", "eventName": "gen_ai.user.message",
              "attributes": kvs(&json!({ "gen_ai.conversation.id": CONV })) }] }] }] });
        let logs = normalize(Signal::Logs, details);
        assert_eq!(
            tally(&logs, Agent::Generic, Signal::Logs),
            RecordTally {
                records: 2,
                unattributed: 0,
                ignored: 1
            }
        );
        let spans = traces(
            "my-agent",
            vec![span(
                "chat gpt-5",
                "b1b2b3b4b5b6b7b8",
                "",
                (20, 30),
                json!({ "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-5", "gen_ai.response.id": "resp_1",
                "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10 }),
            )],
        );
        let mut events = logs.events;
        events.extend(spans.events);
        let (tracker, _) = apply(events);
        let s = session(&tracker, "generic:conv-1");
        assert_eq!(s.counts.as_ref().map(|c| c.api_requests), Some(1));
        assert_eq!(
            s.tokens.as_ref().map(|t| (t.input, t.output)),
            Some((100, 10))
        );
    }

    #[test]
    fn genai_metrics_are_ignored_or_unattributed() {
        let point = |attrs: Value| json!({ "timeUnixNano": "9", "asDouble": 1.0, "attributes": kvs(&attrs) });
        let out = normalize(
            Signal::Metrics,
            json!({ "resourceMetrics": [{ "resource": resource("my-agent"), "scopeMetrics": [{ "metrics": [
                { "name": "gen_ai.client.token.usage", "sum": { "aggregationTemporality": 2, "dataPoints": [
                    point(json!({ "gen_ai.token.type": "input" })),
                    point(json!({ "gen_ai.token.type": "input", "gen_ai.conversation.id": CONV })) ] } } ] }] }] }),
        );
        assert_eq!(
            tally(&out, Agent::Generic, Signal::Metrics),
            RecordTally {
                records: 2,
                unattributed: 1,
                ignored: 1
            }
        );
        assert!(out.events.is_empty());
    }

    /// Copilot CLI's recorded spans follow the GenAI conventions closely: read them as a generic
    /// emitter would send them.
    fn copilot_as_generic(scenario: &str) -> (Session, Commit, Normalized) {
        let prices = Prices::default();
        let mut out = Normalized::default();
        for body in bodies(&dir("copilot-cli-1.0.102", scenario)) {
            let rename = |resource: &mut Option<crate::proto::resource::Resource>| {
                for kv in resource.iter_mut().flat_map(|r| r.attributes.iter_mut()) {
                    if kv.key == "service.name" {
                        kv.value = Some(AnyValue {
                            value: Some(any_value::Value::StringValue("some-genai-agent".into())),
                        });
                    }
                }
            };
            match decode(&body) {
                Request::Traces(mut r) => {
                    r.resource_spans
                        .iter_mut()
                        .for_each(|rs| rename(&mut rs.resource));
                    crate::agents::read_otlp(Request::Traces(r), &prices, &mut out);
                }
                Request::Metrics(mut r) => {
                    r.resource_metrics
                        .iter_mut()
                        .for_each(|rm| rename(&mut rm.resource));
                    crate::agents::read_otlp(Request::Metrics(r), &prices, &mut out);
                }
                Request::Logs(mut r) => {
                    r.resource_logs
                        .iter_mut()
                        .for_each(|rl| rename(&mut rl.resource));
                    crate::agents::read_otlp(Request::Logs(r), &prices, &mut out);
                }
            }
        }
        let events = std::mem::take(&mut out.events);
        let (tracker, commit) = apply(events);
        let mut sessions = commit
            .sessions
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>();
        sessions.dedup();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        (session(&tracker, &sessions[0]), commit, out)
    }

    #[test]
    fn copilots_recorded_genai_spans_read_as_a_generic_emitter() {
        let (s, commit, out) = copilot_as_generic("bash");
        assert_eq!(s.id, "generic:2dfb2bc5-2735-4d6e-8b24-4947fed1d9c2");
        assert_eq!(s.state, "idle");
        assert_eq!(
            s.counts,
            Some(Counts {
                turns: 1,
                tool_calls: 1,
                tool_errors: 0,
                api_requests: 2,
                api_errors: 0
            })
        );
        // Copilot's input_tokens (11474) holds the 8192 cached and 2048 written tokens.
        assert_eq!(
            s.tokens,
            Some(Tokens {
                input: 2 * 1234,
                output: 2 * 42,
                cache_read: 2 * 8192,
                cache_write: 2 * 2048
            })
        );
        let per_request = (1234.0 * 3.0 + 42.0 * 15.0 + 8192.0 * 0.3 + 2048.0 * 3.75) / 1e6;
        let cost = s.cost.unwrap_or_default();
        assert!(
            (cost.known_usd - 2.0 * per_request).abs() < 1e-12,
            "{cost:?}"
        );
        assert_eq!(cost.estimated_requests, 2);
        assert_eq!(s.models, ["claude-sonnet-4.5"]);
        let tool = commit
            .events
            .iter()
            .find(|e| e.kind == "tool_finished")
            .expect("tool");
        assert_eq!(
            (tool.tool_name.as_str(), tool.success),
            ("bash", Some(true))
        );
        let spans = tally(&out, Agent::Generic, Signal::Traces);
        assert_eq!(
            (spans.records, spans.unattributed, spans.ignored),
            (4, 0, 0)
        );

        let (s, _, _) = copilot_as_generic("error529");
        assert_eq!(s.state, "errored");
        assert_eq!(
            s.counts
                .as_ref()
                .map(|c| (c.turns, c.api_requests, c.api_errors)),
            Some((1, 0, 6))
        );
    }
}
