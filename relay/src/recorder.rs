//! The one task that writes what the bays report (events and their evidence) into the history,
//! in batches off the message path, and publishes `stored` so each edge can forget what is safe.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use baycount_plumbing::backoff::Backoff;
use baycount_plumbing::sqlite::{self, BUSY, CANTOPEN, FULL, IOERR, LOCKED};
use baycount_protocol::{BayId, Kind, SessionId, Stored, Topic};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::history::{EventWrite, EvidenceWrite, History, SessionCursor, StoreOutcome};
use crate::metrics::Metrics;
use crate::mqtt::Outbox;

/// Most records written in one transaction.
const MAX_BATCH: usize = 2000;
/// Queue length between ingest and the recorder.
pub const QUEUE: usize = 16_384;
/// Events kept for retry while the database refuses writes.
const MAX_PENDING: usize = 200_000;
/// Of those, pieces of evidence (pictures of up to 64 KiB): past this the newest are left to
/// the edges, which keep them until `stored.evidence` covers them.
const MAX_PENDING_EVIDENCE: usize = 4096;
/// Evidence cursors kept in memory before the cache is dropped and reloaded lazily.
const MAX_CACHED_EVIDENCE_CURSORS: usize = 10_000;
/// First and longest wait between retries of a refused write.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(4);
/// Sessions per bay listed in its `stored` message.
const STORED_SESSIONS_PER_BAY: usize = 8;

/// Something to write.
#[derive(Debug)]
pub enum Record {
    Event(EventWrite),
    /// A picture of an event (or word that it was dropped).
    Evidence(EvidenceWrite),
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

/// Which kind of record an outcome is of, for the metrics and the log.
#[derive(Debug, Clone, Copy)]
enum Of {
    Event,
    Evidence,
}

/// A write waiting in the recorder's queue.
#[derive(Debug)]
enum Pending {
    Event(EventWrite),
    Evidence(EvidenceWrite),
}

/// The sessions each bay reported on lately, newest last, for its `stored` message.
type Recent = HashMap<BayId, VecDeque<SessionId>>;

/// Puts `session` last in `bay`'s recent sessions, keeping the newest few.
fn remember(recent: &mut Recent, bay: &BayId, session: SessionId) {
    let list = recent.entry(bay.clone()).or_default();
    if list.back() != Some(&session) {
        list.retain(|s| *s != session);
        list.push_back(session);
        if list.len() > STORED_SESSIONS_PER_BAY {
            list.pop_front();
        }
    }
}

/// What the recorder keeps between batches.
#[derive(Debug, Default)]
struct Memory {
    /// Each session's owner and stored cursor.
    cursors: HashMap<SessionId, SessionCursor>,
    /// Each bay's sessions with events lately: `stored.sessions`.
    recent: Recent,
    /// Each bay's sessions with evidence lately: with `recent`, those of `stored.evidence`.
    recent_evidence: Recent,
    /// Each session's evidence cursor for the bay it was read for, dropped when the session has
    /// new events or evidence.
    evidence_cursors: HashMap<SessionId, (BayId, u64)>,
}

impl Recorder {
    pub async fn run(self, mut rx: mpsc::Receiver<Record>) {
        let mut memory = Memory::default();
        // Writes to store, oldest first; while the database refuses writes (locked, full) they
        // wait here, the live view carries on, and nothing is confirmed to the edges.
        let mut queue: VecDeque<Pending> = VecDeque::new();
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
            let batch: Vec<Pending> = queue.drain(..n).collect();
            let (stored, unstored) = self.store(batch, &mut memory).await;
            let mut touched: Vec<BayId> = Vec::new();
            for (bay, session, evidence) in stored {
                let recent = if evidence {
                    &mut memory.recent_evidence
                } else {
                    &mut memory.recent
                };
                remember(recent, &bay, session);
                memory.evidence_cursors.remove(&session);
                if !touched.contains(&bay) {
                    touched.push(bay);
                }
            }
            for bay in &touched {
                self.publish_stored(bay, &mut memory).await;
            }
            let Some((e, unstored)) = unstored else {
                if retry_at.take().is_some() {
                    log::info!("the history takes writes again; waiting events are being stored");
                }
                backoff.reset();
                continue;
            };
            if !open {
                log::error!(
                    "stopping with {} events and pictures not stored ({e}); the edges still hold them and send them again",
                    unstored.len() + queue.len()
                );
                break;
            }
            if transient(&e) {
                if retry_at.is_none() {
                    log::error!(
                        "cannot store events now: {e}; retrying, the live view carries on and the edges keep them until stored"
                    );
                }
                for w in unstored.into_iter().rev() {
                    queue.push_front(w);
                }
                // Past the bounds, the newest are left to the edges' replay on reconnect.
                let mut pictures = 0;
                queue.retain(|w| {
                    pictures += usize::from(matches!(w, Pending::Evidence(_)));
                    !matches!(w, Pending::Evidence(_)) || pictures <= MAX_PENDING_EVIDENCE
                });
                queue.truncate(MAX_PENDING);
                retry_at = Some(tokio::time::Instant::now() + backoff.next());
            } else {
                // Not stored means not confirmed: the edges send these again.
                log::error!("cannot store {} events or pictures: {e}", unstored.len());
            }
        }
        log::debug!("recorder stopped");
    }

    /// Stores a batch: its events, then its evidence (so that a picture finds the session its
    /// event opened), each in one transaction. Returns `(bay, session, is evidence)` of what
    /// was written, and the error with what was not.
    async fn store(
        &self,
        batch: Vec<Pending>,
        memory: &mut Memory,
    ) -> (
        Vec<(BayId, SessionId, bool)>,
        Option<(crate::history::HistoryError, Vec<Pending>)>,
    ) {
        let mut events = Vec::new();
        let mut evidence = Vec::new();
        for w in batch {
            match w {
                Pending::Event(e) => events.push(e),
                Pending::Evidence(e) => evidence.push(e),
            }
        }
        let mut stored = Vec::new();
        if !events.is_empty() {
            match self
                .history
                .store_events(&events, &mut memory.cursors)
                .await
            {
                Ok(outcomes) => {
                    self.account(&events, &outcomes);
                    stored.extend(
                        events
                            .iter()
                            .map(|e| (e.bay.clone(), e.event.session, false)),
                    );
                }
                Err(e) => {
                    let all = events.into_iter().map(Pending::Event);
                    let all = all.chain(evidence.into_iter().map(Pending::Evidence));
                    return (stored, Some((e, all.collect())));
                }
            }
        }
        if !evidence.is_empty() {
            match self.history.store_evidence(&evidence).await {
                Ok(outcomes) => {
                    self.account_evidence(&evidence, &outcomes);
                    stored.extend(
                        evidence
                            .iter()
                            .map(|e| (e.bay.clone(), e.evidence.header.session, true)),
                    );
                }
                Err(e) => {
                    let rest = evidence.into_iter().map(Pending::Evidence).collect();
                    return (stored, Some((e, rest)));
                }
            }
        }
        (stored, None)
    }

    /// Queues an event or a piece of evidence, or records a bay at once.
    async fn take(&self, record: Record, queue: &mut VecDeque<Pending>) {
        match record {
            Record::Event(e) => queue.push_back(Pending::Event(e)),
            Record::Evidence(e) => queue.push_back(Pending::Evidence(e)),
            Record::Bay { bay, seen } => {
                if let Err(e) = self.history.upsert_bay(&bay, None, seen).await {
                    log::error!("cannot record bay {bay}: {e}");
                }
            }
        }
    }

    fn account(&self, events: &[EventWrite], outcomes: &[StoreOutcome]) {
        for (e, o) in events.iter().zip(outcomes) {
            self.tally(Of::Event, &e.bay, e.event.session, e.event.seq, o);
        }
    }

    fn account_evidence(&self, evidence: &[EvidenceWrite], outcomes: &[StoreOutcome]) {
        for (e, o) in evidence.iter().zip(outcomes) {
            let h = &e.evidence.header;
            if h.dropped && *o == StoreOutcome::Stored {
                self.metrics.evidence_dropped.inc();
            }
            self.tally(Of::Evidence, &e.bay, h.session, h.seq, o);
        }
    }

    /// Counts what became of one record, and logs a refusal with its bay and session.
    fn tally(&self, of: Of, bay: &BayId, session: SessionId, seq: u64, outcome: &StoreOutcome) {
        let m = &*self.metrics;
        let (stored, duplicate, refused, what): (_, _, fn(&Metrics, &str), _) = match of {
            Of::Event => (
                &m.events_stored,
                &m.events_duplicate,
                Metrics::event_refused,
                "event",
            ),
            Of::Evidence => (
                &m.evidence_stored,
                &m.evidence_duplicate,
                Metrics::evidence_refused,
                "evidence",
            ),
        };
        match outcome {
            StoreOutcome::Stored => {
                stored.inc();
            }
            StoreOutcome::Duplicate => {
                duplicate.inc();
            }
            StoreOutcome::WrongBay { owner } => {
                refused(m, "wrong_bay");
                log::warn!(
                    "refused {what} {seq} of session {session} from bay {bay}: the session belongs to bay {owner}"
                )
            }
            StoreOutcome::Refused(why) => {
                refused(m, why.reason());
                log::warn!("refused {what} {seq} of session {session} from bay {bay}: {why}")
            }
        }
    }

    /// Publishes `bay`'s `stored`: how far each of its recent sessions' events are stored, and
    /// how far their evidence is.
    async fn publish_stored(&self, bay: &BayId, memory: &mut Memory) {
        let mut stored = Stored {
            sessions: Default::default(),
            at: Some(Utc::now()),
            evidence: Default::default(),
        };
        let none = VecDeque::new();
        let sessions = memory.recent.get(bay).unwrap_or(&none);
        for s in sessions {
            let cursor = match memory.cursors.get(s) {
                Some(c) => Some(c.clone()),
                None => self.history.session_cursor(*s).await.ok().flatten(),
            };
            if let Some(c) = cursor.filter(|c| c.bay == *bay) {
                stored.sessions.insert(*s, c.stored);
            }
        }
        if memory.evidence_cursors.len() > MAX_CACHED_EVIDENCE_CURSORS {
            memory.evidence_cursors.clear();
        }
        let with_evidence = memory.recent_evidence.get(bay).unwrap_or(&none);
        for s in sessions.iter().chain(with_evidence) {
            let n = match memory.evidence_cursors.get(s) {
                Some((b, n)) if b == bay => *n,
                _ => match self.history.evidence_cursor(*s, bay).await {
                    Ok(n) => {
                        memory.evidence_cursors.insert(*s, (bay.clone(), n));
                        n
                    }
                    Err(e) => {
                        log::warn!("cannot read how far session {s}'s evidence is stored: {e}");
                        0
                    }
                },
            };
            // 0 too: it tells an edge that this relay keeps evidence, so it sends again what it
            // kept while the relay was away.
            stored.evidence.insert(*s, n);
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
