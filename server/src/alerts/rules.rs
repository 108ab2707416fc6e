//! Alert rules: which committed changes deserve telling a person about, and in what words.
//! Pure: [`Rules::on_commit`] takes a commit's events and changed sessions, the day's spend and
//! the time, and returns [`Decision`]s; it does no I/O and reads no clock. The engine delivers
//! them. Per-device choices (kinds, quiet hours) are applied at delivery, by [`quiet`] and the
//! engine, so that every alert is still recorded once.
//!
//! | transition or event | alert |
//! |---|---|
//! | → `awaiting_permission` | needs_you: "wants to run Bash: cargo test" (from the request just before it) |
//! | → `awaiting_input` | needs_you: "is asking you: …" |
//! | → `idle` after a turn of at least `completion_min_turn` | finished |
//! | → `stalled` | stalled, with the running tool |
//! | → `crashed` | crashed |
//! | → `errored`, or `api_error_burst` api errors within `api_error_window` | error |
//! | a session's cost, or the day's, crosses its threshold | budget (once per session / per day) |
//!
//! A sub-agent that runs as a session of its own (a Codex sub-thread, an OpenCode child session:
//! its parent reported `subagent_started` naming it) is folded into the parent: its alerts are the parent's, and its
//! finished turns are steps of the parent's turn, not news. The same (session, kind) is not
//! repeated within `cooldown`.

use std::collections::{HashMap, VecDeque};

use super::Kind;
use crate::normalize::Agent;
use crate::proto::store::{Event, Session, Turn};

const NS_PER_MS: f64 = 1e6;
const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct RuleConfig {
    pub completion_min_turn_ms: f64,
    pub cooldown_ns: i64,
    /// This many api errors within `api_error_window_ns` make an error alert; 0 turns it off.
    pub api_error_burst: usize,
    pub api_error_window_ns: i64,
    /// A session's cost crossing this (USD) makes a budget alert; 0 turns it off.
    pub budget_session_usd: f64,
    /// The day's cost (UTC day) crossing this makes a budget alert; 0 turns it off.
    pub budget_day_usd: f64,
}

/// One alert to make.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub kind: Kind,
    /// The session it is about (the parent, for a sub-agent); empty for the day's budget.
    pub session_id: String,
    pub agent: String,
    /// "Claude Code · api-server"
    pub title: String,
    /// What happened: "wants to run Bash: cargo test"
    pub body: String,
    /// The turn it is about, when it is the session's own (a finished turn's figures are read
    /// from it).
    pub turn_id: String,
    /// The event that caused it (0 for a budget crossed by a session's totals).
    pub seq: u64,
    pub time_unix_nano: i64,
    /// For a needs_you alert about a permission request that can be answered from the phone:
    /// its prompt (the push carries Allow and Deny).
    pub prompt_id: String,
}

/// What caused a decision: the event (or, for a budget, the session's totals).
struct Cause<'a> {
    session_id: &'a str,
    turn_id: &'a str,
    seq: u64,
    time: i64,
}

/// What the rules remember of a session between commits.
#[derive(Debug, Default)]
struct Known {
    agent: String,
    project: String,
    current_tool: String,
    last_activity: i64,
    /// The last permission request or question: what a needs_you alert quotes.
    asking: Option<Asking>,
    /// The last error text (turn failure, api error): what an error alert quotes.
    last_error: String,
    /// Times of recent api errors, for the burst rule.
    api_errors: VecDeque<i64>,
    budget_crossed: bool,
}

#[derive(Debug)]
struct Asking {
    tool: String,
    detail: String,
    /// The answers stage's key for a permission request a hook waits on (empty otherwise).
    prompt_id: String,
}

pub struct Rules {
    config: RuleConfig,
    sessions: HashMap<String, Known>,
    /// Child session id → parent session id, from the parents' `subagent_started` events.
    parents: HashMap<String, String>,
    /// When each (session, kind) last made an alert: the cooldown.
    fired: HashMap<(String, Kind), i64>,
    /// The UTC day whose budget alert was made.
    day_budget_fired: Option<i64>,
}

impl Rules {
    pub fn new(config: RuleConfig) -> Rules {
        Rules {
            config,
            sessions: HashMap::new(),
            parents: HashMap::new(),
            fired: HashMap::new(),
            day_budget_fired: None,
        }
    }

    /// Learns sessions committed before this process started (their names and totals), so that
    /// the first alerts after a restart have titles and a crossed budget is not announced again.
    pub fn know(&mut self, sessions: &[Session]) {
        for s in sessions {
            self.learn(s);
            let budget = self.config.budget_session_usd;
            if budget > 0.0 && cost(s) >= budget {
                self.known(&s.id).budget_crossed = true;
            }
        }
    }

    /// The alerts one commit makes. `day_usd` is the spend of the current UTC day including
    /// this commit; `now` is the server's clock (for the cooldown and the day).
    pub fn on_commit(
        &mut self,
        events: &[Event],
        sessions: &[Session],
        day_usd: f64,
        now: i64,
    ) -> Vec<Decision> {
        for s in sessions {
            self.learn(s);
        }
        let mut out = Vec::new();
        for e in events {
            let asked = self
                .sessions
                .get(&e.session_id)
                .and_then(|k| k.asking.as_ref())
                .map(|a| a.prompt_id.clone())
                .filter(|_| e.state == "awaiting_permission")
                .unwrap_or_default();
            let made = out.len();
            if let Some((kind, body)) = self.on_event(e) {
                let cause = Cause {
                    session_id: &e.session_id,
                    turn_id: &e.turn_id,
                    seq: e.seq,
                    time: e.time_unix_nano,
                };
                self.decide(kind, cause, body, now, &mut out);
            }
            if let Some(d) = out.get_mut(made).filter(|d| d.kind == Kind::NeedsYou) {
                d.prompt_id = asked;
            }
        }
        let budget = self.config.budget_session_usd;
        for s in sessions {
            let spent = cost(s);
            if budget > 0.0 && spent >= budget && !self.known(&s.id).budget_crossed {
                self.known(&s.id).budget_crossed = true;
                let body = format!("has cost {} (budget {})", usd(spent), usd(budget));
                let cause = Cause {
                    session_id: &s.id,
                    turn_id: "",
                    seq: 0,
                    time: now,
                };
                self.decide(Kind::Budget, cause, body, now, &mut out);
            }
        }
        let day = now.div_euclid(NS_PER_DAY);
        let budget = self.config.budget_day_usd;
        if budget > 0.0 && day_usd >= budget && self.day_budget_fired != Some(day) {
            self.day_budget_fired = Some(day);
            out.push(Decision {
                kind: Kind::Budget,
                session_id: String::new(),
                agent: String::new(),
                turn_id: String::new(),
                title: "Today's spend".to_owned(),
                body: format!("{} so far today (budget {})", usd(day_usd), usd(budget)),
                seq: 0,
                time_unix_nano: now,
                prompt_id: String::new(),
            });
        }
        out
    }

    fn known(&mut self, id: &str) -> &mut Known {
        self.sessions.entry(id.to_owned()).or_insert_with(|| Known {
            agent: id.split_once(':').map(|(a, _)| a).unwrap_or(id).to_owned(),
            ..Known::default()
        })
    }

    fn learn(&mut self, s: &Session) {
        let k = self.known(&s.id);
        k.agent.clone_from(&s.agent);
        k.project = project(&s.cwd).to_owned();
        k.current_tool.clone_from(&s.current_tool);
        k.last_activity = s.last_activity_unix_nano;
    }

    /// Remembers what the event says, and returns the alert it calls for, if any.
    fn on_event(&mut self, e: &Event) -> Option<(Kind, String)> {
        match e.kind.as_str() {
            "subagent_started" if !e.tool_call_id.is_empty() => {
                let agent = self.known(&e.session_id).agent.clone();
                let child = format!("{agent}:{}", e.tool_call_id);
                if child != e.session_id {
                    self.parents.insert(child, e.session_id.clone());
                }
                None
            }
            "permission_requested" | "input_requested" => {
                self.known(&e.session_id).asking = Some(Asking {
                    tool: e.tool_name.clone(),
                    detail: e.detail.clone(),
                    prompt_id: e.prompt_id.clone(),
                });
                None
            }
            "turn_failed" => {
                self.known(&e.session_id).last_error.clone_from(&e.error);
                None
            }
            "api_error" => self.api_error(e),
            "state_changed" => self.transition(e),
            _ => None,
        }
    }

    fn api_error(&mut self, e: &Event) -> Option<(Kind, String)> {
        let (burst, window) = (self.config.api_error_burst, self.config.api_error_window_ns);
        let k = self.known(&e.session_id);
        if !e.error.is_empty() {
            k.last_error.clone_from(&e.error);
        }
        if burst == 0 {
            return None;
        }
        let t = e.time_unix_nano;
        k.api_errors.push_back(t);
        while k
            .api_errors
            .front()
            .is_some_and(|&first| first <= t - window)
        {
            k.api_errors.pop_front();
        }
        if k.api_errors.len() < burst {
            return None;
        }
        k.api_errors.clear();
        let secs = window / 1_000_000_000;
        let mut body = format!("{burst} API errors within {secs} s");
        if !k.last_error.is_empty() {
            body.push_str(": ");
            body.push_str(&k.last_error);
        }
        Some((Kind::Error, body))
    }

    fn transition(&mut self, e: &Event) -> Option<(Kind, String)> {
        let min_turn = self.config.completion_min_turn_ms;
        let k = self.known(&e.session_id);
        match e.state.as_str() {
            "awaiting_permission" => {
                let body = match k.asking.take() {
                    Some(a) if !a.tool.is_empty() && !a.detail.is_empty() => {
                        format!("wants to {} {}: {}", verb(&a.tool), a.tool, a.detail)
                    }
                    Some(a) if !a.tool.is_empty() => {
                        format!("wants to {} {}", verb(&a.tool), a.tool)
                    }
                    _ => "is waiting for your permission".to_owned(),
                };
                Some((Kind::NeedsYou, body))
            }
            "awaiting_input" => {
                let body = match k.asking.take() {
                    Some(a) if !a.detail.is_empty() => format!("is asking you: {}", a.detail),
                    _ => "is waiting for your answer".to_owned(),
                };
                Some((Kind::NeedsYou, body))
            }
            "idle" if !matches!(e.previous_state.as_str(), "idle" | "errored") => {
                let took = e.duration_ms.filter(|ms| *ms >= min_turn)?;
                Some((
                    Kind::Finished,
                    format!("finished a turn after {}", duration(took)),
                ))
            }
            "stalled" => {
                let quiet_ms = (e.time_unix_nano - k.last_activity) as f64 / NS_PER_MS;
                let mut body = if k.last_activity > 0 && quiet_ms > 0.0 {
                    format!("no progress for {}", duration(quiet_ms))
                } else {
                    "no progress".to_owned()
                };
                if !k.current_tool.is_empty() {
                    body.push_str(" while running ");
                    body.push_str(&k.current_tool);
                }
                Some((Kind::Stalled, body))
            }
            "crashed" => {
                let body = match e.reason.as_str() {
                    "process_gone" => "its process died without ending the session".to_owned(),
                    "" => "crashed".to_owned(),
                    r => format!("crashed ({r})"),
                };
                Some((Kind::Crashed, body))
            }
            "errored" => {
                let body = if k.last_error.is_empty() {
                    "the turn failed".to_owned()
                } else {
                    format!("the turn failed: {}", k.last_error)
                };
                Some((Kind::Error, body))
            }
            _ => None,
        }
    }

    fn decide(
        &mut self,
        kind: Kind,
        cause: Cause<'_>,
        body: String,
        now: i64,
        out: &mut Vec<Decision>,
    ) {
        let (target, folded) = self.fold(cause.session_id);
        if folded && kind == Kind::Finished {
            return;
        }
        let key = (target.clone(), kind);
        if self
            .fired
            .get(&key)
            .is_some_and(|&at| now.saturating_sub(at) < self.config.cooldown_ns)
        {
            return;
        }
        self.fired.insert(key, now);
        let k = self.known(&target);
        let agent = k.agent.clone();
        let name = Agent::parse(&agent).map_or(agent.clone(), |a| {
            crate::agents::spec(a).display_name.to_owned()
        });
        let title = if k.project.is_empty() {
            name.to_owned()
        } else {
            format!("{name} · {}", k.project)
        };
        let body = if folded {
            format!("sub-agent {body}")
        } else {
            body
        };
        out.push(Decision {
            kind,
            session_id: target,
            agent,
            title,
            body,
            turn_id: if folded {
                String::new()
            } else {
                cause.turn_id.to_owned()
            },
            seq: cause.seq,
            time_unix_nano: cause.time,
            prompt_id: String::new(),
        });
    }

    /// The session an alert belongs to (the top parent of a sub-agent), and whether it was folded.
    fn fold(&self, session_id: &str) -> (String, bool) {
        let mut id = session_id;
        // A chain, not a cycle: bounded in case a bad report made one.
        for _ in 0..8 {
            match self.parents.get(id) {
                Some(parent) => id = parent,
                None => break,
            }
        }
        (id.to_owned(), id != session_id)
    }
}

/// What a finished turn did, to follow its length: " · 14 tool calls · $0.42" (empty when it
/// did nothing countable).
pub fn turn_figures(t: &Turn) -> String {
    let mut out = String::new();
    let tools = t.counts.as_ref().map_or(0, |c| c.tool_calls);
    if tools > 0 {
        let s = if tools == 1 { "" } else { "s" };
        out.push_str(&format!(" · {tools} tool call{s}"));
    }
    let spent = t.cost.as_ref().map_or(0.0, |c| c.known_usd);
    if spent > 0.0 {
        out.push_str(&format!(" · {}", usd(spent)));
    }
    out
}

fn cost(s: &Session) -> f64 {
    s.cost.as_ref().map_or(0.0, |c| c.known_usd)
}

/// The project a working directory is: its last component.
fn project(cwd: &str) -> &str {
    cwd.trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
}

/// Shell tools are "run"; everything else (edits, fetches, MCP tools) is "use"d.
fn verb(tool: &str) -> &'static str {
    const SHELLS: [&str; 6] = [
        "bash",
        "shell",
        "run_shell_command",
        "exec_command",
        "local_shell",
        "powershell",
    ];
    if SHELLS.iter().any(|s| tool.eq_ignore_ascii_case(s)) {
        "run"
    } else {
        "use"
    }
}

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

/// "45 s", "3 min 12 s", "1 h 5 min"
pub fn duration(ms: f64) -> String {
    let secs = (ms / 1000.0).round() as u64;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 if secs.is_multiple_of(60) => format!("{} min", secs / 60),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ if secs % 3600 < 60 => format!("{} h", secs / 3600),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// A device's quiet hours: local times as minutes after midnight, and the device's offset from
/// UTC (minutes east) when it said them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuietHours {
    /// "22:00"
    #[serde(with = "clock_time")]
    pub start: u16,
    /// "07:00"; before `start` means the quiet spans midnight.
    #[serde(with = "clock_time")]
    pub end: u16,
    pub utc_offset_minutes: i16,
}

/// Whether `now` falls in the quiet hours. Equal start and end mean no quiet at all.
pub fn quiet(q: &QuietHours, now: i64) -> bool {
    const MINUTES_PER_DAY: i64 = 24 * 60;
    let minute = (now.div_euclid(60_000_000_000) + i64::from(q.utc_offset_minutes))
        .rem_euclid(MINUTES_PER_DAY);
    let (start, end) = (i64::from(q.start), i64::from(q.end));
    if start <= end {
        (start..end).contains(&minute)
    } else {
        minute >= start || minute < end
    }
}

/// `HH:MM` ⇄ minutes after midnight.
mod clock_time {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn parse(s: &str) -> Option<u16> {
        let (h, m) = s.split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    }

    pub fn serialize<S: Serializer>(v: &u16, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:02}:{:02}", v / 60, v % 60))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| D::Error::custom(format!("{s:?} is not a time of day as HH:MM")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::store::Cost;

    const S: i64 = 1_000_000_000;
    const ID: &str = "claude_code:s1";

    fn config() -> RuleConfig {
        RuleConfig {
            completion_min_turn_ms: 20_000.0,
            cooldown_ns: 300 * S,
            api_error_burst: 3,
            api_error_window_ns: 60 * S,
            budget_session_usd: 5.0,
            budget_day_usd: 20.0,
        }
    }

    fn session(id: &str, cwd: &str) -> Session {
        Session {
            id: id.into(),
            agent: id.split(':').next().unwrap_or_default().into(),
            cwd: cwd.into(),
            ..Session::default()
        }
    }

    fn event(session: &str, seq: u64, t: i64, kind: &str) -> Event {
        Event {
            seq,
            session_id: session.into(),
            time_unix_nano: t,
            kind: kind.into(),
            ..Event::default()
        }
    }

    fn change(session: &str, seq: u64, t: i64, from: &str, to: &str) -> Event {
        Event {
            state: to.into(),
            previous_state: from.into(),
            ..event(session, seq, t, "state_changed")
        }
    }

    fn finished_after(session: &str, seq: u64, t: i64, took_ms: f64) -> Event {
        Event {
            duration_ms: Some(took_ms),
            ..change(session, seq, t, "active", "idle")
        }
    }

    fn summary(d: &[Decision]) -> Vec<(Kind, &str, &str)> {
        d.iter()
            .map(|d| (d.kind, d.session_id.as_str(), d.body.as_str()))
            .collect()
    }

    fn rules_with(sessions: &[Session]) -> Rules {
        let mut r = Rules::new(config());
        r.know(sessions);
        r
    }

    #[test]
    fn each_transition_makes_the_alert_the_design_names() {
        let permission = Event {
            tool_name: "Bash".into(),
            detail: "cargo test".into(),
            ..event(ID, 1, 10 * S, "permission_requested")
        };
        let question = Event {
            detail: "Which database?".into(),
            ..event(ID, 3, 20 * S, "input_requested")
        };
        let failed = Event {
            error: "overloaded".into(),
            ..event(ID, 7, 50 * S, "turn_failed")
        };
        type Case = (Vec<Event>, Option<(Kind, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                vec![
                    permission.clone(),
                    change(ID, 2, 10 * S, "active", "awaiting_permission"),
                ],
                Some((Kind::NeedsYou, "wants to run Bash: cargo test")),
            ),
            (
                vec![
                    Event {
                        detail: String::new(),
                        ..permission.clone()
                    },
                    change(ID, 2, 10 * S, "active", "awaiting_permission"),
                ],
                Some((Kind::NeedsYou, "wants to run Bash")),
            ),
            (
                vec![Event {
                    tool_name: "Write".into(),
                    detail: "/p/a.txt".into(),
                    ..permission
                }],
                None,
            ),
            (
                vec![change(ID, 2, 10 * S, "active", "awaiting_permission")],
                Some((Kind::NeedsYou, "is waiting for your permission")),
            ),
            (
                vec![question, change(ID, 4, 20 * S, "active", "awaiting_input")],
                Some((Kind::NeedsYou, "is asking you: Which database?")),
            ),
            (
                vec![finished_after(ID, 5, 40 * S, 125_000.0)],
                Some((Kind::Finished, "finished a turn after 2 min 5 s")),
            ),
            (vec![finished_after(ID, 5, 40 * S, 19_999.0)], None),
            // No turn known: no claim that it was long.
            (vec![change(ID, 5, 40 * S, "active", "idle")], None),
            // A session at rest that goes idle again finished nothing.
            (
                vec![Event {
                    duration_ms: Some(60_000.0),
                    ..change(ID, 5, 40 * S, "errored", "idle")
                }],
                None,
            ),
            (
                vec![change(ID, 6, 45 * S, "active", "stalled")],
                Some((Kind::Stalled, "no progress")),
            ),
            (
                vec![Event {
                    reason: "process_gone".into(),
                    ..change(ID, 6, 45 * S, "active", "crashed")
                }],
                Some((Kind::Crashed, "its process died without ending the session")),
            ),
            (
                vec![failed, change(ID, 8, 50 * S, "active", "errored")],
                Some((Kind::Error, "the turn failed: overloaded")),
            ),
            (vec![change(ID, 9, 60 * S, "active", "ended")], None),
            (vec![change(ID, 9, 60 * S, "active", "killed")], None),
            (vec![change(ID, 9, 60 * S, "idle", "active")], None),
        ];
        for (events, want) in cases {
            let mut r = rules_with(&[session(ID, "/home/me/api-server")]);
            let got = r.on_commit(&events, &[], 0.0, 100 * S);
            let got: Vec<_> = got.iter().map(|d| (d.kind, d.body.as_str())).collect();
            assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{events:?}");
        }
    }

    #[test]
    fn titles_name_the_agent_and_the_project() {
        let mut r = rules_with(&[session(ID, "/home/me/api-server/")]);
        let d = r.on_commit(&[change(ID, 1, S, "active", "stalled")], &[], 0.0, S);
        assert_eq!(d[0].title, "Claude Code · api-server");
        assert_eq!(d[0].agent, "claude_code");
        // A session never seen: the agent from its id, no project.
        let d = r.on_commit(&[change("codex:x", 2, S, "active", "stalled")], &[], 0.0, S);
        assert_eq!(d[0].title, "Codex");
    }

    #[test]
    fn a_stall_says_for_how_long_and_what_was_running() {
        let mut s = session(ID, "/p");
        s.current_tool = "Bash".into();
        s.last_activity_unix_nano = 10 * S;
        let mut r = rules_with(&[]);
        let d = r.on_commit(
            &[change(ID, 1, 130 * S, "active", "stalled")],
            &[s],
            0.0,
            130 * S,
        );
        assert_eq!(
            summary(&d),
            [(
                Kind::Stalled,
                ID,
                "no progress for 2 min while running Bash"
            )]
        );
    }

    #[test]
    fn the_same_session_and_kind_is_not_repeated_within_the_cooldown() {
        let mut r = rules_with(&[]);
        let ask = |seq, t| change(ID, seq, t, "active", "awaiting_permission");
        assert_eq!(r.on_commit(&[ask(1, S)], &[], 0.0, S).len(), 1);
        assert!(r.on_commit(&[ask(2, 2 * S)], &[], 0.0, 299 * S).is_empty());
        // Another kind, another session: not held back.
        assert_eq!(
            r.on_commit(
                &[change(ID, 3, 3 * S, "active", "stalled")],
                &[],
                0.0,
                299 * S
            )
            .len(),
            1
        );
        assert_eq!(
            r.on_commit(
                &[ask(4, 4 * S)].map(|e| Event {
                    session_id: "codex:b".into(),
                    ..e
                }),
                &[],
                0.0,
                299 * S
            )
            .len(),
            1
        );
        // After the cooldown, again.
        assert_eq!(r.on_commit(&[ask(5, 5 * S)], &[], 0.0, 301 * S).len(), 1);
    }

    #[test]
    fn a_codex_sub_agent_folds_into_its_parent_and_its_turns_are_not_news() {
        const PARENT: &str = "codex:parent";
        const CHILD: &str = "codex:child";
        let mut r = rules_with(&[session(PARENT, "/w/proj"), session(CHILD, "/w/proj")]);
        let spawn = Event {
            tool_call_id: "child".into(),
            ..event(PARENT, 1, S, "subagent_started")
        };
        assert!(r.on_commit(&[spawn], &[], 0.0, S).is_empty());
        // The child's long turn ends: nothing. The child asks for permission: the parent needs you.
        assert!(
            r.on_commit(
                &[finished_after(CHILD, 2, 60 * S, 59_000.0)],
                &[],
                0.0,
                60 * S
            )
            .is_empty()
        );
        let d = r.on_commit(
            &[change(CHILD, 3, 61 * S, "active", "awaiting_permission")],
            &[],
            0.0,
            61 * S,
        );
        assert_eq!(
            summary(&d),
            [(
                Kind::NeedsYou,
                PARENT,
                "sub-agent is waiting for your permission"
            )]
        );
        assert_eq!(d[0].title, "Codex · proj");
        // The parent's own long turn ending is news.
        let d = r.on_commit(
            &[finished_after(PARENT, 4, 90 * S, 89_000.0)],
            &[],
            0.0,
            90 * S,
        );
        assert_eq!(
            summary(&d),
            [(Kind::Finished, PARENT, "finished a turn after 1 min 29 s")]
        );
    }

    #[test]
    fn api_errors_alert_only_in_a_burst() {
        let err = |seq, t| Event {
            error: "HTTP 529 overloaded".into(),
            ..event(ID, seq, t * S, "api_error")
        };
        let mut r = rules_with(&[]);
        // Three spread over more than the window: no burst.
        assert!(
            r.on_commit(&[err(1, 0), err(2, 40)], &[], 0.0, S)
                .is_empty()
        );
        assert!(r.on_commit(&[err(3, 70)], &[], 0.0, S).is_empty());
        let d = r.on_commit(&[err(4, 80)], &[], 0.0, S);
        assert_eq!(
            summary(&d),
            [(
                Kind::Error,
                ID,
                "3 API errors within 60 s: HTTP 529 overloaded"
            )]
        );
        let mut off = Rules::new(RuleConfig {
            api_error_burst: 0,
            ..config()
        });
        assert!(
            off.on_commit(&[err(1, 0), err(2, 1), err(3, 2), err(4, 3)], &[], 0.0, S)
                .is_empty()
        );
    }

    #[test]
    fn budgets_alert_once_when_crossed() {
        let spent = |usd| Session {
            cost: Some(Cost {
                known_usd: usd,
                ..Cost::default()
            }),
            ..session(ID, "/p")
        };
        let mut r = rules_with(&[]);
        assert!(r.on_commit(&[], &[spent(4.99)], 0.0, S).is_empty());
        let d = r.on_commit(&[], &[spent(5.01)], 0.0, S);
        assert_eq!(
            summary(&d),
            [(Kind::Budget, ID, "has cost $5.01 (budget $5.00)")]
        );
        assert!(r.on_commit(&[], &[spent(9.0)], 0.0, 10_000 * S).is_empty());
        // Known to be over the budget at start: not announced again after a restart.
        let mut restarted = rules_with(&[spent(6.0)]);
        assert!(restarted.on_commit(&[], &[spent(6.5)], 0.0, S).is_empty());

        // The day: once per UTC day.
        let day = 86_400 * S;
        let d = r.on_commit(&[], &[], 20.5, day + S);
        assert_eq!(
            summary(&d),
            [(Kind::Budget, "", "$20.50 so far today (budget $20.00)")]
        );
        assert!(r.on_commit(&[], &[], 25.0, day + 2 * S).is_empty());
        assert_eq!(r.on_commit(&[], &[], 21.0, 2 * day + S).len(), 1);
    }

    #[test]
    fn a_finished_turn_says_what_it_did() {
        use crate::proto::store::Counts;
        let turn = |tools, usd| Turn {
            counts: Some(Counts {
                tool_calls: tools,
                ..Counts::default()
            }),
            cost: Some(Cost {
                known_usd: usd,
                ..Cost::default()
            }),
            ..Turn::default()
        };
        assert_eq!(turn_figures(&turn(14, 0.4216)), " · 14 tool calls · $0.42");
        assert_eq!(turn_figures(&turn(1, 0.0)), " · 1 tool call");
        assert_eq!(turn_figures(&turn(0, 0.0)), "");
        assert_eq!(turn_figures(&Turn::default()), "");
        // The decision names the session's own turn, never a sub-agent's.
        let mut r = rules_with(&[]);
        let e = Event {
            turn_id: "t9".into(),
            ..finished_after(ID, 1, 60 * S, 59_000.0)
        };
        assert_eq!(r.on_commit(&[e], &[], 0.0, 60 * S)[0].turn_id, "t9");
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        for (ms, want) in [
            (400.0, "0 s"),
            (45_000.0, "45 s"),
            (120_000.0, "2 min"),
            (192_000.0, "3 min 12 s"),
            (3_600_000.0, "1 h"),
            (3_900_000.0, "1 h 5 min"),
        ] {
            assert_eq!(duration(ms), want);
        }
    }

    #[test]
    fn quiet_hours_follow_the_devices_clock_and_may_span_midnight() {
        let at = |h: i64, m: i64| (h * 60 + m) * 60 * S;
        let night = QuietHours {
            start: 22 * 60,
            end: 7 * 60,
            utc_offset_minutes: 0,
        };
        let lunch = QuietHours {
            start: 12 * 60,
            end: 13 * 60,
            utc_offset_minutes: 0,
        };
        let paris_night = QuietHours {
            utc_offset_minutes: 60,
            ..night
        };
        let none = QuietHours {
            start: 600,
            end: 600,
            utc_offset_minutes: 0,
        };
        for (q, now, want) in [
            (night, at(23, 0), true),
            (night, at(3, 0), true),
            (night, at(7, 0), false),
            (night, at(21, 59), false),
            (night, at(22, 0), true),
            (lunch, at(12, 30), true),
            (lunch, at(13, 0), false),
            // 21:30 UTC is 22:30 in Paris (UTC+1).
            (paris_night, at(21, 30), true),
            (paris_night, at(6, 30), false),
            (none, at(10, 0), false),
        ] {
            assert_eq!(quiet(&q, now), want, "{q:?} at {now}");
        }
    }

    #[test]
    fn quiet_hours_are_read_and_written_as_clock_times() {
        let q: QuietHours =
            serde_json::from_str(r#"{"start":"22:00","end":"7:05","utc_offset_minutes":-300}"#)
                .expect("valid");
        assert_eq!((q.start, q.end, q.utc_offset_minutes), (1320, 425, -300));
        assert_eq!(
            serde_json::to_string(&q).expect("json"),
            r#"{"start":"22:00","end":"07:05","utc_offset_minutes":-300}"#
        );
        for bad in ["24:00", "12:60", "noon", "12", "1:2", ""] {
            let json = format!(r#"{{"start":"{bad}","end":"07:00","utc_offset_minutes":0}}"#);
            let err = serde_json::from_str::<QuietHours>(&json)
                .expect_err(bad)
                .to_string();
            assert!(err.contains("HH:MM"), "{err}");
        }
    }
}
