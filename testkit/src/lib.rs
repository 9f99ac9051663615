//! Test fixtures shared by the relay's and the edge's tests, one module per fixture. Every
//! process a fixture starts runs under [`process::Proc`], so it dies with the test.
//!
//! # Layout
//! - [`process`]: the guard every started process runs under (own process group, output in a
//!   log file, the group killed on drop).
//! - [`mosquitto`]: a real Mosquitto on loopback.
//! - [`relay`]: the relay in this process or as its binary, on port 0.
//! - [`scripted_edge`]: a real MQTT client playing a bay's edge.
//! - [`api`]: an HTTP client for the relay's API.
//! - [`bays`]: bays' MQTT passwords and logins.
//! - [`partition`]: a TCP proxy that can silently cut a link.
//! - [`browser`]: headless Chromium through chromedriver.
//! - [`ca`]: a certificate authority for the TLS tests.

#![allow(clippy::unwrap_used, missing_debug_implementations)]

pub mod api;
pub mod bays;
pub mod browser;
pub mod ca;
pub mod mosquitto;
pub mod partition;
pub mod process;
pub mod relay;
pub mod scripted_edge;
pub mod session;

pub use api::Api;
pub use mosquitto::Mosquitto;
pub use partition::Partition;
pub use process::Proc;
pub use relay::{RelayProcess, TestRelay, Which, relay_binary};
pub use scripted_edge::{Mode, PICTURE, ScriptedEdge, evidence_of};

use std::time::Duration;

/// Polls `f` until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A loopback port where nothing listens (it was free a moment ago), for tests of a peer that
/// is not there. What a test starts gets port 0 instead; only Mosquitto, which cannot say which
/// port it got, starts on one of these, and retries on another if it was taken meanwhile.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client id no other client of this test run has (MQTT brokers drop the older of two).
pub fn unique_client_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
