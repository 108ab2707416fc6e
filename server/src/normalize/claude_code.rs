//! Claude Code adapter: reads the `claude_code.*` log events, spans (traces beta) and metrics of
//! one resource and turns them into session events. Sessions are keyed by the `session.id`
//! attribute every record carries (the resource has none); the turn is the `prompt.id` that every
//! log event after the user's prompt carries.
//!
//! Claude reports most facts twice or three times (an `api_request` log, a `claude_code.llm_request`
//! span and the `cost.usage` / `token.usage` metrics all describe one model call). Only the logs
//! carry `prompt.id` and `cost_usd`, so **the logs are the record**: a span or metric that repeats
//! a log is ignored here rather than fact-keyed, because the tracker keeps the *first* report of a
//! fact and spans often arrive first (one export per signal, in any order), which would lose the
//! reported cost and the turn. Spans contribute the one thing logs lack without hooks: the turn end.
//!
//! | record | event |
//! |---|---|
//! | log `user_prompt` | `Prompt`; turn = `prompt.id` |
//! | log `api_request` | `ApiRequest`: tokens, reported `cost_usd`; fact `api:<request_id>` |
//! | log `api_error` | `ApiError` (fact `api_error:<request_id>`), plus `TurnFailed` on the main thread |
//! | log `api_retries_exhausted` | `TurnFailed` on the main thread, else ignored |
//! | log `tool_result` | `ToolFinished` (`success`, `duration_ms`); fact `tool:<tool_use_id>` |
//! | log `tool_decision` | `ToolDecision` (accept or reject, in the attributes) |
//! | log `assistant_response` | `AssistantResponse` |
//! | log `subagent_completed` | `SubagentFinished` |
//! | log `hook_execution_complete`, hook `Stop`, not blocking, main thread | `TurnFinished` |
//! | log `hook_execution_complete`, hook `StopFailure` | `TurnFailed` |
//! | log `hook_execution_start`, hook `SessionEnd` | `SessionEnded` (never flushed by 2.1.328) |
//! | other logs (`hook_registered`, `plugin_loaded`, other hooks, `internal_error`, …) | ignored |
//! | span `claude_code.interaction` | `TurnFinished` / `TurnFailed` by the rule below, else ignored |
//! | other spans | ignored: they repeat the logs |
//! | metric `claude_code.session.count` | `SessionStarted` (one per process: fresh or resume) |
//! | other metrics | ignored: cost and tokens repeat `api_request` |
//!
//! **Turn end.** Claude logs no "turn finished" event, so a turn ends on the first of:
//! - the `Stop` hook's `hook_execution_complete` log (with `num_blocking` 0: a blocking Stop hook
//!   makes the agent go on). It carries `prompt.id`; it exists when any Stop hook is configured,
//!   as `observatory`'s own hook set-up does.
//! - the `claude_code.interaction` span (exported when the turn ends) when the last main-thread
//!   `claude_code.llm_request` of its trace *in the same export* succeeded with a `stop_reason`
//!   other than `tool_use` → `TurnFinished`; when that request failed (or the interaction span
//!   itself is ERROR) → `TurnFailed`. Spans have no `prompt.id`, so this event joins the
//!   session's current turn. Otherwise — no request in the export (SIGTERM while streaming, or the
//!   request went out in an earlier export), or the last one asked for a tool (killed while a tool
//!   ran) — nothing is known and nothing is emitted: the session stays active for the stall timer
//!   and liveness to judge.
//! - a main-thread `api_error` (Claude logs one per failed request chain, after its retries, and
//!   the turn ends with it: the 400 case has no `api_retries_exhausted`), `api_retries_exhausted`,
//!   or the `StopFailure` hook → `TurnFailed`, fact `turn_failed:<prompt.id>` so the three count
//!   once.
//!
//! "Main thread" means no `agent_id` and a `query_source` that is absent, `sdk` or
//! `repl_main_thread…`: a sub-agent's or a side query's failure does not end the user's turn.
//!
//! **Sub-agents** share the parent's `session.id` and `prompt.id` (marked by `agent_id`), so their
//! requests and tool calls count in the parent session and turn — they are real spend — even when
//! they arrive after that turn finished (the Agent tool runs asynchronously).
//!
//! **Denied tools** produce a `tool_decision` (reject) and no `tool_result`: a `ToolDecision`
//! event, not a tool call. The `claude_code.tool` span that exists for the denied call is ignored
//! like every span that repeats a log, so it cannot add a tool call either.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::attrs::{Attrs, any_str};
use super::{EventKind, Prices, SessionEvent, Sink, nanos, span_ms};
use crate::proto::logs::LogRecord;
use crate::proto::metrics::{Metric, NumberDataPoint, metric::Data};
use crate::proto::store::{Event, Tokens};
use crate::proto::trace::{Span, status::StatusCode};

const INTERACTION: &str = "claude_code.interaction";
const LLM_REQUEST: &str = "claude_code.llm_request";
const SESSION_COUNT: &str = "claude_code.session.count";

pub fn logs(records: Vec<LogRecord>, out: &mut Sink<'_>) {
    let resource = out.ctx.resource;
    for record in records {
        log(record, resource, out);
    }
}

fn log(record: LogRecord, resource: Attrs<'_>, out: &mut Sink<'_>) {
    let a = Attrs(&record.attributes);
    let Some(sid) = a.str("session.id").or_else(|| resource.str("session.id")) else {
        out.unattributed();
        return;
    };
    let name = event_name(&record, a);
    let Some(kind) = log_kind(name, a) else {
        return out.ignored();
    };

    let mut e = out.event(sid, kind);
    let prompt_id = a.str("prompt.id");
    e.event.time_unix_nano = log_time(&record, a);
    e.event.name = format!("claude_code.{name}");
    if kind != EventKind::SessionEnded {
        e.event.turn_id = prompt_id.unwrap_or_default().to_owned();
    }
    let mut turn_failed = None;
    match kind {
        // A prompt must open a turn; versions without `prompt.id` still name the message.
        EventKind::Prompt if e.event.turn_id.is_empty() => {
            e.event.turn_id = a.str("message.uuid").unwrap_or_default().to_owned();
        }
        EventKind::ApiRequest => api_request(&mut e, a, out.ctx.prices),
        EventKind::ApiError => {
            api_error(&mut e, &record, a);
            if main_thread(a) {
                turn_failed = Some(turn_failed_by(&e.event, sid, prompt_id, out));
            }
        }
        EventKind::TurnFailed => {
            e.event.error = a.str("error").unwrap_or_default().to_owned();
            e.event.status_code = status_code(a);
            e.fact_key = prompt_id.map(|p| format!("turn_failed:{p}"));
        }
        EventKind::ToolFinished => tool_result(&mut e, a),
        EventKind::ToolDecision => {
            e.event.tool_name = a.str("tool_name").unwrap_or_default().to_owned();
            e.event.tool_call_id = a.str("tool_use_id").unwrap_or_default().to_owned();
        }
        EventKind::AssistantResponse => {
            e.event.model = a.str("model").unwrap_or_default().to_owned();
        }
        EventKind::SubagentFinished => subagent_completed(&mut e.event, a),
        _ => {}
    }
    e.event.attributes = record.attributes;
    out.push(e);
    if let Some(failed) = turn_failed {
        out.push(failed);
    }
}

/// The event a log of this name makes, if it is one the adapter keeps (see the table above).
fn log_kind(name: &str, a: Attrs<'_>) -> Option<EventKind> {
    let kind = match name {
        "user_prompt" => EventKind::Prompt,
        "api_request" => EventKind::ApiRequest,
        "api_error" => EventKind::ApiError,
        "api_retries_exhausted" if main_thread(a) => EventKind::TurnFailed,
        "tool_result" => EventKind::ToolFinished,
        "tool_decision" => EventKind::ToolDecision,
        "assistant_response" => EventKind::AssistantResponse,
        "subagent_completed" => EventKind::SubagentFinished,
        "hook_execution_complete" => return hook_turn_end(a),
        "hook_execution_start" if a.str("hook_event") == Some("SessionEnd") => {
            EventKind::SessionEnded
        }
        _ => return None,
    };
    Some(kind)
}

/// `api_request`: the model, its tokens and the reported cost (priced from the tokens when the
/// log reports none).
fn api_request(e: &mut SessionEvent, a: Attrs<'_>, prices: &Prices) {
    let ev = &mut e.event;
    ev.model = a.str("model").unwrap_or_default().to_owned();
    let tokens = Tokens {
        input: a.u64("input_tokens").unwrap_or(0),
        output: a.u64("output_tokens").unwrap_or(0),
        cache_read: a.u64("cache_read_tokens").unwrap_or(0),
        cache_write: a.u64("cache_creation_tokens").unwrap_or_else(|| {
            a.u64("cache_creation_5m_tokens").unwrap_or(0)
                + a.u64("cache_creation_1h_tokens").unwrap_or(0)
        }),
    };
    // `cost_usd_micros` is truncated, so it is only the fallback.
    ev.cost_usd = a
        .f64("cost_usd")
        .or_else(|| a.f64("cost_usd_micros").map(|m| m / 1e6));
    if ev.cost_usd.is_none() {
        ev.cost_usd = prices.cost(&ev.model, &tokens);
        ev.cost_estimated = ev.cost_usd.is_some();
    }
    ev.tokens = Some(tokens);
    ev.duration_ms = a.f64("duration_ms");
    e.fact_key = a.str("request_id").map(|id| format!("api:{id}"));
}

/// `api_error`: the failed request, named by its request id or, lacking one, its log's
/// (trace, span).
fn api_error(e: &mut SessionEvent, record: &LogRecord, a: Attrs<'_>) {
    let ev = &mut e.event;
    ev.model = a.str("model").unwrap_or_default().to_owned();
    ev.error = a.str("error").unwrap_or_default().to_owned();
    ev.status_code = status_code(a);
    ev.duration_ms = a.f64("duration_ms");
    // The 529 chain carries no request id; its (trace, span) still names it for replays.
    e.fact_key = match a.str("request_id") {
        Some(id) => Some(format!("api_error:{id}")),
        None if !record.trace_id.is_empty() => Some(format!(
            "api_error:{}/{}",
            hex::encode(&record.trace_id),
            hex::encode(&record.span_id)
        )),
        None => None,
    };
}

/// The `TurnFailed` a main-thread API error brings with it: the same error, on the same turn,
/// keyed like the other reports of the turn's failure so they count once.
fn turn_failed_by(
    error: &Event,
    sid: &str,
    prompt_id: Option<&str>,
    out: &Sink<'_>,
) -> SessionEvent {
    let mut failed = out.event(sid, EventKind::TurnFailed);
    failed.event.time_unix_nano = error.time_unix_nano;
    failed.event.name.clone_from(&error.name);
    failed.event.turn_id.clone_from(&error.turn_id);
    failed.event.error.clone_from(&error.error);
    failed.event.status_code = error.status_code;
    failed.fact_key = prompt_id.map(|p| format!("turn_failed:{p}"));
    failed
}

/// `tool_result`: a finished tool call, keyed by its `tool_use_id`.
fn tool_result(e: &mut SessionEvent, a: Attrs<'_>) {
    let ev = &mut e.event;
    ev.tool_name = a
        .first_str(&["tool_name", "name"])
        .unwrap_or_default()
        .to_owned();
    ev.tool_call_id = a.str("tool_use_id").unwrap_or_default().to_owned();
    ev.success = a.bool("success");
    ev.duration_ms = a.f64("duration_ms");
    ev.error = a
        .first_str(&["error", "error_type"])
        .unwrap_or_default()
        .to_owned();
    e.fact_key = a.str("tool_use_id").map(|id| format!("tool:{id}"));
}

/// `subagent_completed`: the model the sub-agent ended on and how long it ran.
fn subagent_completed(ev: &mut Event, a: Attrs<'_>) {
    ev.model = a
        .first_str(&["final_model", "model"])
        .unwrap_or_default()
        .to_owned();
    ev.duration_ms = a.f64("duration_ms");
}

/// The bare event name (`api_request`): the `event.name` attribute, else the body or the OTLP
/// `event_name` field without their `claude_code.` prefix.
fn event_name<'r>(record: &'r LogRecord, a: Attrs<'r>) -> &'r str {
    let name = a
        .str("event.name")
        .or_else(|| any_str(&record.body).filter(|b| b.starts_with("claude_code.")))
        .or_else(|| Some(record.event_name.as_str()).filter(|n| !n.is_empty()))
        .unwrap_or_default();
    name.strip_prefix("claude_code.").unwrap_or(name)
}

/// What a completed hook says about the turn: the `Stop` hooks ran and none blocked (a blocking
/// Stop hook sends the agent back to work), or the turn ended on an API error.
fn hook_turn_end(a: Attrs<'_>) -> Option<EventKind> {
    if a.get("agent_id").is_some() {
        return None;
    }
    match a.str("hook_event")? {
        "Stop" if a.u64("num_blocking").unwrap_or(0) == 0 => Some(EventKind::TurnFinished),
        "StopFailure" => Some(EventKind::TurnFailed),
        _ => None,
    }
}

/// The user's own conversation, as opposed to a sub-agent or a side query (compaction, titles).
fn main_thread(a: Attrs<'_>) -> bool {
    if a.get("agent_id").is_some() {
        return false;
    }
    match a.first_str(&["query_source", "query_source_safe"]) {
        None => true,
        Some(source) => source == "sdk" || source.starts_with("repl_main_thread"),
    }
}

fn status_code(a: Attrs<'_>) -> Option<i32> {
    a.i64("status_code").and_then(|c| i32::try_from(c).ok())
}

/// `time_unix_nano`, else `observed_time_unix_nano`, else the `event.timestamp` attribute.
fn log_time(record: &LogRecord, a: Attrs<'_>) -> i64 {
    let t = super::log_time(record);
    if t > 0 {
        return t;
    }
    a.str("event.timestamp")
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .and_then(|d| i64::try_from(d.unix_timestamp_nanos()).ok())
        .unwrap_or(0)
}

pub fn spans(spans: Vec<Span>, out: &mut Sink<'_>) {
    let resource = out.ctx.resource;
    let mut outcomes = turn_outcomes(&spans);
    for (i, span) in spans.into_iter().enumerate() {
        let a = Attrs(&span.attributes);
        let Some(sid) = a
            .first_str(&["session.id", "gen_ai.conversation.id"])
            .or_else(|| resource.str("session.id"))
        else {
            out.unattributed();
            continue;
        };
        let Some(at) = outcomes.iter().position(|(j, _)| *j == i) else {
            out.ignored();
            continue;
        };
        let (_, outcome) = outcomes.swap_remove(at);
        let kind = match outcome {
            Outcome::Finished => EventKind::TurnFinished,
            Outcome::Failed { .. } => EventKind::TurnFailed,
        };
        let mut e = out.event(sid, kind);
        let ev = &mut e.event;
        ev.time_unix_nano = nanos(span.end_time_unix_nano);
        ev.duration_ms = a.f64("interaction.duration_ms").or_else(|| span_ms(&span));
        if let Outcome::Failed { error, status_code } = outcome {
            ev.error = error;
            ev.status_code = status_code;
        }
        ev.name = span.name;
        ev.attributes = span.attributes;
        out.push(e);
    }
}

/// How a turn ended, read from its interaction span and the requests exported with it.
enum Outcome {
    Finished,
    Failed {
        error: String,
        status_code: Option<i32>,
    },
}

/// The outcome of each interaction span whose turn end is known, by index in `spans`.
fn turn_outcomes(spans: &[Span]) -> Vec<(usize, Outcome)> {
    let mut outcomes = Vec::new();
    for (i, interaction) in spans.iter().enumerate() {
        if interaction.name != INTERACTION {
            continue;
        }
        if span_error(interaction) {
            let error = interaction
                .status
                .as_ref()
                .map(|s| s.message.clone())
                .unwrap_or_default();
            outcomes.push((
                i,
                Outcome::Failed {
                    error,
                    status_code: None,
                },
            ));
            continue;
        }
        let last = spans
            .iter()
            .filter(|s| s.name == LLM_REQUEST && s.trace_id == interaction.trace_id)
            .filter(|s| main_thread(Attrs(&s.attributes)))
            .max_by_key(|s| s.end_time_unix_nano);
        let Some(last) = last else { continue };
        let a = Attrs(&last.attributes);
        if span_error(last) || a.bool("success") == Some(false) {
            let error = a
                .str("error")
                .or_else(|| {
                    last.status
                        .as_ref()
                        .map(|s| s.message.as_str())
                        .filter(|m| !m.is_empty())
                })
                .unwrap_or_default()
                .to_owned();
            outcomes.push((
                i,
                Outcome::Failed {
                    error,
                    status_code: status_code(a),
                },
            ));
        } else if a.str("stop_reason") != Some("tool_use") {
            outcomes.push((i, Outcome::Finished));
        }
    }
    outcomes
}

fn span_error(span: &Span) -> bool {
    span.status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32)
}

pub fn metrics(metrics: Vec<Metric>, out: &mut Sink<'_>) {
    let resource = out.ctx.resource;
    for m in metrics {
        if m.name == SESSION_COUNT
            && let Some(Data::Sum(sum)) = m.data
        {
            for point in sum.data_points {
                session_started(point, resource, out);
            }
            continue;
        }
        for attributes in super::data_point_attributes(&m) {
            let a = Attrs(attributes);
            if a.str("session.id")
                .or_else(|| resource.str("session.id"))
                .is_some()
            {
                out.ignored();
            } else {
                out.unattributed();
            }
        }
    }
}

/// A process counts its session once, in its first export: the session (re)started then.
fn session_started(point: NumberDataPoint, resource: Attrs<'_>, out: &mut Sink<'_>) {
    let a = Attrs(&point.attributes);
    let Some(sid) = a.str("session.id").or_else(|| resource.str("session.id")) else {
        return out.unattributed();
    };
    let mut e = out.event(sid, EventKind::SessionStarted);
    // A delta point's window starts when the process began counting.
    let start = if point.start_time_unix_nano > 0 {
        point.start_time_unix_nano
    } else {
        point.time_unix_nano
    };
    e.event.time_unix_nano = nanos(start);
    e.event.name = SESSION_COUNT.to_owned();
    e.event.attributes = point.attributes;
    out.push(e);
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::ingest::Request;
    use crate::normalize::generic::tests::{kvs, normalize};
    use crate::normalize::{Agent, Normalized, Prices, RecordTally, Signal};
    use crate::proto::store::{Cost, Counts, Event, Session, Turn};
    use crate::session::Commit;
    use crate::session::{NoBacking, Tracker};
    use crate::testkit::fixtures::{bodies, decode, dir, replay};

    const AGENT_DIR: &str = "claude-code-2.1.328";
    const MODEL: &str = "claude-opus-5-5";
    /// The fake model answers every request with the same usage and cost.
    const UNIT: Tokens = Tokens {
        input: 1234,
        output: 42,
        cache_read: 8192,
        cache_write: 2048,
    };
    const UNIT_COST: f64 = 0.0176544;

    /// What a recorded scenario must come to (counts re-derived from the fixture logs).
    struct Expected {
        scenario: &'static str,
        session: &'static str,
        state: &'static str,
        turns: u64,
        api_requests: u64,
        api_errors: u64,
        tool_calls: u64,
    }

    const fn x(
        scenario: &'static str,
        session: &'static str,
        state: &'static str,
        [turns, api_requests, api_errors, tool_calls]: [u64; 4],
    ) -> Expected {
        Expected {
            scenario,
            session,
            state,
            turns,
            api_requests,
            api_errors,
            tool_calls,
        }
    }

    const SCENARIOS: &[Expected] = &[
        x(
            "plain",
            "4a045fab-e5d6-4673-9064-fd2b96552500",
            "idle",
            [1, 1, 0, 0],
        ),
        x(
            "bash",
            "4c7e6ebb-e1ae-4272-b706-a5afee6dd121",
            "idle",
            [1, 2, 0, 1],
        ),
        x(
            "bash_content",
            "3c042eed-5913-4930-9db2-def9fe3cc5fa",
            "idle",
            [1, 2, 0, 1],
        ),
        x(
            "httphooks",
            "cbe227c1-b892-4a0c-aa24-81556f5dd89a",
            "idle",
            [1, 2, 0, 1],
        ),
        x(
            "write",
            "91ff3f84-2914-4824-8929-0752ac027f5d",
            "idle",
            [1, 2, 0, 1],
        ),
        x(
            "denied",
            "cb477963-4b6f-40e1-8e01-103aaeb9e9b5",
            "idle",
            [1, 2, 0, 0],
        ),
        x(
            "subagent",
            "431ddb91-2267-486d-a3a8-303ce011a72e",
            "idle",
            [2, 5, 0, 2],
        ),
        x(
            "resume",
            "11111111-2222-4333-8444-555555555555",
            "idle",
            [2, 2, 0, 0],
        ),
        x(
            "error400",
            "d4d2a449-09e0-4742-a8e0-7540c0e348c8",
            "errored",
            [1, 0, 1, 0],
        ),
        x(
            "error429",
            "683593ba-e511-4c66-894f-d50f1fd31485",
            "errored",
            [1, 0, 1, 0],
        ),
        x(
            "error500",
            "30e3f5a7-0b69-4e28-9b38-fe7a68107a02",
            "errored",
            [1, 0, 1, 0],
        ),
        x(
            "error529",
            "6236953d-9401-445f-8f6a-bc2a13b673a0",
            "errored",
            [1, 0, 1, 0],
        ),
        x(
            "sigterm_stream",
            "b9c4659f-b8ab-4a5c-ac15-73b462554149",
            "active",
            [1, 0, 0, 0],
        ),
        x(
            "sigterm_tool",
            "cc61559b-11b4-44f2-bee6-7fc4c95e9cca",
            "active",
            [1, 1, 0, 0],
        ),
    ];

    fn replay_one(scenario: &str) -> (Session, Commit) {
        let (mut sessions, commit) = replay(&dir(AGENT_DIR, scenario));
        assert_eq!(sessions.len(), 1, "{scenario}: one session: {sessions:?}");
        (sessions.remove(0), commit)
    }

    fn of_kind(commit: &Commit, kind: EventKind) -> Vec<&Event> {
        commit
            .events
            .iter()
            .filter(|e| e.kind == kind.as_str())
            .collect()
    }

    /// The last committed version of each turn, in session order.
    fn turns(commit: &Commit) -> Vec<Turn> {
        let mut last: Vec<Turn> = Vec::new();
        for t in &commit.turns {
            match last.iter_mut().find(|l| l.id == t.id) {
                Some(l) => *l = t.clone(),
                None => last.push(t.clone()),
            }
        }
        last.sort_by_key(|t| t.index);
        last
    }

    #[test]
    fn every_recorded_scenario_has_an_expectation() {
        let root = dir(AGENT_DIR, "");
        let mut found: Vec<String> = std::fs::read_dir(&root)
            .expect("fixture dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let mut expected: Vec<&str> = SCENARIOS.iter().map(|s| s.scenario).collect();
        expected.sort();
        assert_eq!(found, expected);
    }

    #[test]
    fn every_recorded_scenario_gives_its_session_counts_tokens_and_cost() {
        for x in SCENARIOS {
            let (s, commit) = replay_one(x.scenario);
            let name = x.scenario;
            assert_eq!(s.id, format!("claude_code:{}", x.session), "{name}");
            assert_eq!(s.state, x.state, "{name}");
            assert_eq!(s.service_version, "2.1.328", "{name}");
            let want = Counts {
                turns: x.turns,
                tool_calls: x.tool_calls,
                tool_errors: 0,
                api_requests: x.api_requests,
                api_errors: x.api_errors,
            };
            assert_eq!(s.counts, Some(want), "{name}");
            let n = x.api_requests;
            let tokens = Tokens {
                input: UNIT.input * n,
                output: UNIT.output * n,
                cache_read: UNIT.cache_read * n,
                cache_write: UNIT.cache_write * n,
            };
            assert_eq!(s.tokens, Some(tokens), "{name}");
            let cost = s.cost.unwrap_or_default();
            assert!(
                (cost.known_usd - UNIT_COST * n as f64).abs() < 1e-9,
                "{name}: {cost:?}"
            );
            assert_eq!(
                (cost.unknown_requests, cost.estimated_requests),
                (0, 0),
                "{name}: reported, not estimated"
            );
            let models: &[&str] = if n + x.api_errors > 0 { &[MODEL] } else { &[] };
            assert_eq!(s.models, models, "{name}");

            // Each fact is stored once, whatever signals repeated it.
            assert_eq!(
                of_kind(&commit, EventKind::ApiRequest).len() as u64,
                n,
                "{name}"
            );
            assert_eq!(
                of_kind(&commit, EventKind::ApiError).len() as u64,
                x.api_errors,
                "{name}"
            );
            assert_eq!(
                of_kind(&commit, EventKind::ToolFinished).len() as u64,
                x.tool_calls,
                "{name}"
            );
            assert_eq!(
                of_kind(&commit, EventKind::Prompt).len() as u64,
                x.turns,
                "{name}"
            );
            assert!(
                commit
                    .events
                    .iter()
                    .filter(|e| e.kind != "state_changed")
                    .all(|e| e.source == "otlp_logs"
                        || e.name == INTERACTION
                        || e.name == SESSION_COUNT),
                "{name}: only the interaction span and the session count add to the logs"
            );
        }
    }

    #[test]
    fn turns_end_as_the_recorded_runs_did() {
        let status = |scenario: &str| -> Vec<String> {
            let (_, commit) = replay_one(scenario);
            turns(&commit).into_iter().map(|t| t.status).collect()
        };
        assert_eq!(status("plain"), ["finished"]);
        assert_eq!(status("bash"), ["finished"]);
        assert_eq!(status("denied"), ["finished"]);
        assert_eq!(status("subagent"), ["finished", "finished"]);
        assert_eq!(status("resume"), ["finished", "finished"]);
        assert_eq!(status("error400"), ["failed"]);
        assert_eq!(status("error529"), ["failed"]);
        // Killed runs leave no terminal evidence: the turn stays open for the stall timer.
        assert_eq!(status("sigterm_stream"), ["open"]);
        assert_eq!(status("sigterm_tool"), ["open"]);
    }

    #[test]
    fn a_failed_request_chain_fails_the_turn_once_from_the_logs() {
        for scenario in ["error400", "error429", "error500", "error529"] {
            let (s, commit) = replay_one(scenario);
            let from_logs: Vec<&Event> = of_kind(&commit, EventKind::TurnFailed)
                .into_iter()
                .filter(|e| e.source == "otlp_logs")
                .collect();
            // api_error and api_retries_exhausted report the same failure.
            assert_eq!(from_logs.len(), 1, "{scenario}: {from_logs:?}");
            assert!(!from_logs[0].error.is_empty(), "{scenario}");
            let error = &of_kind(&commit, EventKind::ApiError)[0];
            assert_eq!(error.model, MODEL, "{scenario}");
            assert_eq!(error.turn_id, s.current_turn, "{scenario}");
        }
        let (_, commit) = replay_one("error429");
        assert_eq!(
            of_kind(&commit, EventKind::ApiError)[0].status_code,
            Some(429)
        );
        // 529 has no status code and no request id on either record.
        let (_, commit) = replay_one("error529");
        assert_eq!(of_kind(&commit, EventKind::ApiError)[0].status_code, None);
        assert_eq!(
            of_kind(&commit, EventKind::ApiError)[0].error,
            "Repeated 529 Overloaded errors"
        );
    }

    #[test]
    fn bash_is_one_turn_with_one_successful_bash_call() {
        let (s, commit) = replay_one("bash");
        let tools = of_kind(&commit, EventKind::ToolFinished);
        assert_eq!(tools.len(), 1);
        let bash = tools[0];
        assert_eq!(
            (
                bash.tool_name.as_str(),
                bash.tool_call_id.as_str(),
                bash.success,
                bash.duration_ms
            ),
            (
                "Bash",
                "toolu_fc203ad5a27e49a6a0ad7f89",
                Some(true),
                Some(43.0)
            )
        );
        assert_eq!(bash.turn_id, "b4ee6f3c-3d33-4fb5-80ba-8fcb7fef5384");
        assert_eq!(of_kind(&commit, EventKind::ToolDecision).len(), 1);
        let turn = &turns(&commit)[0];
        assert_eq!(
            turn.counts.as_ref().map(|c| (c.api_requests, c.tool_calls)),
            Some((2, 1))
        );
        assert_eq!(s.current_turn, turn.id);
        let facts: Vec<&str> = commit.facts.iter().map(|(_, k, _)| k.as_str()).collect();
        assert!(
            facts.contains(&"tool:toolu_fc203ad5a27e49a6a0ad7f89"),
            "{facts:?}"
        );
        assert!(
            facts.contains(&"api:req_cbe39c30130e4b58868560fb"),
            "{facts:?}"
        );
    }

    #[test]
    fn a_denied_tool_is_a_decision_not_a_tool_call() {
        let (s, commit) = replay_one("denied");
        assert_eq!(
            s.counts.as_ref().map(|c| (c.tool_calls, c.tool_errors)),
            Some((0, 0))
        );
        let decisions = of_kind(&commit, EventKind::ToolDecision);
        assert_eq!(decisions.len(), 1);
        assert_eq!(decisions[0].tool_name, "Bash");
        let decision = decisions[0]
            .attributes
            .iter()
            .find(|kv| kv.key == "decision");
        assert_eq!(
            decision.map(|kv| Attrs(std::slice::from_ref(kv)).str("decision")),
            Some(Some("reject"))
        );
        assert!(of_kind(&commit, EventKind::ToolFinished).is_empty());
    }

    #[test]
    fn sub_agent_work_counts_in_the_parent_session_and_turn() {
        let (s, commit) = replay_one("subagent");
        assert_eq!(s.id, "claude_code:431ddb91-2267-486d-a3a8-303ce011a72e");
        let t = turns(&commit);
        assert_eq!(t.len(), 2);
        // Turn 1: the main thread's 2 requests and Agent call plus the sub-agent's 2 requests and
        // Bash call, which arrive after the turn finished. Turn 2: the task notification's answer.
        let counts = |t: &Turn| t.counts.as_ref().map(|c| (c.api_requests, c.tool_calls));
        assert_eq!(counts(&t[0]), Some((4, 2)));
        assert_eq!(counts(&t[1]), Some((1, 0)));
        let sub = of_kind(&commit, EventKind::SubagentFinished);
        assert_eq!(sub.len(), 1);
        assert_eq!(
            (sub[0].turn_id.as_str(), sub[0].duration_ms),
            (t[0].id.as_str(), Some(682.0))
        );
        let mut tools: Vec<&str> = of_kind(&commit, EventKind::ToolFinished)
            .iter()
            .map(|e| e.tool_name.as_str())
            .collect();
        tools.sort();
        assert_eq!(tools, ["Agent", "Bash"]);
    }

    #[test]
    fn a_resumed_session_is_one_session_across_two_runs() {
        let (s, commit) = replay_one("resume");
        assert_eq!(s.id, "claude_code:11111111-2222-4333-8444-555555555555");
        let starts: Vec<Option<&str>> = of_kind(&commit, EventKind::SessionStarted)
            .iter()
            .map(|e| Attrs(&e.attributes).str("start_type"))
            .collect();
        assert_eq!(starts, [Some("fresh"), Some("resume")]);
        let t = turns(&commit);
        assert_eq!(t.len(), 2);
        assert_ne!(t[0].id, t[1].id);
        assert!(
            t.iter()
                .all(|t| t.counts.as_ref().map(|c| c.api_requests) == Some(1))
        );
    }

    /// Replays a scenario without its `hook_execution_*` logs: Claude with no Stop hook configured.
    fn replay_without_hooks(scenario: &str) -> Session {
        let prices = Prices::default();
        let mut tracker = Tracker::new(0);
        for (i, body) in bodies(&dir(AGENT_DIR, scenario)).iter().enumerate() {
            let mut out = Normalized::default();
            match decode(body) {
                Request::Logs(mut r) => {
                    for sl in r
                        .resource_logs
                        .iter_mut()
                        .flat_map(|rl| rl.scope_logs.iter_mut())
                    {
                        sl.log_records.retain(|r| {
                            !Attrs(&r.attributes)
                                .str("event.name")
                                .is_some_and(|n| n.starts_with("hook_execution"))
                        });
                    }
                    crate::agents::read_otlp(Request::Logs(r), &prices, &mut out);
                }
                Request::Traces(r) => {
                    crate::agents::read_otlp(Request::Traces(r), &prices, &mut out)
                }
                Request::Metrics(r) => {
                    crate::agents::read_otlp(Request::Metrics(r), &prices, &mut out)
                }
            }
            tracker
                .apply(out.events, 1_000 + i as i64, &NoBacking)
                .expect("apply");
        }
        let id = SCENARIOS
            .iter()
            .find(|x| x.scenario == scenario)
            .map(|x| x.session)
            .expect("known scenario");
        tracker
            .session(&format!("claude_code:{id}"))
            .cloned()
            .expect("session")
    }

    #[test]
    fn without_a_stop_hook_the_interaction_span_ends_turns_exported_after_their_logs() {
        for scenario in ["bash", "bash_content", "write", "denied", "subagent"] {
            let s = replay_without_hooks(scenario);
            assert_eq!(s.state, "idle", "{scenario}");
        }
        // These runs exported the span before the prompt it ends: without a Stop hook the turn
        // end comes too early to be placed, and the session waits for the stall timer.
        for scenario in ["plain", "httphooks", "resume"] {
            assert_eq!(replay_without_hooks(scenario).state, "active", "{scenario}");
        }
    }

    // Hand-built records, as OTLP/JSON: numbers arrive as strings, like Claude sends them.

    fn record(t: u64, name: &str, attrs: Value) -> Value {
        let mut attrs = attrs;
        attrs["event.name"] = json!(name);
        json!({
            "timeUnixNano": t.to_string(),
            "body": { "stringValue": format!("claude_code.{name}") },
            "attributes": kvs(&attrs),
        })
    }

    fn resource() -> Value {
        json!({ "attributes": kvs(&json!({ "service.name": "claude-code", "service.version": "2.1.328" })) })
    }

    fn logs_of(records: Vec<Value>) -> Normalized {
        normalize(
            Signal::Logs,
            json!({ "resourceLogs": [{ "resource": resource(), "scopeLogs": [{
                "scope": { "name": "com.anthropic.claude_code.events" }, "logRecords": records }] }] }),
        )
    }

    fn apply(out: Normalized) -> (Session, Commit) {
        let mut tracker = Tracker::new(0);
        let applied = tracker.apply(out.events, 1, &NoBacking).expect("apply");
        let s = tracker
            .session("claude_code:s1")
            .cloned()
            .expect("session s1");
        (s, applied.commit)
    }

    fn tally(out: &Normalized, signal: Signal) -> RecordTally {
        out.tally
            .get(&(Agent::ClaudeCode, signal))
            .copied()
            .unwrap_or_default()
    }

    const S: &str = "s1";
    const P: &str = "p1";

    #[test]
    fn numbers_and_booleans_sent_as_strings_are_read() {
        let out = logs_of(vec![
            record(
                1,
                "user_prompt",
                json!({ "session.id": S, "prompt.id": P, "prompt_length": "5" }),
            ),
            record(
                2,
                "api_request",
                json!({ "session.id": S, "prompt.id": P, "model": "claude-sonnet-4-5", "input_tokens": "10",
                        "output_tokens": "20", "cache_read_tokens": "300", "cache_creation_tokens": "4000",
                        "cost_usd": "0.25", "duration_ms": "1500", "request_id": "req_1" }),
            ),
            record(
                3,
                "tool_result",
                json!({ "session.id": S, "prompt.id": P, "tool_name": "Read", "tool_use_id": "toolu_1",
                        "success": "false", "duration_ms": "7", "error_type": "Error:ENOENT" }),
            ),
        ]);
        assert_eq!(
            tally(&out, Signal::Logs),
            RecordTally {
                records: 3,
                unattributed: 0,
                ignored: 0
            }
        );
        let (s, commit) = apply(out);
        assert_eq!(
            s.tokens,
            Some(Tokens {
                input: 10,
                output: 20,
                cache_read: 300,
                cache_write: 4000
            })
        );
        assert_eq!(
            s.cost,
            Some(Cost {
                known_usd: 0.25,
                unknown_requests: 0,
                estimated_requests: 0
            })
        );
        assert_eq!(
            s.counts
                .as_ref()
                .map(|c| (c.turns, c.tool_calls, c.tool_errors)),
            Some((1, 1, 1))
        );
        let tool = of_kind(&commit, EventKind::ToolFinished)[0];
        assert_eq!(
            (tool.success, tool.duration_ms, tool.error.as_str()),
            (Some(false), Some(7.0), "Error:ENOENT")
        );
        assert_eq!(
            tool.attributes.len(),
            8,
            "the record's own attributes move into the event"
        );
        let api = of_kind(&commit, EventKind::ApiRequest)[0];
        assert_eq!(
            (api.duration_ms, api.time_unix_nano, api.name.as_str()),
            (Some(1500.0), 2, "claude_code.api_request")
        );
    }

    #[test]
    fn records_without_a_session_are_unattributed_and_housekeeping_is_ignored() {
        let out = logs_of(vec![
            record(1, "user_prompt", json!({ "prompt.id": P })),
            record(
                2,
                "hook_registered",
                json!({ "session.id": S, "hook_event": "Stop" }),
            ),
            record(
                3,
                "plugin_loaded",
                json!({ "session.id": S, "plugin.name": "x" }),
            ),
            record(4, "managed_settings_resolved", json!({ "session.id": S })),
            record(
                5,
                "hook_execution_start",
                json!({ "session.id": S, "prompt.id": P, "hook_event": "PreToolUse" }),
            ),
            record(
                6,
                "internal_error",
                json!({ "session.id": S, "prompt.id": P, "error_name": "Error" }),
            ),
            record(7, "some_future_event", json!({ "session.id": S })),
        ]);
        assert_eq!(
            tally(&out, Signal::Logs),
            RecordTally {
                records: 7,
                unattributed: 1,
                ignored: 6
            }
        );
        assert!(out.events.is_empty(), "{:?}", out.events);
    }

    #[test]
    fn the_stop_hook_finishes_the_turn_unless_it_blocks() {
        let stop = |t: u64, blocking: &str| {
            record(
                t,
                "hook_execution_complete",
                json!({ "session.id": S, "prompt.id": P, "hook_event": "Stop", "num_blocking": blocking }),
            )
        };
        let out = logs_of(vec![
            record(1, "user_prompt", json!({ "session.id": S, "prompt.id": P })),
            stop(2, "1"),
        ]);
        assert_eq!(
            apply(out).0.state,
            "active",
            "a blocking Stop hook sends the agent back to work"
        );
        let out = logs_of(vec![
            record(1, "user_prompt", json!({ "session.id": S, "prompt.id": P })),
            stop(2, "1"),
            stop(3, "0"),
        ]);
        let (s, commit) = apply(out);
        assert_eq!(s.state, "idle");
        assert_eq!(of_kind(&commit, EventKind::TurnFinished)[0].turn_id, P);
    }

    #[test]
    fn only_main_thread_failures_fail_the_turn() {
        let error = |t: u64, extra: Value| {
            let mut attrs =
                json!({ "session.id": S, "prompt.id": P, "error": "boom", "status_code": "500" });
            for (k, v) in extra.as_object().expect("object") {
                attrs[k] = v.clone();
            }
            record(t, "api_error", attrs)
        };
        let out = logs_of(vec![
            record(1, "user_prompt", json!({ "session.id": S, "prompt.id": P })),
            error(
                2,
                json!({ "agent_id": "a1", "query_source": "agent:builtin:claude", "request_id": "r1" }),
            ),
            error(3, json!({ "query_source": "compact", "request_id": "r2" })),
        ]);
        let (s, commit) = apply(out);
        assert_eq!(s.state, "active");
        assert_eq!(s.counts.as_ref().map(|c| c.api_errors), Some(2));
        assert!(of_kind(&commit, EventKind::TurnFailed).is_empty());

        let out = logs_of(vec![
            record(1, "user_prompt", json!({ "session.id": S, "prompt.id": P })),
            error(
                2,
                json!({ "query_source": "repl_main_thread", "request_id": "r3" }),
            ),
        ]);
        let (s, commit) = apply(out);
        assert_eq!(s.state, "errored");
        let failed = of_kind(&commit, EventKind::TurnFailed);
        assert_eq!(
            (failed[0].status_code, failed[0].error.as_str()),
            (Some(500), "boom")
        );
    }

    #[test]
    fn a_request_without_a_reported_cost_is_priced_or_unknown() {
        let request = |t: u64, model: &str, id: &str| {
            record(
                t,
                "api_request",
                json!({ "session.id": S, "prompt.id": P, "model": model, "input_tokens": 1_000_000,
                        "output_tokens": 0, "request_id": id }),
            )
        };
        let out = logs_of(vec![
            request(1, "claude-sonnet-4-5-20250929", "r1"),
            request(2, "claude-next-9", "r2"),
        ]);
        let (s, _) = apply(out);
        assert_eq!(
            s.cost,
            Some(Cost {
                known_usd: 3.0,
                unknown_requests: 1,
                estimated_requests: 1
            })
        );
    }

    #[test]
    fn a_replayed_export_counts_once() {
        let records = || {
            vec![
                record(1, "user_prompt", json!({ "session.id": S, "prompt.id": P })),
                record(
                    2,
                    "api_request",
                    json!({ "session.id": S, "prompt.id": P, "cost_usd": 0.5, "request_id": "r1" }),
                ),
                record(
                    3,
                    "tool_result",
                    json!({ "session.id": S, "prompt.id": P, "tool_use_id": "t1", "success": "true" }),
                ),
            ]
        };
        let mut tracker = Tracker::new(0);
        for _ in 0..2 {
            tracker
                .apply(logs_of(records()).events, 1, &NoBacking)
                .expect("apply");
        }
        let s = tracker.session("claude_code:s1").expect("session");
        assert_eq!(
            s.counts
                .as_ref()
                .map(|c| (c.turns, c.api_requests, c.tool_calls)),
            Some((1, 1, 1))
        );
    }

    fn span(
        name: &str,
        trace: &str,
        id: &str,
        parent: &str,
        end: u64,
        attrs: Value,
        error: bool,
    ) -> Value {
        let mut attrs = attrs;
        attrs["session.id"] = json!(S);
        let mut s = json!({
            "traceId": trace, "spanId": id, "name": name, "kind": 1,
            "startTimeUnixNano": "1", "endTimeUnixNano": end.to_string(), "attributes": kvs(&attrs),
        });
        if !parent.is_empty() {
            s["parentSpanId"] = json!(parent);
        }
        if error {
            s["status"] = json!({ "code": 2, "message": "overloaded" });
        }
        s
    }

    fn spans_of(spans: Vec<Value>) -> Normalized {
        normalize(
            Signal::Traces,
            json!({ "resourceSpans": [{ "resource": resource(), "scopeSpans": [{
                "scope": { "name": "com.anthropic.claude_code.tracing" }, "spans": spans }] }] }),
        )
    }

    const T1: &str = "0102030405060708090a0b0c0d0e0f10";
    const T2: &str = "1102030405060708090a0b0c0d0e0f10";
    const ROOT: &str = "a1a2a3a4a5a6a7a8";

    fn llm(trace: &str, id: &str, end: u64, attrs: Value) -> Value {
        span(LLM_REQUEST, trace, id, ROOT, end, attrs, false)
    }

    fn interaction(trace: &str) -> Value {
        span(
            INTERACTION,
            trace,
            ROOT,
            "",
            100,
            json!({ "interaction.duration_ms": 99 }),
            false,
        )
    }

    #[test]
    fn the_interaction_span_ends_the_turn_by_its_last_main_thread_request() {
        let out = spans_of(vec![
            llm(
                T1,
                "b1b2b3b4b5b6b7b8",
                10,
                json!({ "success": true, "stop_reason": "tool_use" }),
            ),
            llm(
                T1,
                "c1c2c3c4c5c6c7c8",
                20,
                json!({ "success": true, "stop_reason": "end_turn" }),
            ),
            // A sub-agent's request may end later; it says nothing about the user's turn.
            llm(
                T1,
                "d1d2d3d4d5d6d7d8",
                30,
                json!({ "success": true, "stop_reason": "tool_use", "agent_id": "a" }),
            ),
            interaction(T1),
            // Another turn in the same export, killed while a tool ran: unknown, no event.
            llm(
                T2,
                "e1e2e3e4e5e6e7e8",
                10,
                json!({ "success": true, "stop_reason": "tool_use" }),
            ),
            interaction(T2),
        ]);
        assert_eq!(
            tally(&out, Signal::Traces),
            RecordTally {
                records: 6,
                unattributed: 0,
                ignored: 5
            }
        );
        assert_eq!(out.events.len(), 1);
        let e = &out.events[0];
        assert_eq!(e.kind(), Some(EventKind::TurnFinished));
        assert_eq!(
            (
                e.event.time_unix_nano,
                e.event.duration_ms,
                e.event.turn_id.as_str()
            ),
            (100, Some(99.0), "")
        );

        let out = spans_of(vec![
            span(
                LLM_REQUEST,
                T1,
                "b1b2b3b4b5b6b7b8",
                ROOT,
                10,
                json!({ "success": false, "status_code": 529 }),
                true,
            ),
            interaction(T1),
        ]);
        assert_eq!(out.events.len(), 1);
        let e = &out.events[0].event;
        assert_eq!(
            (e.kind.as_str(), e.error.as_str(), e.status_code),
            ("turn_failed", "overloaded", Some(529))
        );

        // Nothing exported with it: the turn end is unknown.
        assert!(spans_of(vec![interaction(T1)]).events.is_empty());
    }

    #[test]
    fn spans_repeating_the_logs_are_ignored_and_spans_without_a_session_unattributed() {
        let mut orphan = span(
            "claude_code.tool",
            T1,
            "b1b2b3b4b5b6b7b8",
            ROOT,
            10,
            json!({ "tool_use_id": "t1" }),
            false,
        );
        orphan["attributes"] = json!([]);
        let out = spans_of(vec![
            span(
                "claude_code.tool",
                T1,
                "c1c2c3c4c5c6c7c8",
                ROOT,
                10,
                json!({ "tool_use_id": "t2" }),
                false,
            ),
            span(
                "claude_code.tool.blocked_on_user",
                T1,
                "d1d2d3d4d5d6d7d8",
                "c1c2c3c4c5c6c7c8",
                5,
                json!({ "decision": "reject" }),
                false,
            ),
            llm(
                T1,
                "e1e2e3e4e5e6e7e8",
                10,
                json!({ "success": true, "input_tokens": 5 }),
            ),
            orphan,
        ]);
        assert_eq!(
            tally(&out, Signal::Traces),
            RecordTally {
                records: 4,
                unattributed: 1,
                ignored: 3
            }
        );
        assert!(out.events.is_empty());
    }

    #[test]
    fn the_session_count_metric_starts_a_run_and_the_rest_is_ignored() {
        let point = |attrs: Value, v: f64| json!({ "startTimeUnixNano": "5", "timeUnixNano": "9", "asDouble": v, "attributes": kvs(&attrs) });
        let sum = |name: &str, points: Vec<Value>| json!({ "name": name, "sum": { "aggregationTemporality": 1, "isMonotonic": true, "dataPoints": points } });
        let out = normalize(
            Signal::Metrics,
            json!({ "resourceMetrics": [{ "resource": resource(), "scopeMetrics": [{
                "scope": { "name": "com.anthropic.claude_code" },
                "metrics": [
                    sum(SESSION_COUNT, vec![point(json!({ "session.id": S, "start_type": "resume" }), 1.0)]),
                    sum("claude_code.cost.usage", vec![
                        point(json!({ "session.id": S, "model": MODEL }), 0.5),
                        point(json!({ "model": MODEL }), 0.5),
                    ]),
                ] }] }] }),
        );
        assert_eq!(
            tally(&out, Signal::Metrics),
            RecordTally {
                records: 3,
                unattributed: 1,
                ignored: 1
            }
        );
        assert_eq!(out.events.len(), 1);
        let e = &out.events[0];
        assert_eq!(
            (e.kind(), e.event.time_unix_nano),
            (Some(EventKind::SessionStarted), 5)
        );
        let (s, _) = apply(out);
        assert_eq!(
            s.counts.as_ref().map(|c| c.api_requests),
            Some(0),
            "cost metrics repeat api_request"
        );
    }
}
