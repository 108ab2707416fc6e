//! The commands that act on a running server from this machine, with the control token from
//! the data dir: `observatory token [--rotate]` (print or replace the token), `observatory
//! pair` (a one-time pairing link and its QR code in the terminal), and `observatory tunnel`
//! ([`tunnel`]: the app port to the phone through cloudflared or Tailscale Serve), and `observatory
//! run` ([`run`]: an agent started in this terminal, under the server's control), and
//! `observatory status` ([`status`]: the sessions as a table in the terminal), and `observatory
//! export` ([`export`]: sessions, turns or events as JSON Lines or CSV), and `observatory
//! service` ([`service`]: started at login by systemd or launchd).

pub mod export;
pub mod run;
pub mod service;
pub mod status;
pub mod terminal;
pub mod tunnel;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

use crate::access::{audit, pairing, secret};
use crate::config::{Config, Overrides};

/// Which server: the config it runs with, or its data dir and app address.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// Config file [default: $XDG_CONFIG_HOME/agent-observatory/config.toml, if it exists]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the server keeps its database and secrets [default: $XDG_DATA_HOME/agent-observatory]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The server's app address [default: 127.0.0.1:4319]
    #[arg(long, value_name = "HOST:PORT")]
    pub app_addr: Option<SocketAddr>,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Replace the token: the old one stops working at once (in the running server too).
    #[arg(long)]
    pub rotate: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Where the server of this config keeps its secrets and answers.
#[derive(Clone)]
pub struct Target {
    pub data_dir: PathBuf,
    /// The app port, on loopback.
    pub app: SocketAddr,
    /// The OTLP/HTTP and hooks port, on loopback.
    pub ingest: SocketAddr,
}

impl Target {
    pub fn from_args(args: &TargetArgs) -> Result<Target> {
        let env = |k: &str| std::env::var(k).ok();
        let flags = Overrides {
            data_dir: args.data_dir.clone(),
            app_addr: args.app_addr,
            ..Overrides::default()
        };
        let config = Config::load(args.config.as_deref(), env, &flags)?;
        Ok(Target {
            data_dir: config.data_dir(env)?,
            app: crate::app::loopback(config.listen.app),
            ingest: crate::app::loopback(config.listen.http),
        })
    }

    pub fn token(&self) -> Result<String> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        secret::load_or_create_token(&self.data_dir)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.app)
    }

    /// A call to the running server with the control token; `Ok(None)` when nothing listens.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Option<Value>> {
        let mut req = reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(self.token()?)
            .timeout(std::time::Duration::from_secs(10));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("calling {}", self.url(path))),
        };
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let why = v["error"].as_str().unwrap_or(&text);
            bail!("{} answered {status}: {why}", self.url(path));
        }
        Ok(Some(v))
    }

    /// A launcher's long poll: `Ok(Some)` an order, `Ok(None)` none yet, `Err` when the server is
    /// away or forgot the launch (register again).
    pub async fn poll(&self, path: &str) -> Result<Option<crate::control::launches::Command>> {
        let resp = reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(self.token()?)
            .timeout(std::time::Duration::from_secs(40))
            .send()
            .await?;
        match resp.status().as_u16() {
            200 => Ok(Some(resp.json().await?)),
            204 => Ok(None),
            s => bail!("{} answered {s}", self.url(path)),
        }
    }

    /// [`Target::call`], failing with a clear message when the server is not running.
    pub async fn call_running(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        match self.call(method, path, body).await? {
            Some(v) => Ok(v),
            None => bail!(
                "the observatory is not running at {} (start it with `observatory`, or pass the --app-addr / --config it runs with)",
                self.app
            ),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// `observatory token [--rotate]`.
pub fn token(args: &TokenArgs) -> Result<()> {
    let target = Target::from_args(&args.target)?;
    if !args.rotate {
        println!("{}", target.token()?);
        return Ok(());
    }
    let rotated = runtime()?.block_on(target.call(
        reqwest::Method::POST,
        "/api/access/token/rotate",
        None,
    ))?;
    let token = match rotated {
        Some(v) => v["token"].as_str().unwrap_or_default().to_owned(),
        None => rotate_offline(&target.data_dir)?,
    };
    println!("{token}");
    Ok(())
}

/// The server is not running: replace the file, and say so in the audit log.
fn rotate_offline(data_dir: &Path) -> Result<String> {
    let store = crate::store::Store::open(data_dir).context(
        "the server did not answer, and its store is busy: is it running at another address?",
    )?;
    let token = secret::write_new_token(data_dir)?;
    audit::record_offline(
        &store,
        "token_rotated",
        "control token replaced from the command line",
    )?;
    Ok(token)
}

/// Prints a pairing link with its QR code, its code and when it expires.
pub fn print_pairing(code: &Value) {
    let url = code["url"].as_str().unwrap_or_default();
    let expires = code["expires_unix_nano"].as_i64().unwrap_or(0);
    let mins = ((expires - crate::clock::now_unix_nano()).max(0) + 59_999_999_999) / 60_000_000_000;
    println!("{}", pairing::qr_terminal(url));
    println!("Scan with the phone's camera, or open: {url}");
    println!(
        "Code: {}  (works once, for {} min)",
        code["code"].as_str().unwrap_or_default(),
        mins.max(1)
    );
    if url.starts_with("http://127.") || url.starts_with("http://localhost") {
        println!(
            "This link works on this computer only. For a phone, run `observatory tunnel` (or set [access] public_url to an address the phone reaches)."
        );
    }
}

/// `observatory pair`.
pub fn pair(args: &TargetArgs) -> Result<()> {
    let target = Target::from_args(args)?;
    let code = runtime()?.block_on(target.call_running(
        reqwest::Method::POST,
        "/api/pairing-codes",
        None,
    ))?;
    print_pairing(&code);
    Ok(())
}

#[derive(Debug, Clone, Args)]
pub struct CtlArgs {
    /// What to do to the agent
    #[arg(value_enum)]
    pub action: CtlAction,
    /// The session: its id (`claude_code:4c7e…`), or the start of the agent's own session id
    pub session: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CtlAction {
    Interrupt,
    Kill,
    Restart,
}

/// The one session `wanted` names: a full id, or a unique prefix of an agent's own id.
async fn find_session(target: &Target, wanted: &str) -> Result<String> {
    if wanted.contains(':') {
        return Ok(wanted.to_owned());
    }
    let list = target
        .call_running(reqwest::Method::GET, "/api/sessions?limit=500", None)
        .await?;
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            s["native_id"]
                .as_str()
                .is_some_and(|n| n.starts_with(wanted))
        })
        .filter_map(|s| s["id"].as_str())
        .collect();
    match ids.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => bail!("no session's id starts with {wanted:?}"),
        many => bail!(
            "{wanted:?} names {} sessions: {}",
            many.len(),
            many.join(", ")
        ),
    }
}

/// `observatory ctl <interrupt|kill|restart> <session>`.
pub fn ctl(args: &CtlArgs) -> Result<()> {
    let target = Target::from_args(&args.target)?;
    let action = match args.action {
        CtlAction::Interrupt => "interrupt",
        CtlAction::Kill => "kill",
        CtlAction::Restart => "restart",
    };
    runtime()?.block_on(async {
        let id = find_session(&target, &args.session).await?;
        let path = format!("/api/sessions/{id}/{action}");
        let done = target
            .call_running(reqwest::Method::POST, &path, None)
            .await?;
        let text = done["done"].as_str().unwrap_or_default();
        if done["outcome"] == "ok" {
            println!("{action} {id}: {text}");
            Ok(())
        } else {
            bail!("{action} {id} failed: {text}")
        }
    })
}

/// `observatory compact`: a retention pass and compaction by the running server, or, with no
/// server, compaction of the store file here.
pub fn compact(args: &TargetArgs) -> Result<()> {
    let target = Target::from_args(args)?;
    let mib = |b: &Value| format!("{:.1} MiB", b.as_f64().unwrap_or(0.0) / 1_048_576.0);
    let ran =
        runtime()?.block_on(target.call(reqwest::Method::POST, "/api/store/compact", None))?;
    if let Some(v) = ran {
        let p = &v["pass"];
        println!(
            "removed {} sessions ({} events); the store went from {} to {}",
            p["sessions_removed"],
            p["events_removed"],
            mib(&p["before"]["file_bytes"]),
            mib(&p["after"]["file_bytes"])
        );
        return Ok(());
    }
    let store = crate::store::Store::open(&target.data_dir).context(
        "the server did not answer, and its store is busy: is it running at another address (--app-addr)?",
    )?;
    let (before, after) = store.compact()?;
    let (before, after) = (
        serde_json::json!(before.file_bytes),
        serde_json::json!(after.file_bytes),
    );
    println!(
        "the store went from {} to {} (no server was running: nothing was deleted)",
        mib(&before),
        mib(&after)
    );
    Ok(())
}
