//! Star status: the pure engine over a village's baseline and decisions, and the loading
//! that feeds it from the database.

pub mod engine;

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{county_policies, decisions, star_baselines};
use crate::db::DbConn;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use engine::{Baseline, Consequence, Decision, DeclarationKind, Outcome, Policy, StarStatus};

/// The county's policy, or the programme's defaults (1 step, 12 months, 36 months).
pub fn policy_of(conn: &mut DbConn, county_id: &str) -> QueryResult<Policy> {
    let row: Option<(i32, i32, i32)> = county_policies::table
        .find(county_id)
        .select((
            county_policies::max_step,
            county_policies::rectify_months,
            county_policies::ban_months,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map_or_else(Policy::default, |(s, r, b)| Policy {
        max_step: s.clamp(1, 3) as u8,
        rectify_months: r.max(0) as u32,
        ban_months: b.max(0) as u32,
    }))
}

/// A village's star status on `as_of`, from its baseline, its decisions and the policy.
pub fn status_of(
    conn: &mut DbConn,
    village: &OrgUnit,
    as_of: NaiveDate,
) -> QueryResult<StarStatus> {
    let baseline: Option<(i32, String)> = star_baselines::table
        .find(&village.id)
        .select((star_baselines::level, star_baselines::since_quarter))
        .first(conn)
        .optional()?;
    let baseline = baseline.and_then(|(level, q)| {
        Some(Baseline {
            level: level.clamp(0, 3) as u8,
            since_quarter: Quarter::parse(&q).ok()?,
        })
    });
    let rows: Vec<(NaiveDate, String, i32, String, String, Option<String>)> = decisions::table
        .filter(decisions::village_id.eq(&village.id))
        .filter(decisions::decision.ne("return"))
        .order((decisions::decided_at.asc(), decisions::id.asc()))
        .select((
            decisions::decided_on,
            decisions::quarter,
            decisions::star_level,
            decisions::kind,
            decisions::decision,
            decisions::consequence,
        ))
        .load(conn)?;
    let decisions: Vec<Decision> = rows
        .into_iter()
        .filter_map(
            |(decided_on, quarter, level, kind, decision, consequence)| {
                Some(Decision {
                    decided_on,
                    quarter: Quarter::parse(&quarter).ok()?,
                    declared_level: level.clamp(0, 3) as u8,
                    kind: if kind == "renewal" {
                        DeclarationKind::Renewal
                    } else {
                        DeclarationKind::Upgrade
                    },
                    outcome: match decision.as_str() {
                        "approve" => Outcome::Approve,
                        _ => Outcome::Reject {
                            consequence: match consequence.as_deref() {
                                Some("revoke") => Some(Consequence::Revoke),
                                Some("downgrade") => Some(Consequence::Downgrade),
                                _ => None,
                            },
                        },
                    },
                })
            },
        )
        .collect();
    let policy = policy_of(conn, &village.county_id)?;
    Ok(engine::star_status(
        baseline.as_ref(),
        &decisions,
        &policy,
        as_of,
    ))
}
