//! The review report: what was submitted and decided in a quarter, how long reviewers took
//! (median and 90th percentile), the approval rate, and which integrity flags were raised.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{text, value, Column, CsvPage, PAGE};
use crate::db::schema::{decisions, inspections, org_units};
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::inspection::model::InspectionHead;
use crate::inspection::routes::flags_for_page;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::scoped;

pub const CSV_COLUMNS: &[Column] = &[
    value("inspection_id"),
    value("revision"),
    text("township_code"),
    text("village_code"),
    text("decision"),
    text("consequence"),
    value("submitted_at"),
    value("decided_at"),
    value("turnaround_hours"),
];

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct Turnaround {
    /// Hours from a complete submission to its decision; null without decisions.
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct FlagCount {
    pub code: String,
    pub count: u32,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct ReviewsReport {
    pub quarter: String,
    pub org_unit: crate::org::OrgUnitView,
    /// Inspections whose submission was complete in the quarter.
    pub submitted: u32,
    /// Of those, still waiting for a decision.
    pub pending: u32,
    pub decided: u32,
    pub approved: u32,
    pub rejected: u32,
    pub returned: u32,
    /// approved / (approved + rejected); null without either.
    pub approval_rate: Option<f64>,
    pub turnaround_hours: Turnaround,
    /// Flags raised on the quarter's submissions, most frequent first.
    pub flags: Vec<FlagCount>,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some((sorted[rank.min(sorted.len()) - 1] * 10.0).round() / 10.0)
}

type DecisionRow = (
    String,
    String,
    i32,
    String,
    String,
    Option<String>,
    NaiveDateTime,
);

fn decisions_page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    start: NaiveDateTime,
    end: NaiveDateTime,
    after: Option<&str>,
) -> QueryResult<Vec<DecisionRow>> {
    let q = decisions::table
        .filter(decisions::decided_at.ge(start))
        .filter(decisions::decided_at.lt(end))
        .into_boxed();
    let mut q = scoped!(q, decisions, &unit.subtree());
    if let Some(a) = after {
        q = q.filter(decisions::id.gt(a.to_string()));
    }
    q.select((
        decisions::id,
        decisions::inspection_id,
        decisions::revision,
        decisions::village_id,
        decisions::decision,
        decisions::consequence,
        decisions::decided_at,
    ))
    .order(decisions::id.asc())
    .limit(PAGE)
    .load(conn)
}

/// When each decided revision's submission was complete (only the current revision's is kept).
fn submitted_times(
    conn: &mut DbConn,
    rows: &[DecisionRow],
) -> QueryResult<HashMap<(String, i32), NaiveDateTime>> {
    let ids: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    let found: Vec<(String, i32, Option<NaiveDateTime>)> = inspections::table
        .filter(inspections::id.eq_any(&ids))
        .select((
            inspections::id,
            inspections::revision,
            inspections::submitted_at,
        ))
        .load(conn)?;
    Ok(found
        .into_iter()
        .filter_map(|(id, rev, at)| at.map(|a| ((id, rev), a)))
        .collect())
}

fn hours(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    (to - from).num_seconds() as f64 / 3600.0
}

pub fn report(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    tz: chrono_tz::Tz,
) -> ApiResult<ReviewsReport> {
    let (start, end) = (
        quarter.start_utc(tz).naive_utc(),
        quarter.end_utc(tz).naive_utc(),
    );
    let scope = unit.subtree();
    let mut r = ReviewsReport {
        quarter: quarter.to_string(),
        org_unit: unit.clone().view(),
        submitted: 0,
        pending: 0,
        decided: 0,
        approved: 0,
        rejected: 0,
        returned: 0,
        approval_rate: None,
        turnaround_hours: Turnaround {
            median: None,
            p90: None,
        },
        flags: Vec::new(),
    };
    let mut flag_counts: BTreeMap<String, u32> = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let q = inspections::table
            .filter(inspections::submitted_at.ge(start))
            .filter(inspections::submitted_at.lt(end))
            .into_boxed();
        let mut q = scoped!(q, inspections, &scope);
        if let Some(a) = &after {
            q = q.filter(inspections::id.gt(a.clone()));
        }
        let rows: Vec<InspectionHead> = q
            .select(InspectionHead::as_select())
            .order(inspections::id.asc())
            .limit(PAGE)
            .load(conn)?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id.clone());
        let full = rows.len() as i64 == PAGE;
        r.submitted += rows.len() as u32;
        r.pending += rows.iter().filter(|i| i.status().awaits_review()).count() as u32;
        for flags in flags_for_page(conn, &rows)? {
            for f in flags {
                *flag_counts.entry(f.code).or_default() += f.count as u32;
            }
        }
        if !full {
            break;
        }
    }
    let mut turnaround = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = decisions_page(conn, unit, start, end, after.as_deref())?;
        let Some(last) = rows.last() else { break };
        after = Some(last.0.clone());
        let full = rows.len() as i64 == PAGE;
        let submitted = submitted_times(conn, &rows)?;
        for (_, inspection, revision, _, decision, _, decided_at) in &rows {
            r.decided += 1;
            match crate::review::rules::DecisionKind::parse(decision) {
                Some(crate::review::rules::DecisionKind::Approve) => r.approved += 1,
                Some(crate::review::rules::DecisionKind::Reject) => r.rejected += 1,
                _ => r.returned += 1,
            }
            if let Some(at) = submitted.get(&(inspection.clone(), *revision)) {
                turnaround.push(hours(*at, *decided_at));
            }
        }
        if !full {
            break;
        }
    }
    turnaround.sort_by(|a, b| a.total_cmp(b));
    r.turnaround_hours = Turnaround {
        median: percentile(&turnaround, 50.0),
        p90: percentile(&turnaround, 90.0),
    };
    let judged = r.approved + r.rejected;
    r.approval_rate =
        (judged > 0).then(|| (f64::from(r.approved) / f64::from(judged) * 1000.0).round() / 1000.0);
    let mut flags: Vec<FlagCount> = flag_counts
        .into_iter()
        .map(|(code, count)| FlagCount { code, count })
        .collect();
    flags.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    r.flags = flags;
    Ok(r)
}

pub fn csv_page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    tz: chrono_tz::Tz,
    after: Option<String>,
) -> ApiResult<CsvPage> {
    let (start, end) = (
        quarter.start_utc(tz).naive_utc(),
        quarter.end_utc(tz).naive_utc(),
    );
    let rows = decisions_page(conn, unit, start, end, after.as_deref())?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.0.clone()))
        .flatten();
    let submitted = submitted_times(conn, &rows)?;
    let village_ids: Vec<String> = rows.iter().map(|r| r.3.clone()).collect();
    let villages: Vec<OrgUnit> = org_units::table
        .filter(org_units::id.eq_any(&village_ids))
        .select(OrgUnit::as_select())
        .load(conn)?;
    let township_ids: Vec<String> = villages
        .iter()
        .filter_map(|v| v.township_id.clone())
        .collect();
    let townships: Vec<(String, String)> = org_units::table
        .filter(org_units::id.eq_any(&township_ids))
        .select((org_units::id, org_units::code))
        .load(conn)?;
    let lines = rows
        .into_iter()
        .map(
            |(_, inspection, revision, village_id, decision, consequence, decided_at)| {
                let village = villages.iter().find(|v| v.id == village_id);
                let township = village
                    .and_then(|v| v.township_id.as_ref())
                    .and_then(|t| townships.iter().find(|(id, _)| id == t))
                    .map(|(_, code)| code.clone());
                let at = submitted.get(&(inspection.clone(), revision)).copied();
                vec![
                    inspection,
                    revision.to_string(),
                    township.unwrap_or_default(),
                    village.map(|v| v.code.clone()).unwrap_or_default(),
                    decision,
                    consequence.unwrap_or_default(),
                    at.map(|a| a.and_utc().to_rfc3339()).unwrap_or_default(),
                    decided_at.and_utc().to_rfc3339(),
                    at.map(|a| format!("{:.2}", hours(a, decided_at)))
                        .unwrap_or_default(),
                ]
            },
        )
        .collect();
    Ok((lines, next))
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[4.0], 90.0), Some(4.0));
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(5.0));
        assert_eq!(percentile(&v, 90.0), Some(9.0));
        assert_eq!(percentile(&v, 100.0), Some(10.0));
    }
}
