//! Test support: replays a recorded fixture scenario (`server/tests/fixtures/<agent>/<scenario>/`)
//! through decoding, normalization and the tracker, the way the server would.

use std::path::{Path, PathBuf};

use prost::Message;

use super::{Normalized, Prices, SessionEvent, Signal};
use crate::ingest::{Request, json};
use crate::proto::store::Session;
use crate::session::Commit;
use crate::session::{NoBacking, Tracker};

pub fn dir(agent_dir: &str, scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(agent_dir)
        .join(scenario)
}

/// One recorded OTLP request body, as the agent sent it.
pub struct Body {
    pub name: String,
    pub signal: Signal,
    /// `true` for OTLP/JSON, `false` for protobuf.
    pub json: bool,
    pub bytes: Vec<u8>,
}

/// The scenario's OTLP bodies in arrival order (`NNNN-<signal>.pb` / `.json` / `.json.gz`).
pub fn bodies(dir: &Path) -> Vec<Body> {
    let otlp = dir.join("otlp");
    let mut names: Vec<String> = std::fs::read_dir(&otlp)
        .unwrap_or_else(|e| panic!("reading {}: {e}", otlp.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".meta.json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let raw =
                std::fs::read(otlp.join(&name)).unwrap_or_else(|e| panic!("reading {name}: {e}"));
            let signal = if name.contains("-logs") {
                Signal::Logs
            } else if name.contains("-traces") {
                Signal::Traces
            } else if name.contains("-metrics") {
                Signal::Metrics
            } else {
                panic!("{name}: unknown signal")
            };
            let json = !name.ends_with(".pb");
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
                name,
                signal,
                json,
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

/// Normalizes every body of a scenario, in arrival order.
pub fn normalize(dir: &Path) -> Normalized {
    let prices = Prices::default();
    let mut out = Normalized::default();
    for b in bodies(dir) {
        crate::agents::read_otlp(decode(&b), &prices, &mut out)
    }
    out
}

/// Replays a scenario through normalization and a fresh tracker, one request at a time (as the
/// server would), and returns the sessions and everything committed.
pub fn replay(dir: &Path) -> (Vec<Session>, Commit) {
    let prices = Prices::default();
    let mut tracker = Tracker::new(0);
    let mut all = Commit::default();
    for (i, b) in bodies(dir).iter().enumerate() {
        let mut out = Normalized::default();
        crate::agents::read_otlp(decode(b), &prices, &mut out);
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

/// One recorded request of a scenario, OTLP or hook, with the time it arrived.
pub enum Step {
    Otlp(Body),
    Hook {
        name: String,
        agent: super::Agent,
        /// The hook's name, from the path it was posted to (what `?event=` carries).
        event: String,
        bytes: Vec<u8>,
    },
}

fn arrival_nanos(meta: &Path) -> i64 {
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(meta).unwrap_or_else(|e| panic!("{}: {e}", meta.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", meta.display()));
    let t = v["t"]
        .as_f64()
        .unwrap_or_else(|| panic!("{}: no t", meta.display()));
    (t * 1e9) as i64
}

fn meta_of(dir: &Path, name: &str) -> PathBuf {
    let stem = name
        .trim_end_matches(".gz")
        .trim_end_matches(".json")
        .trim_end_matches(".pb");
    dir.join(format!("{stem}.meta.json"))
}

/// A scenario's OTLP bodies and hook payloads in recorded arrival order, with arrival times.
pub fn timeline(dir: &Path, agent: super::Agent) -> Vec<(i64, Step)> {
    let mut steps: Vec<(String, i64, Step)> = bodies(dir)
        .into_iter()
        .map(|b| {
            let t = arrival_nanos(&meta_of(&dir.join("otlp"), &b.name));
            (b.name.clone(), t, Step::Otlp(b))
        })
        .collect();
    let hooks = dir.join("hooks");
    for entry in std::fs::read_dir(&hooks).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".meta.json") {
            continue;
        }
        let meta = meta_of(&hooks, &name);
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&meta).expect("meta")).expect("meta JSON");
        let event = v["path"]
            .as_str()
            .and_then(|p| p.rsplit('/').next())
            .unwrap_or("")
            .to_owned();
        let bytes = std::fs::read(entry.path()).expect("hook payload");
        let t = arrival_nanos(&meta);
        steps.push((
            name.clone(),
            t,
            Step::Hook {
                name,
                agent,
                event,
                bytes,
            },
        ));
    }
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    steps.into_iter().map(|(_, t, s)| (t, s)).collect()
}

/// What the server makes of one recorded request arriving at `t`; hook events carry `process`
/// when one is given, as if `observatory hook` had found it.
pub fn step_events(step: &Step, t: i64, process: Option<super::Process>) -> Vec<SessionEvent> {
    match step {
        Step::Otlp(b) => {
            let prices = Prices::default();
            let mut out = Normalized::default();
            crate::agents::read_otlp(decode(b), &prices, &mut out);
            out.events
        }
        Step::Hook {
            name,
            agent,
            event,
            bytes,
        } => {
            let hook = super::hooks::Hook {
                event: Some(event),
                process,
                received: t,
            };
            crate::agents::read_hook(*agent, bytes, &hook).unwrap_or_else(|e| panic!("{name}: {e}"))
        }
    }
}

/// Replays a scenario's OTLP and hooks through `tracker`, each request at the time it was
/// recorded (hooks received then, too), and returns every committed event and the last time.
pub fn replay_timeline(
    dir: &Path,
    agent: super::Agent,
    tracker: &mut Tracker,
    process: Option<super::Process>,
) -> (Vec<crate::proto::store::Event>, i64) {
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
