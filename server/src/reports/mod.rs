//! Reports for county leaders: star levels, review turnaround, mentoring coverage. JSON, or
//! CSV (`?format=csv`) streamed page by page so that a large export runs in constant memory.

pub mod reviews;
pub mod routes;
pub mod stars;
pub mod unverified;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::db::{Db, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::quarter::Quarter;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `YYYY-Qn`; the current quarter in the county's time zone when absent.
    pub quarter: Option<String>,
    /// A county, township or village in the caller's scope; the caller's own scope when absent.
    pub org_unit: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

pub enum Format {
    Json,
    Csv,
}

impl ReportQuery {
    pub fn quarter(&self, tz: chrono_tz::Tz) -> ApiResult<Quarter> {
        match self.quarter.as_deref().filter(|q| !q.is_empty()) {
            Some(q) => Quarter::parse(q).map_err(|m| ApiError::field("quarter", m)),
            None => Ok(Quarter::of_instant(chrono::Utc::now(), tz)),
        }
    }

    pub fn format(&self) -> ApiResult<Format> {
        match self.format.as_deref() {
            None | Some("") | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(_) => Err(ApiError::field("format", "must be json or csv")),
        }
    }
}

/// One page of CSV rows and the key to continue after them (`None`: the last page).
pub type CsvPage = (Vec<Vec<String>>, Option<String>);

/// A CSV response whose rows are fetched `PAGE` at a time as the client reads: memory stays
/// constant whatever the number of rows. `fetch(conn, after)` returns a page and its next key.
pub fn csv_stream<F>(
    db: Db,
    filename: String,
    header_row: &'static [&'static str],
    fetch: F,
) -> HttpResponse
where
    F: Fn(&mut DbConn, Option<String>) -> ApiResult<CsvPage> + Send + Sync + Clone + 'static,
{
    enum State {
        Header,
        After(Option<String>),
        Done,
    }
    let stream = futures_util::stream::unfold(State::Header, move |state| {
        let (db, fetch) = (db.clone(), fetch.clone());
        async move {
            let after = match state {
                State::Done => return None,
                State::Header => {
                    return Some((
                        Ok(encode(&[header_row
                            .iter()
                            .map(|s| s.to_string())
                            .collect()])),
                        State::After(None),
                    ))
                }
                State::After(after) => after,
            };
            match db.read(move |conn| fetch(conn, after)).await {
                Ok((rows, next)) => {
                    let state = match next {
                        Some(key) if !rows.is_empty() => State::After(Some(key)),
                        _ => State::Done,
                    };
                    Some((Ok(encode(&rows)), state))
                }
                Err(e) => {
                    tracing::error!(error = %e, "a CSV export failed part way");
                    Some((
                        Err(actix_web::error::ErrorInternalServerError("export failed")),
                        State::Done,
                    ))
                }
            }
        }
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(stream)
}

fn encode(rows: &[Vec<String>]) -> Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        let _ = w.write_record(r);
    }
    Bytes::from(w.into_inner().unwrap_or_default())
}

/// Rows per page of a streamed export.
pub const PAGE: i64 = 1000;
