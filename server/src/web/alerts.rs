//! The alert history: `GET /api/alerts`, newest first, a page at a time. Devices, their push
//! subscriptions and the test notification are the access API's (`web::access`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiError, AppState, page_limit, read, split_page};
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
    let limit = page_limit(q.limit)?;
    let page = read(s.alerts.store(), move |st| {
        st.page::<Alert>(q.before, limit + 1)
    })
    .await?;
    let (alerts, next) = split_page(page, limit, |a| a.id);
    Ok(Json(json!({ "alerts": alerts, "next": next })))
}
