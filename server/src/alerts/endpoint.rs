//! Where Web Push may send: a subscription's endpoint is a URL a browser hands us, so a stranger
//! with a credential could hand us any URL — a service on the laptop's loopback, the LAN, the
//! cloud metadata address — and read what our requests do to it. Endpoints are `https://` to
//! public addresses only; plain `http://` to loopback only when `[push]
//! allow_loopback_endpoints` says so (tests and local push services). Checked when a browser
//! subscribes, and again at every connection: the push client resolves names through
//! [`PublicOnly`], which refuses private answers, and follows no redirects.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The endpoint rules in force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub allow_loopback: bool,
}

impl Endpoints {
    /// The endpoint as a URL, or why it may not be used.
    pub fn check(self, endpoint: &str) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(endpoint)
            .map_err(|e| format!("the push endpoint {endpoint:?} is not a URL: {e}"))?;
        let host = url.host_str().unwrap_or("");
        let literal: Option<IpAddr> = host.trim_matches(['[', ']']).parse().ok();
        let loopback_name = host == "localhost" || host.ends_with(".localhost");
        let loopback = loopback_name || literal.is_some_and(|ip| ip.is_loopback());
        let refuse = |why: &str| Err(format!("the push endpoint {endpoint:?} {why}"));
        match (url.scheme(), loopback) {
            (_, true) if !self.allow_loopback => refuse(
                "is on this machine: set [push] allow_loopback_endpoints = true to allow a local push service",
            ),
            ("http" | "https", true) => Ok(url),
            ("https", false) => match literal {
                Some(ip) if !is_public(ip) => {
                    refuse("is a private, link-local or reserved address: push services are public")
                }
                _ if host.is_empty() => refuse("has no host"),
                _ => Ok(url),
            },
            _ => refuse("must be an https:// URL"),
        }
    }

    /// The DNS resolver the push client uses.
    pub fn resolver(self) -> Arc<PublicOnly> {
        Arc::new(PublicOnly(self))
    }
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918, unique
/// local), shared (CGNAT, where Tailscale lives), link-local (the cloud metadata address),
/// multicast, unspecified, broadcast or documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [x, y, ..] = a.octets();
            !(a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_documentation()
                || x == 0
                || (x == 100 && (64..128).contains(&y))
                || x >= 240)
        }
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = a.segments()[0];
                !(a.is_loopback()
                    || a.is_unspecified()
                    || a.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
                    || first == 0x2001 && a.segments()[1] == 0x0db8)
            }
        },
    }
}

/// Resolves with the system resolver and keeps only the addresses [`Endpoints`] allows: a name
/// that answers with a private address is refused at connection time.
#[derive(Debug)]
pub struct PublicOnly(Endpoints);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()) || (rules.allow_loopback && a.ip().is_loopback()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_endpoints_unless_loopback_is_allowed() {
        let strict = Endpoints::default();
        let local = Endpoints {
            allow_loopback: true,
        };
        assert!(
            strict
                .check("https://fcm.googleapis.com/fcm/send/abc")
                .is_ok()
        );
        assert!(strict.check("https://203.0.114.7/push").is_ok());
        for bad in [
            "http://fcm.googleapis.com/x",
            "https://127.0.0.1:9000/x",
            "http://127.0.0.1:9000/x",
            "https://localhost/x",
            "https://10.1.2.3/x",
            "https://192.168.0.10/x",
            "https://172.20.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.100.100.100/x",
            "https://[::1]/x",
            "https://[fd00:ec2::254]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "ftp://example.com/x",
            "not a url",
        ] {
            assert!(strict.check(bad).is_err(), "{bad}");
        }
        assert!(local.check("http://127.0.0.1:9000/x").is_ok());
        assert!(local.check("http://localhost:9000/x").is_ok());
        assert!(local.check("ftp://127.0.0.1/x").is_err());
        assert!(local.check("http://10.1.2.3/x").is_err());
        assert!(local.check("https://192.168.0.10/x").is_err());
    }

    #[tokio::test]
    async fn names_that_answer_privately_are_refused_at_connection() {
        let strict = Endpoints::default().resolver();
        let err = match strict.resolve("localhost".parse().expect("name")).await {
            Ok(_) => panic!("localhost resolved"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("no public address"), "{err}");
        let local = Endpoints {
            allow_loopback: true,
        }
        .resolver();
        let found: Vec<SocketAddr> = match local.resolve("localhost".parse().expect("name")).await {
            Ok(a) => a.collect(),
            Err(e) => panic!("{e}"),
        };
        assert!(found.iter().all(|a| a.ip().is_loopback()) && !found.is_empty());
    }
}
