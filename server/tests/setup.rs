//! `observatory setup <agent>` as a user runs it: the real binary, a temporary HOME, and the
//! agents' config files read back and parsed. The generated OpenCode plugin and Pi extension are
//! also run under Node against a local HTTP listener.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use observatory::normalize::Agent;
use serde_json::{Value, json};

const OBS: &str = "/opt/observatory/bin/observatory";
const EP: &str = "http://127.0.0.1:4318";

/// The binary with nothing from the test's environment but what each case sets, so the
/// developer's own CLAUDE_CONFIG_DIR, CODEX_HOME, XDG_CONFIG_HOME... never leak in.
fn setup(home: &Path, args: &[&str], vars: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_observatory"));
    c.env_clear().env("HOME", home).arg("setup").args(args);
    if !args.contains(&"--observatory") {
        c.args(["--observatory", OBS]);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().expect("run observatory setup")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "setup failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), fs::read(&p).expect("read"));
            }
        }
    }
    out
}

/// The backups of `file` (`<file>.observatory-backup-*`).
fn backups(file: &Path) -> Vec<PathBuf> {
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let mut found: Vec<PathBuf> = fs::read_dir(file.parent().expect("parent"))
        .expect("read_dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with(&format!("{name}.observatory-backup-"))
            })
        })
        .collect();
    found.sort();
    found
}

/// The handlers of one event in a Claude-style hook list.
fn handlers(settings: &Value, event: &str) -> Vec<Value> {
    settings["hooks"][event]
        .as_array()
        .unwrap_or_else(|| panic!("no hooks for {event}: {settings}"))
        .iter()
        .flat_map(|g| g["hooks"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn our_handlers(settings: &Value, event: &str, command: &str) -> usize {
    handlers(settings, event)
        .iter()
        .filter(|h| h["command"] == command)
        .count()
}

/// The hook events setup installs for `agent`, from the agent registry.
fn installed(agent: Agent) -> Vec<&'static str> {
    observatory::agents::spec(agent)
        .setup_target()
        .hook_events
        .iter()
        .map(|(name, _)| *name)
        .collect()
}

#[test]
fn claude_code_fresh_home_gets_telemetry_env_and_hooks() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = ok(&setup(home.path(), &["claude-code"], &[]));
    let path = home.path().join(".claude/settings.json");
    assert!(out.contains(&path.display().to_string()), "{out}");
    let s = read_json(&path);
    for (k, v) in [
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", EP),
        ("OTEL_LOGS_EXPORT_INTERVAL", "1000"),
    ] {
        assert_eq!(s["env"][k], v, "env {k}: {s}");
    }
    let command = format!("{OBS} hook claude_code");
    for event in installed(Agent::ClaudeCode) {
        let hs = handlers(&s, event);
        assert_eq!(hs.len(), 1, "{event}");
        // The hook that waits for an answer from the phone may take that long.
        let timeout = if event == "PermissionRequest" {
            3660
        } else {
            5
        };
        assert_eq!(
            hs[0],
            json!({"type": "command", "command": command, "timeout": timeout})
        );
    }
    assert_eq!(s["hooks"]["PreToolUse"][0]["matcher"], "*");
    assert_eq!(s["hooks"]["PermissionRequest"][0]["matcher"], "*");
    assert_eq!(
        s["hooks"].as_object().expect("hooks").len(),
        installed(Agent::ClaudeCode).len()
    );
}

#[test]
fn claude_code_merges_backs_up_is_idempotent_and_undoes() {
    let home = tempfile::tempdir().expect("tempdir");
    let path = home.path().join(".claude/settings.json");
    let original = r#"{
  "model": "opus",
  "permissions": {
    "allow": ["Bash(git status)"]
  },
  "env": {
    "MY_VAR": "keep me",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.internal:4318",
    "OTEL_LOGS_EXPORTER": "otlp,console"
  },
  "hooks": {
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "say done"
          }
        ]
      }
    ],
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/local/bin/guard"
          }
        ]
      }
    ],
    "WorktreeCreate": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "make-worktree"
          }
        ]
      }
    ]
  },
  "unknownFutureKey": {"nested": [1, 2, 3]}
}
"#;
    write(&path, original);

    let out = ok(&setup(home.path(), &["claude_code"], &[]));
    let s = read_json(&path);
    assert_eq!(s["model"], "opus");
    assert_eq!(s["permissions"]["allow"][0], "Bash(git status)");
    assert_eq!(s["unknownFutureKey"]["nested"], json!([1, 2, 3]));
    assert_eq!(s["env"]["MY_VAR"], "keep me");
    // An exporter list that already has otlp is left; the endpoint is ours, with a warning.
    assert_eq!(s["env"]["OTEL_LOGS_EXPORTER"], "otlp,console");
    assert_eq!(s["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"], EP);
    assert!(out.contains("http://collector.internal:4318"), "{out}");
    let command = format!("{OBS} hook claude_code");
    let stop = handlers(&s, "Stop");
    assert_eq!(stop[0]["command"], "say done");
    assert_eq!(stop[1]["command"], command);
    let pre = handlers(&s, "PreToolUse");
    assert_eq!(pre[0]["command"], "/usr/local/bin/guard");
    assert_eq!(s["hooks"]["PreToolUse"][0]["matcher"], "Bash");
    assert_eq!(our_handlers(&s, "PreToolUse", &command), 1);
    assert_eq!(
        handlers(&s, "WorktreeCreate")[0]["command"],
        "make-worktree"
    );
    // Key order kept.
    let keys: Vec<&String> = s.as_object().expect("o").keys().collect();
    assert_eq!(keys.len(), 5);
    let text = fs::read_to_string(&path).expect("read");
    let at = |k: &str| text.find(&format!("\"{k}\"")).expect(k);
    assert!(at("model") < at("permissions") && at("env") < at("hooks"));
    assert!(at("hooks") < at("unknownFutureKey"));

    let b = backups(&path);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(fs::read_to_string(&b[0]).expect("backup"), original);
    assert!(out.contains(&b[0].display().to_string()), "{out}");

    // Twice: nothing changes.
    let before = snapshot(home.path());
    let again = ok(&setup(home.path(), &["claude-code"], &[]));
    assert!(again.contains("already set up"), "{again}");
    assert_eq!(snapshot(home.path()), before);

    // Undo: ours gone, theirs kept, the replaced endpoint back.
    let undone = ok(&setup(home.path(), &["claude-code", "--undo"], &[]));
    assert!(undone.contains("undone"), "{undone}");
    // Nothing else changed since setup, so the file comes back byte for byte.
    assert_eq!(fs::read_to_string(&path).expect("settings"), original);
    assert!(
        !home
            .path()
            .join(".claude/settings.json.observatory-setup.json")
            .exists()
    );
    let nothing = ok(&setup(home.path(), &["claude-code", "--undo"], &[]));
    assert!(nothing.contains("nothing to undo"), "{nothing}");
}

#[test]
fn claude_config_dir_is_honoured_and_the_default_command_is_this_binary() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join("elsewhere");
    let bin = env!("CARGO_BIN_EXE_observatory");
    let mut c = Command::new(bin);
    c.env_clear()
        .env("HOME", home.path())
        .env("CLAUDE_CONFIG_DIR", &dir)
        .args(["setup", "claude-code"]);
    ok(&c.output().expect("run"));
    assert!(!home.path().join(".claude").exists());
    let s = read_json(&dir.join("settings.json"));
    assert_eq!(
        handlers(&s, "Stop")[0]["command"],
        format!("{bin} hook claude_code")
    );
}

#[test]
fn print_shows_every_agents_change_and_writes_nothing() {
    for agent in observatory::agents::setup_names() {
        let home = tempfile::tempdir().expect("tempdir");
        let out = ok(&setup(home.path(), &[agent, "--print"], &[]));
        assert!(
            snapshot(home.path()).is_empty(),
            "{agent}: --print wrote files"
        );
        assert!(out.contains("--print changes nothing"), "{agent}: {out}");
        assert!(
            out.contains(&home.path().display().to_string()),
            "{agent}: {out}"
        );
        assert!(out.contains('+') && out.contains(EP), "{agent}: {out}");
    }
    // On an existing file: a diff, and the file untouched.
    let home = tempfile::tempdir().expect("tempdir");
    let path = home.path().join(".gemini/settings.json");
    write(&path, "{\n  \"general\": {\"vimMode\": true}\n}\n");
    let before = snapshot(home.path());
    let out = ok(&setup(home.path(), &["gemini-cli", "--print"], &[]));
    assert!(out.contains(&format!("--- {}", path.display())), "{out}");
    assert!(out.contains("+  \"telemetry\": {"), "{out}");
    assert_eq!(snapshot(home.path()), before);
}

#[test]
fn malformed_configs_are_refused_naming_the_file_and_left_untouched() {
    let cases: [(&str, &str, &str, &str); 3] = [
        (
            "claude-code",
            ".claude/settings.json",
            "{\n  \"env\": {\n    \"A\": 1,,\n  }\n}\n",
            ":3:",
        ),
        (
            "gemini-cli",
            ".gemini/settings.json",
            "{\n  // a comment\n  \"a\": 1\n}\n",
            ":2:",
        ),
        (
            "codex",
            ".codex/config.toml",
            "model = \"o3\"\n[otel\nexporter = 1\n",
            ":2:",
        ),
    ];
    for (agent, rel, text, line) in cases {
        let home = tempfile::tempdir().expect("tempdir");
        let path = home.path().join(rel);
        write(&path, text);
        let before = snapshot(home.path());
        let out = setup(home.path(), &[agent], &[]);
        assert!(!out.status.success(), "{agent}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{}{line}", path.display())),
            "{agent}: {err}"
        );
        assert!(err.contains("nothing was changed"), "{agent}: {err}");
        assert_eq!(snapshot(home.path()), before, "{agent}");
    }
}

#[test]
fn unknown_agents_and_bad_endpoints_are_refused() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = setup(home.path(), &["cursor"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for valid in observatory::agents::setup_names() {
        assert!(err.contains(valid), "{err}");
    }
    let out = setup(home.path(), &["pi", "--endpoint", "localhost:4318"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--endpoint"));
    assert!(snapshot(home.path()).is_empty());
}

#[test]
fn codex_gets_otel_notify_and_hooks_keeping_comments_and_the_users_notify() {
    // Fresh, in CODEX_HOME.
    let home = tempfile::tempdir().expect("tempdir");
    let codex_home = home.path().join("codex-home");
    ok(&setup(
        home.path(),
        &["codex", "--endpoint", "http://127.0.0.1:9999/"],
        &[("CODEX_HOME", &codex_home)],
    ));
    assert!(!home.path().join(".codex").exists());
    let config: toml::Table = fs::read_to_string(codex_home.join("config.toml"))
        .expect("config")
        .parse()
        .expect("toml");
    for (key, signal) in [
        ("exporter", "logs"),
        ("trace_exporter", "traces"),
        ("metrics_exporter", "metrics"),
    ] {
        let http = &config["otel"][key]["otlp-http"];
        assert_eq!(
            http["endpoint"].as_str(),
            Some(format!("http://127.0.0.1:9999/v1/{signal}").as_str())
        );
        assert_eq!(http["protocol"].as_str(), Some("binary"));
    }
    let notify: Vec<&str> = config["notify"]
        .as_array()
        .expect("notify")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    // the hooks are told where the server is, since it is not at the default address
    let endpoint = "http://127.0.0.1:9999";
    assert_eq!(notify, [OBS, "hook", "codex", "--endpoint", endpoint]);
    let hooks = read_json(&codex_home.join("hooks.json"));
    let command = format!("{OBS} hook codex --endpoint {endpoint}");
    for event in installed(Agent::Codex) {
        assert_eq!(our_handlers(&hooks, event, &command), 1, "{event}");
    }

    // Existing config: comments, a notify of the user's, other tables.
    let home = tempfile::tempdir().expect("tempdir");
    let path = home.path().join(".codex/config.toml");
    let original = "# My Codex settings\nmodel = \"gpt-5.5\" # the good one\nnotify = [\"notify-send\", \"codex\"]\n\n[otel]\n# staging collector\nenvironment = \"staging\"\nexporter = { otlp-grpc = { endpoint = \"http://collector:4317\" } }\n\n[projects.\"/src/app\"]\ntrust_level = \"trusted\"\n";
    write(&path, original);
    let hooks_path = home.path().join(".codex/hooks.json");
    write(
        &hooks_path,
        "{\"hooks\": {\"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"say done\"}]}]}}",
    );
    let hooks_original = fs::read_to_string(&hooks_path).expect("hooks");
    let out = ok(&setup(home.path(), &["codex"], &[]));
    assert!(
        out.contains("notify-send"),
        "the kept notify is reported: {out}"
    );
    assert!(out.contains("/hooks"), "trust is explained: {out}");
    let text = fs::read_to_string(&path).expect("config");
    assert!(
        text.starts_with("# My Codex settings\nmodel = \"gpt-5.5\" # the good one\n"),
        "{text}"
    );
    assert!(
        text.contains("# staging collector\nenvironment = \"staging\"\n"),
        "{text}"
    );
    let config: toml::Table = text.parse().expect("toml");
    assert_eq!(config["notify"][0].as_str(), Some("notify-send"));
    assert_eq!(
        config["otel"]["exporter"]["otlp-http"]["endpoint"].as_str(),
        Some("http://127.0.0.1:4318/v1/logs")
    );
    assert_eq!(
        config["projects"]["/src/app"]["trust_level"].as_str(),
        Some("trusted")
    );
    let hooks = read_json(&hooks_path);
    assert_eq!(handlers(&hooks, "Stop")[0]["command"], "say done");
    assert_eq!(
        our_handlers(&hooks, "Stop", &format!("{OBS} hook codex")),
        1
    );
    assert_eq!(
        fs::read_to_string(&backups(&path)[0]).expect("backup"),
        original
    );
    assert_eq!(
        fs::read_to_string(&backups(&hooks_path)[0]).expect("backup"),
        hooks_original
    );

    let before = snapshot(home.path());
    assert!(ok(&setup(home.path(), &["codex"], &[])).contains("already set up"));
    assert_eq!(snapshot(home.path()), before);

    ok(&setup(home.path(), &["codex", "--undo"], &[]));
    assert_eq!(fs::read_to_string(&path).expect("config"), original);
    assert_eq!(
        fs::read_to_string(&hooks_path).expect("hooks"),
        hooks_original
    );
}

#[test]
fn gemini_cli_gets_telemetry_and_hooks_and_keeps_the_rest() {
    let home = tempfile::tempdir().expect("tempdir");
    let gemini_home = home.path().join("g");
    let path = gemini_home.join(".gemini/settings.json");
    let original = r#"{
  "security": {"auth": {"selectedType": "gemini-api-key"}},
  "telemetry": {"enabled": false, "logPrompts": false},
  "hooks": {
    "BeforeTool": [{"matcher": "run_shell_command", "hooks": [{"type": "command", "command": "audit", "timeout": 1000}]}]
  }
}
"#;
    write(&path, original);
    let out = ok(&setup(
        home.path(),
        &["gemini"],
        &[("GEMINI_CLI_HOME", &gemini_home)],
    ));
    assert!(!home.path().join(".gemini").exists(), "{out}");
    let s = read_json(&path);
    assert_eq!(
        s["telemetry"],
        json!({"enabled": true, "logPrompts": false, "target": "local", "otlpEndpoint": EP, "otlpProtocol": "http"})
    );
    assert_eq!(s["security"]["auth"]["selectedType"], "gemini-api-key");
    let command = format!("{OBS} hook gemini_cli");
    for event in installed(Agent::GeminiCli) {
        assert_eq!(our_handlers(&s, event, &command), 1, "{event}");
    }
    assert!(s["hooks"].get("AfterModel").is_none() && s["hooks"].get("BeforeModel").is_none());
    let ours = handlers(&s, "AfterTool");
    assert_eq!(ours[0]["timeout"], 5000);
    assert_eq!(s["hooks"]["AfterTool"][0]["matcher"], "*");
    assert_eq!(handlers(&s, "BeforeTool")[0]["command"], "audit");

    let before = snapshot(home.path());
    assert!(
        ok(&setup(
            home.path(),
            &["gemini-cli"],
            &[("GEMINI_CLI_HOME", &gemini_home)]
        ))
        .contains("already set up")
    );
    assert_eq!(snapshot(home.path()), before);

    ok(&setup(
        home.path(),
        &["gemini-cli", "--undo"],
        &[("GEMINI_CLI_HOME", &gemini_home)],
    ));
    assert_eq!(fs::read_to_string(&path).expect("settings"), original);
}

#[test]
fn copilot_cli_gets_its_own_hooks_file_and_env_file() {
    let home = tempfile::tempdir().expect("tempdir");
    let copilot_home = home.path().join("cp");
    let users = copilot_home.join("hooks/mine.json");
    write(&users, "{\"version\": 1, \"hooks\": {}}\n");
    let out = ok(&setup(
        home.path(),
        &["copilot-cli"],
        &[("COPILOT_HOME", &copilot_home)],
    ));
    let env_path = copilot_home.join("observatory.env");
    assert!(out.contains(&format!(". {}", env_path.display())), "{out}");
    let hooks = read_json(&copilot_home.join("hooks/observatory.json"));
    assert_eq!(hooks["version"], 1);
    let events = installed(Agent::CopilotCli);
    assert_eq!(
        hooks["hooks"].as_object().expect("hooks").len(),
        events.len()
    );
    for event in events {
        let timeout = if event == "permissionRequest" {
            3660
        } else {
            5
        };
        assert_eq!(
            hooks["hooks"][event],
            json!([{"type": "command", "bash": format!("{OBS} hook copilot_cli --event {event}"), "timeoutSec": timeout}])
        );
    }
    let env = fs::read_to_string(&env_path).expect("env");
    assert!(env.contains("export COPILOT_OTEL_ENABLED=true\n"), "{env}");
    assert!(
        env.contains(&format!("export OTEL_EXPORTER_OTLP_ENDPOINT={EP}\n")),
        "{env}"
    );
    assert!(!home.path().join(".copilot").exists());

    let before = snapshot(home.path());
    assert!(
        ok(&setup(
            home.path(),
            &["copilot"],
            &[("COPILOT_HOME", &copilot_home)]
        ))
        .contains("already set up")
    );
    assert_eq!(snapshot(home.path()), before);

    ok(&setup(
        home.path(),
        &["copilot-cli", "--undo"],
        &[("COPILOT_HOME", &copilot_home)],
    ));
    assert!(!copilot_home.join("hooks/observatory.json").exists());
    assert!(!env_path.exists());
    assert_eq!(
        fs::read_to_string(&users).expect("mine"),
        "{\"version\": 1, \"hooks\": {}}\n"
    );
}

#[test]
fn opencode_gets_a_plugin_and_its_telemetry_switch() {
    let home = tempfile::tempdir().expect("tempdir");
    let xdg = home.path().join("xdg");
    let config = xdg.join("opencode/opencode.json");
    let original = "{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"model\": \"anthropic/claude-sonnet-4-5\",\n  \"experimental\": {\"other\": 1}\n}\n";
    write(&config, original);
    ok(&setup(
        home.path(),
        &["opencode", "--endpoint", "http://127.0.0.1:7777"],
        &[("XDG_CONFIG_HOME", &xdg)],
    ));
    let plugin = fs::read_to_string(xdg.join("opencode/plugins/observatory.js")).expect("plugin");
    assert!(
        plugin.contains("const ENDPOINT = \"http://127.0.0.1:7777\";"),
        "{plugin}"
    );
    assert!(plugin.contains("export const Observatory"));
    let c = read_json(&config);
    assert_eq!(
        c["experimental"],
        json!({"other": 1, "openTelemetry": true})
    );
    assert_eq!(c["model"], "anthropic/claude-sonnet-4-5");
    let env = fs::read_to_string(xdg.join("opencode/observatory.env")).expect("env");
    assert!(
        env.contains("export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:7777\n"),
        "{env}"
    );
    assert!(!home.path().join(".config").exists());

    ok(&setup(
        home.path(),
        &["opencode", "--undo"],
        &[("XDG_CONFIG_HOME", &xdg)],
    ));
    assert!(!xdg.join("opencode/plugins/observatory.js").exists());
    assert!(!xdg.join("opencode/observatory.env").exists());
    assert_eq!(fs::read_to_string(&config).expect("config"), original);

    // A fresh HOME: the config file setup created goes again on undo.
    let home = tempfile::tempdir().expect("tempdir");
    ok(&setup(home.path(), &["opencode"], &[]));
    let created = home.path().join(".config/opencode/opencode.json");
    assert_eq!(
        read_json(&created),
        json!({"experimental": {"openTelemetry": true}})
    );
    ok(&setup(home.path(), &["opencode", "--undo"], &[]));
    assert!(!created.exists());
}

#[test]
fn pi_gets_an_extension_in_its_agent_dir() {
    let home = tempfile::tempdir().expect("tempdir");
    let agent_dir = home.path().join("pi-agent");
    ok(&setup(
        home.path(),
        &["pi"],
        &[("PI_CODING_AGENT_DIR", &agent_dir)],
    ));
    let ext = agent_dir.join("extensions/observatory.ts");
    let src = fs::read_to_string(&ext).expect("extension");
    assert!(src.contains(&format!("const ENDPOINT = \"{EP}\";")));
    assert!(src.contains("export default function (pi)"));
    assert!(!home.path().join(".pi").exists());
    let before = snapshot(home.path());
    assert!(
        ok(&setup(
            home.path(),
            &["pi"],
            &[("PI_CODING_AGENT_DIR", &agent_dir)]
        ))
        .contains("already set up")
    );
    assert_eq!(snapshot(home.path()), before);
    // An edited extension is kept as a backup when setup rewrites it.
    let edited = format!("{src}// my tweak\n");
    fs::write(&ext, &edited).expect("edit");
    ok(&setup(
        home.path(),
        &["pi"],
        &[("PI_CODING_AGENT_DIR", &agent_dir)],
    ));
    assert_eq!(fs::read_to_string(&ext).expect("extension"), src);
    let kept = backups(&ext);
    assert_eq!(kept.len(), 1);
    assert_eq!(fs::read_to_string(&kept[0]).expect("backup"), edited);
    ok(&setup(
        home.path(),
        &["pi", "--undo"],
        &[("PI_CODING_AGENT_DIR", &agent_dir)],
    ));
    assert!(!ext.exists());
    // Setup's own, unedited file needs no backup.
    assert_eq!(backups(&ext), kept);
}

/// One request as the listener saw it.
#[derive(Debug)]
struct Request {
    target: String,
    headers: BTreeMap<String, String>,
    body: Value,
    /// Field 22 of the sender's /proc/<pid>/stat, read while it was waiting for the answer.
    pid_start: Option<String>,
}

/// Answers 204 to every request and hands each to the test.
fn listener() -> (u16, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let pid_start = headers.get("x-observatory-pid").and_then(|pid| {
                let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let rest = &stat[stat.rfind(')')? + 2..];
                rest.split(' ').nth(22 - 3).map(str::to_owned)
            });
            let _ = (&stream).write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if tx
                .send(Request {
                    target,
                    headers,
                    body,
                    pid_start,
                })
                .is_err()
            {
                break;
            }
        }
    });
    (port, rx)
}

/// Node runs the generated plugin and extension. `.ci/run` installs it (with npm); without it
/// these tests fail rather than pass untested.
fn node() -> bool {
    let found = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "these tests need Node.js (`node`) on PATH: apt-get install nodejs"
    );
    found
}

/// Runs a driver module under Node with the generated file (copied to `.mjs`) as its argument,
/// and returns the requests that reached the listener, by the event they carry.
fn drive(
    generated: &Path,
    driver: &str,
    port_rx: mpsc::Receiver<Request>,
    expect: usize,
) -> (u32, Vec<Request>) {
    let dir = generated.parent().expect("dir");
    let module = dir.join("under-test.mjs");
    fs::copy(generated, &module).expect("copy");
    let driver_path = dir.join("driver.mjs");
    fs::write(&driver_path, driver).expect("driver");
    let child = Command::new("node")
        .arg(&driver_path)
        .arg(&module)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node");
    let pid = child.id();
    let out = child.wait_with_output().expect("node");
    assert!(
        out.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = Vec::new();
    while got.len() < expect {
        match port_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(r) => got.push(r),
            Err(_) => break,
        }
    }
    assert_eq!(got.len(), expect, "requests: {got:#?}");
    assert!(
        port_rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "more requests than expected"
    );
    (pid, got)
}

fn check_process_headers(r: &Request, pid: u32) {
    assert_eq!(
        r.headers.get("x-observatory-pid"),
        Some(&pid.to_string()),
        "{r:?}"
    );
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let start = r.headers.get("x-observatory-pid-start").expect("pid start");
    assert!(
        !start.is_empty() && start.bytes().all(|b| b.is_ascii_digit()),
        "{start}"
    );
    assert_eq!(Some(start), r.pid_start.as_ref(), "{r:?}");
}

#[test]
fn the_opencode_plugin_forwards_events_under_node() {
    if !node() {
        return;
    }
    let (port, rx) = listener();
    let home = tempfile::tempdir().expect("tempdir");
    ok(&setup(
        home.path(),
        &[
            "opencode",
            "--endpoint",
            &format!("http://127.0.0.1:{port}"),
        ],
        &[],
    ));
    let plugin = home.path().join(".config/opencode/plugins/observatory.js");
    let driver = r#"
const mod = await import(process.argv[2]);
if (Object.keys(mod).join() !== "Observatory") throw new Error("exports: " + Object.keys(mod));
const hooks = await mod.Observatory({ project: {}, directory: "/p", worktree: "/p" });
await hooks.event({ event: { type: "session.idle", properties: { sessionID: "ses_1" } } });
await hooks.event({ event: { type: "message.part.updated", properties: {} } });
await hooks.event({});
await hooks["tool.execute.before"]({ tool: "bash", sessionID: "ses_1", callID: "c1" }, { args: { command: "echo hi" } });
const loop = {}; loop.self = loop;
await hooks["chat.message"](loop, {});
await new Promise((r) => setTimeout(r, 1000));
"#;
    let (pid, got) = drive(&plugin, driver, rx, 3);
    let by: BTreeMap<&str, &Request> = got.iter().map(|r| (r.target.as_str(), r)).collect();
    let idle = by["/v1/hooks/opencode?event=event.session.idle"];
    assert_eq!(
        idle.body,
        json!({"type": "session.idle", "properties": {"sessionID": "ses_1"}})
    );
    check_process_headers(idle, pid);
    let tool = by["/v1/hooks/opencode?event=tool.execute.before"];
    assert_eq!(
        tool.body,
        json!({"input": {"tool": "bash", "sessionID": "ses_1", "callID": "c1"}, "output": {"args": {"command": "echo hi"}}})
    );
    assert_eq!(
        by["/v1/hooks/opencode?event=chat.message"].body,
        json!({"unserializable": true})
    );
}

#[test]
fn the_pi_extension_forwards_events_under_node() {
    if !node() {
        return;
    }
    let (port, rx) = listener();
    let home = tempfile::tempdir().expect("tempdir");
    ok(&setup(
        home.path(),
        &["pi", "--endpoint", &format!("http://127.0.0.1:{port}")],
        &[],
    ));
    let ext = home.path().join(".pi/agent/extensions/observatory.ts");
    let driver = r#"
const mod = await import(process.argv[2]);
const handlers = {};
mod.default({ on: (name, fn) => { handlers[name] = fn; } });
const want = ["agent_end", "agent_start", "message_end", "session_shutdown", "session_start", "tool_execution_end", "tool_execution_start", "turn_end", "turn_start"];
if (Object.keys(handlers).sort().join() !== want.join()) throw new Error("events: " + Object.keys(handlers));
const ctx = { cwd: "/proj", sessionManager: { getSessionFile: () => "/s/2026-01-02T03-04-05_0b8e4c1a-1111-4222-8333-444455556666.jsonl" } };
await handlers.session_start({ type: "session_start" }, ctx);
await handlers.tool_execution_end({ toolCallId: "t1", toolName: "bash", isError: true }, ctx);
await handlers.agent_end({ messages: [{ role: "user" }, { role: "assistant", stopReason: "error", errorMessage: "overloaded" }] }, ctx);
await handlers.session_shutdown({}, { sessionManager: { getSessionId: () => "sid-2" } });
await handlers.turn_start(undefined, undefined);
await handlers.message_end({ message: { role: "user" } }, ctx);
await handlers.message_end({ message: { role: "assistant", model: "gpt-5.5", responseId: "r1", stopReason: "stop",
  usage: { input: 1000, output: 40, cacheRead: 200, cacheWrite: 0, totalTokens: 1240, cost: { total: 0.01 } } } }, ctx);
await new Promise((r) => setTimeout(r, 1000));
"#;
    // The user's message_end is not sent: 6 requests.
    let (pid, got) = drive(&ext, driver, rx, 6);
    let by: BTreeMap<String, &Request> = got
        .iter()
        .map(|r| (r.body["event"].as_str().unwrap_or("").to_owned(), r))
        .collect();
    for r in &got {
        assert_eq!(r.target, "/v1/hooks/pi");
        check_process_headers(r, pid);
        assert!(r.body["timestamp"].as_u64().is_some(), "{r:?}");
    }
    let uuid = "0b8e4c1a-1111-4222-8333-444455556666";
    assert_eq!(by["session_start"].body["session_id"], uuid);
    assert_eq!(by["session_start"].body["cwd"], "/proj");
    let end = &by["tool_execution_end"].body;
    assert_eq!(
        (&end["toolCallId"], &end["toolName"], &end["isError"]),
        (&json!("t1"), &json!("bash"), &json!(true))
    );
    assert_eq!(by["agent_end"].body["error"], "overloaded");
    assert_eq!(by["session_shutdown"].body["session_id"], "sid-2");
    assert!(by["turn_start"].body.get("session_id").is_none());
    let answer = &by["message_end"].body;
    assert_eq!(
        (&answer["model"], &answer["usage"]),
        (
            &json!("gpt-5.5"),
            &json!({"input": 1000, "output": 40, "cacheRead": 200, "cacheWrite": 0, "cost": 0.01})
        )
    );
    // Six requests, six events: had the user's message_end gone too, one would be missing.
    assert_eq!(
        by.len(),
        6,
        "the user's message is not sent: {:?}",
        by.keys()
    );
}

#[test]
fn the_generated_plugins_never_throw_when_observatory_is_down() {
    if !node() {
        return;
    }
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let home = tempfile::tempdir().expect("tempdir");
    let endpoint = format!("http://127.0.0.1:{port}");
    ok(&setup(
        home.path(),
        &["opencode", "--endpoint", &endpoint],
        &[],
    ));
    ok(&setup(home.path(), &["pi", "--endpoint", &endpoint], &[]));
    let driver = r#"
const [plugin, ext] = [await import(process.argv[2]), await import(process.argv[3])];
const hooks = await plugin.Observatory({});
await hooks.event({ event: { type: "session.idle" } });
await hooks["tool.execute.after"]({}, {});
const handlers = {};
ext.default({ on: (name, fn) => { handlers[name] = fn; } });
await handlers.session_shutdown({}, {});
await handlers.agent_end(null, null);
"#;
    let dir = home.path();
    let plugin = dir.join("plugin.mjs");
    let ext = dir.join("ext.mjs");
    fs::copy(dir.join(".config/opencode/plugins/observatory.js"), &plugin).expect("copy");
    fs::copy(dir.join(".pi/agent/extensions/observatory.ts"), &ext).expect("copy");
    fs::write(dir.join("driver.mjs"), driver).expect("driver");
    let out = Command::new("node")
        .arg(dir.join("driver.mjs"))
        .arg(&plugin)
        .arg(&ext)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn undo_keeps_what_the_user_changed_after_setup() {
    let home = tempfile::tempdir().expect("tempdir");
    let path = home.path().join(".claude/settings.json");
    write(&path, "{\"model\": \"opus\"}\n");
    ok(&setup(home.path(), &["claude-code"], &[]));
    let mut s = read_json(&path);
    s["theme"] = json!("dark");
    s["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"] = json!("http://mine:4318");
    write(&path, &serde_json::to_string_pretty(&s).expect("json"));

    let out = ok(&setup(home.path(), &["claude-code", "--undo"], &[]));
    assert!(out.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{out}");
    assert_eq!(
        read_json(&path),
        json!({"model": "opus", "theme": "dark", "env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://mine:4318"}})
    );
}
