//! The small tables beside the events, in the same redb file: alerts with their deliveries,
//! paired devices, their alert choices and push subscriptions, the audit log. Few and small next
//! to the events and read as JSON by the API, they are kept as JSON, which also lets their shape
//! grow without a schema change. The stages that write them own the types: a [`Keyed`] or
//! [`Numbered`] record names its table and its key, so the store imports none of them.

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Result, Store, StoreError, begin_write};

/// A record kept by a string key (a device).
pub trait Keyed: Serialize + DeserializeOwned {
    const TABLE: &'static str;
    fn key(&self) -> &str;
    /// Listing order.
    fn created_unix_nano(&self) -> i64;
}

/// A record kept by a number that grows (an alert, an audit entry), listed newest first.
pub trait Numbered: Serialize + DeserializeOwned {
    const TABLE: &'static str;
    fn number(&self) -> u64;
}

fn keyed<R: Keyed>() -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(R::TABLE)
}

fn numbered<R: Numbered>() -> TableDefinition<'static, u64, &'static [u8]> {
    TableDefinition::new(R::TABLE)
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| StoreError::Json(e.to_string()))
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Json(e.to_string()))
}

/// A table nothing was written to yet reads as empty.
macro_rules! open_or_empty {
    ($tx:expr, $def:expr, $empty:expr) => {
        match $tx.open_table($def) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok($empty),
            Err(e) => return Err(e.into()),
        }
    };
}

impl Store {
    /// Adds or replaces a record.
    pub fn put<R: Keyed>(&self, r: &R) -> Result<()> {
        let tx = begin_write(self.db()?.as_ref())?;
        tx.open_table(keyed::<R>())?
            .insert(r.key(), json(r)?.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Removes a record; whether it existed.
    pub fn remove<R: Keyed>(&self, key: &str) -> Result<bool> {
        let tx = begin_write(self.db()?.as_ref())?;
        let existed = tx.open_table(keyed::<R>())?.remove(key)?.is_some();
        tx.commit()?;
        Ok(existed)
    }

    pub fn get<R: Keyed>(&self, key: &str) -> Result<Option<R>> {
        let tx = self.db()?.begin_read()?;
        let t = open_or_empty!(tx, keyed::<R>(), None);
        t.get(key)?.map(|v| parse(v.value())).transpose()
    }

    /// Every record of the table, oldest first.
    pub fn all<R: Keyed>(&self) -> Result<Vec<R>> {
        let tx = self.db()?.begin_read()?;
        let t = open_or_empty!(tx, keyed::<R>(), Vec::new());
        let mut out: Vec<R> = Vec::new();
        for row in t.iter()? {
            out.push(parse(row?.1.value())?);
        }
        out.sort_by_key(|r| r.created_unix_nano());
        Ok(out)
    }

    /// Adds or replaces a numbered record (an alert's deliveries change as they are sent).
    pub fn put_numbered<R: Numbered>(&self, r: &R) -> Result<()> {
        let tx = begin_write(self.db()?.as_ref())?;
        tx.open_table(numbered::<R>())?
            .insert(r.number(), json(r)?.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` records numbered below `before` (all when `None`), newest first.
    pub fn page<R: Numbered>(&self, before: Option<u64>, limit: usize) -> Result<Vec<R>> {
        let tx = self.db()?.begin_read()?;
        let t = open_or_empty!(tx, numbered::<R>(), Vec::new());
        let mut out = Vec::new();
        for row in t.range(..before.unwrap_or(u64::MAX))?.rev().take(limit) {
            out.push(parse(row?.1.value())?);
        }
        Ok(out)
    }

    /// The highest number stored (0 for none).
    pub fn last_number<R: Numbered>(&self) -> Result<u64> {
        let tx = self.db()?.begin_read()?;
        let t = open_or_empty!(tx, numbered::<R>(), 0);
        Ok(t.last()?.map(|(k, _)| k.value()).unwrap_or(0))
    }

    /// Deletes the oldest records beyond the newest `keep`; how many went.
    pub fn trim<R: Numbered>(&self, keep: u64) -> Result<u64> {
        let last = self.last_number::<R>()?;
        if last <= keep {
            return Ok(0);
        }
        let tx = begin_write(self.db()?.as_ref())?;
        let removed = {
            let mut t = tx.open_table(numbered::<R>())?;
            let old: Vec<u64> = t
                .range(..=last - keep)?
                .map(|r| r.map(|(k, _)| k.value()))
                .collect::<std::result::Result<_, _>>()?;
            for k in &old {
                t.remove(k)?;
            }
            old.len() as u64
        };
        tx.commit()?;
        Ok(removed)
    }

    /// Deletes a table left by an earlier version; how many records it held.
    pub fn drop_legacy_table(&self, name: &str) -> Result<u64> {
        let def: TableDefinition<&str, &[u8]> = TableDefinition::new(name);
        let tx = begin_write(self.db()?.as_ref())?;
        let n = match tx.open_table(def) {
            Ok(t) => {
                use redb::ReadableTableMetadata;
                t.len()?
            }
            Err(TableError::TableDoesNotExist(_)) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        tx.delete_table(def)?;
        tx.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Note {
        id: u64,
        body: String,
    }

    impl Numbered for Note {
        const TABLE: &'static str = "test_notes";
        fn number(&self) -> u64 {
            self.id
        }
    }

    #[derive(Serialize, Deserialize)]
    struct Thing {
        id: String,
        kinds: Vec<String>,
        created_unix_nano: i64,
    }

    impl Keyed for Thing {
        const TABLE: &'static str = "test_things";
        fn key(&self) -> &str {
            &self.id
        }
        fn created_unix_nano(&self) -> i64 {
            self.created_unix_nano
        }
    }

    fn note(id: u64) -> Note {
        Note {
            id,
            body: "finished".into(),
        }
    }

    #[test]
    fn records_survive_a_reopen_and_page_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            assert!(store.all::<Thing>().expect("empty").is_empty());
            assert_eq!(store.last_number::<Note>().expect("empty"), 0);
            for id in 1..=5 {
                store.put_numbered(&note(id)).expect("put");
            }
            let mut changed = note(3);
            changed.body = "changed".into();
            store.put_numbered(&changed).expect("replace");
            for (i, id) in ["d_b", "d_a"].into_iter().enumerate() {
                let thing = Thing {
                    id: id.into(),
                    kinds: vec!["needs_you".into()],
                    created_unix_nano: i as i64,
                };
                store.put(&thing).expect("thing");
            }
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.last_number::<Note>().expect("last"), 5);
        let ids = |v: Vec<Note>| v.iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(ids(store.page(None, 3).expect("page")), [5, 4, 3]);
        assert_eq!(ids(store.page(Some(3), 10).expect("page")), [2, 1]);
        assert_eq!(
            store.page::<Note>(Some(4), 1).expect("page")[0].body,
            "changed"
        );
        let names: Vec<String> = store
            .all::<Thing>()
            .expect("things")
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(names, ["d_b", "d_a"]);
        assert!(store.remove::<Thing>("d_b").expect("remove"));
        assert!(!store.remove::<Thing>("d_b").expect("remove again"));
        assert!(store.get::<Thing>("d_b").expect("read").is_none());
        assert_eq!(
            store.get::<Thing>("d_a").expect("read").map(|d| d.kinds),
            Some(vec!["needs_you".to_owned()])
        );
        assert_eq!(store.trim::<Note>(2).expect("trim"), 3);
        assert_eq!(ids(store.page(None, 10).expect("page")), [5, 4]);
    }
}
