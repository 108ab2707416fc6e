//! The session state machine of DESIGN.md as pure functions: which state an event or the passing
//! of time moves a session to. The tracker owns the sessions and calls these; nothing here reads
//! a clock or the system.

use crate::normalize::EventKind;

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

    /// The run is over: only a new run (a resumed session) leaves these.
    pub fn is_final(self) -> bool {
        matches!(self, State::Ended | State::Crashed | State::Killed)
    }

    /// Waiting for a new prompt (or gone): activity from an already closed turn must not wake it.
    pub fn is_resting(self) -> bool {
        matches!(self, State::Idle | State::Errored) || self.is_final()
    }

    /// Waiting on the person, or stuck: any newer activity means the agent moved on.
    fn is_waiting(self) -> bool {
        matches!(
            self,
            State::AwaitingPermission | State::AwaitingInput | State::Stalled
        )
    }
}

/// Timer limits of one agent, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// `active` with no report for this long is `stalled`.
    pub stall_after: i64,
    /// The same while a tool call is open: tools may run long and say nothing.
    pub tool_stall_after: i64,
    /// A session at rest or silent, with no process to watch, is `ended` (silent) after this.
    pub expire_after: i64,
}

impl Default for Timers {
    fn default() -> Self {
        const S: i64 = 1_000_000_000;
        Timers {
            stall_after: 120 * S,
            tool_stall_after: 600 * S,
            expire_after: 86_400 * S,
        }
    }
}

/// What the tracker knows when an event arrives, beyond the event's kind.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    pub kind: EventKind,
    /// The event's own time, and when the session entered its current state.
    pub time: i64,
    pub state_since: i64,
    /// The event belongs to the turn in progress (or names none).
    pub current_turn: bool,
    /// The event opened a turn not seen before.
    pub new_turn: bool,
    /// The event's turn is already closed (a late report).
    pub closed_turn: bool,
    /// The event says the observatory stopped the agent: a kill that worked, or the session
    /// ending while a kill is under way.
    pub stops: bool,
    /// It is the session's first event.
    pub new_session: bool,
}

/// The state an event moves a session to, if it changes, and why.
pub fn on_event(current: State, a: Arrival) -> Option<(State, &'static str)> {
    use EventKind::*;
    // Reports about what happened before the session entered its state (telemetry is batched
    // and arrives seconds late) say nothing about now.
    let newer = a.time > a.state_since;
    // A prompt as the session's very first report (the observatory started after the agent)
    // is news too: the session began in that instant.
    let asks = newer || (a.time == a.state_since && a.new_session);
    if current.is_final() {
        // Only a new run (the tracker's call) leaves a final state.
        return None;
    }
    let next = match a.kind {
        StateChanged | SessionStarted => None,
        ControlFinished if a.stops => Some((State::Killed, "killed")),
        // What the observatory does is no sign of the agent's own activity.
        ControlRequested | ControlFinished => None,
        TurnFinished if a.current_turn => Some((State::Idle, "turn_finished")),
        TurnFailed if a.current_turn => Some((State::Errored, "turn_failed")),
        TurnFinished | TurnFailed => None,
        SessionEnded if a.stops => Some((State::Killed, "killed")),
        SessionEnded => Some((State::Ended, "session_ended")),
        PermissionRequested if !current.is_resting() && asks => {
            Some((State::AwaitingPermission, "permission_requested"))
        }
        InputRequested if !current.is_resting() && asks => {
            Some((State::AwaitingInput, "input_requested"))
        }
        PermissionRequested | InputRequested => None,
        Prompt if current.is_resting() && !a.closed_turn => Some((State::Active, "prompt")),
        _ if current.is_resting() => {
            (a.new_turn && !a.closed_turn).then_some((State::Active, "activity"))
        }
        _ if current.is_waiting() && newer => Some((State::Active, "activity")),
        _ => None,
    };
    next.filter(|(s, _)| *s != current)
}

/// What the clock says about a session: stalled, or expired.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now: i64,
    pub last_activity: i64,
    pub tool_open: bool,
    /// A process is known and watched for this run.
    pub watched: bool,
}

pub fn on_clock(current: State, c: Clock, t: &Timers) -> Option<(State, &'static str)> {
    let quiet = c.now.saturating_sub(c.last_activity);
    if current.is_final() {
        return None;
    }
    if !c.watched && quiet >= t.expire_after {
        return Some((State::Ended, "silent"));
    }
    if current == State::Active {
        let limit = if c.tool_open {
            t.tool_stall_after
        } else {
            t.stall_after
        };
        if quiet >= limit {
            return Some((
                State::Stalled,
                if c.tool_open {
                    "tool_no_progress"
                } else {
                    "no_progress"
                },
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind::*;
    use State::*;

    fn arrival(kind: EventKind, time: i64) -> Arrival {
        Arrival {
            kind,
            time,
            state_since: 10,
            current_turn: true,
            new_turn: false,
            closed_turn: false,
            stops: false,
            new_session: false,
        }
    }

    #[test]
    fn a_prompt_as_the_first_report_of_a_session_waits_for_the_person() {
        // The observatory started after the agent: the permission request made the session.
        let first = Arrival {
            new_session: true,
            ..arrival(PermissionRequested, 10)
        };
        assert_eq!(
            on_event(Active, first),
            Some((AwaitingPermission, "permission_requested"))
        );
        // A late report from the instant the state began is not news.
        assert_eq!(on_event(Active, arrival(PermissionRequested, 10)), None);
    }

    #[test]
    fn a_session_we_stop_is_killed_however_the_agent_says_goodbye() {
        let stopped = |kind| Arrival {
            stops: true,
            ..arrival(kind, 12)
        };
        assert_eq!(
            on_event(Active, stopped(SessionEnded)),
            Some((Killed, "killed"))
        );
        assert_eq!(
            on_event(Idle, stopped(ControlFinished)),
            Some((Killed, "killed"))
        );
        assert_eq!(on_event(Killed, stopped(ControlFinished)), None);
        assert_eq!(
            on_event(Active, arrival(SessionEnded, 12)),
            Some((Ended, "session_ended"))
        );
        // What the observatory does is no activity of the agent's.
        assert_eq!(
            on_event(AwaitingPermission, arrival(ControlRequested, 12)),
            None
        );
        assert_eq!(on_event(Idle, arrival(ControlFinished, 12)), None);
    }

    #[test]
    fn event_transitions() {
        let late = |mut a: Arrival| {
            a.time = 5;
            a
        };
        let new_turn = |mut a: Arrival| {
            a.new_turn = true;
            a
        };
        let closed = |mut a: Arrival| {
            a.closed_turn = true;
            a
        };
        let other_turn = |mut a: Arrival| {
            a.current_turn = false;
            a
        };
        let table: &[(State, Arrival, Option<State>)] = &[
            (
                Active,
                arrival(PermissionRequested, 11),
                Some(AwaitingPermission),
            ),
            (Active, arrival(InputRequested, 11), Some(AwaitingInput)),
            (AwaitingPermission, arrival(ToolDecision, 12), Some(Active)),
            (AwaitingPermission, arrival(ToolFinished, 12), Some(Active)),
            (AwaitingPermission, arrival(Heartbeat, 12), Some(Active)),
            // telemetry about the moments before the prompt appeared does not answer it
            (AwaitingPermission, late(arrival(ApiRequest, 0)), None),
            (AwaitingInput, arrival(Prompt, 12), Some(Active)),
            (Stalled, arrival(ApiRequest, 12), Some(Active)),
            (Stalled, late(arrival(ApiRequest, 0)), None),
            (Active, arrival(TurnFinished, 12), Some(Idle)),
            (AwaitingPermission, arrival(TurnFinished, 12), Some(Idle)),
            (Active, other_turn(arrival(TurnFinished, 12)), None),
            (Active, arrival(TurnFailed, 12), Some(Errored)),
            (Idle, arrival(Prompt, 12), Some(Active)),
            (Errored, arrival(Prompt, 12), Some(Active)),
            (Idle, arrival(ApiRequest, 12), None),
            (Idle, new_turn(arrival(ApiRequest, 12)), Some(Active)),
            (Idle, closed(new_turn(arrival(ApiRequest, 12))), None),
            (Idle, arrival(PermissionRequested, 12), None),
            (Idle, arrival(SessionEnded, 12), Some(Ended)),
            (Active, arrival(SessionEnded, 12), Some(Ended)),
            (Ended, arrival(SessionEnded, 12), None),
            (Ended, arrival(Prompt, 12), None),
            (Crashed, new_turn(arrival(ApiRequest, 12)), None),
            (Active, arrival(SessionStarted, 12), None),
            (Active, arrival(ApiRequest, 12), None),
        ];
        for (i, (from, a, to)) in table.iter().enumerate() {
            assert_eq!(
                on_event(*from, *a).map(|(s, _)| s),
                *to,
                "row {i}: {from:?} + {:?}",
                a.kind
            );
        }
    }

    #[test]
    fn clock_transitions() {
        let t = Timers {
            stall_after: 100,
            tool_stall_after: 1000,
            expire_after: 10_000,
        };
        let clock = |now, tool_open, watched| Clock {
            now,
            last_activity: 0,
            tool_open,
            watched,
        };
        type Row = (State, Clock, Option<(State, &'static str)>);
        let table: &[Row] = &[
            (Active, clock(99, false, false), None),
            (
                Active,
                clock(100, false, false),
                Some((Stalled, "no_progress")),
            ),
            (Active, clock(999, true, true), None),
            (
                Active,
                clock(1000, true, true),
                Some((Stalled, "tool_no_progress")),
            ),
            (Stalled, clock(5000, false, false), None),
            (Idle, clock(9_999, false, false), None),
            (Idle, clock(10_000, false, false), Some((Ended, "silent"))),
            (
                Stalled,
                clock(10_000, false, false),
                Some((Ended, "silent")),
            ),
            // a watched process is the truth about life: never expired by silence
            (Idle, clock(50_000, false, true), None),
            (AwaitingPermission, clock(5000, false, true), None),
            (Crashed, clock(50_000, false, false), None),
        ];
        for (i, (from, c, to)) in table.iter().enumerate() {
            assert_eq!(on_clock(*from, *c, &t), *to, "row {i}: {from:?}");
        }
    }
}
