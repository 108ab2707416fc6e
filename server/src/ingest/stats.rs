//! Record counters per (signal, protocol, agent), served by `GET /api/stats` and `/metrics`.
//! Hook payloads are counted as the signal `hooks`, one record per payload; how long each hook
//! request took (arrival to answer: its event committed) is kept as a histogram per agent.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::normalize::{Agent, RecordTally, Signal};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http_protobuf",
            Protocol::HttpJson => "http_json",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Records (log records, spans, metric data points) that arrived in a decodable request.
    pub received: u64,
    /// Records committed (or understood and deliberately kept out: see `ignored`).
    pub accepted: u64,
    /// Records refused: malformed, or the pipeline was full or failing.
    pub rejected: u64,
    /// Records that belong to no session: counted and dropped.
    pub unattributed: u64,
    /// Records of a session that carry nothing kept (internal spans, housekeeping events).
    pub ignored: u64,
    /// Events dropped as second reports of a fact already stored.
    pub duplicates: u64,
    /// Requests refused whole (malformed, too large, wrong type): their records could not be
    /// counted, so the requests are.
    pub refused_requests: u64,
}

/// The signal (`logs`, `traces`, `metrics`, `hooks`), the protocol, and which agent a row is
/// about; `None` when the request could not be decoded far enough to tell.
type Key = (&'static str, Protocol, Option<Agent>);

/// The `signal` hook payloads are counted under.
pub const HOOKS: &str = "hooks";

/// The lock is a `std::sync::Mutex`: it guards a few additions and is never held across `.await`.
#[derive(Default)]
pub struct Stats {
    rows: Mutex<BTreeMap<Key, Counters>>,
    hook_latency: Mutex<BTreeMap<&'static str, Histogram>>,
}

/// Upper bounds (seconds) of the hook latency histogram's buckets; `+Inf` is implied.
pub const LATENCY_BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Observations counted per bucket (not cumulative), with their count and sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    pub buckets: [u64; LATENCY_BOUNDS.len()],
    pub count: u64,
    pub sum_secs: f64,
}

impl Histogram {
    pub fn observe(&mut self, secs: f64) {
        if let Some(i) = LATENCY_BOUNDS.iter().position(|b| secs <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum_secs += secs;
    }
}

impl Stats {
    fn update(&self, f: impl FnOnce(&mut BTreeMap<Key, Counters>)) {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut rows);
    }

    pub fn received(
        &self,
        s: Signal,
        p: Protocol,
        tally: &BTreeMap<(Agent, Signal), RecordTally>,
        rejected: u64,
    ) {
        self.update(|rows| {
            for ((agent, _), t) in tally {
                let c = rows.entry((s.as_str(), p, Some(*agent))).or_default();
                c.received += t.records;
                c.unattributed += t.unattributed;
                c.ignored += t.ignored;
            }
            if rejected > 0 {
                let c = rows.entry((s.as_str(), p, None)).or_default();
                c.received += rejected;
                c.rejected += rejected;
            }
        });
    }

    pub fn accepted(
        &self,
        s: Signal,
        p: Protocol,
        tally: &BTreeMap<(Agent, Signal), RecordTally>,
        duplicates: u64,
    ) {
        self.update(|rows| {
            for ((agent, _), t) in tally {
                rows.entry((s.as_str(), p, Some(*agent)))
                    .or_default()
                    .accepted += t.records - t.unattributed;
            }
            if let Some((agent, _)) = tally.keys().next().filter(|_| duplicates > 0) {
                rows.entry((s.as_str(), p, Some(*agent)))
                    .or_default()
                    .duplicates += duplicates;
            }
        });
    }

    pub fn refused(&self, s: Signal, p: Protocol, tally: &BTreeMap<(Agent, Signal), RecordTally>) {
        self.update(|rows| {
            for ((agent, _), t) in tally {
                rows.entry((s.as_str(), p, Some(*agent)))
                    .or_default()
                    .rejected += t.records - t.unattributed;
            }
        });
    }

    /// A request refused whole before its agent was known (malformed, too large, ...).
    pub fn refused_request(&self, s: Signal, p: Protocol) {
        self.update(|rows| {
            rows.entry((s.as_str(), p, None))
                .or_default()
                .refused_requests += 1
        });
    }

    /// One hook payload of `agent`: what became of it.
    pub fn hook(&self, agent: Option<Agent>, outcome: HookOutcome) {
        self.update(|rows| {
            let c = rows.entry((HOOKS, Protocol::HttpJson, agent)).or_default();
            c.received += 1;
            match outcome {
                HookOutcome::Accepted { duplicates } => {
                    c.accepted += 1;
                    c.duplicates += duplicates;
                }
                HookOutcome::Ignored => {
                    c.accepted += 1;
                    c.ignored += 1;
                }
                HookOutcome::Refused => c.rejected += 1,
            }
        });
    }

    /// How long one hook request of `agent` (`unknown` before its agent was known) took.
    pub fn hook_latency(&self, agent: Option<Agent>, took: std::time::Duration) {
        let agent = agent.map_or("unknown", Agent::as_str);
        let mut h = self.hook_latency.lock().unwrap_or_else(|p| p.into_inner());
        h.entry(agent).or_default().observe(took.as_secs_f64());
    }

    pub fn hook_latencies(&self) -> BTreeMap<&'static str, Histogram> {
        self.hook_latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn snapshot(&self) -> Vec<Row> {
        let rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        rows.iter()
            .map(|((signal, protocol, agent), c)| Row {
                signal,
                protocol: *protocol,
                agent: agent.map(|a| a.as_str()).unwrap_or("unknown"),
                counters: *c,
            })
            .collect()
    }
}

/// What became of one hook payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookOutcome {
    Accepted {
        duplicates: u64,
    },
    /// Understood, and carries nothing kept (plugin bookkeeping with no session).
    Ignored,
    /// Malformed, or the pipeline was full or failing.
    Refused,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub signal: &'static str,
    pub protocol: Protocol,
    pub agent: &'static str,
    #[serde(flatten)]
    pub counters: Counters,
}
