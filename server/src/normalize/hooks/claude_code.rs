//! Claude Code hooks: the JSON Claude writes to a `command` hook's stdin, or POSTs itself with a
//! `type: "http"` hook (the same payload; Claude runs no http hook for `SessionStart`). Every
//! payload names itself (`hook_event_name`) and its session (`session_id`), and most carry the
//! turn: `prompt_id`, the same id as the OTLP logs' `prompt.id`, so turns are
//! [`TurnRef::Shared`].
//!
//! | hook | event |
//! |---|---|
//! | `SessionStart` | `SessionStarted`: reason = `source` (startup, resume, …), model = `model` |
//! | `UserPromptSubmit` | `Prompt` |
//! | `PreToolUse` | `ToolStarted`: tool, call id = `tool_use_id`; fact `tool_started:<id>` |
//! | `PermissionRequest` | `PermissionRequested`: tool (Claude gives no call id here) |
//! | `PostToolUse` | `ToolFinished`, success, `duration_ms`; fact `tool:<id>` |
//! | `PostToolUseFailure` | `ToolFinished`, failed, error = `error`, `duration_ms`; fact `tool:<id>` |
//! | `PermissionDenied` | `ToolDecision`, success false, reason `denied` |
//! | `Notification` `permission_prompt` | `PermissionRequested` |
//! | `Notification` `elicitation_dialog`, `elicitation_url_dialog`, `agent_needs_input` | `InputRequested` |
//! | `Elicitation` | `InputRequested` |
//! | `Stop` | `TurnFinished` |
//! | `StopFailure` | `TurnFailed`, error = `error`; fact `turn_failed:<prompt_id>` |
//! | `SubagentStart` / `SubagentStop` | `SubagentStarted` / `SubagentFinished`: tool = `agent_type`, call id = `agent_id` |
//! | `SessionEnd` | `SessionEnded`: reason = `reason` |
//! | the other hooks of [`EVENTS`] (`MessageDisplay`, `PostToolBatch`, `PreCompact`, …), other `Notification`s, anything else | `Heartbeat` |
//!
//! Session starts and ends carry no turn (`SessionEnd` names the last prompt, which has nothing
//! to do with the session ending). A sub-agent's hooks carry the parent's `session_id` and
//! `prompt_id` plus its own `agent_id`: they stay in the parent's session and turn, as its OTLP
//! records do. A `StopFailure` that carries an `agent_id` is a sub-agent's failure, which does not
//! end the user's turn: it is an `ApiError`, not a `TurnFailed`.

use serde_json::Value;

use super::{Hook, HookError, event, f64_field, push, required, set_tool, str_field, string_field};
use crate::normalize::{Agent, EventKind, SessionEvent, TurnRef};

const WHAT: &str = "Claude Code hook";

/// Every hook of Claude Code this adapter reads, with the kind it reads it as: all that
/// `observatory setup` installs (`HOOK_EVENTS` of `setup/claude_code.rs`), and the others Claude
/// documents or was recorded sending, which are activity only. A hook not listed is a
/// `Heartbeat` too. `refine` reads two of them by their payload: `Notification` by its
/// `notification_type`, and a sub-agent's `StopFailure`.
pub const EVENTS: &[(&str, EventKind)] = &[
    ("SessionStart", EventKind::SessionStarted),
    ("UserPromptSubmit", EventKind::Prompt),
    ("PreToolUse", EventKind::ToolStarted),
    ("PermissionRequest", EventKind::PermissionRequested),
    ("PostToolUse", EventKind::ToolFinished),
    ("PostToolUseFailure", EventKind::ToolFinished),
    ("PermissionDenied", EventKind::ToolDecision),
    // Refined: a permission prompt or a question to the user is more than activity.
    ("Notification", EventKind::Heartbeat),
    ("Elicitation", EventKind::InputRequested),
    ("Stop", EventKind::TurnFinished),
    // Refined: a sub-agent's failure does not end the user's turn.
    ("StopFailure", EventKind::TurnFailed),
    ("SubagentStart", EventKind::SubagentStarted),
    ("SubagentStop", EventKind::SubagentFinished),
    ("SessionEnd", EventKind::SessionEnded),
    ("PreCompact", EventKind::Heartbeat),
    ("PostCompact", EventKind::Heartbeat),
    ("ElicitationResult", EventKind::Heartbeat),
    ("MessageDisplay", EventKind::Heartbeat),
    ("PostToolBatch", EventKind::Heartbeat),
    ("UserPromptExpansion", EventKind::Heartbeat),
    ("TaskCreated", EventKind::Heartbeat),
];

/// What a hook named `name` is read as: its kind in [`EVENTS`], refined by its payload.
pub fn kind(name: &str, payload: &Value) -> EventKind {
    refine(name, super::listed_kind(EVENTS, name), payload)
}

/// The hooks whose payload says more than their name: a `Notification` is a permission prompt
/// or a question to the user by its `notification_type`; a `StopFailure` that carries an
/// `agent_id` is a sub-agent's, an `ApiError` of the user's turn rather than its end.
fn refine(name: &str, listed: EventKind, payload: &Value) -> EventKind {
    match name {
        "Notification" => match str_field(payload, "notification_type") {
            Some("permission_prompt") => EventKind::PermissionRequested,
            Some("elicitation_dialog" | "elicitation_url_dialog" | "agent_needs_input") => {
                EventKind::InputRequested
            }
            _ => listed,
        },
        "StopFailure" if str_field(payload, "agent_id").is_some() => EventKind::ApiError,
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
    let mut e = event(Agent::ClaudeCode, session, kind, name, payload);
    e.turn_ref = TurnRef::Shared;
    e.cwd = str_field(payload, "cwd").map(str::to_owned);
    // `SessionEnd` names the last prompt, which has nothing to do with the session ending.
    if !matches!(kind, EventKind::SessionStarted | EventKind::SessionEnded) {
        e.event.turn_id = string_field(payload, "prompt_id");
    }
    read_fields(&mut e, kind, name, payload);
    push(out, e);
    Ok(())
}

/// Fills in what a hook says besides its kind and turn: the tool call, its outcome, the error,
/// the sub-agent, the reason a session started or ended.
fn read_fields(e: &mut SessionEvent, kind: EventKind, name: &str, payload: &Value) {
    let tool_name = str_field(payload, "tool_name");
    let tool_use_id = str_field(payload, "tool_use_id");
    match kind {
        EventKind::SessionStarted => {
            e.event.reason = string_field(payload, "source");
            e.event.model = string_field(payload, "model");
        }
        EventKind::ToolStarted => set_tool(e, tool_name, tool_use_id),
        EventKind::PermissionRequested => {
            e.event.tool_name = tool_name.unwrap_or_default().to_owned();
        }
        EventKind::ToolFinished => {
            set_tool(e, tool_name, tool_use_id);
            let failed = name == "PostToolUseFailure";
            e.event.success = Some(!failed);
            e.event.duration_ms = f64_field(payload, "duration_ms");
            if failed {
                e.event.error = string_field(payload, "error");
            }
        }
        EventKind::ToolDecision => {
            set_tool(e, tool_name, tool_use_id);
            e.event.success = Some(false);
            e.event.reason = "denied".to_owned();
        }
        EventKind::TurnFailed | EventKind::ApiError => {
            e.event.error = string_field(payload, "error");
            if kind == EventKind::TurnFailed {
                e.fact_key = str_field(payload, "prompt_id").map(|p| format!("turn_failed:{p}"));
            }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{
        attr_keys, facts, kinds, of_kind, recorded, run_json, scenario_events, scenarios,
    };
    use super::*;

    const AGENT_DIR: &str = "claude-code-2.1.328";

    fn events(scenario: &str) -> Vec<SessionEvent> {
        scenario_events(Agent::ClaudeCode, AGENT_DIR, scenario, false)
    }

    #[test]
    fn every_recorded_payload_gives_one_hook_event_of_its_session() {
        let all = scenarios(AGENT_DIR);
        assert_eq!(all.len(), 14, "{all:?}");
        for scenario in all {
            for r in recorded(AGENT_DIR, &scenario) {
                let events = super::super::testing::run(Agent::ClaudeCode, &r, false)
                    .unwrap_or_else(|e| panic!("{scenario}/{}: {e}", r.file));
                assert_eq!(events.len(), 1, "{scenario}/{}", r.file);
                let e = &events[0];
                assert_eq!(e.agent, Agent::ClaudeCode);
                assert_eq!(e.native_id, r.payload["session_id"].as_str().expect("sid"));
                assert_eq!(e.event.source, "hook");
                assert_eq!(
                    e.event.name,
                    r.payload["hook_event_name"].as_str().expect("n")
                );
                // The payload's event name is the path's, less the http hooks' prefix.
                assert!(r.event.ends_with(&e.event.name), "{}", r.file);
                assert_eq!(e.turn_ref, TurnRef::Shared);
                assert_eq!(e.cwd.as_deref(), r.payload["cwd"].as_str());
                // No time in Claude's payloads: the receive time.
                assert_eq!(e.event.time_unix_nano, r.received);
            }
        }
    }

    #[test]
    fn bash_is_a_turn_with_one_tool_call() {
        let ev = events("bash");
        assert_eq!(
            kinds(&ev),
            [
                "session_started",
                "prompt",
                "heartbeat",
                "tool_started",
                "tool_finished",
                "heartbeat",
                "heartbeat",
                "turn_finished",
                "session_ended"
            ]
        );
        const TURN: &str = "b4ee6f3c-3d33-4fb5-80ba-8fcb7fef5384";
        const CALL: &str = "toolu_fc203ad5a27e49a6a0ad7f89";
        assert!(
            ev.iter()
                .all(|e| e.native_id == "4c7e6ebb-e1ae-4272-b706-a5afee6dd121")
        );
        let start = &ev[0];
        assert_eq!(
            (start.event.reason.as_str(), start.event.turn_id.as_str()),
            ("startup", "")
        );
        assert_eq!(ev[1].event.turn_id, TURN);
        let started = &ev[3];
        assert_eq!(
            (
                started.event.tool_name.as_str(),
                started.event.tool_call_id.as_str(),
                started.fact_key.as_deref(),
                started.event.turn_id.as_str(),
            ),
            (
                "Bash",
                CALL,
                Some("tool_started:toolu_fc203ad5a27e49a6a0ad7f89"),
                TURN
            )
        );
        let finished = &ev[4];
        assert_eq!(
            (
                finished.event.tool_name.as_str(),
                finished.event.tool_call_id.as_str(),
                finished.fact_key.as_deref(),
                finished.event.success,
                finished.event.duration_ms,
            ),
            (
                "Bash",
                CALL,
                Some("tool:toolu_fc203ad5a27e49a6a0ad7f89"),
                Some(true),
                Some(43.0)
            )
        );
        assert_eq!(ev[7].event.turn_id, TURN);
        let end = &ev[8];
        assert_eq!(
            (end.event.reason.as_str(), end.event.turn_id.as_str()),
            ("other", "")
        );
        assert_eq!(end.cwd.as_deref(), Some("/srv/agent-runs/claude-bash/proj"));
    }

    #[test]
    fn denied_asks_for_permission_and_never_finishes_the_tool() {
        let ev = events("denied");
        assert_eq!(
            facts(&ev),
            [
                "session_started",
                "prompt",
                "tool_started",
                "permission_requested",
                "turn_finished",
                "session_ended"
            ]
        );
        let ask = of_kind(&ev, EventKind::PermissionRequested)[0];
        assert_eq!(
            (
                ask.event.tool_name.as_str(),
                ask.event.tool_call_id.as_str(),
                ask.fact_key.as_deref(),
                ask.event.turn_id.as_str()
            ),
            ("Bash", "", None, "23127eec-e833-4d75-b7b6-e890e2ae62da")
        );
    }

    #[test]
    fn api_errors_fail_the_turn_once_with_the_logs_fact() {
        // 2.1.328 reports a 400 as `unknown` and a 529 as `server_error`, not as the documented
        // `invalid_request` and `overloaded`.
        for (scenario, error) in [
            ("error400", "unknown"),
            ("error429", "rate_limit"),
            ("error500", "server_error"),
            ("error529", "server_error"),
        ] {
            let ev = events(scenario);
            assert_eq!(
                facts(&ev),
                ["session_started", "prompt", "turn_failed", "session_ended"],
                "{scenario}"
            );
            let failed = of_kind(&ev, EventKind::TurnFailed)[0];
            let prompt = of_kind(&ev, EventKind::Prompt)[0];
            assert_eq!(failed.event.error, error, "{scenario}");
            assert_eq!(failed.event.turn_id, prompt.event.turn_id, "{scenario}");
            assert_eq!(
                failed.fact_key,
                Some(format!("turn_failed:{}", prompt.event.turn_id)),
                "{scenario}"
            );
        }
    }

    #[test]
    fn subagent_hooks_stay_in_the_parent_session_and_turn() {
        let ev = events("subagent");
        assert_eq!(
            facts(&ev),
            [
                "session_started",
                "prompt",
                "tool_started",
                "subagent_started",
                "tool_finished",
                "turn_finished",
                "tool_started",
                "tool_finished",
                "subagent_finished",
                "prompt",
                "turn_finished",
                "session_ended"
            ]
        );
        assert!(
            ev.iter()
                .all(|e| e.native_id == "431ddb91-2267-486d-a3a8-303ce011a72e")
        );
        for sub in [
            of_kind(&ev, EventKind::SubagentStarted)[0],
            of_kind(&ev, EventKind::SubagentFinished)[0],
        ] {
            assert_eq!(
                (
                    sub.event.tool_name.as_str(),
                    sub.event.tool_call_id.as_str(),
                    sub.event.turn_id.as_str()
                ),
                (
                    "claude",
                    "a3dffbc7ce055e4f6",
                    "afee09fd-e0bd-4174-9a03-06db0260a980"
                )
            );
        }
        // The sub-agent's own Bash call, in the parent's first turn.
        let bash = of_kind(&ev, EventKind::ToolFinished)[1];
        assert_eq!(
            (
                bash.event.tool_name.as_str(),
                bash.fact_key.as_deref(),
                bash.event.turn_id.as_str()
            ),
            (
                "Bash",
                Some("tool:toolu_010a7e8307f647079f19072e"),
                "afee09fd-e0bd-4174-9a03-06db0260a980"
            )
        );
        // The task notification is a prompt of its own turn.
        assert_eq!(
            of_kind(&ev, EventKind::Prompt)[1].event.turn_id,
            "926dea69-0f1a-4e1c-bc96-8098b97de026"
        );
    }

    #[test]
    fn resume_starts_the_same_session_again() {
        let ev = events("resume");
        let starts: Vec<(&str, &str)> = of_kind(&ev, EventKind::SessionStarted)
            .iter()
            .map(|e| (e.native_id.as_str(), e.event.reason.as_str()))
            .collect();
        assert_eq!(
            starts,
            [
                ("11111111-2222-4333-8444-555555555555", "startup"),
                ("11111111-2222-4333-8444-555555555555", "resume")
            ]
        );
    }

    #[test]
    fn killed_runs_end_without_a_turn_end() {
        assert_eq!(
            facts(&events("sigterm_tool")),
            ["session_started", "prompt", "tool_started", "session_ended"]
        );
        assert_eq!(
            facts(&events("sigterm_stream")),
            ["session_started", "prompt", "session_ended"]
        );
    }

    #[test]
    fn http_hooks_read_like_command_hooks() {
        let ev = events("httphooks");
        assert_eq!(
            facts(&ev),
            [
                "prompt",
                "tool_started",
                "tool_finished",
                "turn_finished",
                "session_ended"
            ]
        );
    }

    #[test]
    fn heartbeats_keep_only_small_scalar_fields() {
        let ev = events("denied");
        let batch = ev
            .iter()
            .find(|e| e.event.name == "PostToolBatch")
            .expect("PostToolBatch");
        assert_eq!(batch.kind(), Some(EventKind::Heartbeat));
        assert_eq!(
            attr_keys(batch),
            [
                "cwd",
                "hook_event_name",
                "permission_mode",
                "prompt_id",
                "session_id",
                "transcript_path"
            ]
        );
        // A fact keeps the whole payload.
        let ask = of_kind(&ev, EventKind::PermissionRequested)[0];
        assert!(attr_keys(ask).contains(&"permission_suggestions"));
        assert!(attr_keys(ask).contains(&"tool_input"));
    }

    fn one(payload: Value) -> SessionEvent {
        let mut events = run_json(Agent::ClaudeCode, &payload, None).expect("accepted");
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    fn base(name: &str) -> Value {
        json!({"session_id": "s1", "prompt_id": "p1", "cwd": "/w", "hook_event_name": name})
    }

    fn with(name: &str, extra: Value) -> Value {
        let mut v = base(name);
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn documented_hooks_that_were_not_recorded() {
        let e = one(with(
            "PostToolUseFailure",
            json!({"tool_name": "Bash", "tool_use_id": "t1", "error": "Exit code 1", "duration_ms": 12}),
        ));
        assert_eq!(
            (
                e.kind(),
                e.event.success,
                e.event.error.as_str(),
                e.event.duration_ms,
                e.fact_key.as_deref()
            ),
            (
                Some(EventKind::ToolFinished),
                Some(false),
                "Exit code 1",
                Some(12.0),
                Some("tool:t1")
            )
        );
        let e = one(with(
            "PermissionDenied",
            json!({"tool_name": "Bash", "tool_use_id": "t2"}),
        ));
        assert_eq!(
            (
                e.kind(),
                e.event.success,
                e.event.reason.as_str(),
                e.event.tool_call_id.as_str()
            ),
            (Some(EventKind::ToolDecision), Some(false), "denied", "t2")
        );
        assert_eq!(e.fact_key, None);
        for (kind, notification) in [
            (EventKind::PermissionRequested, "permission_prompt"),
            (EventKind::InputRequested, "elicitation_dialog"),
            (EventKind::InputRequested, "elicitation_url_dialog"),
            (EventKind::InputRequested, "agent_needs_input"),
            (EventKind::Heartbeat, "idle_prompt"),
            (EventKind::Heartbeat, "auth_success"),
        ] {
            let e = one(with(
                "Notification",
                json!({"notification_type": notification}),
            ));
            assert_eq!(e.kind(), Some(kind), "{notification}");
        }
        assert_eq!(
            one(base("Elicitation")).kind(),
            Some(EventKind::InputRequested)
        );
        let e = one(with(
            "SessionStart",
            json!({"source": "clear", "model": "claude-opus-5"}),
        ));
        assert_eq!(
            (e.event.reason.as_str(), e.event.model.as_str()),
            ("clear", "claude-opus-5")
        );
        for name in [
            "PreCompact",
            "UserPromptExpansion",
            "ElicitationResult",
            "TaskCreated",
            "Whatever",
        ] {
            assert_eq!(one(base(name)).kind(), Some(EventKind::Heartbeat), "{name}");
        }
        // A sub-agent's failure does not end the user's turn.
        let e = one(with(
            "StopFailure",
            json!({"error": "overloaded", "agent_id": "a1"}),
        ));
        assert_eq!(
            (e.kind(), e.event.error.as_str(), e.fact_key),
            (Some(EventKind::ApiError), "overloaded", None)
        );
    }

    #[test]
    fn malformed_payloads_are_rejected_with_the_field_named() {
        let err = |payload: Value| {
            run_json(Agent::ClaudeCode, &payload, None)
                .expect_err("rejected")
                .0
        };
        assert_eq!(
            err(json!({"hook_event_name": "Stop"})),
            "Claude Code hook: \"session_id\" is missing"
        );
        assert_eq!(
            err(json!({"hook_event_name": "Stop", "session_id": ""})),
            "Claude Code hook: \"session_id\" must be a non-empty string"
        );
        assert_eq!(
            err(json!({"hook_event_name": "Stop", "session_id": 7})),
            "Claude Code hook: \"session_id\" must be a non-empty string"
        );
        assert_eq!(
            err(json!({"session_id": "s1"})),
            "Claude Code hook: \"hook_event_name\" is missing"
        );
        assert_eq!(
            err(json!({"session_id": "s1", "hook_event_name": ["Stop"]})),
            "Claude Code hook: \"hook_event_name\" must be a non-empty string"
        );
        let not_object = crate::agents::read_hook(Agent::ClaudeCode, b"[1]", &Hook::default())
            .expect_err("rejected");
        assert_eq!(not_object.0, "the hook payload must be a JSON object");
        let not_json = crate::agents::read_hook(Agent::ClaudeCode, b"{", &Hook::default())
            .expect_err("rejected");
        assert!(
            not_json.0.starts_with("the hook payload is not valid JSON"),
            "{not_json}"
        );
    }

    #[test]
    fn a_question_to_the_user_awaits_input() {
        let payload = json!({
            "session_id": "s", "hook_event_name": "PreToolUse", "prompt_id": "p",
            "tool_name": "AskUserQuestion", "tool_use_id": "toolu_q",
            "tool_input": {"questions": [{"question": "Which database?"}]}
        });
        let ev = run_json(Agent::ClaudeCode, &payload, None).expect("accepted");
        assert_eq!(kinds(ev.iter()), ["tool_started", "input_requested"]);
        assert_eq!(ev[1].event.tool_name, "AskUserQuestion");
        assert_eq!(ev[1].fact_key, None);
        let bash = json!({
            "session_id": "s", "hook_event_name": "PreToolUse", "prompt_id": "p",
            "tool_name": "Bash", "tool_use_id": "toolu_b"
        });
        let ev = run_json(Agent::ClaudeCode, &bash, None).expect("accepted");
        assert_eq!(kinds(ev.iter()), ["tool_started"]);
    }

    #[test]
    fn every_listed_hook_is_read_as_its_kind_and_others_as_heartbeats() {
        for &(name, kind) in EVENTS {
            let e = one(base(name));
            assert_eq!((e.event.name.as_str(), e.kind()), (name, Some(kind)));
        }
        assert!(!EVENTS.iter().any(|(name, _)| *name == "NoSuchHook"));
        assert_eq!(one(base("NoSuchHook")).kind(), Some(EventKind::Heartbeat));
    }

    #[test]
    fn every_hook_claude_was_recorded_sending_is_listed_once() {
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
