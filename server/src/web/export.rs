//! Export: sessions, turns or events as JSON Lines or CSV, filtered by a time range and agents,
//! written a page at a time so that memory stays flat however big the store is. One writer
//! serves both `GET /api/export` (streamed as it is written) and `observatory export` when no
//! server holds the store. The JSON of each row is the read API's; CSV flattens it into fixed
//! columns (nested values as JSON text).

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::api::{ApiError, AppState, event_json, session_json, turn_json};
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum What {
    Sessions,
    Turns,
    Events,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jsonl,
    Csv,
}

/// Which rows: a session's by when it was active, a turn's by when it started, an event's by its
/// time; `[since, until)` in Unix ns, and the agents (all when empty).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub agents: Vec<String>,
}

impl Filter {
    fn agent(&self, session_id: &str) -> bool {
        let agent = session_id.split(':').next().unwrap_or_default();
        self.agents.is_empty() || self.agents.iter().any(|a| a == agent)
    }

    fn at(&self, t: i64) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    /// A session overlaps the range when it was seen in it.
    fn spans(&self, first: i64, last: i64) -> bool {
        self.since.is_none_or(|s| last >= s) && self.until.is_none_or(|u| first < u)
    }
}

/// Comma-separated agent names or ids (`claude-code`, `codex`, …), as agent ids.
pub fn parse_agents(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(|a| {
            crate::agents::by_name(a.trim())
                .map(|s| s.agent.as_str().to_owned())
                .ok_or_else(|| format!("unknown agent {a:?}"))
        })
        .collect()
}

/// A time as the command line and the API take it: RFC 3339 (`2026-12-01T08:00:00Z`), a date
/// (`2026-12-01`, midnight UTC), or an age (`90m`, `24h`, `7d`: that long before `now`).
pub fn parse_time(s: &str, now: i64) -> Result<i64, String> {
    use time::format_description::well_known::Rfc3339;
    let bad = || {
        format!(
            "{s:?} is not a time: give RFC 3339 (2026-12-01T08:00:00Z), a date (2026-12-01) or an age (90m, 24h, 7d)"
        )
    };
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos()).map_err(|_| bad());
    }
    let date = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &date) {
        return i64::try_from(d.midnight().assume_utc().unix_timestamp_nanos()).map_err(|_| bad());
    }
    let unit = match s.chars().last() {
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => return Err(bad()),
    };
    let n: i64 = s[..s.len() - 1].parse().map_err(|_| bad())?;
    Ok(now - n.saturating_mul(unit).saturating_mul(1_000_000_000))
}

const SESSION_COLUMNS: &[&str] = &[
    "id",
    "agent",
    "native_id",
    "state",
    "end_reason",
    "cwd",
    "models",
    "first_seen",
    "last_seen",
    "runs",
    "counts.turns",
    "counts.tool_calls",
    "counts.tool_errors",
    "counts.api_requests",
    "counts.api_errors",
    "tokens.input",
    "tokens.output",
    "tokens.cache_read",
    "tokens.cache_write",
    "cost_usd",
    "cost_complete",
    "events",
];
const TURN_COLUMNS: &[&str] = &[
    "session_id",
    "id",
    "index",
    "status",
    "started",
    "ended",
    "counts.tool_calls",
    "counts.tool_errors",
    "counts.api_requests",
    "counts.api_errors",
    "tokens.input",
    "tokens.output",
    "tokens.cache_read",
    "tokens.cache_write",
    "cost_usd",
    "cost_complete",
    "last_message",
];
const EVENT_COLUMNS: &[&str] = &[
    "seq",
    "time",
    "session_id",
    "run",
    "kind",
    "source",
    "turn_id",
    "name",
    "tool_name",
    "tool_call_id",
    "success",
    "duration_ms",
    "model",
    "tokens.input",
    "tokens.output",
    "tokens.cache_read",
    "tokens.cache_write",
    "cost_usd",
    "status_code",
    "error",
    "state",
    "previous_state",
    "reason",
    "detail",
    "prompt_id",
    "attributes",
];

/// Rows read from the store per page.
const PAGE: usize = 1000;

/// Writes the rows `what` and `filter` select to `out` in `format`; returns how many.
pub fn write(
    store: &Store,
    what: What,
    format: Format,
    filter: &Filter,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let columns = match what {
        What::Sessions => SESSION_COLUMNS,
        What::Turns => TURN_COLUMNS,
        What::Events => EVENT_COLUMNS,
    };
    let mut rows = Rows {
        format,
        columns,
        out,
        count: 0,
    };
    if format == Format::Csv {
        rows.out
            .write_all(csv_line(columns.iter().map(|c| (*c).to_owned())).as_bytes())?;
    }
    match what {
        What::Events => {
            let mut after = 0;
            loop {
                let page = store.events_after(after, PAGE)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for e in page
                    .iter()
                    .filter(|e| filter.at(e.time_unix_nano) && filter.agent(&e.session_id))
                {
                    rows.put(&event_json(e))?;
                }
            }
        }
        What::Sessions | What::Turns => {
            let mut sessions = store.sessions()?;
            sessions.retain(|s| {
                filter.agent(&s.id) && filter.spans(s.first_seen_unix_nano, s.last_seen_unix_nano)
            });
            sessions.sort_by_key(|s| s.first_seen_unix_nano);
            for s in &sessions {
                if what == What::Sessions {
                    rows.put(&session_json(s))?;
                    continue;
                }
                for t in store
                    .turns(&s.id)?
                    .iter()
                    .filter(|t| filter.at(t.started_unix_nano))
                {
                    let mut v = turn_json(t);
                    v["session_id"] = Value::String(s.id.clone());
                    rows.put(&v)?;
                }
            }
        }
    }
    rows.out.flush()?;
    Ok(rows.count)
}

struct Rows<'a> {
    format: Format,
    columns: &'static [&'static str],
    out: &'a mut dyn Write,
    count: u64,
}

impl Rows<'_> {
    fn put(&mut self, v: &Value) -> std::io::Result<()> {
        self.count += 1;
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut *self.out, v)?;
                self.out.write_all(b"\n")
            }
            Format::Csv => {
                let cells = self.columns.iter().map(|c| cell(v, c));
                self.out.write_all(csv_line(cells).as_bytes())
            }
        }
    }
}

/// The value at a dotted path as CSV text: strings as they are, null as empty, objects and
/// arrays as JSON.
fn cell(v: &Value, path: &str) -> String {
    let v = path.split('.').fold(v, |v, k| &v[k]);
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One CSV record (RFC 4180): a field with a comma, quote or line break is quoted.
fn csv_line(cells: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = cells
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c
            }
        })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    what: Option<What>,
    format: Option<Format>,
    since: Option<String>,
    until: Option<String>,
    /// Comma-separated agent ids.
    agent: Option<String>,
}

/// A [`Write`] that hands the response body its bytes in chunks as they are written.
struct Chunks {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
}

const CHUNK: usize = 64 * 1024;

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

/// `GET /api/export?what=events|sessions|turns&format=jsonl|csv&since=&until=&agent=`.
pub async fn export(
    State(s): State<AppState>,
    q: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let now = crate::clock::now_unix_nano();
    let time = |t: Option<&str>| {
        t.map(|t| parse_time(t, now))
            .transpose()
            .map_err(ApiError::BadRequest)
    };
    let agents = q
        .agent
        .as_deref()
        .map_or(Ok(Vec::new()), parse_agents)
        .map_err(ApiError::BadRequest)?;
    let filter = Filter {
        since: time(q.since.as_deref())?,
        until: time(q.until.as_deref())?,
        agents,
    };
    let (what, format) = (
        q.what.unwrap_or(What::Events),
        q.format.unwrap_or(Format::Jsonl),
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Chunks {
            buf: Vec::with_capacity(CHUNK),
            tx: tx.clone(),
        };
        if let Err(e) = write(&store, what, format, &filter, &mut out) {
            tracing::warn!(error = %e, "export stopped");
            // The status is sent: cut the body short, so the client sees it is incomplete.
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let content_type = match format {
        Format::Jsonl => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_dates_instants_or_ages() {
        let now = 1_800_000_000 * 1_000_000_000;
        assert_eq!(parse_time("2h", now), Ok(now - 7200 * 1_000_000_000));
        assert_eq!(
            parse_time("2026-12-01", now),
            Ok(1_796_083_200 * 1_000_000_000)
        );
        assert_eq!(
            parse_time("2026-12-01T01:00:00+01:00", now),
            Ok(1_796_083_200 * 1_000_000_000)
        );
        assert!(
            parse_time("yesterday", now)
                .expect_err("not a time")
                .contains("RFC 3339")
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_flattens_nested_values() {
        let v = serde_json::json!({"a": "x,y", "b": {"c": 3}, "d": null, "e": "say \"hi\""});
        let line = csv_line(["a", "b.c", "d", "e", "b"].iter().map(|c| cell(&v, c)));
        assert_eq!(line, "\"x,y\",3,,\"say \"\"hi\"\"\",\"{\"\"c\"\":3}\"\r\n");
    }
}
