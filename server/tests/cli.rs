//! The command line as scripts use it.

mod common;

use std::process::Command;

fn observatory() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_observatory"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OBSERVATORY_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn print_config_prints_the_commented_example() {
    let out = observatory().arg("print-config").output().expect("run");
    assert!(out.status.success());
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/example.toml"
    ))
    .expect("example");
    assert_eq!(String::from_utf8_lossy(&out.stdout), example);
}

#[test]
fn version_is_printed() {
    let out = observatory().arg("--version").output().expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("observatory {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Arguments, environment, and what the error message must name.
type Mistake<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn mistakes_are_refused_with_a_message_that_names_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<Mistake> = vec![
        (vec!["--no-such-flag".into()], vec![], "--no-such-flag"),
        (
            vec!["--grpc-addr".into(), "localhost".into()],
            vec![],
            "--grpc-addr",
        ),
        (
            vec![
                "--config".into(),
                dir.path().join("missing.toml").display().to_string(),
            ],
            vec![],
            "missing.toml",
        ),
        (
            vec![],
            vec![("OBSERVATORY_APP_ADDR", "not-an-address")],
            "OBSERVATORY_APP_ADDR",
        ),
        (
            vec!["--log-level".into(), "loud=[".into()],
            vec![],
            "log level",
        ),
    ];
    for (args, env, says) in cases {
        let mut c = observatory();
        c.args(&args).arg("--data-dir").arg(dir.path());
        for (k, v) in &env {
            c.env(k, v);
        }
        let out = c.output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} {env:?} should fail");
        assert!(stderr.contains(says), "{args:?} {env:?}: {stderr}");
    }
}

#[test]
fn serve_is_the_default_and_the_named_command_and_stops_cleanly_on_sigterm() {
    use std::io::BufRead;
    for serve in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = observatory();
        if serve {
            c.arg("serve");
        }
        let mut child = c
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "--grpc-addr",
                "127.0.0.1:0",
                "--http-addr",
                "127.0.0.1:0",
                "--app-addr",
                "127.0.0.1:0",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let listening = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.contains("observatory is listening"));
        let Some(line) = listening else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve={serve}: never listened");
        };
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let status = child.wait().expect("wait");
        assert!(
            line.contains("app_addr=127.0.0.1:"),
            "the bound addresses are logged, uncoloured: {line}"
        );
        assert!(
            status.success(),
            "serve={serve}: SIGTERM gives a clean exit, got {status:?}"
        );
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        assert!(
            rest.iter().any(|l| l.contains("stopped cleanly")),
            "{rest:?}"
        );
        assert!(dir.path().join("observatory.redb").exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_prints_the_servers_token_and_rotates_it_with_or_without_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = |extra: &[&str]| {
        let out = observatory()
            .arg("token")
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    };
    let file = || {
        std::fs::read_to_string(dir.path().join("control-token"))
            .expect("token file")
            .trim()
            .to_owned()
    };
    // Made on first use, the same after; rotated offline (nothing listens on port 1).
    let first = token(&[]);
    assert_eq!((first.len(), first.clone()), (64, file()));
    assert_eq!(token(&[]), first);
    let second = token(&["--rotate", "--app-addr", "127.0.0.1:1"]);
    assert_ne!(second, first);
    assert_eq!(second, file());

    // With the server running, the server rotates it: the old token stops working at once.
    let mut server = common::Process::spawn(dir.path());
    let app = server.app_addr.clone();
    let third = token(&["--rotate", "--app-addr", &app]);
    assert_ne!(third, second);
    assert_eq!(third, file());
    let status = async |t: &str| {
        let resp = reqwest::Client::new()
            .get(format!("http://{app}/api/audit"))
            .bearer_auth(t)
            .send()
            .await
            .expect("request");
        let code = resp.status().as_u16();
        (code, resp.text().await.unwrap_or_default())
    };
    assert_eq!(status(&second).await.0, 401);
    let (code, audit) = status(&third).await;
    assert_eq!(code, 200, "{audit}");
    let rotations = audit.matches("token_rotated").count();
    assert_eq!(
        rotations, 2,
        "offline and online rotations are audited: {audit}"
    );

    // `observatory pair` prints a one-time link for this server with its code and QR.
    let out = observatory()
        .args(["pair", "--app-addr", &app, "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("pair");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("http://{app}/pair#")), "{text}");
    assert!(text.contains("works once") && text.contains('█'), "{text}");
    assert!(server.terminate());
}

/// Posts one Claude Code hook event for `session` in `cwd`.
/// Each `UserPromptSubmit` starts a new turn (a new prompt id).
async fn claude_hook(server: &common::Server, event: &str, session: &str, cwd: &str) {
    static PROMPTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let mut turn = PROMPTS.load(std::sync::atomic::Ordering::SeqCst);
    if event == "UserPromptSubmit" {
        turn = PROMPTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    }
    let body = serde_json::json!({
        "session_id": session, "cwd": cwd, "hook_event_name": event,
        "prompt": "go", "prompt_id": format!("prompt-{turn}"), "tool_name": "Bash", "tool_input": {"command": "ls"},
    });
    server.hook("claude_code", &body).await;
}

fn status_cmd(server: &common::Server, args: &[&str]) -> Command {
    let mut c = observatory();
    c.arg("status")
        .args(args)
        .arg("--app-addr")
        .arg(
            server
                .running
                .as_ref()
                .expect("running")
                .app_addr
                .to_string(),
        )
        .arg("--data-dir")
        .arg(server.dir.path());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_who_needs_you_first_as_a_table_json_and_live() {
    let server = common::Server::start().await;
    let (idle, asks) = (
        "11111111-0000-4000-8000-000000000001",
        "22222222-0000-4000-8000-000000000002",
    );
    for event in ["SessionStart", "UserPromptSubmit", "Stop"] {
        claude_hook(&server, event, idle, "/work/alpha").await;
    }
    claude_hook(&server, "SessionStart", asks, "/work/beta").await;
    claude_hook(&server, "UserPromptSubmit", asks, "/work/beta").await;
    claude_hook(&server, "PermissionRequest", asks, "/work/beta").await;

    let out = status_cmd(&server, &["--json"]).output().expect("status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let order: Vec<(&str, &str)> = rows
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["native_id"].as_str().unwrap_or(""),
                r["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(order, vec![(asks, "awaiting_permission"), (idle, "idle")]);

    let out = status_cmd(&server, &[]).output().expect("status");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("AGENT") && lines[0].contains("COST"),
        "{text}"
    );
    for (line, project, state) in [(1, "beta", "awaiting permission"), (2, "alpha", "idle")] {
        assert!(lines[line].contains("Claude Code"), "{text}");
        assert!(
            lines[line].contains(project) && lines[line].contains(state),
            "{text}"
        );
    }

    // --watch redraws when a session changes: the idle one starts working.
    let mut watch = status_cmd(&server, &["--watch"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("status --watch");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdout = stdout;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut wait_for = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !seen
            .rsplit("\x1b[H")
            .next()
            .is_some_and(|t| t.contains(what))
        {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(chunk) => seen += &chunk,
                Err(_) => panic!("--watch never showed {what:?}: {seen}"),
            }
        }
    };
    wait_for("awaiting permission");
    claude_hook(&server, "UserPromptSubmit", idle, "/work/alpha").await;
    wait_for("active");
    watch.kill().expect("kill");
    let _ = watch.wait();

    // Nothing listening: one clear line, and a failure exit.
    let out = observatory()
        .args(["status", "--app-addr", "127.0.0.1:1", "--data-dir"])
        .arg(server.dir.path())
        .output()
        .expect("status");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not running at 127.0.0.1:1"), "{err}");
}

fn export_cmd(server: &common::Server, app: &str, args: &[&str]) -> (bool, String, String) {
    let out = observatory()
        .arg("export")
        .args(args)
        .args(["--app-addr", app, "--data-dir"])
        .arg(server.dir.path())
        .output()
        .expect("export");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8");
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_streams_rows_by_kind_time_and_agent_from_the_server_or_its_store() {
    let mut server = common::Server::start().await;
    // Codex's recorded run (its own, older timestamps), then a Claude Code session now.
    server.send_scenario("codex-0.169.0", "plain").await;
    let claude = "33333333-0000-4000-8000-000000000003";
    for event in ["SessionStart", "UserPromptSubmit", "Stop"] {
        claude_hook(&server, event, claude, "/work/gamma").await;
    }
    let (_, health) = server.get_json("/api/health").await;
    let stored = health["last_seq"].as_u64().expect("last_seq");
    let app = server
        .running
        .as_ref()
        .expect("running")
        .app_addr
        .to_string();

    let lines = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    };
    let (ok, all, err) = export_cmd(&server, &app, &[]);
    assert!(ok, "{err}");
    let all = lines(&all);
    assert_eq!(all.len() as u64, stored, "every event, once");
    assert!(
        all.windows(2)
            .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64())
    );
    assert!(
        all.iter()
            .any(|e| e["attributes"].as_object().is_some_and(|a| !a.is_empty()))
    );

    let session_of = |e: &serde_json::Value| e["session_id"].as_str().unwrap_or("").to_owned();
    let (_, only, _) = export_cmd(&server, &app, &["--agent", "claude-code"]);
    let only = lines(&only);
    assert!(
        !only.is_empty()
            && only
                .iter()
                .all(|e| session_of(e) == format!("claude_code:{claude}"))
    );
    let (_, recent, _) = export_cmd(&server, &app, &["--since", "1h"]);
    let (_, older, _) = export_cmd(&server, &app, &["--until", "1h"]);
    assert_eq!(
        lines(&recent).len(),
        only.len(),
        "the recorded Codex run is older than an hour"
    );
    assert!(
        lines(&older)
            .iter()
            .all(|e| session_of(e).starts_with("codex:"))
    );
    assert_eq!(lines(&older).len() + only.len(), all.len());

    let (ok, csv, err) = export_cmd(&server, &app, &["sessions", "--format", "csv"]);
    assert!(ok, "{err}");
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,agent,native_id,state,"), "{csv}");
    assert_eq!(rows.len(), 3, "{csv}");
    let (_, turns, _) = export_cmd(&server, &app, &["turns", "--agent", "claude-code"]);
    let turns = lines(&turns);
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0]["session_id"], format!("claude_code:{claude}"));

    // Mistakes are named.
    let (ok, _, err) = export_cmd(&server, &app, &["--since", "yesterday"]);
    assert!(!ok && err.contains("\"yesterday\" is not a time"), "{err}");
    let (status, body) = server.get_json("/api/export?what=everything").await;
    assert_eq!(status, 400, "{body}");

    // With the server stopped, the same rows come from the store itself.
    server.stop().await;
    let (ok, offline, err) = export_cmd(&server, &app, &[]);
    assert!(ok, "{err}");
    assert_eq!(lines(&offline), all);
}

#[test]
fn service_install_writes_a_unit_that_runs_this_binary_with_its_data_dir_and_config() {
    let home = tempfile::tempdir().expect("tempdir");
    let data = home.path().join("my data");
    let config = home.path().join("observatory.toml");
    std::fs::write(&config, "").expect("config");
    let service = |args: &[&str]| {
        let out = observatory()
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .arg("service")
            .args(args)
            .arg("--no-start")
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("service");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let exe = env!("CARGO_BIN_EXE_observatory");

    let said = service(&["install", "--manager", "systemd"]);
    assert!(
        said.contains("run: systemctl --user enable --now agent-observatory.service"),
        "{said}"
    );
    let unit_path = home
        .path()
        .join(".config/systemd/user/agent-observatory.service");
    let unit = std::fs::read_to_string(&unit_path).expect("unit written");
    let exec = format!(
        "ExecStart={exe} serve --data-dir \"{}\" --config {}\n",
        data.display(),
        config.display()
    );
    assert!(unit.contains(&exec), "{unit}");
    assert!(unit.contains("Restart=on-failure") && unit.contains("WantedBy=default.target"));
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_path)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => {
            eprintln!("systemd-analyze is not installed: the unit was checked by its text only")
        }
    }
    let status = service(&[
        "status",
        "--manager",
        "systemd",
        "--app-addr",
        "127.0.0.1:1",
    ]);
    assert!(
        status.contains("installed: ") && status.contains("server: not running"),
        "{status}"
    );
    assert!(service(&["uninstall", "--manager", "systemd"]).contains("removed"));
    assert!(!unit_path.exists());
    assert!(service(&["uninstall", "--manager", "systemd"]).contains("not installed"));

    // launchd: a property list that runs the same command line, read back with Python's plistlib.
    service(&["install", "--manager", "launchd"]);
    let plist = home
        .path()
        .join("Library/LaunchAgents/dev.agent-observatory.plist");
    let read = Command::new("python3")
        .arg("-c")
        .arg("import plistlib,sys,json; p=plistlib.load(open(sys.argv[1],'rb')); print(json.dumps(p))")
        .arg(&plist)
        .output()
        .expect("python3");
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let p: serde_json::Value = serde_json::from_slice(&read.stdout).expect("JSON");
    let data = data.display().to_string();
    let config = config.display().to_string();
    assert_eq!(
        p["ProgramArguments"],
        serde_json::json!([exe, "serve", "--data-dir", data, "--config", config])
    );
    assert_eq!(
        (p["Label"].clone(), p["RunAtLoad"].clone()),
        (
            serde_json::json!("dev.agent-observatory"),
            serde_json::json!(true)
        )
    );
}
