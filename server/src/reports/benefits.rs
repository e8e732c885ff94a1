//! The benefit eligibility report: every village of a scope with its star level on a date and
//! the benefits that level brings under the catalogue in force that day; or, between two dates,
//! the villages whose benefits started or stopped. Villages are walked a page at a time.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{text, value, Column, CsvPage, PAGE};
use crate::benefits::{eligibility, store, Benefit};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::i18n::Rule;
use crate::org::OrgUnit;
use crate::stars::engine::{self, PolicyTimeline, StarStatus};
use crate::stars::status::RectificationView;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BenefitsQuery {
    /// `YYYY-MM-DD` (county time): the day to report; today when absent. Not with from/to.
    pub as_of: Option<String>,
    /// With `to`: the change list, from the state at the end of `from`…
    pub from: Option<String>,
    /// …to the state at the end of `to` (changes on days after `from` up to `to`).
    pub to: Option<String>,
    /// A county, township or village in the caller's scope; the caller's own scope when absent.
    pub org_unit: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    /// `zh` or `en`: the language of a CSV's or XLSX's header; else `Accept-Language`; else en.
    pub lang: Option<String>,
}

/// What the query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    AsOf(NaiveDate),
    Changes { from: NaiveDate, to: NaiveDate },
}

impl BenefitsQuery {
    pub fn mode(&self, today: NaiveDate) -> ApiResult<Mode> {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let date = |field: &str, v: &Option<String>| -> Result<Option<NaiveDate>, FieldError> {
            given(v)
                .map(|t| {
                    crate::stars::routes::parse_date(field, &t).map_err(|e| {
                        e.errors
                            .into_iter()
                            .next()
                            .unwrap_or_else(|| FieldError::new(field, Rule::Invalid))
                    })
                })
                .transpose()
        };
        let mut errors = Vec::new();
        let mut take = |field: &str, v: &Option<String>| match date(field, v) {
            Ok(d) => d,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let (as_of, from, to) = (
            take("as_of", &self.as_of),
            take("from", &self.from),
            take("to", &self.to),
        );
        let ranged = given(&self.from).is_some() || given(&self.to).is_some();
        if ranged && given(&self.as_of).is_some() {
            errors.push(FieldError::new("as_of", Rule::AsOfOrRange));
        }
        if ranged {
            for (field, v) in [("from", &self.from), ("to", &self.to)] {
                if given(v).is_none() {
                    errors.push(FieldError::new(field, Rule::RangeEnd));
                }
            }
        }
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                errors.push(FieldError::new("from", Rule::NotAfter.with("other", "to")));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(match (from, to) {
            (Some(from), Some(to)) => Mode::Changes { from, to },
            _ => Mode::AsOf(as_of.unwrap_or(today)),
        })
    }
}

/// The catalogue version a report read: which one, from when.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
pub struct CatalogueRef {
    /// 0: the county had no catalogue (no village has benefits).
    pub version: i32,
    pub effective_on: Option<NaiveDate>,
}

/// A catalogue as a report uses it.
#[derive(Clone, Debug)]
pub struct InForce {
    pub reference: CatalogueRef,
    pub benefits: Vec<Benefit>,
}

pub fn catalogue_on(conn: &mut DbConn, county_id: &str, day: NaiveDate) -> ApiResult<InForce> {
    let c = store::in_force(conn, county_id, day)?;
    Ok(match c {
        Some(c) => InForce {
            reference: CatalogueRef {
                version: c.version,
                effective_on: c.effective_on,
            },
            benefits: c.benefits,
        },
        None => InForce {
            reference: CatalogueRef {
                version: 0,
                effective_on: None,
            },
            benefits: Vec::new(),
        },
    })
}

/// One village's line of the report.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct VillageBenefits {
    pub village_id: String,
    pub village_code: String,
    pub village_name: String,
    pub township_code: Option<String>,
    pub township_name: Option<String>,
    /// 0 (no star) to 3 on `as_of`.
    pub level: u8,
    /// The quarter since which it holds `level`; null at level 0.
    pub since_quarter: Option<String>,
    /// The day its present level began (granted, regained, downgraded…); null at level 0 or
    /// for a level imported as held before fieldstar without a day.
    pub since: Option<NaiveDate>,
    /// Set while a ban on declaring upgrades runs (the level and its benefits stay).
    pub banned_until: Option<NaiveDate>,
    /// Set while a rectification window runs.
    pub rectification: Option<RectificationView>,
    /// The codes of the benefits that apply, in catalogue order.
    pub benefits: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
pub struct BenefitTotals {
    pub villages: u32,
    /// Villages per level, keyed "0" to "3".
    pub levels: BTreeMap<String, u32>,
    /// Villages each benefit code applies to.
    pub benefits: BTreeMap<String, u32>,
}

/// The report as of a day.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct BenefitsReport {
    pub as_of: NaiveDate,
    pub org_unit: crate::org::OrgUnitView,
    /// The catalogue version in force on `as_of`.
    pub catalogue: CatalogueRef,
    /// Its benefits (code, names, levels, amount), for the codes below.
    pub benefits: Vec<Benefit>,
    pub totals: BenefitTotals,
    /// By village code.
    pub villages: Vec<VillageBenefits>,
}

/// The JSON answer: the report as of a day, or the change list when `from` and `to` are given.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(untagged)]
pub enum BenefitsAnswer {
    Day(BenefitsReport),
    Changes(BenefitChangesReport),
}

/// A village whose benefits started or stopped between `from` and `to`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct BenefitChange {
    pub village_id: String,
    pub village_code: String,
    pub village_name: String,
    pub township_code: Option<String>,
    pub township_name: Option<String>,
    pub level_from: u8,
    pub level_to: u8,
    /// Codes that apply on `to` and did not on `from`.
    pub gained: Vec<String>,
    /// Codes that applied on `from` and do not on `to`.
    pub lost: Vec<String>,
}

/// The change list between two days.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct BenefitChangesReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub org_unit: crate::org::OrgUnitView,
    pub catalogue_from: CatalogueRef,
    pub catalogue_to: CatalogueRef,
    /// The benefits of both catalogues (those of `to` first), for the codes below.
    pub benefits: Vec<Benefit>,
    /// By village code; villages whose benefits did not change are left out.
    pub changes: Vec<BenefitChange>,
}

pub const CSV_COLUMNS: &[Column] = &[
    text("township_code"),
    text("township_name"),
    text("village_code"),
    text("village_name"),
    value("level"),
    value("since_quarter"),
    value("since"),
    value("banned"),
    value("banned_until"),
    value("in_rectification"),
    value("rectification_deadline"),
    text("benefits"),
    text("benefit_names"),
];

pub const CHANGE_COLUMNS: &[Column] = &[
    text("township_code"),
    text("township_name"),
    text("village_code"),
    text("village_name"),
    value("level_from"),
    value("level_to"),
    text("gained"),
    text("lost"),
];

/// One page of villages under `unit` after code `after`, with their townships and the star
/// engine's inputs.
impl super::VillagePage {
    fn next(&self) -> Option<String> {
        (self.villages.len() as i64 == PAGE)
            .then(|| self.villages.last().map(|v| v.code.clone()))
            .flatten()
    }

    fn status(&self, village: &OrgUnit, policy: &PolicyTimeline, day: NaiveDate) -> StarStatus {
        let (baseline, decisions) = self.inputs.get(&village.id).cloned().unwrap_or_default();
        engine::star_status(baseline.as_ref(), &decisions, policy, day)
    }

    fn township(&self, village: &OrgUnit) -> Option<&OrgUnit> {
        village
            .township_id
            .as_ref()
            .and_then(|t| self.townships.get(t))
    }
}

/// The day the present level began: the last history event that moved the level to it.
fn level_since(status: &StarStatus) -> Option<NaiveDate> {
    if status.level == 0 {
        return None;
    }
    status
        .history
        .iter()
        .rev()
        .find(|h| h.to_level == status.level && h.from_level != h.to_level)
        .map(|h| h.on)
}

fn village_line(
    page: &super::VillagePage,
    v: &OrgUnit,
    status: StarStatus,
    benefits: &[Benefit],
) -> VillageBenefits {
    let t = page.township(v);
    VillageBenefits {
        village_id: v.id.clone(),
        village_code: v.code.clone(),
        village_name: v.name.clone(),
        township_code: t.map(|t| t.code.clone()),
        township_name: t.map(|t| t.name.clone()),
        level: status.level,
        since_quarter: status.since_quarter.map(|q| q.to_string()),
        since: level_since(&status),
        banned_until: status.banned_until,
        rectification: status.rectification.map(|w| RectificationView {
            from_level: w.from_level,
            deadline: w.deadline,
        }),
        benefits: eligibility::codes_for(benefits, status.level),
    }
}

/// One page of the as-of report's lines.
pub fn lines(
    conn: &mut DbConn,
    unit: &OrgUnit,
    day: NaiveDate,
    catalogue: &[Benefit],
    after: Option<String>,
) -> ApiResult<(Vec<VillageBenefits>, Option<String>)> {
    let policy = crate::stars::policy::timeline_of(conn, &unit.county_id)?;
    let page = super::village_page(conn, unit, after.as_deref(), PAGE)?;
    let out = page
        .villages
        .iter()
        .map(|v| village_line(&page, v, page.status(v, &policy, day), catalogue))
        .collect();
    Ok((out, page.next()))
}

pub fn report(conn: &mut DbConn, unit: &OrgUnit, day: NaiveDate) -> ApiResult<BenefitsReport> {
    let catalogue = catalogue_on(conn, &unit.county_id, day)?;
    let mut totals = BenefitTotals {
        levels: (0..=engine::MAX_LEVEL)
            .map(|l| (l.to_string(), 0))
            .collect(),
        benefits: catalogue
            .benefits
            .iter()
            .map(|b| (b.code.clone(), 0))
            .collect(),
        ..Default::default()
    };
    let mut villages = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = lines(conn, unit, day, &catalogue.benefits, after)?;
        for v in &page {
            totals.villages += 1;
            *totals.levels.entry(v.level.to_string()).or_default() += 1;
            for code in &v.benefits {
                *totals.benefits.entry(code.clone()).or_default() += 1;
            }
        }
        villages.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(BenefitsReport {
        as_of: day,
        org_unit: unit.clone().view(),
        catalogue: catalogue.reference,
        benefits: catalogue.benefits,
        totals,
        villages,
    })
}

fn joined_names(catalogue: &[Benefit], codes: &[String]) -> String {
    codes
        .iter()
        .filter_map(|c| catalogue.iter().find(|b| &b.code == c))
        .map(|b| b.name.zh.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

pub fn csv_page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    day: NaiveDate,
    catalogue: &[Benefit],
    after: Option<String>,
) -> ApiResult<CsvPage> {
    let (lines, next) = lines(conn, unit, day, catalogue, after)?;
    let rows = lines
        .into_iter()
        .map(|l| {
            vec![
                l.township_code.unwrap_or_default(),
                l.township_name.unwrap_or_default(),
                l.village_code,
                l.village_name,
                l.level.to_string(),
                opt(l.since_quarter),
                opt(l.since),
                u8::from(l.banned_until.is_some()).to_string(),
                opt(l.banned_until),
                u8::from(l.rectification.is_some()).to_string(),
                opt(l.rectification.map(|r| r.deadline)),
                l.benefits.join(";"),
                joined_names(catalogue, &l.benefits),
            ]
        })
        .collect();
    Ok((rows, next))
}

/// The change list's lines from the page after `after` on: pages without a change are skipped,
/// so a page is empty only at the end.
pub fn change_lines(
    conn: &mut DbConn,
    unit: &OrgUnit,
    (from, to): (NaiveDate, NaiveDate),
    (before, after_catalogue): (&[Benefit], &[Benefit]),
    mut after: Option<String>,
) -> ApiResult<(Vec<BenefitChange>, Option<String>)> {
    let policy = crate::stars::policy::timeline_of(conn, &unit.county_id)?;
    loop {
        let page = super::village_page(conn, unit, after.as_deref(), PAGE)?;
        let mut out = Vec::new();
        for v in &page.villages {
            let (was, is) = (
                page.status(v, &policy, from).level,
                page.status(v, &policy, to).level,
            );
            let change = eligibility::change((was, before), (is, after_catalogue));
            if change.is_empty() {
                continue;
            }
            let t = page.township(v);
            out.push(BenefitChange {
                village_id: v.id.clone(),
                village_code: v.code.clone(),
                village_name: v.name.clone(),
                township_code: t.map(|t| t.code.clone()),
                township_name: t.map(|t| t.name.clone()),
                level_from: was,
                level_to: is,
                gained: change.gained,
                lost: change.lost,
            });
        }
        let next = page.next();
        if !out.is_empty() || next.is_none() {
            return Ok((out, next));
        }
        after = next;
    }
}

/// The benefits of both catalogues, `to`'s first, each code once.
fn union(first: &[Benefit], second: &[Benefit]) -> Vec<Benefit> {
    let mut out: Vec<Benefit> = first.to_vec();
    for b in second {
        if !out.iter().any(|o| o.code == b.code) {
            out.push(b.clone());
        }
    }
    out
}

pub fn changes_report(
    conn: &mut DbConn,
    unit: &OrgUnit,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<BenefitChangesReport> {
    let (c_from, c_to) = (
        catalogue_on(conn, &unit.county_id, from)?,
        catalogue_on(conn, &unit.county_id, to)?,
    );
    let mut changes = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = change_lines(
            conn,
            unit,
            (from, to),
            (&c_from.benefits, &c_to.benefits),
            after,
        )?;
        changes.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(BenefitChangesReport {
        from,
        to,
        org_unit: unit.clone().view(),
        benefits: union(&c_to.benefits, &c_from.benefits),
        catalogue_from: c_from.reference,
        catalogue_to: c_to.reference,
        changes,
    })
}

pub fn changes_csv_page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    range: (NaiveDate, NaiveDate),
    catalogues: (&[Benefit], &[Benefit]),
    after: Option<String>,
) -> ApiResult<CsvPage> {
    let (lines, next) = change_lines(conn, unit, range, catalogues, after)?;
    let rows = lines
        .into_iter()
        .map(|c| {
            vec![
                c.township_code.unwrap_or_default(),
                c.township_name.unwrap_or_default(),
                c.village_code,
                c.village_name,
                c.level_from.to_string(),
                c.level_to.to_string(),
                c.gained.join(";"),
                c.lost.join(";"),
            ]
        })
        .collect();
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(as_of: Option<&str>, from: Option<&str>, to: Option<&str>) -> BenefitsQuery {
        BenefitsQuery {
            as_of: as_of.map(Into::into),
            from: from.map(Into::into),
            to: to.map(Into::into),
            org_unit: None,
            format: None,
            lang: None,
        }
    }

    fn fields(e: ApiError) -> Vec<String> {
        e.errors.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn the_query_is_a_day_or_a_range_and_names_what_is_wrong() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            query(None, None, None).mode(today).unwrap(),
            Mode::AsOf(today)
        );
        assert_eq!(
            query(Some("2026-10-01"), None, None).mode(today).unwrap(),
            Mode::AsOf(d("2026-10-01"))
        );
        assert_eq!(
            query(None, Some("2026-10-31"), Some("2026-11-30"))
                .mode(today)
                .unwrap(),
            Mode::Changes {
                from: d("2026-10-31"),
                to: d("2026-11-30")
            }
        );
        let err = |q: BenefitsQuery| fields(q.mode(today).unwrap_err());
        assert_eq!(err(query(Some("2026-13-01"), None, None)), ["as_of"]);
        assert_eq!(
            err(query(None, Some("2026-11-30"), Some("2026-11-01"))),
            ["from"]
        );
        assert_eq!(err(query(None, Some("2026-11-30"), None)), ["to"]);
        assert_eq!(err(query(None, None, Some("x"))), ["to", "from"]);
        assert_eq!(
            err(query(
                Some("2026-11-01"),
                Some("2026-11-01"),
                Some("2026-11-02")
            )),
            ["as_of"]
        );
    }
}
