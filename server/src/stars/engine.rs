//! The star status engine: a village's level, rectification window and ban, derived purely from
//! its baseline, its reviewers' decisions and the county's policy, as of a given date.

use chrono::{Months, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::quarter::Quarter;

/// The highest star level the programme knows.
pub const MAX_LEVEL: u8 = 3;

/// A county's rules for climbing, losing and regaining stars.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// How many levels one declaration may climb above the level held.
    pub max_step: u8,
    /// How long a downgraded or disqualified village has to regain its level.
    pub rectify_months: u32,
    /// How long a village that failed to rectify is kept out of star evaluation.
    pub ban_months: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_step: 1,
            rectify_months: 12,
            ban_months: 36,
        }
    }
}

/// A county's policies over time: each change applies from the moment it was made, never to
/// what was decided before it, and a window or ban keeps the length it opened with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyTimeline {
    /// Oldest first; before the first, the programme's defaults.
    changes: Vec<PolicyChange>,
}

/// A policy in force from a day (and, on that day, from the moment it was made).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PolicyChange {
    /// The county-local day from which it applies.
    pub from: NaiveDate,
    /// When it was made; a decision taken earlier that day keeps the policy before it.
    pub made_at: Option<NaiveDateTime>,
    pub policy: Policy,
}

impl PolicyTimeline {
    /// The timeline of these changes; changes of the same day apply in the order made.
    pub fn new(mut changes: Vec<PolicyChange>) -> PolicyTimeline {
        changes.sort_by_key(|c| (c.from, c.made_at));
        PolicyTimeline { changes }
    }

    /// The policy in force at the start of `day`: the calendar's (lapsing windows).
    pub fn at(&self, day: NaiveDate) -> Policy {
        self.find(|c| c.from < day || (c.from == day && c.made_at.is_none()))
    }

    /// The policy a decision is taken under: changes made before it, that day included.
    pub fn for_decision(&self, decision: &Decision) -> Policy {
        self.find(|c| {
            c.from < decision.decided_on
                || (c.from == decision.decided_on
                    && match (c.made_at, decision.decided_at) {
                        (Some(made), Some(decided)) => made <= decided,
                        _ => true,
                    })
        })
    }

    fn find(&self, in_force: impl Fn(&PolicyChange) -> bool) -> Policy {
        self.changes
            .iter()
            .rev()
            .find(|c| in_force(c))
            .map_or_else(Policy::default, |c| c.policy)
    }

    /// This timeline with `policy` in force from `from` on (made at `made_at` that day).
    pub fn with_change(
        &self,
        from: NaiveDate,
        made_at: Option<NaiveDateTime>,
        policy: Policy,
    ) -> PolicyTimeline {
        let mut changes = self.changes.clone();
        changes.push(PolicyChange {
            from,
            made_at,
            policy,
        });
        PolicyTimeline::new(changes)
    }
}

impl From<Policy> for PolicyTimeline {
    /// One policy, in force on every day.
    fn from(policy: Policy) -> PolicyTimeline {
        PolicyTimeline::new(vec![PolicyChange {
            from: NaiveDate::MIN,
            made_at: None,
            policy,
        }])
    }
}

/// A level the village held before the county used fieldstar (`fieldstar stars import`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub level: u8,
    pub since_quarter: Quarter,
}

/// An upgrade climbs a level; a renewal verifies the level held.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclarationKind {
    Upgrade,
    Renewal,
}

impl DeclarationKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeclarationKind::Upgrade => "upgrade",
            DeclarationKind::Renewal => "renewal",
        }
    }

    pub fn parse(text: &str) -> Option<DeclarationKind> {
        [DeclarationKind::Upgrade, DeclarationKind::Renewal]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// What a rejected renewal costs the village: one level, or all of them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Consequence {
    Downgrade,
    Revoke,
}

impl Consequence {
    pub const fn as_str(self) -> &'static str {
        match self {
            Consequence::Downgrade => "downgrade",
            Consequence::Revoke => "revoke",
        }
    }

    pub fn parse(text: &str) -> Option<Consequence> {
        [Consequence::Downgrade, Consequence::Revoke]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approve,
    Reject {
        consequence: Option<Consequence>,
    },
    /// The quarter's verification window closed before the county inspected the renewal: the
    /// village keeps its level (the county missed the visit, not the village).
    Unverified,
}

/// A reviewer's final decision on a declaration (returns are not decisions here), or the
/// calendar's verdict on a renewal nobody inspected ([`Outcome::Unverified`], decided on the
/// day after its window closed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The county-local date of the decision.
    pub decided_on: NaiveDate,
    /// The instant of the decision (UTC), when known: it orders a decision and a policy change
    /// made on the same day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<NaiveDateTime>,
    pub quarter: Quarter,
    pub declared_level: u8,
    pub kind: DeclarationKind,
    pub outcome: Outcome,
}

/// A running window in which a downgraded or disqualified village may regain `from_level`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rectification {
    pub from_level: u8,
    /// The first day on which the window has lapsed; regaining must be decided before it.
    pub deadline: NaiveDate,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryEvent {
    Baseline,
    Granted,
    Renewed,
    UpgradeRejected,
    Downgraded,
    Revoked,
    Regained,
    Banned,
    BanEnded,
    /// A renewal the county did not inspect within its quarter's window.
    Unverified,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub on: NaiveDate,
    /// The declaration's quarter; `None` for events the calendar caused (bans).
    pub quarter: Option<Quarter>,
    pub event: HistoryEvent,
    pub from_level: u8,
    pub to_level: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarStatus {
    pub level: u8,
    /// The quarter since which the village holds `level`; `None` at level 0.
    pub since_quarter: Option<Quarter>,
    pub rectification: Option<Rectification>,
    /// Set while a ban runs; the village may declare upgrades again on this date.
    pub banned_until: Option<NaiveDate>,
    /// The quarters whose renewal of the present level the county did not verify, oldest first.
    pub unverified_quarters: Vec<Quarter>,
    /// Oldest first.
    pub history: Vec<HistoryEntry>,
}

/// The village's star status on `as_of`.
///
/// Decisions are applied in order of `decided_on` (ties keep their input order); those after
/// `as_of`, and those before the baseline's quarter began (the imported level supersedes them),
/// are ignored. Rules:
/// - an approved upgrade grants the declared level from its quarter; an approved renewal keeps
///   the level; a rejected upgrade changes nothing. Stars are climbed one step a quarter: an
///   upgrade raises the level by `max_step` at most, and a second approved upgrade in a
///   quarter that already had one is not applied;
/// - a rejected renewal downgrades one level, or revokes to 0 with [`Consequence::Revoke`]; a
///   rejection without a consequence counts as a downgrade, the milder reading of the programme's
///   "downgraded or disqualified". A village at level 0 has nothing to lose and nothing happens;
/// - losing a level opens a rectification window of `rectify_months` (the policy in force that
///   day) to regain the level held before. A further loss while a window runs keeps the
///   original window. An approval decided before the deadline that brings the level back to
///   `from_level` closes it (`regained`);
/// - on the deadline an unrectified window lapses: the village keeps its present level and is
///   banned from upgrades until deadline + `ban_months` (the policy in force on the deadline);
///   the ban ends on that date;
/// - a ban keeps verification: the level held is renewed every quarter, and a failed renewal
///   downgrades or revokes as usual, but opens no window (a banned village cannot declare the
///   upgrade that would regain the level, so a window could only lapse into a longer ban);
/// - an unverified renewal keeps the level and is listed in `unverified_quarters` until the
///   level changes.
///
/// Month arithmetic clamps to the month's end (2026-01-31 + 1 month = 2026-02-28).
pub fn star_status(
    baseline: Option<&Baseline>,
    decisions: &[Decision],
    policies: &PolicyTimeline,
    as_of: NaiveDate,
) -> StarStatus {
    let mut status = StarStatus {
        level: 0,
        since_quarter: None,
        rectification: None,
        banned_until: None,
        unverified_quarters: Vec::new(),
        history: Vec::new(),
    };
    let mut not_before = NaiveDate::MIN;
    if let Some(baseline) = baseline {
        not_before = baseline.since_quarter.first_day();
        let level = baseline.level.min(MAX_LEVEL);
        if level > 0 {
            status.level = level;
            status.since_quarter = Some(baseline.since_quarter);
            status.history.push(HistoryEntry {
                on: not_before,
                quarter: Some(baseline.since_quarter),
                event: HistoryEvent::Baseline,
                from_level: 0,
                to_level: level,
            });
        }
    }

    let mut in_force: Vec<&Decision> = decisions
        .iter()
        .filter(|d| d.decided_on >= not_before && d.decided_on <= as_of)
        .collect();
    in_force.sort_by_key(|d| d.decided_on);

    let mut upgraded_in: Vec<Quarter> = Vec::new();
    for decision in in_force {
        pass_time(&mut status, policies, decision.decided_on);
        if decision.kind == DeclarationKind::Upgrade && decision.outcome == Outcome::Approve {
            if upgraded_in.contains(&decision.quarter) {
                continue;
            }
            upgraded_in.push(decision.quarter);
        }
        apply(&mut status, &policies.for_decision(decision), decision);
    }
    pass_time(&mut status, policies, as_of);
    status
}

/// Lets the calendar act up to and including `today`: lapsing windows and ending bans, in the
/// order they happen.
fn pass_time(status: &mut StarStatus, policies: &PolicyTimeline, today: NaiveDate) {
    loop {
        let lapse = status
            .rectification
            .map(|window| window.deadline)
            .filter(|deadline| *deadline <= today);
        let ban_end = status.banned_until.filter(|until| *until <= today);
        match (lapse, ban_end) {
            (Some(deadline), None) => lapse_window(status, &policies.at(deadline), deadline),
            (Some(deadline), Some(end)) if deadline < end => {
                lapse_window(status, &policies.at(deadline), deadline)
            }
            (_, Some(end)) => {
                status.banned_until = None;
                record(status, end, None, HistoryEvent::BanEnded, status.level);
            }
            (None, None) => return,
        }
    }
}

fn lapse_window(status: &mut StarStatus, policy: &Policy, deadline: NaiveDate) {
    status.rectification = None;
    let until = add_months(deadline, policy.ban_months);
    status.banned_until = Some(status.banned_until.map_or(until, |b| b.max(until)));
    record(status, deadline, None, HistoryEvent::Banned, status.level);
}

fn apply(status: &mut StarStatus, policy: &Policy, decision: &Decision) {
    let on = decision.decided_on;
    let quarter = Some(decision.quarter);
    let held = status.level;
    match (decision.kind, decision.outcome) {
        (DeclarationKind::Upgrade, Outcome::Approve) => {
            let level = decision
                .declared_level
                .min(MAX_LEVEL)
                .min(held.saturating_add(policy.max_step));
            if level <= held {
                return;
            }
            status.level = level;
            status.since_quarter = (level > 0).then_some(decision.quarter);
            let event = if close_if_regained(status) {
                HistoryEvent::Regained
            } else {
                HistoryEvent::Granted
            };
            record(status, on, quarter, event, held);
        }
        (DeclarationKind::Renewal, Outcome::Approve) => {
            let event = if close_if_regained(status) {
                HistoryEvent::Regained
            } else {
                HistoryEvent::Renewed
            };
            record(status, on, quarter, event, held);
        }
        (DeclarationKind::Upgrade, Outcome::Reject { .. }) => {
            record(status, on, quarter, HistoryEvent::UpgradeRejected, held);
        }
        (_, Outcome::Unverified) if held == 0 => {}
        (_, Outcome::Unverified) => {
            if !status.unverified_quarters.contains(&decision.quarter) {
                status.unverified_quarters.push(decision.quarter);
            }
            record(status, on, quarter, HistoryEvent::Unverified, held);
        }
        (DeclarationKind::Renewal, Outcome::Reject { .. }) if held == 0 => {}
        (DeclarationKind::Renewal, Outcome::Reject { consequence }) => {
            let (level, event) = match consequence.unwrap_or(Consequence::Downgrade) {
                Consequence::Downgrade => (held - 1, HistoryEvent::Downgraded),
                Consequence::Revoke => (0, HistoryEvent::Revoked),
            };
            status.level = level;
            status.since_quarter = (level > 0).then_some(decision.quarter);
            if status.rectification.is_none() && status.banned_until.is_none() {
                status.rectification = Some(Rectification {
                    from_level: held,
                    deadline: add_months(on, policy.rectify_months),
                });
            }
            record(status, on, quarter, event, held);
        }
    }
}

/// Closes the running window when the level is back; the caller has already lapsed windows
/// whose deadline is not after the decision.
fn close_if_regained(status: &mut StarStatus) -> bool {
    match status.rectification {
        Some(window) if status.level >= window.from_level => {
            status.rectification = None;
            true
        }
        _ => false,
    }
}

fn record(
    status: &mut StarStatus,
    on: NaiveDate,
    quarter: Option<Quarter>,
    event: HistoryEvent,
    from_level: u8,
) {
    let to_level = status.level;
    if to_level != from_level {
        status.unverified_quarters.clear();
    }
    status.history.push(HistoryEntry {
        on,
        quarter,
        event,
        from_level,
        to_level,
    });
}

fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// Why a declaration is refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "the village did not regain its star level within the rectification period and may not \
         declare an upgrade until {until}; it may renew the level it holds"
    )]
    Banned { until: NaiveDate },
    #[error(
        "stars are climbed one step a quarter: the village already declared an upgrade for \
         {quarter}"
    )]
    QuarterUsed { quarter: Quarter },
    #[error("a star level must be 1, 2 or 3")]
    InvalidLevel,
    #[error(
        "star levels are climbed one step at a time: a village at level {current} may declare at \
         most level {max}"
    )]
    StepTooLarge { current: u8, max: u8 },
    #[error("the village already holds level {current}; declare level {current} to renew it")]
    BelowCurrent { current: u8 },
}

impl Refusal {
    /// The reason in words, for problem+json `detail`.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// A stable machine code for problem+json `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Banned { .. } => "declaration.banned",
            Refusal::QuarterUsed { .. } => "declaration.quarter_used",
            Refusal::InvalidLevel => "declaration.invalid_level",
            Refusal::StepTooLarge { .. } => "declaration.step_too_large",
            Refusal::BelowCurrent { .. } => "declaration.below_current",
        }
    }
}

/// Whether a village with `status` may declare `level` for `quarter`, and if so whether it is
/// an upgrade or a renewal. `status` must be computed as of the day of the declaration;
/// `upgrade_declared` says whether the village already has an upgrade declaration for
/// `quarter` (open or decided: one step a quarter). A banned village may renew the level it
/// holds, never declare an upgrade.
pub fn check_declaration(
    status: &StarStatus,
    level: u8,
    policy: &Policy,
    quarter: Quarter,
    upgrade_declared: bool,
) -> Result<DeclarationKind, Refusal> {
    if !(1..=MAX_LEVEL).contains(&level) {
        return Err(Refusal::InvalidLevel);
    }
    let current = status.level;
    let max = current.saturating_add(policy.max_step).min(MAX_LEVEL);
    if level < current {
        return Err(Refusal::BelowCurrent { current });
    }
    if level == current {
        return Ok(DeclarationKind::Renewal);
    }
    if let Some(until) = status.banned_until {
        Err(Refusal::Banned { until })
    } else if level > max {
        Err(Refusal::StepTooLarge { current, max })
    } else if upgrade_declared {
        Err(Refusal::QuarterUsed { quarter })
    } else {
        Ok(DeclarationKind::Upgrade)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HistoryEvent::{
        BanEnded, Banned, Downgraded, Granted, Regained, Renewed, Revoked, UpgradeRejected,
    };

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date")
    }

    fn quarter(text: &str) -> Quarter {
        Quarter::parse(text).expect("test quarter")
    }

    fn decision(on: NaiveDate, level: u8, kind: DeclarationKind, outcome: Outcome) -> Decision {
        Decision {
            decided_on: on,
            decided_at: None,
            quarter: Quarter::containing(on),
            declared_level: level,
            kind,
            outcome,
        }
    }

    fn upgrade_approved(on: NaiveDate, level: u8) -> Decision {
        decision(on, level, DeclarationKind::Upgrade, Outcome::Approve)
    }

    fn upgrade_rejected(on: NaiveDate, level: u8) -> Decision {
        let outcome = Outcome::Reject { consequence: None };
        decision(on, level, DeclarationKind::Upgrade, outcome)
    }

    fn renewal_approved(on: NaiveDate, level: u8) -> Decision {
        decision(on, level, DeclarationKind::Renewal, Outcome::Approve)
    }

    fn renewal_rejected(on: NaiveDate, level: u8, consequence: Option<Consequence>) -> Decision {
        let outcome = Outcome::Reject { consequence };
        decision(on, level, DeclarationKind::Renewal, outcome)
    }

    fn status(decisions: &[Decision], as_of: NaiveDate) -> StarStatus {
        star_status(None, decisions, &Policy::default().into(), as_of)
    }

    fn check(status: &StarStatus, level: u8, policy: &Policy) -> Result<DeclarationKind, Refusal> {
        check_declaration(status, level, policy, quarter("2026-Q4"), false)
    }

    fn events(status: &StarStatus) -> Vec<HistoryEvent> {
        status.history.iter().map(|entry| entry.event).collect()
    }

    /// Three stars climbed a step a quarter, the last on 2026-01-20.
    fn three_stars_on_2026_01_20() -> Vec<Decision> {
        vec![
            upgrade_approved(day(2025, 7, 20), 1),
            upgrade_approved(day(2025, 10, 20), 2),
            upgrade_approved(day(2026, 1, 20), 3),
        ]
    }

    #[test]
    fn an_upgrade_never_climbs_more_than_a_step() {
        let status = status(&[upgrade_approved(day(2026, 1, 20), 3)], day(2026, 2, 1));
        assert_eq!(status.level, 1);
        let two_steps = Policy {
            max_step: 2,
            ..Policy::default()
        };
        let decisions = [upgrade_approved(day(2026, 1, 20), 3)];
        let status = star_status(None, &decisions, &two_steps.into(), day(2026, 2, 1));
        assert_eq!(status.level, 2);
    }

    /// Level 2 granted in 2026 (1 then 2), then a failed renewal on 2027-03-15.
    fn downgraded_on_2027_03_15(consequence: Option<Consequence>) -> Vec<Decision> {
        vec![
            upgrade_approved(day(2026, 3, 20), 1),
            upgrade_approved(day(2026, 6, 20), 2),
            renewal_rejected(day(2027, 3, 15), 2, consequence),
        ]
    }

    #[test]
    fn a_village_without_decisions_holds_no_stars() {
        let status = status(&[], day(2026, 1, 1));
        assert_eq!(status.level, 0);
        assert_eq!(status.since_quarter, None);
        assert_eq!(status.rectification, None);
        assert_eq!(status.banned_until, None);
        assert!(status.history.is_empty());
    }

    #[test]
    fn approved_upgrade_grants_the_level_from_its_quarter() {
        let status = status(&[upgrade_approved(day(2026, 11, 20), 1)], day(2026, 12, 1));
        assert_eq!(status.level, 1);
        assert_eq!(status.since_quarter, Some(quarter("2026-Q4")));
        assert_eq!(
            status.history,
            vec![HistoryEntry {
                on: day(2026, 11, 20),
                quarter: Some(quarter("2026-Q4")),
                event: Granted,
                from_level: 0,
                to_level: 1,
            }]
        );
    }

    #[test]
    fn approved_renewal_keeps_the_level_and_its_since_quarter() {
        let decisions = [
            upgrade_approved(day(2026, 2, 10), 1),
            renewal_approved(day(2026, 5, 10), 1),
        ];
        let status = status(&decisions, day(2026, 6, 1));
        assert_eq!(status.level, 1);
        assert_eq!(status.since_quarter, Some(quarter("2026-Q1")));
        assert_eq!(events(&status), vec![Granted, Renewed]);
        assert_eq!(status.history[1].from_level, 1);
        assert_eq!(status.history[1].to_level, 1);
    }

    #[test]
    fn rejected_upgrade_changes_nothing() {
        let decisions = [
            upgrade_approved(day(2026, 2, 10), 1),
            upgrade_rejected(day(2026, 5, 10), 2),
        ];
        let status = status(&decisions, day(2026, 6, 1));
        assert_eq!(status.level, 1);
        assert_eq!(status.since_quarter, Some(quarter("2026-Q1")));
        assert_eq!(status.rectification, None);
        assert_eq!(status.banned_until, None);
        assert_eq!(events(&status), vec![Granted, UpgradeRejected]);
    }

    #[test]
    fn rejected_upgrade_ignores_a_consequence() {
        let mut rejection = upgrade_rejected(day(2026, 5, 10), 2);
        rejection.outcome = Outcome::Reject {
            consequence: Some(Consequence::Revoke),
        };
        let status = status(
            &[upgrade_approved(day(2026, 2, 10), 1), rejection],
            day(2026, 6, 1),
        );
        assert_eq!(status.level, 1);
        assert_eq!(status.rectification, None);
    }

    #[test]
    fn rejected_renewal_with_downgrade_drops_one_level_and_opens_a_twelve_month_window() {
        let decisions = downgraded_on_2027_03_15(Some(Consequence::Downgrade));
        let status = status(&decisions, day(2027, 3, 15));
        assert_eq!(status.level, 1);
        assert_eq!(status.since_quarter, Some(quarter("2027-Q1")));
        assert_eq!(
            status.rectification,
            Some(Rectification {
                from_level: 2,
                deadline: day(2028, 3, 15),
            })
        );
        assert_eq!(status.banned_until, None);
        let last = status.history.last().expect("history");
        assert_eq!(
            (last.event, last.from_level, last.to_level),
            (Downgraded, 2, 1)
        );
    }

    #[test]
    fn rejected_renewal_with_revoke_drops_to_no_stars_and_opens_a_twelve_month_window() {
        let decisions = downgraded_on_2027_03_15(Some(Consequence::Revoke));
        let status = status(&decisions, day(2027, 4, 1));
        assert_eq!(status.level, 0);
        assert_eq!(status.since_quarter, None);
        assert_eq!(
            status.rectification,
            Some(Rectification {
                from_level: 2,
                deadline: day(2028, 3, 15),
            })
        );
        let last = status.history.last().expect("history");
        assert_eq!(
            (last.event, last.from_level, last.to_level),
            (Revoked, 2, 0)
        );
    }

    #[test]
    fn rejected_renewal_without_consequence_counts_as_a_downgrade() {
        let status = status(&downgraded_on_2027_03_15(None), day(2027, 4, 1));
        assert_eq!(status.level, 1);
        assert_eq!(events(&status).last(), Some(&Downgraded));
        assert!(status.rectification.is_some());
    }

    #[test]
    fn revoking_a_single_star_is_recorded_as_revoked() {
        let decisions = [
            upgrade_approved(day(2026, 2, 10), 1),
            renewal_rejected(day(2026, 5, 10), 1, Some(Consequence::Revoke)),
        ];
        let status = status(&decisions, day(2026, 6, 1));
        assert_eq!(status.level, 0);
        assert_eq!(events(&status), vec![Granted, Revoked]);
        assert_eq!(status.rectification.map(|w| w.from_level), Some(1));
    }

    #[test]
    fn rejected_renewal_at_level_zero_changes_nothing() {
        let decision = renewal_rejected(day(2026, 5, 10), 0, Some(Consequence::Revoke));
        let status = status(&[decision], day(2026, 6, 1));
        assert_eq!(status.level, 0);
        assert_eq!(status.rectification, None);
        assert!(status.history.is_empty());
    }

    #[test]
    fn a_further_loss_keeps_the_original_window() {
        let mut decisions = three_stars_on_2026_01_20();
        decisions.push(renewal_rejected(day(2026, 4, 20), 3, None));
        decisions.push(renewal_rejected(day(2026, 7, 20), 2, None));
        let status = status(&decisions, day(2026, 8, 1));
        assert_eq!(status.level, 1);
        assert_eq!(
            status.rectification,
            Some(Rectification {
                from_level: 3,
                deadline: day(2027, 4, 20),
            })
        );
    }

    #[test]
    fn regaining_the_level_within_the_window_closes_it() {
        let mut decisions = downgraded_on_2027_03_15(None);
        decisions.push(upgrade_approved(day(2027, 6, 20), 2));
        let status = status(&decisions, day(2030, 1, 1));
        assert_eq!(status.level, 2);
        assert_eq!(status.since_quarter, Some(quarter("2027-Q2")));
        assert_eq!(status.rectification, None);
        assert_eq!(status.banned_until, None);
        let last = status.history.last().expect("history");
        assert_eq!(
            (last.event, last.from_level, last.to_level),
            (Regained, 1, 2)
        );
    }

    #[test]
    fn regaining_the_day_before_the_deadline_is_in_time() {
        let mut decisions = downgraded_on_2027_03_15(None);
        decisions.push(upgrade_approved(day(2028, 3, 14), 2));
        let status = status(&decisions, day(2032, 1, 1));
        assert_eq!(status.rectification, None);
        assert_eq!(status.banned_until, None);
        assert_eq!(events(&status).last(), Some(&Regained));
    }

    #[test]
    fn regaining_on_the_deadline_is_too_late() {
        let mut decisions = downgraded_on_2027_03_15(None);
        decisions.push(upgrade_approved(day(2028, 3, 15), 2));
        let status = status(&decisions, day(2028, 3, 20));
        assert_eq!(status.banned_until, Some(day(2031, 3, 15)));
        assert_eq!(status.rectification, None);
        assert_eq!(events(&status)[3..], [Banned, Granted]);
    }

    #[test]
    fn regaining_after_a_revoke_takes_every_step_inside_the_window() {
        let mut decisions = vec![upgrade_approved(day(2026, 1, 20), 1)];
        decisions.push(upgrade_approved(day(2026, 4, 20), 2));
        decisions.push(renewal_rejected(
            day(2026, 7, 20),
            2,
            Some(Consequence::Revoke),
        ));
        decisions.push(upgrade_approved(day(2026, 10, 20), 1));
        let halfway = status(&decisions, day(2026, 11, 1));
        assert_eq!(halfway.level, 1);
        assert_eq!(halfway.rectification.map(|w| w.from_level), Some(2));
        assert_eq!(events(&halfway).last(), Some(&Granted));

        decisions.push(upgrade_approved(day(2027, 1, 20), 2));
        let regained = status(&decisions, day(2027, 2, 1));
        assert_eq!(regained.level, 2);
        assert_eq!(regained.rectification, None);
        assert_eq!(events(&regained).last(), Some(&Regained));
    }

    #[test]
    fn an_approved_renewal_below_the_lost_level_does_not_close_the_window() {
        let mut decisions = downgraded_on_2027_03_15(None);
        decisions.push(renewal_approved(day(2027, 6, 20), 1));
        let status = status(&decisions, day(2027, 7, 1));
        assert_eq!(status.level, 1);
        assert!(status.rectification.is_some());
        assert_eq!(events(&status).last(), Some(&Renewed));
    }

    #[test]
    fn the_window_is_open_the_day_before_its_deadline() {
        let status = status(&downgraded_on_2027_03_15(None), day(2028, 3, 14));
        assert!(status.rectification.is_some());
        assert_eq!(status.banned_until, None);
    }

    #[test]
    fn a_lapsed_window_bans_the_village_for_thirty_six_months_from_the_deadline() {
        let status = status(&downgraded_on_2027_03_15(None), day(2028, 3, 15));
        assert_eq!(status.rectification, None);
        assert_eq!(status.banned_until, Some(day(2031, 3, 15)));
        assert_eq!(
            status.level, 1,
            "the level held when the window lapsed stays"
        );
        assert_eq!(status.since_quarter, Some(quarter("2027-Q1")));
        assert_eq!(
            status.history.last(),
            Some(&HistoryEntry {
                on: day(2028, 3, 15),
                quarter: None,
                event: Banned,
                from_level: 1,
                to_level: 1,
            })
        );
    }

    #[test]
    fn a_ban_is_still_running_well_after_the_deadline() {
        let status = status(&downgraded_on_2027_03_15(None), day(2030, 1, 1));
        assert_eq!(status.banned_until, Some(day(2031, 3, 15)));
        assert_eq!(events(&status).last(), Some(&Banned));
    }

    #[test]
    fn a_ban_runs_until_the_day_before_banned_until() {
        let status = status(&downgraded_on_2027_03_15(None), day(2031, 3, 14));
        assert_eq!(status.banned_until, Some(day(2031, 3, 15)));
    }

    #[test]
    fn a_ban_ends_on_banned_until() {
        let status = status(&downgraded_on_2027_03_15(None), day(2031, 3, 15));
        assert_eq!(status.banned_until, None);
        assert_eq!(status.level, 1);
        assert_eq!(
            status.history.last(),
            Some(&HistoryEntry {
                on: day(2031, 3, 15),
                quarter: None,
                event: BanEnded,
                from_level: 1,
                to_level: 1,
            })
        );
        assert_eq!(
            check(&status, 2, &Policy::default()),
            Ok(DeclarationKind::Upgrade)
        );
    }

    #[test]
    fn a_window_that_lapses_between_decisions_bans_on_its_deadline() {
        let mut decisions = downgraded_on_2027_03_15(None);
        decisions.push(upgrade_rejected(day(2027, 9, 1), 2));
        decisions.push(renewal_approved(day(2028, 6, 1), 1));
        let status = status(&decisions, day(2028, 7, 1));
        assert_eq!(
            events(&status),
            vec![
                Granted,
                Granted,
                Downgraded,
                UpgradeRejected,
                Banned,
                Renewed
            ]
        );
        assert_eq!(status.history[4].on, day(2028, 3, 15));
        assert_eq!(status.banned_until, Some(day(2031, 3, 15)));
    }

    #[test]
    fn windows_and_bans_follow_the_policy() {
        let policy = Policy {
            max_step: 1,
            rectify_months: 6,
            ban_months: 12,
        };
        let decisions = downgraded_on_2027_03_15(None);
        let open = star_status(None, &decisions, &policy.into(), day(2027, 9, 14));
        assert_eq!(
            open.rectification.map(|w| w.deadline),
            Some(day(2027, 9, 15))
        );
        let banned = star_status(None, &decisions, &policy.into(), day(2027, 9, 15));
        assert_eq!(banned.banned_until, Some(day(2028, 9, 15)));
        let free = star_status(None, &decisions, &policy.into(), day(2028, 9, 15));
        assert_eq!(free.banned_until, None);
        assert_eq!(events(&free)[3..], [Banned, BanEnded]);
    }

    #[test]
    fn deadlines_clamp_to_the_end_of_a_shorter_month() {
        let decisions = [
            upgrade_approved(day(2027, 12, 1), 1),
            renewal_rejected(day(2028, 2, 29), 1, None),
        ];
        let status = status(&decisions, day(2028, 3, 1));
        assert_eq!(
            status.rectification.map(|w| w.deadline),
            Some(day(2029, 2, 28))
        );
        let banned = star_status(
            None,
            &decisions,
            &Policy::default().into(),
            day(2029, 2, 28),
        );
        assert_eq!(banned.banned_until, Some(day(2032, 2, 28)));
    }

    #[test]
    fn banned_villages_cannot_declare_an_upgrade_but_renew_their_level() {
        let status = status(&downgraded_on_2027_03_15(None), day(2028, 6, 1));
        assert_eq!(status.level, 1);
        assert_eq!(
            check(&status, 1, &Policy::default()),
            Ok(DeclarationKind::Renewal)
        );
        for level in 2..=3 {
            assert_eq!(
                check(&status, level, &Policy::default()),
                Err(Refusal::Banned {
                    until: day(2031, 3, 15)
                })
            );
        }
    }

    #[test]
    fn a_banned_village_at_level_zero_cannot_declare() {
        let mut decisions = vec![upgrade_approved(day(2026, 2, 10), 1)];
        decisions.push(renewal_rejected(
            day(2026, 5, 10),
            1,
            Some(Consequence::Revoke),
        ));
        let status = status(&decisions, day(2027, 6, 1));
        assert_eq!(status.level, 0);
        assert!(status.banned_until.is_some());
        assert!(matches!(
            check(&status, 1, &Policy::default()),
            Err(Refusal::Banned { .. })
        ));
    }

    #[test]
    fn a_failed_renewal_during_a_ban_downgrades_without_a_new_window() {
        let mut decisions = three_stars_on_2026_01_20();
        decisions.push(renewal_rejected(day(2026, 4, 20), 3, None));
        // The window lapses on 2027-04-20: banned until 2030-04-20 at level 2.
        decisions.push(renewal_approved(day(2027, 7, 20), 2));
        decisions.push(renewal_rejected(day(2027, 10, 20), 2, None));
        let status = status(&decisions, day(2027, 11, 1));
        assert_eq!(status.level, 1);
        assert_eq!(status.rectification, None);
        assert_eq!(status.banned_until, Some(day(2030, 4, 20)));
        assert_eq!(
            events(&status),
            vec![Granted, Granted, Granted, Downgraded, Banned, Renewed, Downgraded]
        );
    }

    #[test]
    fn a_second_approved_upgrade_in_a_quarter_is_not_applied() {
        let decisions = [
            upgrade_approved(day(2026, 10, 10), 1),
            upgrade_approved(day(2026, 10, 11), 2),
            upgrade_approved(day(2026, 10, 12), 3),
        ];
        let status = status(&decisions, day(2026, 12, 1));
        assert_eq!(status.level, 1);
        assert_eq!(events(&status), vec![Granted]);
        let next = [
            upgrade_approved(day(2026, 10, 10), 1),
            upgrade_approved(day(2027, 1, 11), 2),
        ];
        assert_eq!(status_of_next(&next), 2);
    }

    fn status_of_next(decisions: &[Decision]) -> u8 {
        status(decisions, day(2027, 2, 1)).level
    }

    #[test]
    fn a_second_upgrade_declaration_in_a_quarter_is_refused() {
        let q = quarter("2026-Q4");
        assert_eq!(
            check_declaration(&at_level(1), 2, &Policy::default(), q, true),
            Err(Refusal::QuarterUsed { quarter: q })
        );
        assert_eq!(
            check_declaration(&at_level(1), 1, &Policy::default(), q, true),
            Ok(DeclarationKind::Renewal),
            "renewals are separate"
        );
        assert_eq!(
            Refusal::QuarterUsed { quarter: q }.code(),
            "declaration.quarter_used"
        );
    }

    fn unverified(on: NaiveDate, level: u8, q: &str) -> Decision {
        Decision {
            decided_on: on,
            decided_at: None,
            quarter: quarter(q),
            declared_level: level,
            kind: DeclarationKind::Renewal,
            outcome: Outcome::Unverified,
        }
    }

    #[test]
    fn an_unverified_renewal_keeps_the_level_and_is_listed() {
        let decisions = [
            upgrade_approved(day(2026, 2, 10), 1),
            unverified(day(2026, 7, 16), 1, "2026-Q2"),
            unverified(day(2026, 10, 16), 1, "2026-Q3"),
        ];
        let status = status(&decisions, day(2026, 11, 1));
        assert_eq!(status.level, 1);
        assert_eq!(status.rectification, None);
        assert_eq!(
            status.unverified_quarters,
            vec![quarter("2026-Q2"), quarter("2026-Q3")]
        );
        assert_eq!(
            events(&status),
            vec![Granted, HistoryEvent::Unverified, HistoryEvent::Unverified]
        );
    }

    #[test]
    fn a_change_of_level_clears_the_unverified_quarters() {
        let decisions = [
            upgrade_approved(day(2026, 2, 10), 1),
            unverified(day(2026, 7, 16), 1, "2026-Q2"),
            upgrade_approved(day(2026, 8, 10), 2),
        ];
        let status = status(&decisions, day(2026, 11, 1));
        assert_eq!(status.level, 2);
        assert!(status.unverified_quarters.is_empty());
    }

    #[test]
    fn an_unverified_renewal_without_stars_changes_nothing() {
        let status = status(
            &[unverified(day(2026, 7, 16), 1, "2026-Q2")],
            day(2026, 8, 1),
        );
        assert_eq!(status.level, 0);
        assert!(status.history.is_empty());
        assert!(status.unverified_quarters.is_empty());
    }

    fn short(rectify_months: u32, ban_months: u32) -> Policy {
        Policy {
            max_step: 1,
            rectify_months,
            ban_months,
        }
    }

    #[test]
    fn a_policy_change_keeps_an_open_window_as_it_opened() {
        let decisions = downgraded_on_2027_03_15(None);
        let policies = PolicyTimeline::default().with_change(day(2027, 6, 1), None, short(3, 36));
        let status = star_status(None, &decisions, &policies, day(2027, 7, 1));
        assert_eq!(
            status.rectification.map(|w| w.deadline),
            Some(day(2028, 3, 15)),
            "the window opened under twelve months"
        );
    }

    #[test]
    fn a_policy_change_applies_to_windows_opened_from_its_day() {
        let decisions = [
            upgrade_approved(day(2026, 2, 10), 1),
            renewal_rejected(day(2027, 6, 1), 1, None),
        ];
        let policies = PolicyTimeline::default().with_change(day(2027, 6, 1), None, short(3, 36));
        let status = star_status(None, &decisions, &policies, day(2027, 7, 1));
        assert_eq!(
            status.rectification.map(|w| w.deadline),
            Some(day(2027, 9, 1))
        );
    }

    #[test]
    fn a_ban_takes_the_length_in_force_on_its_first_day_and_keeps_it() {
        let decisions = downgraded_on_2027_03_15(None);
        // Changed while the window runs: the ban opening later takes twelve months.
        let policies = PolicyTimeline::default().with_change(day(2027, 6, 1), None, short(12, 12));
        let status = star_status(None, &decisions, &policies, day(2028, 4, 1));
        assert_eq!(status.banned_until, Some(day(2029, 3, 15)));
        // Changed once the ban runs: it keeps its length.
        let later = PolicyTimeline::default().with_change(day(2028, 4, 1), None, short(12, 1));
        let status = star_status(None, &decisions, &later, day(2028, 5, 1));
        assert_eq!(status.banned_until, Some(day(2031, 3, 15)));
    }

    #[test]
    fn the_policy_timeline_answers_the_policy_of_a_day() {
        let p6 = short(6, 36);
        let p3 = short(3, 36);
        let timeline = PolicyTimeline::default()
            .with_change(day(2027, 6, 1), None, p3)
            .with_change(day(2027, 1, 1), None, p6);
        assert_eq!(timeline.at(day(2026, 12, 31)), Policy::default());
        assert_eq!(timeline.at(day(2027, 1, 1)), p6);
        assert_eq!(timeline.at(day(2027, 5, 31)), p6);
        assert_eq!(timeline.at(day(2027, 6, 1)), p3);
        let at = |h| day(2027, 1, 1).and_hms_opt(h, 0, 0);
        let same_day = PolicyTimeline::default()
            .with_change(day(2027, 1, 1), at(9), p6)
            .with_change(day(2027, 1, 1), at(11), p3);
        assert_eq!(
            same_day.at(day(2027, 1, 2)),
            p3,
            "the later change of a day wins"
        );
        assert_eq!(PolicyTimeline::from(p6).at(NaiveDate::MIN), p6);
    }

    #[test]
    fn a_decision_taken_before_a_change_that_day_keeps_the_policy_before_it() {
        let made = |h| day(2027, 6, 1).and_hms_opt(h, 0, 0);
        let policies =
            PolicyTimeline::default().with_change(day(2027, 6, 1), made(10), short(3, 36));
        let mut loss = renewal_rejected(day(2027, 6, 1), 1, None);
        loss.decided_at = made(9);
        let decisions = [upgrade_approved(day(2026, 2, 10), 1), loss.clone()];
        let status = star_status(None, &decisions, &policies, day(2027, 6, 2));
        assert_eq!(
            status.rectification.map(|w| w.deadline),
            Some(day(2028, 6, 1)),
            "decided at 09:00, before the 10:00 change"
        );
        loss.decided_at = made(11);
        let decisions = [upgrade_approved(day(2026, 2, 10), 1), loss];
        let status = star_status(None, &decisions, &policies, day(2027, 6, 2));
        assert_eq!(
            status.rectification.map(|w| w.deadline),
            Some(day(2027, 9, 1))
        );
    }

    #[test]
    fn a_village_in_its_window_may_declare_one_step_up() {
        let status = status(&downgraded_on_2027_03_15(None), day(2027, 4, 1));
        let policy = Policy::default();
        assert_eq!(check(&status, 1, &policy), Ok(DeclarationKind::Renewal));
        assert_eq!(check(&status, 2, &policy), Ok(DeclarationKind::Upgrade));
    }

    fn at_level(level: u8) -> StarStatus {
        StarStatus {
            level,
            since_quarter: (level > 0).then(|| quarter("2026-Q1")),
            rectification: None,
            banned_until: None,
            unverified_quarters: Vec::new(),
            history: Vec::new(),
        }
    }

    #[test]
    fn levels_are_climbed_one_step_at_a_time() {
        use DeclarationKind::*;
        let policy = Policy::default();
        let expected = [
            (0, 1, Ok(Upgrade)),
            (0, 2, Err(Refusal::StepTooLarge { current: 0, max: 1 })),
            (0, 3, Err(Refusal::StepTooLarge { current: 0, max: 1 })),
            (1, 1, Ok(Renewal)),
            (1, 2, Ok(Upgrade)),
            (1, 3, Err(Refusal::StepTooLarge { current: 1, max: 2 })),
            (2, 1, Err(Refusal::BelowCurrent { current: 2 })),
            (2, 2, Ok(Renewal)),
            (2, 3, Ok(Upgrade)),
            (3, 1, Err(Refusal::BelowCurrent { current: 3 })),
            (3, 2, Err(Refusal::BelowCurrent { current: 3 })),
            (3, 3, Ok(Renewal)),
        ];
        for (current, declared, outcome) in expected {
            assert_eq!(
                check(&at_level(current), declared, &policy),
                outcome,
                "level {current} declaring {declared}"
            );
        }
    }

    #[test]
    fn a_policy_may_allow_two_steps() {
        let policy = Policy {
            max_step: 2,
            ..Policy::default()
        };
        assert_eq!(
            check(&at_level(0), 2, &policy),
            Ok(DeclarationKind::Upgrade)
        );
        assert_eq!(
            check(&at_level(0), 3, &policy),
            Err(Refusal::StepTooLarge { current: 0, max: 2 })
        );
        assert_eq!(
            check(&at_level(1), 3, &policy),
            Ok(DeclarationKind::Upgrade)
        );
    }

    #[test]
    fn only_levels_one_to_three_may_be_declared() {
        for level in [0, 4, 255] {
            assert_eq!(
                check(&at_level(1), level, &Policy::default()),
                Err(Refusal::InvalidLevel)
            );
        }
    }

    #[test]
    fn refusals_explain_themselves() {
        let banned = Refusal::Banned {
            until: day(2031, 3, 15),
        };
        assert!(banned.message().contains("2031-03-15"));
        assert!(Refusal::InvalidLevel.message().contains("1, 2 or 3"));
        let step = Refusal::StepTooLarge { current: 1, max: 2 }.message();
        assert!(step.contains("one step at a time") && step.contains("level 2"));
        assert!(Refusal::BelowCurrent { current: 2 }
            .message()
            .contains("renew"));
        assert_eq!(banned.code(), "declaration.banned");
    }

    #[test]
    fn a_baseline_is_the_starting_level() {
        let baseline = Baseline {
            level: 2,
            since_quarter: quarter("2024-Q3"),
        };
        let status = star_status(
            Some(&baseline),
            &[],
            &Policy::default().into(),
            day(2026, 1, 1),
        );
        assert_eq!(status.level, 2);
        assert_eq!(status.since_quarter, Some(quarter("2024-Q3")));
        assert_eq!(
            status.history,
            vec![HistoryEntry {
                on: day(2024, 7, 1),
                quarter: Some(quarter("2024-Q3")),
                event: HistoryEvent::Baseline,
                from_level: 0,
                to_level: 2,
            }]
        );
    }

    #[test]
    fn a_baseline_level_can_be_lost_and_regained() {
        let baseline = Baseline {
            level: 2,
            since_quarter: quarter("2024-Q3"),
        };
        let decisions = [renewal_rejected(day(2026, 5, 1), 2, None)];
        let status = star_status(
            Some(&baseline),
            &decisions,
            &Policy::default().into(),
            day(2026, 6, 1),
        );
        assert_eq!(status.level, 1);
        assert_eq!(
            status.rectification,
            Some(Rectification {
                from_level: 2,
                deadline: day(2027, 5, 1),
            })
        );
    }

    #[test]
    fn decisions_before_the_baseline_are_superseded_by_it() {
        let baseline = Baseline {
            level: 1,
            since_quarter: quarter("2026-Q1"),
        };
        let decisions = [upgrade_approved(day(2025, 12, 31), 3)];
        let status = star_status(
            Some(&baseline),
            &decisions,
            &Policy::default().into(),
            day(2026, 6, 1),
        );
        assert_eq!(status.level, 1);
        assert_eq!(events(&status), vec![HistoryEvent::Baseline]);
    }

    #[test]
    fn a_baseline_without_stars_is_no_baseline() {
        let baseline = Baseline {
            level: 0,
            since_quarter: quarter("2026-Q1"),
        };
        let status = star_status(
            Some(&baseline),
            &[],
            &Policy::default().into(),
            day(2026, 6, 1),
        );
        assert_eq!(status, at_level(0));
    }

    #[test]
    fn decisions_after_as_of_are_ignored() {
        let decisions = [
            upgrade_approved(day(2026, 2, 10), 1),
            upgrade_approved(day(2026, 5, 10), 2),
        ];
        assert_eq!(status(&decisions, day(2026, 5, 9)).level, 1);
        assert_eq!(status(&decisions, day(2026, 5, 10)).level, 2);
        assert_eq!(status(&decisions, day(2026, 2, 9)).level, 0);
    }

    #[test]
    fn out_of_order_input_is_applied_by_date() {
        let mut decisions = downgraded_on_2027_03_15(None);
        decisions.push(upgrade_approved(day(2027, 6, 20), 2));
        let in_order = status(&decisions, day(2030, 1, 1));
        decisions.reverse();
        assert_eq!(status(&decisions, day(2030, 1, 1)), in_order);
    }

    #[test]
    fn star_status_serializes_to_the_wire_shape() {
        let status = status(&downgraded_on_2027_03_15(None), day(2027, 4, 1));
        let json = serde_json::to_value(&status).expect("json");
        assert_eq!(json["level"], 1);
        assert_eq!(json["since_quarter"], "2027-Q1");
        assert_eq!(json["rectification"]["from_level"], 2);
        assert_eq!(json["rectification"]["deadline"], "2028-03-15");
        assert_eq!(json["banned_until"], serde_json::Value::Null);
        assert_eq!(json["history"][2]["event"], "downgraded");
        assert_eq!(json["history"][2]["on"], "2027-03-15");
        let policy: Policy =
            serde_json::from_str(r#"{"max_step":1,"rectify_months":12,"ban_months":36}"#)
                .expect("policy");
        assert_eq!(policy, Policy::default());
        let outcome: Outcome =
            serde_json::from_str(r#"{"reject":{"consequence":"revoke"}}"#).expect("outcome");
        assert_eq!(
            outcome,
            Outcome::Reject {
                consequence: Some(Consequence::Revoke)
            }
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn start() -> NaiveDate {
            day(2024, 1, 1)
        }

        fn arb_decision() -> impl Strategy<Value = Decision> {
            let outcome = prop_oneof![
                Just(Outcome::Approve),
                Just(Outcome::Reject { consequence: None }),
                Just(Outcome::Reject {
                    consequence: Some(Consequence::Downgrade)
                }),
                Just(Outcome::Reject {
                    consequence: Some(Consequence::Revoke)
                }),
                Just(Outcome::Unverified),
            ];
            let kind = prop_oneof![
                Just(DeclarationKind::Upgrade),
                Just(DeclarationKind::Renewal)
            ];
            (0u64..4000, 0u8..=5, kind, outcome).prop_map(|(offset, level, kind, outcome)| {
                decision(start() + chrono::Days::new(offset), level, kind, outcome)
            })
        }

        fn arb_policy() -> impl Strategy<Value = Policy> {
            (0u8..=3, 0u32..=24, 0u32..=48).prop_map(|(max_step, rectify_months, ban_months)| {
                Policy {
                    max_step,
                    rectify_months,
                    ban_months,
                }
            })
        }

        fn arb_baseline() -> impl Strategy<Value = Option<Baseline>> {
            proptest::option::of((0u8..=4, 0u8..4).prop_map(|(level, quarters)| Baseline {
                level,
                since_quarter: (0..quarters).fold(Quarter::containing(start()), |q, _| q.prev()),
            }))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn arbitrary_decisions_keep_the_status_coherent(
                baseline in arb_baseline(),
                decisions in proptest::collection::vec(arb_decision(), 0..40),
                policy in arb_policy(),
                as_of_offset in 0u64..5000,
            ) {
                let as_of = start() + chrono::Days::new(as_of_offset);
                let status = star_status(baseline.as_ref(), &decisions, &policy.into(), as_of);

                prop_assert!(status.level <= MAX_LEVEL);
                prop_assert_eq!(status.since_quarter.is_some(), status.level > 0);
                prop_assert!(status.history.windows(2).all(|pair| pair[0].on <= pair[1].on));
                prop_assert!(status.history.iter().all(|entry| entry.on <= as_of));
                prop_assert!(status.history.iter().all(|e| e.from_level <= 3 && e.to_level <= 3));
                prop_assert_eq!(
                    status.history.last().map_or(0, |entry| entry.to_level),
                    status.level
                );
                if let Some(window) = status.rectification {
                    prop_assert!(window.deadline > as_of);
                    prop_assert!(window.from_level > status.level);
                }
                if let Some(until) = status.banned_until {
                    prop_assert!(until > as_of);
                    prop_assert!(status.history.iter().any(|e| e.event == Banned));
                }
                for (index, entry) in status.history.iter().enumerate() {
                    if entry.event == Banned {
                        let lost_before = status.history[..index]
                            .iter()
                            .any(|e| matches!(e.event, Downgraded | Revoked));
                        prop_assert!(lost_before, "a ban follows a lost level");
                    }
                }
                for level in 0..=5 {
                    let _ = check(&status, level, &policy);
                }
            }

            #[test]
            fn arbitrary_histories_never_climb_more_than_a_step_in_a_quarter(
                baseline in arb_baseline(),
                decisions in proptest::collection::vec(arb_decision(), 0..40),
                policy in arb_policy(),
            ) {
                let policies = PolicyTimeline::from(policy);
                let first = baseline.map_or(start(), |b| b.since_quarter.first_day().max(start()));
                let mut quarter = Quarter::containing(first);
                let mut before = star_status(baseline.as_ref(), &decisions, &policies, first).level;
                while quarter.first_day() < start() + chrono::Days::new(4100) {
                    let after = star_status(
                        baseline.as_ref(), &decisions, &policies, quarter.last_day()
                    ).level;
                    prop_assert!(
                        after <= before.saturating_add(policy.max_step),
                        "{} climbed from {} to {}", quarter, before, after
                    );
                    before = after;
                    quarter = quarter.next();
                }
            }

            #[test]
            fn a_policy_change_never_changes_the_status_of_a_day_before_it(
                baseline in arb_baseline(),
                decisions in proptest::collection::vec(arb_decision(), 0..40),
                old in arb_policy(),
                new in arb_policy(),
                change_offset in 1u64..4000,
                as_of_offset in 0u64..4000,
            ) {
                let changed_on = start() + chrono::Days::new(change_offset);
                let as_of = start() + chrono::Days::new(as_of_offset % change_offset);
                let before = PolicyTimeline::from(old);
                let after = before.with_change(changed_on, None, new);
                prop_assert_eq!(
                    star_status(baseline.as_ref(), &decisions, &before, as_of),
                    star_status(baseline.as_ref(), &decisions, &after, as_of)
                );
            }
        }
    }
}
