//! Load generator and measuring tools for `scripts/bench` (DESIGN.md "Budgets").
//!
//! Every mode prints one flat JSON object on stdout (numbers and strings only, unique keys), so
//! the script can read figures without a JSON tool:
//!
//! - `load`: OTLP/HTTP protobuf ingest against a running server, `--concurrency` requests in
//!   flight, each answered only once committed; records/s and latency over a measured window.
//! - `ceiling`: the same bodies decoded with prost and normalized, no store: what ingest could
//!   reach if storing were free.
//! - `prefill`: writes N events into a data dir through the tracker and the store, the way the
//!   writer thread does, for the start-up measurement.
//! - `startup`: execs the server on a data dir and times exec → `/api/health` answering 200.
//! - `dump`: describes the generated batches (for checking the generator itself).
//!
//! Batches are built from the real Claude Code body recorded in
//! `server/tests/fixtures/claude-code-2.1.328/bash/otlp/0006-logs.pb`: its `user_prompt`,
//! `api_request`, `tool_decision`, `tool_result` and `assistant_response` records are replicated
//! into turns (a prompt, three API-request → tool-call rounds, a final request and its response),
//! spread over `--sessions` sessions, with fresh `prompt.id`, `request_id`, `tool_use_id` and
//! `message.uuid` in every request so that each record is a distinct fact and is stored.
//!
//! To keep the generator's share of the two cores small, each session's batch is encoded once,
//! with fixed-width placeholders where the per-request counter goes; a request is a copy of that
//! encoding with the placeholders overwritten (same lengths, so the protobuf stays valid).

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use observatory::agents::read_otlp;
use observatory::normalize::attrs::Attrs;
use observatory::normalize::{Agent, EventKind, Normalized, Prices, Request, SessionEvent, Signal};
use observatory::proto::ExportLogsServiceRequest;
use observatory::proto::ExportLogsServiceResponse;
use observatory::proto::common::{KeyValue, any_value::Value};
use observatory::proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use observatory::proto::store::Tokens;
use observatory::session::Tracker;
use observatory::store::Store;
use observatory::testkit::otlp::replace_str;
use prost::Message;
use serde_json::{Map, Value as Json, json};
use support::round2;

/// Where a per-request counter goes in the encoded template: 12 characters, overwritten with 12
/// hex digits of the request number.
const MARK: &str = "~~~~~~~~~~~~";

/// One request turn, in the order Claude Code emits it.
const TURN: [&str; 12] = [
    "user_prompt",
    "api_request",
    "tool_decision",
    "tool_result",
    "api_request",
    "tool_decision",
    "tool_result",
    "api_request",
    "tool_decision",
    "tool_result",
    "api_request",
    "assistant_response",
];

#[derive(Parser)]
#[command(about = "Load generator and measurements for scripts/bench")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(clap::Args, Clone)]
struct Shape {
    /// The recorded Claude Code logs body the batches are built from.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/claude-code-2.1.328/bash/otlp/0006-logs.pb"))]
    fixture: PathBuf,
    /// Log records per request.
    #[arg(long, default_value_t = 240)]
    records: usize,
    /// Sessions the requests are spread over (one session per request, round robin).
    #[arg(long, default_value_t = 50)]
    sessions: usize,
}

#[derive(Subcommand)]
enum Mode {
    /// Sustained OTLP/HTTP protobuf ingest against a running server.
    Load {
        #[command(flatten)]
        shape: Shape,
        /// e.g. http://127.0.0.1:4318/v1/logs
        #[arg(long)]
        url: String,
        /// e.g. http://127.0.0.1:4319 ; when given, /api/stats is read after the run.
        #[arg(long)]
        app_url: Option<String>,
        /// Requests in flight.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds of load before the measured window.
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Seconds of the measured window.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
    },
    /// Decode + normalize the same bodies, no store.
    Ceiling {
        #[command(flatten)]
        shape: Shape,
        /// Threads decoding in parallel (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, default_value_t = 3.0)]
        duration: f64,
    },
    /// Fill a data dir with at least N events, through the tracker and the store.
    Prefill {
        #[command(flatten)]
        shape: Shape,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Events per write transaction (the server's default batch_max_events).
        #[arg(long, default_value_t = 16384)]
        batch: usize,
    },
    /// Time exec → /api/health 200 of the server on a data dir.
    Startup {
        #[arg(long)]
        bin: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Also time one start after the server was killed with SIGKILL (recovery).
        #[arg(long)]
        crash: bool,
        /// Appends each started server's pid here, so a caller can stop them if this is killed.
        #[arg(long)]
        pid_file: Option<PathBuf>,
    },
    /// Mark every session of a (pre-filled) data dir as ended, so retention may delete it.
    EndSessions {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Describe the generated batches.
    Dump {
        #[command(flatten)]
        shape: Shape,
    },
}

fn main() -> Result<()> {
    let out = match Cli::parse().mode {
        Mode::Load {
            shape,
            url,
            app_url,
            concurrency,
            warmup,
            duration,
        } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(load(shape, url, app_url, concurrency, warmup, duration))?,
        Mode::Ceiling {
            shape,
            threads,
            duration,
        } => ceiling(&shape, threads, duration)?,
        Mode::Prefill {
            shape,
            data_dir,
            events,
            batch,
        } => prefill(&shape, &data_dir, events, batch)?,
        Mode::Startup {
            bin,
            data_dir,
            runs,
            crash,
            pid_file,
        } => startup(&bin, &data_dir, runs, crash, pid_file.as_deref())?,
        Mode::EndSessions { data_dir } => end_sessions(&data_dir)?,
        Mode::Dump { shape } => dump(&shape)?,
    };
    println!("{}", Json::Object(out));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Batches

/// One session's encoded batch, and where its placeholders are.
struct Template {
    bytes: Vec<u8>,
    marks: Vec<usize>,
}

/// Makes request bodies: request `n` goes to session `n % sessions` and carries `n` in every id.
struct Generator {
    templates: Vec<Template>,
    records: usize,
}

fn set(rec: &mut LogRecord, key: &str, value: String) {
    replace_str(&mut rec.attributes, key, value);
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    Attrs(attrs).str(key)
}

impl Generator {
    fn new(shape: &Shape, nonce: u32) -> Result<Generator> {
        if shape.records == 0 || shape.sessions == 0 {
            bail!("--records and --sessions must be greater than 0");
        }
        let raw = std::fs::read(&shape.fixture)
            .with_context(|| format!("reading {}", shape.fixture.display()))?;
        let fixture =
            ExportLogsServiceRequest::decode(raw.as_slice()).context("decoding the fixture")?;
        let rl = fixture
            .resource_logs
            .first()
            .context("fixture has no resource_logs")?;
        let sl = rl.scope_logs.first().context("fixture has no scope_logs")?;
        let mut kinds: BTreeMap<&str, &LogRecord> = BTreeMap::new();
        for r in &sl.log_records {
            if let Some(name) = attr(&r.attributes, "event.name") {
                kinds.entry(name).or_insert(r);
            }
        }
        for k in TURN {
            if !kinds.contains_key(k) {
                bail!("the fixture has no {k} record");
            }
        }
        let base_time = sl
            .log_records
            .first()
            .map(|r| r.time_unix_nano)
            .unwrap_or(0);
        let mut templates = Vec::with_capacity(shape.sessions);
        for s in 0..shape.sessions {
            let session_id = format!("{nonce:08x}-b0b0-4000-8000-{s:012x}");
            let mut records = Vec::with_capacity(shape.records);
            let (mut turn, mut round) = (0usize, 0usize);
            while records.len() < shape.records {
                let i = records.len() % TURN.len();
                if i == 0 && !records.is_empty() {
                    turn += 1;
                }
                let name = TURN[i];
                if name == "api_request" {
                    round += 1;
                }
                let mut r = kinds[name].clone();
                let seq = records.len();
                let tag = format!("{turn:04x}{round:04x}{:04x}", s & 0xffff);
                set(&mut r, "session.id", session_id.clone());
                set(
                    &mut r,
                    "prompt.id",
                    format!("{s:08x}-{turn:04x}-4000-8000-{MARK}"),
                );
                set(&mut r, "request_id", format!("req_{MARK}{tag}"));
                set(&mut r, "tool_use_id", format!("toolu_{MARK}{tag}"));
                set(
                    &mut r,
                    "message.uuid",
                    format!("{s:08x}-{turn:04x}-{round:04x}-8000-{MARK}"),
                );
                set(&mut r, "event.sequence", seq.to_string());
                r.time_unix_nano = base_time + seq as u64 * 1_000_000;
                r.observed_time_unix_nano = r.time_unix_nano;
                records.push(r);
            }
            let req = ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: rl.resource.clone(),
                    scope_logs: vec![ScopeLogs {
                        scope: sl.scope.clone(),
                        log_records: records,
                        schema_url: sl.schema_url.clone(),
                    }],
                    schema_url: rl.schema_url.clone(),
                }],
            };
            let bytes = req.encode_to_vec();
            let marks = find_all(&bytes, MARK.as_bytes());
            templates.push(Template { bytes, marks });
        }
        Ok(Generator {
            templates,
            records: shape.records,
        })
    }

    fn body(&self, n: u64) -> Bytes {
        let t = &self.templates[(n % self.templates.len() as u64) as usize];
        let mut b = t.bytes.clone();
        let hex = format!("{:012x}", n & 0xffff_ffff_ffff);
        for &at in &t.marks {
            b[at..at + MARK.len()].copy_from_slice(hex.as_bytes());
        }
        Bytes::from(b)
    }

    fn mean_body_bytes(&self) -> f64 {
        self.templates.iter().map(|t| t.bytes.len()).sum::<usize>() as f64
            / self.templates.len() as f64
    }
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            out.push(i);
            i += needle.len();
        } else {
            i += 1;
        }
    }
    out
}

fn nonce() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u32) ^ std::process::id().rotate_left(16)
}

fn dump(shape: &Shape) -> Result<Map<String, Json>> {
    let g = Generator::new(shape, nonce())?;
    let b = g.body(7);
    let req = ExportLogsServiceRequest::decode(b.clone())?;
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut ids: Vec<String> = Vec::new();
    for rl in &req.resource_logs {
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                *kinds
                    .entry(attr(&r.attributes, "event.name").unwrap_or("?").to_owned())
                    .or_default() += 1;
                for k in ["request_id", "tool_use_id"] {
                    if let Some(v) = attr(&r.attributes, k) {
                        ids.push(format!("{k}={v}"));
                    }
                }
            }
        }
    }
    let mut n = Normalized::default();
    read_otlp(Request::Logs(req), &Prices::default(), &mut n);
    let mut o = Map::new();
    o.insert("records_per_request".into(), json!(g.records));
    o.insert("body_bytes_mean".into(), json!(g.mean_body_bytes()));
    o.insert(
        "placeholders_per_body".into(),
        json!(g.templates[0].marks.len()),
    );
    o.insert("normalized_events".into(), json!(n.events.len()));
    o.insert("kinds".into(), json!(format!("{kinds:?}")));
    o.insert(
        "example_ids".into(),
        json!(ids.iter().take(6).cloned().collect::<Vec<_>>().join(" ")),
    );
    if let Some(e) = n.events.first() {
        o.insert("first_event".into(), json!(format!("{e:?}")));
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// load

#[derive(Default)]
struct TaskResult {
    /// Latencies (µs) of requests completed inside the measured window.
    latencies_us: Vec<u32>,
    window_records: u64,
    window_requests: u64,
    /// Every record acknowledged with 200, warm-up included (to compare with the store).
    ok_records: u64,
    ok_requests: u64,
    busy: u64,
    errors: u64,
    partial_rejected: u64,
    last_error: Option<String>,
}

async fn load(
    shape: Shape,
    url: String,
    app_url: Option<String>,
    concurrency: usize,
    warmup: f64,
    duration: f64,
) -> Result<Map<String, Json>> {
    let generator = Arc::new(Generator::new(&shape, nonce())?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let window_start = start + Duration::from_secs_f64(warmup);
    let end = window_start + Duration::from_secs_f64(duration);
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (g, client, url, counter) = (
            generator.clone(),
            client.clone(),
            url.clone(),
            counter.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut r = TaskResult::default();
            let records = g.records as u64;
            while Instant::now() < end {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = g.body(n);
                let sent = Instant::now();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await;
                let outcome = match resp {
                    Ok(resp) => {
                        let status = resp.status();
                        match resp.bytes().await {
                            Ok(b) if status.is_success() => Ok(b),
                            Ok(b) => {
                                Err((status.as_u16(), String::from_utf8_lossy(&b).into_owned()))
                            }
                            Err(e) => Err((0, e.to_string())),
                        }
                    }
                    Err(e) => Err((0, e.to_string())),
                };
                let done = Instant::now();
                match outcome {
                    Ok(b) => {
                        let rejected = ExportLogsServiceResponse::decode(b)
                            .ok()
                            .and_then(|a| a.partial_success)
                            .map(|p| p.rejected_log_records)
                            .unwrap_or(0);
                        r.partial_rejected += rejected.max(0) as u64;
                        r.ok_records += records;
                        r.ok_requests += 1;
                        if done >= window_start && done <= end {
                            r.window_records += records;
                            r.window_requests += 1;
                            r.latencies_us
                                .push(u32::try_from((done - sent).as_micros()).unwrap_or(u32::MAX));
                        }
                    }
                    Err((status, msg)) => {
                        if status == 503 {
                            r.busy += 1;
                        } else {
                            r.errors += 1;
                        }
                        r.last_error = Some(format!("{status}: {msg}"));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            r
        }));
    }
    let mut all = TaskResult::default();
    for t in tasks {
        let r = t.await?;
        all.latencies_us.extend(r.latencies_us);
        all.window_records += r.window_records;
        all.window_requests += r.window_requests;
        all.ok_records += r.ok_records;
        all.ok_requests += r.ok_requests;
        all.busy += r.busy;
        all.errors += r.errors;
        all.partial_rejected += r.partial_rejected;
        all.last_error = all.last_error.or(r.last_error);
    }
    let wall = start.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        let l = &all.latencies_us;
        if l.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * (l.len() - 1) as f64).round() as usize;
        f64::from(l[i.min(l.len() - 1)]) / 1000.0
    };
    let mut o = Map::new();
    o.insert("concurrency".into(), json!(concurrency));
    o.insert("records_per_request".into(), json!(generator.records));
    o.insert("sessions".into(), json!(shape.sessions));
    o.insert(
        "body_bytes_mean".into(),
        json!(generator.mean_body_bytes().round()),
    );
    o.insert("window_s".into(), json!(duration));
    o.insert(
        "records_per_s".into(),
        json!((all.window_records as f64 / duration).round()),
    );
    o.insert(
        "requests_per_s".into(),
        json!(round2(all.window_requests as f64 / duration)),
    );
    o.insert(
        "mb_per_s".into(),
        json!(round2(
            all.window_requests as f64 * generator.mean_body_bytes() / duration / 1e6
        )),
    );
    o.insert("latency_p50_ms".into(), json!(round2(pct(50.0))));
    o.insert("latency_p90_ms".into(), json!(round2(pct(90.0))));
    o.insert("latency_p99_ms".into(), json!(round2(pct(99.0))));
    o.insert(
        "latency_max_ms".into(),
        json!(round2(
            all.latencies_us
                .last()
                .map(|&u| f64::from(u) / 1000.0)
                .unwrap_or(0.0)
        )),
    );
    o.insert("ok_requests".into(), json!(all.ok_requests));
    o.insert("ok_records".into(), json!(all.ok_records));
    o.insert("busy_503".into(), json!(all.busy));
    o.insert("errors".into(), json!(all.errors));
    o.insert("partial_rejected".into(), json!(all.partial_rejected));
    o.insert(
        "last_error".into(),
        json!(all.last_error.unwrap_or_default()),
    );
    o.insert("wall_s".into(), json!(round2(wall)));
    o.insert("loadgen_cpu_ticks".into(), json!(cpu_ticks("self")?));
    if let Some(app) = app_url {
        let stats: Json = client
            .get(format!("{}/api/stats", app.trim_end_matches('/')))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut sums: BTreeMap<&str, u64> = BTreeMap::new();
        for row in stats["records"].as_array().into_iter().flatten() {
            if row["protocol"] == "http_protobuf" && row["signal"] == "logs" {
                for k in [
                    "received",
                    "accepted",
                    "rejected",
                    "unattributed",
                    "ignored",
                    "duplicates",
                ] {
                    *sums.entry(k).or_default() += row[k].as_u64().unwrap_or(0);
                }
            }
        }
        for (k, v) in sums {
            o.insert(format!("server_{k}"), json!(v));
        }
        o.insert("store_events".into(), stats["store"]["events"].clone());
        o.insert(
            "store_size_bytes".into(),
            stats["store"]["size_bytes"].clone(),
        );
    }
    Ok(o)
}

/// utime + stime of a process, in clock ticks (all threads).
fn cpu_ticks(pid: &str) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    let rest = s
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unreadable /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let utime: u64 = f.get(11).context("no utime")?.parse()?;
    let stime: u64 = f.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

// ---------------------------------------------------------------------------------------------
// ceiling

fn ceiling(shape: &Shape, threads: Option<usize>, duration: f64) -> Result<Map<String, Json>> {
    let g = Generator::new(shape, nonce())?;
    let bodies: Arc<Vec<Bytes>> = Arc::new((0..64).map(|n| g.body(n)).collect());
    let records = g.records as u64;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = threads.unwrap_or(cores).max(1);
    let prices = Arc::new(Prices::default());

    // Events per record, so the report shows whether the adapter stores anything.
    let mut n = Normalized::default();
    read_otlp(
        Request::Logs(ExportLogsServiceRequest::decode(bodies[0].clone())?),
        &prices,
        &mut n,
    );
    let events_per_record = n.events.len() as f64 / records as f64;

    let run = |threads: usize, normalize_too: bool| -> Result<f64> {
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(duration);
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (bodies, prices) = (bodies.clone(), prices.clone());
                std::thread::spawn(move || -> Result<u64> {
                    let mut done = 0u64;
                    let mut i = t;
                    while Instant::now() < end {
                        let req =
                            ExportLogsServiceRequest::decode(bodies[i % bodies.len()].clone())?;
                        if normalize_too {
                            let mut out = Normalized::default();
                            read_otlp(Request::Logs(req), &prices, &mut out);
                            std::hint::black_box(&out);
                        } else {
                            std::hint::black_box(&req);
                        }
                        done += records;
                        i += 1;
                    }
                    Ok(done)
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h
                .join()
                .map_err(|_| anyhow!("a decoding thread panicked"))??;
        }
        Ok(total as f64 / start.elapsed().as_secs_f64())
    };
    let single = run(1, true)?;
    let all = if threads > 1 {
        run(threads, true)?
    } else {
        single
    };
    let decode_only = run(1, false)?;
    let mut o = Map::new();
    o.insert("cores".into(), json!(cores));
    o.insert("threads".into(), json!(threads));
    o.insert("records_per_request".into(), json!(g.records));
    o.insert("body_bytes_mean".into(), json!(g.mean_body_bytes().round()));
    o.insert("events_per_record".into(), json!(round2(events_per_record)));
    o.insert("ceiling_records_per_s".into(), json!(all.round()));
    o.insert(
        "ceiling_1thread_records_per_s".into(),
        json!(single.round()),
    );
    o.insert(
        "decode_only_1thread_records_per_s".into(),
        json!(decode_only.round()),
    );
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// prefill

/// What the Claude Code adapter would make of a record, for when it is not there yet: the
/// record's kind, turn, model, tokens and attributes (the bulk of a stored event).
fn synthetic(r: LogRecord, resource: &[KeyValue]) -> Option<SessionEvent> {
    let a = &r.attributes;
    let kind = match attr(a, "event.name")? {
        "user_prompt" => EventKind::Prompt,
        "api_request" => EventKind::ApiRequest,
        "tool_decision" => EventKind::ToolDecision,
        "tool_result" => EventKind::ToolFinished,
        "assistant_response" => EventKind::AssistantResponse,
        _ => return None,
    };
    let num = |k: &str| attr(a, k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let mut e = SessionEvent::new(
        Agent::ClaudeCode,
        attr(a, "session.id")?,
        kind,
        Signal::Logs,
    );
    e.fact_key = match kind {
        EventKind::ApiRequest => attr(a, "request_id").map(|id| format!("api:{id}")),
        EventKind::ToolFinished => attr(a, "tool_use_id").map(|id| format!("tool:{id}")),
        _ => None,
    };
    e.service_version = attr(resource, "service.version").map(str::to_owned);
    let ev = &mut e.event;
    ev.time_unix_nano = i64::try_from(r.time_unix_nano).unwrap_or(0);
    ev.turn_id = attr(a, "prompt.id").unwrap_or("").to_owned();
    ev.name = format!("claude_code.{}", attr(a, "event.name").unwrap_or(""));
    ev.model = attr(a, "model").unwrap_or("").to_owned();
    ev.tool_name = attr(a, "tool_name").unwrap_or("").to_owned();
    ev.tool_call_id = attr(a, "tool_use_id").unwrap_or("").to_owned();
    if kind == EventKind::ApiRequest {
        ev.tokens = Some(Tokens {
            input: num("input_tokens"),
            output: num("output_tokens"),
            cache_read: num("cache_read_tokens"),
            cache_write: num("cache_creation_tokens"),
        });
        ev.cost_usd = a.iter().find(|kv| kv.key == "cost_usd").and_then(|kv| {
            match kv.value.as_ref()?.value {
                Some(Value::DoubleValue(d)) => Some(d),
                _ => None,
            }
        });
    }
    if kind == EventKind::ToolFinished {
        ev.success = attr(a, "success").map(|s| s == "true");
        ev.duration_ms = attr(a, "duration_ms").and_then(|s| s.parse().ok());
    }
    // Like the adapter: the record's own attributes move into the event (not the resource's).
    ev.attributes = r.attributes;
    Some(e)
}

fn prefill(shape: &Shape, dir: &Path, target: u64, batch: usize) -> Result<Map<String, Json>> {
    let g = Generator::new(shape, nonce())?;
    let prices = Prices::default();
    let store = Store::open(dir)?;
    let mut tracker = Tracker::new(store.last_seq()?);
    let start = Instant::now();
    // Where the time goes: decoding + normalizing, the tracker, the redb transaction.
    let (mut t_normalize, mut t_apply, mut t_write) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut stored, mut n, mut records) = (0u64, 0u64, 0u64);
    let mut adapter = true;
    let mut pending: Vec<SessionEvent> = Vec::with_capacity(batch + g.records);
    while stored < target {
        let body = g.body(n);
        n += 1;
        records += g.records as u64;
        if records > target.saturating_mul(10).max(1_000_000) {
            bail!(
                "{records} records gave only {stored} stored events; is the adapter dropping them?"
            );
        }
        let t = Instant::now();
        let mut out = Normalized::default();
        if adapter {
            read_otlp(
                Request::Logs(ExportLogsServiceRequest::decode(body.clone())?),
                &prices,
                &mut out,
            );
            if out.events.is_empty() && n == 1 {
                adapter = false;
            }
        }
        if !adapter {
            let req = ExportLogsServiceRequest::decode(body)?;
            for rl in req.resource_logs {
                let resource = rl.resource.map(|r| r.attributes).unwrap_or_default();
                for sl in rl.scope_logs {
                    out.events.extend(
                        sl.log_records
                            .into_iter()
                            .filter_map(|r| synthetic(r, &resource)),
                    );
                }
            }
        }
        // What the ingest workers do before the writer sees an event: pack its attributes.
        for e in &mut out.events {
            e.seal();
        }
        pending.extend(out.events);
        t_normalize += t.elapsed();
        if pending.len() >= batch {
            let t = Instant::now();
            let applied = tracker.apply(
                std::mem::take(&mut pending),
                observatory::clock::now_unix_nano(),
                &store,
            )?;
            t_apply += t.elapsed();
            let t = Instant::now();
            store.write(&applied.commit)?;
            t_write += t.elapsed();
            stored += applied.commit.events.len() as u64;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let last_seq = store.last_seq()?;
    let size = store.size_bytes();
    let path = store.path().to_owned();
    drop(store);
    // Where the file's bytes go (payload vs. b-tree overhead vs. free space), from redb itself.
    let db = redb::Database::open(&path)?;
    let tx = db.begin_write()?;
    let st = tx.stats()?;
    tx.abort()?;
    drop(db);
    // What retention's compaction makes of it: the file with its free pages given back.
    let (_, compacted) = Store::open(dir)?.compact()?;
    let mut o = Map::new();
    o.insert(
        "prefill_path".into(),
        json!(if adapter { "adapter" } else { "synthetic" }),
    );
    o.insert("prefill_events".into(), json!(stored));
    o.insert("prefill_records".into(), json!(records));
    o.insert("prefill_last_seq".into(), json!(last_seq));
    o.insert("prefill_s".into(), json!(round2(secs)));
    o.insert(
        "prefill_events_per_s".into(),
        json!((stored as f64 / secs).round()),
    );
    o.insert("prefill_db_bytes".into(), json!(size));
    o.insert("compacted_db_bytes".into(), json!(compacted.file_bytes));
    o.insert(
        "prefill_peak_rss_kb".into(),
        json!(status_kb(std::process::id(), "VmHWM:")?),
    );
    o.insert(
        "db_allocated_bytes".into(),
        json!(st.allocated_pages() * st.page_size() as u64),
    );
    o.insert("db_stored_bytes".into(), json!(st.stored_bytes()));
    o.insert("db_metadata_bytes".into(), json!(st.metadata_bytes()));
    o.insert("db_fragmented_bytes".into(), json!(st.fragmented_bytes()));
    o.insert("db_tree_height".into(), json!(st.tree_height()));
    o.insert(
        "prefill_normalize_s".into(),
        json!(round2(t_normalize.as_secs_f64())),
    );
    o.insert(
        "prefill_apply_s".into(),
        json!(round2(t_apply.as_secs_f64())),
    );
    o.insert(
        "prefill_write_s".into(),
        json!(round2(t_write.as_secs_f64())),
    );
    o.insert(
        "prefill_write_events_per_s".into(),
        json!((stored as f64 / t_write.as_secs_f64()).round()),
    );
    Ok(o)
}

fn end_sessions(dir: &Path) -> Result<Map<String, Json>> {
    let store = Store::open(dir)?;
    let mut sessions = store.sessions()?;
    for s in &mut sessions {
        s.state = "ended".into();
    }
    let n = sessions.len();
    store.write(&observatory::session::Commit {
        sessions,
        ..Default::default()
    })?;
    let mut o = Map::new();
    o.insert("ended_sessions".into(), json!(n));
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// startup

/// A started server: its child process and the app address it logged.
struct Started {
    child: Child,
    /// Exec → /api/health 200.
    ready: Duration,
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn health(app: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&app, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    // The Host names the port: the server answers only the names it knows (DNS rebinding).
    let request = format!("GET /api/health HTTP/1.1\r\nHost: {app}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    let mut got = 0;
    while got < 12 {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    buf[..got].starts_with(b"HTTP/1.1 200")
}

fn start(bin: &Path, dir: &Path, pid_file: Option<&Path>) -> Result<Started> {
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .args([
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
            "--app-addr",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    if let Some(f) = pid_file {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(f)?;
        writeln!(f, "{}", child.id())?;
    }
    let stderr = child.stderr.take().context("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    // Keeps draining stderr for the child's whole life, so it never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let deadline = t0 + Duration::from_secs(60);
    let app = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let line = strip_ansi(&line);
                if line.contains("observatory is listening") {
                    let addr = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("app_addr="))
                        .context("no app_addr in the listening line")?;
                    break addr.parse::<SocketAddr>()?;
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the server did not report listening within 60 s");
            }
        }
    };
    while !health(app) {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("/api/health did not answer 200 within 60 s");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    Ok(Started {
        child,
        ready: t0.elapsed(),
    })
}

/// SIGTERM, then waits: how long a clean shutdown takes.
fn stop(mut s: Started) -> Result<Duration> {
    let t = Instant::now();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(s.child.id().to_string())
        .status()?;
    if !status.success() {
        bail!("kill -TERM failed");
    }
    let deadline = t + Duration::from_secs(30);
    loop {
        if s.child.try_wait()?.is_some() {
            return Ok(t.elapsed());
        }
        if Instant::now() > deadline {
            let _ = s.child.kill();
            let _ = s.child.wait();
            bail!("the server did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn status_kb(pid: u32, key: &str) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {key} in /proc/{pid}/status"))
}

fn startup(
    bin: &Path,
    dir: &Path,
    runs: usize,
    crash: bool,
    pid_file: Option<&Path>,
) -> Result<Map<String, Json>> {
    let mut o = Map::new();
    let (mut ready, mut shut) = (Vec::new(), Vec::new());
    for i in 0..runs.max(1) {
        let s = start(bin, dir, pid_file)?;
        ready.push(s.ready.as_secs_f64() * 1000.0);
        o.insert(
            format!("startup_ms_{}", i + 1),
            json!(round2(s.ready.as_secs_f64() * 1000.0)),
        );
        if i == 0 {
            std::thread::sleep(Duration::from_millis(300));
            o.insert(
                "idle_rss_kb".into(),
                json!(status_kb(s.child.id(), "VmRSS:")?),
            );
        }
        shut.push(stop(s)?.as_secs_f64() * 1000.0);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    o.insert("startup_ms_mean".into(), json!(round2(mean(&ready))));
    o.insert(
        "startup_ms_max".into(),
        json!(round2(ready.iter().cloned().fold(0.0, f64::max))),
    );
    o.insert("shutdown_ms_mean".into(), json!(round2(mean(&shut))));
    if crash {
        let mut s = start(bin, dir, pid_file)?;
        s.child.kill()?;
        s.child.wait()?;
        let s = start(bin, dir, pid_file)?;
        o.insert(
            "recovery_startup_ms".into(),
            json!(round2(s.ready.as_secs_f64() * 1000.0)),
        );
        stop(s)?;
    }
    Ok(o)
}
