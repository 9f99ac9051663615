//! The edge's durable journal (SQLite, WAL, synchronous FULL): every event of a session is
//! written here before it is published, so no count is lost to a restart or a power cut; the
//! open session resumes from it, and what the relay has not confirmed is re-sent from it.

use std::collections::HashMap;
use std::path::Path;

use baycount_plumbing::sqlite::{self, SqliteFile};
use baycount_protocol::{BayState, Event, EventKind, Phase, Plate, SessionId, Stored};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteSynchronous};

/// Why the journal failed. A full disk is its own case: the bay's event loop reports it as a fault.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Open(#[from] sqlite::OpenError),
    #[error("the journal's disk is full; free space on it, counts are kept in memory meanwhile")]
    Full,
    #[error("journal error: {0}")]
    Db(sqlx::Error),
    #[error("the journal holds an unreadable event ({0}); it may have been edited by hand")]
    Corrupt(String),
}

impl From<sqlx::Error> for JournalError {
    fn from(e: sqlx::Error) -> Self {
        if sqlite::result_code(&e) == Some(sqlite::FULL) {
            JournalError::Full
        } else {
            JournalError::Db(e)
        }
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    session TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    -- started, counted or stopped
    kind    TEXT NOT NULL,
    -- The event as published (protocol JSON).
    payload TEXT NOT NULL,
    PRIMARY KEY (session, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
-- Sessions the relay has stored in full, kept as totals after their events are forgotten:
-- the bay's own record of what it counted (the newest FINISHED_KEPT).
CREATE TABLE IF NOT EXISTS finished (
    session TEXT PRIMARY KEY,
    plate   TEXT NOT NULL,
    count   INTEGER NOT NULL,
    out     INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    stopped_at TEXT NOT NULL
) WITHOUT ROWID;
";

/// How many finished sessions' totals the journal keeps.
pub const FINISHED_KEPT: i64 = 1000;

/// The journal's size limit unless told otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// A session the relay stored in full, as the edge counted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub session: SessionId,
    pub plate: String,
    pub count: u64,
    pub out: u64,
    pub started_at: String,
    pub stopped_at: String,
}

/// The journal file.
#[derive(Debug, Clone)]
pub struct Journal {
    pool: SqlitePool,
}

impl Journal {
    /// Opens (or creates) the journal, limited to [`DEFAULT_MAX_BYTES`].
    pub async fn open(path: &Path) -> Result<Self, JournalError> {
        Self::open_limited(path, DEFAULT_MAX_BYTES).await
    }

    /// Opens the journal, refusing to grow past `max_bytes` (writes then fail with
    /// [`JournalError::Full`], as on a full disk).
    pub async fn open_limited(path: &Path, max_bytes: u64) -> Result<Self, JournalError> {
        let file = SqliteFile {
            path,
            what: "journal",
            check: Some("check that the directory exists and is writable"),
            synchronous: SqliteSynchronous::Full,
            max_bytes: Some(max_bytes),
        };
        let pool = file.pool(1).await?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(|e| file.error(e))?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Writes events durably (all or none); writing one again changes nothing.
    pub async fn append(&self, events: &[Event]) -> Result<(), JournalError> {
        let mut tx = self.pool.begin().await?;
        for e in events {
            let kind = match e.kind {
                EventKind::Started { .. } => "started",
                EventKind::Counted { .. } => "counted",
                EventKind::Stopped { .. } => "stopped",
            };
            sqlx::query("INSERT INTO events (session, seq, kind, payload) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
                .bind(e.session.to_string())
                .bind(e.seq as i64)
                .bind(kind)
                .bind(String::from_utf8_lossy(&baycount_protocol::encode(e)).into_owned())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Remembers the plate the button starts sessions for.
    pub async fn set_assigned_plate(&self, plate: Option<&Plate>) -> Result<(), JournalError> {
        match plate {
            Some(p) => {
                sqlx::query("INSERT INTO settings (key, value) VALUES ('assigned_plate', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                    .bind(p.as_str())
                    .execute(&self.pool)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM settings WHERE key = 'assigned_plate'")
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    async fn events(&self) -> Result<Vec<Event>, JournalError> {
        let rows = sqlx::query("SELECT payload FROM events ORDER BY session, seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get("payload")?;
                serde_json::from_str(&text).map_err(|e| JournalError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// The bay's state as the journal leaves it: the open session (the newest one without a
    /// `stopped` event) with its count, or idle; and the assigned plate.
    pub async fn restore(&self, now: DateTime<Utc>) -> Result<BayState, JournalError> {
        let mut state = BayState::idle(now);
        let assigned: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = 'assigned_plate'")
                .fetch_optional(&self.pool)
                .await?;
        state.assigned_plate = assigned.and_then(|p| Plate::parse(&p).ok());
        let events = self.events().await?;
        let mut sessions: HashMap<SessionId, Vec<&Event>> = HashMap::new();
        for e in &events {
            sessions.entry(e.session).or_default().push(e);
        }
        let open = sessions
            .values()
            .filter(|evs| {
                !evs.iter()
                    .any(|e| matches!(e.kind, EventKind::Stopped { .. }))
            })
            .filter_map(|evs| {
                evs.iter().find_map(|e| match &e.kind {
                    EventKind::Started { plate, by } => {
                        Some((e.at, e.session, plate.clone(), by.clone(), evs))
                    }
                    _ => None,
                })
            })
            .max_by_key(|(at, session, ..)| (*at, *session));
        if let Some((started_at, session, plate, by, evs)) = open {
            let last = evs.iter().max_by_key(|e| e.seq).copied();
            state.phase = Phase::Loading;
            state.session = Some(session);
            state.plate = Some(plate);
            state.started_at = Some(started_at);
            state.started_by = Some(by);
            if let Some(last) = last {
                (state.count, state.out, state.seq) = (last.count, last.out, last.seq);
            }
        }
        Ok(state)
    }

    /// Events the relay has not confirmed: those after each session's `stored` cursor, in
    /// session and seq order.
    pub async fn unconfirmed(&self, stored: &Stored) -> Result<Vec<Event>, JournalError> {
        Ok(self
            .events()
            .await?
            .into_iter()
            .filter(|e| {
                stored
                    .sessions
                    .get(&e.session)
                    .is_none_or(|&upto| e.seq > upto)
            })
            .collect())
    }

    /// Forgets the sessions that are closed and stored by the relay up to their last event,
    /// keeping the disk use bounded. Returns how many events were removed.
    pub async fn confirm(&self, stored: &Stored) -> Result<u64, JournalError> {
        let mut removed = 0;
        for (session, &upto) in &stored.sessions {
            let id = session.to_string();
            let closed_at: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM events WHERE session = ? AND kind = 'stopped'")
                    .bind(&id)
                    .fetch_optional(&self.pool)
                    .await?;
            if closed_at.is_some_and(|last| last as u64 <= upto) {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT OR IGNORE INTO finished (session, plate, count, out, started_at, stopped_at)
                     SELECT s.session, json_extract(s.payload, '$.plate'),
                            json_extract(e.payload, '$.count'), json_extract(e.payload, '$.out'),
                            json_extract(s.payload, '$.at'), json_extract(e.payload, '$.at')
                     FROM events s JOIN events e ON e.session = s.session
                     WHERE s.session = ? AND s.kind = 'started' AND e.kind = 'stopped'",
                )
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                removed += sqlx::query("DELETE FROM events WHERE session = ?")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(
                    "DELETE FROM finished WHERE session NOT IN
                     (SELECT session FROM finished ORDER BY stopped_at DESC LIMIT ?)",
                )
                .bind(FINISHED_KEPT)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
        }
        Ok(removed)
    }

    /// Totals of the sessions the relay stored in full, newest first.
    pub async fn finished(&self) -> Result<Vec<Finished>, JournalError> {
        let rows = sqlx::query(
            "SELECT session, plate, count, out, started_at, stopped_at FROM finished ORDER BY stopped_at DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("session")?;
                Ok(Finished {
                    session: id
                        .parse()
                        .map_err(|_| JournalError::Corrupt(format!("session id {id:?}")))?,
                    plate: r.try_get("plate")?,
                    count: r.try_get::<i64, _>("count")? as u64,
                    out: r.try_get::<i64, _>("out")? as u64,
                    started_at: r.try_get("started_at")?,
                    stopped_at: r.try_get("stopped_at")?,
                })
            })
            .collect()
    }

    /// Every event still held (sessions not yet stored in full by the relay), in order.
    pub async fn held(&self) -> Result<Vec<Event>, JournalError> {
        self.events().await
    }

    /// Events written and not yet forgotten.
    pub async fn backlog(&self) -> Result<u64, JournalError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use baycount_protocol::{Action, Actor, ActorKind, Command, CommandId, Direction};
    use chrono::Duration as Span;

    use super::*;
    use crate::bay::session::BaySession;

    fn start(session: SessionId) -> Command {
        Command {
            id: CommandId::new(),
            expires_at: Utc::now() + Span::seconds(5),
            by: Actor::new(ActorKind::Api, None),
            action: Action::Start {
                session,
                plate: Plate::parse("B 1 A").expect("plate"),
            },
        }
    }

    #[tokio::test]
    async fn an_open_session_resumes_with_its_count_after_a_restart() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("journal.db");
        let session = SessionId::new();
        {
            let j = Journal::open(&path).await.expect("open");
            let mut bay = BaySession::new(j.restore(Utc::now()).await.expect("restore"));
            let (_, events) = bay.command(&start(session), Utc::now());
            j.append(&events).await.expect("append");
            for k in 0..5 {
                let e = bay
                    .crossing(
                        if k == 2 {
                            Direction::Out
                        } else {
                            Direction::In
                        },
                        k,
                        Utc::now(),
                    )
                    .expect("loading");
                j.append(&[e]).await.expect("append");
            }
            j.set_assigned_plate(Some(&Plate::parse("KT 1 X").expect("plate")))
                .await
                .expect("assign");
            // Dropped without closing: like a killed process.
        }
        let j = Journal::open(&path).await.expect("reopen");
        let state = j.restore(Utc::now()).await.expect("restore");
        assert_eq!(
            (
                state.phase,
                state.session,
                state.count,
                state.out,
                state.seq
            ),
            (Phase::Loading, Some(session), 4, 1, 6)
        );
        assert_eq!(
            state.assigned_plate.as_ref().map(Plate::as_str),
            Some("KT 1 X")
        );
        let mut bay = BaySession::new(state);
        let next = bay
            .crossing(Direction::In, 9, Utc::now())
            .expect("still loading");
        assert_eq!(
            (next.seq, next.count),
            (7, 5),
            "numbering goes on where it stopped"
        );
    }

    #[tokio::test]
    async fn unconfirmed_events_are_resent_and_stored_closed_sessions_forgotten() {
        let dir = tempfile::tempdir().expect("tmp");
        let j = Journal::open(&dir.path().join("j.db")).await.expect("open");
        let mut bay = BaySession::new(BayState::idle(Utc::now()));
        let s1 = SessionId::new();
        let (_, mut evs) = bay.command(&start(s1), Utc::now());
        evs.extend(bay.crossing(Direction::In, 1, Utc::now()));
        evs.extend(bay.press(Utc::now()));
        j.append(&evs).await.expect("append");
        j.append(&evs)
            .await
            .expect("appending again changes nothing");
        assert_eq!(j.backlog().await.expect("backlog"), 3);

        let none = Stored::default();
        assert_eq!(j.unconfirmed(&none).await.expect("all").len(), 3);
        let partly = Stored {
            sessions: [(s1, 1)].into(),
            at: None,
            evidence: Default::default(),
        };
        let resend = j.unconfirmed(&partly).await.expect("after the cursor");
        assert_eq!(resend.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(
            j.confirm(&partly).await.expect("confirm"),
            0,
            "not all stored yet"
        );
        let all = Stored {
            sessions: [(s1, 3)].into(),
            at: None,
            evidence: Default::default(),
        };
        assert_eq!(j.confirm(&all).await.expect("confirm"), 3);
        assert_eq!(j.backlog().await.expect("backlog"), 0);
        let finished = j.finished().await.expect("finished");
        assert_eq!(
            finished
                .iter()
                .map(|f| (f.session, f.plate.as_str(), f.count, f.out))
                .collect::<Vec<_>>(),
            vec![(s1, "B 1 A", 1, 0)],
            "the totals stay after the events go"
        );
        assert_eq!(
            j.restore(Utc::now()).await.expect("restore").phase,
            Phase::Idle
        );
    }

    #[tokio::test]
    async fn a_full_journal_is_an_error_of_its_own_and_keeps_what_it_has() {
        let dir = tempfile::tempdir().expect("tmp");
        let j = Journal::open_limited(&dir.path().join("j.db"), 96 << 10)
            .await
            .expect("open");
        let mut bay = BaySession::new(BayState::idle(Utc::now()));
        let (_, evs) = bay.command(&start(SessionId::new()), Utc::now());
        j.append(&evs).await.expect("append");
        let mut written = 1;
        let full = loop {
            let e = bay
                .crossing(Direction::In, written, Utc::now())
                .expect("loading");
            match j.append(&[e]).await {
                Ok(()) => written += 1,
                Err(e) => break e,
            }
            assert!(written < 100_000, "the limit never bit");
        };
        assert!(matches!(full, JournalError::Full), "{full}");
        assert!(full.to_string().contains("full"), "{full}");
        let state = j.restore(Utc::now()).await.expect("still readable");
        assert_eq!(state.count, written - 1);
    }

    #[tokio::test]
    async fn an_unwritable_journal_is_a_clear_error() {
        let err = Journal::open(Path::new("/nonexistent-dir/journal.db"))
            .await
            .expect_err("no such dir");
        assert!(
            err.to_string().contains("/nonexistent-dir/journal.db"),
            "{err}"
        );
    }
}
