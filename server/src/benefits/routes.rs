//! `/api/v1/benefits`: the county's catalogue, read by county roles, saved by its admins as a
//! new version; `/api/v1/benefits/versions[/{version}]`: the versions kept.

use actix_web::{get, put, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::store::{self, Catalogue, VersionSummary};
use super::BenefitInput;
use crate::auth::{AuthUser, Role};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{Json, Page, PageParams};
use crate::stars::routes::parse_date;
use crate::state::AppState;

/// Who reads the catalogue: the county's roles (the report's readers).
pub const READERS: [Role; 4] = [Role::Admin, Role::Reviewer, Role::Inspector, Role::Township];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogueQuery {
    /// The day (`YYYY-MM-DD`, county time) whose catalogue to answer; default today.
    pub as_of: Option<String>,
}

/// A new version of the catalogue: the whole list, in the order to show it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueSave {
    pub benefits: Vec<BenefitInput>,
    /// The version the edit started from: when another save came first, 409
    /// `catalogue_changed` instead of overwriting it. Absent: no check.
    pub base_version: Option<i64>,
}

/// The benefit catalogue of the caller's county in force on a day (version 0 and no benefits
/// while it has none).
#[utoipa::path(
    tag = "benefits",
    params(CatalogueQuery),
    responses(
        (status = 200, body = Catalogue), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/benefits")]
pub async fn get_catalogue(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<CatalogueQuery>,
) -> ApiResult<HttpResponse> {
    user.require(&READERS)?;
    let day = match query.as_of.as_deref().filter(|d| !d.is_empty()) {
        Some(text) => parse_date("as_of", text)?,
        None => crate::clock::today(state.config.timezone),
    };
    let county = user.scope.county_id.clone();
    let view = state
        .db
        .read(move |conn| {
            Ok(store::in_force(conn, &county, day)?.unwrap_or_else(|| Catalogue::empty(&county)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Saves the county's catalogue as a new version, in force from today (admins). Earlier
/// versions stay readable and keep applying to the days they were in force.
#[utoipa::path(
    tag = "benefits",
    request_body = CatalogueSave,
    responses(
        (status = 200, description = "The new version", body = Catalogue),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/benefits")]
pub async fn save_catalogue(
    state: web::Data<AppState>,
    user: AuthUser,
    Json(body): Json<CatalogueSave>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let benefits = super::parse_catalogue(&body.benefits).map_err(ApiError::validation)?;
    let county = user.scope.county_id.clone();
    let today = crate::clock::today(state.config.timezone);
    let base = body.base_version;
    let view = state
        .db
        .write(move |conn| store::save(conn, &county, benefits, base, &user.actor(), today))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The county's catalogue versions, newest first.
#[utoipa::path(
    tag = "benefits",
    params(PageParams),
    responses(
        (status = 200, body = Page<VersionSummary>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/benefits/versions")]
pub async fn list_versions(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    user.require(&READERS)?;
    let limit = page.limit()?;
    let before: Option<i32> = page.cursor()?;
    let county = user.scope.county_id.clone();
    let page = state
        .db
        .read(move |conn| {
            let rows = store::versions(conn, &county, before, limit)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |v: &VersionSummary| v.version,
                |v| v,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One version of the county's catalogue.
#[utoipa::path(
    tag = "benefits",
    params(("version" = i32, Path, description = "1, 2, …")),
    responses(
        (status = 200, body = Catalogue), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/benefits/versions/{version}")]
pub async fn get_version(
    state: web::Data<AppState>,
    user: AuthUser,
    version: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    user.require(&READERS)?;
    let (county, version) = (user.scope.county_id.clone(), version.into_inner());
    let view = state
        .db
        .read(move |conn| {
            store::find(conn, &county, version)?
                .ok_or_else(|| ApiError::not_found("catalogue version"))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
