//! `/api/v1/webhooks`: a county's admins subscribe URLs to events, list and delete their
//! subscriptions, and read each one's delivery log.

use actix_web::{delete, get, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;

use super::subscription::{
    CreatedWebhook, DeliveryRow, DeliveryView, NewWebhook, Webhook, WebhookView,
};
use super::target;
use crate::auth::{AuthUser, Role};
use crate::db::schema::{webhook_deliveries, webhooks};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{Json, Page, PageParams};
use crate::scoped;
use crate::state::AppState;

/// The county's webhook subscriptions, oldest first (secrets are never listed).
#[utoipa::path(
    tag = "webhooks",
    params(PageParams),
    responses((status = 200, body = Page<WebhookView>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let page = state
        .db
        .read(move |conn| {
            let q = webhooks::table
                .filter(webhooks::active.eq(true))
                .into_boxed();
            let mut q = scoped!(q, webhooks, &user.scope);
            if let Some(c) = cursor {
                q = q.filter(webhooks::id.gt(c));
            }
            let rows = q
                .select(Webhook::as_select())
                .order(webhooks::id.asc())
                .limit(limit + 1)
                .load(conn)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |w: &Webhook| w.id.clone(),
                |w| w.view(),
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where to POST events: http(s), on a public address unless the operator allows private ones.
    pub url: String,
    /// Event types: `inspection.submitted`, `inspection.decided`, `inspection.returned`,
    /// `star_status.changed`.
    pub events: Vec<String>,
}

/// Subscribes a URL to event types. The answer carries the signing secret, shown only here.
#[utoipa::path(
    tag = "webhooks",
    request_body = CreateWebhook,
    responses(
        (status = 201, body = CreatedWebhook), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    Json(body): Json<CreateWebhook>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let new = NewWebhook::parse(&body.url, &body.events).map_err(ApiError::validation)?;
    target::resolve(&new.url, state.config.webhook_allow_private)
        .await
        .map_err(|m| ApiError::field("url", m))?;
    let county = user.scope.county_id.clone();
    let created = state
        .db
        .write(move |conn| new.insert(conn, &county, &user.actor()))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Stops deliveries to a subscription; its delivery log is kept but no longer served.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/api/v1/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state
        .db
        .write(move |conn| {
            let hook = Webhook::find_scoped(conn, &user.scope, &id)?;
            user.require(&[Role::Admin])?;
            hook.deactivate(conn, &user.actor())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The subscription's delivery attempts, newest first.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), PageParams),
    responses(
        (status = 200, body = Page<DeliveryView>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let id = id.into_inner();
    let page = state
        .db
        .read(move |conn| {
            let hook = Webhook::find_scoped(conn, &user.scope, &id)?;
            user.require(&[Role::Admin])?;
            let mut q = webhook_deliveries::table
                .filter(webhook_deliveries::webhook_id.eq(&hook.id))
                .into_boxed();
            if let Some(c) = cursor {
                q = q.filter(webhook_deliveries::id.lt(c));
            }
            let rows = q
                .select(DeliveryRow::as_select())
                .order(webhook_deliveries::id.desc())
                .limit(limit + 1)
                .load(conn)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |d: &DeliveryRow| d.id.clone(),
                DeliveryRow::view,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}
