//! The dashboard: static files built into the relay binary (a deployment is one file), and the
//! site settings the page needs.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;

use super::AppState;

const INDEX: &str = include_str!("../../web/index.html");
const APP: &str = include_str!("../../web/app.js");
const STYLE: &str = include_str!("../../web/style.css");
const UPLOT: &str = include_str!("../../web/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../web/vendor/uPlot.min.css");

fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Revalidated on every load: a new relay serves a new page at once.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

pub async fn index() -> impl IntoResponse {
    file("text/html; charset=utf-8", INDEX)
}

pub async fn app() -> impl IntoResponse {
    file("text/javascript; charset=utf-8", APP)
}

pub async fn style() -> impl IntoResponse {
    file("text/css; charset=utf-8", STYLE)
}

pub async fn uplot() -> impl IntoResponse {
    file("text/javascript; charset=utf-8", UPLOT)
}

pub async fn uplot_css() -> impl IntoResponse {
    file("text/css; charset=utf-8", UPLOT_CSS)
}

/// What the page needs to know about the site.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Site {
    /// IANA zone the times are shown in.
    pub time_zone: String,
    /// Whether START and STOP need the operators' token.
    pub token_required: bool,
    /// Whether reading (state, history, the live feed) needs a token too.
    pub read_token_required: bool,
    pub version: &'static str,
}

/// `GET /api/site`.
#[utoipa::path(get, path = "/api/site", responses((status = 200, body = Site)))]
pub async fn site(State(s): State<Arc<AppState>>) -> Json<Site> {
    Json(Site {
        time_zone: s.time_zone.name().to_owned(),
        token_required: s.api_token.is_some(),
        read_token_required: s.viewer_token.is_some(),
        version: env!("CARGO_PKG_VERSION"),
    })
}
