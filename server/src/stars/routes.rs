//! `/api/v1/villages/{id}/star-status` for anyone whose scope holds the village, and
//! `/api/v1/policy` (read by the county, changed by its admin).

use actix_web::{get, patch, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use super::policy::{self, PolicyChange, PolicyView};
use super::status::{status_of, StarStatusView};
use crate::auth::{AuthUser, Role};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::Json;
use crate::i18n::Rule;
use crate::org::OrgUnit;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StarStatusQuery {
    /// The date (`YYYY-MM-DD`, county time) to answer for; default today. The answer is the
    /// status on that date if nothing else is decided before it.
    pub as_of: Option<String>,
}

pub fn parse_date(field: &str, text: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| text.len() == 10 && (2000..=2200).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| ApiError::field(field, Rule::DateFormat.with("text", format!("{text:?}"))))
}

/// A village's star level, rectification window, ban and history on a date.
#[utoipa::path(
    tag = "stars",
    params(("id" = String, Path, description = "Village id"), StarStatusQuery),
    responses(
        (status = 200, body = StarStatusView),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/villages/{id}/star-status")]
pub async fn get_star_status(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    query: web::Query<StarStatusQuery>,
) -> ApiResult<HttpResponse> {
    let as_of = match query.as_of.as_deref() {
        Some(text) => parse_date("as_of", text)?,
        None => crate::clock::today(state.config.timezone),
    };
    let id = id.into_inner();
    let view = state
        .db
        .read(move |conn| {
            let village = OrgUnit::find_village(conn, &user.scope, &id)?;
            let status = status_of(conn, &village, as_of)?;
            Ok(StarStatusView::new(&village.id, status))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The star policy of the caller's county (the phone app reads `phone_photo_max_px` here, and
/// revalidates its copy with If-None-Match).
#[utoipa::path(
    tag = "stars",
    responses(
        (status = 200, body = PolicyView),
        (status = 304, description = "Not modified: the copy named by If-None-Match is current"),
        (status = 401, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/policy")]
pub async fn get_policy(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let county = user.scope.county_id.clone();
    let view = state
        .db
        .read(move |conn| Ok(policy::view(conn, &county)?))
        .await?;
    crate::http::etag::json(&req, HttpResponse::Ok(), &view)
}

/// Changes the county's star policy and procedure (admins); values left out stay as they are.
/// Star rules apply from today on, never to what was decided before. Turning
/// `township_precheck` off forwards every declaration awaiting its township to the county;
/// turning `joint_approval` off leaves inspections already approved by one body waiting for
/// the other's approval, which then decides.
#[utoipa::path(
    tag = "stars",
    request_body = PolicyChange,
    responses(
        (status = 200, body = PolicyView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/policy")]
pub async fn update_policy(
    state: web::Data<AppState>,
    user: AuthUser,
    Json(change): Json<PolicyChange>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let county = user.scope.county_id.clone();
    let today = crate::clock::today(state.config.timezone);
    let view = state
        .db
        .write(move |conn| policy::update(conn, &county, &change, &user.actor(), today))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
