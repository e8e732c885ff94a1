//! `fieldstar org import FILE.csv`: `code,name,level,parent_code,lat,lon,radius_m`.
//! Idempotent by code, all-or-nothing, bad rows reported with their line numbers.

use std::collections::HashMap;
use std::io::Read;

use super::model::{check_parent, NewOrgUnit, OrgUnit};
use crate::auth::Actor;
use crate::db::{write_tx, DbConn};
use crate::error::ApiError;

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

struct Row {
    line: u64,
    unit: NewOrgUnit,
    parent_code: Option<String>,
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

fn parse_rows(input: impl Read) -> Result<Vec<Row>, ImportError> {
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
                bad.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
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
            Ok(_) => bad.push(format!("line {line}: {}", errs.join("; "))),
            Err(fields) => {
                errs.extend(
                    fields
                        .into_iter()
                        .map(|f| format!("{}: {}", f.field, f.message)),
                );
                bad.push(format!("line {line}: {}", errs.join("; ")));
            }
        }
    }
    if !bad.is_empty() {
        return Err(ImportError::Rows(bad));
    }
    Ok(rows)
}

/// Imports org units in one transaction: nothing is written unless every row is good.
pub fn import(
    conn: &mut DbConn,
    input: impl Read,
    actor: &Actor,
) -> Result<ImportSummary, ImportError> {
    let rows = parse_rows(input)?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut bad = Vec::new();
    for r in &rows {
        if let Some(first) = seen.insert(r.unit.code.clone(), r.line) {
            bad.push(format!(
                "line {}: code {} already on line {first}",
                r.line, r.unit.code
            ));
        }
    }
    if !bad.is_empty() {
        return Err(ImportError::Rows(bad));
    }
    write_tx(conn, |conn| {
        let mut summary = ImportSummary::default();
        let mut bad = Vec::new();
        for r in &rows {
            match import_row(conn, r, actor) {
                Ok(Outcome::Created) => summary.created += 1,
                Ok(Outcome::Updated) => summary.updated += 1,
                Ok(Outcome::Unchanged) => summary.unchanged += 1,
                Err(e) if e.status.is_client_error() => {
                    let detail = match e.errors.first() {
                        Some(f) => format!("{}: {}", f.field, f.message),
                        None => e.detail.clone(),
                    };
                    bad.push(format!("line {}: {detail}", r.line));
                }
                Err(e) => return Err(ImportError::Database(e.detail)),
            }
        }
        if bad.is_empty() {
            Ok(summary)
        } else {
            Err(ImportError::Rows(bad))
        }
    })
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::Database(e.to_string())
    }
}

fn import_row(conn: &mut DbConn, r: &Row, actor: &Actor) -> Result<Outcome, ApiError> {
    let parent = match &r.parent_code {
        Some(code) => Some(OrgUnit::find_by_code(conn, code)?.ok_or_else(|| {
            ApiError::field(
                "parent_code",
                format!("no org unit has code {code} (list parents first)"),
            )
        })?),
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
        return Ok(Outcome::Created);
    };
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
        return Ok(Outcome::Unchanged);
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
    Ok(Outcome::Updated)
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
        let Err(ImportError::Rows(rows)) = parse_rows(csv.as_bytes()) else {
            panic!()
        };
        assert_eq!(rows.len(), 2);
        assert!(rows[0].starts_with("line 3: lat"), "{rows:?}");
        assert!(
            rows[1].starts_with("line 4:") && rows[1].contains("name") && rows[1].contains("level")
        );
    }

    #[test]
    fn a_wrong_header_is_refused() {
        assert!(matches!(
            parse_rows("a,b\n1,2\n".as_bytes()),
            Err(ImportError::Read(_))
        ));
    }
}
