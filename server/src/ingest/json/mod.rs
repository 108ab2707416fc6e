//! OTLP/JSON decoding: turns an `application/json` export body into the same prost request the
//! protobuf path produces, so everything after the HTTP receiver sees one shape.
//!
//! The `opentelemetry-proto` crate's serde does the decoding (hex ids, 64-bit integers as strings
//! or numbers). This module is a thin layer around it that reads what the OpenTelemetry Collector
//! reads — the receiver OTLP exporters are tested against — and no less: [`canonical`] rewrites
//! the parsed body (our own [`tree::Json`]) into the one spelling the crate's serde takes, with
//! what it needs to know of OTLP in [`schema`]. README.md lists the rules ("What we accept").
//! Every error names the JSON path of the value that could not be read, so the agent's operator
//! can find it in the exporter's output.
//!
//! Whole-request errors become [`JsonError`] (HTTP 400). Metrics that carry no data are the one
//! partial rejection: they are dropped and counted in [`Decoded::rejected`] for `partial_success`.

mod canonical;
mod schema;
mod tree;

use canonical::Path;
use schema::Msg;
use tree::Json;

use super::{Refused, Request};
use crate::normalize::Signal;
use crate::proto::ExportMetricsServiceRequest;
use crate::proto::metrics::Metric;
use crate::proto::metrics::metric::Data;

/// A decoded request, with what decoding refused inside it.
pub struct Decoded {
    pub request: Request,
    /// Records (data points, metrics) refused while decoding, for `partial_success`.
    pub rejected: u64,
    /// What was wrong with the refused records, for `partial_success.error_message`.
    pub problems: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// Decodes an OTLP/JSON export request for `signal`. The body must already be inflated.
pub fn decode(signal: Signal, body: &[u8]) -> Result<Decoded, JsonError> {
    let tree: Json = serde_json::from_slice(body)
        .map_err(|e| JsonError(format!("invalid JSON in OTLP/JSON request: {e}")))?;
    let root = match signal {
        Signal::Logs => Msg::ExportLogsRequest,
        Signal::Traces => Msg::ExportTracesRequest,
        Signal::Metrics => Msg::ExportMetricsRequest,
    };
    let body = canonical::rewrite(tree, root)?;
    let mut refused = Refused::default();
    let request = match signal {
        Signal::Logs => Request::Logs(canonical::deserialize(body.tree, &Path::Root)?),
        Signal::Traces => Request::Traces(canonical::deserialize(body.tree, &Path::Root)?),
        Signal::Metrics => {
            let mut request: ExportMetricsServiceRequest =
                canonical::deserialize(body.tree, &Path::Root)?;
            let metrics = request
                .resource_metrics
                .iter_mut()
                .flat_map(|r| &mut r.scope_metrics)
                .flat_map(|s| &mut s.metrics);
            for (metric, data) in metrics.zip(body.metric_data) {
                metric.data = data;
            }
            refused = refuse_empty_metrics(&mut request);
            Request::Metrics(request)
        }
    };
    Ok(Decoded {
        request,
        rejected: refused.records,
        problems: refused.problems,
    })
}

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: a number data point that legitimately has no value.
const NO_RECORDED_VALUE: u32 = 1;

/// Problem lines kept for `partial_success.error_message`; a body full of empty metrics must not
/// turn into an equally large response.
const MAX_PROBLEMS: usize = 10;

/// Drops what would be silently lost otherwise: number data points without a value, then metrics
/// left with no data points, then scopes and resources left with no metrics. Each dropped data
/// point or empty metric counts as one refused record.
fn refuse_empty_metrics(request: &mut ExportMetricsServiceRequest) -> Refused {
    let mut refused = Refused::default();
    let mut unlisted = 0;
    let mut refuse = |count: usize, problem: String| {
        refused.records += count as u64;
        if refused.problems.len() < MAX_PROBLEMS {
            refused.problems.push(problem);
        } else {
            unlisted += 1;
        }
    };
    request.resource_metrics.retain_mut(|resource| {
        let had_scopes = !resource.scope_metrics.is_empty();
        resource.scope_metrics.retain_mut(|scope| {
            let had_metrics = !scope.metrics.is_empty();
            scope.metrics.retain_mut(|m| keep_metric(m, &mut refuse));
            !had_metrics || !scope.metrics.is_empty()
        });
        !had_scopes || !resource.scope_metrics.is_empty()
    });
    if unlisted > 0 {
        refused.problems.push(format!("and {unlisted} more"));
    }
    refused
}

/// Whether a metric keeps data points, after dropping (and refusing) its number data points
/// without a value. A point flagged `FLAG_NO_RECORDED_VALUE` has no value on purpose (a staleness
/// marker) and stays.
fn keep_metric(m: &mut Metric, refuse: &mut impl FnMut(usize, String)) -> bool {
    let number_points = match &mut m.data {
        Some(Data::Gauge(g)) => Some(&mut g.data_points),
        Some(Data::Sum(s)) => Some(&mut s.data_points),
        _ => None,
    };
    if let Some(points) = number_points.filter(|p| !p.is_empty()) {
        let before = points.len();
        points.retain(|p| p.value.is_some() || p.flags & NO_RECORDED_VALUE != 0);
        let dropped = before - points.len();
        if dropped > 0 {
            let noun = if dropped == 1 {
                "data point"
            } else {
                "data points"
            };
            refuse(
                dropped,
                format!(
                    "metric {:?}: {dropped} {noun} with neither asDouble nor asInt",
                    m.name
                ),
            );
        }
        // Its points were refused, and counted, one by one.
        if points.is_empty() {
            return false;
        }
    }
    if crate::normalize::data_points(m) == 0 {
        refuse(1, format!("metric {:?} has no data points", m.name));
        return false;
    }
    true
}

#[cfg(test)]
mod tests;
