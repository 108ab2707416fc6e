//! Hook payloads: what agents send the moment something happens (a prompt, a tool starting, a
//! permission prompt, a turn ending), as opposed to the batched OTLP telemetry. Each agent's
//! native payload (JSON, exactly as the agent writes it to its hook's stdin, argv or plugin
//! call) is read by its own module into the same [`SessionEvent`]s the OTLP adapters make, so the
//! tracker merges both sources into one session.
//!
//! `POST /v1/hooks/{agent}` (ingest::http) hands the body, through the agent registry, to [`read`]
//! with the agent's adapter, with the hook's name when the
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
    /// The key of the answer a waiting `observatory hook` asks for (`X-Observatory-Prompt`):
    /// set on the permission request it reports.
    pub prompt: Option<&'a str>,
    /// `observatory hook` knows that the agent asks nobody: it settles its permission requests
    /// and questions itself (a run nobody attends, one that allows every call, a piped prompt).
    pub nobody_asked: bool,
}

/// A payload that cannot be read: answered with 400 and this message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct HookError(pub String);

/// One agent's hook adapter: reads a payload (already known to be a JSON object) into events.
pub type HookReader = fn(&Value, &Hook, &mut Vec<SessionEvent>) -> Result<(), HookError>;

/// The kind an adapter's event table lists for `name`: `Heartbeat` (activity, no fact of its
/// own) for a name it does not list.
pub(crate) fn listed_kind(events: &[(&str, EventKind)], name: &str) -> EventKind {
    events
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(EventKind::Heartbeat, |&(_, kind)| kind)
}

/// The `source` of every hook event.
pub const SOURCE: &str = "hook";

/// Reads one hook payload with its agent's adapter (the registry chooses it) into events, and
/// fills in what every hook event gets the same way: the process, the time, the one-line detail.
/// A payload the agent sends but that carries nothing we keep (OpenCode's plugin bookkeeping)
/// gives no events.
pub fn read(adapter: HookReader, body: &[u8], hook: &Hook) -> Result<Vec<SessionEvent>, HookError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| HookError(format!("the hook payload is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(HookError(
            "the hook payload must be a JSON object".to_owned(),
        ));
    }
    let mut events = Vec::new();
    adapter(&value, hook, &mut events)?;
    for e in &mut events {
        e.process = e.process.or(hook.process);
        if e.event.time_unix_nano == 0 {
            e.event.time_unix_nano = hook.received;
        }
        if matches!(
            e.kind(),
            Some(EventKind::TurnFinished | EventKind::TurnFailed | EventKind::SubagentFinished)
        ) && e.event.detail.is_empty()
        {
            e.event.detail = last_message(&value).unwrap_or_default();
        }
        let asks = matches!(
            e.kind(),
            Some(EventKind::PermissionRequested | EventKind::InputRequested)
        );
        if asks && hook.nobody_asked {
            // No person is asked, so it "needs" nobody: a sign of activity, whose outcome the
            // tool's own report brings.
            e.event.kind = EventKind::Heartbeat.as_str().into();
        }
        if e.kind() == Some(EventKind::PermissionRequested) {
            e.event.prompt_id = hook.prompt.unwrap_or_default().to_owned();
        }
        if e.event.detail.is_empty()
            && matches!(
                e.kind(),
                Some(
                    EventKind::PermissionRequested
                        | EventKind::InputRequested
                        | EventKind::ToolStarted
                )
            )
        {
            e.event.detail = detail(&value).unwrap_or_default();
        }
    }
    Ok(events)
}

/// The longest summary kept: enough for a lock-screen line.
const DETAIL_MAX_CHARS: usize = 160;

/// What a tool call, permission request or question is about, in a line: the command, the file,
/// the pattern, the question — from the tool input each agent names its own way (`tool_input`,
/// What the agent said last in the turn a turn-end payload closes: Claude Code's (and Codex's)
/// `last_assistant_message`, Codex's `notify` `last-assistant-message`, Gemini CLI's `AfterAgent`
/// `prompt_response`; cut to [`MAX_LAST_MESSAGE`] characters.
fn last_message(payload: &Value) -> Option<String> {
    let text = [
        "last_assistant_message",
        "last-assistant-message",
        "prompt_response",
    ]
    .iter()
    .find_map(|k| payload.get(*k)?.as_str())?
    .trim();
    if text.is_empty() {
        return None;
    }
    let mut cut: String = text.chars().take(MAX_LAST_MESSAGE).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    Some(cut)
}

/// The most of an agent's last message kept on its turn.
pub const MAX_LAST_MESSAGE: usize = 2000;

/// `toolInput`, `toolArgs` as an object or a JSON string, Gemini's `details`), or the question
/// or message of the payload itself.
fn detail(payload: &Value) -> Option<String> {
    const INPUTS: [&str; 6] = [
        "tool_input",
        "toolInput",
        "toolArgs",
        "args",
        "input",
        "details",
    ];
    const KEYS: [&str; 10] = [
        "command",
        "cmd",
        "file_path",
        "filePath",
        "path",
        "pattern",
        "url",
        "query",
        "question",
        "description",
    ];
    let input: Option<std::borrow::Cow<'_, Value>> =
        INPUTS.iter().find_map(|k| match payload.get(*k)? {
            Value::String(s) => serde_json::from_str(s).ok().map(std::borrow::Cow::Owned),
            v @ Value::Object(_) => Some(std::borrow::Cow::Borrowed(v)),
            _ => None,
        });
    let from_input = input.as_deref().and_then(|input| {
        let first_question = input
            .get("questions")
            .and_then(|q| q.get(0))
            .and_then(|q| q.get("question"));
        KEYS.iter()
            .filter_map(|k| input.get(*k))
            .chain(first_question)
            .find_map(|v| v.as_str().filter(|s| !s.trim().is_empty()))
    });
    let text = from_input.or_else(|| {
        ["question", "message", "prompt"]
            .iter()
            .find_map(|k| payload.get(*k)?.as_str().filter(|s| !s.trim().is_empty()))
    })?;
    Some(one_line(text, DETAIL_MAX_CHARS))
}

/// `text` on one line (whitespace runs become one space), cut to `max` characters with an
/// ellipsis.
fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.chars().count() > max {
        out = out.chars().take(max - 1).collect::<String>();
        out.push('…');
    }
    out
}

/// A new hook event of `agent`, with the payload's fields kept as its attributes. A
/// [`EventKind::Heartbeat`] keeps only the payload's small scalar fields (see
/// [`heartbeat_keeps`]): heartbeats are frequent and some carry whole model requests and
/// responses (Gemini's `BeforeModel` / `AfterModel`).
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
            .filter(|(_, v)| kind != EventKind::Heartbeat || heartbeat_keeps(v))
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: Some(any_value_of(v)),
                ..KeyValue::default()
            })
            .collect();
    }
    e
}

/// The longest string a heartbeat keeps as an attribute (a path or an id fits, a message body
/// or a model response does not).
pub(crate) const HEARTBEAT_MAX_STRING: usize = 256;

/// Whether a heartbeat keeps a payload field: null, booleans, numbers and short strings, never
/// objects or arrays.
pub(crate) fn heartbeat_keeps(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
        Value::String(s) => s.len() <= HEARTBEAT_MAX_STRING,
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// Names the tool of an event and, when the call id is known, the fact it reports: a
/// `ToolStarted` is `tool_started:<id>`, a `ToolFinished` is `tool:<id>` (the key the OTLP
/// adapters give a finished call, so the hook and the telemetry count once).
/// Tools with which an agent asks its user a question (Claude Code's `AskUserQuestion`,
/// Copilot CLI's `ask_user`): starting one means the session waits for an answer.
const QUESTION_TOOLS: [&str; 2] = ["AskUserQuestion", "ask_user"];

/// Pushes an event; a tool start that is a question to the user is followed by the session
/// now awaiting input (the answer is the tool's end, or any newer activity).
pub(crate) fn push(out: &mut Vec<SessionEvent>, e: SessionEvent) {
    let asks = e.kind() == Some(EventKind::ToolStarted)
        && QUESTION_TOOLS.contains(&e.event.tool_name.as_str());
    if asks {
        let mut ask = e.clone();
        ask.event.kind = EventKind::InputRequested.as_str().to_owned();
        ask.fact_key = None;
        out.push(e);
        out.push(ask);
    } else {
        out.push(e);
    }
}

pub(crate) fn set_tool(e: &mut SessionEvent, name: Option<&str>, call_id: Option<&str>) {
    e.event.tool_name = name.unwrap_or_default().to_owned();
    e.event.tool_call_id = call_id.unwrap_or_default().to_owned();
    if let Some(id) = call_id.filter(|id| !id.is_empty()) {
        e.fact_key = match e.kind() {
            Some(EventKind::ToolStarted) => Some(format!("tool_started:{id}")),
            Some(EventKind::ToolFinished) => Some(format!("tool:{id}")),
            _ => None,
        };
    }
}

/// A non-empty string at a path of object keys (`["properties", "info", "id"]`).
pub(crate) fn str_at<'a>(payload: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(payload, |v, key| v.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A number field, also when it is written as a string (`"43"`).
pub(crate) fn f64_field(payload: &Value, key: &str) -> Option<f64> {
    match payload.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A payload time: epoch milliseconds (a number) or an RFC 3339 string; 0 (unknown) otherwise.
pub(crate) fn time_nanos(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(s)) => rfc3339_nanos(s).unwrap_or(0),
        Some(v @ Value::Number(_)) => millis_nanos(v).unwrap_or(0),
        _ => 0,
    }
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

/// A string field as an owned string, empty when missing or not a string (as event fields
/// hold "none").
pub(crate) fn string_field(payload: &Value, key: &str) -> String {
    str_field(payload, key).unwrap_or_default().to_owned()
}

/// An ISO 8601 / RFC 3339 time as Unix nanoseconds.
pub(crate) fn rfc3339_nanos(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos()).ok()
}

/// Epoch milliseconds (a JSON number) as Unix nanoseconds; `None` outside 1970–2255 (an `i64`
/// of nanoseconds ends in 2262). Whole milliseconds are converted exactly (an `f64` of today's
/// nanoseconds is off by up to 128 ns).
pub(crate) fn millis_nanos(v: &Value) -> Option<i64> {
    const MAX_MS: i64 = 9_000_000_000_000;
    if let Some(ms) = v.as_i64() {
        return (ms > 0 && ms < MAX_MS).then(|| ms * 1_000_000);
    }
    let ms = v.as_f64()?;
    (ms > 0.0 && ms < MAX_MS as f64).then_some((ms * 1e6) as i64)
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

/// Test support: the recorded hook payloads of `server/tests/fixtures/<agent>/<scenario>/hooks/`.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::Value;

    use super::{Hook, HookError};
    use crate::normalize::{Agent, EventKind, SessionEvent};
    use crate::proto::common::any_value;

    /// One recorded hook call (read by the shared test kit).
    pub use crate::testkit::fixtures::HookCall as Recorded;

    /// The scenarios of an agent's fixtures that recorded hooks, sorted.
    pub fn scenarios(agent_dir: &str) -> Vec<String> {
        crate::testkit::fixtures::hook_scenarios(agent_dir)
    }

    /// A scenario's hook calls in arrival order.
    pub fn recorded(agent_dir: &str, scenario: &str) -> Vec<Recorded> {
        use crate::testkit::fixtures::{dir, hook_calls};
        hook_calls(&dir(agent_dir, scenario))
    }

    /// Runs one recorded call through [`super::normalize`] as the server would; with
    /// `with_event`, the hook's name from the path is passed as `?event=`.
    pub fn run(
        agent: Agent,
        r: &Recorded,
        with_event: bool,
    ) -> Result<Vec<SessionEvent>, HookError> {
        run_as(agent, r, with_event, None)
    }

    /// As [`run`], sent by an `observatory hook` that holds the request for the phone (with a
    /// prompt key).
    pub fn run_held(
        agent: Agent,
        r: &Recorded,
        with_event: bool,
    ) -> Result<Vec<SessionEvent>, HookError> {
        run_as(
            agent,
            r,
            with_event,
            Some("00112233445566778899aabbccddeeff"),
        )
    }

    fn run_as(
        agent: Agent,
        r: &Recorded,
        with_event: bool,
        prompt: Option<&str>,
    ) -> Result<Vec<SessionEvent>, HookError> {
        let hook = Hook {
            prompt,
            nobody_asked: false,
            event: with_event.then_some(r.event.as_str()),
            process: None,
            received: r.received,
        };
        crate::agents::read_hook(agent, &r.body, &hook)
    }

    /// Every call of a scenario, each one accepted, with the file each event came from.
    pub fn run_all(
        agent: Agent,
        agent_dir: &str,
        scenario: &str,
        with_event: bool,
    ) -> Vec<(String, SessionEvent)> {
        recorded(agent_dir, scenario)
            .iter()
            .flat_map(|r| {
                run(agent, r, with_event)
                    .unwrap_or_else(|e| panic!("{scenario}/{}: rejected: {e}", r.file))
                    .into_iter()
                    .map(|e| (r.file.clone(), e))
            })
            .collect()
    }

    /// Every event of a scenario, as [`run_all`] without the files they came from.
    pub fn scenario_events(
        agent: Agent,
        agent_dir: &str,
        scenario: &str,
        with_event: bool,
    ) -> Vec<SessionEvent> {
        run_all(agent, agent_dir, scenario, with_event)
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// An event as the helpers below take it: alone, or with the file it came from.
    pub trait AsEvent {
        fn as_event(&self) -> &SessionEvent;
    }

    impl AsEvent for SessionEvent {
        fn as_event(&self) -> &SessionEvent {
            self
        }
    }

    impl AsEvent for (String, SessionEvent) {
        fn as_event(&self) -> &SessionEvent {
            &self.1
        }
    }

    /// The events alone.
    pub fn only<T: AsEvent>(events: &[T]) -> Vec<&SessionEvent> {
        events.iter().map(AsEvent::as_event).collect()
    }

    /// The kinds of a scenario's events, heartbeats left out.
    pub fn facts<T: AsEvent>(events: &[T]) -> Vec<&str> {
        kinds(
            events
                .iter()
                .map(AsEvent::as_event)
                .filter(|e| e.kind() != Some(EventKind::Heartbeat)),
        )
    }

    /// The events of one kind.
    pub fn of_kind<T: AsEvent>(events: &[T], kind: EventKind) -> Vec<&SessionEvent> {
        events
            .iter()
            .map(AsEvent::as_event)
            .filter(|e| e.kind() == Some(kind))
            .collect()
    }

    /// Runs an inline payload with an optional `?event=`, received at time 1.
    pub fn run_json(
        agent: Agent,
        payload: &Value,
        event: Option<&str>,
    ) -> Result<Vec<SessionEvent>, HookError> {
        let hook = Hook {
            prompt: None,
            nobody_asked: false,
            event,
            process: None,
            received: 1,
        };
        crate::agents::read_hook(agent, payload.to_string().as_bytes(), &hook)
    }

    /// The kinds of a sequence of events.
    pub fn kinds<'a>(events: impl IntoIterator<Item = &'a SessionEvent>) -> Vec<&'a str> {
        events.into_iter().map(|e| e.event.kind.as_str()).collect()
    }

    /// The attribute keys an event kept.
    pub fn attr_keys(e: &SessionEvent) -> Vec<&str> {
        e.event
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect()
    }

    /// A string attribute of an event.
    pub fn attr_str<'a>(e: &'a SessionEvent, key: &str) -> Option<&'a str> {
        e.event
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn permission_requests_say_what_they_are_about_in_one_line() {
        use super::testing::{recorded, run_held};
        let detail_of = |agent, dir: &str, scenario: &str, file: &str, with_event| {
            let r = recorded(dir, scenario)
                .into_iter()
                .find(|r| r.file.starts_with(file))
                .unwrap_or_else(|| panic!("{dir}/{scenario}/{file}"));
            run_held(agent, &r, with_event)
                .expect("accepted")
                .into_iter()
                .find(|e| e.kind() == Some(EventKind::PermissionRequested))
                .map(|e| e.event.detail)
        };
        // Claude `tool_input.command`; Copilot `toolInput` (a command; a file for edits).
        assert_eq!(
            detail_of(
                Agent::ClaudeCode,
                "claude-code-2.1.328",
                "denied",
                "0005",
                false
            )
            .as_deref(),
            Some("touch created_by_agent.txt")
        );
        assert_eq!(
            detail_of(
                Agent::CopilotCli,
                "copilot-cli-1.0.102",
                "bash",
                "0004",
                true
            )
            .as_deref(),
            Some("echo hello")
        );
        assert_eq!(
            detail_of(
                Agent::CopilotCli,
                "copilot-cli-1.0.102",
                "write",
                "0004",
                true
            )
            .as_deref(),
            Some("/srv/agent-runs/copilot-write/proj/hello.txt")
        );

        let cases = [
            (
                json!({"toolArgs": "{\"command\": \"ls  -la\\n /tmp\"}"}),
                Some("ls -la /tmp"),
            ),
            (
                json!({"tool_input": {"questions": [{"question": "Which DB?"}]}}),
                Some("Which DB?"),
            ),
            (
                json!({"message": "Claude needs your permission to use Bash"}),
                Some("Claude needs your permission to use Bash"),
            ),
            (json!({"tool_input": {"command": "   "}}), None),
            (json!({"toolArgs": "not json"}), None),
            (json!({}), None),
        ];
        for (payload, want) in cases {
            assert_eq!(detail(&payload).as_deref(), want, "{payload}");
        }
        let long = detail(&json!({"tool_input": {"command": "x".repeat(500)}})).expect("detail");
        assert_eq!(long.chars().count(), DETAIL_MAX_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn epoch_millis_are_converted_exactly() {
        assert_eq!(
            millis_nanos(&json!(1_795_320_279_118_i64)),
            Some(1_795_320_279_118_000_000)
        );
        assert_eq!(millis_nanos(&json!(1.5)), Some(1_500_000));
        assert_eq!(millis_nanos(&json!(0)), None);
        assert_eq!(millis_nanos(&json!(-5)), None);
        assert_eq!(millis_nanos(&json!(i64::MAX)), None);
        assert_eq!(millis_nanos(&json!(1e300)), None);
        assert_eq!(
            time_nanos(Some(&json!("1970-01-01T00:00:01.5Z"))),
            1_500_000_000
        );
        assert_eq!(time_nanos(Some(&json!("yesterday"))), 0);
        assert_eq!(time_nanos(Some(&json!(true))), 0);
        assert_eq!(time_nanos(None), 0);
    }

    #[test]
    fn heartbeats_keep_small_scalars_only() {
        let payload = json!({
            "a": "x", "b": 1, "c": null, "d": true, "e": [1], "f": {"g": 1},
            "long": "y".repeat(HEARTBEAT_MAX_STRING + 1),
            "edge": "z".repeat(HEARTBEAT_MAX_STRING),
        });
        let keys = |kind| -> Vec<String> {
            event(Agent::Pi, "s", kind, "n", &payload)
                .event
                .attributes
                .into_iter()
                .map(|kv| kv.key)
                .collect()
        };
        assert_eq!(keys(EventKind::Heartbeat), ["a", "b", "c", "d", "edge"]);
        assert_eq!(keys(EventKind::Prompt).len(), 8);
    }

    #[test]
    fn tool_facts_need_a_call_id() {
        let mut e = event(Agent::Pi, "s", EventKind::ToolStarted, "n", &json!({}));
        set_tool(&mut e, Some("bash"), Some("c1"));
        assert_eq!(e.fact_key.as_deref(), Some("tool_started:c1"));
        let mut e = event(Agent::Pi, "s", EventKind::ToolFinished, "n", &json!({}));
        set_tool(&mut e, Some("bash"), None);
        assert_eq!((e.event.tool_name.as_str(), e.fact_key), ("bash", None));
        let mut e = event(
            Agent::Pi,
            "s",
            EventKind::PermissionRequested,
            "n",
            &json!({}),
        );
        set_tool(&mut e, Some("bash"), Some("c1"));
        assert_eq!((e.event.tool_call_id.as_str(), e.fact_key), ("c1", None));
    }

    #[test]
    fn nested_strings() {
        let v = json!({"a": {"b": {"c": "d", "e": ""}}});
        assert_eq!(str_at(&v, &["a", "b", "c"]), Some("d"));
        assert_eq!(str_at(&v, &["a", "b", "e"]), None);
        assert_eq!(str_at(&v, &["a", "x"]), None);
        assert_eq!(f64_field(&json!({"n": "43"}), "n"), Some(43.0));
        assert_eq!(f64_field(&json!({"n": 43}), "n"), Some(43.0));
        assert_eq!(f64_field(&json!({"n": [1]}), "n"), None);
    }
}
