//! Claims and decisions, inside the caller's write transaction.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::rules::{
    self, Approval, ApprovalStep, DecisionKind, GivenApproval, Refused, ReviewBody,
};
use crate::auth::{AuthUser, Role};
use crate::db::schema::{approvals, decisions, inspections, users};
use crate::db::{is_unique_violation, DbConn};
use crate::declarations::{Declaration, DeclarationStatus};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::i18n::Rule;
use crate::inspection::model::{Inspection, InspectionStatus};
use crate::org::OrgUnit;
use crate::stars::engine::{Consequence, DeclarationKind};
use crate::webhooks::outbox;
use crate::{audit, clock::now, stars};

pub const MAX_COMMENT: usize = 2000;

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ClaimView {
    pub inspection_id: String,
    pub claimed_by: String,
    pub claim_expires_at: DateTime<Utc>,
}

fn claim_is_live(ins: &Inspection, at: chrono::NaiveDateTime) -> bool {
    ins.claimed_by.is_some() && ins.claim_expires_at.is_some_and(|e| e > at)
}

/// Takes (or renews) the caller's claim; 409 while another reviewer's claim is live. Only
/// reviewers claim: county admins read, and neither claim nor decide.
pub fn claim(conn: &mut DbConn, user: &AuthUser, id: &str, minutes: i64) -> ApiResult<ClaimView> {
    let ins = Inspection::find_scoped(conn, &user.scope, id)?;
    user.require(&[Role::Reviewer])?;
    if !ins.status().awaits_review() {
        return Err(ApiError::conflict(
            "not_reviewable",
            format!("the inspection is {}", ins.status),
        ));
    }
    if ins.inspector_id == user.id {
        return Err(ApiError::forbidden(
            "nobody reviews an inspection she submitted",
        ));
    }
    check_turn(&ins, body_of(conn, user)?)?;
    let t = now();
    if claim_is_live(&ins, t) && ins.claimed_by.as_deref() != Some(user.id.as_str()) {
        return Err(ApiError::conflict(
            "claimed",
            format!(
                "another reviewer holds this inspection until {}",
                ins.claim_expires_at
                    .map(|e| e.and_utc().to_rfc3339())
                    .unwrap_or_default()
            ),
        ));
    }
    let expires = t + Duration::minutes(minutes);
    // The guard repeats the check in the UPDATE, so two reviewers racing cannot both win.
    let taken = diesel::update(
        inspections::table
            .filter(inspections::id.eq(&ins.id))
            .filter(
                inspections::status
                    .eq_any(InspectionStatus::AWAITING_REVIEW.map(InspectionStatus::as_str)),
            )
            .filter(
                inspections::claimed_by
                    .is_null()
                    .or(inspections::claimed_by.eq(&user.id))
                    .or(inspections::claim_expires_at.le(t)),
            ),
    )
    .set((
        inspections::claimed_by.eq(&user.id),
        inspections::claim_expires_at.eq(expires),
    ))
    .execute(conn)?;
    if taken != 1 {
        return Err(ApiError::conflict(
            "claimed",
            "another reviewer took this inspection",
        ));
    }
    audit::record(
        conn,
        &user.actor(),
        "inspection.claimed",
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        format!("until {}", expires.and_utc().to_rfc3339()),
    )?;
    Ok(ClaimView {
        inspection_id: ins.id,
        claimed_by: user.id.clone(),
        claim_expires_at: expires.and_utc(),
    })
}

/// The caller's verifying body; 403 for a reviewer who has none (made before bodies existed
/// and not yet given one by an admin).
pub fn body_of(conn: &mut DbConn, user: &AuthUser) -> ApiResult<ReviewBody> {
    let body: Option<String> = users::table
        .find(&user.id)
        .select(users::body)
        .first(conn)
        .optional()?
        .flatten();
    body.as_deref().and_then(ReviewBody::parse).ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "reviewer.no_body",
            "a reviewer belongs to the department or the association: ask an admin to set yours",
        )
    })
}

/// 409 when the inspection waits for the other body's approval: after one body approved, the
/// other body's reviewers decide.
fn check_turn(ins: &Inspection, body: ReviewBody) -> ApiResult<()> {
    if ins.status() != InspectionStatus::AwaitingSecondApproval {
        return Ok(());
    }
    match ins.awaiting_body.as_deref().and_then(ReviewBody::parse) {
        Some(missing) if missing != body => Err(ApiError::conflict(
            "approval.body_done",
            format!(
                "the {} has approved this inspection; the {}'s reviewers decide it now",
                body.as_str(),
                missing.as_str()
            ),
        )
        .with("awaiting_body", missing.as_str())),
        _ => Ok(()),
    }
}

/// The live approvals of the inspection's present revision.
fn given_approvals(conn: &mut DbConn, ins: &Inspection) -> QueryResult<Vec<GivenApproval>> {
    let rows: Vec<(String, String)> = approvals::table
        .filter(approvals::inspection_id.eq(&ins.id))
        .filter(approvals::revision.eq(ins.revision))
        .filter(approvals::withdrawn_at.is_null())
        .select((approvals::actor_id, approvals::body))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(actor_id, body)| {
            ReviewBody::parse(&body).map(|body| GivenApproval { actor_id, body })
        })
        .collect())
}

/// Releases the caller's claim (admins may release anyone's).
pub fn release(conn: &mut DbConn, user: &AuthUser, id: &str) -> ApiResult<()> {
    let ins = Inspection::find_scoped(conn, &user.scope, id)?;
    user.require(&[Role::Reviewer, Role::Admin])?;
    let mine = ins.claimed_by.as_deref() == Some(user.id.as_str());
    if !mine && user.role != Role::Admin && claim_is_live(&ins, now()) {
        return Err(ApiError::forbidden(
            "only the reviewer who holds a claim releases it",
        ));
    }
    diesel::update(inspections::table.find(&ins.id))
        .set((
            inspections::claimed_by.eq(None::<String>),
            inspections::claim_expires_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        &user.actor(),
        "inspection.released",
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        "claim released",
    )?;
    Ok(())
}

#[derive(Deserialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub decision: DecisionKind,
    /// Required when rejecting a renewal of a level the village holds; nothing else has one.
    pub consequence: Option<Consequence>,
    /// Required for `reject` and `return`, and for `approve` when the inspection has alerts;
    /// the inspector and the village's secretary read it.
    #[serde(default)]
    pub comment: String,
    /// The code of every `alert` flag of the inspection (`photo.duplicate`, …): approving an
    /// inspection with alerts needs each acknowledged, with a comment.
    #[serde(default)]
    pub acknowledged_flags: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct DecisionView {
    pub id: String,
    pub inspection_id: String,
    pub revision: i32,
    pub decision: DecisionKind,
    pub consequence: Option<Consequence>,
    pub comment: String,
    /// The alerts the reviewer acknowledged when approving.
    pub acknowledged_flags: Vec<String>,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
    /// The verifying body the reviewer decided for.
    pub body: ReviewBody,
    /// The inspection's status after the decision: `awaiting_second_approval` after the first
    /// of two approvals.
    pub inspection_status: InspectionStatus,
    /// After the first of two approvals, the body whose approval is still missing.
    pub awaiting_body: Option<ReviewBody>,
    /// The village's star level after the decision (unchanged until the last approval).
    pub star_level: u8,
}

/// Checks that the decision fits the declaration, naming the field at fault; returns the
/// trimmed comment.
fn check(body: &DecisionBody, declaration: &Declaration) -> ApiResult<String> {
    let comment = body.comment.trim().to_string();
    let mut errors = Vec::new();
    if comment.chars().count() > MAX_COMMENT {
        errors.push(FieldError::new(
            "comment",
            Rule::TooLong.with("max", MAX_COMMENT),
        ));
    }
    let renewal = DeclarationKind::parse(&declaration.kind) == Some(DeclarationKind::Renewal);
    let has_consequence = body.consequence.is_some();
    match body.decision {
        DecisionKind::Reject if renewal && !has_consequence => {
            errors.push(FieldError::new("consequence", Rule::ConsequenceRequired))
        }
        DecisionKind::Reject if !renewal && has_consequence => {
            errors.push(FieldError::new("consequence", Rule::ConsequenceOnlyHeld))
        }
        DecisionKind::Approve | DecisionKind::Return if has_consequence => errors.push(
            FieldError::new("consequence", Rule::OnlyRejectionConsequence),
        ),
        _ => {}
    }
    if body.decision != DecisionKind::Approve && comment.is_empty() {
        errors.push(FieldError::new(
            "comment",
            Rule::RequiredFor.with("decision", body.decision.as_str()),
        ));
    }
    if errors.is_empty() {
        Ok(comment)
    } else {
        Err(ApiError::validation(errors))
    }
}

pub fn decide(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
    body: &DecisionBody,
    tz: chrono_tz::Tz,
) -> ApiResult<DecisionView> {
    let ins = Inspection::find_scoped(conn, &user.scope, id)?;
    user.require(&[Role::Reviewer])?;
    if ins.inspector_id == user.id {
        return Err(ApiError::forbidden(
            "nobody decides an inspection she submitted",
        ));
    }
    // Lock the row before the checks, so that two decisions cannot both pass them.
    diesel::update(inspections::table.find(&ins.id))
        .set(inspections::updated_at.eq(now()))
        .execute(conn)?;
    let ins = Inspection::find(conn, id)?.ok_or_else(|| ApiError::internal())?;
    match ins.status() {
        InspectionStatus::Submitted | InspectionStatus::AwaitingSecondApproval => {}
        InspectionStatus::Approved | InspectionStatus::Rejected => {
            return Err(ApiError::conflict("already_decided", "a decision is final"))
        }
        InspectionStatus::Returned => {
            return Err(ApiError::conflict(
                "already_decided",
                "this revision was returned; wait for the next one",
            ))
        }
        other => {
            return Err(ApiError::conflict(
                "not_reviewable",
                format!("the inspection is {other}"),
            ))
        }
    }
    let my_body = body_of(conn, user)?;
    check_turn(&ins, my_body)?;
    let t = now();
    let mine = ins.claimed_by.as_deref() == Some(user.id.as_str());
    if claim_is_live(&ins, t) && !mine {
        return Err(ApiError::conflict(
            "claimed",
            "another reviewer holds this inspection",
        ));
    }
    if !claim_is_live(&ins, t) {
        return Err(ApiError::conflict(
            "claim_required",
            "claim the inspection before deciding it (your claim may have expired)",
        ));
    }
    let declaration = Declaration::find_scoped(conn, &user.scope, &ins.declaration_id)?;
    let comment = check(body, &declaration)?;
    let (decision, consequence) = (body.decision, body.consequence);
    let acknowledged = if decision == DecisionKind::Approve {
        let photos = ins.photos(conn)?;
        let approval = approval_of(&ins, &photos);
        match rules::check_approve(&approval, &body.acknowledged_flags, &comment) {
            Ok(()) => approval.alerts,
            Err(Refused::ChecklistFailed { failing_items }) => {
                let why = failed_because(&ins, &failing_items);
                return Err(ApiError::unprocessable(
                    "decision.checklist_failed",
                    format!(
                        "the checklist did not pass; a village short of the standard is never \
                         approved: {why}"
                    ),
                )
                .with("failing_items", failing_items)
                .with_errors(vec![FieldError::new(
                    "decision",
                    Rule::ChecklistDidNotPass.with("why", why.clone()),
                )]));
            }
            Err(Refused::AlertsUnacknowledged { errors }) => {
                return Err(ApiError::unprocessable(
                    "decision.alerts_unacknowledged",
                    format!(
                        "approving an inspection with alerts needs each acknowledged, with a comment: {}",
                        approval.alerts.join(", ")
                    ),
                )
                .with("alerts", approval.alerts.clone())
                .with_errors(errors))
            }
        }
    } else {
        if !body.acknowledged_flags.is_empty() {
            return Err(ApiError::field(
                "acknowledged_flags",
                Rule::OnlyApprovalAcknowledges,
            ));
        }
        Vec::new()
    };
    let acknowledged_json = serde_json::to_string(&acknowledged).unwrap_or_else(|_| "[]".into());
    let village = OrgUnit::find(conn, &ins.village_id)?.ok_or_else(|| ApiError::internal())?;
    let today = crate::clock::today(tz);
    let before = stars::status_of(conn, &village, today)?;
    if decision == DecisionKind::Approve {
        let joint = stars::policy::procedure_of(conn, &ins.county_id)?.joint_approval;
        let given = given_approvals(conn, &ins)?;
        let step = rules::approve_step(joint, &given, &user.id, my_body).map_err(|r| {
            let message = match r {
                rules::JointRefusal::AlreadyApproved => {
                    "you approved this inspection already: the other approval is another reviewer's"
                        .to_string()
                }
                rules::JointRefusal::BodyDone(b) => format!(
                    "the {} has approved this inspection already; the other body's reviewers decide it now",
                    b.as_str()
                ),
            };
            ApiError::conflict(r.code(), message)
        })?;
        let approval_id = uuid::Uuid::now_v7().to_string();
        let res = diesel::insert_into(approvals::table)
            .values((
                approvals::id.eq(&approval_id),
                approvals::inspection_id.eq(&ins.id),
                approvals::revision.eq(ins.revision),
                approvals::county_id.eq(&ins.county_id),
                approvals::body.eq(my_body.as_str()),
                approvals::actor_id.eq(&user.id),
                approvals::comment.eq(&comment),
                approvals::acknowledged_flags.eq(&acknowledged_json),
                approvals::approved_at.eq(t),
            ))
            .execute(conn);
        match res {
            Err(e) if is_unique_violation(&e) => {
                return Err(ApiError::conflict(
                    "approval.body_done",
                    format!(
                        "the {} has approved this inspection already",
                        my_body.as_str()
                    ),
                ))
            }
            other => other?,
        };
        if let ApprovalStep::Awaiting(missing) = step {
            return first_approval(
                conn,
                user,
                FirstApproval {
                    ins: &ins,
                    declaration: &declaration,
                    approval_id,
                    body: my_body,
                    missing,
                    comment,
                    acknowledged,
                    at: t,
                    star_level: before.level,
                },
            );
        }
    }
    let decision_id = uuid::Uuid::now_v7().to_string();
    let res = diesel::insert_into(decisions::table)
        .values((
            decisions::id.eq(&decision_id),
            decisions::inspection_id.eq(&ins.id),
            decisions::revision.eq(ins.revision),
            decisions::declaration_id.eq(&declaration.id),
            decisions::village_id.eq(&ins.village_id),
            decisions::township_id.eq(&ins.township_id),
            decisions::county_id.eq(&ins.county_id),
            decisions::quarter.eq(&declaration.quarter),
            decisions::star_level.eq(declaration.star_level),
            decisions::kind.eq(&declaration.kind),
            decisions::decision.eq(decision.as_str()),
            decisions::consequence.eq(consequence.map(Consequence::as_str)),
            decisions::comment.eq(&comment),
            decisions::actor_id.eq(&user.id),
            decisions::decided_at.eq(t),
            decisions::decided_on.eq(today),
            decisions::acknowledged_flags.eq(&acknowledged_json),
        ))
        .execute(conn);
    match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::conflict("already_decided", "a decision is final"))
        }
        other => other?,
    };
    let status = match decision {
        DecisionKind::Approve => InspectionStatus::Approved,
        DecisionKind::Reject => InspectionStatus::Rejected,
        DecisionKind::Return => InspectionStatus::Returned,
    };
    diesel::update(inspections::table.find(&ins.id))
        .set((
            inspections::status.eq(status),
            inspections::decided_at.eq(t),
            inspections::return_comment
                .eq((decision == DecisionKind::Return).then_some(comment.clone())),
            inspections::claimed_by.eq(None::<String>),
            inspections::claim_expires_at.eq(None::<chrono::NaiveDateTime>),
            inspections::awaiting_body.eq(None::<String>),
            inspections::updated_at.eq(t),
        ))
        .execute(conn)?;
    match decision {
        DecisionKind::Approve => {
            Declaration::set_status(conn, &declaration.id, DeclarationStatus::Approved)?
        }
        DecisionKind::Reject => {
            Declaration::set_status(conn, &declaration.id, DeclarationStatus::Rejected)?
        }
        DecisionKind::Return => 0,
    };
    audit::record(
        conn,
        &user.actor(),
        &format!("inspection.{status}"),
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        format!(
            "revision {}: {}{}{} — {comment}",
            ins.revision,
            decision.as_str(),
            consequence
                .map(|c| format!(" ({})", c.as_str()))
                .unwrap_or_default(),
            if acknowledged.is_empty() {
                String::new()
            } else {
                format!("; alerts acknowledged: {}", acknowledged.join(", "))
            }
        ),
    )?;
    let event = json!({
        "inspection_id": ins.id, "declaration_id": declaration.id, "village_id": ins.village_id,
        "revision": ins.revision, "decision": decision, "consequence": consequence, "comment": comment,
        "acknowledged_flags": acknowledged,
        "decided_by": user.username, "decided_at": t.and_utc().to_rfc3339(),
        "body": my_body,
    });
    let kind = if decision == DecisionKind::Return {
        outbox::INSPECTION_RETURNED
    } else {
        outbox::INSPECTION_DECIDED
    };
    outbox::enqueue(conn, &ins.county_id, kind, event)?;
    let after = stars::status_of(conn, &village, today)?;
    stars::status::announce_change(conn, &user.actor(), &village, &before, &after, "")?;
    Ok(DecisionView {
        id: decision_id,
        inspection_id: ins.id,
        revision: ins.revision,
        decision,
        consequence,
        comment,
        acknowledged_flags: acknowledged,
        decided_by: user.id.clone(),
        decided_at: t.and_utc(),
        body: my_body,
        inspection_status: status,
        awaiting_body: None,
        star_level: after.level,
    })
}

/// The first of two approvals, as it is recorded.
struct FirstApproval<'a> {
    ins: &'a Inspection,
    declaration: &'a Declaration,
    approval_id: String,
    body: ReviewBody,
    missing: ReviewBody,
    comment: String,
    acknowledged: Vec<String>,
    at: chrono::NaiveDateTime,
    star_level: u8,
}

/// Records the first body's approval: the inspection waits in the other body's queue, the
/// claim is released, and nothing changes for the village until the second approval.
fn first_approval(
    conn: &mut DbConn,
    user: &AuthUser,
    a: FirstApproval<'_>,
) -> ApiResult<DecisionView> {
    let ins = a.ins;
    diesel::update(inspections::table.find(&ins.id))
        .set((
            inspections::status.eq(InspectionStatus::AwaitingSecondApproval),
            inspections::awaiting_body.eq(a.missing.as_str()),
            inspections::claimed_by.eq(None::<String>),
            inspections::claim_expires_at.eq(None::<chrono::NaiveDateTime>),
            inspections::updated_at.eq(a.at),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        &user.actor(),
        "inspection.approval_given",
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        format!(
            "revision {}: approved for the {}; the {}'s approval is missing{} — {}",
            ins.revision,
            a.body.as_str(),
            a.missing.as_str(),
            if a.acknowledged.is_empty() {
                String::new()
            } else {
                format!("; alerts acknowledged: {}", a.acknowledged.join(", "))
            },
            a.comment
        ),
    )?;
    outbox::enqueue(
        conn,
        &ins.county_id,
        outbox::INSPECTION_AWAITING_SECOND_APPROVAL,
        json!({
            "inspection_id": ins.id, "declaration_id": a.declaration.id,
            "village_id": ins.village_id, "revision": ins.revision,
            "approved_by": user.username, "body": a.body, "awaiting_body": a.missing,
            "comment": a.comment, "acknowledged_flags": a.acknowledged,
            "approved_at": a.at.and_utc().to_rfc3339(),
        }),
    )?;
    Ok(DecisionView {
        id: a.approval_id,
        inspection_id: ins.id.clone(),
        revision: ins.revision,
        decision: DecisionKind::Approve,
        consequence: None,
        comment: a.comment,
        acknowledged_flags: a.acknowledged,
        decided_by: user.id.clone(),
        decided_at: a.at.and_utc(),
        body: a.body,
        inspection_status: InspectionStatus::AwaitingSecondApproval,
        awaiting_body: Some(a.missing),
        star_level: a.star_level,
    })
}

/// Why a checklist failed, in words: its failing items, or its score under the pass mark.
fn failed_because(ins: &Inspection, failing_items: &[String]) -> String {
    let evaluation: serde_json::Value =
        serde_json::from_str(&ins.evaluation).unwrap_or(serde_json::Value::Null);
    let pass = evaluation
        .get("pass_score")
        .and_then(|v| v.as_f64())
        .unwrap_or(60.0);
    let score = format!("score {:.0} (pass mark {pass:.0})", ins.score);
    if failing_items.is_empty() {
        score
    } else {
        format!("{score}; failing items: {}", failing_items.join(", "))
    }
}

/// Whether the inspection's present revision can be approved, and what stands in the way.
pub fn approval_of(ins: &Inspection, photos: &[crate::inspection::model::PhotoRow]) -> Approval {
    let evaluation: serde_json::Value =
        serde_json::from_str(&ins.evaluation).unwrap_or(serde_json::Value::Null);
    let failing: Vec<String> = evaluation
        .get("failing_items")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    Approval::of(ins.passed, &failing, &ins.all_flags(photos))
}

#[derive(Deserialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ReopenBody {
    /// Why the decision was wrong; kept on the record beside it.
    pub reason: String,
}

/// Reopens a wrong decision (county admins, within 30 days): the decision stays on the record,
/// marked reopened with the reason; the inspection is back in the review queue, its declaration
/// open again, and the village's star status is recomputed from the decisions that remain.
pub fn reopen(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
    body: &ReopenBody,
    tz: chrono_tz::Tz,
) -> ApiResult<Inspection> {
    let ins = Inspection::find_scoped(conn, &user.scope, id)?;
    user.require(&[Role::Admin])?;
    let reason = body.reason.trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::field("reason", Rule::ReopenReasonRequired));
    }
    if reason.chars().count() > MAX_COMMENT {
        return Err(ApiError::field(
            "reason",
            Rule::TooLong.with("max", MAX_COMMENT),
        ));
    }
    // Lock the row before the checks, so that a decision and a reopening cannot interleave.
    diesel::update(inspections::table.find(&ins.id))
        .set(inspections::updated_at.eq(now()))
        .execute(conn)?;
    let ins = Inspection::find(conn, id)?.ok_or_else(|| ApiError::internal())?;
    if !ins.status().is_decided() {
        return Err(ApiError::conflict(
            "reopen.not_decided",
            format!(
                "only an approved or rejected inspection can be reopened; this one is {}",
                ins.status
            ),
        ));
    }
    let (decision_id, decided_at, village_id): (String, chrono::NaiveDateTime, String) =
        decisions::table
            .filter(decisions::inspection_id.eq(&ins.id))
            .filter(decisions::revision.eq(ins.revision))
            .filter(decisions::reopened_at.is_null())
            .select((decisions::id, decisions::decided_at, decisions::village_id))
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::internal())?;
    let t = now();
    if !rules::reopenable(decided_at, t) {
        return Err(ApiError::conflict(
            "reopen.too_late",
            format!(
                "a decision can be reopened within {} days; this one was taken on {}",
                rules::REOPEN_DAYS,
                decided_at.and_utc().format("%Y-%m-%d")
            ),
        ));
    }
    let later: i64 = decisions::table
        .filter(decisions::village_id.eq(&village_id))
        .filter(decisions::reopened_at.is_null())
        .filter(decisions::decided_at.gt(decided_at))
        .count()
        .get_result(conn)?;
    if later > 0 {
        return Err(ApiError::conflict(
            "reopen.superseded",
            "the village has a later decision; reopen that one first",
        ));
    }
    let village = OrgUnit::find(conn, &ins.village_id)?.ok_or_else(|| ApiError::internal())?;
    let today = crate::clock::today(tz);
    let before = stars::status_of(conn, &village, today)?;
    diesel::update(decisions::table.find(&decision_id))
        .set((
            decisions::reopened_at.eq(t),
            decisions::reopened_by.eq(&user.id),
            decisions::reopen_reason.eq(&reason),
        ))
        .execute(conn)?;
    diesel::update(inspections::table.find(&ins.id))
        .set((
            inspections::status.eq(InspectionStatus::Submitted),
            inspections::decided_at.eq(None::<chrono::NaiveDateTime>),
            inspections::claimed_by.eq(None::<String>),
            inspections::claim_expires_at.eq(None::<chrono::NaiveDateTime>),
            inspections::updated_at.eq(t),
        ))
        .execute(conn)?;
    // The approvals that made the decision go with it: both bodies approve again.
    diesel::update(
        approvals::table
            .filter(approvals::inspection_id.eq(&ins.id))
            .filter(approvals::revision.eq(ins.revision))
            .filter(approvals::withdrawn_at.is_null()),
    )
    .set(approvals::withdrawn_at.eq(t))
    .execute(conn)?;
    Declaration::set_status(conn, &ins.declaration_id, DeclarationStatus::Inspecting)?;
    audit::record(
        conn,
        &user.actor(),
        "inspection.reopened",
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        format!(
            "revision {}: the {} decision is reopened — {reason}",
            ins.revision, ins.status
        ),
    )?;
    outbox::enqueue(
        conn,
        &ins.county_id,
        outbox::INSPECTION_REOPENED,
        json!({
            "inspection_id": ins.id, "declaration_id": ins.declaration_id,
            "village_id": ins.village_id, "revision": ins.revision,
            "reopened_decision_id": decision_id, "previous_status": ins.status,
            "reason": reason, "reopened_by": user.username,
            "reopened_at": t.and_utc().to_rfc3339(),
        }),
    )?;
    let after = stars::status_of(conn, &village, today)?;
    stars::status::announce_change(
        conn,
        &user.actor(),
        &village,
        &before,
        &after,
        " (reopened)",
    )?;
    Inspection::find(conn, id)?.ok_or_else(|| ApiError::internal())
}

/// A decision as the people concerned read it: the reviewer's words, and whether it was
/// reopened, by whom and why.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub id: String,
    pub revision: i32,
    pub decision: DecisionKind,
    /// For a rejected renewal.
    pub consequence: Option<Consequence>,
    pub comment: String,
    pub acknowledged_flags: Vec<String>,
    pub decided_by: String,
    pub decided_by_name: String,
    pub decided_at: DateTime<Utc>,
    pub reopened_at: Option<DateTime<Utc>>,
    pub reopened_by_name: Option<String>,
    pub reopen_reason: Option<String>,
}

type RecordRow = (
    String,
    i32,
    String,
    Option<String>,
    String,
    String,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    Option<String>,
    Option<String>,
);

/// The usernames of `ids`, by id: one query for a whole list.
fn usernames(
    conn: &mut DbConn,
    ids: &[String],
) -> QueryResult<std::collections::HashMap<String, String>> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::username))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// Every decision taken on the inspection, oldest first, reopened ones included.
pub fn records_of(conn: &mut DbConn, inspection_id: &str) -> QueryResult<Vec<DecisionRecord>> {
    let rows: Vec<RecordRow> = decisions::table
        .filter(decisions::inspection_id.eq(inspection_id))
        .order((decisions::decided_at.asc(), decisions::id.asc()))
        .select((
            decisions::id,
            decisions::revision,
            decisions::decision,
            decisions::consequence,
            decisions::comment,
            decisions::acknowledged_flags,
            decisions::actor_id,
            decisions::decided_at,
            decisions::reopened_at,
            decisions::reopened_by,
            decisions::reopen_reason,
        ))
        .load(conn)?;
    let mut ids: Vec<String> = rows.iter().map(|r| r.6.clone()).collect();
    ids.extend(rows.iter().filter_map(|r| r.9.clone()));
    let names = usernames(conn, &ids)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let (id, revision, decision, consequence, comment, ack, actor, at, reopened, by, why) =
                row;
            let Some(decision) = DecisionKind::parse(&decision) else {
                tracing::warn!(decision_id = %id, "decision row with an unreadable decision, not shown");
                return None;
            };
            Some(DecisionRecord {
                id,
                revision,
                decision,
                consequence: consequence.as_deref().and_then(Consequence::parse),
                comment,
                acknowledged_flags: serde_json::from_str(&ack).unwrap_or_default(),
                decided_by_name: names.get(&actor).cloned().unwrap_or_default(),
                decided_by: actor,
                decided_at: at.and_utc(),
                reopened_at: reopened.map(|t| t.and_utc()),
                reopened_by_name: by.and_then(|b| names.get(&b).cloned()),
                reopen_reason: why,
            })
        })
        .collect())
}

/// One body's approval of a revision, as the inspection's page shows it.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    pub id: String,
    pub revision: i32,
    pub body: ReviewBody,
    pub approved_by: String,
    pub approved_by_name: String,
    pub approved_at: DateTime<Utc>,
    pub comment: String,
    pub acknowledged_flags: Vec<String>,
    /// When the decision it made was reopened: both bodies approve again.
    pub withdrawn_at: Option<DateTime<Utc>>,
}

type ApprovalRow = (
    String,
    i32,
    String,
    String,
    String,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

/// Every approval given to the inspection, oldest first, withdrawn ones included.
pub fn approvals_of(conn: &mut DbConn, inspection_id: &str) -> QueryResult<Vec<ApprovalRecord>> {
    let rows: Vec<ApprovalRow> = approvals::table
        .filter(approvals::inspection_id.eq(inspection_id))
        .order((approvals::approved_at.asc(), approvals::id.asc()))
        .select((
            approvals::id,
            approvals::revision,
            approvals::body,
            approvals::actor_id,
            approvals::comment,
            approvals::acknowledged_flags,
            approvals::approved_at,
            approvals::withdrawn_at,
        ))
        .load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.3.clone()).collect();
    let names = usernames(conn, &ids)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, revision, body, actor, comment, ack, at, withdrawn)| {
            Some(ApprovalRecord {
                id,
                revision,
                body: ReviewBody::parse(&body)?,
                approved_by_name: names.get(&actor).cloned().unwrap_or_default(),
                approved_by: actor,
                approved_at: at.and_utc(),
                comment,
                acknowledged_flags: serde_json::from_str(&ack).unwrap_or_default(),
                withdrawn_at: withdrawn.map(|w| w.and_utc()),
            })
        })
        .collect())
}
