//! Builders of OTLP records for tests and load: attributes, log records, export requests; and
//! the count of records in a request.

use crate::normalize::{Request, data_points};
use crate::proto::ExportLogsServiceRequest;
use crate::proto::common::{AnyValue, KeyValue, any_value::Value};
use crate::proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::resource::Resource;

/// An attribute.
pub fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub use crate::normalize::attrs::kv_str;

/// Replaces the value of `key` with a string when the list has it (a template record keeps its
/// shape); whether it had it.
pub fn replace_str(attributes: &mut [KeyValue], key: &str, value: String) -> bool {
    let found = attributes.iter_mut().find(|kv| kv.key == key);
    let had = found.is_some();
    if let Some(kv) = found {
        kv.value = Some(AnyValue {
            value: Some(Value::StringValue(value)),
        });
    }
    had
}

/// A log record at `time_unix_nano` (observed then too) with `body` as its string body.
pub fn log_record(time_unix_nano: u64, body: &str, attributes: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time_unix_nano,
        observed_time_unix_nano: time_unix_nano,
        body: Some(AnyValue {
            value: Some(Value::StringValue(body.to_owned())),
        }),
        attributes,
        ..Default::default()
    }
}

/// An export of `records` from one resource whose `service.name` is `service`.
pub fn logs_request(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv_str("service.name", service)],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The records in a request, as OTLP counts them: log records, spans, metric data points.
pub fn records(request: &Request) -> usize {
    match request {
        Request::Logs(r) => r
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum(),
        Request::Traces(r) => r
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum(),
        Request::Metrics(r) => r
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(data_points)
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::attrs::Attrs;

    #[test]
    fn attributes_are_replaced_and_requests_built() {
        let mut attrs = vec![kv_str("a", "1")];
        assert!(replace_str(&mut attrs, "a", "2".into()));
        assert!(!replace_str(&mut attrs, "b", "3".into()));
        assert_eq!(
            (Attrs(&attrs).str("a"), Attrs(&attrs).str("b")),
            (Some("2"), None)
        );
        let req = logs_request("claude-code", vec![log_record(7, "x", attrs)]);
        let rl = &req.resource_logs[0];
        let resource = &rl.resource.as_ref().expect("resource").attributes;
        assert_eq!(Attrs(resource).str("service.name"), Some("claude-code"));
        assert_eq!(rl.scope_logs[0].log_records[0].observed_time_unix_nano, 7);
    }
}
