//! `observatory export [events|sessions|turns]`: rows as JSON Lines or CSV on stdout (or a
//! file), filtered by time and agent. From the running server's `GET /api/export`, streamed
//! through; when no server runs, read from the store file directly with the same writer
//! ([`crate::web::export`]). Memory stays flat either way.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::StreamExt;

use super::{Target, TargetArgs};
use crate::web::export::{self, Filter, Format, What};

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// What to export
    #[arg(value_enum, default_value = "events")]
    pub what: What,
    /// Output format
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// From this time: RFC 3339, a date (2026-12-01) or an age (90m, 24h, 7d)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Until this time (not included), like --since
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only these agents (comma-separated: claude-code,codex,…)
    #[arg(long, value_name = "AGENTS")]
    pub agent: Option<String>,
    /// Write here instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `observatory export`.
pub fn export(args: &ExportArgs) -> Result<()> {
    let now = crate::clock::now_unix_nano();
    let time = |t: &Option<String>| t.as_deref().map(|t| export::parse_time(t, now)).transpose();
    let filter = Filter {
        since: time(&args.since).map_err(anyhow::Error::msg)?,
        until: time(&args.until).map_err(anyhow::Error::msg)?,
        agents: args
            .agent
            .as_deref()
            .map_or(Ok(Vec::new()), export::parse_agents)
            .map_err(anyhow::Error::msg)?,
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let out = &mut std::io::BufWriter::with_capacity(64 * 1024, &mut out);
    let target = Target::from_args(&args.target)?;
    if !super::runtime()?.block_on(from_server(&target, args, &filter, out))? {
        let store = crate::store::Store::open(&target.data_dir).context(
            "the server did not answer and its store is busy: is it running at another address (--app-addr)?",
        )?;
        export::write(&store, args.what, args.format, &filter, out)?;
    }
    out.flush()?;
    Ok(())
}

/// Streams the server's export into `out`; `false` when no server answers.
async fn from_server(
    target: &Target,
    args: &ExportArgs,
    filter: &Filter,
    out: &mut dyn Write,
) -> Result<bool> {
    let mut query = vec![
        ("what", format!("{:?}", args.what).to_lowercase()),
        ("format", format!("{:?}", args.format).to_lowercase()),
    ];
    let instant = |t: i64| {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    query.extend(filter.since.map(|t| ("since", instant(t))));
    query.extend(filter.until.map(|t| ("until", instant(t))));
    if !filter.agents.is_empty() {
        query.push(("agent", filter.agents.join(",")));
    }
    let resp = reqwest::Client::new()
        .get(target.url("/api/export"))
        .query(&query)
        .bearer_auth(target.token()?)
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Ok(false),
        Err(e) => return Err(e).context("calling the server's export"),
    };
    if !resp.status().is_success() {
        let status = resp.status();
        bail!(
            "the server refused the export ({status}): {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        out.write_all(&chunk.context("the export was cut short")?)?;
    }
    Ok(true)
}
