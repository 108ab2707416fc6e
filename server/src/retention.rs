//! Retention: keeps the store small for months. Every `[retention] check_every_secs` a pass
//! deletes whole sessions whose run is over — last seen more than `max_age_days` ago, and then,
//! oldest first, while the data in use passes `max_size_mib` — with their events, turns and
//! alerts. A running session is never deleted (the writer's tracker refuses one that began
//! again). Deletion goes through the writer's queue a chunk at a time, behind whatever ingest
//! queued first, so a pass never holds ingest up for long. When a pass leaves more than
//! `compact_free_ratio` of the file free, the file is compacted so that it actually shrinks
//! (writes wait while that runs). What the last pass did is kept for `/api/stats` and
//! `/metrics`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::ingest::{Prune, Pruning, Work};
use crate::session::State;
use crate::store::{Space, Store};

const DAY_NANOS: i64 = 86_400 * 1_000_000_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Sessions last seen longer ago than this are deleted (0: no age limit).
    pub max_age_days: u64,
    /// Oldest sessions are deleted while the data in use is larger (0: no size limit).
    pub max_size_mib: u64,
    pub check_every_secs: u64,
    /// Compact after a pass that leaves more than this share of the file free.
    pub compact_free_ratio: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_age_days: 30,
            max_size_mib: 1024,
            check_every_secs: 600,
            compact_free_ratio: 0.5,
        }
    }
}

/// What one pass did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Pass {
    pub finished_unix_nano: i64,
    pub took_ms: u64,
    pub sessions_removed: u64,
    pub events_removed: u64,
    /// Chosen, but running again by the time they were reached: kept.
    pub sessions_kept_running: u64,
    pub before: Space,
    pub after: Space,
    pub compacted: bool,
    /// Why the pass stopped early, if it did.
    pub error: Option<String>,
}

/// The last pass and the totals since start, shared with the read API.
#[derive(Clone, Default)]
pub struct Status(Arc<Mutex<Totals>>);

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub last_pass: Option<Pass>,
    pub sessions_removed: u64,
    pub events_removed: u64,
    pub passes: u64,
}

impl Status {
    pub fn get(&self) -> Totals {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, pass: &Pass) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        t.sessions_removed += pass.sessions_removed;
        t.events_removed += pass.events_removed;
        t.passes += 1;
        t.last_pass = Some(pass.clone());
    }
}

/// The retention stage; [`Retention::pass`] runs one pass now (also `POST /api/store/compact`).
#[derive(Clone)]
pub struct Retention {
    store: Store,
    queue: mpsc::Sender<Work>,
    settings: Settings,
    clock: Clock,
    status: Status,
    /// One pass at a time.
    running: Arc<tokio::sync::Mutex<()>>,
    /// The server is stopping: a pass ends between sessions.
    stopping: CancellationToken,
}

impl Retention {
    pub fn new(
        store: Store,
        queue: mpsc::Sender<Work>,
        settings: Settings,
        clock: Clock,
        stopping: CancellationToken,
    ) -> Self {
        Retention {
            store,
            queue,
            settings,
            clock,
            status: Status::default(),
            running: Arc::default(),
            stopping,
        }
    }

    pub fn status(&self) -> Status {
        self.status.clone()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub async fn run(self) {
        let cancel = self.stopping.clone();
        let period = Duration::from_secs(self.settings.check_every_secs.max(1));
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = cancel.cancelled() => return,
            }
            let pass = self.pass(false).await;
            if pass.sessions_removed > 0 || pass.error.is_some() {
                tracing::info!(
                    sessions = pass.sessions_removed,
                    events = pass.events_removed,
                    file_bytes = pass.after.file_bytes,
                    compacted = pass.compacted,
                    error = pass.error.as_deref().unwrap_or(""),
                    "retention pass"
                );
            }
        }
    }

    /// Deletes what the limits say, then compacts if the file is free enough (always with
    /// `compact`).
    pub async fn pass(&self, compact: bool) -> Pass {
        let _one = self.running.lock().await;
        let started = std::time::Instant::now();
        let mut pass = Pass::default();
        if let Err(e) = self.delete(&mut pass).await {
            pass.error = Some(e);
        }
        let free_enough = pass.after.free_ratio() > self.settings.compact_free_ratio;
        if pass.error.is_none() && (compact || free_enough) {
            let store = self.store.clone();
            match tokio::task::spawn_blocking(move || store.compact()).await {
                Ok(Ok((_, after))) => {
                    pass.after = after;
                    pass.compacted = true;
                }
                Ok(Err(e)) => pass.error = Some(format!("compacting: {e}")),
                Err(e) => pass.error = Some(format!("compacting: {e}")),
            }
        }
        pass.took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        pass.finished_unix_nano = self.clock.now();
        self.status.record(&pass);
        pass
    }

    async fn delete(&self, pass: &mut Pass) -> Result<(), String> {
        let store = self.store.clone();
        let (settings, now) = (self.settings.clone(), self.clock.now());
        let (victims, before) = tokio::task::spawn_blocking(move || choose(&store, &settings, now))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        pass.before = before;
        for (id, up_to) in victims {
            if self.stopping.is_cancelled() {
                return Err("the server is stopping".into());
            }
            let mut first = true;
            loop {
                match self.prune(&id, up_to, first).await? {
                    Pruning::Running => {
                        pass.sessions_kept_running += 1;
                        break;
                    }
                    Pruning::Removed { events, finished } => {
                        pass.events_removed += events;
                        if first {
                            pass.sessions_removed += 1;
                        }
                        first = false;
                        if finished {
                            break;
                        }
                    }
                }
            }
        }
        let store = self.store.clone();
        pass.after = tokio::task::spawn_blocking(move || store.space())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn prune(&self, session: &str, up_to: u64, first: bool) -> Result<Pruning, String> {
        let (done, answer) = oneshot::channel();
        let work = Work::Prune(Prune {
            session: session.to_owned(),
            up_to,
            first,
            done,
        });
        self.queue
            .send(work)
            .await
            .map_err(|_| "the writer stopped".to_owned())?;
        answer.await.map_err(|_| "the writer stopped".to_owned())?
    }
}

/// The sessions to delete, oldest first, each with its last seq then; and the space now.
fn choose(
    store: &Store,
    s: &Settings,
    now: i64,
) -> Result<(Vec<(String, u64)>, Space), crate::store::StoreError> {
    let space = store.space()?;
    let mut over: Vec<_> = store
        .sessions()?
        .into_iter()
        .filter(|x| State::parse(&x.state).is_some_and(State::is_final))
        .collect();
    over.sort_by_key(|x| x.last_seen_unix_nano);
    let events = store.event_count()?.max(1);
    let per_event = space.allocated_bytes / events;
    let cap = s.max_size_mib.saturating_mul(1024 * 1024);
    let mut excess = if cap > 0 {
        space.allocated_bytes.saturating_sub(cap)
    } else {
        0
    };
    let cutoff = i64::try_from(s.max_age_days).map_or(i64::MIN, |d| {
        now.saturating_sub(d.saturating_mul(DAY_NANOS))
    });
    let mut victims = Vec::new();
    for x in over {
        let old = s.max_age_days > 0 && x.last_seen_unix_nano < cutoff;
        if !old && excess == 0 {
            break;
        }
        excess = excess.saturating_sub(x.events.saturating_mul(per_event));
        victims.push((x.id, x.last_seq));
    }
    Ok((victims, space))
}
