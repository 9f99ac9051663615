//! The API's error type: a status code and `{"error": "...", "code": "..."}`; internals logged, not shown.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
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
            ControlError::Loading(_) => (StatusCode::CONFLICT, "loading"),
            ControlError::InvalidSettings(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_settings")
            }
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

/// Reads a JSON body: 415 unless it is declared as JSON (see [`require_json`]), 400 with the
/// parser's reason when it is not valid.
pub fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    require_json(headers)?;
    // serde reads a struct from an array of its fields too; every body here is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::bad_request(
            "invalid JSON body: an array where an object is expected",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// A body must come with `Content-Type: application/json` (parameters such as `charset`
/// allowed, `application/*+json` too): a page of another site can send `text/plain` or a form
/// to the relay without asking the browser's leave, but not JSON.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if sent.as_deref().is_some_and(is_json) {
        return Ok(());
    }
    let sent = match sent {
        Some(s) => format!(
            "'Content-Type: {}'",
            s.chars().take(100).collect::<String>()
        ),
        None => "no Content-Type".to_owned(),
    };
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("the body must be JSON sent with 'Content-Type: application/json', not {sent}"),
    ))
}

/// Whether a `Content-Type` value is JSON: `application/json` or `application/<x>+json`.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .and_then(|sub| sub.strip_suffix("+json"))
            .is_some_and(|x| !x.is_empty() && !x.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for yes in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            " application/json ",
            "application/merge-patch+json",
            "application/vnd.api+json; charset=utf-8",
        ] {
            assert!(is_json(yes), "{yes:?}");
        }
        for no in [
            "",
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/json",
            "application/jsonx",
            "application/+json",
            "application/json-seq",
            "json",
        ] {
            assert!(!is_json(no), "{no:?}");
        }
    }

    #[test]
    fn the_415_says_what_to_send() {
        let mut headers = HeaderMap::new();
        let e = require_json(&headers).expect_err("no content type");
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(
            e.message.contains("Content-Type: application/json"),
            "{}",
            e.message
        );
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().expect("value"));
        let e = json_body::<serde_json::Value>(&headers, b"{}").expect_err("text/plain");
        assert!(e.message.contains("text/plain"), "{}", e.message);
        headers.insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("value"),
        );
        assert!(json_body::<serde_json::Value>(&headers, b"{}").is_ok());
    }
}
