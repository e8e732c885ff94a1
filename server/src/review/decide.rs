//! Claims and decisions, inside the caller's write transaction.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{AuthUser, Role};
use crate::db::schema::{decisions, inspections};
use crate::db::{is_unique_violation, DbConn};
use crate::declarations::{self, Declaration};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::inspection::model::{self as im, Inspection};
use crate::org::OrgUnit;
use crate::webhooks::outbox;
use crate::{audit, now, stars};

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

/// Takes (or renews) the caller's claim; 409 while another reviewer's claim is live.
pub fn claim(conn: &mut DbConn, user: &AuthUser, id: &str, minutes: i64) -> ApiResult<ClaimView> {
    let ins = Inspection::find_scoped(conn, &user.scope, id)?;
    user.require(&[Role::Reviewer, Role::Admin])?;
    if ins.status != im::SUBMITTED {
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
            .filter(inspections::status.eq(im::SUBMITTED))
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
    /// `approve`, `reject` or `return`.
    pub decision: String,
    /// `downgrade` or `revoke`: required when rejecting a renewal of a level the village holds.
    pub consequence: Option<String>,
    /// Required for `reject` and `return` (shown to the inspector on return).
    #[serde(default)]
    pub comment: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct DecisionView {
    pub id: String,
    pub inspection_id: String,
    pub revision: i32,
    pub decision: String,
    pub consequence: Option<String>,
    pub comment: String,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
    /// The inspection's status after the decision.
    pub inspection_status: String,
    /// The village's star level after the decision.
    pub star_level: u8,
}

/// Parses the body into a decision that fits the declaration, naming the field at fault.
fn check(
    body: &DecisionBody,
    declaration: &Declaration,
) -> ApiResult<(&'static str, Option<&'static str>, String)> {
    let comment = body.comment.trim().to_string();
    let mut errors = Vec::new();
    if comment.chars().count() > MAX_COMMENT {
        errors.push(FieldError::new(
            "comment",
            format!("at most {MAX_COMMENT} characters"),
        ));
    }
    let decision = match body.decision.as_str() {
        "approve" => "approve",
        "reject" => "reject",
        "return" => "return",
        _ => {
            errors.push(FieldError::new(
                "decision",
                "must be approve, reject or return",
            ));
            "invalid"
        }
    };
    let consequence = match body.consequence.as_deref() {
        None => None,
        Some("downgrade") => Some("downgrade"),
        Some("revoke") => Some("revoke"),
        Some(_) => {
            errors.push(FieldError::new(
                "consequence",
                "must be downgrade or revoke",
            ));
            None
        }
    };
    let renewal = declaration.kind == "renewal";
    match decision {
        "reject" if renewal && body.consequence.is_none() => errors.push(FieldError::new(
            "consequence",
            "rejecting a renewal of a level the village holds needs a consequence: downgrade or revoke",
        )),
        "reject" if !renewal && body.consequence.is_some() => errors.push(FieldError::new(
            "consequence",
            "a consequence applies only when rejecting a level the village already holds",
        )),
        "approve" | "return" if body.consequence.is_some() => {
            errors.push(FieldError::new("consequence", "only a rejection has a consequence"))
        }
        _ => {}
    }
    if matches!(decision, "reject" | "return") && comment.is_empty() {
        errors.push(FieldError::new(
            "comment",
            "say why: the inspector and the village read it",
        ));
    }
    if errors.is_empty() {
        Ok((decision, consequence, comment))
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
    let ins = Inspection::find(conn, id)?.ok_or_else(ApiError::internal)?;
    match ins.status.as_str() {
        im::SUBMITTED => {}
        im::APPROVED | im::REJECTED => {
            return Err(ApiError::conflict("already_decided", "a decision is final"))
        }
        im::RETURNED => {
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
    let t = now();
    if claim_is_live(&ins, t) && ins.claimed_by.as_deref() != Some(user.id.as_str()) {
        return Err(ApiError::conflict(
            "claimed",
            "another reviewer holds this inspection",
        ));
    }
    let declaration = Declaration::find_scoped(conn, &user.scope, &ins.declaration_id)?;
    let (decision, consequence, comment) = check(body, &declaration)?;
    let village = OrgUnit::find(conn, &ins.village_id)?.ok_or_else(ApiError::internal)?;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let before = stars::status_of(conn, &village, today)?;
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
            decisions::decision.eq(decision),
            decisions::consequence.eq(consequence),
            decisions::comment.eq(&comment),
            decisions::actor_id.eq(&user.id),
            decisions::decided_at.eq(t),
            decisions::decided_on.eq(today),
        ))
        .execute(conn);
    match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::conflict("already_decided", "a decision is final"))
        }
        other => other?,
    };
    let status = match decision {
        "approve" => im::APPROVED,
        "reject" => im::REJECTED,
        _ => im::RETURNED,
    };
    diesel::update(inspections::table.find(&ins.id))
        .set((
            inspections::status.eq(status),
            inspections::decided_at.eq(t),
            inspections::return_comment.eq((decision == "return").then_some(comment.clone())),
            inspections::claimed_by.eq(None::<String>),
            inspections::claim_expires_at.eq(None::<chrono::NaiveDateTime>),
            inspections::updated_at.eq(t),
        ))
        .execute(conn)?;
    match decision {
        "approve" => Declaration::set_status(conn, &declaration.id, declarations::APPROVED)?,
        "reject" => Declaration::set_status(conn, &declaration.id, declarations::REJECTED)?,
        _ => 0,
    };
    audit::record(
        conn,
        &user.actor(),
        &format!("inspection.{status}"),
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        format!(
            "revision {}: {decision}{} — {comment}",
            ins.revision,
            consequence.map(|c| format!(" ({c})")).unwrap_or_default()
        ),
    )?;
    let event = json!({
        "inspection_id": ins.id, "declaration_id": declaration.id, "village_id": ins.village_id,
        "revision": ins.revision, "decision": decision, "consequence": consequence, "comment": comment,
        "decided_by": user.username, "decided_at": t.and_utc().to_rfc3339(),
    });
    let kind = if decision == "return" {
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
        decision: decision.to_string(),
        consequence: consequence.map(str::to_string),
        comment,
        decided_by: user.id.clone(),
        decided_at: t.and_utc(),
        inspection_status: status.to_string(),
        star_level: after.level,
    })
}
