//! The whole system: the real `baycount-edge run` binary (sim GPIO) against the real relay and
//! a real broker, on recorded footage and on the synthetic scene. In every case the session's
//! stored count equals the edge journal's, with every `seq` stored once; under faults, the count
//! also equals that of the same run without the fault.
//!
//! - `commands`: sessions from the API, the button, duplicated and expired commands;
//! - `faults`: the edge, broker or relay killed, a partition, the history locked, the camera
//!   gone, a hung edge;
//! - `operations`: systemd readiness and watchdog, mutual TLS;
//! - `edge`, `flow`, `footage`: the edge process, the API steps and checks, the footage runs.

#![allow(clippy::unwrap_used)]

mod commands;
mod edge;
mod faults;
mod flow;
mod footage;
mod operations;

/// The system tests each run a relay and an edge: one at a time keeps them honest on 2 cores
/// (under `cargo test`; the test command's nextest runs each alone, `.config/nextest.toml`).
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
