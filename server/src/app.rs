//! Wires the stages together and does nothing else: binds the three ports, builds each stage
//! from its config (`Stage::new(inputs, outputs, config)`), runs each (`run(cancel)`), and shuts
//! them down in stages: stop the receivers, let in-flight requests finish and commit, drain the
//! writer, stop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::access::Access;
use crate::alerts::Engine;
use crate::answers::Answers;
use crate::clock::Clock;
use crate::config::Config;
use crate::control::Controller;
use crate::hosts::HostList;
use crate::ingest::guard::Guard;
use crate::ingest::{self, Pipeline, Stats};
use crate::live::{Hub, Ticker};
use crate::normalize::Prices;
use crate::store::Store;
use crate::web;
use crate::writer::Writer;

/// A running server: its bound addresses and the handle to stop it.
pub struct Running {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub app_addr: SocketAddr,
    /// The time every stage reads: the system's, or a test's adjustable clock.
    pub clock: Clock,
    cancel: CancellationToken,
    servers: Vec<JoinHandle<Result<()>>>,
    writer: JoinHandle<Result<()>>,
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
    start_with_clock(config, data_dir, Clock::system()).await
}

/// [`start`], with every stage on `clock` (tests move an adjustable one instead of sleeping).
pub async fn start_with_clock(config: &Config, data_dir: &Path, clock: Clock) -> Result<Running> {
    let store = Store::open(data_dir)?;
    let grpc = bind(config.listen.grpc, "OTLP/gRPC").await?;
    let http = bind(config.listen.http, "OTLP/HTTP").await?;
    let app = bind(config.listen.app, "app").await?;
    let (grpc_addr, http_addr, app_addr) =
        (grpc.local_addr()?, http.local_addr()?, app.local_addr()?);

    let (tx, rx) = mpsc::channel(config.ingest.queue_requests);
    let cancel = CancellationToken::new();
    let retention = crate::retention::Retention::new(
        store.clone(),
        tx.clone(),
        config.retention.clone(),
        clock.clone(),
        cancel.clone(),
    );
    let hub = Hub::new(
        config.live.max_lag_commits,
        config.live.tool_latency_window_secs,
        clock.clone(),
    );
    let writer = Writer::new(
        store.clone(),
        (tx.clone(), rx),
        hub.clone(),
        config.writer(clock.clone()),
    )?;
    let stats = Arc::new(Stats::default());
    let prices = Prices::with_overrides(&config.prices);
    let pipeline = Pipeline::new(
        tx,
        prices,
        stats.clone(),
        config.ingest.max_body_bytes,
        clock.clone(),
    );
    let (forward, forward_status) =
        match crate::forward::Forward::new(&config.forward, data_dir, &hub)? {
            Some((stage, tap, status)) => {
                pipeline.set_forward(Arc::new(tap));
                (Some(stage), Some(status))
            }
            None => (None, None),
        };
    let ticker = Ticker::new(store.clone(), hub.clone(), config.live.tick_interval())?;
    let engine = Engine::from_settings(
        &config.alerts,
        &config.push,
        config.access.public_url(),
        data_dir,
        store.clone(),
        hub.clone(),
    )?;
    let Acting {
        access,
        control,
        answers,
    } = Acting::start(config, data_dir, app_addr, &store, &pipeline, &engine, &hub)?;
    let link = access.startup_link(loopback(app_addr));
    let app_state = web::AppState {
        store,
        stats,
        hub,
        alerts: engine.alerts(),
        access,
        control,
        answers: answers.clone(),
        cancel: cancel.clone(),
        feeds: Arc::new(tokio::sync::Semaphore::new(config.live.max_feed_clients)),
        retention: retention.clone(),
        forward: forward_status,
    };

    let writer = tokio::spawn(writer.run(cancel.clone()));
    let mut servers = serve_ingest(config, grpc, http, pipeline, &cancel)?;
    servers.extend([
        tokio::spawn(ticker.run(cancel.clone())),
        tokio::spawn(engine.run(cancel.clone())),
        tokio::spawn(answers.run(cancel.clone())),
        tokio::spawn(async move {
            retention.run().await;
            Ok(())
        }),
        tokio::spawn(serve_http(
            app,
            web::router(app_state),
            config.listen.limits(),
            cancel.clone(),
        )),
    ]);
    if let Some(stage) = forward {
        tracing::info!(endpoint = %config.forward.endpoint, protocol = %config.forward.protocol, "forwarding everything received");
        servers.push(tokio::spawn(stage.run(cancel.clone())));
    }
    tracing::info!(%grpc_addr, %http_addr, %app_addr, data_dir = %data_dir.display(), "observatory is listening");
    tracing::info!(
        %link,
        "pair this computer's browser: open the link (it works once, for {} min); for a phone run `observatory pair` or `observatory tunnel`",
        config.access.pairing_code_ttl_secs / 60
    );
    Ok(Running {
        grpc_addr,
        http_addr,
        app_addr,
        clock,
        cancel,
        servers,
        writer,
    })
}

/// The stages that act on what the others saw: who may do what, control, answers.
struct Acting {
    access: Access,
    control: Controller,
    answers: Answers,
}

impl Acting {
    fn start(
        config: &Config,
        data_dir: &Path,
        app_addr: SocketAddr,
        store: &Store,
        pipeline: &Pipeline,
        engine: &Engine,
        hub: &Hub,
    ) -> Result<Acting> {
        let clock = hub.clock();
        let access = Access::open(
            config.access.clone(),
            app_addr,
            data_dir,
            store.clone(),
            hub.clone(),
        )?;
        let control = Controller::new(
            config.control.clone(),
            store.clone(),
            pipeline.clone(),
            access.clone(),
            data_dir,
            clock.clone(),
        );
        engine
            .alerts()
            .set_answer_actions(config.access.remote_answers.actions());
        let answers = Answers::new(
            config.answers.clone(),
            hub.clone(),
            engine.alerts(),
            access.clone(),
            clock.clone(),
        );
        pipeline.set_answers(Arc::new(answers.clone()));
        Ok(Acting {
            access,
            control,
            answers,
        })
    }
}

/// The two ingest ports, each behind its guard: the names it answers to are loopback with its
/// port and `[access] allowed_hosts` (tunnels never front them).
fn serve_ingest(
    config: &Config,
    grpc: TcpListener,
    http: TcpListener,
    pipeline: Pipeline,
    cancel: &CancellationToken,
) -> Result<Vec<JoinHandle<Result<()>>>> {
    let guard = |l: &TcpListener| -> Result<Guard> {
        let addr = l.local_addr()?;
        let names = HostList::for_port(addr.ip(), addr.port(), &config.access.allowed_hosts);
        Ok(Guard::new(names))
    };
    let (http_guard, grpc_guard) = (guard(&http)?, guard(&grpc)?);
    Ok(vec![
        tokio::spawn(serve_http(
            http,
            ingest::http::router(pipeline.clone(), http_guard),
            config.listen.limits(),
            cancel.clone(),
        )),
        tokio::spawn(serve_grpc(
            grpc,
            ingest::grpc::router(pipeline, grpc_guard),
            cancel.clone(),
        )),
    ])
}

/// An HTTP port (OTLP/HTTP, app) within its connection limits; each request knows its peer.
async fn serve_http(
    l: TcpListener,
    router: axum::Router,
    limits: crate::conns::Limits,
    cancel: CancellationToken,
) -> Result<()> {
    crate::conns::serve(l, router, limits, cancel).await;
    Ok(())
}

/// `addr`, or the loopback address with its port when it is a wildcard.
pub fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

async fn serve_grpc(
    l: TcpListener,
    router: tonic::transport::server::Router<
        tower::layer::util::Stack<ingest::grpc::GuardLayer, tower::layer::util::Identity>,
    >,
    cancel: CancellationToken,
) -> Result<()> {
    router
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(l),
            cancel.cancelled_owned(),
        )
        .await
        .context("OTLP/gRPC server")
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
        self.writer.await??;
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
