//! What changes who may do what: pairing a device by its code, issuing codes, renaming and
//! revoking devices, rotating the control token, and leasing a tunnel's host. Each change is
//! audited; each that ends a credential says so on [`Access::ended`] so open feeds close.

use axum::http::StatusCode;

use super::audit::Event;
use super::devices::{self, Device};
use super::{Access, Caller, Ended, Refusal, lock, pairing, secret};
use crate::store::Store;

/// How long a tunnel's host stays allowed without a renewal (`observatory tunnel` renews every
/// 20 s; a tunnel that died without saying so lapses).
pub const TUNNEL_LEASE_NS: i64 = 60 * 1_000_000_000;

pub(super) struct Tunnel {
    host: String,
    url: String,
    expires: i64,
}

/// A pairing code as the API and the terminal show it.
#[derive(Debug, serde::Serialize)]
pub struct NewCode {
    /// `K7Q2-M9XD-4F`.
    pub code: String,
    /// `<origin>/pair#K7Q2M9XD4F`.
    pub url: String,
    pub expires_unix_nano: i64,
    /// The same, as a duration: a phone's clock may not agree with the laptop's.
    pub expires_in_secs: u64,
    pub qr_svg: String,
}

async fn blocking<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> crate::store::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
}

impl Access {
    /// A new one-time code, its link on `origin` (the tunnel's or `public_url` when there is one:
    /// the phone must reach it), and the link's QR code.
    pub async fn new_code(&self, caller: &Caller, origin: &str) -> NewCode {
        let (code, expires) = self.issue_code();
        let origin = self.public_origin().unwrap_or_else(|| origin.to_owned());
        let url = format!("{origin}/pair#{code}");
        let detail = format!(
            "a pairing code for {origin}, valid {} min",
            self.settings().pairing_code_ttl_secs / 60
        );
        self.audit()
            .record(caller, Event::ok("pairing_code", detail))
            .await;
        NewCode {
            code: pairing::display(&code),
            qr_svg: pairing::qr_svg(&url),
            url,
            expires_unix_nano: expires,
            expires_in_secs: self.settings().pairing_code_ttl_secs,
        }
    }

    /// Where a phone reaches the app: the newest live tunnel, else `public_url`.
    pub fn public_origin(&self) -> Option<String> {
        let now = self.now();
        lock(&self.inner.tunnels)
            .iter()
            .rev()
            .find(|t| t.expires > now)
            .map(|t| t.url.clone())
            .or_else(|| self.settings().public_url())
    }

    /// Redeems a code for a new device: the device and its cookie value.
    pub async fn pair(
        &self,
        caller: &Caller,
        code: &str,
        name: String,
    ) -> Result<(Device, String), Refusal> {
        self.not_blocked(caller)?;
        let now = self.now();
        let redeemed =
            pairing::normalize(code).is_some_and(|c| lock(&self.inner.codes).redeem(&c, now));
        if !redeemed {
            let mut r = self
                .failed(caller, "a pairing code that is unknown, used or expired")
                .await;
            r.message = "that pairing code is unknown, used or expired: get a new one with `observatory pair` or in a paired dashboard's Settings".into();
            return Err(r);
        }
        let (device, cookie) = Device::pair(name, caller.client.clone(), now);
        let saved = device.clone();
        let prefs = crate::alerts::Device::new(&device.id, &device.name, now);
        blocking(&self.inner.store, move |st| {
            st.put(&saved)?;
            st.put(&prefs)
        })
        .await
        .map_err(|e| {
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("storing the device: {e}"),
            )
        })?;
        self.inner
            .devices
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(device.id.clone(), device.clone());
        let who = Caller {
            credential: super::Credential::Device {
                id: device.id.clone(),
                name: device.name.clone(),
            },
            ..caller.clone()
        };
        let detail = format!("{} paired from {}", device.name, caller.client);
        self.audit()
            .record(&who, Event::ok("pair", detail).on(&device.id))
            .await;
        Ok((device, cookie))
    }

    /// Every paired device, oldest first.
    pub fn devices(&self) -> Vec<Device> {
        let mut all: Vec<Device> = self
            .inner
            .devices
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by_key(|d| d.created_unix_nano);
        all
    }

    pub fn device(&self, id: &str) -> Option<Device> {
        self.inner
            .devices
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Renames a device (and its alert record, whose deliveries show the name).
    pub async fn rename(
        &self,
        caller: &Caller,
        id: &str,
        name: String,
    ) -> anyhow::Result<Option<Device>> {
        let Some(mut device) = self.device(id) else {
            return Ok(None);
        };
        let old = std::mem::replace(&mut device.name, name.clone());
        let saved = device.clone();
        blocking(&self.inner.store, move |st| {
            st.put(&saved)?;
            if let Some(mut prefs) = st.get::<crate::alerts::Device>(&saved.id)? {
                prefs.name = saved.name.clone();
                st.put(&prefs)?;
            }
            Ok(())
        })
        .await?;
        self.inner
            .devices
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(device.id.clone(), device.clone());
        let detail = format!("{old:?} renamed {name:?}");
        self.audit()
            .record(caller, Event::ok("rename", detail).on(id))
            .await;
        Ok(Some(device))
    }

    /// Revokes a device: its credential stops working, its feeds close, its push subscription
    /// and alert choices go. Whether it existed.
    pub async fn revoke(&self, caller: &Caller, id: &str) -> anyhow::Result<bool> {
        let Some(device) = self.device(id) else {
            return Ok(false);
        };
        self.inner
            .devices
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let key = id.to_owned();
        blocking(&self.inner.store, move |st| {
            st.remove::<Device>(&key)?;
            st.remove::<crate::alerts::Device>(&key)
        })
        .await?;
        let _ = self.inner.ended.send(Ended::Device(id.to_owned()));
        let detail = format!("{} revoked by {}", device.name, caller.describe());
        self.audit()
            .record(caller, Event::ok("revoke", detail).on(id))
            .await;
        Ok(true)
    }

    /// Replaces the control token: the old one stops working at once. Returns the new one.
    pub async fn rotate_token(&self, caller: &Caller) -> anyhow::Result<String> {
        let dir = self.inner.data_dir.clone();
        let token = tokio::task::spawn_blocking(move || secret::write_new_token(&dir)).await??;
        *self.inner.token.write().unwrap_or_else(|p| p.into_inner()) = secret::hash(&token);
        let _ = self.inner.ended.send(Ended::Token);
        let detail = format!("control token replaced by {}", caller.describe());
        self.audit()
            .record(caller, Event::ok("token_rotated", detail))
            .await;
        Ok(token)
    }

    /// Allows a tunnel's host for [`TUNNEL_LEASE_NS`] more (audited when it starts).
    pub async fn lease_tunnel(&self, caller: &Caller, url: &str) -> Result<String, Refusal> {
        let host = crate::alerts::origin(url)
            .and_then(crate::hosts::origin_authority)
            .filter(|_| url.starts_with("https://"))
            .ok_or_else(|| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!("url {url:?} must be the tunnel's https:// address"),
                )
            })?
            .to_ascii_lowercase();
        let expires = self.now() + TUNNEL_LEASE_NS;
        let url = url.trim_end_matches('/').to_owned();
        let new = {
            let mut tunnels = lock(&self.inner.tunnels);
            let found = tunnels.iter_mut().find(|t| t.host == host);
            match found {
                Some(t) => {
                    t.expires = expires;
                    false
                }
                None => {
                    tunnels.push(Tunnel {
                        host: host.clone(),
                        url: url.clone(),
                        expires,
                    });
                    true
                }
            }
        };
        if new {
            let detail = format!("tunnel {url} allowed");
            self.audit()
                .record(caller, Event::ok("tunnel", detail).on(&host))
                .await;
        }
        Ok(host)
    }

    /// Stops allowing a tunnel's host; whether it was allowed.
    pub async fn end_tunnel(&self, caller: &Caller, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let removed = {
            let mut tunnels = lock(&self.inner.tunnels);
            let before = tunnels.len();
            tunnels.retain(|t| t.host != host);
            tunnels.len() != before
        };
        if removed {
            self.audit()
                .record(
                    caller,
                    Event::ok("tunnel", format!("tunnel {host} stopped")).on(&host),
                )
                .await;
        }
        removed
    }

    pub(super) fn tunnel_allows(&self, authority: &str) -> bool {
        let now = self.now();
        let authority = authority.to_ascii_lowercase();
        lock(&self.inner.tunnels).iter().any(|t| {
            t.expires > now
                && (t.host == authority || authority.strip_suffix(":443") == Some(&t.host))
        })
    }

    /// The start-up link for the local browser: a code on the loopback origin.
    pub fn startup_link(&self, app: std::net::SocketAddr) -> String {
        let (code, _) = self.issue_code();
        format!("http://{app}/pair#{code}")
    }

    /// A new one-time code and when it expires.
    fn issue_code(&self) -> (String, i64) {
        let now = self.now();
        let expires = now + self.settings().pairing_code_ttl_secs as i64 * 1_000_000_000;
        (lock(&self.inner.codes).issue(now, expires), expires)
    }
}

/// A device's name as the person typed it, or the browser's.
pub fn device_name(typed: Option<String>, user_agent: &str) -> Result<String, String> {
    const MAX: usize = 80;
    match typed.map(|n| n.trim().to_owned()) {
        None => Ok(devices::name_from_user_agent(user_agent)),
        Some(n) if n.is_empty() || n.chars().count() > MAX => {
            Err(format!("name must be 1 to {MAX} characters"))
        }
        Some(n) => Ok(n),
    }
}
