use std::collections::{HashMap, HashSet};

use crate::normalize::{EventKind, SessionEvent};
use crate::proto::store::{Cost, Counts, Event, Session, Tokens, Turn};
use crate::store::{Commit, Store, StoreError};

/// Session states (DESIGN.md "Session state").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    AwaitingPermission,
    AwaitingInput,
    Stalled,
    Idle,
    Errored,
    Ended,
    Crashed,
    Killed,
}

impl State {
    pub const ALL: [State; 9] = [
        State::Active,
        State::AwaitingPermission,
        State::AwaitingInput,
        State::Stalled,
        State::Idle,
        State::Errored,
        State::Ended,
        State::Crashed,
        State::Killed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::AwaitingPermission => "awaiting_permission",
            State::AwaitingInput => "awaiting_input",
            State::Stalled => "stalled",
            State::Idle => "idle",
            State::Errored => "errored",
            State::Ended => "ended",
            State::Crashed => "crashed",
            State::Killed => "killed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Waiting for a new prompt (or gone): activity from an already closed turn must not wake it.
    fn is_resting(self) -> bool {
        matches!(
            self,
            State::Idle | State::Errored | State::Ended | State::Crashed | State::Killed
        )
    }
}

/// Where the tracker finds sessions it has not seen since start-up.
pub trait Backing {
    fn load(&self, session_id: &str) -> Result<Option<Loaded>, StoreError>;
}

/// A session as stored, with its turns and the facts it has seen.
pub struct Loaded {
    pub session: Session,
    pub turns: Vec<Turn>,
    pub facts: Vec<String>,
}

impl Backing for Store {
    fn load(&self, session_id: &str) -> Result<Option<Loaded>, StoreError> {
        let Some(session) = self.session(session_id)? else {
            return Ok(None);
        };
        Ok(Some(Loaded {
            session,
            turns: self.turns(session_id)?,
            facts: self.fact_keys(session_id)?,
        }))
    }
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
    fn load(&self, _: &str) -> Result<Option<Loaded>, StoreError> {
        Ok(None)
    }
}

struct Live {
    session: Session,
    turns: HashMap<String, Turn>,
    /// Facts already recorded, so a second report of the same one is dropped.
    facts: HashSet<String>,
    /// Changed by the batch being applied, and so to be written with it.
    dirty: bool,
    /// Turns changed by the batch being applied.
    dirty_turns: Vec<String>,
}

pub struct Tracker {
    sessions: HashMap<String, Live>,
    next_seq: u64,
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
        Tracker {
            sessions: HashMap::new(),
            next_seq: last_seq + 1,
        }
    }

    /// Applies a batch of normalized events at time `now` (Unix nanoseconds): assigns seqs,
    /// updates sessions and turns, and returns everything to write.
    pub fn apply(
        &mut self,
        events: Vec<SessionEvent>,
        now: i64,
        backing: &dyn Backing,
    ) -> Result<Applied, StoreError> {
        let mut out = Applied::default();
        // Sessions changed by this batch, in first-touch order; each is written once.
        let mut touched: Vec<String> = Vec::new();
        let mut id = String::new();
        for (pos, ev) in events.into_iter().enumerate() {
            // Batches come in runs of one session: build its id only when the session changes.
            if !same_session(&id, &ev) {
                id = ev.session_id();
            }
            if !self.sessions.contains_key(&id) {
                let live = match backing.load(&id)? {
                    Some(l) => Live {
                        session: l.session,
                        turns: l.turns.into_iter().map(|t| (t.id.clone(), t)).collect(),
                        facts: l.facts.into_iter().collect(),
                        dirty: false,
                        dirty_turns: Vec::new(),
                    },
                    None => Live::new(&id, &ev, now),
                };
                self.sessions.insert(id.clone(), live);
            }
            let Some(live) = self.sessions.get_mut(&id) else {
                continue;
            };
            if live.repeats_turn_end(&ev) {
                out.duplicates.push(pos);
                continue;
            }
            if let Some(key) = &ev.fact_key {
                if live.facts.contains(key) {
                    out.duplicates.push(pos);
                    continue;
                }
                live.facts.insert(key.clone());
                out.commit
                    .facts
                    .push((id.clone(), key.clone(), self.next_seq));
            }
            let before = live.session.events;
            live.apply(ev, &id, now, &mut self.next_seq, &mut out.commit);
            if live.session.events != before && !live.dirty {
                live.dirty = true;
                touched.push(id.clone());
            }
        }
        for id in touched {
            if let Some(live) = self.sessions.get_mut(&id) {
                live.dirty = false;
                out.commit.sessions.push(live.session.clone());
                for tid in std::mem::take(&mut live.dirty_turns) {
                    if let Some(t) = live.turns.get(&tid) {
                        out.commit.turns.push(t.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Current state of a session the tracker holds in memory.
    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id).map(|l| &l.session)
    }
}

impl Live {
    /// A turn end for a turn that already ended the same way: agents report it from several
    /// sources (Claude's Stop hook log and its interaction span), and it is one fact.
    fn repeats_turn_end(&self, ev: &SessionEvent) -> bool {
        let status = match ev.kind() {
            Some(EventKind::TurnFinished) => "finished",
            Some(EventKind::TurnFailed) => "failed",
            _ => return false,
        };
        let id = if ev.event.turn_id.is_empty() {
            &self.session.current_turn
        } else {
            &ev.event.turn_id
        };
        self.turns.get(id).is_some_and(|t| t.status == status)
    }

    fn new(id: &str, ev: &SessionEvent, now: i64) -> Live {
        let t = event_time(&ev.event, now);
        Live {
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
                ..Session::default()
            },
            turns: HashMap::new(),
            facts: HashSet::new(),
            dirty: false,
            dirty_turns: Vec::new(),
        }
    }

    fn apply(
        &mut self,
        ev: SessionEvent,
        id: &str,
        now: i64,
        next_seq: &mut u64,
        out: &mut Commit,
    ) {
        let Some(kind) = ev.kind() else { return };
        let s = &mut self.session;
        let t = event_time(&ev.event, now);
        s.first_seen_unix_nano = s.first_seen_unix_nano.min(t);
        s.last_seen_unix_nano = s.last_seen_unix_nano.max(t);
        if let Some(v) = ev.service_version.filter(|v| !v.is_empty()) {
            s.service_version = v;
        }
        if let Some(cwd) = ev.cwd.filter(|c| !c.is_empty()) {
            s.cwd = cwd;
        }
        let mut event = ev.event;
        if !event.model.is_empty() && !s.models.contains(&event.model) {
            s.models.push(event.model.clone());
        }

        // Turn: the event's own, else the one in progress.
        if event.turn_id.is_empty()
            && kind != EventKind::SessionStarted
            && kind != EventKind::SessionEnded
        {
            event.turn_id.clone_from(&s.current_turn);
        }
        let seq = *next_seq;
        let mut turn_is_new = false;
        if !event.turn_id.is_empty() {
            turn_is_new = !self.turns.contains_key(&event.turn_id);
            if turn_is_new {
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
            }
        }
        let turn = self.turns.get_mut(&event.turn_id);
        let turn_closed = turn.as_ref().is_some_and(|t| t.status != "open");

        // Counters, on the session and on its turn.
        count(
            s.counts.get_or_insert_default(),
            s.tokens.get_or_insert_default(),
            s.cost.get_or_insert_default(),
            kind,
            &event,
        );
        if let Some(turn) = turn {
            turn.started_unix_nano = turn.started_unix_nano.min(t);
            count(
                turn.counts.get_or_insert_default(),
                turn.tokens.get_or_insert_default(),
                turn.cost.get_or_insert_default(),
                kind,
                &event,
            );
            match kind {
                EventKind::TurnFinished if turn.status == "open" => {
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

        // State.
        let current = State::parse(&s.state).unwrap_or(State::Active);
        let next = match kind {
            EventKind::TurnFinished
                if event.turn_id == s.current_turn || s.current_turn.is_empty() =>
            {
                Some(State::Idle)
            }
            EventKind::TurnFailed
                if event.turn_id == s.current_turn || s.current_turn.is_empty() =>
            {
                Some(State::Errored)
            }
            EventKind::SessionEnded => Some(State::Ended),
            EventKind::TurnFinished | EventKind::TurnFailed | EventKind::StateChanged => None,
            // Any other activity means the agent is working — unless it is a late report from a
            // turn that already closed, or from no turn while the session rests.
            _ if current.is_resting() => {
                let fresh = kind == EventKind::Prompt || (turn_is_new && !event.turn_id.is_empty());
                (fresh && !turn_closed).then_some(State::Active)
            }
            _ => None,
        };

        event.seq = seq;
        event.session_id = id.to_owned();
        if event.time_unix_nano == 0 {
            event.time_unix_nano = t;
        }
        *next_seq += 1;
        s.events += 1;
        s.last_seq = seq;
        out.events.push(event);
        out.encoded_attributes.push(ev.encoded_attributes);

        if let Some(next) = next.filter(|n| *n != current) {
            let reason = kind.as_str().to_owned();
            let change = Event {
                seq: *next_seq,
                session_id: id.to_owned(),
                time_unix_nano: t,
                kind: EventKind::StateChanged.as_str().into(),
                turn_id: out
                    .events
                    .last()
                    .map(|e| e.turn_id.clone())
                    .unwrap_or_default(),
                source: "observatory".into(),
                state: next.as_str().into(),
                previous_state: current.as_str().into(),
                reason: reason.clone(),
                ..Event::default()
            };
            *next_seq += 1;
            s.events += 1;
            s.last_seq = change.seq;
            s.state = next.as_str().into();
            s.state_since_unix_nano = t;
            if next == State::Ended {
                s.end_reason = reason;
            }
            out.events.push(change);
            out.encoded_attributes.push(Vec::new());
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
