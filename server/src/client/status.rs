//! `observatory status`: the sessions as a terminal table — agent, project, state and for how
//! long, current tool, turns, cost — the ones that need the person first. `--json` prints the
//! same rows for scripts; `--watch` keeps the table current from the live feed (`session`
//! frames update a row, `tick` frames refresh the durations) until Ctrl-C. A server that is not
//! running is said in one line, with how to start it.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{Target, TargetArgs};
use crate::session::State;

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Keep the table current from the live feed until Ctrl-C
    #[arg(long, conflicts_with = "json")]
    pub watch: bool,
    /// Print the sessions as JSON (one array, in the table's order) for scripts
    #[arg(long)]
    pub json: bool,
    /// Every stored session (up to 500), not only the running ones and those that ended in the
    /// last hour
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// How long a finished session stays in the table without `--all`.
const RECENT_NANOS: i64 = 3600 * 1_000_000_000;

/// `observatory status`.
pub fn status(args: &StatusArgs) -> Result<()> {
    let target = Target::from_args(&args.target)?;
    super::runtime()?.block_on(async {
        let sessions = fetch(&target).await?;
        let now = crate::clock::now_unix_nano();
        if args.json {
            let rows: Vec<Value> = shown(&sessions, now, args.all).cloned().collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        if !args.watch {
            print!("{}", table(&sessions, now, args.all));
            return Ok(());
        }
        watch(&target, sessions, args.all).await
    })
}

async fn fetch(target: &Target) -> Result<Vec<Value>> {
    let list = target
        .call_running(reqwest::Method::GET, "/api/sessions?limit=500", None)
        .await?;
    Ok(list["sessions"].as_array().cloned().unwrap_or_default())
}

/// The rank of a state in the table: the person's attention first, then trouble, then work.
fn rank(state: &str) -> u8 {
    match State::parse(state) {
        Some(State::AwaitingPermission | State::AwaitingInput) => 0,
        Some(State::Errored | State::Stalled) => 1,
        Some(State::Active) => 2,
        Some(State::Idle) => 3,
        Some(State::Crashed | State::Killed | State::Ended) | None => 4,
    }
}

/// The rows shown, in order: by rank, then newest activity first.
fn shown(sessions: &[Value], now: i64, all: bool) -> impl Iterator<Item = &Value> {
    let mut rows: Vec<&Value> = sessions
        .iter()
        .filter(|s| {
            let state = s["state"].as_str().unwrap_or_default();
            let finished = State::parse(state).is_none_or(State::is_final);
            all || !finished || now - unix_nano(&s["last_seen"]) < RECENT_NANOS
        })
        .collect();
    rows.sort_by(|a, b| {
        let key = |s: &Value| {
            (
                rank(s["state"].as_str().unwrap_or_default()),
                -unix_nano(&s["last_seen"]),
            )
        };
        key(a).cmp(&key(b))
    });
    rows.into_iter()
}

fn unix_nano(v: &Value) -> i64 {
    v.as_str()
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map_or(0, |t| {
            i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
        })
}

/// "42s", "5m", "3h12m", "2d4h".
pub(crate) fn duration(nanos: i64) -> String {
    let s = nanos.max(0) / 1_000_000_000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// "$0.42", "≥$0.10" when some calls are unpriced, "?" when nothing is known.
fn cost(s: &Value) -> String {
    match (s["cost_usd"].as_f64(), s["cost_complete"].as_bool()) {
        (Some(usd), Some(true)) => format!("${usd:.2}"),
        (Some(usd), _) => format!("≥${usd:.2}"),
        (None, _) => "?".into(),
    }
}

fn project(s: &Value) -> String {
    let cwd = s["cwd"].as_str().unwrap_or("-");
    cwd.rsplit('/')
        .find(|p| !p.is_empty())
        .unwrap_or(cwd)
        .to_owned()
}

fn agent_name(id: &str) -> &str {
    crate::agents::AGENTS
        .iter()
        .find(|a| a.agent.as_str() == id)
        .map_or(id, |a| a.display_name)
}

const HEADER: [&str; 8] = [
    "AGENT", "PROJECT", "STATE", "FOR", "TOOL", "TURNS", "COST", "SESSION",
];

/// The table as text, one line per shown session (or a line saying there is none).
pub fn table(sessions: &[Value], now: i64, all: bool) -> String {
    let rows: Vec<[String; 8]> = shown(sessions, now, all)
        .map(|s| {
            let state = s["state"].as_str().unwrap_or("?");
            let native = s["native_id"].as_str().unwrap_or_default();
            [
                agent_name(s["agent"].as_str().unwrap_or("?")).to_owned(),
                project(s),
                state.replace('_', " "),
                duration(now - unix_nano(&s["state_since"])),
                s["current_tool"].as_str().unwrap_or("-").to_owned(),
                s["counts"]["turns"].as_u64().unwrap_or(0).to_string(),
                cost(s),
                native.chars().take(12).collect(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return if all {
            "No sessions yet.\n".into()
        } else {
            "No running sessions (and none ended in the last hour; --all shows every one).\n".into()
        };
    }
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&HEADER.map(String::from));
    for row in &rows {
        out += &line(row);
    }
    out
}

/// Redraws the table on every `session` and `tick` frame of the live feed.
async fn watch(target: &Target, sessions: Vec<Value>, all: bool) -> Result<()> {
    let mut by_id: HashMap<String, Value> = sessions
        .into_iter()
        .filter_map(|s| Some((s["id"].as_str()?.to_owned(), s)))
        .collect();
    let health = target
        .call_running(reqwest::Method::GET, "/api/health", None)
        .await?;
    let since = health["last_seq"].as_u64().unwrap_or(0);
    let url = format!("ws://{}/api/stream?since={since}", target.app);
    let mut request = url.as_str().into_client_request()?;
    let auth = format!("Bearer {}", target.token()?);
    request.headers_mut().insert("authorization", auth.parse()?);
    let (mut feed, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| format!("opening the live feed at {url}"))?;
    let mut out = std::io::stdout();
    loop {
        let sessions: Vec<Value> = by_id.values().cloned().collect();
        // Clear the screen, home the cursor, draw.
        write!(
            out,
            "\x1b[2J\x1b[H{}",
            table(&sessions, crate::clock::now_unix_nano(), all)
        )?;
        out.flush()?;
        loop {
            let frame = match feed.next().await {
                Some(Ok(Message::Text(t))) => serde_json::from_str::<Value>(&t).unwrap_or_default(),
                Some(Ok(Message::Close(_))) | None => {
                    bail!("the live feed closed (server stopped?)")
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).context("reading the live feed"),
            };
            match frame["type"].as_str() {
                Some("session") => {
                    let s = &frame["session"];
                    if let Some(id) = s["id"].as_str() {
                        by_id.insert(id.to_owned(), s.clone());
                    }
                    break;
                }
                Some("resync") => {
                    by_id = fetch(target)
                        .await?
                        .into_iter()
                        .filter_map(|s| Some((s["id"].as_str()?.to_owned(), s)))
                        .collect();
                    break;
                }
                Some("tick") => break,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000 * 1_000_000_000;

    fn at(ago_secs: i64) -> Value {
        let t = i128::from(NOW - ago_secs * 1_000_000_000);
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(t).expect("time");
        json!(
            t.format(&time::format_description::well_known::Rfc3339)
                .expect("format")
        )
    }

    fn session(id: &str, state: &str, ago: i64) -> Value {
        json!({
            "id": format!("claude_code:{id}"), "agent": "claude_code", "native_id": id,
            "state": state, "state_since": at(ago), "last_seen": at(ago),
            "cwd": "/home/me/src/shop", "current_tool": null,
            "counts": {"turns": 2}, "cost_usd": 0.5, "cost_complete": true,
        })
    }

    #[test]
    fn the_table_puts_who_needs_the_person_first_and_hides_old_finished_runs() {
        let sessions = vec![
            session("active-1", "active", 30),
            session("ended-old", "ended", 7200),
            session("asks", "awaiting_permission", 90),
            session("ended-new", "ended", 60),
        ];
        let text = table(&sessions, NOW, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("AGENT"), "{text}");
        assert!(
            lines[1].contains("awaiting permission") && lines[1].contains("1m"),
            "{text}"
        );
        assert!(
            lines[2].contains("active") && lines[2].contains("30s"),
            "{text}"
        );
        assert!(lines[3].contains("ended"), "{text}");
        assert_eq!(
            lines.len(),
            4,
            "the run that ended 2 h ago is hidden: {text}"
        );
        assert!(lines[1].contains("Claude Code") && lines[1].contains("shop"));
        assert!(table(&sessions, NOW, true).contains("ended-old"));
        assert!(table(&[], NOW, false).contains("--all"));
    }

    #[test]
    fn costs_say_what_is_known() {
        let mut s = session("x", "idle", 5);
        assert_eq!(cost(&s), "$0.50");
        s["cost_complete"] = json!(false);
        assert_eq!(cost(&s), "≥$0.50");
        s["cost_usd"] = Value::Null;
        assert_eq!(cost(&s), "?");
        assert_eq!(duration(59 * 1_000_000_000), "59s");
        assert_eq!(
            duration(3 * 3600 * 1_000_000_000 + 120 * 1_000_000_000),
            "3h02m"
        );
        assert_eq!(duration(2 * 86_400 * 1_000_000_000), "2d0h");
    }
}
