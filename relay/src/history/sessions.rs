//! Reading sessions back (count derived from their event rows) and adding manual corrections.

use baycount_protocol::{Actor, BayId, Plate, SessionId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::chain::{self, SessionDigest};
use super::evidence::EvidenceId;
use super::{History, HistoryError, from_ms, parse_stored, to_ms};

/// A session as the history holds it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionRow {
    pub id: SessionId,
    pub bay: BayId,
    /// Unknown only while the session's `started` event is not stored yet.
    pub plate: Option<Plate>,
    /// `in` crossings stored for the session: the machine count.
    pub count: i64,
    /// `out` crossings, shown beside the count, never subtracted.
    pub out: i64,
    /// Sum of the manual corrections' deltas.
    pub correction: i64,
    /// `count + correction` (clamped to the `i64` range).
    pub corrected_count: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub started_by: Option<Actor>,
    pub stopped_by: Option<Actor>,
    pub duration_seconds: Option<f64>,
    /// SHA-256 of the session's newest link in its bay's chain; `null` until it is sealed
    /// (stopped, with every event stored).
    pub digest: Option<String>,
}

/// One stored event of a session.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventRow {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// `started`, `counted` or `stopped`.
    pub kind: String,
    pub direction: Option<String>,
    pub track: Option<i64>,
    /// The edge's running `in` total after this event.
    pub count: i64,
    pub out: i64,
}

/// A manual correction of a session's count.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Correction {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub by: String,
    pub delta: i64,
    pub reason: String,
    /// The piece of the session's evidence it is about (`<session>-<seq>`, its picture
    /// `/api/evidence/{evidence}.jpg`); `null` when it points at none.
    #[schema(value_type = Option<String>, example = "019abc12-3456-7def-8123-456789abcdef-3")]
    pub evidence: Option<EvidenceId>,
}

/// What came of a correction.
#[derive(Debug, Clone, PartialEq)]
pub enum Corrected {
    Added(Correction),
    /// There is no such session.
    NoSession,
    /// The session has no such piece of evidence (of its own bay).
    NoEvidence,
}

/// A correction to add.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    /// Added to the count: -1000000 to 1000000, not zero.
    #[schema(schema_with = delta_schema)]
    #[serde(deserialize_with = "whole_number")]
    pub delta: i64,
    /// Why; required: up to 500 characters of text.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x09\x0b-\x1f\x7f-\x9f]*$"
    )]
    pub reason: String,
    /// Who corrects (a name of up to 64 characters); the API records the caller when absent.
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub by: Option<String>,
    /// The piece of this session's evidence the correction is about ("counted twice: same
    /// sack"): its id as `GET /api/sessions/{id}/evidence` lists it, `<session>-<seq>`.
    /// A piece of another session, or one not stored (yet), is refused (409).
    #[serde(default)]
    #[schema(
        example = "019abc12-3456-7def-8123-456789abcdef-3",
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}-[1-9][0-9]{0,17}$"
    )]
    pub evidence: Option<String>,
}

/// An integer as JSON Schema means it: `-1` and `-1.0` alike. Anything else (a fraction, a
/// string, a number beyond what an `i64` holds) is refused with a message naming `delta`, the
/// one field this reads; the range is checked by the API.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let refuse = |what: String| {
        serde::de::Error::custom(format!(
            "'delta' must be a whole number from -1000000 to 1000000 (not 0), not {what}"
        ))
    };
    let n = match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n,
        serde_json::Value::String(s) => return Err(refuse(format!("the string {s:?}"))),
        other => return Err(refuse(other.to_string())),
    };
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        })
        .ok_or_else(|| refuse(n.to_string()))
}

/// A correction's `delta` as the document states it: a plausible non-zero integer.
fn delta_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    let range = |min: i64, max: i64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(Some(max))
    };
    OneOfBuilder::new()
        .item(range(-1_000_000, -1))
        .item(range(1, 1_000_000))
        .build()
        .into()
}

/// A session with its events and corrections.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: SessionRow,
    pub events: Vec<EventRow>,
    pub corrections: Vec<Correction>,
    /// Its place in the bay's chain of sealed sessions; `null` until sealed.
    pub chain: Option<SessionDigest>,
}

/// Which sessions to list.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub bay: Option<BayId>,
    pub plate: Option<Plate>,
    /// Sessions started at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Sessions started before this.
    pub to: Option<DateTime<Utc>>,
    /// Sessions whose id starts with this (lower-case, as ids are stored): the bot's
    /// `/evidence` takes the start of an id, as people copy it.
    pub id_prefix: Option<String>,
    pub limit: i64,
}

/// The sessions with their derived counts. The corrections' sum is SQLite's `TOTAL` (a float,
/// which cannot overflow as `SUM` does on absurd hand-made rows), cast back to an integer, which
/// SQLite clamps to the `i64` range; exact up to 2^53.
const SELECT_SESSIONS: &str = "SELECT s.id, s.bay, s.plate, s.started_at_ms, s.started_by, s.stopped_at_ms, s.stopped_by,
    (SELECT COUNT(*) FROM events e WHERE e.session = s.id AND e.kind = 'counted' AND e.direction = 'in') AS n_in,
    (SELECT COUNT(*) FROM events e WHERE e.session = s.id AND e.kind = 'counted' AND e.direction = 'out') AS n_out,
    (SELECT CAST(TOTAL(delta) AS INTEGER) FROM corrections c WHERE c.session = s.id) AS correction,
    (SELECT digest FROM chain k WHERE k.session = s.id ORDER BY k.n DESC LIMIT 1) AS digest
    FROM sessions s";

/// A plate as the history stored it, by the rule it was stored under (see
/// [`Plate::from_stored`]: older histories may hold plates starting with '-').
pub(super) fn stored_plate(s: &str) -> Result<Plate, HistoryError> {
    Plate::from_stored(s).map_err(|_| HistoryError::Corrupt(format!("plate {s:?}")))
}

fn session_row(r: &SqliteRow) -> Result<SessionRow, HistoryError> {
    let opt = |col: &str| r.try_get::<Option<String>, _>(col);
    let count: i64 = r.try_get("n_in")?;
    let correction: i64 = r.try_get("correction")?;
    let started_at = r.try_get::<Option<i64>, _>("started_at_ms")?.map(from_ms);
    let stopped_at = r.try_get::<Option<i64>, _>("stopped_at_ms")?.map(from_ms);
    Ok(SessionRow {
        id: parse_stored("session id", r.try_get("id")?)?,
        bay: parse_stored("bay", r.try_get("bay")?)?,
        plate: opt("plate")?.map(|p| stored_plate(&p)).transpose()?,
        count,
        out: r.try_get("n_out")?,
        correction,
        corrected_count: count.saturating_add(correction),
        started_at,
        stopped_at,
        started_by: opt("started_by")?
            .map(|a| parse_stored("actor", &a))
            .transpose()?,
        stopped_by: opt("stopped_by")?
            .map(|a| parse_stored("actor", &a))
            .transpose()?,
        duration_seconds: match (started_at, stopped_at) {
            (Some(a), Some(b)) => Some((b - a).num_milliseconds() as f64 / 1000.0),
            _ => None,
        },
        digest: opt("digest")?,
    })
}

impl History {
    /// Sessions matching `f`, newest first.
    pub async fn sessions(&self, f: &SessionFilter) -> Result<Vec<SessionRow>, HistoryError> {
        let mut q = QueryBuilder::<Sqlite>::new(SELECT_SESSIONS);
        q.push(" WHERE 1 = 1");
        if let Some(bay) = &f.bay {
            q.push(" AND s.bay = ").push_bind(bay.as_str().to_owned());
        }
        if let Some(plate) = &f.plate {
            q.push(" AND s.plate = ")
                .push_bind(plate.as_str().to_owned());
        }
        if let Some(from) = f.from {
            q.push(" AND COALESCE(s.started_at_ms, s.created_ms) >= ")
                .push_bind(to_ms(from));
        }
        if let Some(to) = f.to {
            q.push(" AND COALESCE(s.started_at_ms, s.created_ms) < ")
                .push_bind(to_ms(to));
        }
        if let Some(prefix) = &f.id_prefix {
            q.push(" AND substr(s.id, 1, ")
                .push_bind(prefix.len() as i64)
                .push(") = ")
                .push_bind(prefix.to_ascii_lowercase());
        }
        q.push(" ORDER BY COALESCE(s.started_at_ms, s.created_ms) DESC, s.id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.read).await?;
        rows.iter().map(session_row).collect()
    }

    /// One session with its events and corrections.
    pub async fn session(&self, id: SessionId) -> Result<Option<SessionDetail>, HistoryError> {
        let key = id.to_string();
        let mut q = QueryBuilder::<Sqlite>::new(SELECT_SESSIONS);
        q.push(" WHERE s.id = ").push_bind(key.clone());
        let Some(row) = q.build().fetch_optional(&self.read).await? else {
            return Ok(None);
        };
        let session = session_row(&row)?;
        let events = sqlx::query(
            "SELECT seq, at_ms, kind, direction, track, count, out FROM events WHERE session = ? ORDER BY seq",
        )
        .bind(&key)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(EventRow {
                seq: r.try_get("seq")?,
                at: from_ms(r.try_get("at_ms")?),
                kind: r.try_get("kind")?,
                direction: r.try_get("direction")?,
                track: r.try_get("track")?,
                count: r.try_get("count")?,
                out: r.try_get("out")?,
            })
        })
        .collect::<Result<_, HistoryError>>()?;
        let corrections = self.corrections(&key).await?;
        let mut conn = self.read.acquire().await?;
        let chain = chain::session_digest(&mut conn, &key).await?;
        Ok(Some(SessionDetail {
            session,
            events,
            corrections,
            chain,
        }))
    }

    /// Each bay's newest link: `(bay, link, digest)`, for a report to be checked later.
    pub async fn chain_heads(&self) -> Result<Vec<(String, i64, String)>, HistoryError> {
        let mut conn = self.read.acquire().await?;
        chain::heads(&mut conn).await
    }

    async fn corrections(&self, session: &str) -> Result<Vec<Correction>, HistoryError> {
        let rows = sqlx::query(
            "SELECT id, at_ms, by, delta, reason, evidence_seq FROM corrections WHERE session = ? ORDER BY id",
        )
        .bind(session)
        .fetch_all(&self.read)
        .await?;
        let session: SessionId = parse_stored("session id", session)?;
        rows.iter()
            .map(|r| {
                let seq: Option<i64> = r.try_get("evidence_seq")?;
                Ok(Correction {
                    id: r.try_get("id")?,
                    at: from_ms(r.try_get("at_ms")?),
                    by: r.try_get("by")?,
                    delta: r.try_get("delta")?,
                    reason: r.try_get("reason")?,
                    evidence: seq.map(|seq| EvidenceId {
                        session,
                        seq: seq as u64,
                    }),
                })
            })
            .collect()
    }

    /// Adds a correction to a session, about one of its pieces of evidence when `evidence`
    /// (its seq) is given: one of the session's own bay, stored already.
    pub async fn add_correction(
        &self,
        session: SessionId,
        by: &str,
        delta: i64,
        reason: &str,
        evidence: Option<u64>,
        at: DateTime<Utc>,
    ) -> Result<Corrected, HistoryError> {
        let key = session.to_string();
        let mut tx = self.write.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM sessions WHERE id = ?")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(Corrected::NoSession);
        }
        if let Some(seq) = evidence {
            let stored = sqlx::query(
                "SELECT 1 FROM evidence e JOIN sessions s ON s.id = e.session AND s.bay = e.bay
                 WHERE e.session = ? AND e.seq = ?",
            )
            .bind(&key)
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if !stored {
                return Ok(Corrected::NoEvidence);
            }
        }
        let id = sqlx::query(
            "INSERT INTO corrections (session, at_ms, by, delta, reason, evidence_seq) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&key)
        .bind(to_ms(at))
        .bind(by)
        .bind(delta)
        .bind(reason)
        .bind(evidence.map(|seq| seq as i64))
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        chain::amend(&mut tx, &key, id, at).await?;
        tx.commit().await?;
        Ok(Corrected::Added(Correction {
            id,
            at: from_ms(to_ms(at)),
            by: by.to_owned(),
            delta,
            reason: reason.to_owned(),
            evidence: evidence.map(|seq| EvidenceId { session, seq }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::{bay, events, history};

    #[tokio::test]
    async fn sessions_are_found_by_the_start_of_their_id() {
        let (h, _dir) = history().await;
        let (a, b) = (SessionId::new(), SessionId::new());
        for s in [a, b] {
            events(&h, s, &bay("bay-1"), 0).await;
        }
        let find = |prefix: String| {
            let h = h.clone();
            async move {
                let filter = SessionFilter {
                    id_prefix: Some(prefix),
                    limit: 10,
                    ..SessionFilter::default()
                };
                let rows = h.sessions(&filter).await.expect("reads");
                rows.into_iter().map(|r| r.id).collect::<Vec<_>>()
            }
        };
        let whole = a.to_string();
        assert_eq!(find(whole.clone()).await, [a]);
        assert!(find(whole[..8].to_ascii_uppercase()).await.contains(&a));
        assert_eq!(find(whole[whole.len() - 12..].to_owned()).await, []);
    }
}
