//! The control API: `GET /api/sessions/{id}/control` (what each action would do, or why it
//! cannot) and `POST /api/sessions/{id}/interrupt|kill|restart`; and the launchers' side
//! (`/api/launches…`, this machine only): registering, the long poll for commands, reports.
//! The guard has checked who may (a credential; from another device only with
//! `allow_remote_control`); the controller acts.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::api::{ApiError, AppState};
use crate::access::Caller;
use crate::control::{Action, Refused, launches};

impl From<Refused> for ApiError {
    fn from(r: Refused) -> ApiError {
        match r {
            Refused::NotFound(m) => ApiError::NotFound(m),
            Refused::Conflict(m) => ApiError::Conflict(m),
            Refused::TooMany(m) => ApiError::TooMany(m),
        }
    }
}

pub async fn options(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut v = s.control.options(&id).await?;
    if let Err(r) = s
        .access
        .authorize_quietly(&caller, crate::access::Need::Control)
    {
        // Say why this caller may not, on every action it could otherwise do.
        for a in v["actions"]
            .as_object_mut()
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            if a["available"] == true {
                a["available"] = false.into();
                a["why"] = r.clone().into();
            }
        }
    }
    Ok(Json(v))
}

pub async fn act(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<crate::control::Done>, ApiError> {
    let action = Action::parse(&action)
        .ok_or_else(|| ApiError::NotFound(format!("no control action {action:?}")))?;
    Ok(Json(s.control.act(&caller, &id, action).await?))
}

/// `POST /api/launches`: an `observatory run` registers its agent (again, after a restart).
pub async fn register(
    State(s): State<AppState>,
    body: Result<Json<launches::Info>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let info = super::access::json_body(body)?;
    if info.id.is_empty() || info.id.len() > 64 {
        return Err(ApiError::BadRequest("id must be 1 to 64 characters".into()));
    }
    s.control.launches().register(info);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unregister(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if s.control.launches().unregister(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no launch {id:?}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextQuery {
    wait_secs: Option<u64>,
}

/// `GET /api/launches/{id}/next?wait_secs=`: the launcher's long poll. 200 with a command,
/// 204 when none came within the wait, 404 when the launch is unknown (register again).
pub async fn next(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<NextQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let wait = Duration::from_secs(q.wait_secs.unwrap_or(25).min(60));
    // A shutdown does not wait for a long poll: the launcher asks the next server.
    let next = tokio::select! {
        n = s.control.launches().next(&id, wait) => n,
        _ = s.cancel.cancelled() => Ok(None),
    };
    match next {
        Ok(Some(command)) => Ok(Json(command).into_response()),
        Ok(None) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(()) => Err(ApiError::NotFound(format!("no launch {id:?}: register it"))),
    }
}

/// `POST /api/launches/{id}/report`: what the launcher did with a command.
pub async fn report(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<launches::Report>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let report = super::access::json_body(body)?;
    if s.control.launches().report(&id, report) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("nobody waits for that report".into()))
    }
}
