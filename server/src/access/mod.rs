//! Access: who may read and change what on the app port (DESIGN.md "Security model"). It owns
//! the names the app port answers to (loopback, `public_url`, `allowed_hosts`, and the hosts of
//! running tunnels, leased by `observatory tunnel`), the two credentials — the control token
//! (`Authorization: Bearer`, for scripts) and paired devices (an `HttpOnly; SameSite=Strict`
//! cookie, for browsers) —, one-time pairing codes, the failed-credential limiter and the
//! audit log. A request is local when its peer is loopback, it names a loopback host and
//! carries no proxy header; anything else is remote. Local reads are open unless `local_reads
//! = "paired"`; remote requests need a credential for everything but pairing; state-changing
//! calls need one from anywhere. The web layer asks [`Access::identify`] who a request is and
//! [`Access::authorize`] whether it may; this module knows nothing of HTTP routes.

pub mod audit;
pub mod devices;
pub mod limit;
mod manage;
pub mod pairing;
pub mod secret;
mod settings;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use anyhow::Result;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, StatusCode, Uri};
use tokio::sync::broadcast;

pub use audit::{Audit, Entry, Event};
pub use devices::Device;
pub use manage::{NewCode, TUNNEL_LEASE_NS, device_name};
pub use settings::{LocalReads, RemoteAnswers, Settings};

use crate::clock::Clock;
use crate::hosts::{self, HostList};
use crate::live::Hub;
use crate::store::Store;

/// Why a remote credential may not control agents, and how to allow it.
pub const REMOTE_CONTROL_OFF: &str = "control from another device is off: set [access] allow_remote_control = true in the observatory's config on the laptop (and restart it) to allow it";

/// The device credential's cookie.
pub const COOKIE_NAME: &str = "observatory_device";
/// A device's last-seen time is written at most this often.
const SEEN_EVERY_NS: i64 = 60 * 1_000_000_000;
/// A remote request without a credential is audited at most this often per client.
const QUIET_REFUSALS_NS: i64 = 60 * 1_000_000_000;

/// What a request proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    None,
    Token,
    Device { id: String, name: String },
}

/// Who is asking: the client's address, whether the request is local, and its credential.
#[derive(Clone, Debug)]
pub struct Caller {
    pub client: String,
    pub local: bool,
    pub credential: Credential,
    /// It sent a device cookie that proves nothing (revoked), on a call that needs no
    /// credential: answered as anonymous, and the cookie is cleared.
    pub stale_cookie: bool,
}

impl Caller {
    /// The server itself (at start, in the audit log).
    pub fn system() -> Caller {
        Caller {
            client: "this machine".into(),
            local: true,
            credential: Credential::None,
            stale_cookie: false,
        }
    }

    pub fn has_credential(&self) -> bool {
        self.credential != Credential::None
    }

    pub fn device_id(&self) -> Option<&str> {
        match &self.credential {
            Credential::Device { id, .. } => Some(id),
            _ => None,
        }
    }

    /// "the control token", "Pixel 8", "an unpaired remote client".
    pub fn describe(&self) -> String {
        match &self.credential {
            Credential::Token => "the control token".into(),
            Credential::Device { name, .. } => name.clone(),
            Credential::None if self.local => "a local client".into(),
            Credential::None => "an unpaired remote client".into(),
        }
    }

    fn actor(&self) -> (audit::Actor, Option<String>, Option<String>) {
        match &self.credential {
            Credential::Token => (audit::Actor::Token, None, None),
            Credential::Device { id, name } => {
                (audit::Actor::Device, Some(id.clone()), Some(name.clone()))
            }
            Credential::None if self.client == Caller::system().client => {
                (audit::Actor::System, None, None)
            }
            Credential::None => (audit::Actor::Anonymous, None, None),
        }
    }
}

/// A request refused: its status, the message, when to try again, and whether the browser's
/// device cookie should be cleared (it names a device that is gone).
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
    pub retry_after_secs: Option<u64>,
    pub clear_cookie: bool,
    /// The caller may fix it by pairing (401).
    pub pairing_required: bool,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
            retry_after_secs: None,
            clear_cookie: false,
            pairing_required: status == StatusCode::UNAUTHORIZED,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::FORBIDDEN, message)
    }
}

/// What a request wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing: the pairing calls and "who am I".
    Nothing,
    Read,
    Write,
    /// Changes who may do what (tunnels, the token): a credential, from this machine.
    LocalWrite,
    /// Acts on agents' processes: a credential, from this machine unless
    /// `allow_remote_control`.
    Control,
    /// Answers a permission prompt: a credential; from another device as `remote_answers` says
    /// (deny is allowed unless it is `off`).
    Answer {
        allow: bool,
    },
}

/// A credential that stopped working: open feeds using it are closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    Device(String),
    Token,
}

#[derive(Clone)]
pub struct Access {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    data_dir: PathBuf,
    store: Store,
    clock: Clock,
    audit: Audit,
    /// Loopback names with the app port, `allowed_hosts`, `public_url`'s host.
    hosts: HostList,
    /// Tunnels' hosts, with their public URL and when their lease ends.
    tunnels: Mutex<Vec<manage::Tunnel>>,
    token: RwLock<secret::Hash>,
    devices: RwLock<HashMap<String, Device>>,
    codes: Mutex<pairing::Codes>,
    limiter: Mutex<limit::Limiter>,
    quiet_refusals: Mutex<HashMap<String, i64>>,
    ended: broadcast::Sender<Ended>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Access {
    /// Loads (or makes) the control token and the paired devices. Push subscriptions stored by
    /// versions before pairing belonged to no credential: they are dropped, saying so.
    pub fn open(
        settings: Settings,
        app: SocketAddr,
        data_dir: &Path,
        store: Store,
        hub: Hub,
    ) -> Result<Access> {
        let token = secret::load_or_create_token(data_dir)?;
        let dropped = store.drop_legacy_table("devices")?;
        if dropped > 0 {
            let why = format!(
                "{dropped} push subscription(s) made before devices were paired were removed: pair each browser and turn its notifications on again"
            );
            tracing::warn!("{why}");
            audit::record_offline(&store, "push_off", &why)?;
        }
        let devices = store
            .all::<Device>()?
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect();
        let mut hosts = HostList::for_port(app.ip(), app.port(), &settings.allowed_hosts);
        if let Some(host) = settings.public_host() {
            hosts.add(host);
        }
        let clock = hub.clock().clone();
        Ok(Access {
            inner: Arc::new(Inner {
                audit: Audit::open(store.clone(), hub)?,
                settings,
                data_dir: data_dir.to_owned(),
                store,
                clock,
                hosts,
                tunnels: Mutex::default(),
                token: RwLock::new(secret::hash(&token)),
                devices: RwLock::new(devices),
                codes: Mutex::default(),
                limiter: Mutex::default(),
                quiet_refusals: Mutex::default(),
                ended: broadcast::channel(16).0,
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn audit(&self) -> &Audit {
        &self.inner.audit
    }

    /// Credentials that stop working from now on.
    pub fn ended(&self) -> broadcast::Receiver<Ended> {
        self.inner.ended.subscribe()
    }

    fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// Whether the app port answers to `authority` (a `Host`, or an `Origin`'s host).
    fn answers_to(&self, authority: &str) -> bool {
        self.inner.hosts.allows(authority) || self.tunnel_allows(authority)
    }

    /// Why the app port does not answer this request's `Host`, if it does not.
    pub fn refuse_host(&self, headers: &HeaderMap, uri: &Uri) -> Option<String> {
        match hosts::authority(headers, uri) {
            Some(a) if self.answers_to(a) => None,
            _ => hosts::refuse_host(headers, uri, &self.inner.hosts),
        }
    }

    /// Why this request is not from one of the app's own pages, if it is not: an `Origin` that
    /// is not one of the app's names, or no `Origin` but `Sec-Fetch-Site: cross-site`.
    pub fn refuse_origin(&self, headers: &HeaderMap) -> Option<String> {
        let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
            return hosts::refuse_origin(headers, &HostList::default());
        };
        let own = origin
            .to_str()
            .ok()
            .and_then(hosts::origin_authority)
            .is_some_and(|a| self.answers_to(a));
        if own {
            None
        } else {
            hosts::refuse_origin(headers, &HostList::default())
        }
    }

    /// Who sent this request. A wrong credential is refused (401, counted against the client,
    /// audited); a client with too many failures is refused whatever it presents (429). For a
    /// call that needs no credential (`lenient`: "who am I", pairing), a revoked device's
    /// cookie is not an attempt: the caller is anonymous and the cookie is to be cleared, so a
    /// revoked browser can pair again without running into the limiter.
    pub async fn identify(
        &self,
        peer: SocketAddr,
        headers: &HeaderMap,
        lenient: bool,
    ) -> Result<Caller, Refusal> {
        let authority = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut caller = Caller {
            client: hosts::client_key(headers, peer.ip()),
            local: is_local(peer.ip(), headers, authority),
            credential: Credential::None,
            stale_cookie: false,
        };
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim());
        let cookie = device_cookie(headers);
        if bearer.is_none() && cookie.is_none() {
            return Ok(caller);
        }
        let value = cookie.unwrap_or_default();
        if bearer.is_none() && lenient && self.device_for(value).is_none() {
            caller.stale_cookie = true;
            return Ok(caller);
        }
        self.not_blocked(&caller)?;
        if let Some(token) = bearer {
            let kept = *self.inner.token.read().unwrap_or_else(|p| p.into_inner());
            if !secret::matches(token, &kept) {
                return Err(self.failed(&caller, "a wrong control token").await);
            }
            caller.credential = Credential::Token;
            return Ok(caller);
        }
        match self.device_for(value) {
            Some(d) => {
                caller.credential = Credential::Device {
                    id: d.id,
                    name: d.name,
                };
                Ok(caller)
            }
            None => {
                let mut r = self
                    .failed(&caller, "an unknown or revoked device credential")
                    .await;
                r.clear_cookie = true;
                Err(r)
            }
        }
    }

    /// The device a cookie value proves, noting that it was seen.
    fn device_for(&self, value: &str) -> Option<Device> {
        let (id, token) = devices::split_credential(value)?;
        let now = self.now();
        let mut devices = self
            .inner
            .devices
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let d = devices.get_mut(id).filter(|d| d.proves(token))?;
        if now - d.last_seen_unix_nano > SEEN_EVERY_NS {
            d.last_seen_unix_nano = now;
            let (store, saved) = (self.inner.store.clone(), d.clone());
            tokio::task::spawn_blocking(move || {
                // A revoke between the check and this write must not bring the device back.
                if store.get::<Device>(&saved.id).ok().flatten().is_some() {
                    let _ = store.put(&saved);
                }
            });
        }
        Some(d.clone())
    }

    fn not_blocked(&self, caller: &Caller) -> Result<(), Refusal> {
        let now = self.now();
        match lock(&self.inner.limiter).blocked_until(&caller.client, now) {
            None => Ok(()),
            Some(until) => {
                let secs = ((until - now) / 1_000_000_000).max(1) as u64;
                let mut r = Refusal::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "too many failed credentials from {}: try again in {secs} s",
                        caller.client
                    ),
                );
                r.retry_after_secs = Some(secs);
                Err(r)
            }
        }
    }

    /// Counts a failed credential or pairing code, audits it, and says so.
    async fn failed(&self, caller: &Caller, what: &str) -> Refusal {
        let now = self.now();
        let blocked = lock(&self.inner.limiter).fail(&caller.client, now);
        let detail = format!("{what} from {}", caller.client);
        self.audit()
            .record(caller, Event::refused("refused", &detail))
            .await;
        if let limit::Failed::Blocked(_) = blocked {
            tracing::warn!(client = %caller.client, "too many failed credentials: refusing this client for a while");
            let note = format!(
                "{} failed credentials from {} within {} s: refused for {} s",
                limit::MAX_FAILURES,
                caller.client,
                limit::WINDOW_NS / 1_000_000_000,
                limit::BLOCK_NS / 1_000_000_000
            );
            self.audit()
                .record(caller, Event::refused("rate_limited", note))
                .await;
        }
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            format!("{what}: pair this device again, or check the token (`observatory token`)"),
        )
    }

    /// Why a remote device may not give this answer.
    fn remote_answers_off(&self) -> &'static str {
        match self.settings().remote_answers {
            RemoteAnswers::DenyOnly => {
                "from another device only Deny is allowed: set [access] remote_answers = \"allow-and-deny\" on the laptop to allow from here too"
            }
            _ => {
                "answers from another device are off: set [access] remote_answers = \"allow-and-deny\" (or \"deny-only\") on the laptop"
            }
        }
    }

    /// Whether `caller` may do what it needs to.
    pub fn allows(&self, caller: &Caller, need: Need) -> bool {
        let open_read = caller.local && self.settings().local_reads == LocalReads::Open;
        match need {
            Need::Nothing => true,
            Need::Read => caller.has_credential() || open_read,
            Need::Write => caller.has_credential(),
            Need::LocalWrite => caller.has_credential() && caller.local,
            Need::Control => {
                caller.has_credential() && (caller.local || self.settings().allow_remote_control)
            }
            Need::Answer { allow } => {
                caller.has_credential()
                    && (caller.local || self.settings().remote_answers.permits(allow))
            }
        }
    }

    /// Why `caller` may not do what it needs to, without auditing (for showing it).
    pub fn authorize_quietly(&self, caller: &Caller, need: Need) -> Result<(), String> {
        if self.allows(caller, need) {
            return Ok(());
        }
        Err(match need {
            Need::Control if caller.has_credential() => REMOTE_CONTROL_OFF.into(),
            Need::Answer { .. } if caller.has_credential() => self.remote_answers_off().into(),
            Need::LocalWrite if caller.has_credential() => "only from this machine".into(),
            _ => "this browser is not paired".into(),
        })
    }

    /// [`Access::allows`], or why not (remote refusals audited).
    pub async fn authorize(&self, caller: &Caller, need: Need) -> Result<(), Refusal> {
        match need {
            _ if self.allows(caller, need) => Ok(()),
            Need::LocalWrite if caller.has_credential() => Err(Refusal::forbidden(
                "only from this machine: run it on the laptop the observatory runs on",
            )),
            Need::Control if caller.has_credential() => {
                let why = REMOTE_CONTROL_OFF;
                self.audit()
                    .record(caller, Event::refused("control", why))
                    .await;
                Err(Refusal::forbidden(why))
            }
            Need::Answer { .. } if caller.has_credential() => {
                let why = self.remote_answers_off();
                self.audit()
                    .record(caller, Event::refused("answer", why))
                    .await;
                Err(Refusal::forbidden(why))
            }
            _ => {
                if !caller.local {
                    self.audit_quietly(caller).await;
                }
                let message = if caller.local {
                    "this call needs a credential: the control token (`observatory token`) or a paired browser (`observatory pair`)"
                } else {
                    "pair this device first: scan the pairing code from your laptop (`observatory pair`)"
                };
                Err(Refusal::new(StatusCode::UNAUTHORIZED, message))
            }
        }
    }

    /// Audits a remote request without a credential, once a minute per client at most (an
    /// unpaired phone polling must not fill the log).
    async fn audit_quietly(&self, caller: &Caller) {
        let now = self.now();
        let due = {
            let mut seen = lock(&self.inner.quiet_refusals);
            if seen.len() > 4096 {
                seen.clear();
            }
            let last = seen.insert(caller.client.clone(), now);
            last.is_none_or(|t| now - t >= QUIET_REFUSALS_NS)
        };
        if due {
            let detail = format!(
                "a remote request without a credential from {}",
                caller.client
            );
            self.audit()
                .record(caller, Event::refused("refused", detail))
                .await;
        }
    }
}

/// A request is local when its peer is loopback, it was sent to a loopback name, and it
/// carries no proxy header (a tunnel delivers from loopback: loopback is not identity).
fn is_local(peer: IpAddr, headers: &HeaderMap, authority: &str) -> bool {
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(authority, |(h, _)| h)
        .to_ascii_lowercase();
    let loopback_name = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    peer.is_loopback() && loopback_name && hosts::proxy_header(headers).is_none()
}

/// The device credential in the `Cookie` header.
fn device_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that gives a browser its device credential (`Secure` when the
/// request came over HTTPS), or that clears it (`value` `None`).
pub fn set_cookie(value: Option<&str>, https: bool) -> String {
    let (v, age) = match value {
        Some(v) => (v, 400 * 86_400),
        None => ("", 0),
    };
    let secure = if https { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={v}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::test_headers as headers;

    #[test]
    fn loopback_is_local_only_without_proxies_and_under_a_loopback_name() {
        let lo: IpAddr = "127.0.0.1".parse().expect("ip");
        let lan: IpAddr = "192.168.1.9".parse().expect("ip");
        assert!(is_local(lo, &HeaderMap::new(), "127.0.0.1:4319"));
        assert!(is_local(lo, &HeaderMap::new(), "localhost:4319"));
        assert!(is_local(lo, &HeaderMap::new(), "[::1]:4319"));
        assert!(!is_local(lan, &HeaderMap::new(), "127.0.0.1:4319"));
        assert!(!is_local(
            lo,
            &headers(&[("x-forwarded-for", "1.2.3.4")]),
            "127.0.0.1:4319"
        ));
        assert!(!is_local(
            lo,
            &headers(&[("cf-connecting-ip", "1.2.3.4")]),
            "localhost:4319"
        ));
        assert!(!is_local(lo, &HeaderMap::new(), "obs.example.com"));
    }

    #[test]
    fn the_device_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; observatory_device=dev_x.y ; b=2")]);
        assert_eq!(device_cookie(&h), Some("dev_x.y"));
        assert_eq!(device_cookie(&headers(&[("cookie", "a=1")])), None);
        let set = set_cookie(Some("v"), true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set_cookie(Some("v"), false).contains("Secure"));
        assert!(set_cookie(None, false).contains("Max-Age=0"));
    }
}
