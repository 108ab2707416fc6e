//! Launches: agents started through `observatory run`, which registers each (its pid and start
//! time, argv, working directory) and then asks, in a loop, what to do next (a long poll). A
//! kill or restart of a launched session goes to its launcher, which stops the agent in its own
//! terminal and, for a restart, starts the agent's interactive resume command there. Kept in
//! memory: a launcher re-registers when the server comes back, and one that stops asking for a
//! minute is forgotten.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use crate::clock::Clock;
use crate::procfs;

/// A launcher that has not asked for this long is gone.
const GONE_AFTER_NS: i64 = 60 * 1_000_000_000;

/// What a launcher says of its agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Info {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub agent: String,
    pub pid: u32,
    pub start_ticks: u64,
    pub argv: Vec<String>,
    pub cwd: String,
    /// The launcher owns the agent's terminal (a pty between the user's terminal and the
    /// agent), so it can type the agent's interrupt keys.
    #[serde(default)]
    pub terminal: bool,
}

/// What the server asks of a launcher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub request_id: u64,
    /// `interrupt`, `kill` or `restart`.
    pub action: String,
    /// For a restart: the command that resumes the session in the terminal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resume: Vec<String>,
    /// For an interrupt: the key presses to type into the agent's terminal, and their name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keys_name: String,
    pub grace_secs: u64,
}

/// What a launcher did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub request_id: u64,
    pub ok: bool,
    pub detail: String,
}

struct Launch {
    info: Info,
    last_seen: i64,
    queue: VecDeque<Command>,
    wake: Arc<Notify>,
    waiting: HashMap<u64, oneshot::Sender<Report>>,
}

#[derive(Clone)]
pub struct Launches {
    inner: Arc<Mutex<HashMap<String, Launch>>>,
    next_request: Arc<std::sync::atomic::AtomicU64>,
    clock: Clock,
}

impl Launches {
    pub fn new(clock: Clock) -> Launches {
        Launches {
            inner: Arc::default(),
            next_request: Arc::default(),
            clock,
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Launch>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a launch, or updates it (a restarted agent has a new pid).
    pub fn register(&self, info: Info) {
        let now = self.clock.now();
        let mut map = self.map();
        match map.get_mut(&info.id) {
            Some(l) => {
                l.info = info;
                l.last_seen = now;
            }
            None => {
                let launch = Launch {
                    info: info.clone(),
                    last_seen: now,
                    queue: VecDeque::new(),
                    wake: Arc::default(),
                    waiting: HashMap::new(),
                };
                map.insert(info.id, launch);
            }
        }
    }

    pub fn unregister(&self, id: &str) -> bool {
        self.map().remove(id).is_some()
    }

    /// The launch whose agent is `pid` or one of its ancestors (a wrapper the launcher started),
    /// if its launcher still asks.
    pub fn of_process(&self, pid: u32) -> Option<Info> {
        let now = self.clock.now();
        let mut map = self.map();
        map.retain(|_, l| now - l.last_seen < GONE_AFTER_NS);
        let mut cursor = pid;
        for _ in 0..16 {
            if let Some(l) = map.values().find(|l| l.info.pid == cursor) {
                return Some(l.info.clone());
            }
            cursor = procfs::read_stat(cursor)?.ppid;
            if cursor <= 1 {
                return None;
            }
        }
        None
    }

    /// The next command for launch `id`, waiting up to `wait` for one; `Err` when the launch
    /// is unknown (the server restarted: register again).
    pub async fn next(&self, id: &str, wait: Duration) -> Result<Option<Command>, ()> {
        let wake = {
            let mut map = self.map();
            let l = map.get_mut(id).ok_or(())?;
            l.last_seen = self.clock.now();
            if let Some(c) = l.queue.pop_front() {
                return Ok(Some(c));
            }
            l.wake.clone()
        };
        let _ = tokio::time::timeout(wait, wake.notified()).await;
        let mut map = self.map();
        let l = map.get_mut(id).ok_or(())?;
        l.last_seen = self.clock.now();
        Ok(l.queue.pop_front())
    }

    /// Takes a launcher's report of a command.
    pub fn report(&self, id: &str, r: Report) -> bool {
        let sender = self
            .map()
            .get_mut(id)
            .and_then(|l| l.waiting.remove(&r.request_id));
        sender.is_some_and(|s| s.send(r).is_ok())
    }

    /// Asks launch `id` to do `command` (its request id is given here), and waits up to
    /// `wait` for its report.
    pub async fn ask(
        &self,
        id: &str,
        mut command: Command,
        wait: Duration,
    ) -> Result<Report, String> {
        let request_id = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        command.request_id = request_id;
        let (tx, rx) = oneshot::channel();
        {
            let mut map = self.map();
            let l = map
                .get_mut(id)
                .ok_or("its `observatory run` is no longer connected")?;
            l.queue.push_back(command);
            l.waiting.insert(request_id, tx);
            l.wake.notify_one();
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(r)) => Ok(r),
            _ => Err(format!(
                "its `observatory run` did not answer within {} s",
                wait.as_secs()
            )),
        }
    }
}
