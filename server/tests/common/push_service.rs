//! A stand-in push service on 127.0.0.1 that checks each request the way a real one does —
//! VAPID JWT signature and claims (RFC 8292), the RFC 8030 headers — and then decrypts the body
//! as the browser would (RFC 8291 / RFC 8188), with the subscriber's private key. Written from
//! the RFCs with RustCrypto primitives, independently of the web-push and ece crates the server
//! sends with, so a bug there is caught here rather than mirrored. Its answers can be scripted
//! per subscriber. [`Catcher`] is the plain far end for the webhook and ntfy channels.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

/// The largest body a push service must accept (RFC 8030 section 7.2); real ones refuse more.
const MAX_BODY: usize = 4096;

/// One request the service got, accepted or not.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// What the service answered.
    pub status: u16,
    /// Why the request was refused (a check failed), or None when it passed every check.
    pub rejected: Option<String>,
    pub ttl: Option<u64>,
    pub urgency: Option<String>,
    pub topic: Option<String>,
    /// The VAPID JWT's claims (Null when the token could not be read).
    pub claims: Value,
    /// The `k` of the Authorization header: the sender's public key, base64url.
    pub vapid_key: String,
    /// The decrypted message, when it is JSON.
    pub payload: Option<Value>,
    pub plaintext: Vec<u8>,
    pub at: Instant,
}

/// A scripted answer.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    /// Sent as `Retry-After` (seconds or a date), e.g. on a 429.
    pub retry_after: Option<String>,
}

impl From<u16> for Scripted {
    fn from(status: u16) -> Scripted {
        Scripted {
            status,
            retry_after: None,
        }
    }
}

/// A scripted answer with a `Retry-After: <secs>`.
pub fn with_retry_after(status: u16, secs: u64) -> Scripted {
    Scripted {
        status,
        retry_after: Some(secs.to_string()),
    }
}

struct Keys {
    secret: SecretKey,
    auth: [u8; 16],
}

#[derive(Default)]
struct Book {
    subscribers: HashMap<String, Keys>,
    scripts: HashMap<String, VecDeque<Scripted>>,
    received: Vec<Received>,
    /// The application server key every request must be signed with, once known.
    expected_key: Option<String>,
    delivered: u64,
}

struct Shared {
    /// std Mutex: never held across an await.
    book: Mutex<Book>,
    origin: String,
    feed: mpsc::UnboundedSender<Received>,
}

pub struct PushService {
    addr: SocketAddr,
    shared: Arc<Shared>,
    feed: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl PushService {
    pub async fn start() -> PushService {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake push service");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            book: Mutex::new(Book::default()),
            origin: format!("http://{addr}"),
            feed: tx,
        });
        let app = Router::new()
            .route("/push/{id}", post(push))
            .fallback(elsewhere)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PushService {
            addr,
            shared,
            feed: tokio::sync::Mutex::new(rx),
            task,
        }
    }

    /// `http://127.0.0.1:<port>`: what a VAPID `aud` must be.
    pub fn origin(&self) -> String {
        self.shared.origin.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on, a request signed with any other key is refused with 403, as a real service
    /// does for a subscription made with a different `applicationServerKey`.
    pub fn expect_key(&self, public_key: &str) {
        self.book().expected_key = Some(public_key.to_owned());
    }

    /// The answers for `subscriber`'s next accepted requests, in order; 201 once they run out.
    pub fn script<S: Into<Scripted>>(
        &self,
        subscriber: &Subscriber,
        answers: impl IntoIterator<Item = S>,
    ) {
        self.book()
            .scripts
            .entry(subscriber.id.clone())
            .or_default()
            .extend(answers.into_iter().map(Into::into));
    }

    /// The next request not yet returned by `next`, waiting up to `timeout` for one.
    pub async fn next(&self, timeout: Duration) -> Option<Received> {
        let mut feed = self.feed.lock().await;
        tokio::time::timeout(timeout, feed.recv())
            .await
            .ok()
            .flatten()
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.book().received.clone()
    }

    /// The requests that failed a check.
    pub fn rejected(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.rejected.is_some())
            .collect()
    }

    pub fn stop(&self) {
        self.task.abort();
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.shared.book.lock().expect("push service book")
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A browser's side of a subscription: its own P-256 key pair and auth secret.
pub struct Subscriber {
    pub id: String,
    endpoint: String,
    secret: SecretKey,
    auth: [u8; 16],
}

impl Subscriber {
    pub fn new(svc: &PushService) -> Subscriber {
        let secret = SecretKey::random(&mut rand::rngs::OsRng);
        let mut auth = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut auth);
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let id = hex::encode(id);
        svc.book().subscribers.insert(
            id.clone(),
            Keys {
                secret: secret.clone(),
                auth,
            },
        );
        Subscriber {
            endpoint: format!("{}/push/{id}", svc.origin()),
            id,
            secret,
            auth,
        }
    }

    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    pub fn p256dh(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.secret.public_key().to_encoded_point(false).as_bytes())
    }

    pub fn auth(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.auth)
    }

    /// What the browser's `PushSubscription.toJSON()` gives.
    pub fn subscription_json(&self) -> Value {
        json!({"endpoint": self.endpoint, "expirationTime": null,
               "keys": {"p256dh": self.p256dh(), "auth": self.auth()}})
    }

    pub fn subscription(&self) -> observatory::alerts::deliver::Subscription {
        observatory::alerts::deliver::Subscription {
            endpoint: self.endpoint(),
            p256dh: self.p256dh(),
            auth: self.auth(),
        }
    }
}

/// A refused request: the status a real push service gives, and why.
struct Refusal(StatusCode, String);

fn refuse<T>(status: u16, why: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        why.into(),
    ))
}

async fn push(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let mut seen = Received {
        path: format!("/push/{id}"),
        status: 0,
        rejected: None,
        ttl: None,
        urgency: None,
        topic: None,
        claims: Value::Null,
        vapid_key: String::new(),
        payload: None,
        plaintext: Vec::new(),
        at,
    };
    let checked = check(&shared, &id, &headers, &body, &mut seen);
    let mut book = shared.book.lock().expect("push service book");
    let response = match checked {
        Ok(()) => {
            let answer = book
                .scripts
                .get_mut(&id)
                .and_then(VecDeque::pop_front)
                .unwrap_or_else(|| 201.into());
            seen.status = answer.status;
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::CREATED);
            let mut response = if status.is_success() {
                book.delivered += 1;
                let location = format!("{}/message/{}", shared.origin, book.delivered);
                (status, [("location", location)]).into_response()
            } else {
                error_body(status, "scripted answer")
            };
            if let Some(after) = answer.retry_after
                && let Ok(v) = after.parse()
            {
                response.headers_mut().insert("retry-after", v);
            }
            response
        }
        Err(Refusal(status, why)) => {
            seen.status = status.as_u16();
            let response = error_body(status, &why);
            seen.rejected = Some(why);
            response
        }
    };
    book.received.push(seen.clone());
    drop(book);
    let _ = shared.feed.send(seen);
    response
}

/// The error body autopush sends, which web-push libraries parse.
fn error_body(status: StatusCode, message: &str) -> Response {
    let body = json!({"code": status.as_u16(), "errno": 999,
                      "error": status.canonical_reason().unwrap_or(""), "message": message});
    (status, axum::Json(body)).into_response()
}

async fn elsewhere(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let seen = Received {
        path: uri.path().to_owned(),
        status: 404,
        rejected: Some("no such path".into()),
        ttl: None,
        urgency: None,
        topic: None,
        claims: Value::Null,
        vapid_key: String::new(),
        payload: None,
        plaintext: Vec::new(),
        at: Instant::now(),
    };
    shared
        .book
        .lock()
        .expect("push service book")
        .received
        .push(seen.clone());
    let _ = shared.feed.send(seen);
    error_body(StatusCode::NOT_FOUND, "no such path")
}

/// Every check a push service and then the browser make, filling in `seen` as it goes.
fn check(
    shared: &Shared,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    seen: &mut Received,
) -> Result<(), Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    seen.urgency = header("urgency").map(str::to_owned);
    seen.topic = header("topic").map(str::to_owned);
    seen.ttl = header("ttl").and_then(|t| t.trim().parse().ok());

    let (keys, expected_key) = {
        let book = shared.book.lock().expect("push service book");
        let Some(keys) = book.subscribers.get(id) else {
            return refuse(404, "no such subscription");
        };
        (
            Keys {
                secret: keys.secret.clone(),
                auth: keys.auth,
            },
            book.expected_key.clone(),
        )
    };

    let (claims, k) = check_vapid(header("authorization"), &shared.origin)?;
    seen.claims = claims;
    seen.vapid_key = k.clone();
    if let Some(expected) = expected_key
        && expected != k
    {
        return refuse(
            403,
            "signed with a key other than the subscription's applicationServerKey",
        );
    }

    if seen.ttl.is_none() {
        return refuse(400, "TTL header missing or not a number");
    }
    if let Some(u) = &seen.urgency
        && !["very-low", "low", "normal", "high"].contains(&u.as_str())
    {
        return refuse(
            400,
            format!("Urgency {u:?} is not very-low|low|normal|high"),
        );
    }
    if let Some(t) = &seen.topic {
        let ok = !t.is_empty()
            && t.len() <= 32
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return refuse(400, format!("Topic {t:?} is not 1-32 base64url characters"));
        }
    }
    if header("content-encoding") != Some("aes128gcm") {
        return refuse(
            400,
            format!(
                "Content-Encoding is {:?}, not aes128gcm",
                header("content-encoding")
            ),
        );
    }
    if body.len() > MAX_BODY {
        return refuse(413, format!("body of {} bytes", body.len()));
    }
    let plaintext = decrypt(body, &keys.secret, &keys.auth)
        .or_else(|why| refuse(400, format!("the browser could not decrypt it: {why}")))?;
    seen.payload = serde_json::from_slice(&plaintext).ok();
    seen.plaintext = plaintext;
    Ok(())
}

/// Reads and verifies `Authorization: vapid t=<JWT>, k=<key>`; returns the claims and k.
fn check_vapid(authorization: Option<&str>, origin: &str) -> Result<(Value, String), Refusal> {
    let Some(authorization) = authorization else {
        return refuse(401, "no Authorization header");
    };
    let Some((scheme, params)) = authorization.split_once(' ') else {
        return refuse(401, "Authorization is not 'vapid t=..., k=...'");
    };
    if !scheme.eq_ignore_ascii_case("vapid") {
        return refuse(401, format!("Authorization scheme {scheme:?} is not vapid"));
    }
    let (mut t, mut k) = (None, None);
    for param in params.split(',') {
        match param.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.trim()),
            Some(("k", v)) => k = Some(v.trim()),
            _ => {}
        }
    }
    let (Some(t), Some(k)) = (t, k) else {
        return refuse(401, "Authorization lacks t= or k=");
    };
    let key_bytes = URL_SAFE_NO_PAD
        .decode(k)
        .or_else(|_| refuse(401, "k is not base64url"))?;
    if key_bytes.len() != 65 || key_bytes[0] != 4 {
        return refuse(401, "k is not an uncompressed P-256 point");
    }
    let key = VerifyingKey::from_sec1_bytes(&key_bytes)
        .or_else(|_| refuse(401, "k is not a point on P-256"))?;

    let parts: Vec<&str> = t.split('.').collect();
    let [head, body, sig] = parts[..] else {
        return refuse(401, "the JWT does not have three parts");
    };
    let decode_json = |part: &str, what: &str| -> Result<Value, Refusal> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .or_else(|_| refuse(401, format!("the JWT {what} is not base64url")))?;
        serde_json::from_slice(&bytes)
            .or_else(|_| refuse(401, format!("the JWT {what} is not JSON")))
    };
    let header = decode_json(head, "header")?;
    if header["alg"] != "ES256" {
        return refuse(401, format!("JWT alg is {}, not ES256", header["alg"]));
    }
    if header["typ"] != "JWT" {
        return refuse(401, format!("JWT typ is {}, not JWT", header["typ"]));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| refuse(401, "the JWT signature is not base64url"))?;
    let sig = Signature::from_slice(&sig)
        .or_else(|_| refuse(401, "the JWT signature is not a 64-byte ES256 signature"))?;
    key.verify(format!("{head}.{body}").as_bytes(), &sig)
        .or_else(|_| refuse(401, "the JWT signature does not verify with k"))?;

    let claims = decode_json(body, "claims")?;
    if claims["aud"] != origin {
        return refuse(
            401,
            format!(
                "JWT aud is {}, not the endpoint's origin {origin}",
                claims["aud"]
            ),
        );
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    match claims["exp"].as_u64() {
        Some(exp) if exp > now && exp <= now + 24 * 3600 => {}
        _ => {
            return refuse(
                401,
                format!("JWT exp {} is not within the next 24 hours", claims["exp"]),
            );
        }
    }
    let sub = claims["sub"].as_str().unwrap_or("");
    if !(sub.starts_with("mailto:") || sub.starts_with("https:")) {
        return refuse(401, format!("JWT sub {sub:?} is not mailto: or https:"));
    }
    Ok((claims, k.to_owned()))
}

/// Decrypts an aes128gcm push message body (RFC 8291 section 3.4, RFC 8188) as the browser
/// with `ua_private` and `auth` would: one record, padding delimiter 0x02.
pub fn decrypt(body: &[u8], ua_private: &SecretKey, auth: &[u8]) -> Result<Vec<u8>, String> {
    if body.len() < 21 {
        return Err(format!(
            "{} bytes is shorter than the aes128gcm header",
            body.len()
        ));
    }
    let salt = &body[..16];
    let rs = u32::from_be_bytes([body[16], body[17], body[18], body[19]]) as usize;
    let idlen = usize::from(body[20]);
    if idlen != 65 {
        return Err(format!(
            "keyid is {idlen} bytes, not the sender's 65-byte public key"
        ));
    }
    let Some(as_public) = body.get(21..21 + idlen) else {
        return Err("the body ends inside the keyid".into());
    };
    let ciphertext = &body[21 + idlen..];
    if rs < 18 {
        return Err(format!("record size {rs} is below the minimum 18"));
    }
    if ciphertext.len() > rs {
        return Err(format!(
            "{} bytes of ciphertext is more than one {rs}-byte record; push allows one",
            ciphertext.len()
        ));
    }
    if ciphertext.len() < 17 {
        return Err("the record is shorter than its tag and delimiter".into());
    }
    let sender = PublicKey::from_sec1_bytes(as_public)
        .map_err(|_| "keyid is not a P-256 point".to_owned())?;
    let shared = p256::ecdh::diffie_hellman(ua_private.to_nonzero_scalar(), sender.as_affine());
    let ua_public = ua_private.public_key().to_encoded_point(false);

    // RFC 8291 section 3.3: IKM = HKDF(auth, ecdh, "WebPush: info\0" || ua_public || as_public, 32)
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public.as_bytes());
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|e| e.to_string())?;
    // RFC 8188 section 2.2 and 2.3: CEK and nonce from the salt.
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|e| e.to_string())?;
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|e| e.to_string())?;
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|e| e.to_string())?;
    let nonce = aes_gcm::aead::Nonce::<Aes128Gcm>::from(nonce);
    let mut record = cipher
        .decrypt(&nonce, ciphertext)
        .map_err(|_| "AES-GCM authentication failed".to_owned())?;
    while record.last() == Some(&0) {
        record.pop();
    }
    match record.pop() {
        Some(2) => Ok(record),
        Some(1) => Err("delimiter 0x01 marks a non-final record; push allows one".into()),
        _ => Err("no 0x02 padding delimiter".into()),
    }
}

/// A secret key from its base64url scalar, for test vectors.
pub fn secret_key(b64: &str) -> SecretKey {
    let bytes = URL_SAFE_NO_PAD.decode(b64).expect("base64url key");
    SecretKey::from_slice(&bytes).expect("P-256 scalar")
}

/// One request the [`Catcher`] got.
#[derive(Clone, Debug)]
pub struct Caught {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Caught {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

struct CatcherShared {
    /// std Mutex: never held across an await.
    book: Mutex<(VecDeque<u16>, Vec<Caught>)>,
    feed: mpsc::UnboundedSender<Caught>,
}

/// Any HTTP endpoint, recording every request and answering 200 unless scripted otherwise: the
/// far end of a webhook or an ntfy server.
pub struct Catcher {
    addr: SocketAddr,
    shared: Arc<CatcherShared>,
    feed: tokio::sync::Mutex<mpsc::UnboundedReceiver<Caught>>,
    task: tokio::task::JoinHandle<()>,
}

impl Catcher {
    pub async fn start() -> Catcher {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the catcher");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(CatcherShared {
            book: Mutex::new((VecDeque::new(), Vec::new())),
            feed: tx,
        });
        let app = Router::new().fallback(catch).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Catcher {
            addr,
            shared,
            feed: tokio::sync::Mutex::new(rx),
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The statuses of the next requests, in order; 200 once they run out.
    pub fn script(&self, statuses: impl IntoIterator<Item = u16>) {
        self.shared
            .book
            .lock()
            .expect("catcher book")
            .0
            .extend(statuses);
    }

    pub async fn next(&self, timeout: Duration) -> Option<Caught> {
        let mut feed = self.feed.lock().await;
        tokio::time::timeout(timeout, feed.recv())
            .await
            .ok()
            .flatten()
    }

    pub fn caught(&self) -> Vec<Caught> {
        self.shared.book.lock().expect("catcher book").1.clone()
    }
}

impl Drop for Catcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn catch(
    State(shared): State<Arc<CatcherShared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caught = Caught {
        method,
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    };
    let status = {
        let mut book = shared.book.lock().expect("catcher book");
        book.1.push(caught.clone());
        book.0.pop_front().unwrap_or(200)
    };
    let _ = shared.feed.send(caught);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, format!("scripted {}", status.as_u16())).into_response()
}
