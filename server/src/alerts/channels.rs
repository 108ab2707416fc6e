//! The channels besides Web Push: a generic webhook (POST the alert as JSON) and ntfy (POST to a
//! topic, for people who already have ntfy on their phone). Each turns an alert's [`Notice`]
//! into one HTTP request and reports a [`Delivery`], with the same retries as Web Push
//! ([`with_retries`]) — except that a 404/410 here is [`Outcome::Failed`](super::deliver::Outcome),
//! never `Gone`: a wrong URL is the operator's to fix, there is no subscription to forget.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde::Serialize;

use super::deliver::{Delivery, NotFound, REQUEST_TIMEOUT, Retry, put, with_retries};

/// An alert as the channels tell it.
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    pub alert_id: u64,
    /// `needs_you`, `finished`, …, or `test`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub session_id: Option<String>,
    /// The dashboard page, relative (`/sessions/…`); made absolute when the server's public URL
    /// is known, since a phone cannot resolve a relative link.
    pub url: String,
    pub time_unix_nano: i64,
    /// Wants attention now (ntfy priority 5), rather than news that can wait.
    pub urgent: bool,
}

/// `url` made absolute against `public_url` (the server's address as the phone reaches it),
/// when there is one and `url` is not absolute already.
fn absolute(public_url: Option<&str>, url: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        return url.to_owned();
    }
    match public_url {
        Some(base) => {
            let base = base.trim_end_matches('/');
            if url.starts_with('/') {
                format!("{base}{url}")
            } else {
                format!("{base}/{url}")
            }
        }
        None => url.to_owned(),
    }
}

/// POSTs each notice as JSON to a URL the operator configured.
#[derive(Clone)]
pub struct Webhook {
    /// May carry a secret in its path or query (as chat services' hook URLs do), so `Debug`
    /// shows only its origin.
    url: String,
    public_url: Option<String>,
    client: reqwest::Client,
    retry: Retry,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = reqwest::Url::parse(&self.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "<not a URL>".to_owned());
        f.debug_struct("Webhook")
            .field("url", &format!("{origin}/…"))
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl Webhook {
    pub fn new(
        url: String,
        public_url: Option<String>,
        client: reqwest::Client,
        retry: Retry,
    ) -> Webhook {
        Webhook {
            url,
            public_url,
            client,
            retry,
        }
    }

    /// POSTs the notice's fields as JSON (`url` absolute when the public URL is set). Never
    /// returns Err: every failure is an attempt with its error text.
    pub async fn send(&self, n: &Notice) -> Delivery {
        let url = match reqwest::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => u,
            _ => {
                return Delivery::failed_before_sending(
                    "the webhook URL is not an http(s) URL".to_owned(),
                );
            }
        };
        let mut notice = n.clone();
        notice.url = absolute(self.public_url.as_deref(), &n.url);
        let body = match serde_json::to_vec(&notice) {
            Ok(b) => Bytes::from(b),
            Err(e) => return Delivery::failed_before_sending(format!("encoding the alert: {e}")),
        };
        with_retries(&self.retry, NotFound::Failed, || {
            self.client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .timeout(REQUEST_TIMEOUT)
                .send()
        })
        .await
    }
}

/// Publishes each notice to an ntfy topic (ntfy.sh or a self-hosted server).
#[derive(Clone)]
pub struct Ntfy {
    /// e.g. `https://ntfy.sh`
    server: String,
    topic: String,
    /// An ntfy access token, for a protected topic.
    token: Option<String>,
    public_url: Option<String>,
    client: reqwest::Client,
    retry: Retry,
}

impl std::fmt::Debug for Ntfy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ntfy")
            .field("server", &self.server)
            .field("topic", &self.topic)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl Ntfy {
    pub fn new(
        server: String,
        topic: String,
        token: Option<String>,
        public_url: Option<String>,
        client: reqwest::Client,
        retry: Retry,
    ) -> Ntfy {
        Ntfy {
            server,
            topic,
            token,
            public_url,
            client,
            retry,
        }
    }

    /// POSTs `{server}/{topic}` with the notice's body as the message and its title, priority
    /// (5 when urgent, 3 otherwise), kind as tag, and link (when the public URL is set) as
    /// headers. Never returns Err: every failure is an attempt with its error text.
    pub async fn send(&self, n: &Notice) -> Delivery {
        let (url, headers) = match self.prepare(n) {
            Ok(p) => p,
            Err(e) => return Delivery::failed_before_sending(e),
        };
        let body = Bytes::from(n.body.clone());
        with_retries(&self.retry, NotFound::Failed, || {
            self.client
                .post(url.clone())
                .headers(headers.clone())
                .body(body.clone())
                .timeout(REQUEST_TIMEOUT)
                .send()
        })
        .await
    }

    fn prepare(&self, n: &Notice) -> Result<(reqwest::Url, HeaderMap), String> {
        if self.topic.is_empty() || self.topic.contains('/') {
            return Err(format!(
                "the ntfy topic {:?} is not a topic name",
                self.topic
            ));
        }
        let url = format!("{}/{}", self.server.trim_end_matches('/'), self.topic);
        let url = match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => u,
            _ => {
                return Err(format!(
                    "the ntfy server {:?} is not an http(s) URL",
                    self.server
                ));
            }
        };
        // ntfy reads each of these under several names; the X- forms are used because a plain
        // `Priority` is also RFC 9218's header, which proxies in front of ntfy add or rewrite.
        let mut headers = HeaderMap::new();
        put(&mut headers, "x-title", &header_text(&n.title))?;
        put(&mut headers, "x-priority", if n.urgent { "5" } else { "3" })?;
        put(&mut headers, "x-tags", &header_text(&n.kind))?;
        if self.public_url.is_some() {
            put(
                &mut headers,
                "x-click",
                &absolute(self.public_url.as_deref(), &n.url),
            )?;
        }
        if let Some(token) = &self.token {
            put(&mut headers, "authorization", &format!("Bearer {token}"))?;
        }
        put(&mut headers, "content-type", "text/plain; charset=utf-8")?;
        Ok((url, headers))
    }
}

/// Text for an HTTP header: ASCII as it is, anything else as an RFC 2047 encoded word, which
/// ntfy decodes (a title like "Claude Code · api-server" is not ASCII).
fn header_text(text: &str) -> String {
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b)) && !text.contains("=?");
    if plain {
        text.to_owned()
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_made_absolute_only_with_a_public_url() {
        let table = [
            (None, "/sessions/x", "/sessions/x"),
            (
                Some("https://obs.example.ts.net"),
                "/sessions/x",
                "https://obs.example.ts.net/sessions/x",
            ),
            (
                Some("https://obs.example.ts.net/"),
                "/sessions/x",
                "https://obs.example.ts.net/sessions/x",
            ),
            (Some("https://h/base/"), "alerts", "https://h/base/alerts"),
            (Some("https://h"), "https://other/x", "https://other/x"),
        ];
        for (public, url, want) in table {
            assert_eq!(absolute(public, url), want, "{public:?} {url}");
        }
    }

    #[test]
    fn header_text_encodes_what_is_not_ascii() {
        assert_eq!(header_text("Claude Code - api"), "Claude Code - api");
        let encoded = header_text("Claude Code · api-server");
        assert!(
            encoded.starts_with("=?UTF-8?B?") && encoded.ends_with("?="),
            "{encoded}"
        );
        let inner = &encoded["=?UTF-8?B?".len()..encoded.len() - 2];
        assert_eq!(
            STANDARD.decode(inner).expect("base64"),
            "Claude Code · api-server".as_bytes()
        );
        assert!(
            header_text("a\nb").starts_with("=?UTF-8?B?"),
            "no header injection"
        );
    }

    #[test]
    fn a_token_no_header_can_carry_fails_without_showing_it() {
        let n = Ntfy::new(
            "https://ntfy.sh".into(),
            "t".into(),
            Some("tk_secret\nInjected: 1".into()),
            None,
            reqwest::Client::new(),
            Retry::default(),
        );
        let notice = Notice {
            alert_id: 1,
            kind: "test".into(),
            title: "t".into(),
            body: "b".into(),
            session_id: None,
            url: "/alerts".into(),
            time_unix_nano: 0,
            urgent: false,
        };
        let err = n.prepare(&notice).expect_err("refused");
        assert!(err.contains("authorization"), "{err}");
        assert!(!err.contains("tk_secret"), "{err}");
    }

    #[test]
    fn ntfy_debug_redacts_the_token() {
        let n = Ntfy::new(
            "https://ntfy.sh".into(),
            "t".into(),
            Some("tk_secret".into()),
            None,
            reqwest::Client::new(),
            Retry::default(),
        );
        assert!(!format!("{n:?}").contains("tk_secret"));
    }
}
