//! Follows the bays: every chat's control message shows sessions started and stopped anywhere,
//! and the count as it goes, within the edit throttle.

use std::sync::Arc;

use baycount_protocol::BayId;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::*;

/// Follows the bays: control messages show sessions started and stopped anywhere, and the count
/// as it goes, within the edit throttle.
pub(super) async fn watch(inner: Arc<Inner>, shutdown: CancellationToken) {
    let mut changes = inner.deps.live.watch();
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    loop {
        let changed: Option<BayId> = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = flush.tick() => None,
            c = changes.recv() => match c {
                Ok(bay) => Some(bay),
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return,
            },
        };
        for chat in inner.chats.all() {
            let mut chat = chat.lock().await;
            let Some(bay) = chat.bay.clone() else {
                continue;
            };
            if changed.as_ref().is_some_and(|c| *c != bay) {
                continue;
            }
            if changed.is_some() {
                inner.follow(&mut chat, &bay).await;
            }
            if chat.dirty && chat.last_edit.is_none_or(|t| t.elapsed() >= EDIT_EVERY) {
                inner.show(&mut chat).await;
            }
        }
    }
}
