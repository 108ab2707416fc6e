//! Alerts end to end, offline: recorded agent hooks go into a real server; its pushes go to a
//! fake push service that checks each request as a real one does (VAPID JWT, headers) and
//! decrypts the payload with the subscriber's private key (RFC 8291). What the phone would show
//! is what these tests read.

mod common;

use std::time::{Duration, Instant};

use common::push_service::{Catcher, PushService, Received, Subscriber};
use common::{Server, recording};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);
const DENIED: &str = "claude_code:cb477963-4b6f-40e1-8e01-103aaeb9e9b5";

async fn server_with(tweak: impl FnOnce(&mut observatory::config::Config)) -> Server {
    Server::start_with(|c| {
        c.push.subject = "mailto:alerts-test@example.com".into();
        // The fake push service listens on loopback.
        c.push.allow_loopback_endpoints = true;
        tweak(c);
    })
    .await
}

/// A fake push service, and a server with push on and one device subscribed to every kind.
async fn subscribed(tweak: impl FnOnce(&mut observatory::config::Config)) -> (PushService, Server) {
    let svc = PushService::start().await;
    let server = server_with(tweak).await;
    subscribe(&server, &Subscriber::new(&svc), json!({})).await;
    (svc, server)
}

/// Quiet hours from an hour ago to an hour from now (UTC), as the API takes them.
fn quiet_now() -> Value {
    let minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        / 60;
    let at = |m: u64| format!("{:02}:{:02}", m % 1440 / 60, m % 60);
    json!({"start": at(minute + 1440 - 60), "end": at(minute + 60), "utc_offset_minutes": 0})
}

/// Pairs a browser (named `choices.name`, else "phone"), turns its notifications on, and sets
/// the other `choices` (kinds, quiet hours). Returns the device as the API shows it.
async fn subscribe(server: &Server, sub: &Subscriber, choices: Value) -> Value {
    let name = choices["name"].as_str().unwrap_or("phone");
    let browser = server.pair(name).await;
    let body = json!({"subscription": sub.subscription_json()});
    let put = reqwest::Method::PUT;
    let (status, device) = browser
        .send(server, put, "/api/devices/current/push", Some(body))
        .await;
    assert_eq!(status, 200, "{device}");
    let mut patch = choices;
    if let Some(m) = patch.as_object_mut() {
        m.remove("name");
    }
    if patch.as_object().is_none_or(|m| m.is_empty()) {
        return device;
    }
    let (status, device) = browser
        .send(
            server,
            reqwest::Method::PATCH,
            "/api/devices/current",
            Some(patch),
        )
        .await;
    assert_eq!(status, 200, "{device}");
    device
}

/// Posts the recorded hook calls of a scenario: those whose file names start with `prefixes`,
/// in that order, or all of them in recorded order when `prefixes` is empty.
async fn hooks(server: &Server, agent_dir: &str, scenario: &str, prefixes: &[&str]) {
    let all: Vec<_> = recording(agent_dir, scenario)
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/hooks/"))
        .collect();
    let chosen: Vec<_> = if prefixes.is_empty() {
        all
    } else {
        let pick = |p: &&str| all.iter().find(|r| r.name.starts_with(p)).cloned();
        prefixes
            .iter()
            .map(|p| pick(p).unwrap_or_else(|| panic!("{agent_dir}/{scenario}: no hook {p}")))
            .collect()
    };
    for r in chosen {
        let (status, _, body) = server.post(&r.path, r.content_type, r.bytes, false).await;
        assert_eq!(
            status,
            204,
            "{}: {}",
            r.name,
            String::from_utf8_lossy(&body)
        );
    }
}

/// A PermissionRequest in a session of its own: an alert that is sure to come, so that the
/// next push being this one proves nothing else was pushed before it.
async fn sentinel(server: &Server, svc: &PushService) -> Received {
    ask(server, "sentinel").await;
    let got = svc.next(WAIT).await.expect("the sentinel's push");
    assert_eq!(
        got.payload.as_ref().map(|p| p["session_id"].clone()),
        Some(json!("claude_code:sentinel")),
        "{got:?}"
    );
    got
}

/// A Claude session `id` gets a prompt and asks for permission to run a command.
async fn ask(server: &Server, id: &str) {
    for body in [
        json!({"session_id": id, "hook_event_name": "UserPromptSubmit", "cwd": "/w/sentinel", "prompt": "go"}),
        json!({"session_id": id, "hook_event_name": "PermissionRequest", "cwd": "/w/sentinel",
               "tool_name": "Bash", "tool_input": {"command": "true"}}),
    ] {
        let (status, _, _) = server
            .post(
                "/v1/hooks/claude_code",
                "application/json",
                body.to_string().into_bytes(),
                false,
            )
            .await;
        assert_eq!(status, 204);
    }
}

fn accepted(r: &Received) -> &Value {
    assert_eq!(r.rejected, None, "the push service refused the request");
    assert_eq!(r.status, 201);
    r.payload.as_ref().expect("a decrypted JSON payload")
}

async fn alerts(server: &Server) -> Vec<Value> {
    let (status, v) = server.get_json("/api/alerts").await;
    assert_eq!(status, 200, "{v}");
    v["alerts"].as_array().expect("alerts").clone()
}

/// The alert list once it has `n` alerts and no delivery is pending any more.
async fn settled_alerts(server: &Server, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let list = alerts(server).await;
        let pending = list.iter().any(|a| {
            a["deliveries"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["outcome"] == "pending"))
        });
        if list.len() >= n && !pending {
            return list;
        }
        assert!(start.elapsed() < WAIT, "not {n} settled alerts: {list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_request_pushes_needs_you_with_high_urgency() {
    let svc = PushService::start().await;
    let mut server = server_with(|_| {}).await;
    let (_, config) = server.get_json("/api/config").await;
    let key = config["vapid_public_key"]
        .as_str()
        .expect("a public key")
        .to_owned();
    assert_eq!(config["push"]["enabled"], true, "{config}");
    svc.expect_key(&key);
    let sub = Subscriber::new(&svc);
    subscribe(&server, &sub, json!({"name": "test phone"})).await;

    let sent = Instant::now();
    hooks(
        &server,
        "claude-code-2.1.328",
        "denied",
        &["0001", "0002", "0003", "0004", "0005"],
    )
    .await;
    let got = svc.next(WAIT).await.expect("a push");
    eprintln!(
        "PermissionRequest hook → push received: {:?}",
        sent.elapsed()
    );
    let p = accepted(&got);
    assert_eq!(p["kind"], "needs_you");
    assert_eq!(p["title"], "Claude Code · proj");
    assert_eq!(p["body"], "wants to run Bash: touch created_by_agent.txt");
    assert_eq!(p["session_id"], DENIED);
    assert_eq!(
        p["url"],
        "/sessions/claude_code%3Acb477963-4b6f-40e1-8e01-103aaeb9e9b5"
    );
    assert_eq!(got.urgency.as_deref(), Some("high"));
    assert_eq!(got.ttl, Some(3600));
    assert!(
        got.topic
            .as_ref()
            .is_some_and(|t| !t.is_empty() && t.len() <= 32),
        "{:?}",
        got.topic
    );
    assert_eq!(got.claims["aud"], svc.origin());
    assert_eq!(got.claims["sub"], "mailto:alerts-test@example.com");
    assert!(got.plaintext.len() <= 3072);

    let list = settled_alerts(&server, 1).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let a = &list[0];
    assert_eq!(
        (a["kind"].as_str(), a["session_id"].as_str()),
        (Some("needs_you"), Some(DENIED))
    );
    assert_eq!(a["id"], p["alert_id"]);
    let d = &a["deliveries"][0];
    assert_eq!(
        (
            d["channel"].as_str(),
            d["name"].as_str(),
            d["outcome"].as_str()
        ),
        (Some("web_push"), Some("test phone"), Some("sent"))
    );
    assert_eq!(d["attempts"][0]["status"], 201);
    assert!(svc.rejected().is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_turn_that_finishes_pushes_exactly_one_finished_message() {
    let (svc, mut server) = subscribed(|c| c.alerts.completion_min_turn_secs = 1.0).await;

    // Claude `bash`, hooks only: the prompt, then the rest of the turn over a second later (on
    // the server's clock, moved forward: nothing sleeps).
    hooks(&server, "claude-code-2.1.328", "bash", &["0001", "0002"]).await;
    server.clock().advance(Duration::from_millis(1300));
    hooks(
        &server,
        "claude-code-2.1.328",
        "bash",
        &["0003", "0004", "0005", "0007", "0008", "0009"],
    )
    .await;
    let got = svc.next(WAIT).await.expect("a push");
    let p = accepted(&got);
    assert_eq!(p["kind"], "finished", "{p}");
    assert_eq!(p["title"], "Claude Code · proj");
    // What the agent said last (the Stop hook's last_assistant_message) leads the rest.
    assert!(
        p["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("finished a turn after ")
                && b.ends_with(" s · 1 tool call — The command printed: hello")),
        "{p}"
    );
    assert_eq!(got.urgency.as_deref(), Some("normal"));
    let (_, session) = server
        .get_json(&format!(
            "/api/sessions/{}",
            p["session_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(
        session["turns"][0]["last_message"], "The command printed: hello",
        "kept on the turn: {session}"
    );
    // Nothing else before the next alert.
    sentinel(&server, &svc).await;
    assert_eq!(svc.received().len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_turns_push_nothing() {
    let (svc, mut server) = subscribed(|_| {}).await;
    for agent in [
        "claude-code-2.1.328",
        "codex-0.169.0",
        "gemini-cli-0.61.0",
        "copilot-cli-1.0.102",
    ] {
        hooks(&server, agent, "plain", &[]).await;
    }
    let idle = server
        .sessions()
        .await
        .iter()
        .filter(|s| s["counts"]["turns"] == 1)
        .count();
    assert_eq!(idle, 4, "four sessions each finished a quick turn");
    sentinel(&server, &svc).await;
    assert_eq!(svc.received().len(), 1, "only the sentinel was pushed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_agent_completions_push_nothing_of_their_own() {
    // Every finished turn is news here, so that only folding can keep the sub-agents' quiet.
    let (svc, mut server) = subscribed(|c| c.alerts.completion_min_turn_secs = 0.0).await;
    for (agent, parent) in [
        (
            "codex-0.169.0",
            "codex:01a2016c-b01e-7a11-8260-1ec50ceebb21",
        ),
        ("claude-code-2.1.328", "claude_code:"),
        (
            "opencode-1.18.33",
            "opencode:ses_dfe90fae1ffe1C45RgBp2QcBRy",
        ),
    ] {
        hooks(&server, agent, "subagent", &[]).await;
        let got = svc.next(WAIT).await.expect("the parent's finished turn");
        let p = accepted(&got);
        assert_eq!(p["kind"], "finished", "{p}");
        assert!(
            p["session_id"]
                .as_str()
                .is_some_and(|s| s.starts_with(parent)),
            "{p}"
        );
    }
    // The Codex sub-agent's own session did finish a turn (its `notify`): not pushed.
    let (_, child) = server
        .get_json("/api/sessions/codex:01a2016c-b0e7-7dc3-a62b-ab3b44f6252a")
        .await;
    assert_eq!(child["counts"]["turns"], 1, "{child}");
    sentinel(&server, &svc).await;
    assert_eq!(
        svc.received().len(),
        4,
        "the three parents and the sentinel"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_agents_alerts_fold_into_its_parent() {
    let (svc, mut server) = subscribed(|c| c.alerts.completion_min_turn_secs = 0.0).await;
    // Up to the sub-agent's own prompt, then the sub-agent asks for permission.
    hooks(
        &server,
        "codex-0.169.0",
        "subagent",
        &["0001", "0002", "0003", "0004", "0006", "0007", "0008"],
    )
    .await;
    let ask = json!({
        "session_id": "01a2016c-b01e-7a11-8260-1ec50ceebb21",
        "agent_id": "01a2016c-b0e7-7dc3-a62b-ab3b44f6252a",
        "turn_id": "01a2016c-b0f9-7003-a18d-3d7a8993f6bb",
        "hook_event_name": "PermissionRequest", "cwd": "/srv/agent-runs/codex-subagent/proj",
        "tool_name": "Bash", "tool_input": {"command": "echo hello"},
    });
    let (status, _, _) = server
        .post(
            "/v1/hooks/codex",
            "application/json",
            ask.to_string().into_bytes(),
            false,
        )
        .await;
    assert_eq!(status, 204);
    let got = svc.next(WAIT).await.expect("a push");
    let p = accepted(&got);
    assert_eq!(
        p["session_id"], "codex:01a2016c-b01e-7a11-8260-1ec50ceebb21",
        "{p}"
    );
    assert_eq!(p["body"], "sub-agent wants to run Bash: echo hello");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_inside_the_cooldown_pushes_nothing() {
    let (svc, mut server) = subscribed(|_| {}).await;
    // Asked, answered (the tool ran), asked again: two transitions to awaiting_permission.
    hooks(
        &server,
        "claude-code-2.1.328",
        "denied",
        &["0001", "0002", "0003", "0004", "0005"],
    )
    .await;
    accepted(&svc.next(WAIT).await.expect("the first push"));
    hooks(&server, "claude-code-2.1.328", "denied", &["0006", "0005"]).await;
    let (_, s) = server.get_json(&format!("/api/sessions/{DENIED}")).await;
    assert_eq!(s["state"], "awaiting_permission", "{s}");
    sentinel(&server, &svc).await;
    assert_eq!(svc.received().len(), 2, "the repeat was not pushed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_process_pushes_crashed() {
    let (svc, mut server) = subscribed(|_| {}).await;
    // A stand-in agent registers itself through the real `observatory hook`, then is killed.
    let mut agent = common::stand_in_agent(&server);
    agent.kill().expect("SIGKILL");
    let killed = Instant::now();
    agent.wait().expect("reap");
    let got = svc.next(WAIT).await.expect("a push");
    eprintln!("SIGKILL → crashed push received: {:?}", killed.elapsed());
    let p = accepted(&got);
    assert_eq!(
        (p["kind"].as_str(), p["session_id"].as_str()),
        (Some("crashed"), Some(DENIED)),
        "{p}"
    );
    assert_eq!(p["body"], "its process died without ending the session");
    assert_eq!(got.urgency.as_deref(), Some("high"));
    assert_eq!(got.ttl, Some(86_400));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_subscription_is_removed_and_failures_are_recorded_per_attempt() {
    let svc = PushService::start().await;
    let mut server = server_with(|_| {}).await;
    let gone = Subscriber::new(&svc);
    let flaky = Subscriber::new(&svc);
    svc.script(&gone, [410u16]);
    svc.script(&flaky, [500u16, 201]);
    let gone_id = subscribe(&server, &gone, json!({"name": "old phone"})).await["id"].clone();
    subscribe(&server, &flaky, json!({"name": "flaky phone"})).await;

    hooks(
        &server,
        "claude-code-2.1.328",
        "denied",
        &["0001", "0002", "0003", "0004", "0005"],
    )
    .await;
    let list = settled_alerts(&server, 1).await;
    let deliveries = list[0]["deliveries"]
        .as_array()
        .expect("deliveries")
        .clone();
    let by_name = |n: &str| {
        deliveries
            .iter()
            .find(|d| d["name"] == n)
            .cloned()
            .expect(n)
    };
    let old = by_name("old phone");
    assert_eq!(old["outcome"], "gone", "{old}");
    assert_eq!(old["attempts"].as_array().map(Vec::len), Some(1));
    let flaky_d = by_name("flaky phone");
    assert_eq!(flaky_d["outcome"], "sent", "{flaky_d}");
    let statuses: Vec<&Value> = flaky_d["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(201)]);

    let (_, devices) = server.get_json("/api/devices").await;
    let pushing: Vec<(&str, bool)> = devices["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter_map(|d| Some((d["name"].as_str()?, !d["push"].is_null())))
        .collect();
    assert_eq!(
        pushing,
        [("old phone", false), ("flaky phone", true)],
        "the gone subscription was removed; the device stays paired"
    );
    let gone_id = gone_id.as_str().unwrap_or_default();
    let resp = server
        .with_token(
            reqwest::Method::POST,
            &format!("/api/devices/{gone_id}/test"),
        )
        .send()
        .await
        .expect("test push");
    assert_eq!(resp.status(), 409, "no subscription to test");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_choose_their_kinds_and_quiet_hours_and_a_watched_session_is_not_pushed() {
    let svc = PushService::start().await;
    let mut server = server_with(|_| {}).await;
    let picky = Subscriber::new(&svc);
    let sleepy = Subscriber::new(&svc);
    let eager = Subscriber::new(&svc);
    subscribe(
        &server,
        &picky,
        json!({"name": "picky", "kinds": ["crashed"]}),
    )
    .await;
    let q = quiet_now();
    subscribe(
        &server,
        &sleepy,
        json!({"name": "sleepy", "quiet_hours": q}),
    )
    .await;
    subscribe(&server, &eager, json!({"name": "eager"})).await;

    hooks(
        &server,
        "claude-code-2.1.328",
        "denied",
        &["0001", "0002", "0003", "0004", "0005"],
    )
    .await;
    let got = svc.next(WAIT).await.expect("a push");
    assert_eq!(got.path, format!("/push/{}", eager.id));
    let list = settled_alerts(&server, 1).await;
    let reasons: Vec<(String, String, String)> = list[0]["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or("").to_owned(),
                d["outcome"].as_str().unwrap_or("").to_owned(),
                d["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let want = |n: &str, o: &str, r: &str| (n.to_owned(), o.to_owned(), r.to_owned());
    assert!(
        reasons.contains(&want("picky", "skipped", "kind not chosen on this device")),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&want("sleepy", "skipped", "quiet hours")),
        "{reasons:?}"
    );
    assert!(reasons.contains(&want("eager", "sent", "")), "{reasons:?}");

    // A dashboard shows the sentinel session in a visible tab: its alert is recorded, not pushed.
    let (mut ws, _) = common::ws::connect(&server, 0).await;
    use futures_util::SinkExt;
    let viewing = json!({"type": "viewing", "session_id": "claude_code:sentinel", "visible": true});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        viewing.to_string().into(),
    ))
    .await
    .expect("send");
    let start = Instant::now();
    while server.get_json("/api/live/stats").await.1["dashboards_watching_a_session"] != 1 {
        assert!(
            start.elapsed() < WAIT,
            "the server never heard what the dashboard shows"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ask(&server, "sentinel").await;
    let watched = settled_alerts(&server, 2).await[0].clone();
    assert_eq!(watched["session_id"], "claude_code:sentinel");
    let outcomes: Vec<&str> = watched["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter_map(|d| d["reason"].as_str())
        .collect();
    assert!(outcomes.contains(&"open in a dashboard"), "{watched}");
    assert_eq!(
        svc.received().len(),
        1,
        "nothing pushed for the watched session"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_also_go_to_a_webhook_with_the_same_id_and_ntfy_keeps_its_quiet_hours() {
    let catcher = Catcher::start().await;
    let url = catcher.url("/hook");
    let ntfy_server = catcher.url("");
    let mut server = server_with(|c| {
        c.alerts.completion_min_turn_secs = 1.0;
        c.alerts.webhook = Some(observatory::alerts::settings::WebhookChannel {
            url,
            include_last_message: false,
            kinds: vec![
                observatory::alerts::Kind::NeedsYou,
                observatory::alerts::Kind::Finished,
            ],
            quiet_hours: None,
        });
        c.alerts.ntfy = Some(observatory::alerts::settings::NtfyChannel {
            server: ntfy_server,
            include_last_message: false,
            topic: "agents".into(),
            token: String::new(),
            kinds: observatory::alerts::Kind::ALL.to_vec(),
            quiet_hours: Some(serde_json::from_value(quiet_now()).expect("quiet hours")),
        });
    })
    .await;
    hooks(
        &server,
        "claude-code-2.1.328",
        "denied",
        &["0001", "0002", "0003", "0004", "0005"],
    )
    .await;
    let caught = catcher.next(WAIT).await.expect("a webhook call");
    let body = caught.json();
    assert_eq!(body["kind"], "needs_you");
    assert_eq!(
        body["body"],
        "wants to run Bash: touch created_by_agent.txt"
    );
    let list = settled_alerts(&server, 1).await;
    assert_eq!(body["alert_id"], list[0]["id"]);
    let deliveries = &list[0]["deliveries"];
    assert_eq!(deliveries[0]["channel"], "webhook");
    assert_eq!(deliveries[0]["outcome"], "sent");
    assert_eq!(deliveries[1]["channel"], "ntfy");
    assert_eq!(
        (
            deliveries[1]["outcome"].as_str(),
            deliveries[1]["reason"].as_str()
        ),
        (Some("skipped"), Some("quiet hours"))
    );
    assert_eq!(catcher.caught().len(), 1, "nothing went to ntfy");

    // A finished turn: the webhook's server does not get what the agent said (off by default).
    hooks(&server, "claude-code-2.1.328", "bash", &["0001", "0002"]).await;
    server.clock().advance(Duration::from_millis(1300));
    let rest = ["0003", "0004", "0005", "0007", "0008", "0009"];
    hooks(&server, "claude-code-2.1.328", "bash", &rest).await;
    let caught = catcher.next(WAIT).await.expect("the finished call");
    let body = caught.json();
    assert_eq!(body["kind"], "finished");
    let text = body["body"].as_str().unwrap_or_default();
    assert!(text.ends_with("1 tool call"), "no last message: {text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_api_says_what_is_wrong() {
    let svc = PushService::start().await;
    let mut server = server_with(|_| {}).await;
    let sub = Subscriber::new(&svc);
    let good = sub.subscription_json();
    let browser = server.pair("Pixel").await;
    let put = |body: Value| {
        let browser = browser.clone();
        let server = &server;
        async move {
            let method = reqwest::Method::PUT;
            browser
                .send(server, method, "/api/devices/current/push", Some(body))
                .await
        }
    };
    let with = |path: &str, v: Value| {
        let mut b = json!({"subscription": good.clone()});
        let mut cur = &mut b;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            cur = &mut cur[*p];
        }
        cur[parts[parts.len() - 1]] = v;
        b
    };
    let cases = [
        (json!({}), "subscription"),
        (
            with("subscription.endpoint", json!("ftp://x/y")),
            "https://",
        ),
        (
            with("subscription.endpoint", json!("http://push.example/x")),
            "https://",
        ),
        (
            with("subscription.endpoint", json!("https://10.0.0.7/x")),
            "private",
        ),
        (
            with("subscription.endpoint", json!("https://169.254.169.254/x")),
            "private",
        ),
        (with("subscription.keys.p256dh", json!("AAAA")), "65 bytes"),
        (
            with("subscription.keys.p256dh", json!("not base64!")),
            "base64url",
        ),
        (
            with("subscription.keys.auth", Value::Null),
            "auth is missing",
        ),
    ];
    for (body, needle) in cases {
        let (status, v) = put(body.clone()).await;
        assert_eq!(status, 400, "{body} → {v}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{body} → {msg}");
    }
    let patch = |body: Value| {
        let browser = browser.clone();
        let server = &server;
        async move {
            let method = reqwest::Method::PATCH;
            browser
                .send(server, method, "/api/devices/current", Some(body))
                .await
        }
    };
    for (body, needle) in [
        (json!({"kinds": ["loud"]}), "loud"),
        (
            json!({"quiet_hours": {"start": "25:00", "end": "07:00", "utc_offset_minutes": 0}}),
            "HH:MM",
        ),
        (json!({"name": ""}), "name"),
    ] {
        let (status, v) = patch(body.clone()).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(needle),
            "{v}"
        );
    }
    // Without the CSRF header, or from a foreign Origin: refused.
    let resp = server
        .http
        .put(server.app_url("/api/devices/current/push"))
        .header("cookie", &browser.cookie)
        .json(&json!({"subscription": good}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 403);
    let resp = server
        .http
        .put(server.app_url("/api/devices/current/push"))
        .header("cookie", &browser.cookie)
        .header("x-observatory", "1")
        .header("origin", "https://evil.example")
        .json(&json!({"subscription": good}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 403);
    // The control token is not a browser: it has no push of its own.
    let resp = server
        .with_token(reqwest::Method::PUT, "/api/devices/current/push")
        .json(&json!({"subscription": good}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 409);

    // Turn on, change, test, turn off.
    let (status, device) = put(json!({"subscription": good})).await;
    assert_eq!(status, 200, "{device}");
    assert_eq!(device["push"]["endpoint_origin"], svc.origin());
    assert_eq!(device["current"], true);
    assert!(
        device.get("subscription").is_none() && !device.to_string().contains(&sub.auth()),
        "no secrets: {device}"
    );
    let id = device["id"].as_str().expect("id").to_owned();
    assert_eq!(id, browser.id);
    let (status, changed) = patch(json!({"name": "Pixel 8", "kinds": ["needs_you"], "quiet_hours": {"start": "22:00", "end": "07:00", "utc_offset_minutes": 60}})).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "Pixel 8");
    assert_eq!(changed["kinds"], json!(["needs_you"]));
    assert_eq!(changed["quiet_hours"]["start"], "22:00");
    let (status, cleared) = patch(json!({"quiet_hours": null})).await;
    assert_eq!(
        (status, &cleared["quiet_hours"], &cleared["kinds"]),
        (200, &Value::Null, &json!(["needs_you"]))
    );
    let post = reqwest::Method::POST;
    let (status, tested) = browser
        .send(&server, post, &format!("/api/devices/{id}/test"), None)
        .await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["delivery"]["outcome"], "sent");
    let got = svc.next(WAIT).await.expect("the test push");
    assert_eq!(accepted(&got)["kind"], "test");
    let delete = reqwest::Method::DELETE;
    let (status, _) = browser
        .send(&server, delete.clone(), "/api/devices/current/push", None)
        .await;
    assert_eq!(status, 204);
    let (_, listed) = server.get_json("/api/devices").await;
    assert_eq!(listed["devices"][0]["push"], Value::Null, "{listed}");
    let (status, _) = browser
        .send(&server, delete.clone(), &format!("/api/devices/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let resp = server
        .with_token(delete, &format!("/api/devices/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 404);
    let (status, v) = server.get_json("/api/alerts?limit=0").await;
    assert_eq!(status, 400, "{v}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_vapid_subject_push_is_off_and_says_why() {
    let mut server = Server::start().await;
    let (_, config) = server.get_json("/api/config").await;
    assert_eq!(config["push"]["enabled"], false);
    assert_eq!(config["vapid_public_key"], Value::Null);
    assert!(
        config["push"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("[push] subject")),
        "{config}"
    );
    let sub_json =
        json!({"endpoint": "https://push.example/x", "keys": {"p256dh": "", "auth": ""}});
    let browser = server.pair("laptop").await;
    let (status, v) = browser
        .send(
            &server,
            reqwest::Method::PUT,
            "/api/devices/current/push",
            Some(json!({"subscription": sub_json})),
        )
        .await;
    assert_eq!(status, 503, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("push is off")),
        "{v}"
    );
    // The key pair exists from the first start, private and stable.
    let key_file = server.dir.path().join("vapid_private.pem");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file)
            .expect("key file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_s_push_offers_allow_and_deny_and_is_replaced_quietly_once_answered() {
    let (svc, server) = subscribed(|_| {}).await;
    let key = "0123456789abcdef0123456789abcdef";
    let body = json!({"session_id": "asks", "hook_event_name": "PermissionRequest", "cwd": "/w/asks",
        "tool_name": "Bash", "tool_input": {"command": "cargo test"}});
    let resp = server
        .http
        .post(server.otlp_url("/v1/hooks/claude_code"))
        .header("x-observatory-prompt", key)
        .json(&body)
        .send()
        .await
        .expect("hook");
    assert_eq!(resp.status(), 204);
    let got = svc.next(WAIT).await.expect("a push");
    let p = accepted(&got);
    assert_eq!(p["kind"], "needs_you");
    assert_eq!(p["prompt_id"], key);
    assert_eq!(p["actions"], json!(["allow", "deny"]));

    let resp = server
        .with_token(reqwest::Method::POST, &format!("/api/prompts/{key}/allow"))
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 200);
    let got = svc.next(WAIT).await.expect("the replacement");
    let p = accepted(&got);
    assert_eq!(
        (p["kind"].as_str(), p["silent"].as_bool()),
        (Some("resolved"), Some(true))
    );
    assert_eq!(p["session_id"], "claude_code:asks", "the same tag");
    assert_eq!(p["body"], "Allowed with the control token");
}
