//! The alert engine: the stage after the store writer that turns commits into alerts and sends
//! them. It reads every commit from the hub's lossless tap (a busy moment delays alerts, never
//! drops one), asks the [`Rules`], and for each decision stores an [`Alert`] with one
//! [`Delivery`] per device and channel — pending, or skipped with the reason (kind not chosen,
//! quiet hours, open in a dashboard, push off) — streams it as an `alert` frame, then sends the
//! pending ones concurrently and stores and streams the outcome. A device whose push service
//! says the subscription is gone (404/410) is removed.
//!
//! [`Alerts`] is the handle the API shares: devices, the test notification, push status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::channels::{Notice, Ntfy, Webhook};
use super::deliver::{self, Message, Pusher, Retry, Urgency};
use super::endpoint::Endpoints;
use super::rules::{Decision, QuietHours, Rules, quiet};
use super::settings::PushSettings;
use super::vapid::{VapidKey, check_subject};
use super::{Alert, Channel, Delivery, Device, Kind, LastDelivery, Outcome, Settings};
use crate::live::{Hub, Published};
use crate::store::Store;

/// Web Push as this server has it: on with its key, or off and why.
pub enum PushSetup {
    On {
        pusher: Pusher,
        public_key: String,
        /// A finished alert quotes the agent's last message.
        says: bool,
    },
    Off {
        reason: String,
    },
}

/// A channel besides Web Push, with the kinds it takes and its quiet hours.
pub struct Extra {
    pub sender: Sender,
    /// A finished alert quotes the agent's last message.
    pub says: bool,
    pub kinds: Vec<Kind>,
    pub quiet_hours: Option<QuietHours>,
}

pub enum Sender {
    Webhook(Webhook),
    Ntfy(Ntfy),
}

/// The shared side of the engine: cheap to clone.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Shared>,
}

struct Shared {
    store: Store,
    hub: Hub,
    push: PushSetup,
    extras: Vec<Extra>,
    quiet_when_watching: bool,
    last_id: AtomicU64,
    /// What a notification about an answerable prompt offers (`allow`, `deny`), as `[access]
    /// remote_answers` allows a phone; set by the app.
    answer_actions: std::sync::OnceLock<Vec<&'static str>>,
    /// Prompt alerts whose record may not be stored yet (their sending started first), by
    /// prompt id: a quick answer settles them from here.
    in_flight: std::sync::Mutex<std::collections::HashMap<String, Alert>>,
    /// Deliveries settled since start by (kind, channel, outcome), for `/metrics`.
    delivered: std::sync::Mutex<BTreeMap<(&'static str, String, String), u64>>,
}

pub struct Engine {
    commits: mpsc::UnboundedReceiver<Arc<Published>>,
    rules: Rules,
    alerts: Alerts,
}

impl Engine {
    /// Taps the hub now, so that no commit after this call is missed.
    pub fn new(
        store: Store,
        hub: Hub,
        rules: Rules,
        push: PushSetup,
        extras: Vec<Extra>,
        quiet_when_watching: bool,
    ) -> Result<Engine> {
        let mut rules = rules;
        rules.know(&store.sessions()?);
        settle_interrupted(&store)?;
        let last_id = AtomicU64::new(store.last_number::<Alert>()?);
        let commits = hub.tap();
        Ok(Engine {
            commits,
            rules,
            alerts: Alerts {
                inner: Arc::new(Shared {
                    store,
                    hub,
                    push,
                    extras,
                    quiet_when_watching,
                    last_id,
                    answer_actions: std::sync::OnceLock::new(),
                    delivered: Default::default(),
                    in_flight: Default::default(),
                }),
            },
        })
    }

    /// The alert engine with Web Push (on once the VAPID subject is set) and the configured
    /// channels. The VAPID key is made on first start either way, so it never changes under a
    /// subscribed device when push is turned on later.
    pub fn from_settings(
        a: &Settings,
        push_settings: &PushSettings,
        public_url: Option<String>,
        data_dir: &std::path::Path,
        store: Store,
        hub: Hub,
    ) -> Result<Engine> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("agent-observatory/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("making the HTTP client for alerts")?;
        let key = VapidKey::load_or_create(data_dir)?;
        // Retries wait on the server's clock, which tests move instead of sleeping.
        let retry = || Retry {
            clock: hub.clock().clone(),
            ..Retry::default()
        };
        let subject = push_settings.subject.trim();
        let endpoints = Endpoints {
            allow_loopback: push_settings.allow_loopback_endpoints,
        };
        let push = match check_subject(subject) {
            Ok(()) => PushSetup::On {
                says: push_settings.include_last_message,
                public_key: key.public_key().to_owned(),
                pusher: Pusher::new(key, subject.to_owned(), endpoints, retry())
                    .map_err(anyhow::Error::msg)?,
            },
            Err(why) => {
                let reason = if subject.is_empty() {
                    "no VAPID subject: set [push] subject in config.toml (or OBSERVATORY_PUSH_SUBJECT) to a mailto: or https: URL to turn Web Push on".to_owned()
                } else {
                    format!("push.subject {subject:?}: {why}")
                };
                tracing::warn!("Web Push is off: {reason}");
                PushSetup::Off { reason }
            }
        };
        let mut extras = Vec::new();
        if let Some(w) = &a.webhook {
            let hook = Webhook::new(w.url.clone(), public_url.clone(), client.clone(), retry());
            extras.push(Extra {
                sender: Sender::Webhook(hook),
                says: w.include_last_message,
                kinds: w.kinds.clone(),
                quiet_hours: w.quiet_hours,
            });
        }
        if let Some(n) = &a.ntfy {
            let token = (!n.token.is_empty()).then(|| n.token.clone());
            let ntfy = Ntfy::new(
                n.server.clone(),
                n.topic.clone(),
                token,
                public_url,
                client,
                retry(),
            );
            extras.push(Extra {
                sender: Sender::Ntfy(ntfy),
                says: n.include_last_message,
                kinds: n.kinds.clone(),
                quiet_hours: n.quiet_hours,
            });
        }
        Engine::new(
            store,
            hub,
            Rules::new(a.rules()),
            push,
            extras,
            a.quiet_when_watching,
        )
    }

    pub fn alerts(&self) -> Alerts {
        self.alerts.clone()
    }

    pub async fn run(mut self, cancel: CancellationToken) -> Result<()> {
        loop {
            let commit = tokio::select! {
                c = self.commits.recv() => match c {
                    Some(c) => c,
                    None => return Ok(()),
                },
                _ = cancel.cancelled() => return Ok(()),
            };
            let day_usd = self.alerts.inner.hub.today_usd();
            let now = self.alerts.inner.hub.clock().now();
            let decisions = self
                .rules
                .on_commit(&commit.events, &commit.sessions, day_usd, now);
            for d in decisions {
                if let Err(e) = self.alerts.make(d).await {
                    tracing::error!(error = %e, "could not record an alert");
                }
            }
        }
    }
}

/// How many of the newest alerts are looked at for deliveries a stop cut short.
const INTERRUPTED_SCAN: usize = 100;

/// Deliveries still pending from before a stop were never finished: they say so, rather than
/// staying "pending" for ever.
fn settle_interrupted(store: &Store) -> Result<()> {
    for mut alert in store.page::<Alert>(None, INTERRUPTED_SCAN)? {
        let mut changed = false;
        for d in &mut alert.deliveries {
            if d.outcome == Outcome::Pending {
                d.outcome = Outcome::Failed;
                d.reason = "the server stopped before it was sent".to_owned();
                changed = true;
            }
        }
        if changed {
            store.put_numbered(&alert)?;
        }
    }
    Ok(())
}

/// How much of the agent's last message an alert quotes.
const SAID_CHARS: usize = 150;

/// The start of `text`, at most `max` characters, cut at a word where it can be, with "…" when
/// cut; whitespace runs become one space.
fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    let at_word = cut.rfind(' ').filter(|i| *i > max / 2).unwrap_or(cut.len());
    format!("{}…", cut[..at_word].trim_end())
}

/// `/sessions/<id>`, the id percent-encoded.
pub fn session_url(session_id: &str) -> String {
    if session_id.is_empty() {
        return "/live".to_owned();
    }
    let mut out = String::from("/sessions/");
    for b in session_id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Alerts {
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The VAPID public key browsers subscribe with, when push is on.
    pub fn public_key(&self) -> Option<&str> {
        match &self.inner.push {
            PushSetup::On { public_key, .. } => Some(public_key),
            PushSetup::Off { .. } => None,
        }
    }

    /// Why push is off, when it is.
    pub fn off_reason(&self) -> Option<&str> {
        match &self.inner.push {
            PushSetup::On { .. } => None,
            PushSetup::Off { reason } => Some(reason),
        }
    }

    /// Whether a browser may subscribe with this endpoint (the push client checks again at
    /// every connection).
    pub fn check_endpoint(&self, endpoint: &str) -> Result<(), String> {
        match self.pusher() {
            Some(p) => p.endpoints().check(endpoint).map(|_| ()),
            None => Err(self.off_reason().unwrap_or("push is off").to_owned()),
        }
    }

    fn pusher(&self) -> Option<&Pusher> {
        match &self.inner.push {
            PushSetup::On { pusher, .. } => Some(pusher),
            PushSetup::Off { .. } => None,
        }
    }

    /// Records the alert with its deliveries, streams it, and sends it in the background.
    async fn make(&self, d: Decision) -> Result<()> {
        let s = &self.inner;
        let store = s.store.clone();
        let mut devices = tokio::task::spawn_blocking(move || store.all::<Device>()).await??;
        devices.retain(|d| d.subscription.is_some());
        let now = s.hub.clock().now();
        let watched = s.quiet_when_watching && s.hub.is_watched(&d.session_id);
        let (body, said) = self
            .with_turn_figures(d.kind, &d.session_id, d.turn_id, d.body)
            .await;
        let id = s.last_id.fetch_add(1, Ordering::SeqCst) + 1;
        let deliveries = self.plan_deliveries(d.kind, &devices, watched, now);
        let alert = Alert {
            id,
            time_unix_nano: d.time_unix_nano,
            url: session_url(&d.session_id),
            session_id: d.session_id,
            agent: d.agent,
            kind: d.kind,
            title: d.title,
            body,
            seq: d.seq,
            deliveries,
            prompt_id: d.prompt_id,
            said,
        };
        self.dispatch(alert, devices);
        Ok(())
    }

    /// The alert's body; a finished turn's gets the turn's figures, when the store has the turn,
    /// and what the agent said last in it (the start of its last message).
    async fn with_turn_figures(
        &self,
        kind: Kind,
        session_id: &str,
        turn_id: String,
        mut body: String,
    ) -> (String, String) {
        let mut said = String::new();
        if kind == Kind::Finished && !turn_id.is_empty() {
            let (store, session) = (self.inner.store.clone(), session_id.to_owned());
            // Committed before the engine saw it: the turn's figures are final.
            if let Ok(Ok(Some(t))) =
                tokio::task::spawn_blocking(move || store.turn(&session, &turn_id)).await
            {
                body.push_str(&super::rules::turn_figures(&t));
                said = excerpt(&t.last_message, SAID_CHARS);
            }
        }
        (body, said)
    }

    /// One delivery per device (Web Push) and per other channel: pending, or skipped with the
    /// reason.
    fn plan_deliveries(
        &self,
        kind: Kind,
        devices: &[Device],
        watched: bool,
        now: i64,
    ) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        for dev in devices {
            let skip = if !dev.kinds.contains(&kind) {
                Some("kind not chosen on this device")
            } else if dev.quiet_hours.is_some_and(|q| quiet(&q, now)) {
                Some("quiet hours")
            } else if watched {
                Some("open in a dashboard")
            } else if self.pusher().is_none() {
                Some("push is off")
            } else {
                None
            };
            deliveries.push(planned(
                Channel::WebPush,
                Some(dev.id.clone()),
                &dev.name,
                skip,
            ));
        }
        for extra in &self.inner.extras {
            let (channel, name) = match extra.sender {
                Sender::Webhook(_) => (Channel::Webhook, "webhook"),
                Sender::Ntfy(_) => (Channel::Ntfy, "ntfy"),
            };
            let skip = if !extra.kinds.contains(&kind) {
                Some("kind not chosen for this channel")
            } else if extra.quiet_hours.is_some_and(|q| quiet(&q, now)) {
                Some("quiet hours")
            } else {
                None
            };
            deliveries.push(planned(channel, None, name, skip));
        }
        deliveries
    }

    /// Stores the alert and streams it, sends its pending deliveries, then stores and streams
    /// their outcomes. Sending starts before the record is on disk: the phone should not wait
    /// for a sync.
    fn dispatch(&self, alert: Alert, devices: Vec<Device>) {
        let s = &self.inner;
        let store = s.store.clone();
        let first = alert.clone();
        if !alert.prompt_id.is_empty() {
            let mut in_flight = s.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            in_flight.insert(alert.prompt_id.clone(), alert.clone());
        }
        let stored = tokio::task::spawn_blocking(move || store.put_numbered(&first));
        s.hub.frame("alert", "alert", &alert);
        let this = self.clone();
        tokio::spawn(async move {
            let sent = this.send(&alert, &devices).await;
            let mut alert = alert;
            for (i, delivery) in sent {
                alert.deliveries[i] = delivery;
            }
            match stored.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "storing an alert"),
                Err(e) => tracing::error!(error = %e, "storing an alert"),
            }
            this.inner
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&alert.prompt_id);
            this.finish(alert, &devices).await;
        });
    }

    fn count(&self, alert: &Alert) {
        // The names the API uses for a channel and an outcome (their serde names).
        fn name(v: &impl serde::Serialize) -> String {
            let v = serde_json::to_value(v).unwrap_or_default();
            v.as_str().unwrap_or("unknown").to_owned()
        }
        let mut counts = self
            .inner
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for d in &alert.deliveries {
            let key = (alert.kind.as_str(), name(&d.channel), name(&d.outcome));
            *counts.entry(key).or_default() += 1;
        }
    }

    /// Deliveries settled since start, by (kind, channel, outcome).
    pub fn delivered(&self) -> BTreeMap<(&'static str, String, String), u64> {
        self.inner
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sends every pending delivery of `alert`, concurrently; (index, outcome) of each.
    async fn send(&self, alert: &Alert, devices: &[Device]) -> Vec<(usize, Delivery)> {
        let push_says = matches!(self.inner.push, PushSetup::On { says: true, .. });
        let mut payload = json!({
            "title": alert.title,
            "body": alert.body_saying(push_says),
            "session_id": (!alert.session_id.is_empty()).then_some(&alert.session_id),
            "url": alert.url,
            "kind": alert.kind,
            "alert_id": alert.id,
            "time_unix_nano": alert.time_unix_nano,
        });
        if !alert.prompt_id.is_empty() {
            payload["prompt_id"] = alert.prompt_id.clone().into();
            payload["actions"] =
                json!(self.inner.answer_actions.get().cloned().unwrap_or_default());
        }
        let payload = payload.to_string().into_bytes();
        let message = Message {
            payload,
            ttl_secs: alert.kind.ttl_secs(),
            urgency: if alert.kind.urgent() {
                Urgency::High
            } else {
                Urgency::Normal
            },
            topic: Some(deliver::topic_for(&alert.session_id)),
        };
        let notice = |says: bool| Notice {
            alert_id: alert.id,
            kind: alert.kind.as_str().to_owned(),
            title: alert.title.clone(),
            body: alert.body_saying(says),
            session_id: (!alert.session_id.is_empty()).then(|| alert.session_id.clone()),
            url: alert.url.clone(),
            time_unix_nano: alert.time_unix_nano,
            urgent: alert.kind.urgent(),
        };
        let mut extras = self.inner.extras.iter();
        let sends = alert.deliveries.iter().enumerate().map(|(i, d)| {
            let extra = match d.channel {
                Channel::WebPush => None,
                Channel::Webhook | Channel::Ntfy => extras.next(),
            };
            let device = d
                .device_id
                .as_ref()
                .and_then(|id| devices.iter().find(|dev| &dev.id == id));
            let message = &message;
            let notice = extra.map(|e| notice(e.says));
            async move {
                if d.outcome != Outcome::Pending {
                    return None;
                }
                let sent = match (d.channel, device, extra, self.pusher()) {
                    (Channel::WebPush, Some(dev), _, Some(p)) => match &dev.subscription {
                        Some(sub) => p.send(sub, message).await,
                        None => return None,
                    },
                    (_, _, Some(e), _) => match (&e.sender, &notice) {
                        (Sender::Webhook(w), Some(n)) => w.send(n).await,
                        (Sender::Ntfy(ntfy), Some(n)) => ntfy.send(n).await,
                        _ => return None,
                    },
                    _ => return None,
                };
                Some((i, record(d, sent)))
            }
        });
        futures_util::future::join_all(sends)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// Stores and streams the alert with its outcomes; notes each device's last delivery and
    /// removes the devices that are gone.
    async fn finish(&self, alert: Alert, devices: &[Device]) {
        let s = &self.inner;
        self.count(&alert);
        let store = s.store.clone();
        let mut touched: Vec<(Device, bool)> = Vec::new();
        for d in &alert.deliveries {
            let Some(dev) = d
                .device_id
                .as_ref()
                .and_then(|id| devices.iter().find(|dev| &dev.id == id))
            else {
                continue;
            };
            if matches!(d.outcome, Outcome::Pending | Outcome::Skipped) {
                continue;
            }
            let mut dev = dev.clone();
            dev.last_delivery = Some(LastDelivery {
                at_unix_nano: d
                    .attempts
                    .last()
                    .map_or(alert.time_unix_nano, |a| a.at_unix_nano),
                outcome: d.outcome,
                status: d.attempts.last().and_then(|a| a.status),
            });
            touched.push((dev, d.outcome == Outcome::Gone));
        }
        let record = alert.clone();
        let written = tokio::task::spawn_blocking(move || -> crate::store::Result<()> {
            // The devices first: whoever sees the settled alert also sees what it did to them.
            for (dev, gone) in touched {
                forget_or_keep(&store, dev, gone)?;
            }
            store.put_numbered(&record)
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "storing an alert's deliveries"),
            Err(e) => tracing::error!(error = %e, "storing an alert's deliveries"),
        }
        s.hub.frame("alert", "alert", &alert);
    }

    /// Sends a test notification to one device now; `None` when there is no such device.
    /// Sets what notifications about answerable prompts offer (once, at start).
    pub fn set_answer_actions(&self, actions: Vec<&'static str>) {
        let _ = self.inner.answer_actions.set(actions);
    }

    /// A prompt was settled (answered here or in the terminal, or gone): the notification that
    /// offered it is replaced quietly on the devices it reached (same session tag, no sound).
    pub async fn settle_prompt(&self, prompt_id: &str, body: String) {
        let Some(pusher) = self.pusher() else { return };
        let store = self.inner.store.clone();
        let id = prompt_id.to_owned();
        let sending = {
            let in_flight = self
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            in_flight.get(prompt_id).cloned()
        };
        let found = tokio::task::spawn_blocking(move || -> crate::store::Result<_> {
            let alert = match sending {
                Some(a) => Some(a),
                None => store
                    .page::<Alert>(None, INTERRUPTED_SCAN)?
                    .into_iter()
                    .find(|a| a.prompt_id == id),
            };
            let devices = store.all::<Device>()?;
            Ok(alert.map(|a| (a, devices)))
        })
        .await;
        let Ok(Ok(Some((alert, devices)))) = found else {
            return;
        };
        let message = Message {
            payload: json!({
                "title": alert.title,
                "body": body,
                "session_id": alert.session_id,
                "url": alert.url,
                "kind": "resolved",
                "silent": true,
                "prompt_id": alert.prompt_id,
                "time_unix_nano": self.inner.hub.clock().now(),
            })
            .to_string()
            .into_bytes(),
            ttl_secs: 600,
            urgency: Urgency::Normal,
            topic: Some(deliver::topic_for(&alert.session_id)),
        };
        let reached = alert
            .deliveries
            .iter()
            // Pending: being sent right now (a quick answer comes before the store hears back).
            .filter(|d| {
                d.channel == Channel::WebPush
                    && matches!(d.outcome, Outcome::Sent | Outcome::Pending)
            })
            .filter_map(|d| d.device_id.as_ref())
            .filter_map(|id| devices.iter().find(|dev| &dev.id == id))
            .filter_map(|dev| dev.subscription.as_ref());
        for subscription in reached {
            let _ = pusher.send(subscription, &message).await;
        }
    }

    pub async fn test(&self, device_id: &str) -> Result<Option<Delivery>, String> {
        let Some(pusher) = self.pusher() else {
            return Err(self.off_reason().unwrap_or("push is off").to_owned());
        };
        let store = self.inner.store.clone();
        let id = device_id.to_owned();
        let device = tokio::task::spawn_blocking(move || store.get::<Device>(&id))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let Some(device) = device else {
            return Ok(None);
        };
        let Some(subscription) = device.subscription.clone() else {
            return Err(format!(
                "{} has no push subscription: turn notifications on in its Settings first",
                device.name
            ));
        };
        let message = Message {
            payload: json!({
                "title": "Agent Observatory",
                "body": format!("Test notification for {}: notifications reach this device.", device.name),
                "session_id": null,
                "url": "/alerts",
                "kind": "test",
                "time_unix_nano": self.inner.hub.clock().now(),
            })
            .to_string()
            .into_bytes(),
            ttl_secs: 300,
            urgency: Urgency::High,
            topic: None,
        };
        let pending = planned(
            Channel::WebPush,
            Some(device.id.clone()),
            &device.name,
            None,
        );
        let delivery = record(&pending, pusher.send(&subscription, &message).await);
        // Only the device's last delivery and its removal when gone; a test is not an alert.
        let store = self.inner.store.clone();
        let gone = delivery.outcome == Outcome::Gone;
        let mut dev = device;
        dev.last_delivery = Some(LastDelivery {
            at_unix_nano: delivery
                .attempts
                .last()
                .map_or_else(|| self.inner.hub.clock().now(), |a| a.at_unix_nano),
            outcome: delivery.outcome,
            status: delivery.attempts.last().and_then(|a| a.status),
        });
        let written = tokio::task::spawn_blocking(move || forget_or_keep(&store, dev, gone)).await;
        if let Ok(Err(e)) = written {
            tracing::error!(error = %e, "storing a test delivery");
        }
        Ok(Some(delivery))
    }
}

/// A delivery about to be made, or skipped for `skip`.
fn planned(
    channel: Channel,
    device_id: Option<String>,
    name: &str,
    skip: Option<&str>,
) -> Delivery {
    Delivery {
        channel,
        device_id,
        name: name.to_owned(),
        outcome: if skip.is_some() {
            Outcome::Skipped
        } else {
            Outcome::Pending
        },
        reason: skip.unwrap_or_default().to_owned(),
        attempts: Vec::new(),
    }
}

/// A pending delivery with what sending it gave.
fn record(pending: &Delivery, sent: deliver::Delivery) -> Delivery {
    let reason = match sent.outcome {
        deliver::Outcome::Sent => String::new(),
        _ => sent
            .attempts
            .last()
            .map(|a| {
                if a.error.is_empty() {
                    a.status.map(|s| format!("HTTP {s}")).unwrap_or_default()
                } else {
                    a.error.clone()
                }
            })
            .unwrap_or_default(),
    };
    Delivery {
        outcome: sent.outcome.into(),
        reason,
        attempts: sent.attempts,
        ..pending.clone()
    }
}

/// Keeps a device's last delivery; when the push service said its subscription is gone, the
/// subscription goes (the device stays paired and can turn notifications on again). A device
/// revoked meanwhile stays gone.
fn forget_or_keep(store: &Store, mut dev: Device, gone: bool) -> crate::store::Result<()> {
    if store.get::<Device>(&dev.id)?.is_none() {
        return Ok(());
    }
    if gone {
        dev.subscription = None;
        tracing::info!(device = %dev.name, "push service says the subscription is gone: notifications are off on this device");
    }
    store.put(&dev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_a_stop_cut_short_are_failed_at_the_next_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let delivery = |outcome| Delivery {
            channel: Channel::WebPush,
            device_id: Some("d_1".into()),
            name: "phone".into(),
            outcome,
            reason: String::new(),
            attempts: Vec::new(),
        };
        let alert = Alert {
            id: 1,
            time_unix_nano: 1,
            session_id: "codex:s".into(),
            agent: "codex".into(),
            kind: Kind::Crashed,
            title: "Codex".into(),
            body: "crashed".into(),
            url: session_url("codex:s"),
            seq: 1,
            deliveries: vec![delivery(Outcome::Pending), delivery(Outcome::Sent)],
            prompt_id: String::new(),
            said: String::new(),
        };
        store.put_numbered(&alert).expect("put");
        settle_interrupted(&store).expect("settle");
        let after = store.page::<Alert>(None, 1).expect("alerts").remove(0);
        assert_eq!(after.deliveries[0].outcome, Outcome::Failed);
        assert_eq!(
            after.deliveries[0].reason,
            "the server stopped before it was sent"
        );
        assert_eq!(after.deliveries[1], alert.deliveries[1]);
    }

    #[test]
    fn an_excerpt_is_cut_at_a_word() {
        assert_eq!(excerpt("All  212 tests\npass.", 150), "All 212 tests pass.");
        let long = "word ".repeat(60);
        let e = excerpt(&long, 150);
        assert!(e.ends_with("word…") && e.chars().count() <= 151, "{e}");
        assert_eq!(
            excerpt(&"x".repeat(200), 10),
            format!("{}…", "x".repeat(10))
        );
    }

    #[test]
    fn session_urls_escape_the_id() {
        assert_eq!(
            session_url("claude_code:ab-1"),
            "/sessions/claude_code%3Aab-1"
        );
        assert_eq!(session_url("x/y z"), "/sessions/x%2Fy%20z");
        assert_eq!(session_url(""), "/live");
    }
}
