//! The relay as systemd runs it: `Type=notify` readiness, the watchdog, SIGTERM.

#![allow(clippy::unwrap_used)]

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use baycount_testkit::{Proc, relay_binary};

#[test]
fn tells_systemd_it_is_ready_feeds_the_watchdog_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut cmd = Command::new(relay_binary());
    cmd.args(["--http", "127.0.0.1:0", "--mqtt-listen", "127.0.0.1:0"])
        .arg("--db")
        .arg(dir.path().join("history.db"))
        .env("NOTIFY_SOCKET", &notify)
        .env("WATCHDOG_USEC", "1000000")
        .env("RUST_LOG", "warn,rumqttd=off");
    let mut relay = Proc::spawn("baycount-relay", cmd, &dir.path().join("relay.log"));
    let mut heard = Vec::new();
    let mut buf = [0u8; 256];
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20)
        && heard
            .iter()
            .filter(|m: &&String| m.as_str() == "WATCHDOG=1")
            .count()
            < 2
    {
        if let Ok(n) = socket.recv(&mut buf) {
            heard.push(String::from_utf8_lossy(&buf[..n]).trim().to_owned());
        }
    }
    // READY before any watchdog ping, as systemd expects.
    assert_eq!(
        heard.first().map(String::as_str),
        Some("READY=1"),
        "{heard:?}"
    );
    assert!(
        heard.iter().filter(|m| *m == "WATCHDOG=1").count() >= 2,
        "{heard:?}"
    );
    let (status, _) = relay.terminate(10);
    assert!(status.success(), "{status}: {}", relay.log());
    let mut stopping = false;
    while let Ok(n) = socket.recv(&mut buf) {
        stopping |= String::from_utf8_lossy(&buf[..n]).trim() == "STOPPING=1";
    }
    assert!(stopping, "STOPPING=1 on SIGTERM");
}
