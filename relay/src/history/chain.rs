//! Each bay's chain of sealed sessions: a SHA-256 digest per finished session (plate, times,
//! actors, every event and correction) over the bay's previous digest, so that an edit to the
//! file shows, and [`verify`] to find the first link that does not match.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, SqliteConnection};

use super::{HistoryError, from_ms, to_ms};

/// The `prev` of a bay's first link.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A session's newest link in its bay's chain.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionDigest {
    /// SHA-256, hex, of this link: the session as sealed and `prev` (not when it was sealed,
    /// so the same history has the same digests however its events arrived).
    pub sha256: String,
    /// The digest of the bay's link before this one.
    pub prev: String,
    /// The link's place in the bay's chain, from 1.
    pub link: i64,
    pub sealed_at: DateTime<Utc>,
    /// How many of the session's corrections the link covers.
    pub corrections: i64,
}

/// An event as hashed: `[seq, at_ms, kind, direction, track, count, out]`.
type EventCells = (i64, i64, String, Option<String>, Option<i64>, i64, i64);
/// A correction as hashed: `[id, at_ms, by, delta, reason]`, and its evidence's seq after
/// them only when it points at a picture, so a correction without one (every correction made
/// before they could) hashes as it always did.
#[derive(Serialize)]
#[serde(untagged)]
enum CorrectionCells {
    Plain((i64, i64, String, i64, String)),
    WithEvidence((i64, i64, String, i64, String, i64)),
}

/// What one link covers, in the order hashed. Changing it changes every digest: bump `v`.
#[derive(Serialize)]
struct Sealed<'a> {
    v: u32,
    bay: &'a str,
    link: i64,
    prev: &'a str,
    session: &'a str,
    plate: Option<String>,
    started_at_ms: Option<i64>,
    started_by: Option<String>,
    stopped_at_ms: Option<i64>,
    stopped_by: Option<String>,
    events: Vec<EventCells>,
    corrections: Vec<CorrectionCells>,
}

/// One link as stored.
struct Link {
    n: i64,
    session: String,
    corrections_upto: i64,
    at_ms: i64,
    prev: String,
    digest: String,
}

/// Computes a link's digest from what the history holds now.
async fn digest(
    conn: &mut SqliteConnection,
    bay: &str,
    link: &Link,
) -> Result<String, HistoryError> {
    let s = sqlx::query(
        "SELECT plate, started_at_ms, started_by, stopped_at_ms, stopped_by FROM sessions WHERE id = ?",
    )
    .bind(&link.session)
    .fetch_optional(&mut *conn)
    .await?;
    let events = sqlx::query(
        "SELECT seq, at_ms, kind, direction, track, count, out FROM events WHERE session = ? ORDER BY seq",
    )
    .bind(&link.session)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("seq")?,
            r.try_get("at_ms")?,
            r.try_get("kind")?,
            r.try_get("direction")?,
            r.try_get("track")?,
            r.try_get("count")?,
            r.try_get("out")?,
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let corrections = sqlx::query(
        "SELECT id, at_ms, by, delta, reason, evidence_seq FROM corrections WHERE session = ? AND id <= ? ORDER BY id",
    )
    .bind(&link.session)
    .bind(link.corrections_upto)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let cells = (
            r.try_get("id")?,
            r.try_get("at_ms")?,
            r.try_get("by")?,
            r.try_get("delta")?,
            r.try_get("reason")?,
        );
        Ok(match r.try_get::<Option<i64>, _>("evidence_seq")? {
            None => CorrectionCells::Plain(cells),
            Some(seq) => {
                let (id, at, by, delta, reason) = cells;
                CorrectionCells::WithEvidence((id, at, by, delta, reason, seq))
            }
        })
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let get = |col: &str| -> Result<Option<String>, sqlx::Error> {
        s.as_ref().map_or(Ok(None), |r| r.try_get(col))
    };
    let get_ms = |col: &str| -> Result<Option<i64>, sqlx::Error> {
        s.as_ref().map_or(Ok(None), |r| r.try_get(col))
    };
    let sealed = Sealed {
        v: 1,
        bay,
        link: link.n,
        prev: &link.prev,
        session: &link.session,
        plate: get("plate")?,
        started_at_ms: get_ms("started_at_ms")?,
        started_by: get("started_by")?,
        stopped_at_ms: get_ms("stopped_at_ms")?,
        stopped_by: get("stopped_by")?,
        events,
        corrections,
    };
    let bytes = serde_json::to_vec(&sealed)
        .map_err(|e| HistoryError::Unusable(format!("cannot encode a chain link: {e}")))?;
    let hash = ring::digest::digest(&ring::digest::SHA256, &bytes);
    Ok(hash.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// Appends a link for `session` to `bay`'s chain, covering its corrections up to `upto`.
async fn append(
    conn: &mut SqliteConnection,
    bay: &str,
    session: &str,
    upto: i64,
    at: DateTime<Utc>,
) -> Result<(), HistoryError> {
    let head = sqlx::query("SELECT n, digest FROM chain WHERE bay = ? ORDER BY n DESC LIMIT 1")
        .bind(bay)
        .fetch_optional(&mut *conn)
        .await?;
    let (n, prev) = match head {
        Some(r) => (r.try_get::<i64, _>("n")? + 1, r.try_get("digest")?),
        None => (1, GENESIS.to_owned()),
    };
    let mut link = Link {
        n,
        session: session.to_owned(),
        corrections_upto: upto,
        at_ms: to_ms(at),
        prev,
        digest: String::new(),
    };
    link.digest = digest(conn, bay, &link).await?;
    sqlx::query(
        "INSERT INTO chain (bay, n, session, corrections_upto, at_ms, prev, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(bay)
    .bind(link.n)
    .bind(&link.session)
    .bind(link.corrections_upto)
    .bind(link.at_ms)
    .bind(&link.prev)
    .bind(&link.digest)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Seals a finished session: its first link, covering every correction so far.
pub(super) async fn seal(
    conn: &mut SqliteConnection,
    session: &str,
    bay: &str,
    at: DateTime<Utc>,
) -> Result<(), HistoryError> {
    let upto: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM corrections WHERE session = ?")
            .bind(session)
            .fetch_one(&mut *conn)
            .await?;
    append(conn, bay, session, upto, at).await
}

/// After correction `correction` of a session: a new link if the session is sealed already
/// (one still loading is sealed with its corrections when it stops).
pub(super) async fn amend(
    conn: &mut SqliteConnection,
    session: &str,
    correction: i64,
    at: DateTime<Utc>,
) -> Result<(), HistoryError> {
    let bay: Option<String> =
        sqlx::query_scalar("SELECT bay FROM chain WHERE session = ? ORDER BY n DESC LIMIT 1")
            .bind(session)
            .fetch_optional(&mut *conn)
            .await?;
    match bay {
        Some(bay) => append(conn, &bay, session, correction, at).await,
        None => Ok(()),
    }
}

/// Finished sessions (stopped, every event up to the stop stored) that have no link, oldest
/// stop first.
const UNSEALED: &str = "SELECT s.id, s.bay FROM sessions s
    JOIN events e ON e.session = s.id
        AND e.seq = (SELECT MIN(seq) FROM events WHERE session = s.id AND kind = 'stopped')
    WHERE NOT EXISTS (SELECT 1 FROM chain c WHERE c.session = s.id)
      AND (SELECT COUNT(*) FROM events x WHERE x.session = s.id AND x.seq <= e.seq) = e.seq
    ORDER BY e.stored_ms, s.id";

/// Seals the sessions a history finished before it kept a chain, once: when its chain is
/// still empty. (Later, a finished session without a link is something [`verify`] reports.)
pub(super) async fn seal_history_before_chain(pool: &SqlitePool) -> Result<u64, HistoryError> {
    let mut tx = pool.begin().await?;
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chain")
        .fetch_one(&mut *tx)
        .await?;
    if links > 0 {
        return Ok(0);
    }
    let rows = sqlx::query(UNSEALED).fetch_all(&mut *tx).await?;
    let now = Utc::now();
    for r in &rows {
        let (id, bay): (String, String) = (r.try_get("id")?, r.try_get("bay")?);
        seal(&mut tx, &id, &bay, now).await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// A session's newest link, if it is sealed.
pub(super) async fn session_digest(
    conn: &mut SqliteConnection,
    session: &str,
) -> Result<Option<SessionDigest>, HistoryError> {
    let row = sqlx::query(
        "SELECT n, at_ms, prev, digest, corrections_upto FROM chain WHERE session = ? ORDER BY n DESC LIMIT 1",
    )
    .bind(session)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let upto: i64 = r.try_get("corrections_upto")?;
    let corrections: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM corrections WHERE session = ? AND id <= ?")
            .bind(session)
            .bind(upto)
            .fetch_one(&mut *conn)
            .await?;
    Ok(Some(SessionDigest {
        sha256: r.try_get("digest")?,
        prev: r.try_get("prev")?,
        link: r.try_get("n")?,
        sealed_at: from_ms(r.try_get("at_ms")?),
        corrections,
    }))
}

/// Each bay's newest link: `(bay, link, digest)`, by bay.
pub(super) async fn heads(
    conn: &mut SqliteConnection,
) -> Result<Vec<(String, i64, String)>, HistoryError> {
    let rows = sqlx::query(
        "SELECT bay, n, digest FROM chain c WHERE n = (SELECT MAX(n) FROM chain WHERE bay = c.bay) ORDER BY bay",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("bay")?, r.try_get("n")?, r.try_get("digest")?)))
        .collect()
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Each bay's links checked and its head: `(bay, links, head digest)`.
    pub bays: Vec<(String, i64, String)>,
    /// The first thing that does not match, if any.
    pub broken: Option<ChainBreak>,
}

/// The first place the history does not match its chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bay {bay}, session {session}: {what}")]
pub struct ChainBreak {
    pub bay: String,
    pub session: String,
    pub what: String,
}

/// Walks every bay's chain from its first link, recomputing each digest from the history as
/// it is now; then looks for finished sessions and corrections that no link covers.
pub async fn verify(conn: &mut SqliteConnection) -> Result<ChainReport, HistoryError> {
    let bays: Vec<String> = sqlx::query_scalar("SELECT DISTINCT bay FROM chain ORDER BY bay")
        .fetch_all(&mut *conn)
        .await?;
    let mut report = ChainReport {
        bays: Vec::new(),
        broken: None,
    };
    for bay in bays {
        let links = sqlx::query(
            "SELECT n, session, corrections_upto, at_ms, prev, digest FROM chain WHERE bay = ? ORDER BY n",
        )
        .bind(&bay)
        .fetch_all(&mut *conn)
        .await?;
        let mut prev = GENESIS.to_owned();
        let mut n = 0;
        for r in links {
            let link = Link {
                n: r.try_get("n")?,
                session: r.try_get("session")?,
                corrections_upto: r.try_get("corrections_upto")?,
                at_ms: r.try_get("at_ms")?,
                prev: r.try_get("prev")?,
                digest: r.try_get("digest")?,
            };
            let broken = |what: String| ChainBreak {
                bay: bay.clone(),
                session: link.session.clone(),
                what,
            };
            n += 1;
            let what = if link.n != n {
                Some(format!(
                    "link {} follows link {}: link {n} is missing",
                    link.n,
                    n - 1
                ))
            } else if link.prev != prev {
                Some(format!(
                    "link {n} does not follow the link before it (prev {}, expected {prev})",
                    link.prev
                ))
            } else {
                let now = digest(conn, &bay, &link).await?;
                (now != link.digest).then(|| {
                    format!(
                        "link {n}: the session does not match its digest (sealed {}, now {now}): its row, events or corrections were changed",
                        link.digest
                    )
                })
            };
            if let Some(what) = what {
                report.broken = Some(broken(what));
                return Ok(report);
            }
            prev = link.digest;
        }
        report.bays.push((bay, n, prev));
    }
    if let Some(r) = sqlx::query(UNSEALED).fetch_optional(&mut *conn).await? {
        report.broken = Some(ChainBreak {
            bay: r.try_get("bay")?,
            session: r.try_get("id")?,
            what: "the session is finished but in no link: its link was removed".into(),
        });
        return Ok(report);
    }
    let uncovered = sqlx::query(
        "SELECT k.id, c.session, c.bay FROM corrections k
         JOIN chain c ON c.session = k.session
         GROUP BY k.id HAVING k.id > MAX(c.corrections_upto) ORDER BY k.id LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = uncovered {
        report.broken = Some(ChainBreak {
            bay: r.try_get("bay")?,
            session: r.try_get("session")?,
            what: format!(
                "correction {} was added after the session was sealed, by no link",
                r.try_get::<i64, _>("id")?
            ),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use baycount_protocol::SessionId;

    use super::*;
    use crate::history::fixtures::history;
    use crate::history::{Corrected, History};

    /// A sealed session with a start, one crossing, a stop and a correction, all fixed, as
    /// SQL: the history every relay so far wrote for such a session.
    const OLD_SESSION: &str = "
        INSERT INTO bays (id, first_seen_ms, last_seen_ms) VALUES ('bay-1', 0, 0);
        INSERT INTO sessions (id, bay, plate, started_at_ms, started_by, stopped_at_ms, stopped_by, created_ms)
            VALUES ('019aa000-0000-7000-8000-000000000001', 'bay-1', 'KT 1 A', 1764720000000, 'api', 1764720060000, 'button', 1764720000000);
        INSERT INTO events (session, seq, at_ms, kind, direction, track, count, out, stored_ms) VALUES
            ('019aa000-0000-7000-8000-000000000001', 1, 1764720000000, 'started', NULL, NULL, 0, 0, 1764720000000),
            ('019aa000-0000-7000-8000-000000000001', 2, 1764720030000, 'counted', 'in', 7, 1, 0, 1764720030000),
            ('019aa000-0000-7000-8000-000000000001', 3, 1764720060000, 'stopped', NULL, NULL, 1, 0, 1764720060000);
        INSERT INTO corrections (id, session, at_ms, by, delta, reason)
            VALUES (1, '019aa000-0000-7000-8000-000000000001', 1764720050000, 'api:ana', -1, 'counted twice');";

    /// Its link's digest as the relay computed it before corrections could point at evidence:
    /// SHA-256 of the link's JSON, worked out apart from this code (Python's `json` and
    /// `hashlib`).
    const OLD_DIGEST: &str = "8b2e7e987abe00cfe29aebb4f47e65bc36da1da7ad66eba3187ee1083dce6ab5";

    async fn sealed_old_session(pool: &SqlitePool) {
        sqlx::raw_sql(OLD_SESSION)
            .execute(pool)
            .await
            .expect("rows");
        let mut conn = pool.acquire().await.expect("conn");
        seal(
            &mut conn,
            "019aa000-0000-7000-8000-000000000001",
            "bay-1",
            from_ms(1764720061000),
        )
        .await
        .expect("sealed");
    }

    #[tokio::test]
    async fn a_link_without_evidence_hashes_as_before() {
        let (h, _dir) = history().await;
        sealed_old_session(&h.write).await;
        let mut conn = h.write.acquire().await.expect("conn");
        let report = verify(&mut conn).await.expect("verifies");
        assert_eq!(report.broken, None);
        assert_eq!(
            report.bays,
            vec![("bay-1".to_owned(), 1, OLD_DIGEST.to_owned())]
        );
    }

    /// What `verify` says of the history in `pool` after `sql` ran on it.
    async fn verify_after(pool: &SqlitePool, sql: &'static str) -> ChainReport {
        if !sql.is_empty() {
            sqlx::raw_sql(sql).execute(pool).await.expect("tampered");
        }
        let mut conn = pool.acquire().await.expect("conn");
        verify(&mut conn).await.expect("verifies")
    }

    /// The old session with the picture of its crossing, and a correction pointing at it.
    async fn corrected_with_evidence() -> (History, tempfile::TempDir) {
        let (h, dir) = history().await;
        sealed_old_session(&h.write).await;
        sqlx::raw_sql(
            "INSERT INTO evidence (session, seq, bay, kind, direction, track, at_ms, dropped, received_ms)
             VALUES ('019aa000-0000-7000-8000-000000000001', 2, 'bay-1', 'crossing', 'in', 7, 1764720030000, 0, 1764720031000)",
        )
        .execute(&h.write)
        .await
        .expect("evidence");
        let session: SessionId = "019aa000-0000-7000-8000-000000000001".parse().expect("id");
        let added = h
            .add_correction(
                session,
                "api:ana",
                1,
                "same sack",
                Some(2),
                from_ms(1764720100000),
            )
            .await
            .expect("adds");
        assert!(matches!(added, Corrected::Added(_)), "{added:?}");
        (h, dir)
    }

    #[tokio::test]
    async fn a_correction_pointing_at_evidence_is_sealed_with_it() {
        let (h, _dir) = corrected_with_evidence().await;
        let report = verify_after(&h.write, "").await;
        assert_eq!(report.broken, None);
        assert_eq!(report.bays[0].1, 2, "the correction's own link");
        let first: String = sqlx::query_scalar("SELECT digest FROM chain WHERE n = 1")
            .fetch_one(&h.write)
            .await
            .expect("link 1");
        assert_eq!(first, OLD_DIGEST, "the link before it is as it was");
    }

    #[tokio::test]
    async fn verify_finds_a_corrections_evidence_changed() {
        // Pointing the correction at another picture, or at none, breaks its link; so does
        // giving the old correction one.
        const DROP: &str = "DROP TRIGGER corrections_are_immutable; ";
        for (sql, link) in [
            ("UPDATE corrections SET evidence_seq = 3 WHERE id = 2", 2),
            ("UPDATE corrections SET evidence_seq = NULL WHERE id = 2", 2),
            ("UPDATE corrections SET evidence_seq = 2 WHERE id = 1", 1),
        ] {
            let (h, _dir) = corrected_with_evidence().await;
            sqlx::raw_sql(DROP)
                .execute(&h.write)
                .await
                .expect("dropped");
            let report = verify_after(&h.write, sql).await;
            let broken = report.broken.expect(sql);
            assert!(
                broken.what.starts_with(&format!(
                    "link {link}: the session does not match its digest"
                )),
                "{sql}: {broken}"
            );
        }
    }
}
