//! OTLP/JSON decoding: turns an `application/json` export body into the same prost request the
//! protobuf path produces, so everything after the HTTP receiver sees one shape.
//!
//! The body is parsed into a `serde_json::Value` and walked by hand rather than derived, because
//! OTLP/JSON departs from the plain proto3 JSON mapping in ways a derive gets wrong: trace and
//! span ids are hex (not base64), enums must be integers, and a snake_case key is a client bug we
//! refuse instead of silently dropping the data under it. Every error names the JSON path of the
//! offending value, so the agent's operator can find it in the exporter's output.
//!
//! Whole-request errors become [`JsonError`] (HTTP 400). Metrics that carry no data are the one
//! partial rejection: they are dropped and counted in [`Decoded::rejected`] for `partial_success`.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use super::Request;
use crate::normalize::Signal;
use crate::proto::common::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use crate::proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::metrics::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point, metric, number_data_point,
    summary_data_point,
};
use crate::proto::resource::Resource;
use crate::proto::trace::{ResourceSpans, ScopeSpans, Span, Status, span};
use crate::proto::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};

/// A decoded request, with what decoding refused inside it.
pub struct Decoded {
    pub request: Request,
    /// Records (log records, spans, data points) refused while decoding, for `partial_success`.
    pub rejected: u64,
    /// What was wrong with the refused records, for `partial_success.error_message`.
    pub problems: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// Decodes an OTLP/JSON export request for `signal`. The body must already be inflated.
pub fn decode(signal: Signal, body: &[u8]) -> Result<Decoded, JsonError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| JsonError(format!("invalid JSON in OTLP/JSON request: {e}")))?;
    let root = Path::Root;
    let top = match value {
        Value::Object(map) => map,
        other => {
            return Err(fail(
                &root,
                format!("expected a JSON object, got {}", got(&other)),
            ));
        }
    };
    let mut cx = Cx::default();
    let request = match signal {
        Signal::Logs => Request::Logs(logs_request(top, &root, &mut cx)?),
        Signal::Traces => Request::Traces(traces_request(top, &root, &mut cx)?),
        Signal::Metrics => Request::Metrics(metrics_request(top, &root, &mut cx)?),
    };
    if cx.records == 0 {
        let (what, key) = match signal {
            Signal::Logs => ("log records", "resourceLogs"),
            Signal::Traces => ("spans", "resourceSpans"),
            Signal::Metrics => ("metrics", "resourceMetrics"),
        };
        let mut message = format!(
            "request holds no {what}: an export with nothing in it is useless and most likely a client bug \
             (expected {key:?} holding at least one of them"
        );
        if let Some(ignored) = &cx.ignored {
            message.push_str("; ignored ");
            message.push_str(ignored);
        }
        message.push(')');
        return Err(JsonError(message));
    }
    let mut problems = cx.problems;
    if cx.unlisted > 0 {
        problems.push(format!("and {} more", cx.unlisted));
    }
    Ok(Decoded {
        request,
        rejected: cx.rejected,
        problems,
    })
}

/// Bytes in a trace id and a span id; OTLP/JSON spells them as twice as many hex characters.
const TRACE_ID_BYTES: usize = 16;
const SPAN_ID_BYTES: usize = 8;

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: a number data point that legitimately has no value.
const NO_RECORDED_VALUE: u32 = 1;

/// Problem lines kept for `partial_success.error_message`; a body full of empty metrics must not
/// turn into an equally large response.
const MAX_PROBLEMS: usize = 10;

/// What the walk learns besides the request itself.
#[derive(Default)]
struct Cx {
    /// Log records, spans or metrics seen, rejected ones included: zero means the export was empty.
    records: u64,
    rejected: u64,
    problems: Vec<String>,
    /// Problems beyond `MAX_PROBLEMS`, reported as a count.
    unlisted: u64,
    /// The first unknown key skipped, with where: explains an empty request (a traces body
    /// posted to the logs endpoint, an exporter from before a rename).
    ignored: Option<String>,
}

impl Cx {
    fn reject(&mut self, count: u64, problem: String) {
        self.rejected += count;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.unlisted += 1;
        }
    }
}

/// Where a value sits in the body, built on the stack as the walk descends and rendered only
/// when something is wrong (`resourceLogs[0].scopeLogs[1].logRecords[3].timeUnixNano`).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => f.write_str("top level"),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn fail(path: &Path, message: impl fmt::Display) -> JsonError {
    JsonError(format!("{path}: {message}"))
}

/// A short description of a value for an error message: scalars verbatim (long strings cut),
/// containers by kind, so a bad value never echoes a megabyte back.
fn got(v: &Value) -> String {
    const MAX_CHARS: usize = 40;
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => match s.char_indices().nth(MAX_CHARS) {
            Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
            None => format!("{s:?}"),
        },
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A key no field of this message answers to. The spec says to ignore it, but the snake_case
/// spelling of a known field means the client used the proto names, and ignoring that would
/// silently drop its data, so that one is an error.
fn unknown(key: &str, path: &Path, known: &[&str], cx: &mut Cx) -> Result<(), JsonError> {
    if key.contains('_') {
        let camel = lower_camel(key);
        if known.contains(&camel.as_str()) {
            return Err(fail(
                path,
                format_args!("unknown key {key:?} (OTLP/JSON uses lowerCamelCase: {camel:?})"),
            ));
        }
    }
    if cx.ignored.is_none() {
        cx.ignored = Some(format!("unknown key {key:?} at {path}"));
    }
    Ok(())
}

fn lower_camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

// ---- JSON shapes -------------------------------------------------------------------------------

fn object(v: Value, path: &Path) -> Result<Map<String, Value>, JsonError> {
    match v {
        Value::Object(map) => Ok(map),
        other => Err(fail(
            path,
            format_args!("expected an object, got {}", got(&other)),
        )),
    }
}

/// A message-typed field: `null` means absent.
fn optional<T>(
    v: Value,
    path: &Path,
    cx: &mut Cx,
    item: impl FnOnce(Value, &Path, &mut Cx) -> Result<T, JsonError>,
) -> Result<Option<T>, JsonError> {
    if v.is_null() {
        Ok(None)
    } else {
        item(v, path, cx).map(Some)
    }
}

/// A repeated field: `null` means empty; a `null` element is an error, as there is no default to
/// put in its place without shifting the meaning of the others.
fn list<T>(
    v: Value,
    path: &Path,
    cx: &mut Cx,
    mut item: impl FnMut(Value, &Path, &mut Cx) -> Result<T, JsonError>,
) -> Result<Vec<T>, JsonError> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(fail(
                path,
                format_args!("expected an array, got {}", got(&other)),
            ));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.into_iter().enumerate() {
        let p = path.index(i);
        if v.is_null() {
            return Err(fail(&p, "null is not allowed as an array element"));
        }
        out.push(item(v, &p, cx)?);
    }
    Ok(out)
}

/// Sets one member of a oneof, refusing a second: which one wins would be the client's guess.
fn one_of<T>(
    slot: &mut Option<(&'static str, T)>,
    key: &'static str,
    value: T,
    path: &Path,
) -> Result<(), JsonError> {
    if let Some((first, _)) = slot {
        return Err(fail(
            path,
            format_args!("{first:?} and {key:?} are alternatives; set only one"),
        ));
    }
    *slot = Some((key, value));
    Ok(())
}

// ---- scalars -----------------------------------------------------------------------------------

fn string(v: Value, path: &Path) -> Result<String, JsonError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s),
        other => Err(fail(
            path,
            format_args!("expected a string, got {}", got(&other)),
        )),
    }
}

fn boolean(v: Value, path: &Path) -> Result<bool, JsonError> {
    match v {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(b),
        other => Err(fail(
            path,
            format_args!("expected true or false, got {}", got(&other)),
        )),
    }
}

/// A protobuf integer type, named as the .proto files name it for error messages.
trait Int: TryFrom<i128> + Default {
    const PROTO: &'static str;
}

impl Int for u64 {
    const PROTO: &'static str = "uint64";
}
impl Int for i64 {
    const PROTO: &'static str = "int64";
}
impl Int for u32 {
    const PROTO: &'static str = "uint32";
}
impl Int for i32 {
    const PROTO: &'static str = "int32";
}

/// Any integer field. Proto3 JSON allows a number (exponent notation included, as long as the
/// value is whole) or a decimal string; 64-bit values come as strings from most exporters
/// because JSON numbers lose precision past 2^53.
fn int<T: Int>(v: Value, path: &Path) -> Result<T, JsonError> {
    let wide = match &v {
        Value::Null => return Ok(T::default()),
        Value::Number(n) => n
            .as_u64()
            .map(i128::from)
            .or_else(|| n.as_i64().map(i128::from))
            // `as` saturates, and a saturated value fails the range check below.
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i128)),
        Value::String(s) => s.parse::<i128>().ok(),
        _ => None,
    };
    let Some(wide) = wide else {
        return Err(fail(
            path,
            format_args!("expected an integer or a decimal string, got {}", got(&v)),
        ));
    };
    T::try_from(wide).map_err(|_| {
        fail(
            path,
            format_args!("{} is out of range for {}", got(&v), T::PROTO),
        )
    })
}

/// An enum field. Proto3 JSON would also take the value's name, but OTLP/JSON forbids it, and
/// accepting names here would make us the one receiver a broken exporter seems to work with.
fn enumeration(v: Value, path: &Path) -> Result<i32, JsonError> {
    if let Value::String(_) = v {
        return Err(fail(
            path,
            format_args!("enum values must be integers in OTLP/JSON, got {}", got(&v)),
        ));
    }
    int(v, path)
}

/// A double: a number, or (proto3 JSON) a string holding one or "NaN", "Infinity", "-Infinity".
fn double(v: Value, path: &Path) -> Result<f64, JsonError> {
    let parsed = match &v {
        Value::Null => return Ok(0.0),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            // Rust also reads "inf" and "nan", which proto3 JSON does not allow.
            s => s.parse::<f64>().ok().filter(|f| f.is_finite()),
        },
        _ => None,
    };
    parsed.ok_or_else(|| {
        fail(
            path,
            format_args!(
                "expected a number or one of \"NaN\", \"Infinity\", \"-Infinity\", got {}",
                got(&v)
            ),
        )
    })
}

/// An `optional double`: `null` means unset, not zero.
fn optional_double(v: Value, path: &Path) -> Result<Option<f64>, JsonError> {
    if v.is_null() {
        Ok(None)
    } else {
        double(v, path).map(Some)
    }
}

/// Proto3 JSON bytes: standard or URL-safe base64, padded or not.
fn base64_bytes(v: Value, path: &Path) -> Result<Vec<u8>, JsonError> {
    const PADDING_OPTIONAL: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, PADDING_OPTIONAL);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, PADDING_OPTIONAL);
    let s = match v {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) => s,
        other => {
            return Err(fail(
                path,
                format_args!("expected a base64 string, got {}", got(&other)),
            ));
        }
    };
    match STANDARD
        .decode(&s)
        .or_else(|e| URL_SAFE.decode(&s).map_err(|_| e))
    {
        Ok(b) => Ok(b),
        Err(e) => Err(fail(
            path,
            format_args!("expected base64, got {} ({e})", got(&Value::String(s))),
        )),
    }
}

/// A trace or span id: OTLP/JSON spells these in hex, not base64. Empty means unset.
fn hex_id(v: Value, path: &Path, bytes: usize) -> Result<Vec<u8>, JsonError> {
    let s = match v {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) => s,
        other => {
            return Err(fail(
                path,
                format_args!(
                    "expected a string of {} hex characters, got {}",
                    bytes * 2,
                    got(&other)
                ),
            ));
        }
    };
    if s.is_empty() {
        return Ok(Vec::new());
    }
    match hex::decode(&s) {
        Ok(b) if b.len() == bytes => Ok(b),
        _ => Err(fail(
            path,
            format_args!(
                "expected {} hex characters, got {}",
                bytes * 2,
                got(&Value::String(s))
            ),
        )),
    }
}

// ---- common ------------------------------------------------------------------------------------

fn attributes(v: Value, path: &Path, cx: &mut Cx) -> Result<Vec<KeyValue>, JsonError> {
    list(v, path, cx, key_value)
}

fn key_value(v: Value, path: &Path, cx: &mut Cx) -> Result<KeyValue, JsonError> {
    const FIELDS: &[&str] = &["key", "value", "keyStrindex"];
    let mut out = KeyValue::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "key" => out.key = string(v, &p)?,
            "value" => out.value = optional(v, &p, cx, any_value)?,
            "keyStrindex" => out.key_strindex = int(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn any_value(v: Value, path: &Path, cx: &mut Cx) -> Result<AnyValue, JsonError> {
    use any_value::Value as V;
    const FIELDS: &[&str] = &[
        "stringValue",
        "boolValue",
        "intValue",
        "doubleValue",
        "arrayValue",
        "kvlistValue",
        "bytesValue",
        "stringValueStrindex",
    ];
    let mut value = None;
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        if v.is_null() && FIELDS.contains(&k.as_str()) {
            continue;
        }
        let (key, member) = match k.as_str() {
            "stringValue" => ("stringValue", V::StringValue(string(v, &p)?)),
            "boolValue" => ("boolValue", V::BoolValue(boolean(v, &p)?)),
            "intValue" => ("intValue", V::IntValue(int(v, &p)?)),
            "doubleValue" => ("doubleValue", V::DoubleValue(double(v, &p)?)),
            "arrayValue" => ("arrayValue", V::ArrayValue(array_value(v, &p, cx)?)),
            "kvlistValue" => ("kvlistValue", V::KvlistValue(kvlist_value(v, &p, cx)?)),
            "bytesValue" => ("bytesValue", V::BytesValue(base64_bytes(v, &p)?)),
            "stringValueStrindex" => ("stringValueStrindex", V::StringValueStrindex(int(v, &p)?)),
            _ => {
                unknown(&k, path, FIELDS, cx)?;
                continue;
            }
        };
        one_of(&mut value, key, member, path)?;
    }
    Ok(AnyValue {
        value: value.map(|(_, v)| v),
    })
}

fn array_value(v: Value, path: &Path, cx: &mut Cx) -> Result<ArrayValue, JsonError> {
    let mut out = ArrayValue::default();
    for (k, v) in object(v, path)? {
        match k.as_str() {
            "values" => out.values = list(v, &path.key(&k), cx, any_value)?,
            _ => unknown(&k, path, &["values"], cx)?,
        }
    }
    Ok(out)
}

fn kvlist_value(v: Value, path: &Path, cx: &mut Cx) -> Result<KeyValueList, JsonError> {
    let mut out = KeyValueList::default();
    for (k, v) in object(v, path)? {
        match k.as_str() {
            "values" => out.values = attributes(v, &path.key(&k), cx)?,
            _ => unknown(&k, path, &["values"], cx)?,
        }
    }
    Ok(out)
}

fn resource(v: Value, path: &Path, cx: &mut Cx) -> Result<Resource, JsonError> {
    const FIELDS: &[&str] = &["attributes", "droppedAttributesCount", "entityRefs"];
    let mut out = Resource::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "droppedAttributesCount" => out.dropped_attributes_count = int(v, &p)?,
            "entityRefs" => out.entity_refs = list(v, &p, cx, entity_ref)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn entity_ref(v: Value, path: &Path, cx: &mut Cx) -> Result<EntityRef, JsonError> {
    const FIELDS: &[&str] = &["schemaUrl", "type", "idKeys", "descriptionKeys"];
    let mut out = EntityRef::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "schemaUrl" => out.schema_url = string(v, &p)?,
            "type" => out.r#type = string(v, &p)?,
            "idKeys" => out.id_keys = list(v, &p, cx, |v, p, _| string(v, p))?,
            "descriptionKeys" => out.description_keys = list(v, &p, cx, |v, p, _| string(v, p))?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn scope(v: Value, path: &Path, cx: &mut Cx) -> Result<InstrumentationScope, JsonError> {
    const FIELDS: &[&str] = &["name", "version", "attributes", "droppedAttributesCount"];
    let mut out = InstrumentationScope::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "name" => out.name = string(v, &p)?,
            "version" => out.version = string(v, &p)?,
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "droppedAttributesCount" => out.dropped_attributes_count = int(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

// ---- logs --------------------------------------------------------------------------------------

fn logs_request(
    top: Map<String, Value>,
    path: &Path,
    cx: &mut Cx,
) -> Result<ExportLogsServiceRequest, JsonError> {
    let mut out = ExportLogsServiceRequest::default();
    for (k, v) in top {
        match k.as_str() {
            "resourceLogs" => out.resource_logs = list(v, &path.key(&k), cx, resource_logs)?,
            _ => unknown(&k, path, &["resourceLogs"], cx)?,
        }
    }
    Ok(out)
}

fn resource_logs(v: Value, path: &Path, cx: &mut Cx) -> Result<ResourceLogs, JsonError> {
    const FIELDS: &[&str] = &["resource", "scopeLogs", "schemaUrl"];
    let mut out = ResourceLogs::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "resource" => out.resource = optional(v, &p, cx, resource)?,
            "scopeLogs" => out.scope_logs = list(v, &p, cx, scope_logs)?,
            "schemaUrl" => out.schema_url = string(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn scope_logs(v: Value, path: &Path, cx: &mut Cx) -> Result<ScopeLogs, JsonError> {
    const FIELDS: &[&str] = &["scope", "logRecords", "schemaUrl"];
    let mut out = ScopeLogs::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "scope" => out.scope = optional(v, &p, cx, scope)?,
            "logRecords" => out.log_records = list(v, &p, cx, log_record)?,
            "schemaUrl" => out.schema_url = string(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    cx.records += out.log_records.len() as u64;
    Ok(out)
}

fn log_record(v: Value, path: &Path, cx: &mut Cx) -> Result<LogRecord, JsonError> {
    const FIELDS: &[&str] = &[
        "timeUnixNano",
        "observedTimeUnixNano",
        "severityNumber",
        "severityText",
        "body",
        "attributes",
        "droppedAttributesCount",
        "flags",
        "traceId",
        "spanId",
        "eventName",
    ];
    let mut out = LogRecord::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "timeUnixNano" => out.time_unix_nano = int(v, &p)?,
            "observedTimeUnixNano" => out.observed_time_unix_nano = int(v, &p)?,
            "severityNumber" => out.severity_number = enumeration(v, &p)?,
            "severityText" => out.severity_text = string(v, &p)?,
            "body" => out.body = optional(v, &p, cx, any_value)?,
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "droppedAttributesCount" => out.dropped_attributes_count = int(v, &p)?,
            "flags" => out.flags = int(v, &p)?,
            "traceId" => out.trace_id = hex_id(v, &p, TRACE_ID_BYTES)?,
            "spanId" => out.span_id = hex_id(v, &p, SPAN_ID_BYTES)?,
            "eventName" => out.event_name = string(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

// ---- traces ------------------------------------------------------------------------------------

fn traces_request(
    top: Map<String, Value>,
    path: &Path,
    cx: &mut Cx,
) -> Result<ExportTraceServiceRequest, JsonError> {
    let mut out = ExportTraceServiceRequest::default();
    for (k, v) in top {
        match k.as_str() {
            "resourceSpans" => out.resource_spans = list(v, &path.key(&k), cx, resource_spans)?,
            _ => unknown(&k, path, &["resourceSpans"], cx)?,
        }
    }
    Ok(out)
}

fn resource_spans(v: Value, path: &Path, cx: &mut Cx) -> Result<ResourceSpans, JsonError> {
    const FIELDS: &[&str] = &["resource", "scopeSpans", "schemaUrl"];
    let mut out = ResourceSpans::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "resource" => out.resource = optional(v, &p, cx, resource)?,
            "scopeSpans" => out.scope_spans = list(v, &p, cx, scope_spans)?,
            "schemaUrl" => out.schema_url = string(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn scope_spans(v: Value, path: &Path, cx: &mut Cx) -> Result<ScopeSpans, JsonError> {
    const FIELDS: &[&str] = &["scope", "spans", "schemaUrl"];
    let mut out = ScopeSpans::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "scope" => out.scope = optional(v, &p, cx, scope)?,
            "spans" => out.spans = list(v, &p, cx, span)?,
            "schemaUrl" => out.schema_url = string(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    cx.records += out.spans.len() as u64;
    Ok(out)
}

fn span(v: Value, path: &Path, cx: &mut Cx) -> Result<Span, JsonError> {
    const FIELDS: &[&str] = &[
        "traceId",
        "spanId",
        "traceState",
        "parentSpanId",
        "flags",
        "name",
        "kind",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "attributes",
        "droppedAttributesCount",
        "events",
        "droppedEventsCount",
        "links",
        "droppedLinksCount",
        "status",
    ];
    let mut out = Span::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "traceId" => out.trace_id = hex_id(v, &p, TRACE_ID_BYTES)?,
            "spanId" => out.span_id = hex_id(v, &p, SPAN_ID_BYTES)?,
            "traceState" => out.trace_state = string(v, &p)?,
            "parentSpanId" => out.parent_span_id = hex_id(v, &p, SPAN_ID_BYTES)?,
            "flags" => out.flags = int(v, &p)?,
            "name" => out.name = string(v, &p)?,
            "kind" => out.kind = enumeration(v, &p)?,
            "startTimeUnixNano" => out.start_time_unix_nano = int(v, &p)?,
            "endTimeUnixNano" => out.end_time_unix_nano = int(v, &p)?,
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "droppedAttributesCount" => out.dropped_attributes_count = int(v, &p)?,
            "events" => out.events = list(v, &p, cx, span_event)?,
            "droppedEventsCount" => out.dropped_events_count = int(v, &p)?,
            "links" => out.links = list(v, &p, cx, span_link)?,
            "droppedLinksCount" => out.dropped_links_count = int(v, &p)?,
            "status" => out.status = optional(v, &p, cx, status)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn span_event(v: Value, path: &Path, cx: &mut Cx) -> Result<span::Event, JsonError> {
    const FIELDS: &[&str] = &[
        "timeUnixNano",
        "name",
        "attributes",
        "droppedAttributesCount",
    ];
    let mut out = span::Event::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "timeUnixNano" => out.time_unix_nano = int(v, &p)?,
            "name" => out.name = string(v, &p)?,
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "droppedAttributesCount" => out.dropped_attributes_count = int(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn span_link(v: Value, path: &Path, cx: &mut Cx) -> Result<span::Link, JsonError> {
    const FIELDS: &[&str] = &[
        "traceId",
        "spanId",
        "traceState",
        "attributes",
        "droppedAttributesCount",
        "flags",
    ];
    let mut out = span::Link::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "traceId" => out.trace_id = hex_id(v, &p, TRACE_ID_BYTES)?,
            "spanId" => out.span_id = hex_id(v, &p, SPAN_ID_BYTES)?,
            "traceState" => out.trace_state = string(v, &p)?,
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "droppedAttributesCount" => out.dropped_attributes_count = int(v, &p)?,
            "flags" => out.flags = int(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn status(v: Value, path: &Path, cx: &mut Cx) -> Result<Status, JsonError> {
    const FIELDS: &[&str] = &["message", "code"];
    let mut out = Status::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "message" => out.message = string(v, &p)?,
            "code" => out.code = enumeration(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

// ---- metrics -----------------------------------------------------------------------------------

fn metrics_request(
    top: Map<String, Value>,
    path: &Path,
    cx: &mut Cx,
) -> Result<ExportMetricsServiceRequest, JsonError> {
    let mut out = ExportMetricsServiceRequest::default();
    for (k, v) in top {
        match k.as_str() {
            "resourceMetrics" => {
                let all = list(v, &path.key(&k), cx, resource_metrics)?;
                // A resource left empty only because its metrics were rejected goes too.
                out.resource_metrics = all.into_iter().flatten().collect();
            }
            _ => unknown(&k, path, &["resourceMetrics"], cx)?,
        }
    }
    Ok(out)
}

/// `None` when every scope in it was dropped for holding only rejected metrics.
fn resource_metrics(
    v: Value,
    path: &Path,
    cx: &mut Cx,
) -> Result<Option<ResourceMetrics>, JsonError> {
    const FIELDS: &[&str] = &["resource", "scopeMetrics", "schemaUrl"];
    let mut out = ResourceMetrics::default();
    let mut emptied = false;
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "resource" => out.resource = optional(v, &p, cx, resource)?,
            "scopeMetrics" => {
                let all = list(v, &p, cx, scope_metrics)?;
                emptied = !all.is_empty() && all.iter().all(Option::is_none);
                out.scope_metrics = all.into_iter().flatten().collect();
            }
            "schemaUrl" => out.schema_url = string(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok((!emptied).then_some(out))
}

/// `None` when it held metrics and all of them were rejected.
fn scope_metrics(v: Value, path: &Path, cx: &mut Cx) -> Result<Option<ScopeMetrics>, JsonError> {
    const FIELDS: &[&str] = &["scope", "metrics", "schemaUrl"];
    let mut out = ScopeMetrics::default();
    let mut emptied = false;
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "scope" => out.scope = optional(v, &p, cx, scope)?,
            "metrics" => {
                let all = list(v, &p, cx, metric)?;
                cx.records += all.len() as u64;
                emptied = !all.is_empty() && all.iter().all(Option::is_none);
                out.metrics = all.into_iter().flatten().collect();
            }
            "schemaUrl" => out.schema_url = string(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok((!emptied).then_some(out))
}

/// `None` when the metric carries no data and is rejected (counted in `cx`).
fn metric(v: Value, path: &Path, cx: &mut Cx) -> Result<Option<Metric>, JsonError> {
    use metric::Data;
    const FIELDS: &[&str] = &[
        "name",
        "description",
        "unit",
        "gauge",
        "sum",
        "histogram",
        "exponentialHistogram",
        "summary",
        "metadata",
    ];
    let mut out = Metric::default();
    let mut data = None;
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        if v.is_null() && FIELDS.contains(&k.as_str()) {
            continue;
        }
        let (key, member) = match k.as_str() {
            "name" => {
                out.name = string(v, &p)?;
                continue;
            }
            "description" => {
                out.description = string(v, &p)?;
                continue;
            }
            "unit" => {
                out.unit = string(v, &p)?;
                continue;
            }
            "metadata" => {
                out.metadata = attributes(v, &p, cx)?;
                continue;
            }
            "gauge" => ("gauge", Data::Gauge(gauge(v, &p, cx)?)),
            "sum" => ("sum", Data::Sum(sum(v, &p, cx)?)),
            "histogram" => ("histogram", Data::Histogram(histogram(v, &p, cx)?)),
            "exponentialHistogram" => (
                "exponentialHistogram",
                Data::ExponentialHistogram(exponential_histogram(v, &p, cx)?),
            ),
            "summary" => ("summary", Data::Summary(summary(v, &p, cx)?)),
            _ => {
                unknown(&k, path, FIELDS, cx)?;
                continue;
            }
        };
        one_of(&mut data, key, member, path)?;
    }
    out.data = data.map(|(_, d)| d);

    let points = match &mut out.data {
        None => Points::Empty,
        Some(Data::Gauge(g)) => number_points(&mut g.data_points, &out.name, cx),
        Some(Data::Sum(s)) => number_points(&mut s.data_points, &out.name, cx),
        Some(Data::Histogram(h)) => Points::counted(h.data_points.len()),
        Some(Data::ExponentialHistogram(h)) => Points::counted(h.data_points.len()),
        Some(Data::Summary(s)) => Points::counted(s.data_points.len()),
    };
    match points {
        Points::Empty => {
            cx.reject(1, format!("metric {:?} has no data points", out.name));
            Ok(None)
        }
        // Its points were rejected, and counted, one by one.
        Points::AllRejected => Ok(None),
        Points::Kept => Ok(Some(out)),
    }
}

/// What is left of a metric's data points after decoding.
enum Points {
    Empty,
    AllRejected,
    Kept,
}

impl Points {
    fn counted(n: usize) -> Points {
        if n == 0 { Points::Empty } else { Points::Kept }
    }
}

/// Drops (and counts) number data points with no value: there is nothing to record for them.
/// A point flagged `FLAG_NO_RECORDED_VALUE` has no value on purpose (a staleness marker) and stays.
fn number_points(points: &mut Vec<NumberDataPoint>, name: &str, cx: &mut Cx) -> Points {
    if points.is_empty() {
        return Points::Empty;
    }
    let before = points.len();
    points.retain(|p| p.value.is_some() || p.flags & NO_RECORDED_VALUE != 0);
    let dropped = before - points.len();
    if dropped > 0 {
        let noun = if dropped == 1 {
            "data point"
        } else {
            "data points"
        };
        cx.reject(
            dropped as u64,
            format!("metric {name:?}: {dropped} {noun} with neither asDouble nor asInt"),
        );
    }
    if points.is_empty() {
        Points::AllRejected
    } else {
        Points::Kept
    }
}

fn gauge(v: Value, path: &Path, cx: &mut Cx) -> Result<Gauge, JsonError> {
    let mut out = Gauge::default();
    for (k, v) in object(v, path)? {
        match k.as_str() {
            "dataPoints" => out.data_points = list(v, &path.key(&k), cx, number_data_point)?,
            _ => unknown(&k, path, &["dataPoints"], cx)?,
        }
    }
    Ok(out)
}

fn sum(v: Value, path: &Path, cx: &mut Cx) -> Result<Sum, JsonError> {
    const FIELDS: &[&str] = &["dataPoints", "aggregationTemporality", "isMonotonic"];
    let mut out = Sum::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "dataPoints" => out.data_points = list(v, &p, cx, number_data_point)?,
            "aggregationTemporality" => out.aggregation_temporality = enumeration(v, &p)?,
            "isMonotonic" => out.is_monotonic = boolean(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn histogram(v: Value, path: &Path, cx: &mut Cx) -> Result<Histogram, JsonError> {
    const FIELDS: &[&str] = &["dataPoints", "aggregationTemporality"];
    let mut out = Histogram::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "dataPoints" => out.data_points = list(v, &p, cx, histogram_data_point)?,
            "aggregationTemporality" => out.aggregation_temporality = enumeration(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn exponential_histogram(
    v: Value,
    path: &Path,
    cx: &mut Cx,
) -> Result<ExponentialHistogram, JsonError> {
    const FIELDS: &[&str] = &["dataPoints", "aggregationTemporality"];
    let mut out = ExponentialHistogram::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "dataPoints" => out.data_points = list(v, &p, cx, exponential_histogram_data_point)?,
            "aggregationTemporality" => out.aggregation_temporality = enumeration(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn summary(v: Value, path: &Path, cx: &mut Cx) -> Result<Summary, JsonError> {
    let mut out = Summary::default();
    for (k, v) in object(v, path)? {
        match k.as_str() {
            "dataPoints" => out.data_points = list(v, &path.key(&k), cx, summary_data_point)?,
            _ => unknown(&k, path, &["dataPoints"], cx)?,
        }
    }
    Ok(out)
}

fn number_data_point(v: Value, path: &Path, cx: &mut Cx) -> Result<NumberDataPoint, JsonError> {
    use number_data_point::Value as V;
    const FIELDS: &[&str] = &[
        "attributes",
        "startTimeUnixNano",
        "timeUnixNano",
        "asDouble",
        "asInt",
        "exemplars",
        "flags",
    ];
    let mut out = NumberDataPoint::default();
    let mut value = None;
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "startTimeUnixNano" => out.start_time_unix_nano = int(v, &p)?,
            "timeUnixNano" => out.time_unix_nano = int(v, &p)?,
            "asDouble" if !v.is_null() => {
                one_of(&mut value, "asDouble", V::AsDouble(double(v, &p)?), path)?
            }
            "asInt" if !v.is_null() => one_of(&mut value, "asInt", V::AsInt(int(v, &p)?), path)?,
            "asDouble" | "asInt" => {}
            "exemplars" => out.exemplars = list(v, &p, cx, exemplar)?,
            "flags" => out.flags = int(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    out.value = value.map(|(_, v)| v);
    Ok(out)
}

fn histogram_data_point(
    v: Value,
    path: &Path,
    cx: &mut Cx,
) -> Result<HistogramDataPoint, JsonError> {
    const FIELDS: &[&str] = &[
        "attributes",
        "startTimeUnixNano",
        "timeUnixNano",
        "count",
        "sum",
        "bucketCounts",
        "explicitBounds",
        "exemplars",
        "flags",
        "min",
        "max",
    ];
    let mut out = HistogramDataPoint::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "startTimeUnixNano" => out.start_time_unix_nano = int(v, &p)?,
            "timeUnixNano" => out.time_unix_nano = int(v, &p)?,
            "count" => out.count = int(v, &p)?,
            "sum" => out.sum = optional_double(v, &p)?,
            "bucketCounts" => out.bucket_counts = list(v, &p, cx, |v, p, _| int(v, p))?,
            "explicitBounds" => out.explicit_bounds = list(v, &p, cx, |v, p, _| double(v, p))?,
            "exemplars" => out.exemplars = list(v, &p, cx, exemplar)?,
            "flags" => out.flags = int(v, &p)?,
            "min" => out.min = optional_double(v, &p)?,
            "max" => out.max = optional_double(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn exponential_histogram_data_point(
    v: Value,
    path: &Path,
    cx: &mut Cx,
) -> Result<ExponentialHistogramDataPoint, JsonError> {
    const FIELDS: &[&str] = &[
        "attributes",
        "startTimeUnixNano",
        "timeUnixNano",
        "count",
        "sum",
        "scale",
        "zeroCount",
        "positive",
        "negative",
        "flags",
        "exemplars",
        "min",
        "max",
        "zeroThreshold",
    ];
    let mut out = ExponentialHistogramDataPoint::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "startTimeUnixNano" => out.start_time_unix_nano = int(v, &p)?,
            "timeUnixNano" => out.time_unix_nano = int(v, &p)?,
            "count" => out.count = int(v, &p)?,
            "sum" => out.sum = optional_double(v, &p)?,
            "scale" => out.scale = int(v, &p)?,
            "zeroCount" => out.zero_count = int(v, &p)?,
            "positive" => out.positive = optional(v, &p, cx, buckets)?,
            "negative" => out.negative = optional(v, &p, cx, buckets)?,
            "flags" => out.flags = int(v, &p)?,
            "exemplars" => out.exemplars = list(v, &p, cx, exemplar)?,
            "min" => out.min = optional_double(v, &p)?,
            "max" => out.max = optional_double(v, &p)?,
            "zeroThreshold" => out.zero_threshold = double(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn buckets(
    v: Value,
    path: &Path,
    cx: &mut Cx,
) -> Result<exponential_histogram_data_point::Buckets, JsonError> {
    const FIELDS: &[&str] = &["offset", "bucketCounts"];
    let mut out = exponential_histogram_data_point::Buckets::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "offset" => out.offset = int(v, &p)?,
            "bucketCounts" => out.bucket_counts = list(v, &p, cx, |v, p, _| int(v, p))?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn summary_data_point(v: Value, path: &Path, cx: &mut Cx) -> Result<SummaryDataPoint, JsonError> {
    const FIELDS: &[&str] = &[
        "attributes",
        "startTimeUnixNano",
        "timeUnixNano",
        "count",
        "sum",
        "quantileValues",
        "flags",
    ];
    let mut out = SummaryDataPoint::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "attributes" => out.attributes = attributes(v, &p, cx)?,
            "startTimeUnixNano" => out.start_time_unix_nano = int(v, &p)?,
            "timeUnixNano" => out.time_unix_nano = int(v, &p)?,
            "count" => out.count = int(v, &p)?,
            "sum" => out.sum = double(v, &p)?,
            "quantileValues" => out.quantile_values = list(v, &p, cx, value_at_quantile)?,
            "flags" => out.flags = int(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn value_at_quantile(
    v: Value,
    path: &Path,
    cx: &mut Cx,
) -> Result<summary_data_point::ValueAtQuantile, JsonError> {
    const FIELDS: &[&str] = &["quantile", "value"];
    let mut out = summary_data_point::ValueAtQuantile::default();
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "quantile" => out.quantile = double(v, &p)?,
            "value" => out.value = double(v, &p)?,
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    Ok(out)
}

fn exemplar(v: Value, path: &Path, cx: &mut Cx) -> Result<Exemplar, JsonError> {
    use exemplar::Value as V;
    const FIELDS: &[&str] = &[
        "filteredAttributes",
        "timeUnixNano",
        "spanId",
        "traceId",
        "asDouble",
        "asInt",
    ];
    let mut out = Exemplar::default();
    let mut value = None;
    for (k, v) in object(v, path)? {
        let p = path.key(&k);
        match k.as_str() {
            "filteredAttributes" => out.filtered_attributes = attributes(v, &p, cx)?,
            "timeUnixNano" => out.time_unix_nano = int(v, &p)?,
            "spanId" => out.span_id = hex_id(v, &p, SPAN_ID_BYTES)?,
            "traceId" => out.trace_id = hex_id(v, &p, TRACE_ID_BYTES)?,
            "asDouble" if !v.is_null() => {
                one_of(&mut value, "asDouble", V::AsDouble(double(v, &p)?), path)?
            }
            "asInt" if !v.is_null() => one_of(&mut value, "asInt", V::AsInt(int(v, &p)?), path)?,
            "asDouble" | "asInt" => {}
            _ => unknown(&k, path, FIELDS, cx)?,
        }
    }
    out.value = value.map(|(_, v)| v);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path as FsPath;

    use super::*;
    use crate::normalize::fixture;
    use crate::proto::metrics::AggregationTemporality;

    fn decoded(signal: Signal, json: &str) -> Decoded {
        decode(signal, json.as_bytes()).unwrap_or_else(|e| panic!("decoding {json}: {e}"))
    }

    fn logs(json: &str) -> ExportLogsServiceRequest {
        match decoded(Signal::Logs, json).request {
            Request::Logs(r) => r,
            _ => panic!("not a logs request"),
        }
    }

    fn traces(json: &str) -> ExportTraceServiceRequest {
        match decoded(Signal::Traces, json).request {
            Request::Traces(r) => r,
            _ => panic!("not a traces request"),
        }
    }

    fn metrics(json: &str) -> (ExportMetricsServiceRequest, u64, Vec<String>) {
        let d = decoded(Signal::Metrics, json);
        match d.request {
            Request::Metrics(r) => (r, d.rejected, d.problems),
            _ => panic!("not a metrics request"),
        }
    }

    fn error(signal: Signal, json: impl AsRef<[u8]>) -> String {
        match decode(signal, json.as_ref()) {
            Ok(_) => panic!("decoded {:?}", String::from_utf8_lossy(json.as_ref())),
            Err(e) => e.to_string(),
        }
    }

    fn id(hex: &str) -> Vec<u8> {
        hex::decode(hex).expect("test ids are hex")
    }

    fn value(v: any_value::Value) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    fn string_value(s: &str) -> AnyValue {
        value(any_value::Value::StringValue(s.into()))
    }

    fn kv(key: &str, v: AnyValue) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(v),
            key_strindex: 0,
        }
    }

    /// A logs body around one record, for tests about a single field.
    fn one_log(record: &str) -> String {
        format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{record}]}}]}}]}}"#)
    }

    /// A metrics body around the given metrics.
    fn some_metrics(metrics: &str) -> String {
        format!(r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{metrics}]}}]}}]}}"#)
    }

    const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";
    const SPAN_ID: &str = "eee19b7ec3c1b174";

    #[test]
    fn a_logs_request_with_every_field() {
        let got = logs(
            r#"{"resourceLogs":[{
              "resource":{
                "attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}}],
                "droppedAttributesCount":1,
                "entityRefs":[{"schemaUrl":"https://entity","type":"service",
                               "idKeys":["service.name"],"descriptionKeys":["service.version"]}]
              },
              "scopeLogs":[{
                "scope":{"name":"com.anthropic.claude_code","version":"2.1.0",
                         "attributes":[{"key":"a","value":{"boolValue":true}}],"droppedAttributesCount":"2"},
                "logRecords":[{
                  "timeUnixNano":"1795320340872635366",
                  "observedTimeUnixNano":1795320340,
                  "severityNumber":9,
                  "severityText":"INFO",
                  "body":{"stringValue":"hello"},
                  "attributes":[
                    {"key":"int.str","value":{"intValue":"-9007199254740993"}},
                    {"key":"int.num","value":{"intValue":42}},
                    {"key":"double","value":{"doubleValue":1.5}},
                    {"key":"double.str","value":{"doubleValue":"-Infinity"}},
                    {"key":"bytes","value":{"bytesValue":"AQID/w=="}},
                    {"key":"array","value":{"arrayValue":{"values":[{"stringValue":"x"},{"intValue":"7"}]}}},
                    {"key":"kvlist","value":{"kvlistValue":{"values":[{"key":"inner","value":{"boolValue":false}}]}}},
                    {"key":"empty","value":{}},
                    {"key":"no.value"},
                    {"keyStrindex":3,"value":{"stringValueStrindex":"5"}}
                  ],
                  "droppedAttributesCount":"3",
                  "flags":1,
                  "traceId":"5B8EFFF798038103D269B633813FC60C",
                  "spanId":"eee19b7ec3c1b174",
                  "eventName":"claude_code.api_request"
                }],
                "schemaUrl":"https://scope"
              }],
              "schemaUrl":"https://resource"
            }]}"#,
        );
        use any_value::Value as V;
        let want = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", string_value("claude-code"))],
                    dropped_attributes_count: 1,
                    entity_refs: vec![EntityRef {
                        schema_url: "https://entity".into(),
                        r#type: "service".into(),
                        id_keys: vec!["service.name".into()],
                        description_keys: vec!["service.version".into()],
                    }],
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "com.anthropic.claude_code".into(),
                        version: "2.1.0".into(),
                        attributes: vec![kv("a", value(V::BoolValue(true)))],
                        dropped_attributes_count: 2,
                    }),
                    log_records: vec![LogRecord {
                        time_unix_nano: 1_795_320_340_872_635_366,
                        observed_time_unix_nano: 1_795_320_340,
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        body: Some(string_value("hello")),
                        attributes: vec![
                            kv("int.str", value(V::IntValue(-9_007_199_254_740_993))),
                            kv("int.num", value(V::IntValue(42))),
                            kv("double", value(V::DoubleValue(1.5))),
                            kv("double.str", value(V::DoubleValue(f64::NEG_INFINITY))),
                            kv("bytes", value(V::BytesValue(vec![1, 2, 3, 255]))),
                            kv(
                                "array",
                                value(V::ArrayValue(ArrayValue {
                                    values: vec![string_value("x"), value(V::IntValue(7))],
                                })),
                            ),
                            kv(
                                "kvlist",
                                value(V::KvlistValue(KeyValueList {
                                    values: vec![kv("inner", value(V::BoolValue(false)))],
                                })),
                            ),
                            kv("empty", AnyValue { value: None }),
                            KeyValue {
                                key: "no.value".into(),
                                value: None,
                                key_strindex: 0,
                            },
                            KeyValue {
                                key: String::new(),
                                value: Some(value(V::StringValueStrindex(5))),
                                key_strindex: 3,
                            },
                        ],
                        dropped_attributes_count: 3,
                        flags: 1,
                        trace_id: id(TRACE_ID),
                        span_id: id(SPAN_ID),
                        event_name: "claude_code.api_request".into(),
                    }],
                    schema_url: "https://scope".into(),
                }],
                schema_url: "https://resource".into(),
            }],
        };
        assert_eq!(got, want);
    }

    #[test]
    fn a_span_with_events_links_and_status() {
        let got = traces(
            r#"{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"s"},"spans":[
              {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","traceState":"k=v",
               "parentSpanId":"0102030405060708","flags":257,"name":"tool","kind":2,
               "startTimeUnixNano":"1000","endTimeUnixNano":2000,
               "attributes":[{"key":"a","value":{"stringValue":"b"}}],"droppedAttributesCount":1,
               "events":[{"timeUnixNano":"1500","name":"exception",
                          "attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}],
                          "droppedAttributesCount":0}],
               "droppedEventsCount":2,
               "links":[{"traceId":"00000000000000000000000000000001","spanId":"0000000000000002",
                         "traceState":"x=y","attributes":[],"droppedAttributesCount":4,"flags":256}],
               "droppedLinksCount":"5",
               "status":{"message":"failed","code":2}},
              {"name":"bare","parentSpanId":"","status":null,"events":null}
            ]}]}]}"#,
        );
        let want = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "s".into(),
                        ..Default::default()
                    }),
                    spans: vec![
                        Span {
                            trace_id: id(TRACE_ID),
                            span_id: id(SPAN_ID),
                            trace_state: "k=v".into(),
                            parent_span_id: id("0102030405060708"),
                            flags: 257,
                            name: "tool".into(),
                            kind: span::SpanKind::Server as i32,
                            start_time_unix_nano: 1000,
                            end_time_unix_nano: 2000,
                            attributes: vec![kv("a", string_value("b"))],
                            dropped_attributes_count: 1,
                            events: vec![span::Event {
                                time_unix_nano: 1500,
                                name: "exception".into(),
                                attributes: vec![kv("exception.message", string_value("boom"))],
                                dropped_attributes_count: 0,
                            }],
                            dropped_events_count: 2,
                            links: vec![span::Link {
                                trace_id: id("00000000000000000000000000000001"),
                                span_id: id("0000000000000002"),
                                trace_state: "x=y".into(),
                                attributes: vec![],
                                dropped_attributes_count: 4,
                                flags: 256,
                            }],
                            dropped_links_count: 5,
                            status: Some(Status {
                                message: "failed".into(),
                                code: crate::proto::trace::status::StatusCode::Error as i32,
                            }),
                        },
                        Span {
                            name: "bare".into(),
                            ..Default::default()
                        },
                    ],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        assert_eq!(got, want);
    }

    #[test]
    fn every_metric_type() {
        let (got, rejected, problems) = metrics(&some_metrics(
            r#"
            {"name":"g","description":"d","unit":"1","metadata":[{"key":"m","value":{"stringValue":"v"}}],
             "gauge":{"dataPoints":[{"attributes":[{"key":"a","value":{"stringValue":"b"}}],
               "startTimeUnixNano":"1","timeUnixNano":"2","asDouble":0.25,"flags":0,
               "exemplars":[{"filteredAttributes":[{"key":"f","value":{"intValue":1}}],"timeUnixNano":"3",
                 "spanId":"eee19b7ec3c1b174","traceId":"5b8efff798038103d269b633813fc60c","asInt":"9"}]}]}},
            {"name":"s","sum":{"dataPoints":[{"timeUnixNano":2,"asInt":"-5"}],
             "aggregationTemporality":1,"isMonotonic":true}},
            {"name":"h","histogram":{"dataPoints":[{"timeUnixNano":"2","count":"3","sum":6.5,
               "bucketCounts":["1",2,0],"explicitBounds":[1,"2.5"],"min":0.5,"max":4,"flags":1,
               "exemplars":[{"asDouble":"Infinity"}]}],
             "aggregationTemporality":2}},
            {"name":"e","exponentialHistogram":{"dataPoints":[{"timeUnixNano":"2","count":4,"sum":"10",
               "scale":-2,"zeroCount":"1","positive":{"offset":-1,"bucketCounts":["1","2"]},
               "negative":{"offset":0,"bucketCounts":[]},"zeroThreshold":0.001,"min":0,"max":8}],
             "aggregationTemporality":1}},
            {"name":"q","summary":{"dataPoints":[{"timeUnixNano":"2","count":"10","sum":55.5,
               "quantileValues":[{"quantile":0,"value":1},{"quantile":"0.99","value":"-Infinity"}]}]}}
            "#,
        ));
        use crate::proto::metrics::exponential_histogram_data_point::Buckets;
        use crate::proto::metrics::summary_data_point::ValueAtQuantile;
        use metric::Data;
        let want = vec![
            Metric {
                name: "g".into(),
                description: "d".into(),
                unit: "1".into(),
                metadata: vec![kv("m", string_value("v"))],
                data: Some(Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        attributes: vec![kv("a", string_value("b"))],
                        start_time_unix_nano: 1,
                        time_unix_nano: 2,
                        exemplars: vec![Exemplar {
                            filtered_attributes: vec![kv(
                                "f",
                                value(any_value::Value::IntValue(1)),
                            )],
                            time_unix_nano: 3,
                            span_id: id(SPAN_ID),
                            trace_id: id(TRACE_ID),
                            value: Some(exemplar::Value::AsInt(9)),
                        }],
                        flags: 0,
                        value: Some(number_data_point::Value::AsDouble(0.25)),
                    }],
                })),
            },
            Metric {
                name: "s".into(),
                data: Some(Data::Sum(Sum {
                    data_points: vec![NumberDataPoint {
                        time_unix_nano: 2,
                        value: Some(number_data_point::Value::AsInt(-5)),
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                })),
                ..Default::default()
            },
            Metric {
                name: "h".into(),
                data: Some(Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        time_unix_nano: 2,
                        count: 3,
                        sum: Some(6.5),
                        bucket_counts: vec![1, 2, 0],
                        explicit_bounds: vec![1.0, 2.5],
                        exemplars: vec![Exemplar {
                            value: Some(exemplar::Value::AsDouble(f64::INFINITY)),
                            ..Default::default()
                        }],
                        flags: 1,
                        min: Some(0.5),
                        max: Some(4.0),
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                })),
                ..Default::default()
            },
            Metric {
                name: "e".into(),
                data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        time_unix_nano: 2,
                        count: 4,
                        sum: Some(10.0),
                        scale: -2,
                        zero_count: 1,
                        positive: Some(Buckets {
                            offset: -1,
                            bucket_counts: vec![1, 2],
                        }),
                        negative: Some(Buckets {
                            offset: 0,
                            bucket_counts: vec![],
                        }),
                        min: Some(0.0),
                        max: Some(8.0),
                        zero_threshold: 0.001,
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                })),
                ..Default::default()
            },
            Metric {
                name: "q".into(),
                data: Some(Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        time_unix_nano: 2,
                        count: 10,
                        sum: 55.5,
                        quantile_values: vec![
                            ValueAtQuantile {
                                quantile: 0.0,
                                value: 1.0,
                            },
                            ValueAtQuantile {
                                quantile: 0.99,
                                value: f64::NEG_INFINITY,
                            },
                        ],
                        ..Default::default()
                    }],
                })),
                ..Default::default()
            },
        ];
        assert_eq!(got.resource_metrics.len(), 1);
        assert_eq!(got.resource_metrics[0].scope_metrics.len(), 1);
        assert_eq!(got.resource_metrics[0].scope_metrics[0].metrics, want);
        assert_eq!((rejected, problems), (0, Vec::<String>::new()));
    }

    #[test]
    fn nan_strings_are_doubles() {
        let (got, rejected, _) = metrics(&some_metrics(
            r#"{"name":"g","gauge":{"dataPoints":[{"asDouble":"NaN"}]}},
               {"name":"h","histogram":{"dataPoints":[{"count":1,"sum":"NaN","explicitBounds":["NaN"]}]}}"#,
        ));
        assert_eq!(rejected, 0);
        let metrics = &got.resource_metrics[0].scope_metrics[0].metrics;
        match &metrics[0].data {
            Some(metric::Data::Gauge(g)) => {
                assert!(
                    matches!(g.data_points[0].value, Some(number_data_point::Value::AsDouble(d)) if d.is_nan())
                );
            }
            other => panic!("not a gauge: {other:?}"),
        }
        match &metrics[1].data {
            Some(metric::Data::Histogram(h)) => {
                assert!(h.data_points[0].sum.is_some_and(f64::is_nan));
                assert!(h.data_points[0].explicit_bounds[0].is_nan());
            }
            other => panic!("not a histogram: {other:?}"),
        }
    }

    #[test]
    fn a_bare_nan_token_is_invalid_json() {
        let e = error(
            Signal::Metrics,
            some_metrics(r#"{"name":"g","gauge":{"dataPoints":[{"asDouble":NaN}]}}"#),
        );
        assert!(e.starts_with("invalid JSON"), "{e}");
        assert!(e.contains("line 1 column"), "{e}");
    }

    #[test]
    fn doubles_refuse_what_proto3_json_does_not_allow() {
        for bad in [r#""nan""#, r#""inf""#, r#""1e999""#, r#""""#, "true", "[]"] {
            let e = error(
                Signal::Metrics,
                some_metrics(&format!(
                    r#"{{"name":"g","gauge":{{"dataPoints":[{{"asDouble":{bad}}}]}}}}"#
                )),
            );
            assert!(
                e.starts_with("resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble: expected a number"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn snake_case_keys_are_errors_naming_the_path_and_the_right_key() {
        let cases = [
            (
                Signal::Logs,
                r#"{"resource_logs":[]}"#,
                r#"top level: unknown key "resource_logs" (OTLP/JSON uses lowerCamelCase: "resourceLogs")"#,
            ),
            (
                Signal::Logs,
                r#"{"resourceLogs":[{"scopeLogs":[{},{"log_records":[{}]}]}]}"#,
                r#"resourceLogs[0].scopeLogs[1]: unknown key "log_records" (OTLP/JSON uses lowerCamelCase: "logRecords")"#,
            ),
            (
                Signal::Logs,
                &one_log(r#"{"time_unix_nano":"1"}"#),
                r#"resourceLogs[0].scopeLogs[0].logRecords[0]: unknown key "time_unix_nano" (OTLP/JSON uses lowerCamelCase: "timeUnixNano")"#,
            ),
            (
                Signal::Logs,
                &one_log(r#"{"body":{"string_value":"x"}}"#),
                r#"resourceLogs[0].scopeLogs[0].logRecords[0].body: unknown key "string_value" (OTLP/JSON uses lowerCamelCase: "stringValue")"#,
            ),
            (
                Signal::Metrics,
                &some_metrics(r#"{"name":"g","gauge":{"data_points":[]}}"#),
                r#"resourceMetrics[0].scopeMetrics[0].metrics[0].gauge: unknown key "data_points" (OTLP/JSON uses lowerCamelCase: "dataPoints")"#,
            ),
            (
                Signal::Traces,
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"parent_span_id":""}]}]}]}"#,
                r#"resourceSpans[0].scopeSpans[0].spans[0]: unknown key "parent_span_id" (OTLP/JSON uses lowerCamelCase: "parentSpanId")"#,
            ),
        ];
        for (signal, json, want) in cases {
            assert_eq!(error(signal, json), want);
        }
    }

    #[test]
    fn other_unknown_keys_are_ignored() {
        let got = logs(&one_log(
            r#"{"severityText":"WARN","futureField":{"x":[1]},"not_a_field":1}"#,
        ));
        assert_eq!(
            got.resource_logs[0].scope_logs[0].log_records,
            vec![LogRecord {
                severity_text: "WARN".into(),
                ..Default::default()
            }]
        );
    }

    #[test]
    fn enum_names_are_errors() {
        let cases = [
            (
                Signal::Traces,
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{"kind":"SPAN_KIND_SERVER"}]}]}]}"#,
                r#"resourceSpans[0].scopeSpans[0].spans[2].kind: enum values must be integers in OTLP/JSON, got "SPAN_KIND_SERVER""#,
            ),
            (
                Signal::Traces,
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"status":{"code":"STATUS_CODE_ERROR"}}]}]}]}"#,
                r#"resourceSpans[0].scopeSpans[0].spans[0].status.code: enum values must be integers in OTLP/JSON, got "STATUS_CODE_ERROR""#,
            ),
            (
                Signal::Logs,
                &one_log(r#"{"severityNumber":"SEVERITY_NUMBER_INFO"}"#),
                r#"resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: enum values must be integers in OTLP/JSON, got "SEVERITY_NUMBER_INFO""#,
            ),
            (
                Signal::Metrics,
                &some_metrics(
                    r#"{"name":"s","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA"}}"#,
                ),
                r#"resourceMetrics[0].scopeMetrics[0].metrics[0].sum.aggregationTemporality: enum values must be integers in OTLP/JSON, got "AGGREGATION_TEMPORALITY_DELTA""#,
            ),
        ];
        for (signal, json, want) in cases {
            assert_eq!(error(signal, json), want);
        }
    }

    #[test]
    fn integers_take_numbers_and_decimal_strings_in_range() {
        let got = logs(&one_log(
            r#"{"timeUnixNano":"18446744073709551615","observedTimeUnixNano":1e3,"flags":"4294967295"}"#,
        ));
        let r = &got.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(
            (r.time_unix_nano, r.observed_time_unix_nano, r.flags),
            (u64::MAX, 1000, u32::MAX)
        );

        let field = "resourceLogs[0].scopeLogs[0].logRecords[0]";
        let cases = [
            (
                r#"{"timeUnixNano":true}"#,
                format!("{field}.timeUnixNano: expected an integer or a decimal string, got true"),
            ),
            (
                r#"{"timeUnixNano":"12ns"}"#,
                format!(
                    r#"{field}.timeUnixNano: expected an integer or a decimal string, got "12ns""#
                ),
            ),
            (
                r#"{"timeUnixNano":1.5}"#,
                format!("{field}.timeUnixNano: expected an integer or a decimal string, got 1.5"),
            ),
            (
                r#"{"timeUnixNano":-1}"#,
                format!("{field}.timeUnixNano: -1 is out of range for uint64"),
            ),
            (
                r#"{"timeUnixNano":"18446744073709551616"}"#,
                format!(
                    r#"{field}.timeUnixNano: "18446744073709551616" is out of range for uint64"#
                ),
            ),
            (
                r#"{"flags":4294967296}"#,
                format!("{field}.flags: 4294967296 is out of range for uint32"),
            ),
            (
                r#"{"severityNumber":2147483648}"#,
                format!("{field}.severityNumber: 2147483648 is out of range for int32"),
            ),
        ];
        for (record, want) in cases {
            assert_eq!(error(Signal::Logs, one_log(record)), want);
        }
    }

    #[test]
    fn wrong_json_types_are_errors() {
        let cases = [
            (Signal::Logs, "[]", "top level: expected a JSON object, got an array".to_owned()),
            (Signal::Logs, r#""x""#, r#"top level: expected a JSON object, got "x""#.to_owned()),
            (Signal::Logs, r#"{"resourceLogs":{}}"#, "resourceLogs: expected an array, got an object".to_owned()),
            (Signal::Logs, r#"{"resourceLogs":[[]]}"#, "resourceLogs[0]: expected an object, got an array".to_owned()),
            (Signal::Logs, r#"{"resourceLogs":[null]}"#, "resourceLogs[0]: null is not allowed as an array element".to_owned()),
            (
                Signal::Logs,
                &one_log(r#"{"severityText":9}"#),
                "resourceLogs[0].scopeLogs[0].logRecords[0].severityText: expected a string, got 9".to_owned(),
            ),
            (
                Signal::Logs,
                &one_log(r#"{"body":{"boolValue":"true"}}"#),
                r#"resourceLogs[0].scopeLogs[0].logRecords[0].body.boolValue: expected true or false, got "true""#.to_owned(),
            ),
            (
                Signal::Logs,
                &one_log(r#"{"attributes":[{"key":"k","value":{"bytesValue":"not base64!"}}]}"#),
                r#"resourceLogs[0].scopeLogs[0].logRecords[0].attributes[0].value.bytesValue: expected base64, got "not base64!" (Invalid symbol 32, offset 3.)"#
                    .to_owned(),
            ),
            (
                Signal::Metrics,
                &some_metrics(r#"{"name":"s","sum":{"dataPoints":[{"asInt":1}],"isMonotonic":"yes"}}"#),
                r#"resourceMetrics[0].scopeMetrics[0].metrics[0].sum.isMonotonic: expected true or false, got "yes""#.to_owned(),
            ),
        ];
        for (signal, json, want) in cases {
            assert_eq!(error(signal, json), want);
        }
    }

    #[test]
    fn a_oneof_takes_one_member() {
        // Which member the message names first depends on serde_json's map order.
        let e = error(
            Signal::Logs,
            one_log(r#"{"body":{"stringValue":"a","intValue":1}}"#),
        );
        assert!(
            e.starts_with("resourceLogs[0].scopeLogs[0].logRecords[0].body: "),
            "{e}"
        );
        assert!(
            e.contains(r#""stringValue""#) && e.contains(r#""intValue""#),
            "{e}"
        );
        assert!(e.ends_with(" are alternatives; set only one"), "{e}");
        let e = error(
            Signal::Metrics,
            some_metrics(
                r#"{"name":"x","gauge":{"dataPoints":[{"asInt":1}]},"sum":{"dataPoints":[{"asInt":1}]}}"#,
            ),
        );
        assert!(
            e.starts_with("resourceMetrics[0].scopeMetrics[0].metrics[0]: "),
            "{e}"
        );
        assert!(e.contains(r#""gauge""#) && e.contains(r#""sum""#), "{e}");
        let e = error(
            Signal::Metrics,
            some_metrics(r#"{"name":"x","gauge":{"dataPoints":[{"asInt":1,"asDouble":1}]}}"#),
        );
        assert!(
            e.starts_with("resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0]: "),
            "{e}"
        );
        // A null member is an absent one.
        let got = logs(&one_log(r#"{"body":{"stringValue":null,"intValue":1}}"#));
        assert_eq!(
            got.resource_logs[0].scope_logs[0].log_records[0].body,
            Some(value(any_value::Value::IntValue(1)))
        );
    }

    #[test]
    fn ids_are_hex_of_the_right_length() {
        let record = "resourceLogs[0].scopeLogs[0].logRecords[0]";
        let cases = [
            (
                r#"{"traceId":"xyz"}"#,
                format!(r#"{record}.traceId: expected 32 hex characters, got "xyz""#),
            ),
            (
                // The base64 of a 16-byte id, as a proto3 JSON mapper would write it.
                r#"{"traceId":"W47/95gDgQPSabYzgT/GDA=="}"#,
                format!(
                    r#"{record}.traceId: expected 32 hex characters, got "W47/95gDgQPSabYzgT/GDA==""#
                ),
            ),
            (
                r#"{"spanId":"5b8efff798038103d269b633813fc60c"}"#,
                format!(
                    r#"{record}.spanId: expected 16 hex characters, got "5b8efff798038103d269b633813fc60c""#
                ),
            ),
            (
                r#"{"spanId":"eee19b7ec3c1b17g"}"#,
                format!(r#"{record}.spanId: expected 16 hex characters, got "eee19b7ec3c1b17g""#),
            ),
            (
                r#"{"spanId":12}"#,
                format!("{record}.spanId: expected a string of 16 hex characters, got 12"),
            ),
        ];
        for (json, want) in cases {
            assert_eq!(error(Signal::Logs, one_log(json)), want);
        }
        let got = logs(&one_log(r#"{"traceId":"","spanId":null}"#));
        assert_eq!(
            got.resource_logs[0].scope_logs[0].log_records[0],
            LogRecord::default()
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut body = one_log(r#"{"severityText":"AB"}"#).into_bytes();
        let at = body
            .iter()
            .position(|&b| b == b'A')
            .expect("the marker is there");
        body[at] = 0xff;
        let e = error(Signal::Logs, &body);
        assert!(e.starts_with("invalid JSON"), "{e}");
        assert!(e.contains("line 1 column"), "{e}");
    }

    #[test]
    fn an_export_with_nothing_in_it_is_an_error() {
        for json in [
            "{}",
            r#"{"resourceLogs":null}"#,
            r#"{"resourceLogs":[]}"#,
            r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":null}]}]}"#,
        ] {
            let e = error(Signal::Logs, json);
            assert!(
                e.starts_with("request holds no log records: "),
                "{json}: {e}"
            );
        }
        assert!(
            error(Signal::Traces, r#"{"resourceSpans":[{}]}"#)
                .starts_with("request holds no spans: ")
        );
        assert!(error(Signal::Metrics, some_metrics("")).starts_with("request holds no metrics: "));
        // The ignored key explains the mistake.
        let e = error(
            Signal::Logs,
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]}"#,
        );
        assert!(
            e.ends_with(r#"ignored unknown key "resourceSpans" at top level)"#),
            "{e}"
        );
    }

    #[test]
    fn null_means_default() {
        let got = logs(
            r#"{"resourceLogs":[{"resource":null,"schemaUrl":null,"scopeLogs":[{"scope":null,"logRecords":[
                 {"timeUnixNano":null,"body":null,"attributes":null,"traceId":null,"severityNumber":null}
               ]}]}]}"#,
        );
        assert_eq!(
            got,
            ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    scope_logs: vec![ScopeLogs {
                        log_records: vec![LogRecord::default()],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
        );
    }

    #[test]
    fn metrics_without_data_are_rejected_and_counted() {
        let (got, rejected, problems) = metrics(
            r#"{"resourceMetrics":[
                {"scopeMetrics":[{"metrics":[
                  {"name":"no.data"},
                  {"name":"empty.gauge","gauge":{"dataPoints":[]}},
                  {"name":"null.sum","sum":{"dataPoints":null,"aggregationTemporality":1}},
                  {"name":"kept","gauge":{"dataPoints":[{"asInt":1},{"timeUnixNano":"5"},{"flags":1},{"asDouble":null}]}}
                ]}]},
                {"scopeMetrics":[{"metrics":[
                  {"name":"empty.histogram","histogram":{"aggregationTemporality":2}},
                  {"name":"valueless","sum":{"dataPoints":[{"timeUnixNano":"5"}]}}
                ]}]}
            ]}"#,
        );
        assert_eq!(rejected, 7);
        assert_eq!(
            problems,
            vec![
                r#"metric "no.data" has no data points"#,
                r#"metric "empty.gauge" has no data points"#,
                r#"metric "null.sum" has no data points"#,
                r#"metric "kept": 2 data points with neither asDouble nor asInt"#,
                r#"metric "empty.histogram" has no data points"#,
                r#"metric "valueless": 1 data point with neither asDouble nor asInt"#,
            ]
        );
        // The second resource lost all its metrics and goes; the first keeps what is left.
        assert_eq!(got.resource_metrics.len(), 1);
        let kept = &got.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(kept.len(), 1);
        match &kept[0].data {
            Some(metric::Data::Gauge(g)) => assert_eq!(
                g.data_points,
                vec![
                    NumberDataPoint {
                        value: Some(number_data_point::Value::AsInt(1)),
                        ..Default::default()
                    },
                    // Flagged "no recorded value": valueless on purpose.
                    NumberDataPoint {
                        flags: NO_RECORDED_VALUE,
                        ..Default::default()
                    },
                ]
            ),
            other => panic!("not a gauge: {other:?}"),
        }
    }

    #[test]
    fn a_request_whose_metrics_are_all_rejected_is_still_decoded() {
        let (got, rejected, problems) =
            metrics(&some_metrics(r#"{"name":"a"},{"name":"b","summary":{}}"#));
        assert_eq!(got, ExportMetricsServiceRequest::default());
        assert_eq!(rejected, 2);
        assert_eq!(problems.len(), 2);
    }

    #[test]
    fn problem_lines_are_capped() {
        let many = vec![r#"{"name":"x"}"#; MAX_PROBLEMS + 5].join(",");
        let (_, rejected, problems) = metrics(&some_metrics(&many));
        assert_eq!(rejected, MAX_PROBLEMS as u64 + 5);
        assert_eq!(problems.len(), MAX_PROBLEMS + 1);
        assert_eq!(problems.last().map(String::as_str), Some("and 5 more"));
    }

    #[test]
    fn bytes_take_either_base64_alphabet_with_or_without_padding() {
        for encoded in ["+/8=", "+/8", "-_8="] {
            let got = logs(&one_log(&format!(
                r#"{{"body":{{"bytesValue":"{encoded}"}}}}"#
            )));
            assert_eq!(
                got.resource_logs[0].scope_logs[0].log_records[0].body,
                Some(value(any_value::Value::BytesValue(vec![0xfb, 0xff]))),
                "{encoded}"
            );
        }
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(10_000);
        let e = error(
            Signal::Logs,
            one_log(&format!(r#"{{"severityNumber":"{long}"}}"#)),
        );
        assert!(e.len() < 200, "{e}");
        assert!(e.ends_with("… (10000 bytes)"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let depth = 10_000;
        let body = format!(
            "{}{}",
            r#"{"arrayValue":{"values":["#.repeat(depth),
            "]}}".repeat(depth)
        );
        let e = error(Signal::Logs, one_log(&format!(r#"{{"body":{body}}}"#)));
        assert!(e.starts_with("invalid JSON"), "{e}");
    }

    fn records(request: &Request) -> usize {
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
                .map(crate::normalize::data_points)
                .sum(),
        }
    }

    #[test]
    fn recorded_agent_bodies_decode() {
        let root = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut seen = 0;
        for agent in ["gemini-cli-0.61.0", "opencode-1.18.33"] {
            let mut scenarios: Vec<_> = std::fs::read_dir(root.join(agent))
                .unwrap_or_else(|e| panic!("reading {agent}: {e}"))
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("otlp").is_dir())
                .collect();
            scenarios.sort();
            for scenario in scenarios {
                for body in fixture::bodies(&scenario).into_iter().filter(|b| b.json) {
                    let name = format!("{}/{}", scenario.display(), body.name);
                    let d =
                        decode(body.signal, &body.bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(records(&d.request) > 0, "{name}: no records");
                    assert_eq!(d.rejected, 0, "{name}: {:?}", d.problems);
                    seen += 1;
                }
            }
        }
        // 90 when this was written: a moved fixture directory must not leave this test checking nothing.
        assert!(seen >= 90, "only {seen} recorded JSON bodies found");
    }
}
