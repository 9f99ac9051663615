//! Storing count events idempotently by `(session, seq)`, and knowing how far each session is stored.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use baycount_protocol::{BayId, Event, EventKind, SessionId};
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use super::{History, HistoryError, parse_stored, to_ms};

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
}

/// How far one session's events are stored: every `seq` in `1..=stored` is, and so are the
/// ones in `ahead` (received past a gap, e.g. replayed out of order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    pub bay: BayId,
    pub stored: u64,
    ahead: BTreeSet<u64>,
}

impl SessionCursor {
    fn new(bay: BayId) -> Self {
        Self {
            bay,
            stored: 0,
            ahead: BTreeSet::new(),
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
    let Some(row) = sqlx::query("SELECT bay FROM sessions WHERE id = ?")
        .bind(&id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut cursor = SessionCursor::new(parse_stored("bay", row.try_get("bay")?)?);
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM events WHERE session = ? ORDER BY seq")
            .bind(&id)
            .fetch_all(&mut *conn)
            .await?;
    for seq in seqs {
        cursor.add(seq as u64);
    }
    Ok(Some(cursor))
}

async fn store_one(
    conn: &mut SqliteConnection,
    w: &EventWrite,
    cursors: &mut HashMap<SessionId, SessionCursor>,
) -> Result<StoreOutcome, HistoryError> {
    let ev = &w.event;
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
            sqlx::query(
                "UPDATE sessions SET plate = ?, started_at_ms = ?, started_by = ? WHERE id = ?",
            )
            .bind(plate.as_str())
            .bind(to_ms(ev.at))
            .bind(by.to_string())
            .bind(&id)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO plates (plate, last_used_ms, uses) VALUES (?1, ?2, 1)
                 ON CONFLICT (plate) DO UPDATE SET last_used_ms = MAX(last_used_ms, ?2), uses = uses + 1",
            )
            .bind(plate.as_str())
            .bind(to_ms(ev.at))
            .execute(&mut *conn)
            .await?;
        }
        EventKind::Stopped { by } => {
            sqlx::query("UPDATE sessions SET stopped_at_ms = ?, stopped_by = ? WHERE id = ?")
                .bind(to_ms(ev.at))
                .bind(by.to_string())
                .bind(&id)
                .execute(&mut *conn)
                .await?;
        }
        EventKind::Counted { .. } => {}
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
}
