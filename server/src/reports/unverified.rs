//! The villages a quarter's verification left out: renewals the county did not inspect within
//! the window (`unverified`), and, while the window runs, renewals not yet verified.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{text, value, Column, CsvPage, PAGE};
use crate::db::schema::{declarations, org_units};
use crate::db::DbConn;
use crate::declarations::window;
use crate::declarations::{Declaration, DeclarationStatus};
use crate::error::ApiResult;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::scoped;
use crate::stars::engine::DeclarationKind;

pub const CSV_COLUMNS: &[Column] = &[
    text("township_name"),
    text("village_code"),
    text("village_name"),
    value("level"),
    text("declaration_status"),
];

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct UnverifiedVillage {
    pub village_id: String,
    pub village_code: String,
    pub village_name: String,
    pub township_name: Option<String>,
    /// The level the renewal verifies (the village keeps it).
    pub level: i32,
    /// `unverified` once the window closed; `pending` or `inspecting` while it runs.
    pub declaration_status: DeclarationStatus,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct UnverifiedReport {
    pub quarter: String,
    pub org_unit: crate::org::OrgUnitView,
    pub window_opens_on: NaiveDate,
    pub window_closes_on: NaiveDate,
    /// Renewals left unverified by the closed window.
    pub unverified: u32,
    /// Renewals not yet verified while the window runs.
    pub open: u32,
    /// By declaration, oldest first.
    pub items: Vec<UnverifiedVillage>,
}

/// One page of the quarter's renewals not verified, after declaration id `after`.
fn page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    after: Option<&str>,
    limit: i64,
) -> ApiResult<Vec<(String, UnverifiedVillage)>> {
    let q = declarations::table
        .filter(declarations::quarter.eq(quarter.to_string()))
        .filter(declarations::kind.eq(DeclarationKind::Renewal.as_str()))
        .filter(
            declarations::status.eq_any(
                [
                    DeclarationStatus::Unverified,
                    DeclarationStatus::AwaitingTownship,
                    DeclarationStatus::Pending,
                    DeclarationStatus::Inspecting,
                ]
                .map(DeclarationStatus::as_str),
            ),
        )
        .into_boxed();
    let mut q = scoped!(q, declarations, &unit.subtree());
    if let Some(a) = after {
        q = q.filter(declarations::id.gt(a.to_string()));
    }
    let rows: Vec<Declaration> = q
        .select(Declaration::as_select())
        .order(declarations::id.asc())
        .limit(limit)
        .load(conn)?;
    let unit_ids: Vec<String> = rows
        .iter()
        .flat_map(|d| [Some(d.village_id.clone()), d.township_id.clone()])
        .flatten()
        .collect();
    let units: std::collections::HashMap<String, (String, String)> = org_units::table
        .filter(org_units::id.eq_any(&unit_ids))
        .select((org_units::id, org_units::code, org_units::name))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, code, name)| (id, (code, name)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|d| {
            let (code, name) = units.get(&d.village_id).cloned().unwrap_or_default();
            let row = UnverifiedVillage {
                township_name: d
                    .township_id
                    .as_ref()
                    .and_then(|t| units.get(t).map(|u| u.1.clone())),
                village_id: d.village_id,
                village_code: code,
                village_name: name,
                level: d.star_level,
                declaration_status: DeclarationStatus::stored(&d.status),
            };
            (d.id, row)
        })
        .collect())
}

pub fn report(conn: &mut DbConn, unit: &OrgUnit, quarter: Quarter) -> ApiResult<UnverifiedReport> {
    let (window, _) = window::window_of(conn, &unit.county_id, quarter)?;
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = page(conn, unit, quarter, after.as_deref(), PAGE)?;
        let full = rows.len() as i64 == PAGE;
        after = rows.last().map(|(id, _)| id.clone());
        items.extend(rows.into_iter().map(|(_, row)| row));
        if !full {
            break;
        }
    }
    let unverified = items
        .iter()
        .filter(|i| i.declaration_status == DeclarationStatus::Unverified)
        .count() as u32;
    Ok(UnverifiedReport {
        quarter: quarter.to_string(),
        org_unit: unit.clone().view(),
        window_opens_on: window.opens_on,
        window_closes_on: window.closes_on,
        unverified,
        open: items.len() as u32 - unverified,
        items,
    })
}

pub fn csv_page(
    conn: &mut DbConn,
    unit: &OrgUnit,
    quarter: Quarter,
    after: Option<String>,
) -> ApiResult<CsvPage> {
    let rows = page(conn, unit, quarter, after.as_deref(), PAGE)?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|(id, _)| id.clone()))
        .flatten();
    let lines = rows
        .into_iter()
        .map(|(_, r)| {
            vec![
                r.township_name.unwrap_or_default(),
                r.village_code,
                r.village_name,
                r.level.to_string(),
                r.declaration_status.to_string(),
            ]
        })
        .collect();
    Ok((lines, next))
}
