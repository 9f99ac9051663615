//! Deletes the pictures of counts (evidence) once they are older than `evidence_days`, hourly, so the history's file does not grow for ever; the counts are never touched.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::history::History;
use crate::metrics::Metrics;

/// How often old pictures are looked for (first at start-up).
pub const PERIOD: Duration = Duration::from_secs(3600);

/// Prunes every [`PERIOD`] until `shutdown`.
pub async fn run(history: History, days: u32, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Utc::now();
        let before = now - chrono::Duration::days(i64::from(days));
        match history.prune_evidence(before, now).await {
            Ok(0) => {}
            Ok(n) => {
                metrics.evidence_pruned.inc_by(n);
                log::info!(
                    "deleted {n} pictures of counts kept more than {days} days (evidence_days)"
                );
            }
            Err(e) => log::warn!(
                "cannot delete the pictures of counts older than {days} days: {e}; trying again in an hour"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::{bay, events, history, piece};
    use crate::history::{EvidenceId, Picture};

    #[tokio::test]
    async fn prunes_at_start_and_stops_with_the_shutdown() {
        let (h, _dir) = history().await;
        let (s, b) = (baycount_protocol::SessionId::new(), bay("bay-1"));
        events(&h, s, &b, 1).await;
        let mut old = piece(s, 1, &b, false);
        old.received = Utc::now() - chrono::Duration::days(31);
        h.store_evidence(&[old, piece(s, 2, &b, false)])
            .await
            .expect("stores");
        let metrics = Arc::new(Metrics::default());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(h.clone(), 30, metrics.clone(), shutdown.clone()));
        while metrics.evidence_pruned.get() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let id = |seq| EvidenceId { session: s, seq };
        assert!(matches!(
            h.evidence_picture(id(1)).await.expect("reads"),
            Some(Picture::Pruned { .. })
        ));
        assert!(matches!(
            h.evidence_picture(id(2)).await.expect("reads"),
            Some(Picture::Jpeg(_))
        ));
        shutdown.cancel();
        task.await.expect("the task ends");
        assert_eq!(metrics.evidence_pruned.get(), 1);
    }
}
