//! `observatory service install|uninstall|status`: the server started at login by the system's
//! own service manager — a systemd user unit on Linux, a launchd agent on macOS — running this
//! binary with the data dir (made absolute) and the config file it was given. The unit restarts
//! the server when it fails, but gives up after a few quick failures rather than loop (a
//! damaged store is named in the log, not retried forever). `--no-start` writes or removes the
//! file only and prints the commands it would run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use super::{Target, TargetArgs};

pub const NAME: &str = "agent-observatory";
const LAUNCHD_LABEL: &str = "dev.agent-observatory";

#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub action: ServiceAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ServiceAction {
    /// Write the unit and start it now and at every login
    Install(ServiceOptions),
    /// Stop the service and remove its unit
    Uninstall(ServiceOptions),
    /// Whether the unit is installed, what it runs, and whether the server answers
    Status(ServiceOptions),
}

#[derive(Debug, Clone, Args)]
pub struct ServiceOptions {
    /// Write or remove the file only; print the service manager commands instead of running them
    #[arg(long)]
    pub no_start: bool,
    /// Which service manager [default: systemd on Linux, launchd on macOS]
    #[arg(long, value_enum)]
    pub manager: Option<Manager>,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Manager {
    Systemd,
    Launchd,
}

impl Manager {
    fn native() -> Manager {
        if cfg!(target_os = "macos") {
            Manager::Launchd
        } else {
            Manager::Systemd
        }
    }

    /// Where the unit lives for the user whose environment this is.
    fn path(self, env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
        let home = env("HOME").map(PathBuf::from).context("HOME is not set")?;
        Ok(match self {
            Manager::Systemd => env("XDG_CONFIG_HOME")
                .filter(|d| Path::new(d).is_absolute())
                .map_or_else(|| home.join(".config"), PathBuf::from)
                .join("systemd/user")
                .join(format!("{NAME}.service")),
            Manager::Launchd => home
                .join("Library/LaunchAgents")
                .join(format!("{LAUNCHD_LABEL}.plist")),
        })
    }

    /// The commands that start (after writing) or stop (before removing) the unit.
    fn commands(self, install: bool, path: &Path) -> Vec<Vec<String>> {
        let v = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        let unit = format!("{NAME}.service");
        let domain = format!("gui/{}", rustix::process::getuid().as_raw());
        let plist = path.display().to_string();
        match (self, install) {
            (Manager::Systemd, true) => vec![
                v(&["systemctl", "--user", "daemon-reload"]),
                v(&["systemctl", "--user", "enable", "--now", &unit]),
            ],
            (Manager::Systemd, false) => {
                vec![v(&["systemctl", "--user", "disable", "--now", &unit])]
            }
            (Manager::Launchd, true) => vec![v(&["launchctl", "bootstrap", &domain, &plist])],
            (Manager::Launchd, false) => {
                vec![v(&[
                    "launchctl",
                    "bootout",
                    &format!("{domain}/{LAUNCHD_LABEL}"),
                ])]
            }
        }
    }
}

/// What the service runs: this binary, `serve`, the data dir and config it was given.
fn server_argv(options: &ServiceOptions, data_dir: &Path) -> Result<Vec<String>> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let mut argv = vec![exe.display().to_string(), "serve".into()];
    argv.extend([
        "--data-dir".into(),
        absolute(data_dir)?.display().to_string(),
    ]);
    if let Some(config) = &options.target.config {
        let config = absolute(config)?;
        if !config.is_file() {
            bail!("the config file {} does not exist", config.display());
        }
        argv.extend(["--config".into(), config.display().to_string()]);
    }
    if let Some(app) = options.target.app_addr {
        argv.extend(["--app-addr".into(), app.to_string()]);
    }
    Ok(argv)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(std::env::current_dir()?.join(p))
}

/// The systemd user unit.
pub fn systemd_unit(argv: &[String]) -> String {
    let quoted: Vec<String> = argv
        .iter()
        .map(|a| {
            if a.contains([' ', '"', '\\', '\'']) {
                format!("\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                a.clone()
            }
        })
        .collect();
    format!(
        "# Written by `observatory service install`; removed by `observatory service uninstall`.\n\
         [Unit]\n\
         Description=Agent Observatory: watches your AI coding agents\n\
         After=network.target\n\
         # A server that fails five times in two minutes stays stopped (see `journalctl --user -u {NAME}`).\n\
         StartLimitIntervalSec=120\n\
         StartLimitBurst=5\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        quoted.join(" ")
    )
}

/// The launchd agent.
pub fn launchd_plist(argv: &[String], log: &Path) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let args: String = argv
        .iter()
        .map(|a| format!("    <string>{}</string>\n", esc(a)))
        .collect();
    let log = esc(&log.display().to_string());
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <!-- Written by `observatory service install`; removed by `observatory service uninstall`. -->\n\
         <plist version=\"1.0\">\n<dict>\n\
         \x20 <key>Label</key>\n  <string>{LAUNCHD_LABEL}</string>\n\
         \x20 <key>ProgramArguments</key>\n  <array>\n{args}  </array>\n\
         \x20 <key>RunAtLoad</key>\n  <true/>\n\
         \x20 <key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n\
         \x20 <key>ThrottleInterval</key>\n  <integer>30</integer>\n\
         \x20 <key>StandardOutPath</key>\n  <string>{log}</string>\n\
         \x20 <key>StandardErrorPath</key>\n  <string>{log}</string>\n\
         </dict>\n</plist>\n"
    )
}

/// `observatory service …`.
pub fn service(args: &ServiceArgs) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    let (ServiceAction::Install(o) | ServiceAction::Uninstall(o) | ServiceAction::Status(o)) =
        &args.action;
    let manager = o.manager.unwrap_or_else(Manager::native);
    let path = manager.path(&env)?;
    let target = Target::from_args(&o.target)?;
    match &args.action {
        ServiceAction::Install(o) => {
            let argv = server_argv(o, &target.data_dir)?;
            let text = match manager {
                Manager::Systemd => systemd_unit(&argv),
                Manager::Launchd => launchd_plist(&argv, &target.data_dir.join("observatory.log")),
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
            run_all(&manager.commands(true, &path), o.no_start)?;
            if o.no_start {
                println!(
                    "Once those run, the observatory starts at login: {}",
                    argv.join(" ")
                );
            } else {
                println!(
                    "The observatory runs now and at every login: {}",
                    argv.join(" ")
                );
            }
        }
        ServiceAction::Uninstall(o) => {
            if !path.exists() {
                println!("not installed ({} does not exist)", path.display());
                return Ok(());
            }
            run_all(&manager.commands(false, &path), o.no_start)?;
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            println!("removed {}", path.display());
        }
        ServiceAction::Status(_) => status(manager, &path, &target)?,
    }
    Ok(())
}

/// Runs each command (or, with `print_only`, prints it); the first failure stops with what it said.
fn run_all(commands: &[Vec<String>], print_only: bool) -> Result<()> {
    for argv in commands {
        let shown = argv.join(" ");
        if print_only {
            println!("run: {shown}");
            continue;
        }
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .with_context(|| format!("running {shown}"))?;
        if !out.status.success() {
            bail!(
                "{shown} failed: {} (the unit file is in place: fix the cause and run it again, or pass --no-start)",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    Ok(())
}

fn status(manager: Manager, path: &Path, target: &Target) -> Result<()> {
    if !path.exists() {
        println!(
            "not installed ({} does not exist); `observatory service install` adds it",
            path.display()
        );
    } else {
        let text = std::fs::read_to_string(path)?;
        println!("installed: {}", path.display());
        if let Some(exec) = text.lines().find(|l| l.starts_with("ExecStart=")) {
            println!("runs: {}", &exec["ExecStart=".len()..]);
        }
        let probe: &[&str] = match manager {
            Manager::Systemd => &[
                "systemctl",
                "--user",
                "is-active",
                "agent-observatory.service",
            ],
            Manager::Launchd => &["launchctl", "list", LAUNCHD_LABEL],
        };
        if let Ok(out) = Command::new(probe[0]).args(&probe[1..]).output() {
            let said = String::from_utf8_lossy(&out.stdout);
            println!(
                "{}: {}",
                probe[0],
                said.lines().next().unwrap_or("(nothing)")
            );
        }
    }
    let health = super::runtime()?.block_on(target.call(reqwest::Method::GET, "/api/health", None));
    match health {
        Ok(Some(h)) => println!(
            "server: {} at {}",
            h["status"].as_str().unwrap_or("?"),
            target.app
        ),
        Ok(None) => println!("server: not running at {}", target.app),
        Err(e) => println!("server: {e:#}"),
    }
    Ok(())
}
