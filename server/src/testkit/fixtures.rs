//! The recorded fixtures (`server/tests/fixtures/<agent>-<version>/<scenario>/`): each scenario's
//! OTLP bodies (`otlp/NNNN-<signal>.pb|.json|.json.gz`) and hook calls
//! (`hooks/NNNN-<agent>-<Event>.json`), each with a `.meta.json` saying when it arrived and on
//! which path; read as the server would receive them, and replayed through the adapters and
//! the tracker as the server would apply them.

use std::path::{Path, PathBuf};

use prost::Message;
use serde_json::Value;

use crate::agents::{self, Fixtures};
use crate::ingest::json;
use crate::normalize::hooks::Hook;
use crate::normalize::{Agent, Normalized, Prices, Process, Request, SessionEvent, Signal};
use crate::proto::store::{Event, Session};
use crate::session::{Commit, NoBacking, Tracker};

/// `server/tests/fixtures`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A scenario's folder (the agent's folder when `scenario` is empty).
pub fn dir(folder: &str, scenario: &str) -> PathBuf {
    root().join(folder).join(scenario)
}

fn sorted_names(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| keep(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every (agent folder, scenario) with recorded OTLP, sorted.
pub fn scenarios() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for folder in sorted_names(&root(), Path::is_dir) {
        for scenario in sorted_names(&root().join(&folder), |p| p.join("otlp").is_dir()) {
            out.push((folder.clone(), scenario));
        }
    }
    out
}

/// The scenarios of an agent folder that recorded hook calls, sorted.
pub fn hook_scenarios(folder: &str) -> Vec<String> {
    sorted_names(&dir(folder, ""), |p| p.join("hooks").is_dir())
}

/// The agent whose fixtures a folder holds, from the agent registry.
pub fn agent_of(folder: &str) -> Agent {
    agents::AGENTS
        .iter()
        .find(|s| matches!(s.fixtures, Fixtures::Recorded(f) if f == folder))
        .map(|s| s.agent)
        .unwrap_or_else(|| panic!("{folder}: no agent in the registry records its fixtures here"))
}

/// One recorded OTLP request body, as the agent sent it (decompressed).
pub struct Body {
    pub name: String,
    pub signal: Signal,
    /// `true` for OTLP/JSON, `false` for protobuf.
    pub json: bool,
    pub bytes: Vec<u8>,
}

impl Body {
    /// Where it is posted on the OTLP/HTTP port.
    pub fn path(&self) -> &'static str {
        match self.signal {
            Signal::Logs => "/v1/logs",
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }

    pub fn content_type(&self) -> &'static str {
        if self.json {
            "application/json"
        } else {
            "application/x-protobuf"
        }
    }
}

/// A scenario's OTLP bodies in arrival order.
pub fn bodies(dir: &Path) -> Vec<Body> {
    let otlp = dir.join("otlp");
    sorted_names(&otlp, |p| !p.to_string_lossy().ends_with(".meta.json"))
        .into_iter()
        .map(|name| {
            let raw = std::fs::read(otlp.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let signal = if name.contains("-logs") {
                Signal::Logs
            } else if name.contains("-traces") {
                Signal::Traces
            } else if name.contains("-metrics") {
                Signal::Metrics
            } else {
                panic!("{name}: unknown signal")
            };
            let bytes = if name.ends_with(".gz") {
                let mut out = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(raw.as_slice()),
                    &mut out,
                )
                .unwrap_or_else(|e| panic!("gunzip {name}: {e}"));
                out
            } else {
                raw
            };
            Body {
                json: !name.ends_with(".pb"),
                name,
                signal,
                bytes,
            }
        })
        .collect()
}

/// Decodes a recorded body as the receivers would.
pub fn decode(b: &Body) -> Request {
    if b.json {
        return json::decode(b.signal, &b.bytes)
            .unwrap_or_else(|e| panic!("{}: OTLP/JSON decode failed: {e}", b.name))
            .request;
    }
    let bytes = b.bytes.as_slice();
    let fail = |e: prost::DecodeError| -> ! { panic!("{}: protobuf decode failed: {e}", b.name) };
    match b.signal {
        Signal::Logs => Request::Logs(Message::decode(bytes).unwrap_or_else(|e| fail(e))),
        Signal::Traces => Request::Traces(Message::decode(bytes).unwrap_or_else(|e| fail(e))),
        Signal::Metrics => Request::Metrics(Message::decode(bytes).unwrap_or_else(|e| fail(e))),
    }
}

/// What a `.meta.json` says: when the request arrived (Unix ns) and the path it was posted to.
fn meta(file: &Path) -> (i64, String) {
    let v: Value = serde_json::from_slice(
        &std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let t = v["t"]
        .as_f64()
        .unwrap_or_else(|| panic!("{}: no t", file.display()));
    (
        (t * 1e9) as i64,
        v["path"].as_str().unwrap_or("").to_owned(),
    )
}

fn meta_of(dir: &Path, name: &str) -> PathBuf {
    let stem = name
        .trim_end_matches(".gz")
        .trim_end_matches(".json")
        .trim_end_matches(".pb");
    dir.join(format!("{stem}.meta.json"))
}

/// One recorded hook call.
pub struct HookCall {
    pub file: String,
    /// The hook's name: the last segment of the path it was posted to, what `?event=` carries.
    pub event: String,
    /// When it arrived, Unix ns.
    pub received: i64,
    pub body: Vec<u8>,
    pub payload: Value,
}

/// A scenario's hook calls in arrival order (none when it recorded no hooks).
pub fn hook_calls(dir: &Path) -> Vec<HookCall> {
    let hooks = dir.join("hooks");
    if !hooks.is_dir() {
        return Vec::new();
    }
    sorted_names(&hooks, |p| {
        let n = p.to_string_lossy();
        n.ends_with(".json") && !n.ends_with(".meta.json")
    })
    .into_iter()
    .map(|file| {
        let body = std::fs::read(hooks.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let payload = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (received, path) = meta(&meta_of(&hooks, &file));
        let event = path.rsplit('/').next().unwrap_or("").to_owned();
        HookCall {
            file,
            event,
            received,
            body,
            payload,
        }
    })
    .collect()
}

/// One recorded request of a scenario, as a test posts it to the OTLP/HTTP port.
#[derive(Clone)]
pub struct Posted {
    pub name: String,
    /// Path and query: `/v1/logs`, or `/v1/hooks/<agent>?event=<hook>` as `observatory hook
    /// --event` sends it.
    pub path: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// A scenario's OTLP bodies and hook calls interleaved in recorded arrival order (one counter
/// numbers both).
pub fn recording(folder: &str, scenario: &str) -> Vec<Posted> {
    let dir = dir(folder, scenario);
    let agent = agent_of(folder);
    let mut all: Vec<Posted> = bodies(&dir)
        .into_iter()
        .map(|b| Posted {
            path: b.path().to_owned(),
            content_type: b.content_type(),
            name: b.name,
            bytes: b.bytes,
        })
        .collect();
    all.extend(hook_calls(&dir).into_iter().map(|h| Posted {
        path: format!("/v1/hooks/{agent}?event={}", h.event),
        content_type: "application/json",
        name: h.file,
        bytes: h.body,
    }));
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// Normalizes every body of a scenario, in arrival order.
pub fn normalize(dir: &Path) -> Normalized {
    let prices = Prices::default();
    let mut out = Normalized::default();
    for b in bodies(dir) {
        agents::read_otlp(decode(&b), &prices, &mut out);
    }
    out
}

/// Replays a scenario's OTLP through the adapters and a fresh tracker, one request at a time (as
/// the server would), and returns the sessions and everything committed.
pub fn replay(dir: &Path) -> (Vec<Session>, Commit) {
    let prices = Prices::default();
    let mut tracker = Tracker::new(0);
    let mut all = Commit::default();
    for (i, b) in bodies(dir).iter().enumerate() {
        let mut out = Normalized::default();
        agents::read_otlp(decode(b), &prices, &mut out);
        let applied = tracker
            .apply(out.events, 1_000 + i as i64, &NoBacking)
            .unwrap_or_else(|e| panic!("{}: apply failed: {e}", b.name));
        all.events.extend(applied.commit.events);
        all.encoded_attributes
            .extend(applied.commit.encoded_attributes);
        all.turns.extend(applied.commit.turns);
        all.facts.extend(applied.commit.facts);
    }
    let mut ids: Vec<String> = all.events.iter().map(|e| e.session_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let sessions = ids
        .iter()
        .filter_map(|id| tracker.session(id).cloned())
        .collect();
    (sessions, all)
}

/// One recorded request of a scenario, OTLP or hook.
pub enum Step {
    Otlp(Body),
    Hook { agent: Agent, call: HookCall },
}

/// A scenario's OTLP bodies and hook calls in recorded arrival order, with arrival times.
pub fn timeline(dir: &Path, agent: Agent) -> Vec<(i64, Step)> {
    let mut steps: Vec<(String, i64, Step)> = bodies(dir)
        .into_iter()
        .map(|b| {
            let (t, _) = meta(&meta_of(&dir.join("otlp"), &b.name));
            (b.name.clone(), t, Step::Otlp(b))
        })
        .collect();
    for call in hook_calls(dir) {
        steps.push((call.file.clone(), call.received, Step::Hook { agent, call }));
    }
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    steps.into_iter().map(|(_, t, s)| (t, s)).collect()
}

/// What the server makes of one recorded request arriving at `t`; hook events carry `process`
/// when one is given, as if `observatory hook` had found it.
pub fn step_events(step: &Step, t: i64, process: Option<Process>) -> Vec<SessionEvent> {
    match step {
        Step::Otlp(b) => {
            let mut out = Normalized::default();
            agents::read_otlp(decode(b), &Prices::default(), &mut out);
            out.events
        }
        Step::Hook { agent, call } => {
            let hook = Hook {
                prompt: None,
                nobody_asked: false,
                event: Some(&call.event),
                process,
                received: t,
            };
            agents::read_hook(*agent, &call.body, &hook)
                .unwrap_or_else(|e| panic!("{}: {e}", call.file))
        }
    }
}

/// Replays a scenario's OTLP and hooks through `tracker`, each request at the time it was
/// recorded (hooks received then, too), and returns every committed event and the last time.
pub fn replay_timeline(
    dir: &Path,
    agent: Agent,
    tracker: &mut Tracker,
    process: Option<Process>,
) -> (Vec<Event>, i64) {
    let mut events = Vec::new();
    let mut last = 0;
    for (t, step) in timeline(dir, agent) {
        last = t;
        let applied = tracker
            .apply(step_events(&step, t, process), t, &NoBacking)
            .unwrap_or_else(|e| panic!("apply failed: {e}"));
        events.extend(applied.commit.events);
    }
    (events, last)
}
