//! Normalize: the one model every later stage speaks — [`SessionEvent`], [`EventKind`], the
//! [`Agent`] ids — and the adapters that make it from what each agent sends: one OTLP adapter per
//! agent (`claude_code`, `codex`, …, `generic` for any OpenTelemetry GenAI emitter) and one hook
//! adapter per agent that has hooks ([`hooks`]).
//!
//! The agent registry (`crate::agents`, after this module) chooses the adapter: it recognises
//! each resource's agent by its `service.name` and hands the scope's records to that agent's
//! [`OtlpAdapter`] through a [`Sink`]. The adapter reads the agent's own event, span and metric
//! names and fills the typed fields of an event. Adapters are pure functions of their input: no
//! clock, no I/O, so they are table-tested against the recorded real telemetry in
//! `server/tests/fixtures/`. This module knows no agent's name, display name or dialect: that
//! is the registry's.

pub mod attrs;
pub mod claude_code;
pub mod codex;
pub mod copilot_cli;
pub mod gemini_cli;
pub mod generic;
pub mod hooks;
pub mod opencode;
pub mod packed;
pub mod prices;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::proto::common::{InstrumentationScope, KeyValue};
use crate::proto::logs::LogRecord;
use crate::proto::metrics::Metric;
use crate::proto::resource::Resource;
use crate::proto::store::Event;
use crate::proto::trace::Span;
use crate::proto::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use attrs::Attrs;
pub use prices::Prices;

/// A coding-agent program, as the API and the UI name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Agent {
    ClaudeCode,
    Codex,
    GeminiCli,
    CopilotCli,
    Opencode,
    Pi,
    Generic,
}

impl Agent {
    pub const ALL: [Agent; 7] = [
        Agent::ClaudeCode,
        Agent::Codex,
        Agent::GeminiCli,
        Agent::CopilotCli,
        Agent::Opencode,
        Agent::Pi,
        Agent::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude_code",
            Agent::Codex => "codex",
            Agent::GeminiCli => "gemini_cli",
            Agent::CopilotCli => "copilot_cli",
            Agent::Opencode => "opencode",
            Agent::Pi => "pi",
            Agent::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of event, in DESIGN.md's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    SessionStarted,
    Prompt,
    ApiRequest,
    ApiError,
    ToolStarted,
    ToolFinished,
    ToolDecision,
    /// The agent asked the user to allow a tool and is waiting for the answer.
    PermissionRequested,
    /// The agent asked the user a question (or an MCP elicitation) and is waiting for it.
    InputRequested,
    AssistantResponse,
    TurnFinished,
    TurnFailed,
    SubagentStarted,
    SubagentFinished,
    SessionEnded,
    StateChanged,
    /// Someone asked the observatory to interrupt, kill or restart the agent (`name` is the
    /// action, `detail` who asked).
    ControlRequested,
    /// What the observatory did about it (`name` the action, `success`, `detail` what was done).
    ControlFinished,
    /// A sign of life that is no fact of its own (a streamed chunk, a message shown, a busy
    /// status): the tracker notes the activity and does not store it.
    Heartbeat,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SessionStarted => "session_started",
            EventKind::Prompt => "prompt",
            EventKind::ApiRequest => "api_request",
            EventKind::ApiError => "api_error",
            EventKind::ToolStarted => "tool_started",
            EventKind::ToolFinished => "tool_finished",
            EventKind::ToolDecision => "tool_decision",
            EventKind::PermissionRequested => "permission_requested",
            EventKind::InputRequested => "input_requested",
            EventKind::AssistantResponse => "assistant_response",
            EventKind::TurnFinished => "turn_finished",
            EventKind::TurnFailed => "turn_failed",
            EventKind::SubagentStarted => "subagent_started",
            EventKind::SubagentFinished => "subagent_finished",
            EventKind::SessionEnded => "session_ended",
            EventKind::StateChanged => "state_changed",
            EventKind::ControlRequested => "control_requested",
            EventKind::ControlFinished => "control_finished",
            EventKind::Heartbeat => "heartbeat",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        use EventKind::*;
        [
            SessionStarted,
            Prompt,
            ApiRequest,
            ApiError,
            ToolStarted,
            ToolFinished,
            ToolDecision,
            PermissionRequested,
            InputRequested,
            AssistantResponse,
            TurnFinished,
            TurnFailed,
            SubagentStarted,
            SubagentFinished,
            SessionEnded,
            StateChanged,
            ControlRequested,
            ControlFinished,
            Heartbeat,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A decoded OTLP export request of any signal: what the receivers hand on, whatever the wire.
pub enum Request {
    Logs(ExportLogsServiceRequest),
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

impl Request {
    /// The request as OTLP protobuf (what it was, whatever encoding it arrived in).
    pub fn encode_to_vec(&self) -> Vec<u8> {
        use prost::Message;
        match self {
            Request::Logs(r) => r.encode_to_vec(),
            Request::Traces(r) => r.encode_to_vec(),
            Request::Metrics(r) => r.encode_to_vec(),
        }
    }

    pub fn signal(&self) -> Signal {
        match self {
            Request::Logs(_) => Signal::Logs,
            Request::Traces(_) => Signal::Traces,
            Request::Metrics(_) => Signal::Metrics,
        }
    }
}

/// One agent's OTLP adapter: a reader per signal, each a pure function of one scope's records.
pub struct OtlpAdapter {
    pub logs: fn(Vec<LogRecord>, &mut Sink),
    pub spans: fn(Vec<Span>, &mut Sink),
    pub metrics: fn(Vec<Metric>, &mut Sink),
}

/// The OTLP signal a record came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Logs,
    Traces,
    Metrics,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    /// The `source` an event from this signal carries.
    pub fn source(self) -> &'static str {
        match self {
            Signal::Logs => "otlp_logs",
            Signal::Traces => "otlp_traces",
            Signal::Metrics => "otlp_metrics",
        }
    }
}

/// One normalized fact about one session, before the tracker gives it a `seq`.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionEvent {
    pub agent: Agent,
    pub native_id: String,
    /// Names the fact when the agent reports it twice (a log and a span for the same tool call):
    /// the tracker keeps the first and drops the rest. `None` for facts reported once. Every
    /// source uses the same names, so hooks and telemetry meet: `tool:<tool call id>`,
    /// `api:<request id>`, `api_error:<request id>`, `turn_failed:<turn id>`.
    pub fact_key: Option<String>,
    /// `service.version` of the resource, kept on the session.
    pub service_version: Option<String>,
    /// Working directory / project, where the telemetry tells it.
    pub cwd: Option<String>,
    /// Which key space `event.turn_id` is in (see [`TurnRef`]).
    pub turn_ref: TurnRef,
    /// The agent's process, when a hook reported it: the tracker watches it for liveness.
    pub process: Option<Process>,
    /// The stored form; `seq` and `session_id` are filled in by the tracker.
    pub event: Event,
    /// `event.attributes`, already encoded as protobuf (see [`SessionEvent::seal`]); empty
    /// until sealed.
    pub encoded_attributes: Vec<u8>,
}

impl SessionEvent {
    pub fn new(
        agent: Agent,
        native_id: impl Into<String>,
        kind: EventKind,
        signal: Signal,
    ) -> Self {
        SessionEvent {
            agent,
            native_id: native_id.into(),
            fact_key: None,
            service_version: None,
            cwd: None,
            turn_ref: TurnRef::Shared,
            process: None,
            event: Event {
                kind: kind.as_str().to_owned(),
                source: signal.source().to_owned(),
                ..Event::default()
            },
            encoded_attributes: Vec::new(),
        }
    }

    /// Encodes and compresses the attributes ([`packed`]), the bulk of a stored event, and drops
    /// them from `event`. Ingest workers call this, in parallel, so that the single store writer
    /// only appends the bytes
    /// (a protobuf message may be written as the concatenation of its fields) and never copies
    /// or frees the attribute lists itself.
    pub fn seal(&mut self) {
        self.encoded_attributes = packed::pack(std::mem::take(&mut self.event.attributes));
    }

    pub fn session_id(&self) -> String {
        session_id(self.agent, &self.native_id)
    }

    pub fn kind(&self) -> Option<EventKind> {
        EventKind::parse(&self.event.kind)
    }
}

/// How an event names its turn. Telemetry and hooks agree on turn ids for some agents (Claude
/// Code `prompt.id`, Copilot's trace id) and not for others (Codex hooks know `turn_id`, its logs
/// only a trace id; Gemini, OpenCode and Pi hooks name no turn at all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TurnRef {
    /// `turn_id` is the key telemetry uses too; empty means the turn in progress.
    #[default]
    Shared,
    /// `turn_id` is a key only hooks use; empty means the turn in progress. A prompt of this kind
    /// opens a turn that the telemetry's own key for the same prompt then joins.
    Hook,
}

/// An agent's process as `observatory hook` found it: the pid, and its start time (clock ticks
/// after boot, `/proc/<pid>/stat` field 22) so a reused pid is not taken for the same process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub start_ticks: u64,
}

/// The API's id of a session: `<agent>:<native id>`.
pub fn session_id(agent: Agent, native_id: &str) -> String {
    format!("{}:{}", agent.as_str(), native_id)
}

/// Counts of records per (agent, signal), as normalization saw them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecordTally {
    /// Records read (log records, spans, metric data points).
    pub records: u64,
    /// Records that belong to no session (no session id anywhere): counted and dropped.
    pub unattributed: u64,
    /// Records that belong to a session but carry nothing we keep (internal spans, housekeeping).
    pub ignored: u64,
}

/// The result of normalizing one request.
#[derive(Debug, Default)]
pub struct Normalized {
    pub events: Vec<SessionEvent>,
    pub tally: BTreeMap<(Agent, Signal), RecordTally>,
}

/// What an adapter needs to know about the resource and scope its records came from.
pub struct Ctx<'a> {
    pub agent: Agent,
    pub signal: Signal,
    pub resource: Attrs<'a>,
    pub scope_name: &'a str,
    pub service_version: Option<&'a str>,
    pub prices: &'a Prices,
}

/// Where an adapter puts what it made of a resource's records.
pub struct Sink<'a> {
    pub ctx: Ctx<'a>,
    events: &'a mut Vec<SessionEvent>,
    tally: &'a mut RecordTally,
}

impl<'a> Sink<'a> {
    /// A new event of this resource's agent and signal, with its service version filled in.
    pub fn event(&self, native_id: impl Into<String>, kind: EventKind) -> SessionEvent {
        let mut e = SessionEvent::new(self.ctx.agent, native_id, kind, self.ctx.signal);
        e.service_version = self.ctx.service_version.map(str::to_owned);
        e
    }

    pub fn push(&mut self, event: SessionEvent) {
        self.events.push(event);
    }

    /// A record that carries no session id: counted, dropped.
    pub fn unattributed(&mut self) {
        self.tally.unattributed += 1;
    }

    /// A record of a session that carries nothing we keep.
    pub fn ignored(&mut self) {
        self.tally.ignored += 1;
    }
}

impl<'a> Ctx<'a> {
    /// The context of one scope's records, read by `agent`'s adapter.
    pub fn new(
        agent: Agent,
        signal: Signal,
        resource: Attrs<'a>,
        scope_name: &'a str,
        prices: &'a Prices,
    ) -> Ctx<'a> {
        Ctx {
            agent,
            signal,
            service_version: resource.str("service.version"),
            resource,
            scope_name,
            prices,
        }
    }
}

/// A resource's attributes (none when the resource is absent).
pub fn resource_attrs(resource: &Option<Resource>) -> Attrs<'_> {
    Attrs(
        resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]),
    )
}

/// A scope's name ("" when the scope is absent).
pub fn scope_name(scope: &Option<InstrumentationScope>) -> &str {
    scope.as_ref().map(|s| s.name.as_str()).unwrap_or("")
}

/// Where `ctx`'s adapter puts what it makes of `records` records (counted as read).
pub fn sink<'a>(ctx: Ctx<'a>, out: &'a mut Normalized, records: usize) -> Sink<'a> {
    let tally = out.tally.entry((ctx.agent, ctx.signal)).or_default();
    tally.records += records as u64;
    Sink {
        ctx,
        events: &mut out.events,
        tally,
    }
}

/// A protobuf `fixed64` time as the signed nanoseconds we store; 0 (unknown) when out of range.
pub(crate) fn nanos(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(0)
}

/// A log record's time: `time_unix_nano`, else `observed_time_unix_nano`; 0 when neither is set.
pub(crate) fn log_time(r: &LogRecord) -> i64 {
    nanos(if r.time_unix_nano != 0 {
        r.time_unix_nano
    } else {
        r.observed_time_unix_nano
    })
}

/// How long a span lasted, when both ends are known and in order.
pub(crate) fn span_ms(span: &Span) -> Option<f64> {
    (span.start_time_unix_nano > 0 && span.end_time_unix_nano >= span.start_time_unix_nano)
        .then(|| (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / 1e6)
}

/// A trace or span id as lowercase hex; `None` when absent or all zero (no trace context).
pub(crate) fn id_hex(id: &[u8]) -> Option<String> {
    id.iter().any(|b| *b != 0).then(|| hex::encode(id))
}

/// How many data points a metric carries: the unit OTLP counts metrics in.
pub fn data_points(m: &Metric) -> usize {
    use crate::proto::metrics::metric::Data;
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// The attributes of each data point of a metric, whatever its type.
pub fn data_point_attributes(m: &Metric) -> Vec<&[KeyValue]> {
    use crate::proto::metrics::metric::Data;
    match &m.data {
        Some(Data::Gauge(g)) => g
            .data_points
            .iter()
            .map(|p| p.attributes.as_slice())
            .collect(),
        Some(Data::Sum(s)) => s
            .data_points
            .iter()
            .map(|p| p.attributes.as_slice())
            .collect(),
        Some(Data::Histogram(h)) => h
            .data_points
            .iter()
            .map(|p| p.attributes.as_slice())
            .collect(),
        Some(Data::ExponentialHistogram(h)) => h
            .data_points
            .iter()
            .map(|p| p.attributes.as_slice())
            .collect(),
        Some(Data::Summary(s)) => s
            .data_points
            .iter()
            .map(|p| p.attributes.as_slice())
            .collect(),
        None => Vec::new(),
    }
}
