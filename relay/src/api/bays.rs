//! `/api/state`, the start/stop commands of `/api/bays/{bay}`, its picture and what it counts.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use baycount_protocol::{Actor, ActorKind, BayId, Counting, CountingChange, Plate, SessionSummary};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorBody, Path, json_body};
use crate::live::BayView;

/// Every bay.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StateResponse {
    pub bays: Vec<BayView>,
}

/// Body of a start request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The truck's plate, e.g. `KT 8899 TEST`; normalised and validated.
    #[schema(value_type = Plate)]
    pub plate: String,
    /// Who starts it: `api` (default), `api:<name>` or `dashboard:<name>`.
    #[serde(default)]
    #[schema(pattern = r"^(api|dashboard)(:[^\x00-\x1f\x7f-\x9f]{1,64})?$")]
    pub by: Option<String>,
}

/// Body of a stop request (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    /// Who stops it: `api` (default), `api:<name>` or `dashboard:<name>`.
    #[serde(default)]
    #[schema(pattern = r"^(api|dashboard)(:[^\x00-\x1f\x7f-\x9f]{1,64})?$")]
    pub by: Option<String>,
}

/// The session a command opened or closed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommandResponse {
    pub bay: String,
    pub session: SessionSummary,
}

/// The actor an API caller may name: only the API's and the dashboard's own kinds.
fn api_actor(by: Option<&str>) -> Result<Actor, ApiError> {
    let Some(by) = by else {
        return Ok(Actor::new(ActorKind::Api, None));
    };
    match by.parse::<Actor>() {
        Ok(a) if matches!(a.kind, ActorKind::Api | ActorKind::Dashboard) => Ok(a),
        _ => Err(ApiError::unprocessable(
            "invalid_actor",
            format!("'by' must be api, api:<name> or dashboard:<name>, not {by:?}"),
        )),
    }
}

/// The live state of every bay.
#[utoipa::path(get, path = "/api/state", responses((status = 200, body = StateResponse)))]
pub async fn state(State(s): State<Arc<AppState>>) -> Json<StateResponse> {
    Json(StateResponse { bays: s.live.all() })
}

/// The header saying which part of the camera's picture a snapshot shows: `x1,y1,x2,y2`,
/// normalised.
pub const REGION_HEADER: header::HeaderName = header::HeaderName::from_static("x-baycount-region");

/// The bay's newest frame as its edge sees it, drawn on (boxes, track ids, the counting line
/// with its `in` arrow, the count): asked of the edge now, or one from the last 0.4 s.
#[utoipa::path(get, path = "/api/bays/{bay}/snapshot.jpg",
    params(("bay" = BayId, Path, description = "bay id")),
    responses(
        (status = 200, content_type = "image/jpeg", body = Vec<u8>, description = "the picture; `Last-Modified` is when its frame was captured, `X-Baycount-Region` the part of the camera's picture it shows (`x1,y1,x2,y2`, normalised)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown bay"),
        (status = 409, body = ErrorBody, description = "the bay has no picture yet (its camera has not delivered a frame)"),
        (status = 503, body = ErrorBody, description = "bay offline"),
        (status = 504, body = ErrorBody, description = "no picture within the command timeout (5 s by default)"),
    ),
    security(("bearer" = [])))]
pub async fn snapshot(
    State(s): State<Arc<AppState>>,
    Path(bay): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let by = Actor::new(ActorKind::Api, None);
    let picture = s.control.snapshots.picture(&bay, &by).await?;
    let captured = picture
        .header
        .at
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    // The part of the camera's picture shown (the whole picture from older edges), for the
    // dashboard's line editor.
    let [x1, y1, x2, y2] = picture.header.region.unwrap_or([0.0, 0.0, 1.0, 1.0]);
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::LAST_MODIFIED, captured),
            (REGION_HEADER, format!("{x1},{y1},{x2},{y2}")),
        ],
        picture.jpeg.clone(),
    ))
}

/// Starts loading a truck at a bay.
#[utoipa::path(post, path = "/api/bays/{bay}/start", request_body = StartRequest,
    params(("bay" = BayId, Path, description = "bay id")),
    responses(
        (status = 200, body = CommandResponse, description = "the session is open"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown bay"),
        (status = 409, body = ErrorBody, description = "already loading, or another command is under way"),
        (status = 415, body = ErrorBody, description = "the body is not sent as 'Content-Type: application/json'"),
        (status = 422, body = ErrorBody, description = "invalid plate, bay id or 'by'"),
        (status = 503, body = ErrorBody, description = "bay offline"),
        (status = 504, body = ErrorBody, description = "no acknowledgement within 5 s"),
    ),
    security(("bearer" = [])))]
pub async fn start(
    State(s): State<Arc<AppState>>,
    Path(bay): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CommandResponse>, ApiError> {
    let req: StartRequest = json_body(&headers, &body)?;
    let by = api_actor(req.by.as_deref())?;
    let session = s.control.start(&bay, &req.plate, by).await?;
    Ok(Json(CommandResponse { bay, session }))
}

/// Stops the session loading at a bay; answers with the final count.
#[utoipa::path(post, path = "/api/bays/{bay}/stop", request_body(content = Option<StopRequest>),
    params(("bay" = BayId, Path, description = "bay id")),
    responses(
        (status = 200, body = CommandResponse, description = "the session is closed, with its final count"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown bay"),
        (status = 409, body = ErrorBody, description = "not loading"),
        (status = 415, body = ErrorBody, description = "a body not sent as 'Content-Type: application/json' (no body needs none)"),
        (status = 422, body = ErrorBody, description = "invalid bay id or 'by'"),
        (status = 503, body = ErrorBody, description = "bay offline"),
        (status = 504, body = ErrorBody, description = "no acknowledgement within 5 s"),
    ),
    security(("bearer" = [])))]
pub async fn stop(
    State(s): State<Arc<AppState>>,
    Path(bay): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CommandResponse>, ApiError> {
    // No body (which needs no Content-Type), or JSON null, is a stop with no name.
    let req: StopRequest = if body.iter().all(u8::is_ascii_whitespace) {
        StopRequest::default()
    } else {
        json_body::<Option<StopRequest>>(&headers, &body)?.unwrap_or_default()
    };
    let by = api_actor(req.by.as_deref())?;
    let session = s.control.stop(&bay, by).await?;
    Ok(Json(CommandResponse { bay, session }))
}

/// Body of a change to what a bay counts: any of its settings, the rest stay as they are.
/// The patterns and limits are the ones the bays take, so a request valid by this document is
/// refused only by the bay itself (409): a class its model lacks, or a line whose two ends are
/// the same point.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountingRequest {
    /// The counting line `x1,y1,x2,y2`, fractions of the picture, y down; crossing it from its
    /// left to its right counts `in`.
    #[serde(default)]
    #[schema(
        pattern = r"^ *(1(\.0*)?|0?\.[0-9]+|0(\.[0-9]*)?) *(, *(1(\.0*)?|0?\.[0-9]+|0(\.[0-9]*)?) *){3}$",
        example = "0,0.5,1,0.5"
    )]
    pub line: Option<String>,
    /// The classes counted, by the model's label names, e.g. `["person"]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<ClassName>>, min_items = 1)]
    pub classes: Option<Vec<String>>,
    /// Half-width of the dead band around the line, a share of the picture.
    #[serde(default)]
    #[schema(minimum = 0.0001, maximum = 0.2)]
    pub band: Option<f32>,
    /// The point of each box tested against the line.
    #[serde(default)]
    pub anchor: Option<AnchorName>,
    /// Who changes it: `api` (default), `api:<name>` or `dashboard:<name>`.
    #[serde(default)]
    #[schema(pattern = r"^(api|dashboard)(:[^\x00-\x1f\x7f-\x9f]{1,64})?$")]
    pub by: Option<String>,
}

/// The point of each box tested against the counting line.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AnchorName {
    BottomCenter,
    Center,
    TopCenter,
}

impl AnchorName {
    fn as_str(self) -> &'static str {
        match self {
            AnchorName::BottomCenter => "bottom-center",
            AnchorName::Center => "center",
            AnchorName::TopCenter => "top-center",
        }
    }
}

/// A class's label name, as the bay's model knows it.
pub struct ClassName;

impl utoipa::PartialSchema for ClassName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A label name of the bay's model, e.g. person"))
            .pattern(Some(r"\S"))
            .min_length(Some(1))
            .max_length(Some(64))
            .into()
    }
}

impl utoipa::ToSchema for ClassName {}

/// What a bay counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CountingResponse {
    pub bay: String,
    #[serde(flatten)]
    pub counting: Counting,
}

/// What a bay counts: its line, classes, dead band and anchor, as its edge last reported them.
#[utoipa::path(get, path = "/api/bays/{bay}/counting",
    params(("bay" = BayId, Path, description = "bay id")),
    responses(
        (status = 200, body = CountingResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown bay, or a bay that has not reported its settings (its edge is older)"),
    ),
    security(("bearer" = [])))]
pub async fn counting(
    State(s): State<Arc<AppState>>,
    Path(bay): Path<String>,
) -> Result<Json<CountingResponse>, ApiError> {
    let (_, view) = s.control.bay(&bay)?;
    let counting = view.counting.ok_or_else(|| {
        ApiError::not_found(format!(
            "bay {bay} has not reported what it counts; update its edge software"
        ))
    })?;
    Ok(Json(CountingResponse { bay, counting }))
}

/// Changes what a bay counts, between sessions: the edge checks the settings (its model's
/// classes too), keeps them over a restart and counts with them from the next frame.
#[utoipa::path(put, path = "/api/bays/{bay}/counting", request_body = CountingRequest,
    params(("bay" = BayId, Path, description = "bay id")),
    responses(
        (status = 200, body = CountingResponse, description = "the settings the bay counts with now (with none given: as they are)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown bay (or, with no settings given, one that has not reported them)"),
        (status = 409, body = ErrorBody, description = "the bay is loading, another command is under way, or the bay refused (a class its model does not know, a line whose two ends are the same point)"),
        (status = 415, body = ErrorBody, description = "the body is not sent as 'Content-Type: application/json'"),
        (status = 422, body = ErrorBody, description = "invalid settings or 'by'"),
        (status = 503, body = ErrorBody, description = "bay offline"),
        (status = 504, body = ErrorBody, description = "no acknowledgement within 5 s"),
    ),
    security(("bearer" = [])))]
pub async fn configure(
    State(s): State<Arc<AppState>>,
    Path(bay): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CountingResponse>, ApiError> {
    let req: CountingRequest = json_body(&headers, &body)?;
    let by = api_actor(req.by.as_deref())?;
    let change = CountingChange {
        line: req.line,
        classes: req.classes,
        band: req.band,
        anchor: req.anchor.map(|a| a.as_str().to_owned()),
    };
    // Nothing to change: what the bay counts, as GET says.
    if change.is_empty() {
        return counting(State(s), Path(bay)).await;
    }
    let counting = s.control.configure(&bay, change, by).await?;
    Ok(Json(CountingResponse { bay, counting }))
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_documented_line_is_the_one_the_bays_take() {
        let doc = serde_json::to_value(super::super::ApiDoc::openapi()).expect("json");
        let line = &doc["components"]["schemas"]["CountingRequest"]["properties"]["line"];
        assert_eq!(
            line["pattern"],
            baycount_protocol::counting::LINE_PATTERN,
            "{line}"
        );
    }
}
