//! The API's error type: a status code and `{"error": "...", "code": "..."}`; internals logged, not shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::control::ControlError;
use crate::history::HistoryError;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong and what to do, in words.
    pub error: String,
    /// A stable machine-readable code, e.g. `bay_offline`.
    pub code: &'static str,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.code,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let (status, code) = match &e {
            ControlError::UnknownBay(_) => (StatusCode::NOT_FOUND, "unknown_bay"),
            ControlError::InvalidPlate(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_plate"),
            ControlError::Offline(_) => (StatusCode::SERVICE_UNAVAILABLE, "bay_offline"),
            ControlError::AlreadyLoading { .. } => (StatusCode::CONFLICT, "already_loading"),
            ControlError::Idle(_) => (StatusCode::CONFLICT, "not_loading"),
            ControlError::Busy(_) => (StatusCode::CONFLICT, "command_in_progress"),
            ControlError::Refused { .. } => (StatusCode::CONFLICT, "refused_by_bay"),
            ControlError::NotResponding { .. } => {
                (StatusCode::GATEWAY_TIMEOUT, "bay_not_responding")
            }
            ControlError::Broker(_) => (StatusCode::SERVICE_UNAVAILABLE, "broker_unavailable"),
            ControlError::History(_) => (StatusCode::SERVICE_UNAVAILABLE, "history_unavailable"),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> Self {
        log::error!("history: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "history_unavailable",
            "the history database could not answer; the relay's log has the details",
        )
    }
}

/// Reads a JSON body, answering 400 with the parser's reason when it is not valid.
/// `axum::extract::Query`, its rejections in the API's JSON error form.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path`, its rejections in the API's JSON error form.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(format!("invalid query string: {}", e.body_text()))
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad_request(format!("invalid path: {}", e.body_text()))
    }
}

pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}
