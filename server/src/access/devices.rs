//! Paired devices: one record per browser that redeemed a pairing code — its name, the hash of
//! its credential, when it paired and was last seen. The credential itself lives only in the
//! browser's cookie (`<id>.<secret>`); the server keeps `sha256(secret)`. The device's alert
//! choices and push subscription are the alerts stage's record under the same id.

use serde::{Deserialize, Serialize};

use super::secret;
use crate::store::records::Keyed;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub name: String,
    /// SHA-256 of the credential's secret, hex.
    pub secret_sha256: String,
    pub created_unix_nano: i64,
    pub last_seen_unix_nano: i64,
    /// The client that paired it, as the audit log names clients.
    pub paired_from: String,
}

impl Keyed for Device {
    const TABLE: &'static str = "paired_devices";
    fn key(&self) -> &str {
        &self.id
    }
    fn created_unix_nano(&self) -> i64 {
        self.created_unix_nano
    }
}

impl Device {
    /// A new device and the cookie value that proves it (`<id>.<secret>`).
    pub fn pair(name: String, paired_from: String, now: i64) -> (Device, String) {
        let id = format!("dev_{}", &secret::random_hex()[..16]);
        let token = secret::random_hex();
        let device = Device {
            secret_sha256: hex::encode(secret::hash(&token)),
            id: id.clone(),
            name,
            created_unix_nano: now,
            last_seen_unix_nano: now,
            paired_from,
        };
        (device, format!("{id}.{token}"))
    }

    /// Whether `token` is this device's secret (constant time).
    pub fn proves(&self, token: &str) -> bool {
        let mut kept = [0u8; 32];
        hex::decode_to_slice(&self.secret_sha256, &mut kept).is_ok()
            && secret::matches(token, &kept)
    }
}

/// A cookie value split into the device id and its secret.
pub fn split_credential(value: &str) -> Option<(&str, &str)> {
    let (id, token) = value.split_once('.')?;
    (id.starts_with("dev_") && token.len() == 64).then_some((id, token))
}

/// "Android · Chrome", from the browser's User-Agent.
pub fn name_from_user_agent(ua: &str) -> String {
    let os = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS X", "Mac"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, n)| n);
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, n)| n);
    match (os, browser) {
        (Some(o), Some(b)) => format!("{o} · {b}"),
        (Some(n), None) | (None, Some(n)) => n.to_owned(),
        (None, None) => "Browser".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_proves_itself_with_its_cookie_only() {
        let (d, cookie) = Device::pair("Pixel".into(), "127.0.0.1".into(), 1);
        let (id, token) = split_credential(&cookie).expect("cookie");
        assert_eq!(id, d.id);
        assert!(d.proves(token));
        let (other, other_cookie) = Device::pair("Mac".into(), "127.0.0.1".into(), 1);
        assert!(!d.proves(split_credential(&other_cookie).expect("cookie").1));
        assert!(!other.proves(token));
        assert!(!d.secret_sha256.contains(token), "only the hash is kept");
        assert_eq!(split_credential("dev_x.short"), None);
        assert_eq!(split_credential("nodot"), None);
    }

    #[test]
    fn devices_are_named_from_the_browser() {
        assert_eq!(
            name_from_user_agent(
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
            ),
            "Android · Chrome"
        );
        assert_eq!(
            name_from_user_agent(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
            ),
            "iPhone · Safari"
        );
        assert_eq!(name_from_user_agent("curl/8.5"), "Browser");
    }
}
