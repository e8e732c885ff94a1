//! `/api/v1/checklists`: list the usable checklists, read a version (with ETag), add a draft
//! version, publish it.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{self, ChecklistVersion, VersionStatus};
use super::template::{Label, Template};
use crate::auth::{AuthUser, Role};
use crate::db::schema::checklist_versions;
use crate::error::{ApiError, ApiResult, OrNotFound, Problem};
use crate::http::etag::{self, ETag};
use crate::http::{Json, Page, PageParams};
use crate::state::AppState;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ChecklistSummary {
    pub code: String,
    pub star_level: i32,
    /// The latest published version.
    pub version: i32,
    #[schema(value_type = Object)]
    pub title: Label,
}

/// The checklists the caller's county may use, with their latest published version.
#[utoipa::path(
    tag = "checklists",
    params(PageParams),
    responses((status = 200, body = Page<ChecklistSummary>), (status = 401, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/checklists")]
pub async fn list_checklists(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let county = user.scope.county_id.clone();
    let page = state
        .db
        .read(move |conn| {
            let mut q = checklist_versions::table
                .filter(checklist_versions::status.eq(VersionStatus::Published))
                .filter(
                    checklist_versions::county_id
                        .eq(county)
                        .or(checklist_versions::county_id.is_null()),
                )
                .select(ChecklistVersion::as_select())
                .order((
                    checklist_versions::code.asc(),
                    checklist_versions::version.desc(),
                ))
                .into_boxed();
            if let Some(c) = cursor {
                q = q.filter(checklist_versions::code.gt(c));
            }
            let rows = q.load(conn)?;
            let mut latest: Vec<ChecklistVersion> = Vec::new();
            for r in rows {
                if latest.last().is_none_or(|l| l.code != r.code) {
                    latest.push(r);
                }
                if latest.len() as i64 > limit {
                    break;
                }
            }
            let mut items = Vec::new();
            for v in &latest {
                items.push((v.code.clone(), v.star_level, v.version, v.template()?.title));
            }
            Ok(Page::from_rows(
                items,
                limit,
                |i| i.0.clone(),
                |(code, star_level, version, title)| ChecklistSummary {
                    code,
                    star_level,
                    version,
                    title,
                },
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Adds a new draft version of a checklist (a new code starts at version 1).
#[utoipa::path(
    tag = "checklists",
    request_body(content = Object, description = "A checklist template in the contract's format"),
    responses(
        (status = 201, body = Object, description = "The draft version"),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/checklists")]
pub async fn create_checklist(
    state: web::Data<AppState>,
    user: AuthUser,
    Json(template): Json<Template>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let county = user.scope.county_id.clone();
    let v = state
        .db
        .write(move |conn| store::add_version(conn, &template, Some(&county), false, &user.actor()))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::ETAG, ETag::of_version(&v.etag).as_str()))
        .json(v.document()?))
}

fn load_visible(
    conn: &mut crate::db::DbConn,
    user: &AuthUser,
    code: &str,
    version: i32,
) -> ApiResult<ChecklistVersion> {
    let v: ChecklistVersion =
        ChecklistVersion::find(conn, code, version).or_not_found("checklist version")?;
    let visible =
        v.visible_to(&user.scope.county_id) && (v.is_published() || user.role == Role::Admin);
    if !visible {
        return Err(ApiError::not_found("checklist version"));
    }
    Ok(v)
}

/// One version of a checklist. Clients revalidate with If-None-Match (304).
#[utoipa::path(
    tag = "checklists",
    params(("code" = String, Path), ("version" = i32, Path)),
    responses(
        (status = 200, body = Object, description = "The template with version, status, published_at"),
        (status = 304, description = "Not modified"),
        (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/checklists/{code}/versions/{version}")]
pub async fn get_checklist_version(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, i32)>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let (code, version) = path.into_inner();
    let v = state
        .db
        .read(move |conn| load_visible(conn, &user, &code, version))
        .await?;
    let etag = ETag::of_version(&v.etag);
    let cache = if v.is_published() {
        "private, max-age=0, must-revalidate"
    } else {
        "no-store"
    };
    if let Some(res) = etag::not_modified(&req, &etag, cache) {
        return Ok(res);
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache))
        .json(v.document()?))
}

/// Publishes a draft version; a published version never changes.
#[utoipa::path(
    tag = "checklists",
    params(("code" = String, Path), ("version" = i32, Path)),
    responses(
        (status = 200, body = Object), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/checklists/{code}/versions/{version}/publish")]
pub async fn publish_checklist_version(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, i32)>,
) -> ApiResult<HttpResponse> {
    let (code, version) = path.into_inner();
    let v = state
        .db
        .write(move |conn| {
            let v = load_visible(conn, &user, &code, version)?;
            user.require(&[Role::Admin])?;
            if v.county_id.is_none() {
                return Err(ApiError::forbidden(
                    "the built-in checklists are managed by the operator",
                ));
            }
            store::publish(conn, &v, &user.actor())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, ETag::of_version(&v.etag).as_str()))
        .json(v.document()?))
}
