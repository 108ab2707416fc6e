//! Agent Observatory: receives coding agents' OpenTelemetry and hook events, keeps them as
//! sessions in redb, and serves them to a dashboard.
//!
//! The modules are listed in flow order, and each imports only modules listed before it
//! (`scripts/check-module-graph`, run by `scripts/test`, fails otherwise). Read top to bottom
//! this is the data flow of DESIGN.md: leaf helpers; the adapters and setup planners that know
//! each agent's wire format, and the registry that chooses among them; the receivers; the
//! session tracker; the store; the live hub; the writer stage that applies, commits and
//! publishes; the alerts read from the hub; the web app; and on top the config, the wiring and
//! the command line. A stage hands its output to the next through a handle or a channel it is
//! given (ingest's queue, the hub), so it never needs to import what comes after it.
//! The `//!` paragraph of each module says what it owns.

// Leaf helpers: they import nothing from the crate.
pub mod clock;
pub mod conns;
pub mod hosts;
pub mod procfs;
pub mod proto;

// What agents send, read into one model: the event vocabulary and one adapter per agent.
pub mod normalize;
// `observatory setup`: one planner per agent, writing the agents' own config files.
pub mod setup;
// The agent registry: the one place that knows each agent, pointing at its adapters and planner.
pub mod agents;
// `observatory hook`: what agents run as their hook; posts to ingest.
pub mod hook;
// The receivers: OTLP gRPC and HTTP, hooks; decode, route through the registry, queue.
pub mod ingest;
// The tracker: live session state, turns, the state machine.
pub mod session;
// The redb file.
pub mod store;
// The hub every commit is published to; the live figures and their ticker.
pub mod live;
// The writer stage: tracker → commit → publish, and the session clock.
pub mod writer;
// Old sessions deleted and the file compacted, through the writer's queue.
pub mod retention;
// Alerts drawn from committed transitions, and their deliveries.
pub mod alerts;
// Everything received, and the session events, sent on to an upstream OTLP endpoint.
pub mod forward;
// Who may read and change what: credentials, paired devices, pairing codes, the audit log.
pub mod access;
// Interrupting, killing and restarting agents' processes.
pub mod control;
// Permission prompts answered from the phone through the agents' waiting hooks.
pub mod answers;
// The app port: read API, live feed, push subscriptions, the dashboard.
pub mod web;
// Defaults < file < environment < flags; builds each stage's settings.
pub mod config;
// Wires the stages together.
pub mod app;
// Commands that act on a running server with the control token: token, pair, tunnel.
pub mod client;
// The command line.
pub mod cli;
// Test support: recorded fixtures and OTLP builders, for tests, benches and the load generator.
pub mod testkit;
