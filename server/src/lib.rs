//! Agent Observatory: receives coding agents' OpenTelemetry and hook events, keeps them as
//! sessions in redb, and serves them to a dashboard. `app` wires the stages together; each stage
//! lives in its own module, in the order data flows through them.

pub mod alerts;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod hook;
pub mod ingest;
pub mod live;
pub mod normalize;
pub mod procfs;
pub mod proto;
pub mod session;
pub mod setup;
pub mod store;
pub mod web;
pub mod writer;
