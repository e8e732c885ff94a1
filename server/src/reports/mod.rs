//! Reports for county leaders: star levels, review turnaround, mentoring coverage. JSON, CSV
//! (`?format=csv`) streamed page by page so that a large export runs in constant memory, or
//! XLSX (`?format=xlsx`, [`xlsx`]). A CSV starts with a UTF-8 byte-order mark, so that Excel
//! and WPS on a Chinese Windows read it as UTF-8; its header (and an XLSX's) is in Chinese when
//! asked in Chinese (`?lang=zh`, or an `Accept-Language` that prefers zh), in the glossary's
//! words (docs/glossary.md).
//!
//! Every CSV goes through [`encode`], which keeps a spreadsheet from running what people typed
//! (CSV formula injection): each report declares, column by column, which cells are people's
//! text and which the code writes itself (see [`Kind`]).

pub mod benefits;
pub mod inspections;
pub mod reviews;
pub mod routes;
pub mod shell;
pub mod stars;
pub mod unverified;
pub mod xlsx;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use serde::Deserialize;
use std::borrow::Cow;
use utoipa::IntoParams;

use crate::db::{Db, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::i18n::Rule;
use crate::quarter::Quarter;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `YYYY-Qn`; the current quarter in the county's time zone when absent.
    pub quarter: Option<String>,
    /// A county, township or village in the caller's scope; the caller's own scope when absent.
    pub org_unit: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    /// `zh` or `en`: the language of a CSV's or XLSX's header; else `Accept-Language`; else en.
    pub lang: Option<String>,
}

pub use crate::i18n::Lang;

/// `?lang=zh|en`, else the language `Accept-Language` prefers most (zh or not), else English.
pub fn lang_of(req: &actix_web::HttpRequest, lang: Option<&str>) -> ApiResult<Lang> {
    match lang.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) if l.eq_ignore_ascii_case("zh") || l.to_ascii_lowercase().starts_with("zh-") => {
            return Ok(Lang::Zh)
        }
        Some(l) if l.eq_ignore_ascii_case("en") || l.to_ascii_lowercase().starts_with("en-") => {
            return Ok(Lang::En)
        }
        Some(_) => {
            return Err(ApiError::field(
                "lang",
                Rule::OneOf.with("allowed", "zh, en"),
            ))
        }
        None => {}
    }
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(Lang::preferred(accept))
}

/// A column's header in `lang`: its name, or its Chinese name from the glossary's words.
pub fn header_of(name: &'static str, lang: Lang) -> &'static str {
    if lang == Lang::En {
        return name;
    }
    match name {
        "township_code" => "乡镇代码",
        "township_name" => "乡镇",
        "village_code" => "村代码",
        "village_name" => "村",
        "level" => "星级",
        "previous_level" => "上季度星级",
        "change" => "变化",
        "renewal_unverified" => "复核未验收",
        "inspection_id" => "验收编号",
        "revision" => "版本",
        "decision" => "审核决定",
        "consequence" => "星级结果",
        "submitted_at" => "提交时间",
        "decided_at" => "决定时间",
        "turnaround_hours" => "审核用时（小时）",
        "declaration_status" => "申报状态",
        "since_quarter" => "起始季度",
        "since" => "起始日期",
        "banned" => "禁止申报",
        "banned_until" => "禁止申报至",
        "in_rectification" => "整改期",
        "rectification_deadline" => "整改期限",
        "benefits" => "优惠代码",
        "benefit_names" => "优惠",
        "level_from" => "原星级",
        "level_to" => "新星级",
        "gained" => "新增优惠",
        "lost" => "取消优惠",
        "quarter" => "季度",
        "mentees" => "帮带对象",
        "covered" => "已督促",
        "coverage" => "帮带覆盖率",
        "overdue" => "本季未督促",
        "members_without_mentees" => "未帮带的会员",
        "star_level" => "申报星级",
        "kind" => "申报类型",
        "status" => "状态",
        "inspector" => "验收员",
        "score" => "得分",
        "passed" => "合格",
        "flags" => "疑点",
        "photos" => "照片",
        "decided_by" => "审核员",
        "body_sha256" => "提交内容哈希 (SHA-256)",
        other => other,
    }
}

pub enum Format {
    Json,
    Csv,
    /// Offered by the reports that accept it (`parse_format(…, true)`).
    Xlsx,
}

/// `json` (default), `csv`, and `xlsx` where `xlsx` is true.
pub fn parse_format(format: Option<&str>, xlsx: bool) -> ApiResult<Format> {
    match format {
        None | Some("") | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") if xlsx => Ok(Format::Xlsx),
        Some(_) if xlsx => Err(ApiError::field(
            "format",
            Rule::OneOf.with("allowed", "json, csv, xlsx"),
        )),
        Some(_) => Err(ApiError::field(
            "format",
            Rule::OneOf.with("allowed", "json, csv"),
        )),
    }
}

impl ReportQuery {
    pub fn quarter(&self, tz: chrono_tz::Tz) -> ApiResult<Quarter> {
        match self.quarter.as_deref().filter(|q| !q.is_empty()) {
            Some(q) => Quarter::param("quarter", q),
            None => Ok(Quarter::of_instant(chrono::Utc::now(), tz)),
        }
    }

    pub fn format(&self) -> ApiResult<Format> {
        parse_format(self.format.as_deref(), true)
    }
}

/// One page of CSV rows and the key to continue after them (`None`: the last page).
pub type CsvPage = (Vec<Vec<String>>, Option<String>);

/// Where a CSV column's cells come from, which decides how they are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text people typed or imported (names, codes, comments) or any other text: a cell a
    /// spreadsheet would take for a formula is neutralised ([`neutralise`]).
    Text,
    /// Written by the code itself from typed values (numbers, timestamps, ids, quarters):
    /// verbatim, so that a negative number stays a number.
    Value,
}

/// A CSV column: its header and its [`Kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

/// A column of people's text.
pub const fn text(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Text,
    }
}

/// A column the code writes itself.
pub const fn value(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Value,
    }
}

/// The characters that make Excel, WPS or LibreOffice read a cell as a formula (OWASP: `=`,
/// `+`, `-`, `@`, tab, carriage return), and their full-width forms, which Chinese input
/// methods type and some spreadsheets read the same way.
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// A text cell as OWASP recommends: one that starts like a formula gets a leading `'`, which
/// spreadsheets show as text and do not run. Anything else is unchanged.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV response whose rows are fetched `PAGE` at a time as the client reads: memory stays
/// constant whatever the number of rows. `fetch(conn, after)` returns a page and its next key.
pub fn csv_stream<F>(
    db: Db,
    filename: String,
    columns: &'static [Column],
    lang: Lang,
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
                    return Some((Ok(encode_header(columns, lang)), State::After(None)))
                }
                State::After(after) => after,
            };
            match db.read(move |conn| fetch(conn, after)).await {
                Ok((rows, next)) => {
                    let state = match next {
                        Some(key) if !rows.is_empty() => State::After(Some(key)),
                        _ => State::Done,
                    };
                    Some((Ok(encode(columns, &rows)), state))
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

/// The UTF-8 byte-order mark a CSV starts with: without it Excel and WPS on a Chinese Windows
/// read the file as GB18030 and show mojibake.
pub const BOM: &str = "\u{FEFF}";

pub fn encode_header(columns: &[Column], lang: Lang) -> Bytes {
    let mut w = csv::Writer::from_writer(BOM.as_bytes().to_vec());
    let _ = w.write_record(columns.iter().map(|c| header_of(c.name, lang)));
    Bytes::from(w.into_inner().unwrap_or_default())
}

/// Rows as CSV: cells of [`Kind::Text`] columns neutralised, and those of a row longer than
/// its columns too; [`Kind::Value`] cells verbatim.
pub fn encode(columns: &[Column], rows: &[Vec<String>]) -> Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            let cell = match columns.get(i).map_or(Kind::Text, |c| c.kind) {
                Kind::Value => Cow::Borrowed(cell.as_str()),
                Kind::Text => neutralise(cell),
            };
            let _ = w.write_field(cell.as_bytes());
        }
        let _ = w.write_record(None::<&[u8]>);
    }
    Bytes::from(w.into_inner().unwrap_or_default())
}

/// Rows per page of a streamed export.
pub const PAGE: i64 = 1000;

/// One page of the villages under `unit` (by code, after `after`), with their townships by id
/// and the star engine's inputs of each: what every per-village report reads.
pub struct VillagePage {
    pub villages: Vec<crate::org::OrgUnit>,
    pub townships: std::collections::HashMap<String, crate::org::OrgUnit>,
    pub inputs: std::collections::HashMap<String, crate::stars::status::EngineInputs>,
}

pub fn village_page(
    conn: &mut DbConn,
    unit: &crate::org::OrgUnit,
    after: Option<&str>,
    limit: i64,
) -> ApiResult<VillagePage> {
    use crate::db::schema::org_units;
    use crate::org::OrgUnit;
    use diesel::prelude::*;
    let q = org_units::table
        .filter(org_units::level.eq(crate::scope::OrgLevel::Village.as_str()))
        .into_boxed();
    let mut q = crate::scoped!(q, org_units, &unit.subtree());
    if let Some(a) = after {
        q = q.filter(org_units::code.gt(a.to_string()));
    }
    let villages: Vec<OrgUnit> = q
        .select(OrgUnit::as_select())
        .order(org_units::code.asc())
        .limit(limit)
        .load(conn)?;
    let township_ids: Vec<String> = villages
        .iter()
        .filter_map(|v| v.township_id.clone())
        .collect();
    let townships = org_units::table
        .filter(org_units::id.eq_any(&township_ids))
        .select(OrgUnit::as_select())
        .load(conn)?
        .into_iter()
        .map(|t: OrgUnit| (t.id.clone(), t))
        .collect();
    let ids: Vec<String> = villages.iter().map(|v| v.id.clone()).collect();
    let inputs = crate::stars::status::inputs_of(conn, &ids)?;
    Ok(VillagePage {
        villages,
        townships,
        inputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[text("name"), value("change"), text("comment")];

    fn csv(rows: &[&[&str]]) -> String {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        String::from_utf8(encode(COLUMNS, &rows).to_vec()).expect("utf-8")
    }

    #[test]
    fn text_cells_that_start_like_a_formula_are_neutralised() {
        for (cell, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("=1+2", "'=1+2"),
            ("+1+2", "'+1+2"),
            ("-1+2", "'-1+2"),
            ("-5", "'-5"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("＝1+2", "'＝1+2"),
            ("＋1", "'＋1"),
            ("－1", "'－1"),
            ("＠SUM(A1)", "'＠SUM(A1)"),
            ("'=already", "'=already"),
            ("王庄村", "王庄村"),
            ("a=b", "a=b"),
            (" =1", " =1"),
            ("", ""),
            ("V-01", "V-01"),
        ] {
            assert_eq!(neutralise(cell), written, "{cell:?}");
        }
    }

    #[test]
    fn the_encoder_neutralises_text_columns_and_keeps_numbers() {
        assert_eq!(
            csv(&[
                &["=cmd|' /C calc'!A0", "-1", "+x"],
                &["王庄, 村", "-2", "ok"]
            ]),
            "'=cmd|' /C calc'!A0,-1,'+x\n\"王庄, 村\",-2,ok\n"
        );
        // A formula behind a separator or a line break cannot start a cell of its own: the csv
        // crate quotes the field, so it stays inside the neutralised cell.
        assert_eq!(
            csv(&[&["@x,=1+2", "0", "a\n=1+2"]]),
            "\"'@x,=1+2\",0,\"a\n=1+2\"\n"
        );
        // A quoted cell keeps its quote: a spreadsheet still sees the leading `'`.
        assert_eq!(
            csv(&[&["=HYPERLINK(\"http://x\")", "3", ""]]),
            "\"'=HYPERLINK(\"\"http://x\"\")\",3,\n"
        );
        // Cells past the declared columns count as text.
        assert_eq!(csv(&[&["a", "1", "b", "-9"]]), "a,1,b,'-9\n");
    }

    #[test]
    fn the_header_is_written_as_declared_after_a_bom_in_either_language() {
        assert_eq!(
            &encode_header(COLUMNS, Lang::En)[..],
            "\u{FEFF}name,change,comment\n".as_bytes()
        );
        assert_eq!(
            &encode_header(COLUMNS, Lang::Zh)[..],
            "\u{FEFF}name,变化,comment\n".as_bytes()
        );
    }

    #[test]
    fn every_report_column_has_a_chinese_header() {
        for columns in [
            stars::CSV_COLUMNS,
            reviews::CSV_COLUMNS,
            unverified::CSV_COLUMNS,
            benefits::CSV_COLUMNS,
            benefits::CHANGE_COLUMNS,
            crate::mentoring::report::CSV_COLUMNS,
        ] {
            for c in columns {
                assert_ne!(header_of(c.name, Lang::Zh), c.name, "{}", c.name);
            }
        }
    }
}
