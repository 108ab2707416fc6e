//! The ticker stage: seeds the hub's live figures from today's stored events at start-up, then
//! makes a `tick` frame every `period` (5 s in the server) from the stored sessions. It reads the
//! store and writes only to the hub.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Hub;
use crate::store::Store;

/// Today's events beyond this many start the figures partly empty: a start-up must stay quick.
const SEED_MAX_EVENTS: usize = 500_000;
const DAY_NANOS: i64 = 24 * 3600 * 1_000_000_000;

pub struct Ticker {
    store: Store,
    hub: Hub,
    period: Duration,
    /// The last seq stored when the ticker was made, before the server took any request: the
    /// seed reads up to it, and the hub counts every later commit as it is published (else an
    /// event committed while the seed runs would count twice).
    seed_up_to: u64,
}

impl Ticker {
    /// Made before the server takes requests (see `seed_up_to`).
    pub fn new(store: Store, hub: Hub, period: Duration) -> anyhow::Result<Ticker> {
        let seed_up_to = store.last_seq()?;
        Ok(Ticker {
            store,
            hub,
            period,
            seed_up_to,
        })
    }

    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        tokio::select! {
            () = self.seed(&cancel) => {},
            _ = cancel.cancelled() => return Ok(()),
        }
        let mut every = tokio::time::interval(self.period);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = cancel.cancelled() => return Ok(()),
            }
            let s = self.store.clone();
            match tokio::task::spawn_blocking(move || s.sessions()).await {
                Ok(Ok(sessions)) => self.hub.tick(&sessions),
                Ok(Err(e)) => tracing::warn!(error = %e, "reading sessions for the live tick"),
                Err(e) => tracing::warn!(error = %e, "live tick task failed"),
            }
        }
    }

    /// Adds today's (UTC) model requests and tool calls to the figures.
    async fn seed(&self, cancel: &CancellationToken) {
        let now = self.hub.clock().now();
        let (s, h, stop) = (self.store.clone(), self.hub.clone(), cancel.clone());
        let (since, up_to) = (now - now.rem_euclid(DAY_NANOS), self.seed_up_to);
        let seeded = tokio::task::spawn_blocking(move || {
            s.scan_recent(since, up_to, SEED_MAX_EVENTS, |e| {
                if e.kind == "api_request" || e.kind == "tool_finished" {
                    h.seed(std::slice::from_ref(&e));
                }
                // A shutdown must not wait for the scan.
                !stop.is_cancelled()
            })
        });
        if let Ok(Err(e)) = seeded.await {
            tracing::warn!(error = %e, "could not read today's events for the live figures");
        }
    }
}
