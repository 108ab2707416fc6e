//! OpenCode plugin calls. OpenCode has no command hooks: a plugin's functions are called, and
//! `observatory`'s plugin posts each call's arguments here, named by `?event=`: the direct hooks
//! by their own names (`chat.message`, `tool.execute.before`, …) and bus events as
//! `event.<type>` (`event.session.idle`). A bus event that comes without a name (or as plain
//! `event`) is named from its own `type`.
//!
//! The session is `properties.sessionID` (bus events), `properties.info.id` (`session.*` events,
//! whose `info` is the session), `properties.info.sessionID` (`message.*` events) or
//! `input.sessionID` (direct hooks), or `sessionID` (`dispose`). Calls of no session — `plugin.init`, `plugin.added`,
//! `catalog.updated`, `file.edited`, … — give no events. OpenCode names no turn in its plugin
//! calls, so every event joins the turn in progress ([`TurnRef::Hook`], empty turn id).
//!
//! | call | event |
//! |---|---|
//! | `event.session.created` | `SessionStarted`: cwd = `info.directory`; of a child session (`info.parentID`), first `SubagentStarted` in the parent: tool = `info.agent`, call id = the child's id |
//! | `chat.message` of a `user` message | `Prompt`: model = `output.message.model.modelID` |
//! | `tool.execute.before` | `ToolStarted`: tool = `input.tool`, call id = `input.callID`; fact `tool_started:<id>` |
//! | `tool.execute.after` | `ToolFinished`: failed on a non-zero `output.metadata.exit` or an error; fact `tool:<id>` |
//! | `permission.ask`, `event.permission.asked`, `event.permission.updated` | `PermissionRequested` |
//! | `event.session.idle` | `TurnFinished` |
//! | `event.session.error` | `TurnFailed`: error = the error's message |
//! | `event.session.status` `retry` | `ApiError`: error = `status.message` |
//! | `event.session.deleted` | `SessionEnded`, reason `deleted` |
//! | `dispose` (our plugin, once per session the process worked in, as OpenCode exits normally) | `SessionEnded`, reason `exited` |
//! | other calls of a session (`event.session.status` busy / idle, `event.message.updated`, `event.session.updated`, `event.session.diff`, `event.permission.replied`, `chat.params`, anything else) | `Heartbeat` |
//!
//! A sub-agent (the `task` tool) runs in a child session of its own (`info.parentID`), as in the
//! OTLP: its calls land there, and the parent learns of it (its alerts fold into the parent's). OpenCode's plugin calls carry no time: the receive time is used.

use std::borrow::Cow;

use serde_json::Value;

use super::{Hook, HookError, event, set_tool, str_at, str_field};
use crate::normalize::{Agent, EventKind, SessionEvent, TurnRef};

const WHAT: &str = "OpenCode plugin call";

/// Every plugin call of a session this adapter reads, with the kind it reads it as: the hooks
/// our plugin forwards (`config/agents/opencode-plugin.js`: `chat.message`, `tool.execute.*`),
/// the bus events it forwards as `event.<type>` that say something, `permission.ask`, and the
/// calls recorded as activity only. Any other call of a session is a `Heartbeat` too; a call of
/// no session gives no event at all. `refine` reads `chat.message` by its role and
/// `event.session.status` by its status.
pub const EVENTS: &[(&str, EventKind)] = &[
    ("event.session.created", EventKind::SessionStarted),
    // Refined: only a user's message is a prompt.
    ("chat.message", EventKind::Prompt),
    ("tool.execute.before", EventKind::ToolStarted),
    ("tool.execute.after", EventKind::ToolFinished),
    ("permission.ask", EventKind::PermissionRequested),
    ("event.permission.asked", EventKind::PermissionRequested),
    ("event.permission.updated", EventKind::PermissionRequested),
    ("event.session.idle", EventKind::TurnFinished),
    ("event.session.error", EventKind::TurnFailed),
    // Refined: a `retry` status is an API error being retried.
    ("event.session.status", EventKind::Heartbeat),
    ("event.session.deleted", EventKind::SessionEnded),
    ("dispose", EventKind::SessionEnded),
    ("event.session.updated", EventKind::Heartbeat),
    ("event.session.diff", EventKind::Heartbeat),
    // Refined: an assistant message, once completed, is a model call with its tokens and cost.
    ("event.message.updated", EventKind::Heartbeat),
    ("event.permission.replied", EventKind::Heartbeat),
    ("chat.params", EventKind::Heartbeat),
];

/// What a call named `name` is read as: its kind in [`EVENTS`], refined by its payload.
pub fn kind(name: &str, payload: &Value) -> EventKind {
    refine(name, super::listed_kind(EVENTS, name), payload)
}

/// The calls whose payload says more than their name: `chat.message` is a prompt only for a
/// `user` message; an `event.session.status` of type `retry` is an `ApiError` (the request
/// failed and OpenCode tries again).
fn refine(name: &str, listed: EventKind, payload: &Value) -> EventKind {
    match name {
        "chat.message" => {
            let role = ["output", "input"]
                .iter()
                .find_map(|side| str_at(payload, &[*side, "message", "role"]));
            if role == Some("user") {
                listed
            } else {
                EventKind::Heartbeat
            }
        }
        "event.session.status"
            if str_at(payload, &["properties", "status", "type"]) == Some("retry") =>
        {
            EventKind::ApiError
        }
        "event.message.updated" if answered(payload) => EventKind::ApiRequest,
        _ => listed,
    }
}

pub fn normalize(
    payload: &Value,
    hook: &Hook,
    out: &mut Vec<SessionEvent>,
) -> Result<(), HookError> {
    let name = event_name(payload, hook)?;
    let Some(session) = session_id(payload, &name)? else {
        return Ok(());
    };
    let kind = kind(&name, payload);
    if kind == EventKind::SessionStarted
        && let Some(parent) = str_at(payload, &["properties", "info", "parentID"])
    {
        out.push(subagent_started(parent, session, &name, payload));
    }
    let mut e = event(Agent::Opencode, session, kind, &name, payload);
    e.turn_ref = TurnRef::Hook;
    e.cwd = str_at(payload, &["properties", "info", "directory"])
        .or_else(|| str_at(payload, &["properties", "info", "path", "cwd"]))
        .map(str::to_owned);
    read_fields(&mut e, kind, &name, payload);
    out.push(e);
    Ok(())
}

/// Whether a `message.updated` is an assistant message that completed without an error (its
/// third report: the first two have no tokens yet).
fn answered(payload: &Value) -> bool {
    let info = payload.pointer("/properties/info").unwrap_or(&Value::Null);
    str_field(info, "role") == Some("assistant")
        && info
            .pointer("/time/completed")
            .is_some_and(|t| !t.is_null())
        && info.get("error").is_none_or(Value::is_null)
}

/// A completed assistant message as the model call it was: OpenCode's model, tokens (`input`
/// leaves out the cache, as ours does; reasoning is output) and its own price (0: unknown,
/// priced from our table), once per message.
fn read_answer(e: &mut SessionEvent, info: &Value) {
    let n = |path: &str| {
        info.pointer(path)
            .and_then(Value::as_f64)
            .map_or(0, |v| v.max(0.0) as u64)
    };
    e.event.model = str_field(info, "modelID").unwrap_or_default().to_owned();
    e.event.tokens = Some(crate::proto::store::Tokens {
        input: n("/tokens/input"),
        output: n("/tokens/output") + n("/tokens/reasoning"),
        cache_read: n("/tokens/cache/read"),
        cache_write: n("/tokens/cache/write"),
    });
    e.event.cost_usd = info
        .get("cost")
        .and_then(Value::as_f64)
        .filter(|c| c.is_finite() && *c > 0.0);
    e.fact_key = str_field(info, "id").map(|id| format!("api:{id}"));
}

/// A child session's creation as the parent's news: a `SubagentStarted` in the parent, the
/// agent as its tool and the child's id as its call id.
fn subagent_started(parent: &str, child: &str, name: &str, payload: &Value) -> SessionEvent {
    let mut e = event(
        Agent::Opencode,
        parent,
        EventKind::SubagentStarted,
        name,
        payload,
    );
    e.turn_ref = TurnRef::Hook;
    set_tool(
        &mut e,
        str_at(payload, &["properties", "info", "agent"]),
        Some(child),
    );
    e
}

/// Fills in what a call says besides its kind: the model of a prompt, the tool call and its
/// outcome, the permission asked for, the error.
fn read_fields(e: &mut SessionEvent, kind: EventKind, name: &str, payload: &Value) {
    let properties = payload.get("properties").unwrap_or(&Value::Null);
    let input = payload.get("input").unwrap_or(&Value::Null);
    let output = payload.get("output").unwrap_or(&Value::Null);
    match kind {
        EventKind::Prompt => {
            e.event.model = str_at(output, &["message", "model", "modelID"])
                .or_else(|| str_at(input, &["model", "modelID"]))
                .unwrap_or_default()
                .to_owned();
        }
        EventKind::ToolStarted => {
            set_tool(e, str_field(input, "tool"), str_field(input, "callID"));
        }
        EventKind::ToolFinished => {
            set_tool(e, str_field(input, "tool"), str_field(input, "callID"));
            let error = tool_error(output);
            e.event.success = Some(error.is_none());
            e.event.error = error.unwrap_or_default();
        }
        EventKind::PermissionRequested => {
            // A bus event says it in its properties, the `permission.ask` hook in its input.
            let asked = if name.starts_with("event.") {
                properties
            } else {
                input
            };
            read_permission(e, asked);
        }
        EventKind::TurnFailed => {
            e.event.error = session_error(properties.get("error").unwrap_or(&Value::Null));
        }
        EventKind::ApiError => {
            e.event.error = str_at(properties, &["status", "message"])
                .unwrap_or_default()
                .to_owned();
        }
        EventKind::ApiRequest => {
            read_answer(e, properties.get("info").unwrap_or(&Value::Null));
        }
        EventKind::SessionEnded if name == "dispose" => e.event.reason = "exited".to_owned(),
        EventKind::SessionEnded => e.event.reason = "deleted".to_owned(),
        _ => {}
    }
}

/// The tool a permission is asked for, and its call: `permission.asked` says `permission` and
/// `tool.callID`; the older `permission.updated` (and the `permission.ask` hook's input) `type`
/// and `callID`.
fn read_permission(e: &mut SessionEvent, asked: &Value) {
    let tool = ["permission", "type"]
        .iter()
        .find_map(|k| str_field(asked, k));
    let call = str_at(asked, &["tool", "callID"]).or_else(|| str_field(asked, "callID"));
    set_tool(e, tool, call);
    // What it asks to run or touch: `metadata.command` (bash), else the patterns it names.
    let patterns = asked.get("patterns").and_then(Value::as_array).map(|p| {
        p.iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    });
    if let Some(what) = str_at(asked, &["metadata", "command"])
        .map(str::to_owned)
        .or(patterns)
        .filter(|w| !w.is_empty())
    {
        e.event.detail = what;
    }
}

/// The message of a `session.error`'s error: an API error's `data.message`, else its own
/// `message` or `name`, or the error when it is a string.
fn session_error(error: &Value) -> String {
    str_at(error, &["data", "message"])
        .or_else(|| str_field(error, "message"))
        .or_else(|| str_field(error, "name"))
        .or_else(|| error.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The call's name: `?event=`, else (or for a plain `event`) `event.<type>` of a bus event.
fn event_name<'a>(payload: &'a Value, hook: &Hook<'a>) -> Result<Cow<'a, str>, HookError> {
    match hook.event.filter(|e| !e.is_empty()) {
        Some(name) if name != "event" => Ok(Cow::Borrowed(name)),
        _ => match payload.get("type") {
            Some(Value::String(t)) if !t.is_empty() => Ok(Cow::Owned(format!("event.{t}"))),
            Some(_) => Err(HookError(format!(
                "{WHAT}: \"type\" must be a non-empty string"
            ))),
            None => Err(HookError(format!(
                "{WHAT}: the hook name is missing: post plugin calls to ?event=<hook name> \
                 (e.g. ?event=tool.execute.before), or send bus events with their \"type\""
            ))),
        },
    }
}

/// The session a call belongs to, if any; a session id of the wrong type is an error.
fn session_id<'a>(payload: &'a Value, name: &str) -> Result<Option<&'a str>, HookError> {
    let properties = payload.get("properties").unwrap_or(&Value::Null);
    let input = payload.get("input").unwrap_or(&Value::Null);
    for (place, v) in [
        ("properties.sessionID", properties.get("sessionID")),
        ("input.sessionID", input.get("sessionID")),
        ("sessionID", payload.get("sessionID")),
    ] {
        match v {
            Some(Value::String(s)) if !s.is_empty() => return Ok(Some(s)),
            Some(_) => {
                return Err(HookError(format!(
                    "{WHAT}: \"{place}\" must be a non-empty string"
                )));
            }
            None => {}
        }
    }
    let info = properties.get("info").unwrap_or(&Value::Null);
    if name.starts_with("event.session.")
        && let Some(id) = str_field(info, "id")
    {
        return Ok(Some(id));
    }
    Ok(str_field(info, "sessionID"))
}

/// What a tool's output says went wrong, when it says so.
fn tool_error(output: &Value) -> Option<String> {
    let metadata = output.get("metadata").unwrap_or(&Value::Null);
    if let Some(code) = metadata
        .get("exit")
        .and_then(Value::as_i64)
        .filter(|c| *c != 0)
    {
        return Some(format!("exit code {code}"));
    }
    [metadata.get("error"), output.get("error")]
        .into_iter()
        .flatten()
        .find_map(|error| match error {
            Value::Null | Value::Bool(false) => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            other => Some(str_field(other, "message").unwrap_or("error").to_owned()),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{facts, recorded, run, run_all, run_json, scenarios};
    use super::*;

    const AGENT_DIR: &str = "opencode-1.18.33";

    fn events(scenario: &str) -> Vec<(String, SessionEvent)> {
        run_all(Agent::Opencode, AGENT_DIR, scenario, true)
    }

    #[test]
    fn every_recorded_call_is_accepted_and_sessionless_ones_give_nothing() {
        let all = scenarios(AGENT_DIR);
        assert_eq!(all.len(), 5, "{all:?}");
        for scenario in all {
            for r in recorded(AGENT_DIR, &scenario) {
                let events = run(Agent::Opencode, &r, true)
                    .unwrap_or_else(|e| panic!("{scenario}/{}: {e}", r.file));
                let sessionless = [
                    "plugin.init",
                    "event.plugin.added",
                    "event.catalog.updated",
                    "event.reference.updated",
                    "event.integration.updated",
                    "event.file.edited",
                    "event.file.watcher.updated",
                ]
                .contains(&r.event.as_str());
                // A child session's creation is also news for its parent.
                let child_created = r.payload["properties"]["info"]["parentID"].is_string()
                    && r.event == "event.session.created";
                assert_eq!(
                    events.len(),
                    usize::from(!sessionless) + usize::from(child_created),
                    "{scenario}/{}",
                    r.file
                );
                for e in &events {
                    assert!(e.native_id.starts_with("ses_"), "{}", r.file);
                    assert_eq!(e.event.name, r.event);
                    assert_eq!((e.turn_ref, e.event.turn_id.as_str()), (TurnRef::Hook, ""));
                    assert_eq!(e.event.time_unix_nano, r.received);
                }
                // A bus event names itself: without ?event= it reads the same.
                if r.payload.get("type").is_some() {
                    let again = run(Agent::Opencode, &r, false).expect("accepted");
                    assert_eq!(again, events, "{}", r.file);
                }
            }
        }
    }

    #[test]
    fn bash_is_one_turn_with_one_tool_call() {
        let ev = events("bash");
        assert_eq!(
            facts(&ev),
            [
                "session_started",
                "prompt",
                "tool_started",
                "tool_finished",
                // The two model calls, from their completed messages.
                "api_request",
                "api_request",
                "turn_finished"
            ]
        );
        const SESSION: &str = "ses_dfe917e2effespqcZQ6j5vsw8L";
        let calls: Vec<_> = ev
            .iter()
            .filter(|(_, e)| e.kind() == Some(EventKind::ApiRequest))
            .map(|(_, e)| {
                (
                    e.event.model.as_str(),
                    e.event.tokens,
                    e.event.cost_usd,
                    e.fact_key.as_deref(),
                )
            })
            .collect();
        let tokens = crate::proto::store::Tokens {
            input: 1234,
            output: 42,
            cache_read: 8192,
            cache_write: 2048,
        };
        assert_eq!(
            calls,
            [
                (
                    "claude-sonnet-4-5",
                    Some(tokens),
                    Some(0.0144696),
                    Some("api:msg_2016e87c8001jaOc4arkVljfFP")
                ),
                (
                    "claude-sonnet-4-5",
                    Some(tokens),
                    Some(0.0144696),
                    Some("api:msg_2016e90ba001tKntJMlgx5pcSG")
                ),
            ]
        );
        assert!(ev.iter().all(|(_, e)| e.native_id == SESSION));
        let fact = |kind: EventKind| {
            &ev.iter()
                .find(|(_, e)| e.kind() == Some(kind))
                .expect("event")
                .1
        };
        assert_eq!(
            fact(EventKind::SessionStarted).cwd.as_deref(),
            Some("/srv/agent-runs/opencode-bash/proj")
        );
        assert_eq!(fact(EventKind::Prompt).event.model, "claude-sonnet-4-5");
        let started = fact(EventKind::ToolStarted);
        assert_eq!(
            (
                started.event.tool_name.as_str(),
                started.event.tool_call_id.as_str(),
                started.fact_key.as_deref()
            ),
            (
                "bash",
                "toolu_14bbb0bb1c8847eb951cb382",
                Some("tool_started:toolu_14bbb0bb1c8847eb951cb382")
            )
        );
        let finished = fact(EventKind::ToolFinished);
        assert_eq!(
            (
                finished.event.tool_name.as_str(),
                finished.event.success,
                finished.fact_key.as_deref()
            ),
            (
                "bash",
                Some(true),
                Some("tool:toolu_14bbb0bb1c8847eb951cb382")
            )
        );
        let heartbeats = ev
            .iter()
            .filter(|(_, e)| e.kind() == Some(EventKind::Heartbeat))
            .count();
        // session.updated ×6, message.updated ×7 (of 9: two are completed answers),
        // session.status ×6, chat.params ×3, session.diff ×3.
        assert_eq!(heartbeats, 25);
    }

    #[test]
    fn a_subagent_runs_in_its_own_child_session() {
        const PARENT: &str = "ses_dfe90fae1ffe1C45RgBp2QcBRy";
        const CHILD: &str = "ses_dfe90ef7dffeqWO6y9mzBGFqbM";
        let ev = events("subagent");
        let rows: Vec<(&str, &str, &str)> = ev
            .iter()
            .filter(|(_, e)| e.kind() != Some(EventKind::Heartbeat))
            .map(|(_, e)| {
                (
                    if e.native_id == PARENT {
                        "parent"
                    } else if e.native_id == CHILD {
                        "child"
                    } else {
                        "?"
                    },
                    e.event.kind.as_str(),
                    e.event.tool_name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("parent", "session_started", ""),
                ("parent", "prompt", ""),
                ("parent", "tool_started", "task"),
                ("parent", "subagent_started", "general"),
                ("child", "session_started", ""),
                ("child", "prompt", ""),
                ("child", "tool_started", "bash"),
                ("child", "tool_finished", "bash"),
                ("child", "api_request", ""),
                ("child", "api_request", ""),
                ("child", "turn_finished", ""),
                ("parent", "tool_finished", "task"),
                ("parent", "api_request", ""),
                ("parent", "api_request", ""),
                ("parent", "turn_finished", ""),
            ]
        );
    }

    #[test]
    fn write_and_the_killed_run() {
        assert_eq!(
            facts(&events("write")),
            [
                "session_started",
                "prompt",
                "tool_started",
                "tool_finished",
                "api_request",
                "api_request",
                "turn_finished"
            ]
        );
        assert_eq!(
            facts(&events("sigterm_stream")),
            ["session_started", "prompt"]
        );
    }

    fn one(payload: Value, event: Option<&str>) -> SessionEvent {
        let mut events = run_json(Agent::Opencode, &payload, event).expect("accepted");
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    #[test]
    fn documented_events_that_were_not_recorded() {
        let e = one(
            json!({"type": "session.error", "properties": {"sessionID": "ses_1",
                   "error": {"name": "APIError", "data": {"message": "Overloaded", "statusCode": 529}}}}),
            Some("event.session.error"),
        );
        assert_eq!(
            (e.kind(), e.event.error.as_str(), e.fact_key),
            (Some(EventKind::TurnFailed), "Overloaded", None)
        );
        let e = one(
            json!({"type": "session.status", "properties": {"sessionID": "ses_1",
                   "status": {"type": "retry", "attempt": 2, "message": "Overloaded", "next": 1}}}),
            None,
        );
        assert_eq!(
            (e.kind(), e.event.error.as_str()),
            (Some(EventKind::ApiError), "Overloaded")
        );
        let e = one(
            json!({"type": "permission.asked", "properties": {"id": "per_1", "sessionID": "ses_1",
                   "permission": "bash", "patterns": ["rm *"], "tool": {"messageID": "m", "callID": "c1"}}}),
            Some("event.permission.asked"),
        );
        assert_eq!(
            (
                e.kind(),
                e.event.tool_name.as_str(),
                e.event.tool_call_id.as_str(),
                e.fact_key
            ),
            (Some(EventKind::PermissionRequested), "bash", "c1", None)
        );
        let e = one(
            json!({"type": "permission.updated", "properties": {"id": "per_1", "type": "edit",
                   "sessionID": "ses_1", "callID": "c2", "title": "Edit x"}}),
            None,
        );
        assert_eq!(
            (
                e.kind(),
                e.event.tool_name.as_str(),
                e.event.tool_call_id.as_str()
            ),
            (Some(EventKind::PermissionRequested), "edit", "c2")
        );
        let e = one(
            json!({"input": {"id": "per_1", "type": "bash", "sessionID": "ses_1", "callID": "c3"},
                   "output": {"status": "ask"}}),
            Some("permission.ask"),
        );
        assert_eq!(
            (e.kind(), e.event.tool_name.as_str(), e.native_id.as_str()),
            (Some(EventKind::PermissionRequested), "bash", "ses_1")
        );
        let e = one(
            json!({"type": "permission.replied", "properties": {"sessionID": "ses_1",
                   "permissionID": "per_1", "response": "once"}}),
            None,
        );
        assert_eq!(e.kind(), Some(EventKind::Heartbeat));
        let e = one(
            json!({"type": "session.deleted", "properties": {"info": {"id": "ses_9", "directory": "/p"}}}),
            None,
        );
        assert_eq!(
            (
                e.kind(),
                e.native_id.as_str(),
                e.event.reason.as_str(),
                e.cwd.as_deref()
            ),
            (
                Some(EventKind::SessionEnded),
                "ses_9",
                "deleted",
                Some("/p")
            )
        );
        let e = one(
            json!({"input": {"tool": "bash", "sessionID": "ses_1", "callID": "c4"},
                   "output": {"title": "false", "metadata": {"exit": 1}, "output": ""}}),
            Some("tool.execute.after"),
        );
        assert_eq!(
            (
                e.event.success,
                e.event.error.as_str(),
                e.fact_key.as_deref()
            ),
            (Some(false), "exit code 1", Some("tool:c4"))
        );
        // An assistant message is no prompt.
        let e = one(
            json!({"input": {"sessionID": "ses_1"}, "output": {"message": {"role": "assistant"}}}),
            Some("chat.message"),
        );
        assert_eq!(e.kind(), Some(EventKind::Heartbeat));
        // A call of no session.
        assert_eq!(
            run_json(
                Agent::Opencode,
                &json!({"type": "server.connected", "properties": {}}),
                None
            )
            .expect("accepted"),
            []
        );
    }

    #[test]
    fn malformed_calls_are_rejected_with_the_problem_named() {
        let err = |payload: Value, event: Option<&str>| {
            run_json(Agent::Opencode, &payload, event)
                .expect_err("rejected")
                .0
        };
        assert!(
            err(json!({"input": {"sessionID": "ses_1"}}), None)
                .starts_with("OpenCode plugin call: the hook name is missing"),
        );
        assert_eq!(
            err(json!({"type": 5, "properties": {}}), None),
            "OpenCode plugin call: \"type\" must be a non-empty string"
        );
        assert_eq!(
            err(
                json!({"properties": {"sessionID": 5}}),
                Some("event.session.idle")
            ),
            "OpenCode plugin call: \"properties.sessionID\" must be a non-empty string"
        );
        assert_eq!(
            err(
                json!({"input": {"sessionID": ""}}),
                Some("tool.execute.before")
            ),
            "OpenCode plugin call: \"input.sessionID\" must be a non-empty string"
        );
    }

    /// A minimal call of `name` in its session, as its common case (`chat.message`: a user's).
    fn minimal(name: &str) -> Value {
        match name.strip_prefix("event.") {
            Some(bus) => json!({"type": bus, "properties": {"sessionID": "ses_1"}}),
            None => json!({"input": {"sessionID": "ses_1"},
                           "output": {"message": {"role": "user"}}}),
        }
    }

    #[test]
    fn every_listed_call_is_read_as_its_kind_and_others_as_heartbeats() {
        for &(name, kind) in EVENTS {
            let e = one(minimal(name), Some(name));
            assert_eq!((e.event.name.as_str(), e.kind()), (name, Some(kind)));
        }
        for name in ["event.no.such.event", "no.such.hook"] {
            assert!(!EVENTS.iter().any(|(n, _)| *n == name));
            assert_eq!(
                one(minimal(name), Some(name)).kind(),
                Some(EventKind::Heartbeat)
            );
        }
    }

    #[test]
    fn every_hook_our_plugin_sends_or_opencode_was_recorded_sending_is_listed_once() {
        let listed = |name: &str| EVENTS.iter().filter(|(n, _)| *n == name).count();
        for &(name, _) in EVENTS {
            assert_eq!(listed(name), 1, "{name}");
        }
        // Bus events go as `event.<type>`, whatever their type; the hooks by their own names.
        let plugin = include_str!("../../../../config/agents/opencode-plugin.js");
        let hooks: Vec<&str> = plugin
            .split("send(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(hooks.contains(&"chat.message"), "{hooks:?}");
        for name in hooks {
            assert_eq!(listed(name), 1, "the plugin sends {name}");
        }
        // Calls of no session give no event, so every recorded event is of a listed call.
        for scenario in scenarios(AGENT_DIR) {
            for r in recorded(AGENT_DIR, &scenario) {
                for e in run(Agent::Opencode, &r, true).expect("accepted") {
                    assert_eq!(listed(&e.event.name), 1, "{scenario}/{}", r.file);
                }
            }
        }
    }
}
