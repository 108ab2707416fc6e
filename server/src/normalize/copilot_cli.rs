//! GitHub Copilot CLI adapter (`service.name` `github-copilot`): turns Copilot's OpenTelemetry
//! GenAI spans into session events. Sits between `ingest` and the tracker like every adapter in
//! `normalize`.
//!
//! What Copilot sends (verified on 1.0.102, `server/tests/fixtures/copilot-cli-1.0.102`):
//! - **Spans**, one trace per user prompt: a root `invoke_agent` (the turn) over `chat <model>`
//!   (one per model call) and `execute_tool <tool>` spans; a sub-agent is a nested
//!   `invoke_agent <agent>` under the `task` tool's span. Every span carries the session id,
//!   `gen_ai.conversation.id`. Spans are exported as they end, so a turn's children come before
//!   its root, possibly in an earlier request.
//! - **Metrics** repeat the spans as aggregates and carry no session id: ignored.
//! - No logs.
//!
//! Turns. The turn id is the **hex trace id**, which every span of the turn shares — the root's,
//! its children's and a sub-agent's — so a chat or tool span lands in its turn even when the root
//! has not arrived yet, with no lookup. Hooks carry the same trace id in their `traceparent`.
//!
//! Counting. Tokens come from `chat` spans only: an `invoke_agent` span repeats the usage of its
//! own chats. Copilot's `gen_ai.usage.input_tokens` includes the cached tokens, read and written.
//! Copilot reports no money (`github.copilot.cost` is a billing multiplier), so the cost is
//! estimated from the price table.

use super::attrs::Attrs;
use super::{EventKind, SessionEvent, Sink, id_hex, nanos, span_ms};
use crate::proto::common::any_value::Value;
use crate::proto::logs::LogRecord;
use crate::proto::metrics::Metric;
use crate::proto::store::Tokens;
use crate::proto::trace::status::StatusCode;
use crate::proto::trace::{Span, span};

const SESSION: &str = "gen_ai.conversation.id";

/// The CLI sends no logs; should a build start to, nothing in them is read yet.
pub fn logs(records: Vec<LogRecord>, out: &mut Sink<'_>) {
    for r in &records {
        if Attrs(&r.attributes).str(SESSION).is_some() {
            out.ignored();
        } else {
            out.unattributed();
        }
    }
}

pub fn spans(mut spans: Vec<Span>, out: &mut Sink<'_>) {
    // Prompts first: a batch holds a turn's children before its root, and the turn should read
    // prompt, requests, tools, end in seq order.
    for span in &mut spans {
        if operation(span) == Op::InvokeAgent && span.parent_span_id.is_empty() {
            prompt(span, out);
        }
    }
    for span in spans {
        span_fact(span, out);
    }
}

/// Every Copilot metric repeats span facts as a process-wide aggregate without a session id.
pub fn metrics(metrics: Vec<Metric>, out: &mut Sink<'_>) {
    for m in &metrics {
        (0..super::data_points(m)).for_each(|_| out.ignored());
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    InvokeAgent,
    Chat,
    ExecuteTool,
    Other,
}

/// The GenAI operation: `gen_ai.operation.name`, else the span name's first word (the rest of the
/// name is a model, tool or agent name, sometimes repeated: `execute_tool bash bash`).
fn operation(span: &Span) -> Op {
    let op = Attrs(&span.attributes)
        .str("gen_ai.operation.name")
        .unwrap_or_else(|| span.name.split(' ').next().unwrap_or(""));
    match op {
        "invoke_agent" => Op::InvokeAgent,
        "chat" => Op::Chat,
        "execute_tool" => Op::ExecuteTool,
        _ => Op::Other,
    }
}

/// The prompt that opened a turn, at the root span's start. Not a record of its own: the root
/// span is accounted for by its end fact.
fn prompt(span: &mut Span, out: &mut Sink<'_>) {
    let Some(session) = Attrs(&span.attributes).str(SESSION) else {
        return;
    };
    let mut e = out.event(session, EventKind::Prompt);
    e.event.time_unix_nano = nanos(span.start_time_unix_nano);
    e.event.turn_id = id_hex(&span.trace_id).unwrap_or_default();
    e.event.name.clone_from(&span.name);
    // The prompt's own facts: its interaction id (the text is in the span only with capture on).
    if let Some(m) = span
        .events
        .iter_mut()
        .find(|m| m.name == "github.copilot.user.message")
    {
        e.event.attributes = std::mem::take(&mut m.attributes);
    }
    out.push(e);
}

fn span_fact(mut span: Span, out: &mut Sink<'_>) {
    let op = operation(&span);
    if op == Op::Other {
        out.ignored();
        return;
    }
    let a = Attrs(&span.attributes);
    let Some(session) = a.str(SESSION) else {
        out.unattributed();
        return;
    };
    let end = ending(&span);
    let kind = match op {
        Op::InvokeAgent if span.parent_span_id.is_empty() => {
            if end.failed {
                EventKind::TurnFailed
            } else {
                EventKind::TurnFinished
            }
        }
        Op::InvokeAgent => EventKind::SubagentFinished,
        Op::Chat if end.failed => EventKind::ApiError,
        Op::Chat => EventKind::ApiRequest,
        Op::ExecuteTool => EventKind::ToolFinished,
        // Counted as ignored above.
        Op::Other => return,
    };
    let mut e = out.event(session, kind);
    let ended = shutdown(&mut span.events, session, out);
    let ev = &mut e.event;
    ev.time_unix_nano = nanos(span.end_time_unix_nano);
    ev.turn_id = id_hex(&span.trace_id).unwrap_or_default();
    ev.duration_ms = span_ms(&span);
    ev.status_code = end.status_code;
    ev.error = end.error;
    match kind {
        EventKind::ApiRequest | EventKind::ApiError => {
            ev.model = a
                .first_str(&["gen_ai.response.model", "gen_ai.request.model"])
                .unwrap_or_default()
                .to_owned();
            if kind == EventKind::ApiRequest {
                // Absent usage (an aborted stream) is unknown, not zero: no tokens, no cost.
                if let Some(tokens) = chat_tokens(a) {
                    ev.cost_usd = out.ctx.prices.cost(&ev.model, &tokens);
                    ev.cost_estimated = ev.cost_usd.is_some();
                    ev.tokens = Some(tokens);
                }
            }
        }
        EventKind::ToolFinished => {
            ev.success = Some(!end.failed);
            ev.tool_name = a.str("gen_ai.tool.name").unwrap_or_default().to_owned();
            ev.tool_call_id = a.str("gen_ai.tool.call.id").unwrap_or_default().to_owned();
            if !ev.tool_call_id.is_empty() {
                e.fact_key = Some(format!("tool:{}", ev.tool_call_id));
            }
        }
        EventKind::SubagentFinished => ev.success = Some(!end.failed),
        _ => {}
    }
    e.event.name = std::mem::take(&mut span.name);
    e.event.attributes = std::mem::take(&mut span.attributes);
    out.push(e);
    // After the span's own fact: an ended session must not be woken by its last turn's end.
    if let Some(ended) = ended {
        out.push(ended);
    }
}

/// Usage of one model call. `input_tokens` is the whole prompt, so the cached parts come off it.
/// Copilot spells cache writes `cache_write`; the GenAI conventions say `cache_creation`.
fn chat_tokens(a: Attrs<'_>) -> Option<Tokens> {
    let prompt = a.u64("gen_ai.usage.input_tokens");
    let output = a.u64("gen_ai.usage.output_tokens");
    if prompt.is_none() && output.is_none() {
        return None;
    }
    let cache_read = a.u64("gen_ai.usage.cache_read.input_tokens").unwrap_or(0);
    let cache_write = a
        .u64("gen_ai.usage.cache_write.input_tokens")
        .or_else(|| a.u64("gen_ai.usage.cache_creation.input_tokens"))
        .unwrap_or(0);
    Some(Tokens {
        input: prompt
            .unwrap_or(0)
            .saturating_sub(cache_read)
            .saturating_sub(cache_write),
        output: output.unwrap_or(0),
        cache_read,
        cache_write,
    })
}

/// How a span ended.
struct Ending {
    /// Status ERROR, or an `error.type`.
    failed: bool,
    /// What went wrong, or why it stopped short (an abort, an "error" finish reason).
    error: String,
    /// The provider's HTTP status, which only the exception event carries.
    status_code: Option<i32>,
}

fn ending(span: &Span) -> Ending {
    let a = Attrs(&span.attributes);
    let status = span
        .status
        .as_ref()
        .filter(|s| s.code == StatusCode::Error as i32);
    let error_type = a.str("error.type");
    let mut status_code = a.i64("http.response.status_code");
    let mut exception_type = None;
    let mut abort_reason = None;
    for m in &span.events {
        let ma = Attrs(&m.attributes);
        match m.name.as_str() {
            // Copilot's name for it; the conventions' plain `exception` is accepted too.
            "gen_ai.client.operation.exception" | "exception" => {
                status_code = status_code.or_else(|| ma.i64("github.copilot.error_status_code"));
                exception_type = exception_type.or_else(|| ma.str("exception.type"));
            }
            "github.copilot.session.abort" => {
                abort_reason = Some(ma.str("github.copilot.abort_reason").unwrap_or("unknown"));
            }
            _ => {}
        }
    }
    let message = status.map(|s| s.message.as_str()).filter(|m| !m.is_empty());
    let error = match (message, error_type.or(exception_type), abort_reason) {
        (Some(m), Some(t), _) => format!("{m} ({t})"),
        (Some(m), None, _) => m.to_owned(),
        (None, Some(t), _) => t.to_owned(),
        (None, None, Some(r)) => format!("aborted: {r}"),
        (None, None, None) if finished_with_error(a) => "finish_reason: error".to_owned(),
        (None, None, None) => String::new(),
    };
    // Esc in the TUI ends the turn "Operation aborted (cancelled)": the person's choice.
    let cancelled = error_type.or(exception_type) == Some("cancelled");
    Ending {
        failed: (status.is_some() || error_type.is_some()) && !cancelled,
        error,
        status_code: status_code.and_then(|c| i32::try_from(c).ok()),
    }
}

/// `gen_ai.response.finish_reasons` (a string array) includes "error".
fn finished_with_error(a: Attrs<'_>) -> bool {
    match a.get("gen_ai.response.finish_reasons") {
        Some(Value::ArrayValue(reasons)) => reasons
            .values
            .iter()
            .any(|v| matches!(&v.value, Some(Value::StringValue(s)) if s == "error")),
        Some(Value::StringValue(s)) => s.contains("error"),
        _ => false,
    }
}

/// `github.copilot.session.shutdown`, documented but never seen in the recordings: the session's end.
fn shutdown(events: &mut [span::Event], session: &str, out: &Sink<'_>) -> Option<SessionEvent> {
    let m = events
        .iter_mut()
        .find(|m| m.name == "github.copilot.session.shutdown")?;
    let mut e = out.event(session, EventKind::SessionEnded);
    e.event.time_unix_nano = nanos(m.time_unix_nano);
    e.event.name = std::mem::take(&mut m.name);
    e.event.attributes = std::mem::take(&mut m.attributes);
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{Agent, Normalized, Prices, Signal};
    use crate::proto::ExportTraceServiceRequest;
    use crate::proto::common::{AnyValue, ArrayValue, KeyValue};
    use crate::proto::resource::Resource;
    use crate::proto::store::{Counts, Event, Session};
    use crate::proto::trace::{ResourceSpans, ScopeSpans, Status};
    use crate::session::Commit;
    use crate::session::{NoBacking, Tracker};
    use crate::testkit::fixtures::{dir, normalize, replay};
    use crate::testkit::otlp::{kv, kv_str};

    const AGENT_DIR: &str = "copilot-cli-1.0.102";
    const MODEL: &str = "claude-sonnet-4.5";

    /// Every model call of the fake API: 11474 prompt tokens of which 8192 cache reads and 2048
    /// cache writes, 42 output.
    fn tokens_of(calls: u64) -> Tokens {
        Tokens {
            input: 1234 * calls,
            output: 42 * calls,
            cache_read: 8192 * calls,
            cache_write: 2048 * calls,
        }
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

    /// Replays a scenario that must hold exactly one session, and checks it.
    fn one_session(
        scenario: &str,
        native_id: &str,
        state: &str,
        expected: Counts,
        priced_calls: u64,
    ) -> (Session, Commit) {
        let (sessions, commit) = replay(&dir(AGENT_DIR, scenario));
        assert_eq!(sessions.len(), 1, "{scenario}");
        let s = sessions.into_iter().next().expect("one session");
        assert_eq!(s.id, format!("copilot_cli:{native_id}"));
        assert_eq!(s.state, state, "{scenario}: state");
        assert_eq!(s.counts.as_ref(), Some(&expected), "{scenario}: counts");
        assert_eq!(
            s.tokens.as_ref(),
            Some(&tokens_of(priced_calls)),
            "{scenario}: tokens"
        );
        assert_eq!(s.models, [MODEL], "{scenario}: models");
        assert_eq!(s.service_version, "1.0.102");
        let per_call = Prices::default()
            .cost(MODEL, &tokens_of(1))
            .unwrap_or_else(|| panic!("{MODEL} is missing from the price table"));
        let cost = s.cost.as_ref().expect("cost");
        assert!(
            (cost.known_usd - per_call * priced_calls as f64).abs() < 1e-12,
            "{scenario}: cost {} for {priced_calls} calls of {per_call}",
            cost.known_usd
        );
        assert_eq!(cost.estimated_requests, priced_calls, "{scenario}");
        // One turn per prompt, and only one: sub-agents and chats do not open turns.
        let turn_ids: std::collections::BTreeSet<&str> =
            commit.turns.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(turn_ids.len(), 1, "{scenario}: {turn_ids:?}");
        (s, commit)
    }

    fn events(commit: &Commit, kind: EventKind) -> Vec<&Event> {
        commit
            .events
            .iter()
            .filter(|e| e.kind == kind.as_str())
            .collect()
    }

    fn last_turn_status(commit: &Commit) -> &str {
        commit.turns.last().map(|t| t.status.as_str()).unwrap_or("")
    }

    /// Each span yields one fact or is tallied (a root span yields its prompt too); metric points
    /// are all ignored.
    fn assert_accounted_for(scenario: &str, spans: u64) {
        let n = normalize(&dir(AGENT_DIR, scenario));
        let traces = n
            .tally
            .get(&(Agent::CopilotCli, Signal::Traces))
            .copied()
            .unwrap_or_default();
        assert_eq!(
            (traces.records, traces.ignored, traces.unattributed),
            (spans, 0, 0),
            "{scenario}"
        );
        let prompts = n
            .events
            .iter()
            .filter(|e| e.kind() == Some(EventKind::Prompt))
            .count() as u64;
        assert_eq!(n.events.len() as u64 - prompts, spans, "{scenario}");
        let metrics = n
            .tally
            .get(&(Agent::CopilotCli, Signal::Metrics))
            .copied()
            .unwrap_or_default();
        assert!(metrics.records > 0, "{scenario}: metric points");
        assert_eq!(
            (metrics.ignored, metrics.unattributed),
            (metrics.records, 0),
            "{scenario}"
        );
    }

    #[test]
    fn plain_is_one_finished_turn() {
        let (_, commit) = one_session(
            "plain",
            "4f85843a-57e3-47e2-89f1-c0295098e735",
            "idle",
            counts(1, 0, 1, 0),
            1,
        );
        assert_eq!(last_turn_status(&commit), "finished");
        // The turn is the trace; the prompt comes first although the root span was exported last.
        let first = &commit.events[0];
        assert_eq!(
            (first.kind.as_str(), first.turn_id.as_str()),
            ("prompt", "9461ee7523bda1d42bf4e5bd83ec8b18")
        );
        // At the root span's start.
        assert_eq!(first.time_unix_nano, 1_795_320_273_122_000_000);
        // The user.message event's attributes travel with the prompt.
        assert!(
            first
                .attributes
                .iter()
                .any(|kv| kv.key == "github.copilot.user.message.interaction_id")
        );
        assert_accounted_for("plain", 2);
    }

    #[test]
    fn bash_runs_one_tool() {
        let (_, commit) = one_session(
            "bash",
            "2dfb2bc5-2735-4d6e-8b24-4947fed1d9c2",
            "idle",
            counts(1, 1, 2, 0),
            2,
        );
        let tools = events(&commit, EventKind::ToolFinished);
        assert_eq!(tools.len(), 1);
        assert_eq!(
            (tools[0].tool_name.as_str(), tools[0].success),
            ("bash", Some(true))
        );
        assert_eq!(tools[0].tool_call_id, "toolu_f3f5b1a89ba549fe8f640b0e");
        assert_eq!(tools[0].name, "execute_tool bash bash");
        assert_eq!(last_turn_status(&commit), "finished");
        assert_accounted_for("bash", 4);
    }

    #[test]
    fn write_runs_one_tool() {
        let (_, commit) = one_session(
            "write",
            "03bd0aa3-6e55-4d2c-9b99-ea812520c188",
            "idle",
            counts(1, 1, 2, 0),
            2,
        );
        let tools = events(&commit, EventKind::ToolFinished);
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].tool_name, "create");
        assert_accounted_for("write", 4);
    }

    #[test]
    fn a_subagent_is_part_of_the_turn_and_usage_is_counted_once() {
        // 4 chats (2 of the main agent, 2 of the sub-agent) and 2 tools (task, bash); the root and
        // the sub-agent invoke_agent spans repeat their chats' usage, which must not be added.
        let (_, commit) = one_session(
            "subagent",
            "82ead76e-bc40-41e2-85c6-13ecc40214b1",
            "idle",
            counts(1, 2, 4, 0),
            4,
        );
        let sub = events(&commit, EventKind::SubagentFinished);
        assert_eq!(sub.len(), 1);
        assert_eq!(
            (sub[0].name.as_str(), sub[0].success),
            ("invoke_agent general-purpose", Some(true))
        );
        let root_turn = &events(&commit, EventKind::Prompt)[0].turn_id;
        assert!(
            commit
                .events
                .iter()
                .filter(|e| e.kind != "state_changed")
                .all(|e| &e.turn_id == root_turn)
        );
        let mut tools: Vec<&str> = events(&commit, EventKind::ToolFinished)
            .iter()
            .map(|e| e.tool_name.as_str())
            .collect();
        tools.sort_unstable();
        assert_eq!(tools, ["bash", "task"]);
        assert_accounted_for("subagent", 8);
    }

    #[test]
    fn error529_fails_the_turn() {
        let (s, commit) = one_session(
            "error529",
            "81f00fa9-69ff-4568-8cad-b9c77c59f5e9",
            "errored",
            counts(1, 0, 0, 6),
            0,
        );
        assert_eq!(s.cost.as_ref().map(|c| c.unknown_requests), Some(0));
        assert_eq!(last_turn_status(&commit), "failed");
        let errors = events(&commit, EventKind::ApiError);
        assert!(
            errors
                .iter()
                .all(|e| e.error == "Model call failed (ModelCallError)" && e.model == MODEL)
        );
        let failed = events(&commit, EventKind::TurnFailed);
        assert_eq!(failed.len(), 1);
        // The provider's status is only on the root span's exception event.
        assert_eq!(
            (failed[0].status_code, failed[0].error.as_str()),
            (Some(529), "Session error (query)")
        );
        assert_accounted_for("error529", 7);
    }

    #[test]
    fn sigterm_aborts_the_stream() {
        // The aborted call has no usage: it counts as a request of unknown cost. The user-initiated
        // abort ends the turn; it is not an error.
        let (s, commit) = one_session(
            "sigterm_stream",
            "fa5e05d5-8680-41bf-ab95-1442840cf729",
            "idle",
            counts(1, 0, 1, 0),
            0,
        );
        assert_eq!(
            s.cost
                .as_ref()
                .map(|c| (c.unknown_requests, c.estimated_requests)),
            Some((1, 0))
        );
        let api = events(&commit, EventKind::ApiRequest);
        assert_eq!(
            (api[0].error.as_str(), api[0].tokens.as_ref()),
            ("aborted: user_initiated", None)
        );
        let end = events(&commit, EventKind::TurnFinished);
        assert_eq!(end[0].error, "finish_reason: error");
        assert_accounted_for("sigterm_stream", 2);
    }

    // Hand-built spans.

    fn span(name: &str, trace: u8, parent: &[u8], attrs: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![trace, 1, 2, 3, 4, 5, 6, 7],
            parent_span_id: parent.to_vec(),
            name: name.into(),
            start_time_unix_nano: 1_000_000,
            end_time_unix_nano: 5_000_000,
            attributes: attrs,
            ..Default::default()
        }
    }

    fn run(spans: Vec<Span>) -> Normalized {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv_str("service.name", "github-copilot")],
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

    fn chat(trace: u8) -> Span {
        // As OTLP/JSON senders may send them: every number a string.
        span(
            "chat claude-sonnet-4.5",
            trace,
            &[9; 8],
            vec![
                kv_str("gen_ai.operation.name", "chat"),
                kv_str(SESSION, "s1"),
                kv_str("gen_ai.request.model", MODEL),
                kv_str("gen_ai.usage.input_tokens", "1000"),
                kv_str("gen_ai.usage.cache_read.input_tokens", "600"),
                kv_str("gen_ai.usage.cache_write.input_tokens", "100"),
                kv_str("gen_ai.usage.output_tokens", "20"),
            ],
        )
    }

    fn root(trace: u8) -> Span {
        span(
            "invoke_agent",
            trace,
            &[],
            vec![
                kv_str("gen_ai.operation.name", "invoke_agent"),
                kv_str(SESSION, "s1"),
                // Repeats the chat's usage: must not be counted.
                kv_str("gen_ai.usage.input_tokens", "1000"),
                kv_str("gen_ai.usage.output_tokens", "20"),
            ],
        )
    }

    #[test]
    fn a_turn_the_person_cancelled_did_not_fail() {
        // Esc in Copilot CLI 1.0.102's TUI, as its span said it.
        let mut turn = root(1);
        turn.attributes.push(kv_str("error.type", "cancelled"));
        turn.status = Some(crate::proto::trace::Status {
            code: StatusCode::Error as i32,
            message: "Operation aborted".into(),
        });
        let n = run(vec![turn]);
        let e = n.events.last().expect("the turn's end");
        assert_eq!(e.kind(), Some(EventKind::TurnFinished));
        assert_eq!(e.event.error, "Operation aborted (cancelled)");
    }

    #[test]
    fn token_counts_arrive_as_strings() {
        let n = run(vec![chat(1)]);
        assert_eq!(n.events.len(), 1);
        let e = &n.events[0];
        assert_eq!(
            (e.agent, e.native_id.as_str(), e.kind()),
            (Agent::CopilotCli, "s1", Some(EventKind::ApiRequest))
        );
        let tokens = Tokens {
            input: 300,
            output: 20,
            cache_read: 600,
            cache_write: 100,
        };
        assert_eq!(e.event.tokens.as_ref(), Some(&tokens));
        assert_eq!(e.event.cost_usd, Prices::default().cost(MODEL, &tokens));
        assert!(e.event.cost_usd.is_some() && e.event.cost_estimated);
        assert_eq!(
            (e.event.time_unix_nano, e.event.duration_ms),
            (5_000_000, Some(4.0))
        );
        assert_eq!(e.event.turn_id, "01".repeat(16));
    }

    #[test]
    fn spans_without_a_session_are_unattributed_and_unknown_operations_ignored() {
        let mut orphan = chat(1);
        orphan.attributes.retain(|kv| kv.key != SESSION);
        let other = span("embeddings x", 1, &[9; 8], vec![kv_str(SESSION, "s1")]);
        let n = run(vec![orphan, other]);
        assert!(n.events.is_empty());
        let t = n
            .tally
            .get(&(Agent::CopilotCli, Signal::Traces))
            .copied()
            .unwrap_or_default();
        assert_eq!((t.records, t.unattributed, t.ignored), (2, 1, 1));
    }

    #[test]
    fn a_turn_split_across_requests_stays_one_turn() {
        // Interactive runs export a turn's children before its root, possibly in another request.
        let mut tracker = Tracker::new(0);
        let first = run(vec![chat(3), chat(3)]);
        tracker.apply(first.events, 10, &NoBacking).expect("apply");
        let mut second = vec![root(3)];
        second[0].events.push(span::Event {
            time_unix_nano: 6_000_000,
            name: "github.copilot.session.shutdown".into(),
            attributes: vec![kv_str("github.copilot.shutdown_type", "routine")],
            ..Default::default()
        });
        let n = run(second);
        let kinds: Vec<_> = n.events.iter().filter_map(|e| e.kind()).collect();
        assert_eq!(
            kinds,
            [
                EventKind::Prompt,
                EventKind::TurnFinished,
                EventKind::SessionEnded
            ]
        );
        tracker.apply(n.events, 20, &NoBacking).expect("apply");
        let s = tracker.session("copilot_cli:s1").expect("session");
        assert_eq!(s.counts.as_ref(), Some(&counts(1, 0, 2, 0)));
        assert_eq!(
            s.tokens.as_ref().map(|t| (t.input, t.output)),
            Some((600, 40))
        );
        assert_eq!(s.state, "ended");
    }

    #[test]
    fn a_failed_tool_is_a_tool_error() {
        let mut tool = span(
            "execute_tool bash bash",
            4,
            &[9; 8],
            vec![
                kv_str("gen_ai.operation.name", "execute_tool"),
                kv_str(SESSION, "s1"),
                kv_str("gen_ai.tool.name", "bash"),
                kv_str("gen_ai.tool.call.id", "toolu_1"),
                kv_str("error.type", "ToolError"),
                kv("process.exit.code", Value::IntValue(1)),
            ],
        );
        tool.status = Some(Status {
            message: "boom".into(),
            code: StatusCode::Error as i32,
        });
        let n = run(vec![tool]);
        let e = &n.events[0];
        assert_eq!(
            (e.kind(), e.event.success),
            (Some(EventKind::ToolFinished), Some(false))
        );
        assert_eq!(
            (e.event.error.as_str(), e.fact_key.as_deref()),
            ("boom (ToolError)", Some("tool:toolu_1"))
        );
    }

    #[test]
    fn finish_reasons_are_read_from_the_array() {
        let mut r = root(5);
        r.attributes.push(kv(
            "gen_ai.response.finish_reasons",
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::StringValue("error".into())),
                }],
            }),
        ));
        let n = run(vec![r]);
        let end = n
            .events
            .iter()
            .find(|e| e.kind() == Some(EventKind::TurnFinished))
            .expect("turn end");
        assert_eq!(end.event.error, "finish_reason: error");
    }

    #[test]
    fn logs_are_not_expected() {
        use crate::proto::ExportLogsServiceRequest;
        use crate::proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv_str("service.name", "github-copilot")],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![
                        LogRecord {
                            attributes: vec![kv_str(SESSION, "s1")],
                            ..Default::default()
                        },
                        LogRecord::default(),
                    ],
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
        let t = out
            .tally
            .get(&(Agent::CopilotCli, Signal::Logs))
            .copied()
            .unwrap_or_default();
        assert_eq!((t.records, t.ignored, t.unattributed), (2, 1, 1));
    }
}
