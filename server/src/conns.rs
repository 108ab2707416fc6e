//! HTTP/1.1 connections with bounds, for the OTLP/HTTP and app ports: at most
//! `max_connections` open per port, and a connection that sends no complete request head within
//! `header_timeout` — a half-sent request, a silent new connection, an idle keep-alive one — is
//! closed. Past the limit a new connection gets a fast `503` with `Retry-After` and is closed,
//! so idle connections never lock an agent's next report out (it retries) and file descriptors
//! stay bounded. On cancel it stops accepting, lets each connection finish the request it is
//! serving, and returns once all are done (upgraded WebSockets end with their own cancel).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// A port's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

const BUSY_BODY: &str = "{\"error\": \"too many open connections to this port: retry shortly\"}";

/// Serves `router` on `listener` until `cancel`; each request carries its peer address as
/// [`ConnectInfo`].
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    cancel: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let tasks = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most likely: let some close.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let (router, cancel) = (router.clone(), cancel.clone());
                tasks.spawn(async move {
                    connection(stream, peer, router, limits.header_timeout, cancel).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tasks.spawn(refuse(stream));
            }
        }
    }
    tasks.close();
    tasks.wait().await;
}

/// A connection past the limit: once its request head is in (a client reads no answer before
/// it has sent its request), a `503`, then closed; within a second, whatever it sends.
async fn refuse(mut stream: TcpStream) {
    let head = async {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
        true
    };
    if !matches!(
        tokio::time::timeout(Duration::from_secs(1), head).await,
        Ok(true)
    ) {
        return;
    }
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{BUSY_BODY}",
        BUSY_BODY.len()
    );
    let write = async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    header_timeout: Duration,
    cancel: CancellationToken,
) {
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, %peer, "connection ended");
    }
}
