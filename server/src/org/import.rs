//! `fieldstar org import FILE.csv` and `POST /api/v1/org-units/import`: one import,
//! `code,name,level,parent_code,lat,lon,radius_m`, UTF-8 or GB18030 ([`super::decode`]).
//! Idempotent by code, all-or-nothing, bad rows reported with their line numbers; a dry run
//! answers what would happen line by line and writes nothing.

use std::collections::HashMap;
use std::io::Read;

use diesel::Connection;
use serde::Serialize;
use utoipa::ToSchema;

use super::decode::{decode, Encoding};
use super::model::{check_parent, NewOrgUnit, OrgUnit};
use crate::auth::Actor;
use crate::db::{write_tx, DbConn};
use crate::error::ApiError;
use crate::i18n::{Lang, Msg, Rule};
use crate::scope::{OrgLevel, Scope};

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Read(Msg),
    /// Rows of a star-history import (the operator's command line) refused.
    #[error("{} bad row(s):\n{}", .0.len(), .0.join("\n"))]
    Rows(Vec<String>),
    #[error("database: {0}")]
    Database(String),
    /// Lines of an org import refused: nothing was written.
    #[error("{} bad row(s):\n{}", .0.refused, .0.refusals().join("\n"))]
    Refused(Box<ImportReport>),
}

/// What became, or would become, of one line of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineResult {
    Created,
    Updated,
    Unchanged,
    Refused,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ImportLine {
    /// The line of the file (the header is line 1).
    pub line: u64,
    pub code: String,
    pub name: String,
    pub result: LineResult,
    /// Why the line is refused, in the request's language (`Accept-Language`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Each column at fault and why, for the message in either language.
    #[serde(skip)]
    pub reasons: Vec<(String, Msg)>,
}

/// A column's name for people: the file's header in English, the glossary's words in Chinese.
fn column(name: &str, lang: Lang) -> &str {
    if lang == Lang::En {
        return name;
    }
    match name {
        "code" => "代码",
        "name" => "名称",
        "level" => "级别",
        "parent_code" | "parent_id" => "上级代码",
        "lat" => "纬度",
        "lon" => "经度",
        "radius_m" => "半径（米）",
        _ => "文件",
    }
}

/// The reasons of a refused line: `code: why; lat: why` (in Chinese `代码：…；纬度：…`).
fn reasons_text(reasons: &[(String, Msg)], lang: Lang) -> String {
    let (colon, sep) = if lang == Lang::Zh {
        ("：", "；")
    } else {
        (": ", "; ")
    };
    reasons
        .iter()
        .map(|(c, m)| {
            if c.is_empty() {
                m.render(lang)
            } else {
                format!("{}{colon}{}", column(c, lang), m.render(lang))
            }
        })
        .collect::<Vec<_>>()
        .join(sep)
}

impl ImportLine {
    fn refused(line: u64, code: String, name: String, reasons: Vec<(String, Msg)>) -> Self {
        ImportLine {
            line,
            code,
            name,
            result: LineResult::Refused,
            message: Some(reasons_text(&reasons, Lang::En)),
            reasons,
        }
    }

    /// The refusal as a field error of the problem: `line N`, the first reason's rule and
    /// figures (its column in `params.column`), and every reason in the message (a message in
    /// another language than English is the first reason's, rendered from its rule).
    pub fn field_error(&self, lang: Lang) -> crate::error::FieldError {
        let mut e = match self.reasons.first() {
            Some((c, m)) => crate::error::FieldError::new(
                format!("line {}", self.line),
                m.clone().with("column", c.clone()),
            ),
            None => crate::error::FieldError::new(format!("line {}", self.line), Rule::Invalid),
        };
        e.message = reasons_text(&self.reasons, lang);
        e
    }
}

/// The answer of an import or a dry run: counts and every line's result. Nothing is written
/// when `committed` is false.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub committed: bool,
    /// `utf-8` or `gb18030`: how the file was read.
    pub encoding: String,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
    pub lines: Vec<ImportLine>,
}

impl ImportReport {
    fn push(&mut self, line: ImportLine) {
        match line.result {
            LineResult::Created => self.created += 1,
            LineResult::Updated => self.updated += 1,
            LineResult::Unchanged => self.unchanged += 1,
            LineResult::Refused => self.refused += 1,
        }
        self.lines.push(line);
    }

    /// The report with each refusal in `lang`.
    pub fn in_lang(mut self, lang: Lang) -> Self {
        for l in &mut self.lines {
            if !l.reasons.is_empty() {
                l.message = Some(reasons_text(&l.reasons, lang));
            }
        }
        self
    }

    /// The refused lines as `line N: why`.
    pub fn refusals(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| l.result == LineResult::Refused)
            .map(|l| format!("line {}: {}", l.line, l.message.as_deref().unwrap_or("")))
            .collect()
    }
}

struct Row {
    line: u64,
    unit: NewOrgUnit,
    parent_code: Option<String>,
}

/// A line that did not parse: its number, what it said, and why it is refused.
struct BadRow {
    line: u64,
    code: String,
    name: String,
    reasons: Vec<(String, Msg)>,
}

const HEADER: [&str; 7] = [
    "code",
    "name",
    "level",
    "parent_code",
    "lat",
    "lon",
    "radius_m",
];

fn parse_rows(input: impl Read) -> Result<(Vec<Row>, Vec<BadRow>), ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| ImportError::Read(Rule::ImportHeaderUnreadable.with("why", e.to_string())))?
        .clone();
    if header.iter().collect::<Vec<_>>() != HEADER {
        return Err(ImportError::Read(
            Rule::ImportHeader.with("header", HEADER.join(",")),
        ));
    }
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                bad.push(BadRow {
                    line,
                    code: String::new(),
                    name: String::new(),
                    reasons: vec![(String::new(), Rule::Malformed.with("why", e.to_string()))],
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let bad_row = |reasons: Vec<(String, Msg)>| BadRow {
            line,
            code: record.get(0).unwrap_or("").to_string(),
            name: record.get(1).unwrap_or("").to_string(),
            reasons,
        };
        let number = |i: usize, name: &str, errs: &mut Vec<(String, Msg)>| -> Option<f64> {
            let v = record.get(i).unwrap_or("");
            if v.is_empty() {
                return None;
            }
            v.parse::<f64>().map(Some).unwrap_or_else(|_| {
                errs.push((
                    name.to_string(),
                    Rule::NotANumber.with("value", format!("{v:?}")),
                ));
                None
            })
        };
        let mut errs = Vec::new();
        let lat = number(4, "lat", &mut errs);
        let lon = number(5, "lon", &mut errs);
        let radius = number(6, "radius_m", &mut errs);
        let parsed = NewOrgUnit::parse(
            record.get(0).unwrap_or(""),
            record.get(1).unwrap_or(""),
            record.get(2).unwrap_or(""),
            lat,
            lon,
            radius,
        );
        match parsed {
            Ok(unit) if errs.is_empty() => rows.push(Row {
                line,
                unit,
                parent_code: record.get(3).filter(|s| !s.is_empty()).map(str::to_string),
            }),
            Ok(_) => bad.push(bad_row(errs)),
            Err(fields) => {
                errs.extend(fields.into_iter().map(|f| (f.field.clone(), f.said())));
                bad.push(bad_row(errs));
            }
        }
    }
    Ok((rows, bad))
}

/// Imports org units as `fieldstar org import` does: the encoding detected, in one
/// transaction, nothing written unless every row is good.
pub fn import(
    conn: &mut DbConn,
    mut input: impl Read,
    encoding: Option<Encoding>,
    actor: &Actor,
) -> Result<ImportSummary, ImportError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::Read(Rule::ImportFileUnreadable.with("why", e.to_string())))?;
    let report = write_tx(conn, |conn| run(conn, &bytes, encoding, actor, None, false))?;
    Ok(ImportSummary {
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
    })
}

/// Why a transaction ends without a commit.
enum Abort {
    Report(ImportReport),
    Error(ImportError),
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Abort::Error(e.into())
    }
}

/// The one import, for the command line and the API. Runs inside the caller's write
/// transaction, in a savepoint of its own that is rolled back on a dry run or when any line is
/// refused. `scope` (the API's caller) limits what may be created or updated: counties only
/// from the command line (`None`), parents and existing units inside the scope. A file with a
/// refused line is `ImportError::Refused` unless `dry_run`; the report says `committed`.
pub fn run(
    conn: &mut DbConn,
    bytes: &[u8],
    encoding: Option<Encoding>,
    actor: &Actor,
    scope: Option<&Scope>,
    dry_run: bool,
) -> Result<ImportReport, ImportError> {
    let (text, encoding) = decode(bytes, encoding).map_err(ImportError::Read)?;
    let (rows, bad) = parse_rows(text.as_bytes())?;
    if rows.is_empty() && bad.is_empty() {
        return Err(ImportError::Read(Rule::ImportNoRows.into()));
    }
    let mut refused: HashMap<u64, Vec<(String, Msg)>> =
        bad.iter().map(|b| (b.line, b.reasons.clone())).collect();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for r in &rows {
        if let Some(first) = seen.insert(r.unit.code.clone(), r.line) {
            refused.insert(
                r.line,
                vec![(
                    "code".into(),
                    Rule::CodeOnLine
                        .with("code", r.unit.code.clone())
                        .with("first", first),
                )],
            );
        }
    }
    let outcome = conn.transaction::<ImportReport, Abort, _>(|conn| {
        let mut report = ImportReport {
            dry_run,
            encoding: encoding.to_string(),
            ..ImportReport::default()
        };
        let mut lines: Vec<ImportLine> = bad
            .iter()
            .map(|b| ImportLine::refused(b.line, b.code.clone(), b.name.clone(), b.reasons.clone()))
            .collect();
        for r in &rows {
            let result = match refused.remove(&r.line) {
                Some(m) => Err(m),
                None => match import_row(conn, r, actor, scope) {
                    Ok(o) => Ok(o),
                    Err(e) if e.status.is_client_error() => Err(match e.errors.first() {
                        Some(f) => vec![(f.field.clone(), f.said())],
                        None => vec![(
                            String::new(),
                            e.said
                                .as_deref()
                                .cloned()
                                .unwrap_or_else(|| Msg::from(e.detail.clone())),
                        )],
                    }),
                    Err(e) => return Err(Abort::Error(ImportError::Database(e.detail))),
                },
            };
            lines.push(match result {
                Ok(result) => ImportLine {
                    line: r.line,
                    code: r.unit.code.clone(),
                    name: r.unit.name.clone(),
                    result,
                    message: None,
                    reasons: Vec::new(),
                },
                Err(reasons) => {
                    ImportLine::refused(r.line, r.unit.code.clone(), r.unit.name.clone(), reasons)
                }
            });
        }
        lines.sort_by_key(|l| l.line);
        for l in lines {
            report.push(l);
        }
        if dry_run || report.refused > 0 {
            return Err(Abort::Report(report));
        }
        if let Some(scope) = scope {
            crate::audit::record(
                conn,
                actor,
                "org_units.imported",
                "org_unit",
                &scope.unit_id,
                Some(&scope.county_id),
                format!(
                    "{} created, {} updated, {} unchanged ({})",
                    report.created, report.updated, report.unchanged, report.encoding
                ),
            )?;
        }
        report.committed = true;
        Ok(report)
    });
    match outcome {
        Ok(report) => Ok(report),
        Err(Abort::Report(report)) if dry_run => Ok(report),
        Err(Abort::Report(report)) => Err(ImportError::Refused(Box::new(report))),
        Err(Abort::Error(e)) => Err(e),
    }
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::Database(e.to_string())
    }
}

fn import_row(
    conn: &mut DbConn,
    r: &Row,
    actor: &Actor,
    scope: Option<&Scope>,
) -> Result<LineResult, ApiError> {
    let inside = |u: &OrgUnit| scope.is_none_or(|s| s.contains(&u.placement()));
    if scope.is_some() && r.unit.level == OrgLevel::County {
        return Err(ApiError::field("level", Rule::CountiesByCli));
    }
    let parent = match &r.parent_code {
        Some(code) => Some(
            OrgUnit::find_by_code(conn, code)?
                .filter(|p| inside(p))
                .ok_or_else(|| {
                    ApiError::field(
                        "parent_code",
                        Rule::ParentCodeUnknown.with("code", code.clone()),
                    )
                })?,
        ),
        None => None,
    };
    check_parent(r.unit.level, parent.as_ref()).map_err(|e| {
        ApiError::field(
            "parent_code",
            e.errors
                .first()
                .map_or_else(|| Msg::from(e.detail.clone()), |f| f.said()),
        )
    })?;
    let Some(existing) = OrgUnit::find_by_code(conn, &r.unit.code)? else {
        r.unit.insert(conn, parent.as_ref(), actor)?;
        return Ok(LineResult::Created);
    };
    if !inside(&existing) {
        return Err(ApiError::field(
            "code",
            Rule::CodeOutsideScope.with("code", r.unit.code.clone()),
        ));
    }
    if existing.level() != r.unit.level
        || existing.parent_id != parent.as_ref().map(|p| p.id.clone())
    {
        return Err(ApiError::field(
            "code",
            Rule::CodeOtherPlace.with("code", r.unit.code.clone()),
        ));
    }
    let same = existing.name == r.unit.name
        && existing.lat == r.unit.lat
        && existing.lon == r.unit.lon
        && existing.radius_m == r.unit.radius_m;
    if same {
        return Ok(LineResult::Unchanged);
    }
    super::model::update(
        conn,
        &existing,
        Some(r.unit.name.clone()),
        r.unit.lat,
        r.unit.lon,
        r.unit.radius_m,
        actor,
    )?;
    Ok(LineResult::Updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_reported_with_line_numbers() {
        let csv = "code,name,level,parent_code,lat,lon,radius_m\n\
                   C1,County,county,,,,\n\
                   V1,Village,village,T1,95,114,\n\
                   V2,,hamlet,T1,x,114,\n";
        let (good, bad) = parse_rows(csv.as_bytes()).unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].line, 3);
        let text = |b: &BadRow| reasons_text(&b.reasons, Lang::En);
        assert!(text(&bad[0]).starts_with("lat"), "{}", text(&bad[0]));
        assert_eq!(bad[1].line, 4);
        assert!(text(&bad[1]).contains("name") && text(&bad[1]).contains("level"));
        let zh = reasons_text(&bad[0].reasons, Lang::Zh);
        assert!(zh.starts_with("纬度：") && !zh.contains("lat"), "{zh}");
    }

    #[test]
    fn a_wrong_header_is_refused() {
        assert!(matches!(
            parse_rows("a,b\n1,2\n".as_bytes()),
            Err(ImportError::Read(_))
        ));
    }
}
