//! Storing count events idempotently by `(session, seq)`, and knowing how far each session is stored.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use baycount_protocol::{BayId, Event, EventKind, SessionId};
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use super::{History, HistoryError, chain, commands, parse_stored, to_ms};

/// An event to store, with the bay whose topic it came on.
#[derive(Debug, Clone)]
pub struct EventWrite {
    pub bay: BayId,
    pub event: Event,
    pub received: DateTime<Utc>,
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// A new row.
    Stored,
    /// Already stored: nothing changed.
    Duplicate,
    /// The session belongs to another bay: refused, nothing changed.
    WrongBay { owner: BayId },
    /// Against the session rules (a second start, an event after the stop, ...): refused,
    /// nothing changed.
    Refused(Refusal),
}

/// Why an event was refused. A session is what happened: it opens once with `started` at seq
/// 1, closes once with `stopped`, and nothing comes after its stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("seq, count, out and track must be whole numbers from 1 (seq) or 0 up to 2^63-1")]
    OutOfRange,
    #[error("a session starts once, with seq 1; a `started` event at another seq is refused")]
    StartNotFirst,
    #[error("seq 1 of a session is its `started` event")]
    FirstNotStart,
    #[error("the session is stopped at seq {stop}; nothing after its stop is stored")]
    AfterStop { stop: u64 },
    #[error("the session is already stopped at seq {stop}; a stop is final")]
    SecondStop { stop: u64 },
    #[error("seq {last} is already stored; a stop cannot come before the session's events")]
    StopBeforeEvents { last: u64 },
}

impl Refusal {
    /// The label `/metrics` counts it under.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::OutOfRange => "out_of_range",
            Refusal::StartNotFirst => "start_not_first",
            Refusal::FirstNotStart => "first_not_start",
            Refusal::AfterStop { .. } => "after_stop",
            Refusal::SecondStop { .. } => "second_stop",
            Refusal::StopBeforeEvents { .. } => "stop_before_events",
        }
    }
}

/// How far one session's events are stored: every `seq` in `1..=stored` is, and so are the
/// ones in `ahead` (received past a gap, e.g. replayed out of order); and where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    pub bay: BayId,
    pub stored: u64,
    ahead: BTreeSet<u64>,
    /// The seq of its stored `stopped` event.
    stop: Option<u64>,
    /// Whether it is sealed into the bay's chain (stopped, and every event up to the stop stored).
    sealed: bool,
}

impl SessionCursor {
    fn new(bay: BayId) -> Self {
        Self {
            bay,
            stored: 0,
            ahead: BTreeSet::new(),
            stop: None,
            sealed: false,
        }
    }

    fn add(&mut self, seq: u64) {
        if seq <= self.stored {
            return;
        }
        self.ahead.insert(seq);
        while self.ahead.remove(&(self.stored + 1)) {
            self.stored += 1;
        }
    }

    /// The highest seq stored.
    fn last(&self) -> u64 {
        self.ahead.last().copied().unwrap_or(self.stored)
    }

    /// Whether the session is complete: stopped, with every event up to its stop stored.
    fn complete(&self) -> bool {
        self.stop.is_some_and(|stop| self.stored >= stop)
    }

    /// Checks an event against what is stored of its session.
    fn admit(&self, seq: u64, kind: &EventKind) -> Result<(), Refusal> {
        let stopping = matches!(kind, EventKind::Stopped { .. });
        if let Some(stop) = self.stop {
            if seq > stop {
                return Err(Refusal::AfterStop { stop });
            }
            if stopping && seq != stop {
                return Err(Refusal::SecondStop { stop });
            }
        }
        if stopping && self.last() > seq {
            return Err(Refusal::StopBeforeEvents { last: self.last() });
        }
        Ok(())
    }
}

/// The rules an event must meet whatever is stored: numbers in range, the start at seq 1.
fn check_event(ev: &Event) -> Result<(), Refusal> {
    let max = i64::MAX as u64;
    let track = match ev.kind {
        EventKind::Counted { track, .. } => track,
        _ => 0,
    };
    if ev.seq == 0 || [ev.seq, ev.count, ev.out, track].iter().any(|&n| n > max) {
        return Err(Refusal::OutOfRange);
    }
    match (&ev.kind, ev.seq) {
        (EventKind::Started { .. }, 1) => Ok(()),
        (EventKind::Started { .. }, _) => Err(Refusal::StartNotFirst),
        (_, 1) => Err(Refusal::FirstNotStart),
        _ => Ok(()),
    }
}

/// How many session cursors are kept in memory before the cache is dropped and reloaded lazily.
const MAX_CACHED_CURSORS: usize = 10_000;

impl History {
    /// Stores a batch of events in one transaction. `cursors` caches each session's owner and
    /// stored cursor between batches; sessions missing from it are read from the database.
    pub async fn store_events(
        &self,
        batch: &[EventWrite],
        cursors: &mut HashMap<SessionId, SessionCursor>,
    ) -> Result<Vec<StoreOutcome>, HistoryError> {
        if cursors.len() > MAX_CACHED_CURSORS {
            cursors.clear();
        }
        let mut tx = self.write.begin().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut touched = Vec::new();
        let result: Result<(), HistoryError> = async {
            for w in batch {
                touched.push(w.event.session);
                outcomes.push(store_one(&mut tx, w, cursors).await?);
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                tx.commit().await?;
                Ok(outcomes)
            }
            Err(e) => {
                // The cursors of this batch's sessions may count rows that were rolled back.
                for s in touched {
                    cursors.remove(&s);
                }
                Err(e)
            }
        }
    }

    /// Reads the stored cursor of a session, if the session is known.
    pub async fn session_cursor(
        &self,
        session: SessionId,
    ) -> Result<Option<SessionCursor>, HistoryError> {
        let mut conn = self.read.acquire().await?;
        load_cursor(&mut conn, session).await
    }
}

async fn load_cursor(
    conn: &mut SqliteConnection,
    session: SessionId,
) -> Result<Option<SessionCursor>, HistoryError> {
    let id = session.to_string();
    let Some(row) = sqlx::query(
        "SELECT bay, EXISTS (SELECT 1 FROM chain c WHERE c.session = s.id) AS sealed
         FROM sessions s WHERE id = ?",
    )
    .bind(&id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let mut cursor = SessionCursor::new(parse_stored("bay", row.try_get("bay")?)?);
    cursor.sealed = row.try_get("sealed")?;
    let rows = sqlx::query("SELECT seq, kind FROM events WHERE session = ? ORDER BY seq")
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
    for r in rows {
        let seq = r.try_get::<i64, _>("seq")? as u64;
        cursor.add(seq);
        if r.try_get::<&str, _>("kind")? == "stopped" {
            cursor.stop = Some(seq);
        }
    }
    Ok(Some(cursor))
}

async fn store_one(
    conn: &mut SqliteConnection,
    w: &EventWrite,
    cursors: &mut HashMap<SessionId, SessionCursor>,
) -> Result<StoreOutcome, HistoryError> {
    let ev = &w.event;
    if let Err(refusal) = check_event(ev) {
        return Ok(StoreOutcome::Refused(refusal));
    }
    let id = ev.session.to_string();
    let now = to_ms(w.received);
    let cursor = match cursors.entry(ev.session) {
        Entry::Occupied(o) => o.into_mut(),
        Entry::Vacant(slot) => {
            let cursor = match load_cursor(conn, ev.session).await? {
                Some(c) => c,
                None => {
                    sqlx::query(
                        "INSERT INTO bays (id, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?2)
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(w.bay.as_str())
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                    sqlx::query("INSERT INTO sessions (id, bay, created_ms) VALUES (?, ?, ?)")
                        .bind(&id)
                        .bind(w.bay.as_str())
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                    SessionCursor::new(w.bay.clone())
                }
            };
            slot.insert(cursor)
        }
    };
    if cursor.bay != w.bay {
        return Ok(StoreOutcome::WrongBay {
            owner: cursor.bay.clone(),
        });
    }
    if let Err(refusal) = cursor.admit(ev.seq, &ev.kind) {
        return Ok(StoreOutcome::Refused(refusal));
    }
    let (kind, direction, track) = match &ev.kind {
        EventKind::Started { .. } => ("started", None, None),
        EventKind::Counted { direction, track } => {
            ("counted", Some(direction.as_str()), Some(*track as i64))
        }
        EventKind::Stopped { .. } => ("stopped", None, None),
    };
    let inserted = sqlx::query(
        "INSERT INTO events (session, seq, at_ms, kind, direction, track, count, out, stored_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session, seq) DO NOTHING",
    )
    .bind(&id)
    .bind(ev.seq as i64)
    .bind(to_ms(ev.at))
    .bind(kind)
    .bind(direction)
    .bind(track)
    .bind(ev.count as i64)
    .bind(ev.out as i64)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !inserted {
        return Ok(StoreOutcome::Duplicate);
    }
    cursor.add(ev.seq);
    match &ev.kind {
        EventKind::Started { plate, by } => {
            commands::record_start(conn, w, plate, by).await?;
        }
        EventKind::Stopped { by } => {
            cursor.stop = Some(ev.seq);
            commands::record_stop(conn, w, by).await?;
        }
        EventKind::Counted { .. } => {}
    }
    if cursor.complete() && !cursor.sealed {
        chain::seal(conn, &id, w.bay.as_str(), w.received).await?;
        cursor.sealed = true;
    }
    Ok(StoreOutcome::Stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_advances_only_over_contiguous_seqs() {
        let mut c = SessionCursor::new(BayId::parse("b").expect("bay"));
        c.add(2);
        assert_eq!(c.stored, 0);
        c.add(1);
        assert_eq!(c.stored, 2);
        c.add(5);
        c.add(4);
        assert_eq!(c.stored, 2);
        c.add(3);
        assert_eq!(c.stored, 5);
        c.add(3);
        assert_eq!(c.stored, 5);
        assert!(c.ahead.is_empty());
    }

    fn stopped() -> EventKind {
        EventKind::Stopped {
            by: "button".parse().expect("actor"),
        }
    }

    fn counted() -> EventKind {
        EventKind::Counted {
            direction: baycount_protocol::Direction::In,
            track: 1,
        }
    }

    #[test]
    fn nothing_comes_after_a_stop_and_a_stop_is_final() {
        let mut c = SessionCursor::new(BayId::parse("b").expect("bay"));
        for seq in [1, 2, 4] {
            c.add(seq);
        }
        assert_eq!(
            c.admit(3, &stopped()),
            Err(Refusal::StopBeforeEvents { last: 4 })
        );
        assert_eq!(c.admit(5, &stopped()), Ok(()));
        c.add(5);
        c.stop = Some(5);
        // A gap before the stop may still be filled; nothing after it, and no second stop.
        assert_eq!(c.admit(3, &counted()), Ok(()));
        assert_eq!(c.admit(5, &stopped()), Ok(()), "the same stop again");
        assert_eq!(c.admit(6, &counted()), Err(Refusal::AfterStop { stop: 5 }));
        assert_eq!(c.admit(3, &stopped()), Err(Refusal::SecondStop { stop: 5 }));
        assert!(!c.complete());
        c.add(3);
        assert!(c.complete());
    }

    #[test]
    fn a_session_starts_once_at_seq_1_with_numbers_in_range() {
        let event = |seq: u64, kind: EventKind| Event {
            session: SessionId::new(),
            seq,
            at: chrono::Utc::now(),
            count: 0,
            out: 0,
            kind,
        };
        let started = EventKind::Started {
            plate: "B 1 C".parse().expect("plate"),
            by: "api".parse().expect("actor"),
        };
        assert_eq!(check_event(&event(1, started.clone())), Ok(()));
        assert_eq!(check_event(&event(7, started)), Err(Refusal::StartNotFirst));
        assert_eq!(
            check_event(&event(1, counted())),
            Err(Refusal::FirstNotStart)
        );
        assert_eq!(check_event(&event(0, counted())), Err(Refusal::OutOfRange));
        assert_eq!(check_event(&event(2, counted())), Ok(()));
        for big in [i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(
                check_event(&event(big, counted())),
                Err(Refusal::OutOfRange)
            );
            let mut e = event(2, counted());
            e.count = big;
            assert_eq!(check_event(&e), Err(Refusal::OutOfRange));
            let mut e = event(
                2,
                EventKind::Counted {
                    direction: baycount_protocol::Direction::Out,
                    track: big,
                },
            );
            e.out = 1;
            assert_eq!(check_event(&e), Err(Refusal::OutOfRange));
        }
    }
}
