//! Ingest: the OTLP receivers (gRPC on :4317, HTTP on :4318). Receivers only decode; the shared
//! [`Pipeline`] normalizes a request, hands its events to the store writer through a bounded
//! queue, and waits until they are committed. A full queue is answered at once with
//! UNAVAILABLE / 503 + Retry-After, so backpressure reaches the agent's exporter, which retries.

pub mod grpc;
pub mod http;
pub mod json;
pub mod stats;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::normalize::{self, Normalized, Prices, Signal};
use crate::proto::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use crate::store::writer::Submission;
pub use stats::{Protocol, Stats};

/// A decoded OTLP export request of any signal.
pub enum Request {
    Logs(ExportLogsServiceRequest),
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

impl Request {
    pub fn signal(&self) -> Signal {
        match self {
            Request::Logs(_) => Signal::Logs,
            Request::Traces(_) => Signal::Traces,
            Request::Metrics(_) => Signal::Metrics,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the pipeline is full; retry after a short wait")]
    Busy,
    #[error("the server is shutting down")]
    Closed,
    #[error("{0}")]
    Store(String),
}

/// The handle receivers share: cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Submission>,
    prices: Prices,
    stats: Arc<Stats>,
    max_body_bytes: usize,
}

impl Pipeline {
    pub fn new(
        tx: mpsc::Sender<Submission>,
        prices: Prices,
        stats: Arc<Stats>,
        max_body_bytes: usize,
    ) -> Self {
        Pipeline {
            inner: Arc::new(Inner {
                tx,
                prices,
                stats,
                max_body_bytes,
            }),
        }
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.inner.stats
    }

    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// Normalizes a request, commits its events, and returns once they are durable.
    /// `refused` is what decoding already refused (those records count as received). The outcome
    /// says how many records were refused in all, for `partial_success`.
    pub async fn submit(
        &self,
        protocol: Protocol,
        mut request: Request,
        refused: Refused,
    ) -> Result<Refused, IngestError> {
        let mut refused = refused;
        if let Request::Metrics(m) = &mut request {
            refused.merge(reject_empty_metrics(m));
        }
        let rejected = refused.records;
        let signal = request.signal();
        let mut normalized = Normalized::default();
        match request {
            Request::Logs(r) => normalize::logs(r, &self.inner.prices, &mut normalized),
            Request::Traces(r) => normalize::traces(r, &self.inner.prices, &mut normalized),
            Request::Metrics(r) => normalize::metrics(r, &self.inner.prices, &mut normalized),
        }
        let stats = &self.inner.stats;
        stats.received(signal, protocol, &normalized.tally, rejected);
        if normalized.events.is_empty() {
            stats.accepted(signal, protocol, &normalized.tally, 0);
            return Ok(refused);
        }
        let (done, wait) = oneshot::channel();
        let submission = Submission {
            events: normalized.events,
            done,
        };
        let fail = |e: IngestError| {
            stats.refused(signal, protocol, &normalized.tally);
            e
        };
        match self.inner.tx.try_send(submission) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(fail(IngestError::Busy)),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(fail(IngestError::Closed)),
        }
        match wait.await {
            Ok(Ok(c)) => {
                stats.accepted(signal, protocol, &normalized.tally, c.duplicates);
                Ok(refused)
            }
            Ok(Err(e)) => Err(fail(IngestError::Store(e))),
            Err(_) => Err(fail(IngestError::Closed)),
        }
    }
}

/// Records refused inside an otherwise accepted request, reported back as `partial_success`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refused {
    pub records: u64,
    /// What was wrong, one line per problem.
    pub problems: Vec<String>,
}

impl Refused {
    pub fn merge(&mut self, other: Refused) {
        self.records += other.records;
        self.problems.extend(other.problems);
    }

    /// The `error_message` of a partial success.
    pub fn message(&self) -> String {
        const SHOWN: usize = 5;
        let mut m = self
            .problems
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if self.problems.len() > SHOWN {
            m.push_str(&format!("; and {} more", self.problems.len() - SHOWN));
        }
        m
    }
}

/// Drops metrics that carry no data points (a metric with no data type, or an empty one): they
/// would be silently lost otherwise. Each counts as one refused data point.
pub fn reject_empty_metrics(req: &mut ExportMetricsServiceRequest) -> Refused {
    let mut refused = Refused::default();
    for rm in &mut req.resource_metrics {
        for sm in &mut rm.scope_metrics {
            sm.metrics.retain(|m| {
                let keep = normalize::data_points(m) > 0;
                if !keep {
                    refused.records += 1;
                    refused
                        .problems
                        .push(format!("metric {:?} has no data points", m.name));
                }
                keep
            });
        }
    }
    refused
}

/// The protobuf `Export*ServiceResponse` for an outcome: empty on full success, with
/// `partial_success` when records were refused.
pub mod partial {
    use super::Refused;
    use crate::proto::collector::{logs, metrics, trace};

    fn count(r: &Refused) -> i64 {
        i64::try_from(r.records).unwrap_or(i64::MAX)
    }

    pub fn logs(r: &Refused) -> logs::ExportLogsServiceResponse {
        logs::ExportLogsServiceResponse {
            partial_success: (r.records > 0).then(|| logs::ExportLogsPartialSuccess {
                rejected_log_records: count(r),
                error_message: r.message(),
            }),
        }
    }

    pub fn traces(r: &Refused) -> trace::ExportTraceServiceResponse {
        trace::ExportTraceServiceResponse {
            partial_success: (r.records > 0).then(|| trace::ExportTracePartialSuccess {
                rejected_spans: count(r),
                error_message: r.message(),
            }),
        }
    }

    pub fn metrics(r: &Refused) -> metrics::ExportMetricsServiceResponse {
        metrics::ExportMetricsServiceResponse {
            partial_success: (r.records > 0).then(|| metrics::ExportMetricsPartialSuccess {
                rejected_data_points: count(r),
                error_message: r.message(),
            }),
        }
    }
}
