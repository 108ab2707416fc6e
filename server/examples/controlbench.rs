//! Control latency for `scripts/bench` (DESIGN.md: control request → signal delivered p50 < 50
//! ms), against a running server, with the control token from its data dir:
//!
//! - interrupt: a stand-in agent (Python, its terminal in raw mode as the agents' TUIs keep it:
//!   prints a line for each Esc it reads, and goes on) started by `observatory run` in a
//!   terminal (Python's `pty`), and named by a SessionStart hook with its pid and start time, as
//!   `observatory hook` reports them; `--runs` times, `POST /api/sessions/{id}/interrupt`, which
//!   the launcher turns into Esc typed into the agent's terminal; latency = the agent's line
//!   read − the request sent (the whole path: the launcher's long poll, the pty, Python, and
//!   the agent's output back through both terminals);
//! - kill: `--kills` stand-ins, each killed through `POST …/kill` while a live feed
//!   (`/api/stream`) is open; delay = the `session` frame saying `killed` − the request sent;
//! - answer: `--answers` times, the real `observatory hook claude_code` reports a
//!   PermissionRequest and waits; once the prompt is pending, `POST /api/prompts/{id}/allow`;
//!   latency = the hook's decision line read − the request sent.
//!
//! Prints one JSON object.
//!
//! Usage: controlbench --http-addr 127.0.0.1:4318 --app-addr 127.0.0.1:4319 --data-dir DIR
//!                     --observatory BIN [--runs 200] [--kills 10] [--answers 100]

mod support;

use std::io::BufRead;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use support::{arg, percentile, round2};

const STAND_IN: &str = "import time\n\
    print('up', flush=True)\n\
    while True: time.sleep(600)\n";

/// Reads its terminal in raw mode and says `key` for each Esc.
const TUI_STAND_IN: &str = "import os, sys, tty\n\
    tty.setraw(0)\n\
    print('up %d' % os.getpid(), flush=True)\n\
    while True:\n    \
        for b in os.read(0, 64):\n        \
            if b == 0x1b: print('key', flush=True)\n";

/// Runs its arguments in a terminal, the way a person's terminal runs `observatory run`.
const TERMINAL: &str = "import pty, sys\npty.spawn(sys.argv[1:])\n";

type Agent = (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
);

struct Bench {
    http: reqwest::Client,
    http_addr: String,
    app_addr: String,
    token: String,
}

impl Bench {
    /// A stand-in agent registered as session `claude_code:<native>`.
    async fn agent(&self, native: &str) -> Result<Agent> {
        let mut child = std::process::Command::new("python3")
            .args(["-c", STAND_IN])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("python3")?;
        let mut lines = std::io::BufReader::new(child.stdout.take().context("stdout")?).lines();
        lines.next().context("the stand-in said nothing")??;
        let pid = child.id();
        self.hook(native, pid).await?;
        Ok((child, lines))
    }

    /// The TUI stand-in under `observatory run` in a terminal, registered as
    /// `claude_code:<native>`, once its launcher has registered too.
    async fn launched(&self, native: &str, observatory: &str, data_dir: &str) -> Result<Agent> {
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                TERMINAL,
                observatory,
                "run",
                "--app-addr",
                &self.app_addr,
            ])
            .args(["--data-dir", data_dir, "--", "python3", "-c", TUI_STAND_IN])
            .env("OBSERVATORY_HTTP_ADDR", &self.http_addr)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("python3")?;
        let mut lines = std::io::BufReader::new(child.stdout.take().context("stdout")?).lines();
        let up = lines.next().context("the stand-in said nothing")??;
        let pid = up
            .trim()
            .strip_prefix("up ")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("the stand-in said {up:?}"))?;
        self.hook(native, pid).await?;
        let url = format!(
            "http://{}/api/sessions/claude_code:{native}/control",
            self.app_addr
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v: Value = self
                .http
                .get(&url)
                .bearer_auth(&self.token)
                .send()
                .await?
                .json()
                .await?;
            if v["launched"] == true {
                return Ok((child, lines));
            }
            if Instant::now() > deadline {
                bail!("the launch never registered: {v}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A SessionStart hook naming process `pid` as the agent of `claude_code:<native>`.
    async fn hook(&self, native: &str, pid: u32) -> Result<()> {
        let start = observatory::procfs::process_start_ticks(pid).context("reading /proc")?;
        let body = json!({"session_id": native, "hook_event_name": "SessionStart", "cwd": "/tmp", "source": "startup"});
        let resp = self
            .http
            .post(format!("http://{}/v1/hooks/claude_code", self.http_addr))
            .header("x-observatory-pid", pid.to_string())
            .header("x-observatory-pid-start", start.to_string())
            .json(&body)
            .send()
            .await?;
        if resp.status() != 204 {
            bail!("hook answered {}", resp.status());
        }
        Ok(())
    }

    async fn act(&self, native: &str, action: &str) -> Result<()> {
        let url = format!(
            "http://{}/api/sessions/claude_code:{native}/{action}",
            self.app_addr
        );
        let resp = self.http.post(url).bearer_auth(&self.token).send().await?;
        if !resp.status().is_success() {
            bail!("{action} answered {} {}", resp.status(), resp.text().await?);
        }
        Ok(())
    }
}

/// One answer from the phone to a waiting hook: the milliseconds from the allow sent to the
/// hook's decision line.
async fn answer_once(b: &Bench, observatory: &str, n: usize) -> Result<f64> {
    use std::io::Write;
    let native = format!("bench-answer-{n}");
    let payload = json!({"session_id": native, "hook_event_name": "PermissionRequest", "cwd": "/tmp",
        "tool_name": "Bash", "tool_input": {"command": "true"}});
    let mut hook = std::process::Command::new(observatory)
        .args([
            "hook",
            "claude_code",
            "--endpoint",
            &format!("http://{}", b.http_addr),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("observatory hook")?;
    hook.stdin
        .take()
        .context("stdin")?
        .write_all(payload.to_string().as_bytes())?;
    let url = |p: &str| format!("http://{}{p}", b.app_addr);
    let list = url(&format!("/api/prompts?session=claude_code:{native}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = loop {
        let v: Value = b
            .http
            .get(&list)
            .bearer_auth(&b.token)
            .send()
            .await?
            .json()
            .await?;
        if let Some(id) = v["prompts"][0]["id"]
            .as_str()
            .filter(|_| v["prompts"][0]["state"] == "pending")
        {
            break id.to_owned();
        }
        if Instant::now() > deadline {
            bail!("no pending prompt: {v}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let stdout = hook.stdout.take().context("stdout")?;
    let printed = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| (line, Instant::now()))
    });
    let sent = Instant::now();
    let resp = b
        .http
        .post(url(&format!("/api/prompts/{id}/allow")))
        .bearer_auth(&b.token)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("allow answered {}", resp.status());
    }
    let (line, at) = printed.await??;
    if !line.contains("\"allow\"") {
        bail!("the hook printed {line:?}");
    }
    hook.wait()?;
    Ok(at.duration_since(sent).as_secs_f64() * 1e3)
}

/// `<name>_n`, `<name>_p50_ms`, `<name>_p99_ms`, `<name>_max_ms` (flat: scripts/bench reads them
/// with grep).
fn summary(out: &mut serde_json::Map<String, Value>, name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    out.insert(format!("{name}_n"), json!(ms.len()));
    out.insert(
        format!("{name}_p50_ms"),
        json!(round2(percentile(&ms, 0.5))),
    );
    out.insert(
        format!("{name}_p99_ms"),
        json!(round2(percentile(&ms, 0.99))),
    );
    let max = ms.last().copied().unwrap_or(f64::NAN);
    out.insert(format!("{name}_max_ms"), json!(round2(max)));
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let data_dir = arg(&args, "--data-dir", ".");
    let token = std::fs::read_to_string(std::path::Path::new(&data_dir).join("control-token"))
        .context("reading the control token (pass --data-dir)")?;
    let b = Bench {
        http: reqwest::Client::new(),
        http_addr: arg(&args, "--http-addr", "127.0.0.1:4318"),
        app_addr: arg(&args, "--app-addr", "127.0.0.1:4319"),
        token: token.trim().to_owned(),
    };
    let runs: usize = arg(&args, "--runs", "200").parse()?;
    let kills: usize = arg(&args, "--kills", "10").parse()?;

    let observatory = arg(&args, "--observatory", "observatory");
    let (mut agent, mut lines) = b
        .launched("bench-interrupt", &observatory, &data_dir)
        .await?;
    let mut interrupts = Vec::with_capacity(runs);
    for _ in 0..runs {
        let sent = Instant::now();
        b.act("bench-interrupt", "interrupt").await?;
        let line = lines.next().context("the stand-in went away")??;
        if line.trim() != "key" {
            bail!("the stand-in said {line:?}, not key");
        }
        interrupts.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    b.act("bench-interrupt", "kill").await?;
    let _ = agent.wait();

    let url = format!("ws://{}/api/stream?since=0", b.app_addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let mut killed = Vec::with_capacity(kills);
    for k in 0..kills {
        let native = format!("bench-kill-{k}");
        let (mut agent, _lines) = b.agent(&native).await?;
        let id = format!("claude_code:{native}");
        let sent = Instant::now();
        b.act(&native, "kill").await?;
        let deadline = sent + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, ws.next())
                .await
                .context("no killed session frame within 10 s")?
                .context("the feed closed")??;
            let Ok(text) = frame.to_text() else { continue };
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if v["type"] == "session"
                && v["session"]["id"] == id.as_str()
                && v["session"]["state"] == "killed"
            {
                killed.push(sent.elapsed().as_secs_f64() * 1e3);
                break;
            }
        }
        let _ = agent.wait();
    }
    let answers: usize = arg(&args, "--answers", "100").parse()?;
    let mut answered = Vec::with_capacity(answers);
    for n in 0..answers {
        answered.push(answer_once(&b, &observatory, n).await?);
    }
    let mut out = serde_json::Map::new();
    summary(&mut out, "interrupt", interrupts);
    summary(&mut out, "kill_killed", killed);
    summary(&mut out, "answer", answered);
    println!("{}", Value::Object(out));
    Ok(())
}
