//! The state machine against the recorded real sessions: OTLP and hooks replayed in recorded
//! order at their recorded times (a fixed clock), then the clock and the process check run on.

use super::{Liveness, Tracker};
use crate::normalize::fixture::{dir, replay_timeline};
use crate::normalize::{Agent, Process};

const S: i64 = 1_000_000_000;

/// The agent's process, as far as the test says.
struct Gone(bool);

impl Liveness for Gone {
    fn alive(&self, _: Process) -> bool {
        !self.0
    }
}

/// The transitions of the scenario's main session (the first one seen), and those the clock and
/// the process check add: 3 minutes later with the process alive, then with it gone.
fn transitions(agent_dir: &str, agent: Agent, scenario: &str) -> Vec<String> {
    let mut tracker = Tracker::new(0);
    let process = Some(Process {
        pid: 4242,
        start_ticks: 1,
    });
    let (events, last) = replay_timeline(&dir(agent_dir, scenario), agent, &mut tracker, process);
    let main = events
        .first()
        .map(|e| e.session_id.clone())
        .expect("events");
    let mut later = tracker.tick(last + 180 * S, &Gone(false)).events;
    later.extend(tracker.tick(last + 181 * S, &Gone(true)).events);
    events
        .iter()
        .chain(later.iter())
        .filter(|e| e.kind == "state_changed" && e.session_id == main)
        .map(|e| format!("{}:{}", e.state, e.reason))
        .collect()
}

#[test]
fn recorded_sessions_move_through_the_states_the_evidence_says() {
    let cases: &[(&str, Agent, &str, &[&str])] = &[
        (
            "claude-code-2.1.328",
            Agent::ClaudeCode,
            "denied",
            &[
                "awaiting_permission:permission_requested",
                "active:activity",
                "idle:turn_finished",
                "ended:session_ended",
            ],
        ),
        (
            "claude-code-2.1.328",
            Agent::ClaudeCode,
            "error500",
            &["errored:turn_failed", "ended:session_ended"],
        ),
        (
            "claude-code-2.1.328",
            Agent::ClaudeCode,
            "bash",
            &["idle:turn_finished", "ended:session_ended"],
        ),
        // SIGTERM: Claude says SessionEnd on its way out: ended, not crashed
        (
            "claude-code-2.1.328",
            Agent::ClaudeCode,
            "sigterm_stream",
            &["ended:session_ended"],
        ),
        (
            "claude-code-2.1.328",
            Agent::ClaudeCode,
            "resume",
            &[
                "idle:turn_finished",
                "ended:session_ended",
                "active:run_started",
                "idle:turn_finished",
                "ended:session_ended",
            ],
        ),
        // Codex: Stop hook and notify both end the turn: idle once
        (
            "codex-0.169.0",
            Agent::Codex,
            "bash",
            &["idle:turn_finished", "ended:session_ended"],
        ),
        // SIGTERM: Codex says nothing; no progress, then the process is gone
        (
            "codex-0.169.0",
            Agent::Codex,
            "sigterm_stream",
            &["stalled:no_progress", "crashed:process_gone"],
        ),
        (
            "gemini-cli-0.61.0",
            Agent::GeminiCli,
            "bash",
            &["idle:turn_finished", "ended:session_ended"],
        ),
        (
            "gemini-cli-0.61.0",
            Agent::GeminiCli,
            "sigterm_stream",
            &["stalled:no_progress", "crashed:process_gone"],
        ),
        (
            "copilot-cli-1.0.102",
            Agent::CopilotCli,
            "bash",
            &[
                "awaiting_permission:permission_requested",
                "active:activity",
                "idle:turn_finished",
                "ended:session_ended",
            ],
        ),
        (
            "copilot-cli-1.0.102",
            Agent::CopilotCli,
            "error529",
            &["errored:turn_failed", "ended:session_ended"],
        ),
        (
            "opencode-1.18.33",
            Agent::Opencode,
            "bash",
            &["idle:turn_finished", "crashed:process_gone"],
        ),
    ];
    for (agent_dir, agent, scenario, expected) in cases {
        assert_eq!(
            transitions(agent_dir, *agent, scenario),
            *expected,
            "{agent_dir}/{scenario}"
        );
    }
}
