//! A county's star policy (`max_step`, `rectify_months`, `ban_months`): the programme's
//! defaults until the county's admin changes them, each change applying from its day on; and
//! its procedure (`joint_approval`, `township_precheck`), which applies to what is decided next;
//! and `phone_photo_max_px`, the size to which phones downsize photos before sending them.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::engine::{Policy, PolicyChange as Change, PolicyTimeline};
use crate::auth::Actor;
use crate::db::schema::{county_policies, policy_changes};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::i18n::Rule;
use crate::{audit, clock::now};

pub const MAX_STEP: std::ops::RangeInclusive<i64> = 1..=3;
pub const RECTIFY_MONTHS: std::ops::RangeInclusive<i64> = 1..=60;
pub const BAN_MONTHS: std::ops::RangeInclusive<i64> = 0..=120;
/// A phone downsizes photos to this longest side (0: sends the original).
pub const PHONE_PHOTO_MAX_PX: std::ops::RangeInclusive<i64> = 640..=8192;

/// The county's policy, or the programme's defaults when it has none of its own.
pub fn policy_of(conn: &mut DbConn, county_id: &str) -> QueryResult<Policy> {
    Ok(stored(conn, county_id)?.map(|(p, _)| p).unwrap_or_default())
}

/// Every policy the county has had, from the day each applied.
pub fn timeline_of(conn: &mut DbConn, county_id: &str) -> QueryResult<PolicyTimeline> {
    let rows: Vec<(NaiveDate, NaiveDateTime, i32, i32, i32)> = policy_changes::table
        .filter(policy_changes::county_id.eq(county_id))
        .order((
            policy_changes::effective_on.asc(),
            policy_changes::changed_at.asc(),
        ))
        .select((
            policy_changes::effective_on,
            policy_changes::changed_at,
            policy_changes::max_step,
            policy_changes::rectify_months,
            policy_changes::ban_months,
        ))
        .load(conn)?;
    Ok(PolicyTimeline::new(
        rows.into_iter()
            .map(|(from, made_at, max_step, rectify, ban)| Change {
                from,
                made_at: Some(made_at),
                policy: to_policy(max_step, rectify, ban),
            })
            .collect(),
    ))
}

fn to_policy(max_step: i32, rectify: i32, ban: i32) -> Policy {
    Policy {
        max_step: max_step.clamp(0, i32::from(u8::MAX)) as u8,
        rectify_months: rectify.max(0) as u32,
        ban_months: ban.max(0) as u32,
    }
}

/// How the county verifies: the programme's joint approval by its department and its
/// association (on unless the county verifies with one body), and whether townships check
/// their villages' declarations before the county sees them (off unless the county asks).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Procedure {
    pub joint_approval: bool,
    pub township_precheck: bool,
    /// The longest side, in pixels, to which phones downsize a photo before sending it; 0
    /// sends the original.
    pub phone_photo_max_px: u32,
}

impl Default for Procedure {
    fn default() -> Self {
        Procedure {
            joint_approval: true,
            township_precheck: false,
            phone_photo_max_px: 0,
        }
    }
}

/// The county's procedure, or the programme's when it set none.
pub fn procedure_of(conn: &mut DbConn, county_id: &str) -> QueryResult<Procedure> {
    let row: Option<(bool, bool, i32)> = county_policies::table
        .find(county_id)
        .select((
            county_policies::joint_approval,
            county_policies::township_precheck,
            county_policies::phone_photo_max_px,
        ))
        .first(conn)
        .optional()?;
    Ok(row
        .map(
            |(joint_approval, township_precheck, phone_photo_max_px)| Procedure {
                joint_approval,
                township_precheck,
                phone_photo_max_px: phone_photo_max_px.max(0) as u32,
            },
        )
        .unwrap_or_default())
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
    Ok(row.map(|(max_step, rectify, ban, at)| (to_policy(max_step, rectify, ban), at)))
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
    /// An approval needs one reviewer of the department and one of the association (the
    /// programme's rule, on by default); off, one reviewer of either body decides.
    pub joint_approval: bool,
    /// A village's declaration waits for its township to forward it before the county's
    /// inspectors see it (off by default).
    pub township_precheck: bool,
    /// The longest side, in pixels, to which the phone app downsizes a photo before sending it
    /// (keeping its EXIF block, and telling the server the original's size); 0, the default,
    /// sends the original. Otherwise 640–8192.
    pub phone_photo_max_px: u32,
    /// False while the county uses the programme's defaults.
    pub customized: bool,
    /// Every change, newest first: each applies from `effective_on`, never to the days before,
    /// and a rectification window or ban keeps the length it opened with.
    pub history: Vec<PolicyChangeView>,
}

/// One change of a county's policy: who made it, when, and the values from then on.
#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq, Eq)]
pub struct PolicyChangeView {
    /// The county-local day from which the values apply.
    pub effective_on: NaiveDate,
    pub max_step: u8,
    pub rectify_months: u32,
    pub ban_months: u32,
    /// The admin's username (`fieldstar` for values kept from before the history existed).
    pub changed_by_name: String,
    pub changed_at: chrono::DateTime<chrono::Utc>,
}

pub fn view(conn: &mut DbConn, county_id: &str) -> QueryResult<PolicyView> {
    let stored = stored(conn, county_id)?;
    let customized = stored.is_some();
    let p = stored.map(|(p, _)| p).unwrap_or_default();
    let procedure = procedure_of(conn, county_id)?;
    let rows: Vec<(NaiveDate, i32, i32, i32, String, NaiveDateTime)> = policy_changes::table
        .filter(policy_changes::county_id.eq(county_id))
        .order((
            policy_changes::effective_on.desc(),
            policy_changes::changed_at.desc(),
        ))
        .select((
            policy_changes::effective_on,
            policy_changes::max_step,
            policy_changes::rectify_months,
            policy_changes::ban_months,
            policy_changes::actor,
            policy_changes::changed_at,
        ))
        .load(conn)?;
    let history = rows
        .into_iter()
        .map(|(effective_on, max_step, rectify, ban, actor, at)| {
            let policy = to_policy(max_step, rectify, ban);
            PolicyChangeView {
                effective_on,
                max_step: policy.max_step,
                rectify_months: policy.rectify_months,
                ban_months: policy.ban_months,
                changed_by_name: actor,
                changed_at: at.and_utc(),
            }
        })
        .collect();
    Ok(PolicyView {
        county_id: county_id.to_string(),
        max_step: p.max_step,
        rectify_months: p.rectify_months,
        ban_months: p.ban_months,
        joint_approval: procedure.joint_approval,
        township_precheck: procedure.township_precheck,
        phone_photo_max_px: procedure.phone_photo_max_px,
        customized,
        history,
    })
}

/// A change to some of the policy's values; absent values stay as they are.
#[derive(Deserialize, ToSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    pub max_step: Option<i64>,
    pub rectify_months: Option<i64>,
    pub ban_months: Option<i64>,
    pub joint_approval: Option<bool>,
    pub township_precheck: Option<bool>,
    pub phone_photo_max_px: Option<i64>,
}

impl PolicyChange {
    /// Whether the change names any of the star rules (not only the procedure).
    fn names_star_rules(&self) -> bool {
        self.max_step.is_some() || self.rectify_months.is_some() || self.ban_months.is_some()
    }

    /// The procedure after the change.
    pub fn procedure(&self, current: Procedure) -> Procedure {
        Procedure {
            joint_approval: self.joint_approval.unwrap_or(current.joint_approval),
            township_precheck: self.township_precheck.unwrap_or(current.township_precheck),
            phone_photo_max_px: self
                .phone_photo_max_px
                .map_or(current.phone_photo_max_px, |v| {
                    v.clamp(0, i64::from(u32::MAX)) as u32
                }),
        }
    }

    /// The policy after the change, or 422 naming each value out of range.
    pub fn apply_to(&self, current: Policy) -> ApiResult<Policy> {
        let mut errors = Vec::new();
        let mut check =
            |name: &str, value: Option<i64>, range: std::ops::RangeInclusive<i64>| match value {
                Some(v) if !range.contains(&v) => {
                    errors.push(FieldError::new(
                        name,
                        Rule::Between
                            .with("min", *range.start())
                            .with("max", *range.end()),
                    ));
                    None
                }
                other => other,
            };
        let max_step = check("max_step", self.max_step, MAX_STEP);
        let rectify = check("rectify_months", self.rectify_months, RECTIFY_MONTHS);
        let ban = check("ban_months", self.ban_months, BAN_MONTHS);
        if let Some(px) = self.phone_photo_max_px {
            if px != 0 && !PHONE_PHOTO_MAX_PX.contains(&px) {
                errors.push(FieldError::new(
                    "phone_photo_max_px",
                    Rule::PhonePhotoMaxPx
                        .with("min", *PHONE_PHOTO_MAX_PX.start())
                        .with("max", *PHONE_PHOTO_MAX_PX.end()),
                ));
            }
        }
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

/// Applies `change` to the county's policy from now on, keeps it in the county's policy history
/// and audits it. It changes no village's status: what was decided keeps the terms it was
/// decided with (windows and bans keep their length); only what opens later takes the new
/// values. Call inside a write transaction.
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
    let procedure_before = procedure_of(conn, county_id)?;
    let procedure = change.procedure(procedure_before);
    let rules_changed = after != before || (existing.is_none() && change.names_star_rules());
    if !rules_changed && procedure == procedure_before && existing.is_some() {
        return Ok(view(conn, county_id)?);
    }
    let t = now();
    if rules_changed {
        record_rules(conn, county_id, &after, actor, today, t)?;
    }
    let values = (
        county_policies::max_step.eq(i32::from(after.max_step)),
        county_policies::rectify_months.eq(after.rectify_months as i32),
        county_policies::ban_months.eq(after.ban_months as i32),
        county_policies::joint_approval.eq(procedure.joint_approval),
        county_policies::township_precheck.eq(procedure.township_precheck),
        county_policies::phone_photo_max_px.eq(procedure.phone_photo_max_px as i32),
        county_policies::updated_at.eq(t),
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
                return Err(ApiError::conflict("policy_changed", Rule::PolicyChanged))
            }
            other => other?,
        };
    }
    if procedure_before.township_precheck && !procedure.township_precheck {
        // Without a township check, what waited for one goes to the county.
        forward_all_awaiting(conn, county_id, t)?;
    }
    audit::record(
        conn,
        actor,
        "policy.updated",
        "policy",
        county_id,
        Some(county_id),
        format!(
            "max_step {} → {}; rectify_months {} → {}; ban_months {} → {}; joint_approval {} → {}; township_precheck {} → {}; phone_photo_max_px {} → {}",
            before.max_step,
            after.max_step,
            before.rectify_months,
            after.rectify_months,
            before.ban_months,
            after.ban_months,
            procedure_before.joint_approval,
            procedure.joint_approval,
            procedure_before.township_precheck,
            procedure.township_precheck,
            procedure_before.phone_photo_max_px,
            procedure.phone_photo_max_px,
        ),
    )?;
    Ok(view(conn, county_id)?)
}

/// Moves every declaration of the county awaiting its township's check on to the county.
fn forward_all_awaiting(
    conn: &mut DbConn,
    county_id: &str,
    t: NaiveDateTime,
) -> QueryResult<usize> {
    use crate::db::schema::declarations;
    diesel::update(
        declarations::table
            .filter(declarations::county_id.eq(county_id))
            .filter(
                declarations::status.eq(crate::declarations::DeclarationStatus::AwaitingTownship),
            ),
    )
    .set((
        declarations::status.eq(crate::declarations::DeclarationStatus::Pending),
        declarations::updated_at.eq(t),
    ))
    .execute(conn)
}

/// Keeps a change of the star rules in the county's policy history, from `today` on.
fn record_rules(
    conn: &mut DbConn,
    county_id: &str,
    after: &Policy,
    actor: &Actor,
    today: NaiveDate,
    t: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(policy_changes::table)
        .values((
            policy_changes::id.eq(uuid::Uuid::now_v7().to_string()),
            policy_changes::county_id.eq(county_id),
            policy_changes::effective_on.eq(today),
            policy_changes::max_step.eq(i32::from(after.max_step)),
            policy_changes::rectify_months.eq(after.rectify_months as i32),
            policy_changes::ban_months.eq(after.ban_months as i32),
            policy_changes::actor_id.eq(actor.id.as_deref()),
            policy_changes::actor.eq(&actor.name),
            policy_changes::changed_at.eq(t),
        ))
        .execute(conn)
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
            ..Default::default()
        };
        let e = change.apply_to(Policy::default()).unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["max_step", "rectify_months", "ban_months"]);
        for bad in [-1, 1, 639, 8193] {
            let change = PolicyChange {
                phone_photo_max_px: Some(bad),
                ..Default::default()
            };
            let e = change.apply_to(Policy::default()).unwrap_err();
            assert_eq!(e.errors[0].field, "phone_photo_max_px", "{bad}");
        }
        for good in [0, 640, 1600, 8192] {
            let change = PolicyChange {
                phone_photo_max_px: Some(good),
                ..Default::default()
            };
            assert!(change.apply_to(Policy::default()).is_ok(), "{good}");
            let p = change.procedure(Procedure::default());
            assert_eq!(i64::from(p.phone_photo_max_px), good);
        }
        let edges = PolicyChange {
            max_step: Some(3),
            rectify_months: Some(1),
            ban_months: Some(0),
            ..Default::default()
        };
        assert!(edges.apply_to(Policy::default()).is_ok());
    }
}
