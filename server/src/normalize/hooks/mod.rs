//! Hook payloads: what agents send the moment something happens (a prompt, a tool starting, a
//! permission prompt, a turn ending), as opposed to the batched OTLP telemetry. Each agent's
//! native payload (JSON, exactly as the agent writes it to its hook's stdin, argv or plugin
//! call) is read by its own module into the same [`SessionEvent`]s the OTLP adapters make, so the
//! tracker merges both sources into one session.
//!
//! `POST /v1/hooks/{agent}` (ingest::http) hands the body here with the hook's name when the
//! payload itself does not carry it (Copilot's camelCase dialect, OpenCode plugin calls), and the
//! agent's process when `observatory hook` found it. Like the OTLP adapters, these are pure
//! functions of their input.

pub mod claude_code;
pub mod codex;
pub mod copilot_cli;
pub mod gemini_cli;
pub mod opencode;
pub mod pi;

use serde_json::Value;

use super::{Agent, EventKind, Process, SessionEvent, Signal};
use crate::proto::common::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};

/// What came with a hook payload besides its body.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hook<'a> {
    /// The hook's event name, from `?event=`, for payloads that do not name themselves.
    pub event: Option<&'a str>,
    /// The agent's process, found by `observatory hook` walking up from itself.
    pub process: Option<Process>,
    /// When the server received it (Unix ns): the event's time when the payload has none.
    pub received: i64,
}

/// A payload that cannot be read: answered with 400 and this message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct HookError(pub String);

/// The agents that send hooks (`generic` has none).
pub fn accepts(agent: Agent) -> bool {
    agent != Agent::Generic
}

/// The `source` of every hook event.
pub const SOURCE: &str = "hook";

/// Reads one hook payload of `agent` into events. A payload the agent sends but that carries
/// nothing we keep (OpenCode's plugin bookkeeping) gives no events.
pub fn normalize(agent: Agent, body: &[u8], hook: &Hook) -> Result<Vec<SessionEvent>, HookError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| HookError(format!("the hook payload is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(HookError(
            "the hook payload must be a JSON object".to_owned(),
        ));
    }
    let mut events = Vec::new();
    match agent {
        Agent::ClaudeCode => claude_code::normalize(&value, hook, &mut events)?,
        Agent::Codex => codex::normalize(&value, hook, &mut events)?,
        Agent::GeminiCli => gemini_cli::normalize(&value, hook, &mut events)?,
        Agent::CopilotCli => copilot_cli::normalize(&value, hook, &mut events)?,
        Agent::Opencode => opencode::normalize(&value, hook, &mut events)?,
        Agent::Pi => pi::normalize(&value, hook, &mut events)?,
        Agent::Generic => {
            return Err(HookError(
                "generic agents send OpenTelemetry only, no hooks".to_owned(),
            ));
        }
    }
    for e in &mut events {
        e.process = e.process.or(hook.process);
        if e.event.time_unix_nano == 0 {
            e.event.time_unix_nano = hook.received;
        }
    }
    Ok(events)
}

/// A new hook event of `agent`, with the payload's fields kept as its attributes.
pub(crate) fn event(
    agent: Agent,
    native_id: &str,
    kind: EventKind,
    name: &str,
    payload: &Value,
) -> SessionEvent {
    let mut e = SessionEvent::new(agent, native_id, kind, Signal::Logs);
    e.event.source = SOURCE.to_owned();
    e.event.name = name.to_owned();
    if let Value::Object(map) = payload {
        e.event.attributes = map
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: Some(any_value_of(v)),
                ..KeyValue::default()
            })
            .collect();
    }
    e
}

/// A required string field, or a 400 naming it.
pub(crate) fn required<'a>(
    payload: &'a Value,
    key: &str,
    what: &str,
) -> Result<&'a str, HookError> {
    match payload.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(HookError(format!(
            "{what}: \"{key}\" must be a non-empty string"
        ))),
        None => Err(HookError(format!("{what}: \"{key}\" is missing"))),
    }
}

/// An optional string field.
pub(crate) fn str_field<'a>(payload: &'a Value, key: &str) -> Option<&'a str> {
    payload
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An ISO 8601 / RFC 3339 time as Unix nanoseconds.
pub(crate) fn rfc3339_nanos(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos()).ok()
}

/// Epoch milliseconds (a JSON number) as Unix nanoseconds.
pub(crate) fn millis_nanos(v: &Value) -> Option<i64> {
    let ms = v.as_f64()?;
    (ms > 0.0 && ms < 1e15).then(|| (ms * 1e6) as i64)
}

/// The trace id of a W3C `traceparent` (`00-<trace id>-<parent id>-<flags>`).
pub(crate) fn traceparent_trace_id(tp: &str) -> Option<&str> {
    let mut parts = tp.split('-');
    let (_version, trace) = (parts.next()?, parts.next()?);
    (trace.len() == 32
        && trace.bytes().all(|b| b.is_ascii_hexdigit())
        && trace.bytes().any(|b| b != b'0'))
    .then_some(trace)
}

fn any_value_of(v: &Value) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(V::BoolValue(*b)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(0.0)),
        }),
        Value::String(s) => Some(V::StringValue(s.clone())),
        Value::Array(items) => Some(V::ArrayValue(ArrayValue {
            values: items.iter().map(any_value_of).collect(),
        })),
        Value::Object(map) => Some(V::KvlistValue(KeyValueList {
            values: map
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(any_value_of(v)),
                    ..KeyValue::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}
