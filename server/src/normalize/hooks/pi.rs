//! Pi hooks. Pi has no hook configuration of its own and no OpenTelemetry: its extensions
//! subscribe to agent events (`pi.on("tool_execution_start", …)`). The extension that
//! `observatory setup pi` writes posts each event it sees here, so this module defines the
//! payload — there are no recorded ones:
//!
//! ```json
//! {"event": "tool_execution_start", "session_id": "<id>", "cwd": "/project",
//!  "timestamp": 1767225600000, "toolCallId": "call_1", "toolName": "bash", "args": {…}}
//! ```
//!
//! - `event`: Pi's event name (or `?event=` when the body has none);
//! - `session_id` (required): the session, e.g. the session file's id;
//! - `cwd`: the working directory; `timestamp`: epoch milliseconds (else the receive time);
//! - the rest: the Pi event's own fields, as Pi gives them (`toolCallId`, `toolName`, `isError`,
//!   `error`, `reason`, …).
//!
//! | `event` | event |
//! |---|---|
//! | `session_start` | `SessionStarted`: reason = `reason` |
//! | `agent_start` | `Prompt` (once per user prompt) |
//! | `agent_end` without an `error` | `TurnFinished` |
//! | `agent_end` with a non-empty `error` | `TurnFailed`: error = `error` (a string or `{message}`) |
//! | `tool_execution_start` | `ToolStarted`: tool = `toolName`, call id = `toolCallId`; fact `tool_started:<id>` |
//! | `tool_execution_end` | `ToolFinished`: success = not `isError`; fact `tool:<id>` |
//! | `session_shutdown` | `SessionEnded`, reason `shutdown` |
//! | `turn_start`, `turn_end`, anything else (`message_*`, `tool_call`, …) | `Heartbeat` |
//!
//! Pi names no turn: every event joins the turn in progress ([`TurnRef::Hook`], empty turn id).

use serde_json::Value;

use super::{
    Hook, HookError, event, f64_field, required, set_tool, str_field, string_field, time_nanos,
};
use crate::normalize::{Agent, EventKind, SessionEvent, TurnRef};

const WHAT: &str = "Pi hook";

/// Every Pi event this adapter reads, with the kind it reads it as: those the extension that
/// `observatory setup pi` writes forwards (`config/agents/pi-extension.ts`). Any other event is a
/// `Heartbeat` too. `refine` reads `agent_end` by its `error`.
pub const EVENTS: &[(&str, EventKind)] = &[
    ("session_start", EventKind::SessionStarted),
    ("agent_start", EventKind::Prompt),
    // Refined: a run that ended in an error failed the turn.
    ("agent_end", EventKind::TurnFinished),
    ("turn_start", EventKind::Heartbeat),
    ("turn_end", EventKind::Heartbeat),
    ("tool_execution_start", EventKind::ToolStarted),
    ("tool_execution_end", EventKind::ToolFinished),
    // Refined: an assistant message that ended in an error is no model answer (Pi says so on
    // `agent_end`; its SDK's own retries are out of sight either way).
    ("message_end", EventKind::ApiRequest),
    ("session_shutdown", EventKind::SessionEnded),
];

/// What an event named `name` is read as: its kind in [`EVENTS`], refined by its payload.
pub fn kind(name: &str, payload: &Value) -> EventKind {
    refine(name, super::listed_kind(EVENTS, name), payload)
}

/// The events whose payload says more: an `agent_end` with a non-empty `error` is the turn
/// failing; a `message_end` is a model answer unless it stopped on an error.
fn refine(name: &str, listed: EventKind, payload: &Value) -> EventKind {
    match name {
        "agent_end" if !error_text(payload).is_empty() => EventKind::TurnFailed,
        "message_end" if str_field(payload, "stopReason") == Some("error") => EventKind::Heartbeat,
        _ => listed,
    }
}

pub fn normalize(
    payload: &Value,
    hook: &Hook,
    out: &mut Vec<SessionEvent>,
) -> Result<(), HookError> {
    let name = event_name(payload, hook)?;
    let session = required(payload, "session_id", WHAT)?;
    let kind = kind(name, payload);
    let mut e = event(Agent::Pi, session, kind, name, payload);
    e.turn_ref = TurnRef::Hook;
    e.cwd = str_field(payload, "cwd").map(str::to_owned);
    e.event.time_unix_nano = time_nanos(payload.get("timestamp"));
    read_fields(&mut e, kind, payload);
    out.push(e);
    Ok(())
}

/// Fills in what an event says besides its kind: the tool call and its outcome, the error, the
/// reason a session started or ended.
fn read_fields(e: &mut SessionEvent, kind: EventKind, payload: &Value) {
    match kind {
        EventKind::SessionStarted => {
            e.event.reason = string_field(payload, "reason");
        }
        EventKind::ToolStarted | EventKind::ToolFinished => {
            set_tool(
                e,
                str_field(payload, "toolName"),
                str_field(payload, "toolCallId"),
            );
            if kind == EventKind::ToolFinished {
                let failed = payload.get("isError") == Some(&Value::Bool(true));
                e.event.success = Some(!failed);
                if failed {
                    e.event.error = error_text(payload);
                }
            }
        }
        EventKind::TurnFailed => e.event.error = error_text(payload),
        EventKind::SessionEnded => e.event.reason = "shutdown".to_owned(),
        EventKind::ApiRequest => read_usage(e, payload),
        _ => {}
    }
}

/// An assistant message's model, tokens (Pi's `input` leaves out what was read from the cache,
/// as ours does) and Pi's own price of it; a price of 0 is Pi not knowing the model: unknown.
fn read_usage(e: &mut SessionEvent, payload: &Value) {
    let usage = payload.get("usage").cloned().unwrap_or_default();
    let n = |k: &str| f64_field(&usage, k).map_or(0, |v| v.max(0.0) as u64);
    e.event.model = string_field(payload, "model");
    e.event.tokens = Some(crate::proto::store::Tokens {
        input: n("input"),
        output: n("output"),
        cache_read: n("cacheRead"),
        cache_write: n("cacheWrite"),
    });
    e.event.cost_usd = f64_field(&usage, "cost").filter(|c| c.is_finite() && *c > 0.0);
    e.fact_key = str_field(payload, "responseId").map(|id| format!("api:{id}"));
}

/// The event's name: the body's `event`, else `?event=`.
fn event_name<'a>(payload: &'a Value, hook: &Hook<'a>) -> Result<&'a str, HookError> {
    if payload.get("event").is_some() {
        return required(payload, "event", WHAT);
    }
    hook.event.filter(|e| !e.is_empty()).ok_or_else(|| {
        HookError(format!(
            "{WHAT}: \"event\" is missing (give Pi's event name in the body or as ?event=)"
        ))
    })
}

/// The payload's `error`, a string or `{message}`; empty when there is none.
fn error_text(payload: &Value) -> String {
    match payload.get("error") {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Object(_)) => str_field(v, "message").unwrap_or("error").to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{attr_keys, kinds, run_json};
    use super::*;

    fn run(payloads: &[Value]) -> Vec<SessionEvent> {
        payloads
            .iter()
            .flat_map(|p| run_json(Agent::Pi, p, None).unwrap_or_else(|e| panic!("{p}: {e}")))
            .collect()
    }

    fn pi(event: &str, extra: Value) -> Value {
        let mut v = json!({"event": event, "session_id": "pi-1", "cwd": "/p", "timestamp": 1_767_225_600_000_i64});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn a_session_with_a_tool_call() {
        let ev = run(&[
            pi("session_start", json!({"reason": "startup"})),
            pi("agent_start", json!({})),
            pi("turn_start", json!({"turnIndex": 0})),
            pi(
                "message_update",
                json!({"message": {"role": "assistant", "content": "x".repeat(1000)}}),
            ),
            pi(
                "tool_execution_start",
                json!({"toolCallId": "call_1", "toolName": "bash", "args": {"command": "ls"}}),
            ),
            pi(
                "tool_execution_end",
                json!({"toolCallId": "call_1", "toolName": "bash", "result": {}, "isError": false}),
            ),
            pi("turn_end", json!({"turnIndex": 0})),
            pi("agent_end", json!({"messages": []})),
            pi("session_shutdown", json!({})),
        ]);
        assert_eq!(
            kinds(&ev),
            [
                "session_started",
                "prompt",
                "heartbeat",
                "heartbeat",
                "tool_started",
                "tool_finished",
                "heartbeat",
                "turn_finished",
                "session_ended"
            ]
        );
        for e in &ev {
            assert_eq!(e.native_id, "pi-1");
            assert_eq!(e.agent, Agent::Pi);
            assert_eq!((e.turn_ref, e.event.turn_id.as_str()), (TurnRef::Hook, ""));
            assert_eq!(e.cwd.as_deref(), Some("/p"));
            assert_eq!(e.event.time_unix_nano, 1_767_225_600_000_000_000);
            assert_eq!(e.event.source, "hook");
        }
        assert_eq!(ev[0].event.reason, "startup");
        assert_eq!(
            attr_keys(&ev[3]),
            ["cwd", "event", "session_id", "timestamp"],
            "a heartbeat drops the message"
        );
        assert_eq!(
            (
                ev[4].event.tool_name.as_str(),
                ev[4].event.tool_call_id.as_str(),
                ev[4].fact_key.as_deref()
            ),
            ("bash", "call_1", Some("tool_started:call_1"))
        );
        assert_eq!(
            (ev[5].event.success, ev[5].fact_key.as_deref()),
            (Some(true), Some("tool:call_1"))
        );
        assert_eq!(ev[8].event.reason, "shutdown");
    }

    #[test]
    fn an_assistant_message_is_a_model_call_with_its_tokens_and_pi_s_price() {
        let usage = |cost: f64| json!({"input": 1000, "output": 40, "cacheRead": 200, "cacheWrite": 0, "cost": cost});
        let events = run(&[
            pi("agent_start", json!({})),
            pi(
                "message_end",
                json!({"model": "gpt-5.5", "responseId": "r1", "stopReason": "stop", "usage": usage(0.0123)}),
            ),
            pi(
                "message_end",
                json!({"model": "local", "stopReason": "toolUse", "usage": usage(0.0)}),
            ),
            pi(
                "message_end",
                json!({"model": "gpt-5.5", "stopReason": "error", "usage": usage(0.0)}),
            ),
        ]);
        let calls: Vec<_> = events
            .iter()
            .filter(|e| e.kind() == Some(EventKind::ApiRequest))
            .collect();
        assert_eq!(calls.len(), 2, "the errored message is no answer");
        let t = calls[0].event.tokens.expect("tokens");
        assert_eq!((t.input, t.output, t.cache_read), (1000, 40, 200));
        assert_eq!(
            (calls[0].event.model.as_str(), calls[0].event.cost_usd),
            ("gpt-5.5", Some(0.0123))
        );
        assert_eq!(calls[0].fact_key.as_deref(), Some("api:r1"));
        assert_eq!(
            calls[1].event.cost_usd, None,
            "Pi's 0 is a model it cannot price: unknown"
        );
    }

    #[test]
    fn failures() {
        let ev = run(&[
            pi(
                "tool_execution_end",
                json!({"toolCallId": "c2", "toolName": "read", "isError": true, "error": "ENOENT"}),
            ),
            pi("agent_end", json!({"error": "Overloaded"})),
            pi("agent_end", json!({"error": {"message": "rate limited"}})),
            pi("agent_end", json!({"error": ""})),
        ]);
        assert_eq!(
            kinds(&ev),
            [
                "tool_finished",
                "turn_failed",
                "turn_failed",
                "turn_finished"
            ]
        );
        assert_eq!(
            (ev[0].event.success, ev[0].event.error.as_str()),
            (Some(false), "ENOENT")
        );
        assert_eq!(ev[1].event.error, "Overloaded");
        assert_eq!(ev[2].event.error, "rate limited");
        assert_eq!(ev[1].fact_key, None);
    }

    #[test]
    fn the_event_name_may_come_as_a_query_parameter() {
        let e = run_json(
            Agent::Pi,
            &json!({"session_id": "pi-1"}),
            Some("session_shutdown"),
        )
        .expect("accepted");
        assert_eq!(kinds(&e), ["session_ended"]);
        // Without a timestamp: the receive time.
        assert_eq!(e[0].event.time_unix_nano, 1);
    }

    #[test]
    fn malformed_payloads_are_rejected_with_the_field_named() {
        let err = |payload: Value| run_json(Agent::Pi, &payload, None).expect_err("rejected").0;
        assert_eq!(
            err(json!({"session_id": "pi-1"})),
            "Pi hook: \"event\" is missing (give Pi's event name in the body or as ?event=)"
        );
        assert_eq!(
            err(json!({"event": "agent_start"})),
            "Pi hook: \"session_id\" is missing"
        );
        assert_eq!(
            err(json!({"event": "agent_start", "session_id": 12})),
            "Pi hook: \"session_id\" must be a non-empty string"
        );
        assert_eq!(
            err(json!({"event": true, "session_id": "pi-1"})),
            "Pi hook: \"event\" must be a non-empty string"
        );
    }

    #[test]
    fn every_listed_event_is_read_as_its_kind_and_others_as_heartbeats() {
        for &(name, kind) in EVENTS {
            let e = run(&[pi(name, json!({}))]);
            assert_eq!(kinds(&e), [kind.as_str()], "{name}");
            assert_eq!(e[0].event.name, name);
        }
        assert!(!EVENTS.iter().any(|(name, _)| *name == "message_update"));
        assert_eq!(
            kinds(&run(&[pi("message_update", json!({}))])),
            ["heartbeat"]
        );
    }

    #[test]
    fn every_event_our_extension_sends_is_listed_once() {
        let listed = |name: &str| EVENTS.iter().filter(|(n, _)| *n == name).count();
        for &(name, _) in EVENTS {
            assert_eq!(listed(name), 1, "{name}");
        }
        let extension = include_str!("../../../../config/agents/pi-extension.ts");
        let sent: Vec<&str> = extension
            .split("on(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(sent.contains(&"tool_execution_end"), "{sent:?}");
        for name in sent {
            assert_eq!(listed(name), 1, "the extension sends {name}");
        }
    }
}
