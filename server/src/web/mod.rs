//! Web: the app port (:4319). One router shows every route: the JSON read API under `/api/`,
//! and the dashboard at `/`. Unknown `/api/` paths are a JSON 404, never the page.

mod api;
mod stream;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

pub use api::AppState;

/// Shown until the PWA issue embeds the real app.
const PLACEHOLDER: &str = include_str!("../../../pwa/index.html");

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(api::health))
        .route("/api/sessions", get(api::sessions))
        .route("/api/sessions/{id}", get(api::session))
        .route("/api/sessions/{id}/events", get(api::events))
        .route("/api/stats", get(api::stats))
        .route("/api/stream", get(stream::stream))
        .route("/api/live/stats", get(api::live_stats))
        .route("/api/{*rest}", axum::routing::any(api::not_found))
        .route("/api", axum::routing::any(api::not_found))
        .route("/", get(index))
        .fallback(page_not_found)
        .with_state(state)
}

async fn index() -> Html<&'static str> {
    Html(PLACEHOLDER)
}

async fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}
