//! `/api/v1/reports/stars` and `/api/v1/reports/reviews` (mentoring's is with mentoring).

use actix_web::{get, web, HttpRequest, HttpResponse};

use super::benefits::{self, BenefitsQuery, Mode};
use super::shell::{answer, unit_of, Report};
use super::{
    csv_stream, lang_of, parse_format, reviews, stars, unverified, xlsx, CsvPage, Format, Lang,
    ReportQuery,
};
use crate::auth::{AuthUser, Role};
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// Who reads reports: the county's staff, and township staff for their township.
const COUNTY_ROLES: [Role; 4] = [Role::Admin, Role::Reviewer, Role::Inspector, Role::Township];

/// Star levels per township at the end of the quarter, with changes since the one before.
/// `?format=csv` streams one row per village.
#[utoipa::path(
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The report: JSON, CSV with `?format=csv`, XLSX with `?format=xlsx`",
            content((stars::StarsReport = "application/json"), (String = "text/csv"),
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/reports/stars")]
pub async fn stars_report(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    answer(
        state,
        user,
        req,
        query.into_inner(),
        Report {
            name: "stars",
            readers: &COUNTY_ROLES,
            columns: stars::CSV_COLUMNS,
        },
        |conn, unit, quarter, tz| stars::report(conn, unit, quarter, crate::clock::today(tz)),
        |conn, unit, quarter, tz, after| {
            stars::csv_page(conn, unit, quarter, crate::clock::today(tz), after)
        },
    )
    .await
}

/// Review turnaround (median, 90th percentile), approval rate and flag counts for a quarter.
/// `?format=csv` streams one row per decision.
#[utoipa::path(
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The report: JSON, CSV with `?format=csv`, XLSX with `?format=xlsx`",
            content((reviews::ReviewsReport = "application/json"), (String = "text/csv"),
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/reports/reviews")]
pub async fn reviews_report(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    answer(
        state,
        user,
        req,
        query.into_inner(),
        Report {
            name: "reviews",
            readers: &COUNTY_ROLES,
            columns: reviews::CSV_COLUMNS,
        },
        reviews::report,
        reviews::csv_page,
    )
    .await
}

/// The villages whose renewal for the quarter the county did not verify: `unverified` once the
/// quarter's window closed (they keep their level), `pending`/`inspecting` while it runs.
/// `?format=csv` streams one row per village.
#[utoipa::path(
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The report: JSON, CSV with `?format=csv`, XLSX with `?format=xlsx`",
            content((unverified::UnverifiedReport = "application/json"), (String = "text/csv"),
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/reports/unverified")]
pub async fn unverified_report(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    answer(
        state,
        user,
        req,
        query.into_inner(),
        Report {
            name: "unverified",
            readers: &COUNTY_ROLES,
            columns: unverified::CSV_COLUMNS,
        },
        |conn, unit, quarter, _tz| unverified::report(conn, unit, quarter),
        |conn, unit, quarter, _tz, after| unverified::csv_page(conn, unit, quarter, after),
    )
    .await
}

/// Benefit eligibility: every village of the scope with its star level on `as_of` (default
/// today), since when, any ban or rectification window, and the benefits that apply under the
/// catalogue in force that day. With `from` and `to` instead: the villages whose benefits
/// started or stopped between the end of `from` and the end of `to`, with the codes gained and
/// lost. `?format=csv` streams one row per village (or change); `?format=xlsx` is one sheet.
#[utoipa::path(
    tag = "reports",
    params(BenefitsQuery),
    responses(
        (status = 200, description = "The report: JSON (as of a day, or the change list with from/to), CSV with `?format=csv`, XLSX with `?format=xlsx`",
            content((benefits::BenefitsAnswer = "application/json"), (String = "text/csv"),
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/reports/benefits")]
pub async fn benefits_report(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: web::Query<BenefitsQuery>,
) -> ApiResult<HttpResponse> {
    user.require(&COUNTY_ROLES)?;
    let mode = query.mode(crate::clock::today(state.config.timezone))?;
    let format = parse_format(query.format.as_deref(), true)?;
    let lang = lang_of(&req, query.lang.as_deref())?;
    let unit = unit_of(&state, &user, query.org_unit.as_deref()).await?;
    match mode {
        Mode::AsOf(day) => {
            if let Format::Json = format {
                let report = state
                    .db
                    .read(move |conn| benefits::report(conn, &unit, day))
                    .await?;
                return Ok(HttpResponse::Ok().json(report));
            }
            let county = unit.county_id.clone();
            let catalogue = std::sync::Arc::new(
                state
                    .db
                    .read(move |conn| benefits::catalogue_on(conn, &county, day))
                    .await?
                    .benefits,
            );
            let name = format!("benefits-{}-{day}", unit.code);
            let fetch = move |conn: &mut crate::db::DbConn, after| {
                benefits::csv_page(conn, &unit, day, &catalogue, after)
            };
            tabular(&state, format, lang, name, benefits::CSV_COLUMNS, fetch).await
        }
        Mode::Changes { from, to } => {
            if let Format::Json = format {
                let report = state
                    .db
                    .read(move |conn| benefits::changes_report(conn, &unit, from, to))
                    .await?;
                return Ok(HttpResponse::Ok().json(report));
            }
            let county = unit.county_id.clone();
            let (before, after) = state
                .db
                .read(move |conn| {
                    Ok((
                        benefits::catalogue_on(conn, &county, from)?.benefits,
                        benefits::catalogue_on(conn, &county, to)?.benefits,
                    ))
                })
                .await?;
            let catalogues = std::sync::Arc::new((before, after));
            let name = format!("benefit-changes-{}-{from}-{to}", unit.code);
            let fetch = move |conn: &mut crate::db::DbConn, after| {
                benefits::changes_csv_page(
                    conn,
                    &unit,
                    (from, to),
                    (&catalogues.0, &catalogues.1),
                    after,
                )
            };
            tabular(&state, format, lang, name, benefits::CHANGE_COLUMNS, fetch).await
        }
    }
}

/// A report's rows as streamed CSV or as an XLSX file (`name` without its extension).
async fn tabular<F>(
    state: &AppState,
    format: Format,
    lang: Lang,
    name: String,
    columns: &'static [super::Column],
    fetch: F,
) -> ApiResult<HttpResponse>
where
    F: Fn(&mut crate::db::DbConn, Option<String>) -> ApiResult<CsvPage>
        + Send
        + Sync
        + Clone
        + 'static,
{
    match format {
        Format::Xlsx => {
            xlsx::response(
                &state.db,
                format!("{name}.xlsx"),
                "benefits",
                columns,
                lang,
                fetch,
            )
            .await
        }
        _ => Ok(csv_stream(
            state.db.clone(),
            format!("{name}.csv"),
            columns,
            lang,
            fetch,
        )),
    }
}

/// A quarter's inspections for the archive: JSON, CSV or XLSX (one row per inspection, no
/// photos), or `?format=zip` — a streamed ZIP holding the CSV, the XLSX and every current photo
/// at display size, named `photos/{village_code}/{item}-{n}.jpg`. County admins and reviewers;
/// an inspector exports her own inspections; township staff, secretaries and members get 403.
#[utoipa::path(
    tag = "reports",
    params(super::inspections::InspectionsQuery),
    responses(
        (status = 200, description = "The inspections: JSON, CSV, XLSX or ZIP",
            content((Object = "application/json"), (String = "text/csv"),
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "application/zip"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/reports/inspections")]
pub async fn inspections_report(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<super::inspections::InspectionsQuery>,
) -> ApiResult<HttpResponse> {
    let lang = lang_of(&req, query.lang.as_deref())?;
    super::inspections::answer(state, user, query.into_inner(), lang).await
}
