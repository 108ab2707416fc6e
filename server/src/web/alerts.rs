//! The alerts API: devices subscribing to Web Push (`/api/push/subscriptions`), the test
//! notification, and the alert history (`GET /api/alerts`). Calls that change something take
//! [`BrowserWrite`], the CSRF guard.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{HOST, ORIGIN, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiError, AppState, read};
use crate::alerts::deliver::Subscription;
use crate::alerts::rules::QuietHours;
use crate::alerts::{Alert, Device, Kind};
use crate::clock::now_unix_nano;

/// A state-changing call from a browser page of this very server: it carries the custom header
/// `X-Observatory` (which a cross-site page cannot add without a CORS preflight, never granted),
/// and an `Origin`, when the browser sends one, equal to the server's own.
pub struct BrowserWrite;

impl<S: Send + Sync> FromRequestParts<S> for BrowserWrite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        same_origin(&parts.headers).map(|()| BrowserWrite)
    }
}

fn same_origin(h: &HeaderMap) -> Result<(), ApiError> {
    if h.get("x-observatory").is_none() {
        return Err(ApiError::Forbidden(
            "this call changes something: send the header X-Observatory: 1".into(),
        ));
    }
    let Some(origin) = h.get(ORIGIN) else {
        return Ok(());
    };
    let host = h.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    if host.is_empty() || origin_host != Some(host) {
        return Err(ApiError::Forbidden(format!(
            "Origin {origin:?} is not this server ({host:?})"
        )));
    }
    Ok(())
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeBody {
    subscription: BrowserSubscription,
    name: Option<String>,
    kinds: Option<Vec<Kind>>,
    quiet_hours: Option<QuietHours>,
    previous_endpoint: Option<String>,
}

/// `PushSubscription.toJSON()`.
#[derive(Deserialize)]
pub struct BrowserSubscription {
    endpoint: String,
    keys: Option<Keys>,
}

#[derive(Deserialize)]
pub struct Keys {
    p256dh: Option<String>,
    auth: Option<String>,
}

const MAX_NAME_CHARS: usize = 80;

/// A subscription the server can push to: an absolute https endpoint (http only on loopback,
/// for tests and local push services), a P-256 public key and a 16-byte auth secret.
fn check_subscription(sub: BrowserSubscription) -> Result<Subscription, ApiError> {
    let bad = |m: String| Err(ApiError::BadRequest(m));
    let endpoint = sub.endpoint;
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| endpoint.starts_with(p));
    if !(endpoint.starts_with("https://") || loopback) || crate::alerts::origin(&endpoint).is_none()
    {
        return bad(format!(
            "subscription.endpoint {endpoint:?} must be an absolute https:// URL"
        ));
    }
    let Some(keys) = sub.keys else {
        return bad("subscription.keys is missing (p256dh and auth)".into());
    };
    let decode = |name: &str, v: Option<String>, len: usize| -> Result<String, ApiError> {
        let Some(v) = v else {
            return Err(ApiError::BadRequest(format!(
                "subscription.keys.{name} is missing"
            )));
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(v.trim_end_matches('='))
            .map_err(|e| {
                ApiError::BadRequest(format!("subscription.keys.{name} is not base64url: {e}"))
            })?;
        if bytes.len() != len || (len == 65 && bytes[0] != 4) {
            return Err(ApiError::BadRequest(format!(
                "subscription.keys.{name} must be {len} bytes{}, got {}",
                if len == 65 {
                    " (an uncompressed P-256 point)"
                } else {
                    ""
                },
                bytes.len()
            )));
        }
        Ok(v)
    };
    Ok(Subscription {
        p256dh: decode("p256dh", keys.p256dh, 65)?,
        auth: decode("auth", keys.auth, 16)?,
        endpoint,
    })
}

/// "Android · Chrome", from the browser's User-Agent.
fn device_name(h: &HeaderMap) -> String {
    let ua = h
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let os = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS X", "Mac"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, n)| n);
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, n)| n);
    match (os, browser) {
        (Some(o), Some(b)) => format!("{o} · {b}"),
        (Some(n), None) | (None, Some(n)) => n.to_owned(),
        (None, None) => "Browser".to_owned(),
    }
}

fn clean_name(name: String) -> Result<String, ApiError> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::BadRequest(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name)
}

/// Devices are named by their endpoint: subscribing again updates the same device.
fn device_id(endpoint: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(endpoint.as_bytes());
    format!("d_{}", hex::encode(&digest[..8]))
}

fn push_on(s: &AppState) -> Result<(), ApiError> {
    match s.alerts.off_reason() {
        Some(why) => Err(ApiError::Unavailable(format!("push is off: {why}"))),
        None => Ok(()),
    }
}

pub async fn subscribe(
    State(s): State<AppState>,
    _: BrowserWrite,
    headers: HeaderMap,
    body: Result<Json<SubscribeBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = json_body(body)?;
    push_on(&s)?;
    let subscription = check_subscription(body.subscription)?;
    let name = match body.name {
        Some(n) => clean_name(n)?,
        None => device_name(&headers),
    };
    let id = device_id(&subscription.endpoint);
    let previous = body
        .previous_endpoint
        .map(|e| device_id(&e))
        .filter(|p| *p != id);
    let (created, device) = read(s.alerts.store(), move |st| {
        // A re-subscription (`pushsubscriptionchange`) keeps the old device's choices.
        let old = match &previous {
            Some(p) => st.device::<Device>(p)?,
            None => None,
        };
        let existing = st.device(&id)?;
        let created = existing.is_none();
        let base = existing.or(old);
        let device = Device {
            id: id.clone(),
            name,
            subscription,
            kinds: body
                .kinds
                .or_else(|| base.as_ref().map(|b| b.kinds.clone()))
                .unwrap_or_else(|| Kind::ALL.to_vec()),
            quiet_hours: body
                .quiet_hours
                .or_else(|| base.as_ref().and_then(|b| b.quiet_hours)),
            created_unix_nano: base
                .as_ref()
                .map_or_else(now_unix_nano, |b| b.created_unix_nano),
            last_delivery: base.and_then(|b| b.last_delivery),
        };
        st.put_device(&device)?;
        if let Some(p) = &previous {
            st.remove_device(p)?;
        }
        Ok((created, device))
    })
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(device.public())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesQuery {
    endpoint: Option<String>,
}

pub async fn devices(
    State(s): State<AppState>,
    q: Result<Query<DevicesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let devices = read(s.alerts.store(), |st| st.devices::<Device>()).await?;
    let list: Vec<Value> = devices
        .iter()
        .filter(|d| {
            q.endpoint
                .as_ref()
                .is_none_or(|e| *e == d.subscription.endpoint)
        })
        .map(Device::public)
        .collect();
    Ok(Json(json!({ "devices": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    name: Option<String>,
    kinds: Option<Vec<Kind>>,
    /// `null` clears the quiet hours; absent leaves them.
    #[serde(default, deserialize_with = "present")]
    quiet_hours: Option<Option<QuietHours>>,
}

/// Tells an explicit `null` from an absent field.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

async fn device_or_404(s: &AppState, id: String) -> Result<Device, ApiError> {
    let wanted = id.clone();
    read(s.alerts.store(), move |st| st.device(&wanted))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no device {id:?}")))
}

pub async fn update_device(
    State(s): State<AppState>,
    _: BrowserWrite,
    Path(id): Path<String>,
    body: Result<Json<DevicePatch>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let patch = json_body(body)?;
    let mut device = device_or_404(&s, id).await?;
    if let Some(n) = patch.name {
        device.name = clean_name(n)?;
    }
    if let Some(k) = patch.kinds {
        device.kinds = k;
    }
    if let Some(q) = patch.quiet_hours {
        device.quiet_hours = q;
    }
    let saved = device.clone();
    read(s.alerts.store(), move |st| st.put_device(&saved)).await?;
    Ok(Json(device.public()))
}

pub async fn remove_device(
    State(s): State<AppState>,
    _: BrowserWrite,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let wanted = id.clone();
    if read(s.alerts.store(), move |st| st.remove_device(&wanted)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no device {id:?}")))
    }
}

pub async fn test_device(
    State(s): State<AppState>,
    _: BrowserWrite,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    push_on(&s)?;
    match s.alerts.test(&id).await {
        Ok(Some(delivery)) => Ok(Json(json!({ "delivery": delivery }))),
        Ok(None) => Err(ApiError::NotFound(format!("no device {id:?}"))),
        Err(e) => Err(ApiError::Unavailable(e)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    limit: Option<usize>,
    before: Option<u64>,
}

pub async fn alerts(
    State(s): State<AppState>,
    q: Result<Query<AlertsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 500".into()));
    }
    let page = read(s.alerts.store(), move |st| {
        st.alerts::<Alert>(q.before, limit + 1)
    })
    .await?;
    let next = (page.len() > limit).then(|| page[limit - 1].id);
    let alerts = &page[..page.len().min(limit)];
    Ok(Json(json!({ "alerts": alerts, "next": next })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn only_this_servers_own_pages_may_change_things() {
        let host = ("host", "127.0.0.1:4319");
        assert!(same_origin(&headers(&[host, ("x-observatory", "1")])).is_ok());
        assert!(
            same_origin(&headers(&[
                host,
                ("x-observatory", "1"),
                ("origin", "http://127.0.0.1:4319")
            ]))
            .is_ok()
        );
        for h in [
            headers(&[host]),
            headers(&[
                host,
                ("x-observatory", "1"),
                ("origin", "https://evil.example"),
            ]),
            headers(&[host, ("x-observatory", "1"), ("origin", "null")]),
        ] {
            assert!(
                matches!(same_origin(&h), Err(ApiError::Forbidden(_))),
                "{h:?}"
            );
        }
    }

    #[test]
    fn devices_are_named_from_the_browser() {
        let name = |ua| device_name(&headers(&[("user-agent", ua)]));
        assert_eq!(
            name(
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
            ),
            "Android · Chrome"
        );
        assert_eq!(
            name(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
            ),
            "iPhone · Safari"
        );
        assert_eq!(name("curl/8.5"), "Browser");
    }
}
