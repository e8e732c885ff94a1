//! The mentoring roll-up for a quarter: per village and per township of a county (or of one
//! township or village), mentees, covered and coverage, counted with grouped SQL; JSON or CSV.

use std::collections::HashMap;

use diesel::dsl::{count, count_star};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::coverage::VisitKind;
use super::model::kind_str;
use crate::db::schema::{mentees, org_units, visits};
use crate::db::DbConn;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::scope::{OrgLevel, Scope};
use crate::scoped;

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct VillageCoverage {
    pub village_id: String,
    pub code: String,
    pub name: String,
    pub mentees: u32,
    /// Mentees with at least one quarterly follow-up dated in the quarter.
    pub covered: u32,
    /// covered / mentees (0 without mentees).
    pub coverage: f64,
    /// mentees − covered.
    pub overdue: u32,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct TownshipCoverage {
    pub township_id: String,
    pub code: String,
    pub name: String,
    pub mentees: u32,
    pub covered: u32,
    pub coverage: f64,
    /// By village code.
    pub villages: Vec<VillageCoverage>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct MentoringReport {
    #[schema(value_type = String, example = "2026-Q4")]
    pub quarter: Quarter,
    /// By township code.
    pub townships: Vec<TownshipCoverage>,
    pub mentees: u32,
    pub covered: u32,
    pub coverage: f64,
}

fn share(covered: u32, mentees: u32) -> f64 {
    if mentees == 0 {
        0.0
    } else {
        f64::from(covered) / f64::from(mentees)
    }
}

fn saturate(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// The roll-up for every village under `unit` (a county, a township or one village).
/// Four queries whatever the number of villages: villages, townships, mentees per village, and
/// mentees followed up per village.
pub fn mentoring_report(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
) -> QueryResult<MentoringReport> {
    let subtree = Scope {
        unit_id: unit.id.clone(),
        level: unit.level(),
        county_id: unit.county_id.clone(),
    };
    let q = org_units::table
        .filter(org_units::level.eq(OrgLevel::Village.as_str()))
        .into_boxed();
    let villages: Vec<(String, String, String, Option<String>)> = scoped!(q, org_units, &subtree)
        .select((
            org_units::id,
            org_units::code,
            org_units::name,
            org_units::parent_id,
        ))
        .order(org_units::code.asc())
        .load(conn)?;
    let township_ids: Vec<String> = {
        let mut ids: Vec<String> = villages.iter().filter_map(|v| v.3.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let townships: Vec<(String, String, String)> = org_units::table
        .filter(org_units::id.eq_any(&township_ids))
        .select((org_units::id, org_units::code, org_units::name))
        .order(org_units::code.asc())
        .load(conn)?;

    let q = mentees::table
        .group_by(mentees::village_id)
        .select((mentees::village_id, count_star()))
        .into_boxed();
    let mentee_counts: HashMap<String, i64> = scoped!(q, mentees, &subtree)
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let q = visits::table
        .filter(visits::kind.eq(kind_str(VisitKind::QuarterlyFollowup)))
        .filter(visits::visited_on.between(quarter.first_day(), quarter.last_day()))
        .group_by(visits::village_id)
        .select((
            visits::village_id,
            count(visits::mentee_id).aggregate_distinct(),
        ))
        .into_boxed();
    let covered_counts: HashMap<String, i64> = scoped!(q, visits, &subtree)
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();

    let mut by_township: HashMap<String, Vec<VillageCoverage>> = HashMap::new();
    for (id, code, name, parent) in villages {
        let mentees = saturate(mentee_counts.get(&id).copied().unwrap_or(0));
        // A mentee counts once; visits never outnumber mentees unless mentees were removed.
        let covered = saturate(covered_counts.get(&id).copied().unwrap_or(0)).min(mentees);
        by_township
            .entry(parent.unwrap_or_default())
            .or_default()
            .push(VillageCoverage {
                village_id: id,
                code,
                name,
                mentees,
                covered,
                coverage: share(covered, mentees),
                overdue: mentees - covered,
            });
    }
    let townships: Vec<TownshipCoverage> = townships
        .into_iter()
        .map(|(id, code, name)| {
            let villages = by_township.remove(&id).unwrap_or_default();
            let mentees = villages.iter().map(|v| v.mentees).sum();
            let covered = villages.iter().map(|v| v.covered).sum();
            TownshipCoverage {
                township_id: id,
                code,
                name,
                mentees,
                covered,
                coverage: share(covered, mentees),
                villages,
            }
        })
        .collect();
    let mentees = townships.iter().map(|t| t.mentees).sum();
    let covered = townships.iter().map(|t| t.covered).sum();
    Ok(MentoringReport {
        quarter,
        townships,
        mentees,
        covered,
        coverage: share(covered, mentees),
    })
}

pub const CSV_HEADER: [&str; 9] = [
    "quarter",
    "township_code",
    "township_name",
    "village_code",
    "village_name",
    "mentees",
    "covered",
    "coverage",
    "overdue",
];

/// One row per village with its township's columns. Counts only: nothing names a mentee.
pub fn to_csv(report: &MentoringReport) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(CSV_HEADER)?;
    let quarter = report.quarter.to_string();
    for t in &report.townships {
        for v in &t.villages {
            out.write_record([
                quarter.as_str(),
                &t.code,
                &t.name,
                &v.code,
                &v.name,
                &v.mentees.to_string(),
                &v.covered.to_string(),
                &format!("{:.4}", v.coverage),
                &v.overdue.to_string(),
            ])?;
        }
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_has_a_header_and_one_row_per_village() {
        let report = MentoringReport {
            quarter: Quarter::parse("2026-Q4").expect("quarter"),
            townships: vec![TownshipCoverage {
                township_id: "t".into(),
                code: "T1".into(),
                name: "东关镇".into(),
                mentees: 4,
                covered: 2,
                coverage: 0.5,
                villages: vec![VillageCoverage {
                    village_id: "v".into(),
                    code: "V1".into(),
                    name: "王庄, 村".into(),
                    mentees: 4,
                    covered: 2,
                    coverage: 0.5,
                    overdue: 2,
                }],
            }],
            mentees: 4,
            covered: 2,
            coverage: 0.5,
        };
        let text = String::from_utf8(to_csv(&report).expect("csv")).expect("utf-8");
        assert_eq!(
            text,
            "quarter,township_code,township_name,village_code,village_name,mentees,covered,coverage,overdue\n\
             2026-Q4,T1,东关镇,V1,\"王庄, 村\",4,2,0.5000,2\n"
        );
    }
}
