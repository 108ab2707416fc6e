//! Sending alerts: Web Push through a stand-in push service that checks VAPID and decrypts each
//! message as a browser would (its decryption first proved on RFC 8291's worked example), the
//! retry rules (Retry-After, backoff, Gone), and the webhook and ntfy channels against a local
//! listener.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::push_service::{
    Catcher, PushService, Subscriber, decrypt, secret_key, with_retry_after,
};
use observatory::alerts::channels::{Notice, Ntfy, Webhook};
use observatory::alerts::deliver::{
    Delivery, MAX_PAYLOAD, Message, Outcome, Pusher, Retry, Subscription, Urgency, topic_for,
};
use observatory::alerts::vapid::VapidKey;
use observatory::clock::Clock;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(5);

/// The default retries, on a clock whose waits return at once (moving it forward instead): the
/// attempts' times show the waits, and no test sleeps through them.
fn quick_retry() -> Retry {
    Retry {
        clock: Clock::adjustable(),
        ..Retry::default()
    }
}

struct Sender {
    pusher: Pusher,
    key: VapidKey,
    _dir: tempfile::TempDir,
}

fn sender(retry: Retry) -> Sender {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = VapidKey::load_or_create(dir.path()).expect("VAPID key");
    let pusher = Pusher::new(
        key.clone(),
        "mailto:ops@example.com".into(),
        // The fake push service listens on loopback.
        observatory::alerts::endpoint::Endpoints {
            allow_loopback: true,
        },
        retry,
    )
    .expect("pusher");
    Sender {
        pusher,
        key,
        _dir: dir,
    }
}

/// The contract's push payload.
fn payload() -> Value {
    json!({"title": "Claude Code · api-server", "body": "wants to run Bash: cargo test",
           "session_id": "claude_code:abc", "url": "/sessions/claude_code%3Aabc",
           "kind": "needs_you", "alert_id": 42, "time_unix_nano": 1763800000000000000i64})
}

fn message(payload: Vec<u8>) -> Message {
    Message {
        payload,
        ttl_secs: 3600,
        urgency: Urgency::High,
        topic: Some(topic_for("claude_code:abc")),
    }
}

fn json_message() -> Message {
    message(serde_json::to_vec(&payload()).expect("json"))
}

fn statuses(d: &Delivery) -> Vec<Option<u16>> {
    d.attempts.iter().map(|a| a.status).collect()
}

// RFC 8291 section 5 (Appendix A), base64url with the RFC's line breaks removed.
const RFC_UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const RFC_UA_PUBLIC: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const RFC_AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const RFC_BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

#[test]
fn the_fake_decrypts_rfc_8291s_worked_example() {
    let ua = secret_key(RFC_UA_PRIVATE);
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    assert_eq!(
        ua.public_key().to_encoded_point(false).as_bytes(),
        b64(RFC_UA_PUBLIC).as_slice(),
        "the vector's key pair"
    );
    let plaintext = decrypt(&b64(RFC_BODY), &ua, &b64(RFC_AUTH)).expect("decrypts");
    assert_eq!(plaintext, b"When I grow up, I want to be a watermelon");
}

#[test]
fn the_fake_refuses_what_a_browser_could_not_decrypt() {
    let ua = secret_key(RFC_UA_PRIVATE);
    let body = b64(RFC_BODY);
    let auth = b64(RFC_AUTH);
    let mut flipped = body.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(decrypt(&flipped, &ua, &auth).is_err(), "a changed tag");
    let mut other_auth = auth.clone();
    other_auth[0] ^= 1;
    assert!(
        decrypt(&body, &ua, &other_auth).is_err(),
        "another auth secret"
    );
    let stranger = secret_key("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw");
    assert!(decrypt(&body, &stranger, &auth).is_err(), "another key");
    assert!(decrypt(&body[..40], &ua, &auth).is_err(), "cut short");
}

/// The fake's VAPID checks can fail: a request signed for the wrong audience, with a signature
/// that is not k's, or with an unexpected key, is refused with the status a push service gives.
#[tokio::test]
async fn the_fake_refuses_bad_vapid() {
    use jwt_simple::prelude::{Claims, ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair};
    let svc = PushService::start().await;
    let sub = Subscriber::new(&svc);
    let http = reqwest::Client::new();
    let signer = ES256KeyPair::generate();
    let k = URL_SAFE_NO_PAD.encode(signer.public_key().public_key().to_bytes_uncompressed());
    let token = |aud: &str, key: &ES256KeyPair| {
        let claims = Claims::create(jwt_simple::prelude::Duration::from_hours(12))
            .with_audience(aud)
            .with_subject("mailto:ops@example.com");
        key.sign(claims).expect("sign")
    };
    let post = |auth: String| {
        http.post(sub.endpoint())
            .header("authorization", auth)
            .header("ttl", "60")
            .header("content-encoding", "aes128gcm")
            .body(vec![0u8; 100])
            .send()
    };

    // web-push's default audience leaves the port out.
    let no_port = svc.origin().rsplit_once(':').expect("port").0.to_owned();
    let r = post(format!("vapid t={}, k={k}", token(&no_port, &signer)))
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    let seen = svc.next(WAIT).await.expect("recorded");
    assert!(
        seen.rejected.as_deref().unwrap_or("").contains("aud"),
        "{seen:?}"
    );

    let r = post(format!(
        "vapid t={}, k={k}",
        token(&svc.origin(), &ES256KeyPair::generate())
    ))
    .await
    .expect("request");
    assert_eq!(r.status(), 401);
    let seen = svc.next(WAIT).await.expect("recorded");
    assert!(
        seen.rejected.as_deref().unwrap_or("").contains("signature"),
        "{seen:?}"
    );

    let r = post("Bearer nothing".into()).await.expect("request");
    assert_eq!(r.status(), 401);
    svc.next(WAIT).await.expect("recorded");

    // A valid token passes VAPID and reaches decryption, which this body fails.
    let r = post(format!("vapid t={}, k={k}", token(&svc.origin(), &signer)))
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
    let seen = svc.next(WAIT).await.expect("recorded");
    assert!(
        seen.rejected.as_deref().unwrap_or("").contains("decrypt"),
        "{seen:?}"
    );
    assert_eq!(seen.claims["sub"], "mailto:ops@example.com");

    svc.expect_key("BOther");
    let r = post(format!("vapid t={}, k={k}", token(&svc.origin(), &signer)))
        .await
        .expect("request");
    assert_eq!(r.status(), 403);
    assert_eq!(svc.rejected().len(), 5);
}

#[tokio::test]
async fn a_push_decrypts_to_the_exact_payload_with_valid_vapid_and_headers() {
    let svc = PushService::start().await;
    let s = sender(quick_retry());
    svc.expect_key(s.key.public_key());
    let sub = Subscriber::new(&svc);
    let msg = json_message();

    let delivery = s.pusher.send(&sub.subscription(), &msg).await;

    assert_eq!(delivery.outcome, Outcome::Sent, "{delivery:?}");
    assert_eq!(statuses(&delivery), [Some(201)]);
    assert_eq!(delivery.attempts[0].error, "");
    let got = svc.next(WAIT).await.expect("the push service got it");
    assert_eq!(got.rejected, None, "{got:?}");
    assert_eq!(got.plaintext, msg.payload, "decrypts to the exact bytes");
    assert_eq!(got.payload, Some(payload()));
    assert_eq!(got.ttl, Some(3600));
    assert_eq!(got.urgency.as_deref(), Some("high"));
    assert_eq!(got.topic, msg.topic);
    assert_eq!(got.vapid_key, s.key.public_key());
    assert_eq!(got.claims["aud"], svc.origin().as_str());
    assert_eq!(got.claims["sub"], "mailto:ops@example.com");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let exp = got.claims["exp"].as_u64().expect("exp");
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
    assert!(svc.rejected().is_empty());
}

#[tokio::test]
async fn every_urgency_and_no_topic_are_accepted() {
    let svc = PushService::start().await;
    let s = sender(quick_retry());
    let sub = Subscriber::new(&svc);
    for (urgency, header) in [
        (Urgency::VeryLow, "very-low"),
        (Urgency::Low, "low"),
        (Urgency::Normal, "normal"),
        (Urgency::High, "high"),
    ] {
        let msg = Message {
            payload: b"{}".to_vec(),
            ttl_secs: 0,
            urgency,
            topic: None,
        };
        let d = s.pusher.send(&sub.subscription(), &msg).await;
        assert_eq!(d.outcome, Outcome::Sent, "{d:?}");
        let got = svc.next(WAIT).await.expect("received");
        assert_eq!(got.urgency.as_deref(), Some(header));
        assert_eq!(got.topic, None);
        assert_eq!(got.ttl, Some(0));
    }
    assert!(svc.rejected().is_empty(), "{:?}", svc.rejected());
}

#[tokio::test]
async fn the_largest_payload_is_sent_and_one_byte_more_is_not() {
    let svc = PushService::start().await;
    let s = sender(quick_retry());
    let sub = Subscriber::new(&svc);

    let largest: Vec<u8> = (0..MAX_PAYLOAD).map(|i| b'a' + (i % 26) as u8).collect();
    let d = s
        .pusher
        .send(&sub.subscription(), &message(largest.clone()))
        .await;
    assert_eq!(d.outcome, Outcome::Sent, "{d:?}");
    let got = svc.next(WAIT).await.expect("received");
    assert_eq!(got.rejected, None, "{got:?}");
    assert_eq!(got.plaintext, largest);

    let d = s
        .pusher
        .send(&sub.subscription(), &message(vec![b'x'; MAX_PAYLOAD + 1]))
        .await;
    assert_eq!(d.outcome, Outcome::Failed);
    assert_eq!(statuses(&d), [None]);
    assert!(d.attempts[0].error.contains("bytes"), "{d:?}");
    assert!(
        svc.next(Duration::from_millis(300)).await.is_none(),
        "no request made"
    );
}

#[tokio::test]
async fn gone_after_one_attempt_on_410_and_404() {
    let svc = PushService::start().await;
    let s = sender(quick_retry());
    for status in [410, 404] {
        let sub = Subscriber::new(&svc);
        svc.script(&sub, [status]);
        let d = s.pusher.send(&sub.subscription(), &json_message()).await;
        assert_eq!(d.outcome, Outcome::Gone, "{d:?}");
        assert_eq!(statuses(&d), [Some(status)]);
        assert!(d.attempts[0].error.contains(&status.to_string()), "{d:?}");
    }
    assert_eq!(svc.received().len(), 2, "no retries");
    assert!(svc.rejected().is_empty());
}

#[tokio::test]
async fn retry_after_is_honoured_then_sent() {
    let svc = PushService::start().await;
    let s = sender(quick_retry());
    let sub = Subscriber::new(&svc);
    svc.script(&sub, [with_retry_after(429, 1), 201.into()]);

    let d = s.pusher.send(&sub.subscription(), &json_message()).await;

    assert_eq!(d.outcome, Outcome::Sent, "{d:?}");
    assert_eq!(statuses(&d), [Some(429), Some(201)]);
    assert!(
        d.attempts[0].error.starts_with("429 Too Many Requests"),
        "{d:?}"
    );
    let gap = d.attempts[1].at_unix_nano - d.attempts[0].at_unix_nano;
    assert!(
        gap >= 1_000_000_000,
        "waited {gap} ns, Retry-After said 1 s"
    );
    let (first, second) = (svc.next(WAIT).await, svc.next(WAIT).await);
    let (first, second) = (first.expect("first"), second.expect("second"));
    assert_eq!(second.plaintext, first.plaintext);
    assert!(svc.rejected().is_empty());
}

/// A Retry-After beyond `max_wait` is cut to it: without the cap this test would wait an hour.
#[tokio::test]
async fn retry_after_is_capped_at_max_wait() {
    let svc = PushService::start().await;
    let s = sender(Retry {
        attempts: 2,
        base: Duration::from_millis(10),
        max_wait: Duration::from_millis(100),
        clock: Clock::adjustable(),
    });
    let sub = Subscriber::new(&svc);
    svc.script(&sub, [with_retry_after(503, 3600)]);
    let d = tokio::time::timeout(
        Duration::from_secs(30),
        s.pusher.send(&sub.subscription(), &json_message()),
    )
    .await
    .expect("the wait was capped");
    assert_eq!(d.outcome, Outcome::Sent, "{d:?}");
    assert_eq!(statuses(&d), [Some(503), Some(201)]);
    let gap = d.attempts[1].at_unix_nano - d.attempts[0].at_unix_nano;
    assert!(
        (100_000_000..60_000_000_000).contains(&gap),
        "waited {gap} ns: the 100 ms cap, not the hour Retry-After asked for"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_failed() {
    let svc = PushService::start().await;
    let s = sender(quick_retry());
    let sub = Subscriber::new(&svc);
    svc.script(&sub, [500, 500, 500, 500]);

    let d = s.pusher.send(&sub.subscription(), &json_message()).await;

    assert_eq!(d.outcome, Outcome::Failed, "{d:?}");
    assert_eq!(statuses(&d), [Some(500); 4]);
    // Backoff doubles from 1 s: at least 1 + 2 + 4 s between the first and the last (on the
    // adjustable clock: the test does not wait for them).
    let spread = d.attempts[3].at_unix_nano - d.attempts[0].at_unix_nano;
    assert!(spread >= 7_000_000_000, "{spread} ns");
    assert_eq!(svc.received().len(), 4);
    assert!(svc.rejected().is_empty());
}

#[tokio::test]
async fn client_errors_fail_at_once_with_the_status_and_never_the_body() {
    let svc = PushService::start().await;
    let s = sender(quick_retry());
    for status in [400, 401, 403, 413] {
        let sub = Subscriber::new(&svc);
        svc.script(&sub, [status]);
        let d = s.pusher.send(&sub.subscription(), &json_message()).await;
        assert_eq!(d.outcome, Outcome::Failed, "{d:?}");
        assert_eq!(statuses(&d), [Some(status)]);
        let error = &d.attempts[0].error;
        assert!(error.starts_with(&status.to_string()), "{error}");
        assert!(
            !error.contains("scripted answer"),
            "the push service's body stays out of the record: {error}"
        );
    }
    assert_eq!(svc.received().len(), 4);
}

#[tokio::test]
async fn connection_refused_fails_with_the_error_text() {
    let svc = PushService::start().await;
    let sub = Subscriber::new(&svc);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dead = Subscription {
        endpoint: format!("http://127.0.0.1:{port}/push/secret-capability"),
        ..sub.subscription()
    };
    let s = sender(Retry {
        attempts: 2,
        base: Duration::from_millis(10),
        max_wait: Duration::from_millis(50),
        clock: Clock::adjustable(),
    });

    let d = s.pusher.send(&dead, &json_message()).await;

    assert_eq!(d.outcome, Outcome::Failed, "{d:?}");
    assert_eq!(statuses(&d), [None, None], "network errors are retried");
    let error = d.attempts[0].error.to_lowercase();
    assert!(error.contains("refused"), "{error}");
    assert!(
        !error.contains("secret-capability"),
        "the endpoint stays secret: {error}"
    );
}

#[tokio::test]
async fn bad_subscriptions_fail_without_a_request() {
    let svc = PushService::start().await;
    let sub = Subscriber::new(&svc);
    let s = sender(quick_retry());
    let good = sub.subscription();
    let cases = [
        (
            Subscription {
                p256dh: "not-a-key".into(),
                ..good.clone()
            },
            "p256dh",
        ),
        (
            Subscription {
                auth: URL_SAFE_NO_PAD.encode([1u8; 10]),
                ..good.clone()
            },
            "auth",
        ),
        (
            Subscription {
                endpoint: "push/relative".into(),
                ..good.clone()
            },
            "endpoint",
        ),
        (
            Subscription {
                endpoint: "ftp://127.0.0.1/push".into(),
                ..good.clone()
            },
            "endpoint",
        ),
    ];
    for (bad, what) in cases {
        let d = s.pusher.send(&bad, &json_message()).await;
        assert_eq!(d.outcome, Outcome::Failed, "{d:?}");
        assert_eq!(statuses(&d), [None]);
        assert!(d.attempts[0].error.contains(what), "{what}: {d:?}");
    }
    let bad_topic = Message {
        topic: Some("not a topic".into()),
        ..json_message()
    };
    let d = s.pusher.send(&good, &bad_topic).await;
    assert_eq!(d.outcome, Outcome::Failed);
    assert!(d.attempts[0].error.contains("topic"), "{d:?}");
    assert!(svc.next(Duration::from_millis(300)).await.is_none());
}

/// The JSON a browser's `PushSubscription.toJSON()` gives reads as the server's subscription.
#[tokio::test]
async fn a_browser_subscription_json_reads_as_a_subscription() {
    let svc = PushService::start().await;
    let sub = Subscriber::new(&svc);
    let v = sub.subscription_json();
    let read = Subscription {
        endpoint: v["endpoint"].as_str().expect("endpoint").into(),
        p256dh: v["keys"]["p256dh"].as_str().expect("p256dh").into(),
        auth: v["keys"]["auth"].as_str().expect("auth").into(),
    };
    assert_eq!(read, sub.subscription());
    assert_eq!(b64(&read.p256dh).len(), 65);
    assert_eq!(b64(&read.auth).len(), 16);
}

fn notice(urgent: bool) -> Notice {
    Notice {
        alert_id: 42,
        kind: "needs_you".into(),
        title: "Claude Code · api-server".into(),
        body: "wants to run Bash: cargo test".into(),
        session_id: Some("claude_code:abc".into()),
        url: "/sessions/claude_code%3Aabc".into(),
        time_unix_nano: 1_763_800_000_000_000_000,
        urgent,
    }
}

#[tokio::test]
async fn a_webhook_posts_the_notice_as_json_with_an_absolute_url() {
    let far = Catcher::start().await;
    let hook = Webhook::new(
        far.url("/hook?token=t"),
        Some("https://obs.example.ts.net/".into()),
        reqwest::Client::new(),
        quick_retry(),
    );
    let d = hook.send(&notice(true)).await;
    assert_eq!(d.outcome, Outcome::Sent, "{d:?}");
    assert_eq!(statuses(&d), [Some(200)]);
    let got = far.next(WAIT).await.expect("posted");
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/hook");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        got.json(),
        json!({"alert_id": 42, "kind": "needs_you", "title": "Claude Code · api-server",
               "body": "wants to run Bash: cargo test", "session_id": "claude_code:abc",
               "url": "https://obs.example.ts.net/sessions/claude_code%3Aabc",
               "time_unix_nano": 1_763_800_000_000_000_000i64, "urgent": true})
    );

    let relative = Webhook::new(
        far.url("/hook"),
        None,
        reqwest::Client::new(),
        quick_retry(),
    );
    relative.send(&notice(false)).await;
    let got = far.next(WAIT).await.expect("posted");
    assert_eq!(got.json()["url"], "/sessions/claude_code%3Aabc");
    assert_eq!(got.json()["urgent"], false);
}

#[tokio::test]
async fn a_webhook_retries_server_errors_and_a_404_is_failed_not_gone() {
    let far = Catcher::start().await;
    let hook = Webhook::new(
        far.url("/hook"),
        None,
        reqwest::Client::new(),
        quick_retry(),
    );
    far.script([503, 200]);
    let d = hook.send(&notice(true)).await;
    assert_eq!(d.outcome, Outcome::Sent, "{d:?}");
    assert_eq!(statuses(&d), [Some(503), Some(200)]);

    for status in [404, 410] {
        far.script([status]);
        let d = hook.send(&notice(true)).await;
        assert_eq!(d.outcome, Outcome::Failed, "only Web Push has Gone: {d:?}");
        assert_eq!(statuses(&d), [Some(status)]);
    }
    assert_eq!(far.caught().len(), 4);

    let nowhere = Webhook::new(
        "not a url".into(),
        None,
        reqwest::Client::new(),
        quick_retry(),
    );
    let d = nowhere.send(&notice(true)).await;
    assert_eq!(d.outcome, Outcome::Failed);
    assert!(d.attempts[0].error.contains("webhook URL"), "{d:?}");
}

/// RFC 2047 `=?UTF-8?B?...?=` as ntfy decodes it; plain text as it is.
fn decode_header(value: &str) -> String {
    match value
        .strip_prefix("=?UTF-8?B?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(b) => String::from_utf8(STANDARD.decode(b).expect("base64")).expect("utf-8"),
        None => value.to_owned(),
    }
}

#[tokio::test]
async fn ntfy_gets_title_priority_tags_click_and_token() {
    let far = Catcher::start().await;
    let ntfy = Ntfy::new(
        far.url("/"),
        "agents".into(),
        Some("tk_abc".into()),
        Some("https://obs.example.ts.net".into()),
        reqwest::Client::new(),
        quick_retry(),
    );
    let d = ntfy.send(&notice(true)).await;
    assert_eq!(d.outcome, Outcome::Sent, "{d:?}");
    let got = far.next(WAIT).await.expect("published");
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/agents");
    assert_eq!(got.body, b"wants to run Bash: cargo test");
    assert_eq!(
        decode_header(got.header("x-title").expect("title")),
        "Claude Code · api-server"
    );
    assert_eq!(got.header("x-priority"), Some("5"));
    assert_eq!(got.header("x-tags"), Some("needs_you"));
    assert_eq!(
        got.header("x-click"),
        Some("https://obs.example.ts.net/sessions/claude_code%3Aabc")
    );
    assert_eq!(got.header("authorization"), Some("Bearer tk_abc"));
}

#[tokio::test]
async fn ntfy_without_public_url_or_token_sends_no_click_and_no_authorization() {
    let far = Catcher::start().await;
    let ntfy = Ntfy::new(
        far.url(""),
        "agents".into(),
        None,
        None,
        reqwest::Client::new(),
        quick_retry(),
    );
    far.script([429, 200]);
    let d = ntfy.send(&notice(false)).await;
    assert_eq!(d.outcome, Outcome::Sent, "{d:?}");
    assert_eq!(statuses(&d), [Some(429), Some(200)]);
    let got = far.next(WAIT).await.expect("published");
    assert_eq!(got.path, "/agents");
    assert_eq!(got.header("x-priority"), Some("3"));
    assert_eq!(got.header("x-click"), None);
    assert_eq!(got.header("authorization"), None);

    far.script([404]);
    let d = ntfy.send(&notice(false)).await;
    assert_eq!(d.outcome, Outcome::Failed, "{d:?}");
    assert_eq!(statuses(&d), [Some(404)]);
}
