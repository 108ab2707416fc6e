//! `observatory hook`, run as the real binary the way agents run it, against a fake HTTP server
//! that records what arrives: the wire format, where the payload comes from, which process is
//! named as the agent, and that every failure stays silent with exit code 0.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_observatory");

fn fixture(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const CLAUDE_PERMISSION: &str =
    "claude-code-2.1.328/denied/hooks/0005-claude-PermissionRequest.json";
const COPILOT_SESSION_START: &str =
    "copilot-cli-1.0.102/subagent/hooks/0001-copilot-sessionStart.json";
const CODEX_NOTIFY: &str = "codex-0.169.0/plain/hooks/0004-codex-notify.json";

/// One request as the fake server read it.
#[derive(Debug)]
struct Request {
    /// `POST /v1/hooks/… HTTP/1.1`
    line: String,
    /// Lower-cased names, values as sent.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the fake server answers.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    /// Reads the request, then says nothing until the hook hangs up.
    Never,
}

/// A fake hook endpoint on 127.0.0.1:0: every request it reads is sent to the returned channel.
fn fake_server(answer: Answer) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let Some(req) = read_request(&mut conn) else {
                continue;
            };
            if tx.send(req).is_err() {
                return;
            }
            match answer {
                Answer::Status(code) => {
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {code} Whatever\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
                    );
                }
                Answer::Never => {
                    // Hold the connection open until the hook gives up and closes it.
                    let _ = conn.read_to_end(&mut Vec::new());
                }
            }
        }
    });
    (format!("http://{addr}"), rx)
}

fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("head is UTF-8");
    let mut lines = head.split("\r\n");
    let line = lines.next().expect("request line").to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header has a colon");
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .expect("content-length")
        .1
        .parse()
        .expect("numeric content-length");
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        line,
        headers,
        body,
    })
}

/// An address where nothing listens: bound, then released.
fn closed_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr: SocketAddr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

/// `observatory hook …` with a clean environment (none of the hook's own variables leak in from
/// whoever runs the tests) and all three standard streams piped.
fn hook(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("hook").args(args);
    clean(&mut c);
    c
}

fn clean(c: &mut Command) {
    c.env_remove("OBSERVATORY_HOOK_ENDPOINT")
        .env_remove("OBSERVATORY_HOOK_DEBUG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
}

struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    took: Duration,
}

impl Finished {
    /// What every hook run must look like, whatever happened: exit 0, nothing printed.
    fn assert_silent_success(&self) {
        assert_eq!(self.status.code(), Some(0), "exit status");
        assert_eq!(String::from_utf8_lossy(&self.stdout), "", "stdout");
        assert_eq!(String::from_utf8_lossy(&self.stderr), "", "stderr");
    }
}

/// Waits for the hook to exit (killing it and failing after 20 s, far beyond any budget used
/// here, so a hung hook fails the test instead of hanging it).
fn finish(mut child: Child, started: Instant) -> Finished {
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the hook did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let took = started.elapsed();
    Finished {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        took,
    }
}

/// Runs the hook with `stdin` written and closed.
fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Finished {
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn the hook");
    let mut pipe = child.stdin.take().expect("stdin piped");
    let data = stdin.to_vec();
    // From a thread: a hook that stops reading (payload too large) must not block the test.
    std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    finish(child, started)
}

fn received(rx: &mpsc::Receiver<Request>) -> Request {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the server received a request")
}

/// After the hook has exited, anything it sent has long been read; a short wait is enough to
/// catch a request that should not exist.
fn assert_nothing_received(rx: &mpsc::Receiver<Request>) {
    if let Ok(r) = rx.recv_timeout(Duration::from_millis(300)) {
        panic!("unexpected request {r:?}");
    }
}

#[test]
fn copilot_event_through_shell_and_wrapper_names_the_agent_process() {
    let (url, rx) = fake_server(Answer::Status(200));
    let payload = fixture(COPILOT_SESSION_START);
    // This test process stands for the agent; the hook runs under a shell that stays (it has
    // more to do after the command) and a `timeout` wrapper that forks: both must be skipped.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "timeout 30 \"$@\"; exit $?", "sh", BIN, "hook"])
        .args(["copilot_cli", "--event", "sessionStart", "--endpoint", &url]);
    clean(&mut cmd);
    let done = run_with_stdin(cmd, &payload);
    done.assert_silent_success();

    let req = received(&rx);
    assert_eq!(
        req.line,
        "POST /v1/hooks/copilot_cli?event=sessionStart HTTP/1.1"
    );
    assert_eq!(req.body, payload, "the payload is forwarded byte for byte");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.header("content-length"),
        Some(payload.len().to_string().as_str())
    );
    assert_eq!(req.header("connection"), Some("close"));
    assert_eq!(req.header("host"), url.strip_prefix("http://"));

    let me = std::process::id();
    match observatory::procfs::process_start_ticks(me) {
        Some(start) => {
            assert_eq!(
                req.header("x-observatory-pid"),
                Some(me.to_string().as_str())
            );
            assert_eq!(
                req.header("x-observatory-pid-start"),
                Some(start.to_string().as_str())
            );
        }
        // No /proc: no process to name.
        None => {
            assert_eq!(req.header("x-observatory-pid"), None);
            assert_eq!(req.header("x-observatory-pid-start"), None);
        }
    }
}

#[test]
fn claude_payload_on_stdin_kebab_agent_name() {
    let (url, rx) = fake_server(Answer::Status(200));
    let payload = fixture(CLAUDE_PERMISSION);
    let done = run_with_stdin(hook(&["claude-code", "--endpoint", &url]), &payload);
    done.assert_silent_success();
    let req = received(&rx);
    assert_eq!(req.line, "POST /v1/hooks/claude_code HTTP/1.1");
    assert_eq!(req.body, payload);
    // Spawned directly by this process, which is then the agent.
    if observatory::procfs::process_start_ticks(std::process::id()).is_some() {
        assert_eq!(
            req.header("x-observatory-pid"),
            Some(std::process::id().to_string().as_str())
        );
    }
}

#[test]
fn codex_notify_payload_in_argv_does_not_read_stdin() {
    let (url, rx) = fake_server(Answer::Status(200));
    let payload = String::from_utf8(fixture(CODEX_NOTIFY)).expect("UTF-8");
    // Codex appends the JSON as the last argument. Stdin stays open and empty: a hook that
    // waited on it would spend its whole (long) budget and send nothing.
    let started = Instant::now();
    let mut child = hook(&[
        "codex",
        "--timeout-ms",
        "10000",
        "--endpoint",
        &url,
        &payload,
    ])
    .spawn()
    .expect("spawn");
    let stdin = child.stdin.take();
    let done = finish(child, started);
    drop(stdin);
    done.assert_silent_success();
    let req = received(&rx);
    assert_eq!(req.line, "POST /v1/hooks/codex HTTP/1.1");
    assert_eq!(req.body, payload.as_bytes());
}

#[test]
fn endpoint_from_env_and_the_flag_wins() {
    let (env_url, env_rx) = fake_server(Answer::Status(200));
    let (flag_url, flag_rx) = fake_server(Answer::Status(200));

    let mut cmd = hook(&["pi", "--event", "agent_end"]);
    cmd.env("OBSERVATORY_HOOK_ENDPOINT", &env_url);
    run_with_stdin(cmd, b"{\"type\":\"agent_end\"}").assert_silent_success();
    assert_eq!(
        received(&env_rx).line,
        "POST /v1/hooks/pi?event=agent_end HTTP/1.1"
    );

    let mut cmd = hook(&["opencode", "--endpoint", &flag_url]);
    cmd.env("OBSERVATORY_HOOK_ENDPOINT", &env_url);
    run_with_stdin(cmd, b"{}").assert_silent_success();
    assert_eq!(received(&flag_rx).line, "POST /v1/hooks/opencode HTTP/1.1");
    assert_nothing_received(&env_rx);
}

#[test]
fn event_name_is_url_encoded() {
    let (url, rx) = fake_server(Answer::Status(200));
    run_with_stdin(
        hook(&[
            "gemini_cli",
            "--event",
            "After Agent&x=1",
            "--endpoint",
            &url,
        ]),
        b"{}",
    )
    .assert_silent_success();
    assert_eq!(
        received(&rx).line,
        "POST /v1/hooks/gemini_cli?event=After%20Agent%26x%3D1 HTTP/1.1"
    );
}

#[test]
fn server_down_is_silent_and_does_not_wait_for_the_budget() {
    let url = closed_endpoint();
    // Connection refused on loopback is immediate; the loose bound only shows the hook did not
    // sit out its 20 s budget (the real figure is in scripts/bench).
    let done = run_with_stdin(
        hook(&["claude_code", "--timeout-ms", "20000", "--endpoint", &url]),
        &fixture(CLAUDE_PERMISSION),
    );
    done.assert_silent_success();
    assert!(done.took < Duration::from_secs(10), "took {:?}", done.took);
}

#[test]
fn server_that_never_answers_is_cut_off_by_the_budget() {
    let (url, rx) = fake_server(Answer::Never);
    let done = run_with_stdin(
        hook(&["claude_code", "--timeout-ms", "200", "--endpoint", &url]),
        &fixture(CLAUDE_PERMISSION),
    );
    done.assert_silent_success();
    assert!(done.took < Duration::from_secs(2), "took {:?}", done.took);
    assert_eq!(received(&rx).body, fixture(CLAUDE_PERMISSION));
}

#[test]
fn error_status_is_silent() {
    let (url, rx) = fake_server(Answer::Status(500));
    run_with_stdin(hook(&["claude_code", "--endpoint", &url]), b"{}").assert_silent_success();
    received(&rx);
}

#[test]
fn garbage_payload_is_forwarded_unchanged_and_silent() {
    let (url, rx) = fake_server(Answer::Status(400));
    let garbage = b"\xff\xfenot json at all {{{\n\0";
    run_with_stdin(hook(&["copilot_cli", "--endpoint", &url]), garbage).assert_silent_success();
    assert_eq!(received(&rx).body, garbage);
}

#[test]
fn stdin_never_closed_and_empty_ends_within_the_budget_sending_nothing() {
    let (url, rx) = fake_server(Answer::Status(200));
    let started = Instant::now();
    let mut child = hook(&["claude_code", "--timeout-ms", "200", "--endpoint", &url])
        .spawn()
        .expect("spawn");
    // Kept open (and empty) until the hook has exited.
    let stdin = child.stdin.take();
    let done = finish(child, started);
    drop(stdin);
    done.assert_silent_success();
    assert!(done.took < Duration::from_secs(2), "took {:?}", done.took);
    assert_nothing_received(&rx);
}

#[test]
fn stdin_left_open_after_a_complete_payload_still_delivers_it() {
    let (url, rx) = fake_server(Answer::Status(200));
    let payload = fixture(CLAUDE_PERMISSION);
    let started = Instant::now();
    let mut child = hook(&["claude_code", "--timeout-ms", "10000", "--endpoint", &url])
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin piped");
    stdin.write_all(&payload).expect("write the payload");
    stdin.flush().expect("flush");
    // Not closed: the hook must see the complete document and go on without end of file.
    let req = received(&rx);
    let done = finish(child, started);
    drop(stdin);
    done.assert_silent_success();
    assert_eq!(req.body, payload);
}

#[test]
fn payload_over_the_cap_sends_nothing() {
    let (url, rx) = fake_server(Answer::Status(200));
    let mut big = b"{\"x\":\"".to_vec();
    big.resize(observatory::hook::MAX_PAYLOAD + 10, b'a');
    big.extend_from_slice(b"\"}");
    run_with_stdin(hook(&["claude_code", "--endpoint", &url]), &big).assert_silent_success();
    assert_nothing_received(&rx);
}

#[test]
fn unknown_agent_or_bad_endpoint_sends_nothing_and_is_silent() {
    let (url, rx) = fake_server(Answer::Status(200));
    run_with_stdin(hook(&["generic", "--endpoint", &url]), b"{}").assert_silent_success();
    run_with_stdin(hook(&["codex", "--endpoint", "https://127.0.0.1:1"]), b"{}")
        .assert_silent_success();
    assert_nothing_received(&rx);
}

#[test]
fn debug_variable_explains_on_stderr_and_still_exits_0() {
    let url = closed_endpoint();
    let mut cmd = hook(&["claude_code", "--endpoint", &url]);
    cmd.env("OBSERVATORY_HOOK_DEBUG", "1");
    let done = run_with_stdin(cmd, b"{}");
    assert_eq!(done.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&done.stdout), "");
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(err.contains("nothing sent"), "stderr: {err}");
}

#[test]
fn a_command_line_that_does_not_parse_still_exits_0_silently() {
    // An older or newer `observatory setup` may have written flags this binary does not know;
    // to Claude Code a hook's exit 2 (clap's usage error) would block the tool call.
    for args in [
        &["claude_code", "--no-such-flag"][..],
        &["claude_code", "--timeout-ms", "soon"],
        &[],
    ] {
        let done = run_with_stdin(hook(args), b"{}");
        done.assert_silent_success();
    }
    // Everything else keeps clap's usual errors.
    let out = Command::new(BIN)
        .arg("--no-such-flag")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}
