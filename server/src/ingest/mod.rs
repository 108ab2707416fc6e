//! Ingest: the OTLP receivers (gRPC on :4317, HTTP on :4318). Receivers only decode; the shared
//! [`Pipeline`] normalizes a request, hands its events to the store writer through a bounded
//! queue, and waits until they are committed. A full queue is answered at once with
//! UNAVAILABLE / 503 + Retry-After, so backpressure reaches the agent's exporter, which retries.

pub mod grpc;
pub mod guard;
pub mod http;
pub mod json;
pub mod stats;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::agents;
use crate::clock::Clock;
pub use crate::normalize::Request;
use crate::normalize::{Agent, Normalized, Prices, SessionEvent, hooks};
use crate::proto::ExportMetricsServiceRequest;
pub use stats::{HookOutcome, Protocol, Stats};

/// What the ingest queue carries to the store writer: requests' events, and the session clock's
/// ticks (through the same queue, so that a tick is ordered with the batches around it).
pub enum Work {
    Batch(Submission),
    /// Let the clock and process checks move sessions (stalled, ended, crashed).
    Tick,
    /// Retention deletes part of a session whose run is over (see `retention`).
    Prune(Prune),
}

/// One chunk of a session retention deletes: with `first`, the session itself (the writer's
/// tracker lets go of it, or refuses when its run began again), then events with seq ≤ `up_to`.
pub struct Prune {
    pub session: String,
    pub up_to: u64,
    pub first: bool,
    pub done: oneshot::Sender<Result<Pruning, String>>,
}

/// What became of a [`Prune`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pruning {
    /// Events removed; `finished` when none of the session's is left.
    Removed { events: u64, finished: bool },
    /// The session runs again: kept.
    Running,
}

/// One ingest request's events, and where to say they are committed.
pub struct Submission {
    pub events: Vec<SessionEvent>,
    pub done: oneshot::Sender<Result<Committed, String>>,
}

/// What became of a submission's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// Events dropped as second reports of a fact already stored.
    pub duplicates: u64,
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

/// What a waiting `observatory hook` learns of its prompt. The answers stage decides; ingest
/// only carries it to the hook on `GET /v1/answers/{key}`.
#[derive(Clone, Debug, PartialEq)]
pub enum Waited {
    /// Print this decision for the agent.
    Decided { allow: bool, message: String },
    /// Nothing yet: ask again.
    Pending,
    /// Settled without us (`answered_in_terminal`, `agent_gone`, `expired`…): exit quietly.
    Resolved(String),
    /// No such prompt (the server restarted, or the event was not a permission request).
    Unknown,
}

/// The answers stage, as ingest sees it (it comes later in the module order; the app hands it
/// over with [`Pipeline::set_answers`]).
pub trait AnswerDesk: Send + Sync + 'static {
    /// The state of prompt `key`, waiting up to `wait` for a change while it is pending.
    fn wait(
        &self,
        key: String,
        wait: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Waited> + Send>>;

    /// Whether answers from the phone may reach `agent` (its `[answers] opt_in`, where the
    /// registry makes them opt-in): a waiting hook's key is only kept then.
    fn takes(&self, agent: Agent) -> bool;
}

/// The forward stage, as ingest sees it: takes each accepted export request (protobuf) to send
/// it upstream too, without ever making ingest wait.
pub trait Forwarder: Send + Sync + 'static {
    fn offer(&self, signal: crate::normalize::Signal, body: Vec<u8>);
}

struct Inner {
    tx: mpsc::Sender<Work>,
    answers: std::sync::OnceLock<Arc<dyn AnswerDesk>>,
    forward: std::sync::OnceLock<Arc<dyn Forwarder>>,
    prices: Prices,
    stats: Arc<Stats>,
    max_body_bytes: usize,
    /// When a hook arrived: the event's time when the payload has none.
    clock: Clock,
}

impl Pipeline {
    pub fn new(
        tx: mpsc::Sender<Work>,
        prices: Prices,
        stats: Arc<Stats>,
        max_body_bytes: usize,
        clock: Clock,
    ) -> Self {
        Pipeline {
            inner: Arc::new(Inner {
                tx,
                answers: std::sync::OnceLock::new(),
                forward: std::sync::OnceLock::new(),
                prices,
                stats,
                max_body_bytes,
                clock,
            }),
        }
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.inner.stats
    }

    /// Gives waiting hooks their answers from `desk` (once).
    pub fn set_answers(&self, desk: Arc<dyn AnswerDesk>) {
        let _ = self.inner.answers.set(desk);
    }

    /// Sends every accepted request upstream too, through `f` (once).
    pub fn set_forward(&self, f: Arc<dyn Forwarder>) {
        let _ = self.inner.forward.set(f);
    }

    pub fn answers(&self) -> Option<&Arc<dyn AnswerDesk>> {
        self.inner.answers.get()
    }

    /// Now, on the server's clock.
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
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
        // Forwarded once accepted here (a refused request is retried by its sender).
        let forward = self
            .inner
            .forward
            .get()
            .map(|f| (f, request.encode_to_vec()));
        let mut normalized = Normalized::default();
        agents::read_otlp(request, &self.inner.prices, &mut normalized);
        let stats = &self.inner.stats;
        stats.received(signal, protocol, &normalized.tally, rejected);
        let forward = |()| {
            if let Some((f, body)) = forward {
                f.offer(signal, body);
            }
        };
        if normalized.events.is_empty() {
            stats.accepted(signal, protocol, &normalized.tally, 0);
            forward(());
            return Ok(refused);
        }
        let fail = |e: IngestError| {
            stats.refused(signal, protocol, &normalized.tally);
            e
        };
        match self.commit(normalized.events).await {
            Ok(c) => {
                stats.accepted(signal, protocol, &normalized.tally, c.duplicates);
                forward(());
                Ok(refused)
            }
            Err(e) => Err(fail(e)),
        }
    }

    /// Reads one hook payload of `agent` and commits its events; returns once they are durable.
    pub async fn hook(
        &self,
        agent: Agent,
        body: &[u8],
        hook: &hooks::Hook<'_>,
    ) -> Result<(), HookIngestError> {
        let stats = &self.inner.stats;
        let events = match agents::read_hook(agent, body, hook) {
            Ok(mut events) => {
                self.price(&mut events);
                events
            }
            Err(e) => {
                stats.hook(Some(agent), HookOutcome::Refused);
                return Err(HookIngestError::Malformed(e));
            }
        };
        if events.is_empty() {
            stats.hook(Some(agent), HookOutcome::Ignored);
            return Ok(());
        }
        match self.commit(events).await {
            Ok(c) => {
                stats.hook(
                    Some(agent),
                    HookOutcome::Accepted {
                        duplicates: c.duplicates,
                    },
                );
                Ok(())
            }
            Err(e) => {
                stats.hook(Some(agent), HookOutcome::Refused);
                Err(HookIngestError::Ingest(e))
            }
        }
    }

    /// Prices a hook's model calls that came with tokens but no cost (Pi's extension, for a model
    /// Pi cannot price), from the price table, as the OTLP adapters do.
    fn price(&self, events: &mut [SessionEvent]) {
        for e in events
            .iter_mut()
            .filter(|e| e.kind() == Some(crate::normalize::EventKind::ApiRequest))
        {
            let ev = &mut e.event;
            if let (None, Some(tokens)) = (ev.cost_usd, &ev.tokens) {
                ev.cost_usd = self.inner.prices.cost(&ev.model, tokens);
                ev.cost_estimated = ev.cost_usd.is_some();
            }
        }
    }

    /// Commits events the observatory itself makes (control actions): they count in no
    /// receiver's figures.
    pub async fn record(&self, events: Vec<SessionEvent>) -> Result<Committed, IngestError> {
        self.commit(events).await
    }

    /// Hands events to the store writer and waits until they are committed. A full queue is
    /// refused at once, never waited on.
    async fn commit(&self, mut events: Vec<SessionEvent>) -> Result<Committed, IngestError> {
        events.iter_mut().for_each(SessionEvent::seal);
        let (done, wait) = oneshot::channel();
        let submission = Work::Batch(Submission { events, done });
        match self.inner.tx.try_send(submission) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(IngestError::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(IngestError::Closed),
        }
        match wait.await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(IngestError::Store(e)),
            Err(_) => Err(IngestError::Closed),
        }
    }
}

/// Why a hook payload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum HookIngestError {
    #[error(transparent)]
    Malformed(hooks::HookError),
    #[error(transparent)]
    Ingest(IngestError),
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
                let keep = crate::normalize::data_points(m) > 0;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ExportLogsServiceRequest;
    use crate::testkit::otlp::{kv_str, log_record, logs_request};
    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use prost::Message;
    use tower::ServiceExt;

    /// One Claude Code api_request log record for session `s`.
    fn one_record(s: &str) -> ExportLogsServiceRequest {
        let attributes = vec![
            kv_str("session.id", s),
            kv_str("event.name", "api_request"),
            kv_str("request_id", s),
            kv_str("model", "claude-sonnet-4-5"),
        ];
        logs_request("claude-code", vec![log_record(0, "", attributes)])
    }

    /// A pipeline whose queue holds one request and whose writer never drains it.
    fn stuck_pipeline() -> (Pipeline, mpsc::Receiver<Work>) {
        let (tx, rx) = mpsc::channel(1);
        let p = Pipeline::new(
            tx,
            Prices::default(),
            Arc::default(),
            1 << 20,
            Clock::system(),
        );
        (p, rx)
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_never_queued_without_bound() {
        let (p, _rx) = stuck_pipeline();
        let first = {
            let p = p.clone();
            tokio::spawn(async move {
                p.submit(
                    Protocol::Grpc,
                    Request::Logs(one_record("a")),
                    Refused::default(),
                )
                .await
            })
        };
        tokio::task::yield_now().await;
        while p.inner.tx.capacity() > 0 {
            tokio::task::yield_now().await;
        }
        let second = p
            .submit(
                Protocol::Grpc,
                Request::Logs(one_record("b")),
                Refused::default(),
            )
            .await;
        assert!(matches!(second, Err(IngestError::Busy)), "{second:?}");
        first.abort();

        // OTLP/HTTP says 503 with Retry-After; OTLP/gRPC says UNAVAILABLE.
        let guard = guard::Guard::new(crate::hosts::HostList::for_port(
            std::net::Ipv4Addr::LOCALHOST.into(),
            4318,
            &[],
        ));
        let resp = http::router(p.clone(), guard)
            .oneshot(
                HttpRequest::post("/v1/logs")
                    .header("host", "127.0.0.1:4318")
                    .header("content-type", "application/x-protobuf")
                    .body(Body::from(one_record("c").encode_to_vec()))
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let status = grpc::Receiver::new(p.clone())
            .submit(Request::Logs(one_record("d")))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), tonic::Code::Unavailable);

        let rows = p.stats().snapshot();
        let rejected: u64 = rows.iter().map(|r| r.counters.rejected).sum();
        assert_eq!(rejected, 3, "refused records are counted: {rows:?}");
    }

    #[tokio::test]
    async fn a_closed_pipeline_refuses_with_a_retryable_error() {
        let (p, rx) = stuck_pipeline();
        drop(rx);
        let r = p
            .submit(
                Protocol::HttpJson,
                Request::Logs(one_record("a")),
                Refused::default(),
            )
            .await;
        assert!(matches!(r, Err(IngestError::Closed)), "{r:?}");
    }
}
