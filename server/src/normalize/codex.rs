//! Codex CLI adapter (`service.name` `codex_exec`, `codex_cli_rs`, `codex-tui`, …): turns Codex's
//! OTLP logs and its one useful span into session events. Sits between `ingest` and the tracker
//! like every adapter in `normalize`.
//!
//! What Codex sends (verified on 0.169.0, `server/tests/fixtures/codex-0.169.0`):
//! - **Logs** carry the facts: the `event.name` attribute names them (`codex.user_prompt`,
//!   `codex.api_request`, `codex.sse_event`, `codex.tool_result`, …) and `conversation.id` is the
//!   session. They have no timestamp (only `observed_time_unix_nano`) and no turn id.
//! - **Traces** are Codex's internal `tracing` spans: hundreds per run, skipped by name. Only
//!   `session_task.turn` (a turn ended) and `session_loop` (the session's loop ended) are kept.
//!   Failed or killed runs export no traces at all.
//! - **Metrics** repeat the logs as aggregates and carry no session id: ignored.
//!
//! Turns. Codex runs each turn in its own trace (the `turn/start` request span is its root) and
//! stamps that trace on the turn's `codex.user_prompt`, `codex.api_request` and `codex.tool_*` logs
//! and on the `session_task.turn` span that closes it. So the turn id is the **hex trace id**: logs
//! of a run that died before exporting traces still group into turns, and a turn's span may arrive
//! before or after its logs (it does both in the fixtures). `codex.sse_event` records have no trace
//! context and join the session's current turn. Codex's own turn id (`turn.id`, the one hooks and
//! `notify` use) exists only on spans; it stays in turn_finished's attributes. A sub-agent is its
//! own session (its own `conversation.id`) but runs inside its parent's trace, so all the turns of
//! one sub-agent share an id — fine for the one-task sub-agents Codex spawns.

use super::attrs::Attrs;
use super::{EventKind, Sink};
use crate::proto::logs::LogRecord;
use crate::proto::metrics::Metric;
use crate::proto::store::Tokens;
use crate::proto::trace::Span;
use crate::proto::trace::status::StatusCode;

pub fn logs(records: Vec<LogRecord>, out: &mut Sink<'_>) {
    for record in records {
        log(record, out);
    }
}

pub fn spans(spans: Vec<Span>, out: &mut Sink<'_>) {
    for span in spans {
        // Matched on the name alone: the other spans are dropped without reading an attribute.
        match span.name.as_str() {
            "session_task.turn" => turn_span(span, out),
            "session_loop" => session_loop_span(span, out),
            _ => out.ignored(),
        }
    }
}

/// Every Codex metric repeats a log fact as an aggregate, and no data point names its session.
pub fn metrics(metrics: Vec<Metric>, out: &mut Sink<'_>) {
    for m in &metrics {
        (0..super::data_points(m)).for_each(|_| out.ignored());
    }
}

fn log(mut record: LogRecord, out: &mut Sink<'_>) {
    let a = Attrs(&record.attributes);
    // Older builds may put the name in the OTLP field; 0.169 puts a source location there.
    let name = a
        .str("event.name")
        .or_else(|| Some(record.event_name.as_str()).filter(|n| n.starts_with("codex.")));
    let kind = match name {
        Some("codex.conversation_starts") => EventKind::SessionStarted,
        Some("codex.user_prompt") => EventKind::Prompt,
        Some("codex.tool_decision") => EventKind::ToolDecision,
        Some("codex.tool_result") => EventKind::ToolFinished,
        // One record per HTTP attempt or websocket request; only failures are facts (a success
        // only says the request went out: its tokens come with `response.completed`).
        Some("codex.api_request" | "codex.websocket_connect" | "codex.websocket_request") => {
            let status = a.i64("http.response.status_code");
            let failed = a.str("error.message").is_some()
                || status.is_some_and(|s| s >= 400)
                || a.bool("success") == Some(false);
            if !failed {
                out.ignored();
                return;
            }
            EventKind::ApiError
        }
        // One record per streamed event. `response.completed` is logged twice per response, once
        // bare and once with the token counts: only the one with counts is the request.
        Some("codex.sse_event") => {
            if a.str("error.message").is_some() {
                EventKind::ApiError
            } else if a.str("event.kind") == Some("response.completed")
                && a.get("input_token_count").is_some()
            {
                EventKind::ApiRequest
            } else {
                out.ignored();
                return;
            }
        }
        // startup_phase, turn_ttft, sandbox_outcome, auth/plugin housekeeping, and the exporter's
        // own "flushing OTEL metrics" record (no attributes at all).
        _ => {
            out.ignored();
            return;
        }
    };
    let Some(session) = a.str("conversation.id") else {
        out.unattributed();
        return;
    };

    let mut e = out.event(session, kind);
    let ev = &mut e.event;
    ev.time_unix_nano = nanos(if record.time_unix_nano > 0 {
        record.time_unix_nano
    } else {
        record.observed_time_unix_nano
    });
    ev.name = name.unwrap_or_default().to_owned();
    ev.duration_ms = a.f64("duration_ms");
    if kind != EventKind::SessionStarted {
        if let Some(turn) = trace_hex(&record.trace_id) {
            ev.turn_id = turn;
        } else if kind == EventKind::Prompt {
            // Without trace context a prompt still has to open a turn of its own.
            ev.turn_id = format!("prompt-{}", ev.time_unix_nano);
        }
    }
    match kind {
        EventKind::SessionStarted => {
            ev.model = a.str("model").unwrap_or_default().to_owned();
        }
        EventKind::ToolDecision | EventKind::ToolFinished => {
            ev.tool_name = a.str("tool_name").unwrap_or_default().to_owned();
            ev.tool_call_id = a.str("call_id").unwrap_or_default().to_owned();
            if kind == EventKind::ToolFinished {
                ev.success = a.bool("success");
                if !ev.tool_call_id.is_empty() {
                    e.fact_key = Some(format!("tool_finished:{}", ev.tool_call_id));
                }
            }
        }
        EventKind::ApiRequest => {
            ev.model = a.str("model").unwrap_or_default().to_owned();
            let tokens = response_tokens(a);
            ev.cost_usd = out.ctx.prices.cost(&ev.model, &tokens);
            ev.cost_estimated = ev.cost_usd.is_some();
            ev.tokens = Some(tokens);
        }
        EventKind::ApiError => {
            ev.model = a.str("model").unwrap_or_default().to_owned();
            ev.status_code = a.i64("http.response.status_code").and_then(|s| i32::try_from(s).ok());
            ev.error = match (a.str("error.message"), ev.status_code) {
                (Some(m), _) => m.to_owned(),
                (None, Some(s)) => format!("http {s}"),
                (None, None) => "request failed".to_owned(),
            };
        }
        _ => {}
    }
    e.event.attributes = std::mem::take(&mut record.attributes);
    out.push(e);
}

/// Tokens of a `response.completed` record. Codex reports OpenAI Responses usage: the input count
/// is the whole prompt (cached tokens included) and reasoning tokens are part of the output.
fn response_tokens(a: Attrs<'_>) -> Tokens {
    let prompt = a.u64("input_token_count").unwrap_or(0);
    let cache_read = a.u64("cached_token_count").unwrap_or(0);
    let cache_write = a.u64("cache_write_token_count").unwrap_or(0);
    Tokens {
        input: prompt.saturating_sub(cache_read).saturating_sub(cache_write),
        output: a.u64("output_token_count").unwrap_or(0),
        cache_read,
        cache_write,
    }
}

/// `session_task.turn` ends when the turn does. Its `thread.id` is the conversation id here (on
/// most other spans the same key is an OS thread number, which `str` does not read).
fn turn_span(mut span: Span, out: &mut Sink<'_>) {
    let a = Attrs(&span.attributes);
    let Some(session) = a.first_str(&["thread.id", "conversation.id"]) else {
        out.unattributed();
        return;
    };
    let failed = span.status.as_ref().is_some_and(|s| s.code == StatusCode::Error as i32);
    let kind = if failed { EventKind::TurnFailed } else { EventKind::TurnFinished };
    let mut e = out.event(session, kind);
    let ev = &mut e.event;
    ev.time_unix_nano = nanos(span.end_time_unix_nano);
    ev.name = std::mem::take(&mut span.name);
    ev.turn_id = trace_hex(&span.trace_id)
        .or_else(|| a.str("turn.id").map(str::to_owned))
        .unwrap_or_default();
    ev.model = a.str("model").unwrap_or_default().to_owned();
    ev.duration_ms = duration_ms(&span);
    if failed {
        ev.error = span.status.as_ref().map(|s| s.message.clone()).unwrap_or_default();
    }
    e.event.attributes = std::mem::take(&mut span.attributes);
    out.push(e);
}

/// `session_loop` spans a session's whole life in this process: its end is the session's end.
fn session_loop_span(mut span: Span, out: &mut Sink<'_>) {
    let a = Attrs(&span.attributes);
    let Some(session) = a.first_str(&["thread_id", "thread.id", "conversation.id"]) else {
        out.unattributed();
        return;
    };
    let mut e = out.event(session, EventKind::SessionEnded);
    e.event.time_unix_nano = nanos(span.end_time_unix_nano);
    e.event.duration_ms = duration_ms(&span);
    e.event.name = std::mem::take(&mut span.name);
    e.event.attributes = std::mem::take(&mut span.attributes);
    out.push(e);
}

/// A trace id as lowercase hex; `None` when absent or all zero (no trace context).
fn trace_hex(id: &[u8]) -> Option<String> {
    (!id.is_empty() && id.iter().any(|b| *b != 0)).then(|| hex::encode(id))
}

fn nanos(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(0)
}

fn duration_ms(span: &Span) -> Option<f64> {
    (span.start_time_unix_nano > 0 && span.end_time_unix_nano >= span.start_time_unix_nano)
        .then(|| (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::fixture::{dir, normalize, replay};
    use crate::normalize::{Agent, Normalized, Prices, Signal};
    use crate::proto::store::{Counts, Session, Turn};

    const AGENT_DIR: &str = "codex-0.169.0";
}
