//! Gemini CLI hooks: snake_case payloads with `session_id`, `cwd`, `hook_event_name` and
//! `timestamp` (ISO 8601, the event's time). They name no turn and no tool call, so every event
//! joins the turn in progress ([`TurnRef::Hook`], empty turn id) and tool events have no fact key.
//!
//! | hook | event |
//! |---|---|
//! | `SessionStart` | `SessionStarted`: reason = `source` |
//! | `BeforeAgent` | `Prompt` |
//! | `BeforeTool` | `ToolStarted`: tool = `tool_name` |
//! | `AfterTool` | `ToolFinished`: failed when `tool_response.error` is set |
//! | `AfterAgent` | `TurnFinished` |
//! | `Notification` `ToolPermission` | `PermissionRequested`: tool from `details` when given |
//! | `SessionEnd` | `SessionEnded`: reason = `reason` |
//! | `BeforeModel`, `AfterModel`, `BeforeToolSelection`, `PreCompress`, other `Notification`s, anything else | `Heartbeat` |
//!
//! `BeforeModel` / `AfterModel` / `BeforeToolSelection` carry the whole model request (and
//! `AfterModel`, which fires once per streamed chunk, the response): as heartbeats they keep only
//! their small scalar fields. A sub-agent's model and tool calls fire the same hooks with the
//! parent's `session_id` and there is no sub-agent hook: they count in the parent's session.
//! A failed turn fires no `AfterAgent` (and no `SessionEnd`): the OTLP `api_error`s tell it.

use serde_json::Value;

use super::{Hook, HookError, event, required, rfc3339_nanos, str_at, str_field, string_field};
use crate::normalize::{Agent, EventKind, SessionEvent, TurnRef};

const WHAT: &str = "Gemini CLI hook";

/// Every hook of Gemini CLI this adapter reads, with the kind it reads it as: all that
/// `observatory setup` installs (`HOOK_EVENTS` of `setup/gemini_cli.rs`) and the others Gemini
/// has, which are activity only. A hook not listed is a `Heartbeat` too. `refine` reads
/// `Notification` by its `notification_type`.
pub const EVENTS: &[(&str, EventKind)] = &[
    ("SessionStart", EventKind::SessionStarted),
    ("BeforeAgent", EventKind::Prompt),
    ("BeforeTool", EventKind::ToolStarted),
    ("AfterTool", EventKind::ToolFinished),
    ("AfterAgent", EventKind::TurnFinished),
    // Refined: `ToolPermission` is the one type Gemini documents; any other is activity.
    ("Notification", EventKind::PermissionRequested),
    ("SessionEnd", EventKind::SessionEnded),
    ("BeforeModel", EventKind::Heartbeat),
    ("AfterModel", EventKind::Heartbeat),
    ("BeforeToolSelection", EventKind::Heartbeat),
    ("PreCompress", EventKind::Heartbeat),
];

/// What a hook named `name` is read as: its kind in [`EVENTS`], refined by its payload.
pub fn kind(name: &str, payload: &Value) -> EventKind {
    refine(name, super::listed_kind(EVENTS, name), payload)
}

/// The one hook whose payload says more: a `Notification` asks for a permission only when its
/// `notification_type` is `ToolPermission`.
fn refine(name: &str, listed: EventKind, payload: &Value) -> EventKind {
    match name {
        "Notification" if str_field(payload, "notification_type") != Some("ToolPermission") => {
            EventKind::Heartbeat
        }
        _ => listed,
    }
}

pub fn normalize(
    payload: &Value,
    _hook: &Hook,
    out: &mut Vec<SessionEvent>,
) -> Result<(), HookError> {
    let name = required(payload, "hook_event_name", WHAT)?;
    let session = required(payload, "session_id", WHAT)?;
    let kind = kind(name, payload);
    let mut e = event(Agent::GeminiCli, session, kind, name, payload);
    e.turn_ref = TurnRef::Hook;
    e.cwd = str_field(payload, "cwd").map(str::to_owned);
    e.event.time_unix_nano = str_field(payload, "timestamp")
        .and_then(rfc3339_nanos)
        .unwrap_or(0);
    read_fields(&mut e, kind, payload);
    out.push(e);
    Ok(())
}

/// Fills in what a hook says besides its kind: the tool and its outcome, the reason a session
/// started or ended.
fn read_fields(e: &mut SessionEvent, kind: EventKind, payload: &Value) {
    match kind {
        EventKind::SessionStarted => {
            e.event.reason = string_field(payload, "source");
        }
        EventKind::ToolStarted => {
            e.event.tool_name = string_field(payload, "tool_name");
        }
        EventKind::ToolFinished => {
            e.event.tool_name = string_field(payload, "tool_name");
            let error = payload
                .get("tool_response")
                .and_then(|r| r.get("error"))
                .filter(|v| !v.is_null());
            e.event.success = Some(error.is_none());
            if let Some(error) = error {
                e.event.error = match error {
                    Value::String(s) => s.clone(),
                    other => str_at(other, &["message"]).unwrap_or("error").to_owned(),
                };
            }
        }
        EventKind::PermissionRequested => {
            let details = payload.get("details").unwrap_or(&Value::Null);
            e.event.tool_name = ["tool_name", "toolName", "name"]
                .iter()
                .find_map(|k| str_field(details, k))
                .unwrap_or_default()
                .to_owned();
        }
        EventKind::SessionEnded => {
            e.event.reason = string_field(payload, "reason");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{
        attr_keys, facts, kinds, recorded, run, run_json, scenario_events, scenarios,
    };
    use super::*;

    const AGENT_DIR: &str = "gemini-cli-0.61.0";

    fn events(scenario: &str) -> Vec<SessionEvent> {
        scenario_events(Agent::GeminiCli, AGENT_DIR, scenario, false)
    }

    #[test]
    fn every_recorded_payload_gives_one_event_at_its_own_time() {
        let all = scenarios(AGENT_DIR);
        assert_eq!(all.len(), 8, "{all:?}");
        for scenario in all {
            for r in recorded(AGENT_DIR, &scenario) {
                let events = run(Agent::GeminiCli, &r, false)
                    .unwrap_or_else(|e| panic!("{scenario}/{}: {e}", r.file));
                assert_eq!(events.len(), 1, "{scenario}/{}", r.file);
                let e = &events[0];
                assert_eq!(e.native_id, r.payload["session_id"].as_str().expect("sid"));
                assert_eq!(e.event.name, r.event);
                assert_eq!((e.turn_ref, e.event.turn_id.as_str()), (TurnRef::Hook, ""));
                assert_eq!(e.fact_key, None);
                let stamped =
                    rfc3339_nanos(r.payload["timestamp"].as_str().expect("ts")).expect("timestamp");
                assert_eq!(e.event.time_unix_nano, stamped, "{}", r.file);
                // Stamped by Gemini just before the capture server got it.
                assert!((r.received - stamped).abs() < 2_000_000_000, "{}", r.file);
                if e.kind() == Some(EventKind::Heartbeat) {
                    assert!(
                        attr_keys(e)
                            .iter()
                            .all(|k| !k.starts_with("llm_") && *k != "tool_response"),
                        "{}",
                        r.file
                    );
                }
            }
        }
    }

    #[test]
    fn bash_runs_one_tool_in_one_turn() {
        let ev = events("bash");
        assert_eq!(
            facts(&ev),
            [
                "session_started",
                "prompt",
                "tool_started",
                "tool_finished",
                "turn_finished",
                "session_ended"
            ]
        );
        assert_eq!(ev.len(), 17);
        assert!(
            ev.iter()
                .all(|e| e.native_id == "c6abf453-0b45-44fb-a8d4-6cd1996fbe5d")
        );
        assert_eq!(ev[0].event.reason, "startup");
        assert_eq!(ev[0].event.time_unix_nano, 1_795_320_464_080_000_000);
        let tool = ev
            .iter()
            .find(|e| e.kind() == Some(EventKind::ToolFinished))
            .expect("tool");
        assert_eq!(
            (
                tool.event.tool_name.as_str(),
                tool.event.success,
                tool.event.tool_call_id.as_str()
            ),
            ("run_shell_command", Some(true), "")
        );
        let end = ev.last().expect("end");
        assert_eq!(end.event.reason, "exit");
        assert_eq!(end.cwd.as_deref(), Some("/srv/agent-runs/gemini-bash/proj"));
    }

    #[test]
    fn model_hooks_are_slim_heartbeats() {
        let ev = events("plain");
        let after_model = ev
            .iter()
            .find(|e| e.event.name == "AfterModel")
            .expect("AfterModel");
        assert_eq!(after_model.kind(), Some(EventKind::Heartbeat));
        assert_eq!(
            attr_keys(after_model),
            [
                "cwd",
                "hook_event_name",
                "session_id",
                "timestamp",
                "transcript_path"
            ]
        );
        assert_eq!(
            kinds(&ev),
            [
                "session_started",
                "prompt",
                "heartbeat",
                "heartbeat",
                "heartbeat",
                "heartbeat",
                "heartbeat",
                "heartbeat",
                "heartbeat",
                "heartbeat",
                "turn_finished",
                "session_ended"
            ]
        );
    }

    #[test]
    fn a_subagents_tools_count_in_the_parent_session() {
        let ev = events("subagent");
        assert_eq!(
            facts(&ev),
            [
                "session_started",
                "prompt",
                "tool_started",
                "tool_started",
                "tool_finished",
                "tool_finished",
                "turn_finished",
                "session_ended"
            ]
        );
        let tools: Vec<(&str, &str, Option<bool>)> = ev
            .iter()
            .filter(|e| {
                matches!(
                    e.kind(),
                    Some(EventKind::ToolStarted | EventKind::ToolFinished)
                )
            })
            .map(|e| {
                (
                    e.event.kind.as_str(),
                    e.event.tool_name.as_str(),
                    e.event.success,
                )
            })
            .collect();
        assert_eq!(
            tools,
            [
                ("tool_started", "invoke_agent", None),
                ("tool_started", "run_shell_command", None),
                ("tool_finished", "run_shell_command", Some(true)),
                ("tool_finished", "invoke_agent", Some(true)),
            ]
        );
    }

    #[test]
    fn failed_and_killed_runs_have_no_turn_end() {
        for scenario in ["error429", "error500"] {
            assert_eq!(
                facts(&events(scenario)),
                ["session_started", "prompt"],
                "{scenario}"
            );
        }
        assert_eq!(
            facts(&events("sigterm_stream_norelaunch")),
            ["session_started", "prompt", "session_ended"]
        );
    }

    fn one(payload: Value) -> SessionEvent {
        let mut events = run_json(Agent::GeminiCli, &payload, None).expect("accepted");
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    #[test]
    fn documented_hooks_that_were_not_recorded() {
        let e = one(json!({
            "session_id": "s1", "hook_event_name": "AfterTool", "timestamp": "2026-01-01T00:00:00Z",
            "tool_name": "run_shell_command",
            "tool_response": {"llmContent": "", "error": {"message": "exit 1", "type": "x"}}
        }));
        assert_eq!(
            (
                e.event.success,
                e.event.error.as_str(),
                e.event.time_unix_nano
            ),
            (Some(false), "exit 1", 1_767_225_600_000_000_000)
        );
        let e = one(json!({
            "session_id": "s1", "hook_event_name": "AfterTool",
            "tool_response": {"error": "denied"}
        }));
        assert_eq!(
            (e.event.success, e.event.error.as_str()),
            (Some(false), "denied")
        );
        // No timestamp: the receive time.
        assert_eq!(e.event.time_unix_nano, 1);
        let e = one(json!({
            "session_id": "s1", "hook_event_name": "Notification",
            "notification_type": "ToolPermission", "message": "Allow?",
            "details": {"tool_name": "run_shell_command"}
        }));
        assert_eq!(
            (e.kind(), e.event.tool_name.as_str()),
            (Some(EventKind::PermissionRequested), "run_shell_command")
        );
        let e = one(json!({
            "session_id": "s1", "hook_event_name": "Notification", "notification_type": "Other"
        }));
        assert_eq!(e.kind(), Some(EventKind::Heartbeat));
    }

    #[test]
    fn malformed_payloads_are_rejected_with_the_field_named() {
        let err = |payload: Value| {
            run_json(Agent::GeminiCli, &payload, None)
                .expect_err("rejected")
                .0
        };
        assert_eq!(
            err(json!({"hook_event_name": "BeforeAgent"})),
            "Gemini CLI hook: \"session_id\" is missing"
        );
        assert_eq!(
            err(json!({"hook_event_name": "BeforeAgent", "session_id": {"id": "s"}})),
            "Gemini CLI hook: \"session_id\" must be a non-empty string"
        );
        assert_eq!(
            err(json!({"session_id": "s1"})),
            "Gemini CLI hook: \"hook_event_name\" is missing"
        );
    }

    /// A minimal payload of a hook, as its common case (`Notification`: a permission prompt).
    fn minimal(name: &str) -> Value {
        let mut v = json!({"session_id": "s1", "hook_event_name": name});
        if name == "Notification" {
            v["notification_type"] = json!("ToolPermission");
        }
        v
    }

    #[test]
    fn every_listed_hook_is_read_as_its_kind_and_others_as_heartbeats() {
        for &(name, kind) in EVENTS {
            let e = one(minimal(name));
            assert_eq!((e.event.name.as_str(), e.kind()), (name, Some(kind)));
        }
        assert!(!EVENTS.iter().any(|(name, _)| *name == "NoSuchHook"));
        assert_eq!(
            one(minimal("NoSuchHook")).kind(),
            Some(EventKind::Heartbeat)
        );
    }

    #[test]
    fn every_hook_gemini_was_recorded_sending_is_listed_once() {
        let listed = |name: &str| EVENTS.iter().filter(|(n, _)| *n == name).count();
        for &(name, _) in EVENTS {
            assert_eq!(listed(name), 1, "{name}");
        }
        for scenario in scenarios(AGENT_DIR) {
            for r in recorded(AGENT_DIR, &scenario) {
                let name = r.payload["hook_event_name"].as_str().expect("name");
                assert_eq!(listed(name), 1, "{scenario}/{}", r.file);
            }
        }
    }
}
