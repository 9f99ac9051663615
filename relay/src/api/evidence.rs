//! `/api/sessions/{id}/evidence` and `/api/evidence/{id}.jpg`: the picture of each event of a session, so a count can be checked by eye.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use baycount_protocol::{Direction, EvidenceKind};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, ErrorBody, Path};
use super::sessions::session_id;
use crate::history::{EvidenceId, EvidenceRow, Picture};

/// A stored picture never changes: browsers may keep it (privately: it needs a token).
const CACHE_PICTURE: &str = "private, max-age=31536000, immutable";

/// One event's picture, or word of why there is none.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceItem {
    /// Stable id of the piece: `<session>-<seq>`.
    pub id: String,
    pub kind: EvidenceKind,
    /// The seq of the event it shows.
    pub seq: u64,
    /// A crossing's direction.
    pub direction: Option<Direction>,
    /// A crossing's track id.
    pub track: Option<i64>,
    /// When the frame shown was captured (RFC 3339).
    pub time: DateTime<Utc>,
    /// The JPEG (`/api/evidence/{id}.jpg`); `null` when there is none (`dropped` or `pruned`).
    pub url: Option<String>,
    /// The bay dropped the picture (its budget was full, or it had no frame); the event is not affected.
    pub dropped: bool,
    /// The picture was deleted after the retention (`evidence_days`).
    pub pruned: bool,
}

impl From<EvidenceRow> for EvidenceItem {
    fn from(r: EvidenceRow) -> Self {
        let id = r.id.to_string();
        let shown = !r.dropped && !r.pruned;
        Self {
            url: shown.then(|| format!("/api/evidence/{id}.jpg")),
            id,
            kind: r.kind,
            seq: r.id.seq,
            direction: r.direction,
            track: r.track,
            time: r.at,
            dropped: r.dropped,
            pruned: r.pruned,
        }
    }
}

/// A session's evidence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceResponse {
    /// In seq order: the start, the crossings, the stop.
    pub evidence: Vec<EvidenceItem>,
}

/// The pictures of a session's events stored so far, in seq order.
#[utoipa::path(get, path = "/api/sessions/{id}/evidence", params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = EvidenceResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<EvidenceResponse>, ApiError> {
    let sid = session_id(&id)?;
    let rows = s
        .history
        .session_evidence(sid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no session {id}")))?;
    Ok(Json(EvidenceResponse {
        evidence: rows.into_iter().map(EvidenceItem::from).collect(),
    }))
}

/// One event's picture. `?access_token=` works as with every read, so that `<img src>` can show it.
#[utoipa::path(get, path = "/api/evidence/{id}.jpg", params(("id" = String, Path, description = "evidence id, `<session>-<seq>`")),
    responses(
        (status = 200, content_type = "image/jpeg", body = Vec<u8>, description = "the picture; it never changes"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such piece of evidence"),
        (status = 410, body = ErrorBody, description = "the bay dropped the picture, or it was deleted after the retention"),
    ),
    security(("bearer" = [])))]
pub async fn picture(
    State(s): State<Arc<AppState>>,
    Path(file): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let unknown = || {
        ApiError::not_found(format!(
            "no evidence {file:?}: pictures are /api/evidence/<session>-<seq>.jpg, as /api/sessions/<id>/evidence lists them"
        ))
    };
    let id: EvidenceId = file
        .strip_suffix(".jpg")
        .and_then(|id| id.parse().ok())
        .ok_or_else(unknown)?;
    match s.history.evidence_picture(id).await?.ok_or_else(unknown)? {
        Picture::Jpeg(jpeg) => Ok((
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, CACHE_PICTURE),
            ],
            jpeg,
        )),
        Picture::Dropped => Err(ApiError::new(
            StatusCode::GONE,
            "evidence_dropped",
            format!(
                "the bay dropped the picture of event {} (its picture budget was full, or it had no frame); the count itself is stored",
                id.seq
            ),
        )),
        Picture::Pruned { at } => Err(ApiError::new(
            StatusCode::GONE,
            "evidence_pruned",
            format!(
                "the picture of event {} was deleted on {} after the retention (evidence_days); the count itself is kept",
                id.seq,
                at.format("%Y-%m-%d")
            ),
        )),
    }
}
