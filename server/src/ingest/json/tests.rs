//! Tests of OTLP/JSON decoding: every field of every signal, each rule of "What we accept
//! (OTLP/JSON)" in README.md, the errors, and the JSON bodies recorded from real agents.

use std::path::Path as FsPath;

use super::*;
use crate::proto::common::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use crate::proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::metrics::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, NumberDataPoint, Sum, Summary, SummaryDataPoint, exemplar,
    metric, number_data_point,
};
use crate::proto::resource::Resource;
use crate::proto::trace::{ResourceSpans, ScopeSpans, Span, Status, span};
use crate::proto::{ExportLogsServiceRequest, ExportTraceServiceRequest};
use crate::testkit::fixtures as fixture;

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

/// A logs request with every field, for tests that need them all.
const EVERY_LOG_FIELD: &str = r#"{"resourceLogs":[{
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
        }]}"#;

/// Two spans with every field between them.
const EVERY_SPAN_FIELD: &str = r#"{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"s"},"spans":[
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
        ]}]}]}"#;

/// One metric of each type, with every field, to go in `some_metrics`.
const EVERY_METRIC_TYPE: &str = r#"
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
        "#;

#[test]
fn a_logs_request_with_every_field() {
    let got = logs(EVERY_LOG_FIELD);
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
                        // `stringValueStrindex` only means something in profiles, and is
                        // skipped, as the Collector skips it.
                        KeyValue {
                            key: String::new(),
                            value: Some(AnyValue { value: None }),
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
    let got = traces(EVERY_SPAN_FIELD);
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
    let (got, rejected, problems) = metrics(&some_metrics(EVERY_METRIC_TYPE));
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
                        filtered_attributes: vec![kv("f", value(any_value::Value::IntValue(1)))],
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
fn doubles_read_strings_as_the_collector_does() {
    // Go's strconv.ParseFloat: decimals, and NaN / Inf / Infinity in any case.
    let read = |spelled: &str| {
        let (got, _, _) = metrics(&some_metrics(&format!(
            r#"{{"name":"g","gauge":{{"dataPoints":[{{"asDouble":{spelled}}}]}}}}"#
        )));
        match &got.resource_metrics[0].scope_metrics[0].metrics[0].data {
            Some(metric::Data::Gauge(g)) => match g.data_points[0].value {
                Some(number_data_point::Value::AsDouble(d)) => d,
                ref other => panic!("{spelled}: not a double: {other:?}"),
            },
            other => panic!("{spelled}: not a gauge: {other:?}"),
        }
    };
    assert_eq!(read(r#""2.5""#), 2.5);
    assert_eq!(read(r#""-1e3""#), -1000.0);
    assert_eq!(read("7"), 7.0);
    for nan in [r#""NaN""#, r#""nan""#] {
        assert!(read(nan).is_nan(), "{nan}");
    }
    for (spelled, want) in [
        (r#""Infinity""#, f64::INFINITY),
        (r#""-Infinity""#, f64::NEG_INFINITY),
        (r#""inf""#, f64::INFINITY),
        (r#""+Inf""#, f64::INFINITY),
    ] {
        assert_eq!(read(spelled), want, "{spelled}");
    }
    // Too large for a double is an error, not infinity; the rest is not a number at all.
    for bad in [r#""1e999""#, r#""""#, r#""12 ms""#, "true", "[]", "{}"] {
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

/// `json` rewritten by `f`, which gets each object key (in place) and each scalar with the key
/// it sits under.
fn transform(json: &str, f: &dyn Fn(&mut String, &str, &mut serde_json::Value)) -> String {
    use serde_json::Value as J;
    fn walk(v: &mut J, under: &str, f: &dyn Fn(&mut String, &str, &mut J)) {
        match v {
            J::Object(map) => {
                let members = std::mem::take(map);
                for (mut key, mut v) in members {
                    walk(&mut v, &key, f);
                    f(&mut key, "", &mut J::Null);
                    map.insert(key, v);
                }
            }
            J::Array(items) => items.iter_mut().for_each(|v| walk(v, under, f)),
            scalar => f(&mut String::new(), under, scalar),
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(json).expect("test bodies are JSON");
    walk(&mut v, "", f);
    v.to_string()
}

/// Whether two requests are the same; NaN equals NaN here.
fn same(a: &Request, b: &Request) -> bool {
    use prost::Message as _;
    match (a, b) {
        (Request::Logs(a), Request::Logs(b)) => a.encode_to_vec() == b.encode_to_vec(),
        (Request::Traces(a), Request::Traces(b)) => a.encode_to_vec() == b.encode_to_vec(),
        (Request::Metrics(a), Request::Metrics(b)) => a.encode_to_vec() == b.encode_to_vec(),
        _ => false,
    }
}

/// The bodies with every field, each with the signal it goes to.
fn every_field() -> [(Signal, String); 3] {
    [
        (Signal::Logs, EVERY_LOG_FIELD.to_owned()),
        (Signal::Traces, EVERY_SPAN_FIELD.to_owned()),
        (Signal::Metrics, some_metrics(EVERY_METRIC_TYPE)),
    ]
}

#[test]
fn snake_case_keys_read_as_their_lower_camel_case_field() {
    let snake = |key: &mut String, _: &str, _: &mut serde_json::Value| {
        let mut snake = String::new();
        for c in key.chars() {
            if c.is_ascii_uppercase() {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        }
        *key = snake;
    };
    for (signal, camel) in every_field() {
        let snake = transform(&camel, &snake);
        assert!(snake.contains("_unix_nano\""), "{snake}");
        assert!(
            same(
                &decoded(signal, &snake).request,
                &decoded(signal, &camel).request
            ),
            "{snake}"
        );
    }
}

#[test]
fn every_number_may_be_a_string() {
    // Except an enum's, which as a string must be a value name (as in the Collector).
    const ENUMS: [&str; 4] = ["severityNumber", "kind", "code", "aggregationTemporality"];
    let stringify = |_: &mut String, under: &str, v: &mut serde_json::Value| {
        if v.is_number() && !ENUMS.contains(&under) {
            *v = serde_json::Value::String(v.to_string());
        }
    };
    for (signal, body) in every_field() {
        let strings = transform(&body, &stringify);
        assert_ne!(
            strings,
            transform(&body, &|_, _, _| {}),
            "nothing stringified"
        );
        assert!(
            same(
                &decoded(signal, &strings).request,
                &decoded(signal, &body).request
            ),
            "{strings}"
        );
    }
}

#[test]
fn of_two_spellings_of_a_field_the_last_wins() {
    let text = |json: &str| {
        logs(&one_log(json)).resource_logs[0].scope_logs[0].log_records[0]
            .severity_text
            .clone()
    };
    assert_eq!(text(r#"{"severityText":"A","severity_text":"B"}"#), "B");
    assert_eq!(text(r#"{"severity_text":"A","severityText":"B"}"#), "B");
    assert_eq!(text(r#"{"severityText":"A","severityText":"C"}"#), "C");
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
fn enums_take_numbers_or_value_names() {
    let got = traces(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
             {"kind":"SPAN_KIND_SERVER","status":{"code":"STATUS_CODE_ERROR"}},
             {"kind":3,"status":{"code":1}}]}]}]}"#,
    );
    let spans = &got.resource_spans[0].scope_spans[0].spans;
    let status = |s: &Span| s.status.as_ref().map(|s| s.code);
    assert_eq!((spans[0].kind, status(&spans[0])), (2, Some(2)));
    assert_eq!((spans[1].kind, status(&spans[1])), (3, Some(1)));
    let got = logs(&one_log(r#"{"severityNumber":"SEVERITY_NUMBER_WARN"}"#));
    assert_eq!(
        got.resource_logs[0].scope_logs[0].log_records[0].severity_number,
        13
    );
    let (got, _, _) = metrics(&some_metrics(
        r#"{"name":"s","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","dataPoints":[{"asInt":1}]}},
           {"name":"h","histogram":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","dataPoints":[{"count":1}]}},
           {"name":"e","exponentialHistogram":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","dataPoints":[{"count":1}]}}"#,
    ));
    let temporality: Vec<i32> = got.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| match &m.data {
            Some(metric::Data::Sum(s)) => s.aggregation_temporality,
            Some(metric::Data::Histogram(h)) => h.aggregation_temporality,
            Some(metric::Data::ExponentialHistogram(h)) => h.aggregation_temporality,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(temporality, vec![1, 2, 1]);

    // A name that is not one of the enum's is an error, as is a number spelled as a string.
    let cases = [
        (
            Signal::Traces,
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{"kind":"SERVER"}]}]}]}"#,
            r#"resourceSpans[0].scopeSpans[0].spans[2].kind: expected a number or a value name like "SPAN_KIND_SERVER", got "SERVER""#,
        ),
        (
            Signal::Traces,
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"status":{"code":"2"}}]}]}]}"#,
            r#"resourceSpans[0].scopeSpans[0].spans[0].status.code: expected a number or a value name like "STATUS_CODE_ERROR", got "2""#,
        ),
        (
            Signal::Logs,
            &one_log(r#"{"severityNumber":"INFO"}"#),
            r#"resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: expected a number or a value name like "SEVERITY_NUMBER_INFO", got "INFO""#,
        ),
        (
            Signal::Metrics,
            &some_metrics(r#"{"name":"s","sum":{"aggregationTemporality":"DELTA"}}"#),
            r#"resourceMetrics[0].scopeMetrics[0].metrics[0].sum.aggregationTemporality: expected a number or a value name like "AGGREGATION_TEMPORALITY_DELTA", got "DELTA""#,
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
            format!(r#"{field}.timeUnixNano: expected an integer or a decimal string, got "12ns""#),
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
            format!(r#"{field}.timeUnixNano: "18446744073709551616" is out of range for uint64"#),
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
        (Signal::Logs, "[]", "top level: expected an object, got an array".to_owned()),
        (Signal::Logs, r#""x""#, r#"top level: expected an object, got "x""#.to_owned()),
        (Signal::Logs, r#"{"resourceLogs":{}}"#, "resourceLogs: expected an array, got an object".to_owned()),
        (Signal::Logs, r#"{"resourceLogs":[[]]}"#, "resourceLogs[0]: expected an object, got an array".to_owned()),
        (
            Signal::Logs,
            &one_log(r#"{"severityText":9}"#),
            "resourceLogs[0].scopeLogs[0].logRecords[0].severityText: invalid type: integer `9`, expected a string".to_owned(),
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
            r#"resourceMetrics[0].scopeMetrics[0].metrics[0].sum.isMonotonic: invalid type: string "yes", expected a boolean"#.to_owned(),
        ),
    ];
    for (signal, json, want) in cases {
        assert_eq!(error(signal, json), want);
    }
}

#[test]
fn the_last_member_of_a_oneof_wins() {
    let body = |json: &str| {
        logs(&one_log(json)).resource_logs[0].scope_logs[0].log_records[0]
            .body
            .clone()
    };
    assert_eq!(
        body(r#"{"body":{"stringValue":"a","intValue":1}}"#),
        Some(value(any_value::Value::IntValue(1)))
    );
    assert_eq!(
        body(r#"{"body":{"intValue":1,"string_value":"a"}}"#),
        Some(string_value("a"))
    );
    // A null member is an absent one.
    assert_eq!(
        body(r#"{"body":{"stringValue":"a","intValue":null}}"#),
        Some(string_value("a"))
    );

    let (got, rejected, _) = metrics(&some_metrics(
        r#"{"name":"x","gauge":{"dataPoints":[{"asInt":1}]},"sum":{"dataPoints":[{"asInt":1,"asDouble":2.5}]}}"#,
    ));
    assert_eq!(rejected, 0);
    match &got.resource_metrics[0].scope_metrics[0].metrics[0].data {
        Some(metric::Data::Sum(s)) => assert_eq!(
            s.data_points[0].value,
            Some(number_data_point::Value::AsDouble(2.5))
        ),
        other => panic!("not a sum: {other:?}"),
    }
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
fn an_export_with_nothing_in_it_is_a_success() {
    let nothing = |signal: Signal, json: &str| {
        let d = decoded(signal, json);
        assert_eq!((d.rejected, d.problems.len()), (0, 0), "{json}");
        d.request
    };
    for json in [
        "{}",
        r#"{"resourceLogs":null}"#,
        r#"{"resourceLogs":[]}"#,
        // A traces body posted to the logs endpoint: its key is unknown there, and skipped.
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]}"#,
    ] {
        assert!(
            matches!(nothing(Signal::Logs, json), Request::Logs(r) if r == ExportLogsServiceRequest::default()),
            "{json}"
        );
    }
    assert!(matches!(
        nothing(Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":null}]}]}"#),
        Request::Logs(r) if r.resource_logs[0].scope_logs[0].log_records.is_empty()
    ));
    assert!(matches!(
        nothing(Signal::Traces, r#"{"resourceSpans":[{}]}"#),
        Request::Traces(r) if r.resource_spans.len() == 1
    ));
    assert!(matches!(
        nothing(Signal::Metrics, &some_metrics("")),
        Request::Metrics(r) if r.resource_metrics[0].scope_metrics[0].metrics.is_empty()
    ));
}

#[test]
fn a_null_array_element_is_an_empty_message() {
    let got = logs(
        r#"{"resourceLogs":[null,{"scopeLogs":[{"logRecords":[null,{"attributes":[null]}]}]}]}"#,
    );
    assert_eq!(got.resource_logs.len(), 2);
    assert_eq!(got.resource_logs[0], ResourceLogs::default());
    let records = &got.resource_logs[1].scope_logs[0].log_records;
    assert_eq!(records[0], LogRecord::default());
    assert_eq!(
        records[1].attributes,
        vec![KeyValue {
            key: String::new(),
            value: None,
            key_strindex: 0
        }]
    );
    // A null where a number belongs is no number.
    let e = error(
        Signal::Metrics,
        some_metrics(
            r#"{"name":"h","histogram":{"dataPoints":[{"count":1,"bucketCounts":[1,null]}]}}"#,
        ),
    );
    assert!(
        e.starts_with("resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]: expected an integer"),
        "{e}"
    );
}

#[test]
fn fields_left_out_read_as_their_defaults() {
    // The crate's serde requires these; OTLP does not.
    let got = logs(
        r#"{"resourceLogs":[{"resource":{"entityRefs":[{}]},"scopeLogs":[{"logRecords":[{"attributes":[
             {"value":{"stringValue":"no key"}},
             {"key":"a","value":{"arrayValue":{}}},
             {"key":"k","value":{"kvlistValue":{}}}]}]}]}]}"#,
    );
    assert_eq!(
        got.resource_logs[0]
            .resource
            .as_ref()
            .map(|r| &r.entity_refs),
        Some(&vec![EntityRef::default()])
    );
    assert_eq!(
        got.resource_logs[0].scope_logs[0].log_records[0].attributes,
        vec![
            kv("", string_value("no key")),
            kv(
                "a",
                value(any_value::Value::ArrayValue(ArrayValue::default()))
            ),
            kv(
                "k",
                value(any_value::Value::KvlistValue(KeyValueList::default()))
            ),
        ]
    );
}

#[test]
fn errors_inside_a_metric_name_their_path() {
    // The crate reads a metric's data and a data point's value through a flattened `Option`,
    // where serde would turn these errors into a metric without data.
    let cases = [
        (
            r#"{"name":"g","gauge":{"dataPoints":[{"asInt":1},{"asInt":"lots"}]}}"#,
            r#"resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[1].asInt: expected an integer or a decimal string, got "lots""#,
        ),
        (
            r#"{"name":"g","gauge":{"dataPoints":[{"asInt":1,"timeUnixNano":"soon"}]}}"#,
            r#"resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].timeUnixNano: expected an integer or a decimal string, got "soon""#,
        ),
        (
            r#"{"name":"h","histogram":{"dataPoints":{"count":1}}}"#,
            "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints: expected an array, got an object",
        ),
        (
            r#"{"name":"s","summary":{"dataPoints":[{"count":1,"quantileValues":[{"value":"high"}]}]}}"#,
            r#"resourceMetrics[0].scopeMetrics[0].metrics[0].summary.dataPoints[0].quantileValues[0].value: expected a number or a string holding one ("NaN", "Infinity" and "-Infinity" included), got "high""#,
        ),
    ];
    for (metric, want) in cases {
        assert_eq!(error(Signal::Metrics, some_metrics(metric)), want);
    }
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
    // serde quotes a bad string whole; its message is cut too.
    let e = error(
        Signal::Metrics,
        some_metrics(&format!(
            r#"{{"name":"s","sum":{{"dataPoints":[{{"asInt":1}}],"isMonotonic":"{long}"}}}}"#
        )),
    );
    assert!(e.len() < 400, "{e}");
    assert!(e.ends_with('…'), "{e}");
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
                let d = decode(body.signal, &body.bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(
                    crate::testkit::otlp::records(&d.request) > 0,
                    "{name}: no records"
                );
                assert_eq!(d.rejected, 0, "{name}: {:?}", d.problems);
                seen += 1;
            }
        }
    }
    // 90 when this was written: a moved fixture directory must not leave this test checking nothing.
    assert!(seen >= 90, "only {seen} recorded JSON bodies found");
}
