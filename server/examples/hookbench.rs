//! `observatory hook` round trip for `scripts/bench` (DESIGN.md: exec to exit p50 < 10 ms,
//! p99 < 30 ms with the server up; ≤ 150 ms with it down). Runs the binary `--runs` times the way
//! Claude Code does — payload piped on stdin, then closed — against a running server, then
//! against a closed port, and, as the floor both include, `observatory --version` (exec and
//! exit of the same binary, no hook work). Each time is spawn → exit status collected. Prints
//! one JSON object.
//!
//! Usage: hookbench --bin target/release/observatory --endpoint http://127.0.0.1:4318
//!                  --payload server/tests/fixtures/…/0005-claude-PermissionRequest.json
//!                  [--agent claude_code] [--runs 300]

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;
use support::{arg, percentile, round2};

/// One hook run: spawn, write the payload, close stdin, wait. Returns milliseconds and what
/// the hook wrote to stderr (only non-empty with `debug`).
fn hook_once(
    bin: &str,
    agent: &str,
    endpoint: &str,
    payload: &[u8],
    debug: bool,
) -> Result<(f64, String)> {
    let mut cmd = Command::new(bin);
    cmd.args(["hook", agent, "--endpoint", endpoint])
        .env_remove("OBSERVATORY_HOOK_ENDPOINT")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(if debug { Stdio::piped() } else { Stdio::null() });
    if debug {
        cmd.env("OBSERVATORY_HOOK_DEBUG", "1");
    } else {
        cmd.env_remove("OBSERVATORY_HOOK_DEBUG");
    }
    let t0 = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("spawn {bin}"))?;
    {
        let mut stdin = child.stdin.take().context("stdin")?;
        stdin.write_all(payload)?;
    }
    let out = child.wait_with_output()?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        bail!("the hook exited with {}", out.status);
    }
    Ok((ms, String::from_utf8_lossy(&out.stderr).trim().to_owned()))
}

fn series(runs: usize, mut once: impl FnMut() -> Result<f64>) -> Result<Vec<f64>> {
    // A few unmeasured runs first: page cache, and the server's first-connection paths.
    for _ in 0..10 {
        once()?;
    }
    let mut v = (0..runs).map(|_| once()).collect::<Result<Vec<f64>>>()?;
    v.sort_by(f64::total_cmp);
    Ok(v)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bin = arg(&args, "--bin", "target/release/observatory");
    let endpoint = arg(&args, "--endpoint", "http://127.0.0.1:4318");
    let agent = arg(&args, "--agent", "claude_code");
    let runs: usize = arg(&args, "--runs", "300").parse()?;
    let payload_path = arg(&args, "--payload", "");
    if payload_path.is_empty() || runs == 0 {
        bail!("need --payload FILE and --runs > 0");
    }
    let payload = std::fs::read(&payload_path).with_context(|| format!("read {payload_path}"))?;

    // Nothing listens on a port that was just bound and released.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0")?;
        format!("http://{}", l.local_addr()?)
    };

    // One run with diagnostics on, to report what the server answered.
    let (_, up_debug) = hook_once(&bin, &agent, &endpoint, &payload, true)?;
    let up_status = up_debug
        .split("HTTP ")
        .nth(1)
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok());

    let up = series(runs, || {
        Ok(hook_once(&bin, &agent, &endpoint, &payload, false)?.0)
    })?;
    let down = series(runs, || {
        Ok(hook_once(&bin, &agent, &closed, &payload, false)?.0)
    })?;
    let floor = series(runs, || {
        let t0 = Instant::now();
        let st = Command::new(&bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !st.success() {
            bail!("{bin} --version exited with {st}");
        }
        Ok(t0.elapsed().as_secs_f64() * 1e3)
    })?;

    let mut o = serde_json::Map::new();
    o.insert("hook_runs".into(), json!(runs));
    o.insert("hook_payload_bytes".into(), json!(payload.len()));
    o.insert("hook_up_status".into(), json!(up_status));
    for (v, prefix) in [
        (&up, "hook_up"),
        (&down, "hook_down"),
        (&floor, "hook_exec_floor"),
    ] {
        let max = v.last().copied().unwrap_or(f64::NAN);
        o.insert(
            format!("{prefix}_p50_ms"),
            json!(round2(percentile(v, 0.50))),
        );
        o.insert(
            format!("{prefix}_p99_ms"),
            json!(round2(percentile(v, 0.99))),
        );
        o.insert(format!("{prefix}_max_ms"), json!(round2(max)));
    }
    println!("{}", serde_json::Value::Object(o));
    if up_status.is_none() {
        eprintln!("hookbench: the server's answer was not seen: {up_debug}");
    }
    Ok(())
}
