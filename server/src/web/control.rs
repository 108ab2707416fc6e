//! The control API: `GET /api/sessions/{id}/control` (what each action would do, or why it
//! cannot) and `POST /api/sessions/{id}/interrupt|kill|restart`. The guard has checked who may
//! (a credential; from another device only with `allow_remote_control`); the controller acts.

use axum::Json;
use axum::extract::{Extension, Path, State};
use serde_json::Value;

use super::api::{ApiError, AppState};
use crate::access::Caller;
use crate::control::{Action, Refused};

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
