//! A live-feed client for tests: connect to `/api/stream`, read JSON frames.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::Server;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(server: &Server, since: u64) -> (Ws, Value) {
    let url = format!(
        "ws://{}/api/stream?since={since}",
        server.running.as_ref().expect("running").app_addr
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    let hello = next_frame(&mut ws).await.expect("hello");
    assert_eq!(hello["type"], "hello", "{hello}");
    (ws, hello)
}

/// The next JSON frame, or None when nothing comes within a second.
pub async fn next_frame(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                return Some(serde_json::from_str(&t).expect("JSON frame"));
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// The frames the feed sends before a sentinel: posts a prompt of a sentinel session (a hook is
/// answered once committed, and the feed is in commit order), then reads until the sentinel's
/// first event. Everything committed before the call is in what it returns; the sentinel's own
/// frames are not. No waiting for the feed to fall quiet.
pub async fn frames_until_sentinel(server: &Server, ws: &mut Ws) -> Vec<Value> {
    // Each call its own sentinel session: a replay may carry an earlier call's.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let native = format!("sentinel-{n}");
    let id = format!("claude_code:{native}");
    let sentinel = serde_json::json!({"session_id": native, "hook_event_name": "UserPromptSubmit",
        "prompt": "last", "cwd": "/sentinel"});
    let (status, _, _) = server
        .post(
            "/v1/hooks/claude_code",
            "application/json",
            sentinel.to_string().into_bytes(),
            false,
        )
        .await;
    assert_eq!(status, 204, "the sentinel hook");
    let mut frames = Vec::new();
    while let Some(f) = next_frame(ws).await {
        let sentinel = |v: &Value| v["session_id"] == id.as_str() || v["id"] == id.as_str();
        if sentinel(&f["event"]) {
            return frames;
        }
        if !sentinel(&f["session"]) {
            frames.push(f);
        }
    }
    panic!("the feed went quiet before the sentinel came: {frames:?}");
}
