//! Session: the [`Tracker`], sole owner of live session state. It gives events their global
//! `seq`, groups them into turns, merges what hooks and telemetry say about the same turn and tool
//! call, keeps the counters, drops facts reported twice, and moves each session through the
//! states of [`state`], recording every transition as a `state_changed` event. Pure code: the
//! caller passes the time, a way to load sessions it has not seen since start-up, and a way to
//! ask whether a process lives ([`liveness`] is the real one).

pub mod liveness;
pub mod state;
mod tracker;

#[cfg(test)]
mod scenarios;

pub use state::{State, Timers};
pub use tracker::{Backing, Commit, Limits, Liveness, Loaded, NoBacking, Tracker};
