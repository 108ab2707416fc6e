//! The writer stage, between ingest and everything that reads committed data: it owns the
//! session [`Tracker`], lets it turn each batch from the ingest queue into seq'd events and
//! session updates, commits them to the [`Store`] in one redb transaction, only then answers each
//! request, and publishes the commit to the live [`Hub`] (the feed and the alert engine read it
//! there). Requests that arrive while a commit is running are gathered into the next batch, so
//! concurrent clients share one fsync. Its session clock asks the tracker, every
//! `check_interval`, to move sessions by time and by their processes (stalled, ended, crashed).
//!
//! Two threads form a two-stage pipeline: `store-writer` applies batch N+1 to the tracker while
//! `store-commit` writes and fsyncs batch N. If a commit fails, every batch applied on top of it
//! is refused too (an epoch counter says which), and the tracker reloads the committed truth.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::ingest::{Committed, Prune, Pruning, Submission, Work};
use crate::live::{Hub, Published};
use crate::session::Commit;
use crate::session::liveness::ProcLiveness;
use crate::session::{Limits, Tracker};
use crate::store::Store;

type Reply = oneshot::Sender<Result<Committed, String>>;

/// Events one [`Prune`] deletes at most: one short write transaction, so ingest never waits long
/// behind retention.
const PRUNE_CHUNK: usize = 2000;

/// The record tables whose records name a session (JSON `session_id`) and go with it.
const PRUNED_WITH_SESSIONS: &[&str] = &["alerts"];

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

/// How the writer batches and how often its clock checks sessions.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// A batch stops growing at this many events, bounding transaction size and latency.
    pub max_events: usize,
    /// Stall and expiry limits.
    pub limits: Limits,
    /// How often the session clock runs.
    pub check_interval: Duration,
    /// The time batches are applied and the session clock's checks are made at.
    pub clock: Clock,
}

pub struct Writer {
    store: Store,
    tracker: Tracker,
    rx: mpsc::Receiver<Work>,
    /// The queue's own sender, for the session clock's ticks: `run` hands it to the clock (the
    /// writer's threads must not hold a sender of the queue they drain, or it would never close).
    ticks: Option<mpsc::Sender<Work>>,
    /// Told about every batch once it is committed.
    hub: Hub,
    config: WriterConfig,
}

impl Writer {
    /// Reads the last seq and takes up the sessions whose run was not over. `ticks` is a sender
    /// of the same queue as `rx`.
    pub fn new(
        store: Store,
        (ticks, rx): (mpsc::Sender<Work>, mpsc::Receiver<Work>),
        hub: Hub,
        config: WriterConfig,
    ) -> anyhow::Result<Writer> {
        let mut tracker = Tracker::with_limits(store.last_seq()?, config.limits.clone());
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
            rx,
            ticks: Some(ticks),
            hub,
            config,
        })
    }

    /// Runs until `cancel` stops the clock and every other sender of the queue is dropped, and
    /// the queue is drained: a shutdown that stops the receivers first commits everything they
    /// accepted.
    pub async fn run(mut self, cancel: CancellationToken) -> anyhow::Result<()> {
        let clock = self
            .ticks
            .take()
            .map(|ticks| tokio::spawn(session_clock(ticks, self.config.check_interval, cancel)));
        let threads = self.spawn()?;
        tokio::task::spawn_blocking(move || threads.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the store writer panicked"))?;
        if let Some(clock) = clock {
            clock.await?;
        }
        Ok(())
    }

    /// Starts both threads; the handle joins them.
    fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
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
                self.work(&epoch, tx);
                if commit_stage.join().is_err() {
                    tracing::error!("the store commit thread panicked");
                }
            })
    }

    /// The `store-writer` thread: gathers batches, applies them, hands them to the commit stage.
    fn work(mut self, epoch: &AtomicU64, tx: std::sync::mpsc::SyncSender<Prepared>) {
        let mut seen_epoch = epoch.load(Ordering::Acquire);
        while let Some(first) = self.rx.blocking_recv() {
            let mut tick = false;
            let mut batch = Vec::new();
            let mut prunes = Vec::new();
            let mut n = 0;
            let mut next = Some(first);
            while let Some(work) = next.take() {
                match work {
                    Work::Tick => tick = true,
                    Work::Prune(p) => prunes.push(p),
                    Work::Batch(s) => {
                        n += s.events.len();
                        batch.push(s);
                    }
                }
                if n < self.config.max_events {
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
            for p in prunes {
                self.prune(p);
            }
            if tick {
                let commit = self.tracker.tick(self.config.clock.now(), &ProcLiveness);
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
        match self
            .tracker
            .apply(events, self.config.clock.now(), &self.store)
        {
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

    /// Deletes one chunk of a session retention chose, after the batches before it (the commit
    /// stage's channel holds at most one, and redb orders write transactions). A session whose
    /// run began again since is kept.
    fn prune(&mut self, p: Prune) {
        let result = if p.first && !self.tracker.forget(&p.session) {
            Ok(Pruning::Running)
        } else {
            self.store
                .prune(
                    &p.session,
                    p.up_to,
                    PRUNE_CHUNK,
                    p.first,
                    PRUNED_WITH_SESSIONS,
                )
                .map(|r| Pruning::Removed {
                    events: r.events,
                    finished: r.done,
                })
                .map_err(|e| e.to_string())
        };
        let _ = p.done.send(result);
    }

    /// Starts the tracker again from what the store holds.
    fn reset(&mut self) {
        self.tracker = Tracker::with_limits(
            self.store.last_seq().unwrap_or(0),
            self.config.limits.clone(),
        );
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
                // Published before the requests are answered, so that whoever got an answer
                // finds the commit in the live figures and the feed (publishing does not wait
                // for any client).
                hub.publish(Published::new(p.commit.events, p.commit.sessions));
                for (range, done) in p.replies {
                    let d = p.duplicates.iter().filter(|i| range.contains(i)).count() as u64;
                    let _ = done.send(Ok(Committed { duplicates: d }));
                }
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

/// Asks the writer to run the session clock (stalls, expiry, agent processes) every `period`.
/// Waits for room in the queue rather than skipping: a busy server checks a little late.
async fn session_clock(tx: mpsc::Sender<Work>, period: Duration, cancel: CancellationToken) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = cancel.cancelled() => return,
        }
        tokio::select! {
            sent = tx.send(Work::Tick) => if sent.is_err() { return },
            _ = cancel.cancelled() => return,
        }
    }
}
