//! Codex hooks and the `notify` program. Codex's hooks are Claude-shaped (`hook_event_name`,
//! `session_id`, `cwd`, …) plus `turn_id` on turn-scoped events. That turn id is Codex's own; its
//! OTLP logs know the turn only by trace id, so turns are [`TurnRef::Hook`].
//!
//! | hook | event |
//! |---|---|
//! | `SessionStart` | `SessionStarted`: reason = `source`, model = `model` |
//! | `UserPromptSubmit` | `Prompt` |
//! | `PreToolUse` | `ToolStarted`: tool, call id = `tool_use_id`; fact `tool_started:<id>` |
//! | `PermissionRequest` | `PermissionRequested`: tool |
//! | `PostToolUse` | `ToolFinished`, failed when `tool_response` shows a non-zero exit code or an error; fact `tool:<id>` |
//! | `Stop` | `TurnFinished` |
//! | `StopFailure` | `TurnFailed`, error = `error` |
//! | `Interrupt` | `TurnFinished`, reason `interrupted` (the user stopped the turn) |
//! | `SubagentStart` | `SubagentStarted` in the parent: tool = `agent_type`, call id = `agent_id` |
//! | `SubagentStop` | `SubagentFinished` in the parent, and `TurnFinished` of the child's turn in the child's session |
//! | `SessionEnd` | `SessionEnded`: reason = `reason` |
//! | `PreCompact`, `PostCompact`, anything else | `Heartbeat` |
//! | `notify` `agent-turn-complete` | `TurnFinished` in session `thread-id`, turn `turn-id` |
//! | `notify`, other `type`s | `Heartbeat` in session `thread-id` |
//!
//! **Sub-agents.** A sub-agent is a conversation of its own (its own `conversation.id` in the
//! OTLP logs). Its hooks carry the *parent's* `session_id` plus `agent_id`, the child's
//! conversation id: those events go to the child's session. `SubagentStart` / `SubagentStop`
//! carry the same two ids but are the parent's facts, and their `turn_id` is the *child's* turn:
//! in the parent they join the turn in progress instead. `SubagentStop` is the child's `Stop`
//! (no `Stop` hook fires for a sub-agent), hence the child's `TurnFinished`.
//!
//! **Tool results.** `tool_response` is what the model saw: for `Bash` just the output
//! (`"hello\n"`, no exit code), for `apply_patch` a text that starts with `Exit code: 0`, for the
//! multi-agent tools a JSON string. A call fails only on evidence: an `Exit code: N` /
//! `Process exited with code N` line, or an object (or JSON text) with a non-zero
//! `exit_code` / `exitCode`, `success: false`, `is_error: true` or an `error`.
//!
//! Session starts and ends carry no turn. Codex payloads carry no time: the receive time is used.

use serde_json::Value;

use super::{Hook, HookError, event, required, set_tool, str_field, string_field};
use crate::normalize::{Agent, EventKind, SessionEvent, TurnRef};

const WHAT: &str = "Codex hook";
const NOTIFY: &str = "Codex notify payload";

/// Every hook of Codex this adapter reads, with the kind it reads it as: all that
/// `observatory setup` installs (`HOOK_EVENTS` of `setup/codex.rs`), `PreCompact` and
/// `PostCompact` as activity only, and `notify`, the name the `notify` program's payloads get.
/// A hook not listed is a `Heartbeat` too. `refine` reads `notify` by its payload's `type`.
pub const EVENTS: &[(&str, EventKind)] = &[
    ("SessionStart", EventKind::SessionStarted),
    ("UserPromptSubmit", EventKind::Prompt),
    ("PreToolUse", EventKind::ToolStarted),
    ("PermissionRequest", EventKind::PermissionRequested),
    ("PostToolUse", EventKind::ToolFinished),
    ("Stop", EventKind::TurnFinished),
    ("Interrupt", EventKind::TurnFinished),
    ("StopFailure", EventKind::TurnFailed),
    ("SubagentStart", EventKind::SubagentStarted),
    ("SubagentStop", EventKind::SubagentFinished),
    ("SessionEnd", EventKind::SessionEnded),
    ("PreCompact", EventKind::Heartbeat),
    ("PostCompact", EventKind::Heartbeat),
    // Refined: only an `agent-turn-complete` ends the turn.
    ("notify", EventKind::TurnFinished),
];

/// The name a `notify` payload's event gets (the payload names none).
const NOTIFY_EVENT: &str = "notify";

/// What a hook named `name` is read as: its kind in [`EVENTS`], refined by its payload.
pub fn kind(name: &str, payload: &Value) -> EventKind {
    refine(name, super::listed_kind(EVENTS, name), payload)
}

/// The one name whose payload says more: Codex documents `agent-turn-complete` as the only
/// `type` of a `notify` payload; any other is activity.
fn refine(name: &str, listed: EventKind, payload: &Value) -> EventKind {
    match name {
        NOTIFY_EVENT if str_field(payload, "type") != Some("agent-turn-complete") => {
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
    if payload.get("hook_event_name").is_none() {
        if payload.get("type").is_some() {
            return notify(payload, out);
        }
        return Err(HookError(format!(
            "{WHAT}: \"hook_event_name\" is missing (and there is no \"type\" of a notify payload)"
        )));
    }
    let name = required(payload, "hook_event_name", WHAT)?;
    let parent = required(payload, "session_id", WHAT)?;
    let agent_id = str_field(payload, "agent_id");
    let is_subagent_event = matches!(name, "SubagentStart" | "SubagentStop");
    // A sub-agent's own hooks belong to the sub-agent's session.
    let session = match agent_id {
        Some(child) if !is_subagent_event => child,
        _ => parent,
    };
    let kind = kind(name, payload);
    let mut e = event(Agent::Codex, session, kind, name, payload);
    e.turn_ref = TurnRef::Hook;
    e.cwd = str_field(payload, "cwd").map(str::to_owned);
    // The sub-agent hooks' `turn_id` is the child's turn: in the parent they join the turn in
    // progress.
    if !matches!(kind, EventKind::SessionStarted | EventKind::SessionEnded) && !is_subagent_event {
        e.event.turn_id = string_field(payload, "turn_id");
    }
    read_fields(&mut e, kind, name, payload);
    let child_turn_end = match (kind, agent_id) {
        (EventKind::SubagentFinished, Some(child)) => Some(child_turn_end(&e, child, payload)),
        _ => None,
    };
    out.push(e);
    out.extend(child_turn_end);
    Ok(())
}

/// Fills in what a hook says besides its kind and turn: the tool call and its outcome, the
/// error, the sub-agent, the reason a session started or ended or a turn finished.
fn read_fields(e: &mut SessionEvent, kind: EventKind, name: &str, payload: &Value) {
    let tool_name = str_field(payload, "tool_name");
    let tool_use_id = str_field(payload, "tool_use_id");
    match kind {
        EventKind::SessionStarted => {
            e.event.reason = string_field(payload, "source");
            e.event.model = string_field(payload, "model");
        }
        EventKind::ToolStarted | EventKind::PermissionRequested => {
            set_tool(e, tool_name, tool_use_id);
        }
        EventKind::ToolFinished => {
            set_tool(e, tool_name, tool_use_id);
            let failure = payload.get("tool_response").and_then(failure);
            e.event.success = Some(failure.is_none());
            e.event.error = failure.unwrap_or_default();
        }
        EventKind::TurnFinished if name == "Interrupt" => {
            e.event.reason = "interrupted".to_owned();
        }
        EventKind::TurnFailed => {
            e.event.error = string_field(payload, "error");
        }
        EventKind::SubagentStarted | EventKind::SubagentFinished => {
            e.event.tool_name = string_field(payload, "agent_type");
            e.event.tool_call_id = string_field(payload, "agent_id");
        }
        EventKind::SessionEnded => {
            e.event.reason = string_field(payload, "reason");
        }
        _ => {}
    }
}

/// The child's `TurnFinished` that a `SubagentStop` also is (no `Stop` hook fires for a
/// sub-agent): in the child's session, of the child's turn (the hook's `turn_id`).
fn child_turn_end(stop: &SessionEvent, child: &str, payload: &Value) -> SessionEvent {
    let mut end = event(
        Agent::Codex,
        child,
        EventKind::TurnFinished,
        &stop.event.name,
        payload,
    );
    end.turn_ref = TurnRef::Hook;
    end.cwd.clone_from(&stop.cwd);
    end.event.turn_id = string_field(payload, "turn_id");
    end
}

/// The `notify` program's payload: `{"type": "agent-turn-complete", "thread-id", "turn-id",
/// "cwd", "input-messages", "last-assistant-message"}` (kebab-case keys).
fn notify(payload: &Value, out: &mut Vec<SessionEvent>) -> Result<(), HookError> {
    required(payload, "type", NOTIFY)?;
    let kind = kind(NOTIFY_EVENT, payload);
    let session = required(payload, "thread-id", NOTIFY)?;
    let mut e = event(Agent::Codex, session, kind, NOTIFY_EVENT, payload);
    e.turn_ref = TurnRef::Hook;
    e.cwd = str_field(payload, "cwd").map(str::to_owned);
    e.event.turn_id = string_field(payload, "turn-id");
    out.push(e);
    Ok(())
}

/// What a `tool_response` says went wrong, when it clearly says so.
fn failure(response: &Value) -> Option<String> {
    match response {
        Value::Object(map) => {
            let code = ["exit_code", "exitCode", "exit"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_i64));
            if let Some(code) = code.filter(|c| *c != 0) {
                return Some(format!("exit code {code}"));
            }
            let error = map.get("error").filter(|v| match v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                _ => true,
            });
            if let Some(error) = error {
                return Some(match error {
                    Value::String(s) => s.clone(),
                    Value::Object(o) => o
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("error")
                        .to_owned(),
                    _ => "error".to_owned(),
                });
            }
            let flagged = map.get("success") == Some(&Value::Bool(false))
                || ["is_error", "isError"]
                    .iter()
                    .any(|k| map.get(*k) == Some(&Value::Bool(true)));
            flagged.then(|| "failed".to_owned())
        }
        Value::String(text) => {
            let trimmed = text.trim_start();
            if trimmed.starts_with('{')
                && let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed)
            {
                return failure(&v);
            }
            exit_code_line(text)
                .filter(|c| *c != 0)
                .map(|c| format!("exit code {c}"))
        }
        _ => None,
    }
}

/// The exit code Codex writes at the head of a tool's output (`Exit code: 0`, or `Process exited
/// with code 0` for `exec_command`).
fn exit_code_line(text: &str) -> Option<i64> {
    text.lines().take(6).find_map(|line| {
        let line = line.trim();
        line.strip_prefix("Exit code:")
            .or_else(|| line.strip_prefix("Process exited with code"))
            .and_then(|rest| rest.trim().parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{
        attr_str, kinds, only, recorded, run, run_all, run_json, scenarios,
    };
    use super::*;

    const AGENT_DIR: &str = "codex-0.169.0";

    fn events(scenario: &str) -> Vec<(String, SessionEvent)> {
        run_all(Agent::Codex, AGENT_DIR, scenario, false)
    }

    #[test]
    fn every_recorded_payload_is_accepted() {
        let all = scenarios(AGENT_DIR);
        assert_eq!(all.len(), 7, "{all:?}");
        for scenario in all {
            for r in recorded(AGENT_DIR, &scenario) {
                let events = run(Agent::Codex, &r, false)
                    .unwrap_or_else(|e| panic!("{scenario}/{}: {e}", r.file));
                assert!(!events.is_empty(), "{scenario}/{}", r.file);
                for e in &events {
                    assert_eq!(e.turn_ref, TurnRef::Hook, "{}", r.file);
                    assert_eq!(e.event.source, "hook");
                    assert_eq!(e.event.time_unix_nano, r.received, "{}", r.file);
                    assert_eq!(e.cwd.as_deref(), r.payload["cwd"].as_str());
                    assert_ne!(e.kind(), Some(EventKind::Heartbeat), "{}", r.file);
                }
            }
        }
    }

    #[test]
    fn bash_is_a_turn_with_one_tool_call_ended_by_stop_and_notify() {
        let ev = events("bash");
        let ev = only(&ev);
        assert_eq!(
            kinds(ev.iter().copied()),
            [
                "session_started",
                "prompt",
                "tool_started",
                "tool_finished",
                "turn_finished",
                "turn_finished",
                "session_ended"
            ]
        );
        const SESSION: &str = "01a2016c-8c26-72b1-a9c3-3c4962f3b2ad";
        const TURN: &str = "01a2016c-8c48-7450-b37b-33458ab5520b";
        const CALL: &str = "call_a872d6439ab246a2bdaf3338";
        assert!(ev.iter().all(|e| e.native_id == SESSION));
        let turns: Vec<&str> = ev.iter().map(|e| e.event.turn_id.as_str()).collect();
        assert_eq!(turns, ["", TURN, TURN, TURN, TURN, TURN, ""]);
        assert_eq!(
            (ev[0].event.reason.as_str(), ev[0].event.model.as_str()),
            ("startup", "gpt-5.5")
        );
        assert_eq!(
            (
                ev[2].event.tool_name.as_str(),
                ev[2].event.tool_call_id.as_str(),
                ev[2].fact_key.as_deref()
            ),
            (
                "Bash",
                CALL,
                Some("tool_started:call_a872d6439ab246a2bdaf3338")
            )
        );
        assert_eq!(
            (
                ev[3].event.tool_name.as_str(),
                ev[3].event.tool_call_id.as_str(),
                ev[3].fact_key.as_deref(),
                ev[3].event.success
            ),
            (
                "Bash",
                CALL,
                Some("tool:call_a872d6439ab246a2bdaf3338"),
                Some(true)
            )
        );
        assert_eq!(ev[4].event.name, "Stop");
        assert_eq!(ev[5].event.name, "notify");
        assert_eq!(
            attr_str(ev[5], "last-assistant-message"),
            Some("The command printed: hello")
        );
        assert_eq!(ev[6].event.reason, "other");
    }

    #[test]
    fn write_reads_the_exit_code_of_apply_patch() {
        let ev = events("write");
        let finished = ev
            .iter()
            .map(|(_, e)| e)
            .find(|e| e.kind() == Some(EventKind::ToolFinished))
            .expect("tool_finished");
        assert_eq!(
            (
                finished.event.tool_name.as_str(),
                finished.event.success,
                finished.event.error.as_str()
            ),
            ("apply_patch", Some(true), "")
        );
    }

    #[test]
    fn failed_turns_have_no_stop_hook() {
        for scenario in ["error429", "error500"] {
            assert_eq!(
                kinds(only(&events(scenario))),
                ["session_started", "prompt", "session_ended"],
                "{scenario}"
            );
        }
        assert_eq!(
            kinds(only(&events("sigterm_stream"))),
            ["session_started", "prompt"]
        );
    }

    #[test]
    fn a_subagents_hooks_land_in_its_own_session() {
        const PARENT: &str = "01a2016c-b01e-7a11-8260-1ec50ceebb21";
        const CHILD: &str = "01a2016c-b0e7-7dc3-a62b-ab3b44f6252a";
        const PARENT_TURN: &str = "01a2016c-b03b-7b90-b437-165a70c88b03";
        const CHILD_TURN: &str = "01a2016c-b0f9-7003-a18d-3d7a8993f6bb";
        let ev = events("subagent");
        let rows: Vec<(&str, &str, &str, &str)> = ev
            .iter()
            .map(|(file, e)| {
                (
                    &file[..4],
                    e.event.kind.as_str(),
                    if e.native_id == PARENT {
                        "parent"
                    } else if e.native_id == CHILD {
                        "child"
                    } else {
                        e.native_id.as_str()
                    },
                    if e.event.turn_id == PARENT_TURN {
                        "parent turn"
                    } else if e.event.turn_id == CHILD_TURN {
                        "child turn"
                    } else {
                        e.event.turn_id.as_str()
                    },
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("0001", "session_started", "parent", ""),
                ("0002", "prompt", "parent", "parent turn"),
                ("0003", "tool_started", "parent", "parent turn"),
                ("0004", "tool_finished", "parent", "parent turn"),
                ("0006", "subagent_started", "parent", ""),
                ("0007", "tool_started", "parent", "parent turn"),
                ("0008", "prompt", "child", "child turn"),
                ("0009", "tool_started", "child", "child turn"),
                ("0010", "tool_finished", "child", "child turn"),
                ("0011", "subagent_finished", "parent", ""),
                ("0011", "turn_finished", "child", "child turn"),
                ("0012", "turn_finished", "child", "child turn"),
                ("0014", "tool_finished", "parent", "parent turn"),
                ("0016", "turn_finished", "parent", "parent turn"),
                ("0017", "turn_finished", "parent", "parent turn"),
                ("0018", "session_ended", "parent", ""),
            ]
        );
        for (_, e) in ev.iter().filter(|(_, e)| {
            matches!(
                e.kind(),
                Some(EventKind::SubagentStarted | EventKind::SubagentFinished)
            )
        }) {
            assert_eq!(
                (e.event.tool_name.as_str(), e.event.tool_call_id.as_str()),
                ("default", CHILD)
            );
        }
        let child_bash = &ev[8].1;
        assert_eq!(
            (
                child_bash.event.tool_name.as_str(),
                child_bash.fact_key.as_deref()
            ),
            ("Bash", Some("tool:call_cd095b8fc281414cbe59c696"))
        );
    }

    fn one(payload: Value) -> SessionEvent {
        let mut events = run_json(Agent::Codex, &payload, None).expect("accepted");
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    fn post_tool_use(response: Value) -> SessionEvent {
        one(json!({
            "session_id": "s1", "turn_id": "t1", "cwd": "/w", "hook_event_name": "PostToolUse",
            "tool_name": "Bash", "tool_input": {"command": "false"}, "tool_use_id": "call_1",
            "tool_response": response,
        }))
    }

    #[test]
    fn a_tool_fails_on_evidence_only() {
        for (response, success, error) in [
            (json!("hello\n"), true, ""),
            (
                json!("Exit code: 0\nWall time: 0 seconds\nOutput:\nok\n"),
                true,
                "",
            ),
            (
                json!("Exit code: 2\nWall time: 0 seconds\nOutput:\n"),
                false,
                "exit code 2",
            ),
            (
                json!("Chunk ID: 1\nWall time: 0.1 seconds\nProcess exited with code 1\nOutput:\n"),
                false,
                "exit code 1",
            ),
            (
                json!({"exit_code": 127, "stdout": ""}),
                false,
                "exit code 127",
            ),
            (json!({"exitCode": 0, "stdout": "x"}), true, ""),
            (json!("{\"exit_code\": 3}"), false, "exit code 3"),
            (json!({"error": "no such file"}), false, "no such file"),
            (json!({"error": null, "output": "x"}), true, ""),
            (json!({"success": false}), false, "failed"),
            (json!({"is_error": true}), false, "failed"),
            (
                json!("{\"agent_id\":\"a\",\"nickname\":\"Jason\"}"),
                true,
                "",
            ),
            (Value::Null, true, ""),
        ] {
            let e = post_tool_use(response.clone());
            assert_eq!(
                (e.event.success, e.event.error.as_str()),
                (Some(success), error),
                "{response}"
            );
            assert_eq!(e.fact_key.as_deref(), Some("tool:call_1"));
        }
    }

    #[test]
    fn documented_hooks_that_were_not_recorded() {
        let e = one(json!({
            "session_id": "s1", "turn_id": "t1", "hook_event_name": "StopFailure",
            "error": "rate_limit", "error_details": "429"
        }));
        assert_eq!(
            (
                e.kind(),
                e.event.error.as_str(),
                e.event.turn_id.as_str(),
                e.fact_key
            ),
            (Some(EventKind::TurnFailed), "rate_limit", "t1", None)
        );
        let e = one(json!({
            "session_id": "s1", "turn_id": "t1", "hook_event_name": "PermissionRequest",
            "tool_name": "Bash", "tool_input": {"command": "rm -rf x"}
        }));
        assert_eq!(
            (e.kind(), e.event.tool_name.as_str(), e.fact_key),
            (Some(EventKind::PermissionRequested), "Bash", None)
        );
        let e = one(json!({"session_id": "s1", "turn_id": "t1", "hook_event_name": "Interrupt"}));
        assert_eq!(
            (e.kind(), e.event.reason.as_str()),
            (Some(EventKind::TurnFinished), "interrupted")
        );
        for name in ["PreCompact", "PostCompact", "SomethingNew"] {
            let e = one(json!({"session_id": "s1", "hook_event_name": name, "big": {"a": 1}}));
            assert_eq!(e.kind(), Some(EventKind::Heartbeat), "{name}");
            assert_eq!(
                super::super::testing::attr_keys(&e),
                ["hook_event_name", "session_id"]
            );
        }
        let e = one(json!({"type": "approval-requested", "thread-id": "s1", "turn-id": "t1"}));
        assert_eq!(
            (e.kind(), e.native_id.as_str(), e.event.name.as_str()),
            (Some(EventKind::Heartbeat), "s1", "notify")
        );
    }

    #[test]
    fn malformed_payloads_are_rejected_with_the_field_named() {
        let err = |payload: Value| {
            run_json(Agent::Codex, &payload, None)
                .expect_err("rejected")
                .0
        };
        assert_eq!(
            err(json!({"session_id": "s1"})),
            "Codex hook: \"hook_event_name\" is missing (and there is no \"type\" of a notify payload)"
        );
        assert_eq!(
            err(json!({"hook_event_name": "Stop", "turn_id": "t1"})),
            "Codex hook: \"session_id\" is missing"
        );
        assert_eq!(
            err(json!({"hook_event_name": "Stop", "session_id": 1})),
            "Codex hook: \"session_id\" must be a non-empty string"
        );
        assert_eq!(
            err(json!({"hook_event_name": 5, "session_id": "s1"})),
            "Codex hook: \"hook_event_name\" must be a non-empty string"
        );
        assert_eq!(
            err(json!({"type": "agent-turn-complete", "turn-id": "t1"})),
            "Codex notify payload: \"thread-id\" is missing"
        );
        assert_eq!(
            err(json!({"type": 1, "thread-id": "s1"})),
            "Codex notify payload: \"type\" must be a non-empty string"
        );
        assert_eq!(
            crate::agents::read_hook(Agent::Codex, b"\"agent-turn-complete\"", &Hook::default())
                .expect_err("rejected")
                .0,
            "the hook payload must be a JSON object"
        );
    }

    /// A minimal payload of a hook or, for `notify`, of the notify program.
    fn minimal(name: &str) -> Value {
        if name == NOTIFY_EVENT {
            json!({"type": "agent-turn-complete", "thread-id": "s1", "turn-id": "t1"})
        } else {
            json!({"session_id": "s1", "turn_id": "t1", "hook_event_name": name})
        }
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
    fn every_hook_codex_was_recorded_sending_is_listed_once() {
        let listed = |name: &str| EVENTS.iter().filter(|(n, _)| *n == name).count();
        for &(name, _) in EVENTS {
            assert_eq!(listed(name), 1, "{name}");
        }
        for scenario in scenarios(AGENT_DIR) {
            for r in recorded(AGENT_DIR, &scenario) {
                for e in run(Agent::Codex, &r, false).expect("accepted") {
                    assert_eq!(listed(&e.event.name), 1, "{scenario}/{}", r.file);
                }
            }
        }
    }
}
