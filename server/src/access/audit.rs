//! The audit log: every pairing, revocation, rename, token rotation, tunnel and refused
//! attempt — and, with the issues that add them, every control action and answer — as an entry
//! saying who (the control token, a device, or nobody), from where, what, and how it ended.
//! Kept in the store (the newest [`KEEP`]), listed by `GET /api/audit`, streamed as `audit`
//! frames.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::Caller;
use crate::live::Hub;
use crate::store::Store;
use crate::store::records::Numbered;

/// Entries kept; older ones are deleted as new ones come.
pub const KEEP: u64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Token,
    Device,
    Anonymous,
    /// This machine: the server itself, or the command line writing to the store while the
    /// server was not running.
    System,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Refused,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: u64,
    pub time_unix_nano: i64,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// The client's address (as a proxy reports it, then the peer's).
    pub peer: String,
    pub remote: bool,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: Outcome,
    pub detail: String,
}

impl Numbered for Entry {
    const TABLE: &'static str = "audit";
    fn number(&self) -> u64 {
        self.id
    }
}

/// What is being recorded; [`Audit::record`] adds the id, the time and the caller.
pub struct Event<'a> {
    pub action: &'a str,
    pub target: Option<String>,
    pub outcome: Outcome,
    pub detail: String,
}

impl<'a> Event<'a> {
    pub fn ok(action: &'a str, detail: impl Into<String>) -> Event<'a> {
        Event {
            action,
            target: None,
            outcome: Outcome::Ok,
            detail: detail.into(),
        }
    }

    pub fn refused(action: &'a str, detail: impl Into<String>) -> Event<'a> {
        Event {
            outcome: Outcome::Refused,
            ..Event::ok(action, detail)
        }
    }

    pub fn on(mut self, target: impl Into<String>) -> Event<'a> {
        self.target = Some(target.into());
        self
    }
}

#[derive(Clone)]
pub struct Audit {
    store: Store,
    hub: Hub,
    last_id: Arc<AtomicU64>,
}

impl Audit {
    pub fn open(store: Store, hub: Hub) -> crate::store::Result<Audit> {
        let last = store.last_number::<Entry>()?;
        Ok(Audit {
            store,
            hub,
            last_id: Arc::new(AtomicU64::new(last)),
        })
    }

    /// Stores the entry (trimming the oldest past [`KEEP`]) and streams it. A store failure is
    /// logged, never the caller's problem: the action itself already happened or was refused.
    pub async fn record(&self, caller: &Caller, e: Event<'_>) -> Entry {
        let entry = self.entry(caller, e);
        let (store, saved) = (self.store.clone(), entry.clone());
        let written = tokio::task::spawn_blocking(move || {
            store.put_numbered(&saved)?;
            if saved.id % 100 == 0 {
                store.trim::<Entry>(KEEP)?;
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::error!(action = %entry.action, "the audit log could not be written");
        }
        tracing::info!(action = %entry.action, outcome = ?entry.outcome, peer = %entry.peer, remote = entry.remote, detail = %entry.detail, "audit");
        self.hub.frame("audit", "entry", &entry);
        entry
    }

    fn entry(&self, caller: &Caller, e: Event<'_>) -> Entry {
        let (actor, device_id, device_name) = caller.actor();
        Entry {
            id: self.last_id.fetch_add(1, Ordering::SeqCst) + 1,
            time_unix_nano: self.hub.clock().now(),
            actor,
            device_id,
            device_name,
            peer: caller.client.clone(),
            remote: !caller.local,
            action: e.action.to_owned(),
            target: e.target,
            outcome: e.outcome,
            detail: e.detail,
        }
    }

    pub async fn page(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> crate::store::Result<Vec<Entry>> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.page::<Entry>(before, limit))
            .await
            .unwrap_or_else(|e| Err(crate::store::StoreError::Json(e.to_string())))
    }
}

/// Writes one entry straight into the store, outside a running server's log: at start (before
/// the log opens), or from the command line when the server is not running.
pub fn record_offline(store: &Store, action: &str, detail: &str) -> crate::store::Result<()> {
    let entry = Entry {
        id: store.last_number::<Entry>()? + 1,
        time_unix_nano: crate::clock::now_unix_nano(),
        actor: Actor::System,
        device_id: None,
        device_name: None,
        peer: "this machine".into(),
        remote: false,
        action: action.into(),
        target: None,
        outcome: Outcome::Ok,
        detail: detail.into(),
    };
    store.put_numbered(&entry)
}
