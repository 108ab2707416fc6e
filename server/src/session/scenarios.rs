//! The state machine against the recorded real sessions: OTLP and hooks replayed in recorded
//! order at their recorded times (a fixed clock), then the clock and the process check run on.

use super::{Liveness, Tracker};
use crate::normalize::{Agent, Process};
use crate::testkit::fixtures::{Step, dir, replay_timeline, step_events, timeline};

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
            // Its permissionRequest hook was asked, but no dialog showed (`copilot -p
            // --allow-all-tools`): nobody needed.
            &["idle:turn_finished", "ended:session_ended"],
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

/// Turns, tool calls and tool errors of every session, after replaying the chosen steps.
fn counts(agent_dir: &str, agent: Agent, scenario: &str, order: Order) -> Vec<(String, u64, u64)> {
    let mut steps = timeline(&dir(agent_dir, scenario), agent);
    match order {
        Order::Recorded => {}
        Order::TelemetryOnly => steps.retain(|(_, s)| matches!(s, Step::Otlp(_))),
        Order::HooksOnly => steps.retain(|(_, s)| matches!(s, Step::Hook { .. })),
        // every hook before any telemetry, and the reverse
        Order::HooksFirst => steps.sort_by_key(|(_, s)| !matches!(s, Step::Hook { .. })),
        Order::TelemetryFirst => steps.sort_by_key(|(_, s)| matches!(s, Step::Hook { .. })),
    }
    let mut tracker = Tracker::new(0);
    let mut ids = Vec::new();
    for (t, step) in &steps {
        let events = step_events(step, *t, None);
        ids.extend(events.iter().map(|e| e.session_id()));
        tracker.apply(events, *t, &super::NoBacking).expect("apply");
    }
    ids.sort();
    ids.dedup();
    ids.iter()
        .filter_map(|id| tracker.session(id))
        .map(|s| {
            let c = s.counts.unwrap_or_default();
            (s.id.clone(), c.turns, c.tool_calls)
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Order {
    Recorded,
    TelemetryOnly,
    HooksOnly,
    HooksFirst,
    TelemetryFirst,
}

#[test]
fn hooks_and_telemetry_agree_whichever_arrives_first_or_alone() {
    // The last field: whether the telemetry alone reports the tool call (OpenCode's recorded
    // OTLP carries no tool spans; its plugin events do).
    let cases = [
        ("claude-code-2.1.328", Agent::ClaudeCode, "bash", true),
        ("claude-code-2.1.328", Agent::ClaudeCode, "write", true),
        ("codex-0.169.0", Agent::Codex, "bash", true),
        ("codex-0.169.0", Agent::Codex, "write", true),
        ("gemini-cli-0.61.0", Agent::GeminiCli, "bash", true),
        ("copilot-cli-1.0.102", Agent::CopilotCli, "bash", true),
        ("copilot-cli-1.0.102", Agent::CopilotCli, "write", true),
        ("opencode-1.18.33", Agent::Opencode, "bash", false),
        ("opencode-1.18.33", Agent::Opencode, "write", false),
    ];
    for (agent_dir, agent, scenario, telemetry_has_tools) in cases {
        let expected = counts(agent_dir, agent, scenario, Order::Recorded);
        // one session, one turn, one tool call: both sources merged
        assert_eq!(expected.len(), 1, "{agent_dir}/{scenario}: {expected:?}");
        assert_eq!(
            (expected[0].1, expected[0].2),
            (1, 1),
            "{agent_dir}/{scenario}"
        );
        for order in [
            Order::TelemetryOnly,
            Order::HooksOnly,
            Order::HooksFirst,
            Order::TelemetryFirst,
        ] {
            let mut want = expected.clone();
            if matches!(order, Order::TelemetryOnly) && !telemetry_has_tools {
                want[0].2 = 0;
            }
            assert_eq!(
                counts(agent_dir, agent, scenario, order),
                want,
                "{agent_dir}/{scenario} {order:?}"
            );
        }
    }
}
