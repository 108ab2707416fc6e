//! Control against real processes: a stand-in agent (`tests/standins/agent.py`) registers itself
//! through the real `observatory hook`, keeps a child process, and logs every SIGINT and SIGTERM.
//! Interrupt, kill and restart must do exactly what they say, on the session's stream and in the
//! audit log; a pid whose start time no longer matches is never signalled; a session we stopped
//! is `killed`, with no crash alert; a restart resumes the same session id with the agent's
//! non-interactive resume command (a stand-in `claude` on the server's PATH).

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Process;
use serde_json::{Value, json};

const SESSION: &str = "0c7e6ebb-5a8e-4f31-9c2b-7d1e0f4a9b21";
const ID: &str = "claude_code:0c7e6ebb-5a8e-4f31-9c2b-7d1e0f4a9b21";

fn standins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins")
}

/// A server (the real binary) with the stand-ins first on its PATH, and a project directory.
struct World {
    server: Process,
    /// The server's environment: started again with it, it has the same ports and config.
    env: Vec<(&'static str, String)>,
    data: tempfile::TempDir,
    project: tempfile::TempDir,
    http: reqwest::Client,
}

impl World {
    fn start(config: &str) -> World {
        World::start_with("", config)
    }

    /// With `control` added to the `[control]` table and `config` after it.
    fn start_with(control: &str, config: &str) -> World {
        let data = tempfile::tempdir().expect("tempdir");
        let project = tempfile::tempdir().expect("tempdir");
        let path = format!(
            "{}:{}",
            standins().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        // The server reads $XDG_CONFIG_HOME/agent-observatory/config.toml.
        let config_dir = data.path().join("xdg");
        std::fs::create_dir_all(config_dir.join("agent-observatory")).expect("config dir");
        std::fs::write(
            config_dir.join("agent-observatory/config.toml"),
            format!("[control]\nkill_grace_secs = 1\n{control}\n{config}"),
        )
        .expect("config");
        let free = || {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").to_string()
        };
        let env = vec![
            ("PATH", path),
            ("XDG_CONFIG_HOME", config_dir.display().to_string()),
            ("OBSERVATORY_HTTP_ADDR", free()),
            ("OBSERVATORY_APP_ADDR", free()),
        ];
        let server = Process::spawn_with(data.path(), &env);
        // What the stand-in `claude` needs to report a resumed session.
        let write = |name: &str, text: &str| {
            std::fs::write(project.path().join(name), text).expect("write")
        };
        write("observatory.bin", env!("CARGO_BIN_EXE_observatory"));
        write("endpoint.txt", &format!("http://{}", server.http_addr));
        World {
            server,
            env,
            data,
            project,
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server (SIGTERM) and starts it again on the same ports and data.
    fn restart_server(&mut self) {
        assert!(self.server.terminate(), "clean stop");
        self.server = Process::spawn_with(self.data.path(), &self.env);
    }

    /// `observatory run -- claude` (the stand-in) in the project directory, for this server;
    /// `in_terminal`: with a terminal as its stdin and stdout (`tests/standins/terminal.py`), so
    /// that it gives the agent a pty of its own. Returns once the agent registered.
    fn launch(
        &self,
        in_terminal: bool,
    ) -> (
        std::process::Child,
        std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    ) {
        let mut run = if in_terminal {
            let mut c = std::process::Command::new("python3");
            c.arg(standins().join("terminal.py"))
                .arg(env!("CARGO_BIN_EXE_observatory"));
            c
        } else {
            std::process::Command::new(env!("CARGO_BIN_EXE_observatory"))
        };
        let mut run = run
            .args([
                "run",
                "--name",
                "stand-in",
                "--app-addr",
                &self.server.app_addr,
            ])
            .args(["--data-dir"])
            .arg(self.data.path())
            .args(["--", "claude"])
            .current_dir(self.project.path())
            .env("PATH", &self.env[0].1)
            .env("HOME", self.project.path())
            .env("OBSERVATORY_HTTP_ADDR", &self.server.http_addr)
            .env("STANDIN_SESSION", SESSION)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("observatory run");
        let mut lines = std::io::BufReader::new(run.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("a line").expect("utf-8");
        assert_eq!(first.trim_end(), "registered");
        (run, lines)
    }

    /// Waits until the server knows the session as launched (its launcher registered).
    async fn until_launched(&self) -> Value {
        let path = format!("/api/sessions/{ID}/control");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, v) = self
                .call(reqwest::Method::GET, &path, Some(&self.token()), &[])
                .await;
            if v["launched"] == true {
                return v;
            }
            assert!(Instant::now() < deadline, "never launched: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.data.path().join("control-token"))
            .expect("token")
            .trim()
            .to_owned()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.app_addr)
    }

    /// Starts the stand-in agent in the project directory; returns it once registered.
    fn agent(&self, stubborn: bool) -> std::process::Child {
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(standins().join("agent.py"))
            .args([
                env!("CARGO_BIN_EXE_observatory"),
                &format!("http://{}", self.server.http_addr),
            ])
            .args([SESSION, "agent.log"])
            .current_dir(self.project.path())
            .stdout(std::process::Stdio::piped());
        if stubborn {
            cmd.arg("--stubborn");
        }
        let mut agent = cmd.spawn().expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(agent.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("agent output");
        assert_eq!(line.trim(), "registered");
        agent
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.project.path().join(name)).unwrap_or_default()
    }

    /// Waits until the stand-in's log `name` has a line `line`.
    async fn until_logged(&self, name: &str, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log(name).lines().any(|l| l == line) {
            assert!(Instant::now() < deadline, "no {line:?}: {}", self.log(name));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn act(&self, action: &str) -> (u16, Value) {
        let path = format!("/api/sessions/{ID}/{action}");
        self.call(reqwest::Method::POST, &path, Some(&self.token()), &[])
            .await
    }

    async fn session(&self) -> Value {
        self.call(
            reqwest::Method::GET,
            &format!("/api/sessions/{ID}"),
            None,
            &[],
        )
        .await
        .1
    }

    /// Polls the session until `ok` holds (the session clock and hooks run on their own time).
    async fn until(&self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.session().await;
            if ok(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "{what}: {s}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn event_kinds(&self) -> Vec<(String, String)> {
        let path = format!("/api/sessions/{ID}/events?limit=1000");
        let (_, v) = self.call(reqwest::Method::GET, &path, None, &[]).await;
        v["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("control")))
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (s("kind"), s("name"))
            })
            .collect()
    }

    async fn audit(&self) -> Vec<Value> {
        let (_, v) = self
            .call(reqwest::Method::GET, "/api/audit", Some(&self.token()), &[])
            .await;
        v["entries"].as_array().cloned().unwrap_or_default()
    }
}

fn alive(pid: u32) -> bool {
    observatory::procfs::process_start_ticks(pid).is_some()
}

fn child_pid(log: &str) -> u32 {
    log.lines()
        .find_map(|l| l.strip_prefix("child "))
        .and_then(|p| p.parse().ok())
        .expect("the agent's child pid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_agent_is_not_sent_a_sigint_that_would_end_it() {
    let w = World::start("");
    let mut agent = w.agent(false);
    let options_path = format!("/api/sessions/{ID}/control");
    let get = reqwest::Method::GET;
    let (_, unpaired) = w.call(get.clone(), &options_path, None, &[]).await;
    let why = &unpaired["actions"]["kill"]["why"];
    assert_eq!(why, "this browser is not paired", "{unpaired}");
    let (_, options) = w.call(get, &options_path, Some(&w.token()), &[]).await;
    assert_eq!(options["pid"], agent.id(), "{options}");
    let interrupt = &options["actions"]["interrupt"];
    assert_eq!(interrupt["available"], false, "{options}");
    let why = interrupt["why"].as_str().unwrap_or_default();
    assert!(
        why.contains("Esc") && why.contains("observatory run") && why.contains("exits"),
        "says why (Claude Code exits on SIGINT) and what would work: {why}"
    );
    let (status, refused) = w.act("interrupt").await;
    assert_eq!((status, refused["error"].as_str()), (409, Some(why)));
    assert!(alive(agent.id()), "the agent runs on");
    assert!(!w.log("agent.log").contains("SIGINT"), "no signal was sent");
    assert!(w.event_kinds().await.is_empty(), "nothing was done");
    let audit = w.audit().await;
    assert_eq!(
        (audit[0]["action"].as_str(), audit[0]["outcome"].as_str()),
        (Some("interrupt"), Some("refused")),
        "{audit:?}"
    );
    let _ = agent.kill();
    let _ = agent.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launched_agent_is_interrupted_by_its_key_typed_into_its_terminal() {
    let w = World::start("");
    let (mut run, mut out) = w.launch(true);
    let options = w.until_launched().await;
    let what = options["actions"]["interrupt"]["what"]
        .as_str()
        .unwrap_or_default();
    assert!(what.contains("presses Esc in its terminal"), "{options}");
    let (status, done) = w.act("interrupt").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["outcome"], "ok", "{done}");
    assert!(
        done["done"]
            .as_str()
            .unwrap_or_default()
            .contains("pressed Esc in its terminal"),
        "{done}"
    );
    w.until_logged("agent.log", "key 1b").await;
    let log = w.log("agent.log");
    assert!(!log.contains("SIGINT"), "a key, not a signal: {log}");
    let pid = w.session().await["pid"].as_u64().expect("pid") as u32;
    assert!(alive(pid), "an interrupt does not end the agent");
    assert_eq!(
        w.event_kinds().await,
        [
            ("control_requested".into(), "interrupt".into()),
            ("control_finished".into(), "interrupt".into())
        ]
    );
    let audit = w.audit().await;
    assert_eq!(audit[0]["action"], "interrupt", "{audit:?}");
    assert_eq!(audit[0]["outcome"], "ok", "{audit:?}");
    assert_eq!(audit[0]["target"], ID);
    assert_eq!(audit[0]["actor"], "token");

    // What the agent prints reaches the user's terminal; its exit code comes back.
    let (status, _) = w.act("kill").await;
    assert_eq!(status, 200);
    let rest: Vec<String> = out.by_ref().map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("bye from the agent")),
        "{rest:?}"
    );
    assert_eq!(run.wait().expect("exits").code(), Some(143));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_the_agent_and_its_children_and_the_session_is_killed_not_crashed() {
    let w = World::start("");
    let mut agent = w.agent(false);
    let child = child_pid(&w.log("agent.log"));
    // From a terminal: `observatory ctl kill <the start of the agent's own id>`.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_observatory"))
        .args([
            "ctl",
            "kill",
            &SESSION[..8],
            "--app-addr",
            &w.server.app_addr,
            "--data-dir",
        ])
        .arg(w.data.path())
        .output()
        .expect("observatory ctl");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.starts_with(&format!("kill {ID}: sent SIGTERM")),
        "{said}"
    );
    let code = agent.wait().expect("wait");
    assert_eq!(code.code(), Some(143), "it exited on SIGTERM");
    assert!(w.log("agent.log").contains("SIGTERM"));
    assert!(!alive(child), "its child went too");
    let s = w.until("killed", |s| s["state"] == "killed").await;
    assert_eq!(s["state"], "killed");
    // The session clock sees the process gone later: still killed, no crash alert.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(w.session().await["state"], "killed");
    let (_, alerts) = w.call(reqwest::Method::GET, "/api/alerts", None, &[]).await;
    let crashed = alerts["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["kind"] == "crashed")
        .count();
    assert_eq!(crashed, 0, "{alerts}");
    let (status, v) = w.act("kill").await;
    assert_eq!(status, 409, "a second kill: {v}");
    assert_eq!(v["error"], "that process is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_ignores_sigterm_gets_sigkill_after_the_grace() {
    let w = World::start("");
    let mut agent = w.agent(true);
    let started = Instant::now();
    let (status, done) = w.act("kill").await;
    assert_eq!(status, 200, "{done}");
    let text = done["done"].as_str().unwrap_or_default();
    assert!(text.contains("SIGKILL"), "{done}");
    let code = agent.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&code),
        Some(9)
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "after kill_grace_secs"
    );
    assert!(w.log("agent.log").contains("SIGTERM"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_pid_is_never_signalled() {
    let w = World::start("");
    // A live process whose pid the session names, with another start time: a reused pid.
    let mut bystander = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep");
    let pid = bystander.id();
    let start = observatory::procfs::process_start_ticks(pid).expect("ticks");
    let hook = json!({"session_id": SESSION, "hook_event_name": "SessionStart", "cwd": "/tmp", "source": "startup"});
    let resp = w
        .http
        .post(format!(
            "http://{}/v1/hooks/claude_code",
            w.server.http_addr
        ))
        .header("x-observatory-pid", pid.to_string())
        .header("x-observatory-pid-start", (start + 1).to_string())
        .json(&hook)
        .send()
        .await
        .expect("hook");
    assert_eq!(resp.status(), 204);
    for action in ["interrupt", "kill"] {
        let (status, v) = w.act(action).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (409, Some("that process is gone")),
            "{action}"
        );
    }
    assert!(alive(pid), "the bystander was not signalled");
    let audit = w.audit().await;
    assert_eq!(audit[0]["outcome"], "refused", "{audit:?}");
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_kills_and_resumes_the_same_session_without_a_terminal() {
    let w = World::start("");
    let mut agent = w.agent(false);
    let (status, done) = w.act("restart").await;
    assert_eq!(status, 200, "{done}");
    agent.wait().expect("the first run ended");
    // The resumed run reports the same session: a second run of it, alive again.
    let s = w
        .until("resumed", |s| s["runs"] == 2 && s["pid"] != agent.id())
        .await;
    assert_eq!(s["id"], ID);
    assert_ne!(s["state"], "crashed");
    let args = w.log("claude.args");
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(&args[..3], ["-p", "--resume", SESSION], "{args:?}");
    assert!(args[3].contains("Continue"), "{args:?}");
    let resumed = w.log("resumed.log");
    let pid: u32 = resumed
        .lines()
        .find_map(|l| l.strip_prefix("registered "))
        .and_then(|p| p.parse().ok())
        .expect("the resumed agent registered");
    assert!(
        std::fs::read_dir(w.data.path().join("launches"))
            .expect("launch logs")
            .count()
            == 1
    );
    let _ = observatory::control::process::send(pid, nix::sys::signal::Signal::SIGKILL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_needs_a_credential_and_from_elsewhere_allow_remote_control() {
    let w = World::start("");
    let mut agent = w.agent(false);
    let path = format!("/api/sessions/{ID}/kill");
    let post = reqwest::Method::POST;
    let (status, _) = w.call(post.clone(), &path, None, &[]).await;
    assert_eq!(status, 401, "local, no credential");
    let remote = [("x-forwarded-for", "203.0.113.7")];
    let (status, v) = w.call(post.clone(), &path, Some(&w.token()), &remote).await;
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("allow_remote_control = true"),
        "{v}"
    );
    let (status, v) = w
        .call(post, &path, None, &[("origin", "https://evil.example")])
        .await;
    assert_eq!(status, 403, "another origin: {v}");
    assert!(!w.log("agent.log").contains("SIGTERM"), "nothing was sent");
    let _ = agent.kill();
    let _ = agent.wait();

    let w = World::start("[access]\nallow_remote_control = true\n");
    let mut agent = w.agent(false);
    let (status, v) = w
        .call(reqwest::Method::POST, &path, Some(&w.token()), &remote)
        .await;
    assert_eq!(status, 200, "{v}");
    let _ = agent.kill();
    let _ = agent.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_restarts_in_place_survives_a_server_restart_and_hands_back_the_exit_code() {
    let mut w = World::start("");
    let (mut run, mut out) = w.launch(false);
    let options = w.until_launched().await;
    let restart = options["actions"]["restart"]["what"]
        .as_str()
        .unwrap_or_default();
    assert!(
        restart.contains("in its terminal") && restart.contains("--resume"),
        "{options}"
    );
    let first = w.session().await["pid"].clone();

    let (status, done) = w.act("restart").await;
    assert_eq!(status, 200, "{done}");
    assert!(
        done["done"]
            .as_str()
            .unwrap_or_default()
            .contains("in its terminal"),
        "{done}"
    );
    assert!(
        w.log("agent.log").contains("SIGTERM"),
        "the first run was stopped"
    );
    assert_eq!(
        out.next().expect("a line").expect("utf-8"),
        "registered",
        "resumed in place"
    );
    let args = w.log("claude.args");
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        ["--resume", SESSION],
        "the interactive resume"
    );
    let s = w
        .until("the second run", |s| s["runs"] == 2 && s["pid"] != first)
        .await;
    assert_eq!(s["id"], ID);

    // The server goes away and comes back: the agent runs on, the launch registers again.
    let pid = s["pid"].as_u64().expect("pid") as u32;
    w.restart_server();
    assert!(alive(pid), "the agent ran on while the server was away");
    w.until_launched().await;
    let (status, done) = w.act("kill").await;
    assert_eq!(
        (status, done["outcome"].as_str()),
        (200, Some("ok")),
        "{done}"
    );
    let code = run.wait().expect("observatory run exits");
    assert_eq!(
        code.code(),
        Some(143),
        "the agent's own exit code (SIGTERM: 128 + 15)"
    );
    assert_eq!(
        w.until("killed", |s| s["state"] == "killed").await["state"],
        "killed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_actions_past_the_rate_limit_are_refused_with_429() {
    let w = World::start_with("max_actions_per_minute = 2", "");
    let path = "/api/sessions/claude_code:no-such-session/interrupt";
    let token = w.token();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (status, v) = w.call(reqwest::Method::POST, path, Some(&token), &[]).await;
        statuses.push(status);
        if status == 429 {
            assert!(
                v["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("more than 2 control actions in a minute"),
                "{v}"
            );
        }
    }
    assert_eq!(statuses, [404, 404, 429]);
}
