//! `/api/sessions`: the history, as JSON or CSV, and manual corrections.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use baycount_protocol::{BayId, Plate, SessionId};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorBody, Path, Query, json_body};
use crate::history::{
    Corrected, Correction, CorrectionInput, EvidenceId, SessionDetail, SessionFilter, SessionRow,
};

/// Default and largest page of sessions.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 10_000;
/// Longest correction reason kept.
const MAX_REASON: usize = 500;
/// Largest correction, either way.
const MAX_DELTA: i64 = 1_000_000;

/// Filters of the session list; all optional.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// Only this bay.
    #[param(value_type = Option<BayId>)]
    pub bay: Option<String>,
    /// Only this plate (normalised like any plate).
    #[param(value_type = Option<Plate>)]
    pub plate: Option<String>,
    /// Sessions started at or after: RFC 3339 time, or a date `YYYY-MM-DD` (UTC).
    #[param(value_type = Option<TimeBound>)]
    pub from: Option<String>,
    /// Sessions started before: RFC 3339 time, or a date `YYYY-MM-DD` (UTC, the whole day included).
    #[param(value_type = Option<TimeBound>)]
    pub to: Option<String>,
    /// At most this many, newest first (default 100, at most 10000).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub limit: Option<String>,
}

/// A time bound of the session list: an RFC 3339 time or a date.
pub struct TimeBound;

impl utoipa::PartialSchema for TimeBound {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
        };
        let string = |f| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(f)))
        };
        OneOfBuilder::new()
            .item(string(KnownFormat::DateTime))
            .item(string(KnownFormat::Date))
            .description(Some("an RFC 3339 time, or a date YYYY-MM-DD (UTC)"))
            .into()
    }
}

impl utoipa::ToSchema for TimeBound {}

/// A page of sessions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionsResponse {
    pub sessions: Vec<SessionRow>,
}

/// Years a time bound may name: what RFC 3339's four digits can write.
const YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

fn parse_time(name: &str, value: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value)
        && YEARS.contains(&t.year())
    {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && YEARS.contains(&d.year())
    {
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(ApiError::bad_request(format!(
        "'{name}' must be a date like 2026-11-25 or a time like 2026-11-25T08:00:00+08:00 (years 0000 to 9999), not {value:?}"
    )))
}

impl SessionQuery {
    fn filter(&self) -> Result<SessionFilter, ApiError> {
        let bay = match self.bay.as_deref().filter(|b| !b.is_empty()) {
            Some(b) => {
                Some(BayId::parse(b).map_err(|e| ApiError::bad_request(format!("'bay': {e}")))?)
            }
            None => None,
        };
        let plate = match self.plate.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => Some(
                Plate::parse(p)
                    .map_err(|e| ApiError::unprocessable("invalid_plate", e.to_string()))?,
            ),
            None => None,
        };
        for (name, value) in [
            ("bay", &self.bay),
            ("plate", &self.plate),
            ("from", &self.from),
            ("to", &self.to),
            ("limit", &self.limit),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(ApiError::bad_request(format!(
                    "'{name}' is empty: leave it out to not filter by it"
                )));
            }
        }
        let limit = match self.limit.as_deref() {
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("'limit' must be a number from 1 to {MAX_LIMIT}"))
                })?,
            None => DEFAULT_LIMIT,
        };
        let from = self
            .from
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|v| parse_time("from", v, false))
            .transpose()?;
        let to = self
            .to
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|v| parse_time("to", v, true))
            .transpose()?;
        Ok(SessionFilter {
            bay,
            plate,
            from,
            to,
            id_prefix: None,
            limit,
        })
    }
}

/// Sessions, newest first.
#[utoipa::path(get, path = "/api/sessions", params(SessionQuery),
    responses((status = 200, body = SessionsResponse), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(s): State<Arc<AppState>>,
    Query(q): Query<SessionQuery>,
) -> Result<Json<SessionsResponse>, ApiError> {
    let sessions = s.history.sessions(&q.filter()?).await?;
    Ok(Json(SessionsResponse { sessions }))
}

/// The same sessions as CSV, for spreadsheets, with each session's digest and its bay's chain
/// head (`link:sha256`) at the time of the export.
#[utoipa::path(get, path = "/api/sessions.csv", params(SessionQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn csv(
    State(s): State<Arc<AppState>>,
    Query(q): Query<SessionQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let sessions = s.history.sessions(&q.filter()?).await?;
    // Each bay's chain head when the report was made, so a printed copy can be checked later
    // against `baycount-relay verify`'s heads.
    let heads: std::collections::HashMap<String, String> = s
        .history
        .chain_heads()
        .await?
        .into_iter()
        .map(|(bay, link, digest)| (bay, format!("{link}:{digest}")))
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let time = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    let text = |v: Option<String>| spreadsheet_safe(v.unwrap_or_default());
    let header = [
        "id",
        "bay",
        "plate",
        "count",
        "out",
        "correction",
        "corrected_count",
        "started_at",
        "stopped_at",
        "duration_seconds",
        "started_by",
        "stopped_by",
        "digest",
        "chain_head",
    ];
    let write = || -> Result<(), csv::Error> {
        w.write_record(header)?;
        for r in sessions {
            w.write_record([
                spreadsheet_safe(r.id.to_string()),
                spreadsheet_safe(r.bay.to_string()),
                text(r.plate.map(String::from)),
                r.count.to_string(),
                r.out.to_string(),
                r.correction.to_string(),
                r.corrected_count.to_string(),
                time(r.started_at),
                time(r.stopped_at),
                r.duration_seconds
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                text(r.started_by.map(|a| a.to_string())),
                text(r.stopped_by.map(|a| a.to_string())),
                r.digest.unwrap_or_default(),
                heads.get(r.bay.as_str()).cloned().unwrap_or_default(),
            ])?;
        }
        w.flush()?;
        Ok(())
    };
    let internal = |e: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "csv", e);
    write().map_err(|e| internal(e.to_string()))?;
    let body = w.into_inner().map_err(|e| internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"baycount-sessions.csv\"",
            ),
        ],
        body,
    ))
}

/// A text cell a spreadsheet will not run: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading `'` (OWASP's rule for CSV injection). The numbers the CSV
/// writes itself (counts, corrections, durations) do not go through this, so `-5` stays a number.
fn spreadsheet_safe(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// A session id from a path, or the API's 404.
pub(super) fn session_id(id: &str) -> Result<SessionId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("no session {id:?}: session ids are UUIDs")))
}

/// One session with its events and corrections.
#[utoipa::path(get, path = "/api/sessions/{id}", params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, ApiError> {
    let sid = session_id(&id)?;
    s.history
        .session(sid)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no session {id}")))
}

/// Adds a manual correction beside the machine count.
#[utoipa::path(post, path = "/api/sessions/{id}/corrections", request_body = CorrectionInput,
    params(("id" = String, Path, description = "session id")),
    responses((status = 201, body = Correction), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "'evidence' names a piece of another session, or one not stored (yet)"),
        (status = 415, body = ErrorBody, description = "the body is not sent as 'Content-Type: application/json'"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn correct(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Correction>), ApiError> {
    let sid = session_id(&id)?;
    let input: CorrectionInput = json_body(&headers, &body)?;
    let reason = input.reason.trim();
    if input.delta == 0 {
        return Err(ApiError::unprocessable(
            "invalid_correction",
            "'delta' must not be 0",
        ));
    }
    // A range, not `abs()`, which overflows on i64::MIN.
    if !(-MAX_DELTA..=MAX_DELTA).contains(&input.delta) {
        return Err(ApiError::unprocessable(
            "invalid_correction",
            format!(
                "'delta' is implausibly large: it must be from -{MAX_DELTA} to {MAX_DELTA}, not {}",
                input.delta
            ),
        ));
    }
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON
        || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::unprocessable(
            "invalid_correction",
            format!("'reason' is required: up to {MAX_REASON} characters of text"),
        ));
    }
    let by = match input.by.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) if b.chars().count() <= 64 && !b.chars().any(char::is_control) => {
            format!("api:{b}")
        }
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_correction",
                "'by' must be a name of up to 64 characters",
            ));
        }
        None => "api".to_owned(),
    };
    let evidence = input
        .evidence
        .as_deref()
        .map(|e| evidence_of(sid, e))
        .transpose()?;
    match s
        .history
        .add_correction(sid, &by, input.delta, reason, evidence, Utc::now())
        .await?
    {
        Corrected::Added(correction) => Ok((StatusCode::CREATED, Json(correction))),
        Corrected::NoSession => Err(ApiError::not_found(format!("no session {id}"))),
        Corrected::NoEvidence => Err(ApiError::new(
            StatusCode::CONFLICT,
            "unknown_evidence",
            format!(
                "'evidence': session {sid} has no piece of evidence {:?} stored; use an id that GET /api/sessions/{sid}/evidence lists",
                input.evidence.unwrap_or_default()
            ),
        )),
    }
}

/// The seq of the piece of `session`'s evidence a correction names, or why it cannot be one.
fn evidence_of(session: SessionId, text: &str) -> Result<u64, ApiError> {
    let id: EvidenceId = text.trim().parse().map_err(|e| {
        ApiError::unprocessable("invalid_evidence", format!("'evidence' {text:?}: {e}"))
    })?;
    if id.session != session {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "unknown_evidence",
            format!(
                "'evidence' {text:?} is a picture of session {}, not of session {session}: a correction can point only at its own session's evidence, as GET /api/sessions/{session}/evidence lists it",
                id.session
            ),
        ));
    }
    Ok(id.seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, want) in [
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1-1", "'-1-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("KT 1 A", "KT 1 A"),
            ("1-1", "1-1"),
            ("", ""),
            ("api:=x", "api:=x"),
        ] {
            assert_eq!(spreadsheet_safe(cell.to_owned()), want, "{cell:?}");
        }
    }

    #[test]
    fn time_bounds_name_their_field() {
        for bad in [
            "+275760-09-13",
            "+200000-01-01",
            "-0001-01-01",
            "10000-01-01",
            "garbage",
        ] {
            let e = parse_time("from", bad, false).expect_err(bad);
            assert!(e.message.starts_with("'from'"), "{bad}: {}", e.message);
        }
        for good in ["0000-01-01", "9999-12-31", "2026-11-25T08:00:00+08:00"] {
            parse_time("to", good, true).expect(good);
        }
    }
}
