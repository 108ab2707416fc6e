//! The access API: who am I (`GET /api/access`), pairing (`POST /api/pair`, `POST
//! /api/pairing-codes`), paired devices with their alert choices and push subscription
//! (`/api/devices…`), the audit log (`GET /api/audit`), and, from this machine only, the token's
//! rotation and tunnels' leases (`/api/access/…`). The guard has already identified the caller
//! and checked what the path needs; handlers take the [`Caller`] it left.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::header::{SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, http};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiError, AppState, page_limit, read, split_page};
use super::guard::refusal;
use crate::access::{self, Caller, Credential, LocalReads, Need};
use crate::alerts::Kind;
use crate::alerts::deliver::Subscription;
use crate::alerts::rules::QuietHours;

pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

pub async fn me(State(s): State<AppState>, Extension(caller): Extension<Caller>) -> Json<Value> {
    let can = |need| s.access.allows(&caller, need);
    let settings = s.access.settings();
    let device = match &caller.credential {
        Credential::Device { id, name } => json!({"id": id, "name": name}),
        _ => Value::Null,
    };
    Json(json!({
        "local": caller.local,
        "credential": match caller.credential {
            Credential::None => "none",
            Credential::Token => "token",
            Credential::Device { .. } => "device",
        },
        "device": device,
        "can": {
            "read": can(Need::Read),
            "write": can(Need::Write),
            "control": can(Need::Control),
            "answer": settings.remote_answers,
        },
        "local_reads": match settings.local_reads {
            LocalReads::Open => "open",
            LocalReads::Paired => "paired",
        },
        "public_url": s.access.public_origin(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairBody {
    code: String,
    name: Option<String>,
}

/// The origin this request was sent to, as the browser sees it.
fn request_origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = if crate::hosts::came_over_https(headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

pub async fn pair(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Json<PairBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let ua = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = access::device_name(body.name, ua).map_err(ApiError::BadRequest)?;
    let (device, cookie) = match s.access.pair(&caller, &body.code, name).await {
        Ok(paired) => paired,
        Err(r) => return Ok(refusal(r)),
    };
    let prefs = prefs(&s, device.id.clone()).await?;
    let set = access::set_cookie(Some(&cookie), crate::hosts::came_over_https(&headers));
    let mut resp = (
        StatusCode::CREATED,
        Json(json!({ "device": device_json(&device, prefs.as_ref(), true) })),
    )
        .into_response();
    resp.headers_mut()
        .insert(SET_COOKIE, HeaderValue::from_str(&set).map_err(internal)?);
    Ok(resp)
}

pub async fn new_code(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> (StatusCode, Json<access::NewCode>) {
    let code = s.access.new_code(&caller, &request_origin(&headers)).await;
    (StatusCode::CREATED, Json(code))
}

async fn prefs(s: &AppState, id: String) -> Result<Option<crate::alerts::Device>, ApiError> {
    read(s.alerts.store(), move |st| {
        st.get::<crate::alerts::Device>(&id)
    })
    .await
}

fn device_json(d: &access::Device, prefs: Option<&crate::alerts::Device>, current: bool) -> Value {
    let mut v = json!({
        "id": d.id,
        "name": d.name,
        "created_unix_nano": d.created_unix_nano,
        "last_seen_unix_nano": d.last_seen_unix_nano,
        "current": current,
        "kinds": Kind::ALL,
        "quiet_hours": null,
        "push": null,
    });
    if let (Some(p), Some(m)) = (prefs.map(crate::alerts::Device::public), v.as_object_mut()) {
        for (k, val) in p.as_object().into_iter().flatten() {
            m.insert(k.clone(), val.clone());
        }
    }
    v
}

pub async fn devices(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let prefs = read(s.alerts.store(), |st| st.all::<crate::alerts::Device>()).await?;
    let list: Vec<Value> = s
        .access
        .devices()
        .iter()
        .map(|d| {
            let p = prefs.iter().find(|p| p.id == d.id);
            device_json(d, p, caller.device_id() == Some(&d.id))
        })
        .collect();
    Ok(Json(json!({ "devices": list })))
}

/// `current` names the calling browser's own device.
fn device_id(caller: &Caller, id: String) -> Result<String, ApiError> {
    match (id.as_str(), caller.device_id()) {
        ("current", Some(own)) => Ok(own.to_owned()),
        ("current", None) => Err(ApiError::Conflict(
            "this browser is not paired: pair it first (`observatory pair`), then turn notifications on".into(),
        )),
        _ => Ok(id),
    }
}

async fn one_device(s: &AppState, caller: &Caller, id: &str) -> Result<Value, ApiError> {
    let d = s
        .access
        .device(id)
        .ok_or_else(|| ApiError::NotFound(format!("no device {id:?}")))?;
    let p = prefs(s, d.id.clone()).await?;
    Ok(device_json(
        &d,
        p.as_ref(),
        caller.device_id() == Some(&d.id),
    ))
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

pub async fn update_device(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<DevicePatch>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let patch = json_body(body)?;
    let id = device_id(&caller, id)?;
    let device = s
        .access
        .device(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no device {id:?}")))?;
    if let Some(n) = patch.name {
        let name = access::device_name(Some(n), "").map_err(ApiError::BadRequest)?;
        s.access
            .rename(&caller, &id, name)
            .await
            .map_err(internal)?;
    }
    if patch.kinds.is_some() || patch.quiet_hours.is_some() {
        let now = s.hub.clock().now();
        let name = device.name.clone();
        let key = id.clone();
        read(s.alerts.store(), move |st| {
            let mut p = st
                .get::<crate::alerts::Device>(&key)?
                .unwrap_or_else(|| crate::alerts::Device::new(&key, &name, now));
            if let Some(k) = patch.kinds {
                p.kinds = k;
            }
            if let Some(q) = patch.quiet_hours {
                p.quiet_hours = q;
            }
            st.put(&p)
        })
        .await?;
    }
    Ok(Json(one_device(&s, &caller, &id).await?))
}

pub async fn revoke_device(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = device_id(&caller, id)?;
    if !s.access.revoke(&caller, &id).await.map_err(internal)? {
        return Err(ApiError::NotFound(format!("no device {id:?}")));
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if caller.device_id() == Some(&id) {
        let clear = access::set_cookie(None, crate::hosts::came_over_https(&headers));
        resp.headers_mut()
            .insert(SET_COOKIE, HeaderValue::from_str(&clear).map_err(internal)?);
    }
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushBody {
    subscription: BrowserSubscription,
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

fn key(name: &str, v: Option<String>, len: usize) -> Result<String, ApiError> {
    let bad = |m: String| ApiError::BadRequest(format!("subscription.keys.{name} {m}"));
    let v = v.ok_or_else(|| bad("is missing".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .map_err(|e| bad(format!("is not base64url: {e}")))?;
    if bytes.len() != len || (len == 65 && bytes[0] != 4) {
        let what = if len == 65 {
            " (an uncompressed P-256 point)"
        } else {
            ""
        };
        return Err(bad(format!(
            "must be {len} bytes{what}, got {}",
            bytes.len()
        )));
    }
    Ok(v)
}

/// A subscription the server may push to: an endpoint the push rules allow (`https://` to a
/// public address), a P-256 public key and a 16-byte auth secret.
fn check_subscription(s: &AppState, sub: BrowserSubscription) -> Result<Subscription, ApiError> {
    s.alerts
        .check_endpoint(&sub.endpoint)
        .map_err(ApiError::BadRequest)?;
    let keys = sub.keys.ok_or_else(|| {
        ApiError::BadRequest("subscription.keys is missing (p256dh and auth)".into())
    })?;
    Ok(Subscription {
        p256dh: key("p256dh", keys.p256dh, 65)?,
        auth: key("auth", keys.auth, 16)?,
        endpoint: sub.endpoint,
    })
}

fn push_on(s: &AppState) -> Result<(), ApiError> {
    match s.alerts.off_reason() {
        Some(why) => Err(ApiError::Unavailable(format!("push is off: {why}"))),
        None => Ok(()),
    }
}

/// Turns notifications on for the calling browser (or replaces its subscription).
pub async fn push_on_device(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<PushBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(body)?;
    let id = device_id(&caller, "current".into())?;
    push_on(&s)?;
    let subscription = check_subscription(&s, body.subscription)?;
    let device = s
        .access
        .device(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no device {id:?}")))?;
    set_subscription(&s, &device, Some(subscription)).await?;
    let detail = format!("{} turned notifications on", device.name);
    let entry = access::Event::ok("push_on", detail).on(&id);
    s.access.audit().record(&caller, entry).await;
    Ok(Json(one_device(&s, &caller, &id).await?))
}

pub async fn push_off_device(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode, ApiError> {
    let id = device_id(&caller, "current".into())?;
    let device = s
        .access
        .device(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no device {id:?}")))?;
    set_subscription(&s, &device, None).await?;
    let detail = format!("{} turned notifications off", device.name);
    let entry = access::Event::ok("push_off", detail).on(&id);
    s.access.audit().record(&caller, entry).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_subscription(
    s: &AppState,
    device: &access::Device,
    sub: Option<Subscription>,
) -> Result<(), ApiError> {
    let now = s.hub.clock().now();
    let (id, name) = (device.id.clone(), device.name.clone());
    read(s.alerts.store(), move |st| {
        let mut p = st
            .get::<crate::alerts::Device>(&id)?
            .unwrap_or_else(|| crate::alerts::Device::new(&id, &name, now));
        if sub.is_none() {
            p.last_delivery = None;
        }
        p.subscription = sub;
        st.put(&p)
    })
    .await
}

pub async fn test_device(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = device_id(&caller, id)?;
    push_on(&s)?;
    match s.alerts.test(&id).await {
        Ok(Some(delivery)) => Ok(Json(json!({ "delivery": delivery }))),
        Ok(None) => Err(ApiError::NotFound(format!("no device {id:?}"))),
        Err(e) => Err(ApiError::Conflict(e)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<usize>,
    before: Option<u64>,
}

pub async fn audit(
    State(s): State<AppState>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = page_limit(q.limit)?;
    let page = s
        .access
        .audit()
        .page(q.before, limit + 1)
        .await
        .map_err(ApiError::from)?;
    let (entries, next) = split_page(page, limit, |e| e.id);
    Ok(Json(json!({ "entries": entries, "next": next })))
}

pub async fn rotate_token(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let token = s.access.rotate_token(&caller).await.map_err(internal)?;
    Ok(Json(json!({ "token": token })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelBody {
    url: String,
}

pub async fn lease_tunnel(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<TunnelBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    Ok(match s.access.lease_tunnel(&caller, &body.url).await {
        Ok(host) => Json(json!({
            "host": host,
            "lease_secs": crate::access::TUNNEL_LEASE_NS / 1_000_000_000,
        }))
        .into_response(),
        Err(r) => refusal(r),
    })
}

pub async fn end_tunnel(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(host): Path<String>,
) -> Result<StatusCode, ApiError> {
    if s.access.end_tunnel(&caller, &host).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no tunnel {host:?}")))
    }
}
