//! `GET /api/v1/reports/inspections`: a quarter's inspections for the county archive — JSON,
//! CSV or XLSX (one row per inspection), or a ZIP holding the CSV, the XLSX and every current
//! photo at display size (`photos/{village_code}/{item}-{n}.jpg`).
//!
//! The ZIP is streamed: entries are written one after the other into a small buffer that is
//! handed to the client as it fills (the archive uses data descriptors, so nothing is ever
//! rewritten); memory holds one page of rows, the XLSX (built in constant-memory mode, a few
//! MiB at most) and one photo at a time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{text, value, Column, CsvPage, PAGE};
use crate::auth::{AuthUser, Role};
use crate::db::schema::{decisions, declarations, inspections, org_units, photos, users};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::i18n::Rule;
use crate::inspection::model::{InspectionHead, PhotoRow};
use crate::inspection::routes::flags_for_page;
use crate::org::OrgUnit;
use crate::photo::store::{self, Size};
use crate::quarter::Quarter;
use crate::scoped;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InspectionsQuery {
    /// `YYYY-Qn` (the declarations' quarter); the current quarter when absent.
    pub quarter: Option<String>,
    /// A county, township or village in the caller's scope; the caller's own scope when absent.
    pub org_unit: Option<String>,
    /// `json` (default), `csv`, `xlsx`, or `zip` (the CSV, the XLSX and the photos).
    pub format: Option<String>,
    /// `zh` or `en`: the language of the CSV and XLSX headers (default from `Accept-Language`).
    pub lang: Option<String>,
}

pub enum ExportFormat {
    Json,
    Csv,
    Xlsx,
    Zip,
}

impl InspectionsQuery {
    pub fn format(&self) -> ApiResult<ExportFormat> {
        match self.format.as_deref() {
            None | Some("") | Some("json") => Ok(ExportFormat::Json),
            Some("csv") => Ok(ExportFormat::Csv),
            Some("xlsx") => Ok(ExportFormat::Xlsx),
            Some("zip") => Ok(ExportFormat::Zip),
            Some(_) => Err(ApiError::field(
                "format",
                Rule::OneOf.with("allowed", "json, csv, xlsx, zip"),
            )),
        }
    }
}

pub const CSV_COLUMNS: &[Column] = &[
    value("inspection_id"),
    text("village_code"),
    text("village_name"),
    text("township_name"),
    value("quarter"),
    value("star_level"),
    value("kind"),
    value("status"),
    value("revision"),
    text("inspector"),
    value("score"),
    value("passed"),
    value("flags"),
    value("photos"),
    value("submitted_at"),
    value("decision"),
    value("decided_at"),
    text("decided_by"),
    value("body_sha256"),
];

/// Who exports: county admins and reviewers (everything in scope), inspectors (their own).
pub const ROLES: [Role; 3] = [Role::Admin, Role::Reviewer, Role::Inspector];

/// One page of the quarter's inspections under `unit`, by id, after `after`: the heads and
/// the key to continue.
fn heads(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    inspector: Option<&str>,
    after: Option<&str>,
) -> QueryResult<Vec<InspectionHead>> {
    let q = inspections::table
        .filter(
            inspections::declaration_id.eq_any(
                declarations::table
                    .filter(declarations::quarter.eq(quarter.to_string()))
                    .filter(declarations::county_id.eq(unit.county_id.clone()))
                    .select(declarations::id),
            ),
        )
        .into_boxed();
    let mut q = scoped!(q, inspections, &unit.subtree());
    if let Some(i) = inspector {
        q = q.filter(inspections::inspector_id.eq(i.to_string()));
    }
    if let Some(a) = after {
        q = q.filter(inspections::id.gt(a.to_string()));
    }
    q.select(InspectionHead::as_select())
        .order(inspections::id.asc())
        .limit(PAGE)
        .load(conn)
}

/// One page of CSV rows (the report's rows for CSV, XLSX, JSON and the ZIP).
pub fn csv_page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    inspector: Option<&str>,
    after: Option<String>,
) -> ApiResult<CsvPage> {
    let rows = heads(conn, unit, quarter, inspector, after.as_deref())?;
    let next = if rows.len() as i64 == PAGE {
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    let unit_ids: Vec<String> = rows
        .iter()
        .flat_map(|r| [Some(r.village_id.clone()), r.township_id.clone()])
        .flatten()
        .collect();
    let units: HashMap<String, (String, String)> = org_units::table
        .filter(org_units::id.eq_any(&unit_ids))
        .select((org_units::id, org_units::code, org_units::name))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, code, name)| (id, (code, name)))
        .collect();
    let decl_ids: Vec<String> = rows.iter().map(|r| r.declaration_id.clone()).collect();
    let decls: HashMap<String, (i32, String)> = declarations::table
        .filter(declarations::id.eq_any(&decl_ids))
        .select((
            declarations::id,
            declarations::star_level,
            declarations::kind,
        ))
        .load::<(String, i32, String)>(conn)?
        .into_iter()
        .map(|(id, l, k)| (id, (l, k)))
        .collect();
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let decided: Vec<(String, i32, String, chrono::NaiveDateTime, String)> = decisions::table
        .filter(decisions::inspection_id.eq_any(&ids))
        .filter(decisions::reopened_at.is_null())
        .order(decisions::decided_at.asc())
        .select((
            decisions::inspection_id,
            decisions::revision,
            decisions::decision,
            decisions::decided_at,
            decisions::actor_id,
        ))
        .load(conn)?;
    let hashes: HashMap<String, String> = inspections::table
        .filter(inspections::id.eq_any(&ids))
        .select((inspections::id, inspections::body_hash))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let photo_counts: Vec<(String, i32)> = photos::table
        .filter(photos::inspection_id.eq_any(&ids))
        .filter(photos::received.eq(true))
        .select((photos::inspection_id, photos::revision))
        .load(conn)?;
    let mut user_ids: Vec<String> = rows.iter().map(|r| r.inspector_id.clone()).collect();
    user_ids.extend(decided.iter().map(|d| d.4.clone()));
    let names: HashMap<String, String> = users::table
        .filter(users::id.eq_any(&user_ids))
        .select((users::id, users::username))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let flags = flags_for_page(conn, &rows)?;
    let out = rows
        .iter()
        .zip(flags)
        .map(|(r, flags)| {
            let (vcode, vname) = units.get(&r.village_id).cloned().unwrap_or_default();
            let township = r
                .township_id
                .as_ref()
                .and_then(|t| units.get(t))
                .map(|u| u.1.clone())
                .unwrap_or_default();
            let (level, kind) = decls.get(&r.declaration_id).cloned().unwrap_or_default();
            let d = decided
                .iter()
                .rev()
                .find(|d| d.0 == r.id && d.1 == r.revision);
            let mut codes: Vec<(String, usize)> = Vec::new();
            for f in flags {
                match codes.iter_mut().find(|c| c.0 == f.code) {
                    Some(c) => c.1 += 1,
                    None => codes.push((f.code, 1)),
                }
            }
            let photos = photo_counts
                .iter()
                .filter(|p| p.0 == r.id && p.1 == r.revision)
                .count();
            vec![
                r.id.clone(),
                vcode,
                vname,
                township,
                quarter.to_string(),
                level.to_string(),
                kind,
                r.status.clone(),
                r.revision.to_string(),
                names.get(&r.inspector_id).cloned().unwrap_or_default(),
                format!("{:.1}", r.score),
                r.passed.to_string(),
                codes
                    .iter()
                    .map(|(c, n)| format!("{c}×{n}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                photos.to_string(),
                r.submitted_at
                    .map(|t| t.and_utc().to_rfc3339())
                    .unwrap_or_default(),
                d.map(|d| d.2.clone()).unwrap_or_default(),
                d.map(|d| d.3.and_utc().to_rfc3339()).unwrap_or_default(),
                d.and_then(|d| names.get(&d.4).cloned()).unwrap_or_default(),
                hashes.get(&r.id).cloned().unwrap_or_default(),
            ]
        })
        .collect();
    Ok((out, next))
}

/// The JSON answer: one object per inspection, keyed by the CSV's column names (at most
/// `xlsx::MAX_ROWS`).
pub fn json(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    inspector: Option<&str>,
) -> ApiResult<serde_json::Value> {
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let (rows, next) = csv_page(conn, unit, quarter, inspector, after)?;
        for r in &rows {
            if items.len() >= super::xlsx::MAX_ROWS as usize {
                return Err(ApiError::unprocessable(
                    "report_too_large",
                    "too many inspections for JSON; ask for CSV",
                ));
            }
            let obj: serde_json::Map<String, serde_json::Value> = CSV_COLUMNS
                .iter()
                .zip(r)
                .map(|(c, v)| (c.name.to_string(), serde_json::Value::String(v.clone())))
                .collect();
            items.push(serde_json::Value::Object(obj));
        }
        match next {
            Some(k) if !rows.is_empty() => after = Some(k),
            _ => break,
        }
    }
    Ok(serde_json::json!({
        "quarter": quarter.to_string(),
        "org_unit": unit.clone().view(),
        "inspections": items,
    }))
}

/// A path segment for a ZIP entry: letters, digits, `-` and `_` kept, anything else `_`.
pub fn segment(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// The ZIP's writer: what the archive writes lands here and is handed on in chunks.
#[derive(Clone, Default)]
struct Sink(Rc<RefCell<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type Tx = tokio::sync::mpsc::Sender<Result<Bytes, actix_web::Error>>;

/// Bytes buffered before they are handed to the client.
const CHUNK: usize = 64 * 1024;

/// Hands what the sink holds to the client (all of it with `all`, else once it is a chunk);
/// `Err` when the client went away.
async fn drain(sink: &Sink, tx: &Tx, all: bool) -> Result<(), ()> {
    let ready = sink.0.borrow().len() >= CHUNK || (all && !sink.0.borrow().is_empty());
    if !ready {
        return Ok(());
    }
    let bytes = Bytes::from(std::mem::take(&mut *sink.0.borrow_mut()));
    tx.send(Ok(bytes)).await.map_err(|_| ())
}

fn zip_failed(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "a ZIP export failed");
    ApiError::internal()
}

/// Writes the whole archive, handing it on as it goes.
async fn write_zip(
    state: actix_web::web::Data<AppState>,
    unit: OrgUnit,
    quarter: Quarter,
    inspector: Option<String>,
    lang: super::Lang,
    base: String,
    tx: Tx,
) -> ApiResult<()> {
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;
    let sink = Sink::default();
    let mut zip = zip::ZipWriter::new_stream(sink.clone());
    let deflated = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    // JPEGs do not compress: stored as they are.
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true);
    let gone = |_| ApiError::internal();

    // The CSV, page by page.
    zip.start_file(format!("{base}.csv"), deflated)
        .map_err(zip_failed)?;
    zip.write_all(&super::encode_header(CSV_COLUMNS, lang))
        .map_err(zip_failed)?;
    let mut after: Option<String> = None;
    loop {
        let (u, i, a) = (unit.clone(), inspector.clone(), after.clone());
        let (rows, next) = state
            .db
            .read(move |conn| csv_page(conn, &u, quarter, i.as_deref(), a))
            .await?;
        zip.write_all(&super::encode(CSV_COLUMNS, &rows))
            .map_err(zip_failed)?;
        drain(&sink, &tx, false).await.map_err(gone)?;
        match next {
            Some(k) if !rows.is_empty() => after = Some(k),
            _ => break,
        }
    }

    // The XLSX, built in constant-memory mode.
    let (u, i) = (unit.clone(), inspector.clone());
    let book = state
        .db
        .read(move |conn| {
            super::xlsx::workbook(conn, "inspections", CSV_COLUMNS, lang, |conn, after| {
                csv_page(conn, &u, quarter, i.as_deref(), after)
            })
        })
        .await?;
    zip.start_file(format!("{base}.xlsx"), stored)
        .map_err(zip_failed)?;
    for part in book.chunks(CHUNK) {
        zip.write_all(part).map_err(zip_failed)?;
        drain(&sink, &tx, false).await.map_err(gone)?;
    }
    drop(book);

    // The photos, one at a time.
    let mut numbers: HashMap<(String, String), usize> = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let (u, i, a) = (unit.clone(), inspector.clone(), after.clone());
        let (page, next) = state
            .db
            .read(move |conn| {
                let rows = heads(conn, &u, quarter, i.as_deref(), a.as_deref())?;
                let next = if rows.len() as i64 == PAGE {
                    rows.last().map(|r| r.id.clone())
                } else {
                    None
                };
                let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                let village_ids: Vec<String> = rows.iter().map(|r| r.village_id.clone()).collect();
                let codes: HashMap<String, String> = org_units::table
                    .filter(org_units::id.eq_any(&village_ids))
                    .select((org_units::id, org_units::code))
                    .load::<(String, String)>(conn)?
                    .into_iter()
                    .collect();
                let all: Vec<PhotoRow> = photos::table
                    .filter(photos::inspection_id.eq_any(&ids))
                    .filter(photos::received.eq(true))
                    .select(PhotoRow::as_select())
                    .order((
                        photos::inspection_id.asc(),
                        photos::item.asc(),
                        photos::id.asc(),
                    ))
                    .load(conn)?;
                let mut out = Vec::new();
                for r in &rows {
                    let code = codes.get(&r.village_id).cloned().unwrap_or_default();
                    for p in all
                        .iter()
                        .filter(|p| p.inspection_id == r.id && p.revision == r.revision)
                    {
                        out.push((code.clone(), p.item.clone(), p.expected_sha256.clone()));
                    }
                }
                Ok((out, next))
            })
            .await?;
        for (code, item, sha) in page {
            let bytes = match state.storage.get(&store::key(Size::Display, &sha)).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, sha, "a photo is missing from the export");
                    continue;
                }
            };
            let (code, item) = (segment(&code), segment(&item));
            let n = numbers.entry((code.clone(), item.clone())).or_default();
            *n += 1;
            zip.start_file(format!("photos/{code}/{item}-{n}.jpg"), stored)
                .map_err(zip_failed)?;
            zip.write_all(&bytes).map_err(zip_failed)?;
            drop(bytes);
            drain(&sink, &tx, false).await.map_err(gone)?;
        }
        match next {
            Some(k) => after = Some(k),
            None => break,
        }
    }
    zip.finish().map_err(zip_failed)?;
    drain(&sink, &tx, true).await.map_err(gone)?;
    Ok(())
}

/// The ZIP answer: headers now, the archive as it is written.
pub fn zip_response(
    state: actix_web::web::Data<AppState>,
    unit: OrgUnit,
    quarter: Quarter,
    inspector: Option<String>,
    lang: super::Lang,
) -> HttpResponse {
    let base = format!("inspections-{}-{quarter}", segment(&unit.code));
    let filename = format!("{base}.zip");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, actix_web::Error>>(2);
    actix_web::rt::spawn(async move {
        let err_tx = tx.clone();
        if let Err(e) = write_zip(state, unit, quarter, inspector, lang, base, tx).await {
            tracing::error!(error = %e, "a ZIP export stopped part way");
            let _ = err_tx
                .send(Err(actix_web::error::ErrorInternalServerError(
                    "export failed",
                )))
                .await;
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/zip"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(stream)
}

/// Resolves the caller and the query, then answers in the format asked.
pub async fn answer(
    state: actix_web::web::Data<AppState>,
    user: AuthUser,
    query: InspectionsQuery,
    lang: super::Lang,
) -> ApiResult<HttpResponse> {
    user.require(&ROLES)?;
    let tz = state.config.timezone;
    let quarter = match query.quarter.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => Quarter::param("quarter", q)?,
        None => Quarter::of_instant(chrono::Utc::now(), tz),
    };
    let format = query.format()?;
    let inspector = (user.role == Role::Inspector).then(|| user.id.clone());
    let (u, wanted) = (user.clone(), query.org_unit.filter(|u| !u.is_empty()));
    let unit = state
        .db
        .read(move |conn| {
            let id = wanted.unwrap_or_else(|| u.scope.unit_id.clone());
            OrgUnit::find_scoped(conn, &u.scope, &id)
        })
        .await?;
    let base = format!("inspections-{}-{quarter}", segment(&unit.code));
    match format {
        ExportFormat::Json => {
            let report = state
                .db
                .read(move |conn| json(conn, &unit, quarter, inspector.as_deref()))
                .await?;
            Ok(HttpResponse::Ok().json(report))
        }
        ExportFormat::Csv => Ok(super::csv_stream(
            state.db.clone(),
            format!("{base}.csv"),
            CSV_COLUMNS,
            lang,
            move |conn, after| csv_page(conn, &unit, quarter, inspector.as_deref(), after),
        )),
        ExportFormat::Xlsx => {
            super::xlsx::response(
                &state.db,
                format!("{base}.xlsx"),
                "inspections",
                CSV_COLUMNS,
                lang,
                move |conn, after| csv_page(conn, &unit, quarter, inspector.as_deref(), after),
            )
            .await
        }
        ExportFormat::Zip => Ok(zip_response(state, unit, quarter, inspector, lang)),
    }
}
