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
use crate::proto::{ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest};
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
    pub fn new(tx: mpsc::Sender<Submission>, prices: Prices, stats: Arc<Stats>, max_body_bytes: usize) -> Self {
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
    /// `rejected` is how many records decoding already refused (they count as received).
    pub async fn submit(&self, protocol: Protocol, request: Request, rejected: u64) -> Result<(), IngestError> {
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
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        let submission = Submission {
            events: normalized.events,
            done,
        };
        let refused = |e: IngestError| {
            stats.refused(signal, protocol, &normalized.tally);
            e
        };
        match self.inner.tx.try_send(submission) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(refused(IngestError::Busy)),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(refused(IngestError::Closed)),
        }
        match wait.await {
            Ok(Ok(c)) => {
                stats.accepted(signal, protocol, &normalized.tally, c.duplicates);
                Ok(())
            }
            Ok(Err(e)) => Err(refused(IngestError::Store(e))),
            Err(_) => Err(refused(IngestError::Closed)),
        }
    }
}
