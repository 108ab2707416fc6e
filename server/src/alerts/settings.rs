//! The `[alerts]` section of the config: the rules' thresholds and the optional channels besides
//! Web Push. The alerts stage owns its settings; `config` reads them from the file and the
//! environment and checks them, and the engine is built from them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Kind;
use super::rules::{QuietHours, RuleConfig};

/// Alert rules (DESIGN.md) and the optional channels besides Web Push.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub completion_min_turn_secs: f64,
    pub cooldown_secs: u64,
    pub api_error_burst: usize,
    pub api_error_window_secs: u64,
    pub budget_session_usd: f64,
    pub budget_day_usd: f64,
    pub quiet_when_watching: bool,
    pub webhook: Option<WebhookChannel>,
    pub ntfy: Option<NtfyChannel>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            completion_min_turn_secs: 20.0,
            cooldown_secs: 300,
            api_error_burst: 3,
            api_error_window_secs: 60,
            budget_session_usd: 0.0,
            budget_day_usd: 0.0,
            quiet_when_watching: true,
            webhook: None,
            ntfy: None,
        }
    }
}

impl Settings {
    pub fn rules(&self) -> RuleConfig {
        const S: i64 = 1_000_000_000;
        let ns = |secs: u64| {
            i64::try_from(secs)
                .unwrap_or(i64::MAX / S)
                .saturating_mul(S)
        };
        RuleConfig {
            completion_min_turn_ms: self.completion_min_turn_secs * 1000.0,
            cooldown_ns: ns(self.cooldown_secs),
            api_error_burst: self.api_error_burst,
            api_error_window_ns: ns(self.api_error_window_secs),
            budget_session_usd: self.budget_session_usd,
            budget_day_usd: self.budget_day_usd,
        }
    }
}

fn all_kinds() -> Vec<Kind> {
    Kind::ALL.to_vec()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    pub url: String,
    /// Whether a finished alert quotes the agent's last message (off: the webhook's server
    /// would read it).
    #[serde(default)]
    pub include_last_message: bool,
    #[serde(default = "all_kinds")]
    pub kinds: Vec<Kind>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NtfyChannel {
    #[serde(default = "default_ntfy_server")]
    pub server: String,
    pub topic: String,
    /// Whether a finished alert quotes the agent's last message (off: ntfy's server reads
    /// what it relays).
    #[serde(default)]
    pub include_last_message: bool,
    /// An access token for a protected topic.
    #[serde(default)]
    pub token: String,
    #[serde(default = "all_kinds")]
    pub kinds: Vec<Kind>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
}

fn default_ntfy_server() -> String {
    "https://ntfy.sh".to_owned()
}

impl fmt::Debug for NtfyChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtfyChannel")
            .field("server", &self.server)
            .field("topic", &self.topic)
            .field(
                "token",
                &if self.token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("include_last_message", &self.include_last_message)
            .field("kinds", &self.kinds)
            .field("quiet_hours", &self.quiet_hours)
            .finish()
    }
}

/// The `[push]` section: Web Push.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushSettings {
    /// The VAPID subject push services may contact: `mailto:you@example.com` or an `https://`
    /// URL. Web Push stays off until it is set.
    pub subject: String,
    /// Lets subscriptions point at `http://` services on this machine (tests, a local push
    /// service). Off: endpoints are `https://` to public addresses only.
    pub allow_loopback_endpoints: bool,
    /// Whether a finished alert quotes the agent's last message (Web Push is end-to-end
    /// encrypted: only the person's devices read it).
    pub include_last_message: bool,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            subject: String::new(),
            allow_loopback_endpoints: false,
            include_last_message: true,
        }
    }
}
