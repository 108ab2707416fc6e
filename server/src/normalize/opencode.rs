//! OpenCode adapter: reads the Vercel AI SDK spans (`ai.*`, on with `experimental.openTelemetry`)
//! and OpenCode's own `Tool.execute` span and Effect log lines, and drops the rest.
//!
//! About 99% of what OpenCode exports is Effect-runtime noise (`sql.execute`, `FileSystem.*`,
//! `Session.updatePart`, ...) with no session id; a span is told apart by its name before anything
//! else is read, so noise costs a string comparison. Effect spans report ERROR for harmless reads,
//! so no error is ever taken from them.
//!
//! What each source gives:
//! - log `created` (body `["created", "{…}"]`): a session starts; `directory` is its cwd and
//!   `parentID` marks a sub-agent's child session, which is kept as a session of its own;
//! - log `loop` with `step: 0`: a prompt starts a turn;
//! - span `ai.*.doStream` / `ai.*.doGenerate`: one model call with its tokens (`ai.streamText`
//!   wraps it and repeats the same usage, so it is not counted);
//! - spans `Tool.execute` and `ai.toolCall`: the same tool call twice, keyed by its call id.
//!
//! Turns: OpenCode handles each prompt in one trace (the prompt loop, its model calls, its tools
//! and any sub-agent's child session share a trace id), so the trace id is the turn id. Spans and
//! logs travel through different exporters; keying both by the trace id puts each record in the
//! right turn whichever arrives first.
//!
//! Not in OTLP at all: turn end and session end (they come from the plugin), and cost (no
//! attribute carries one, so the price table gives it). A failed model call is taken to end its
//! provider span with ERROR status, as the AI SDK records errors; no recording shows one yet.
//! OpenCode also drops whatever is still batched when it exits, so the end of every run is
//! missing.

use std::borrow::Cow;

use serde::Deserialize;

use super::attrs::{Attrs, kv_str};
use super::{EventKind, Sink, log_time, nanos, span_ms};
use crate::proto::common::{AnyValue, any_value::Value};
use crate::proto::logs::LogRecord;
use crate::proto::metrics::Metric;
use crate::proto::store::Tokens;
use crate::proto::trace::{Span, status::StatusCode};

pub fn logs(records: Vec<LogRecord>, out: &mut Sink<'_>) {
    for record in records {
        log(record, out);
    }
}

pub fn spans(spans: Vec<Span>, out: &mut Sink<'_>) {
    for span in spans {
        match span.name.as_str() {
            "Tool.execute" => tool(span, "tool.name", "tool.call_id", out),
            "ai.toolCall" => tool(span, "ai.toolCall.name", "ai.toolCall.id", out),
            name if is_model_call(name) => model_call(span, out),
            _ => out.ignored(),
        }
    }
}

/// OpenCode sends no metrics; anything that comes is tallied and dropped.
pub fn metrics(metrics: Vec<Metric>, out: &mut Sink<'_>) {
    for m in &metrics {
        (0..super::data_points(m)).for_each(|_| out.ignored());
    }
}

/// The AI SDK's provider call: `ai.streamText.doStream`, `ai.generateText.doGenerate`, ...
fn is_model_call(name: &str) -> bool {
    name.starts_with("ai.") && (name.ends_with(".doStream") || name.ends_with(".doGenerate"))
}

fn span_session(a: Attrs<'_>) -> Option<&str> {
    a.first_str(&["session.id", "ai.telemetry.metadata.sessionId"])
}

fn model_call(mut span: Span, out: &mut Sink<'_>) {
    let a = Attrs(&span.attributes);
    let Some(session) = span_session(a) else {
        out.unattributed();
        return;
    };
    let error = failure(&span).map(str::to_owned);
    let kind = if error.is_some() {
        EventKind::ApiError
    } else {
        EventKind::ApiRequest
    };
    let mut e = out.event(session, kind);
    let ev = &mut e.event;
    ev.time_unix_nano = nanos(span.end_time_unix_nano);
    ev.turn_id = hex::encode(&span.trace_id);
    ev.model = a
        .first_str(&[
            "ai.response.model",
            "gen_ai.response.model",
            "ai.model.id",
            "gen_ai.request.model",
        ])
        .unwrap_or("")
        .to_owned();
    ev.duration_ms = span_ms(&span);
    if let Some(error) = error {
        ev.error = error;
    } else {
        let tokens = tokens(a);
        let cost = out.ctx.prices.cost(&ev.model, &tokens);
        ev.tokens = Some(tokens);
        ev.cost_usd = cost;
        ev.cost_estimated = cost.is_some();
    }
    ev.name = std::mem::take(&mut span.name);
    ev.attributes = std::mem::take(&mut span.attributes);
    out.push(e);
}

/// Tokens of a model call, in the project's convention. The AI SDK's `inputTokens` (and
/// `gen_ai.usage.input_tokens`) is the whole prompt, cache included; `noCacheTokens` is the
/// uncached part. `outputTokens` already includes any reasoning tokens.
fn tokens(a: Attrs<'_>) -> Tokens {
    let cache_read = a
        .u64("ai.usage.inputTokenDetails.cacheReadTokens")
        .or_else(|| a.u64("ai.usage.cachedInputTokens"))
        .unwrap_or(0);
    let cache_write = a
        .u64("ai.usage.inputTokenDetails.cacheWriteTokens")
        .unwrap_or(0);
    let input = a
        .u64("ai.usage.inputTokenDetails.noCacheTokens")
        .unwrap_or_else(|| {
            a.u64("ai.usage.inputTokens")
                .or_else(|| a.u64("gen_ai.usage.input_tokens"))
                .unwrap_or(0)
                .saturating_sub(cache_read + cache_write)
        });
    Tokens {
        input,
        output: a
            .u64("ai.usage.outputTokens")
            .or_else(|| a.u64("gen_ai.usage.output_tokens"))
            .unwrap_or(0),
        cache_read,
        cache_write,
    }
}

fn tool(mut span: Span, name_key: &str, id_key: &str, out: &mut Sink<'_>) {
    let a = Attrs(&span.attributes);
    let Some(session) = span_session(a) else {
        out.unattributed();
        return;
    };
    let mut e = out.event(session, EventKind::ToolFinished);
    let ev = &mut e.event;
    ev.time_unix_nano = nanos(span.end_time_unix_nano);
    ev.turn_id = hex::encode(&span.trace_id);
    ev.tool_name = a.str(name_key).unwrap_or("").to_owned();
    ev.tool_call_id = a.str(id_key).unwrap_or("").to_owned();
    ev.duration_ms = span_ms(&span);
    let error = failure(&span);
    ev.success = Some(error.is_none());
    ev.error = error.unwrap_or("").to_owned();
    if !ev.tool_call_id.is_empty() {
        e.fact_key = Some(format!("tool:{}", ev.tool_call_id));
    }
    e.event.name = std::mem::take(&mut span.name);
    e.event.attributes = std::mem::take(&mut span.attributes);
    out.push(e);
}

fn log(mut record: LogRecord, out: &mut Sink<'_>) {
    // Lines that carry fields are `[message, "<fields>"]`; plain-string lines are all noise.
    let Some((message, fields)) = message_and_fields(&record.body) else {
        out.ignored();
        return;
    };
    match message {
        "created" | "loop" => {}
        // A permission decision, but with no session id or tool call id to join it to.
        "evaluated" => {
            out.unattributed();
            return;
        }
        _ => {
            out.ignored();
            return;
        }
    }
    let Some(f) = LogFields::parse(fields) else {
        out.unattributed();
        return;
    };
    let (kind, session) = match (message, f.id, f.session_id) {
        // OpenCode ids name their kind (`ses_`, `msg_`, `prt_`, ...): only a session's creation
        // starts a session.
        ("created", Some(id), _) if id.starts_with("ses_") => (EventKind::SessionStarted, id),
        ("created", _, _) => {
            out.ignored();
            return;
        }
        ("loop", _, Some(session)) if f.step == Some(0) => (EventKind::Prompt, session),
        // Later steps of a prompt loop: progress we have no event for.
        ("loop", _, Some(_)) => {
            out.ignored();
            return;
        }
        _ => {
            out.unattributed();
            return;
        }
    };
    let time = log_time(&record);
    let mut e = out.event(session, kind);
    e.event.time_unix_nano = time;
    e.event.name = message.to_owned();
    let mut attributes = std::mem::take(&mut record.attributes);
    if kind == EventKind::Prompt {
        e.event.turn_id = if record.trace_id.is_empty() {
            format!("loop@{time}")
        } else {
            hex::encode(&record.trace_id)
        };
    } else {
        e.cwd = f.directory;
        if let Some(parent) = &f.parent_id {
            attributes.push(kv_str("parentID", parent));
        }
        if let Some(agent) = &f.agent {
            attributes.push(kv_str("agent", agent));
        }
    }
    e.event.attributes = attributes;
    out.push(e);
}

/// The fields of the log lines we read; everything else in them is skipped by serde.
#[derive(Deserialize)]
struct LogFields {
    id: Option<String>,
    #[serde(rename = "session.id")]
    session_id: Option<String>,
    #[serde(rename = "parentID")]
    parent_id: Option<String>,
    directory: Option<String>,
    agent: Option<String>,
    step: Option<u64>,
}

impl LogFields {
    fn parse(text: &str) -> Option<LogFields> {
        serde_json::from_str(&undefined_as_null(text)).ok()
    }
}

/// OpenCode writes the fields as JavaScript object text: JSON, except that a missing value is a
/// bare `undefined`. Rewrites those tokens to `null`, leaving string contents alone.
fn undefined_as_null(text: &str) -> Cow<'_, str> {
    const UNDEFINED: &[u8] = b"undefined";
    if !text.contains("undefined") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut fixed = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if bytes[i..].starts_with(UNDEFINED) {
            // Only ASCII bytes are compared, so `i` is always on a char boundary.
            fixed.push_str(&text[copied..i]);
            fixed.push_str("null");
            i += UNDEFINED.len();
            copied = i;
            continue;
        }
        i += 1;
    }
    fixed.push_str(&text[copied..]);
    Cow::Owned(fixed)
}

fn message_and_fields(body: &Option<AnyValue>) -> Option<(&str, &str)> {
    let Some(Value::ArrayValue(list)) = body.as_ref()?.value.as_ref() else {
        return None;
    };
    let text = |i: usize| match list.values.get(i)?.value.as_ref()? {
        Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    };
    Some((text(0)?, text(1)?))
}

/// The span's status message when it ended in ERROR.
fn failure(span: &Span) -> Option<&str> {
    span.status
        .as_ref()
        .filter(|s| s.code == StatusCode::Error as i32)
        .map(|s| s.message.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{Agent, Normalized, Prices, Signal};
    use crate::proto::common::{ArrayValue, KeyValue};
    use crate::proto::logs::{ResourceLogs, ScopeLogs};
    use crate::proto::resource::Resource;
    use crate::proto::store::Session;
    use crate::proto::trace::{ResourceSpans, ScopeSpans, Status};
    use crate::proto::{ExportLogsServiceRequest, ExportTraceServiceRequest};
    use crate::testkit::fixtures::{dir, normalize, replay};

    const AGENT_DIR: &str = "opencode-1.18.33";

    fn resource() -> Option<Resource> {
        Some(Resource {
            attributes: vec![kv_str("service.name", "opencode")],
            ..Default::default()
        })
    }

    fn normalize_spans(spans: Vec<Span>) -> Normalized {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
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

    fn normalize_logs(records: Vec<LogRecord>) -> Normalized {
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
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

    fn span(name: &str, code: StatusCode, attributes: Vec<KeyValue>) -> Span {
        Span {
            name: name.into(),
            trace_id: vec![0xab; 16],
            start_time_unix_nano: 1_000_000,
            end_time_unix_nano: 3_500_000,
            status: Some(Status {
                code: code as i32,
                message: String::new(),
            }),
            attributes,
            ..Default::default()
        }
    }

    fn line(message: &str, fields: Option<&str>) -> LogRecord {
        let s = |v: &str| AnyValue {
            value: Some(Value::StringValue(v.into())),
        };
        let body = match fields {
            None => s(message),
            Some(f) => AnyValue {
                value: Some(Value::ArrayValue(ArrayValue {
                    values: vec![s(message), s(f)],
                })),
            },
        };
        LogRecord {
            time_unix_nano: 7,
            trace_id: vec![0xcd; 16],
            body: Some(body),
            ..Default::default()
        }
    }

    #[test]
    fn a_model_call_reads_uncached_input_and_prices_it() {
        let out = normalize_spans(vec![span(
            "ai.streamText.doStream",
            StatusCode::Unset,
            vec![
                kv_str("session.id", "ses_1"),
                kv_str("ai.model.id", "claude-sonnet-4-5"),
                kv_str("ai.usage.inputTokens", "11474"),
                kv_str("ai.usage.inputTokenDetails.noCacheTokens", "1234"),
                kv_str("ai.usage.inputTokenDetails.cacheReadTokens", "8192"),
                kv_str("ai.usage.inputTokenDetails.cacheWriteTokens", "2048"),
                kv_str("ai.usage.outputTokens", "42"),
            ],
        )]);
        assert_eq!(out.events.len(), 1);
        let e = &out.events[0];
        assert_eq!((e.agent, e.native_id.as_str()), (Agent::Opencode, "ses_1"));
        assert_eq!(e.kind(), Some(EventKind::ApiRequest));
        assert_eq!(e.event.turn_id, "ab".repeat(16));
        assert_eq!(
            e.event.time_unix_nano, 3_500_000,
            "a finished fact is dated by its end"
        );
        assert_eq!(e.event.duration_ms, Some(2.5));
        assert_eq!(
            e.event.tokens,
            Some(Tokens {
                input: 1234,
                output: 42,
                cache_read: 8192,
                cache_write: 2048
            })
        );
        // The same call cost 0.0144696 USD in OpenCode's own accounting (plugin).
        assert!((e.event.cost_usd.expect("priced") - 0.0144696).abs() < 1e-12);
        assert!(e.event.cost_estimated);
    }

    #[test]
    fn input_without_no_cache_detail_subtracts_the_cached_part() {
        let out = normalize_spans(vec![span(
            "ai.generateText.doGenerate",
            StatusCode::Unset,
            vec![
                kv_str("session.id", "ses_1"),
                kv_str("gen_ai.request.model", "no-such-model"),
                kv_str("gen_ai.usage.input_tokens", "100"),
                kv_str("ai.usage.cachedInputTokens", "60"),
                kv_str("gen_ai.usage.output_tokens", "5"),
            ],
        )]);
        let e = &out.events[0].event;
        assert_eq!(
            e.tokens,
            Some(Tokens {
                input: 40,
                output: 5,
                cache_read: 60,
                cache_write: 0
            })
        );
        assert_eq!(e.cost_usd, None, "unknown model: unknown cost, not zero");
    }

    #[test]
    fn a_failed_model_call_is_an_api_error() {
        let mut s = span(
            "ai.streamText.doStream",
            StatusCode::Error,
            vec![kv_str("session.id", "ses_1")],
        );
        if let Some(st) = s.status.as_mut() {
            st.message = "overloaded".into();
        }
        let out = normalize_spans(vec![s]);
        assert_eq!(out.events[0].kind(), Some(EventKind::ApiError));
        assert_eq!(out.events[0].event.error, "overloaded");
    }

    #[test]
    fn both_reports_of_a_tool_call_share_a_fact_key_and_noise_is_ignored() {
        let out = normalize_spans(vec![
            span(
                "Tool.execute",
                StatusCode::Ok,
                vec![
                    kv_str("session.id", "ses_1"),
                    kv_str("tool.name", "bash"),
                    kv_str("tool.call_id", "toolu_1"),
                ],
            ),
            span(
                "ai.toolCall",
                StatusCode::Unset,
                vec![
                    kv_str("session.id", "ses_1"),
                    kv_str("ai.toolCall.name", "bash"),
                    kv_str("ai.toolCall.id", "toolu_1"),
                ],
            ),
            span(
                "Tool.execute",
                StatusCode::Error,
                vec![
                    kv_str("session.id", "ses_1"),
                    kv_str("tool.call_id", "toolu_2"),
                ],
            ),
            // Effect noise, ERROR status included, and the wrapper that repeats doStream's usage.
            span("FileSystem.readJson", StatusCode::Error, vec![]),
            span(
                "sql.execute",
                StatusCode::Ok,
                vec![kv_str("db.query.text", "select 1")],
            ),
            span(
                "ai.streamText",
                StatusCode::Unset,
                vec![kv_str("session.id", "ses_1")],
            ),
            // A tool call with no session id.
            span(
                "ai.toolCall",
                StatusCode::Unset,
                vec![kv_str("ai.toolCall.id", "toolu_3")],
            ),
        ]);
        let tally = out.tally[&(Agent::Opencode, Signal::Traces)];
        assert_eq!(
            (tally.records, tally.ignored, tally.unattributed),
            (7, 3, 1)
        );
        let keys: Vec<_> = out.events.iter().map(|e| e.fact_key.as_deref()).collect();
        assert_eq!(
            keys,
            [
                Some("tool:toolu_1"),
                Some("tool:toolu_1"),
                Some("tool:toolu_2")
            ]
        );
        let success: Vec<_> = out.events.iter().map(|e| e.event.success).collect();
        assert_eq!(success, [Some(true), Some(true), Some(false)]);
        assert_eq!(out.events[1].event.tool_name, "bash");
    }

    #[test]
    fn log_lines_with_undefined_values_are_read() {
        let out = normalize_logs(vec![
            line(
                "created",
                Some(
                    r#"{"id":"ses_c","directory":"/p","workspaceID":undefined,"parentID":"ses_p","title":"x:undefined","agent":"general"}"#,
                ),
            ),
            line("loop", Some(r#"{"session.id":"ses_c","step":0}"#)),
            line("loop", Some(r#"{"session.id":"ses_c","step":1}"#)),
            line(
                "stream",
                Some(r#"{"modelID":"claude-sonnet-4-5","session.id":"ses_c","small":"false"}"#),
            ),
            line(
                "evaluated",
                Some(r#"{"permission":"bash","pattern":"echo hello"}"#),
            ),
            line("loop", Some(r#"{"step":0}"#)),
            line("initialized", None),
            line("created", Some(r#"{"id":"pty_1","title":"shell"}"#)),
        ]);
        let tally = out.tally[&(Agent::Opencode, Signal::Logs)];
        assert_eq!(
            (tally.records, tally.ignored, tally.unattributed),
            (8, 4, 2)
        );
        assert_eq!(out.events.len(), 2);
        let created = &out.events[0];
        assert_eq!(created.kind(), Some(EventKind::SessionStarted));
        assert_eq!(created.native_id, "ses_c");
        assert_eq!(created.cwd.as_deref(), Some("/p"));
        let a = Attrs(&created.event.attributes);
        assert_eq!(
            (a.str("parentID"), a.str("agent")),
            (Some("ses_p"), Some("general"))
        );
        let prompt = &out.events[1];
        assert_eq!(prompt.kind(), Some(EventKind::Prompt));
        assert_eq!(
            prompt.event.turn_id,
            "cd".repeat(16),
            "the trace is the turn"
        );
        assert_eq!(prompt.event.time_unix_nano, 7);
    }

    #[test]
    fn undefined_inside_strings_is_left_alone() {
        assert_eq!(
            undefined_as_null(r#"{"a":undefined,"b":"undefined \"undefined\"","c":[undefined]}"#),
            r#"{"a":null,"b":"undefined \"undefined\"","c":[null]}"#
        );
        assert!(matches!(undefined_as_null(r#"{"a":1}"#), Cow::Borrowed(_)));
    }

    /// What one session of a scenario must look like after replay.
    struct Want {
        native_id: &'static str,
        turns: u64,
        tool_calls: u64,
        api_requests: u64,
        /// input (uncached), output, cache_read, cache_write
        tokens: (u64, u64, u64, u64),
        cost_usd: f64,
        models: &'static [&'static str],
        cwd: &'static str,
    }

    const HAIKU: &str = "claude-haiku-4-5-20251001";
    const SONNET: &str = "claude-sonnet-4-5";
    /// The fake model server answers every call with 1234 uncached, 8192 cache-read, 2048
    /// cache-write input tokens and 42 output tokens.
    const CALL: (u64, u64, u64, u64) = (1234, 42, 8192, 2048);
    const HAIKU_CALL: f64 = (1234.0 * 1.0 + 42.0 * 5.0 + 8192.0 * 0.1 + 2048.0 * 1.25) / 1e6;
    const SONNET_CALL: f64 = (1234.0 * 3.0 + 42.0 * 15.0 + 8192.0 * 0.3 + 2048.0 * 3.75) / 1e6;

    fn check(scenario: &str, wants: &[Want]) {
        let (sessions, _) = replay(&dir(AGENT_DIR, scenario));
        assert_eq!(sessions.len(), wants.len(), "{scenario}: sessions");
        for want in wants {
            let s: &Session = sessions
                .iter()
                .find(|s| s.native_id == want.native_id)
                .unwrap_or_else(|| panic!("{scenario}: no session {}", want.native_id));
            // OTLP carries no turn end or session end, and OpenCode loses its last batch at exit.
            assert_eq!(s.state, "active", "{scenario}");
            assert_eq!(s.cwd, want.cwd, "{scenario}");
            let c = s.counts.expect("counts");
            assert_eq!(
                (
                    c.turns,
                    c.tool_calls,
                    c.tool_errors,
                    c.api_requests,
                    c.api_errors
                ),
                (want.turns, want.tool_calls, 0, want.api_requests, 0),
                "{scenario} {}: turns, tools, tool errors, api requests, api errors",
                want.native_id
            );
            let t = s.tokens.expect("tokens");
            assert_eq!(
                (t.input, t.output, t.cache_read, t.cache_write),
                want.tokens,
                "{scenario}: tokens"
            );
            let cost = s.cost.expect("cost");
            assert!(
                (cost.known_usd - want.cost_usd).abs() < 1e-9,
                "{scenario}: cost {}",
                cost.known_usd
            );
            assert_eq!(
                (cost.estimated_requests, cost.unknown_requests),
                (want.api_requests, 0)
            );
            assert_eq!(s.models, want.models, "{scenario}: models");
        }
    }

    /// A single session whose only completed model call is the title generation (haiku): the
    /// main calls' spans were still batched when OpenCode exited.
    fn title_only(native_id: &'static str, cwd: &'static str) -> Want {
        Want {
            native_id,
            turns: 1,
            tool_calls: 0,
            api_requests: 1,
            tokens: CALL,
            cost_usd: HAIKU_CALL,
            models: &[HAIKU],
            cwd,
        }
    }

    #[test]
    fn fixture_plain() {
        check(
            "plain",
            &[title_only(
                "ses_dfe91bd33ffehWshcP1swLxLkk",
                "/srv/agent-runs/opencode-plain/proj",
            )],
        );
    }

    #[test]
    fn fixture_bash() {
        check(
            "bash",
            &[title_only(
                "ses_dfe917e2effespqcZQ6j5vsw8L",
                "/srv/agent-runs/opencode-bash/proj",
            )],
        );
    }

    #[test]
    fn fixture_write() {
        check(
            "write",
            &[title_only(
                "ses_dfe913bf2ffeE91DG2CzCyD1tk",
                "/srv/agent-runs/opencode-write/proj",
            )],
        );
    }

    #[test]
    fn fixture_sigterm_stream() {
        check(
            "sigterm_stream",
            &[title_only(
                "ses_dfe906a09ffeUX9tEcuohcIw2o",
                "/srv/agent-runs/opencode-sigterm_stream/proj",
            )],
        );
    }

    #[test]
    fn fixture_subagent() {
        let cwd = "/srv/agent-runs/opencode-subagent/proj";
        check(
            "subagent",
            &[
                title_only("ses_dfe90fae1ffe1C45RgBp2QcBRy", cwd),
                // The child session: its own turn, one sonnet call, the bash tool reported by
                // both Tool.execute and ai.toolCall but counted once.
                Want {
                    native_id: "ses_dfe90ef7dffeqWO6y9mzBGFqbM",
                    turns: 1,
                    tool_calls: 1,
                    api_requests: 1,
                    tokens: CALL,
                    cost_usd: SONNET_CALL,
                    models: &[SONNET],
                    cwd,
                },
            ],
        );
        let (_, commit) = replay(&dir(AGENT_DIR, "subagent"));
        let child = "opencode:ses_dfe90ef7dffeqWO6y9mzBGFqbM";
        let parent = commit
            .events
            .iter()
            .find(|e| e.session_id == child && e.kind == "session_started")
            .and_then(|e| Attrs(&e.attributes).str("parentID").map(str::to_owned));
        assert_eq!(parent.as_deref(), Some("ses_dfe90fae1ffe1C45RgBp2QcBRy"));
        assert_eq!(commit.facts.len(), 1, "one tool call fact");
    }

    #[test]
    fn fixture_records_are_all_accounted_for() {
        for scenario in ["plain", "bash", "write", "subagent", "sigterm_stream"] {
            let out = normalize(&dir(AGENT_DIR, scenario));
            let mut kept = 0;
            for t in out.tally.values() {
                kept += t.records - t.ignored - t.unattributed;
            }
            // One event per kept record.
            assert_eq!(kept, out.events.len() as u64, "{scenario}");
            let traces = out.tally[&(Agent::Opencode, Signal::Traces)];
            assert!(
                traces.ignored * 100 >= traces.records * 98,
                "{scenario}: noise is most of it"
            );
        }
    }
}
