//! The writer thread: takes normalized batches from ingest, lets the tracker turn them into
//! seq'd events and session updates, commits them in one redb transaction, and only then answers
//! each request. Requests that arrive while a commit is running are gathered into the next batch,
//! so concurrent clients share one fsync.

use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::normalize::SessionEvent;
use crate::session::Tracker;
use crate::store::Store;

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

pub struct Writer {
    store: Store,
    tracker: Tracker,
    rx: mpsc::Receiver<Submission>,
    /// A batch stops growing at this many events, bounding transaction size and latency.
    max_events: usize,
}

impl Writer {
    pub fn new(
        store: Store,
        rx: mpsc::Receiver<Submission>,
        max_events: usize,
    ) -> anyhow::Result<Writer> {
        let tracker = Tracker::new(store.last_seq()?);
        Ok(Writer {
            store,
            tracker,
            rx,
            max_events,
        })
    }

    /// Runs on its own thread until every sender is dropped and the queue is drained, so a
    /// shutdown that stops the receivers first commits everything already accepted.
    pub fn spawn(self) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || self.run())
    }

    fn run(mut self) {
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
            self.commit(batch);
        }
        tracing::debug!("store writer drained and stopped");
    }

    fn commit(&mut self, batch: Vec<Submission>) {
        let mut events = Vec::new();
        let mut replies = Vec::with_capacity(batch.len());
        for s in batch {
            let range = events.len()..events.len() + s.events.len();
            events.extend(s.events);
            replies.push((range, s.done));
        }
        let now = now_unix_nano();
        let result = self
            .tracker
            .apply(events, now, &self.store)
            .and_then(|applied| {
                self.store.write(&applied.commit)?;
                Ok(applied.duplicates)
            });
        match result {
            Ok(duplicates) => {
                for (range, done) in replies {
                    let d = duplicates.iter().filter(|p| range.contains(p)).count() as u64;
                    let _ = done.send(Ok(Committed { duplicates: d }));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store commit failed; the batch is refused and clients will retry");
                // The tracker already counted the batch; forget what it holds so it reloads the
                // committed truth from the store.
                let last = self.store.last_seq().unwrap_or(0);
                self.tracker = Tracker::new(last);
                for (_, done) in replies {
                    let _ = done.send(Err(format!("store commit failed: {e}")));
                }
            }
        }
    }
}

pub fn now_unix_nano() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
