//! The forward queue: what waits to go upstream, in its own redb file (`forward-queue.redb` in
//! the data dir), so that it survives restarts and upstream outages without taking the event
//! store's write lock or its fsyncs. Items are numbered in arrival order; the sender reads from
//! the front and removes what the upstream took. Past `max_bytes` the oldest items are dropped
//! and counted — a long outage costs the oldest data, never local ingest.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::normalize::Signal;

/// n → signal tag byte, then the protobuf export request.
const ITEMS: TableDefinition<u64, &[u8]> = TableDefinition::new("forward_items");
/// `next`, `bytes`, `dropped_items`, `dropped_bytes`.
const META: TableDefinition<&str, u64> = TableDefinition::new("forward_meta");

pub const FILE: &str = "forward-queue.redb";

pub struct Queue {
    db: Database,
    max_bytes: u64,
}

/// One queued export request.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub n: u64,
    pub signal: Signal,
    pub body: Vec<u8>,
}

/// Counters kept with the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Depth {
    pub items: u64,
    pub bytes: u64,
    /// Dropped by the size cap since the queue was made.
    pub dropped_items: u64,
    pub dropped_bytes: u64,
}

fn tag(s: Signal) -> u8 {
    match s {
        Signal::Logs => 1,
        Signal::Traces => 2,
        Signal::Metrics => 3,
    }
}

fn signal(tag: u8) -> Option<Signal> {
    match tag {
        1 => Some(Signal::Logs),
        2 => Some(Signal::Traces),
        3 => Some(Signal::Metrics),
        _ => None,
    }
}

fn meta(t: &impl ReadableTable<&'static str, u64>, key: &str) -> Result<u64, redb::Error> {
    Ok(t.get(key)?.map_or(0, |v| v.value()))
}

impl Queue {
    pub fn open(dir: &Path, max_bytes: u64) -> anyhow::Result<Queue> {
        let path = dir.join(FILE);
        let db = Database::builder()
            .set_cache_size(4 * 1024 * 1024)
            .create(&path)?;
        crate::store::set_private(&path)?;
        let tx = db.begin_write()?;
        tx.open_table(ITEMS)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(Queue { db, max_bytes })
    }

    /// Appends items in one transaction; drops the oldest while the queue is over its cap.
    pub fn push(&self, items: &[(Signal, Vec<u8>)]) -> Result<(), redb::Error> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(ITEMS)?;
            let mut m = tx.open_table(META)?;
            let (mut next, mut bytes) = (meta(&m, "next")?, meta(&m, "bytes")?);
            for (s, body) in items {
                let mut v = Vec::with_capacity(body.len() + 1);
                v.push(tag(*s));
                v.extend_from_slice(body);
                t.insert(next, v.as_slice())?;
                next += 1;
                bytes += v.len() as u64;
            }
            let (mut dropped, mut dropped_bytes) = (0, 0);
            while bytes > self.max_bytes {
                let Some((_, v)) = t.pop_first()? else { break };
                let len = v.value().len() as u64;
                bytes -= len;
                dropped += 1;
                dropped_bytes += len;
            }
            m.insert("next", next)?;
            m.insert("bytes", bytes)?;
            if dropped > 0 {
                let d = meta(&m, "dropped_items")? + dropped;
                let db = meta(&m, "dropped_bytes")? + dropped_bytes;
                m.insert("dropped_items", d)?;
                m.insert("dropped_bytes", db)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Up to `max` items from the front, in order.
    pub fn front(&self, max: usize) -> Result<Vec<Item>, redb::Error> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ITEMS)?;
        let mut out = Vec::new();
        for row in t.iter()?.take(max) {
            let (k, v) = row?;
            let v = v.value();
            // An item of a signal this version does not know is skipped (and removed with the
            // next acknowledgement).
            if let Some((&tag, body)) = v.split_first()
                && let Some(signal) = signal(tag)
            {
                out.push(Item {
                    n: k.value(),
                    signal,
                    body: body.to_vec(),
                });
            }
        }
        Ok(out)
    }

    /// Removes every item numbered up to `n` (the upstream took them, or refused them for good).
    pub fn remove_through(&self, n: u64) -> Result<(), redb::Error> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(ITEMS)?;
            let mut m = tx.open_table(META)?;
            let mut bytes = meta(&m, "bytes")?;
            let mut freed = 0;
            t.retain_in(..=n, |_, v| {
                freed += v.len() as u64;
                false
            })?;
            bytes = bytes.saturating_sub(freed);
            m.insert("bytes", bytes)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn depth(&self) -> Result<Depth, redb::Error> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ITEMS)?;
        let m = tx.open_table(META)?;
        Ok(Depth {
            items: t.len()?,
            bytes: meta(&m, "bytes")?,
            dropped_items: meta(&m, "dropped_items")?,
            dropped_bytes: meta(&m, "dropped_bytes")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_in_order_across_a_reopen_and_the_cap_drops_the_oldest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path(), 1000).expect("open");
        let item = |i: u8| (Signal::Logs, vec![i; 300]);
        q.push(&[item(1), item(2)]).expect("push");
        q.push(&[item(3)]).expect("push");
        drop(q);
        let q = Queue::open(dir.path(), 1000).expect("reopen");
        let front = q.front(10).expect("front");
        assert_eq!(
            front.iter().map(|i| i.body[0]).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        q.remove_through(front[0].n).expect("remove");
        assert_eq!(q.front(1).expect("front")[0].body[0], 2);
        // Two more of 301 bytes: 4 × 301 > 1000, so the oldest (2) is dropped and counted.
        q.push(&[item(4), item(5)]).expect("push");
        let d = q.depth().expect("depth");
        assert_eq!((d.items, d.bytes, d.dropped_items), (3, 903, 1));
        let left: Vec<u8> = q
            .front(10)
            .expect("front")
            .iter()
            .map(|i| i.body[0])
            .collect();
        assert_eq!(left, [3, 4, 5]);
    }
}
