//! What the OTLP/JSON layer knows of the OTLP schema: for each message, the fields whose JSON it
//! rewrites or checks before the crate's serde reads them (nested messages, integers, doubles,
//! enums, ids, bytes), its oneof, and the fields the crate's serde insists on although OTLP lets a
//! client leave them out. Strings, booleans and fields not listed here are left to serde, and
//! serde skips fields it does not know, as the Collector does.

use super::tree::Json;
use crate::proto::logs::SeverityNumber;
use crate::proto::metrics::AggregationTemporality;
use crate::proto::trace::span::SpanKind;
use crate::proto::trace::status::StatusCode;

/// An OTLP message, named as in the .proto files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    ExportLogsRequest,
    ExportTracesRequest,
    ExportMetricsRequest,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
    ResourceSpans,
    ScopeSpans,
    Span,
    SpanEvent,
    SpanLink,
    Status,
    ResourceMetrics,
    ScopeMetrics,
    Metric,
    Gauge,
    Sum,
    Histogram,
    ExponentialHistogram,
    Summary,
    NumberDataPoint,
    HistogramDataPoint,
    ExponentialHistogramDataPoint,
    Buckets,
    SummaryDataPoint,
    ValueAtQuantile,
    Exemplar,
    Resource,
    EntityRef,
    InstrumentationScope,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

/// A protobuf integer type, with its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int {
    U32,
    I32,
    U64,
    I64,
}

impl Int {
    pub fn name(self) -> &'static str {
        match self {
            Int::U32 => "uint32",
            Int::I32 => "int32",
            Int::U64 => "uint64",
            Int::I64 => "int64",
        }
    }

    pub fn range(self) -> (i128, i128) {
        match self {
            Int::U32 => (0, u32::MAX.into()),
            Int::I32 => (i32::MIN.into(), i32::MAX.into()),
            Int::U64 => (0, u64::MAX.into()),
            Int::I64 => (i64::MIN.into(), i64::MAX.into()),
        }
    }
}

/// What a field holds, as far as the layer is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Message(Msg),
    Messages(Msg),
    Int(Int),
    Ints(Int),
    Double,
    Doubles,
    Enum(Enum),
    /// A trace or span id of this many bytes, in hex.
    Id(usize),
    /// Base64.
    Bytes,
    /// Checked here only where serde would report it without a path (inside a oneof).
    Str,
    Bool,
    /// A list of strings, where the Collector reads null as "".
    Strs,
}

/// An OTLP enum, which OTLP/JSON may give by number or by value name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enum {
    SeverityNumber,
    SpanKind,
    StatusCode,
    AggregationTemporality,
}

impl Enum {
    /// The number of the value named `name` (`"SPAN_KIND_SERVER"`).
    pub fn number(self, name: &str) -> Option<i32> {
        match self {
            Enum::SeverityNumber => SeverityNumber::from_str_name(name).map(|v| v as i32),
            Enum::SpanKind => SpanKind::from_str_name(name).map(|v| v as i32),
            Enum::StatusCode => StatusCode::from_str_name(name).map(|v| v as i32),
            Enum::AggregationTemporality => {
                AggregationTemporality::from_str_name(name).map(|v| v as i32)
            }
        }
    }

    /// A value name, for error messages.
    pub fn example(self) -> &'static str {
        match self {
            Enum::SeverityNumber => SeverityNumber::Info.as_str_name(),
            Enum::SpanKind => SpanKind::Server.as_str_name(),
            Enum::StatusCode => StatusCode::Error.as_str_name(),
            Enum::AggregationTemporality => AggregationTemporality::Delta.as_str_name(),
        }
    }
}

const TRACE_ID: Kind = Kind::Id(16);
const SPAN_ID: Kind = Kind::Id(8);

/// The kind of `msg`'s field `key` (lowerCamelCase), if the layer has anything to do with it.
pub fn field(msg: Msg, key: &str) -> Option<Kind> {
    envelope(msg, key)
        .or_else(|| logs_and_traces(msg, key))
        .or_else(|| metrics(msg, key))
        .or_else(|| common(msg, key))
}

/// Requests, resources and scopes: the levels every signal has.
fn envelope(msg: Msg, key: &str) -> Option<Kind> {
    use Kind::*;
    use Msg as M;
    Some(match (msg, key) {
        (M::ExportLogsRequest, "resourceLogs") => Messages(M::ResourceLogs),
        (M::ExportTracesRequest, "resourceSpans") => Messages(M::ResourceSpans),
        (M::ExportMetricsRequest, "resourceMetrics") => Messages(M::ResourceMetrics),
        (M::ResourceLogs | M::ResourceSpans | M::ResourceMetrics, "resource") => {
            Message(M::Resource)
        }
        (M::ResourceLogs, "scopeLogs") => Messages(M::ScopeLogs),
        (M::ResourceSpans, "scopeSpans") => Messages(M::ScopeSpans),
        (M::ResourceMetrics, "scopeMetrics") => Messages(M::ScopeMetrics),
        (M::ScopeLogs | M::ScopeSpans | M::ScopeMetrics, "scope") => {
            Message(M::InstrumentationScope)
        }
        (M::ScopeLogs, "logRecords") => Messages(M::LogRecord),
        (M::ScopeSpans, "spans") => Messages(M::Span),
        (M::ScopeMetrics, "metrics") => Messages(M::Metric),
        (M::Resource, "entityRefs") => Messages(M::EntityRef),
        (M::EntityRef, "idKeys" | "descriptionKeys") => Strs,
        _ => return None,
    })
}

/// Log records and spans.
fn logs_and_traces(msg: Msg, key: &str) -> Option<Kind> {
    use Kind::*;
    use Msg as M;
    Some(match (msg, key) {
        (M::LogRecord, "body") => Message(M::AnyValue),
        (M::LogRecord, "severityNumber") => Enum(self::Enum::SeverityNumber),
        (M::LogRecord, "observedTimeUnixNano") | (M::Span, "endTimeUnixNano") => {
            Int(self::Int::U64)
        }
        (M::LogRecord | M::Span | M::SpanLink | M::Exemplar, "traceId") => TRACE_ID,
        (M::LogRecord | M::Span | M::SpanLink | M::Exemplar, "spanId") => SPAN_ID,
        (M::Span, "parentSpanId") => SPAN_ID,
        (M::Span, "kind") => Enum(self::Enum::SpanKind),
        (M::Span, "events") => Messages(M::SpanEvent),
        (M::Span, "links") => Messages(M::SpanLink),
        (M::Span, "status") => Message(M::Status),
        (M::Span, "droppedEventsCount" | "droppedLinksCount") => Int(self::Int::U32),
        (M::Status, "code") => Enum(self::Enum::StatusCode),
        _ => return None,
    })
}

/// Metrics, their data and its data points.
fn metrics(msg: Msg, key: &str) -> Option<Kind> {
    use Kind::*;
    use Msg as M;
    let histogram_point = matches!(
        msg,
        M::HistogramDataPoint | M::ExponentialHistogramDataPoint
    );
    Some(match (msg, key) {
        (M::Metric, "gauge") => Message(M::Gauge),
        (M::Metric, "sum") => Message(M::Sum),
        (M::Metric, "histogram") => Message(M::Histogram),
        (M::Metric, "exponentialHistogram") => Message(M::ExponentialHistogram),
        (M::Metric, "summary") => Message(M::Summary),
        (M::Metric, "metadata") => Messages(M::KeyValue),
        (M::Gauge | M::Sum, "dataPoints") => Messages(M::NumberDataPoint),
        (M::Histogram, "dataPoints") => Messages(M::HistogramDataPoint),
        (M::ExponentialHistogram, "dataPoints") => Messages(M::ExponentialHistogramDataPoint),
        (M::Summary, "dataPoints") => Messages(M::SummaryDataPoint),
        (M::Sum | M::Histogram | M::ExponentialHistogram, "aggregationTemporality") => {
            Enum(self::Enum::AggregationTemporality)
        }
        (M::NumberDataPoint | M::Exemplar, "asDouble") => Double,
        (M::NumberDataPoint | M::Exemplar, "asInt") => Int(self::Int::I64),
        (M::Exemplar, "filteredAttributes") => Messages(M::KeyValue),
        (M::NumberDataPoint, "exemplars") => Messages(M::Exemplar),
        (_, "exemplars") if histogram_point => Messages(M::Exemplar),
        (M::SummaryDataPoint, "count") => Int(self::Int::U64),
        (M::SummaryDataPoint, "sum") => Double,
        (_, "count") if histogram_point => Int(self::Int::U64),
        (M::ExponentialHistogramDataPoint, "zeroCount") => Int(self::Int::U64),
        (_, "sum" | "min" | "max") if histogram_point => Double,
        (M::ExponentialHistogramDataPoint, "zeroThreshold") => Double,
        (M::ValueAtQuantile, "quantile" | "value") => Double,
        (M::HistogramDataPoint | M::Buckets, "bucketCounts") => Ints(self::Int::U64),
        (M::HistogramDataPoint, "explicitBounds") => Doubles,
        (M::ExponentialHistogramDataPoint, "scale") | (M::Buckets, "offset") => Int(self::Int::I32),
        (M::ExponentialHistogramDataPoint, "positive" | "negative") => Message(M::Buckets),
        (M::SummaryDataPoint, "quantileValues") => Messages(M::ValueAtQuantile),
        (_, "startTimeUnixNano") if is_point(msg) => Int(self::Int::U64),
        _ => return None,
    })
}

/// Fields of several messages across signals: attributes, times, flags, and the common types.
fn common(msg: Msg, key: &str) -> Option<Kind> {
    use Kind::*;
    use Msg as M;
    // Which messages have the field, besides the data points.
    let counts_dropped = matches!(
        msg,
        M::Resource | M::InstrumentationScope | M::LogRecord | M::Span | M::SpanEvent | M::SpanLink
    );
    let with_attributes = counts_dropped || is_point(msg);
    let with_flags = is_point(msg) || matches!(msg, M::LogRecord | M::Span | M::SpanLink);
    let timed = is_point(msg) || matches!(msg, M::LogRecord | M::SpanEvent | M::Exemplar);
    Some(match (msg, key) {
        (_, "attributes") if with_attributes => Messages(M::KeyValue),
        (_, "droppedAttributesCount") if counts_dropped => Int(self::Int::U32),
        (_, "flags") if with_flags => Int(self::Int::U32),
        (_, "timeUnixNano") if timed => Int(self::Int::U64),
        (M::Span, "startTimeUnixNano") => Int(self::Int::U64),
        (M::KeyValue, "value") => Message(M::AnyValue),
        (M::KeyValue, "keyStrindex") => Int(self::Int::I32),
        (M::KeyValueList, "values") => Messages(M::KeyValue),
        (M::ArrayValue, "values") => Messages(M::AnyValue),
        (M::AnyValue, "stringValue") => Str,
        (M::AnyValue, "boolValue") => Bool,
        (M::AnyValue, "intValue") => Int(self::Int::I64),
        (M::AnyValue, "doubleValue") => Double,
        (M::AnyValue, "arrayValue") => Message(M::ArrayValue),
        (M::AnyValue, "kvlistValue") => Message(M::KeyValueList),
        (M::AnyValue, "bytesValue") => Bytes,
        _ => return None,
    })
}

/// Whether `msg` is a metric data point.
fn is_point(msg: Msg) -> bool {
    matches!(
        msg,
        Msg::NumberDataPoint
            | Msg::HistogramDataPoint
            | Msg::ExponentialHistogramDataPoint
            | Msg::SummaryDataPoint
    )
}

/// The members of `msg`'s oneof, of which the last one in the document wins.
pub fn oneof(msg: Msg) -> &'static [&'static str] {
    match msg {
        Msg::AnyValue => &[
            "stringValue",
            "boolValue",
            "intValue",
            "doubleValue",
            "arrayValue",
            "kvlistValue",
            "bytesValue",
        ],
        Msg::Metric => &[
            "gauge",
            "sum",
            "histogram",
            "exponentialHistogram",
            "summary",
        ],
        Msg::NumberDataPoint | Msg::Exemplar => &["asDouble", "asInt"],
        _ => &[],
    }
}

/// Fields the crate's serde cannot do without (its struct has no `#[serde(default)]`), with the
/// value an absent one has in OTLP.
pub fn required(msg: Msg) -> &'static [(&'static str, Json)] {
    static KEY_VALUE: [(&str, Json); 1] = [("key", Json::Str(String::new()))];
    static VALUES: [(&str, Json); 1] = [("values", Json::List(Vec::new()))];
    static ENTITY_REF: [(&str, Json); 4] = [
        ("schemaUrl", Json::Str(String::new())),
        ("type", Json::Str(String::new())),
        ("idKeys", Json::List(Vec::new())),
        ("descriptionKeys", Json::List(Vec::new())),
    ];
    match msg {
        Msg::KeyValue => &KEY_VALUE,
        Msg::ArrayValue | Msg::KeyValueList => &VALUES,
        Msg::EntityRef => &ENTITY_REF,
        _ => &[],
    }
}
