//! Wires the stages together: binds the three ports, starts the store writer, the OTLP receivers
//! and the app server, and shuts them down in stages (stop receivers, let in-flight requests
//! finish and commit, drain the writer, stop).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::{self, Pipeline, Stats};
use crate::live::Hub;
use crate::normalize::Prices;
use crate::store::Store;
use crate::store::writer::{Work, Writer};
use crate::web;

/// A running server: its bound addresses and the handle to stop it.
pub struct Running {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub app_addr: SocketAddr,
    cancel: CancellationToken,
    servers: Vec<JoinHandle<Result<()>>>,
    writer: std::thread::JoinHandle<()>,
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    let l = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} port {addr}"))?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "{what} is listening beyond loopback: anyone who can reach this address can use it");
    }
    Ok(l)
}

/// Opens the store in `data_dir`, binds the configured addresses and starts serving.
pub async fn start(config: &Config, data_dir: &Path) -> Result<Running> {
    let store = Store::open(data_dir)?;
    let grpc = bind(config.listen.grpc, "OTLP/gRPC").await?;
    let http = bind(config.listen.http, "OTLP/HTTP").await?;
    let app = bind(config.listen.app, "app").await?;
    let (grpc_addr, http_addr, app_addr) =
        (grpc.local_addr()?, http.local_addr()?, app.local_addr()?);

    let (tx, rx) = mpsc::channel(config.ingest.queue_requests);
    let hub = Hub::new(
        config.live.max_lag_commits,
        config.live.tool_latency_window_secs,
    );
    let writer = Writer::new(
        store.clone(),
        rx,
        config.ingest.batch_max_events,
        hub.clone(),
        config.session.limits(),
    )?
    .spawn()
    .context("starting the store writer")?;
    let stats = Arc::new(Stats::default());
    let prices = Prices::with_overrides(&config.prices);
    let clock_tx = tx.clone();
    let pipeline = Pipeline::new(tx, prices, stats.clone(), config.ingest.max_body_bytes);

    let cancel = CancellationToken::new();
    let mut servers = Vec::new();

    let http_router = ingest::http::router(pipeline.clone());
    let c = cancel.clone();
    servers.push(tokio::spawn(async move {
        axum::serve(http, http_router)
            .with_graceful_shutdown(c.cancelled_owned())
            .await
            .context("OTLP/HTTP server")
    }));

    let grpc_router = ingest::grpc::router(pipeline);
    let c = cancel.clone();
    servers.push(tokio::spawn(async move {
        grpc_router
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(grpc),
                c.cancelled_owned(),
            )
            .await
            .context("OTLP/gRPC server")
    }));

    servers.push(tokio::spawn(session_clock(
        clock_tx,
        Duration::from_millis(config.session.check_interval_ms),
        cancel.clone(),
    )));
    servers.push(tokio::spawn(live_figures(
        store.clone(),
        hub.clone(),
        cancel.clone(),
    )));

    let engine = crate::alerts::Engine::from_config(config, data_dir, store.clone(), hub.clone())?;
    let alerts = engine.alerts();
    servers.push(tokio::spawn(engine.run(cancel.clone())));

    let app_router = web::router(web::AppState {
        store,
        stats,
        hub,
        alerts,
        cancel: cancel.clone(),
    });
    let c = cancel.clone();
    servers.push(tokio::spawn(async move {
        axum::serve(app, app_router)
            .with_graceful_shutdown(c.cancelled_owned())
            .await
            .context("app server")
    }));

    tracing::info!(%grpc_addr, %http_addr, %app_addr, data_dir = %data_dir.display(), "observatory is listening");
    Ok(Running {
        grpc_addr,
        http_addr,
        app_addr,
        cancel,
        servers,
        writer,
    })
}

/// Seeds the live figures from today's stored events, then makes a `tick` frame every 5 s.
/// Asks the writer to run the session clock (stalls, expiry, agent processes) every `period`.
/// Waits for room in the queue rather than skipping: a busy server checks a little late.
async fn session_clock(
    tx: mpsc::Sender<Work>,
    period: Duration,
    cancel: CancellationToken,
) -> Result<()> {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = cancel.cancelled() => return Ok(()),
        }
        tokio::select! {
            sent = tx.send(Work::Tick) => if sent.is_err() { return Ok(()) },
            _ = cancel.cancelled() => return Ok(()),
        }
    }
}

async fn live_figures(store: Store, hub: Hub, cancel: CancellationToken) -> Result<()> {
    const DAY: i64 = 24 * 3600 * 1_000_000_000;
    let now = crate::store::writer::now_unix_nano();
    let (s, h) = (store.clone(), hub.clone());
    // Bounded: a busy day beyond this many events starts its figures partly empty.
    let stop = cancel.clone();
    let seeded = tokio::task::spawn_blocking(move || {
        s.scan_recent(now - now.rem_euclid(DAY), 500_000, |e| {
            if e.kind == "api_request" || e.kind == "tool_finished" {
                h.seed(std::slice::from_ref(&e));
            }
            // A shutdown must not wait for the scan.
            !stop.is_cancelled()
        })
    });
    tokio::select! {
        r = seeded => if let Ok(Err(e)) = r {
            tracing::warn!(error = %e, "could not read today's events for the live figures");
        },
        _ = cancel.cancelled() => return Ok(()),
    }
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = cancel.cancelled() => return Ok(()),
        }
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.sessions()).await {
            Ok(Ok(sessions)) => hub.tick(&sessions),
            Ok(Err(e)) => tracing::warn!(error = %e, "reading sessions for the live tick"),
            Err(e) => tracing::warn!(error = %e, "live tick task failed"),
        }
    }
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (they wait for their commit), then lets
    /// the writer drain its queue and commit before returning.
    pub async fn shutdown(self) -> Result<()> {
        self.cancel.cancel();
        let mut first_err = None;
        for s in self.servers {
            match s.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(e) => first_err = first_err.or(Some(e.into())),
            }
        }
        // Every pipeline handle lived in the servers; with them gone the writer's queue closes.
        let writer = self.writer;
        tokio::task::spawn_blocking(move || writer.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the store writer panicked"))?;
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
