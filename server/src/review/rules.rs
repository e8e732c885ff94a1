//! The programme's rules for an approval, as pure functions: a checklist that did not pass is
//! never approved (一律不予审批), and every integrity alert is acknowledged, with a comment,
//! before one is.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::i18n::Rule;
use crate::inspection::flags::{Flag, Severity};

/// A reviewer's decision on an inspection: `return` sends it back to the inspector and is no
/// verdict; `approve` and `reject` are final (until reopened).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Approve,
    Reject,
    Return,
}

impl DecisionKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Approve => "approve",
            DecisionKind::Reject => "reject",
            DecisionKind::Return => "return",
        }
    }

    pub fn parse(text: &str) -> Option<DecisionKind> {
        [
            DecisionKind::Approve,
            DecisionKind::Reject,
            DecisionKind::Return,
        ]
        .into_iter()
        .find(|d| d.as_str() == text)
    }
}

/// How long after a decision a county admin may reopen it.
pub const REOPEN_DAYS: i64 = 30;

/// Whether an inspection can be approved, and what stands in the way.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// False when the checklist did not pass: such an inspection is never approved.
    pub allowed: bool,
    /// The checklist items that failed.
    pub failing_items: Vec<String>,
    /// The distinct codes of its `alert` flags: approving needs each acknowledged, with a comment.
    pub alerts: Vec<String>,
}

impl Approval {
    pub fn of(passed: bool, failing_items: &[String], flags: &[Flag]) -> Approval {
        let mut alerts: Vec<String> = flags
            .iter()
            .filter(|f| f.severity == Severity::Alert)
            .map(|f| f.code.clone())
            .collect();
        alerts.sort();
        alerts.dedup();
        Approval {
            allowed: passed,
            failing_items: failing_items.to_vec(),
            alerts,
        }
    }
}

/// Why an approval is refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Refused {
    /// The checklist did not pass.
    ChecklistFailed { failing_items: Vec<String> },
    /// Alerts not acknowledged, or acknowledged without a comment; each field at fault.
    AlertsUnacknowledged { errors: Vec<FieldError> },
}

/// Checks an approval against the inspection's [`Approval`]: the checklist passed, every alert
/// code is in `acknowledged` (and nothing else is), and a comment says why the alerts do not
/// stand in the way.
pub fn check_approve(
    approval: &Approval,
    acknowledged: &[String],
    comment: &str,
) -> Result<(), Refused> {
    if !approval.allowed {
        return Err(Refused::ChecklistFailed {
            failing_items: approval.failing_items.clone(),
        });
    }
    let mut errors = Vec::new();
    let unknown: Vec<&str> = acknowledged
        .iter()
        .filter(|code| !approval.alerts.contains(code))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        errors.push(FieldError::new(
            "acknowledged_flags",
            Rule::NotAnAlert.with("code", unknown.join(", ")),
        ));
    }
    if approval.alerts.is_empty() {
        return if errors.is_empty() {
            Ok(())
        } else {
            Err(Refused::AlertsUnacknowledged { errors })
        };
    }
    let missing: Vec<&str> = approval
        .alerts
        .iter()
        .filter(|code| !acknowledged.contains(code))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        errors.push(FieldError::new(
            "acknowledged_flags",
            Rule::AcknowledgeEachAlert.with("codes", missing.join(", ")),
        ));
    }
    if comment.trim().is_empty() {
        errors.push(FieldError::new("comment", Rule::AlertsCommentRequired));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Refused::AlertsUnacknowledged { errors })
    }
}

/// The two bodies that verify a village together (县人口计生部门和县计生协): the county's
/// programme department and the county's family-planning association. Every reviewer belongs
/// to one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewBody {
    Department,
    Association,
}

impl ReviewBody {
    pub const ALL: [ReviewBody; 2] = [ReviewBody::Department, ReviewBody::Association];

    pub const fn as_str(self) -> &'static str {
        match self {
            ReviewBody::Department => "department",
            ReviewBody::Association => "association",
        }
    }

    pub fn parse(text: &str) -> Option<ReviewBody> {
        ReviewBody::ALL.into_iter().find(|b| b.as_str() == text)
    }

    /// The body that is not this one.
    pub const fn other(self) -> ReviewBody {
        match self {
            ReviewBody::Department => ReviewBody::Association,
            ReviewBody::Association => ReviewBody::Department,
        }
    }
}

/// An approval already given to the revision: by whom, for which body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GivenApproval {
    pub actor_id: String,
    pub body: ReviewBody,
}

/// Where an approval leaves the inspection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ApprovalStep {
    /// Every body the county needs has approved: the decision is taken.
    Complete,
    /// The other body's approval is still missing.
    Awaiting(ReviewBody),
}

/// Why an approval is not taken from this reviewer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum JointRefusal {
    /// She already approved this revision: one reviewer never gives both approvals.
    AlreadyApproved,
    /// Her body has approved this revision; the other body decides now.
    BodyDone(ReviewBody),
}

impl JointRefusal {
    pub const fn code(self) -> &'static str {
        match self {
            JointRefusal::AlreadyApproved => "approval.already_given",
            JointRefusal::BodyDone(_) => "approval.body_done",
        }
    }
}

/// The programme's joint verification: with `joint` on, an approval needs one approving
/// reviewer of each body, and one reviewer never gives both; with it off, one approval by a
/// reviewer of either body decides. `given` are the live approvals of the revision before
/// this one. A rejection or a return by either body is not an approval and decides at once.
pub fn approve_step(
    joint: bool,
    given: &[GivenApproval],
    actor_id: &str,
    body: ReviewBody,
) -> Result<ApprovalStep, JointRefusal> {
    if given.iter().any(|g| g.actor_id == actor_id) {
        return Err(JointRefusal::AlreadyApproved);
    }
    if given.iter().any(|g| g.body == body) {
        return Err(JointRefusal::BodyDone(body));
    }
    if !joint {
        return Ok(ApprovalStep::Complete);
    }
    let missing = ReviewBody::ALL
        .into_iter()
        .find(|b| *b != body && !given.iter().any(|g| g.body == *b));
    Ok(match missing {
        Some(b) => ApprovalStep::Awaiting(b),
        None => ApprovalStep::Complete,
    })
}

/// Whether a decision taken at `decided_at` may still be reopened at `now`.
pub fn reopenable(decided_at: chrono::NaiveDateTime, now: chrono::NaiveDateTime) -> bool {
    now - decided_at <= chrono::Duration::days(REOPEN_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(code: &str, severity: Severity) -> Flag {
        Flag {
            code: code.to_string(),
            severity,
            item: None,
            photo_id: None,
            detail: String::new(),
            params: Default::default(),
        }
    }

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn decision_kinds_read_and_write_their_wire_names() {
        for d in [
            DecisionKind::Approve,
            DecisionKind::Reject,
            DecisionKind::Return,
        ] {
            assert_eq!(DecisionKind::parse(d.as_str()), Some(d));
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        assert_eq!(DecisionKind::parse("approved"), None);
    }

    #[test]
    fn a_failed_checklist_is_never_approved_whatever_is_acknowledged() {
        let approval = Approval::of(false, &codes(&["board_posted"]), &[]);
        assert!(!approval.allowed);
        assert_eq!(
            check_approve(&approval, &[], "looks fine"),
            Err(Refused::ChecklistFailed {
                failing_items: codes(&["board_posted"])
            })
        );
    }

    #[test]
    fn alerts_are_listed_once_each_and_warnings_not_at_all() {
        let flags = [
            flag("photo.duplicate", Severity::Alert),
            flag("photo.duplicate", Severity::Alert),
            flag("photo.no_exif", Severity::Warning),
            flag("location.outside_geofence", Severity::Alert),
        ];
        let approval = Approval::of(true, &[], &flags);
        assert_eq!(
            approval.alerts,
            codes(&["location.outside_geofence", "photo.duplicate"])
        );
    }

    #[test]
    fn a_passing_inspection_without_alerts_is_approved_without_comment() {
        let approval = Approval::of(true, &[], &[flag("photo.no_exif", Severity::Warning)]);
        assert_eq!(check_approve(&approval, &[], ""), Ok(()));
    }

    #[test]
    fn every_alert_must_be_acknowledged_with_a_comment() {
        let flags = [
            flag("photo.duplicate", Severity::Alert),
            flag("photo.gps_far", Severity::Alert),
        ];
        let approval = Approval::of(true, &[], &flags);
        let fields = |r: Result<(), Refused>| match r {
            Err(Refused::AlertsUnacknowledged { errors }) => {
                errors.into_iter().map(|e| e.field).collect::<Vec<_>>()
            }
            other => panic!("expected unacknowledged alerts, got {other:?}"),
        };
        assert_eq!(
            fields(check_approve(&approval, &[], "")),
            ["acknowledged_flags", "comment"]
        );
        assert_eq!(
            fields(check_approve(&approval, &codes(&["photo.duplicate"]), "ok")),
            ["acknowledged_flags"]
        );
        assert_eq!(
            fields(check_approve(
                &approval,
                &codes(&["photo.duplicate", "photo.gps_far"]),
                "  "
            )),
            ["comment"]
        );
        assert_eq!(
            check_approve(
                &approval,
                &codes(&["photo.gps_far", "photo.duplicate"]),
                "the board was moved; same photo taken twice"
            ),
            Ok(())
        );
    }

    #[test]
    fn acknowledging_what_is_not_an_alert_is_refused() {
        let approval = Approval::of(true, &[], &[flag("photo.duplicate", Severity::Alert)]);
        let result = check_approve(
            &approval,
            &codes(&["photo.duplicate", "photo.no_exif"]),
            "seen",
        );
        assert!(matches!(result, Err(Refused::AlertsUnacknowledged { .. })));
        let clean = Approval::of(true, &[], &[]);
        assert!(check_approve(&clean, &codes(&["photo.duplicate"]), "x").is_err());
    }

    #[test]
    fn a_decision_can_be_reopened_for_thirty_days() {
        let decided = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        assert!(reopenable(decided, decided + chrono::Duration::days(30)));
        assert!(!reopenable(
            decided,
            decided + chrono::Duration::days(30) + chrono::Duration::seconds(1)
        ));
    }

    fn given(actor: &str, body: ReviewBody) -> GivenApproval {
        GivenApproval {
            actor_id: actor.to_string(),
            body,
        }
    }

    #[test]
    fn review_bodies_read_and_write_their_wire_names() {
        for b in ReviewBody::ALL {
            assert_eq!(ReviewBody::parse(b.as_str()), Some(b));
            assert_eq!(serde_json::to_value(b).unwrap(), b.as_str());
            assert_ne!(b.other(), b);
            assert_eq!(b.other().other(), b);
        }
        assert_eq!(ReviewBody::parse("Department"), None);
    }

    #[test]
    fn with_joint_approval_the_first_approval_waits_for_the_other_body() {
        use ReviewBody::*;
        assert_eq!(
            approve_step(true, &[], "d1", Department),
            Ok(ApprovalStep::Awaiting(Association))
        );
        assert_eq!(
            approve_step(true, &[], "a1", Association),
            Ok(ApprovalStep::Awaiting(Department))
        );
        assert_eq!(
            approve_step(true, &[given("d1", Department)], "a1", Association),
            Ok(ApprovalStep::Complete)
        );
    }

    #[test]
    fn one_reviewer_never_gives_both_approvals_and_a_body_approves_once() {
        use ReviewBody::*;
        let first = [given("d1", Department)];
        assert_eq!(
            approve_step(true, &first, "d1", Department),
            Err(JointRefusal::AlreadyApproved)
        );
        // Even if her body was changed in between.
        assert_eq!(
            approve_step(true, &first, "d1", Association),
            Err(JointRefusal::AlreadyApproved)
        );
        assert_eq!(
            approve_step(true, &first, "d2", Department),
            Err(JointRefusal::BodyDone(Department))
        );
        assert_eq!(
            approve_step(false, &first, "d2", Department),
            Err(JointRefusal::BodyDone(Department))
        );
    }

    #[test]
    fn without_joint_approval_one_approval_of_either_body_decides() {
        for b in ReviewBody::ALL {
            assert_eq!(approve_step(false, &[], "r", b), Ok(ApprovalStep::Complete));
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const CODES: [&str; 4] = [
            "photo.duplicate",
            "photo.gps_far",
            "location.outside_geofence",
            "photo.no_exif",
        ];

        fn arb_flags() -> impl Strategy<Value = Vec<Flag>> {
            proptest::collection::vec(
                (
                    0usize..4,
                    prop_oneof![
                        Just(Severity::Info),
                        Just(Severity::Warning),
                        Just(Severity::Alert)
                    ],
                )
                    .prop_map(|(i, s)| flag(CODES[i], s)),
                0..8,
            )
        }

        proptest! {
            #[test]
            fn a_completed_joint_approval_has_two_reviewers_of_two_bodies(
                steps in proptest::collection::vec((0usize..3, any::<bool>()), 1..6),
            ) {
                let mut given: Vec<GivenApproval> = Vec::new();
                for (who, association) in steps {
                    let body = if association { ReviewBody::Association } else { ReviewBody::Department };
                    let actor = format!("r{who}");
                    match approve_step(true, &given, &actor, body) {
                        Ok(ApprovalStep::Complete) => {
                            prop_assert_eq!(given.len(), 1);
                            prop_assert_ne!(&given[0].actor_id, &actor);
                            prop_assert_ne!(given[0].body, body);
                            break;
                        }
                        Ok(ApprovalStep::Awaiting(other)) => {
                            prop_assert!(given.is_empty());
                            prop_assert_eq!(other, body.other());
                            given.push(GivenApproval { actor_id: actor, body });
                        }
                        Err(_) => prop_assert!(!given.is_empty()),
                    }
                }
            }

            #[test]
            fn no_failed_checklist_and_no_unanswered_alert_is_ever_approved(
                passed in any::<bool>(),
                flags in arb_flags(),
                acknowledged in proptest::collection::vec(0usize..4, 0..5),
                comment in prop_oneof![Just(String::new()), Just(" ".to_string()), Just("seen".to_string())],
            ) {
                let approval = Approval::of(passed, &[], &flags);
                let acknowledged: Vec<String> =
                    acknowledged.into_iter().map(|i| CODES[i].to_string()).collect();
                if check_approve(&approval, &acknowledged, &comment).is_ok() {
                    prop_assert!(passed);
                    for f in flags.iter().filter(|f| f.severity == Severity::Alert) {
                        prop_assert!(acknowledged.contains(&f.code));
                        prop_assert!(!comment.trim().is_empty());
                    }
                }
            }
        }
    }
}
