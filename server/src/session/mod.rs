//! Session: the [`Tracker`], sole owner of live session state. It gives events their global
//! `seq`, groups them into turns, keeps the counters, drops facts reported twice, and moves each
//! session through its states, recording every transition as a `state_changed` event. Pure code:
//! the caller passes the time and a way to load sessions it has not seen since start-up.

mod tracker;

pub use tracker::{Backing, NoBacking, State, Tracker};
