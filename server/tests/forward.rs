//! Forwarding: everything an observatory receives reaches a second one upstream — over
//! OTLP/HTTP and OTLP/gRPC — once and in order, across an upstream outage and a restart of the
//! forwarding observatory; its own session events too, when asked.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

/// A port nothing listens on yet.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// (session id, events, tokens) of every session, sorted.
async fn summary(server: &Server) -> Vec<(String, Value, Value)> {
    let mut v: Vec<_> = server
        .sessions()
        .await
        .into_iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or("").to_owned(),
                s["events"].clone(),
                s["tokens"].clone(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// A record counter (`received`, `duplicates`) for one signal or all, summed.
async fn count(server: &Server, field: &str, signal: Option<&str>) -> u64 {
    let (_, stats) = server.get_json("/api/stats").await;
    stats["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| signal.is_none_or(|s| r["signal"] == s))
        .map(|r| r[field].as_u64().unwrap_or(0))
        .sum()
}

async fn received(server: &Server, signal: &str) -> u64 {
    count(server, "received", Some(signal)).await
}

async fn until(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_was_away_gets_everything_once_in_order_even_across_a_restart() {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let forwarding = move |c: &mut observatory::config::Config| {
        c.forward.endpoint = endpoint.clone();
    };
    let mut a = Server::start_with(forwarding.clone()).await;
    a.send_scenario("claude-code-2.1.328", "bash").await;
    let (_, stats) = a.get_json("/api/stats").await;
    let queued = stats["forward"]["queued"]["items"]
        .as_u64()
        .expect("queued");
    assert!(queued > 0, "{stats}");
    let before = (
        received(&a, "logs").await,
        received(&a, "traces").await,
        count(&a, "duplicates", None).await,
    );

    // The forwarding observatory restarts with its queue; more arrives; then the upstream is up.
    a.stop().await;
    let dir = a.dir;
    a = Server {
        running: Some(common::start_in(dir.path(), forwarding).await),
        dir,
        http: reqwest::Client::new(),
    };
    a.send_scenario("codex-0.169.0", "plain").await;
    let b = Server::start_with(|c| {
        c.listen.http = format!("127.0.0.1:{port}").parse().expect("addr");
    })
    .await;
    // What the forwarding observatory received, before and since its restart (counters restart).
    let logs = before.0 + received(&a, "logs").await;
    let traces = before.1 + received(&a, "traces").await;
    until("the upstream has every record", async || {
        received(&b, "logs").await == logs && received(&b, "traces").await == traces
    })
    .await;
    assert_eq!(summary(&b).await, summary(&a).await);
    // Second reports of a fact are the recordings' own (the same ones the forwarder saw), so
    // nothing arrived twice.
    let duplicates = before.2 + count(&a, "duplicates", None).await;
    assert_eq!(count(&b, "duplicates", None).await, duplicates);
    until("the queue is empty", async || {
        let (_, s) = a.get_json("/api/stats").await;
        s["forward"]["queued"]["items"] == 0 && s["forward"]["sent"].as_u64() > Some(0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_grpc_with_session_events_the_upstream_gets_both_once() {
    let b = Server::start().await;
    let grpc = b.grpc_url();
    let a = Server::start_with(move |c| {
        c.forward.endpoint = grpc.clone();
        c.forward.protocol = "grpc".into();
        c.forward.session_events = true;
    })
    .await;
    a.send_scenario("claude-code-2.1.328", "bash").await;
    let (_, health) = a.get_json("/api/health").await;
    let committed = health["last_seq"].as_u64().expect("last_seq");
    // The agent's own records, plus one log record per event the forwarding observatory made.
    let want = received(&a, "logs").await + committed;
    until(
        "the upstream has the records and the session events",
        async || received(&b, "logs").await == want,
    )
    .await;
    let theirs = summary(&a).await;
    let upstream = summary(&b).await;
    assert!(
        upstream.iter().any(|s| s == &theirs[0]),
        "{upstream:?} has {theirs:?}"
    );
    let resp = b
        .http
        .get(b.app_url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert!(
        resp.text()
            .await
            .expect("text")
            .contains("observatory_sessions")
    );
    let text = a
        .http
        .get(a.app_url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(text.contains("observatory_forward_queued 0\n"), "{text}");
}
