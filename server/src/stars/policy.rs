//! A county's star policy (`max_step`, `rectify_months`, `ban_months`): the programme's
//! defaults until the county's admin changes them.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::engine::{self, Policy};
use crate::auth::Actor;
use crate::db::schema::{county_policies, org_units};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::org::OrgUnit;
use crate::scope::OrgLevel;
use crate::{audit, now};

pub const MAX_STEP: std::ops::RangeInclusive<i64> = 1..=3;
pub const RECTIFY_MONTHS: std::ops::RangeInclusive<i64> = 1..=60;
pub const BAN_MONTHS: std::ops::RangeInclusive<i64> = 0..=120;

/// The county's policy, or the programme's defaults when it has none of its own.
pub fn policy_of(conn: &mut DbConn, county_id: &str) -> QueryResult<Policy> {
    Ok(stored(conn, county_id)?.map(|(p, _)| p).unwrap_or_default())
}

fn stored(conn: &mut DbConn, county_id: &str) -> QueryResult<Option<(Policy, NaiveDateTime)>> {
    let row: Option<(i32, i32, i32, NaiveDateTime)> = county_policies::table
        .find(county_id)
        .select((
            county_policies::max_step,
            county_policies::rectify_months,
            county_policies::ban_months,
            county_policies::updated_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(max_step, rectify, ban, at)| {
        (
            Policy {
                max_step: max_step.clamp(0, i32::from(u8::MAX)) as u8,
                rectify_months: rectify.max(0) as u32,
                ban_months: ban.max(0) as u32,
            },
            at,
        )
    }))
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq, Eq)]
pub struct PolicyView {
    pub county_id: String,
    /// How many levels one declaration may climb above the level held (1–3).
    pub max_step: u8,
    /// Months a downgraded or disqualified village has to regain its level (1–60).
    pub rectify_months: u32,
    /// Months a village that failed to rectify may not declare (0–120).
    pub ban_months: u32,
    /// False while the county uses the programme's defaults.
    pub customized: bool,
}

pub fn view(conn: &mut DbConn, county_id: &str) -> QueryResult<PolicyView> {
    let stored = stored(conn, county_id)?;
    let customized = stored.is_some();
    let p = stored.map(|(p, _)| p).unwrap_or_default();
    Ok(PolicyView {
        county_id: county_id.to_string(),
        max_step: p.max_step,
        rectify_months: p.rectify_months,
        ban_months: p.ban_months,
        customized,
    })
}

/// A change to some of the policy's values; absent values stay as they are.
#[derive(Deserialize, ToSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    pub max_step: Option<i64>,
    pub rectify_months: Option<i64>,
    pub ban_months: Option<i64>,
}

impl PolicyChange {
    /// The policy after the change, or 422 naming each value out of range.
    pub fn apply_to(&self, current: Policy) -> ApiResult<Policy> {
        let mut errors = Vec::new();
        let mut check =
            |name: &str, value: Option<i64>, range: std::ops::RangeInclusive<i64>| match value {
                Some(v) if !range.contains(&v) => {
                    errors.push(FieldError::new(
                        name,
                        format!("must be between {} and {}", range.start(), range.end()),
                    ));
                    None
                }
                other => other,
            };
        let max_step = check("max_step", self.max_step, MAX_STEP);
        let rectify = check("rectify_months", self.rectify_months, RECTIFY_MONTHS);
        let ban = check("ban_months", self.ban_months, BAN_MONTHS);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(Policy {
            max_step: max_step.map_or(current.max_step, |v| v as u8),
            rectify_months: rectify.map_or(current.rectify_months, |v| v as u32),
            ban_months: ban.map_or(current.ban_months, |v| v as u32),
        })
    }
}

/// Applies `change` to the county's policy and audits it; villages whose status `today` it
/// changes get a `star_status.changed` event. Call inside a write transaction.
pub fn update(
    conn: &mut DbConn,
    county_id: &str,
    change: &PolicyChange,
    actor: &Actor,
    today: NaiveDate,
) -> ApiResult<PolicyView> {
    let existing = stored(conn, county_id)?;
    let before = existing.map(|(p, _)| p).unwrap_or_default();
    let after = change.apply_to(before)?;
    if existing.is_some() && after == before {
        return Ok(view(conn, county_id)?);
    }
    let values = (
        county_policies::max_step.eq(i32::from(after.max_step)),
        county_policies::rectify_months.eq(after.rectify_months as i32),
        county_policies::ban_months.eq(after.ban_months as i32),
        county_policies::updated_at.eq(now()),
    );
    if existing.is_some() {
        diesel::update(county_policies::table.find(county_id))
            .set(values)
            .execute(conn)?;
    } else {
        let inserted = diesel::insert_into(county_policies::table)
            .values((county_policies::county_id.eq(county_id), values))
            .execute(conn);
        match inserted {
            Err(e) if crate::db::is_unique_violation(&e) => {
                return Err(ApiError::conflict(
                    "policy_changed",
                    "the policy was changed at the same time; try again",
                ))
            }
            other => other?,
        };
    }
    audit::record(
        conn,
        actor,
        "policy.updated",
        "policy",
        county_id,
        Some(county_id),
        format!(
            "max_step {} → {}; rectify_months {} → {}; ban_months {} → {}",
            before.max_step,
            after.max_step,
            before.rectify_months,
            after.rectify_months,
            before.ban_months,
            after.ban_months
        ),
    )?;
    announce_changes(conn, county_id, &before, &after, today, actor)?;
    Ok(view(conn, county_id)?)
}

/// Villages per batch of engine inputs (two queries each).
const VILLAGES_PER_BATCH: usize = 500;

/// A shorter rectification window or ban can end a window or a ban today, a longer one restore
/// it: each village whose status today differs under `after` gets the event and the audit
/// entry a decision that changed it would have written.
fn announce_changes(
    conn: &mut DbConn,
    county_id: &str,
    before: &Policy,
    after: &Policy,
    today: NaiveDate,
    actor: &Actor,
) -> ApiResult<()> {
    let villages: Vec<OrgUnit> = org_units::table
        .filter(org_units::county_id.eq(county_id))
        .filter(org_units::level.eq(OrgLevel::Village.as_str()))
        .select(OrgUnit::as_select())
        .order(org_units::code.asc())
        .load(conn)?;
    for batch in villages.chunks(VILLAGES_PER_BATCH) {
        let ids: Vec<String> = batch.iter().map(|v| v.id.clone()).collect();
        let inputs = super::status::inputs_of(conn, &ids)?;
        for village in batch {
            let Some((baseline, decisions)) = inputs.get(&village.id) else {
                continue;
            };
            if baseline.is_none() && decisions.is_empty() {
                continue;
            }
            let old = engine::star_status(baseline.as_ref(), decisions, before, today);
            let new = engine::star_status(baseline.as_ref(), decisions, after, today);
            let cause = " (policy change)";
            super::status::announce_change(conn, actor, village, &old, &new, cause)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_keeps_what_it_does_not_name() {
        let change = PolicyChange {
            rectify_months: Some(6),
            ..Default::default()
        };
        let p = change.apply_to(Policy::default()).unwrap();
        assert_eq!(p.rectify_months, 6);
        assert_eq!(p.max_step, 1);
        assert_eq!(p.ban_months, 36);
    }

    #[test]
    fn values_out_of_range_are_named() {
        let change = PolicyChange {
            max_step: Some(0),
            rectify_months: Some(61),
            ban_months: Some(-1),
        };
        let e = change.apply_to(Policy::default()).unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["max_step", "rectify_months", "ban_months"]);
        let edges = PolicyChange {
            max_step: Some(3),
            rectify_months: Some(1),
            ban_months: Some(0),
        };
        assert!(edges.apply_to(Policy::default()).is_ok());
    }
}
