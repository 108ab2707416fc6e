//! Access control end to end, over real sockets against an in-process server on 127.0.0.1:
//! who may read, write and open the live feed from where — this machine, or elsewhere (relayed
//! by a proxy or a tunnel, which deliver from loopback with a header naming whom they relay, or
//! sent to the public name) — with which credential (none, the control token, a paired device's
//! cookie). Also: the `Host` allow-list on all three ports (DNS rebinding), web pages refused on
//! the ingest ports and cross-origin on the app port, revocation closing a device's feed,
//! `viewing` claims holding back pushes until they lapse, push endpoints that must be public,
//! one-time pairing codes, the failed-credential limiter, token rotation, tunnel leases, and the
//! audit log that records each. Time moves on the server's adjustable clock, never by sleeping.

mod common;

use std::time::{Duration, Instant};

use common::push_service::{PushService, Received, Subscriber};
use common::ws::{Ws, next_frame};
use common::{Paired, Server};
use futures_util::{SinkExt, StreamExt};
use observatory::access::LocalReads;
use observatory::access::limit::{BLOCK_NS, MAX_FAILURES};
use observatory::config::Config;
use observatory::proto::ExportLogsServiceRequest;
use observatory::proto::collector::logs::logs_service_client::LogsServiceClient;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;
use tokio_tungstenite::tungstenite::{self, Message};

const WAIT: Duration = Duration::from_secs(10);
/// The app's address as the person's devices reach it, where a test sets one.
const PUBLIC_URL: &str = "https://obs.example.com";
/// The client a proxy says it relays.
const FAR: &str = "203.0.113.7";
/// A tunnel's public name, as `observatory tunnel` leases it.
const TUNNEL: &str = "abc.trycloudflare.com";

type Headers<'a> = &'a [(&'a str, &'a str)];

/// The ways a request reaches the app port from elsewhere: relayed by a proxy, by a tunnel, or
/// sent to the public name (needs `public_url`).
const REMOTES: [(&str, &str); 3] = [
    ("x-forwarded-for", FAR),
    ("cf-connecting-ip", FAR),
    ("host", "obs.example.com"),
];

/// A response: its status, its headers, and its body as JSON (a string when it is not JSON).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

/// A call to the app port with `headers`. Every call carries `X-Observatory: 1`, as the
/// dashboard's do, so that what decides is the credential and where the call comes from.
async fn app(
    server: &Server,
    method: Method,
    path: &str,
    headers: Headers<'_>,
    body: Option<Value>,
) -> Answer {
    let mut req = server
        .http
        .request(method, server.app_url(path))
        .header("x-observatory", "1");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    answer(req).await
}

/// `GET /api/sessions` with `headers`: the plainest read.
async fn sessions_as(server: &Server, headers: Headers<'_>) -> Answer {
    app(server, Method::GET, "/api/sessions", headers, None).await
}

/// A POST to the OTLP/HTTP port.
async fn ingest(server: &Server, path: &str, headers: Headers<'_>, body: &Value) -> Answer {
    let mut req = server
        .http
        .post(server.otlp_url(path))
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Redeems a pairing code as the dashboard's `/pair` page does.
async fn redeem(server: &Server, code: &str, headers: Headers<'_>) -> Answer {
    let body = json!({"code": code, "name": "phone"});
    app(server, Method::POST, "/api/pair", headers, Some(body)).await
}

/// Turns notifications on for the browser whose credential `headers` carry.
async fn put_push(server: &Server, headers: Headers<'_>, subscription: Value) -> Answer {
    let body = json!({"subscription": subscription});
    let path = "/api/devices/current/push";
    app(server, Method::PUT, path, headers, Some(body)).await
}

/// Leases the tunnel's name with the control token: from this machine, plus `extra` headers.
async fn lease_tunnel(server: &Server, extra: Headers<'_>) -> Answer {
    let auth = bearer(&server.token());
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    let body = json!({"url": format!("https://{TUNNEL}")});
    app(
        server,
        Method::PUT,
        "/api/access/tunnels",
        &headers,
        Some(body),
    )
    .await
}

/// `GET /api/access` sent to the tunnel's name, as the tunnel delivers it.
async fn via_tunnel(server: &Server) -> Answer {
    app(
        server,
        Method::GET,
        "/api/access",
        &[("host", TUNNEL)],
        None,
    )
    .await
}

/// A server that pushes to the fake push service (on loopback), with `tweak` on top.
/// A paired browser named "phone" with notifications on.
async fn phone_with_push(server: &Server, svc: &PushService) -> common::Paired {
    let phone = server.pair("phone").await;
    let on = put_push(
        server,
        &[("cookie", phone.cookie.as_str())],
        Subscriber::new(svc).subscription_json(),
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.body);
    phone
}

async fn pushing(tweak: impl FnOnce(&mut Config)) -> Server {
    Server::start_with(|c| {
        c.push.subject = "mailto:access-test@example.com".into();
        c.push.allow_loopback_endpoints = true;
        tweak(c);
    })
    .await
}

/// Opens the live feed with `headers`: the socket once its `hello` came, or the HTTP status the
/// upgrade was refused with.
async fn feed(server: &Server, headers: Headers<'_>) -> Result<Ws, u16> {
    let url = server.app_url("/api/stream").replacen("http", "ws", 1);
    let mut req = url.into_client_request().expect("a WebSocket request");
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).expect("header name");
        req.headers_mut()
            .insert(name, v.parse().expect("header value"));
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((mut ws, _)) => {
            let hello = next_frame(&mut ws).await.expect("hello");
            assert_eq!(hello["type"], "hello", "{hello}");
            Ok(ws)
        }
        Err(tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("opening the feed: {e}"),
    }
}

/// The code the server closes the feed with (skipping the frames before); `None` when the feed
/// ends without one or is not closed within [`WAIT`].
async fn close_code(ws: &mut Ws) -> Option<u16> {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code.into()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// A dashboard says it shows `session` in a visible tab.
async fn say_viewing(ws: &mut Ws, session: &str) {
    let v = json!({"type": "viewing", "session_id": session, "visible": true});
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send viewing");
}

/// Waits until the server counts `n` dashboards showing a session (a feed's messages are read
/// as they come, not when they are sent).
async fn until_watching(server: &Server, n: u64) {
    let start = Instant::now();
    loop {
        let (_, stats) = server.get_json("/api/live/stats").await;
        if stats["dashboards_watching_a_session"] == n {
            return;
        }
        assert!(start.elapsed() < WAIT, "not {n} watching: {stats}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A Claude session `native` gets a prompt and asks for permission: a needs-you alert.
async fn ask(server: &Server, native: &str) {
    for body in [
        json!({"session_id": native, "hook_event_name": "UserPromptSubmit", "cwd": "/w/a",
               "prompt": "go"}),
        json!({"session_id": native, "hook_event_name": "PermissionRequest", "cwd": "/w/a",
               "tool_name": "Bash", "tool_input": {"command": "true"}}),
    ] {
        let r = ingest(
            server,
            "/v1/hooks/claude_code",
            &[("content-type", "application/json")],
            &body,
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
}

/// The kind and session of a push the service accepted.
fn pushed(r: &Received) -> (String, String) {
    assert_eq!(r.rejected, None, "the push service refused the request");
    let p = r.payload.as_ref().expect("a decrypted JSON payload");
    let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
    (s("kind"), s("session_id"))
}

/// The needs-you alert of `session` once it is recorded, with its deliveries' reasons.
async fn needs_you_reasons(server: &Server, session: &str) -> Vec<String> {
    let start = Instant::now();
    loop {
        let (_, v) = server.get_json("/api/alerts").await;
        let alerts = v["alerts"].as_array().cloned().unwrap_or_default();
        if let Some(a) = alerts
            .iter()
            .find(|a| a["session_id"] == session && a["kind"] == "needs_you")
        {
            let deliveries = a["deliveries"].as_array().cloned().unwrap_or_default();
            return deliveries
                .iter()
                .map(|d| d["reason"].as_str().unwrap_or("").to_owned())
                .collect();
        }
        assert!(start.elapsed() < WAIT, "no needs-you alert for {session}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The audit log, newest first, read with the control token.
async fn audit(server: &Server) -> Vec<Value> {
    let r = answer(server.with_token(Method::GET, "/api/audit?limit=500")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["entries"].as_array().expect("entries").clone()
}

/// The newest entry for `action` whose detail says `says`.
fn entry<'a>(log: &'a [Value], action: &str, says: &str) -> &'a Value {
    log.iter()
        .find(|e| e["action"] == action && e["detail"].as_str().is_some_and(|d| d.contains(says)))
        .unwrap_or_else(|| panic!("no {action:?} entry saying {says:?} in {log:#?}"))
}

/// Who did an audited thing, how it ended, from where, and on what: `device ok local on dev_…`.
fn who(e: &Value) -> String {
    let text = |k: &str| e[k].as_str().unwrap_or("").to_owned();
    let place = if e["remote"] == true {
        "remote"
    } else {
        "local"
    };
    let mut said = format!("{} {} {place}", text("actor"), text("outcome"));
    if let Some(target) = e["target"].as_str() {
        said += &format!(" on {target}");
    }
    said
}

/// What `GET /api/access` says of the caller: `local none read`, `remote device read write`…
fn standing(me: &Value) -> String {
    let place = if me["local"] == true {
        "local"
    } else {
        "remote"
    };
    let mut words = vec![place, me["credential"].as_str().unwrap_or("?")];
    for can in ["read", "write", "control"] {
        if me["can"][can] == true {
            words.push(can);
        }
    }
    words.join(" ")
}

/// The actions of the `audit` frames a feed carries, up to and including `last`.
async fn audit_frames_until(ws: &mut Ws, last: &str) -> Vec<String> {
    let mut actions = Vec::new();
    while let Some(f) = next_frame(ws).await {
        if f["type"] == "audit" {
            let action = f["entry"]["action"].as_str().unwrap_or("").to_owned();
            let done = action == last;
            actions.push(action);
            if done {
                return actions;
            }
        }
    }
    panic!("the feed went quiet before an audit frame for {last:?}: {actions:?}");
}

fn assert_pairing_required(r: &Answer, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.body);
    assert_eq!(r.body["pairing_required"], true, "{what}: {}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_elsewhere_reads_the_feed_and_devices_need_a_paired_browser() {
    let svc = PushService::start().await;
    let server = pushing(|c| c.access.public_url = PUBLIC_URL.into()).await;
    let phone = server.pair("phone").await;
    let sub = Subscriber::new(&svc);
    for remote in REMOTES {
        let cookie = ("cookie", phone.cookie.as_str());
        for creds in [vec![remote], vec![remote, cookie]] {
            let paired = creds.len() == 2;
            let what = |call: &str| format!("{call} via {remote:?}, paired: {paired}");
            let reads = sessions_as(&server, &creds).await;
            let devices = app(&server, Method::GET, "/api/devices", &creds, None).await;
            let push = put_push(&server, &creds, sub.subscription_json()).await;
            for (call, r) in [("reads", reads), ("devices", devices), ("push", push)] {
                if paired {
                    assert_eq!(r.status, 200, "{}: {}", what(call), r.body);
                } else {
                    assert_pairing_required(&r, &what(call));
                }
            }
            let opened = feed(&server, &creds).await.map(|_| ());
            let want = if paired { Ok(()) } else { Err(401) };
            assert_eq!(opened, want, "{}", what("feed"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_and_the_right_one_accepted_from_anywhere() {
    let server = Server::start().await;
    let right = bearer(&server.token());
    let wrong = bearer(&"0".repeat(64));
    for place in [None, Some(("x-forwarded-for", FAR))] {
        for (method, path, ok) in [
            (Method::GET, "/api/sessions", 200),
            (Method::POST, "/api/pairing-codes", 201),
        ] {
            for (auth, want) in [(&wrong, 401), (&right, ok)] {
                let mut headers = vec![("authorization", auth.as_str())];
                headers.extend(place);
                let r = app(&server, method.clone(), path, &headers, None).await;
                assert_eq!(r.status, want, "{method} {path} from {place:?}: {}", r.body);
                if want == 401 {
                    assert_pairing_required(&r, "a wrong token");
                    assert!(r.error().contains("wrong control token"), "{}", r.body);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_refused_its_cookie_cleared_and_its_feed_closed_with_4401() {
    let server = Server::start().await;
    let phone = server.pair("phone").await;
    let tablet = server.pair("tablet").await;
    let as_phone = [("cookie", phone.cookie.as_str()), ("x-forwarded-for", FAR)];
    let as_tablet = [("cookie", tablet.cookie.as_str()), ("x-forwarded-for", FAR)];
    let mut phone_feed = feed(&server, &as_phone).await.expect("the phone's feed");
    let mut tablet_feed = feed(&server, &as_tablet).await.expect("the tablet's feed");
    let before = sessions_as(&server, &as_phone).await;
    assert_eq!(before.status, 200, "{}", before.body);

    let path = format!("/api/devices/{}", phone.id);
    let revoked = answer(server.with_token(Method::DELETE, &path)).await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    assert_eq!(close_code(&mut phone_feed).await, Some(4401));

    let after = sessions_as(&server, &as_phone).await;
    assert_pairing_required(&after, "the revoked phone's next request");
    let cleared = after.header("set-cookie");
    assert!(
        cleared.starts_with("observatory_device=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(feed(&server, &as_phone).await.map(|_| ()), Err(401));
    // "Who am I" still answers it, as nobody, and clears the cookie too.
    let me = app(&server, Method::GET, "/api/access", &as_phone, None).await;
    assert_eq!((me.status, standing(&me.body)), (200, "remote none".into()));
    assert!(
        me.header("set-cookie").contains("Max-Age=0"),
        "{:?}",
        me.headers
    );

    // The other device is untouched: its feed still answers, its cookie still reads.
    let still = sessions_as(&server, &as_tablet).await;
    assert_eq!(still.status, 200, "{}", still.body);
    tablet_feed
        .send(Message::Ping(Vec::new().into()))
        .await
        .expect("the tablet's feed is open");
    let pong = tokio::time::timeout(WAIT, async {
        loop {
            match tablet_feed.next().await {
                Some(Ok(Message::Pong(_))) => return true,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return false,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(pong, Ok(true), "the tablet's feed was closed too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_host_is_refused_on_all_three_ports() {
    let server = Server::start().await;
    let running = server.running.as_ref().expect("running");
    let (app_port, http_port, grpc_port) = (
        running.app_addr.port(),
        running.http_addr.port(),
        running.grpc_addr.port(),
    );
    let forged = format!("evil.example:{app_port}");
    for path in ["/api/sessions", "/api/access", "/api/stream", "/"] {
        let r = app(
            &server,
            Method::GET,
            path,
            &[("host", forged.as_str())],
            None,
        )
        .await;
        assert_eq!(r.status, 421, "{path}: {}", r.body);
        assert!(
            r.error().starts_with(&format!("Host {forged:?}")),
            "{path}: {}",
            r.body
        );
    }

    let forged = format!("evil.example:{http_port}");
    let headers = [
        ("host", forged.as_str()),
        ("content-type", "application/json"),
    ];
    let hook =
        json!({"session_id": "rebound", "hook_event_name": "UserPromptSubmit", "prompt": "x"});
    for path in ["/v1/logs", "/v1/hooks/claude_code"] {
        let r = ingest(&server, path, &headers, &hook).await;
        assert_eq!(r.status, 421, "{path}: {}", r.body);
        assert!(r.body.to_string().contains("Host"), "{path}: {}", r.body);
    }
    assert!(server.sessions().await.is_empty(), "nothing was stored");

    let forged: tonic::transport::Uri = format!("http://evil.example:{grpc_port}")
        .parse()
        .expect("uri");
    let channel = tonic::transport::Endpoint::from_shared(server.grpc_url())
        .expect("endpoint")
        .origin(forged)
        .connect()
        .await
        .expect("connect");
    let err = LogsServiceClient::new(channel)
        .export(ExportLogsServiceRequest::default())
        .await
        .expect_err("a forged :authority is refused");
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("Host"), "{err:?}");
    let mut honest = LogsServiceClient::connect(server.grpc_url())
        .await
        .expect("connect");
    let ok = honest.export(ExportLogsServiceRequest::default()).await;
    assert!(ok.is_ok(), "the loopback authority is served: {ok:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_cannot_post_hooks_but_an_agents_fetch_can() {
    let server = Server::start().await;
    let hook = json!({"session_id": "paged", "hook_event_name": "UserPromptSubmit",
                      "cwd": "/w/paged", "prompt": "hi"});
    // What a page may send without a CORS preflight: a text/plain POST, its Origin added by the
    // browser; or a no-cors request that only says it is cross-site.
    let page_marks = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    for mark in page_marks {
        for path in ["/v1/hooks/claude_code", "/v1/logs"] {
            let headers = [("content-type", "text/plain"), mark];
            let r = ingest(&server, path, &headers, &hook).await;
            assert_eq!(r.status, 403, "{path} with {mark:?}: {}", r.body);
            assert!(r.body.to_string().contains("web page"), "{}", r.body);
        }
    }
    assert!(server.sessions().await.is_empty(), "nothing was stored");

    // Node's fetch (the OpenCode and Pi forwarders) says `Sec-Fetch-Mode: cors` and no more.
    let node = [
        ("content-type", "application/json"),
        ("sec-fetch-mode", "cors"),
    ];
    let r = ingest(&server, "/v1/hooks/claude_code", &node, &hook).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ids: Vec<Value> = server
        .sessions()
        .await
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, [json!("claude_code:paged")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_port_refuses_other_origins_before_any_upgrade() {
    let server = Server::start().await;
    let addr = server.running.as_ref().expect("running").app_addr;
    for origin in [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let opened = feed(&server, &[("origin", origin)]).await.map(|_| ());
        assert_eq!(opened, Err(403), "{origin}");
        let read = sessions_as(&server, &[("origin", origin)]).await;
        assert_eq!(read.status, 403, "{origin}: {}", read.body);
        assert!(read.error().contains("Origin"), "{}", read.body);
    }
    // What an <img> or a <script> of another site sends: no Origin, but the browser says so.
    let embedded = sessions_as(&server, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(embedded.status, 403, "{}", embedded.body);
    let own_page = sessions_as(&server, &[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(own_page.status, 200, "{}", own_page.body);
    for own in [
        format!("http://{addr}"),
        format!("http://localhost:{}", addr.port()),
    ] {
        let opened = feed(&server, &[("origin", own.as_str())]).await.map(|_| ());
        assert_eq!(opened, Ok(()), "{own}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_or_paired_feeds_viewing_holds_back_pushes_until_it_lapses() {
    let svc = PushService::start().await;
    // A cooldown shorter than the lapse: the second ask after it is an alert of its own.
    let server = pushing(|c| c.alerts.cooldown_secs = 60).await;
    phone_with_push(&server, &svc).await;

    // A dashboard on this machine shows one session; a paired tablet, through a tunnel, another.
    let (here, there) = ("claude_code:watched-here", "claude_code:watched-there");
    let tablet = server.pair("tablet").await;
    let mut local = feed(&server, &[]).await.expect("a local feed");
    let from_far = [("cookie", tablet.cookie.as_str()), ("x-forwarded-for", FAR)];
    let mut remote = feed(&server, &from_far).await.expect("the tablet's feed");
    say_viewing(&mut local, here).await;
    say_viewing(&mut remote, there).await;
    until_watching(&server, 2).await;

    ask(&server, "watched-here").await;
    ask(&server, "watched-there").await;
    ask(&server, "sentinel").await;
    let first = svc.next(WAIT).await.expect("the sentinel's push");
    assert_eq!(
        pushed(&first).1,
        "claude_code:sentinel",
        "a watched session was pushed"
    );
    for session in [here, there] {
        let reasons = needs_you_reasons(&server, session).await;
        assert!(
            reasons.iter().any(|r| r == "open in a dashboard"),
            "{session}: {reasons:?}"
        );
    }

    // Two minutes without a refresh: both claims lapse, though both feeds are still open.
    server.clock().advance(Duration::from_secs(121));
    until_watching(&server, 0).await;
    ask(&server, "watched-here").await;
    ask(&server, "watched-there").await;
    let mut got = Vec::new();
    while got.len() < 2 {
        let r = svc
            .next(WAIT)
            .await
            .expect("a push for a no longer watched session");
        let (kind, session) = pushed(&r);
        if kind == "needs_you" && (session == here || session == there) {
            got.push(session);
        }
    }
    got.sort();
    assert_eq!(got, [here, there]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_endpoints_on_this_machine_or_a_private_network_are_refused() {
    let svc = PushService::start().await;
    let server =
        Server::start_with(|c| c.push.subject = "mailto:access-test@example.com".into()).await;
    let phone = server.pair("phone").await;
    let cookie = [("cookie", phone.cookie.as_str())];
    let sub = Subscriber::new(&svc).subscription_json();
    let at = |endpoint: &str| {
        let mut s = sub.clone();
        s["endpoint"] = json!(endpoint);
        s
    };
    for (endpoint, says) in [
        ("https://127.0.0.1/x", "on this machine"),
        ("https://localhost/x", "on this machine"),
        ("https://[::1]/x", "on this machine"),
        (
            sub["endpoint"].as_str().expect("endpoint"),
            "on this machine",
        ),
        ("https://10.0.0.5/x", "private"),
        ("https://192.168.1.1/x", "private"),
        ("https://169.254.169.254/x", "private"),
        ("https://100.64.0.1/x", "private"),
        ("https://[fd00::1]/x", "private"),
    ] {
        let r = put_push(&server, &cookie, at(endpoint)).await;
        assert_eq!(r.status, 400, "{endpoint}: {}", r.body);
        assert!(r.error().contains(says), "{endpoint}: {}", r.body);
    }
    let (_, devices) = server.get_json("/api/devices").await;
    assert_eq!(devices["devices"][0]["push"], Value::Null, "{devices}");

    // A public push service is taken (its name is resolved, publicly only, when it is pushed to).
    let r = put_push(&server, &cookie, at("https://push.example.net/wpush/x")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["push"]["endpoint_origin"],
        "https://push.example.net"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairing_code_works_once_and_not_after_it_expires() {
    let server = Server::start_with(|c| c.access.pairing_code_ttl_secs = 120).await;
    let far = [("x-forwarded-for", FAR)];
    let code = server.pairing_code().await;
    let paired = redeem(&server, &code, &far).await;
    assert_eq!(paired.status, 201, "{}", paired.body);
    let set = paired.header("set-cookie");
    for part in [
        "observatory_device=dev_",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(set.contains(part), "{set}");
    }
    let cookie = set.split(';').next().expect("cookie").to_owned();
    let reads = sessions_as(&server, &[far[0], ("cookie", cookie.as_str())]).await;
    assert_eq!(
        reads.status, 200,
        "the new device reads from afar: {}",
        reads.body
    );

    let again = redeem(&server, &code, &far).await;
    assert_pairing_required(&again, "a used code");
    assert!(
        again.error().contains("unknown, used or expired"),
        "{}",
        again.body
    );

    // As people type it: lower case, spaces for dashes.
    let typed = server.pairing_code().await.to_lowercase().replace('-', " ");
    assert_eq!(redeem(&server, &typed, &far).await.status, 201);

    let in_time = server.pairing_code().await;
    server.clock().advance(Duration::from_secs(119));
    assert_eq!(redeem(&server, &in_time, &far).await.status, 201);
    let late = server.pairing_code().await;
    server.clock().advance(Duration::from_secs(121));
    assert_pairing_required(&redeem(&server, &late, &far).await, "an expired code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_reads_are_open_by_default_and_closed_when_set_to_paired() {
    let open = Server::start().await;
    let read = sessions_as(&open, &[]).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(feed(&open, &[]).await.is_ok());
    let (_, me) = open.get_json("/api/access").await;
    assert_eq!(
        (standing(&me), &me["local_reads"]),
        ("local none read".into(), &json!("open"))
    );
    // Reading is all that is open: a change needs a credential even from here.
    let write = app(&open, Method::POST, "/api/pairing-codes", &[], None).await;
    assert_eq!(write.status, 401, "{}", write.body);

    let closed = Server::start_with(|c| c.access.local_reads = LocalReads::Paired).await;
    let read = sessions_as(&closed, &[]).await;
    assert_pairing_required(&read, "a local read with local_reads = paired");
    assert_eq!(feed(&closed, &[]).await.map(|_| ()), Err(401));
    let (_, me) = closed.get_json("/api/access").await;
    assert_eq!(
        (standing(&me), &me["local_reads"]),
        ("local none".into(), &json!("paired"))
    );
    let token = bearer(&closed.token());
    let with_token = sessions_as(&closed, &[("authorization", token.as_str())]).await;
    assert_eq!(with_token.status, 200, "{}", with_token.body);
    let browser = closed.pair("laptop").await;
    let (status, body) = browser
        .send(&closed, Method::GET, "/api/sessions", None)
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_many_bad_tokens_is_blocked_for_a_while_and_others_are_not() {
    let server = Server::start().await;
    let (wrong, right) = (bearer(&"f".repeat(64)), bearer(&server.token()));
    let from = |client: &'static str, auth: &String| {
        let (server, auth) = (&server, auth.clone());
        async move {
            let headers = [
                ("x-forwarded-for", client),
                ("authorization", auth.as_str()),
            ];
            sessions_as(server, &headers).await
        }
    };
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..20 {
        let r = from(FAR, &wrong).await;
        statuses.push(r.status);
        last = Some(r);
    }
    let mut want = vec![401; MAX_FAILURES];
    want.resize(20, 429);
    assert_eq!(statuses, want);
    let last = last.expect("answers");
    let retry: u64 = last
        .header("retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!(
        (1..=BLOCK_NS as u64 / 1_000_000_000).contains(&retry),
        "{retry}"
    );
    assert!(
        last.error().contains("too many failed credentials"),
        "{}",
        last.body
    );

    let blocked = from(FAR, &right).await;
    assert_eq!(
        blocked.status, 429,
        "even the right token: {}",
        blocked.body
    );
    assert_eq!(
        from("198.51.100.4", &right).await.status,
        200,
        "another client"
    );
    let local = answer(server.with_token(Method::GET, "/api/sessions")).await;
    assert_eq!(local.status, 200, "this machine");

    server
        .clock()
        .advance(Duration::from_nanos(BLOCK_NS as u64) + Duration::from_secs(1));
    assert_eq!(from(FAR, &right).await.status, 200, "the block ended");

    let log = audit(&server).await;
    let limited = entry(&log, "rate_limited", &format!("from {FAR} via 127.0.0.1"));
    assert_eq!(
        (limited["outcome"].clone(), limited["remote"].clone()),
        (json!("refused"), json!(true))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_pairing_push_refusals_and_revocation() {
    let svc = PushService::start().await;
    let server = pushing(|_| {}).await;
    let mut dashboard = feed(&server, &[]).await.expect("a local feed");
    let phone = phone_with_push(&server, &svc).await;
    let wrong = bearer(&"0".repeat(64));
    let headers = [("authorization", wrong.as_str()), ("x-forwarded-for", FAR)];
    assert_eq!(sessions_as(&server, &headers).await.status, 401);
    let bad_code = redeem(&server, "0000-0000-00", &[("x-forwarded-for", FAR)]).await;
    assert_eq!(bad_code.status, 401, "{}", bad_code.body);
    let path = format!("/api/devices/{}", phone.id);
    assert_eq!(
        answer(server.with_token(Method::DELETE, &path))
            .await
            .status,
        204
    );

    let log = audit(&server).await;
    let pair = entry(&log, "pair", "phone paired");
    assert_eq!(who(pair), format!("device ok local on {}", phone.id));
    assert_eq!(pair["device_id"], phone.id.as_str());
    let push = entry(&log, "push_on", "phone turned notifications on");
    assert_eq!(who(push), format!("device ok local on {}", phone.id));
    let wrong = entry(&log, "refused", "a wrong control token");
    assert_eq!(who(wrong), "anonymous refused remote");
    assert_eq!(wrong["peer"], format!("{FAR} via 127.0.0.1"));
    let code = entry(&log, "refused", "a pairing code that is unknown");
    assert_eq!(who(code), "anonymous refused remote");
    let revoke = entry(&log, "revoke", "phone revoked by the control token");
    assert_eq!(who(revoke), format!("token ok local on {}", phone.id));

    // Newest first in the log; as they happened on the dashboard's feed.
    let listed: Vec<&str> = log.iter().filter_map(|e| e["action"].as_str()).collect();
    let streamed = audit_frames_until(&mut dashboard, "revoke").await;
    let mut want = [
        "pairing_code",
        "pair",
        "push_on",
        "refused",
        "refused",
        "revoke",
    ];
    assert_eq!(streamed, want);
    want.reverse();
    assert_eq!(listed, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_token_rewrites_its_file_ends_the_old_one_and_closes_its_feeds() {
    let server = Server::start().await;
    let old = server.token();
    let old_auth = bearer(&old);
    let by_old = [("authorization", old_auth.as_str())];
    let mut ws = feed(&server, &by_old)
        .await
        .expect("a feed opened with the token");
    let path = "/api/access/token/rotate";
    let nobody = app(&server, Method::POST, path, &[], None).await;
    assert_eq!(nobody.status, 401, "{}", nobody.body);
    let far = [by_old[0], ("x-forwarded-for", FAR)];
    let from_far = app(&server, Method::POST, path, &far, None).await;
    assert_eq!(
        from_far.status, 403,
        "only from this machine: {}",
        from_far.body
    );
    assert_eq!(server.token(), old);

    let rotated = app(&server, Method::POST, path, &by_old, None).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.body["token"]
        .as_str()
        .expect("the new token")
        .to_owned();
    assert_ne!(new, old);
    assert_eq!(server.token(), new, "the token file holds the new one");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(server.dir.path().join("control-token")).expect("token file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(close_code(&mut ws).await, Some(4401));
    let stale = sessions_as(&server, &by_old).await;
    assert_pairing_required(&stale, "the old token");
    let fresh = answer(server.with_token(Method::GET, "/api/sessions")).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);

    let log = audit(&server).await;
    let e = entry(
        &log,
        "token_rotated",
        "control token replaced by the control token",
    );
    assert_eq!(
        (e["actor"].clone(), e["outcome"].clone()),
        (json!("token"), json!("ok"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_lease_allows_its_host_until_it_ends_or_lapses() {
    let server = Server::start().await;
    assert_eq!(
        via_tunnel(&server).await.status,
        421,
        "not before its lease"
    );

    let leased = lease_tunnel(&server, &[]).await;
    assert_eq!(leased.status, 200, "{}", leased.body);
    assert_eq!(leased.body, json!({"host": TUNNEL, "lease_secs": 60}));
    let me = via_tunnel(&server).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["local"], false, "{}", me.body);
    assert_eq!(me.body["public_url"], format!("https://{TUNNEL}"));
    for far in [("x-forwarded-for", FAR), ("host", TUNNEL)] {
        let r = lease_tunnel(&server, &[far]).await;
        assert_eq!(r.status, 403, "a lease from {far:?}: {}", r.body);
    }

    let path = format!("/api/access/tunnels/{TUNNEL}");
    let ended = answer(server.with_token(Method::DELETE, &path)).await;
    assert_eq!(ended.status, 204, "{}", ended.body);
    assert_eq!(via_tunnel(&server).await.status, 421, "ended");

    assert_eq!(lease_tunnel(&server, &[]).await.status, 200);
    server.clock().advance(Duration::from_secs(40));
    assert_eq!(lease_tunnel(&server, &[]).await.status, 200, "renewed");
    server.clock().advance(Duration::from_secs(40));
    let renewed = via_tunnel(&server).await;
    assert_eq!(
        renewed.status, 200,
        "80 s after the lease, 40 s after its renewal"
    );
    server.clock().advance(Duration::from_secs(21));
    let lapsed = via_tunnel(&server).await;
    assert_eq!(lapsed.status, 421, "lapsed: {}", lapsed.body);
    assert!(lapsed.error().contains("Host"), "{}", lapsed.body);

    let log = audit(&server).await;
    let allowed = entry(&log, "tunnel", &format!("tunnel https://{TUNNEL} allowed"));
    assert_eq!(who(allowed), format!("token ok local on {TUNNEL}"));
    let stopped = entry(&log, "tunnel", &format!("tunnel {TUNNEL} stopped"));
    assert_eq!(who(stopped), format!("token ok local on {TUNNEL}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_am_i_answers_everyone_and_says_what_they_may_do() {
    let server = Server::start_with(|c| c.access.public_url = PUBLIC_URL.into()).await;
    let phone: Paired = server.pair("phone").await;
    let token = bearer(&server.token());
    let (auth, cookie) = (
        ("authorization", token.as_str()),
        ("cookie", phone.cookie.as_str()),
    );
    let (xff, cf, public) = (REMOTES[0], REMOTES[1], REMOTES[2]);
    // Who asks, and what the answer must say of them.
    let cases: [(Vec<(&str, &str)>, &str); 8] = [
        (vec![], "local none read"),
        (vec![xff], "remote none"),
        (vec![public], "remote none"),
        (vec![auth], "local token read write control"),
        (vec![auth, cf], "remote token read write"),
        (vec![cookie], "local device read write control"),
        (vec![cookie, public], "remote device read write"),
        (vec![cookie, xff], "remote device read write"),
    ];
    for (headers, want) in cases {
        let r = app(&server, Method::GET, "/api/access", &headers, None).await;
        assert_eq!(r.status, 200, "{headers:?}: {}", r.body);
        let b = &r.body;
        assert_eq!(standing(b), want, "{headers:?}: {b}");
        let device = if want.contains("device") {
            json!(phone.id)
        } else {
            Value::Null
        };
        assert_eq!(b["device"]["id"], device, "{headers:?}: {b}");
        assert_eq!(b["public_url"], PUBLIC_URL, "{b}");
        assert_eq!(b["local_reads"], "open", "{b}");
    }
}
