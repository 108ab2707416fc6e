//! Gemini CLI adapter: reads the `gemini_cli.*` log events (the attribute `event.name` holds the
//! full name) and turns the few that carry a session fact into [`super::SessionEvent`]s.
//!
//! Gemini reports each fact in several places: a model call is an `api_request` /
//! `api_response` / `api_error` log, two `gen_ai.client.inference.operation.details` logs, an
//! `llm_call` span and metric increments; a tool call is a `tool_call` log, a `tool_call` span and
//! a metric. Only the logs are counted (the spans add nothing the logs lack but a tool call id, and
//! the metrics are cumulative running totals re-sent every 10 s), so spans and metrics are read
//! only to be tallied as ignored.
//!
//! Turns: Gemini's `prompt_id` cannot key a turn on its own. In `-p` mode it equals `session.id`,
//! so every prompt of a resumed session would reuse it; sub-agent calls carry
//! `<agent_id>#<n>`. A turn is therefore opened by each `gemini_cli.user_prompt`, keyed by its
//! `prompt_id` and time, and every later record joins the session's current turn (an empty
//! `turn_id`). Gemini exports its logs in one ordered stream, so "later" is well defined.
//!
//! Gemini sends no turn-end, turn-failure or session-end event over OTLP (those come from the
//! `AfterAgent` / `SessionEnd` hooks), and no cost: cost is estimated from the price table.

use super::attrs::Attrs;
use super::{EventKind, Prices, Sink, log_time};
use crate::proto::logs::LogRecord;
use crate::proto::metrics::Metric;
use crate::proto::store::{Event, Tokens};
use crate::proto::trace::Span;

pub fn logs(records: Vec<LogRecord>, out: &mut Sink<'_>) {
    for record in records {
        log(record, out);
    }
}

/// Gemini's spans repeat the logs (see the module comment).
pub fn spans(spans: Vec<Span>, out: &mut Sink<'_>) {
    spans.iter().for_each(|_| out.ignored());
}

/// Gemini's metrics are cumulative totals of what the logs already report.
pub fn metrics(metrics: Vec<Metric>, out: &mut Sink<'_>) {
    for m in &metrics {
        (0..super::data_points(m)).for_each(|_| out.ignored());
    }
}

fn log(mut record: LogRecord, out: &mut Sink<'_>) {
    let a = Attrs(&record.attributes);
    let name = if record.event_name.is_empty() {
        a.str("event.name").unwrap_or("")
    } else {
        record.event_name.as_str()
    };
    let Some(kind) = log_kind(name) else {
        out.ignored();
        return;
    };
    let Some(session) = a
        .str("session.id")
        .or_else(|| out.ctx.resource.str("session.id"))
    else {
        out.unattributed();
        return;
    };
    let time = log_time(&record);
    let mut e = out.event(session, kind);
    // Gemini CLI puts the Node.js version in `service.version`, not its own: not worth showing.
    e.service_version = None;
    let ev = &mut e.event;
    ev.time_unix_nano = time;
    ev.name = name.to_owned();
    match kind {
        EventKind::Prompt => {
            let prompt_id = a.str("prompt_id").unwrap_or(session);
            ev.turn_id = format!("{prompt_id}@{time}");
        }
        EventKind::ApiRequest => api_response(ev, a, out.ctx.prices),
        EventKind::ApiError => api_error(ev, a),
        EventKind::ToolFinished => tool_call(ev, a),
        // agent_name, agent_id and terminate_reason stay in the attributes.
        EventKind::SubagentFinished => ev.duration_ms = a.f64("duration_ms"),
        _ => {}
    }
    ev.attributes = std::mem::take(&mut record.attributes);
    out.push(e);
}

/// The event a Gemini log of this name makes, if it carries a session fact.
fn log_kind(name: &str) -> Option<EventKind> {
    match name {
        "gemini_cli.config" => Some(EventKind::SessionStarted),
        "gemini_cli.user_prompt" => Some(EventKind::Prompt),
        "gemini_cli.api_response" => Some(EventKind::ApiRequest),
        "gemini_cli.api_error" => Some(EventKind::ApiError),
        "gemini_cli.tool_call" => Some(EventKind::ToolFinished),
        "gemini_cli.agent.finish" => Some(EventKind::SubagentFinished),
        // api_request (the call start; its end is counted), the gen_ai duplicates, hook_call
        // (a mirror of the hook payloads, which arrive on their own), routing, retries,
        // start-up and approval-mode bookkeeping.
        _ => None,
    }
}

/// `gemini_cli.api_response`: a finished model call, priced from its tokens (Gemini reports no
/// cost).
fn api_response(ev: &mut Event, a: Attrs<'_>, prices: &Prices) {
    let model = a.str("model").unwrap_or("");
    let tokens = tokens(a);
    let cost = prices.cost(model, &tokens);
    ev.model = model.to_owned();
    ev.tokens = Some(tokens);
    ev.cost_usd = cost;
    ev.cost_estimated = cost.is_some();
    ev.duration_ms = a.f64("duration_ms");
    ev.status_code = status_code(a);
}

/// `gemini_cli.api_error`: a failed model call; versions differ in the names of its fields.
fn api_error(ev: &mut Event, a: Attrs<'_>) {
    ev.model = a
        .first_str(&["model", "model_name"])
        .unwrap_or("")
        .to_owned();
    ev.duration_ms = a.f64("duration_ms").or_else(|| a.f64("duration"));
    ev.status_code = status_code(a);
    ev.error = a
        .first_str(&["error.message", "error"])
        .unwrap_or("")
        .to_owned();
}

/// `gemini_cli.tool_call`: a finished tool call (the log names no call id).
fn tool_call(ev: &mut Event, a: Attrs<'_>) {
    ev.tool_name = a.str("function_name").unwrap_or("").to_owned();
    ev.success = a.bool("success");
    ev.duration_ms = a.f64("duration_ms");
    ev.error = a
        .first_str(&["error", "error_type"])
        .unwrap_or("")
        .to_owned();
}

/// Tokens of an `api_response`, in the project's convention. Gemini's `input_token_count` is the
/// whole prompt including the cached part; `output_token_count` excludes the thinking tokens,
/// which are billed as output; `tool_token_count` is prompt-side tool-use input.
fn tokens(a: Attrs<'_>) -> Tokens {
    let cache_read = a.u64("cached_content_token_count").unwrap_or(0);
    let prompt = a.u64("input_token_count").unwrap_or(0);
    Tokens {
        input: prompt.saturating_sub(cache_read) + a.u64("tool_token_count").unwrap_or(0),
        output: a.u64("output_token_count").unwrap_or(0)
            + a.u64("thoughts_token_count").unwrap_or(0),
        cache_read,
        cache_write: 0,
    }
}

fn status_code(a: Attrs<'_>) -> Option<i32> {
    a.i64("status_code")
        .or_else(|| a.i64("http.status_code"))
        .and_then(|c| i32::try_from(c).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{Agent, Normalized, Prices, Signal};
    use crate::proto::ExportLogsServiceRequest;
    use crate::proto::common::{AnyValue, KeyValue, any_value::Value};
    use crate::proto::logs::{ResourceLogs, ScopeLogs};
    use crate::proto::resource::Resource;
    use crate::proto::store::Session;
    use crate::testkit::fixtures::{dir, normalize, replay};
    use crate::testkit::otlp::kv_str;

    const AGENT_DIR: &str = "gemini-cli-0.61.0";

    fn kv_int(key: &str, v: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(Value::IntValue(v)),
            }),
            ..Default::default()
        }
    }

    fn record(time: u64, attributes: Vec<KeyValue>) -> LogRecord {
        LogRecord {
            time_unix_nano: time,
            attributes,
            ..Default::default()
        }
    }

    /// Runs records through the real routing (resource `service.name` → this adapter).
    fn normalize_logs(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> Normalized {
        let mut resource = resource;
        resource.push(kv_str("service.name", "gemini-cli"));
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: resource,
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

    #[test]
    fn api_response_with_numbers_as_strings_gives_uncached_input_and_estimated_cost() {
        let out = normalize_logs(
            vec![],
            vec![record(
                5,
                vec![
                    kv_str("event.name", "gemini_cli.api_response"),
                    kv_str("session.id", "s1"),
                    kv_str("prompt_id", "s1"),
                    kv_str("model", "gemini-3.8-flash"),
                    kv_str("input_token_count", "1234"),
                    kv_str("cached_content_token_count", "1024"),
                    kv_str("output_token_count", "42"),
                    kv_str("thoughts_token_count", "7"),
                    kv_str("tool_token_count", "3"),
                    kv_str("duration_ms", "205"),
                    kv_str("status_code", "200"),
                ],
            )],
        );
        assert_eq!(out.events.len(), 1);
        let e = &out.events[0];
        assert_eq!((e.agent, e.native_id.as_str()), (Agent::GeminiCli, "s1"));
        assert_eq!(e.kind(), Some(EventKind::ApiRequest));
        assert_eq!(e.event.name, "gemini_cli.api_response");
        assert_eq!(e.event.time_unix_nano, 5);
        assert_eq!(e.event.turn_id, "", "joins the current turn");
        assert_eq!(
            e.event.tokens,
            Some(Tokens {
                input: 213,
                output: 49,
                cache_read: 1024,
                cache_write: 0
            })
        );
        assert_eq!(e.event.duration_ms, Some(205.0));
        assert_eq!(e.event.status_code, Some(200));
        // gemini-3.8-flash: 0.5 in, 3.0 out, 0.05 cache read per million.
        let want = (213.0 * 0.5 + 49.0 * 3.0 + 1024.0 * 0.05) / 1e6;
        assert!((e.event.cost_usd.expect("priced") - want).abs() < 1e-12);
        assert!(e.event.cost_estimated);
        assert_eq!(
            e.event.attributes.len(),
            11,
            "the record's attributes are kept"
        );
    }

    #[test]
    fn unknown_model_has_unknown_cost_not_zero() {
        let out = normalize_logs(
            vec![kv_str("session.id", "s1")],
            vec![record(
                1,
                vec![
                    kv_str("event.name", "gemini_cli.api_response"),
                    kv_str("model", "gemini-99-ultra"),
                    kv_int("input_token_count", 10),
                ],
            )],
        );
        let e = &out.events[0];
        assert_eq!(e.native_id, "s1", "session id from the resource");
        assert_eq!(e.event.cost_usd, None);
        assert!(!e.event.cost_estimated);
    }

    #[test]
    fn prompts_open_distinct_turns_even_when_prompt_id_repeats() {
        let prompt = |t| {
            record(
                t,
                vec![
                    kv_str("event.name", "gemini_cli.user_prompt"),
                    kv_str("session.id", "s1"),
                    kv_str("prompt_id", "s1"),
                ],
            )
        };
        let out = normalize_logs(vec![], vec![prompt(10), prompt(20)]);
        let turns: Vec<&str> = out
            .events
            .iter()
            .map(|e| e.event.turn_id.as_str())
            .collect();
        assert_eq!(turns, ["s1@10", "s1@20"]);
    }

    #[test]
    fn tool_calls_errors_and_accounting() {
        let base = |name: &str| vec![kv_str("event.name", name), kv_str("session.id", "s1")];
        let mut tool = base("gemini_cli.tool_call");
        tool.extend([
            kv_str("function_name", "run_shell_command"),
            kv_str("success", "false"),
            kv_str("error", "exit 1"),
            kv_int("duration_ms", 79),
        ]);
        let mut err = base("gemini_cli.api_error");
        err.extend([
            kv_str("model_name", "gemini-3.1-pro-preview"),
            kv_int("status_code", 429),
            kv_str("error.message", "quota"),
        ]);
        let no_session = vec![kv_str("event.name", "gemini_cli.user_prompt")];
        let noise = base("gemini_cli.hook_call");
        let out = normalize_logs(
            vec![],
            vec![
                record(1, tool),
                record(2, err),
                record(3, no_session),
                record(4, noise),
            ],
        );
        let tally = out.tally[&(Agent::GeminiCli, Signal::Logs)];
        assert_eq!(
            (tally.records, tally.unattributed, tally.ignored),
            (4, 1, 1)
        );
        assert_eq!(out.events.len(), 2);
        let t = &out.events[0].event;
        assert_eq!(
            (t.tool_name.as_str(), t.success, t.error.as_str()),
            ("run_shell_command", Some(false), "exit 1")
        );
        assert_eq!(t.duration_ms, Some(79.0));
        let e = &out.events[1].event;
        assert_eq!(out.events[1].kind(), Some(EventKind::ApiError));
        assert_eq!(
            (e.model.as_str(), e.status_code, e.error.as_str()),
            ("gemini-3.1-pro-preview", Some(429), "quota")
        );
    }

    /// What a scenario's one session must look like after replay.
    struct Want {
        native_prefix: &'static str,
        turns: u64,
        tool_calls: u64,
        api_requests: u64,
        api_errors: u64,
        /// input, output (thoughts folded in), cache_read, cache_write
        tokens: (u64, u64, u64, u64),
        cost_usd: f64,
        models: &'static [&'static str],
    }

    const LITE: &str = "gemini-3.5-flash-lite";
    const FLASH: &str = "gemini-3.8-flash";
    const PRO: &str = "gemini-3.1-pro-preview";
    /// The fake model server answers every call with 1234 prompt (1024 cached), 42 output and
    /// 7 thinking tokens: 210 uncached in, 49 out, 1024 cache read per successful call.
    const LITE_CALL: f64 = (210.0 * 0.1 + 49.0 * 0.4 + 1024.0 * 0.01) / 1e6;
    const FLASH_CALL: f64 = (210.0 * 0.5 + 49.0 * 3.0 + 1024.0 * 0.05) / 1e6;

    fn check(scenario: &str, want: Want) -> Session {
        let (sessions, commit) = replay(&dir(AGENT_DIR, scenario));
        assert_eq!(sessions.len(), 1, "{scenario}: one session");
        let s = sessions.into_iter().next().expect("one session");
        assert!(
            s.native_id.starts_with(want.native_prefix),
            "{scenario}: {}",
            s.native_id
        );
        assert_eq!(s.agent, "gemini_cli");
        // Gemini sends no turn-end or session-end over OTLP: the session stays active.
        assert_eq!(s.state, "active", "{scenario}");
        let c = s.counts.expect("counts");
        assert_eq!(
            (
                c.turns,
                c.tool_calls,
                c.tool_errors,
                c.api_requests,
                c.api_errors
            ),
            (
                want.turns,
                want.tool_calls,
                0,
                want.api_requests,
                want.api_errors
            ),
            "{scenario}: turns, tools, tool errors, api requests, api errors"
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
            cost.estimated_requests, want.api_requests,
            "{scenario}: every cost is estimated"
        );
        assert_eq!(
            cost.unknown_requests, 0,
            "{scenario}: every model is priced"
        );
        assert_eq!(s.models, want.models, "{scenario}: models");
        // Every event belongs to a turn: the one the prompt opened.
        assert!(
            commit
                .events
                .iter()
                .filter(|e| e.kind != "session_started")
                .all(|e| !e.turn_id.is_empty()),
            "{scenario}: events outside a turn"
        );
        s
    }

    #[test]
    fn fixture_plain() {
        check(
            "plain",
            Want {
                native_prefix: "ce87b711-",
                turns: 1,
                tool_calls: 0,
                api_requests: 2,
                api_errors: 0,
                tokens: (420, 98, 2048, 0),
                cost_usd: LITE_CALL + FLASH_CALL,
                models: &[LITE, FLASH],
            },
        );
    }

    #[test]
    fn fixture_bash() {
        check(
            "bash",
            Want {
                native_prefix: "c6abf453-",
                turns: 1,
                tool_calls: 1,
                api_requests: 3,
                api_errors: 0,
                tokens: (630, 147, 3072, 0),
                cost_usd: LITE_CALL + 2.0 * FLASH_CALL,
                models: &[LITE, FLASH],
            },
        );
    }

    #[test]
    fn fixture_write() {
        check(
            "write",
            Want {
                native_prefix: "50ee6d8e-",
                turns: 1,
                tool_calls: 1,
                api_requests: 3,
                api_errors: 0,
                tokens: (630, 147, 3072, 0),
                cost_usd: LITE_CALL + 2.0 * FLASH_CALL,
                models: &[LITE, FLASH],
            },
        );
    }

    #[test]
    fn fixture_subagent() {
        // Router 2 + main 2 + sub-agent 3 calls; the sub-agent's `<agent_id>#n` prompt ids join
        // the parent's turn; tools: invoke_agent and run_shell_command inside the sub-agent.
        let (_, commit) = replay(&dir(AGENT_DIR, "subagent"));
        assert_eq!(
            commit
                .events
                .iter()
                .filter(|e| e.kind == "subagent_finished")
                .count(),
            1
        );
        check(
            "subagent",
            Want {
                native_prefix: "c728b220-",
                turns: 1,
                tool_calls: 2,
                api_requests: 7,
                api_errors: 0,
                tokens: (1470, 343, 7168, 0),
                cost_usd: 2.0 * LITE_CALL + 5.0 * FLASH_CALL,
                models: &[LITE, FLASH],
            },
        );
    }

    #[test]
    fn fixture_error500() {
        let s = check(
            "error500",
            Want {
                native_prefix: "d443d8f7-",
                turns: 1,
                tool_calls: 0,
                api_requests: 0,
                api_errors: 7,
                tokens: (0, 0, 0, 0),
                cost_usd: 0.0,
                models: &[LITE, PRO],
            },
        );
        assert_eq!(s.cost.map(|c| c.known_usd), Some(0.0));
    }

    #[test]
    fn fixture_error429() {
        check(
            "error429",
            Want {
                native_prefix: "5a752aee-",
                turns: 1,
                tool_calls: 0,
                api_requests: 0,
                api_errors: 7,
                tokens: (0, 0, 0, 0),
                cost_usd: 0.0,
                models: &[LITE, PRO],
            },
        );
    }

    #[test]
    fn fixture_sigterm_stream() {
        // Only the router call completed; the main call was still streaming when it was killed.
        check(
            "sigterm_stream",
            Want {
                native_prefix: "6798a0d8-",
                turns: 1,
                tool_calls: 0,
                api_requests: 1,
                api_errors: 0,
                tokens: (210, 49, 1024, 0),
                cost_usd: LITE_CALL,
                models: &[LITE],
            },
        );
    }

    #[test]
    fn fixture_sigterm_stream_norelaunch() {
        check(
            "sigterm_stream_norelaunch",
            Want {
                native_prefix: "100d55c8-",
                turns: 1,
                tool_calls: 0,
                api_requests: 1,
                api_errors: 0,
                tokens: (210, 49, 1024, 0),
                cost_usd: LITE_CALL,
                models: &[LITE],
            },
        );
    }

    #[test]
    fn fixture_records_are_all_accounted_for() {
        for scenario in [
            "plain",
            "bash",
            "write",
            "subagent",
            "error500",
            "error429",
            "sigterm_stream",
            "sigterm_stream_norelaunch",
        ] {
            let out = normalize(&dir(AGENT_DIR, scenario));
            let logs = out.tally[&(Agent::GeminiCli, Signal::Logs)];
            // One event per kept record; nothing lacks a session id.
            assert_eq!(logs.unattributed, 0, "{scenario}");
            assert_eq!(
                logs.records,
                logs.ignored + out.events.len() as u64,
                "{scenario}"
            );
            for signal in [Signal::Traces, Signal::Metrics] {
                if let Some(t) = out.tally.get(&(Agent::GeminiCli, signal)) {
                    assert_eq!(t.ignored, t.records, "{scenario}: {signal:?}");
                }
            }
        }
    }
}
