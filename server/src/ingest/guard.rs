//! The ingest ports' door: a request is served only when its `Host` is one the port answers to
//! (421 otherwise: DNS rebinding) and it does not come from a web page (403: `Origin` or
//! `Sec-Fetch-Site: cross-site` — agents send neither, and a page must not be able to post a
//! `text/plain` hook that makes a fake session or a fake "needs you"). Checked before any
//! handler, on both the HTTP and the gRPC port.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, Uri};

use crate::hosts::{self, HostList};

/// The names one ingest port answers to. Tunnels never front these ports, so the list is fixed
/// at start.
#[derive(Clone)]
pub struct Guard {
    hosts: Arc<HostList>,
}

impl Guard {
    pub fn new(hosts: HostList) -> Guard {
        Guard {
            hosts: Arc::new(hosts),
        }
    }

    /// `Err((status, message))` for a request this port does not serve.
    pub fn check(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), (StatusCode, String)> {
        if let Some(why) = hosts::refuse_host(headers, uri, &self.hosts) {
            return Err((StatusCode::MISDIRECTED_REQUEST, why));
        }
        if let Some(mark) = hosts::browser_mark(headers) {
            return Err((
                StatusCode::FORBIDDEN,
                format!(
                    "{mark} says a web page sent this: the ingest port takes agents' telemetry and hooks only"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_pass_pages_and_strange_hosts_do_not() {
        let g = Guard::new(HostList::for_port(
            "127.0.0.1".parse().expect("ip"),
            4318,
            &[],
        ));
        let uri: Uri = "/v1/hooks/claude_code".parse().expect("uri");
        let h = crate::hosts::test_headers;
        assert!(
            g.check(
                &h(&[("host", "localhost:4318"), ("sec-fetch-mode", "cors")]),
                &uri
            )
            .is_ok()
        );
        let code = |pairs| g.check(&h(pairs), &uri).expect_err("refused").0;
        assert_eq!(
            code(&[("host", "evil.example:4318")]),
            StatusCode::MISDIRECTED_REQUEST
        );
        assert_eq!(
            code(&[
                ("host", "127.0.0.1:4318"),
                ("origin", "https://evil.example")
            ]),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            code(&[("host", "127.0.0.1:4318"), ("sec-fetch-site", "cross-site")]),
            StatusCode::FORBIDDEN
        );
    }
}
