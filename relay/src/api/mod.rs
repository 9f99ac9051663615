//! The HTTP API (axum): one file per resource; [`app`] builds the router tests call directly.

mod auth;
mod bays;
mod error;
mod evidence;
mod origin;
mod sessions;
mod web;
mod ws;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router, middleware};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

use error::Query;
pub use error::{ApiError, ErrorBody};
use origin::GuardResponses;
pub use origin::Hosts;

use crate::control::Control;
use crate::history::{AuditEntry, History, PlateRow};
use crate::live::Live;
use crate::metrics::Metrics;

/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub live: Arc<Live>,
    pub control: Arc<Control>,
    pub history: History,
    pub metrics: Arc<Metrics>,
    /// The operators' token: required on mutating requests when set.
    pub api_token: Option<String>,
    /// The viewers' token: required (or the operators') on reads when set.
    pub viewer_token: Option<String>,
    /// Addresses that presented too many wrong tokens (shared with the embedded broker).
    pub lockout: Arc<crate::lockout::Lockout>,
    /// Whether the relay's MQTT link is up, for `/healthz`.
    pub mqtt_connected: watch::Receiver<bool>,
    /// Ends WebSocket sessions when the relay stops.
    pub shutdown: CancellationToken,
    /// The site's zone, for the dashboard.
    pub time_zone: chrono_tz::Tz,
    /// The names the relay answers to in `Host` (the rest is refused: DNS rebinding).
    pub hosts: Hosts,
}

/// The router: the page, health and API description open; reads for viewers; control for
/// operators. Every request first passes the [`origin::guard`]: a `Host` the relay answers
/// to, and no other site's page behind a command or a WebSocket.
pub fn app(state: Arc<AppState>) -> Router {
    let writes = Router::new()
        .route("/api/bays/{bay}/start", post(bays::start))
        .route("/api/bays/{bay}/stop", post(bays::stop))
        .route("/api/bays/{bay}/counting", put(bays::configure))
        .route("/api/sessions/{id}/corrections", post(sessions::correct))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_operator,
        ));
    let reads = Router::new()
        .route("/api/state", get(bays::state))
        .route("/api/bays/{bay}/snapshot.jpg", get(bays::snapshot))
        .route("/api/bays/{bay}/counting", get(bays::counting))
        .route("/api/sessions", get(sessions::list))
        .route("/api/sessions.csv", get(sessions::csv))
        .route("/api/sessions/{id}", get(sessions::get))
        .route("/api/sessions/{id}/evidence", get(evidence::list))
        // `{id}.jpg`: the router takes no suffix after a parameter; the handler strips it.
        .route("/api/evidence/{file}", get(evidence::picture))
        .route("/api/plates", get(plates))
        .route("/api/audit", get(audit))
        .route("/api/ws", get(ws::ws))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_viewer,
        ));
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/site", get(web::site))
        .route("/healthz", get(healthz))
        .route("/", get(web::index))
        .route("/app.js", get(web::app))
        .route("/style.css", get(web::style))
        .route("/vendor/uPlot.iife.min.js", get(web::uplot))
        .route("/vendor/uPlot.min.css", get(web::uplot_css))
        .merge(reads)
        .merge(writes)
        .fallback(|| async {
            ApiError::not_found("no such endpoint; /api/openapi.json lists them")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), origin::guard))
        .with_state(state)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LimitQuery {
    /// At most this many (default 50, at most 1000).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

impl LimitQuery {
    fn get(&self) -> Result<i64, ApiError> {
        match self.limit.as_deref() {
            None => Ok(50),
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| ApiError::bad_request("'limit' must be a number from 1 to 1000")),
        }
    }
}

/// Plates, most recently used first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PlatesResponse {
    plates: Vec<PlateRow>,
}

/// Plates for the menus, most recently used first.
#[utoipa::path(get, path = "/api/plates", params(LimitQuery), responses((status = 200, body = PlatesResponse), (status = 400, body = ErrorBody)))]
async fn plates(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<PlatesResponse>, ApiError> {
    Ok(Json(PlatesResponse {
        plates: s.history.plates(q.get()?).await?,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AuditResponse {
    audit: Vec<AuditEntry>,
}

/// The audit log of commands, newest first.
#[utoipa::path(get, path = "/api/audit", params(LimitQuery), responses((status = 200, body = AuditResponse), (status = 400, body = ErrorBody)))]
async fn audit(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<AuditResponse>, ApiError> {
    Ok(Json(AuditResponse {
        audit: s.history.audit_log(q.get()?).await?,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Healthz {
    /// `ok` when the database answers and the MQTT link is up, else `degraded`.
    status: &'static str,
    database: bool,
    mqtt: bool,
    bays: usize,
    bays_online: usize,
}

/// Liveness and readiness: 200 when healthy, 503 otherwise, with the parts.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Healthz), (status = 503, body = Healthz)))]
async fn healthz(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    let database = s.history.ping().await;
    let mqtt = *s.mqtt_connected.borrow();
    let ok = database && mqtt;
    let body = Healthz {
        status: if ok { "ok" } else { "degraded" },
        database,
        mqtt,
        bays: s.live.all().len(),
        bays_online: s.live.online_count(),
    };
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
async fn metrics(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

/// This API's OpenAPI document.
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// The OpenAPI document, generated from the handlers and types above.
#[derive(OpenApi)]
#[openapi(
    info(title = "baycount relay", description = "Live state, control and history of loading bays"),
    paths(
        bays::state, bays::snapshot, bays::start, bays::stop, bays::counting, bays::configure,
        sessions::list, sessions::csv, sessions::get, sessions::correct,
        evidence::list, evidence::picture,
        plates, audit, ws::ws, web::site, healthz, metrics
    ),
    components(schemas(sessions::TimeBound)),
    modifiers(&BearerAuth, &GuardResponses)
)]
#[derive(Debug)]
pub struct ApiDoc;
