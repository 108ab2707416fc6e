//! `observatory tunnel` against stand-ins for cloudflared and Tailscale (`tests/standins/`:
//! they print their public URL as the real tools do, stay up, and note the signal that ends
//! them). The real binary runs the tunnel for a real server: the tunnel's host is allowed on the
//! app port while it runs (remote requests through it still need a credential), the pairing
//! link printed uses it, and a SIGTERM ends the lease and stops the tool.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::Server;

fn standins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins")
}

/// Starts `observatory tunnel --via <via>` for `server` with the stand-ins first on PATH, and
/// reads its output until it says how to stop it. Returns the process and what it printed.
fn tunnel(server: &Server, via: &str, notes: &Path) -> (Child, String) {
    let path = format!(
        "{}:{}",
        standins().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let app = server.app_url("").trim_start_matches("http://").to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_observatory"))
        .args(["tunnel", "--via", via, "--app-addr", &app, "--data-dir"])
        .arg(server.dir.path())
        .env("PATH", path)
        .env("STANDIN_DIR", notes)
        .env_remove("OBSERVATORY_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("observatory tunnel");
    let mut printed = String::new();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        let line = line.expect("line");
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("Ctrl-C stops the tunnel") {
            break;
        }
    }
    assert!(printed.contains("Ctrl-C"), "tunnel output: {printed}");
    // Keep draining so the process never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, printed)
}

/// The status the app port gives a request sent through the tunnel (its Host, a proxy header).
async fn through(server: &Server, host: &str) -> u16 {
    server
        .http
        .get(server.app_url("/api/sessions"))
        .header("host", host)
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn runs_and_stops(via: &str, host: &str) {
    let mut server = Server::start().await;
    let notes = tempfile::tempdir().expect("tempdir");
    assert_eq!(through(&server, host).await, 421, "not allowed before");
    let (mut child, printed) = tunnel(&server, via, notes.path());
    assert!(
        printed.contains(&format!("https://{host}/pair#")),
        "the pairing link is on the tunnel: {printed}"
    );
    assert!(printed.contains('█'), "with a QR code: {printed}");
    assert_eq!(
        through(&server, host).await,
        401,
        "allowed, still needs a credential"
    );
    let args = std::fs::read_to_string(notes.path().join(format!("{via}.args"))).expect("args");
    let app = server.app_url("");
    assert!(
        args.trim_end().ends_with(&app),
        "fronts the app port only: {args}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}");
    let ended = std::fs::read_to_string(notes.path().join(format!("{via}.ended"))).expect("ended");
    assert_eq!(ended.trim(), "TERM", "the tool was stopped");
    assert_eq!(through(&server, host).await, 421, "the lease ended with it");

    let resp = server
        .with_token(reqwest::Method::GET, "/api/audit")
        .send()
        .await
        .expect("audit");
    let audit: serde_json::Value = resp.json().await.expect("json");
    let tunnel_entries: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "tunnel")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(
        tunnel_entries,
        [
            format!("tunnel {host} stopped"),
            format!("tunnel https://{host} allowed")
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflared_fronts_the_app_port_while_it_runs() {
    runs_and_stops("cloudflared", "rapid-owl-tune.trycloudflare.com").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tailscale_serve_fronts_the_app_port_while_it_runs() {
    runs_and_stops("tailscale", "laptop.tail1234.ts.net").await;
}

#[test]
fn without_a_running_server_it_says_so_and_starts_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notes = tempfile::tempdir().expect("tempdir");
    let path = format!("{}:/usr/bin:/bin", standins().display());
    let out = Command::new(env!("CARGO_BIN_EXE_observatory"))
        .args([
            "tunnel",
            "--via",
            "cloudflared",
            "--app-addr",
            "127.0.0.1:1",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("PATH", path)
        .env("STANDIN_DIR", notes.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not running"), "{err}");
    assert!(
        !notes.path().join("cloudflared.args").exists(),
        "nothing started"
    );
}
