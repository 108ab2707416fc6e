//! Test support, one copy for the unit tests, the integration tests (`server/tests/`), the
//! benches and the load generator (`examples/`): readers of the telemetry and hook calls recorded
//! from the real agent CLIs ([`fixtures`]), and builders of OTLP records ([`otlp`]). Nothing in
//! the server calls it; its readers panic on a missing or malformed fixture, as a test should.
//! It sits last in the module order: it replays fixtures through the registry and the tracker.

pub mod fixtures;
pub mod otlp;
