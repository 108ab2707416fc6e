//! Signals to an agent's processes: the process itself only when it is still the one a hook
//! reported (same pid, same start time — a reused pid is never signalled), its descendants for
//! a kill (Gemini CLI re-launches itself as a child node process that a SIGTERM to the parent
//! does not stop), SIGKILL for whatever outlives the grace period.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::normalize::Process;
use crate::procfs;

/// Whether `p` still runs as the same process.
pub fn same(p: Process) -> bool {
    procfs::process_start_ticks(p.pid) == Some(p.start_ticks)
}

/// The program's name, for messages.
pub fn name(pid: u32) -> String {
    procfs::read_stat(pid).map_or_else(|| "the process".into(), |s| s.comm)
}

pub fn send(pid: u32, signal: Signal) -> Result<(), String> {
    let raw = i32::try_from(pid).map_err(|_| format!("pid {pid} is out of range"))?;
    kill(Pid::from_raw(raw), signal).map_err(|e| format!("{signal} to {pid}: {e}"))
}

/// What a kill did.
#[derive(Debug)]
pub struct Killed {
    /// Processes signalled: the agent, then its descendants.
    pub pids: Vec<u32>,
    /// Those still alive after the grace period, sent SIGKILL.
    pub forced: Vec<u32>,
    pub took: Duration,
}

impl Killed {
    pub fn describe(&self, agent_pid: u32) -> String {
        let children = self.pids.len().saturating_sub(1);
        let tree = match children {
            0 => format!("{} (pid {agent_pid})", name_or(agent_pid)),
            n => format!(
                "{} (pid {agent_pid}) and {n} child process(es)",
                name_or(agent_pid)
            ),
        };
        let secs = self.took.as_secs_f64();
        if self.forced.is_empty() {
            format!("sent SIGTERM to {tree}; all exited within {secs:.1} s")
        } else {
            format!(
                "sent SIGTERM to {tree}; {} still ran after {secs:.1} s and got SIGKILL",
                self.forced.len()
            )
        }
    }
}

fn name_or(pid: u32) -> String {
    let n = name(pid);
    if n == "the process" {
        "the agent".into()
    } else {
        n
    }
}

/// SIGTERM to `agent` and every descendant, then SIGKILL to whatever still runs after `grace`.
/// Waits (polling `/proc`) until all are gone or were sent SIGKILL.
pub async fn kill_tree(agent: Process, grace: Duration) -> Result<Killed, String> {
    let started = Instant::now();
    let mut pids = vec![agent.pid];
    pids.extend(procfs::descendants(agent.pid));
    let tracked: Vec<(u32, Option<u64>)> = pids
        .iter()
        .map(|p| (*p, procfs::process_start_ticks(*p)))
        .collect();
    send(agent.pid, Signal::SIGTERM)?;
    for (pid, _) in &tracked[1..] {
        let _ = send(*pid, Signal::SIGTERM);
    }
    let alive = |t: &(u32, Option<u64>)| t.1.is_some() && procfs::process_start_ticks(t.0) == t.1;
    while started.elapsed() < grace && tracked.iter().any(alive) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let forced: Vec<u32> = tracked.iter().filter(|t| alive(t)).map(|t| t.0).collect();
    for pid in &forced {
        let _ = send(*pid, Signal::SIGKILL);
    }
    Ok(Killed {
        pids,
        forced,
        took: started.elapsed(),
    })
}
