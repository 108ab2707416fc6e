//! `GET /api/stream?since=<seq>`: the live feed over a WebSocket.
//!
//! Frames (JSON text): `hello` with the latest committed seq; then every event after `since`
//! replayed from the store, then live ones, each exactly once and in seq order (the client
//! subscribes before it replays, and drops what it already sent); `session` frames when a
//! session's state or counters change; `tick` every 5 s (burn: USD/min over the last 5 minutes,
//! USD/hour, today, projected month; sessions by state); `resync` when the client fell too far behind — it should
//! refetch and reconnect with its last seq. Events carry no attributes here (they are one
//! `GET /api/sessions/{id}/events` away); `alert` when an alert is made and again when its
//! deliveries are done (same id). The server pings every 20 s (a WebSocket ping, which browsers
//! answer without telling the page: a page takes the 5 s `tick` as the heartbeat); a client
//! that does not take a frame within 10 s is dropped.
//!
//! The client may say what it shows: `{"type": "viewing", "session_id": "<id>" | null,
//! "visible": bool}`; while a visible dashboard shows a session, its alerts need not be pushed.
//! Only a local or paired client's word counts, and only for two minutes after it last said so
//! (the dashboard repeats it every minute). `audit` frames carry new audit log entries. When the
//! credential a feed was opened with is revoked (a device) or replaced (the token), the feed
//! closes with code 4401. At most `[live] max_feed_clients` feeds are open at once: one more is
//! refused with 503 before the upgrade.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::api::{ApiError, AppState, event_json, read, session_json};
use crate::access::{Caller, Credential, Ended};
use crate::live::Published;
use crate::proto::store::Event;

const REPLAY_PAGE: usize = 500;
const PING_EVERY: Duration = Duration::from_secs(20);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    since: Option<u64>,
}

pub async fn stream(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let ws = ws.map_err(|e| {
        ApiError::BadRequest(format!("this endpoint is a WebSocket: {}", e.body_text()))
    })?;
    let since = q.since.unwrap_or(0);
    let Ok(permit) = s.feeds.clone().try_acquire_owned() else {
        return Err(ApiError::Unavailable(
            "too many live feeds are open (the most [live] max_feed_clients allows): close \
             another tab or device, or raise the setting"
                .into(),
        ));
    };
    Ok(ws.on_upgrade(move |socket| async move {
        if let Err(e) = feed(socket, s, since, caller).await {
            tracing::debug!(error = %e, "stream client gone");
        }
        drop(permit);
    }))
}

fn event_frame(e: &Event) -> String {
    let mut v = event_json(e);
    if let Some(m) = v.as_object_mut() {
        m.remove("attributes");
    }
    json!({"type": "event", "event": v}).to_string()
}

/// A commit's frames: its events, then its changed sessions (seq 0: always sent).
fn render(p: &Published) -> Vec<(u64, String)> {
    let events = p.events.iter().map(|e| (e.seq, event_frame(e)));
    let sessions = p.sessions.iter().map(|s| {
        (
            0,
            json!({"type": "session", "session": session_json(s)}).to_string(),
        )
    });
    events.chain(sessions).collect()
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

async fn send(socket: &mut WebSocket, m: Message) -> Result<(), String> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(m)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("client too slow to take a frame".into()),
    }
}

/// What a dashboard says it shows.
#[derive(Deserialize)]
struct Viewing {
    r#type: String,
    session_id: Option<String>,
    visible: bool,
}

/// Forgets what a connection was viewing when it ends, however it ends.
struct Presence {
    hub: crate::live::Hub,
    connection: u64,
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.hub.set_viewing(self.connection, None);
    }
}

/// The feed's client: whose word counts for `viewing`, and which ended credential closes it.
struct Client {
    connection: u64,
    caller: Caller,
    ended: broadcast::Receiver<Ended>,
}

impl Client {
    fn ends_with(&self, e: &Ended) -> bool {
        match (e, &self.caller.credential) {
            (Ended::Token, Credential::Token) => true,
            (Ended::Device(gone), Credential::Device { id, .. }) => gone == id,
            _ => false,
        }
    }
}

async fn feed(
    mut socket: WebSocket,
    s: AppState,
    since: u64,
    caller: Caller,
) -> Result<(), String> {
    static CONNECTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let presence = Presence {
        hub: s.hub.clone(),
        connection: CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    };
    let alerts = s.hub.notices();
    let ended = s.access.ended();
    // Subscribe first, then read the store: whatever commits in between arrives both ways, and
    // `sent` drops the second copy, so nothing is missed or repeated at the switch.
    let live = s.hub.subscribe();
    let last_seq = read(&s.store, |st| st.last_seq())
        .await
        .map_err(|e| format!("{e:?}"))?;
    send(
        &mut socket,
        text(json!({"type": "hello", "last_seq": last_seq, "since": since})),
    )
    .await?;
    let sent = replay(&mut socket, &s, since).await?;
    let mut client = Client {
        connection: presence.connection,
        caller,
        ended,
    };
    follow(&mut socket, &s, live, alerts, sent, &mut client).await
}

/// Sends the stored events after `since`, a page at a time; returns the seq of the last one sent.
async fn replay(socket: &mut WebSocket, s: &AppState, since: u64) -> Result<u64, String> {
    let mut sent = since;
    loop {
        let after = sent;
        let page = read(&s.store, move |st| st.events_after(after, REPLAY_PAGE))
            .await
            .map_err(|e| format!("{e:?}"))?;
        if page.is_empty() {
            return Ok(sent);
        }
        for e in page {
            sent = e.seq;
            send(socket, Message::Text(event_frame(&e).into())).await?;
        }
    }
}

/// The live part of the feed, after the replay: commits, ticks, alerts and pings out, what the
/// client views in, until either side leaves or the server shuts down.
async fn follow(
    socket: &mut WebSocket,
    s: &AppState,
    mut live: broadcast::Receiver<Arc<Published>>,
    mut alerts: broadcast::Receiver<Arc<String>>,
    mut sent: u64,
    client: &mut Client,
) -> Result<(), String> {
    let mut ticks = s.hub.ticks();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            published = live.recv() => match published {
                Ok(p) => send_commit(socket, &p, &mut sent).await?,
                Err(RecvError::Lagged(missed)) => {
                    let frame = json!({"type": "resync", "reason": format!("fell {missed} commits behind"), "last_sent_seq": sent});
                    let _ = send(socket, text(frame)).await;
                    let _ = socket.send(Message::Close(None)).await;
                    return Ok(());
                }
                Err(RecvError::Closed) => return Ok(()),
            },
            changed = ticks.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let frame = ticks.borrow_and_update().clone();
                if !frame.is_null() {
                    send(socket, Message::Text(frame.to_string().into())).await?;
                }
            }
            _ = ping.tick() => send(socket, Message::Ping(Vec::new().into())).await?,
            alert = alerts.recv() => match alert {
                Ok(frame) => send(socket, Message::Text(frame.as_str().into())).await?,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Ok(()),
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(Message::Text(t))) => note_viewing(s, client, t.as_str()),
                Some(Ok(_)) => {}
            },
            ended = client.ended.recv() => match ended {
                Ok(e) if client.ends_with(&e) => {
                    let close = CloseFrame { code: 4401, reason: "device revoked".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return Ok(());
                }
                _ => {}
            },
            _ = s.cancel.cancelled() => {
                let _ = socket.send(Message::Close(None)).await;
                return Ok(());
            }
        }
    }
}

/// Sends a commit's frames the client has not had: its events after `sent` (the replay may have
/// sent them already) and all its session frames.
async fn send_commit(socket: &mut WebSocket, p: &Published, sent: &mut u64) -> Result<(), String> {
    for (seq, frame) in p.frames(render) {
        if *seq == 0 || *seq > *sent {
            *sent = (*sent).max(*seq);
            send(socket, Message::Text(frame.clone().into())).await?;
        }
    }
    Ok(())
}

/// Takes what a local or paired client says it views. Anything else a client sends is
/// ignored, not fatal.
fn note_viewing(s: &AppState, client: &Client, text: &str) {
    if !(client.caller.local || client.caller.has_credential()) {
        return;
    }
    if let Ok(v) = serde_json::from_str::<Viewing>(text)
        && v.r#type == "viewing"
    {
        s.hub
            .set_viewing(client.connection, Some((v.session_id, v.visible)));
    }
}
