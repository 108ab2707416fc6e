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
