//! The one task that writes what the bays report into the history, in batches, and publishes
//! `stored` so each edge can forget what is safe.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use baycount_protocol::{BayId, Kind, SessionId, Stored, Topic};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::history::{EventWrite, History, SessionCursor, StoreOutcome};
use crate::metrics::Metrics;
use crate::mqtt::Publisher;

/// Most records written in one transaction.
const MAX_BATCH: usize = 2000;
/// Queue length between the MQTT link and the recorder.
pub const QUEUE: usize = 16_384;
/// Events kept for retry while the database refuses writes.
const MAX_PENDING: usize = 200_000;
/// First and longest wait between retries of a refused write.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(4);
/// Sessions per bay listed in its `stored` message.
const STORED_SESSIONS_PER_BAY: usize = 8;

/// Something to write.
#[derive(Debug)]
pub enum Record {
    Event(EventWrite),
    /// A bay spoke (first time, or its status changed).
    Bay {
        bay: BayId,
        seen: DateTime<Utc>,
    },
}

/// Writes records until every sender is gone, then returns (so shutdown drains the queue).
#[derive(Debug)]
pub struct Recorder {
    pub history: History,
    pub publisher: Publisher,
    pub metrics: Arc<Metrics>,
}

impl Recorder {
    pub async fn run(self, mut rx: mpsc::Receiver<Record>) {
        let mut cursors: HashMap<SessionId, SessionCursor> = HashMap::new();
        let mut recent: HashMap<BayId, VecDeque<SessionId>> = HashMap::new();
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // Events the database refused (locked, full): kept and retried before anything newer.
        let mut pending: Vec<EventWrite> = Vec::new();
        let mut retry = RETRY_FIRST;
        let mut closed = false;
        loop {
            let first = if pending.is_empty() {
                rx.recv().await
            } else if closed {
                None
            } else {
                tokio::select! {
                    r = rx.recv() => r,
                    _ = tokio::time::sleep(retry) => None,
                }
            };
            match first {
                Some(r) => batch.push(r),
                None if pending.is_empty() => break,
                None => closed = closed || rx.is_closed(),
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let mut events = std::mem::take(&mut pending);
            for record in batch.drain(..) {
                match record {
                    Record::Event(e) => events.push(e),
                    Record::Bay { bay, seen } => {
                        if let Err(e) = self.history.upsert_bay(&bay, None, seen).await {
                            log::error!("cannot record bay {bay}: {e}");
                        }
                    }
                }
            }
            if events.is_empty() {
                continue;
            }
            match self.history.store_events(&events, &mut cursors).await {
                Ok(outcomes) => {
                    if retry > RETRY_FIRST {
                        log::info!(
                            "the history takes writes again: {} waiting events stored",
                            events.len()
                        );
                    }
                    retry = RETRY_FIRST;
                    self.account(&events, &outcomes);
                }
                Err(e) => {
                    if retry == RETRY_FIRST {
                        log::error!(
                            "cannot store {} events: {e}; retrying, the live view carries on and the edges keep them until stored",
                            events.len()
                        );
                    }
                    if closed {
                        log::error!(
                            "stopping with {} events not stored; the edges still hold them and send them again",
                            events.len()
                        );
                        break;
                    }
                    // Newest beyond the bound are left to the edges' replay on reconnect.
                    events.truncate(MAX_PENDING);
                    pending = events;
                    retry = (retry * 2).min(RETRY_MAX);
                    continue;
                }
            }
            let mut touched: Vec<&BayId> = Vec::new();
            for e in &events {
                let list = recent.entry(e.bay.clone()).or_default();
                if list.back() != Some(&e.event.session) {
                    list.retain(|s| *s != e.event.session);
                    list.push_back(e.event.session);
                    if list.len() > STORED_SESSIONS_PER_BAY {
                        list.pop_front();
                    }
                }
                if !touched.contains(&&e.bay) {
                    touched.push(&e.bay);
                }
            }
            for bay in touched {
                self.publish_stored(bay, &recent[bay], &cursors).await;
            }
        }
        log::debug!("recorder stopped");
    }

    fn account(&self, events: &[EventWrite], outcomes: &[StoreOutcome]) {
        for (e, o) in events.iter().zip(outcomes) {
            match o {
                StoreOutcome::Stored => {
                    self.metrics.events_stored.inc();
                }
                StoreOutcome::Duplicate => {
                    self.metrics.events_duplicate.inc();
                }
                StoreOutcome::WrongBay { owner } => log::warn!(
                    "refused event {} of session {} from bay {}: the session belongs to bay {owner}",
                    e.event.seq,
                    e.event.session,
                    e.bay
                ),
            }
        }
    }

    async fn publish_stored(
        &self,
        bay: &BayId,
        sessions: &VecDeque<SessionId>,
        cursors: &HashMap<SessionId, SessionCursor>,
    ) {
        let mut stored = Stored {
            sessions: Default::default(),
            at: Some(Utc::now()),
        };
        for s in sessions {
            let cursor = match cursors.get(s) {
                Some(c) => Some(c.clone()),
                None => self.history.session_cursor(*s).await.ok().flatten(),
            };
            if let Some(c) = cursor.filter(|c| c.bay == *bay) {
                stored.sessions.insert(*s, c.stored);
            }
        }
        let topic = Topic::new(bay.clone(), Kind::Stored);
        if let Err(e) = self
            .publisher
            .publish(&topic, baycount_protocol::encode(&stored), true)
            .await
        {
            log::warn!("cannot publish {topic}: {e}");
        }
    }
}
