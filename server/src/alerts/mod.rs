//! Alerts: deciding what to tell a person, and telling them. After each commit the store writer
//! hands what changed to the [`engine::Engine`]; its [`rules`] (pure functions of the events, the
//! sessions and the time) decide which alerts to make; each alert is stored with its deliveries
//! (Web Push to each subscribed device via [`deliver`], and the optional [`channels`]), streamed
//! to dashboards as an `alert` frame and listed by `GET /api/alerts`.

pub mod channels;
pub mod deliver;
pub mod endpoint;
pub mod engine;
pub mod rules;
pub mod settings;
pub mod vapid;

use serde::{Deserialize, Serialize};

pub use engine::Engine;
pub use settings::{PushSettings, Settings};

use crate::store::records::{Keyed, Numbered};

/// What an alert is about (DESIGN.md "Alerts are drawn from transitions").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A permission prompt or a question is waiting for the person.
    NeedsYou,
    /// A turn that took at least `completion_min_turn` is done.
    Finished,
    Stalled,
    Crashed,
    /// A turn failed, or api errors came in a burst.
    Error,
    /// A session's or the day's cost crossed its threshold.
    Budget,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::NeedsYou,
        Kind::Finished,
        Kind::Stalled,
        Kind::Crashed,
        Kind::Error,
        Kind::Budget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NeedsYou => "needs_you",
            Kind::Finished => "finished",
            Kind::Stalled => "stalled",
            Kind::Crashed => "crashed",
            Kind::Error => "error",
            Kind::Budget => "budget",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// How long a push service keeps the message for a device that is offline: a prompt or a
    /// stall is stale after an hour; a crash or a budget is still news the next morning.
    pub fn ttl_secs(self) -> u32 {
        match self {
            Kind::NeedsYou | Kind::Finished | Kind::Stalled | Kind::Error => 3600,
            Kind::Crashed | Kind::Budget => 86_400,
        }
    }

    /// Wakes the device at once (RFC 8030 `Urgency: high`): someone is blocked or something died.
    pub fn urgent(self) -> bool {
        matches!(self, Kind::NeedsYou | Kind::Crashed)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert, as stored, listed by `GET /api/alerts` and streamed as an `alert` frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Monotonic, from 1.
    pub id: u64,
    pub time_unix_nano: i64,
    /// The session it is about (the parent, for a sub-agent); empty for the day's budget.
    pub session_id: String,
    pub agent: String,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    /// Where a tap on it leads in the app.
    pub url: String,
    /// The event that caused it (0 when a total crossed a budget).
    pub seq: u64,
    pub deliveries: Vec<Delivery>,
    /// A permission prompt the person can answer from the notification (needs_you).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prompt_id: String,
    /// What the agent said last (a finished alert: the start of its last message), quoted by
    /// the channels that are set to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub said: String,
}

impl Alert {
    /// The body, followed by what the agent said when `says`.
    pub fn body_saying(&self, says: bool) -> String {
        if says && !self.said.is_empty() {
            format!("{} — {}", self.body, self.said)
        } else {
            self.body.clone()
        }
    }
}

/// Where an alert went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    WebPush,
    Webhook,
    Ntfy,
}

/// How a delivery ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Being sent (or retried).
    Pending,
    Sent,
    Failed,
    /// The push service said the subscription no longer exists; the device was removed.
    Gone,
    /// Deliberately not sent; `reason` says why.
    Skipped,
}

impl From<deliver::Outcome> for Outcome {
    fn from(o: deliver::Outcome) -> Outcome {
        match o {
            deliver::Outcome::Sent => Outcome::Sent,
            deliver::Outcome::Failed => Outcome::Failed,
            deliver::Outcome::Gone => Outcome::Gone,
        }
    }
}

/// One alert's delivery to one device or channel, with every attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub channel: Channel,
    /// The device, for Web Push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    pub name: String,
    pub outcome: Outcome,
    /// Why it was skipped, or the last error.
    pub reason: String,
    pub attempts: Vec<deliver::Attempt>,
}

/// A paired device's alert choices and its Web Push subscription, kept under the device's id.
/// The device itself (its name and credential) is the access stage's; this record goes with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    /// The device's name, as deliveries show it.
    pub name: String,
    /// The push service's endpoint and the browser's keys: secrets, never shown by the API.
    /// `None` until the browser turns notifications on, and after the push service says the
    /// subscription is gone.
    pub subscription: Option<deliver::Subscription>,
    pub kinds: Vec<Kind>,
    pub quiet_hours: Option<rules::QuietHours>,
    pub created_unix_nano: i64,
    pub last_delivery: Option<LastDelivery>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastDelivery {
    pub at_unix_nano: i64,
    pub outcome: Outcome,
    pub status: Option<u16>,
}

impl Device {
    /// The device as the API shows it: the push service's origin instead of its endpoint (a
    /// capability URL: whoever has it can push to the browser) and no keys.
    pub fn new(id: &str, name: &str, now: i64) -> Device {
        Device {
            id: id.to_owned(),
            name: name.to_owned(),
            subscription: None,
            kinds: Kind::ALL.to_vec(),
            quiet_hours: None,
            created_unix_nano: now,
            last_delivery: None,
        }
    }

    /// The choices and the push state as the API shows them: the push service's origin instead
    /// of its endpoint (a capability URL: whoever has it can push to the browser) and no keys.
    pub fn public(&self) -> serde_json::Value {
        let push = self.subscription.as_ref().map(|s| {
            serde_json::json!({
                "endpoint_origin": origin(&s.endpoint).unwrap_or_default(),
                "last_delivery": self.last_delivery,
            })
        });
        serde_json::json!({
            "kinds": self.kinds,
            "quiet_hours": self.quiet_hours,
            "push": push,
        })
    }
}

impl Numbered for Alert {
    const TABLE: &'static str = "alerts";
    fn number(&self) -> u64 {
        self.id
    }
}

impl Keyed for Device {
    /// `devices` held push subscriptions before devices were paired (see `access`).
    const TABLE: &'static str = "device_alerts";
    fn key(&self) -> &str {
        &self.id
    }
    fn created_unix_nano(&self) -> i64 {
        self.created_unix_nano
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL.
pub fn origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (host_len > 0).then(|| &url[..url.len() - rest.len() + host_len])
}
