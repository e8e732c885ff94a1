//! Loading what the engine needs (baseline, decisions, policy) for one village, and the wire
//! view of its answer.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::engine::{
    self, Baseline, Consequence, Decision, DeclarationKind, HistoryEvent, Outcome, StarStatus,
};
use crate::db::schema::{decisions, declarations, star_baselines};
use crate::db::DbConn;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::review::rules::DecisionKind;

/// The level a village held before the county used fieldstar, if one was imported.
pub fn baseline_of(conn: &mut DbConn, village_id: &str) -> QueryResult<Option<Baseline>> {
    let row: Option<(i32, String)> = star_baselines::table
        .find(village_id)
        .select((star_baselines::level, star_baselines::since_quarter))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(level, quarter)| to_baseline(village_id, level, &quarter)))
}

fn to_baseline(village_id: &str, level: i32, quarter: &str) -> Option<Baseline> {
    match Quarter::parse(quarter) {
        Ok(since_quarter) => Some(Baseline {
            level: level.clamp(0, i32::from(engine::MAX_LEVEL)) as u8,
            since_quarter,
        }),
        Err(e) => {
            tracing::warn!(village_id, error = %e, "star baseline with an unreadable quarter ignored");
            None
        }
    }
}

/// What the engine needs for one village: its baseline and its decisions in order (with the
/// renewals its county left unverified).
pub type EngineInputs = (Option<Baseline>, Vec<Decision>);

/// The engine's inputs for many villages in three queries (reports walk whole counties).
pub fn inputs_of(
    conn: &mut DbConn,
    village_ids: &[String],
) -> QueryResult<std::collections::HashMap<String, EngineInputs>> {
    let mut out: std::collections::HashMap<String, EngineInputs> = village_ids
        .iter()
        .map(|id| (id.clone(), (None, Vec::new())))
        .collect();
    let baselines: Vec<(String, i32, String)> = star_baselines::table
        .filter(star_baselines::village_id.eq_any(village_ids))
        .select((
            star_baselines::village_id,
            star_baselines::level,
            star_baselines::since_quarter,
        ))
        .load(conn)?;
    for (village, level, quarter) in baselines {
        if let Some(entry) = out.get_mut(&village) {
            entry.0 = to_baseline(&village, level, &quarter);
        }
    }
    let rows: Vec<(String, DecisionRow)> = decisions::table
        .filter(decisions::village_id.eq_any(village_ids))
        .filter(decisions::reopened_at.is_null())
        .order((decisions::decided_at.asc(), decisions::id.asc()))
        .select((
            decisions::village_id,
            (
                decisions::id,
                decisions::quarter,
                decisions::star_level,
                decisions::kind,
                decisions::decision,
                decisions::consequence,
                decisions::decided_on,
                decisions::decided_at,
            ),
        ))
        .load(conn)?;
    for (village, row) in rows {
        if let (Some(entry), Some(d)) = (out.get_mut(&village), row.decision()) {
            entry.1.push(d);
        }
    }
    let unverified: Vec<(String, UnverifiedRow)> = declarations::table
        .filter(declarations::status.eq(crate::declarations::DeclarationStatus::Unverified))
        .filter(declarations::village_id.eq_any(village_ids))
        .select((
            declarations::village_id,
            (
                declarations::id,
                declarations::quarter,
                declarations::star_level,
                declarations::closed_on,
            ),
        ))
        .load(conn)?;
    for (village, row) in unverified {
        if let (Some(entry), Some(d)) = (out.get_mut(&village), row.decision()) {
            entry.1.push(d);
        }
    }
    Ok(out)
}

/// A renewal whose quarter's window closed uninspected, as the engine's decision.
#[derive(Queryable)]
struct UnverifiedRow {
    id: String,
    quarter: String,
    star_level: i32,
    closed_on: Option<NaiveDate>,
}

impl UnverifiedRow {
    fn decision(self) -> Option<Decision> {
        let (Ok(quarter), Some(on)) = (Quarter::parse(&self.quarter), self.closed_on) else {
            tracing::warn!(declaration_id = %self.id, "unverified declaration the star engine cannot read, ignored");
            return None;
        };
        Some(Decision {
            decided_on: on,
            decided_at: None,
            quarter,
            declared_level: self.star_level.clamp(0, i32::from(u8::MAX)) as u8,
            kind: DeclarationKind::Renewal,
            outcome: Outcome::Unverified,
        })
    }
}

#[derive(Queryable)]
struct DecisionRow {
    id: String,
    quarter: String,
    star_level: i32,
    kind: String,
    decision: String,
    consequence: Option<String>,
    decided_on: NaiveDate,
    decided_at: chrono::NaiveDateTime,
}

impl DecisionRow {
    /// The engine's decision; `None` for rows that move no star (returns) or cannot be read.
    fn decision(self) -> Option<Decision> {
        let Some(kind) = DeclarationKind::parse(&self.kind) else {
            return self.unreadable("kind");
        };
        let consequence = match self.consequence.as_deref() {
            None => None,
            Some(text) => match Consequence::parse(text) {
                Some(c) => Some(c),
                None => return self.unreadable("consequence"),
            },
        };
        let outcome = match DecisionKind::parse(&self.decision) {
            Some(DecisionKind::Approve) => Outcome::Approve,
            Some(DecisionKind::Reject) => Outcome::Reject { consequence },
            Some(DecisionKind::Return) => return None,
            None => return self.unreadable("decision"),
        };
        let Ok(quarter) = Quarter::parse(&self.quarter) else {
            return self.unreadable("quarter");
        };
        Some(Decision {
            decided_on: self.decided_on,
            decided_at: Some(self.decided_at),
            quarter,
            declared_level: self.star_level.clamp(0, i32::from(u8::MAX)) as u8,
            kind,
            outcome,
        })
    }

    fn unreadable(&self, field: &str) -> Option<Decision> {
        tracing::warn!(decision_id = %self.id, field, "decision row the star engine cannot read, ignored");
        None
    }
}

/// The village's decisions in force (not reopened), in the order they were taken, and its
/// unverified renewals.
pub fn decisions_of(conn: &mut DbConn, village_id: &str) -> QueryResult<Vec<Decision>> {
    let rows: Vec<DecisionRow> = decisions::table
        .filter(decisions::village_id.eq(village_id))
        .filter(decisions::reopened_at.is_null())
        .order((decisions::decided_at.asc(), decisions::id.asc()))
        .select((
            decisions::id,
            decisions::quarter,
            decisions::star_level,
            decisions::kind,
            decisions::decision,
            decisions::consequence,
            decisions::decided_on,
            decisions::decided_at,
        ))
        .load(conn)?;
    let mut out: Vec<Decision> = rows.into_iter().filter_map(DecisionRow::decision).collect();
    let unverified: Vec<UnverifiedRow> = declarations::table
        .filter(declarations::status.eq(crate::declarations::DeclarationStatus::Unverified))
        .filter(declarations::village_id.eq(village_id))
        .select((
            declarations::id,
            declarations::quarter,
            declarations::star_level,
            declarations::closed_on,
        ))
        .load(conn)?;
    out.extend(unverified.into_iter().filter_map(UnverifiedRow::decision));
    Ok(out)
}

/// The village's star status on `as_of`: its baseline, decisions and county policy through
/// the engine. The caller has already checked that the village is in scope.
pub fn status_of(
    conn: &mut DbConn,
    village: &OrgUnit,
    as_of: NaiveDate,
) -> QueryResult<StarStatus> {
    let baseline = baseline_of(conn, &village.id)?;
    let decisions = decisions_of(conn, &village.id)?;
    let policies = super::policy::timeline_of(conn, &village.county_id)?;
    Ok(engine::star_status(
        baseline.as_ref(),
        &decisions,
        &policies,
        as_of,
    ))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RectificationView {
    /// The level the village may regain.
    pub from_level: u8,
    /// The first day on which the window has lapsed.
    pub deadline: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntryView {
    pub on: NaiveDate,
    /// The declaration's quarter (`2026-Q4`); null for events the calendar caused (bans).
    #[schema(value_type = Option<String>, example = "2026-Q4")]
    pub quarter: Option<Quarter>,
    /// `baseline`, `granted`, `renewed`, `upgrade_rejected`, `downgraded`, `revoked`,
    /// `regained`, `banned`, `ban_ended` or `unverified`.
    #[schema(value_type = String)]
    pub event: HistoryEvent,
    pub from_level: u8,
    pub to_level: u8,
}

/// A village's star status on a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StarStatusView {
    pub village_id: String,
    /// 0 (no star) to 3.
    pub level: u8,
    /// The quarter since which the village holds `level`; null at level 0.
    #[schema(value_type = Option<String>, example = "2026-Q4")]
    pub since_quarter: Option<Quarter>,
    pub rectification: Option<RectificationView>,
    /// Set while a ban runs: the village may declare upgrades again on this date (its level
    /// is still renewed and verified every quarter).
    pub banned_until: Option<NaiveDate>,
    /// Quarters whose renewal of the present level the county did not verify in time.
    #[schema(value_type = Vec<String>, example = json!(["2026-Q3"]))]
    pub unverified_quarters: Vec<Quarter>,
    /// Oldest first.
    pub history: Vec<HistoryEntryView>,
}

impl StarStatusView {
    pub fn new(village_id: &str, status: StarStatus) -> Self {
        StarStatusView {
            village_id: village_id.to_string(),
            level: status.level,
            since_quarter: status.since_quarter,
            rectification: status.rectification.map(|w| RectificationView {
                from_level: w.from_level,
                deadline: w.deadline,
            }),
            banned_until: status.banned_until,
            unverified_quarters: status.unverified_quarters,
            history: status
                .history
                .into_iter()
                .map(|h| HistoryEntryView {
                    on: h.on,
                    quarter: h.quarter,
                    event: h.event,
                    from_level: h.from_level,
                    to_level: h.to_level,
                })
                .collect(),
        }
    }
}

/// When a decision or a policy change moved the village's level, window or ban: writes the
/// `star_status.changed` event (with `from_level`) and its audit entry, in the caller's
/// transaction. Returns whether it did.
pub fn announce_change(
    conn: &mut DbConn,
    actor: &crate::auth::Actor,
    village: &OrgUnit,
    before: &StarStatus,
    after: &StarStatus,
    cause: &str,
) -> QueryResult<bool> {
    let key = |s: &StarStatus| (s.level, s.rectification, s.banned_until);
    if key(before) == key(after) {
        return Ok(false);
    }
    let mut data = changed_event_data(village, after);
    data["from_level"] = before.level.into();
    add_benefits(conn, &mut data, village, before.level, after.level)?;
    crate::webhooks::outbox::enqueue(
        conn,
        &village.county_id,
        crate::webhooks::outbox::STAR_STATUS_CHANGED,
        data,
    )?;
    crate::audit::record(
        conn,
        actor,
        "star_status.changed",
        "village",
        &village.id,
        Some(&village.county_id),
        format!("level {} → {}{cause}", before.level, after.level),
    )?;
    Ok(true)
}

/// Adds `benefits_gained` and `benefits_lost` to a `star_status.changed` event: the codes of
/// the county's current catalogue that the move from `before` to `after` starts and stops.
pub fn add_benefits(
    conn: &mut DbConn,
    data: &mut serde_json::Value,
    village: &OrgUnit,
    before: u8,
    after: u8,
) -> QueryResult<()> {
    let change = crate::benefits::store::gained_and_lost(conn, &village.county_id, before, after)?;
    data["benefits_gained"] = change.gained.into();
    data["benefits_lost"] = change.lost.into();
    Ok(())
}

/// The data of a `star_status.changed` event: the village's status without its history.
pub fn changed_event_data(village: &OrgUnit, status: &StarStatus) -> serde_json::Value {
    serde_json::json!({
        "village_id": village.id,
        "village_code": village.code,
        "level": status.level,
        "since_quarter": status.since_quarter,
        "rectification": status.rectification,
        "banned_until": status.banned_until,
    })
}
