//! The JSON read API. Handlers take the shared state and return `Result<Json, ApiError>`; the
//! error type maps itself to a status and a `{"error": "..."}` body.

use std::sync::Arc;

use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ingest::Stats;
use crate::normalize::{Agent, attrs};
use crate::proto::store::{Cost, Counts, Event, Session, Tokens, Turn};
use crate::session::State as SessionState;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub stats: Arc<Stats>,
    pub hub: crate::live::Hub,
    pub alerts: crate::alerts::engine::Alerts,
    pub access: crate::access::Access,
    pub control: crate::control::Controller,
    pub answers: crate::answers::Answers,
    /// Cancelled at shutdown: long-lived WebSocket streams end with it.
    pub cancel: tokio_util::sync::CancellationToken,
    /// One permit per open live feed: `[live] max_feed_clients`.
    pub feeds: Arc<tokio::sync::Semaphore>,
    /// Old sessions deleted, the file compacted: what the last pass did, a pass on demand.
    pub retention: crate::retention::Retention,
    /// Forwarding upstream, when `[forward] endpoint` is set.
    pub forward: Option<crate::forward::Status>,
}

#[derive(Debug)]
pub enum ApiError {
    NotFound(String),
    BadRequest(String),
    Conflict(String),
    TooMany(String),
    Unavailable(String),
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::TooMany(m) => (StatusCode::TOO_MANY_REQUESTS, m),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "read API failure");
                (StatusCode::INTERNAL_SERVER_ERROR, m)
            }
        };
        let mut resp = (status, Json(json!({ "error": msg }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            // A full disk, being dealt with: try again shortly.
            crate::store::StoreError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// Runs a store read off the async workers (redb reads are blocking I/O).
pub(crate) async fn read<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// A newest-first page's size: `limit` (default 50), 1 to 500.
pub(crate) fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 500".into()));
    }
    Ok(limit)
}

/// A page read `limit + 1` long, cut to `limit`, with the id to pass as `before` for the next
/// one (`None` on the last page).
pub(crate) fn split_page<T>(
    mut page: Vec<T>,
    limit: usize,
    id: impl Fn(&T) -> u64,
) -> (Vec<T>, Option<u64>) {
    let next = (page.len() > limit).then(|| id(&page[limit - 1]));
    page.truncate(limit);
    (page, next)
}

pub async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound(format!("no such API endpoint: {}", uri.path()))
}

/// `ok`, or `degraded` (503) with the reason while the store refuses writes (a full disk):
/// they resume by themselves once it has room.
pub async fn health(State(s): State<AppState>) -> Response {
    if let Some(reason) = s.store.fault() {
        let body = json!({
            "status": "degraded",
            "version": env!("CARGO_PKG_VERSION"),
            "reason": format!("the store refuses writes: {reason}"),
        });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    match read(&s.store, |st| st.last_seq()).await {
        Ok(last_seq) => Json(json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "last_seq": last_seq,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// What the app needs to know at run time (not baked into the bundle): the version and which
/// features this server has. Web Push and control come with their issues.
pub async fn config(State(s): State<AppState>) -> Json<Value> {
    let key = s.alerts.public_key();
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "features": {
            "push": key.is_some(),
            "control": true,
            "answers": true,
            "dashboard": super::pwa_embedded(),
        },
        "vapid_public_key": key,
        "push": {"enabled": key.is_some(), "reason": s.alerts.off_reason()},
        "alert_kinds": crate::alerts::Kind::ALL,
        "agents": crate::agents::AGENTS
            .iter()
            .map(|s| json!({"id": s.agent.as_str(), "display_name": s.display_name}))
            .collect::<Vec<_>>(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    agent: Option<String>,
    state: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

pub async fn sessions(
    State(s): State<AppState>,
    q: Result<Query<SessionsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let agents = parse_list(q.agent.as_deref(), "agent", |a| {
        Agent::parse(a).map(|a| a.as_str())
    })?;
    let states = parse_list(q.state.as_deref(), "state", |st| {
        SessionState::parse(st).map(|st| st.as_str())
    })?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let after = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut all = read(&s.store, |st| st.sessions()).await?;
    all.retain(|x| {
        (agents.is_empty() || agents.contains(&x.agent.as_str()))
            && (states.is_empty() || states.contains(&x.state.as_str()))
    });
    // Newest activity first; the id breaks ties so pages never overlap.
    all.sort_by(|a, b| {
        b.last_seen_unix_nano
            .cmp(&a.last_seen_unix_nano)
            .then_with(|| a.id.cmp(&b.id))
    });
    if let Some((t, id)) = &after {
        all.retain(|x| {
            x.last_seen_unix_nano < *t
                || (x.last_seen_unix_nano == *t && x.id.as_str() > id.as_str())
        });
    }
    let more = all.len() > limit;
    all.truncate(limit);
    let next = if more {
        all.last()
            .map(|x| format!("{}.{}", x.last_seen_unix_nano, x.id))
    } else {
        None
    };
    Ok(Json(json!({
        "sessions": all.iter().map(session_json).collect::<Vec<_>>(),
        "next": next,
    })))
}

fn parse_list(
    raw: Option<&str>,
    what: &str,
    parse: impl Fn(&str) -> Option<&'static str>,
) -> Result<Vec<&'static str>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(|v| {
            parse(v.trim()).ok_or_else(|| ApiError::BadRequest(format!("unknown {what} {v:?}")))
        })
        .collect()
}

fn parse_cursor(c: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "invalid cursor {c:?}: pass the `next` value of the previous page"
        ))
    };
    let (t, id) = c.split_once('.').ok_or_else(bad)?;
    Ok((t.parse().map_err(|_| bad())?, id.to_owned()))
}

pub async fn session(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let key = id.clone();
    let (session, turns) = read(&s.store, move |st| {
        let session = st.session(&key)?;
        let turns = match &session {
            Some(_) => st.turns(&key)?,
            None => Vec::new(),
        };
        Ok((session, turns))
    })
    .await?;
    let session = session.ok_or_else(|| ApiError::NotFound(format!("no session {id:?}")))?;
    let mut v = session_json(&session);
    v["turns"] = Value::Array(turns.iter().map(turn_json).collect());
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

pub async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(200);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let after = q.after.unwrap_or(0);
    let key = id.clone();
    let (exists, events) = read(&s.store, move |st| {
        Ok((
            st.session(&key)?.is_some(),
            st.session_events(&key, after, limit + 1)?,
        ))
    })
    .await?;
    if !exists {
        return Err(ApiError::NotFound(format!("no session {id:?}")));
    }
    let more = events.len() > limit;
    let events = &events[..events.len().min(limit)];
    Ok(Json(json!({
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
        "next": if more { events.last().map(|e| e.seq) } else { None },
    })))
}

/// Records counted, the store (sizes, counts, the oldest session kept) and retention (its limits,
/// totals since start and what the last pass removed).
pub async fn stats(State(s): State<AppState>) -> ApiResult {
    let (space, events, sessions) = read(&s.store, |st| {
        Ok((st.space()?, st.event_count()?, st.sessions()?))
    })
    .await?;
    let oldest = sessions.iter().min_by_key(|x| x.first_seen_unix_nano);
    Ok(Json(json!({
        "records": s.stats.snapshot(),
        "store": {
            "path": s.store.path().display().to_string(),
            "size_bytes": space.file_bytes,
            "allocated_bytes": space.allocated_bytes,
            "stored_bytes": space.stored_bytes,
            "events": events,
            "sessions": sessions.len(),
            "oldest_session": oldest.map(|x| json!({
                "id": x.id, "first_seen": rfc3339(x.first_seen_unix_nano), "last_seen": rfc3339(x.last_seen_unix_nano),
            })),
        },
        "retention": {
            "settings": s.retention.settings(),
            "totals": s.retention.status().get(),
        },
        "forward": s.forward.as_ref().map(crate::forward::Status::report),
    })))
}

/// `POST /api/store/compact`: a retention pass now, then compaction whatever the free share.
pub async fn compact(State(s): State<AppState>) -> ApiResult {
    let pass = s.retention.pass(true).await;
    if let Some(e) = &pass.error {
        return Err(ApiError::Unavailable(format!("the pass stopped: {e}")));
    }
    Ok(Json(json!({ "pass": pass })))
}

/// Burn figures, tool latency percentiles per tool, and sessions by state.
pub async fn live_stats(State(s): State<AppState>) -> ApiResult {
    let sessions = read(&s.store, |st| st.sessions()).await?;
    Ok(Json(s.hub.stats(&sessions)))
}

pub fn rfc3339(unix_nano: i64) -> Value {
    if unix_nano <= 0 {
        return Value::Null;
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_nano))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

fn counts_json(c: Option<Counts>) -> Value {
    let c = c.unwrap_or_default();
    json!({
        "turns": c.turns, "tool_calls": c.tool_calls, "tool_errors": c.tool_errors,
        "api_requests": c.api_requests, "api_errors": c.api_errors,
    })
}

fn tokens_json(t: Option<Tokens>) -> Value {
    let t = t.unwrap_or_default();
    json!({ "input": t.input, "output": t.output, "cache_read": t.cache_read, "cache_write": t.cache_write })
}

/// Known cost, or null when no request's cost could be known; complete only when every model
/// call is priced. Work done without a single model call seen (an agent whose telemetry carries
/// none — Pi, a run with hooks but no telemetry — or a turn whose calls are yet to be reported)
/// is unknown, not $0.
fn cost_json(c: Option<Cost>, api_requests: u64, worked: bool) -> (Value, bool) {
    let c = c.unwrap_or_default();
    let known = api_requests.saturating_sub(c.unknown_requests);
    let unseen = worked && api_requests == 0;
    let usd = if (api_requests > 0 && known == 0) || unseen {
        Value::Null
    } else {
        json!(round_usd(c.known_usd))
    };
    (usd, c.unknown_requests == 0 && !unseen)
}

fn round_usd(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

pub fn session_json(s: &Session) -> Value {
    let counts = s.counts.unwrap_or_default();
    let (cost, complete) = cost_json(s.cost, counts.api_requests, counts.turns > 0);
    json!({
        "id": s.id,
        "agent": s.agent,
        "native_id": s.native_id,
        "service_version": non_empty(&s.service_version),
        "state": s.state,
        "state_since": rfc3339(s.state_since_unix_nano),
        "end_reason": non_empty(&s.end_reason),
        "cwd": non_empty(&s.cwd),
        "models": s.models,
        "first_seen": rfc3339(s.first_seen_unix_nano),
        "last_seen": rfc3339(s.last_seen_unix_nano),
        "counts": counts_json(s.counts),
        "tokens": tokens_json(s.tokens),
        "cost_usd": cost,
        "cost_complete": complete,
        "cost_estimated_requests": s.cost.as_ref().map_or(0, |c| c.estimated_requests),
        "current_turn": non_empty(&s.current_turn),
        "current_tool": non_empty(&s.current_tool),
        "runs": s.runs,
        "pid": (s.pid != 0).then_some(s.pid),
        "last_activity": rfc3339(s.last_activity_unix_nano),
        "last_seq": s.last_seq,
        "events": s.events,
    })
}

pub(crate) fn turn_json(t: &Turn) -> Value {
    let api_requests = t.counts.as_ref().map_or(0, |c| c.api_requests);
    let (cost, complete) = cost_json(t.cost, api_requests, true);
    json!({
        "id": t.id,
        "index": t.index,
        "status": t.status,
        "started": rfc3339(t.started_unix_nano),
        "ended": rfc3339(t.ended_unix_nano),
        "counts": counts_json(t.counts),
        "tokens": tokens_json(t.tokens),
        "cost_usd": cost,
        "cost_complete": complete,
        "last_message": (!t.last_message.is_empty()).then_some(&t.last_message),
    })
}

pub fn event_json(e: &Event) -> Value {
    let mut v = json!({
        "seq": e.seq,
        "session_id": e.session_id,
        "time": rfc3339(e.time_unix_nano),
        "kind": e.kind,
        "source": e.source,
        "run": e.run,
    });
    let m = v
        .as_object_mut()
        .expect("json! object literal is an object");
    let mut put = |k: &str, val: Value| {
        m.insert(k.to_owned(), val);
    };
    if !e.turn_id.is_empty() {
        put("turn_id", json!(e.turn_id));
    }
    if !e.name.is_empty() {
        put("name", json!(e.name));
    }
    if !e.tool_name.is_empty() {
        put("tool_name", json!(e.tool_name));
    }
    if !e.tool_call_id.is_empty() {
        put("tool_call_id", json!(e.tool_call_id));
    }
    if let Some(s) = e.success {
        put("success", json!(s));
    }
    if let Some(d) = e.duration_ms {
        put("duration_ms", json!(d));
    }
    if !e.model.is_empty() {
        put("model", json!(e.model));
    }
    if e.tokens.is_some() {
        put("tokens", tokens_json(e.tokens));
    }
    if let Some(c) = e.cost_usd {
        put("cost_usd", json!(c));
        put("cost_estimated", json!(e.cost_estimated));
    }
    if let Some(c) = e.status_code {
        put("status_code", json!(c));
    }
    if !e.error.is_empty() {
        put("error", json!(e.error));
    }
    if !e.state.is_empty() {
        put("state", json!(e.state));
    }
    if !e.previous_state.is_empty() {
        put("previous_state", json!(e.previous_state));
    }
    if !e.reason.is_empty() {
        put("reason", json!(e.reason));
    }
    if !e.detail.is_empty() {
        put("detail", json!(e.detail));
    }
    if !e.prompt_id.is_empty() {
        put("prompt_id", json!(e.prompt_id));
    }
    match crate::normalize::packed::attributes(e) {
        Ok(a) => put("attributes", Value::Object(attrs::to_json_object(&a))),
        // One damaged record: its own fields still show, with what is wrong.
        Err(why) => {
            put("attributes", json!({}));
            put("attributes_error", json!(why));
        }
    }
    v
}

fn non_empty(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(api_requests: u64, turns: u64, cost: Cost) -> Session {
        Session {
            counts: Some(Counts {
                api_requests,
                turns,
                ..Counts::default()
            }),
            cost: Some(cost),
            ..Session::default()
        }
    }

    #[test]
    fn cost_is_unknown_not_zero_when_model_calls_went_unseen_or_unpriced() {
        let priced = Cost {
            known_usd: 0.42,
            ..Cost::default()
        };
        let figures = |s: &Session| {
            let v = session_json(s);
            (v["cost_usd"].clone(), v["cost_complete"].clone())
        };
        assert_eq!(figures(&session(3, 1, priced)), (json!(0.42), json!(true)));
        // Nothing done yet: nothing spent.
        assert_eq!(
            figures(&session(0, 0, Cost::default())),
            (json!(0.0), json!(true))
        );
        // A prompt answered with no model call seen (Pi; hooks without telemetry): unknown.
        assert_eq!(
            figures(&session(0, 2, Cost::default())),
            (Value::Null, json!(false))
        );
        // One of three calls unpriced: at least what is known.
        let partly = Cost {
            known_usd: 0.1,
            unknown_requests: 1,
            ..Cost::default()
        };
        assert_eq!(figures(&session(3, 1, partly)), (json!(0.1), json!(false)));
        // A turn with no call seen yet is unknown too.
        let turn = turn_json(&Turn::default());
        assert_eq!(
            (turn["cost_usd"].clone(), turn["cost_complete"].clone()),
            (Value::Null, json!(false))
        );
    }
}
