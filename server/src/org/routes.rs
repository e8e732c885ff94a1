//! `/api/v1/org-units`: admins create, read and update org units inside their scope.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::decode::Encoding;
use super::import::{ImportError, ImportReport};
use super::model::{self, NewOrgUnit, OrgUnit, OrgUnitView};
use crate::auth::{AuthUser, Role};
use crate::db::schema::org_units;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{Json, Page, PageParams};
use crate::i18n::{Lang, Rule};
use crate::scope::OrgLevel;
use crate::scoped;
use crate::state::AppState;

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
    /// Moves a village to another township of its county (refused with 409 once the village
    /// has declarations, inspections or decisions).
    pub parent_id: Option<String>,
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
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)
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
            let mut unit = OrgUnit::find_scoped(conn, &user.scope, &id)?;
            user.require(&[Role::Admin])?;
            if let Some(parent_id) = &body.parent_id {
                let parent = OrgUnit::find_scoped(conn, &user.scope, parent_id).map_err(|e| {
                    if e.status == actix_web::http::StatusCode::NOT_FOUND {
                        ApiError::field("parent_id", Rule::NotInScope.with("what", "township"))
                    } else {
                        e
                    }
                })?;
                unit = model::move_village(conn, &unit, &parent, &user.actor())?;
            }
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

/// The largest import file: some 40,000 lines, more than a county's org units.
pub const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Answer what would be created, updated, unchanged and refused, and write nothing.
    pub dry_run: Option<bool>,
    /// `utf-8` or `gb18030` (what Excel and WPS save on a Chinese Windows); else the
    /// Content-Type's charset; else detected (valid UTF-8 is UTF-8, anything else GB18030).
    pub encoding: Option<String>,
}

/// Imports org units from a CSV (`code,name,level,parent_code,lat,lon,radius_m`), the same
/// import as `fieldstar org import`: all lines or none, idempotent by code. With
/// `?dry_run=true`, the answer says line by line what would happen and nothing is written.
/// Without it, a file with any refused line is refused (422, each line named) and nothing is
/// written. Townships and villages only: counties come from the command line.
#[utoipa::path(
    tag = "org",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "The CSV file: UTF-8 (a byte-order mark is fine) or GB18030"),
    responses(
        (status = 200, body = ImportReport, description = "The dry run's answer, or what was imported"),
        (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/org-units/import")]
pub async fn import_org_units(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ImportQuery>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let lang = Lang::of(&req);
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if mime != "text/csv" {
        return Err(ApiError::unsupported_media(
            "send the CSV file with Content-Type: text/csv",
        ));
    }
    let charset = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().strip_prefix("charset="))
        .map(|c| c.trim_matches('"').to_string())
        .next();
    let encoding = match query.encoding.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => Some(Encoding::parse(e).map_err(|m| ApiError::field("encoding", m))?),
        None => match charset {
            Some(c) => Some(Encoding::parse(&c).map_err(|m| ApiError::field("charset", m))?),
            None => None,
        },
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("body_unreadable", format!("the file broke off: {e}"))
        })?;
        if bytes.len() + chunk.len() > MAX_IMPORT_BYTES {
            return Err(ApiError::too_large(
                Rule::ImportTooLarge.with("max", MAX_IMPORT_BYTES),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    let dry_run = query.dry_run.unwrap_or(false);
    let report = state
        .db
        .write(move |conn| {
            super::import::run(
                conn,
                &bytes,
                encoding,
                &user.actor(),
                Some(&user.scope),
                dry_run,
            )
            .map_err(|e| import_problem(e, lang))
        })
        .await?;
    Ok(HttpResponse::Ok().json(report.in_lang(lang)))
}

/// An import that cannot be read (422 naming the file and line) or has refused lines (422
/// naming each line).
fn import_problem(e: ImportError, lang: Lang) -> ApiError {
    match e {
        ImportError::Read(m) => {
            let mut e = ApiError::unprocessable("import_unreadable", m.clone());
            e.errors = vec![FieldError::new("file", m)];
            e
        }
        // A star-history import (the command line) is not an org import; kept for completeness.
        ImportError::Rows(rows) => ApiError::unprocessable(
            "import_refused",
            Rule::ImportRefused.with("count", rows.len()),
        ),
        ImportError::Refused(report) => {
            let mut e = ApiError::unprocessable(
                "import_refused",
                Rule::ImportRefused.with("count", report.refused),
            );
            e.errors = report
                .lines
                .iter()
                .filter(|l| l.result == super::import::LineResult::Refused)
                .map(|l| l.field_error(lang))
                .collect();
            e
        }
        ImportError::Database(m) => {
            tracing::error!(error = %m, "an org import failed");
            ApiError::internal()
        }
    }
}
