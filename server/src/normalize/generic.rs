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
use super::{Agent, EventKind, Prices, Sink};
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
    a.first_str(&SESSION_KEYS).or_else(|| resource.first_str(&SESSION_KEYS))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Chat,
    Tool,
    Agent,
    Other,
}

fn operation(span: &Span, a: Attrs<'_>) -> Op {
    let op = a.str("gen_ai.operation.name").unwrap_or_else(|| match span.name.as_str() {
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
    let mut by_id: Vec<(u64, usize)> =
        spans.iter().enumerate().filter_map(|(i, s)| Some((span_key(&s.span_id)?, i))).collect();
    by_id.sort_unstable();
    let find = |id: &[u8]| {
        let key = span_key(id)?;
        by_id.binary_search_by_key(&key, |(k, _)| *k).ok().map(|at| by_id[at].1)
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
            (0..spans.len()).find(|&j| is_turn(j) && spans[j].trace_id == *trace)
        })
        .collect()
}

pub fn spans(spans: Vec<Span>, out: &mut Sink<'_>) {
    let resource = out.ctx.resource;
    let ops: Vec<Op> = spans.iter().map(|s| operation(s, Attrs(&s.attributes))).collect();
    let roots = turn_roots(&spans, &ops);
    let mut turn_ids: Vec<Option<String>> = vec![None; spans.len()];
    for (i, span) in spans.iter().enumerate() {
        if roots[i] != Some(i) {
            continue;
        }
        turn_ids[i] = Some(hex::encode(&span.span_id));
        let a = Attrs(&span.attributes);
        let Some(sid) = session_id(a, resource) else { continue };
        let mut e = out.event(sid, EventKind::Prompt);
        e.event.time_unix_nano = nanos(span.start_time_unix_nano);
        e.event.turn_id = hex::encode(&span.span_id);
        e.event.name.clone_from(&span.name);
        e.cwd = a.str("pi.cwd").map(str::to_owned);
        out.push(e);
    }
    let turn_of = |i: usize| roots[i].and_then(|r| turn_ids[r].clone()).unwrap_or_default();

    let mut turn_ends = Vec::new();
    for (i, span) in spans.into_iter().enumerate() {
        let a = Attrs(&span.attributes);
        let Some(sid) = session_id(a, resource) else {
            out.unattributed();
            continue;
        };
        let failed = span_failed(&span, a);
        let kind = match ops[i] {
            Op::Chat if failed => EventKind::ApiError,
            Op::Chat => EventKind::ApiRequest,
            Op::Tool => EventKind::ToolFinished,
            Op::Agent if roots[i] == Some(i) && failed => EventKind::TurnFailed,
            Op::Agent if roots[i] == Some(i) => EventKind::TurnFinished,
            Op::Agent => EventKind::SubagentFinished,
            Op::Other => {
                out.ignored();
                continue;
            }
        };
        let mut e = out.event(sid, kind);
        let ev = &mut e.event;
        ev.time_unix_nano = nanos(span.end_time_unix_nano);
        ev.turn_id = turn_of(i);
        ev.duration_ms = span_ms(&span);
        match kind {
            EventKind::ApiRequest | EventKind::ApiError => {
                e.fact_key = model_call(ev, a, failed, out.ctx.agent, out.ctx.prices);
                if failed {
                    ev.error = error_text(&span, a);
                }
            }
            EventKind::ToolFinished => {
                ev.tool_name = a
                    .first_str(&["gen_ai.tool.name", "pi.tool.name"])
                    .or_else(|| span.name.strip_prefix("pi.tool."))
                    .or_else(|| span.name.strip_prefix("execute_tool "))
                    .unwrap_or_default()
                    .to_owned();
                ev.tool_call_id = a.first_str(&["gen_ai.tool.call.id", "pi.tool.call_id"]).unwrap_or_default().to_owned();
                let failed = failed || a.bool("pi.tool.is_error") == Some(true);
                ev.success = Some(!failed);
                if failed {
                    ev.error = error_text(&span, a);
                }
                if !ev.tool_call_id.is_empty() {
                    e.fact_key = Some(format!("tool:{}", ev.tool_call_id));
                }
            }
            EventKind::TurnFailed => ev.error = error_text(&span, a),
            _ => {}
        }
        e.event.name = span.name;
        e.event.attributes = span.attributes;
        if matches!(kind, EventKind::TurnFinished | EventKind::TurnFailed) {
            turn_ends.push(e);
        } else {
            out.push(e);
        }
    }
    for e in turn_ends {
        out.push(e);
    }
}

/// Fills a model call's model, tokens and cost; returns its fact key.
fn model_call(ev: &mut Event, a: Attrs<'_>, failed: bool, agent: Agent, prices: &Prices) -> Option<String> {
    ev.model = a.first_str(&["gen_ai.response.model", "gen_ai.request.model"]).unwrap_or_default().to_owned();
    ev.status_code = a.i64("http.response.status_code").and_then(|c| i32::try_from(c).ok());
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
    let input = a.u64("gen_ai.usage.input_tokens").or_else(|| a.u64("gen_ai.usage.prompt_tokens")).unwrap_or(0);
    let output = a
        .u64("gen_ai.usage.output_tokens")
        .or_else(|| a.u64("gen_ai.usage.completion_tokens"))
        .unwrap_or(0);
    let included_read = a.u64("gen_ai.usage.cache_read.input_tokens");
    let included_write = a
        .u64("gen_ai.usage.cache_creation.input_tokens")
        .or_else(|| a.u64("gen_ai.usage.cache_write.input_tokens"));
    let cache_read = included_read.or_else(|| a.u64("gen_ai.usage.cache_read_input_tokens")).unwrap_or(0);
    let cache_write = included_write
        .or_else(|| a.u64("gen_ai.usage.cache_creation_input_tokens"))
        .or_else(|| a.u64("gen_ai.usage.cache_write_input_tokens"))
        .unwrap_or(0);
    let included = agent != Agent::Pi && (included_read.is_some() || included_write.is_some());
    let cached = cache_read + cache_write;
    Tokens {
        input: if included && input >= cached { input - cached } else { input },
        output,
        cache_read,
        cache_write,
    }
}

fn span_failed(span: &Span, a: Attrs<'_>) -> bool {
    span.status.as_ref().is_some_and(|s| s.code == StatusCode::Error as i32) || attrs_failed(a)
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

fn span_ms(span: &Span) -> Option<f64> {
    (span.end_time_unix_nano >= span.start_time_unix_nano && span.start_time_unix_nano > 0)
        .then(|| (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / 1e6)
}

fn nanos(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
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
            "gen_ai.client.inference.operation.details" if a.get("gen_ai.response.id").is_some() => {
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
        let t = if record.time_unix_nano > 0 {
            record.time_unix_nano
        } else {
            record.observed_time_unix_nano
        };
        e.event.time_unix_nano = nanos(t);
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
