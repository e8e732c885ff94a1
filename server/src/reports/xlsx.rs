//! Reports as XLSX (`?format=xlsx`): the same columns and pages as a report's CSV, written to
//! one worksheet in rust_xlsxwriter's constant-memory mode (each row goes to a temp file as it
//! is written), so memory holds one page of rows and, at the end, the compressed file.
//!
//! A text cell is written as a string cell, which a spreadsheet shows and never runs as a
//! formula, so it needs no neutralising; a value cell that reads as a number becomes a number.

use actix_web::http::header;
use actix_web::HttpResponse;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::{header_of, Column, CsvPage, Kind, Lang};
use crate::db::{Db, DbConn};
use crate::error::{ApiError, ApiResult};

/// Rows one XLSX report may hold: far above a county's villages (hundreds to a few thousand),
/// far below the format's 1,048,576. The file in memory stays under a few MiB.
pub const MAX_ROWS: u32 = 100_000;

pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn failed(e: XlsxError) -> ApiError {
    tracing::error!(error = %e, "an XLSX export failed");
    ApiError::internal()
}

/// The workbook of `columns` and every page `fetch(conn, after)` returns (as for
/// [`super::csv_stream`]), on a sheet named `sheet`.
pub fn workbook<F>(
    conn: &mut DbConn,
    sheet: &str,
    columns: &[Column],
    lang: Lang,
    fetch: F,
) -> ApiResult<Vec<u8>>
where
    F: Fn(&mut DbConn, Option<String>) -> ApiResult<CsvPage>,
{
    let mut book = Workbook::new();
    let ws = book.add_worksheet_with_constant_memory();
    ws.set_name(sheet).map_err(failed)?;
    let bold = Format::new().set_bold();
    for (c, col) in columns.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, header_of(col.name, lang), &bold)
            .map_err(failed)?;
    }
    let mut row: u32 = 1;
    let mut after = None;
    loop {
        let (rows, next) = fetch(conn, after)?;
        for r in &rows {
            if row > MAX_ROWS {
                return Err(ApiError::unprocessable(
                    "report_too_large",
                    format!("an XLSX report holds at most {MAX_ROWS} rows; ask for CSV"),
                ));
            }
            for (c, cell) in r.iter().enumerate() {
                let kind = columns.get(c).map_or(Kind::Text, |col| col.kind);
                let number = match kind {
                    Kind::Value => cell.parse::<f64>().ok().filter(|n| n.is_finite()),
                    Kind::Text => None,
                };
                match number {
                    Some(n) => ws.write_number(row, c as u16, n),
                    None => ws.write_string(row, c as u16, cell.as_str()),
                }
                .map_err(failed)?;
            }
            row += 1;
        }
        match next {
            Some(key) if !rows.is_empty() => after = Some(key),
            _ => break,
        }
    }
    ws.set_freeze_panes(1, 0).map_err(failed)?;
    book.save_to_buffer().map_err(failed)
}

/// The XLSX answer: the workbook built on the blocking pool, sent as an attachment.
pub async fn response<F>(
    db: &Db,
    filename: String,
    sheet: &'static str,
    columns: &'static [Column],
    lang: Lang,
    fetch: F,
) -> ApiResult<HttpResponse>
where
    F: Fn(&mut DbConn, Option<String>) -> ApiResult<CsvPage> + Send + 'static,
{
    let bytes = db
        .read(move |conn| workbook(conn, sheet, columns, lang, fetch))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workbook_is_a_zip_with_its_sheet_and_strings_stay_strings() {
        let columns = &[super::super::text("name"), super::super::value("level")];
        let db_less = |_: &mut DbConn, after: Option<String>| -> ApiResult<CsvPage> {
            Ok(match after {
                None => (
                    vec![
                        vec!["=1+2".into(), "3".into()],
                        vec!["王庄村".into(), "x".into()],
                    ],
                    Some("k".into()),
                ),
                Some(_) => (Vec::new(), None),
            })
        };
        // No connection is needed by this fetch; build the book without one.
        let bytes = build_without_conn(columns, db_less);
        assert_eq!(&bytes[..2], b"PK");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("xl/worksheets/sheet1.xml"));
    }

    fn build_without_conn<F>(columns: &[Column], fetch: F) -> Vec<u8>
    where
        F: Fn(&mut DbConn, Option<String>) -> ApiResult<CsvPage>,
    {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::db::DatabaseUrl::Sqlite(dir.path().join("t.db"));
        let mut conn = crate::db::ConnManager::new(url).establish().unwrap();
        workbook(&mut conn, "test", columns, Lang::Zh, fetch).unwrap()
    }
}
