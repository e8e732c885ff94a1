//! The mentoring roll-up for a quarter: per village and per township of a county (or of one
//! township or village), mentees, covered and coverage, counted with grouped SQL; JSON or CSV.

use std::collections::HashMap;

use diesel::dsl::{count, count_star};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::coverage::VisitKind;
use super::model::kind_str;
use crate::db::schema::{members, mentees, org_units, visits};
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::reports::{text, value, Column, CsvPage, PAGE};
use crate::scope::OrgLevel;
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
    /// Active members who mentor nobody (each member is meant to mentor one to three people).
    pub members_without_mentees: u32,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct TownshipCoverage {
    pub township_id: String,
    pub code: String,
    pub name: String,
    pub mentees: u32,
    pub covered: u32,
    pub coverage: f64,
    pub members_without_mentees: u32,
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
    pub members_without_mentees: u32,
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

/// A township's id, code and name.
type Township = (String, String, String);
/// A village's coverage and its township's id.
type InTownship = (Option<String>, VillageCoverage);

/// Villages under `unit` by code: all of them, or a page of `limit` after the code `after`.
/// Each with its mentees, those followed up in the quarter and its members without mentees.
/// Five queries whatever the number of villages: villages, their townships, mentees per
/// village, mentees followed up per village and active members mentoring nobody per village
/// (the last three over the whole subtree, or over the page's villages).
fn villages(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    page: Option<(Option<&str>, i64)>,
) -> QueryResult<(Vec<InTownship>, Vec<Township>)> {
    let subtree = unit.subtree();
    let q = org_units::table
        .filter(org_units::level.eq(OrgLevel::Village.as_str()))
        .into_boxed();
    let mut q = scoped!(q, org_units, &subtree)
        .select((
            org_units::id,
            org_units::code,
            org_units::name,
            org_units::parent_id,
        ))
        .order(org_units::code.asc());
    if let Some((after, limit)) = page {
        if let Some(after) = after {
            q = q.filter(org_units::code.gt(after.to_owned()));
        }
        q = q.limit(limit);
    }
    let villages: Vec<(String, String, String, Option<String>)> = q.load(conn)?;
    let township_ids: Vec<String> = {
        let mut ids: Vec<String> = villages.iter().filter_map(|v| v.3.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let townships: Vec<Township> = org_units::table
        .filter(org_units::id.eq_any(&township_ids))
        .select((org_units::id, org_units::code, org_units::name))
        .order(org_units::code.asc())
        .load(conn)?;
    let page_ids: Option<Vec<&String>> = page.map(|_| villages.iter().map(|v| &v.0).collect());

    let q = mentees::table
        .group_by(mentees::village_id)
        .select((mentees::village_id, count_star()))
        .into_boxed();
    let q = match &page_ids {
        Some(ids) => q.filter(mentees::village_id.eq_any(ids.clone())),
        None => scoped!(q, mentees, &subtree),
    };
    let mentee_counts: HashMap<String, i64> = q.load::<(String, i64)>(conn)?.into_iter().collect();
    let q = visits::table
        .filter(visits::kind.eq(kind_str(VisitKind::QuarterlyFollowup)))
        .filter(visits::visited_on.between(quarter.first_day(), quarter.last_day()))
        .group_by(visits::village_id)
        .select((
            visits::village_id,
            count(visits::mentee_id).aggregate_distinct(),
        ))
        .into_boxed();
    let q = match &page_ids {
        Some(ids) => q.filter(visits::village_id.eq_any(ids.clone())),
        None => scoped!(q, visits, &subtree),
    };
    let covered_counts: HashMap<String, i64> = q.load::<(String, i64)>(conn)?.into_iter().collect();
    // Members are matched against every mentee of the county: a mentee row always lies in its
    // member's village, and the county bounds the subquery.
    let mentors = mentees::table
        .filter(mentees::county_id.eq(unit.county_id.clone()))
        .select(mentees::member_id);
    let q = members::table
        .filter(members::active.eq(true))
        .filter(diesel::dsl::not(members::id.eq_any(mentors)))
        .group_by(members::village_id)
        .select((members::village_id, count_star()))
        .into_boxed();
    let q = match &page_ids {
        Some(ids) => q.filter(members::village_id.eq_any(ids.clone())),
        None => scoped!(q, members, &subtree),
    };
    let idle_counts: HashMap<String, i64> = q.load::<(String, i64)>(conn)?.into_iter().collect();

    let rows = villages
        .into_iter()
        .map(|(id, code, name, parent)| {
            let mentees = saturate(mentee_counts.get(&id).copied().unwrap_or(0));
            // A mentee counts once; visits never outnumber mentees unless mentees were removed.
            let covered = saturate(covered_counts.get(&id).copied().unwrap_or(0)).min(mentees);
            let members_without_mentees = saturate(idle_counts.get(&id).copied().unwrap_or(0));
            let village = VillageCoverage {
                village_id: id,
                code,
                name,
                mentees,
                covered,
                coverage: share(covered, mentees),
                overdue: mentees - covered,
                members_without_mentees,
            };
            (parent, village)
        })
        .collect();
    Ok((rows, townships))
}

/// The roll-up for every village under `unit` (a county, a township or one village).
pub fn mentoring_report(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
) -> QueryResult<MentoringReport> {
    let (villages, townships) = villages(conn, unit, quarter, None)?;
    let mut by_township: HashMap<String, Vec<VillageCoverage>> = HashMap::new();
    for (parent, village) in villages {
        by_township
            .entry(parent.unwrap_or_default())
            .or_default()
            .push(village);
    }
    let townships: Vec<TownshipCoverage> = townships
        .into_iter()
        .map(|(id, code, name)| {
            let villages = by_township.remove(&id).unwrap_or_default();
            let mentees = villages.iter().map(|v| v.mentees).sum();
            let covered = villages.iter().map(|v| v.covered).sum();
            let members_without_mentees = villages.iter().map(|v| v.members_without_mentees).sum();
            TownshipCoverage {
                township_id: id,
                code,
                name,
                mentees,
                covered,
                coverage: share(covered, mentees),
                members_without_mentees,
                villages,
            }
        })
        .collect();
    let mentees = townships.iter().map(|t| t.mentees).sum();
    let covered = townships.iter().map(|t| t.covered).sum();
    let members_without_mentees = townships.iter().map(|t| t.members_without_mentees).sum();
    Ok(MentoringReport {
        quarter,
        townships,
        mentees,
        covered,
        coverage: share(covered, mentees),
        members_without_mentees,
    })
}

pub const CSV_COLUMNS: &[Column] = &[
    value("quarter"),
    text("township_code"),
    text("township_name"),
    text("village_code"),
    text("village_name"),
    value("mentees"),
    value("covered"),
    value("coverage"),
    value("overdue"),
    value("members_without_mentees"),
];

/// One CSV row: a village with its township's columns. Counts only: nothing names a mentee.
fn csv_row(quarter: Quarter, township: (&str, &str), v: VillageCoverage) -> Vec<String> {
    vec![
        quarter.to_string(),
        township.0.to_owned(),
        township.1.to_owned(),
        v.code,
        v.name,
        v.mentees.to_string(),
        v.covered.to_string(),
        format!("{:.4}", v.coverage),
        v.overdue.to_string(),
        v.members_without_mentees.to_string(),
    ]
}

/// A page of the CSV, by village code, for `reports::csv_stream`.
pub fn csv_page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    after: Option<String>,
) -> ApiResult<CsvPage> {
    let (villages, townships) = villages(conn, unit, quarter, Some((after.as_deref(), PAGE)))?;
    let next = (villages.len() as i64 == PAGE)
        .then(|| villages.last().map(|(_, v)| v.code.clone()))
        .flatten();
    let townships: HashMap<String, (String, String)> = townships
        .into_iter()
        .map(|(id, code, name)| (id, (code, name)))
        .collect();
    let rows = villages
        .into_iter()
        .map(|(parent, village)| {
            let (code, name) = parent
                .and_then(|p| townships.get(&p))
                .map_or(("", ""), |(c, n)| (c.as_str(), n.as_str()));
            csv_row(quarter, (code, name), village)
        })
        .collect();
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_row_holds_counts_and_names_no_mentee() {
        let quarter = Quarter::parse("2026-Q4").expect("quarter");
        let village = VillageCoverage {
            village_id: "v".into(),
            code: "V1".into(),
            name: "王庄, 村".into(),
            mentees: 4,
            covered: 2,
            coverage: 0.5,
            overdue: 2,
            members_without_mentees: 1,
        };
        let row = csv_row(quarter, ("T1", "东关镇"), village);
        assert_eq!(row.len(), CSV_COLUMNS.len());
        assert_eq!(
            row,
            [
                "2026-Q4",
                "T1",
                "东关镇",
                "V1",
                "王庄, 村",
                "4",
                "2",
                "0.5000",
                "2",
                "1"
            ]
        );
    }
}
