//! Live: the hub that hands every committed batch to the WebSocket clients. The store writer
//! publishes after each commit; each client holds a bounded receiver. A client that falls too far
//! behind loses its place (the broadcast drops for it alone) and is told to resync; it can never
//! slow ingest or the other clients.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::proto::store::{Event, Session};

/// What one commit changed, as it was committed. Events carry no attributes here: they stay in
/// the store, one request away, so that frames stay small.
#[derive(Debug, Default)]
pub struct Published {
    pub events: Vec<Event>,
    pub sessions: Vec<Session>,
}

/// A cheap-to-clone handle on the broadcast.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Published>>,
}

impl Hub {
    /// `capacity` is how many commits a client may lag before it must resync.
    pub fn new(capacity: usize) -> Hub {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Hub { tx }
    }

    pub fn publish(&self, p: Published) {
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(Arc::new(p));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }
}
