//! The shell every report handler shares: who may read, which quarter and org unit, and the
//! answer as JSON, streamed CSV or XLSX.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{csv_stream, lang_of, xlsx, Column, CsvPage, Format, ReportQuery};
use crate::auth::{AuthUser, Role};
use crate::error::ApiResult;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::state::AppState;

pub async fn unit_of(
    state: &AppState,
    user: &AuthUser,
    org_unit: Option<&str>,
) -> ApiResult<OrgUnit> {
    let (user, wanted) = (
        user.clone(),
        org_unit.filter(|u| !u.is_empty()).map(str::to_string),
    );
    state
        .db
        .read(move |conn| {
            let id = wanted.unwrap_or_else(|| user.scope.unit_id.clone());
            OrgUnit::find_scoped(conn, &user.scope, &id)
        })
        .await
}

/// What a report handler tells the shell: who may read it, its name (in file names and the
/// XLSX sheet) and its CSV/XLSX columns.
pub struct Report {
    pub name: &'static str,
    pub readers: &'static [Role],
    pub columns: &'static [Column],
}

/// The one shape of every report handler: check the role, parse the query, resolve the
/// org unit, then answer the JSON report, or stream its rows as CSV or XLSX.
pub async fn answer<R, J, C>(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: ReportQuery,
    report: Report,
    json: J,
    csv_page: C,
) -> ApiResult<HttpResponse>
where
    R: serde::Serialize + Send + 'static,
    J: FnOnce(&mut crate::db::DbConn, &OrgUnit, Quarter, chrono_tz::Tz) -> ApiResult<R>
        + Send
        + 'static,
    C: Fn(
            &mut crate::db::DbConn,
            &OrgUnit,
            Quarter,
            chrono_tz::Tz,
            Option<String>,
        ) -> ApiResult<CsvPage>
        + Send
        + Sync
        + Clone
        + 'static,
{
    user.require(report.readers)?;
    let Report { name, columns, .. } = report;
    let tz = state.config.timezone;
    let quarter = query.quarter(tz)?;
    let format = query.format()?;
    let lang = lang_of(&req, query.lang.as_deref())?;
    let unit = unit_of(&state, &user, query.org_unit.as_deref()).await?;
    match format {
        Format::Json => {
            let report = state
                .db
                .read(move |conn| json(conn, &unit, quarter, tz))
                .await?;
            Ok(HttpResponse::Ok().json(report))
        }
        Format::Csv => Ok(csv_stream(
            state.db.clone(),
            format!("{name}-{}-{quarter}.csv", unit.code),
            columns,
            lang,
            move |conn, after| csv_page(conn, &unit, quarter, tz, after),
        )),
        Format::Xlsx => {
            xlsx::response(
                &state.db,
                format!("{name}-{}-{quarter}.xlsx", unit.code),
                name,
                columns,
                lang,
                move |conn, after| csv_page(conn, &unit, quarter, tz, after),
            )
            .await
        }
    }
}
