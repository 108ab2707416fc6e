//! GitHub Copilot CLI hooks. Copilot has two payload dialects, chosen by how the hook's event is
//! spelled in its config:
//! - camelCase events (`sessionStart`, `preToolUse`, …) get camelCase fields (`sessionId`,
//!   `toolName`, `timestamp` in epoch ms) and **do not name themselves**: the event comes from
//!   `?event=` (`permissionRequest` alone says `hookName`, and `notification` says
//!   `hook_event_name: "Notification"`);
//! - PascalCase events ("VS Code compatible": `SessionStart`, `PreToolUse`, `Stop`, …) get
//!   snake_case fields (`hook_event_name`, `session_id`, `tool_name`, ISO `timestamp`).
//!
//! The event name is `hook_event_name`, else `hookName`, else `?event=`; names of both dialects
//! map onto the same events. Fields are read in either spelling.
//!
//! Turns. Turn-scoped payloads carry a W3C `traceparent` whose trace id is the OTel trace of the
//! turn's `invoke_agent` span — the turn id the OTLP adapter uses — so turns are
//! [`TurnRef::Shared`] with the hex trace id (empty when there is no `traceparent`).
//!
//! | hook | event |
//! |---|---|
//! | `sessionStart` / `SessionStart` | `SessionStarted`: reason = `source` |
//! | `userPromptSubmitted` / `UserPromptSubmit` | `Prompt` |
//! | `preToolUse` / `PreToolUse` | `ToolStarted`: tool = `toolName` (no call id in camelCase) |
//! | `permissionRequest` / `PermissionRequest` held for the phone (it came with a prompt key) | `PermissionRequested`: tool |
//! | `permissionRequest` / `PermissionRequest`, otherwise | `Heartbeat`: Copilot asks its hook before every call, dialog or not |
//! | `postToolUse` / `PostToolUse` | `ToolFinished`: success = `toolResult.resultType` is `success` (no result type: success) |
//! | `postToolUseFailure` / `PostToolUseFailure` | `ToolFinished`, failed, error = `error` |
//! | `agentStop` / `Stop` | `TurnFinished` |
//! | `subagentStart` / `subagentStop` | `SubagentStarted` / `SubagentFinished`: tool = `agentName` (else `agentType`), call id = `agentId` |
//! | `errorOccurred`, `recoverable: false` | `TurnFailed`: error = `error.message`, reason = `errorContext`; fact `turn_failed:<trace id>` |
//! | `errorOccurred`, otherwise | `ApiError`: error = `error.message`, reason = `errorContext` |
//! | `notification` `permission_prompt` | `PermissionRequested`: the dialog is on screen |
//! | `notification` `elicitation_dialog` | `InputRequested` |
//! | `sessionEnd` / `SessionEnd` | `SessionEnded`: reason = `reason`; reason `error` is preceded by `TurnFailed` (the failed turn has no hook of its own) |
//! | `preCompact`, `userPromptTransformed`, other notifications, anything else | `Heartbeat` |
//!
//! **Sub-agents.** A sub-agent's own hooks (marked by `parentAgentId`) say `sessionId` = the
//! sub-agent's `agentId`, but its spans carry the parent's `gen_ai.conversation.id` and the
//! parent turn's trace id: the sub-agent is part of the parent's session and turn. So its hooks go
//! to the parent's session (`parentAgentId`), and those that would end or start the parent's turn
//! or session are not taken as such: its prompt, `agentStop`, `sessionStart` and `sessionEnd`
//! are heartbeats, its unrecoverable error an `ApiError`. Its tool calls and permission requests
//! count in the parent (its `permissionRequest` already names the parent's session).
//!
//! Session starts and ends carry no turn.

use serde_json::Value;

use super::{
    Hook, HookError, event, push, required, set_tool, str_at, str_field, time_nanos,
    traceparent_trace_id,
};
use crate::normalize::{Agent, EventKind, SessionEvent, TurnRef};

const WHAT: &str = "Copilot CLI hook";

/// Every hook of Copilot CLI this adapter reads, with the kind it reads it as: all that
/// `observatory setup` installs (`HOOK_EVENTS` of `setup/copilot_cli.rs`, camelCase), the
/// PascalCase names that are more than the same name re-cased (`UserPromptSubmit`, `Stop`), and
/// `userPromptTransformed` as activity only. Names match ignoring case, so `PreToolUse` is
/// `preToolUse`. A hook not listed is a `Heartbeat` too. `refine` reads `errorOccurred` and
/// `notification` by their payload, and takes a sub-agent's own hooks for what they are in the
/// parent.
pub const EVENTS: &[(&str, EventKind)] = &[
    ("sessionStart", EventKind::SessionStarted),
    ("userPromptSubmitted", EventKind::Prompt),
    ("UserPromptSubmit", EventKind::Prompt),
    ("preToolUse", EventKind::ToolStarted),
    // Refined: a person is asked only when our hook holds it for the phone (it came with a
    // prompt key); Copilot asks this hook before every tool call, dialog or not.
    ("permissionRequest", EventKind::Heartbeat),
    ("postToolUse", EventKind::ToolFinished),
    ("postToolUseFailure", EventKind::ToolFinished),
    ("agentStop", EventKind::TurnFinished),
    ("Stop", EventKind::TurnFinished),
    ("subagentStart", EventKind::SubagentStarted),
    ("subagentStop", EventKind::SubagentFinished),
    // Refined: an error Copilot will not retry (`recoverable: false`) fails the turn.
    ("errorOccurred", EventKind::ApiError),
    // Refined: a permission prompt or a question to the user is more than activity.
    ("notification", EventKind::Heartbeat),
    ("sessionEnd", EventKind::SessionEnded),
    ("preCompact", EventKind::Heartbeat),
    ("userPromptTransformed", EventKind::Heartbeat),
];

/// What a hook named `name` (in either dialect) is read as: its kind in [`EVENTS`], refined by
/// its payload.
pub fn kind(name: &str, payload: &Value) -> EventKind {
    let listed = EVENTS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(EventKind::Heartbeat, |&(_, kind)| kind);
    refine(name, listed, payload)
}

/// The hooks whose payload says more than their name: an `errorOccurred` that is not
/// `recoverable` fails the turn; a `notification` is a permission prompt or a question to the
/// user by its type. A sub-agent's own hook is part of the parent's session and turn, so it
/// neither starts nor ends them: its prompt, stop, session start and end are activity, its
/// unrecoverable error an `ApiError`.
fn refine(name: &str, listed: EventKind, payload: &Value) -> EventKind {
    let kind = match name.to_ascii_lowercase().as_str() {
        "erroroccurred" if payload.get("recoverable") == Some(&Value::Bool(false)) => {
            EventKind::TurnFailed
        }
        "notification" => match field(payload, &["notification_type", "notificationType"]) {
            Some("permission_prompt") => EventKind::PermissionRequested,
            Some("elicitation_dialog") => EventKind::InputRequested,
            _ => listed,
        },
        _ => listed,
    };
    if !in_subagent(payload, kind) {
        return kind;
    }
    match kind {
        EventKind::Prompt
        | EventKind::TurnFinished
        | EventKind::SessionStarted
        | EventKind::SessionEnded => EventKind::Heartbeat,
        EventKind::TurnFailed => EventKind::ApiError,
        other => other,
    }
}

/// Whether a hook is a sub-agent's own (it names a `parentAgentId`), rather than the parent's
/// news of a sub-agent starting or stopping.
fn in_subagent(payload: &Value, kind: EventKind) -> bool {
    field(payload, &["parentAgentId", "parent_agent_id"]).is_some()
        && !matches!(
            kind,
            EventKind::SubagentStarted | EventKind::SubagentFinished
        )
}

/// The first of `keys` that holds a non-empty string: Copilot spells most fields two ways.
fn field<'a>(payload: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| str_field(payload, k))
}

pub fn normalize(
    payload: &Value,
    hook: &Hook,
    out: &mut Vec<SessionEvent>,
) -> Result<(), HookError> {
    let name = event_name(payload, hook)?;
    let mut kind = kind(name, payload);
    if name.eq_ignore_ascii_case("permissionRequest") && hook.prompt.is_some() {
        // Copilot CLI 1.0.102 asks this hook before every tool call, also the ones it then
        // runs without a dialog; its `permission_prompt` notification is the one that comes
        // with a dialog on screen. A request our hook holds for the phone is a person asked.
        kind = EventKind::PermissionRequested;
    }
    let session = session(payload, kind)?;
    let mut e = event(Agent::CopilotCli, session, kind, name, payload);
    e.turn_ref = TurnRef::Shared;
    e.cwd = str_field(payload, "cwd").map(str::to_owned);
    e.event.time_unix_nano = time_nanos(payload.get("timestamp"));
    // Lowercase, as the OTLP adapter writes trace ids.
    let trace = str_field(payload, "traceparent")
        .and_then(traceparent_trace_id)
        .map(str::to_ascii_lowercase);
    if !matches!(kind, EventKind::SessionStarted | EventKind::SessionEnded) {
        e.event.turn_id = trace.clone().unwrap_or_default();
    }
    read_fields(&mut e, kind, name, payload, trace.as_deref());
    if kind == EventKind::SessionEnded && e.event.reason == "error" {
        out.push(failed_turn(&e, payload, trace.as_deref()));
    }
    push(out, e);
    Ok(())
}

/// The session a hook belongs to: `sessionId` (`session_id` in the PascalCase dialect), except
/// that a sub-agent's own hooks, which name the sub-agent's `agentId` there, go to the parent's.
fn session(payload: &Value, kind: EventKind) -> Result<&str, HookError> {
    let key = if payload.get("sessionId").is_none() && payload.get("session_id").is_some() {
        "session_id"
    } else {
        "sessionId"
    };
    let session = required(payload, key, WHAT)?;
    let agent_id = field(payload, &["agentId", "agent_id"]);
    match field(payload, &["parentAgentId", "parent_agent_id"]) {
        Some(parent) if in_subagent(payload, kind) && agent_id == Some(session) => Ok(parent),
        _ => Ok(session),
    }
}

/// Fills in what a hook says besides its kind and turn: the tool call and its outcome, the
/// sub-agent, the error, the reason a session started or ended.
fn read_fields(
    e: &mut SessionEvent,
    kind: EventKind,
    name: &str,
    payload: &Value,
    trace: Option<&str>,
) {
    let tool_name = field(payload, &["toolName", "tool_name"]);
    let call_id = field(
        payload,
        &["toolCallId", "toolUseId", "tool_use_id", "tool_call_id"],
    );
    match kind {
        EventKind::SessionStarted => {
            e.event.reason = field(payload, &["source"]).unwrap_or_default().to_owned();
        }
        EventKind::ToolStarted | EventKind::PermissionRequested => {
            set_tool(e, tool_name, call_id);
        }
        EventKind::ToolFinished => {
            set_tool(e, tool_name, call_id);
            read_tool_outcome(e, name, payload);
        }
        EventKind::SubagentStarted | EventKind::SubagentFinished => {
            e.event.tool_name = field(
                payload,
                &["agentName", "agent_name", "agentType", "agent_type"],
            )
            .unwrap_or_default()
            .to_owned();
            e.event.tool_call_id = field(payload, &["agentId", "agent_id"])
                .unwrap_or_default()
                .to_owned();
        }
        EventKind::ApiError | EventKind::TurnFailed => {
            e.event.error = error_text(payload.get("error"));
            e.event.reason = field(payload, &["errorContext", "error_context"])
                .unwrap_or_default()
                .to_owned();
            if kind == EventKind::TurnFailed {
                e.fact_key = trace.map(|t| format!("turn_failed:{t}"));
            }
        }
        EventKind::SessionEnded => {
            e.event.reason = field(payload, &["reason"]).unwrap_or_default().to_owned();
        }
        _ => {}
    }
}

/// How a tool call ended: a `postToolUseFailure` failed with its `error`; a `postToolUse`
/// succeeded unless its result type says otherwise (`rejected`, `denied`, …).
fn read_tool_outcome(e: &mut SessionEvent, name: &str, payload: &Value) {
    if name.eq_ignore_ascii_case("postToolUseFailure") {
        e.event.success = Some(false);
        e.event.error = error_text(payload.get("error"));
        return;
    }
    let result_type = ["toolResult", "tool_result", "tool_response"]
        .iter()
        .find_map(|k| {
            let result = payload.get(*k)?;
            str_at(result, &["resultType"]).or_else(|| str_at(result, &["result_type"]))
        });
    let success = result_type.is_none_or(|t| t == "success");
    e.event.success = Some(success);
    if !success {
        e.event.error = result_type.unwrap_or_default().to_owned();
    }
}

/// The `TurnFailed` that comes before a session's end with reason `error`: Copilot ends a
/// session whose turn failed for good (retries exhausted) that way, with no hook of its own for
/// the failure.
fn failed_turn(end: &SessionEvent, payload: &Value, trace: Option<&str>) -> SessionEvent {
    let mut failed = event(
        Agent::CopilotCli,
        &end.native_id,
        EventKind::TurnFailed,
        &end.event.name,
        payload,
    );
    failed.event.time_unix_nano = end.event.time_unix_nano;
    failed.event.error = "the session ended with an error".to_owned();
    failed.event.turn_id = trace.unwrap_or_default().to_owned();
    failed.fact_key = trace.map(|t| format!("turn_failed:{t}"));
    failed
}

/// The hook's name: the payload's own (`hook_event_name`, `hookName`), else `?event=`.
fn event_name<'a>(payload: &'a Value, hook: &Hook<'a>) -> Result<&'a str, HookError> {
    for key in ["hook_event_name", "hookName"] {
        if payload.get(key).is_some() {
            return required(payload, key, WHAT);
        }
    }
    hook.event.filter(|e| !e.is_empty()).ok_or_else(|| {
        HookError(format!(
            "{WHAT}: the event name is missing: Copilot's camelCase payloads do not name \
             themselves, so post them to ?event=<hook name> (e.g. ?event=preToolUse)"
        ))
    })
}

/// An `error` that is a string or an `{message, name, stack}` object.
fn error_text(error: Option<&Value>) -> String {
    match error {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Object(_)) => str_at(v, &["message"])
            .or_else(|| str_at(v, &["name"]))
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{
        kinds, of_kind, recorded, run, run_held, run_json, scenario_events, scenarios,
    };
    use super::*;

    const AGENT_DIR: &str = "copilot-cli-1.0.102";

    fn events(scenario: &str) -> Vec<SessionEvent> {
        scenario_events(Agent::CopilotCli, AGENT_DIR, scenario, true)
    }

    #[test]
    fn every_recorded_payload_gives_its_events_at_its_own_time() {
        let all = scenarios(AGENT_DIR);
        assert_eq!(all.len(), 6, "{all:?}");
        for scenario in all {
            for r in recorded(AGENT_DIR, &scenario) {
                let events = run(Agent::CopilotCli, &r, true)
                    .unwrap_or_else(|e| panic!("{scenario}/{}: {e}", r.file));
                // one event each; a session ending in error also fails its turn
                let ends_in_error = r.payload["reason"] == "error";
                assert_eq!(
                    events.len(),
                    1 + usize::from(ends_in_error),
                    "{scenario}/{}",
                    r.file
                );
                let e = &events[events.len() - 1];
                assert_eq!(e.event.name, r.event, "{}", r.file);
                assert_eq!(e.turn_ref, TurnRef::Shared);
                let ms = r.payload["timestamp"].as_i64().expect("timestamp");
                assert_eq!(e.event.time_unix_nano, ms * 1_000_000, "{}", r.file);
                assert_eq!(e.cwd.as_deref(), r.payload["cwd"].as_str());
                // The turn is the traceparent's trace id.
                if !matches!(
                    e.kind(),
                    Some(EventKind::SessionStarted | EventKind::SessionEnded)
                ) {
                    let tp = r.payload["traceparent"].as_str().expect("traceparent");
                    assert_eq!(e.event.turn_id, tp[3..35], "{}", r.file);
                }
            }
        }
    }

    #[test]
    fn bash_asks_permission_for_its_tool() {
        let ev = events("bash");
        assert_eq!(
            kinds(&ev),
            [
                "session_started",
                "prompt",
                "tool_started",
                // Asked before the call (`copilot -p --allow-all-tools`): no dialog, no one asked.
                "heartbeat",
                "tool_finished",
                "turn_finished",
                "session_ended"
            ]
        );
        const TURN: &str = "fffd951d19ef42c7675ad9f579758a20";
        assert!(
            ev.iter()
                .all(|e| e.native_id == "2dfb2bc5-2735-4d6e-8b24-4947fed1d9c2")
        );
        let turns: Vec<&str> = ev.iter().map(|e| e.event.turn_id.as_str()).collect();
        assert_eq!(turns, ["", TURN, TURN, TURN, TURN, TURN, ""]);
        assert_eq!(ev[0].event.reason, "new");
        for e in [&ev[2], &ev[4]] {
            assert_eq!(
                (
                    e.event.tool_name.as_str(),
                    e.event.tool_call_id.as_str(),
                    e.fact_key.as_deref()
                ),
                ("bash", "", None)
            );
        }
        assert_eq!(ev[4].event.success, Some(true));
        assert_eq!(ev[6].event.reason, "complete");
    }

    #[test]
    fn recoverable_errors_are_api_errors_of_the_turn() {
        let ev = events("error529");
        assert_eq!(
            kinds(&ev),
            [
                "session_started",
                "prompt",
                "api_error",
                "api_error",
                "api_error",
                "api_error",
                "api_error",
                "api_error",
                "turn_failed",
                "session_ended"
            ]
        );
        for e in of_kind(&ev, EventKind::ApiError) {
            assert_eq!(
                (
                    e.event.error.as_str(),
                    e.event.reason.as_str(),
                    e.event.turn_id.as_str(),
                    e.fact_key.as_deref()
                ),
                (
                    "{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}",
                    "model_call",
                    "1a6222e583269791a922aafd8ea6e737",
                    None
                )
            );
        }
    }

    #[test]
    fn a_subagents_hooks_are_part_of_the_parent_session_and_turn() {
        const PARENT: &str = "82ead76e-bc40-41e2-85c6-13ecc40214b1";
        const TURN: &str = "6375a7dd60bc0039bb8c885b7378839d";
        let ev = events("subagent");
        let rows: Vec<(&str, &str, &str)> = ev
            .iter()
            .map(|e| {
                (
                    e.event.name.as_str(),
                    e.event.kind.as_str(),
                    e.event.tool_name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("sessionStart", "session_started", ""),
                ("userPromptSubmitted", "prompt", ""),
                ("preToolUse", "tool_started", "task"),
                ("subagentStart", "subagent_started", "general-purpose"),
                // The sub-agent's own prompt, tool call and stop.
                ("userPromptSubmitted", "heartbeat", ""),
                ("preToolUse", "tool_started", "bash"),
                // Asked before the call, no dialog followed (nor any key to hold it for).
                ("permissionRequest", "heartbeat", ""),
                ("postToolUse", "tool_finished", "bash"),
                ("agentStop", "heartbeat", ""),
                ("subagentStop", "subagent_finished", "general-purpose"),
                ("postToolUse", "tool_finished", "task"),
                ("agentStop", "turn_finished", ""),
                ("sessionEnd", "session_ended", ""),
            ]
        );
        assert!(ev.iter().all(|e| e.native_id == PARENT), "one session");
        assert!(
            ev[1..12].iter().all(|e| e.event.turn_id == TURN),
            "one turn"
        );
        for sub in [&ev[3], &ev[9]] {
            assert_eq!(
                sub.event.tool_call_id,
                "f39168af-5fef-4fe6-b9d0-303d2a62c097"
            );
        }
    }

    #[test]
    fn killed_and_plain_runs() {
        assert_eq!(
            kinds(&events("plain")),
            [
                "session_started",
                "prompt",
                "turn_finished",
                "session_ended"
            ]
        );
        assert_eq!(
            kinds(&events("sigterm_stream")),
            ["session_started", "prompt", "session_ended"]
        );
    }

    #[test]
    fn camel_case_payloads_need_the_event_name() {
        let r = &recorded(AGENT_DIR, "bash")[2];
        assert_eq!(r.event, "preToolUse");
        let err = run(Agent::CopilotCli, r, false).expect_err("rejected");
        assert_eq!(
            err.0,
            "Copilot CLI hook: the event name is missing: Copilot's camelCase payloads do not \
             name themselves, so post them to ?event=<hook name> (e.g. ?event=preToolUse)"
        );
        // permissionRequest names itself (and is only activity when nobody is asked).
        let r = &recorded(AGENT_DIR, "bash")[3];
        let events = run(Agent::CopilotCli, r, false).expect("accepted");
        assert_eq!(events[0].event.name, "permissionRequest");
        let held = run_held(Agent::CopilotCli, r, false).expect("accepted");
        assert_eq!(held[0].kind(), Some(EventKind::PermissionRequested));
    }

    fn one(payload: Value, event: Option<&str>) -> SessionEvent {
        let mut events = run_json(Agent::CopilotCli, &payload, event).expect("accepted");
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn documented_hooks_that_were_not_recorded() {
        let e = one(
            json!({"sessionId": "s1", "traceparent": TP, "recoverable": false,
                   "errorContext": "model_call", "error": {"message": "boom", "name": "Error"}}),
            Some("errorOccurred"),
        );
        assert_eq!(
            (e.kind(), e.event.error.as_str(), e.fact_key.as_deref()),
            (
                Some(EventKind::TurnFailed),
                "boom",
                Some("turn_failed:0af7651916cd43dd8448eb211c80319c")
            )
        );
        let e = one(
            json!({"sessionId": "s1", "traceparent": TP.to_uppercase()}),
            Some("agentStop"),
        );
        assert_eq!(e.event.turn_id, "0af7651916cd43dd8448eb211c80319c");
        let e = one(
            json!({"sessionId": "s1", "traceparent": "00-00000000000000000000000000000000-b7ad6b7169203331-01"}),
            Some("agentStop"),
        );
        assert_eq!(e.event.turn_id, "", "an all-zero trace id is no trace");
        let e = one(
            json!({"sessionId": "s1", "toolName": "bash", "error": "exit 1"}),
            Some("postToolUseFailure"),
        );
        assert_eq!(
            (
                e.kind(),
                e.event.success,
                e.event.error.as_str(),
                e.event.turn_id.as_str()
            ),
            (Some(EventKind::ToolFinished), Some(false), "exit 1", "")
        );
        let e = one(
            json!({"sessionId": "s1", "toolName": "bash",
                   "toolResult": {"resultType": "rejected", "textResultForLlm": "no"}}),
            Some("postToolUse"),
        );
        assert_eq!(
            (e.event.success, e.event.error.as_str()),
            (Some(false), "rejected")
        );
        for (kind, notification) in [
            (EventKind::PermissionRequested, "permission_prompt"),
            (EventKind::InputRequested, "elicitation_dialog"),
            (EventKind::Heartbeat, "agent_idle"),
        ] {
            let e = one(
                json!({"sessionId": "s1", "hook_event_name": "Notification",
                       "notification_type": notification, "message": "m"}),
                Some("notification"),
            );
            assert_eq!(e.kind(), Some(kind), "{notification}");
        }
        for event in ["preCompact", "userPromptTransformed", "somethingNew"] {
            assert_eq!(
                one(json!({"sessionId": "s1"}), Some(event)).kind(),
                Some(EventKind::Heartbeat)
            );
        }
    }

    #[test]
    fn the_pascal_case_dialect_maps_onto_the_same_events() {
        let base = |name: &str| {
            json!({"hook_event_name": name, "session_id": "s2", "cwd": "/w",
                   "timestamp": "2026-01-01T00:00:01Z", "traceparent": TP})
        };
        let rows: Vec<(&str, &str)> = [
            "SessionStart",
            "UserPromptSubmit",
            "PreToolUse",
            "PermissionRequest",
            "PostToolUse",
            "Stop",
            "SessionEnd",
            "PreCompact",
        ]
        .into_iter()
        .map(|name| {
            let e = one(base(name), None);
            assert_eq!(e.native_id, "s2");
            assert_eq!(e.event.time_unix_nano, 1_767_225_601_000_000_000);
            (
                name,
                EventKind::parse(&e.event.kind).expect("kind").as_str(),
            )
        })
        .collect();
        assert_eq!(
            rows,
            [
                ("SessionStart", "session_started"),
                ("UserPromptSubmit", "prompt"),
                ("PreToolUse", "tool_started"),
                ("PermissionRequest", "heartbeat"),
                ("PostToolUse", "tool_finished"),
                ("Stop", "turn_finished"),
                ("SessionEnd", "session_ended"),
                ("PreCompact", "heartbeat"),
            ]
        );
        let mut tool = base("PreToolUse");
        tool["tool_name"] = json!("Bash");
        tool["tool_use_id"] = json!("toolu_1");
        let e = one(tool, None);
        assert_eq!(
            (e.event.tool_name.as_str(), e.fact_key.as_deref()),
            ("Bash", Some("tool_started:toolu_1"))
        );
    }

    #[test]
    fn malformed_payloads_are_rejected_with_the_field_named() {
        let err = |payload: Value, event: Option<&str>| {
            run_json(Agent::CopilotCli, &payload, event)
                .expect_err("rejected")
                .0
        };
        assert_eq!(
            err(json!({"timestamp": 1}), Some("agentStop")),
            "Copilot CLI hook: \"sessionId\" is missing"
        );
        assert_eq!(
            err(json!({"sessionId": ""}), Some("agentStop")),
            "Copilot CLI hook: \"sessionId\" must be a non-empty string"
        );
        assert_eq!(
            err(json!({"hook_event_name": "Stop", "session_id": 3}), None),
            "Copilot CLI hook: \"session_id\" must be a non-empty string"
        );
        assert_eq!(
            err(json!({"hookName": 3, "sessionId": "s"}), None),
            "Copilot CLI hook: \"hookName\" must be a non-empty string"
        );
        assert!(
            err(json!({"sessionId": "s"}), None).contains("?event="),
            "names the fix"
        );
    }

    #[test]
    fn every_listed_hook_is_read_as_its_kind_in_any_case_and_others_as_heartbeats() {
        for &(name, kind) in EVENTS {
            let pascal = name[..1].to_uppercase() + &name[1..];
            for spelled in [name.to_owned(), name.to_ascii_lowercase(), pascal] {
                let e = one(json!({"sessionId": "s1"}), Some(&spelled));
                assert_eq!(
                    (e.event.name.as_str(), e.kind()),
                    (spelled.as_str(), Some(kind))
                );
            }
        }
        assert!(!EVENTS.iter().any(|(name, _)| *name == "noSuchHook"));
        assert_eq!(
            one(json!({"sessionId": "s1"}), Some("noSuchHook")).kind(),
            Some(EventKind::Heartbeat)
        );
    }

    #[test]
    fn every_hook_copilot_was_recorded_sending_is_listed_once() {
        let listed = |name: &str| {
            EVENTS
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .count()
        };
        for &(name, _) in EVENTS {
            assert_eq!(listed(name), 1, "{name}");
        }
        for scenario in scenarios(AGENT_DIR) {
            for r in recorded(AGENT_DIR, &scenario) {
                assert_eq!(listed(&r.event), 1, "{scenario}/{}", r.file);
            }
        }
    }
}
