//! Bearer tokens with two roles: viewers read, operators also start, stop and correct.
//! Tokens are compared in constant time, never logged, and an address that keeps presenting
//! wrong ones is locked out for a while.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
}

/// Lets reads through when no viewer token is configured, or with either token.
pub async fn require_viewer(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    require(Role::Viewer, &state, request, next).await
}

/// Lets control through when no operator token is configured, or with it.
pub async fn require_operator(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    require(Role::Operator, &state, request, next).await
}

async fn require(needed: Role, state: &AppState, request: Request, next: Next) -> Response {
    let open = match needed {
        Role::Viewer => state.viewer_token.is_none(),
        Role::Operator => state.api_token.is_none(),
    };
    if open {
        return next.run(request).await;
    }
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let now = Instant::now();
    if let Some(wait) = state.lockout.locked(ip, now) {
        return too_many(wait.as_secs() + 1);
    }
    let Some(presented) = presented_token(&request) else {
        return unauthorized(needed, "this request needs a token");
    };
    match role_of(state, &presented) {
        Some(role) if role >= needed => next.run(request).await,
        Some(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token may only read; starting, stopping and corrections need the operators' token",
        )
        .into_response(),
        None => {
            log::warn!("API: wrong token from {ip}");
            if let Some(wait) = state.lockout.failed(ip, now) {
                log::warn!("API: {ip} locked out for {} s after repeated wrong tokens", wait.as_secs());
                return too_many(wait.as_secs());
            }
            unauthorized(needed, "the token is not valid")
        }
    }
}

/// The role a token grants, if any.
fn role_of(state: &AppState, token: &str) -> Option<Role> {
    let is = |expected: &Option<String>| {
        expected
            .as_deref()
            .is_some_and(|e| bool::from(token.as_bytes().ct_eq(e.as_bytes())))
    };
    // Both compared every time, so timing tells nothing about which one was close.
    let (operator, viewer) = (is(&state.api_token), is(&state.viewer_token));
    if operator {
        Some(Role::Operator)
    } else if viewer {
        Some(Role::Viewer)
    } else {
        None
    }
}

/// `Authorization: Bearer <token>`, or for reads (browsers cannot set headers on a WebSocket or a
/// download link) `?access_token=<token>` as RFC 6750 allows.
fn presented_token(request: &Request) -> Option<String> {
    if let Some(h) = request.headers().get(header::AUTHORIZATION) {
        return h
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
    }
    if request.method() != axum::http::Method::GET {
        return None;
    }
    url::form_urlencoded::parse(request.uri().query()?.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

fn unauthorized(needed: Role, why: &str) -> Response {
    let which = match needed {
        Role::Viewer => "a viewer's or an operator's token",
        Role::Operator => "the operators' token",
    };
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!("{why}: send {which} as 'Authorization: Bearer <token>'"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn too_many(retry_after_secs: u64) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "locked_out",
        format!(
            "too many wrong tokens from this address; try again in {retry_after_secs} s with the right one"
        ),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}
