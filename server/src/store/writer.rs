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
use crate::session::Tracker;
use crate::store::{Commit, Store};

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
    rx: mpsc::Receiver<Submission>,
    /// A batch stops growing at this many events, bounding transaction size and latency.
    max_events: usize,
    /// Told about every batch once it is committed.
    hub: Hub,
}

impl Writer {
    pub fn new(
        store: Store,
        rx: mpsc::Receiver<Submission>,
        max_events: usize,
        hub: Hub,
    ) -> anyhow::Result<Writer> {
        let tracker = Tracker::new(store.last_seq()?);
        Ok(Writer {
            store,
            tracker,
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
            let mut batch = vec![first];
            let mut n = batch[0].events.len();
            while n < self.max_events {
                match self.rx.try_recv() {
                    Ok(s) => {
                        n += s.events.len();
                        batch.push(s);
                    }
                    Err(_) => break,
                }
            }
            let now_epoch = epoch.load(Ordering::Acquire);
            if now_epoch != seen_epoch {
                // A commit failed: what the tracker holds was never stored. Start again from the
                // store; every batch built on the lost one is refused by the commit stage.
                seen_epoch = now_epoch;
                self.tracker = Tracker::new(self.store.last_seq().unwrap_or(0));
            }
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
                        epoch: seen_epoch,
                    };
                    if tx.send(prepared).is_err() {
                        tracing::error!("the store commit stage stopped; refusing the rest");
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "loading sessions failed; the batch is refused and clients will retry");
                    self.tracker = Tracker::new(self.store.last_seq().unwrap_or(0));
                    refuse(replies, &format!("reading the store failed: {e}"));
                }
            }
        }
        tracing::debug!("store writer drained and stopped");
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
