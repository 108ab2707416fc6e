//! Web: the app port (:4319). One router shows every route: the JSON API under `/api/`,
//! Prometheus' `/metrics`, and the dashboard everywhere else. Unknown `/api/` paths are a JSON 404, never the page. Every
//! request passes the [`guard`] first (Host, Origin, credentials); responses are compressed as
//! the client's `Accept-Encoding` allows.

mod access;
mod alerts;
mod answers;
mod api;
mod assets;
mod control;
pub mod export;
pub mod guard;
mod metrics;
mod stream;

use axum::Router;
use axum::routing::{any, delete, get, post, put};
use tower_http::compression::CompressionLayer;

pub use api::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(api::health))
        .route("/api/sessions", get(api::sessions))
        .route("/api/sessions/{id}", get(api::session))
        .route("/api/sessions/{id}/events", get(api::events))
        .route("/api/sessions/{id}/control", get(control::options))
        .route("/api/sessions/{id}/{action}", post(control::act))
        .route("/api/prompts", get(answers::list))
        .route("/api/prompts/{id}/{decision}", post(answers::answer))
        .route("/api/stats", get(api::stats))
        .route("/api/export", get(export::export))
        .route("/api/store/compact", post(api::compact))
        .route("/api/stream", get(stream::stream))
        .route("/api/live/stats", get(api::live_stats))
        .route("/api/config", get(api::config))
        .route("/api/alerts", get(alerts::alerts))
        .route("/api/access", get(access::me))
        .route("/api/pair", post(access::pair))
        .route("/api/pairing-codes", post(access::new_code))
        .route("/api/devices", get(access::devices))
        .route(
            "/api/devices/{id}",
            axum::routing::patch(access::update_device).delete(access::revoke_device),
        )
        .route(
            "/api/devices/current/push",
            put(access::push_on_device).delete(access::push_off_device),
        )
        .route("/api/devices/{id}/test", post(access::test_device))
        .route("/api/audit", get(access::audit))
        .route("/api/launches", post(control::register))
        .route("/api/launches/{id}", delete(control::unregister))
        .route("/api/launches/{id}/next", get(control::next))
        .route("/api/launches/{id}/report", post(control::report))
        .route("/api/access/token/rotate", post(access::rotate_token))
        .route("/api/access/tunnels", put(access::lease_tunnel))
        .route("/api/access/tunnels/{host}", delete(access::end_tunnel))
        .route("/metrics", get(metrics::metrics))
        .route("/api/{*rest}", any(api::not_found))
        .route("/api", any(api::not_found))
        .fallback(get(assets::serve))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(CompressionLayer::new())
        .with_state(state)
}

pub use assets::embedded as pwa_embedded;
