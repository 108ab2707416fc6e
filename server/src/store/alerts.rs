//! The alerts' tables in the same redb file: alerts with their deliveries, and the devices that
//! subscribed to Web Push. Few and small next to the events, read as JSON by the API: they are
//! kept as JSON, which also lets their shape grow without a schema change.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{Result, Store, StoreError, begin_write};
use crate::alerts::{Alert, Device};

/// alert id → Alert (JSON)
pub(super) const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts");
/// device id → Device (JSON)
pub(super) const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| StoreError::Json(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Json(e.to_string()))
}

impl Store {
    /// Adds or replaces an alert (its deliveries change as they are sent).
    pub fn put_alert(&self, a: &Alert) -> Result<()> {
        let tx = begin_write(&self.db)?;
        tx.open_table(ALERTS)?.insert(a.id, json(a)?.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` alerts with an id below `before` (all when `None`), newest first.
    pub fn alerts(&self, before: Option<u64>, limit: usize) -> Result<Vec<Alert>> {
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

    pub fn put_device(&self, d: &Device) -> Result<()> {
        let tx = begin_write(&self.db)?;
        tx.open_table(DEVICES)?
            .insert(d.id.as_str(), json(d)?.as_slice())?;
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
    pub fn devices(&self) -> Result<Vec<Device>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(DEVICES)?;
        let mut out: Vec<Device> = Vec::new();
        for row in t.iter()? {
            out.push(parse(row?.1.value())?);
        }
        out.sort_by_key(|d| d.created_unix_nano);
        Ok(out)
    }

    pub fn device(&self, id: &str) -> Result<Option<Device>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(DEVICES)?;
        t.get(id)?.map(|v| parse(v.value())).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{Kind, deliver::Subscription};

    fn alert(id: u64) -> Alert {
        Alert {
            id,
            time_unix_nano: id as i64,
            session_id: "claude_code:s".into(),
            agent: "claude_code".into(),
            kind: Kind::Finished,
            title: "Claude Code · p".into(),
            body: "finished".into(),
            url: "/sessions/claude_code%3As".into(),
            seq: id,
            deliveries: Vec::new(),
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
                store
                    .put_device(&Device {
                        id: id.into(),
                        name: id.into(),
                        subscription: Subscription {
                            endpoint: format!("https://push.example/{id}"),
                            p256dh: "k".into(),
                            auth: "a".into(),
                        },
                        kinds: vec![Kind::NeedsYou],
                        quiet_hours: None,
                        created_unix_nano: i as i64,
                        last_delivery: None,
                    })
                    .expect("device");
            }
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.last_alert_id().expect("last"), 5);
        let ids = |v: Vec<Alert>| v.iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(ids(store.alerts(None, 3).expect("page")), [5, 4, 3]);
        assert_eq!(ids(store.alerts(Some(3), 10).expect("page")), [2, 1]);
        assert_eq!(store.alerts(Some(4), 1).expect("page")[0].body, "changed");
        let names: Vec<String> = store
            .devices()
            .expect("devices")
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(names, ["d_b", "d_a"]);
        assert!(store.remove_device("d_b").expect("remove"));
        assert!(!store.remove_device("d_b").expect("remove again"));
        assert!(store.device("d_b").expect("read").is_none());
        assert_eq!(
            store.device("d_a").expect("read").map(|d| d.kinds),
            Some(vec![Kind::NeedsYou])
        );
    }
}
