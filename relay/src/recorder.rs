//! The one task that writes what the bays report into the history, in batches off the message
//! path, and publishes `stored` so each edge can forget what is safe.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use baycount_plumbing::backoff::Backoff;
use baycount_plumbing::sqlite::{self, BUSY, CANTOPEN, FULL, IOERR, LOCKED};
use baycount_protocol::{BayId, Kind, SessionId, Stored, Topic};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::history::{EventWrite, History, SessionCursor, StoreOutcome};
use crate::metrics::Metrics;
use crate::mqtt::Outbox;

/// Most records written in one transaction.
const MAX_BATCH: usize = 2000;
/// Queue length between ingest and the recorder.
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
    pub outbox: Outbox,
    pub metrics: Arc<Metrics>,
}

impl Recorder {
    pub async fn run(self, mut rx: mpsc::Receiver<Record>) {
        let mut cursors: HashMap<SessionId, SessionCursor> = HashMap::new();
        let mut recent: HashMap<BayId, VecDeque<SessionId>> = HashMap::new();
        // Events to store, oldest first; while the database refuses writes (locked, full) they
        // wait here, the live view carries on, and nothing is confirmed to the edges.
        let mut queue: VecDeque<EventWrite> = VecDeque::new();
        let mut retry_at: Option<tokio::time::Instant> = None;
        let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
        let mut open = true;
        loop {
            let now = tokio::time::Instant::now();
            let can_write = !queue.is_empty() && retry_at.is_none_or(|t| t <= now);
            if !can_write {
                if !open && queue.is_empty() {
                    break;
                }
                let wake = retry_at.unwrap_or(now);
                tokio::select! {
                    r = rx.recv(), if open => match r {
                        Some(r) => self.take(r, &mut queue).await,
                        None => open = false,
                    },
                    _ = tokio::time::sleep_until(wake), if !queue.is_empty() => {}
                }
            }
            while queue.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => self.take(r, &mut queue).await,
                    Err(_) => break,
                }
            }
            if queue.is_empty() || retry_at.is_some_and(|t| t > tokio::time::Instant::now()) {
                continue;
            }
            let n = queue.len().min(MAX_BATCH);
            let events: Vec<EventWrite> = queue.drain(..n).collect();
            match self.history.store_events(&events, &mut cursors).await {
                Ok(outcomes) => {
                    if retry_at.take().is_some() {
                        log::info!(
                            "the history takes writes again; waiting events are being stored"
                        );
                    }
                    backoff.reset();
                    self.account(&events, &outcomes);
                }
                Err(e) if !open => {
                    log::error!(
                        "stopping with {} events not stored ({e}); the edges still hold them and send them again",
                        events.len() + queue.len()
                    );
                    break;
                }
                Err(e) if transient(&e) => {
                    if retry_at.is_none() {
                        log::error!(
                            "cannot store events now: {e}; retrying, the live view carries on and the edges keep them until stored"
                        );
                    }
                    for e in events.into_iter().rev() {
                        queue.push_front(e);
                    }
                    // Past the bound, the newest are left to the edges' replay on reconnect.
                    queue.truncate(MAX_PENDING);
                    retry_at = Some(tokio::time::Instant::now() + backoff.next());
                    continue;
                }
                Err(e) => {
                    // Not stored means not confirmed: the edges send these again.
                    log::error!("cannot store {} events: {e}", events.len());
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

    /// Queues an event, or records a bay at once.
    async fn take(&self, record: Record, queue: &mut VecDeque<EventWrite>) {
        match record {
            Record::Event(e) => queue.push_back(e),
            Record::Bay { bay, seen } => {
                if let Err(e) = self.history.upsert_bay(&bay, None, seen).await {
                    log::error!("cannot record bay {bay}: {e}");
                }
            }
        }
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
                StoreOutcome::WrongBay { owner } => {
                    self.metrics.event_refused("wrong_bay");
                    log::warn!(
                        "refused event {} of session {} from bay {}: the session belongs to bay {owner}",
                        e.event.seq,
                        e.event.session,
                        e.bay
                    )
                }
                StoreOutcome::Refused(why) => {
                    self.metrics.event_refused(why.reason());
                    log::warn!(
                        "refused event {} of session {} from bay {}: {why}",
                        e.event.seq,
                        e.event.session,
                        e.bay
                    )
                }
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
            evidence: Default::default(),
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
        if let Err(e) = self.outbox.publish_stored(bay, stored).await {
            log::warn!(
                "cannot publish {}: {e}",
                Topic::new(bay.clone(), Kind::Stored)
            );
        }
    }
}

/// Whether a refused write may succeed later: the file locked or busy, the disk full or
/// failing, the connection gone; not a write the database will never take.
fn transient(e: &crate::history::HistoryError) -> bool {
    match e {
        crate::history::HistoryError::Db(e @ sqlx::Error::Database(_)) => sqlite::result_code(e)
            .is_some_and(|c| [BUSY, LOCKED, IOERR, FULL, CANTOPEN].contains(&c)),
        crate::history::HistoryError::Db(
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed,
        ) => true,
        _ => false,
    }
}
