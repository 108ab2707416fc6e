//! Live: the hub that hands every committed batch to the WebSocket clients. The store writer
//! publishes after each commit; each client holds a bounded receiver. A client that falls too far
//! behind loses its place (the broadcast drops for it alone) and is told to resync; it can never
//! slow ingest or the other clients.

pub mod figures;
pub mod ticker;
pub mod totals;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::clock::Clock;
use crate::proto::store::{Event, Session};
pub use figures::Figures;
pub use ticker::Ticker;
pub use totals::Totals;

/// What one commit changed, as it was committed. Events carry no attributes here: they stay in
/// the store, one request away, so that frames stay small.
#[derive(Debug, Default)]
pub struct Published {
    pub events: Vec<Event>,
    pub sessions: Vec<Session>,
    /// The feed's frames for this commit, rendered once by the first client that sends them and
    /// shared by the rest: (seq, frame) for events, (0, frame) for sessions.
    frames: std::sync::OnceLock<Vec<(u64, String)>>,
}

impl Published {
    pub fn new(events: Vec<Event>, sessions: Vec<Session>) -> Published {
        Published {
            events,
            sessions,
            frames: std::sync::OnceLock::new(),
        }
    }

    /// The rendered frames, made by `render` the first time they are asked for.
    pub fn frames(
        &self,
        render: impl FnOnce(&Published) -> Vec<(u64, String)>,
    ) -> &[(u64, String)] {
        self.frames.get_or_init(|| render(self))
    }
}

/// What a dashboard shows: the session on screen, if any, and whether its tab is visible.
pub type Viewing = (Option<String>, bool);

/// A dashboard's "I show this session" counts this long after it last said so: a page that
/// stopped refreshing it (asleep, frozen, gone without closing) no longer silences pushes.
pub const VIEWING_LAPSES_NS: i64 = 120 * 1_000_000_000;

/// A cheap-to-clone handle on the broadcast, the running figures and the latest tick.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Published>>,
    /// `std::sync::Mutex`: held for a few additions per commit, never across `.await`.
    figures: Arc<Mutex<Figures>>,
    /// Totals since start, for `/metrics`; the same kind of lock as `figures`.
    totals: Arc<Mutex<Totals>>,
    tick: Arc<watch::Sender<Arc<Value>>>,
    /// Stages that must see every commit, however far behind (the alert engine): unbounded,
    /// unlike the clients' broadcast. `std::sync::Mutex`: never held across `.await`.
    taps: Arc<Mutex<Vec<mpsc::UnboundedSender<Arc<Published>>>>>,
    /// `alert` and `audit` frames for the clients. A client that lags misses some; they are
    /// one `GET /api/alerts` or `/api/audit` away.
    notices: broadcast::Sender<Arc<String>>,
    /// What each connected dashboard shows, by connection id.
    /// When each said so last: a claim lapses after [`VIEWING_LAPSES_NS`] without a refresh.
    viewing: Arc<Mutex<HashMap<u64, (Viewing, i64)>>>,
    /// The server's time, which the figures' windows (the last 5 minutes, today) are taken at.
    clock: Clock,
}

impl Hub {
    /// `capacity` is how many commits a client may lag before it must resync; tool latency is
    /// kept over `tool_window_secs`.
    pub fn new(capacity: usize, tool_window_secs: u64, clock: Clock) -> Hub {
        let (tx, _) = broadcast::channel(capacity.max(1));
        let (tick, _) = watch::channel(Arc::new(Value::Null));
        Hub {
            tx,
            figures: Arc::new(Mutex::new(Figures::new(tool_window_secs))),
            totals: Arc::default(),
            tick: Arc::new(tick),
            taps: Arc::default(),
            notices: broadcast::channel(64).0,
            viewing: Arc::default(),
            clock,
        }
    }

    /// The server's clock, as the hub was given it.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Every commit from now on, none dropped.
    pub fn tap(&self) -> mpsc::UnboundedReceiver<Arc<Published>> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.taps).push(tx);
        rx
    }

    /// Sends a `{"type": kind, key: value}` frame to every client: an `alert`, an `audit`
    /// entry. The value comes as whatever serializes to the API's shape: the hub only carries it.
    pub fn frame(&self, kind: &str, key: &str, value: &impl serde::Serialize) {
        let frame = json!({"type": kind, key: value}).to_string();
        let _ = self.notices.send(Arc::new(frame));
    }

    pub fn notices(&self) -> broadcast::Receiver<Arc<String>> {
        self.notices.subscribe()
    }

    /// Records what dashboard `connection` shows (`None` when it is gone).
    pub fn set_viewing(&self, connection: u64, viewing: Option<Viewing>) {
        let now = self.clock.now();
        let mut v = lock(&self.viewing);
        match viewing {
            Some(shown) => v.insert(connection, (shown, now)),
            None => v.remove(&connection),
        };
    }

    /// Whether some dashboard shows this session in a visible tab right now.
    pub fn is_watched(&self, session_id: &str) -> bool {
        let now = self.clock.now();
        lock(&self.viewing).values().any(|((s, visible), at)| {
            *visible && s.as_deref() == Some(session_id) && now - at < VIEWING_LAPSES_NS
        })
    }

    /// USD spent today (UTC), as the live figures count it.
    pub fn today_usd(&self) -> f64 {
        self.figures().today(self.clock.now())
    }

    fn figures(&self) -> MutexGuard<'_, Figures> {
        lock(&self.figures)
    }

    pub fn publish(&self, p: Published) {
        self.figures().add(&p.events, self.clock.now());
        lock(&self.totals).add(&p.events);
        let p = Arc::new(p);
        lock(&self.taps).retain(|tap| tap.send(p.clone()).is_ok());
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(p);
    }

    /// Tokens, cost, API errors and tool calls committed since start.
    pub fn totals(&self) -> Totals {
        lock(&self.totals).clone()
    }

    /// Feeds the figures with events committed before this process started.
    pub fn seed(&self, events: &[Event]) {
        self.figures().add(events, self.clock.now());
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    /// The latest `tick` frame (`Null` before the first).
    pub fn ticks(&self) -> watch::Receiver<Arc<Value>> {
        self.tick.subscribe()
    }

    /// The burn figures and tool latency, with sessions counted by state.
    pub fn stats(&self, sessions: &[Session]) -> Value {
        let now = self.clock.now();
        let mut by_state = serde_json::Map::new();
        for s in sessions {
            let n = by_state.get(&s.state).and_then(Value::as_u64).unwrap_or(0);
            by_state.insert(s.state.clone(), json!(n + 1));
        }
        let watching = lock(&self.viewing)
            .values()
            .filter(|((s, visible), at)| *visible && s.is_some() && now - at < VIEWING_LAPSES_NS)
            .count();
        let mut f = self.figures();
        json!({
            "burn": f.burn(now),
            "tool_latency": f.tool_latency(now),
            "sessions_by_state": by_state,
            "dashboards_watching_a_session": watching,
        })
    }

    /// Makes and sends a `tick` frame: burn and sessions by state.
    pub fn tick(&self, sessions: &[Session]) {
        let stats = self.stats(sessions);
        let frame = json!({
            "type": "tick",
            "burn": stats["burn"],
            "sessions_by_state": stats["sessions_by_state"],
        });
        self.tick.send_replace(Arc::new(frame));
    }
}

/// A poisoned lock still holds consistent data here (each holder makes whole updates).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
