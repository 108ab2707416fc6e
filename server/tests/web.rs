//! The dashboard as served: the built PWA (when `pwa/dist` holds one; `scripts/test` builds it
//! first) with its cache headers, ETags and 304s, client routes falling back to `index.html`,
//! compression negotiated from `Accept-Encoding`; or, without a build, a page saying how to make
//! one. `/api/*` never falls back to the page.

mod common;

use common::Server;

fn built_index() -> Option<String> {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pwa/dist");
    std::fs::read_to_string(dist.join("index.html")).ok()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_served_with_the_right_caching() {
    let server = Server::start().await;
    let http = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let get = |path: &str| http.get(server.app_url(path));

    let r = get("/").send().await.expect("GET /");
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/html"));
    let Some(index) = built_index() else {
        let body = r.text().await.expect("body");
        assert!(body.contains("scripts/build-pwa"), "{body}");
        eprintln!("pwa/dist has no build: checked the placeholder page only");
        return;
    };
    assert_eq!(header(&r, "cache-control"), "no-cache");
    let etag = header(&r, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
    assert_eq!(r.text().await.expect("body"), index);

    // Revalidation: the same ETag is a 304 with no body.
    let r = get("/")
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("304");
    assert_eq!(r.status(), 304);
    assert_eq!(header(&r, "etag"), etag);
    assert!(r.bytes().await.expect("body").is_empty());

    // Client-side routes get the app; /api/ paths never do.
    let r = get("/sessions/claude_code:abc")
        .send()
        .await
        .expect("route");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), index);
    let r = get("/api/no-such-thing").send().await.expect("api 404");
    assert_eq!(r.status(), 404);
    assert!(header(&r, "content-type").starts_with("application/json"));

    // A hashed asset named by index.html is cached for good; a missing one is a 404, not HTML.
    let asset = index
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .expect("index.html names a hashed script");
    let r = get(asset).send().await.expect("asset");
    assert_eq!(r.status(), 200, "{asset}");
    assert_eq!(
        header(&r, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&r, "content-type").contains("javascript"));
    let r = get("/assets/gone-0000.js")
        .send()
        .await
        .expect("missing asset");
    assert_eq!(r.status(), 404);

    // Compression follows Accept-Encoding, and only then.
    let r = get(asset)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("gzip");
    assert_eq!(header(&r, "content-encoding"), "gzip");
    let r = get(asset)
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("br");
    assert_eq!(header(&r, "content-encoding"), "br");
    let r = get(asset).send().await.expect("identity");
    assert_eq!(header(&r, "content-encoding"), "");

    // The service worker and the manifest are revalidated like index.html.
    for path in ["/sw.js", "/manifest.webmanifest"] {
        let r = get(path).send().await.expect(path);
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header(&r, "cache-control"), "no-cache", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_reads_its_runtime_config_from_the_server() {
    let server = Server::start().await;
    let (status, c) = server.get_json("/api/config").await;
    assert_eq!(status, 200);
    assert_eq!(c["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(c["features"]["push"], false);
    assert_eq!(c["features"]["dashboard"], built_index().is_some());
    assert!(c["vapid_public_key"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text_without_session_ids_and_need_a_credential_from_afar() {
    let server = Server::start().await;
    let mut session = String::new();
    server.send_scenario("claude-code-2.1.328", "bash").await;
    for s in server.sessions().await {
        session = s["native_id"].as_str().unwrap_or_default().to_owned();
    }
    assert!(!session.is_empty());
    let scrape = |headers: Vec<(&'static str, String)>| {
        let mut req = server.http.get(server.app_url("/metrics"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let resp = req.send().await.expect("scrape");
            let status = resp.status().as_u16();
            let ctype = resp.headers()["content-type"]
                .to_str()
                .unwrap_or("")
                .to_owned();
            (status, ctype, resp.text().await.expect("body"))
        }
    };
    let (status, ctype, text) = scrape(vec![]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    for series in [
        "observatory_sessions{agent=\"claude_code\",state=",
        "observatory_api_requests_total{agent=\"claude_code\",model=\"claude-",
        "observatory_tokens_total{agent=\"claude_code\",model=\"claude-",
        "observatory_tool_calls_total{agent=\"claude_code\",tool=\"Bash\"} 1",
        "observatory_ingest_records_total{signal=\"logs\",protocol=\"http_protobuf\",agent=\"claude_code\",outcome=\"accepted\"}",
        "# TYPE observatory_hook_request_duration_seconds histogram",
    ] {
        assert!(text.contains(series), "no {series} in:\n{text}");
    }
    assert!(!text.contains(&session), "a session id in a label:\n{text}");

    // Every series the Grafana dashboard in config/ draws is one the server serves.
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/grafana-dashboard.json"
    ))
    .expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    let exprs = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| {
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| t["expr"].as_str().unwrap_or("").to_owned())
        });
    let mut drawn = 0;
    for expr in exprs {
        for name in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(name) = name.strip_prefix("observatory_") {
                let family = name.strip_suffix("_bucket").unwrap_or(name);
                assert!(
                    text.contains(&format!("# TYPE observatory_{family} ")),
                    "the dashboard draws observatory_{name}: not served"
                );
                drawn += 1;
            }
        }
    }
    assert!(drawn >= 10, "{drawn}");

    // Through a tunnel: a credential is needed, as for /api/.
    let far = ("x-forwarded-for", "203.0.113.9".to_owned());
    assert_eq!(scrape(vec![far.clone()]).await.0, 401);
    let auth = ("authorization", format!("Bearer {}", server.token()));
    assert_eq!(scrape(vec![far, auth]).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_s_model_call_without_a_price_is_priced_from_the_table() {
    let server = Server::start().await;
    let pi = |event: &str, extra: serde_json::Value| {
        let mut body = serde_json::json!({"event": event, "session_id": "pi-priced", "cwd": "/w"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    server
        .hook("pi", &pi("session_start", serde_json::json!({})))
        .await;
    server
        .hook("pi", &pi("agent_start", serde_json::json!({})))
        .await;
    // Pi prices 0 what it does not know; our table knows gpt-5.5.
    let usage = serde_json::json!({"input": 1000, "output": 40, "cacheRead": 200, "cacheWrite": 0, "cost": 0});
    let answer = serde_json::json!({"model": "gpt-5.5", "stopReason": "stop", "usage": usage});
    server.hook("pi", &pi("message_end", answer)).await;
    let (_, s) = server.get_json("/api/sessions/pi:pi-priced").await;
    assert_eq!(s["counts"]["api_requests"], 1, "{s}");
    assert_eq!(
        (
            s["tokens"]["input"].clone(),
            s["tokens"]["cache_read"].clone()
        ),
        (serde_json::json!(1000), serde_json::json!(200))
    );
    assert!(s["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "{s}");
    assert_eq!(
        (
            s["cost_complete"].clone(),
            s["cost_estimated_requests"].clone()
        ),
        (serde_json::json!(true), serde_json::json!(1))
    );
}
