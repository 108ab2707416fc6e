//! Who is asking, read from a request's headers alone: the `Host` (or HTTP/2 `:authority`) a
//! port answers — the defence against DNS rebinding, where a web page reaches a loopback port
//! under a name its attacker controls —, whether a request comes from a browser page of another
//! origin, and whether it passed through a proxy. Pure functions of the headers and of the
//! allowed names; the ingest ports and the app port each apply them before any handler runs.

use std::net::IpAddr;

use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Uri};

/// The names one port answers to: `host:port` authorities, or bare hosts (any port).
#[derive(Clone, Debug, Default)]
pub struct HostList {
    names: Vec<String>,
}

impl HostList {
    /// The loopback names with `port` (`127.0.0.1:4319`, `localhost:4319`, `[::1]:4319`), the
    /// bound address with the port when it is a specific one, and `extra` (from config: a host
    /// matches any port, `host:port` only that port).
    pub fn for_port(bound: IpAddr, port: u16, extra: &[String]) -> HostList {
        let mut names: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| format!("{h}:{port}"))
            .collect();
        if !bound.is_unspecified() && !bound.is_loopback() {
            names.push(match bound {
                IpAddr::V4(a) => format!("{a}:{port}"),
                IpAddr::V6(a) => format!("[{a}]:{port}"),
            });
        }
        let mut list = HostList { names };
        for e in extra {
            list.add(e);
        }
        list
    }

    pub fn add(&mut self, name: &str) {
        let name = normal(name);
        if !name.is_empty() && !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    pub fn remove(&mut self, name: &str) {
        let name = normal(name);
        self.names.retain(|n| *n != name);
    }

    pub fn allows(&self, authority: &str) -> bool {
        let authority = normal(authority);
        let host = host_part(&authority);
        self.names
            .iter()
            .any(|n| *n == authority || (!n.contains(':') || n.ends_with(']')) && *n == host)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

fn normal(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `example.com` of `example.com:443`, `[::1]` of `[::1]:4319`.
fn host_part(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => authority[..i].trim_end_matches('.'),
        _ => authority,
    }
}

/// The authority a request was sent to: HTTP/1.1's `Host`, or HTTP/2's `:authority`.
pub fn authority<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    match headers.get(HOST) {
        Some(h) => h.to_str().ok(),
        None => uri.authority().map(|a| a.as_str()),
    }
}

/// Why a request's `Host` is refused, or `None` when `hosts` allows it.
pub fn refuse_host(headers: &HeaderMap, uri: &Uri, hosts: &HostList) -> Option<String> {
    match authority(headers, uri) {
        None => Some("the request has no Host header".into()),
        Some(a) if hosts.allows(a) => None,
        Some(a) => Some(format!(
            "Host {a:?} is not one this server answers to (allowed: {}; add more under [access] allowed_hosts)",
            hosts.names().join(", ")
        )),
    }
}

/// Which header marks a request as sent by a web page: `Origin` (browsers add it to every
/// cross-origin request and every POST) or `Sec-Fetch-Site: cross-site`. Agents send neither:
/// Node's `fetch` (v20, which the OpenCode and Pi forwarders use) sends `Sec-Fetch-Mode: cors`
/// but no `Origin` and no `Sec-Fetch-Site`.
pub fn browser_mark(headers: &HeaderMap) -> Option<&'static str> {
    if headers.contains_key(ORIGIN) {
        Some("Origin")
    } else if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        Some("Sec-Fetch-Site: cross-site")
    } else {
        None
    }
}

/// The authority of an `Origin` header (`127.0.0.1:4319` of `http://127.0.0.1:4319`); `None`
/// for `null` or anything that is not an http(s) origin.
pub fn origin_authority(origin: &str) -> Option<&str> {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))?;
    (!rest.is_empty() && !rest.contains(['/', '?', '#', '@'])).then_some(rest)
}

/// Why a browser request is not from one of this port's own origins, or `None` when it is (or
/// carries no browser marks). Same-origin means the `Origin`'s authority is a name this port
/// answers to; `Sec-Fetch-Site: cross-site` without an `Origin` (an `<img>`, a `<script>`) is
/// refused too.
pub fn refuse_origin(headers: &HeaderMap, hosts: &HostList) -> Option<String> {
    if let Some(origin) = headers.get(ORIGIN) {
        let text = origin.to_str().unwrap_or("");
        return match origin_authority(text) {
            Some(a) if hosts.allows(a) => None,
            _ => Some(format!(
                "Origin {text:?} is not this server: only its own pages may call it"
            )),
        };
    }
    browser_mark(headers).map(|m| format!("{m}: only this server's own pages may call it"))
}

/// Headers a proxy or a tunnel adds. A request carrying one came through something that may
/// relay anyone (a tunnel delivers from loopback: loopback is not identity).
const PROXY_HEADERS: [&str; 9] = [
    "forwarded",
    "x-real-ip",
    "cf-connecting-ip",
    "cf-access-jwt-assertion",
    "cf-ray",
    "true-client-ip",
    "x-client-ip",
    "fly-client-ip",
    "via",
];
const PROXY_PREFIXES: [&str; 2] = ["x-forwarded-", "tailscale-"];

/// The first proxy header a request carries.
pub fn proxy_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .keys()
        .map(|k| k.as_str())
        .find(|k| PROXY_HEADERS.contains(k) || PROXY_PREFIXES.iter().any(|p| k.starts_with(p)))
}

/// Whether the request was sent over HTTPS to whatever terminated it (a tunnel says so in
/// `X-Forwarded-Proto` or `Forwarded: proto=https`): its cookies are then `Secure`.
pub fn came_over_https(headers: &HeaderMap) -> bool {
    let has = |name: &str, needle: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains(needle))
        })
    };
    has("x-forwarded-proto", "https") || has("forwarded", "proto=https")
}

/// The client a proxy says it relays, else the peer: what failed credentials are counted by.
/// Of `X-Forwarded-For` the last address counts — the one the nearest proxy appended; the ones
/// before it are whatever the client chose to send.
pub fn client_key(headers: &HeaderMap, peer: IpAddr) -> String {
    for name in ["cf-connecting-ip", "x-real-ip", "x-forwarded-for"] {
        if let Some(relayed) = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
        {
            return format!("{relayed} via {peer}");
        }
    }
    peer.to_string()
}

/// A header map from pairs, for tests.
#[cfg(test)]
pub fn test_headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, v.parse().expect("header value"));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    use test_headers as headers;

    fn list() -> HostList {
        HostList::for_port(
            "127.0.0.1".parse().expect("ip"),
            4319,
            &["obs.example.com".into(), "lan.box:8080".into()],
        )
    }

    #[test]
    fn a_port_answers_its_loopback_names_and_the_configured_ones() {
        let l = list();
        for ok in [
            "127.0.0.1:4319",
            "LOCALHOST:4319",
            "[::1]:4319",
            "obs.example.com",
            "obs.example.com:443",
            "obs.example.com.",
            "lan.box:8080",
        ] {
            assert!(l.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:4319",
            "127.0.0.1:4318",
            "localhost",
            "lan.box",
            "lan.box:9090",
            "127.0.0.1.nip.io:4319",
            "",
        ] {
            assert!(!l.allows(bad), "{bad}");
        }
    }

    #[test]
    fn a_forged_host_is_refused_naming_the_header() {
        let uri: Uri = "/api/sessions".parse().expect("uri");
        let why = refuse_host(&headers(&[("host", "evil.example:4319")]), &uri, &list());
        assert!(
            why.expect("refused")
                .starts_with("Host \"evil.example:4319\"")
        );
        assert!(refuse_host(&HeaderMap::new(), &uri, &list()).is_some());
        let h2: Uri = "http://127.0.0.1:4319/x".parse().expect("uri");
        assert_eq!(refuse_host(&HeaderMap::new(), &h2, &list()), None);
    }

    #[test]
    fn only_own_origins_pass() {
        let l = list();
        assert_eq!(refuse_origin(&HeaderMap::new(), &l), None);
        assert_eq!(
            refuse_origin(&headers(&[("origin", "http://127.0.0.1:4319")]), &l),
            None
        );
        assert_eq!(
            refuse_origin(&headers(&[("origin", "https://obs.example.com")]), &l),
            None
        );
        for bad in [
            headers(&[("origin", "https://evil.example")]),
            headers(&[("origin", "null")]),
            headers(&[("origin", "http://127.0.0.1:4319@evil")]),
            headers(&[("sec-fetch-site", "cross-site")]),
        ] {
            assert!(refuse_origin(&bad, &l).is_some(), "{bad:?}");
        }
        // What Node's fetch sends is not a browser.
        assert_eq!(browser_mark(&headers(&[("sec-fetch-mode", "cors")])), None);
    }

    #[test]
    fn proxies_and_their_clients_are_seen() {
        assert_eq!(proxy_header(&headers(&[("accept", "*/*")])), None);
        for h in [
            "x-forwarded-for",
            "forwarded",
            "cf-connecting-ip",
            "tailscale-user-login",
        ] {
            assert_eq!(proxy_header(&headers(&[(h, "x")])), Some(h));
        }
        let peer: IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(
            client_key(
                &headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9")]),
                peer
            ),
            "203.0.113.9 via 127.0.0.1",
            "the address the proxy appended, not the one the client sent"
        );
        assert_eq!(client_key(&HeaderMap::new(), peer), "127.0.0.1");
        assert!(came_over_https(&headers(&[("x-forwarded-proto", "https")])));
        assert!(!came_over_https(&headers(&[("x-forwarded-proto", "http")])));
    }
}
