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
    Read(String),
    #[error("{} bad row(s):\n{}", .0.len(), .0.join("\n"))]
    Rows(Vec<String>),
    #[error("database: {0}")]
    Database(String),
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
    /// Why the line is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
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
    message: String,
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
        .map_err(|e| ImportError::Read(format!("cannot read the header: {e}")))?
        .clone();
    if header.iter().collect::<Vec<_>>() != HEADER {
        return Err(ImportError::Read(format!(
            "line 1: the header must be {}",
            HEADER.join(",")
        )));
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
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let bad_row = |message: String| BadRow {
            line,
            code: record.get(0).unwrap_or("").to_string(),
            name: record.get(1).unwrap_or("").to_string(),
            message,
        };
        let number = |i: usize, name: &str, errs: &mut Vec<String>| -> Option<f64> {
            let v = record.get(i).unwrap_or("");
            if v.is_empty() {
                return None;
            }
            v.parse::<f64>().map(Some).unwrap_or_else(|_| {
                errs.push(format!("{name}: {v:?} is not a number"));
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
            Ok(_) => bad.push(bad_row(errs.join("; "))),
            Err(fields) => {
                errs.extend(
                    fields
                        .into_iter()
                        .map(|f| format!("{}: {}", f.field, f.message)),
                );
                bad.push(bad_row(errs.join("; ")));
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
        .map_err(|e| ImportError::Read(format!("cannot read the file: {e}")))?;
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
/// refused line is `ImportError::Rows` unless `dry_run`; the report says `committed`.
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
        return Err(ImportError::Read("line 2: the file has no rows".into()));
    }
    let mut refused: HashMap<u64, String> =
        bad.iter().map(|b| (b.line, b.message.clone())).collect();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for r in &rows {
        if let Some(first) = seen.insert(r.unit.code.clone(), r.line) {
            refused.insert(
                r.line,
                format!("code: {} already on line {first}", r.unit.code),
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
            .map(|b| ImportLine {
                line: b.line,
                code: b.code.clone(),
                name: b.name.clone(),
                result: LineResult::Refused,
                message: Some(b.message.clone()),
            })
            .collect();
        for r in &rows {
            let result = match refused.remove(&r.line) {
                Some(m) => Err(m),
                None => match import_row(conn, r, actor, scope) {
                    Ok(o) => Ok(o),
                    Err(e) if e.status.is_client_error() => Err(match e.errors.first() {
                        Some(f) => format!("{}: {}", f.field, f.message),
                        None => e.detail.clone(),
                    }),
                    Err(e) => return Err(Abort::Error(ImportError::Database(e.detail))),
                },
            };
            let (result, message) = match result {
                Ok(o) => (o, None),
                Err(m) => (LineResult::Refused, Some(m)),
            };
            lines.push(ImportLine {
                line: r.line,
                code: r.unit.code.clone(),
                name: r.unit.name.clone(),
                result,
                message,
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
        Err(Abort::Report(report)) => Err(ImportError::Rows(report.refusals())),
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
        return Err(ApiError::field(
            "level",
            "only the operator's command line creates counties",
        ));
    }
    let parent = match &r.parent_code {
        Some(code) => Some(
            OrgUnit::find_by_code(conn, code)?
                .filter(|p| inside(p))
                .ok_or_else(|| {
                    ApiError::field(
                        "parent_code",
                        format!("no org unit has code {code} (list parents first)"),
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
                .map_or(e.detail.clone(), |f| f.message.clone()),
        )
    })?;
    let Some(existing) = OrgUnit::find_by_code(conn, &r.unit.code)? else {
        r.unit.insert(conn, parent.as_ref(), actor)?;
        return Ok(LineResult::Created);
    };
    if !inside(&existing) {
        return Err(ApiError::field(
            "code",
            format!("{} is taken by an org unit outside your scope", r.unit.code),
        ));
    }
    if existing.level() != r.unit.level
        || existing.parent_id != parent.as_ref().map(|p| p.id.clone())
    {
        return Err(ApiError::field(
            "code",
            format!("{} exists with another level or parent", r.unit.code),
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
        assert!(bad[0].message.starts_with("lat"), "{}", bad[0].message);
        assert_eq!(bad[1].line, 4);
        assert!(bad[1].message.contains("name") && bad[1].message.contains("level"));
    }

    #[test]
    fn a_wrong_header_is_refused() {
        assert!(matches!(
            parse_rows("a,b\n1,2\n".as_bytes()),
            Err(ImportError::Read(_))
        ));
    }
}
