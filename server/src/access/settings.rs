//! The `[access]` section of the config: who may read and act, and the names the app port
//! answers to besides loopback.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// Whether requests from this machine may read without a credential.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalReads {
    #[default]
    Open,
    Paired,
}

/// What a remote paired device may answer to an agent's permission prompt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteAnswers {
    #[default]
    AllowAndDeny,
    DenyOnly,
    Off,
}

impl RemoteAnswers {
    /// Whether a remote device may give this answer.
    pub fn permits(self, allow: bool) -> bool {
        match self {
            RemoteAnswers::AllowAndDeny => true,
            RemoteAnswers::DenyOnly => !allow,
            RemoteAnswers::Off => false,
        }
    }

    /// The answers a remote device may give, as notification actions.
    pub fn actions(self) -> Vec<&'static str> {
        [("allow", true), ("deny", false)]
            .into_iter()
            .filter(|&(_, allow)| self.permits(allow))
            .map(|(action, _)| action)
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub local_reads: LocalReads,
    /// Lets remote credentials interrupt, kill and restart agents.
    pub allow_remote_control: bool,
    pub remote_answers: RemoteAnswers,
    /// The app's address as the person's devices reach it (a tunnel, a reverse proxy): its host
    /// is allowed, pairing links and alert links use it. Empty: none.
    pub public_url: String,
    /// More names the app port answers to: `host` (any port) or `host:port`.
    pub allowed_hosts: Vec<String>,
    /// How long a pairing code works.
    pub pairing_code_ttl_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            local_reads: LocalReads::Open,
            allow_remote_control: false,
            remote_answers: RemoteAnswers::AllowAndDeny,
            public_url: String::new(),
            allowed_hosts: Vec::new(),
            pairing_code_ttl_secs: 600,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<()> {
        if !self.public_url.is_empty() && self.public_host().is_none() {
            bail!(
                "access.public_url {:?} must be an absolute http(s) URL",
                self.public_url
            );
        }
        if self.pairing_code_ttl_secs == 0 {
            bail!("access.pairing_code_ttl_secs must be greater than 0");
        }
        if let Some(bad) = self
            .allowed_hosts
            .iter()
            .find(|h| h.is_empty() || h.contains(['/', ' ', '@', '#', '?']))
        {
            bail!("access.allowed_hosts: {bad:?} is not a host or host:port");
        }
        Ok(())
    }

    /// `public_url` without its trailing slash, when set.
    pub fn public_url(&self) -> Option<String> {
        crate::alerts::origin(&self.public_url)
            .map(|_| self.public_url.trim_end_matches('/').to_owned())
    }

    /// `public_url`'s `host[:port]`.
    pub fn public_host(&self) -> Option<&str> {
        let origin = crate::alerts::origin(&self.public_url)?;
        crate::hosts::origin_authority(origin)
    }
}
