//! Web: the app port (:4319). One router shows every route: the JSON read API under `/api/`,
//! and the dashboard everywhere else. Unknown `/api/` paths are a JSON 404, never the page.
//! Responses are compressed as the client's `Accept-Encoding` allows.

mod alerts;
mod api;
mod assets;
mod stream;

use axum::Router;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;

pub use api::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(api::health))
        .route("/api/sessions", get(api::sessions))
        .route("/api/sessions/{id}", get(api::session))
        .route("/api/sessions/{id}/events", get(api::events))
        .route("/api/stats", get(api::stats))
        .route("/api/stream", get(stream::stream))
        .route("/api/live/stats", get(api::live_stats))
        .route("/api/config", get(api::config))
        .route("/api/alerts", get(alerts::alerts))
        .route(
            "/api/push/subscriptions",
            get(alerts::devices).post(alerts::subscribe),
        )
        .route(
            "/api/push/subscriptions/{id}",
            axum::routing::patch(alerts::update_device).delete(alerts::remove_device),
        )
        .route(
            "/api/push/subscriptions/{id}/test",
            post(alerts::test_device),
        )
        .route("/api/{*rest}", axum::routing::any(api::not_found))
        .route("/api", axum::routing::any(api::not_found))
        .fallback(get(assets::serve))
        .layer(CompressionLayer::new())
        .with_state(state)
}

pub use assets::embedded as pwa_embedded;
