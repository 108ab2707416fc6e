//! The alerts' tables in the same redb file: alerts with their deliveries, and the devices that
//! subscribed to Web Push. Few and small next to the events, read as JSON by the API: they are
//! kept as JSON, which also lets their shape grow without a schema change. The alerts stage owns
//! the types ([`AlertRecord`], [`DeviceRecord`] say what the store needs of them), so that the
//! store does not import the stage that writes into it.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{Result, Store, StoreError, begin_write};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// alert id → Alert (JSON)
pub(super) const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts");
/// device id → Device (JSON)
pub(super) const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");

/// An alert as the store keeps it: JSON, keyed by its id.
pub trait AlertRecord: Serialize + DeserializeOwned {
    fn id(&self) -> u64;
}

/// A device as the store keeps it: JSON, keyed by its id, listed oldest first.
pub trait DeviceRecord: Serialize + DeserializeOwned {
    fn id(&self) -> &str;
    fn created_unix_nano(&self) -> i64;
}

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| StoreError::Json(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Json(e.to_string()))
}

impl Store {
    /// Adds or replaces an alert (its deliveries change as they are sent).
    pub fn put_alert<A: AlertRecord>(&self, a: &A) -> Result<()> {
        let tx = begin_write(&self.db)?;
        tx.open_table(ALERTS)?.insert(a.id(), json(a)?.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` alerts with an id below `before` (all when `None`), newest first.
    pub fn alerts<A: AlertRecord>(&self, before: Option<u64>, limit: usize) -> Result<Vec<A>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ALERTS)?;
        let mut out = Vec::new();
        for row in t.range(..before.unwrap_or(u64::MAX))?.rev().take(limit) {
            out.push(parse(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn last_alert_id(&self) -> Result<u64> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ALERTS)?;
        Ok(t.last()?.map(|(k, _)| k.value()).unwrap_or(0))
    }

    pub fn put_device<D: DeviceRecord>(&self, d: &D) -> Result<()> {
        let tx = begin_write(&self.db)?;
        tx.open_table(DEVICES)?
            .insert(d.id(), json(d)?.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Removes a device; whether it existed.
    pub fn remove_device(&self, id: &str) -> Result<bool> {
        let tx = begin_write(&self.db)?;
        let existed = tx.open_table(DEVICES)?.remove(id)?.is_some();
        tx.commit()?;
        Ok(existed)
    }

    /// Every device, oldest first.
    pub fn devices<D: DeviceRecord>(&self) -> Result<Vec<D>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(DEVICES)?;
        let mut out: Vec<D> = Vec::new();
        for row in t.iter()? {
            out.push(parse(row?.1.value())?);
        }
        out.sort_by_key(|d| d.created_unix_nano());
        Ok(out)
    }

    pub fn device<D: DeviceRecord>(&self, id: &str) -> Result<Option<D>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(DEVICES)?;
        t.get(id)?.map(|v| parse(v.value())).transpose()
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Alert {
        id: u64,
        body: String,
    }

    impl AlertRecord for Alert {
        fn id(&self) -> u64 {
            self.id
        }
    }

    #[derive(Serialize, Deserialize)]
    struct Device {
        id: String,
        kinds: Vec<String>,
        created_unix_nano: i64,
    }

    impl DeviceRecord for Device {
        fn id(&self) -> &str {
            &self.id
        }
        fn created_unix_nano(&self) -> i64 {
            self.created_unix_nano
        }
    }

    fn alert(id: u64) -> Alert {
        Alert {
            id,
            body: "finished".into(),
        }
    }

    #[test]
    fn alerts_and_devices_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            for id in 1..=5 {
                store.put_alert(&alert(id)).expect("put");
            }
            let mut changed = alert(3);
            changed.body = "changed".into();
            store.put_alert(&changed).expect("replace");
            for (i, id) in ["d_b", "d_a"].into_iter().enumerate() {
                let device = Device {
                    id: id.into(),
                    kinds: vec!["needs_you".into()],
                    created_unix_nano: i as i64,
                };
                store.put_device(&device).expect("device");
            }
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.last_alert_id().expect("last"), 5);
        let ids = |v: Vec<Alert>| v.iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(ids(store.alerts(None, 3).expect("page")), [5, 4, 3]);
        assert_eq!(ids(store.alerts(Some(3), 10).expect("page")), [2, 1]);
        assert_eq!(
            store.alerts::<Alert>(Some(4), 1).expect("page")[0].body,
            "changed"
        );
        let names: Vec<String> = store
            .devices::<Device>()
            .expect("devices")
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(names, ["d_b", "d_a"]);
        assert!(store.remove_device("d_b").expect("remove"));
        assert!(!store.remove_device("d_b").expect("remove again"));
        assert!(store.device::<Device>("d_b").expect("read").is_none());
        assert_eq!(
            store
                .device::<Device>("d_a")
                .expect("read")
                .map(|d| d.kinds),
            Some(vec!["needs_you".to_owned()])
        );
    }
}
