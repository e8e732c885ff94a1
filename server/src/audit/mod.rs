//! The audit log: append-only, written in the same transaction as each change, read through
//! `GET /api/v1/audit` within the caller's scope. Nothing here updates or deletes a row.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Actor, AuthUser, Role};
use crate::clock::now;
use crate::db::schema::audit_log;
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::http::{Page, PageParams};
use crate::scope::OrgLevel;
use crate::state::AppState;

/// Appends one entry. `county_id` places it for scoped reads (`None`: visible to no county).
pub fn record(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    county_id: Option<&str>,
    summary: impl Into<String>,
) -> QueryResult<()> {
    let (id, at, summary) = (uuid::Uuid::now_v7().to_string(), now(), summary.into());
    crate::db::on_backend!(conn, |c| diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(&id),
            audit_log::at.eq(at),
            audit_log::actor_id.eq(actor.id.as_deref()),
            audit_log::actor.eq(&actor.name),
            audit_log::action.eq(action),
            audit_log::entity_type.eq(entity_type),
            audit_log::entity_id.eq(entity_id),
            audit_log::county_id.eq(county_id),
            audit_log::summary.eq(&summary),
            audit_log::request_id.eq(actor.request_id.as_deref()),
        ))
        .execute(c))?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    id: String,
    at: chrono::NaiveDateTime,
    actor_id: Option<String>,
    actor: String,
    action: String,
    entity_type: String,
    entity_id: String,
    summary: String,
    request_id: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor_id: Option<String>,
    /// The actor's username (`cli` for the operator's command line).
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub summary: String,
    pub request_id: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
}

/// The audit log of the caller's county, newest first.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery, PageParams),
    responses(
        (status = 200, body = Page<AuditEntry>),
        (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<AuditQuery>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin, Role::Reviewer])?;
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let filter = filter.into_inner();
    // Audit entries are placed by county only; county roles read their county's log.
    let county = match user.scope.level {
        OrgLevel::County => user.scope.unit_id.clone(),
        _ => user.scope.county_id.clone(),
    };
    let page = state
        .db
        .read(move |conn| {
            let mut q = audit_log::table
                .filter(audit_log::county_id.eq(county))
                .select(AuditRow::as_select())
                .order(audit_log::id.desc())
                .limit(limit + 1)
                .into_boxed();
            if let Some(t) = filter.entity_type {
                q = q.filter(audit_log::entity_type.eq(t));
            }
            if let Some(id) = filter.entity_id {
                q = q.filter(audit_log::entity_id.eq(id));
            }
            if let Some(c) = cursor {
                q = q.filter(audit_log::id.lt(c));
            }
            let rows = q.load(conn)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |r: &AuditRow| r.id.clone(),
                |r| AuditEntry {
                    id: r.id,
                    at: r.at.and_utc(),
                    actor_id: r.actor_id,
                    actor: r.actor,
                    action: r.action,
                    entity_type: r.entity_type,
                    entity_id: r.entity_id,
                    summary: r.summary,
                    request_id: r.request_id,
                },
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}
