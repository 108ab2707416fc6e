//! The observatory's own session events as OTLP log records, for a team's stack: one record per
//! committed event, body = its kind, attributes under stable names (documented in the README):
//! `observatory.session.id`, `observatory.agent`, `observatory.event.kind`, `observatory.event.seq`,
//! `observatory.run`, and when the event has them `observatory.turn.id`, `observatory.tool.name`,
//! `observatory.tool.success`, `observatory.duration_ms`, `observatory.model`,
//! `observatory.tokens.{input,output,cache_read,cache_write}`, `observatory.cost_usd`,
//! `observatory.status_code`, `observatory.error`, `observatory.state`,
//! `observatory.previous_state`, `observatory.reason`, `observatory.detail`. The resource says
//! `service.name = agent-observatory`, its version and `host.name`; the scope is
//! `observatory.sessions`. The agents' original attributes are not repeated: they go upstream
//! as received.

use prost::Message;

use crate::proto::ExportLogsServiceRequest;
use crate::proto::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use crate::proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::resource::Resource;
use crate::proto::store::Event;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(out: &mut Vec<KeyValue>, key: &str, v: &str) {
    if !v.is_empty() {
        out.push(kv(key, Value::StringValue(v.to_owned())));
    }
}

fn record(e: &Event) -> LogRecord {
    let mut a = Vec::with_capacity(12);
    text(&mut a, "observatory.session.id", &e.session_id);
    text(
        &mut a,
        "observatory.agent",
        e.session_id.split(':').next().unwrap_or_default(),
    );
    text(&mut a, "observatory.event.kind", &e.kind);
    a.push(kv(
        "observatory.event.seq",
        Value::IntValue(i64::try_from(e.seq).unwrap_or(i64::MAX)),
    ));
    a.push(kv("observatory.run", Value::IntValue(i64::from(e.run))));
    text(&mut a, "observatory.turn.id", &e.turn_id);
    text(&mut a, "observatory.tool.name", &e.tool_name);
    if let Some(ok) = e.success {
        a.push(kv("observatory.tool.success", Value::BoolValue(ok)));
    }
    if let Some(ms) = e.duration_ms {
        a.push(kv("observatory.duration_ms", Value::DoubleValue(ms)));
    }
    text(&mut a, "observatory.model", &e.model);
    if let Some(t) = e.tokens {
        for (k, n) in [
            ("input", t.input),
            ("output", t.output),
            ("cache_read", t.cache_read),
            ("cache_write", t.cache_write),
        ] {
            a.push(kv(
                &format!("observatory.tokens.{k}"),
                Value::IntValue(i64::try_from(n).unwrap_or(i64::MAX)),
            ));
        }
    }
    if let Some(c) = e.cost_usd {
        a.push(kv("observatory.cost_usd", Value::DoubleValue(c)));
    }
    if let Some(s) = e.status_code {
        a.push(kv("observatory.status_code", Value::IntValue(i64::from(s))));
    }
    text(&mut a, "observatory.error", &e.error);
    text(&mut a, "observatory.state", &e.state);
    text(&mut a, "observatory.previous_state", &e.previous_state);
    text(&mut a, "observatory.reason", &e.reason);
    text(&mut a, "observatory.detail", &e.detail);
    let time = u64::try_from(e.time_unix_nano).unwrap_or(0);
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: time,
        event_name: e.kind.clone(),
        body: Some(AnyValue {
            value: Some(Value::StringValue(e.kind.clone())),
        }),
        attributes: a,
        ..Default::default()
    }
}

/// The committed `events` as one encoded export request (`None` for none).
pub fn request(events: &[Event], host: &str) -> Option<Vec<u8>> {
    if events.is_empty() {
        return None;
    }
    let resource = Resource {
        attributes: vec![
            kv(
                "service.name",
                Value::StringValue("agent-observatory".into()),
            ),
            kv(
                "service.version",
                Value::StringValue(env!("CARGO_PKG_VERSION").into()),
            ),
            kv("host.name", Value::StringValue(host.to_owned())),
        ],
        ..Default::default()
    };
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "observatory.sessions".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                log_records: events.iter().map(record).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Some(request.encode_to_vec())
}

/// This machine's name, for `host.name`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
