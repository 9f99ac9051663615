//! Tells systemd how the edge is doing (`Type=notify`): ready once running, the watchdog fed
//! only while frames are being processed, stopping on shutdown. Does nothing outside systemd.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sd_notify::NotifyState;

fn notify(state: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some()
        && let Err(e) = sd_notify::notify(state)
    {
        log::warn!("cannot notify systemd: {e}");
    }
}

pub fn ready() {
    notify(&[NotifyState::Ready]);
}

pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// Feeds the watchdog, at most once a second (call it for every processed frame).
pub fn watchdog() {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST.swap(now, Ordering::Relaxed) != now {
        notify(&[NotifyState::Watchdog]);
    }
}
