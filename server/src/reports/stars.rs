//! The star report: each village's level at the end of the quarter and of the one before,
//! counted per township. Villages are walked a page at a time, so memory stays constant.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{text, value, Column, CsvPage, PAGE};
use crate::db::schema::declarations;
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::stars;
use crate::stars::engine;

pub const CSV_COLUMNS: &[Column] = &[
    text("township_code"),
    text("township_name"),
    text("village_code"),
    text("village_name"),
    value("level"),
    value("previous_level"),
    value("change"),
    value("renewal_unverified"),
];

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq)]
pub struct StarCounts {
    pub villages: u32,
    /// Villages per level, keyed "0" to "3".
    pub levels: BTreeMap<String, u32>,
    /// Villages whose level rose since the previous quarter.
    pub up: u32,
    /// Villages whose level fell since the previous quarter.
    pub down: u32,
    /// Villages whose renewal for the quarter the county did not verify within its window
    /// (they keep their level).
    pub unverified: u32,
}

impl StarCounts {
    fn add(&mut self, level: u8, previous: u8, unverified: bool) {
        self.villages += 1;
        if unverified {
            self.unverified += 1;
        }
        *self.levels.entry(level.to_string()).or_default() += 1;
        if level > previous {
            self.up += 1;
        } else if level < previous {
            self.down += 1;
        }
    }

    fn empty() -> Self {
        StarCounts {
            levels: (0..=3).map(|l| (l.to_string(), 0)).collect(),
            ..Default::default()
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct TownshipStars {
    pub township_id: String,
    pub code: String,
    pub name: String,
    #[serde(flatten)]
    pub counts: StarCounts,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct StarsReport {
    pub quarter: String,
    pub previous_quarter: String,
    pub org_unit: crate::org::OrgUnitView,
    pub totals: StarCounts,
    /// By township code.
    pub townships: Vec<TownshipStars>,
}

pub struct VillageStars {
    pub township: Option<OrgUnit>,
    pub village: OrgUnit,
    pub level: u8,
    pub previous: u8,
    /// The quarter's renewal was left unverified when its window closed.
    pub unverified: bool,
}

/// The day a quarter's status is read: its last day, or today while it runs.
fn reading_day(quarter: Quarter, today: NaiveDate) -> NaiveDate {
    quarter.last_day().min(today)
}

/// One page of villages under `unit` after village code `after`, with their two levels.
pub fn page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    today: NaiveDate,
    after: Option<&str>,
    limit: i64,
) -> ApiResult<Vec<VillageStars>> {
    let super::VillagePage {
        villages,
        townships,
        inputs,
    } = super::village_page(conn, unit, after, limit)?;
    let ids: Vec<String> = villages.iter().map(|v| v.id.clone()).collect();
    let policy = stars::policy::timeline_of(conn, &unit.county_id)?;
    let unverified: std::collections::HashSet<String> = declarations::table
        .filter(declarations::village_id.eq_any(&ids))
        .filter(declarations::quarter.eq(quarter.to_string()))
        .filter(declarations::status.eq(crate::declarations::DeclarationStatus::Unverified))
        .select(declarations::village_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let now_day = reading_day(quarter, today);
    let before_day = reading_day(quarter.prev(), today);
    Ok(villages
        .into_iter()
        .map(|v| {
            let (baseline, decisions) = inputs.get(&v.id).cloned().unwrap_or_default();
            let level = engine::star_status(baseline.as_ref(), &decisions, &policy, now_day).level;
            let previous =
                engine::star_status(baseline.as_ref(), &decisions, &policy, before_day).level;
            VillageStars {
                township: v
                    .township_id
                    .as_ref()
                    .and_then(|t| townships.get(t).cloned()),
                unverified: unverified.contains(&v.id),
                village: v,
                level,
                previous,
            }
        })
        .collect())
}

pub fn report(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    today: NaiveDate,
) -> ApiResult<StarsReport> {
    let mut totals = StarCounts::empty();
    let mut by_township: BTreeMap<String, TownshipStars> = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let rows = page(conn, unit, quarter, today, after.as_deref(), PAGE)?;
        let Some(last) = rows.last() else { break };
        after = Some(last.village.code.clone());
        let full = rows.len() as i64 == PAGE;
        for r in rows {
            totals.add(r.level, r.previous, r.unverified);
            if let Some(t) = r.township {
                by_township
                    .entry(t.code.clone())
                    .or_insert_with(|| TownshipStars {
                        township_id: t.id.clone(),
                        code: t.code.clone(),
                        name: t.name.clone(),
                        counts: StarCounts::empty(),
                    })
                    .counts
                    .add(r.level, r.previous, r.unverified);
            }
        }
        if !full {
            break;
        }
    }
    Ok(StarsReport {
        quarter: quarter.to_string(),
        previous_quarter: quarter.prev().to_string(),
        org_unit: unit.clone().view(),
        totals,
        townships: by_township.into_values().collect(),
    })
}

pub fn csv_page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    today: NaiveDate,
    after: Option<String>,
) -> ApiResult<CsvPage> {
    let rows = page(conn, unit, quarter, today, after.as_deref(), PAGE)?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.village.code.clone()))
        .flatten();
    let lines = rows
        .into_iter()
        .map(|r| {
            let change = i32::from(r.level) - i32::from(r.previous);
            vec![
                r.township
                    .as_ref()
                    .map(|t| t.code.clone())
                    .unwrap_or_default(),
                r.township
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                r.village.code,
                r.village.name,
                r.level.to_string(),
                r.previous.to_string(),
                change.to_string(),
                u8::from(r.unverified).to_string(),
            ]
        })
        .collect();
    Ok((lines, next))
}
