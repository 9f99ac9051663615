//! Tells systemd how the relay is doing (`Type=notify`): ready once it listens, the watchdog fed
//! while its history answers, stopping on shutdown. Does nothing outside systemd.

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::history::History;

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

/// Feeds the watchdog (when the unit has `WatchdogSec=`) at half its period, as long as the
/// history database answers: a relay that cannot record is restarted.
pub async fn watchdog(history: History, shutdown: CancellationToken) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let mut tick = tokio::time::interval(period / 2);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if history.ping().await {
            notify(&[NotifyState::Watchdog]);
        } else {
            log::warn!("the history database does not answer; not feeding the watchdog");
        }
    }
}
