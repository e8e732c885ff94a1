//! `/api/v1/org-units`: admins create, read and update org units inside their scope.

use actix_web::{get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::model::{self, NewOrgUnit, OrgUnit, OrgUnitView};
use crate::app::AppState;
use crate::auth::{AuthUser, Role};
use crate::db::schema::org_units;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{Json, Page, PageParams};
use crate::scope::OrgLevel;
use crate::scoped;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgUnitFilter {
    /// Only the children of this unit.
    pub parent: Option<String>,
    pub level: Option<OrgLevel>,
    pub code: Option<String>,
}

/// Org units in the caller's scope, ordered by code.
#[utoipa::path(
    tag = "org",
    params(OrgUnitFilter, PageParams),
    responses((status = 200, body = Page<OrgUnitView>), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/org-units")]
pub async fn list_org_units(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<OrgUnitFilter>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let filter = filter.into_inner();
    let page = state
        .db
        .read(move |conn| {
            let q = org_units::table.into_boxed();
            let mut q = scoped!(q, org_units, &user.scope);
            if let Some(p) = filter.parent {
                q = q.filter(org_units::parent_id.eq(p));
            }
            if let Some(l) = filter.level {
                q = q.filter(org_units::level.eq(l.as_str()));
            }
            if let Some(c) = filter.code {
                q = q.filter(org_units::code.eq(c));
            }
            if let Some(c) = cursor {
                q = q.filter(org_units::code.gt(c));
            }
            let rows = q
                .select(OrgUnit::as_select())
                .order(org_units::code.asc())
                .limit(limit + 1)
                .load(conn)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |u: &OrgUnit| u.code.clone(),
                OrgUnit::view,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgUnit {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_id: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Geofence radius in metres (villages; default 1500).
    pub radius_m: Option<f64>,
}

#[utoipa::path(
    tag = "org",
    request_body = CreateOrgUnit,
    responses(
        (status = 201, body = OrgUnitView),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/org-units")]
pub async fn create_org_unit(
    state: web::Data<AppState>,
    user: AuthUser,
    Json(body): Json<CreateOrgUnit>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let new = NewOrgUnit::parse(
        &body.code,
        &body.name,
        &body.level,
        body.lat,
        body.lon,
        body.radius_m,
    )
    .map_err(ApiError::validation)?;
    let unit = state
        .db
        .write(move |conn| {
            let parent = match &body.parent_id {
                // The parent must be inside the caller's scope; a county admin cannot make counties.
                Some(id) => Some(OrgUnit::find_scoped(conn, &user.scope, id)?),
                None => {
                    return Err(ApiError::forbidden(
                        "only the operator's command line creates counties",
                    ))
                }
            };
            new.insert(conn, parent.as_ref(), &user.actor())
        })
        .await?;
    Ok(HttpResponse::Created().json(unit.view()))
}

#[utoipa::path(
    tag = "org",
    params(("id" = String, Path, description = "Org unit id")),
    responses((status = 200, body = OrgUnitView), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/org-units/{id}")]
pub async fn get_org_unit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let unit = state
        .db
        .read(move |conn| OrgUnit::find_scoped(conn, &user.scope, &id))
        .await?;
    Ok(HttpResponse::Ok().json(unit.view()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgUnit {
    pub name: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_m: Option<f64>,
}

#[utoipa::path(
    tag = "org",
    params(("id" = String, Path, description = "Org unit id")),
    request_body = UpdateOrgUnit,
    responses(
        (status = 200, body = OrgUnitView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/org-units/{id}")]
pub async fn update_org_unit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<UpdateOrgUnit>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let unit = state
        .db
        .write(move |conn| {
            let unit = OrgUnit::find_scoped(conn, &user.scope, &id)?;
            user.require(&[Role::Admin])?;
            model::update(
                conn,
                &unit,
                body.name,
                body.lat,
                body.lon,
                body.radius_m,
                &user.actor(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(unit.view()))
}
