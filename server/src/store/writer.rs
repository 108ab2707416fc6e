//! The writer: takes normalized batches from ingest, lets the tracker turn them into seq'd
//! events and session updates, commits them in one redb transaction, and only then answers each
//! request. Requests that arrive while a commit is running are gathered into the next batch, so
//! concurrent clients share one fsync.
//!
//! Two threads form a two-stage pipeline: `store-writer` applies batch N+1 to the tracker while
//! `store-commit` writes and fsyncs batch N. If a commit fails, every batch applied on top of it
//! is refused too (an epoch counter says which), and the tracker reloads the committed truth.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::live::{Hub, Published};
use crate::normalize::SessionEvent;
use crate::session::liveness::ProcLiveness;
use crate::session::{Limits, Tracker};
use crate::store::{Commit, Store};

/// What the writer is asked to do.
pub enum Work {
    Batch(Submission),
    /// Let the clock and process checks move sessions (stalled, ended, crashed).
    Tick,
}

/// One ingest request's events, and where to say they are committed.
pub struct Submission {
    pub events: Vec<SessionEvent>,
    pub done: oneshot::Sender<Result<Committed, String>>,
}

/// What became of a submission's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// Events dropped as second reports of a fact already stored.
    pub duplicates: u64,
}

type Reply = oneshot::Sender<Result<Committed, String>>;

/// A batch the tracker has applied, on its way to the commit stage.
struct Prepared {
    commit: Commit,
    /// Each request's span of the batch's events, and its reply.
    replies: Vec<(Range<usize>, Reply)>,
    /// Positions of events dropped as duplicates.
    duplicates: Vec<usize>,
    /// The commit epoch the tracker state was built on.
    epoch: u64,
}

pub struct Writer {
    store: Store,
    tracker: Tracker,
    rx: mpsc::Receiver<Work>,
    /// A batch stops growing at this many events, bounding transaction size and latency.
    max_events: usize,
    /// Told about every batch once it is committed.
    hub: Hub,
    /// Stall and expiry limits, kept to rebuild the tracker after a failed commit.
    limits: Limits,
}

impl Writer {
    pub fn new(
        store: Store,
        rx: mpsc::Receiver<Work>,
        max_events: usize,
        hub: Hub,
        limits: Limits,
    ) -> anyhow::Result<Writer> {
        let mut tracker = Tracker::with_limits(store.last_seq()?, limits.clone());
        let resumed = tracker.resume(&store)?;
        if resumed > 0 {
            tracing::info!(
                sessions = resumed,
                "watching sessions whose run was not over"
            );
        }
        Ok(Writer {
            store,
            tracker,
            limits,
            rx,
            max_events,
            hub,
        })
    }

    /// Runs until every sender is dropped and the queue is drained, so a shutdown that stops the
    /// receivers first commits everything already accepted. The handle joins both stages.
    pub fn spawn(self) -> std::io::Result<JoinHandle<()>> {
        // Bumped by each failed commit; batches prepared under an older epoch are refused.
        let epoch = Arc::new(AtomicU64::new(0));
        // One batch may wait while another commits: enough to overlap the stages, and bounded.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Prepared>(1);
        let commit_stage = {
            let (store, epoch, hub) = (self.store.clone(), epoch.clone(), self.hub.clone());
            std::thread::Builder::new()
                .name("store-commit".into())
                .spawn(move || commit_stage(&store, &epoch, &hub, rx))?
        };
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                self.run(&epoch, tx);
                if commit_stage.join().is_err() {
                    tracing::error!("the store commit thread panicked");
                }
            })
    }

    fn run(mut self, epoch: &AtomicU64, tx: std::sync::mpsc::SyncSender<Prepared>) {
        let mut seen_epoch = epoch.load(Ordering::Acquire);
        while let Some(first) = self.rx.blocking_recv() {
            let mut tick = false;
            let mut batch = Vec::new();
            let mut n = 0;
            let mut next = Some(first);
            while let Some(work) = next.take() {
                match work {
                    Work::Tick => tick = true,
                    Work::Batch(s) => {
                        n += s.events.len();
                        batch.push(s);
                    }
                }
                if n < self.max_events {
                    next = self.rx.try_recv().ok();
                }
            }
            let now_epoch = epoch.load(Ordering::Acquire);
            if now_epoch != seen_epoch {
                // A commit failed: what the tracker holds was never stored. Start again from the
                // store; every batch built on the lost one is refused by the commit stage.
                seen_epoch = now_epoch;
                self.reset();
            }
            if !batch.is_empty() && !self.apply(batch, n, seen_epoch, &tx) {
                return;
            }
            if tick {
                let commit = self.tracker.tick(now_unix_nano(), &ProcLiveness);
                if !commit.sessions.is_empty() {
                    let prepared = Prepared {
                        commit,
                        replies: Vec::new(),
                        duplicates: Vec::new(),
                        epoch: seen_epoch,
                    };
                    if tx.send(prepared).is_err() {
                        return;
                    }
                }
            }
        }
        tracing::debug!("store writer drained and stopped");
    }

    /// Applies a batch of submissions and passes it to the commit stage; `false` when that stage
    /// is gone.
    fn apply(
        &mut self,
        batch: Vec<Submission>,
        n: usize,
        epoch: u64,
        tx: &std::sync::mpsc::SyncSender<Prepared>,
    ) -> bool {
        let mut events = Vec::with_capacity(n);
        let mut replies = Vec::with_capacity(batch.len());
        for s in batch {
            let range = events.len()..events.len() + s.events.len();
            events.extend(s.events);
            replies.push((range, s.done));
        }
        match self.tracker.apply(events, now_unix_nano(), &self.store) {
            Ok(applied) => {
                let prepared = Prepared {
                    commit: applied.commit,
                    replies,
                    duplicates: applied.duplicates,
                    epoch,
                };
                if tx.send(prepared).is_err() {
                    tracing::error!("the store commit stage stopped; refusing the rest");
                    return false;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "loading sessions failed; the batch is refused and clients will retry");
                self.reset();
                refuse(replies, &format!("reading the store failed: {e}"));
            }
        }
        true
    }

    /// Starts the tracker again from what the store holds.
    fn reset(&mut self) {
        self.tracker =
            Tracker::with_limits(self.store.last_seq().unwrap_or(0), self.limits.clone());
        if let Err(e) = self.tracker.resume(&self.store) {
            tracing::error!(error = %e, "reloading live sessions failed");
        }
    }
}

fn commit_stage(
    store: &Store,
    epoch: &AtomicU64,
    hub: &Hub,
    rx: std::sync::mpsc::Receiver<Prepared>,
) {
    for p in rx {
        if p.epoch != epoch.load(Ordering::Acquire) {
            refuse(p.replies, "an earlier batch failed to commit; retry");
            continue;
        }
        match store.write(&p.commit) {
            Ok(()) => {
                for (range, done) in p.replies {
                    let d = p.duplicates.iter().filter(|i| range.contains(i)).count() as u64;
                    let _ = done.send(Ok(Committed { duplicates: d }));
                }
                hub.publish(Published::new(p.commit.events, p.commit.sessions));
            }
            Err(e) => {
                tracing::error!(error = %e, "store commit failed; the batch is refused and clients will retry");
                epoch.fetch_add(1, Ordering::AcqRel);
                refuse(p.replies, &format!("store commit failed: {e}"));
            }
        }
    }
}

fn refuse(replies: Vec<(Range<usize>, Reply)>, why: &str) {
    for (_, done) in replies {
        let _ = done.send(Err(why.to_owned()));
    }
}

pub fn now_unix_nano() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
