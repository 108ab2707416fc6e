//! Alert latency for `scripts/bench` (DESIGN.md: telemetry → Web Push request sent p50 < 250 ms;
//! a stall detected within 1 s of its threshold), against a running server whose push is on and
//! whose `stall_after_secs` is `--stall-after`. Runs the tests' fake push service in-process (it
//! verifies the VAPID JWT and decrypts each message), subscribes it, then:
//!
//! - needs_you: `--runs` times, a new Claude Code session gets a prompt, then a PermissionRequest
//!   hook; latency = the push request arriving at the push service − the hook POST being sent;
//! - stalls: `--stalls` sessions get a prompt and then nothing; delay = the `stalled` push
//!   arriving − (the prompt POST sent + `--stall-after`), an upper bound on how late the stall
//!   was seen (the server's clock starts at the prompt's arrival, a little later);
//! - crashes: `--crashes` stand-in agent processes (`sleep`) are each named by a SessionStart hook
//!   with their pid and start time (as `observatory hook` reports them), then SIGKILLed; delay =
//!   the `crashed` push arriving − the kill.
//!
//! Prints one JSON object.
//!
//! Usage: pushbench --http-addr 127.0.0.1:4318 --app-addr 127.0.0.1:4319 [--runs 200]
//!                  [--stalls 5] [--stall-after 2] [--crashes 5]

mod support;

#[path = "../tests/common/push_service.rs"]
#[allow(dead_code)]
mod push_service;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use push_service::{PushService, Subscriber};
use serde_json::{Value, json};
use support::{arg, percentile, round2};

async fn hook(http: &reqwest::Client, addr: &str, body: Value) -> Result<()> {
    hook_from(http, addr, body, None).await
}

/// A hook POST as `observatory hook` sends it, naming the agent's process when given.
async fn hook_from(
    http: &reqwest::Client,
    addr: &str,
    body: Value,
    process: Option<(u32, u64)>,
) -> Result<()> {
    let mut req = http.post(format!("http://{addr}/v1/hooks/claude_code"));
    if let Some((pid, start)) = process {
        req = req
            .header("x-observatory-pid", pid.to_string())
            .header("x-observatory-pid-start", start.to_string());
    }
    let resp = req.json(&body).send().await?;
    if resp.status() != 204 {
        bail!("hook answered {}", resp.status());
    }
    Ok(())
}

fn prompt(session: &str) -> Value {
    json!({"session_id": session, "hook_event_name": "UserPromptSubmit", "cwd": "/bench/proj", "prompt": "go"})
}

/// Pairs a browser the way the dashboard does (a code made with the control token from the data
/// dir, redeemed for a device cookie) and turns its notifications on with `sub`.
async fn subscribe(
    http: &reqwest::Client,
    app_addr: &str,
    data_dir: &Path,
    sub: &Subscriber,
) -> Result<()> {
    let token = std::fs::read_to_string(data_dir.join("control-token"))
        .context("reading the control token (pass --data-dir)")?;
    let code: Value = http
        .post(format!("http://{app_addr}/api/pairing-codes"))
        .bearer_auth(token.trim())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let paired = http
        .post(format!("http://{app_addr}/api/pair"))
        .header("x-observatory", "1")
        .json(&json!({"code": code["code"], "name": "bench"}))
        .send()
        .await?
        .error_for_status()
        .context("pairing")?;
    let cookie = paired
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("no device cookie")?
        .to_owned();
    let resp = http
        .put(format!("http://{app_addr}/api/devices/current/push"))
        .header("x-observatory", "1")
        .header("cookie", cookie)
        .json(&json!({"subscription": sub.subscription_json()}))
        .send()
        .await
        .context("subscribing")?;
    if !resp.status().is_success() {
        bail!("subscribing: {} {}", resp.status(), resp.text().await?);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let http_addr = arg(&args, "--http-addr", "127.0.0.1:4318");
    let app_addr = arg(&args, "--app-addr", "127.0.0.1:4319");
    let runs: usize = arg(&args, "--runs", "200").parse()?;
    let stalls: usize = arg(&args, "--stalls", "5").parse()?;
    let stall_after: f64 = arg(&args, "--stall-after", "2").parse()?;
    let http = reqwest::Client::new();

    let svc = PushService::start().await;
    let sub = Subscriber::new(&svc);
    let data_dir = arg(&args, "--data-dir", ".");
    subscribe(&http, &app_addr, Path::new(&data_dir), &sub).await?;

    let mut needs_you = Vec::with_capacity(runs);
    for i in 0..runs {
        let session = format!("bench-ask-{i}");
        hook(&http, &http_addr, prompt(&session)).await?;
        let ask = json!({"session_id": session, "hook_event_name": "PermissionRequest",
            "cwd": "/bench/proj", "tool_name": "Bash", "tool_input": {"command": "cargo test"}});
        let sent = Instant::now();
        hook(&http, &http_addr, ask).await?;
        let got = svc
            .next(Duration::from_secs(5))
            .await
            .with_context(|| format!("no push for {session} within 5 s"))?;
        if let Some(why) = &got.rejected {
            bail!("the push service refused a push: {why}");
        }
        needs_you.push(got.at.duration_since(sent).as_secs_f64() * 1e3);
    }

    // Stalls: staggered so that their thresholds fall at different points of the check period.
    let mut prompted: HashMap<String, Instant> = HashMap::new();
    for j in 0..stalls {
        let session = format!("bench-stall-{j}");
        prompted.insert(format!("claude_code:{session}"), Instant::now());
        hook(&http, &http_addr, prompt(&session)).await?;
        tokio::time::sleep(Duration::from_millis(1000 / stalls.max(1) as u64)).await;
    }
    let mut stall_delays = Vec::with_capacity(stalls);
    let deadline = Duration::from_secs_f64(stall_after + 10.0);
    while stall_delays.len() < stalls {
        let got = svc
            .next(deadline)
            .await
            .context("a stalled session was not pushed in time")?;
        let p = got.payload.unwrap_or_default();
        let Some(at) = p["session_id"].as_str().and_then(|s| prompted.get(s)) else {
            continue;
        };
        if p["kind"] != "stalled" {
            bail!("expected a stalled alert, got {p}");
        }
        let due = *at + Duration::from_secs_f64(stall_after);
        stall_delays.push(got.at.saturating_duration_since(due).as_secs_f64() * 1e3);
    }

    let crashes: usize = arg(&args, "--crashes", "5").parse()?;
    let mut crash_delays = crash_delays(&http, &http_addr, &svc, crashes).await?;

    needs_you.sort_by(f64::total_cmp);
    stall_delays.sort_by(f64::total_cmp);
    crash_delays.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({
            "push_runs": runs,
            "push_p50_ms": round2(percentile(&needs_you, 0.5)),
            "push_p99_ms": round2(percentile(&needs_you, 0.99)),
            "push_max_ms": round2(needs_you.last().copied().unwrap_or(f64::NAN)),
            "push_rejected": svc.rejected().len(),
            "stalls": stalls,
            "stall_after_s": stall_after,
            "stall_delay_p50_ms": round2(percentile(&stall_delays, 0.5)),
            "stall_delay_max_ms": round2(stall_delays.last().copied().unwrap_or(f64::NAN)),
            "crashes": crashes,
            "crash_delay_p50_ms": round2(percentile(&crash_delays, 0.5)),
            "crash_delay_max_ms": round2(crash_delays.last().copied().unwrap_or(f64::NAN)),
        })
    );
    Ok(())
}

/// SIGKILL of a watched agent process → its `crashed` push, in ms, `n` times.
async fn crash_delays(
    http: &reqwest::Client,
    addr: &str,
    svc: &PushService,
    n: usize,
) -> Result<Vec<f64>> {
    let mut delays = Vec::with_capacity(n);
    for k in 0..n {
        let mut agent = std::process::Command::new("sleep").arg("600").spawn()?;
        let pid = agent.id();
        let start = observatory::procfs::process_start_ticks(pid).context("reading /proc")?;
        let session = format!("bench-crash-{k}");
        let started = json!({"session_id": session, "hook_event_name": "SessionStart",
            "cwd": "/bench/proj", "source": "startup"});
        hook_from(http, addr, started, Some((pid, start))).await?;
        hook_from(http, addr, prompt(&session), Some((pid, start))).await?;
        agent.kill()?;
        let killed = Instant::now();
        agent.wait()?;
        let id = format!("claude_code:{session}");
        loop {
            let got = svc
                .next(Duration::from_secs(10))
                .await
                .context("a killed agent was not pushed as crashed in time")?;
            let p = got.payload.unwrap_or_default();
            if p["session_id"] == id.as_str() && p["kind"] == "crashed" {
                delays.push(got.at.saturating_duration_since(killed).as_secs_f64() * 1e3);
                break;
            }
        }
    }
    Ok(delays)
}
