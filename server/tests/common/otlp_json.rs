//! A small OTLP/JSON encoder for tests: turns the recorded protobuf bodies into the JSON a
//! spec-following exporter would send (lowerCamelCase keys, hex ids, 64-bit integers as strings,
//! enums as integers), so each fixture can be replayed over OTLP/HTTP JSON too.

use base64::Engine;
use observatory::proto::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value as V};
use observatory::proto::logs::LogRecord;
use observatory::proto::metrics::{
    Exemplar, Metric, NumberDataPoint, exemplar, metric::Data, number_data_point,
};
use observatory::proto::resource::Resource;
use observatory::proto::trace::Span;
use observatory::proto::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use serde_json::{Map, Value, json};

fn s64(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

fn any(v: &AnyValue) -> Value {
    match &v.value {
        None => json!({}),
        Some(V::StringValue(s)) => json!({"stringValue": s}),
        Some(V::BoolValue(b)) => json!({"boolValue": b}),
        Some(V::IntValue(i)) => json!({"intValue": s64(i)}),
        Some(V::DoubleValue(d)) => json!({"doubleValue": d}),
        Some(V::ArrayValue(a)) => {
            json!({"arrayValue": {"values": a.values.iter().map(any).collect::<Vec<_>>()}})
        }
        Some(V::KvlistValue(k)) => json!({"kvlistValue": {"values": kvs(&k.values)}}),
        Some(V::BytesValue(b)) => {
            json!({"bytesValue": base64::engine::general_purpose::STANDARD.encode(b)})
        }
        Some(V::StringValueStrindex(i)) => json!({"stringValueStrindex": i}),
    }
}

fn kvs(list: &[KeyValue]) -> Vec<Value> {
    list.iter()
        .map(|kv| {
            let mut m = Map::new();
            m.insert("key".into(), json!(kv.key));
            if let Some(v) = &kv.value {
                m.insert("value".into(), any(v));
            }
            Value::Object(m)
        })
        .collect()
}

fn resource(r: &Option<Resource>) -> Value {
    match r {
        Some(r) => {
            json!({"attributes": kvs(&r.attributes), "droppedAttributesCount": r.dropped_attributes_count})
        }
        None => json!({}),
    }
}

fn scope(s: &Option<InstrumentationScope>) -> Value {
    match s {
        Some(s) => json!({"name": s.name, "version": s.version, "attributes": kvs(&s.attributes)}),
        None => json!({}),
    }
}

fn log(r: &LogRecord) -> Value {
    let mut m = json!({
        "timeUnixNano": s64(r.time_unix_nano),
        "observedTimeUnixNano": s64(r.observed_time_unix_nano),
        "severityNumber": r.severity_number,
        "severityText": r.severity_text,
        "attributes": kvs(&r.attributes),
        "droppedAttributesCount": r.dropped_attributes_count,
        "flags": r.flags,
        "traceId": hex::encode(&r.trace_id),
        "spanId": hex::encode(&r.span_id),
        "eventName": r.event_name,
    });
    if let Some(b) = &r.body {
        m["body"] = any(b);
    }
    m
}

pub fn logs(req: &ExportLogsServiceRequest) -> Vec<u8> {
    let v = json!({"resourceLogs": req.resource_logs.iter().map(|rl| json!({
        "resource": resource(&rl.resource),
        "schemaUrl": rl.schema_url,
        "scopeLogs": rl.scope_logs.iter().map(|sl| json!({
            "scope": scope(&sl.scope),
            "schemaUrl": sl.schema_url,
            "logRecords": sl.log_records.iter().map(log).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()});
    serde_json::to_vec(&v).expect("json")
}

fn span(s: &Span) -> Value {
    json!({
        "traceId": hex::encode(&s.trace_id),
        "spanId": hex::encode(&s.span_id),
        "traceState": s.trace_state,
        "parentSpanId": hex::encode(&s.parent_span_id),
        "flags": s.flags,
        "name": s.name,
        "kind": s.kind,
        "startTimeUnixNano": s64(s.start_time_unix_nano),
        "endTimeUnixNano": s64(s.end_time_unix_nano),
        "attributes": kvs(&s.attributes),
        "droppedAttributesCount": s.dropped_attributes_count,
        "events": s.events.iter().map(|e| json!({
            "timeUnixNano": s64(e.time_unix_nano),
            "name": e.name,
            "attributes": kvs(&e.attributes),
            "droppedAttributesCount": e.dropped_attributes_count,
        })).collect::<Vec<_>>(),
        "droppedEventsCount": s.dropped_events_count,
        "links": s.links.iter().map(|l| json!({
            "traceId": hex::encode(&l.trace_id),
            "spanId": hex::encode(&l.span_id),
            "traceState": l.trace_state,
            "attributes": kvs(&l.attributes),
            "droppedAttributesCount": l.dropped_attributes_count,
            "flags": l.flags,
        })).collect::<Vec<_>>(),
        "droppedLinksCount": s.dropped_links_count,
        "status": s.status.as_ref().map(|st| json!({"message": st.message, "code": st.code})).unwrap_or(json!({})),
    })
}

pub fn traces(req: &ExportTraceServiceRequest) -> Vec<u8> {
    let v = json!({"resourceSpans": req.resource_spans.iter().map(|rs| json!({
        "resource": resource(&rs.resource),
        "schemaUrl": rs.schema_url,
        "scopeSpans": rs.scope_spans.iter().map(|ss| json!({
            "scope": scope(&ss.scope),
            "schemaUrl": ss.schema_url,
            "spans": ss.spans.iter().map(span).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()});
    serde_json::to_vec(&v).expect("json")
}

fn exemplars(list: &[Exemplar]) -> Vec<Value> {
    list.iter()
        .map(|e| {
            let mut m = json!({
                "filteredAttributes": kvs(&e.filtered_attributes),
                "timeUnixNano": s64(e.time_unix_nano),
                "spanId": hex::encode(&e.span_id),
                "traceId": hex::encode(&e.trace_id),
            });
            match e.value {
                Some(exemplar::Value::AsDouble(d)) => m["asDouble"] = json!(d),
                Some(exemplar::Value::AsInt(i)) => m["asInt"] = s64(i),
                None => {}
            }
            m
        })
        .collect()
}

fn number_point(p: &NumberDataPoint) -> Value {
    let mut m = json!({
        "attributes": kvs(&p.attributes),
        "startTimeUnixNano": s64(p.start_time_unix_nano),
        "timeUnixNano": s64(p.time_unix_nano),
        "exemplars": exemplars(&p.exemplars),
        "flags": p.flags,
    });
    match p.value {
        Some(number_data_point::Value::AsDouble(d)) => m["asDouble"] = json!(d),
        Some(number_data_point::Value::AsInt(i)) => m["asInt"] = s64(i),
        None => {}
    }
    m
}

fn metric(m: &Metric) -> Value {
    let mut v = json!({"name": m.name, "description": m.description, "unit": m.unit, "metadata": kvs(&m.metadata)});
    match &m.data {
        Some(Data::Gauge(g)) => {
            v["gauge"] =
                json!({"dataPoints": g.data_points.iter().map(number_point).collect::<Vec<_>>()})
        }
        Some(Data::Sum(s)) => {
            v["sum"] = json!({
                "dataPoints": s.data_points.iter().map(number_point).collect::<Vec<_>>(),
                "aggregationTemporality": s.aggregation_temporality,
                "isMonotonic": s.is_monotonic,
            })
        }
        Some(Data::Histogram(h)) => {
            v["histogram"] = json!({
                "dataPoints": h.data_points.iter().map(|p| {
                    let mut m = json!({
                        "attributes": kvs(&p.attributes),
                        "startTimeUnixNano": s64(p.start_time_unix_nano),
                        "timeUnixNano": s64(p.time_unix_nano),
                        "count": s64(p.count),
                        "bucketCounts": p.bucket_counts.iter().map(s64).collect::<Vec<_>>(),
                        "explicitBounds": p.explicit_bounds,
                        "exemplars": exemplars(&p.exemplars),
                        "flags": p.flags,
                    });
                    if let Some(s) = p.sum { m["sum"] = json!(s); }
                    if let Some(x) = p.min { m["min"] = json!(x); }
                    if let Some(x) = p.max { m["max"] = json!(x); }
                    m
                }).collect::<Vec<_>>(),
                "aggregationTemporality": h.aggregation_temporality,
            })
        }
        Some(Data::ExponentialHistogram(h)) => {
            v["exponentialHistogram"] = json!({
                "dataPoints": h.data_points.iter().map(|p| {
                    let buckets = |b: &Option<observatory::proto::metrics::exponential_histogram_data_point::Buckets>| match b {
                        Some(b) => json!({"offset": b.offset, "bucketCounts": b.bucket_counts.iter().map(s64).collect::<Vec<_>>()}),
                        None => json!({}),
                    };
                    let mut m = json!({
                        "attributes": kvs(&p.attributes),
                        "startTimeUnixNano": s64(p.start_time_unix_nano),
                        "timeUnixNano": s64(p.time_unix_nano),
                        "count": s64(p.count),
                        "scale": p.scale,
                        "zeroCount": s64(p.zero_count),
                        "positive": buckets(&p.positive),
                        "negative": buckets(&p.negative),
                        "flags": p.flags,
                        "exemplars": exemplars(&p.exemplars),
                        "zeroThreshold": p.zero_threshold,
                    });
                    if let Some(s) = p.sum { m["sum"] = json!(s); }
                    if let Some(x) = p.min { m["min"] = json!(x); }
                    if let Some(x) = p.max { m["max"] = json!(x); }
                    m
                }).collect::<Vec<_>>(),
                "aggregationTemporality": h.aggregation_temporality,
            })
        }
        Some(Data::Summary(s)) => {
            v["summary"] = json!({
                "dataPoints": s.data_points.iter().map(|p| json!({
                    "attributes": kvs(&p.attributes),
                    "startTimeUnixNano": s64(p.start_time_unix_nano),
                    "timeUnixNano": s64(p.time_unix_nano),
                    "count": s64(p.count),
                    "sum": p.sum,
                    "quantileValues": p.quantile_values.iter().map(|q| json!({"quantile": q.quantile, "value": q.value})).collect::<Vec<_>>(),
                    "flags": p.flags,
                })).collect::<Vec<_>>(),
            })
        }
        None => {}
    }
    v
}

pub fn metrics(req: &ExportMetricsServiceRequest) -> Vec<u8> {
    let v = json!({"resourceMetrics": req.resource_metrics.iter().map(|rm| json!({
        "resource": resource(&rm.resource),
        "schemaUrl": rm.schema_url,
        "scopeMetrics": rm.scope_metrics.iter().map(|sm| json!({
            "scope": scope(&sm.scope),
            "schemaUrl": sm.schema_url,
            "metrics": sm.metrics.iter().map(metric).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()});
    serde_json::to_vec(&v).expect("json")
}
