//! Shared test support: a server started in-process on port 0 with its own data dir (on an
//! adjustable clock), an HTTP client, and the recorded agent fixtures (the library's test kit,
//! `observatory::testkit`). Each test binary uses part of it.
#![allow(dead_code, unused_imports)]

use std::io::Write;
use std::path::Path;

use observatory::app::{self, Running};
use observatory::clock::Clock;
use observatory::config::Config;
use serde_json::Value;

pub struct Server {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let running = start_in(dir.path(), tweak).await;
        Server {
            running: Some(running),
            dir,
            http: reqwest::Client::new(),
        }
    }

    fn r(&self) -> &Running {
        self.running.as_ref().expect("server is running")
    }

    /// The server's clock: adjustable, so a test moves time forward instead of sleeping.
    pub fn clock(&self) -> &Clock {
        &self.r().clock
    }

    pub fn otlp_url(&self, path: &str) -> String {
        format!("http://{}{}", self.r().http_addr, path)
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.r().grpc_addr)
    }

    pub fn app_url(&self, path: &str) -> String {
        format!("http://{}{}", self.r().app_addr, path)
    }

    /// POSTs an OTLP/HTTP body; returns status, content type and body.
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        gzip: bool,
    ) -> (u16, String, Vec<u8>) {
        let mut req = self
            .http
            .post(self.otlp_url(path))
            .header("content-type", content_type);
        let body = if gzip {
            req = req.header("content-encoding", "gzip");
            gzip_bytes(&body)
        } else {
            body
        };
        let resp = req.body(body).send().await.expect("request");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, ct, resp.bytes().await.expect("body").to_vec())
    }

    /// Posts a recorded scenario's OTLP bodies, in arrival order; each must be taken (200).
    pub async fn send_scenario(&self, agent_dir: &str, scenario: &str) {
        for b in bodies(agent_dir, scenario) {
            let ct = if b.json {
                "application/json"
            } else {
                "application/x-protobuf"
            };
            let (status, _, body) = self.post(b.path(), ct, b.bytes, false).await;
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        }
    }

    /// Posts one hook payload of `agent`; it must be taken (2xx).
    pub async fn hook(&self, agent: &str, body: &Value) {
        let path = format!("/v1/hooks/{agent}");
        let (status, _, text) = self
            .post(
                &path,
                "application/json",
                body.to_string().into_bytes(),
                false,
            )
            .await;
        assert!(
            (200..300).contains(&status),
            "{status}: {}",
            String::from_utf8_lossy(&text)
        );
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.app_url(path))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
        (status, v)
    }

    /// All sessions, following pagination.
    pub async fn sessions(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/sessions?limit=100&cursor={c}"),
                None => "/api/sessions?limit=100".to_owned(),
            };
            let (status, v) = self.get_json(&path).await;
            assert_eq!(status, 200, "{v}");
            out.extend(
                v["sessions"]
                    .as_array()
                    .expect("sessions array")
                    .iter()
                    .cloned(),
            );
            match v["next"].as_str() {
                Some(n) => cursor = Some(n.to_owned()),
                None => return out,
            }
        }
    }

    /// The control token the server made in its data dir.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("control-token"))
            .expect("control token file")
            .trim()
            .to_owned()
    }

    /// A request to the app port carrying the control token.
    pub fn with_token(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.app_url(path))
            .bearer_auth(self.token())
    }

    /// A new pairing code, made with the control token.
    pub async fn pairing_code(&self) -> String {
        let resp = self
            .with_token(reqwest::Method::POST, "/api/pairing-codes")
            .send()
            .await
            .expect("pairing code");
        assert_eq!(resp.status(), 201);
        let v: Value = resp.json().await.expect("json");
        v["code"].as_str().expect("code").to_owned()
    }

    /// Pairs a browser named `name`: a code made with the token, redeemed like the dashboard.
    pub async fn pair(&self, name: &str) -> Paired {
        let code = self.pairing_code().await;
        let resp = self
            .http
            .post(self.app_url("/api/pair"))
            .header("x-observatory", "1")
            .json(&serde_json::json!({"code": code, "name": name}))
            .send()
            .await
            .expect("pair");
        assert_eq!(resp.status(), 201);
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a device cookie")
            .to_owned();
        let v: Value = resp.json().await.expect("json");
        Paired {
            id: v["device"]["id"].as_str().expect("id").to_owned(),
            cookie,
        }
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("clean shutdown");
        }
    }
}

/// A paired browser: its device id and its cookie (`observatory_device=…`).
#[derive(Clone, Debug)]
pub struct Paired {
    pub id: String,
    pub cookie: String,
}

impl Paired {
    /// A call from this browser's dashboard: its cookie, the CSRF header, a JSON body.
    pub async fn send(
        &self,
        server: &Server,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = server
            .http
            .request(method, server.app_url(path))
            .header("cookie", &self.cookie)
            .header("x-observatory", "1");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

pub async fn start_in(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::default();
    config.listen.grpc = "127.0.0.1:0".parse().expect("addr");
    config.listen.http = "127.0.0.1:0".parse().expect("addr");
    config.listen.app = "127.0.0.1:0".parse().expect("addr");
    tweak(&mut config);
    app::start_with_clock(&config, dir, Clock::adjustable())
        .await
        .expect("server starts")
}

pub fn gzip_bytes(b: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(b).expect("gzip");
    enc.finish().expect("gzip")
}

pub use observatory::testkit::fixtures::{Body, root as fixtures_root, scenarios};

/// The recorded OTLP bodies of a scenario, in arrival order.
pub fn bodies(agent_dir: &str, scenario: &str) -> Vec<Body> {
    observatory::testkit::fixtures::bodies(&observatory::testkit::fixtures::dir(
        agent_dir, scenario,
    ))
}

pub mod push_service;
pub mod ws;

/// The `observatory` binary running as a child process, as a user would run it.
pub struct Process {
    pub child: std::process::Child,
    pub http_addr: String,
    pub app_addr: String,
    pub grpc_addr: String,
}

impl Process {
    /// Starts the binary on free ports with `dir` as its data dir and waits until it listens.
    pub fn spawn(dir: &Path) -> Process {
        Process::spawn_with(dir, &[])
    }

    /// [`Process::spawn`] with more environment for the server (and what it starts).
    pub fn spawn_with(dir: &Path, env: &[(&str, String)]) -> Process {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_observatory"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("--data-dir")
            .arg(dir)
            .args(
                [
                    ("--grpc-addr", "OBSERVATORY_GRPC_ADDR"),
                    ("--http-addr", "OBSERVATORY_HTTP_ADDR"),
                    ("--app-addr", "OBSERVATORY_APP_ADDR"),
                ]
                .into_iter()
                // Free ports, unless the environment names the address.
                .filter(|(_, var)| !env.iter().any(|(k, _)| k == var))
                .flat_map(|(flag, _)| [flag, "127.0.0.1:0"]),
            )
            .args(["--log-format", "json"])
            .env_remove("OBSERVATORY_DATA_DIR")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn observatory");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = std::io::BufReader::new(stderr).lines();
        loop {
            let line = match lines.next() {
                Some(Ok(l)) => l,
                _ => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!("observatory exited before listening: {status:?}");
                }
            };
            let v: Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if v["fields"]["message"] == "observatory is listening" {
                let f = &v["fields"];
                let get = |k: &str| f[k].as_str().expect("address").to_owned();
                let p = Process {
                    http_addr: get("http_addr"),
                    app_addr: get("app_addr"),
                    grpc_addr: get("grpc_addr"),
                    child,
                };
                // Keep draining stderr so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return p;
            }
        }
    }
}

impl Process {
    /// Sends SIGTERM and waits for the process; returns whether it exited with status 0.
    pub fn terminate(&mut self) -> bool {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(sent, "sending SIGTERM");
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub use observatory::testkit::fixtures::recording;

/// A stand-in agent: a Python process that runs the real `observatory hook claude_code` as its
/// hook with the recorded SessionStart of Claude Code's `denied` scenario (so the hook, walking
/// up, finds it: no shell in between), then waits to be killed. Returned once registered.
pub fn stand_in_agent(server: &Server) -> std::process::Child {
    let endpoint = format!("http://{}", server.r().http_addr);
    let payload = std::fs::read(
        fixtures_root().join("claude-code-2.1.328/denied/hooks/0001-claude-SessionStart.json"),
    )
    .expect("hook fixture");
    let script = "import subprocess, sys, time\n\
                  subprocess.run([sys.argv[1], 'hook', 'claude_code', '--endpoint', sys.argv[2]], input=sys.argv[3].encode())\n\
                  print('registered', flush=True)\n\
                  time.sleep(60)\n";
    let mut agent = std::process::Command::new("python3")
        .args(["-c", script, env!("CARGO_BIN_EXE_observatory"), &endpoint])
        .arg(String::from_utf8_lossy(&payload).into_owned())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(agent.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("agent output");
    assert_eq!(line.trim(), "registered");
    agent
}

/// `node tests/standins/opencode-plugin.mjs <our OpenCode plugin for server>`: the driver that
/// plays OpenCode to the plugin `observatory setup opencode` writes; add the mode and its
/// arguments. The directory holds the plugin file while the command runs.
pub fn opencode_driver(server: &Server) -> (tempfile::TempDir, std::process::Command) {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = dir.path().join("observatory.mjs");
    let source = observatory::setup::opencode::plugin_source(&server.otlp_url("")).expect("source");
    std::fs::write(&plugin, source).expect("write");
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/opencode-plugin.mjs");
    let mut node = std::process::Command::new("node");
    node.arg(driver).arg(plugin);
    (dir, node)
}
