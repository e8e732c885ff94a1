//! `/api/v1/reports/stars` and `/api/v1/reports/reviews` (mentoring's is with mentoring).

use actix_web::{get, web, HttpResponse};

use super::{csv_stream, reviews, stars, Format, ReportQuery};
use crate::app::AppState;
use crate::auth::{AuthUser, Role};
use crate::error::{ApiResult, Problem};
use crate::org::OrgUnit;

const COUNTY_ROLES: [Role; 3] = [Role::Admin, Role::Reviewer, Role::Inspector];

async fn unit_of(state: &AppState, user: &AuthUser, query: &ReportQuery) -> ApiResult<OrgUnit> {
    let (user, wanted) = (
        user.clone(),
        query.org_unit.clone().filter(|u| !u.is_empty()),
    );
    state
        .db
        .read(move |conn| {
            let id = wanted.unwrap_or_else(|| user.scope.unit_id.clone());
            OrgUnit::find_scoped(conn, &user.scope, &id)
        })
        .await
}

/// Star levels per township at the end of the quarter, with changes since the one before.
/// `?format=csv` streams one row per village.
#[utoipa::path(
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, body = stars::StarsReport, content_type = "application/json"),
        (status = 200, body = String, content_type = "text/csv"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/reports/stars")]
pub async fn stars_report(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    user.require(&COUNTY_ROLES)?;
    let tz = state.config.timezone;
    let quarter = query.quarter(tz)?;
    let format = query.format()?;
    let unit = unit_of(&state, &user, &query).await?;
    let today = crate::stars::today(tz);
    match format {
        Format::Json => {
            let report = state
                .db
                .read(move |conn| stars::report(conn, &unit, quarter, today))
                .await?;
            Ok(HttpResponse::Ok().json(report))
        }
        Format::Csv => Ok(csv_stream(
            state.db.clone(),
            format!("stars-{}-{quarter}.csv", unit.code),
            stars::CSV_HEADER,
            move |conn, after| stars::csv_page(conn, &unit, quarter, today, after),
        )),
    }
}

/// Review turnaround (median, 90th percentile), approval rate and flag counts for a quarter.
/// `?format=csv` streams one row per decision.
#[utoipa::path(
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, body = reviews::ReviewsReport, content_type = "application/json"),
        (status = 200, body = String, content_type = "text/csv"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/reports/reviews")]
pub async fn reviews_report(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    user.require(&COUNTY_ROLES)?;
    let tz = state.config.timezone;
    let quarter = query.quarter(tz)?;
    let format = query.format()?;
    let unit = unit_of(&state, &user, &query).await?;
    match format {
        Format::Json => {
            let report = state
                .db
                .read(move |conn| reviews::report(conn, &unit, quarter, tz))
                .await?;
            Ok(HttpResponse::Ok().json(report))
        }
        Format::Csv => Ok(csv_stream(
            state.db.clone(),
            format!("reviews-{}-{quarter}.csv", unit.code),
            reviews::CSV_HEADER,
            move |conn, after| reviews::csv_page(conn, &unit, quarter, tz, after),
        )),
    }
}
