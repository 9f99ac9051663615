//! The relay's own record of the commands it gives, and a session's facts taken from it: where
//! the relay started or stopped a session, what the bay reports cannot change who, what or when.

use baycount_protocol::{Actor, ActorKind, CommandId, Plate, SessionId};
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use super::{EventWrite, History, HistoryError, to_ms};

/// A start or stop command, recorded before it is sent.
#[derive(Debug, Clone)]
pub struct CommandRecord {
    pub id: CommandId,
    pub at: DateTime<Utc>,
    pub bay: baycount_protocol::BayId,
    pub session: SessionId,
    /// `Some` for a start, `None` for a stop.
    pub plate: Option<Plate>,
    pub by: Actor,
}

impl History {
    /// Records a command the relay is about to send.
    pub async fn record_command(&self, c: &CommandRecord) -> Result<(), HistoryError> {
        sqlx::query(
            "INSERT INTO commands (id, at_ms, bay, action, session, plate, by) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.id.to_string())
        .bind(to_ms(c.at))
        .bind(c.bay.as_str())
        .bind(if c.plate.is_some() { "start" } else { "stop" })
        .bind(c.session.to_string())
        .bind(c.plate.as_ref().map(Plate::as_str))
        .bind(c.by.to_string())
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

/// The time to keep for a start or stop the bay reports at `at`: not before the command that
/// caused it (`lo`), not after the relay heard of it (`hi`).
fn bounded(at: i64, lo: Option<i64>, hi: i64) -> i64 {
    let at = at.min(hi);
    lo.map_or(at, |lo| at.max(lo))
}

/// What the relay keeps of a session's actor when no command of its own explains the event:
/// a bay acting by itself is its push button, whatever it claims.
fn own_actor(w: &EventWrite, what: &str, by: &Actor) -> Actor {
    if by.kind != ActorKind::Button {
        log::warn!(
            "bay {} reports session {} {what} by {by}, but the relay gave no such command: kept as started at the bay (button)",
            w.bay,
            w.event.session
        );
    }
    Actor::new(ActorKind::Button, None)
}

/// Stores a session's plate, start time and who started it, once, from the relay's start
/// command when there is one.
pub(super) async fn record_start(
    conn: &mut SqliteConnection,
    w: &EventWrite,
    plate: &Plate,
    by: &Actor,
) -> Result<(), HistoryError> {
    let session = w.event.session.to_string();
    let command = sqlx::query(
        "SELECT at_ms, plate, by FROM commands WHERE session = ? AND action = 'start' AND bay = ?
         ORDER BY at_ms LIMIT 1",
    )
    .bind(&session)
    .bind(w.bay.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let (plate, by, lo) = match command {
        Some(c) => {
            let (at, given, actor): (i64, String, String) =
                (c.try_get("at_ms")?, c.try_get("plate")?, c.try_get("by")?);
            if given != plate.as_str() || actor != by.to_string() {
                log::warn!(
                    "bay {} reports session {} started for {plate} by {by}; the relay's command said {given} by {actor}, which is kept",
                    w.bay,
                    w.event.session
                );
            }
            (given, actor, Some(at))
        }
        None => (
            plate.as_str().to_owned(),
            own_actor(w, "started", by).to_string(),
            None,
        ),
    };
    let at = bounded(to_ms(w.event.at), lo, to_ms(w.received));
    let updated = sqlx::query(
        "UPDATE sessions SET plate = ?, started_at_ms = ?, started_by = ?
         WHERE id = ? AND started_at_ms IS NULL",
    )
    .bind(&plate)
    .bind(at)
    .bind(&by)
    .bind(&session)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 1 {
        sqlx::query(
            "INSERT INTO plates (plate, last_used_ms, uses) VALUES (?1, ?2, 1)
             ON CONFLICT (plate) DO UPDATE SET last_used_ms = MAX(last_used_ms, ?2), uses = uses + 1",
        )
        .bind(&plate)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stores when a session stopped and who stopped it, once, from the relay's stop command by
/// the same actor when there is one.
pub(super) async fn record_stop(
    conn: &mut SqliteConnection,
    w: &EventWrite,
    by: &Actor,
) -> Result<(), HistoryError> {
    let session = w.event.session.to_string();
    let command: Option<i64> = sqlx::query_scalar(
        "SELECT at_ms FROM commands WHERE session = ? AND action = 'stop' AND bay = ? AND by = ?
         ORDER BY at_ms LIMIT 1",
    )
    .bind(&session)
    .bind(w.bay.as_str())
    .bind(by.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let by = match command {
        Some(_) => by.clone(),
        None => own_actor(w, "stopped", by),
    };
    let started: Option<i64> =
        sqlx::query_scalar("SELECT started_at_ms FROM sessions WHERE id = ?")
            .bind(&session)
            .fetch_one(&mut *conn)
            .await?;
    let lo = command.max(started);
    let at = bounded(to_ms(w.event.at), lo, to_ms(w.received));
    sqlx::query(
        "UPDATE sessions SET stopped_at_ms = ?, stopped_by = ? WHERE id = ? AND stopped_at_ms IS NULL",
    )
    .bind(at)
    .bind(by.to_string())
    .bind(&session)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reported_time_stays_between_the_command_and_its_arrival() {
        assert_eq!(bounded(50, Some(40), 60), 50);
        assert_eq!(bounded(10, Some(40), 60), 40, "before the command");
        assert_eq!(bounded(90, Some(40), 60), 60, "after the relay heard of it");
        assert_eq!(bounded(90, None, 60), 60);
        assert_eq!(bounded(i64::MIN, None, 60), i64::MIN);
    }
}
