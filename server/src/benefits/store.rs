//! Catalogue versions in the database: a save adds version n + 1 and never changes one. The
//! version in force on a day is the last one saved on or before it; before a county's first
//! save, its first version (benefits existed before they were entered here).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{eligibility, Benefit};
use crate::auth::Actor;
use crate::db::schema::benefit_catalogues as bc;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::{audit, clock::now};

/// A county's benefit catalogue, one version of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Catalogue {
    pub county_id: String,
    /// 1, 2, …; 0 while the county has no catalogue.
    pub version: i32,
    /// The county-local day from which this version is in force; null for version 0.
    pub effective_on: Option<NaiveDate>,
    pub saved_at: Option<DateTime<Utc>>,
    /// The admin's username (`cli` for a seed).
    pub saved_by_name: Option<String>,
    pub benefits: Vec<Benefit>,
}

impl Catalogue {
    pub fn empty(county_id: &str) -> Catalogue {
        Catalogue {
            county_id: county_id.to_string(),
            version: 0,
            effective_on: None,
            saved_at: None,
            saved_by_name: None,
            benefits: Vec::new(),
        }
    }
}

/// One version in the list of a county's versions.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionSummary {
    pub version: i32,
    pub effective_on: NaiveDate,
    pub saved_at: DateTime<Utc>,
    pub saved_by_name: String,
    /// How many benefits the version holds.
    pub benefits: usize,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = bc)]
struct Row {
    county_id: String,
    version: i32,
    effective_on: NaiveDate,
    body: String,
    saved_by_name: String,
    saved_at: NaiveDateTime,
}

impl Row {
    fn catalogue(self) -> QueryResult<Catalogue> {
        let benefits: Vec<Benefit> = serde_json::from_str(&self.body).map_err(|e| {
            tracing::error!(county_id = %self.county_id, version = self.version, error = %e, "unreadable benefit catalogue");
            diesel::result::Error::DeserializationError(Box::new(e))
        })?;
        Ok(Catalogue {
            county_id: self.county_id,
            version: self.version,
            effective_on: Some(self.effective_on),
            saved_at: Some(self.saved_at.and_utc()),
            saved_by_name: Some(self.saved_by_name),
            benefits,
        })
    }
}

/// The county's newest version, if it has one.
pub fn latest(conn: &mut DbConn, county_id: &str) -> QueryResult<Option<Catalogue>> {
    bc::table
        .filter(bc::county_id.eq(county_id))
        .order(bc::version.desc())
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::catalogue)
        .transpose()
}

/// The version in force on `day` (see the module's rule); `None`: the county has none.
pub fn in_force(
    conn: &mut DbConn,
    county_id: &str,
    day: NaiveDate,
) -> QueryResult<Option<Catalogue>> {
    let saved_by_then: Option<Row> = bc::table
        .filter(bc::county_id.eq(county_id))
        .filter(bc::effective_on.le(day))
        .order(bc::version.desc())
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    let row = match saved_by_then {
        Some(r) => Some(r),
        None => bc::table
            .filter(bc::county_id.eq(county_id))
            .order(bc::version.asc())
            .select(Row::as_select())
            .first(conn)
            .optional()?,
    };
    row.map(Row::catalogue).transpose()
}

/// The benefits in force now for a county (the newest version); empty without a catalogue.
pub fn current_benefits(conn: &mut DbConn, county_id: &str) -> QueryResult<Vec<Benefit>> {
    Ok(latest(conn, county_id)?
        .map(|c| c.benefits)
        .unwrap_or_default())
}

pub fn find(conn: &mut DbConn, county_id: &str, version: i32) -> QueryResult<Option<Catalogue>> {
    bc::table
        .filter(bc::county_id.eq(county_id))
        .filter(bc::version.eq(version))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::catalogue)
        .transpose()
}

/// Up to `limit + 1` versions older than `before`, newest first.
pub fn versions(
    conn: &mut DbConn,
    county_id: &str,
    before: Option<i32>,
    limit: i64,
) -> QueryResult<Vec<VersionSummary>> {
    let mut q = bc::table
        .filter(bc::county_id.eq(county_id))
        .order(bc::version.desc())
        .limit(limit + 1)
        .select(Row::as_select())
        .into_boxed();
    if let Some(v) = before {
        q = q.filter(bc::version.lt(v));
    }
    q.load(conn)?
        .into_iter()
        .map(|r| {
            let (version, effective_on, saved_at, saved_by_name) = (
                r.version,
                r.effective_on,
                r.saved_at.and_utc(),
                r.saved_by_name.clone(),
            );
            r.catalogue().map(|c| VersionSummary {
                version,
                effective_on,
                saved_at,
                saved_by_name,
                benefits: c.benefits.len(),
            })
        })
        .collect()
}

/// Saves `benefits` as the county's next version, in force from `today`, and audits it. With
/// `base_version`, refuses (409) when another save came first. Call inside a write transaction.
pub fn save(
    conn: &mut DbConn,
    county_id: &str,
    benefits: Vec<Benefit>,
    base_version: Option<i64>,
    actor: &Actor,
    today: NaiveDate,
) -> ApiResult<Catalogue> {
    let previous = latest(conn, county_id)?;
    let current = previous.as_ref().map_or(0, |c| c.version);
    if base_version.is_some_and(|b| b != i64::from(current)) {
        return Err(changed_meanwhile(current));
    }
    let version = current + 1;
    let body = serde_json::to_string(&benefits).map_err(|_| ApiError::internal())?;
    let inserted = diesel::insert_into(bc::table)
        .values((
            bc::id.eq(uuid::Uuid::now_v7().to_string()),
            bc::county_id.eq(county_id),
            bc::version.eq(version),
            bc::effective_on.eq(today),
            bc::body.eq(&body),
            bc::saved_by.eq(actor.id.as_deref()),
            bc::saved_by_name.eq(&actor.name),
            bc::saved_at.eq(now()),
        ))
        .execute(conn);
    match inserted {
        Err(e) if crate::db::is_unique_violation(&e) => return Err(changed_meanwhile(current)),
        other => other?,
    };
    let before = previous.map(|c| c.benefits).unwrap_or_default();
    audit::record(
        conn,
        actor,
        "benefits.saved",
        "benefit_catalogue",
        county_id,
        Some(county_id),
        summary(version, &before, &benefits),
    )?;
    find(conn, county_id, version)?.ok_or_else(|| ApiError::internal())
}

fn changed_meanwhile(current: i32) -> ApiError {
    ApiError::conflict(
        "catalogue_changed",
        format!(
            "the catalogue was saved meanwhile (now version {current}); reload it and save again"
        ),
    )
    .with("current_version", current)
}

/// `version 3: 8 benefits; added a; removed b; changed c`.
fn summary(version: i32, before: &[Benefit], after: &[Benefit]) -> String {
    let codes = |list: &[Benefit]| -> Vec<String> { list.iter().map(|b| b.code.clone()).collect() };
    let (was, is) = (codes(before), codes(after));
    let mut parts = vec![format!("version {version}: {} benefits", after.len())];
    let added: Vec<&str> = is
        .iter()
        .filter(|c| !was.contains(c))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = was
        .iter()
        .filter(|c| !is.contains(c))
        .map(String::as_str)
        .collect();
    let changed: Vec<&str> = after
        .iter()
        .filter(|b| before.iter().any(|o| o.code == b.code && o != *b))
        .map(|b| b.code.as_str())
        .collect();
    for (label, list) in [("added", added), ("removed", removed), ("changed", changed)] {
        if !list.is_empty() {
            parts.push(format!("{label} {}", list.join(", ")));
        }
    }
    parts.join("; ")
}

/// Seeds the programme's benefits as the county's first catalogue when it has none.
pub fn seed_defaults(
    conn: &mut DbConn,
    county_id: &str,
    actor: &Actor,
    today: NaiveDate,
) -> ApiResult<()> {
    if latest(conn, county_id)?.is_none() {
        save(
            conn,
            county_id,
            super::programme_defaults(),
            Some(0),
            actor,
            today,
        )?;
    }
    Ok(())
}

/// The codes gained and lost between two levels under the county's current catalogue, as
/// the `star_status.changed` event carries them.
pub fn gained_and_lost(
    conn: &mut DbConn,
    county_id: &str,
    before: u8,
    after: u8,
) -> QueryResult<eligibility::Change> {
    let catalogue = current_benefits(conn, county_id)?;
    Ok(eligibility::change(
        (before, &catalogue),
        (after, &catalogue),
    ))
}
