//! Configuration: built-in defaults < config file < `OBSERVATORY_*` environment < flags.
//! `config/example.toml` is the documentation; a test keeps it equal to the defaults. Loading
//! never writes anything.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::normalize::prices::ModelPrice;

/// The commented example config, printed by `observatory print-config`.
pub const EXAMPLE: &str = include_str!("../../config/example.toml");

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data_dir: Option<PathBuf>,
    pub listen: Listen,
    pub ingest: Ingest,
    pub live: Live,
    pub session: SessionConfig,
    pub alerts: crate::alerts::Settings,
    pub push: crate::alerts::PushSettings,
    pub access: crate::access::Settings,
    pub control: crate::control::Settings,
    pub answers: crate::answers::Settings,
    pub retention: crate::retention::Settings,
    pub forward: crate::forward::Settings,
    pub log: Log,
    pub prices: BTreeMap<String, ModelPrice>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub app: SocketAddr,
    /// Open connections per HTTP port (OTLP/HTTP, app); one more gets a fast 503.
    pub max_connections: usize,
    /// A connection that sends no complete request head for this long is closed (a half-sent
    /// request; an idle one).
    pub header_timeout_secs: u64,
}

impl Listen {
    pub fn limits(&self) -> crate::conns::Limits {
        crate::conns::Limits {
            max_connections: self.max_connections.max(1),
            header_timeout: std::time::Duration::from_secs(self.header_timeout_secs.max(1)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ingest {
    pub max_body_bytes: usize,
    pub queue_requests: usize,
    pub batch_max_events: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Live {
    pub max_lag_commits: usize,
    pub tool_latency_window_secs: u64,
    /// How often the live feed sends its `tick` frame (burn rate, sessions by state).
    pub tick_interval_ms: u64,
    /// How many live feeds (`/api/stream` WebSockets) may be open at once; one more is refused
    /// with 503 before the upgrade. Each holds a little memory and a task.
    pub max_feed_clients: usize,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            max_lag_commits: 256,
            tool_latency_window_secs: 900,
            tick_interval_ms: 5000,
            max_feed_clients: 200,
        }
    }
}

impl Live {
    pub fn tick_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.tick_interval_ms)
    }
}

/// Session timers (DESIGN.md "Session state"), with per-agent overrides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    pub stall_after_secs: u64,
    pub tool_stall_after_secs: u64,
    pub expire_after_secs: u64,
    /// How often timers and agent processes are checked.
    pub check_interval_ms: u64,
    pub agents: BTreeMap<String, AgentTimers>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            stall_after_secs: 120,
            tool_stall_after_secs: 600,
            expire_after_secs: 86_400,
            check_interval_ms: 500,
            agents: BTreeMap::new(),
        }
    }
}

/// One agent's timers; what is not set comes from `[session]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentTimers {
    pub stall_after_secs: Option<u64>,
    pub tool_stall_after_secs: Option<u64>,
    pub expire_after_secs: Option<u64>,
}

impl Config {
    /// The writer stage's settings: batching, and the session clock's limits and period, on
    /// the server's `clock`.
    pub fn writer(&self, clock: crate::clock::Clock) -> crate::writer::WriterConfig {
        crate::writer::WriterConfig {
            max_events: self.ingest.batch_max_events,
            limits: self.session.limits(),
            check_interval: std::time::Duration::from_millis(self.session.check_interval_ms),
            clock,
        }
    }
}

impl SessionConfig {
    /// The tracker's limits, in nanoseconds.
    pub fn limits(&self) -> crate::session::Limits {
        const S: i64 = 1_000_000_000;
        let ns = |secs: u64| {
            i64::try_from(secs)
                .unwrap_or(i64::MAX / S)
                .saturating_mul(S)
        };
        let default = crate::session::Timers {
            stall_after: ns(self.stall_after_secs),
            tool_stall_after: ns(self.tool_stall_after_secs),
            expire_after: ns(self.expire_after_secs),
        };
        let agents = self
            .agents
            .iter()
            .map(|(agent, a)| {
                let t = crate::session::Timers {
                    stall_after: a.stall_after_secs.map_or(default.stall_after, ns),
                    tool_stall_after: a.tool_stall_after_secs.map_or(default.tool_stall_after, ns),
                    expire_after: a.expire_after_secs.map_or(default.expire_after, ns),
                };
                (agent.clone(), t)
            })
            .collect();
        crate::session::Limits { default, agents }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            grpc: SocketAddr::from(([127, 0, 0, 1], 4317)),
            http: SocketAddr::from(([127, 0, 0, 1], 4318)),
            app: SocketAddr::from(([127, 0, 0, 1], 4319)),
            max_connections: 256,
            header_timeout_secs: 30,
        }
    }
}

impl Default for Ingest {
    fn default() -> Self {
        Ingest {
            max_body_bytes: 16 * 1024 * 1024,
            queue_requests: 256,
            batch_max_events: 16384,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub grpc_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    pub app_addr: Option<SocketAddr>,
    pub log_level: Option<String>,
    pub log_format: Option<LogFormat>,
}

impl Config {
    /// Loads the layers in order. `file` is the `--config` flag: when given it must exist; when
    /// absent the default location is read if it exists.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config> {
        let mut config = match file {
            Some(path) => Config::from_file(path)?,
            None => match default_config_path(&env) {
                Some(path) if path.exists() => Config::from_file(&path)?,
                _ => Config::default(),
            },
        };
        config.apply_env(&env)?;
        config.apply_flags(flags);
        config.validate()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("in config file {}", path.display()))
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<()> {
        fn parse<T: std::str::FromStr>(name: &str, v: String) -> Result<T>
        where
            T::Err: fmt::Display,
        {
            v.trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("environment variable {name}={v:?}: {e}"))
        }
        if let Some(v) = env("OBSERVATORY_DATA_DIR") {
            self.data_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("OBSERVATORY_GRPC_ADDR") {
            self.listen.grpc = parse("OBSERVATORY_GRPC_ADDR", v)?;
        }
        if let Some(v) = env("OBSERVATORY_HTTP_ADDR") {
            self.listen.http = parse("OBSERVATORY_HTTP_ADDR", v)?;
        }
        if let Some(v) = env("OBSERVATORY_APP_ADDR") {
            self.listen.app = parse("OBSERVATORY_APP_ADDR", v)?;
        }
        if let Some(v) = env("OBSERVATORY_MAX_BODY_BYTES") {
            self.ingest.max_body_bytes = parse("OBSERVATORY_MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = env("OBSERVATORY_PUSH_SUBJECT") {
            self.push.subject = v;
        }
        if let Some(v) = env("OBSERVATORY_LOG_LEVEL") {
            self.log.level = v;
        }
        if let Some(v) = env("OBSERVATORY_LOG_FORMAT") {
            self.log.format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => bail!(
                    "environment variable OBSERVATORY_LOG_FORMAT={v:?}: expected text or json"
                ),
            };
        }
        Ok(())
    }

    fn apply_flags(&mut self, f: &Overrides) {
        if let Some(v) = &f.data_dir {
            self.data_dir = Some(v.clone());
        }
        if let Some(v) = f.grpc_addr {
            self.listen.grpc = v;
        }
        if let Some(v) = f.http_addr {
            self.listen.http = v;
        }
        if let Some(v) = f.app_addr {
            self.listen.app = v;
        }
        if let Some(v) = &f.log_level {
            self.log.level = v.clone();
        }
        if let Some(v) = f.log_format {
            self.log.format = v;
        }
    }

    fn validate(&self) -> Result<()> {
        if self.ingest.max_body_bytes == 0 {
            bail!("ingest.max_body_bytes must be greater than 0");
        }
        if self.ingest.queue_requests == 0 {
            bail!("ingest.queue_requests must be greater than 0");
        }
        if self.live.max_lag_commits == 0 {
            bail!("live.max_lag_commits must be greater than 0");
        }
        if self.ingest.batch_max_events == 0 {
            bail!("ingest.batch_max_events must be greater than 0");
        }
        if self.live.tick_interval_ms == 0 {
            bail!("live.tick_interval_ms must be greater than 0");
        }
        if self.session.check_interval_ms == 0 {
            bail!("session.check_interval_ms must be greater than 0");
        }
        self.forward.validate()?;
        let r = &self.retention;
        if r.check_every_secs == 0 {
            bail!("retention.check_every_secs must be greater than 0");
        }
        if !(r.compact_free_ratio > 0.0 && r.compact_free_ratio <= 1.0) {
            bail!("retention.compact_free_ratio must be more than 0 and at most 1");
        }
        for agent in self.session.agents.keys() {
            if crate::normalize::Agent::parse(agent).is_none() {
                let known: Vec<&str> = crate::normalize::Agent::ALL
                    .iter()
                    .map(|a| a.as_str())
                    .collect();
                bail!(
                    "session.agents.{agent}: unknown agent (known: {})",
                    known.join(", ")
                );
            }
        }
        let a = &self.alerts;
        if !a.completion_min_turn_secs.is_finite() || a.completion_min_turn_secs < 0.0 {
            bail!("alerts.completion_min_turn_secs must be a number of seconds, 0 or more");
        }
        for (name, usd) in [
            ("budget_session_usd", a.budget_session_usd),
            ("budget_day_usd", a.budget_day_usd),
        ] {
            if !usd.is_finite() || usd < 0.0 {
                bail!("alerts.{name} must be 0 (off) or a positive amount in USD");
            }
        }
        self.access.validate()?;
        if let Some(w) = &a.webhook
            && crate::alerts::origin(&w.url).is_none()
        {
            bail!(
                "alerts.webhook.url {:?} must be an absolute http(s) URL",
                w.url
            );
        }
        if let Some(n) = &a.ntfy {
            if crate::alerts::origin(&n.server).is_none() {
                bail!(
                    "alerts.ntfy.server {:?} must be an absolute http(s) URL",
                    n.server
                );
            }
            if n.topic.is_empty() || n.topic.contains(['/', '?', '#', ' ']) {
                bail!(
                    "alerts.ntfy.topic {:?} must be a topic name (no '/', '?', '#' or spaces)",
                    n.topic
                );
            }
        }
        for (model, p) in &self.prices {
            let all = [p.input, p.output, p.cache_read, p.cache_write];
            if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
                bail!("prices.{model:?}: prices must be non-negative numbers");
            }
        }
        Ok(())
    }

    /// The data directory: configured, else `$XDG_DATA_HOME/agent-observatory`, else
    /// `~/.local/share/agent-observatory`.
    pub fn data_dir(&self, env: impl Fn(&str) -> Option<String>) -> Result<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        if let Some(xdg) = env("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(xdg).join("agent-observatory"));
        }
        match env("HOME").filter(|v| !v.is_empty()) {
            Some(home) => Ok(PathBuf::from(home).join(".local/share/agent-observatory")),
            None => bail!("no data directory: set --data-dir, OBSERVATORY_DATA_DIR or HOME"),
        }
    }
}

fn default_config_path(env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(xdg) = env("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("agent-observatory/config.toml"));
    }
    env("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".config/agent-observatory/config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn example_config_is_the_defaults() {
        let parsed: Config = toml::from_str(EXAMPLE).expect("example.toml parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[listen]\ngrpc = \"127.0.0.1:1\"\nhttp = \"127.0.0.1:2\"\napp = \"127.0.0.1:3\"\n",
        )
        .expect("write");
        let env = |k: &str| match k {
            "OBSERVATORY_HTTP_ADDR" => Some("127.0.0.1:20".to_owned()),
            "OBSERVATORY_APP_ADDR" => Some("127.0.0.1:30".to_owned()),
            _ => None,
        };
        let flags = Overrides {
            app_addr: Some("127.0.0.1:300".parse().expect("addr")),
            ..Overrides::default()
        };
        let c = Config::load(Some(&file), env, &flags).expect("load");
        assert_eq!(c.listen.grpc.port(), 1);
        assert_eq!(c.listen.http.port(), 20);
        assert_eq!(c.listen.app.port(), 300);
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let env = |k: &str| (k == "OBSERVATORY_GRPC_ADDR").then(|| "nonsense".to_owned());
        let Err(err) = Config::load(None, env, &Overrides::default()) else {
            panic!("a bad address is refused");
        };
        assert!(err.to_string().contains("OBSERVATORY_GRPC_ADDR"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[ingest]\nmax_body = 1\n").expect("write");
        let Err(err) = Config::load(Some(&file), no_env, &Overrides::default()) else {
            panic!("an unknown key is refused");
        };
        let err = format!("{err:#}");
        assert!(err.contains("unknown field"), "{err}");
        assert!(
            Config::load(
                Some(&dir.path().join("missing.toml")),
                no_env,
                &Overrides::default()
            )
            .is_err()
        );
    }

    #[test]
    fn alert_channels_are_read_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        let load = |text: &str| {
            std::fs::write(&file, text).expect("write");
            Config::load(Some(&file), no_env, &Overrides::default()).map_err(|e| format!("{e:#}"))
        };
        let c = load(
            "[alerts.ntfy]\ntopic = \"agents\"\nkinds = [\"needs_you\"]\n\
             quiet_hours = { start = \"22:00\", end = \"07:00\", utc_offset_minutes = 60 }\n\
             [push]\nsubject = \"mailto:me@example.com\"\n",
        )
        .expect("valid");
        let ntfy = c.alerts.ntfy.expect("ntfy");
        assert_eq!(ntfy.server, "https://ntfy.sh");
        assert_eq!(ntfy.kinds, [crate::alerts::Kind::NeedsYou]);
        assert_eq!(
            ntfy.quiet_hours.map(|q| (q.start, q.end)),
            Some((1320, 420))
        );
        for (text, needle) in [
            ("[alerts.ntfy]\ntopic = \"a/b\"\n", "alerts.ntfy.topic"),
            (
                "[alerts.webhook]\nurl = \"example.com/x\"\n",
                "alerts.webhook.url",
            ),
            (
                "[alerts.webhook]\nurl = \"https://x\"\nkinds = [\"loud\"]\n",
                "loud",
            ),
            (
                "[alerts.webhook]\nurl = \"https://x\"\nquiet_hours = { start = \"9\", end = \"10:00\", utc_offset_minutes = 0 }\n",
                "HH:MM",
            ),
            ("[alerts]\nbudget_day_usd = -1.0\n", "budget_day_usd"),
            ("[alerts]\npublic_url = \"laptop\"\n", "public_url"),
        ] {
            let err = load(text).expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn session_timers_take_per_agent_overrides() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[session]\nstall_after_secs = 60\n[session.agents.codex]\nstall_after_secs = 300\n",
        )
        .expect("write");
        let c = Config::load(Some(&file), no_env, &Overrides::default()).expect("load");
        let limits = c.session.limits();
        const S: i64 = 1_000_000_000;
        assert_eq!(limits.default.stall_after, 60 * S);
        let codex = limits.agents.get("codex").expect("codex");
        assert_eq!(codex.stall_after, 300 * S);
        // what codex does not set comes from [session]
        assert_eq!(codex.tool_stall_after, 600 * S);

        std::fs::write(&file, "[session.agents.cursor]\nstall_after_secs = 1\n").expect("write");
        let Err(err) = Config::load(Some(&file), no_env, &Overrides::default()) else {
            panic!("an unknown agent is refused");
        };
        assert!(err.to_string().contains("session.agents.cursor"), "{err}");
    }
}
