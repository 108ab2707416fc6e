//! The HTTP/1.1 requests a hook sends, written by hand over a `std` TCP socket: a hook runs
//! once per agent event, so starting an async runtime and an HTTP client would cost more than
//! the whole exchange. The event's POST reads only the status line; a hook waiting for an
//! answer then GETs it (a small body, read to the end). Every step (connect, each write, each
//! read) gets only what is left of the step's deadline.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Where hooks are posted: a plain `http://host[:port][/prefix]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host to connect to, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// `host[:port]` exactly as written, for the `Host` header.
    pub authority: String,
    /// A path prefix before `/v1/hooks/…`, without a trailing slash (usually empty).
    pub prefix: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/prefix]`; the port defaults to 80. Anything else (https,
    /// credentials, a query) is refused: the server's hook port is plain HTTP on loopback.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("http://"))
            .and_then(|_| url.get(7..))
            .ok_or_else(|| format!("endpoint {url:?} is not an http:// URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') || path.contains(['?', '#']) {
            return Err(format!("endpoint {url:?} is not http://host:port"));
        }
        let bad_port = || format!("endpoint {url:?} has an invalid port");
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("endpoint {url:?} has an unclosed [IPv6] host"))?;
            match after.strip_prefix(':') {
                Some(p) => (host, p.parse().map_err(|_| bad_port())?),
                None if after.is_empty() => (host, 80),
                None => return Err(bad_port()),
            }
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| bad_port())?),
                None => (authority, 80),
            }
        };
        if host.is_empty() {
            return Err(format!("endpoint {url:?} has no host"));
        }
        Ok(Endpoint {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }

    fn addrs(&self) -> io::Result<Vec<SocketAddr>> {
        // An IP literal (the default) needs no resolver call.
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        Ok((self.host.as_str(), self.port).to_socket_addrs()?.collect())
    }
}

/// What the request says about who a permission request reaches.
#[derive(Clone, Copy, Debug)]
pub enum Asks<'a> {
    /// Nothing: not a permission request, or one whose hook does not wait.
    Unsaid,
    /// A person may answer it: the key the hook waits for the answer under.
    Key(&'a str),
    /// Nobody: the agent settles it itself (`X-Observatory-Asks: nobody`).
    Nobody,
}

/// The complete request: head and body in one buffer, so it leaves in one write.
pub fn request(
    endpoint: &Endpoint,
    agent: &str,
    event: Option<&str>,
    agent_process: Option<(u32, u64)>,
    asks: Asks,
    body: &[u8],
) -> Vec<u8> {
    let mut target = format!("{}/v1/hooks/{agent}", endpoint.prefix);
    if let Some(event) = event {
        target.push_str("?event=");
        percent_encode(event, &mut target);
    }
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: observatory-hook/{}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        endpoint.authority,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    if let Some((pid, start)) = agent_process {
        head.push_str(&format!(
            "X-Observatory-Pid: {pid}\r\nX-Observatory-Pid-Start: {start}\r\n"
        ));
    }
    match asks {
        Asks::Key(key) => head.push_str(&format!("X-Observatory-Prompt: {key}\r\n")),
        Asks::Nobody => head.push_str("X-Observatory-Asks: nobody\r\n"),
        Asks::Unsaid => {}
    }
    head.push_str("\r\n");
    let mut req = head.into_bytes();
    req.extend_from_slice(body);
    req
}

/// Query-component encoding: everything but RFC 3986 unreserved characters becomes `%XX`.
fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// What is left until `deadline`; a timeout error once it has passed, so every caller stops.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "time budget spent"));
    }
    Ok(left)
}

/// Connects, writes `req`, and reads the status line of the answer, all before `deadline`.
/// Returns the status code. Waiting for the status (not just writing) means the server has
/// taken the event before the agent goes on to its next hook, so events arrive in order.
pub fn send(endpoint: &Endpoint, req: &[u8], deadline: Instant) -> io::Result<u16> {
    let mut stream = connect(endpoint, deadline)?;
    write_request(&mut stream, req, deadline)?;

    let mut buf = [0u8; 256];
    let mut len = 0;
    loop {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        let free = buf.get_mut(len..).unwrap_or_default();
        if free.is_empty() {
            break;
        }
        match stream.read(free) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if buf.get(..len).is_some_and(|b| b.contains(&b'\n')) {
            break;
        }
    }
    parse_status(buf.get(..len).unwrap_or_default()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "no HTTP status line in {:?}",
                String::from_utf8_lossy(buf.get(..len).unwrap_or_default())
            ),
        )
    })
}

/// Writes `req` before `deadline`.
fn write_request(stream: &mut TcpStream, req: &[u8], deadline: Instant) -> io::Result<()> {
    // One write of a complete request: nothing for Nagle to hold back, but say so anyway.
    let _ = stream.set_nodelay(true);
    // `write_all` would give every partial write a fresh timeout; the budget is for all of them.
    let mut sent = 0;
    while let Some(rest) = req.get(sent..).filter(|r| !r.is_empty()) {
        stream.set_write_timeout(Some(remaining(deadline)?))?;
        match stream.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The most of an answer's response a hook reads.
const MAX_RESPONSE: usize = 64 * 1024;

/// `GET <prefix><path>` before `deadline`: the status and the body (read until the server
/// closes the connection, at most [`MAX_RESPONSE`] bytes).
pub fn get(endpoint: &Endpoint, path: &str, deadline: Instant) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = connect(endpoint, deadline)?;
    let req = format!(
        "GET {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: observatory-hook/{}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        endpoint.prefix,
        endpoint.authority,
        env!("CARGO_PKG_VERSION"),
    );
    write_request(&mut stream, req.as_bytes(), deadline)?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if response.len() > MAX_RESPONSE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "answer too large",
            ));
        }
    }
    let status = parse_status(&response)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP status line"))?;
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or_else(Vec::new, |i| response[i + 4..].to_vec());
    Ok((status, body))
}

fn connect(endpoint: &Endpoint, deadline: Instant) -> io::Result<TcpStream> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        "the endpoint host resolved to nothing",
    );
    for addr in endpoint.addrs()? {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `HTTP/1.1 204 No Content` → 204.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:4318").expect("parses");
        assert_eq!(
            e,
            Endpoint {
                host: "127.0.0.1".into(),
                port: 4318,
                authority: "127.0.0.1:4318".into(),
                prefix: String::new()
            }
        );
        let e = Endpoint::parse("HTTP://localhost:9/").expect("parses");
        assert_eq!(
            (e.host.as_str(), e.port, e.prefix.as_str()),
            ("localhost", 9, "")
        );
        let e = Endpoint::parse("http://[::1]:4318/obs/").expect("parses");
        assert_eq!(
            (e.host.as_str(), e.port, e.authority.as_str()),
            ("::1", 4318, "[::1]:4318")
        );
        assert_eq!(e.prefix, "/obs");
        assert_eq!(
            Endpoint::parse("http://example.test").map(|e| e.port),
            Ok(80)
        );
        for bad in [
            "https://127.0.0.1:4318",
            "127.0.0.1:4318",
            "http://",
            "http://:4318",
            "http://h:notaport",
            "http://h:70000",
            "http://u:p@h:1",
            "http://h:1/?x=1",
            "http://[::1",
            "http://[::1]x",
            "",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn request_bytes() {
        let e = Endpoint::parse("http://127.0.0.1:4318").expect("parses");
        let body = br#"{"a":"b"}"#;
        let req = request(
            &e,
            "copilot_cli",
            Some("session Start/é&"),
            Some((42, 9001)),
            Asks::Key("00ff"),
            body,
        );
        let text = String::from_utf8(req).expect("utf-8");
        let (head, got_body) = text.split_once("\r\n\r\n").expect("head and body");
        assert_eq!(got_body.as_bytes(), body);
        let lines: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(
            lines.first().copied(),
            Some("POST /v1/hooks/copilot_cli?event=session%20Start%2F%C3%A9%26 HTTP/1.1")
        );
        for h in [
            "Host: 127.0.0.1:4318",
            "Content-Type: application/json",
            "Content-Length: 9",
            "Connection: close",
            "X-Observatory-Pid: 42",
            "X-Observatory-Pid-Start: 9001",
            "X-Observatory-Prompt: 00ff",
        ] {
            assert!(lines.contains(&h), "missing {h:?} in {lines:?}");
        }

        let req = request(&e, "codex", None, None, Asks::Unsaid, b"");
        let text = String::from_utf8(req).expect("utf-8");
        assert!(text.starts_with("POST /v1/hooks/codex HTTP/1.1\r\n"));
        assert!(!text.contains("X-Observatory-Pid"));
        assert!(!text.contains("X-Observatory-Asks"));
        assert!(text.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"));
        let req = request(&e, "codex", None, None, Asks::Nobody, b"");
        let text = String::from_utf8(req).expect("utf-8");
        assert!(
            text.contains("\r\nX-Observatory-Asks: nobody\r\n"),
            "{text}"
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status(b"HTTP/1.0 500\r\n"), Some(500));
        assert_eq!(
            parse_status(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
            Some(404)
        );
        assert_eq!(parse_status(b"HTTP/1.1 2"), None);
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }
}
