//! `fieldstar stars import FILE.csv`: `village_code,level,since_quarter`, the star levels a
//! county held before it used fieldstar. Idempotent by village, all-or-nothing, bad rows
//! reported with their line numbers. A village that already has fieldstar decisions is
//! refused: its level is the decisions' now, and a baseline would rewrite their history.

use std::collections::HashMap;
use std::io::Read;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::engine::MAX_LEVEL;
use crate::auth::Actor;
use crate::db::schema::{decisions, star_baselines};
use crate::db::{write_tx, DbConn};
use crate::i18n::Rule;
use crate::org::decode::{decode, Encoding};
use crate::org::import::{ImportError, ImportSummary};
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::scope::OrgLevel;
use crate::webhooks::outbox;
use crate::{audit, clock::now};

const HEADER: [&str; 3] = ["village_code", "level", "since_quarter"];

#[derive(Debug, PartialEq)]
struct Row {
    line: u64,
    village_code: String,
    level: u8,
    since_quarter: Quarter,
}

fn parse_rows(input: impl Read) -> Result<Vec<Row>, ImportError> {
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
    let mut seen: HashMap<String, u64> = HashMap::new();
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
        let mut errs = Vec::new();
        let code = record.get(0).unwrap_or("").to_string();
        if code.is_empty() {
            errs.push("village_code: missing".to_string());
        } else if let Some(first) = seen.insert(code.clone(), line) {
            errs.push(format!("village_code: {code} already on line {first}"));
        }
        let level_text = record.get(1).unwrap_or("");
        let level = match level_text.parse::<u8>() {
            Ok(l) if l <= MAX_LEVEL => Some(l),
            _ => {
                errs.push(format!("level: must be 0, 1, 2 or 3, got {level_text:?}"));
                None
            }
        };
        let quarter = match Quarter::parse(record.get(2).unwrap_or("")) {
            Ok(q) => Some(q),
            Err(e) => {
                errs.push(format!("since_quarter: {e}"));
                None
            }
        };
        match (level, quarter) {
            (Some(level), Some(since_quarter)) if errs.is_empty() => rows.push(Row {
                line,
                village_code: code,
                level,
                since_quarter,
            }),
            _ => bad.push(format!("line {line}: {}", errs.join("; "))),
        }
    }
    if !bad.is_empty() {
        return Err(ImportError::Rows(bad));
    }
    Ok(rows)
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Imports baselines in one transaction: nothing is written unless every row is good. A
/// village whose baseline changes gets a `star_status.changed` event for its status `today`.
pub fn import(
    conn: &mut DbConn,
    mut input: impl Read,
    encoding: Option<Encoding>,
    today: NaiveDate,
    actor: &Actor,
) -> Result<ImportSummary, ImportError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::Read(Rule::ImportFileUnreadable.with("why", e.to_string())))?;
    let (text, _) = decode(&bytes, encoding).map_err(ImportError::Read)?;
    let rows = parse_rows(text.as_bytes())?;
    write_tx(conn, |conn| {
        let mut summary = ImportSummary::default();
        let mut bad = Vec::new();
        for r in &rows {
            let Some(village) = OrgUnit::find_by_code(conn, &r.village_code)? else {
                bad.push(format!(
                    "line {}: village_code: no org unit has code {}",
                    r.line, r.village_code
                ));
                continue;
            };
            if village.level() != OrgLevel::Village {
                bad.push(format!(
                    "line {}: village_code: {} is a {}, not a village",
                    r.line, r.village_code, village.level
                ));
                continue;
            }
            let decided: i64 = decisions::table
                .filter(decisions::village_id.eq(&village.id))
                .filter(decisions::reopened_at.is_null())
                .filter(decisions::decision.ne(crate::review::rules::DecisionKind::Return.as_str()))
                .count()
                .get_result(conn)?;
            if decided > 0 {
                bad.push(format!(
                    "line {}: village_code: {} ({}) already has fieldstar decisions; a baseline \
                     is only for levels held before the county used fieldstar",
                    r.line, r.village_code, village.name
                ));
                continue;
            }
            if !bad.is_empty() {
                continue;
            }
            match import_row(conn, r, &village, today, actor)? {
                Outcome::Created => summary.created += 1,
                Outcome::Updated => summary.updated += 1,
                Outcome::Unchanged => summary.unchanged += 1,
            }
        }
        if bad.is_empty() {
            Ok(summary)
        } else {
            Err(ImportError::Rows(bad))
        }
    })
}

fn import_row(
    conn: &mut DbConn,
    r: &Row,
    village: &OrgUnit,
    today: NaiveDate,
    actor: &Actor,
) -> Result<Outcome, diesel::result::Error> {
    let quarter = r.since_quarter.to_string();
    let before = super::status_of(conn, village, today)?;
    let existing: Option<(i32, String)> = star_baselines::table
        .find(&village.id)
        .select((star_baselines::level, star_baselines::since_quarter))
        .first(conn)
        .optional()?;
    let (outcome, action, summary) = match existing {
        Some((level, since)) if level == i32::from(r.level) && since == quarter => {
            return Ok(Outcome::Unchanged)
        }
        Some((level, since)) => {
            diesel::update(star_baselines::table.find(&village.id))
                .set((
                    star_baselines::level.eq(i32::from(r.level)),
                    star_baselines::since_quarter.eq(&quarter),
                ))
                .execute(conn)?;
            (
                Outcome::Updated,
                "star_baseline.updated",
                format!(
                    "{}: level {level} since {since} → level {} since {quarter}",
                    village.code, r.level
                ),
            )
        }
        None => {
            diesel::insert_into(star_baselines::table)
                .values((
                    star_baselines::village_id.eq(&village.id),
                    star_baselines::county_id.eq(&village.county_id),
                    star_baselines::level.eq(i32::from(r.level)),
                    star_baselines::since_quarter.eq(&quarter),
                    star_baselines::created_at.eq(now()),
                ))
                .execute(conn)?;
            (
                Outcome::Created,
                "star_baseline.imported",
                format!("{}: level {} since {quarter}", village.code, r.level),
            )
        }
    };
    audit::record(
        conn,
        actor,
        action,
        "village",
        &village.id,
        Some(&village.county_id),
        summary,
    )?;
    let status = super::status_of(conn, village, today)?;
    let mut data = super::status::changed_event_data(village, &status);
    super::status::add_benefits(conn, &mut data, village, before.level, status.level)?;
    outbox::enqueue(conn, &village.county_id, outbox::STAR_STATUS_CHANGED, data)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_reported_with_line_numbers() {
        let csv = "village_code,level,since_quarter\n\
                   V1,1,2025-Q3\n\
                   V2,4,2025-Q3\n\
                   V3,2,2025-Q5\n\
                   ,x,\n\
                   V1,1,2025-Q3\n";
        let Err(ImportError::Rows(rows)) = parse_rows(csv.as_bytes()) else {
            panic!("bad rows accepted")
        };
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert!(rows[0].starts_with("line 3: level"), "{rows:?}");
        assert!(rows[1].starts_with("line 4: since_quarter"), "{rows:?}");
        assert!(
            rows[2].starts_with("line 5: village_code: missing; level"),
            "{rows:?}"
        );
        assert!(rows[3].contains("already on line 2"), "{rows:?}");
    }

    #[test]
    fn good_rows_parse_and_a_wrong_header_is_refused() {
        let rows = parse_rows("village_code,level,since_quarter\nV1,0,2024-Q1\n".as_bytes())
            .expect("rows");
        assert_eq!(rows[0].level, 0);
        assert_eq!(rows[0].since_quarter.to_string(), "2024-Q1");
        assert!(matches!(
            parse_rows("code,level\nV1,1\n".as_bytes()),
            Err(ImportError::Read(_))
        ));
    }
}
