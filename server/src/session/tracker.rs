//! The tracker: the session state every later stage reads, kept in memory for the sessions
//! whose run is not over, and turned into a [`Commit`] per batch. It is pure: the caller passes
//! the time, a [`Backing`] to load sessions it has not seen since start-up (the store implements
//! it, so this module never names the store), and a [`Liveness`] to ask whether a process lives.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};

use super::state::{self, Arrival, Clock, State, Timers};
use crate::normalize::{EventKind, Process, SessionEvent, TurnRef, hooks};
use crate::proto::store::{Cost, Counts, Event, Session, Tokens, Turn};

/// Everything one batch changes, for the store to write in one transaction.
#[derive(Debug, Default)]
pub struct Commit {
    pub events: Vec<Event>,
    /// For each of `events` (same index), its attributes already encoded by an ingest worker
    /// (empty when the event still holds them): the stored bytes are the event's encoding
    /// followed by these.
    pub encoded_attributes: Vec<Vec<u8>>,
    pub sessions: Vec<Session>,
    pub turns: Vec<Turn>,
    /// (session id, fact key, seq of the event that reported it)
    pub facts: Vec<(String, String, u64)>,
    /// (session id, turn id) of turns that turned out not to be turns (see
    /// [`Live::close_open_turns`]): deleted.
    pub removed_turns: Vec<(String, String)>,
}

/// Where the tracker finds sessions it has not seen since start-up: the store, in the server.
pub trait Backing {
    /// One session as stored, with its turns and facts.
    fn load(&self, session_id: &str) -> anyhow::Result<Option<Loaded>>;
    /// Every stored session (their turns and facts are loaded later, by [`Backing::load`]).
    fn sessions(&self) -> anyhow::Result<Vec<Session>>;
}

/// A session as stored, with its turns and the facts it has seen.
pub struct Loaded {
    pub session: Session,
    pub turns: Vec<Turn>,
    pub facts: Vec<String>,
}

/// Whether `id` is already the id of the event's session (`<agent>:<native id>`).
fn same_session(id: &str, ev: &SessionEvent) -> bool {
    id.strip_prefix(ev.agent.as_str())
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|native| native == ev.native_id)
}

/// A backing with nothing in it, for a fresh tracker in tests.
pub struct NoBacking;

impl Backing for NoBacking {
    fn load(&self, _: &str) -> anyhow::Result<Option<Loaded>> {
        Ok(None)
    }
    fn sessions(&self) -> anyhow::Result<Vec<Session>> {
        Ok(Vec::new())
    }
}

/// Whether an agent's process still runs. The server asks `/proc`; tests answer themselves.
pub trait Liveness {
    fn alive(&self, process: Process) -> bool;
}

/// Timer limits per agent (`session.agents.<agent>` in the config), and for the rest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    pub default: Timers,
    pub agents: HashMap<String, Timers>,
}

impl Limits {
    fn of(&self, agent: &str) -> &Timers {
        self.agents.get(agent).unwrap_or(&self.default)
    }
}

/// Telemetry and a hook report the same prompt within this much of each other: how far apart
/// two first reports of a turn may be for one source to adopt the other's turn.
const ADOPT_WINDOW: i64 = 10_000_000_000;
/// A `SessionEnd` this soon after the process was found gone means the run ended, not crashed:
/// some agents fire it on the way out and do not wait for it.
const END_GRACE: i64 = 5_000_000_000;
/// A session whose run is over leaves memory this long after (it is reloaded if it comes back).
const EVICT_AFTER: i64 = 60_000_000_000;
/// How many tool ends without a call id the tracker keeps to pair with the other source's report.
const UNMATCHED_MAX: usize = 32;

/// Which sources have reported a turn: one opened by a hook is adopted by the telemetry's first
/// report of the same prompt (and the other way round), so both name one turn.
#[derive(Clone, Copy, Debug)]
struct Claim {
    hook: bool,
    shared: bool,
    started: i64,
}

/// A tool call started and not yet finished.
#[derive(Clone, Debug)]
struct OpenTool {
    id: String,
    name: String,
    started: i64,
}

/// A finished tool call one source reported without an id its other source shares (Gemini and
/// Copilot hooks name no call id): paired with the other source's report by tool name. A failed
/// model call too (Copilot CLI's `errorOccurred` hook and its failed `chat` span; OpenCode's
/// retry status and its error span): paired by its turn, attempt for attempt.
#[derive(Clone, Debug)]
struct Unmatched {
    from_hook: bool,
    name: String,
}

struct Live {
    session: Session,
    turns: HashMap<String, Turn>,
    /// Facts already recorded, so a second report of the same one is dropped.
    facts: HashSet<String>,
    /// Other names of turns: the telemetry's key for a turn a hook opened, or the reverse.
    aliases: HashMap<String, String>,
    claims: HashMap<String, Claim>,
    open_tools: Vec<OpenTool>,
    unmatched: VecDeque<Unmatched>,
    /// Taken up at start-up without its turns and facts, which are read on its next report.
    partial: bool,
    /// Changed by the batch being applied, and so to be written with it.
    dirty: bool,
    /// Turns changed by the batch being applied.
    dirty_turns: Vec<String>,
    /// Turns dropped since the last write (see [`Live::close_open_turns`]).
    removed_turns: Vec<String>,
    /// The turns a hook spoke of, while the session's hooks are heard (since start-up).
    hooked_turns: Option<HashSet<String>>,
    /// The observatory is stopping the agent (kill or restart asked, not finished).
    stopping: bool,
}

pub struct Tracker {
    sessions: HashMap<String, Live>,
    next_seq: u64,
    limits: Limits,
}

/// What applying a batch produced.
#[derive(Debug, Default)]
pub struct Applied {
    pub commit: Commit,
    /// Positions (in the input) of events dropped because their fact was already recorded.
    pub duplicates: Vec<usize>,
}

impl Tracker {
    /// A tracker whose next event gets `last_seq + 1`.
    pub fn new(last_seq: u64) -> Tracker {
        Tracker::with_limits(last_seq, Limits::default())
    }

    pub fn with_limits(last_seq: u64, limits: Limits) -> Tracker {
        Tracker {
            sessions: HashMap::new(),
            next_seq: last_seq + 1,
            limits,
        }
    }

    /// Takes up the sessions whose run was not over when the server stopped, so their timers and
    /// process checks go on.
    pub fn resume(&mut self, store: &dyn Backing) -> anyhow::Result<usize> {
        let mut n = 0;
        for s in store.sessions()? {
            let state = State::parse(&s.state).unwrap_or(State::Active);
            if state.is_final() || self.sessions.contains_key(&s.id) {
                continue;
            }
            // Only the session: its turns and facts are read when it next reports (see
            // `Live::partial`), so a restart with many open sessions stays quick and small.
            let mut live = Live::loaded(Loaded {
                session: s,
                turns: Vec::new(),
                facts: Vec::new(),
            });
            live.partial = true;
            self.sessions.insert(live.session.id.clone(), live);
            n += 1;
        }
        Ok(n)
    }

    /// Applies a batch of normalized events at time `now` (Unix nanoseconds): assigns seqs,
    /// updates sessions and turns, and returns everything to write.
    pub fn apply(
        &mut self,
        events: Vec<SessionEvent>,
        now: i64,
        backing: &dyn Backing,
    ) -> anyhow::Result<Applied> {
        let mut out = Applied::default();
        // Sessions changed by this batch, in first-touch order; each is written once.
        let mut touched: Vec<String> = Vec::new();
        let mut id = String::new();
        for (pos, mut ev) in events.into_iter().enumerate() {
            // Batches come in runs of one session: build its id only when the session changes.
            if !same_session(&id, &ev) {
                id = ev.session_id();
            }
            match self.sessions.get_mut(&id) {
                None => {
                    let live = match backing.load(&id)? {
                        Some(l) => Live::loaded(l),
                        None => Live::new(&id, &ev, now),
                    };
                    self.sessions.insert(id.clone(), live);
                }
                Some(live) if live.partial => {
                    if let Some(l) = backing.load(&id)? {
                        live.complete(l.turns, l.facts);
                    }
                    live.partial = false;
                }
                Some(_) => {}
            }
            let Some(live) = self.sessions.get_mut(&id) else {
                continue;
            };
            let Some(kind) = ev.kind() else { continue };
            let t = event_time(&ev.event, now);
            live.resolve_turn(&mut ev, kind, t);
            if live.repeats_turn_end(&ev, kind) || live.pairs_anonymous(&ev, kind) {
                // A second report of a tool's end still finishes the tool its source opened.
                if kind == EventKind::ToolFinished {
                    live.finish_open_tool(&ev.event);
                }
                // Its own id is known now too (a hook's repeat of it is a duplicate).
                if let Some(key) = &ev.fact_key {
                    live.facts.insert(key.clone());
                }
                // The second report of a turn's end may be the one that says what the agent
                // said (the hook, after the log).
                if live.keep_last_message(&ev.event) && !live.dirty {
                    live.dirty = true;
                    touched.push(id.clone());
                }
                out.duplicates.push(pos);
                continue;
            }
            if let Some(key) = &ev.fact_key {
                if live.facts.contains(key) {
                    if kind == EventKind::ToolFinished {
                        live.finish_open_tool(&ev.event);
                    }
                    out.duplicates.push(pos);
                    continue;
                }
                live.facts.insert(key.clone());
                out.commit
                    .facts
                    .push((id.clone(), key.clone(), self.next_seq));
            }
            let changed = live.apply(ev, kind, &id, now, &mut self.next_seq, &mut out.commit);
            if changed && !live.dirty {
                live.dirty = true;
                touched.push(id.clone());
            }
        }
        self.collect(touched, &mut out.commit);
        Ok(out)
    }

    /// What time and the agents' processes say: stalls, expiries and crashes as of `now`.
    pub fn tick(&mut self, now: i64, liveness: &dyn Liveness) -> Commit {
        let mut commit = Commit::default();
        let mut touched = Vec::new();
        for (id, live) in &mut self.sessions {
            let current = live.state();
            let s = &live.session;
            let process = (s.pid != 0).then_some(Process {
                pid: s.pid,
                start_ticks: s.pid_start_ticks,
            });
            let next = match process {
                Some(p) if !current.is_final() && !liveness.alive(p) => Some(if live.stopping {
                    (State::Killed, "killed")
                } else {
                    (State::Crashed, "process_gone")
                }),
                _ => state::on_clock(
                    current,
                    Clock {
                        now,
                        last_activity: s.last_activity_unix_nano,
                        tool_open: !live.open_tools.is_empty(),
                        watched: process.is_some(),
                    },
                    self.limits.of(&s.agent),
                ),
            };
            if let Some((next, reason)) = next {
                let turn = live.session.current_turn.clone();
                live.change(
                    current,
                    (next, reason),
                    now,
                    &turn,
                    &mut self.next_seq,
                    &mut commit,
                );
                live.dirty = true;
                touched.push(id.clone());
            }
        }
        self.collect(touched, &mut commit);
        // Runs long over need no timers: free them (they are reloaded if they come back).
        self.sessions.retain(|_, l| {
            !(l.state().is_final()
                && now.saturating_sub(l.session.state_since_unix_nano) > EVICT_AFTER)
        });
        commit
    }

    /// Moves the touched sessions and their changed turns into the commit.
    fn collect(&mut self, touched: Vec<String>, commit: &mut Commit) {
        for id in touched {
            if let Some(live) = self.sessions.get_mut(&id) {
                live.dirty = false;
                commit.sessions.push(live.session.clone());
                for tid in std::mem::take(&mut live.dirty_turns) {
                    if let Some(t) = live.turns.get(&tid) {
                        commit.turns.push(t.clone());
                    }
                }
                for tid in std::mem::take(&mut live.removed_turns) {
                    commit.removed_turns.push((id.clone(), tid));
                }
            }
        }
    }

    /// Lets go of a session that retention deletes, unless its run is not over (it came back
    /// since retention chose it): `false` then, and it is kept.
    pub fn forget(&mut self, id: &str) -> bool {
        let running = self
            .sessions
            .get(id)
            .is_some_and(|l| !State::parse(&l.session.state).is_some_and(State::is_final));
        if !running {
            self.sessions.remove(id);
        }
        !running
    }

    /// Current state of a session the tracker holds in memory.
    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id).map(|l| &l.session)
    }
}

impl Live {
    fn new(id: &str, ev: &SessionEvent, now: i64) -> Live {
        let t = event_time(&ev.event, now);
        Live::loaded(Loaded {
            session: Session {
                id: id.to_owned(),
                agent: ev.agent.as_str().to_owned(),
                native_id: ev.native_id.clone(),
                first_seen_unix_nano: t,
                last_seen_unix_nano: t,
                state: State::Active.as_str().to_owned(),
                state_since_unix_nano: t,
                counts: Some(Counts::default()),
                tokens: Some(Tokens::default()),
                cost: Some(Cost::default()),
                runs: 1,
                last_activity_unix_nano: now,
                ..Session::default()
            },
            turns: Vec::new(),
            facts: Vec::new(),
        })
    }

    fn loaded(l: Loaded) -> Live {
        let mut live = Live {
            session: l.session,
            turns: HashMap::new(),
            facts: HashSet::new(),
            aliases: HashMap::new(),
            claims: HashMap::new(),
            open_tools: Vec::new(),
            unmatched: VecDeque::new(),
            partial: false,
            dirty: false,
            dirty_turns: Vec::new(),
            removed_turns: Vec::new(),
            hooked_turns: None,
            stopping: false,
        };
        live.complete(l.turns, l.facts);
        live
    }

    /// Takes the stored turns and facts; the session itself stays as held (the clock may have
    /// moved it since it was read).
    fn complete(&mut self, turns: Vec<Turn>, facts: Vec<String>) {
        for t in turns {
            // Turns from before a restart are settled: no source adopts them any more.
            let c = Claim {
                hook: true,
                shared: true,
                started: t.started_unix_nano,
            };
            self.claims.insert(t.id.clone(), c);
            self.turns.insert(t.id.clone(), t);
        }
        self.facts.extend(facts);
    }

    fn state(&self) -> State {
        State::parse(&self.session.state).unwrap_or(State::Active)
    }

    /// Rewrites the event's turn to the one name the session uses for it (see [`TurnRef`]).
    fn resolve_turn(&mut self, ev: &mut SessionEvent, kind: EventKind, t: i64) {
        let from_hook = ev.turn_ref == TurnRef::Hook;
        let key = std::mem::take(&mut ev.event.turn_id);
        if key.is_empty() {
            ev.event.turn_id = match kind {
                EventKind::SessionStarted | EventKind::SessionEnded => String::new(),
                EventKind::Prompt if from_hook => {
                    match self.adoptable(t, from_hook, true) {
                        Some(turn) => turn,
                        // A hook prompt that names no turn opens one under a name of its own.
                        None => format!("hook:{t}"),
                    }
                }
                _ => self.session.current_turn.clone(),
            };
            if kind == EventKind::Prompt && from_hook {
                self.claim(&ev.event.turn_id, from_hook, t);
            }
            return;
        }
        if let Some(turn) = self.aliases.get(&key) {
            ev.event.turn_id = turn.clone();
            return;
        }
        if !self.claims.contains_key(&key) && !self.turns.contains_key(&key) {
            let timed = kind == EventKind::Prompt;
            if let Some(turn) = self.adoptable(t, from_hook, timed) {
                self.aliases.insert(key, turn.clone());
                self.claim(&turn, from_hook, t);
                ev.event.turn_id = turn;
                return;
            }
        }
        self.claim(&key, from_hook, t);
        ev.event.turn_id = key;
    }

    fn claim(&mut self, turn: &str, from_hook: bool, t: i64) {
        // Looked up before inserting: nearly every event names a turn already claimed, and the
        // key need not be copied for those.
        if !self.claims.contains_key(turn) {
            let c = Claim {
                hook: false,
                shared: false,
                started: t,
            };
            self.claims.insert(turn.to_owned(), c);
        }
        let Some(c) = self.claims.get_mut(turn) else {
            return;
        };
        c.started = c.started.min(t);
        if from_hook {
            c.hook = true;
        } else {
            c.shared = true;
        }
    }

    /// A turn the other source opened and this one has not reported yet. For a prompt, the one
    /// that started closest to it (within [`ADOPT_WINDOW`]); for anything else, the latest turn.
    /// The turn may have ended already: one source often reports a whole short turn before the
    /// other's batch arrives.
    fn adoptable(&self, t: i64, from_hook: bool, timed: bool) -> Option<String> {
        let unclaimed = |c: &Claim| {
            if from_hook {
                c.shared && !c.hook
            } else {
                c.hook && !c.shared
            }
        };
        if !timed {
            let cur = &self.session.current_turn;
            return self
                .claims
                .get(cur)
                .filter(|c| unclaimed(c))
                .map(|_| cur.clone());
        }
        self.claims
            .iter()
            .filter(|(_, c)| unclaimed(c) && (c.started - t).abs() <= ADOPT_WINDOW)
            .min_by_key(|(_, c)| (c.started - t).abs())
            .map(|(id, _)| id.clone())
    }

    /// Keeps what the agent said last on the turn the event ends; whether that changed it.
    fn keep_last_message(&mut self, event: &Event) -> bool {
        let Some(turn) = self.turns.get_mut(&event.turn_id) else {
            return false;
        };
        if event.detail.is_empty() || turn.last_message == event.detail {
            return false;
        }
        turn.last_message.clone_from(&event.detail);
        if !self.dirty_turns.contains(&turn.id) {
            self.dirty_turns.push(turn.id.clone());
        }
        true
    }

    /// A turn end for a turn that already ended the same way: agents report it from several
    /// sources (Claude's Stop hook and its log, Codex's Stop hook and its notify program), and
    /// it is one fact.
    fn repeats_turn_end(&self, ev: &SessionEvent, kind: EventKind) -> bool {
        let status = match kind {
            EventKind::TurnFinished => "finished",
            EventKind::TurnFailed => "failed",
            _ => return false,
        };
        self.turns
            .get(&ev.event.turn_id)
            .is_some_and(|t| t.status == status)
    }

    /// A finished tool call or a failed model call that the other source already reported
    /// under no shared id (see [`Unmatched`]): the same one, reported twice. Otherwise remembers
    /// it for the other source.
    fn pairs_anonymous(&mut self, ev: &SessionEvent, kind: EventKind) -> bool {
        let from_hook = ev.event.source == hooks::SOURCE;
        let key = match kind {
            // Hooks without ids pair with telemetry, and the reverse; hooks with ids meet the
            // telemetry's report by fact key instead.
            EventKind::ToolFinished if !from_hook || ev.event.tool_call_id.is_empty() => {
                Cow::Borrowed(ev.event.tool_name.as_str())
            }
            EventKind::ApiError if ev.fact_key.is_none() => {
                Cow::Owned(format!("\0api_error {}", ev.event.turn_id))
            }
            // A model call a hook reports with its own id (OpenCode's completed message) and
            // the telemetry's span of it, which names no message: paired by turn and model. A
            // repeat of the hook's report is the fact key's to drop.
            EventKind::ApiRequest
                if from_hook && ev.fact_key.as_ref().is_some_and(|k| self.facts.contains(k)) =>
            {
                return false;
            }
            EventKind::ApiRequest if from_hook || ev.fact_key.is_none() => {
                Cow::Owned(format!("\0api {} {}", ev.event.turn_id, ev.event.model))
            }
            _ => return false,
        };
        let name = key.as_ref();
        if let Some(i) = self
            .unmatched
            .iter()
            .position(|u| u.from_hook != from_hook && u.name.eq_ignore_ascii_case(name))
        {
            self.unmatched.remove(i);
            return true;
        }
        if self.unmatched.len() == UNMATCHED_MAX {
            self.unmatched.pop_front();
        }
        self.unmatched.push_back(Unmatched {
            from_hook,
            name: key.into_owned(),
        });
        false
    }

    /// Starts a new run of the session: a resumed session, or a new process serving it.
    fn new_run(&mut self) {
        self.session.runs += 1;
        self.session.end_reason.clear();
        self.open_tools.clear();
        self.session.current_tool.clear();
    }

    /// Applies one event; returns whether the session changed in a way worth writing.
    fn apply(
        &mut self,
        ev: SessionEvent,
        kind: EventKind,
        id: &str,
        now: i64,
        next_seq: &mut u64,
        out: &mut Commit,
    ) -> bool {
        let current = self.state();
        let t = event_time(&ev.event, now);
        let SessionEvent {
            service_version,
            cwd,
            process,
            mut event,
            encoded_attributes,
            ..
        } = ev;
        self.note_arrival(t, now, service_version, cwd, &event.model);
        let run_started = self.follow_run(process, kind, &event.reason, current, t);
        let new_turn = self.open_turn(&event, kind, id, t, *next_seq);
        if event.source == hooks::SOURCE {
            let hooked = self.hooked_turns.get_or_insert_default();
            if !event.turn_id.is_empty() {
                hooked.insert(event.turn_id.clone());
            }
        }
        let mut arrival = self.arrival(kind, t, &event.turn_id, new_turn);
        arrival.stops = self.note_control(kind, &event);
        let abandoned = self.track_tools(kind, &mut event, t, arrival.current_turn);
        self.abandon_tools(
            abandoned,
            "unfinished when the session ended",
            (id, t),
            next_seq,
            out,
        );
        self.count_event(kind, &event, t);
        let next = self.next_state(current, arrival, run_started);
        if kind == EventKind::SessionEnded && !event.reason.is_empty() {
            self.session.end_reason.clone_from(&event.reason);
        }
        let stored = kind != EventKind::Heartbeat;
        let turn = if stored {
            self.store(event, encoded_attributes, id, t, next_seq, out)
        } else {
            event.turn_id
        };
        if let Some(next) = next {
            self.change(current, next, t, &turn, next_seq, out);
        }
        stored || next.is_some() || run_started || process.is_some()
    }

    /// Widens the session's seen times to the event's and keeps what the event says about the
    /// agent: its version, working directory and model.
    fn note_arrival(
        &mut self,
        t: i64,
        now: i64,
        service_version: Option<String>,
        cwd: Option<String>,
        model: &str,
    ) {
        let s = &mut self.session;
        s.first_seen_unix_nano = s.first_seen_unix_nano.min(t);
        s.last_seen_unix_nano = s.last_seen_unix_nano.max(t);
        s.last_activity_unix_nano = s.last_activity_unix_nano.max(now);
        if let Some(v) = service_version.filter(|v| !v.is_empty()) {
            s.service_version = v;
        }
        if let Some(cwd) = cwd.filter(|c| !c.is_empty()) {
            s.cwd = cwd;
        }
        if !model.is_empty() && !s.models.iter().any(|m| m == model) {
            s.models.push(model.to_owned());
        }
    }

    /// Keeps the event's process and starts a new run when the event begins one: a new process,
    /// a resume, or any report after the run was over. Returns whether it started one.
    fn follow_run(
        &mut self,
        process: Option<Process>,
        kind: EventKind,
        reason: &str,
        current: State,
        t: i64,
    ) -> bool {
        let mut run_started = false;
        if let Some(p) = process {
            let s = &self.session;
            let known = s.pid != 0;
            if known && (s.pid, s.pid_start_ticks) != (p.pid, p.start_ticks) {
                run_started = true;
            }
            self.session.pid = p.pid;
            self.session.pid_start_ticks = p.start_ticks;
        }
        if !run_started && self.session.events > 0 {
            // Telemetry arrives late and out of order: a report from before the run ended is
            // about that run.
            let after_end = current.is_final() && t > self.session.state_since_unix_nano;
            run_started = match kind {
                EventKind::SessionStarted => after_end || reason == "resume",
                EventKind::Prompt => after_end,
                _ => false,
            };
        }
        if run_started {
            self.new_run();
            if process.is_none() {
                // The new run's process is not known yet: the old one says nothing about it.
                self.session.pid = 0;
                self.session.pid_start_ticks = 0;
            }
        }
        run_started
    }

    /// Opens the event's turn when the session has not seen it; returns whether it did. `seq` is
    /// the event's, the turn's first.
    fn open_turn(&mut self, event: &Event, kind: EventKind, id: &str, t: i64, seq: u64) -> bool {
        if event.turn_id.is_empty()
            || kind == EventKind::Heartbeat
            || self.turns.contains_key(&event.turn_id)
        {
            return false;
        }
        let s = &mut self.session;
        let counts = s.counts.get_or_insert_default();
        counts.turns += 1;
        let turn = Turn {
            id: event.turn_id.clone(),
            session_id: id.to_owned(),
            index: counts.turns,
            started_unix_nano: t,
            status: "open".into(),
            counts: Some(Counts::default()),
            tokens: Some(Tokens::default()),
            cost: Some(Cost::default()),
            first_seq: seq,
            ..Turn::default()
        };
        self.turns.insert(event.turn_id.clone(), turn);
        s.current_turn.clone_from(&event.turn_id);
        true
    }

    /// Where the event stands against the session's turns, for the state machine.
    fn arrival(&self, kind: EventKind, t: i64, turn_id: &str, new_turn: bool) -> Arrival {
        let s = &self.session;
        Arrival {
            kind,
            time: t,
            state_since: s.state_since_unix_nano,
            current_turn: turn_id.is_empty() || turn_id == s.current_turn,
            new_turn,
            closed_turn: self.turns.get(turn_id).is_some_and(|t| t.status != "open"),
            stops: false,
            new_session: s.events == 0,
        }
    }

    /// Follows the observatory's own control of the agent: while a kill or restart is under
    /// way, the process going away or the session ending is that, not a crash or an end of its
    /// own. Returns whether the event says the agent was stopped.
    fn note_control(&mut self, kind: EventKind, event: &Event) -> bool {
        let stopping = matches!(event.name.as_str(), "kill" | "restart");
        match kind {
            EventKind::ControlRequested => {
                self.stopping |= stopping;
                false
            }
            EventKind::ControlFinished => {
                self.stopping = false;
                stopping && event.success == Some(true)
            }
            // An agent ends its session itself on our SIGTERM (Claude Code runs its SessionEnd
            // hook before the kill is reported): that is the kill.
            EventKind::SessionEnded => self.stopping,
            _ => false,
        }
    }

    /// Tools in flight: for the stall limit, the "running" display, and hook durations (a tool
    /// end that says no duration gets the time since its start). Returns the tools the event
    /// leaves unfinished (the session ended under them).
    fn track_tools(
        &mut self,
        kind: EventKind,
        event: &mut Event,
        t: i64,
        current_turn: bool,
    ) -> Vec<OpenTool> {
        let mut abandoned = Vec::new();
        match kind {
            EventKind::ToolStarted => self.open_tools.push(OpenTool {
                id: event.tool_call_id.clone(),
                name: event.tool_name.clone(),
                started: t,
            }),
            EventKind::ToolFinished => {
                if let Some(open) = self.finish_open_tool(event)
                    && event.duration_ms.is_none()
                    && t >= open.started
                {
                    event.duration_ms = Some((t - open.started) as f64 / 1e6);
                }
            }
            // A turn's end may come before the telemetry that finishes its tools: only an ended
            // session leaves them unfinished for good.
            EventKind::TurnFinished | EventKind::TurnFailed if current_turn => {
                self.open_tools.clear();
            }
            EventKind::SessionEnded if current_turn => {
                abandoned = std::mem::take(&mut self.open_tools);
            }
            _ => {}
        }
        if matches!(
            kind,
            EventKind::ToolStarted
                | EventKind::ToolFinished
                | EventKind::TurnFinished
                | EventKind::TurnFailed
                | EventKind::SessionEnded
        ) {
            self.session.current_tool = self
                .open_tools
                .last()
                .map(|o| o.name.clone())
                .unwrap_or_default();
        }
        abandoned
    }

    /// The open tool a tool end finishes (by call id, or by name when a source names no id).
    fn finish_open_tool(&mut self, event: &Event) -> Option<OpenTool> {
        let by_id = |o: &OpenTool| !o.id.is_empty() && o.id == event.tool_call_id;
        let pos = self.open_tools.iter().position(by_id).or_else(|| {
            self.open_tools
                .iter()
                .position(|o| o.name.eq_ignore_ascii_case(&event.tool_name))
        });
        let open = pos.map(|i| self.open_tools.remove(i));
        self.session.current_tool = self
            .open_tools
            .last()
            .map(|o| o.name.clone())
            .unwrap_or_default();
        open
    }

    /// Records each tool its run ended under as a call that failed (SIGTERM mid-tool, a crash),
    /// so that no call goes uncounted; its fact is kept, so a late report of the same call is a
    /// duplicate.
    fn abandon_tools(
        &mut self,
        tools: Vec<OpenTool>,
        why: &str,
        (id, t): (&str, i64),
        next_seq: &mut u64,
        out: &mut Commit,
    ) {
        for o in tools {
            if !o.id.is_empty() {
                let key = format!("tool:{}", o.id);
                if !self.facts.insert(key.clone()) {
                    continue;
                }
                out.facts.push((id.to_owned(), key, *next_seq));
            }
            let ev = Event {
                kind: EventKind::ToolFinished.as_str().into(),
                source: "observatory".into(),
                turn_id: self.session.current_turn.clone(),
                tool_name: o.name,
                tool_call_id: o.id,
                success: Some(false),
                error: why.into(),
                duration_ms: Some((t - o.started).max(0) as f64 / 1e6),
                time_unix_nano: t,
                ..Event::default()
            };
            self.count_event(EventKind::ToolFinished, &ev, t);
            self.store(ev, Vec::new(), id, t, next_seq, out);
        }
    }

    /// Counts the event on the session and on its turn, and closes the turn the event ends.
    fn count_event(&mut self, kind: EventKind, event: &Event, t: i64) {
        let s = &mut self.session;
        count(
            s.counts.get_or_insert_default(),
            s.tokens.get_or_insert_default(),
            s.cost.get_or_insert_default(),
            kind,
            event,
        );
        let Some(turn) = self.turns.get_mut(&event.turn_id) else {
            return;
        };
        turn.started_unix_nano = turn.started_unix_nano.min(t);
        count(
            turn.counts.get_or_insert_default(),
            turn.tokens.get_or_insert_default(),
            turn.cost.get_or_insert_default(),
            kind,
            event,
        );
        if matches!(kind, EventKind::TurnFinished | EventKind::TurnFailed)
            && !event.detail.is_empty()
        {
            turn.last_message.clone_from(&event.detail);
        }
        match kind {
            // A report of the turn's end that comes after its run was over says how it ended.
            EventKind::TurnFinished if matches!(turn.status.as_str(), "open" | "interrupted") => {
                turn.status = "finished".into();
                turn.ended_unix_nano = t;
            }
            EventKind::TurnFailed if turn.status != "failed" => {
                turn.status = "failed".into();
                turn.ended_unix_nano = t;
            }
            _ => {}
        }
        if !self.dirty_turns.contains(&turn.id) {
            self.dirty_turns.push(turn.id.clone());
        }
    }

    /// The state the event moves the session to, if any.
    fn next_state(
        &self,
        current: State,
        arrival: Arrival,
        run_started: bool,
    ) -> Option<(State, &'static str)> {
        let s = &self.session;
        if run_started && current.is_final() {
            Some((State::Active, "run_started"))
        } else if arrival.kind == EventKind::SessionEnded
            && current == State::Crashed
            && s.end_reason == "process_gone"
            && arrival.time <= s.state_since_unix_nano.saturating_add(END_GRACE)
        {
            // The process was gone, but it said goodbye: it ended.
            Some((State::Ended, "session_ended"))
        } else {
            state::on_event(current, arrival)
        }
    }

    /// Stores the event as the session's next; returns its turn, which a state change the event
    /// causes is about.
    fn store(
        &mut self,
        mut event: Event,
        encoded_attributes: Vec<u8>,
        id: &str,
        t: i64,
        next_seq: &mut u64,
        out: &mut Commit,
    ) -> String {
        let s = &mut self.session;
        let seq = *next_seq;
        event.seq = seq;
        event.session_id = id.to_owned();
        event.run = s.runs;
        if event.time_unix_nano == 0 {
            event.time_unix_nano = t;
        }
        *next_seq += 1;
        s.events += 1;
        s.last_seq = seq;
        let turn = event.turn_id.clone();
        out.events.push(event);
        out.encoded_attributes.push(encoded_attributes);
        turn
    }

    /// Moves the session to `next`, as [`Live::transition`] — except that a run ending while
    /// its turn's every model call failed (Codex exits after its retries; Gemini CLI too) first
    /// fails the turn (`errored`: the error alert), and then ends rather than crashes (one
    /// problem, one alert).
    fn change(
        &mut self,
        mut current: State,
        (mut next, mut reason): (State, &'static str),
        t: i64,
        turn: &str,
        next_seq: &mut u64,
        out: &mut Commit,
    ) {
        let ends = matches!(next, State::Ended | State::Crashed);
        if ends && current != State::Errored && self.all_calls_failed(&self.session.current_turn) {
            self.transition(
                current,
                State::Errored,
                "turn_failed",
                t,
                turn,
                next_seq,
                out,
            );
            current = State::Errored;
        }
        if next == State::Crashed && current == State::Errored {
            // It gave up after its turn failed: the error was the news.
            (next, reason) = (State::Ended, "exited_after_error");
        }
        self.transition(current, next, reason, t, turn, next_seq, out);
    }

    /// Whether the open turn `id` asked the model and every attempt failed.
    fn all_calls_failed(&self, id: &str) -> bool {
        self.turns
            .get(id)
            .is_some_and(|tu| tu.status == "open" && every_call_failed(tu))
    }

    /// A run that is over leaves no turn open: one it ended or we stopped mid-way was
    /// interrupted; one whose process died without a word failed. An open turn of a session
    /// whose hooks we hear that no hook spoke of, and that saw nothing but its prompt — no model
    /// call, no tool, no answer — was no turn: a command the agent ran itself (Claude Code logs
    /// `/exit` as a prompt, with no hook). It is dropped.
    fn close_open_turns(&mut self, end: State, t: i64) {
        let no_hook = |tu: &Turn| {
            self.hooked_turns
                .as_ref()
                .is_some_and(|hooked| !hooked.contains(&tu.id))
        };
        let empty: Vec<String> = self
            .turns
            .values()
            .filter(|tu| tu.status == "open" && tu.last_message.is_empty() && no_hook(tu))
            .filter(|tu| {
                let c = tu.counts.unwrap_or_default();
                c.api_requests + c.api_errors + c.tool_calls == 0
            })
            .map(|tu| tu.id.clone())
            .collect();
        for id in empty {
            self.turns.remove(&id);
            self.dirty_turns.retain(|d| *d != id);
            let counts = self.session.counts.get_or_insert_default();
            counts.turns = counts.turns.saturating_sub(1);
            if self.session.current_turn == id {
                self.session.current_turn.clear();
            }
            self.removed_turns.push(id);
        }
        for turn in self.turns.values_mut().filter(|tu| tu.status == "open") {
            let failed = end == State::Crashed || every_call_failed(turn);
            turn.status = if failed { "failed" } else { "interrupted" }.into();
            turn.ended_unix_nano = t.max(turn.started_unix_nano);
            if !self.dirty_turns.contains(&turn.id) {
                self.dirty_turns.push(turn.id.clone());
            }
        }
    }

    /// Moves the session to `next`, recording the change as an event.
    #[allow(clippy::too_many_arguments)]
    fn transition(
        &mut self,
        current: State,
        next: State,
        reason: &str,
        t: i64,
        turn: &str,
        next_seq: &mut u64,
        out: &mut Commit,
    ) {
        // A turn that ends with the change says how long it took: the "finished" alert only
        // speaks of long turns.
        let turn_took = matches!(next, State::Idle | State::Errored)
            .then(|| self.turns.get(turn))
            .flatten()
            .filter(|tu| t >= tu.started_unix_nano)
            .map(|tu| (t - tu.started_unix_nano) as f64 / 1e6);
        let s = &mut self.session;
        let change = Event {
            seq: *next_seq,
            duration_ms: turn_took,
            session_id: s.id.clone(),
            time_unix_nano: t,
            kind: EventKind::StateChanged.as_str().into(),
            turn_id: turn.to_owned(),
            source: "observatory".into(),
            state: next.as_str().into(),
            previous_state: current.as_str().into(),
            reason: reason.to_owned(),
            run: s.runs,
            ..Event::default()
        };
        *next_seq += 1;
        s.events += 1;
        s.last_seq = change.seq;
        s.state = next.as_str().into();
        s.state_since_unix_nano = t;
        if next.is_final() {
            if s.end_reason.is_empty() || next != State::Ended {
                s.end_reason = reason.to_owned();
            }
            s.current_tool.clear();
        }
        out.events.push(change);
        out.encoded_attributes.push(Vec::new());
        if next.is_final() {
            let tools = std::mem::take(&mut self.open_tools);
            let id = self.session.id.clone();
            let why = format!("unfinished when the run ended ({reason})");
            self.abandon_tools(tools, &why, (&id, t), next_seq, out);
            self.close_open_turns(next, t);
        }
    }
}

fn count(c: &mut Counts, tokens: &mut Tokens, cost: &mut Cost, kind: EventKind, e: &Event) {
    match kind {
        EventKind::ApiRequest => {
            c.api_requests += 1;
            if let Some(t) = &e.tokens {
                tokens.input += t.input;
                tokens.output += t.output;
                tokens.cache_read += t.cache_read;
                tokens.cache_write += t.cache_write;
            }
            match e.cost_usd {
                Some(usd) => {
                    cost.known_usd += usd;
                    if e.cost_estimated {
                        cost.estimated_requests += 1;
                    }
                }
                None => cost.unknown_requests += 1,
            }
        }
        EventKind::ApiError => c.api_errors += 1,
        EventKind::ToolFinished => {
            c.tool_calls += 1;
            if e.success == Some(false) {
                c.tool_errors += 1;
            }
        }
        _ => {}
    }
}

/// Whether the turn asked the model and every attempt failed.
fn every_call_failed(turn: &Turn) -> bool {
    let c = turn.counts.unwrap_or_default();
    c.api_errors > 0 && c.api_requests == 0
}

/// The time of an event: its own, or `now` when the agent gave none.
fn event_time(e: &Event, now: i64) -> i64 {
    if e.time_unix_nano > 0 {
        e.time_unix_nano
    } else {
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{Agent, Signal};

    const S: i64 = 1_000_000_000;

    fn hook(kind: EventKind, turn: &str, t: i64) -> SessionEvent {
        let mut e = ev(kind, turn, t);
        e.event.source = hooks::SOURCE.into();
        e
    }

    fn codex_hook(kind: EventKind, turn: &str, t: i64) -> SessionEvent {
        let mut e = hook(kind, turn, t);
        e.agent = Agent::Codex;
        e.turn_ref = TurnRef::Hook;
        e
    }

    fn codex_otlp(kind: EventKind, turn: &str, t: i64) -> SessionEvent {
        let mut e = ev(kind, turn, t);
        e.agent = Agent::Codex;
        e
    }

    fn tool(mut e: SessionEvent, name: &str, id: &str) -> SessionEvent {
        e.event.tool_name = name.into();
        e.event.tool_call_id = id.into();
        if !id.is_empty() {
            let prefix = if e.kind() == Some(EventKind::ToolStarted) {
                "tool_started"
            } else {
                "tool"
            };
            e.fact_key = Some(format!("{prefix}:{id}"));
        }
        e
    }

    /// Processes the tests say are alive.
    struct Alive(Vec<u32>);

    impl Liveness for Alive {
        fn alive(&self, p: Process) -> bool {
            self.0.contains(&p.pid)
        }
    }

    fn apply(tr: &mut Tracker, batch: Vec<SessionEvent>, now: i64) -> Commit {
        tr.apply(batch, now, &NoBacking).expect("apply").commit
    }

    fn state(tr: &Tracker, id: &str) -> String {
        tr.session(id).map(|s| s.state.clone()).unwrap_or_default()
    }

    #[test]
    fn hook_and_telemetry_turns_of_one_prompt_are_one_turn_whichever_comes_first() {
        // Codex: hooks know turn_id, telemetry a trace id; Codex hooks arrive first, usually.
        for hooks_first in [true, false] {
            let mut tr = Tracker::new(0);
            let hook_side = vec![
                codex_hook(EventKind::Prompt, "turn-1", 10 * S),
                tool(
                    codex_hook(EventKind::ToolStarted, "turn-1", 11 * S),
                    "Bash",
                    "c1",
                ),
                tool(
                    codex_hook(EventKind::ToolFinished, "turn-1", 12 * S),
                    "Bash",
                    "c1",
                ),
                codex_hook(EventKind::TurnFinished, "turn-1", 13 * S),
            ];
            let otlp_side = vec![
                codex_otlp(EventKind::Prompt, "trace-a", 10 * S + 5_000_000),
                codex_otlp(EventKind::ApiRequest, "trace-a", 11 * S),
                tool(
                    codex_otlp(EventKind::ToolFinished, "trace-a", 12 * S),
                    "exec_command",
                    "c1",
                ),
                codex_otlp(EventKind::TurnFinished, "trace-a", 13 * S),
            ];
            let (first, second) = if hooks_first {
                (hook_side, otlp_side)
            } else {
                (otlp_side, hook_side)
            };
            apply(&mut tr, first, 14 * S);
            apply(&mut tr, second, 15 * S);
            // a second prompt, 60 s later, is a turn of its own
            apply(
                &mut tr,
                vec![codex_hook(EventKind::Prompt, "turn-2", 70 * S)],
                70 * S,
            );
            apply(
                &mut tr,
                vec![codex_otlp(EventKind::Prompt, "trace-b", 70 * S)],
                71 * S,
            );
            let s = tr.session("codex:s1").expect("session");
            let c = s.counts.expect("counts");
            assert_eq!(
                (c.turns, c.tool_calls, c.api_requests),
                (2, 1, 1),
                "hooks first: {hooks_first}"
            );
            assert_eq!(s.state, "active");
        }
    }

    #[test]
    fn tool_ends_without_a_shared_id_pair_by_name() {
        // Gemini and Copilot hooks name no call id; their telemetry does.
        let mut tr = Tracker::new(0);
        let c = apply(
            &mut tr,
            vec![
                ev(EventKind::Prompt, "p1", S),
                tool(hook(EventKind::ToolStarted, "p1", 2 * S), "bash", ""),
                tool(hook(EventKind::ToolFinished, "p1", 5 * S), "bash", ""),
                tool(ev(EventKind::ToolFinished, "p1", 5 * S), "bash", "x1"),
                tool(ev(EventKind::ToolFinished, "p1", 6 * S), "grep", "x2"),
            ],
            7 * S,
        );
        let s = tr.session("claude_code:s1").expect("session");
        assert_eq!(s.counts.expect("counts").tool_calls, 2);
        let finished: Vec<_> = c
            .events
            .iter()
            .filter(|e| e.kind == "tool_finished")
            .collect();
        // the hook's end arrived first and is kept, with its duration from the hook's start
        assert_eq!(finished[0].source, "hook");
        assert_eq!(finished[0].duration_ms, Some(3000.0));
        assert_eq!(finished[1].tool_name, "grep");
    }

    #[test]
    fn permission_and_questions_wait_until_newer_activity() {
        let mut tr = Tracker::new(0);
        let id = "claude_code:s1";
        apply(
            &mut tr,
            vec![
                ev(EventKind::Prompt, "p1", S),
                tool(hook(EventKind::ToolStarted, "p1", 2 * S), "Bash", "t1"),
            ],
            2 * S,
        );
        apply(
            &mut tr,
            vec![hook(EventKind::PermissionRequested, "p1", 3 * S)],
            3 * S,
        );
        assert_eq!(state(&tr, id), "awaiting_permission");
        assert_eq!(
            tr.session(id).map(|s| s.current_tool.as_str()),
            Some("Bash")
        );
        // the telemetry batch describing the seconds before the prompt changes nothing
        apply(&mut tr, vec![ev(EventKind::ApiRequest, "p1", 2 * S)], 4 * S);
        assert_eq!(state(&tr, id), "awaiting_permission");
        // heartbeats are not stored, but they are activity
        let c = apply(&mut tr, vec![hook(EventKind::Heartbeat, "", 5 * S)], 5 * S);
        assert_eq!(state(&tr, id), "active");
        assert!(c.events.iter().all(|e| e.kind != "heartbeat"));
        assert_eq!(states(&c.events), ["active"]);
        apply(
            &mut tr,
            vec![hook(EventKind::InputRequested, "p1", 6 * S)],
            6 * S,
        );
        assert_eq!(state(&tr, id), "awaiting_input");
        apply(
            &mut tr,
            vec![hook(EventKind::TurnFinished, "p1", 7 * S)],
            7 * S,
        );
        assert_eq!(state(&tr, id), "idle");
        assert_eq!(tr.session(id).map(|s| s.current_tool.as_str()), Some(""));
    }

    #[test]
    fn the_clock_stalls_and_expires_sessions_per_agent_limits() {
        let mut limits = Limits::default();
        limits.agents.insert(
            "codex".into(),
            Timers {
                stall_after: 300 * S,
                ..Timers::default()
            },
        );
        let mut tr = Tracker::with_limits(0, limits);
        let nobody = Alive(Vec::new());
        apply(&mut tr, vec![ev(EventKind::Prompt, "p1", 0)], 0);
        apply(&mut tr, vec![codex_otlp(EventKind::Prompt, "p1", 0)], 0);
        assert!(tr.tick(119 * S, &nobody).events.is_empty());
        let c = tr.tick(120 * S, &nobody);
        assert_eq!(states(&c.events), ["stalled"]);
        assert_eq!(c.events[0].reason, "no_progress");
        assert_eq!(state(&tr, "codex:s1"), "active");
        assert_eq!(states(&tr.tick(300 * S, &nobody).events), ["stalled"]);
        // activity wakes it
        apply(
            &mut tr,
            vec![ev(EventKind::ApiRequest, "p1", 301 * S)],
            301 * S,
        );
        assert_eq!(state(&tr, "claude_code:s1"), "active");
        // an open tool call waits longer
        apply(
            &mut tr,
            vec![tool(
                hook(EventKind::ToolStarted, "p1", 302 * S),
                "Bash",
                "t1",
            )],
            302 * S,
        );
        assert!(
            tr.tick(302 * S + 599 * S, &nobody)
                .events
                .iter()
                .all(|e| e.session_id != "claude_code:s1")
        );
        let c = tr.tick(902 * S, &nobody);
        let stalled: Vec<_> = c
            .events
            .iter()
            .filter(|e| e.session_id == "claude_code:s1")
            .collect();
        assert_eq!(stalled[0].reason, "tool_no_progress");
        // silent for a day, no process known: ended (silent)
        let c = tr.tick(302 * S + 86_400 * S, &nobody);
        assert_eq!(states(&c.events), ["ended", "ended"]);
        assert_eq!(
            tr.session("claude_code:s1").map(|s| s.end_reason.as_str()),
            Some("silent")
        );
    }

    #[test]
    fn a_process_gone_without_goodbye_crashed_and_one_that_said_it_ended() {
        let mut tr = Tracker::new(0);
        let mut b = watched(hook(EventKind::Prompt, "p1", S), 42);
        b.native_id = "s2".into();
        apply(
            &mut tr,
            vec![watched(hook(EventKind::Prompt, "p1", S), 41), b],
            S,
        );
        assert!(tr.tick(2 * S, &Alive(vec![41, 42])).events.is_empty());
        let c = tr.tick(3 * S, &Alive(vec![42]));
        assert_eq!(states(&c.events), ["crashed"]);
        assert_eq!(c.events[0].session_id, "claude_code:s1");
        assert_eq!(c.events[0].reason, "process_gone");
        // s2 said SessionEnd as it went, but it reached us after its process was gone
        let c = tr.tick(4 * S, &Alive(vec![]));
        assert_eq!(states(&c.events), ["crashed"]);
        let mut end = hook(EventKind::SessionEnded, "", 4 * S + S / 2);
        end.native_id = "s2".into();
        let c = apply(&mut tr, vec![end], 4 * S + S / 2);
        assert_eq!(states(&c.events), ["ended"]);
        // a crashed session stays crashed: late telemetry does not revive it
        apply(&mut tr, vec![ev(EventKind::ApiRequest, "p1", 2 * S)], 5 * S);
        assert_eq!(state(&tr, "claude_code:s1"), "crashed");
        // ... a resume does, as a new run
        let mut resume = watched(hook(EventKind::SessionStarted, "", 6 * S), 43);
        resume.event.reason = "resume".into();
        let c = apply(&mut tr, vec![resume], 6 * S);
        assert_eq!(states(&c.events), ["active"]);
        let s = tr.session("claude_code:s1").expect("session");
        assert_eq!((s.runs, s.pid), (2, 43));
        assert!(c.events.iter().all(|e| e.run == 2));
    }

    #[test]
    fn a_run_that_is_over_leaves_no_turn_open() {
        let status = |c: &Commit, turn: &str| {
            c.turns
                .iter()
                .rfind(|t| t.id.ends_with(turn))
                .map(|t| (t.status.clone(), t.ended_unix_nano))
        };
        let asked = |turn: &str, t: i64| hook(EventKind::ApiRequest, turn, t);
        // Ended mid-turn (SIGTERM, Ctrl-C): interrupted, at the end.
        let mut tr = Tracker::new(0);
        apply(
            &mut tr,
            vec![hook(EventKind::Prompt, "p1", S), asked("p1", S)],
            S,
        );
        let c = apply(
            &mut tr,
            vec![hook(EventKind::SessionEnded, "", 3 * S)],
            3 * S,
        );
        assert_eq!(states(&c.events), ["ended"]);
        assert_eq!(status(&c, "p1"), Some(("interrupted".into(), 3 * S)));
        // ... and a late report of the turn's end still says how it ended.
        let c = apply(
            &mut tr,
            vec![hook(EventKind::TurnFinished, "p1", 2 * S)],
            4 * S,
        );
        assert_eq!(status(&c, "p1").map(|s| s.0), Some("finished".into()));

        // The process died without a word: the open turn failed.
        let mut tr = Tracker::new(0);
        let prompt = watched(hook(EventKind::Prompt, "p2", S), 41);
        apply(&mut tr, vec![prompt, asked("p2", S)], S);
        let c = tr.tick(5 * S, &Alive(vec![]));
        assert_eq!(states(&c.events), ["crashed"]);
        assert_eq!(status(&c, "p2"), Some(("failed".into(), 5 * S)));

        // A prompt that never reached the model (Claude Code logs its `/exit` as one) was no
        // turn: dropped from the session when the run ends.
        let mut tr = Tracker::new(0);
        apply(
            &mut tr,
            vec![hook(EventKind::Prompt, "p1", S), asked("p1", S)],
            S,
        );
        apply(
            &mut tr,
            vec![hook(EventKind::TurnFinished, "p1", 2 * S)],
            2 * S,
        );
        apply(&mut tr, vec![ev(EventKind::Prompt, "exit", 3 * S)], 3 * S);
        let c = apply(
            &mut tr,
            vec![hook(EventKind::SessionEnded, "", 4 * S)],
            4 * S,
        );
        assert_eq!(
            c.removed_turns,
            [("claude_code:s1".to_owned(), "exit".to_owned())]
        );
        assert!(status(&c, "exit").is_none());
        let s = tr.session("claude_code:s1").expect("session");
        assert_eq!(s.counts.map(|c| c.turns), Some(1));
    }

    #[test]
    fn a_model_call_reported_by_a_hook_and_by_a_span_counts_once() {
        let calls = |tr: &Tracker| {
            tr.session("claude_code:s1")
                .and_then(|s| s.counts)
                .map(|c| c.api_requests)
        };
        let call = |from_hook: bool, message: &str| {
            let mut e = if from_hook {
                hook(EventKind::ApiRequest, "p1", 2 * S)
            } else {
                ev(EventKind::ApiRequest, "p1", 2 * S)
            };
            e.event.model = "m".into();
            if from_hook {
                e.fact_key = Some(format!("api:{message}"));
            }
            e
        };
        for hook_first in [true, false] {
            let mut tr = Tracker::new(0);
            apply(&mut tr, vec![hook(EventKind::Prompt, "p1", S)], S);
            let (a, b) = (call(hook_first, "m1"), call(!hook_first, "m1"));
            apply(&mut tr, vec![a, b], 2 * S);
            assert_eq!(calls(&tr), Some(1), "hook first: {hook_first}");
            // The hook's repeat of its message is a duplicate; a second call is a second call.
            apply(&mut tr, vec![call(true, "m1")], 3 * S);
            assert_eq!(calls(&tr), Some(1));
            apply(&mut tr, vec![call(true, "m2"), call(false, "")], 4 * S);
            assert_eq!(calls(&tr), Some(2));
        }
    }

    #[test]
    fn a_tool_the_run_ended_under_is_a_failed_call_and_counted_once() {
        let session = |tr: &Tracker| tr.session("claude_code:s1").cloned().expect("session");
        let calls = |s: &Session| s.counts.map(|c| (c.tool_calls, c.tool_errors));
        // SIGTERM mid-tool: the agent's SessionEnd, no tool end.
        let mut tr = Tracker::new(0);
        let started = tool(hook(EventKind::ToolStarted, "p1", 2 * S), "Bash", "t1");
        apply(
            &mut tr,
            vec![hook(EventKind::Prompt, "p1", S), started],
            2 * S,
        );
        let c = apply(
            &mut tr,
            vec![hook(EventKind::SessionEnded, "p1", 3 * S)],
            3 * S,
        );
        let ended: Vec<_> = c
            .events
            .iter()
            .filter(|e| e.kind == "tool_finished")
            .collect();
        assert_eq!(ended.len(), 1);
        assert_eq!(
            (ended[0].success, ended[0].tool_call_id.as_str()),
            (Some(false), "t1")
        );
        assert!(ended[0].error.contains("unfinished"), "{}", ended[0].error);
        assert_eq!(calls(&session(&tr)), Some((1, 1)));
        assert_eq!(session(&tr).current_tool, "");
        // Its late report is the same call.
        let late = tool(ev(EventKind::ToolFinished, "p1", 2 * S), "Bash", "t1");
        let c = apply(&mut tr, vec![late], 4 * S);
        assert!(c.events.is_empty());
        assert_eq!(calls(&session(&tr)), Some((1, 1)));

        // The process died mid-tool: the same.
        let mut tr = Tracker::new(0);
        let prompt = watched(hook(EventKind::Prompt, "p1", S), 41);
        let started = tool(hook(EventKind::ToolStarted, "p1", 2 * S), "Bash", "t2");
        apply(&mut tr, vec![prompt, started], 2 * S);
        let c = tr.tick(5 * S, &Alive(vec![]));
        assert_eq!(states(&c.events), ["crashed"]);
        assert_eq!(calls(&session(&tr)), Some((1, 1)));
    }

    #[test]
    fn a_process_that_exits_after_its_turn_failed_ended_and_did_not_crash() {
        let mut tr = Tracker::new(0);
        let prompt = watched(hook(EventKind::Prompt, "p1", S), 41);
        apply(&mut tr, vec![prompt], S);
        let c = apply(
            &mut tr,
            vec![hook(EventKind::TurnFailed, "p1", 2 * S)],
            2 * S,
        );
        assert_eq!(states(&c.events), ["errored"]);
        let c = tr.tick(3 * S, &Alive(vec![]));
        assert_eq!(states(&c.events), ["ended"]);
        assert_eq!(c.events[0].reason, "exited_after_error");

        // Every attempt failed and the run ends with no word of the turn (Codex exec after its
        // retries: SessionEnd; or the process just goes): the turn failed, then the run ended.
        for ends_by_hook in [true, false] {
            let mut tr = Tracker::new(0);
            let prompt = watched(hook(EventKind::Prompt, "p1", S), 41);
            let errors = (2..5).map(|i| hook(EventKind::ApiError, "p1", i * S));
            apply(
                &mut tr,
                std::iter::once(prompt).chain(errors).collect(),
                5 * S,
            );
            let c = if ends_by_hook {
                apply(
                    &mut tr,
                    vec![hook(EventKind::SessionEnded, "", 6 * S)],
                    6 * S,
                )
            } else {
                tr.tick(6 * S, &Alive(vec![]))
            };
            assert_eq!(states(&c.events), ["errored", "ended"], "{ends_by_hook}");
            let turn = c
                .turns
                .iter()
                .rfind(|t| t.id.ends_with("p1"))
                .expect("turn");
            assert_eq!(turn.status, "failed");
        }
    }

    #[test]
    fn a_failed_model_call_reported_by_hook_and_telemetry_counts_once() {
        // Copilot CLI: an errorOccurred hook and a failed chat span per attempt, same turn.
        let mut tr = Tracker::new(0);
        let mut batch = vec![hook(EventKind::Prompt, "t1", S)];
        for i in 0..3 {
            batch.push(hook(EventKind::ApiError, "t1", (2 + i) * S));
        }
        apply(&mut tr, batch, 5 * S);
        let spans = (0..4)
            .map(|i| ev(EventKind::ApiError, "t1", (2 + i) * S))
            .collect();
        apply(&mut tr, spans, 6 * S);
        let s = tr.session("claude_code:s1").expect("session");
        assert_eq!(
            s.counts.map(|c| c.api_errors),
            Some(4),
            "3 pairs and one more"
        );
        // Hooks alone count every attempt.
        let mut tr = Tracker::new(0);
        let batch = (0..3)
            .map(|i| hook(EventKind::ApiError, "t1", (2 + i) * S))
            .collect();
        apply(&mut tr, batch, 5 * S);
        let s = tr.session("claude_code:s1").expect("session");
        assert_eq!(s.counts.map(|c| c.api_errors), Some(3));
    }

    /// `e` from a process whose hooks named it.
    fn watched(mut e: SessionEvent, pid: u32) -> SessionEvent {
        e.process = Some(Process {
            pid,
            start_ticks: 7,
        });
        e
    }

    fn ev(kind: EventKind, turn: &str, t: i64) -> SessionEvent {
        let mut e = SessionEvent::new(Agent::ClaudeCode, "s1", kind, Signal::Logs);
        e.event.turn_id = turn.into();
        e.event.time_unix_nano = t;
        e
    }

    fn states(events: &[Event]) -> Vec<&str> {
        events
            .iter()
            .filter(|e| e.kind == "state_changed")
            .map(|e| e.state.as_str())
            .collect()
    }

    #[test]
    fn seqs_are_global_and_monotonic_and_transitions_are_events() {
        let mut tr = Tracker::new(41);
        let mut api = ev(EventKind::ApiRequest, "p1", 2);
        api.event.tokens = Some(Tokens {
            input: 10,
            output: 5,
            cache_read: 100,
            cache_write: 7,
        });
        api.event.cost_usd = Some(0.25);
        api.event.model = "m".into();
        let batch = vec![
            ev(EventKind::Prompt, "p1", 1),
            api,
            ev(EventKind::TurnFinished, "p1", 3),
            ev(EventKind::Prompt, "p2", 4),
        ];
        let a = tr.apply(batch, 100, &NoBacking).expect("apply");
        let seqs: Vec<u64> = a.commit.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (42..42 + seqs.len() as u64).collect::<Vec<_>>());
        assert_eq!(states(&a.commit.events), ["idle", "active"]);
        let s = tr.session("claude_code:s1").expect("session");
        assert_eq!(s.state, "active");
        assert_eq!(
            s.counts.as_ref().map(|c| (c.turns, c.api_requests)),
            Some((2, 1))
        );
        assert_eq!(s.tokens.as_ref().map(|t| t.cache_read), Some(100));
        assert_eq!(s.cost.as_ref().map(|c| c.known_usd), Some(0.25));
        assert_eq!(s.models, ["m"]);
        assert_eq!(a.commit.turns.len(), 2);
    }

    #[test]
    fn a_fact_reported_twice_counts_once() {
        let mut tr = Tracker::new(0);
        let mut log = ev(EventKind::ToolFinished, "p1", 1);
        log.fact_key = Some("tool:t1".into());
        log.event.success = Some(false);
        let mut span = log.clone();
        span.event.source = "otlp_traces".into();
        let a = tr.apply(vec![log, span], 5, &NoBacking).expect("apply");
        assert_eq!(a.duplicates, [1]);
        let c = tr
            .session("claude_code:s1")
            .and_then(|s| s.counts)
            .expect("counts");
        assert_eq!((c.tool_calls, c.tool_errors), (1, 1));
    }

    #[test]
    fn a_turn_end_reported_twice_is_stored_once() {
        let mut tr = Tracker::new(0);
        let batch = vec![
            ev(EventKind::Prompt, "p1", 1),
            ev(EventKind::TurnFinished, "p1", 2),
            ev(EventKind::TurnFinished, "p1", 3),
            ev(EventKind::TurnFinished, "", 4),
        ];
        let a = tr.apply(batch, 5, &NoBacking).expect("apply");
        assert_eq!(a.duplicates, [2, 3]);
        let ends = a
            .commit
            .events
            .iter()
            .filter(|e| e.kind == "turn_finished")
            .count();
        assert_eq!(ends, 1);
    }

    #[test]
    fn late_reports_from_a_closed_turn_do_not_wake_an_idle_session() {
        let mut tr = Tracker::new(0);
        let batch = vec![
            ev(EventKind::Prompt, "p1", 1),
            ev(EventKind::TurnFinished, "p1", 2),
            ev(EventKind::ApiRequest, "p1", 3),
            ev(EventKind::ApiError, "", 4),
        ];
        let a = tr.apply(batch, 5, &NoBacking).expect("apply");
        assert_eq!(states(&a.commit.events), ["idle"]);
        assert_eq!(
            tr.session("claude_code:s1").map(|s| s.state.as_str()),
            Some("idle")
        );
    }

    #[test]
    fn failures_and_endings() {
        let mut tr = Tracker::new(0);
        let batch = vec![
            ev(EventKind::Prompt, "p1", 1),
            ev(EventKind::ApiError, "p1", 2),
            ev(EventKind::TurnFailed, "p1", 3),
            ev(EventKind::Prompt, "p2", 4),
            ev(EventKind::SessionEnded, "", 5),
        ];
        let a = tr.apply(batch, 6, &NoBacking).expect("apply");
        assert_eq!(states(&a.commit.events), ["errored", "active", "ended"]);
        let s = tr.session("claude_code:s1").expect("session");
        assert_eq!(s.end_reason, "session_ended");
        assert_eq!(s.counts.as_ref().map(|c| c.api_errors), Some(1));
    }
}
