//! The app port's door, run before every handler: the `Host` must be one the port answers to
//! (421), an `/api/` (or `/metrics`) call from a browser must come from the app's own origin (403, WebSocket
//! upgrades included), and the caller must be allowed what the call needs — reads open to local
//! clients by default, everything else with a credential (401), a client with too many failed
//! credentials refused for a while (429). State-changing calls made with the device cookie also
//! carry `X-Observatory: 1`, a header a page of another origin cannot add without a CORS
//! preflight this server never grants. The dashboard's files are public: they hold no data.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::api::AppState;
use crate::access::{Credential, Need, Refusal, set_cookie};
use crate::control::Action;

/// What an `/api/` path needs, before the handler adds its own rules.
fn need(method: &Method, path: &str) -> Need {
    match path {
        "/api/access" | "/api/pair" => Need::Nothing,
        p if p.starts_with("/api/access/")
            || p.starts_with("/api/launches")
            || p.starts_with("/api/store/") =>
        {
            Need::LocalWrite
        }
        p if *method == Method::POST
            && p.starts_with("/api/sessions/")
            && p.rsplit('/').next().and_then(Action::parse).is_some() =>
        {
            Need::Control
        }
        p if *method == Method::POST && p.starts_with("/api/prompts/") => {
            match p.rsplit('/').next().and_then(super::answers::is_allow) {
                Some(allow) => Need::Answer { allow },
                None => Need::Write,
            }
        }
        _ if matches!(*method, Method::GET | Method::HEAD) => Need::Read,
        _ => Need::Write,
    }
}

pub fn refusal(r: Refusal) -> Response {
    let mut body = json!({ "error": r.message });
    if r.pairing_required {
        body["pairing_required"] = json!(true);
    }
    let mut resp = (r.status, Json(body)).into_response();
    let h = resp.headers_mut();
    if let Some(secs) = r.retry_after_secs {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if r.clear_cookie
        && let Ok(v) = HeaderValue::from_str(&set_cookie(None, false))
    {
        h.insert(header::SET_COOKIE, v);
    }
    resp
}

fn refuse(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

pub async fn guard(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(why) = s.access.refuse_host(req.headers(), req.uri()) {
        return refuse(StatusCode::MISDIRECTED_REQUEST, why);
    }
    let path = req.uri().path();
    if !(path == "/api" || path.starts_with("/api/") || path == "/metrics") {
        return next.run(req).await;
    }
    if let Some(why) = s.access.refuse_origin(req.headers()) {
        return refuse(StatusCode::FORBIDDEN, why);
    }
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
    let need = need(req.method(), path);
    // Without the peer (a router served without connect info) the caller is remote.
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
    let lenient = need == Need::Nothing;
    let caller = match s.access.identify(peer, req.headers(), lenient).await {
        Ok(c) => c,
        Err(r) => return refusal(r),
    };
    if let Err(r) = s.access.authorize(&caller, need).await {
        return refusal(r);
    }
    let by_token = matches!(caller.credential, Credential::Token);
    if writes && !by_token && !req.headers().contains_key("x-observatory") {
        return refuse(
            StatusCode::FORBIDDEN,
            "this call changes something: send the header X-Observatory: 1 (or use the control token)"
                .into(),
        );
    }
    let stale = caller.stale_cookie;
    req.extensions_mut().insert(caller);
    let mut resp = next.run(req).await;
    // Unless the call set a new one (pairing again).
    let replaced = resp.headers().contains_key(header::SET_COOKIE);
    if stale
        && !replaced
        && let Ok(v) = HeaderValue::from_str(&set_cookie(None, false))
    {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_needs_what_it_does() {
        assert_eq!(need(&Method::GET, "/api/access"), Need::Nothing);
        assert_eq!(need(&Method::POST, "/api/pair"), Need::Nothing);
        assert_eq!(need(&Method::GET, "/api/sessions"), Need::Read);
        assert_eq!(need(&Method::GET, "/api/stream"), Need::Read);
        assert_eq!(need(&Method::POST, "/api/pairing-codes"), Need::Write);
        assert_eq!(need(&Method::DELETE, "/api/devices/x"), Need::Write);
        assert_eq!(need(&Method::PUT, "/api/access/tunnels"), Need::LocalWrite);
        assert_eq!(
            need(&Method::POST, "/api/access/token/rotate"),
            Need::LocalWrite
        );
        assert_eq!(need(&Method::POST, "/api/sessions/x/kill"), Need::Control);
        assert_eq!(
            need(&Method::POST, "/api/prompts/ab12/allow"),
            Need::Answer { allow: true }
        );
        assert_eq!(
            need(&Method::POST, "/api/prompts/ab12/deny"),
            Need::Answer { allow: false }
        );
        assert_eq!(need(&Method::GET, "/api/prompts"), Need::Read);
        assert_eq!(need(&Method::GET, "/api/sessions/x/control"), Need::Read);
    }
}
