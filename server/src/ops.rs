//! Operations endpoints: liveness, readiness (database and storage), Prometheus metrics,
//! the OpenAPI document and the docs page that renders it (assets served locally).

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// The process is up.
#[utoipa::path(tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub status: String,
    pub database: String,
    /// `file` or `s3`.
    pub storage_kind: String,
    pub storage: String,
    /// Whether this process holds the lease of each work that runs in one process at a time.
    pub leases: LeaseStatus,
}

#[derive(Serialize, ToSchema)]
pub struct LeaseStatus {
    /// Webhook delivery.
    pub webhooks: bool,
    /// The quarter's renewal declarations and the expiry of closed windows.
    pub renewals: bool,
}

/// The database and the photo storage (its bucket, for S3) answer; which leases this process
/// holds.
#[utoipa::path(tag = "ops", responses((status = 200, body = Readiness), (status = 503, body = Problem)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let backend = state.db.backend();
    state
        .db
        .read(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1")
                .map_err(|_| ApiError::unavailable("the database does not answer"))
        })
        .await?;
    state
        .storage
        .check()
        .await
        .map_err(|e| ApiError::unavailable(format!("the photo storage does not answer: {e}")))?;
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready".into(),
        database: format!("{backend:?}").to_lowercase(),
        storage_kind: if state.storage.is_s3() { "s3" } else { "file" }.into(),
        storage: "ok".into(),
        leases: LeaseStatus {
            webhooks: state.leases.holds(crate::lease::Work::Webhooks),
            renewals: state.leases.holds(crate::lease::Work::Renewals),
        },
    }))
}

/// Prometheus text (OpenMetrics): requests by route and status, latency, pool state, process
/// metrics, build info, and per county the review queue's depth and oldest wait, the webhook
/// backlog and the renewals not verified this quarter. Served on `FIELDSTAR_METRICS_ADDR`
/// instead of here when that is set.
#[utoipa::path(tag = "ops", responses(
    (status = 200, content_type = "application/openmetrics-text", body = String),
    (status = 404, body = Problem, description = "Served on FIELDSTAR_METRICS_ADDR instead")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if state.config.metrics_addr.is_some() {
        return Err(ApiError::not_found("route"));
    }
    metrics_text(state).await
}

/// The metrics page, for the main address or the metrics address.
pub async fn metrics_text(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let pool = state.db.state();
    state.metrics.pool_connections.set(pool.connections as i64);
    state.metrics.pool_idle.set(pool.idle_connections as i64);
    let quarter = crate::quarter::Quarter::of_instant(chrono::Utc::now(), state.config.timezone);
    let gauges = state
        .db
        .read(move |conn| {
            Ok(crate::metrics::domain(
                conn,
                crate::clock::now(),
                &quarter.to_string(),
            )?)
        })
        .await?;
    state.metrics.set_domain(&gauges);
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render()))
}

/// This document.
#[utoipa::path(tag = "ops", responses((status = 200, content_type = "application/yaml", body = String)))]
#[get("/api/openapi.yaml")]
pub async fn openapi_yaml() -> HttpResponse {
    static YAML: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(YAML.get_or_init(crate::app::openapi_yaml).clone())
}

/// `/docs` without its slash: where Swagger UI lives (`/docs/`).
#[utoipa::path(tag = "ops", responses((status = 308, description = "Swagger UI is at `/docs/`",
    headers(("Location" = String, description = "`/docs/`")))))]
#[get("/docs")]
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}

/// `/docs`: Swagger UI from files compiled into the binary, reading `/api/openapi.yaml`.
pub fn swagger_ui() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
        .external_urls_from_iter_unchecked([("/api/openapi.yaml", serde_json::json!({}))])
}
