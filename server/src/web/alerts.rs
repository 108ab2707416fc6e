//! The alert history: `GET /api/alerts`, newest first, a page at a time. Devices, their push
//! subscriptions and the test notification are the access API's (`web::access`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiError, AppState, read};
use crate::alerts::Alert;

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
        st.page::<Alert>(q.before, limit + 1)
    })
    .await?;
    let next = (page.len() > limit).then(|| page[limit - 1].id);
    let alerts = &page[..page.len().min(limit)];
    Ok(Json(json!({ "alerts": alerts, "next": next })))
}
