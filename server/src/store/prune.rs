//! Retention's part of the store: removing a whole session — its record, turns and the records
//! of other tables that name it (alerts), then its events a bounded chunk per transaction so
//! that no write waits long behind one — and giving the freed pages back to the file system
//! ([`Store::compact`], which needs the file to itself for a moment).

use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{ReadableTable, TableDefinition, TableError};

use super::{EVENTS, Result, SESSION_EVENTS, SESSIONS, Store, StoreError, TURNS, begin_write};

/// What one [`Store::prune`] call removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    /// No event of the session at or below the bound is left.
    pub done: bool,
}

/// How much of the file holds data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Space {
    pub file_bytes: u64,
    /// Pages in use.
    pub allocated_bytes: u64,
    /// Keys and values themselves.
    pub stored_bytes: u64,
}

impl Space {
    /// The share of the file that is free pages, 0 to 1.
    pub fn free_ratio(&self) -> f64 {
        if self.file_bytes == 0 {
            return 0.0;
        }
        self.file_bytes.saturating_sub(self.allocated_bytes) as f64 / self.file_bytes as f64
    }
}

impl Store {
    /// Removes part of session `id`: with `first`, its record, its turns and every record of the
    /// `named` JSON tables (alerts) whose `session_id` is `id`; then up to `max_events` of its
    /// events with seq ≤ `up_to` (later ones belong to a run that began after the pass chose it).
    pub fn prune(
        &self,
        id: &str,
        up_to: u64,
        max_events: usize,
        first: bool,
        named: &[&str],
    ) -> Result<Pruned> {
        let tx = begin_write(self.db()?.as_ref())?;
        let mut pruned = Pruned::default();
        {
            if first {
                tx.open_table(SESSIONS)?.remove(id)?;
                let mut turns = tx.open_table(TURNS)?;
                turns.retain_in((id, "")..(id, "\u{10FFFF}"), |k, _| k.0 != id)?;
                let needle = format!("\"session_id\":{}", serde_json::Value::from(id));
                for table in named {
                    let def: TableDefinition<u64, &[u8]> = TableDefinition::new(table);
                    match tx.open_table(def) {
                        Ok(mut t) => t.retain(|_, v| {
                            !v.windows(needle.len()).any(|w| w == needle.as_bytes())
                        })?,
                        Err(TableError::TableDoesNotExist(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            let mut index = tx.open_table(SESSION_EVENTS)?;
            let seqs: Vec<u64> = index
                .range((id, 0)..=(id, up_to))?
                .take(max_events + 1)
                .map(|row| row.map(|(k, _)| k.value().1))
                .collect::<std::result::Result<_, _>>()?;
            pruned.done = seqs.len() <= max_events;
            let mut events = tx.open_table(EVENTS)?;
            for seq in seqs.iter().take(max_events) {
                index.remove((id, *seq))?;
                events.remove(*seq)?;
                pruned.events += 1;
            }
        }
        tx.commit()?;
        Ok(pruned)
    }

    /// The file's size and how much of it is in use.
    pub fn space(&self) -> Result<Space> {
        let tx = begin_write(self.db()?.as_ref())?;
        let stats = tx.stats()?;
        tx.abort()?;
        let page = stats.page_size() as u64;
        Ok(Space {
            file_bytes: self.size_bytes(),
            allocated_bytes: stats.allocated_pages() * page,
            stored_bytes: stats.stored_bytes(),
        })
    }

    /// Moves the data to the front of the file and cuts off the free pages. Readers and writers
    /// are refused ([`StoreError::Unavailable`]) while it runs; returns the space before and after.
    pub fn compact(&self) -> Result<(Space, Space)> {
        let before = self.space()?;
        let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
        let mut db = take_alone(&mut slot, super::REOPEN_WAIT)?;
        let compacted = Arc::get_mut(&mut db)
            .expect("take_alone returns the only handle")
            .compact()
            .map_err(|e| StoreError::Db(e.into()));
        *slot = Some(db);
        drop(slot);
        compacted?;
        Ok((before, self.space()?))
    }
}

/// Takes the database out of `slot` once no reader holds it (up to `wait`); on time-out it is
/// put back and the store is said to be busy.
pub(super) fn take_alone(
    slot: &mut Option<Arc<redb::Database>>,
    wait: Duration,
) -> Result<Arc<redb::Database>> {
    let deadline = Instant::now() + wait;
    let Some(mut db) = slot.take() else {
        return Err(StoreError::Unavailable("it is being opened again".into()));
    };
    loop {
        if Arc::get_mut(&mut db).is_some() {
            return Ok(db);
        }
        if Instant::now() >= deadline {
            *slot = Some(db);
            return Err(StoreError::Unavailable("its readers hold it".into()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
