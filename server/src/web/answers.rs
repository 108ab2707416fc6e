//! The answers API: `GET /api/prompts[?session=]` (the prompts of a session, or every pending
//! one) and `POST /api/prompts/{id}/allow|deny` (an optional `{"message"}` for a deny). The
//! guard has checked who may (a credential; from another device as `[access] remote_answers`
//! says); the answers stage hands the decision to the agent's waiting hook.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiError, AppState};
use crate::access::Caller;
use crate::answers::Refused;

impl From<Refused> for ApiError {
    fn from(r: Refused) -> ApiError {
        match r {
            Refused::NotFound(m) => ApiError::NotFound(m),
            Refused::Conflict(m) => ApiError::Conflict(m),
        }
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    session: Option<String>,
}

pub async fn list(State(s): State<AppState>, Query(q): Query<ListQuery>) -> Json<Value> {
    Json(json!({"prompts": s.answers.list(q.session.as_deref())}))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    message: Option<String>,
}

/// What the guard reads from the path: whether it is an allow.
pub fn is_allow(decision: &str) -> Option<bool> {
    match decision {
        "allow" => Some(true),
        "deny" => Some(false),
        _ => None,
    }
}

pub async fn answer(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, decision)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let allow = is_allow(&decision)
        .ok_or_else(|| ApiError::NotFound(format!("no answer {decision:?}: allow or deny")))?;
    // No body at all is a plain answer.
    let body: AnswerBody = if body.iter().all(u8::is_ascii_whitespace) {
        AnswerBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body must be {{\"message\": \"…\"}} or nothing: {e}"
            ))
        })?
    };
    let prompt = s.answers.answer(&caller, &id, allow, body.message).await?;
    Ok(Json(json!({"prompt": prompt})))
}
