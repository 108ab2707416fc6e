//! The process reader, a leaf helper: which process is the agent, and is it still the same
//! process, read from `/proc/<pid>/stat`. `observatory hook` walks up from its parent past shells
//! and wrappers to find the agent; the session clock's liveness check calls
//! [`process_start_ticks`] with the pid and start ticks the hook reported, so that a recycled pid
//! is never mistaken for the agent. It imports nothing from the crate.

/// Programs that sit between an agent and its hook without being the agent: shells that run a
/// hook's command line, and wrappers that exec the next program. The walk goes past them.
pub const PASS_THROUGH: &[&str] = &[
    "sh", "bash", "dash", "zsh", "fish", "ksh", "ash", "busybox", "env", "timeout", "nohup",
    "sudo", "xargs",
];

/// Parent chains longer than this are not shells around a hook; stop rather than walk forever
/// (a pid loop cannot happen in a real process tree, but a lookup is only a snapshot).
const MAX_WALK: usize = 32;

/// The fields of `/proc/<pid>/stat` that the hook and the liveness check need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 2, without its parentheses; the kernel truncates it to 15 bytes.
    pub comm: String,
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), …
    pub state: char,
    /// Field 4.
    pub ppid: u32,
    /// Field 5: the process group.
    pub pgrp: u32,
    /// Field 22: when the process started, in clock ticks since boot. Together with the pid it
    /// names one process for good, since a reused pid starts later.
    pub start_ticks: u64,
}

impl ProcStat {
    /// A zombie has exited and only waits to be reaped: for liveness it is gone.
    pub fn is_gone(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses one `/proc/<pid>/stat` line. `comm` may itself contain spaces and parentheses (a
/// program can name itself anything), so the fixed fields are read after the *last* `)`.
pub fn parse_stat(line: &[u8]) -> Option<ProcStat> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = line.iter().rposition(|&b| b == b')')?;
    let comm = String::from_utf8_lossy(line.get(open + 1..close)?).into_owned();
    let rest = std::str::from_utf8(line.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    // After state, ppid and pgrp, field 22 (starttime) is the 17th of what is left.
    let start_ticks = fields.nth(16)?.parse().ok()?;
    Some(ProcStat {
        comm,
        state,
        ppid,
        pgrp,
        start_ticks,
    })
}

/// Reads and parses `/proc/<pid>/stat`; `None` when the process does not exist or there is no
/// `/proc` (not Linux).
pub fn read_stat(pid: u32) -> Option<ProcStat> {
    let line = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&line)
}

/// The process's arguments (`/proc/<pid>/cmdline`), empty when it is gone.
pub fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Whether `pid`'s standard input is a terminal; `None` when that cannot be read.
pub fn stdin_is_terminal(pid: u32) -> Option<bool> {
    let target = std::fs::read_link(format!("/proc/{pid}/fd/0")).ok()?;
    let t = target.to_string_lossy();
    Some(t.starts_with("/dev/pts/") || t.starts_with("/dev/tty") || t == "/dev/console")
}

/// Every live process: pid and what its `stat` says.
pub fn all() -> Vec<(u32, ProcStat)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid).filter(|s| !s.is_gone())?)))
        .collect()
}

/// The live descendants of `pid` (children, their children, …), parents before children.
pub fn descendants(pid: u32) -> Vec<u32> {
    let procs = all();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            procs
                .iter()
                .filter(|(_, s)| s.ppid == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// When process `pid` started, in clock ticks since boot; `None` when it does not exist, is a
/// zombie, or `/proc` is unavailable. A live process is the one the hook reported only if this
/// still equals the start ticks reported with its pid.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    read_stat(pid)
        .filter(|s| !s.is_gone())
        .map(|s| s.start_ticks)
}

/// The agent that ran this hook, as `(pid, start ticks)`: the first ancestor of this process
/// that is not a shell or wrapper. `None` without `/proc` or when the chain ends at init.
pub fn agent_process() -> Option<(u32, u64)> {
    walk_to_agent(std::process::id(), read_stat)
}

/// The walk behind [`agent_process`], over any `lookup` so it can be tested without processes:
/// from `hook_pid`'s parent upwards, skip [`PASS_THROUGH`] programs; the first other process is
/// the agent. Reaching pid 1 or 0 means the hook's parents were only shells (or the agent has
/// already exited and the shell was re-parented): no agent.
pub fn walk_to_agent(
    hook_pid: u32,
    lookup: impl Fn(u32) -> Option<ProcStat>,
) -> Option<(u32, u64)> {
    let mut pid = lookup(hook_pid)?.ppid;
    for _ in 0..MAX_WALK {
        if pid <= 1 {
            return None;
        }
        let stat = lookup(pid)?;
        if !PASS_THROUGH.contains(&stat.comm.as_str()) {
            return Some((pid, stat.start_ticks));
        }
        pid = stat.ppid;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_line(pid: u32, comm: &str, state: char, ppid: u32, start: u64) -> String {
        // The real layout: 52 fields, starttime is field 22.
        let mut fields: Vec<String> = vec![state.to_string(), ppid.to_string()];
        fields.extend((5..=21).map(|n| (n * 10).to_string()));
        fields.push(start.to_string());
        fields.extend((23..=52).map(|n| n.to_string()));
        format!("{pid} ({comm}) {}\n", fields.join(" "))
    }

    #[test]
    fn a_child_and_its_child_are_descendants() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .expect("sh");
        let me = std::process::id();
        let mut found = Vec::new();
        let under_child = |found: &[u32]| {
            found
                .iter()
                .any(|p| read_stat(*p).is_some_and(|s| s.ppid == child.id()))
        };
        for _ in 0..200 {
            // Other tests' children are descendants too: wait for this one's grandchild.
            found = descendants(me);
            if under_child(&found) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let grandchild = under_child(&found);
        let _ = std::process::Command::new("pkill")
            .args(["-P", &child.id().to_string()])
            .status();
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&child.id()), "{found:?}");
        assert!(grandchild, "the sleep under sh: {found:?}");
    }

    #[test]
    fn parses_a_real_stat_line() {
        let line = b"12345 (claude) S 4242 12345 4242 34817 12345 4194304 9823 0 12 0 310 95 0 0 20 0 11 0 8734512 1190354944 52011 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let s = parse_stat(line).expect("parses");
        assert_eq!(
            s,
            ProcStat {
                comm: "claude".into(),
                state: 'S',
                ppid: 4242,
                pgrp: 12345,
                start_ticks: 8734512
            }
        );
        assert!(!s.is_gone());
    }

    #[test]
    fn comm_with_spaces_and_parentheses() {
        let line = stat_line(7, "a) b (c) Z 9", 'R', 3, 777);
        let s = parse_stat(line.as_bytes()).expect("parses");
        assert_eq!(s.comm, "a) b (c) Z 9");
        assert_eq!((s.state, s.ppid, s.start_ticks), ('R', 3, 777));
    }

    #[test]
    fn zombies_are_gone() {
        let s = parse_stat(stat_line(7, "codex", 'Z', 1, 5).as_bytes()).expect("parses");
        assert!(s.is_gone());
    }

    #[test]
    fn truncated_or_garbage_lines_are_none() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"12 (x"), None);
        assert_eq!(parse_stat(b"12 (x) S 1 2 3"), None);
        assert_eq!(
            parse_stat(b"12 (x) S notanumber 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"),
            None
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let s = read_stat(me).expect("own stat");
        assert_eq!(process_start_ticks(me), Some(s.start_ticks));
        assert_eq!(s.ppid, std::os::unix::process::parent_id());
        // Pids never reach u32::MAX (the kernel caps them at 2^22).
        assert_eq!(process_start_ticks(u32::MAX), None);
    }

    #[cfg(not(target_os = "linux"))]
    #[test]
    fn without_proc_nothing_is_known() {
        assert_eq!(process_start_ticks(std::process::id()), None);
        assert_eq!(agent_process(), None);
    }

    /// A fake process table: pid → (comm, ppid, start).
    fn table<'a>(rows: &'a [(u32, &'a str, u32, u64)]) -> impl Fn(u32) -> Option<ProcStat> + 'a {
        move |pid| {
            rows.iter()
                .find(|r| r.0 == pid)
                .map(|&(_, comm, ppid, start)| ProcStat {
                    comm: comm.into(),
                    state: 'S',
                    ppid,
                    pgrp: pid,
                    start_ticks: start,
                })
        }
    }

    #[test]
    fn walk_skips_shells_and_wrappers() {
        let t = [
            (1, "systemd", 0, 1),
            (100, "node", 1, 1000),
            (200, "claude", 100, 2000),
            (300, "bash", 200, 3000),
            (400, "timeout", 300, 4000),
            (450, "sh", 400, 4500),
            (500, "observatory", 450, 5000),
        ];
        assert_eq!(walk_to_agent(500, table(&t)), Some((200, 2000)));
    }

    #[test]
    fn walk_stops_at_the_direct_parent_when_it_is_not_a_shell() {
        let t = [
            (1, "init", 0, 1),
            (10, "codex", 1, 99),
            (11, "observatory", 10, 100),
        ];
        assert_eq!(walk_to_agent(11, table(&t)), Some((10, 99)));
    }

    #[test]
    fn walk_through_shells_to_init_finds_no_agent() {
        let t = [
            (1, "init", 0, 1),
            (10, "bash", 1, 99),
            (11, "observatory", 10, 100),
        ];
        assert_eq!(walk_to_agent(11, table(&t)), None);
    }

    #[test]
    fn walk_with_a_vanished_parent_finds_no_agent() {
        let t = [(11, "observatory", 10, 100)];
        assert_eq!(walk_to_agent(11, table(&t)), None);
        assert_eq!(walk_to_agent(12, table(&t)), None);
    }

    #[test]
    fn walk_gives_up_on_a_loop() {
        let t = [
            (10, "sh", 11, 1),
            (11, "sh", 10, 2),
            (12, "observatory", 10, 3),
        ];
        assert_eq!(walk_to_agent(12, table(&t)), None);
    }

    #[test]
    fn a_program_named_like_a_shell_prefix_is_not_skipped() {
        let t = [
            (1, "init", 0, 1),
            (10, "bashful", 1, 7),
            (11, "observatory", 10, 8),
        ];
        assert_eq!(walk_to_agent(11, table(&t)), Some((10, 7)));
    }
}
