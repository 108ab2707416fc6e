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
use super::{EventKind, Prices, SessionEvent, Sink, id_hex, log_time, nanos, span_ms};
use crate::proto::logs::LogRecord;
use crate::proto::metrics::Metric;
use crate::proto::store::{Event, Tokens};
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
    let Some(kind) = log_kind(name, a) else {
        out.ignored();
        return;
    };
    let Some(session) = a.str("conversation.id") else {
        out.unattributed();
        return;
    };

    let mut e = out.event(session, kind);
    let ev = &mut e.event;
    ev.time_unix_nano = log_time(&record);
    ev.name = name.unwrap_or_default().to_owned();
    ev.duration_ms = a.f64("duration_ms");
    if kind != EventKind::SessionStarted {
        if let Some(turn) = id_hex(&record.trace_id) {
            ev.turn_id = turn;
        } else if kind == EventKind::Prompt {
            // Without trace context a prompt still has to open a turn of its own.
            ev.turn_id = format!("prompt-{}", ev.time_unix_nano);
        }
    }
    match kind {
        EventKind::SessionStarted => {
            e.event.model = a.str("model").unwrap_or_default().to_owned();
        }
        EventKind::ToolDecision | EventKind::ToolFinished => tool_call(&mut e, kind, a),
        EventKind::ApiRequest => response_completed(&mut e.event, a, out.ctx.prices),
        EventKind::ApiError => api_error(&mut e.event, a),
        _ => {}
    }
    e.event.attributes = std::mem::take(&mut record.attributes);
    out.push(e);
}

/// The event a Codex log makes, if it reports a fact.
fn log_kind(name: Option<&str>, a: Attrs<'_>) -> Option<EventKind> {
    let kind = match name? {
        "codex.conversation_starts" => EventKind::SessionStarted,
        "codex.user_prompt" => EventKind::Prompt,
        "codex.tool_decision" => EventKind::ToolDecision,
        "codex.tool_result" => EventKind::ToolFinished,
        // One record per HTTP attempt or websocket request; only failures are facts (a success
        // only says the request went out: its tokens come with `response.completed`).
        "codex.api_request" | "codex.websocket_connect" | "codex.websocket_request" => {
            let status = a.i64("http.response.status_code");
            let failed = a.str("error.message").is_some()
                || status.is_some_and(|s| s >= 400)
                || a.bool("success") == Some(false);
            if !failed {
                return None;
            }
            EventKind::ApiError
        }
        // One record per streamed event. `response.completed` is logged twice per response, once
        // bare and once with the token counts: only the one with counts is the request.
        "codex.sse_event" => {
            if a.str("error.message").is_some() {
                EventKind::ApiError
            } else if a.str("event.kind") == Some("response.completed")
                && a.get("input_token_count").is_some()
            {
                EventKind::ApiRequest
            } else {
                return None;
            }
        }
        // startup_phase, turn_ttft, sandbox_outcome, auth/plugin housekeeping, and the exporter's
        // own "flushing OTEL metrics" record (no attributes at all).
        _ => return None,
    };
    Some(kind)
}

/// `codex.tool_decision` and `codex.tool_result`: the tool and its call id, which keys a result.
fn tool_call(e: &mut SessionEvent, kind: EventKind, a: Attrs<'_>) {
    let ev = &mut e.event;
    ev.tool_name = a.str("tool_name").unwrap_or_default().to_owned();
    ev.tool_call_id = a.str("call_id").unwrap_or_default().to_owned();
    if kind == EventKind::ToolFinished {
        ev.success = a.bool("success");
        if !ev.tool_call_id.is_empty() {
            e.fact_key = Some(format!("tool:{}", ev.tool_call_id));
        }
    }
}

/// The `response.completed` with token counts: the request, priced from its tokens (Codex
/// reports no cost).
fn response_completed(ev: &mut Event, a: Attrs<'_>, prices: &Prices) {
    ev.model = a.str("model").unwrap_or_default().to_owned();
    let tokens = response_tokens(a);
    ev.cost_usd = prices.cost(&ev.model, &tokens);
    ev.cost_estimated = ev.cost_usd.is_some();
    ev.tokens = Some(tokens);
}

/// A failed request or stream: its message, else its HTTP status.
fn api_error(ev: &mut Event, a: Attrs<'_>) {
    ev.model = a.str("model").unwrap_or_default().to_owned();
    ev.status_code = a
        .i64("http.response.status_code")
        .and_then(|s| i32::try_from(s).ok());
    ev.error = match (a.str("error.message"), ev.status_code) {
        (Some(m), _) => m.to_owned(),
        (None, Some(s)) => format!("http {s}"),
        (None, None) => "request failed".to_owned(),
    };
}

/// Tokens of a `response.completed` record. Codex reports OpenAI Responses usage: the input count
/// is the whole prompt (cached tokens included) and reasoning tokens are part of the output.
fn response_tokens(a: Attrs<'_>) -> Tokens {
    let prompt = a.u64("input_token_count").unwrap_or(0);
    let cache_read = a.u64("cached_token_count").unwrap_or(0);
    let cache_write = a.u64("cache_write_token_count").unwrap_or(0);
    Tokens {
        input: prompt
            .saturating_sub(cache_read)
            .saturating_sub(cache_write),
        output: a.u64("output_token_count").unwrap_or(0),
        cache_read,
        cache_write,
    }
}

/// `session_task.turn` ends when the turn does. It carries `thread.id` twice: first the tracing
/// layer's OS thread number (an int), then Codex's own field, the conversation id (a string).
fn turn_span(mut span: Span, out: &mut Sink<'_>) {
    let a = Attrs(&span.attributes);
    let Some(session) = a.str("thread.id").or_else(|| a.str("conversation.id")) else {
        out.unattributed();
        return;
    };
    let failed = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32);
    let kind = if failed {
        EventKind::TurnFailed
    } else {
        EventKind::TurnFinished
    };
    let mut e = out.event(session, kind);
    let ev = &mut e.event;
    ev.time_unix_nano = nanos(span.end_time_unix_nano);
    ev.name = std::mem::take(&mut span.name);
    ev.turn_id = id_hex(&span.trace_id)
        .or_else(|| a.str("turn.id").map(str::to_owned))
        .unwrap_or_default();
    ev.model = a.str("model").unwrap_or_default().to_owned();
    ev.duration_ms = span_ms(&span);
    if failed {
        ev.error = span.status.take().map(|s| s.message).unwrap_or_default();
    }
    e.event.attributes = std::mem::take(&mut span.attributes);
    out.push(e);
}

/// `session_loop` spans a session's whole life in this process: its end is the session's end.
fn session_loop_span(mut span: Span, out: &mut Sink<'_>) {
    let a = Attrs(&span.attributes);
    let Some(session) = a.str("thread_id").or_else(|| a.str("thread.id")) else {
        out.unattributed();
        return;
    };
    let mut e = out.event(session, EventKind::SessionEnded);
    e.event.time_unix_nano = nanos(span.end_time_unix_nano);
    e.event.duration_ms = span_ms(&span);
    e.event.name = std::mem::take(&mut span.name);
    e.event.attributes = std::mem::take(&mut span.attributes);
    out.push(e);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::normalize::{Agent, Normalized, Prices, RecordTally, SessionEvent, Signal};
    use crate::proto::common::{AnyValue, KeyValue, any_value::Value};
    use crate::proto::logs::{ResourceLogs, ScopeLogs};
    use crate::proto::resource::Resource;
    use crate::proto::store::{Counts, Session, Turn};
    use crate::proto::trace::{ResourceSpans, ScopeSpans, Status};
    use crate::proto::{ExportLogsServiceRequest, ExportTraceServiceRequest};
    use crate::session::Commit;
    use crate::testkit::fixtures::{dir, normalize, replay};
    use crate::testkit::otlp::kv_str;

    const AGENT_DIR: &str = "codex-0.169.0";

    /// Every response of the fake model: 1234 prompt tokens of which 1024 cached, 42 output
    /// (7 of them reasoning).
    fn tokens_of(responses: u64) -> Tokens {
        Tokens {
            input: 210 * responses,
            output: 42 * responses,
            cache_read: 1024 * responses,
            cache_write: 0,
        }
    }

    fn session<'a>(sessions: &'a [Session], native_id: &str) -> &'a Session {
        let id = format!("codex:{native_id}");
        sessions.iter().find(|s| s.id == id).unwrap_or_else(|| {
            panic!(
                "no session {id} in {:?}",
                sessions.iter().map(|s| &s.id).collect::<Vec<_>>()
            )
        })
    }

    fn counts(turns: u64, tool_calls: u64, api_requests: u64, api_errors: u64) -> Counts {
        Counts {
            turns,
            tool_calls,
            tool_errors: 0,
            api_requests,
            api_errors,
        }
    }

    /// Checks a session's state, counters, tokens, models and estimated cost (from the price table).
    fn check(s: &Session, state: &str, expected: Counts, model: &str) {
        assert_eq!(s.state, state, "{}: state", s.id);
        assert_eq!(s.counts.as_ref(), Some(&expected), "{}: counts", s.id);
        let responses = expected.api_requests;
        assert_eq!(
            s.tokens.as_ref(),
            Some(&tokens_of(responses)),
            "{}: tokens",
            s.id
        );
        assert_eq!(s.models, [model], "{}: models", s.id);
        let per_response = Prices::default()
            .cost(model, &tokens_of(1))
            .unwrap_or_else(|| panic!("{model} is missing from the price table"));
        let cost = s.cost.as_ref().expect("cost");
        assert!(
            (cost.known_usd - per_response * responses as f64).abs() < 1e-12,
            "{}: cost {} for {responses} responses of {per_response}",
            s.id,
            cost.known_usd
        );
        assert_eq!(
            (cost.estimated_requests, cost.unknown_requests),
            (responses, 0),
            "{}",
            s.id
        );
    }

    /// The last version of every turn, by (session id, turn id).
    fn turns(commit: &Commit) -> BTreeMap<(String, String), Turn> {
        commit
            .turns
            .iter()
            .map(|t| ((t.session_id.clone(), t.id.clone()), t.clone()))
            .collect()
    }

    fn statuses(commit: &Commit, native_id: &str) -> Vec<String> {
        let id = format!("codex:{native_id}");
        turns(commit)
            .into_values()
            .filter(|t| t.session_id == id)
            .map(|t| t.status)
            .collect()
    }

    fn kinds(commit: &Commit, kind: EventKind) -> usize {
        commit
            .events
            .iter()
            .filter(|e| e.kind == kind.as_str())
            .count()
    }

    fn tally(n: &Normalized, signal: Signal) -> RecordTally {
        n.tally
            .get(&(Agent::Codex, signal))
            .copied()
            .unwrap_or_default()
    }

    /// Each Codex record yields at most one event, so per signal: records = events + ignored +
    /// unattributed, i.e. nothing is counted twice and nothing is lost.
    fn assert_every_record_accounted_for(scenario: &str) -> Normalized {
        let n = normalize(&dir(AGENT_DIR, scenario));
        for signal in [Signal::Logs, Signal::Traces, Signal::Metrics] {
            let t = tally(&n, signal);
            let events = n
                .events
                .iter()
                .filter(|e| e.event.source == signal.source())
                .count() as u64;
            assert_eq!(
                t.records,
                events + t.ignored + t.unattributed,
                "{scenario} {}: {t:?}, {events} events",
                signal.as_str()
            );
        }
        n
    }

    #[test]
    fn plain_is_one_finished_turn_with_one_response() {
        let (sessions, commit) = replay(&dir(AGENT_DIR, "plain"));
        assert_eq!(sessions.len(), 1);
        let id = "01a2016c-7bc6-7e70-bbc8-dff0794358bf";
        // The traces (turn end, session end) arrive before the logs; the late logs do not reopen it.
        check(
            session(&sessions, id),
            "ended",
            counts(1, 0, 1, 0),
            "gpt-5.5",
        );
        assert_eq!(statuses(&commit, id), ["finished"]);
        // The turn id is the trace the prompt log and the session_task.turn span share.
        assert!(turns(&commit).contains_key(&(
            format!("codex:{id}"),
            "2f3c22b2cda4eeb47ade0623ae7af794".into()
        )));
        assert_eq!(kinds(&commit, EventKind::SessionStarted), 1);
        assert_eq!(kinds(&commit, EventKind::Prompt), 1);
        // response.completed is logged twice; one request.
        assert_eq!(kinds(&commit, EventKind::ApiRequest), 1);

        let n = assert_every_record_accounted_for("plain");
        let traces = tally(&n, Signal::Traces);
        // 503 spans: session_task.turn and session_loop are kept, the 501 internal ones ignored.
        assert_eq!(
            (traces.records, traces.ignored, traces.unattributed),
            (503, 501, 0)
        );
        let logs = tally(&n, Signal::Logs);
        assert_eq!((logs.records, logs.ignored, logs.unattributed), (21, 18, 0));
        let metrics = tally(&n, Signal::Metrics);
        assert_eq!((metrics.records, metrics.ignored), (199, 199));
    }

    #[test]
    fn bash_runs_one_command() {
        let (sessions, commit) = replay(&dir(AGENT_DIR, "bash"));
        assert_eq!(sessions.len(), 1);
        let id = "01a2016c-8c26-72b1-a9c3-3c4962f3b2ad";
        check(
            session(&sessions, id),
            "ended",
            counts(1, 1, 2, 0),
            "gpt-5.5",
        );
        assert_eq!(statuses(&commit, id), ["finished"]);
        let tool = commit
            .events
            .iter()
            .find(|e| e.kind == "tool_finished")
            .expect("a tool_finished event");
        assert_eq!(
            (tool.tool_name.as_str(), tool.success),
            ("exec_command", Some(true))
        );
        assert_eq!(tool.tool_call_id, "call_a872d6439ab246a2bdaf3338");
        assert_eq!(kinds(&commit, EventKind::ToolDecision), 1);
        let n = assert_every_record_accounted_for("bash");
        assert_eq!(tally(&n, Signal::Traces).ignored, 642 - 2);
    }

    #[test]
    fn write_applies_one_patch() {
        let (sessions, commit) = replay(&dir(AGENT_DIR, "write"));
        assert_eq!(sessions.len(), 1);
        let id = "01a2016c-9e15-76a0-b06f-7b633e5df181";
        check(
            session(&sessions, id),
            "ended",
            counts(1, 1, 2, 0),
            "gpt-5.5",
        );
        assert_eq!(statuses(&commit, id), ["finished"]);
        let tool = commit
            .events
            .iter()
            .find(|e| e.kind == "tool_finished")
            .expect("tool");
        assert_eq!(tool.tool_name, "apply_patch");
        let n = assert_every_record_accounted_for("write");
        assert_eq!(tally(&n, Signal::Traces).ignored, 650 - 2);
    }

    #[test]
    fn a_subagent_is_its_own_session() {
        let (sessions, commit) = replay(&dir(AGENT_DIR, "subagent"));
        assert_eq!(sessions.len(), 2);
        let parent = "01a2016c-b01e-7a11-8260-1ec50ceebb21";
        let child = "01a2016c-b0e7-7dc3-a62b-ab3b44f6252a";
        // Parent: spawn_agent + wait_agent, 3 responses (the last one logged after its turn ended).
        check(
            session(&sessions, parent),
            "ended",
            counts(1, 2, 3, 0),
            "gpt-5.1-codex",
        );
        // Child: exec_command, 2 responses.
        check(
            session(&sessions, child),
            "ended",
            counts(1, 1, 2, 0),
            "gpt-5.1-codex",
        );
        assert_eq!(statuses(&commit, parent), ["finished"]);
        assert_eq!(statuses(&commit, child), ["finished"]);
        assert_eq!(kinds(&commit, EventKind::ApiRequest), 5);
        let n = assert_every_record_accounted_for("subagent");
        // Two session_task.turn and two session_loop spans are kept.
        assert_eq!(tally(&n, Signal::Traces).ignored, 1285 - 4);
    }

    #[test]
    fn error500_counts_each_failed_attempt() {
        let (sessions, commit) = replay(&dir(AGENT_DIR, "error500"));
        assert_eq!(sessions.len(), 1);
        let id = "01a2016c-c3c7-7d53-97e7-c88e5f858651";
        // No trace, no turn end: only the stall timer or a hook can close this turn.
        check(
            session(&sessions, id),
            "active",
            counts(1, 0, 0, 3),
            "gpt-5.5",
        );
        assert_eq!(statuses(&commit, id), ["open"]);
        let errors: Vec<_> = commit
            .events
            .iter()
            .filter(|e| e.kind == "api_error")
            .collect();
        assert!(
            errors
                .iter()
                .all(|e| e.status_code == Some(500) && e.error == "http 500")
        );
        assert_every_record_accounted_for("error500");
    }

    #[test]
    fn error429_counts_the_logged_attempt() {
        let (sessions, _) = replay(&dir(AGENT_DIR, "error429"));
        assert_eq!(sessions.len(), 1);
        let s = session(&sessions, "01a2016c-e011-72b2-aa77-96fed618634f");
        check(s, "active", counts(1, 0, 0, 1), "gpt-5.5");
        assert_every_record_accounted_for("error429");
    }

    #[test]
    fn sigterm_mid_stream_leaves_the_turn_open() {
        let (sessions, commit) = replay(&dir(AGENT_DIR, "sigterm_stream"));
        assert_eq!(sessions.len(), 1);
        let id = "01a2016c-f59b-7100-8a14-17d1a4765ee8";
        // The request was in flight: no response.completed, so no api_request.
        check(
            session(&sessions, id),
            "active",
            counts(1, 0, 0, 0),
            "gpt-5.5",
        );
        assert_eq!(statuses(&commit, id), ["open"]);
        let n = assert_every_record_accounted_for("sigterm_stream");
        assert_eq!(tally(&n, Signal::Logs).records, 13);
    }

    // Hand-built records.

    fn int(key: &str, v: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(Value::IntValue(v)),
            }),
            ..Default::default()
        }
    }

    fn record(attrs: Vec<KeyValue>) -> LogRecord {
        LogRecord {
            observed_time_unix_nano: 1_000,
            attributes: attrs,
            ..Default::default()
        }
    }

    fn run_logs(records: Vec<LogRecord>) -> Normalized {
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![
                        kv_str("service.name", "codex_exec"),
                        kv_str("service.version", "0.169.0"),
                    ],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut out = Normalized::default();
        crate::agents::read_otlp(
            crate::normalize::Request::Logs(req),
            &Prices::default(),
            &mut out,
        );
        out
    }

    fn run_spans(spans: Vec<Span>) -> Normalized {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv_str("service.name", "codex_exec")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut out = Normalized::default();
        crate::agents::read_otlp(
            crate::normalize::Request::Traces(req),
            &Prices::default(),
            &mut out,
        );
        out
    }

    fn only(n: &Normalized) -> &SessionEvent {
        assert_eq!(n.events.len(), 1, "{:?}", n.events);
        &n.events[0]
    }

    #[test]
    fn token_counts_arrive_as_strings_or_ints() {
        let n = run_logs(vec![record(vec![
            kv_str("event.name", "codex.sse_event"),
            kv_str("event.kind", "response.completed"),
            kv_str("conversation.id", "c1"),
            kv_str("model", "gpt-5.5"),
            kv_str("input_token_count", "1000"),
            kv_str("cached_token_count", "400"),
            int("cache_write_token_count", 100),
            kv_str("output_token_count", "50"),
            int("reasoning_token_count", 20),
            kv_str("duration_ms", "12"),
        ])]);
        let e = only(&n);
        assert_eq!(
            (e.agent, e.native_id.as_str(), e.kind()),
            (Agent::Codex, "c1", Some(EventKind::ApiRequest))
        );
        let tokens = Tokens {
            input: 500,
            output: 50,
            cache_read: 400,
            cache_write: 100,
        };
        assert_eq!(e.event.tokens.as_ref(), Some(&tokens));
        assert_eq!(e.event.cost_usd, Prices::default().cost("gpt-5.5", &tokens));
        assert!(e.event.cost_usd.is_some() && e.event.cost_estimated);
        assert_eq!(e.event.duration_ms, Some(12.0));
        assert_eq!(e.event.time_unix_nano, 1_000);
        assert_eq!(e.service_version.as_deref(), Some("0.169.0"));
        // The attributes are kept for the detail view.
        assert_eq!(e.event.attributes.len(), 10);
        // No trace context on sse events: the request joins the session's current turn.
        assert_eq!(e.event.turn_id, "");
    }

    #[test]
    fn an_unknown_model_has_an_unknown_cost() {
        let n = run_logs(vec![record(vec![
            kv_str("event.name", "codex.sse_event"),
            kv_str("event.kind", "response.completed"),
            kv_str("conversation.id", "c1"),
            kv_str("model", "gpt-5.6-luna"),
            kv_str("input_token_count", "10"),
            kv_str("output_token_count", "5"),
        ])]);
        let e = only(&n);
        assert_eq!((e.event.cost_usd, e.event.cost_estimated), (None, false));
    }

    #[test]
    fn the_bare_response_completed_and_successful_attempts_are_ignored() {
        let n = run_logs(vec![
            record(vec![
                kv_str("event.name", "codex.sse_event"),
                kv_str("event.kind", "response.completed"),
                kv_str("conversation.id", "c1"),
            ]),
            record(vec![
                kv_str("event.name", "codex.api_request"),
                kv_str("conversation.id", "c1"),
                kv_str("http.response.status_code", "200"),
            ]),
            record(vec![
                kv_str("event.name", "codex.api_request"),
                kv_str("conversation.id", "c1"),
                kv_str("http.response.status_code", "503"),
                kv_str("attempt", "2"),
            ]),
        ]);
        let e = only(&n);
        assert_eq!(e.kind(), Some(EventKind::ApiError));
        assert_eq!(
            (e.event.status_code, e.event.error.as_str()),
            (Some(503), "http 503")
        );
        let t = tally(&n, Signal::Logs);
        assert_eq!((t.records, t.ignored, t.unattributed), (3, 2, 0));
    }

    #[test]
    fn a_record_without_conversation_id_is_unattributed() {
        let n = run_logs(vec![
            record(vec![
                kv_str("event.name", "codex.user_prompt"),
                kv_str("prompt_length", "3"),
            ]),
            // The exporter's own "flushing OTEL metrics" record: noise, not a lost fact.
            record(vec![]),
        ]);
        assert!(n.events.is_empty());
        let t = tally(&n, Signal::Logs);
        assert_eq!((t.records, t.unattributed, t.ignored), (2, 1, 1));
    }

    #[test]
    fn prompts_open_turns_by_trace_and_tools_report_failure() {
        let trace = vec![0xab; 16];
        let mut prompt = record(vec![
            kv_str("event.name", "codex.user_prompt"),
            kv_str("conversation.id", "c1"),
        ]);
        prompt.trace_id = trace.clone();
        let mut tool = record(vec![
            kv_str("event.name", "codex.tool_result"),
            kv_str("conversation.id", "c1"),
            kv_str("tool_name", "exec_command"),
            kv_str("call_id", "call_1"),
            kv_str("success", "false"),
            kv_str("duration_ms", "74"),
        ]);
        tool.trace_id = trace;
        // A prompt without trace context still opens a turn of its own.
        let mut bare = record(vec![
            kv_str("event.name", "codex.user_prompt"),
            kv_str("conversation.id", "c1"),
        ]);
        bare.observed_time_unix_nano = 2_000;
        let n = run_logs(vec![prompt, tool, bare]);
        let turn = "ab".repeat(16);
        assert_eq!(n.events[0].event.turn_id, turn);
        let t = &n.events[1];
        assert_eq!(t.event.turn_id, turn);
        assert_eq!(
            (t.event.success, t.event.duration_ms),
            (Some(false), Some(74.0))
        );
        assert_eq!(t.fact_key.as_deref(), Some("tool:call_1"));
        assert_eq!(n.events[2].event.turn_id, "prompt-2000");
    }

    #[test]
    fn only_the_turn_and_loop_spans_are_read() {
        let span = |name: &str, attrs: Vec<KeyValue>| Span {
            trace_id: vec![7; 16],
            name: name.into(),
            start_time_unix_nano: 1_000_000,
            end_time_unix_nano: 3_000_000,
            attributes: attrs,
            ..Default::default()
        };
        let mut failed = span(
            "session_task.turn",
            // As Codex sends it: the OS thread number first, the conversation id second.
            vec![
                int("thread.id", 4),
                kv_str("thread.id", "c1"),
                kv_str("turn.id", "t-1"),
                kv_str("model", "gpt-5.5"),
            ],
        );
        failed.status = Some(Status {
            message: "boom".into(),
            code: StatusCode::Error as i32,
        });
        let n = run_spans(vec![
            span("fs.read_file", vec![int("thread.id", 4)]),
            failed,
            // thread.id is an OS thread number here: no session.
            span("session_task.turn", vec![int("thread.id", 4)]),
            span(
                "session_loop",
                vec![int("thread.id", 4), kv_str("thread_id", "c1")],
            ),
        ]);
        let t = tally(&n, Signal::Traces);
        assert_eq!((t.records, t.ignored, t.unattributed), (4, 1, 1));
        let got: Vec<_> = n.events.iter().map(|e| e.kind()).collect();
        assert_eq!(
            got,
            [Some(EventKind::TurnFailed), Some(EventKind::SessionEnded)]
        );
        let turn = &n.events[0].event;
        assert_eq!(
            (turn.turn_id.as_str(), turn.error.as_str()),
            ("07".repeat(16).as_str(), "boom")
        );
        assert_eq!(
            (turn.time_unix_nano, turn.duration_ms),
            (3_000_000, Some(2.0))
        );
    }
}
