//! Delivery: sends one message to one destination and reports what became of it, as a
//! [`Delivery`] with every attempt. [`Pusher`] speaks Web Push (RFC 8030, encrypted per RFC 8291,
//! signed per RFC 8292); [`with_retries`] is the retry policy every channel shares (the webhook
//! and ntfy channels in `channels` use it too). Nothing here decides *whether* to tell someone —
//! that is the alert engine's job; this module only carries the message and never fails loudly:
//! every failure is an [`Attempt`] with its error text.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use web_push::{
    ContentEncoding, SubscriptionInfo, WebPushError, WebPushMessage, WebPushMessageBuilder,
    WebPushPayload,
};

use super::endpoint::Endpoints;
use super::vapid::VapidKey;
use crate::clock::{Clock, now_unix_nano};

/// The largest payload sent. web-push refuses more than this (its margin keeps the encrypted
/// body, with its 86-byte header, padding and tag, under the 4096 bytes every push service
/// must accept); checking first gives a clear error and makes no request.
pub const MAX_PAYLOAD: usize = 3052;

/// How long one request may take, answer included, before it counts as a failed attempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A browser's push subscription: `PushSubscription.toJSON()` flattened.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Subscription {
    /// The push service URL for this browser. A capability URL: whoever has it can push.
    pub endpoint: String,
    /// The browser's P-256 public key, uncompressed point, base64url.
    pub p256dh: String,
    /// The browser's 16-byte authentication secret, base64url.
    pub auth: String,
}

/// RFC 8030 urgency: lets a phone on low battery hold back what can wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    VeryLow,
    Low,
    Normal,
    High,
}

impl Urgency {
    /// The `Urgency` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::VeryLow => "very-low",
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }

    fn to_web_push(self) -> web_push::Urgency {
        match self {
            Urgency::VeryLow => web_push::Urgency::VeryLow,
            Urgency::Low => web_push::Urgency::Low,
            Urgency::Normal => web_push::Urgency::Normal,
            Urgency::High => web_push::Urgency::High,
        }
    }
}

/// One push message: the payload the service worker receives, and how the push service should
/// treat it.
#[derive(Clone, Debug)]
pub struct Message {
    /// At most [`MAX_PAYLOAD`] bytes (JSON, by the contract with the PWA).
    pub payload: Vec<u8>,
    /// How long the push service keeps the message for a phone that is offline.
    pub ttl_secs: u32,
    pub urgency: Urgency,
    /// A newer message with the same topic replaces one still waiting at the push service, so a
    /// phone coming back online sees a session's latest state, not every step. See [`topic_for`].
    pub topic: Option<String>,
}

/// When to try again.
#[derive(Clone, Debug)]
pub struct Retry {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The wait after the first failure; each later wait doubles.
    pub base: Duration,
    /// No wait is longer, not even one a `Retry-After` asks for: an alert that arrives an hour
    /// late is worse than one that fails and says so.
    pub max_wait: Duration,
    /// Times the attempts and waits between them (the server's; tests move an adjustable one).
    pub clock: Clock,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 4,
            base: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
            clock: Clock::system(),
        }
    }
}

/// One try: when, what the other side answered (None when no answer came), and what went wrong
/// ("" when nothing did).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub at_unix_nano: i64,
    pub status: Option<u16>,
    pub error: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Sent,
    Failed,
    /// The push service says the subscription no longer exists (404/410): the device must be
    /// forgotten. Only Web Push has this meaning.
    Gone,
}

/// What became of one message to one destination.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    pub outcome: Outcome,
    pub attempts: Vec<Attempt>,
}

impl Delivery {
    /// A delivery that failed before any request could be made.
    pub(crate) fn failed_before_sending(error: String) -> Delivery {
        Delivery {
            outcome: Outcome::Failed,
            attempts: vec![Attempt {
                at_unix_nano: now_unix_nano(),
                status: None,
                error,
            }],
        }
    }
}

/// A stable RFC 8030 topic for a session: base64url of the first 24 bytes of its SHA-256, which
/// is exactly 32 characters of the allowed alphabet whatever the session id contains.
pub fn topic_for(session_id: &str) -> String {
    let digest = Sha256::digest(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

fn is_valid_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 32
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Sends Web Push messages with the server's VAPID key. Cheap to clone: the alert engine and the
/// test-notification handler share one.
#[derive(Clone)]
pub struct Pusher {
    inner: Arc<PusherInner>,
}

struct PusherInner {
    key: VapidKey,
    /// The VAPID `sub`: how a push service's operator can reach ours (checked by
    /// [`super::vapid::check_subject`] before push is turned on).
    subject: String,
    client: reqwest::Client,
    endpoints: Endpoints,
    retry: Retry,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("key", &self.inner.key)
            .field("subject", &self.inner.subject)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

/// A push request ready to send, and to send again unchanged on a retry.
struct Prepared {
    url: reqwest::Url,
    headers: HeaderMap,
    body: Bytes,
}

impl Pusher {
    /// A pusher whose client connects only where `endpoints` allows (its resolver refuses
    /// private answers) and follows no redirect.
    pub fn new(
        key: VapidKey,
        subject: String,
        endpoints: Endpoints,
        retry: Retry,
    ) -> Result<Pusher, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("agent-observatory/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(endpoints.resolver())
            .build()
            .map_err(|e| format!("making the Web Push client: {e}"))?;
        Ok(Pusher {
            inner: Arc::new(PusherInner {
                key,
                subject,
                client,
                endpoints,
                retry,
            }),
        })
    }

    pub fn endpoints(&self) -> Endpoints {
        self.inner.endpoints
    }

    /// Encrypts `msg` for `sub` and sends it, retrying as [`with_retries`] does. Never panics,
    /// never returns Err: every failure is an [`Attempt`] with its error text. 404/410 mean the
    /// subscription is [`Outcome::Gone`].
    pub async fn send(&self, sub: &Subscription, msg: &Message) -> Delivery {
        let prepared = match self.prepare(sub, msg) {
            Ok(p) => p,
            Err(e) => return Delivery::failed_before_sending(e),
        };
        let inner = &self.inner;
        with_retries(&inner.retry, NotFound::Gone, || {
            inner
                .client
                .post(prepared.url.clone())
                .headers(prepared.headers.clone())
                .body(prepared.body.clone())
                .timeout(REQUEST_TIMEOUT)
                .send()
        })
        .await
    }

    /// Everything that can be wrong with a message before it is sent, each with an error a
    /// person can act on.
    fn prepare(&self, sub: &Subscription, msg: &Message) -> Result<Prepared, String> {
        let url = check_message(sub, msg, self.inner.endpoints)?;

        // web-push decodes the keys strictly unpadded; some clients pad them.
        let info = SubscriptionInfo::new(
            sub.endpoint.as_str(),
            sub.p256dh.trim_end_matches('='),
            sub.auth.trim_end_matches('='),
        );
        let mut vapid = self.inner.key.signer().add_sub_info(&info);
        vapid.add_claim("sub", self.inner.subject.as_str());
        // RFC 8292: the audience is the endpoint's origin, port included; web-push's own default
        // drops the port, which a push service on a non-default port would refuse.
        vapid.add_claim("aud", url.origin().ascii_serialization());
        let signature = vapid
            .build()
            .map_err(|e| format!("signing the VAPID token: {e}"))?;

        let mut builder = WebPushMessageBuilder::new(&info);
        builder.set_ttl(msg.ttl_secs);
        builder.set_urgency(msg.urgency.to_web_push());
        if let Some(topic) = &msg.topic {
            builder.set_topic(topic.clone());
        }
        builder.set_payload(ContentEncoding::Aes128Gcm, &msg.payload);
        builder.set_vapid_signature(signature);
        let mut message = builder.build().map_err(|e| match e {
            WebPushError::InvalidCryptoKeys | WebPushError::MissingCryptoKeys => {
                "the subscription's keys could not encrypt the message: p256dh must be a P-256 \
                 public key and auth a 16-byte secret"
                    .to_owned()
            }
            other => format!("building the push message: {other}"),
        })?;
        let payload = message
            .payload
            .take()
            .ok_or_else(|| "web-push built a message without its payload".to_owned())?;
        let headers = push_headers(&message, &payload, msg.urgency)?;
        Ok(Prepared {
            url,
            headers,
            body: Bytes::from(payload.content),
        })
    }
}

/// What can be wrong with a message and its subscription before anything is signed or
/// encrypted: its size, the endpoint, the keys and the topic. Returns the endpoint's URL.
fn check_message(
    sub: &Subscription,
    msg: &Message,
    endpoints: Endpoints,
) -> Result<reqwest::Url, String> {
    if msg.payload.len() > MAX_PAYLOAD {
        return Err(format!(
            "the push message is {} bytes, more than the {MAX_PAYLOAD} a push service is \
             sure to carry; it was not sent",
            msg.payload.len()
        ));
    }
    let url = endpoints.check(&sub.endpoint)?;
    check_keys(sub)?;
    if let Some(topic) = &msg.topic
        && !is_valid_topic(topic)
    {
        return Err(format!(
            "the topic {topic:?} is not 1 to 32 characters of base64url (RFC 8030)"
        ));
    }
    Ok(url)
}

/// The headers a push service needs (web-push's request_builder sends the same ones).
fn push_headers(
    message: &WebPushMessage,
    payload: &WebPushPayload,
    urgency: Urgency,
) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    put(&mut headers, "ttl", &message.ttl.to_string())?;
    put(&mut headers, "urgency", urgency.as_str())?;
    if let Some(topic) = &message.topic {
        put(&mut headers, "topic", topic)?;
    }
    put(
        &mut headers,
        "content-encoding",
        payload.content_encoding.to_str(),
    )?;
    put(&mut headers, "content-type", "application/octet-stream")?;
    for (name, value) in &payload.crypto_headers {
        put(&mut headers, name, value)?;
    }
    Ok(headers)
}

/// The keys' shapes, checked here because a bad `auth` would otherwise encrypt without complaint
/// and the browser would drop the message in silence.
fn check_keys(sub: &Subscription) -> Result<(), String> {
    let p256dh = URL_SAFE_NO_PAD.decode(sub.p256dh.trim_end_matches('='));
    if !p256dh.is_ok_and(|k| k.len() == 65 && k[0] == 4) {
        return Err(
            "the subscription's p256dh is not a base64url uncompressed P-256 point (65 bytes)"
                .to_owned(),
        );
    }
    let auth = URL_SAFE_NO_PAD.decode(sub.auth.trim_end_matches('='));
    if !auth.is_ok_and(|a| a.len() == 16) {
        return Err("the subscription's auth is not a base64url 16-byte secret".to_owned());
    }
    Ok(())
}

pub(crate) fn put(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), String> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a header name"))?;
    // The value stays out of the error: it may be a token, and attempts are shown in the dashboard.
    let value = HeaderValue::from_str(value).map_err(|_| {
        format!("the {name} header cannot carry its value (a character HTTP headers cannot hold)")
    })?;
    headers.insert(name, value);
    Ok(())
}

/// What a 404 or 410 means on a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotFound {
    /// A push service saying the subscription no longer exists: [`Outcome::Gone`], no retry.
    Gone,
    /// A webhook or ntfy server: a wrong URL is the operator's to fix, so it is
    /// [`Outcome::Failed`] (no retry) and nothing is forgotten.
    Failed,
}

/// What to do after one answer.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Done(Outcome),
    /// Try again, no sooner than the given `Retry-After` if there was one.
    Again(Option<Duration>),
}

/// Sends with `send` until an answer settles it: 2xx is [`Outcome::Sent`]; 404/410 is per
/// `not_found`; 408, 429, 5xx, network errors and timeouts are tried again after an exponential
/// backoff (`retry.base`, doubling, at least any `Retry-After`, at most `retry.max_wait`), up to
/// `retry.attempts` tries in all, then [`Outcome::Failed`]; any other status fails at once.
pub(crate) async fn with_retries<F, Fut>(
    retry: &Retry,
    not_found: NotFound,
    mut send: F,
) -> Delivery
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let tries = retry.attempts.max(1);
    let mut attempts = Vec::new();
    for n in 0..tries {
        let at_unix_nano = retry.clock.now();
        let (attempt, verdict) = match send().await {
            Ok(response) => judge(response, not_found, at_unix_nano).await,
            Err(e) => (
                Attempt {
                    at_unix_nano,
                    status: None,
                    error: error_text(e),
                },
                Verdict::Again(None),
            ),
        };
        attempts.push(attempt);
        match verdict {
            Verdict::Done(outcome) => return Delivery { outcome, attempts },
            Verdict::Again(retry_after) if n + 1 < tries => {
                retry
                    .clock
                    .sleep(wait_before_retry(retry, n, retry_after))
                    .await;
            }
            Verdict::Again(_) => {}
        }
    }
    Delivery {
        outcome: Outcome::Failed,
        attempts,
    }
}

/// The wait after failed try number `n` (0 = the first try).
fn wait_before_retry(retry: &Retry, n: u32, retry_after: Option<Duration>) -> Duration {
    let factor = 1u32.checked_shl(n).unwrap_or(u32::MAX);
    let backoff = retry.base.saturating_mul(factor);
    backoff
        .max(retry_after.unwrap_or_default())
        .min(retry.max_wait)
}

async fn judge(
    response: reqwest::Response,
    not_found: NotFound,
    at_unix_nano: i64,
) -> (Attempt, Verdict) {
    let status = response.status();
    let code = status.as_u16();
    let verdict = if status.is_success() {
        Verdict::Done(Outcome::Sent)
    } else if code == 404 || code == 410 {
        Verdict::Done(match not_found {
            NotFound::Gone => Outcome::Gone,
            NotFound::Failed => Outcome::Failed,
        })
    } else if code == 408 || code == 429 || status.is_server_error() {
        Verdict::Again(retry_after(response.headers()))
    } else {
        Verdict::Done(Outcome::Failed)
    };
    let error = if status.is_success() {
        String::new()
    } else {
        let reason = status.canonical_reason().unwrap_or("");
        // The status only: the body is whatever the other side chose to say, and attempts are
        // shown in the dashboard.
        let mut text = format!("{code} {reason}").trim_end().to_owned();
        if verdict == Verdict::Done(Outcome::Gone) {
            text.push_str(" (the subscription has expired or was withdrawn)");
        }
        text
    };
    let attempt = Attempt {
        at_unix_nano,
        status: Some(code),
        error,
    };
    (attempt, verdict)
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 allows both).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A network error as text, with its causes (reqwest's own message is only "error sending
/// request") and without the URL: a push endpoint is a capability and a webhook URL may carry a
/// token, and attempts are shown in the dashboard.
fn error_text(e: reqwest::Error) -> String {
    let timed_out = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if timed_out {
        text.push_str(&format!(
            " (no answer within {} s)",
            REQUEST_TIMEOUT.as_secs()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_stable_32_base64url_characters() {
        for id in ["claude_code:abc", "", "ünïcødé/?&=", &"x".repeat(10_000)] {
            let topic = topic_for(id);
            assert_eq!(topic.len(), 32, "{id:?}");
            assert!(is_valid_topic(&topic), "{topic}");
            assert_eq!(topic, topic_for(id), "stable");
        }
        assert_ne!(topic_for("claude_code:a"), topic_for("claude_code:b"));
        // Pinned so a change of hash (which would stop replacing queued messages across an
        // upgrade) is a decision, not an accident.
        assert_eq!(
            topic_for("claude_code:abc"),
            topic_for_reference("claude_code:abc")
        );
    }

    fn topic_for_reference(id: &str) -> String {
        let d = Sha256::digest(id.as_bytes());
        base64::engine::general_purpose::URL_SAFE
            .encode(&d[..24])
            .trim_end_matches('=')
            .to_owned()
    }

    #[test]
    fn topic_validity() {
        assert!(is_valid_topic("abc-_XYZ019"));
        assert!(is_valid_topic(&"a".repeat(32)));
        assert!(!is_valid_topic(&"a".repeat(33)));
        assert!(!is_valid_topic(""));
        assert!(!is_valid_topic("a b"));
        assert!(!is_valid_topic("a+b"));
        assert!(!is_valid_topic("a/b"));
        assert!(!is_valid_topic("a="));
    }

    #[test]
    fn waits_double_honour_retry_after_and_stop_at_the_cap() {
        let retry = Retry {
            attempts: 10,
            base: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
            ..Retry::default()
        };
        let ms = Duration::from_millis;
        let table = [
            (0, None, ms(100)),
            (1, None, ms(200)),
            (2, None, ms(400)),
            (3, None, ms(800)),
            (4, None, ms(1000)),
            (40, None, ms(1000)),
            (0, Some(ms(500)), ms(500)),
            (3, Some(ms(500)), ms(800)),
            (0, Some(Duration::from_secs(3600)), ms(1000)),
            (0, Some(Duration::ZERO), ms(100)),
        ];
        for (n, after, want) in table {
            assert_eq!(
                wait_before_retry(&retry, n, after),
                want,
                "n={n} after={after:?}"
            );
        }
        let default = Retry::default();
        assert_eq!(default.attempts, 4);
        assert_eq!(wait_before_retry(&default, 0, None), Duration::from_secs(1));
        assert_eq!(
            wait_before_retry(&default, 9, None),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past");
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        h.insert(
            "retry-after",
            HeaderValue::from_str(&later).expect("header"),
        );
        let wait = retry_after(&h).expect("a date");
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn outcomes_serialize_as_the_contract_says() {
        let d = Delivery {
            outcome: Outcome::Gone,
            attempts: vec![Attempt {
                at_unix_nano: 5,
                status: Some(410),
                error: "410 Gone".into(),
            }],
        };
        let v = serde_json::to_value(&d).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"outcome": "gone", "attempts": [{"at_unix_nano": 5, "status": 410, "error": "410 Gone"}]})
        );
    }
}
