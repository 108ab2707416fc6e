//! `observatory tunnel`: puts the app port — never the ingest ports — behind HTTPS for the
//! phone. It runs `cloudflared tunnel --url http://127.0.0.1:<app>` (a quick tunnel on
//! `*.trycloudflare.com`) or `tailscale serve http://127.0.0.1:<app>` (the tailnet's `*.ts.net`
//! name), whichever is installed or `--via` says, reads the public URL from the tool's output,
//! leases its host on the running server (renewed every 20 s, so a tunnel that dies lapses
//! within a minute), prints the URL with a QR code that pairs the phone in one scan, and on
//! Ctrl-C, a SIGTERM or the tool's exit ends the lease and stops the tool.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::{Target, TargetArgs};

const RENEW_EVERY: Duration = Duration::from_secs(20);
/// How long the tool may take to print its URL.
const URL_WITHIN: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Via {
    Cloudflared,
    Tailscale,
}

impl Via {
    fn program(self) -> &'static str {
        match self {
            Via::Cloudflared => "cloudflared",
            Via::Tailscale => "tailscale",
        }
    }

    fn args(self, app: std::net::SocketAddr) -> Vec<String> {
        let local = format!("http://{app}");
        match self {
            Via::Cloudflared => vec![
                "tunnel".into(),
                "--no-autoupdate".into(),
                "--url".into(),
                local,
            ],
            Via::Tailscale => vec!["serve".into(), local],
        }
    }

    /// The public URL in a line of the tool's output.
    pub fn url_in(self, line: &str) -> Option<String> {
        let suffix = match self {
            Via::Cloudflared => ".trycloudflare.com",
            Via::Tailscale => ".ts.net",
        };
        line.split(|c: char| c.is_whitespace() || c == '|' || c == '"')
            .filter_map(|w| w.strip_prefix("https://"))
            .map(|rest| rest.split('/').next().unwrap_or(rest))
            .find(|host| {
                let name = host.split(':').next().unwrap_or(host);
                name.ends_with(suffix) && name.len() > suffix.len()
            })
            .map(|host| format!("https://{host}"))
    }
}

#[derive(Debug, Clone, Args)]
pub struct TunnelArgs {
    /// The tunnel to run [default: cloudflared if installed, else tailscale]
    #[arg(long, value_enum)]
    pub via: Option<Via>,
    #[command(flatten)]
    pub target: TargetArgs,
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn choose(via: Option<Via>) -> Result<Via> {
    if let Some(v) = via {
        if !installed(v.program()) {
            bail!("{} is not installed (not on PATH)", v.program());
        }
        return Ok(v);
    }
    [Via::Cloudflared, Via::Tailscale]
        .into_iter()
        .find(|v| installed(v.program()))
        .context("neither cloudflared nor tailscale is installed: install one (https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/ or https://tailscale.com/download), or put the app port behind your own HTTPS proxy and set [access] public_url")
}

pub fn run(args: &TunnelArgs) -> Result<()> {
    let target = Target::from_args(&args.target)?;
    let via = choose(args.via)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(&target, via))
}

async fn serve(target: &Target, via: Via) -> Result<()> {
    // Fail before starting anything when the server is not there.
    target
        .call_running(reqwest::Method::GET, "/api/access", None)
        .await?;
    let stop_signal = signal()?;
    let mut child = Command::new(via.program())
        .args(via.args(target.app))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", via.program()))?;
    let url = match tokio::time::timeout(URL_WITHIN, read_url(&mut child, via)).await {
        Ok(Ok(url)) => url,
        Ok(Err(e)) => return stop(child, Err(e)).await,
        Err(_) => {
            let e = anyhow::anyhow!("{} printed no URL within {URL_WITHIN:?}", via.program());
            return stop(child, Err(e)).await;
        }
    };
    let outcome = lease_and_wait(target, &mut child, &url, stop_signal).await;
    let host = url.trim_start_matches("https://");
    let path = format!("/api/access/tunnels/{host}");
    if let Err(e) = target.call(reqwest::Method::DELETE, &path, None).await {
        eprintln!("ending the tunnel's lease: {e:#}");
    }
    stop(child, outcome).await
}

/// Reads the tool's output until its public URL; the rest of its output is drained so that the
/// tool never blocks on a full pipe.
async fn read_url(child: &mut Child, via: Via) -> Result<String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let out = child.stdout.take().context("the tool's stdout")?;
    let err = child.stderr.take().context("the tool's stderr")?;
    let streams: [Box<dyn AsyncRead + Send + Unpin>; 2] = [Box::new(out), Box::new(err)];
    for stream in streams {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    while let Some(line) = rx.recv().await {
        if let Some(url) = via.url_in(&line) {
            tokio::spawn(async move { while rx.recv().await.is_some() {} });
            return Ok(url);
        }
    }
    bail!("{} ended without printing its URL", via.program())
}

/// Leases the host, prints the pairing QR, renews until a signal or the tool's exit.
async fn lease_and_wait(
    target: &Target,
    child: &mut Child,
    url: &str,
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let body = json!({ "url": url });
    let put = reqwest::Method::PUT;
    target
        .call_running(put.clone(), "/api/access/tunnels", Some(body.clone()))
        .await?;
    let code = target
        .call_running(reqwest::Method::POST, "/api/pairing-codes", None)
        .await?;
    println!(
        "The dashboard is at {url} (the app port only: the ingest ports stay on this machine)."
    );
    super::print_pairing(&code);
    println!("Ctrl-C stops the tunnel.");
    let mut renew = tokio::time::interval(RENEW_EVERY);
    renew.tick().await;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(()),
            status = child.wait() => bail!("the tunnel exited: {}", status?),
            _ = renew.tick() => {
                let renewed = target.call_running(put.clone(), "/api/access/tunnels", Some(body.clone())).await;
                if let Err(e) = renewed {
                    eprintln!("renewing the tunnel's lease: {e:#} (trying again in {RENEW_EVERY:?})");
                }
            }
        }
    }
}

/// Stops the tool (SIGTERM, then SIGKILL after 5 s) and returns `outcome`.
async fn stop(mut child: Child, outcome: Result<()>) -> Result<()> {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        use nix::sys::signal::{Signal, kill};
        let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
    outcome
}

fn signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_url_is_read_from_each_tools_output() {
        let cf = Via::Cloudflared;
        assert_eq!(
            cf.url_in("2026-12-03T10:00:00Z INF |  https://rapid-owl-tune.trycloudflare.com  |"),
            Some("https://rapid-owl-tune.trycloudflare.com".into())
        );
        assert_eq!(
            cf.url_in(
                "INF Thank you for trying Cloudflare Tunnel. https://developers.cloudflare.com/x"
            ),
            None
        );
        assert_eq!(cf.url_in("https://trycloudflare.com"), None);
        let ts = Via::Tailscale;
        assert_eq!(
            ts.url_in("https://laptop.tail1234.ts.net/"),
            Some("https://laptop.tail1234.ts.net".into())
        );
        assert_eq!(ts.url_in("|-- proxy http://127.0.0.1:4319"), None);
    }
}
