//! Store: the redb file that keeps sessions, turns and events. Written only by the
//! [`crate::writer::Writer`] stage, one write transaction per batch; read concurrently by the
//! read API (redb readers see the last committed transaction and never block the writer).
//!
//! Storage faults: after a failed write (a full disk) redb refuses everything until the file is
//! opened again, so the store remembers the fault ([`Store::fault`], which `/api/health`
//! reports) and the next write first reopens the file — writes resume by themselves once space
//! returns; nothing that was acknowledged is lost (a failed commit is never acknowledged). A
//! first start that cannot create the file leaves none behind.

mod prune;
pub mod records;

pub use prune::{Pruned, Space};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::proto::store::{Event, Session, Turn};
use crate::session::{Backing, Commit, Loaded};

/// seq → Event
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// (session id, seq) → the event's fact key ("" for none): each session's events in order, and
/// the facts it has recorded, so deduplication survives a restart without a table of its own.
const SESSION_EVENTS: TableDefinition<(&str, u64), &str> = TableDefinition::new("session_events");
/// session id → Session
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// (session id, turn id) → Turn
const TURNS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("turns");
/// Named counters: `last_seq`.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub const DB_FILE: &str = "observatory.redb";

/// redb's page cache. Its 1 GiB default made memory grow with the data written; writes are
/// append-mostly and reads are recent, so a small cache costs nothing measurable.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// A write transaction that saves the allocator state with its commit, so that opening the file
/// after a crash takes milliseconds instead of a full repair (seconds at a million events).
fn begin_write(db: &Database) -> Result<redb::WriteTransaction> {
    let mut tx = db.begin_write()?;
    tx.set_quick_repair(true);
    Ok(tx)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    #[error("stored record is corrupt: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("encoding a record: {0}")]
    Encode(#[from] prost::EncodeError),
    #[error("stored JSON record: {0}")]
    Json(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.into()) }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub type Result<T> = std::result::Result<T, StoreError>;

/// How a store opens its file: the file itself, or (in tests) a backend that can fail.
type Opener = dyn Fn(&Path) -> std::result::Result<Database, redb::DatabaseError> + Send + Sync;

/// How long a reopen waits for the old handle's readers to let go of the file.
const REOPEN_WAIT: Duration = Duration::from_secs(2);

/// A cheap-to-clone handle on the database.
#[derive(Clone)]
pub struct Store {
    /// `None` while a reopen is under way or failed (every call says the store is unavailable).
    db: Arc<RwLock<Option<Arc<Database>>>>,
    path: PathBuf,
    open: Arc<Opener>,
    /// Why the last write failed, until one works again.
    fault: Arc<Mutex<Option<String>>>,
}

fn open_file(path: &Path) -> std::result::Result<Database, redb::DatabaseError> {
    Database::builder().set_cache_size(CACHE_BYTES).create(path)
}

impl Store {
    /// Opens (or creates) the database in `dir`, creating the directory 0700 if needed.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        Store::open_with(dir, Arc::new(open_file))
    }

    fn open_with(dir: &Path, open: Arc<Opener>) -> anyhow::Result<Store> {
        use anyhow::Context;
        create_private_dir(dir)?;
        let path = dir.join(DB_FILE);
        let existed = path.exists();
        let opened = (|| {
            let db = open(&path).with_context(|| format!("opening database {}", path.display()))?;
            set_private(&path)?;
            let store = Store {
                db: Arc::new(RwLock::new(Some(Arc::new(db)))),
                path: path.clone(),
                open,
                fault: Arc::default(),
            };
            store.ensure_tables().context("creating tables")?;
            Ok(store)
        })();
        if opened.is_err() && !existed {
            // A half-made file (a full disk) would break every later start.
            let _ = std::fs::remove_file(&path);
        }
        opened
    }

    /// The open database, or why there is none.
    fn db(&self) -> Result<Arc<Database>> {
        let slot = self.db.read().unwrap_or_else(|p| p.into_inner());
        slot.clone().ok_or_else(|| {
            StoreError::Unavailable(
                self.fault()
                    .unwrap_or_else(|| "it is being opened again".into()),
            )
        })
    }

    /// Why the last write failed, while writes fail.
    pub fn fault(&self) -> Option<String> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_fault(&self, why: Option<String>) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = why;
    }

    /// Opens the file again (redb refuses everything after an I/O error until then): waits for
    /// the old handle's readers, up to [`REOPEN_WAIT`].
    fn reopen(&self) -> Result<()> {
        let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            drop(prune::take_alone(&mut slot, REOPEN_WAIT)?);
        }
        let deadline = Instant::now() + REOPEN_WAIT;
        loop {
            // Read transactions may hold the file a moment after their handle went.
            match (self.open)(&self.path) {
                Ok(db) => {
                    *slot = Some(Arc::new(db));
                    return Ok(());
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn ensure_tables(&self) -> Result<()> {
        let tx = begin_write(self.db()?.as_ref())?;
        tx.open_table(EVENTS)?;
        tx.open_table(SESSION_EVENTS)?;
        tx.open_table(SESSIONS)?;
        tx.open_table(TURNS)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a batch in one transaction; returns once it is durable. After a failed write the
    /// file is opened again first; a failure is kept as the store's [`Store::fault`] until a
    /// write works.
    pub fn write(&self, c: &Commit) -> Result<()> {
        let result = if self.fault().is_some() {
            self.reopen().and_then(|()| self.write_once(c))
        } else {
            self.write_once(c)
        };
        self.set_fault(result.as_ref().err().map(ToString::to_string));
        result
    }

    fn write_once(&self, c: &Commit) -> Result<()> {
        let tx = begin_write(self.db()?.as_ref())?;
        {
            let mut events = tx.open_table(EVENTS)?;
            let mut buf = Vec::with_capacity(1024);
            let no_extra = Vec::new();
            for (i, e) in c.events.iter().enumerate() {
                buf.clear();
                e.encode(&mut buf)?;
                buf.extend_from_slice(c.encoded_attributes.get(i).unwrap_or(&no_extra));
                events.insert(e.seq, buf.as_slice())?;
            }
            // Inserted in key order: a batch interleaves sessions, and B-tree inserts in order
            // touch each page once.
            let facts: HashMap<u64, &str> = c
                .facts
                .iter()
                .map(|(_, key, seq)| (*seq, key.as_str()))
                .collect();
            let mut keys: Vec<(&str, u64)> = c
                .events
                .iter()
                .map(|e| (e.session_id.as_str(), e.seq))
                .collect();
            keys.sort_unstable();
            let mut index = tx.open_table(SESSION_EVENTS)?;
            for key in keys {
                index.insert(key, facts.get(&key.1).copied().unwrap_or(""))?;
            }
            let mut sessions = tx.open_table(SESSIONS)?;
            for s in &c.sessions {
                sessions.insert(s.id.as_str(), s.encode_to_vec().as_slice())?;
            }
            let mut turns = tx.open_table(TURNS)?;
            for t in &c.turns {
                turns.insert(
                    (t.session_id.as_str(), t.id.as_str()),
                    t.encode_to_vec().as_slice(),
                )?;
            }
            for (session, turn) in &c.removed_turns {
                turns.remove((session.as_str(), turn.as_str()))?;
            }
            if let Some(last) = c.events.iter().map(|e| e.seq).max() {
                let mut meta = tx.open_table(META)?;
                meta.insert("last_seq", last)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn last_seq(&self) -> Result<u64> {
        let tx = self.db()?.begin_read()?;
        let meta = tx.open_table(META)?;
        Ok(meta.get("last_seq")?.map(|v| v.value()).unwrap_or(0))
    }

    pub fn session(&self, id: &str) -> Result<Option<Session>> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(SESSIONS)?;
        match t.get(id)? {
            Some(v) => Ok(Some(Session::decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn sessions(&self) -> Result<Vec<Session>> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(SESSIONS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (_, v) = row?;
            out.push(Session::decode(v.value())?);
        }
        Ok(out)
    }

    /// A session's turns, in the order they started.
    pub fn turns(&self, session_id: &str) -> Result<Vec<Turn>> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(TURNS)?;
        let mut out = Vec::new();
        for row in t.range((session_id, "")..)? {
            let (k, v) = row?;
            if k.value().0 != session_id {
                break;
            }
            out.push(Turn::decode(v.value())?);
        }
        out.sort_by_key(|t| t.index);
        Ok(out)
    }

    pub fn turn(&self, session_id: &str, turn_id: &str) -> Result<Option<Turn>> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(TURNS)?;
        match t.get((session_id, turn_id))? {
            Some(v) => Ok(Some(Turn::decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// The fact keys a session has seen, for deduplication after a restart.
    pub fn fact_keys(&self, session_id: &str) -> Result<Vec<String>> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(SESSION_EVENTS)?;
        let mut out = Vec::new();
        for row in t.range((session_id, 0)..=(session_id, u64::MAX))? {
            let (_, key) = row?;
            let key = key.value();
            if !key.is_empty() {
                out.push(key.to_owned());
            }
        }
        Ok(out)
    }

    /// Up to `limit` events of a session with seq > `after`, in order.
    pub fn session_events(&self, session_id: &str, after: u64, limit: usize) -> Result<Vec<Event>> {
        let tx = self.db()?.begin_read()?;
        let index = tx.open_table(SESSION_EVENTS)?;
        let events = tx.open_table(EVENTS)?;
        let mut out = Vec::new();
        let start = after.saturating_add(1);
        for row in index.range((session_id, start)..=(session_id, u64::MAX))? {
            if out.len() >= limit {
                break;
            }
            let (k, _) = row?;
            if let Some(v) = events.get(k.value().1)? {
                out.push(Event::decode(v.value())?);
            }
        }
        Ok(out)
    }

    /// Up to `limit` events of any session with seq > `after`, in order.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        let tx = self.db()?.begin_read()?;
        let events = tx.open_table(EVENTS)?;
        let mut out = Vec::new();
        for row in events.range(after.saturating_add(1)..)?.take(limit) {
            let (_, v) = row?;
            out.push(Event::decode(v.value())?);
        }
        Ok(out)
    }

    /// Visits the newest events up to seq `up_to` with a time at or after `since` (Unix ns),
    /// newest first, reading back at most `max` of them. Events are handed over one at a time and without their
    /// attributes (the bulk of a stored event), so a scan over many holds little memory. The
    /// scan stops early when `visit` says `false`.
    pub fn scan_recent(
        &self,
        since: i64,
        up_to: u64,
        max: usize,
        mut visit: impl FnMut(Event) -> bool,
    ) -> Result<()> {
        let tx = self.db()?.begin_read()?;
        let events = tx.open_table(EVENTS)?;
        for row in events.range(..=up_to)?.rev().take(max) {
            let (_, v) = row?;
            let mut e = Event::decode(v.value())?;
            if e.time_unix_nano < since {
                break;
            }
            e.attributes = Vec::new();
            e.attributes_zstd = Vec::new();
            if !visit(e) {
                break;
            }
        }
        Ok(())
    }

    pub fn event_count(&self) -> Result<u64> {
        let tx = self.db()?.begin_read()?;
        Ok(tx.open_table(EVENTS)?.len()?)
    }

    /// Size of the database file in bytes.
    pub fn size_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

/// What to tell the person when redb panics at `location` (a source file of the panic): redb
/// panics only on a file it cannot read, so the store at `path` is damaged. `None` for a panic
/// elsewhere.
pub fn damaged_store_message(path: &Path, location: &str, what: &str) -> Option<String> {
    location.contains("/redb-").then(|| {
        let shown = path.display();
        format!(
            "observatory: the store {shown} looks damaged (redb stopped: {what}, at {location}). \
             Nothing else is wrong with the observatory. Stop it, move the file aside \
             (mv {shown} {shown}.damaged) and start again: a new, empty store is created; keep \
             the old file to recover what it holds."
        )
    })
}

/// The tracker loads the sessions it has not seen since start-up from here.
impl Backing for Store {
    fn load(&self, session_id: &str) -> anyhow::Result<Option<Loaded>> {
        let Some(session) = self.session(session_id)? else {
            return Ok(None);
        };
        Ok(Some(Loaded {
            session,
            turns: self.turns(session_id)?,
            facts: self.fact_keys(session_id)?,
        }))
    }

    fn sessions(&self) -> anyhow::Result<Vec<Session>> {
        Ok(Store::sessions(self)?)
    }
}

pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating data dir {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("setting permissions of {}", dir.display()))?;
    }
    Ok(())
}

pub fn set_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use anyhow::Context;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("setting permissions of {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{Agent, EventKind, SessionEvent, Signal};
    use crate::session::Tracker;

    fn tool(id: &str, t: i64) -> SessionEvent {
        let mut e = SessionEvent::new(
            Agent::ClaudeCode,
            "s1",
            EventKind::ToolFinished,
            Signal::Logs,
        );
        e.fact_key = Some(format!("tool:{id}"));
        e.event.time_unix_nano = t;
        e.event.attributes = vec![crate::testkit::otlp::kv_str("tool_use_id", id)];
        e.seal();
        e
    }

    /// A file that can be made "full": writes, growth and syncs fail as a full disk's do.
    #[derive(Debug)]
    struct Fillable {
        file: redb::backends::FileBackend,
        full: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Fillable {
        fn check(&self) -> std::io::Result<()> {
            if self.full.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "No space left on device",
                ));
            }
            Ok(())
        }
    }

    impl redb::StorageBackend for Fillable {
        fn len(&self) -> std::io::Result<u64> {
            self.file.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
            self.file.read(offset, out)
        }
        fn set_len(&self, len: u64) -> std::io::Result<()> {
            self.check()?;
            self.file.set_len(len)
        }
        fn sync_data(&self) -> std::io::Result<()> {
            self.check()?;
            self.file.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
            self.check()?;
            self.file.write(offset, data)
        }
        fn close(&self) -> std::io::Result<()> {
            self.file.close()
        }
    }

    #[test]
    fn writes_resume_by_themselves_once_a_full_disk_has_room_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let full = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = full.clone();
        let opener = move |path: &Path| {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            let backend = Fillable {
                file: redb::backends::FileBackend::new(file)?,
                full: flag.clone(),
            };
            Database::builder().create_with_backend(backend)
        };
        let store = Store::open_with(dir.path(), Arc::new(opener)).expect("open");
        let batch = |store: &Store, ids: &[&str], t: i64| {
            let mut tracker = Tracker::new(store.last_seq().expect("seq"));
            let events = ids.iter().map(|id| tool(id, t)).collect();
            tracker.apply(events, t, store).expect("apply").commit
        };
        store
            .write(&batch(&store, &["t1"], 1))
            .expect("first write");

        // What the writer would commit next, whichever goes in (it starts again from the store
        // after a failed commit).
        let (refused, next) = (batch(&store, &["t2"], 2), batch(&store, &["t3"], 3));

        full.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = store.write(&refused).expect_err("full");
        let fault = store.fault().expect("a fault to report");
        assert!(fault.contains("No space left"), "{fault} / {err}");
        // Still full: the reopen or the write fails, and says so; so do reads meanwhile.
        assert!(store.write(&refused).is_err());
        assert!(store.fault().is_some());

        full.store(false, std::sync::atomic::Ordering::SeqCst);
        store
            .write(&next)
            .expect("writes resume once there is room");
        assert_eq!(store.fault(), None);
        let keys = store.fact_keys("claude_code:s1").expect("facts");
        let has = |k: &str| keys.iter().any(|x| x == k);
        assert!(has("tool:t1") && has("tool:t3"), "{keys:?}");
        assert!(
            !has("tool:t2"),
            "the refused batch is not half-kept: {keys:?}"
        );
    }

    #[test]
    fn a_panic_in_redb_names_the_damaged_store_and_what_to_do() {
        let path = Path::new("/home/me/.local/share/agent-observatory/observatory.redb");
        let at =
            "/root/.cargo/registry/src/index.crates.io-1/redb-4.5.0/src/tree_store/btree.rs:120";
        let m = damaged_store_message(path, at, "invalid page").expect("a redb panic");
        assert!(m.contains("observatory.redb looks damaged"), "{m}");
        assert!(m.contains("invalid page") && m.contains("mv "), "{m}");
        assert_eq!(
            damaged_store_message(path, "server/src/writer.rs:12", "x"),
            None
        );
    }

    #[test]
    fn a_first_start_that_fails_leaves_no_file_and_an_old_file_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let half_made = |path: &Path| {
            std::fs::write(path, b"not a database yet")?;
            Err(redb::DatabaseError::Storage(redb::StorageError::Io(
                std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device"),
            )))
        };
        let err = Store::open_with(dir.path(), Arc::new(half_made))
            .err()
            .expect("fails");
        assert!(format!("{err:#}").contains("No space left"), "{err:#}");
        assert!(!dir.path().join(DB_FILE).exists(), "no half-made file");

        drop(Store::open(dir.path()).expect("a real store"));
        assert!(Store::open_with(dir.path(), Arc::new(half_made)).is_err());
        assert!(
            dir.path().join(DB_FILE).exists(),
            "an existing store is never removed"
        );
    }

    #[test]
    fn sessions_facts_and_sealed_attributes_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            let mut tracker = Tracker::new(store.last_seq().expect("seq"));
            let a = tracker
                .apply(vec![tool("t1", 1), tool("t2", 2)], 3, &store)
                .expect("apply");
            store.write(&a.commit).expect("write");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.last_seq().expect("seq"), 2);
        let mut keys = store.fact_keys("claude_code:s1").expect("facts");
        keys.sort();
        assert_eq!(keys, ["tool:t1", "tool:t2"]);
        // The attributes encoded by the ingest worker come back whole.
        let events = store
            .session_events("claude_code:s1", 0, 10)
            .expect("events");
        assert_eq!(events.len(), 2);
        let attributes = crate::normalize::packed::attributes(&events[1]).expect("unpacks");
        assert_eq!(
            crate::normalize::attrs::Attrs(&attributes).str("tool_use_id"),
            Some("t2")
        );

        // A fresh tracker (a restarted server) still knows the facts: a repeat is dropped and the
        // session's counters are not bumped, while seqs carry on from the store.
        let mut tracker = Tracker::new(store.last_seq().expect("seq"));
        let a = tracker
            .apply(vec![tool("t2", 4), tool("t3", 5)], 6, &store)
            .expect("apply");
        assert_eq!(a.duplicates, [0]);
        assert_eq!(
            a.commit.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3]
        );
        store.write(&a.commit).expect("write");
        let s = store
            .session("claude_code:s1")
            .expect("read")
            .expect("session");
        assert_eq!(s.counts.map(|c| c.tool_calls), Some(3));
        assert_eq!(store.event_count().expect("count"), 3);
    }

    #[test]
    fn a_restarted_tracker_keeps_timing_open_sessions_and_still_knows_their_facts() {
        struct NoProcess;
        impl crate::session::Liveness for NoProcess {
            fn alive(&self, _: crate::normalize::Process) -> bool {
                false
            }
        }
        const S: i64 = 1_000_000_000;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let mut tracker = Tracker::new(0);
        let a = tracker
            .apply(vec![tool("t1", S)], S, &store)
            .expect("apply");
        store.write(&a.commit).expect("write");

        // Restart: the open session is taken up (without reading its facts yet) ...
        let mut tracker = Tracker::new(store.last_seq().expect("seq"));
        assert_eq!(tracker.resume(&store).expect("resume"), 1);
        // ... so its stall timer runs on from the stored last activity ...
        let c = tracker.tick(S + 120 * S, &NoProcess);
        assert_eq!(c.events.len(), 1);
        assert_eq!(c.events[0].state, "stalled");
        store.write(&c).expect("write");
        // ... and a repeat of a stored fact is still dropped when it next reports.
        let a = tracker
            .apply(
                vec![tool("t1", 200 * S), tool("t2", 201 * S)],
                202 * S,
                &store,
            )
            .expect("apply");
        assert_eq!(a.duplicates, [0]);
        let s = tracker.session("claude_code:s1").expect("session");
        assert_eq!(s.counts.map(|c| c.tool_calls), Some(2));
        assert_eq!(s.state, "active");
    }
}
