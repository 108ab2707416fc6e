//! `GET /metrics`: the observatory in the Prometheus text format (0.0.4), for a team's existing
//! Prometheus and Grafana. Gauges read at scrape time (sessions by agent and state, the store's
//! size and events); counters since the server started (tokens, cost, model calls, API errors,
//! tool calls, ingest records, alert deliveries, retention removals) and the hook request
//! latency histogram. No label carries a session id; models and tools are capped per agent
//! (`live::totals`), so the series stay bounded. Guarded like `/api/` (local reads by default).

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::api::{ApiError, AppState, read};
use crate::ingest::stats::LATENCY_BOUNDS;

/// One metric family being written: its `# HELP` and `# TYPE` lines, then its samples.
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", labels.join(","))
        };
        let _ = writeln!(self.0, "{name}{labels} {value}");
    }
}

/// A label value as the text format wants it: backslash, quote and line feed escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let (sessions, size, events) = read(&s.store, |st| {
        Ok((st.sessions()?, st.size_bytes(), st.event_count()?))
    })
    .await?;
    let mut by_state: BTreeMap<(String, String), u64> = BTreeMap::new();
    for x in &sessions {
        *by_state
            .entry((x.agent.clone(), x.state.clone()))
            .or_default() += 1;
    }
    let mut t = Text(String::with_capacity(16 * 1024));
    t.family("observatory_build_info", "gauge", "The running version.");
    t.sample(
        "observatory_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    t.family(
        "observatory_sessions",
        "gauge",
        "Stored sessions by agent and state.",
    );
    for ((agent, state), n) in &by_state {
        t.sample(
            "observatory_sessions",
            &[("agent", agent), ("state", state)],
            *n as f64,
        );
    }
    t.family(
        "observatory_store_size_bytes",
        "gauge",
        "Size of the store file.",
    );
    t.sample("observatory_store_size_bytes", &[], size as f64);
    t.family(
        "observatory_store_events",
        "gauge",
        "Events kept in the store.",
    );
    t.sample("observatory_store_events", &[], events as f64);
    model_calls(&mut t, &s.hub.totals());
    ingest(&mut t, &s.stats);
    t.family(
        "observatory_alert_deliveries_total",
        "counter",
        "Alert deliveries settled, by alert kind, channel and outcome.",
    );
    for ((kind, channel, outcome), n) in s.alerts.delivered() {
        let labels = [
            ("kind", kind),
            ("channel", channel.as_str()),
            ("outcome", outcome.as_str()),
        ];
        t.sample("observatory_alert_deliveries_total", &labels, n as f64);
    }
    let retention = s.retention.status().get();
    for (name, help, n) in [
        (
            "observatory_retention_passes_total",
            "Retention passes run.",
            retention.passes,
        ),
        (
            "observatory_retention_removed_sessions_total",
            "Sessions retention deleted.",
            retention.sessions_removed,
        ),
        (
            "observatory_retention_removed_events_total",
            "Events retention deleted.",
            retention.events_removed,
        ),
    ] {
        t.family(name, "counter", help);
        t.sample(name, &[], n as f64);
    }
    if let Some(f) = &s.forward {
        let r = f.report();
        for (name, kind, help, n) in [
            (
                "observatory_forward_sent_total",
                "counter",
                "Requests the upstream took.",
                r.sent,
            ),
            (
                "observatory_forward_refused_total",
                "counter",
                "Requests the upstream refused for good (dropped).",
                r.refused,
            ),
            (
                "observatory_forward_dropped_total",
                "counter",
                "Requests dropped: the queue's cap, or the stage too far behind.",
                r.queued.dropped_items + r.handover_dropped,
            ),
            (
                "observatory_forward_queued",
                "gauge",
                "Requests waiting to go upstream.",
                r.queued.items,
            ),
            (
                "observatory_forward_queued_bytes",
                "gauge",
                "Bytes waiting to go upstream.",
                r.queued.bytes,
            ),
        ] {
            t.family(name, kind, help);
            t.sample(name, &[], n as f64);
        }
    }
    let body = t.0;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// Tokens, cost and model calls by agent and model; API errors by status; tools.
fn model_calls(t: &mut Text, totals: &crate::live::Totals) {
    t.family(
        "observatory_tokens_total",
        "counter",
        "Tokens of model calls, by agent, model and type (input: uncached prompt).",
    );
    for ((agent, model), m) in &totals.models {
        for (kind, n) in [
            ("input", m.input),
            ("output", m.output),
            ("cache_read", m.cache_read),
            ("cache_write", m.cache_write),
        ] {
            let labels = [
                ("agent", agent.as_str()),
                ("model", model.as_str()),
                ("type", kind),
            ];
            t.sample("observatory_tokens_total", &labels, n as f64);
        }
    }
    t.family(
        "observatory_cost_usd_total",
        "counter",
        "Known cost of model calls in USD, by agent and model.",
    );
    for ((agent, model), m) in &totals.models {
        t.sample(
            "observatory_cost_usd_total",
            &[("agent", agent), ("model", model)],
            m.cost_usd,
        );
    }
    t.family(
        "observatory_api_requests_total",
        "counter",
        "Model calls, by agent and model.",
    );
    for ((agent, model), m) in &totals.models {
        t.sample(
            "observatory_api_requests_total",
            &[("agent", agent), ("model", model)],
            m.requests as f64,
        );
    }
    t.family(
        "observatory_api_errors_total",
        "counter",
        "Failed model calls, by agent and HTTP status (none: no status).",
    );
    for ((agent, status), n) in &totals.api_errors {
        t.sample(
            "observatory_api_errors_total",
            &[("agent", agent), ("status", status)],
            *n as f64,
        );
    }
    t.family(
        "observatory_tool_calls_total",
        "counter",
        "Finished tool calls, by agent and tool (other: past the per-agent cap).",
    );
    for ((agent, tool), c) in &totals.tools {
        t.sample(
            "observatory_tool_calls_total",
            &[("agent", agent), ("tool", tool)],
            c.calls as f64,
        );
    }
    t.family(
        "observatory_tool_errors_total",
        "counter",
        "Tool calls that failed, by agent and tool.",
    );
    for ((agent, tool), c) in &totals.tools {
        t.sample(
            "observatory_tool_errors_total",
            &[("agent", agent), ("tool", tool)],
            c.failed as f64,
        );
    }
}

/// Ingest records by signal, protocol, agent and outcome; the hook latency histogram.
fn ingest(t: &mut Text, stats: &crate::ingest::Stats) {
    t.family(
        "observatory_ingest_records_total",
        "counter",
        "Records received, by signal, protocol, agent and outcome.",
    );
    let rows = stats.snapshot();
    for r in &rows {
        let c = r.counters;
        for (outcome, n) in [
            ("received", c.received),
            ("accepted", c.accepted),
            ("rejected", c.rejected),
            ("unattributed", c.unattributed),
            ("ignored", c.ignored),
            ("duplicate", c.duplicates),
        ] {
            let labels = [
                ("signal", r.signal),
                ("protocol", r.protocol.as_str()),
                ("agent", r.agent),
                ("outcome", outcome),
            ];
            t.sample("observatory_ingest_records_total", &labels, n as f64);
        }
    }
    t.family(
        "observatory_ingest_refused_requests_total",
        "counter",
        "Requests refused whole (malformed, too large), by signal and protocol.",
    );
    for r in rows.iter().filter(|r| r.counters.refused_requests > 0) {
        let labels = [
            ("signal", r.signal),
            ("protocol", r.protocol.as_str()),
            ("agent", r.agent),
        ];
        t.sample(
            "observatory_ingest_refused_requests_total",
            &labels,
            r.counters.refused_requests as f64,
        );
    }
    let name = "observatory_hook_request_duration_seconds";
    t.family(
        name,
        "histogram",
        "Hook requests from arrival to answer (their event committed), by agent.",
    );
    for (agent, h) in stats.hook_latencies() {
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BOUNDS.iter().zip(h.buckets) {
            cumulative += n;
            let le = bound.to_string();
            t.sample(
                &format!("{name}_bucket"),
                &[("agent", agent), ("le", &le)],
                cumulative as f64,
            );
        }
        t.sample(
            &format!("{name}_bucket"),
            &[("agent", agent), ("le", "+Inf")],
            h.count as f64,
        );
        t.sample(&format!("{name}_sum"), &[("agent", agent)], h.sum_secs);
        t.sample(
            &format!("{name}_count"),
            &[("agent", agent)],
            h.count as f64,
        );
    }
}
