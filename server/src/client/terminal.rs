//! The terminal `observatory run` owns: a pseudo-terminal between the user's terminal and the
//! agent, so that `interrupt` can type the agent's own interrupt key (Esc, Ctrl-C…) — the only
//! thing that stops a turn in the six agents' TUIs. The user's terminal is put in raw mode and
//! every byte is copied both ways unchanged, so keys (Ctrl-C included) reach the agent exactly
//! as they would without us; the window size follows the user's terminal; the agent starts with
//! the user's terminal settings; they are restored when we exit.
//!
//! The agent runs under [`lead`] (`observatory run` itself, re-executed): the leader of the
//! pty's session, with the agent in a process group of its own in the pty's foreground. So the
//! agent's group is not orphaned and Ctrl-Z works: when the agent stops, the leader tells the
//! launcher (SIGTSTP), which gives the user's terminal back and stops itself; on `fg` it takes
//! the terminal again and continues the agent.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, killpg, raise};
use nix::unistd::Pid as NixPid;
use rustix::termios::{self, OptionalActions, Termios};

/// The hidden command [`lead`] runs as.
pub const LEAD_COMMAND: &str = "lead-terminal";

/// The pty and the user's terminal settings to restore.
pub struct Terminal {
    master: File,
    slave: OwnedFd,
    saved: Termios,
    input: std_mpsc::Sender<Vec<u8>>,
    /// Bytes copied from the agent to our stdout so far.
    copied: Arc<AtomicU64>,
}

impl Terminal {
    /// A pty for the agent when stdin and stdout are a terminal (else `None`: the agent gets
    /// our stdio as it is). The user's terminal is in raw mode from here on. Threads copy both
    /// ways with blocking reads and writes (stdin's file description is shared with the shell,
    /// so it is never made non-blocking).
    pub fn open() -> Result<Option<Terminal>> {
        let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
        if !termios::isatty(&stdin) || !termios::isatty(&stdout) {
            return Ok(None);
        }
        let saved = termios::tcgetattr(&stdin).context("reading the terminal's settings")?;
        let flags = rustix::pty::OpenptFlags::RDWR
            | rustix::pty::OpenptFlags::NOCTTY
            | rustix::pty::OpenptFlags::CLOEXEC;
        let master = rustix::pty::openpt(flags).context("opening a pseudo-terminal")?;
        rustix::pty::grantpt(&master)?;
        rustix::pty::unlockpt(&master)?;
        let slave = rustix::pty::ioctl_tiocgptpeer(&master, flags)
            .context("opening the pseudo-terminal's other end")?;
        termios::tcsetattr(&slave, OptionalActions::Now, &saved)?;
        if let Ok(size) = termios::tcgetwinsize(&stdin) {
            termios::tcsetwinsize(&slave, size)?;
        }
        let master = File::from(master);
        let (input, typed) = std_mpsc::channel();
        let copied = Arc::new(AtomicU64::new(0));
        copy_in(typed, master.try_clone()?);
        copy_out(master.try_clone()?, copied.clone());
        copy_stdin(input.clone());
        let t = Terminal {
            master,
            slave,
            saved,
            input,
            copied,
        };
        t.take_over()?;
        Ok(Some(t))
    }

    fn take_over(&self) -> Result<()> {
        let mut raw = self.saved.clone();
        raw.make_raw();
        termios::tcsetattr(std::io::stdin(), OptionalActions::Drain, &raw)
            .context("putting the terminal in raw mode")?;
        self.follow_size();
        Ok(())
    }

    fn give_back(&self) {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Drain, &self.saved);
    }

    /// The agent's stdio, and the leader in front of it.
    pub fn command(&self, argv: &[String]) -> Result<tokio::process::Command> {
        let me = std::env::current_exe().context("finding the observatory binary")?;
        let mut cmd = tokio::process::Command::new(me);
        cmd.arg(LEAD_COMMAND).arg("--").args(argv);
        let end = || -> Result<Stdio> { Ok(Stdio::from(self.slave.try_clone()?)) };
        cmd.stdin(end()?).stdout(end()?).stderr(end()?);
        Ok(cmd)
    }

    /// The window size of the user's terminal, given to the agent's (which sends it SIGWINCH).
    pub fn follow_size(&self) {
        if let Ok(size) = termios::tcgetwinsize(std::io::stdin()) {
            let _ = termios::tcsetwinsize(&self.master, size);
        }
    }

    /// What types into the agent's terminal (see [`press`]).
    pub fn keyboard(&self) -> std_mpsc::Sender<Vec<u8>> {
        self.input.clone()
    }

    /// Waits until what the agent wrote before it exited has been copied out: until nothing
    /// came for a moment (at most 2 s).
    pub async fn drain(&self) {
        for _ in 0..40 {
            let before = self.copied.load(Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.copied.load(Ordering::Relaxed) == before {
                return;
            }
        }
    }

    /// The agent stopped (Ctrl-Z): gives the user's terminal back and stops us too, so the
    /// shell sees the job stopped; on `fg` takes the terminal again and continues the agent.
    pub fn suspend(&self) {
        self.give_back();
        let _ = raise(Signal::SIGSTOP);
        // Continued (`fg`).
        if let Err(e) = self.take_over() {
            tracing::warn!(error = %e, "taking the terminal back");
        }
        if let Ok(group) = termios::tcgetpgrp(&self.master) {
            let _ = killpg(
                NixPid::from_raw(group.as_raw_nonzero().get()),
                Signal::SIGCONT,
            );
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.give_back();
    }
}

/// A thread that writes what the user types, and the keys an interrupt types, into the agent's
/// terminal.
fn copy_in(typed: std_mpsc::Receiver<Vec<u8>>, mut master: File) {
    std::thread::spawn(move || {
        while let Ok(bytes) = typed.recv() {
            if master.write_all(&bytes).is_err() {
                return;
            }
        }
    });
}

/// A thread that copies what the agent writes to our stdout.
fn copy_out(mut master: File, copied: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = master.read(&mut buf) {
            let mut out = std::io::stdout().lock();
            if n == 0 || out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                return;
            }
            copied.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
}

/// A thread that reads our stdin and hands it to the writer.
fn copy_stdin(input: std_mpsc::Sender<Vec<u8>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || input.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
}

/// `observatory lead-terminal -- <agent…>`: run by [`Terminal::command`] with the pty as its
/// stdio. Becomes the leader of a new session whose controlling terminal is the pty, starts the
/// agent in its own process group in the foreground, passes SIGTERM and SIGHUP on to it, tells
/// the launcher (SIGTSTP) when it stops, and exits with its exit code.
pub fn lead(argv: &[String]) -> Result<i32> {
    rustix::process::setsid().context("starting a session")?;
    rustix::process::ioctl_tiocsctty(std::io::stdin()).context("taking the pseudo-terminal")?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(lead_agent(argv))
}

async fn lead_agent(argv: &[String]) -> Result<i32> {
    use tokio::signal::unix::{SignalKind, signal};
    let program = argv.first().context("no command to run")?;
    let mut agent = tokio::process::Command::new(program)
        .args(&argv[1..])
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let pid = agent.id().context("the agent exited at once")?;
    let group = rustix::process::Pid::from_raw(pid as i32).context("a pid")?;
    termios::tcsetpgrp(std::io::stdin(), group).context("giving the agent the terminal")?;
    // Had it touched the terminal before it was in the foreground, it was stopped for that.
    let _ = killpg(NixPid::from_raw(pid as i32), Signal::SIGCONT);
    let forward = |sig: Signal| {
        let _ = killpg(NixPid::from_raw(pid as i32), sig);
    };
    let mut child = signal(SignalKind::child())?;
    let (mut term, mut hup) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::hangup())?,
    );
    loop {
        tokio::select! {
            status = agent.wait() => return Ok(super::run::exit_code(status?)),
            _ = child.recv() => {
                if crate::procfs::read_stat(pid).is_some_and(|s| s.state == 'T') {
                    let launcher = std::os::unix::process::parent_id();
                    let _ = nix::sys::signal::kill(NixPid::from_raw(launcher as i32), Signal::SIGTSTP);
                }
            }
            _ = term.recv() => forward(Signal::SIGTERM),
            _ = hup.recv() => forward(Signal::SIGHUP),
        }
    }
}

/// The agent a terminal's leader started (its child), once it has.
pub fn led_by(lead: u32) -> Option<u32> {
    crate::procfs::all()
        .into_iter()
        .find(|(_, stat)| stat.ppid == lead)
        .map(|(pid, _)| pid)
}

/// Types `presses` into the agent's terminal through `keyboard` ([`Terminal::keyboard`]), one
/// at a time and a little apart (so that two Esc do not read as Alt-Esc, and each counts as a
/// press of its own).
pub async fn press(keyboard: &std_mpsc::Sender<Vec<u8>>, presses: &[String]) {
    for (i, key) in presses.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = keyboard.send(key.as_bytes().to_vec());
    }
}
