//! Each event's picture (evidence), stored idempotently by `(session, seq)` so the edge can forget it, read back for the API, and pruned after the retention.

use std::fmt;
use std::str::FromStr;

use baycount_protocol::{BayId, Direction, Evidence, EvidenceKind, SessionId};
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{History, HistoryError, Refusal, StoreOutcome, from_ms, parse_stored, to_ms};

/// Pictures pruned in one statement, so that retention never holds the writer for long.
const PRUNE_CHUNK: i64 = 500;

/// A piece of evidence to store, with the bay whose topic it came on.
#[derive(Debug, Clone)]
pub struct EvidenceWrite {
    pub bay: BayId,
    pub evidence: Evidence,
    pub received: DateTime<Utc>,
}

/// A piece's id in the API: `<session>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceId {
    pub session: SessionId,
    pub seq: u64,
}

impl fmt::Display for EvidenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.session, self.seq)
    }
}

/// As its text, `<session>-<seq>`.
impl serde::Serialize for EvidenceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a string is not an evidence id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an evidence id is a session id, '-' and the event's seq, e.g. 019abc12-3456-7def-8123-456789abcdef-3"
)]
pub struct BadEvidenceId;

impl FromStr for EvidenceId {
    type Err = BadEvidenceId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (session, seq) = s.rsplit_once('-').ok_or(BadEvidenceId)?;
        let seq: u64 = seq.parse().map_err(|_| BadEvidenceId)?;
        if seq == 0 || seq > i64::MAX as u64 {
            return Err(BadEvidenceId);
        }
        Ok(Self {
            session: session.parse().map_err(|_| BadEvidenceId)?,
            seq,
        })
    }
}

/// One stored piece of a session, without its picture.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRow {
    pub id: EvidenceId,
    pub kind: EvidenceKind,
    pub direction: Option<Direction>,
    pub track: Option<i64>,
    /// The capture time of the frame shown.
    pub at: DateTime<Utc>,
    /// The edge dropped the picture: there never was one at the relay.
    pub dropped: bool,
    /// The picture was deleted after the retention (`evidence_days`).
    pub pruned: bool,
}

/// A piece's picture, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picture {
    Jpeg(Vec<u8>),
    Dropped,
    Pruned { at: DateTime<Utc> },
}

/// The rules a piece must meet whatever is stored: the event rules on numbers and starts.
fn check(e: &Evidence) -> Result<(), Refusal> {
    let h = &e.header;
    let max = i64::MAX as u64;
    if h.seq == 0 || h.seq > max || h.track.is_some_and(|t| t > max) {
        return Err(Refusal::OutOfRange);
    }
    match (h.kind, h.seq) {
        (EvidenceKind::Start, 1) => Ok(()),
        (EvidenceKind::Start, _) => Err(Refusal::StartNotFirst),
        (_, 1) => Err(Refusal::FirstNotStart),
        _ => Ok(()),
    }
}

fn kind_str(k: EvidenceKind) -> &'static str {
    match k {
        EvidenceKind::Start => "start",
        EvidenceKind::Crossing => "crossing",
        EvidenceKind::Stop => "stop",
    }
}

fn kind_of(s: &str) -> Result<EvidenceKind, HistoryError> {
    match s {
        "start" => Ok(EvidenceKind::Start),
        "crossing" => Ok(EvidenceKind::Crossing),
        "stop" => Ok(EvidenceKind::Stop),
        other => Err(HistoryError::Corrupt(format!("evidence kind {other:?}"))),
    }
}

fn direction_of(s: Option<&str>) -> Result<Option<Direction>, HistoryError> {
    match s {
        None => Ok(None),
        Some("in") => Ok(Some(Direction::In)),
        Some("out") => Ok(Some(Direction::Out)),
        Some(other) => Err(HistoryError::Corrupt(format!("direction {other:?}"))),
    }
}

async fn store_one(
    conn: &mut SqliteConnection,
    w: &EvidenceWrite,
) -> Result<StoreOutcome, HistoryError> {
    if let Err(refusal) = check(&w.evidence) {
        return Ok(StoreOutcome::Refused(refusal));
    }
    let h = &w.evidence.header;
    let session = h.session.to_string();
    let owner: Option<String> = sqlx::query_scalar("SELECT bay FROM sessions WHERE id = ?")
        .bind(&session)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(owner) = owner.filter(|o| o != w.bay.as_str()) {
        return Ok(StoreOutcome::WrongBay {
            owner: parse_stored("bay", &owner)?,
        });
    }
    let inserted = sqlx::query(
        "INSERT INTO evidence (session, seq, bay, kind, direction, track, at_ms, dropped, received_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session, seq, bay) DO NOTHING",
    )
    .bind(&session)
    .bind(h.seq as i64)
    .bind(w.bay.as_str())
    .bind(kind_str(h.kind))
    .bind(h.direction.map(|d| d.as_str()))
    .bind(h.track.map(|t| t as i64))
    .bind(to_ms(h.at))
    .bind(h.dropped)
    .bind(to_ms(w.received))
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(StoreOutcome::Duplicate);
    }
    if !h.dropped {
        sqlx::query("INSERT INTO evidence_pictures (id, jpeg) VALUES (?, ?)")
            .bind(inserted.last_insert_rowid())
            .bind(w.evidence.jpeg.as_slice())
            .execute(&mut *conn)
            .await?;
    }
    Ok(StoreOutcome::Stored)
}

fn evidence_row(session: SessionId, r: &SqliteRow) -> Result<EvidenceRow, HistoryError> {
    Ok(EvidenceRow {
        id: EvidenceId {
            session,
            seq: r.try_get::<i64, _>("seq")? as u64,
        },
        kind: kind_of(r.try_get("kind")?)?,
        direction: direction_of(r.try_get("direction")?)?,
        track: r.try_get("track")?,
        at: from_ms(r.try_get("at_ms")?),
        dropped: r.try_get("dropped")?,
        pruned: r.try_get::<Option<i64>, _>("pruned_ms")?.is_some(),
    })
}

impl History {
    /// Stores a batch of evidence in one transaction: a piece already stored is a duplicate, one
    /// for another bay's session is refused. A piece whose session is not known yet is kept
    /// (its event may still be on its way); it counts once its session turns out to be its bay's.
    pub async fn store_evidence(
        &self,
        batch: &[EvidenceWrite],
    ) -> Result<Vec<StoreOutcome>, HistoryError> {
        let mut tx = self.write.begin().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for w in batch {
            outcomes.push(store_one(&mut tx, w).await?);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The highest `seq` such that every piece `1..=seq` of `session` is stored (a picture or
    /// word that it was dropped), counting only pieces of `bay` and only if the session is
    /// `bay`'s: 0 when none is.
    pub async fn evidence_cursor(
        &self,
        session: SessionId,
        bay: &BayId,
    ) -> Result<u64, HistoryError> {
        // The end of the first run of consecutive seqs, when that run starts at 1.
        let n: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND bay = ?2)
                      AND EXISTS (SELECT 1 FROM evidence WHERE session = ?1 AND seq = 1 AND bay = ?2)
                THEN (SELECT MIN(e.seq) FROM evidence e WHERE e.session = ?1 AND e.bay = ?2
                      AND NOT EXISTS (SELECT 1 FROM evidence f
                                      WHERE f.session = ?1 AND f.seq = e.seq + 1 AND f.bay = ?2))
                ELSE 0 END",
        )
        .bind(session.to_string())
        .bind(bay.as_str())
        .fetch_one(&self.read)
        .await?;
        Ok(n as u64)
    }

    /// A session's evidence in seq order (only pieces of the session's own bay); `None` when
    /// there is no such session.
    pub async fn session_evidence(
        &self,
        session: SessionId,
    ) -> Result<Option<Vec<EvidenceRow>>, HistoryError> {
        let key = session.to_string();
        let exists = sqlx::query("SELECT 1 FROM sessions WHERE id = ?")
            .bind(&key)
            .fetch_optional(&self.read)
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT e.seq, e.kind, e.direction, e.track, e.at_ms, e.dropped, e.pruned_ms
             FROM evidence e JOIN sessions s ON s.id = e.session AND s.bay = e.bay
             WHERE e.session = ? ORDER BY e.seq",
        )
        .bind(&key)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| evidence_row(session, r))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// One piece's picture; `None` when there is no such piece (of its session's bay).
    pub async fn evidence_picture(&self, id: EvidenceId) -> Result<Option<Picture>, HistoryError> {
        let Some(r) = sqlx::query(
            "SELECT e.dropped, e.pruned_ms, p.jpeg
             FROM evidence e JOIN sessions s ON s.id = e.session AND s.bay = e.bay
             LEFT JOIN evidence_pictures p ON p.id = e.id
             WHERE e.session = ? AND e.seq = ?",
        )
        .bind(id.session.to_string())
        .bind(id.seq as i64)
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let jpeg: Option<Vec<u8>> = r.try_get("jpeg")?;
        let pruned: Option<i64> = r.try_get("pruned_ms")?;
        let dropped: bool = r.try_get("dropped")?;
        Ok(Some(match (jpeg, pruned, dropped) {
            (Some(jpeg), None, false) => Picture::Jpeg(jpeg),
            (None, Some(at), false) => Picture::Pruned { at: from_ms(at) },
            (None, None, true) => Picture::Dropped,
            _ => {
                return Err(HistoryError::Corrupt(format!(
                    "evidence {id} with a picture that does not match its dropped and pruned marks"
                )));
            }
        }))
    }

    /// Deletes the pictures received before `before` (their rows stay, marked pruned at `now`;
    /// events and sessions are not touched), a few hundred a transaction. Returns how many.
    pub async fn prune_evidence(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, HistoryError> {
        let mut pruned = 0;
        loop {
            let mut tx = self.write.begin().await?;
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM evidence WHERE dropped = 0 AND pruned_ms IS NULL AND received_ms < ?
                 ORDER BY received_ms LIMIT ?",
            )
            .bind(to_ms(before))
            .bind(PRUNE_CHUNK)
            .fetch_all(&mut *tx)
            .await?;
            for id in &ids {
                sqlx::query("UPDATE evidence SET pruned_ms = ? WHERE id = ?")
                    .bind(to_ms(now))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM evidence_pictures WHERE id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            pruned += ids.len() as u64;
            if ids.len() < PRUNE_CHUNK as usize {
                return Ok(pruned);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::history::fixtures::{JPEG, bay, events, history, piece};

    async fn store(h: &History, w: EvidenceWrite) -> StoreOutcome {
        h.store_evidence(&[w]).await.expect("stores").remove(0)
    }

    #[tokio::test]
    async fn stores_pieces_and_reads_them_back_in_seq_order() {
        let (h, _dir) = history().await;
        let (s, b) = (SessionId::new(), bay("bay-1"));
        events(&h, s, &b, 2).await;
        let outcomes = h
            .store_evidence(&[
                piece(s, 3, &b, true),
                piece(s, 1, &b, false),
                piece(s, 2, &b, false),
            ])
            .await
            .expect("stores");
        assert_eq!(outcomes, vec![StoreOutcome::Stored; 3]);
        let rows = h.session_evidence(s).await.expect("reads").expect("known");
        let seqs: Vec<u64> = rows.iter().map(|r| r.id.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(rows[0].kind, EvidenceKind::Start);
        assert_eq!(rows[1].direction, Some(Direction::In));
        assert!(rows[2].dropped && !rows[2].pruned);
        let id = rows[1].id;
        assert_eq!(id.to_string().parse::<EvidenceId>(), Ok(id));
        assert_eq!(
            h.evidence_picture(id).await.expect("reads"),
            Some(Picture::Jpeg(JPEG.to_vec()))
        );
        assert_eq!(
            h.evidence_picture(rows[2].id).await.expect("reads"),
            Some(Picture::Dropped)
        );
        assert_eq!(
            h.session_evidence(SessionId::new()).await.expect("reads"),
            None
        );
    }

    #[tokio::test]
    async fn a_resent_piece_is_a_duplicate_that_changes_nothing() {
        let (h, _dir) = history().await;
        let (s, b) = (SessionId::new(), bay("bay-1"));
        events(&h, s, &b, 0).await;
        assert_eq!(
            store(&h, piece(s, 1, &b, false)).await,
            StoreOutcome::Stored
        );
        let mut again = piece(s, 1, &b, false);
        again.evidence.jpeg = vec![0xFF, 0xD8, 0xFF, 9, 9];
        assert_eq!(store(&h, again).await, StoreOutcome::Duplicate);
        let id = EvidenceId { session: s, seq: 1 };
        assert_eq!(
            h.evidence_picture(id).await.expect("reads"),
            Some(Picture::Jpeg(JPEG.to_vec()))
        );
    }

    #[tokio::test]
    async fn the_cursor_stops_at_the_first_gap_and_waits_for_the_session() {
        let (h, _dir) = history().await;
        let (s, b) = (SessionId::new(), bay("bay-1"));
        // Pictures before their events: kept, not confirmed.
        for seq in [1, 2, 4] {
            assert_eq!(
                store(&h, piece(s, seq, &b, seq == 4)).await,
                StoreOutcome::Stored
            );
        }
        assert_eq!(h.evidence_cursor(s, &b).await.expect("reads"), 0);
        events(&h, s, &b, 3).await;
        assert_eq!(h.evidence_cursor(s, &b).await.expect("reads"), 2);
        assert_eq!(h.evidence_cursor(s, &bay("bay-2")).await.expect("reads"), 0);
        store(&h, piece(s, 3, &b, false)).await;
        assert_eq!(h.evidence_cursor(s, &b).await.expect("reads"), 4);
        // No seq 1: nothing is contiguous from the start.
        let t = SessionId::new();
        events(&h, t, &b, 3).await;
        store(&h, piece(t, 2, &b, false)).await;
        assert_eq!(h.evidence_cursor(t, &b).await.expect("reads"), 0);
    }

    #[tokio::test]
    async fn another_bays_session_and_impossible_pieces_are_refused() {
        let (h, _dir) = history().await;
        let (s, a, other) = (SessionId::new(), bay("bay-1"), bay("bay-2"));
        events(&h, s, &a, 1).await;
        assert_eq!(
            store(&h, piece(s, 2, &other, false)).await,
            StoreOutcome::WrongBay { owner: a.clone() }
        );
        let mut start_late = piece(s, 2, &a, false);
        start_late.evidence.header.kind = EvidenceKind::Start;
        assert_eq!(
            store(&h, start_late).await,
            StoreOutcome::Refused(Refusal::StartNotFirst)
        );
        assert_eq!(
            store(&h, piece(s, 0, &a, false)).await,
            StoreOutcome::Refused(Refusal::OutOfRange)
        );
        assert_eq!(h.session_evidence(s).await.expect("reads"), Some(vec![]));
        // A piece of another bay kept before its session was known is never shown, nor
        // confirmed, and does not stand in the way of the owner's.
        let t = SessionId::new();
        store(&h, piece(t, 1, &other, false)).await;
        events(&h, t, &a, 0).await;
        assert_eq!(h.session_evidence(t).await.expect("reads"), Some(vec![]));
        let id = EvidenceId { session: t, seq: 1 };
        assert_eq!(h.evidence_picture(id).await.expect("reads"), None);
        assert_eq!(h.evidence_cursor(t, &other).await.expect("reads"), 0);
        assert_eq!(
            store(&h, piece(t, 1, &a, false)).await,
            StoreOutcome::Stored
        );
        assert_eq!(
            h.session_evidence(t).await.expect("reads").map(|r| r.len()),
            Some(1)
        );
        assert_eq!(
            h.evidence_picture(id).await.expect("reads"),
            Some(Picture::Jpeg(JPEG.to_vec()))
        );
    }

    #[tokio::test]
    async fn retention_prunes_old_pictures_and_keeps_events_and_rows() {
        let (h, _dir) = history().await;
        let (s, b) = (SessionId::new(), bay("bay-1"));
        events(&h, s, &b, 2).await;
        let now = Utc::now();
        let mut old = piece(s, 1, &b, false);
        old.received = now - Duration::days(100);
        let mut old_dropped = piece(s, 2, &b, true);
        old_dropped.received = now - Duration::days(100);
        h.store_evidence(&[old, old_dropped, piece(s, 3, &b, false)])
            .await
            .expect("stores");
        let cutoff = now - Duration::days(90);
        assert_eq!(h.prune_evidence(cutoff, now).await.expect("prunes"), 1);
        assert_eq!(h.prune_evidence(cutoff, now).await.expect("prunes"), 0);
        let id = |seq| EvidenceId { session: s, seq };
        assert!(matches!(
            h.evidence_picture(id(1)).await.expect("reads"),
            Some(Picture::Pruned { .. })
        ));
        assert_eq!(
            h.evidence_picture(id(2)).await.expect("reads"),
            Some(Picture::Dropped)
        );
        assert_eq!(
            h.evidence_picture(id(3)).await.expect("reads"),
            Some(Picture::Jpeg(JPEG.to_vec()))
        );
        let rows = h.session_evidence(s).await.expect("reads").expect("known");
        assert_eq!(rows.len(), 3, "the rows stay");
        assert!(rows[0].pruned && !rows[0].dropped);
        let detail = h.session(s).await.expect("reads").expect("known");
        assert_eq!(detail.events.len(), 3, "events are never pruned");
        assert_eq!(detail.session.count, 2);
        // The confirmed cursor does not go back: a pruned piece was stored.
        assert_eq!(h.evidence_cursor(s, &b).await.expect("reads"), 3);
    }

    #[tokio::test]
    async fn a_picture_goes_only_by_pruning_and_its_row_stays_as_sent() {
        let (h, _dir) = history().await;
        let (s, b) = (SessionId::new(), bay("bay-1"));
        events(&h, s, &b, 0).await;
        store(&h, piece(s, 1, &b, false)).await;
        for (edit, says) in [
            ("DELETE FROM evidence_pictures", "only by pruning"),
            (
                "UPDATE evidence_pictures SET jpeg = x'00'",
                "kept as the bay sent it",
            ),
            (
                "UPDATE evidence SET kind = 'stop'",
                "kept as the bay sent it",
            ),
            ("DELETE FROM evidence", "kept as the bay sent it"),
        ] {
            let e = sqlx::query(edit)
                .execute(&h.write)
                .await
                .expect_err(edit)
                .to_string();
            assert!(e.contains(says), "{edit}: {e}");
        }
        let now = Utc::now();
        assert_eq!(
            h.prune_evidence(now + Duration::days(1), now)
                .await
                .expect("prunes"),
            1
        );
        let e = sqlx::query("UPDATE evidence SET pruned_ms = 1")
            .execute(&h.write)
            .await
            .expect_err("pruned once")
            .to_string();
        assert!(e.contains("kept as the bay sent it"), "{e}");
    }

    /// The history file's size with everything checkpointed out of the WAL.
    async fn file_bytes(h: &History, path: &std::path::Path) -> u64 {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&h.write)
            .await
            .expect("checkpoint");
        std::fs::metadata(path).expect("file").len()
    }

    /// Stores a session of a start and `n` crossings, each crossing's picture `size` bytes of
    /// noise (pictures do not compress, and SQLite would not compress them anyway).
    async fn session_with_pictures(h: &History, n: u64, size: usize, seed: &mut u32) {
        let (s, b) = (SessionId::new(), bay("bay-1"));
        events(h, s, &b, n).await;
        for chunk in (2..n + 2).collect::<Vec<_>>().chunks(10) {
            let batch: Vec<_> = chunk
                .iter()
                .map(|&seq| {
                    let mut w = piece(s, seq, &b, false);
                    w.evidence.jpeg = JPEG[..3].to_vec();
                    w.evidence.jpeg.extend((3..size).map(|_| {
                        *seed ^= *seed << 13;
                        *seed ^= *seed >> 17;
                        *seed ^= *seed << 5;
                        *seed as u8
                    }));
                    w
                })
                .collect();
            h.store_evidence(&batch).await.expect("stores");
        }
    }

    #[tokio::test]
    async fn what_a_thousand_crossings_cost_on_disk() {
        const N: u64 = 1000;
        const PICTURE: usize = 2600;
        let (h, dir) = history().await;
        let path = dir.path().join("history.db");
        let mut seed = 2_463_534_242;
        let before = file_bytes(&h, &path).await;
        session_with_pictures(&h, N, PICTURE, &mut seed).await;
        let after = file_bytes(&h, &path).await;
        let per_crossing = (after - before) as f64 / N as f64;
        eprintln!(
            "{N} crossings with {PICTURE} B pictures: {} B on disk, {per_crossing:.0} B a crossing (event, evidence row and picture)",
            after - before
        );
        // SQLite keeps a row of up to about 4 KB in its 4 KiB page, and two such pictures do
        // not fit one: a page a picture, about 4.1 KB for 2.6 KB, and the event and row beside.
        assert!(per_crossing < 4096.0 * 1.15, "{per_crossing} B a crossing");
        // Pruned, their pages take the next pictures: the file grows by the new events and rows.
        h.prune_evidence(Utc::now() + Duration::days(1), Utc::now())
            .await
            .expect("prunes");
        session_with_pictures(&h, N, PICTURE, &mut seed).await;
        let reused = file_bytes(&h, &path).await;
        eprintln!("after pruning them and storing {N} more: {reused} B (was {after} B)");
        assert!(
            reused - after < N * PICTURE as u64 / 5,
            "{reused} B after pruning, was {after} B"
        );
    }

    #[test]
    fn evidence_ids_are_a_session_and_a_seq() {
        let s = SessionId::new();
        let id: EvidenceId = format!("{s}-12").parse().expect("parses");
        assert_eq!(
            id,
            EvidenceId {
                session: s,
                seq: 12
            }
        );
        for bad in [
            format!("{s}"),
            format!("{s}-0"),
            format!("{s}-x"),
            format!("{s}-9223372036854775808"),
            "1-2".to_owned(),
            String::new(),
        ] {
            assert_eq!(bad.parse::<EvidenceId>(), Err(BadEvidenceId), "{bad}");
        }
    }
}
