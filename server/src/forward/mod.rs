//! Forward: everything received is also sent on, unchanged, to an upstream OTLP endpoint — a
//! team's Collector, ClickHouse or Grafana stack — and, optionally, the observatory's own
//! session events as OTLP log records with stable attribute names ([`events`]). Ingest offers
//! each request it accepted (its export request, protobuf) through a [`Tap`] that never waits:
//! a full hand-over channel drops and counts. The stage writes what it is offered to a
//! persistent queue ([`queue`], its own redb file, capped by size) and a sender takes the queue
//! front to the upstream in order, removing what was taken and backing off (1 s doubling to
//! 30 s) while the upstream is away — so an outage or a restart loses nothing the cap does not
//! count, and the upstream receives each request once, in order.

pub mod events;
pub mod queue;
pub mod upstream;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::live::Published;
use crate::normalize::Signal;
use queue::{Depth, Queue};
use upstream::{Sent, Upstream};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The upstream: `http://collector:4318` (OTLP/HTTP: `/v1/<signal>` is added) or, with
    /// `protocol = "grpc"`, `http://collector:4317`. Empty: forwarding is off.
    pub endpoint: String,
    /// `http/protobuf` or `grpc`.
    pub protocol: String,
    /// Sent with every request (authentication).
    pub headers: BTreeMap<String, String>,
    /// `gzip` or `none`.
    pub compression: String,
    /// Also send the normalized session events as OTLP log records.
    pub session_events: bool,
    /// The queue's cap; past it the oldest requests are dropped (and counted).
    pub max_queue_mib: u64,
    pub timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            endpoint: String::new(),
            protocol: "http/protobuf".into(),
            headers: BTreeMap::new(),
            compression: "gzip".into(),
            session_events: false,
            max_queue_mib: 256,
            timeout_secs: 10,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !matches!(self.protocol.as_str(), "http/protobuf" | "grpc") {
            anyhow::bail!("forward.protocol must be \"http/protobuf\" or \"grpc\"");
        }
        if !matches!(self.compression.as_str(), "gzip" | "none") {
            anyhow::bail!("forward.compression must be \"gzip\" or \"none\"");
        }
        let e = &self.endpoint;
        if !(e.is_empty() || e.starts_with("http://") || e.starts_with("https://")) {
            anyhow::bail!("forward.endpoint must start with http:// or https://");
        }
        Ok(())
    }
}

/// Requests waiting for the stage to write them down.
const HANDOVER: usize = 1024;
/// Requests sent per queue read.
const SEND_BATCH: usize = 64;
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// What ingest holds: hands accepted requests to the stage without ever waiting.
pub struct Tap {
    tx: mpsc::Sender<(Signal, Vec<u8>)>,
    counts: Arc<Counts>,
}

impl crate::ingest::Forwarder for Tap {
    fn offer(&self, signal: Signal, body: Vec<u8>) {
        if self.tx.try_send((signal, body)).is_err() {
            self.counts.handover_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    refused: AtomicU64,
    handover_dropped: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

/// What `/api/stats` and `/metrics` say of forwarding.
#[derive(Clone)]
pub struct Status {
    endpoint: String,
    queue: Arc<Queue>,
    counts: Arc<Counts>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub endpoint: String,
    pub queued: Depth,
    /// Requests the upstream took, and refused for good (dropped), since start.
    pub sent: u64,
    pub refused: u64,
    /// Offered while the stage was too far behind to take them (dropped), since start.
    pub handover_dropped: u64,
    pub last_error: Option<String>,
}

impl Status {
    pub fn report(&self) -> Report {
        let c = &self.counts;
        Report {
            endpoint: self.endpoint.clone(),
            queued: self.queue.depth().unwrap_or_default(),
            sent: c.sent.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            handover_dropped: c.handover_dropped.load(Ordering::Relaxed),
            last_error: c
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

pub struct Forward {
    settings: Settings,
    queue: Arc<Queue>,
    upstream: Upstream,
    rx: mpsc::Receiver<(Signal, Vec<u8>)>,
    /// Committed batches, when session events are forwarded.
    commits: Option<mpsc::UnboundedReceiver<Arc<Published>>>,
    counts: Arc<Counts>,
}

impl Forward {
    /// The stage, its tap for ingest and its status; `None` when no endpoint is set.
    pub fn new(
        settings: &Settings,
        data_dir: &Path,
        hub: &crate::live::Hub,
    ) -> anyhow::Result<Option<(Forward, Tap, Status)>> {
        if settings.endpoint.is_empty() {
            return Ok(None);
        }
        let queue = Arc::new(Queue::open(
            data_dir,
            settings.max_queue_mib.saturating_mul(1 << 20),
        )?);
        let (tx, rx) = mpsc::channel(HANDOVER);
        let counts = Arc::new(Counts::default());
        let status = Status {
            endpoint: settings.endpoint.clone(),
            queue: queue.clone(),
            counts: counts.clone(),
        };
        let forward = Forward {
            settings: settings.clone(),
            upstream: Upstream::new(settings)?,
            queue,
            rx,
            commits: settings.session_events.then(|| hub.tap()),
            counts: counts.clone(),
        };
        Ok(Some((forward, Tap { tx, counts }, status)))
    }

    /// Writes what ingest hands over until ingest is gone; sends until `cancel`.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let Forward {
            settings,
            queue,
            upstream,
            rx,
            commits,
            counts,
        } = self;
        let wake = Arc::new(Notify::new());
        let sender = tokio::spawn(send(
            queue.clone(),
            upstream,
            counts.clone(),
            wake.clone(),
            cancel.clone(),
        ));
        let host = events::host_name();
        // Until ingest is gone (all it handed over written down), or a few seconds after the
        // stop: a stop never waits long for this.
        let stopped = async {
            cancel.cancelled().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        };
        tokio::select! {
            () = persist(queue, rx, commits, &settings, &host, &wake, &cancel) => {}
            () = stopped => tracing::warn!("forward: stopped before every offered request was queued"),
        }
        sender.await?;
        Ok(())
    }
}

/// Writes handed-over requests (and session events) to the queue, a batch per transaction.
async fn persist(
    queue: Arc<Queue>,
    mut rx: mpsc::Receiver<(Signal, Vec<u8>)>,
    mut commits: Option<mpsc::UnboundedReceiver<Arc<Published>>>,
    settings: &Settings,
    host: &str,
    wake: &Notify,
    cancel: &CancellationToken,
) {
    loop {
        let mut batch = Vec::new();
        tokio::select! {
            got = rx.recv() => match got {
                Some(item) => batch.push(item),
                None => return,
            },
            Some(p) = async { commits.as_mut()?.recv().await }, if commits.is_some() && !cancel.is_cancelled() => {
                batch.extend(events::request(&p.events, host).map(|b| (Signal::Logs, b)));
            }
        }
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let q = queue.clone();
        match tokio::task::spawn_blocking(move || q.push(&batch)).await {
            Ok(Ok(())) => wake.notify_one(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, endpoint = %settings.endpoint, "forward queue write failed; those requests are not forwarded")
            }
            Err(e) => tracing::warn!(error = %e, "forward queue write failed"),
        }
    }
}

/// Takes the queue front upstream, in order, until `cancel`.
async fn send(
    queue: Arc<Queue>,
    upstream: Upstream,
    counts: Arc<Counts>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let q = queue.clone();
        let front = tokio::task::spawn_blocking(move || q.front(SEND_BATCH)).await;
        let items = match front {
            Ok(Ok(items)) => items,
            _ => Vec::new(),
        };
        if items.is_empty() {
            tokio::select! {
                _ = wake.notified() => continue,
                _ = cancel.cancelled() => return,
            }
        }
        let mut done = None;
        let mut failed = None;
        for item in &items {
            if cancel.is_cancelled() {
                break;
            }
            match upstream.send(item.signal, &item.body).await {
                Sent::Taken => {
                    counts.sent.fetch_add(1, Ordering::Relaxed);
                    done = Some(item.n);
                }
                Sent::Refused(why) => {
                    tracing::warn!(%why, "the forward upstream refused a request for good; it is dropped");
                    counts.refused.fetch_add(1, Ordering::Relaxed);
                    *counts.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                    done = Some(item.n);
                }
                Sent::Later(why) => {
                    failed = Some(why);
                    break;
                }
            }
        }
        if let Some(n) = done {
            let q = queue.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || q.remove_through(n)).await {
                tracing::warn!(error = %e, "forward queue: removing sent requests failed");
            }
        }
        match failed {
            Some(why) => {
                tracing::debug!(%why, retry_in = ?backoff, "forward upstream unavailable");
                *counts.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = cancel.cancelled() => return,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            None => backoff = Duration::from_secs(1),
        }
        if cancel.is_cancelled() {
            return;
        }
    }
}
