//! Bulk approval: a reviewer approves a batch of renewals that passed with no flag at all, each
//! claimed and decided by the same [`decide::claim`] and [`decide::decide`] as a single
//! decision, each in its own transaction (one refusal never undoes another's approval) and
//! each audited on its own.

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::decide::{self, DecisionBody, DecisionView};
use super::rules::DecisionKind;
use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::declarations::Declaration;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::i18n::Rule;
use crate::inspection::model::Inspection;
use crate::stars::engine::DeclarationKind;

/// The most inspections one bulk approval names.
pub const MAX_BULK: usize = 100;

#[derive(Deserialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct BulkApproveBody {
    /// 1 to 100 distinct inspection ids.
    pub inspection_ids: Vec<String>,
    /// Recorded with each approval (optional: an approval without alerts needs none).
    #[serde(default)]
    pub comment: String,
}

/// What happened to one inspection of the batch.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BulkOutcome {
    /// The decision was taken: the village keeps (or gains) its level.
    Approved,
    /// The caller's body approved; the other body's approval is still missing.
    AwaitingOtherBody,
    /// Nothing was written for this inspection; `code` and `detail` say why.
    Refused,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct BulkResult {
    pub inspection_id: String,
    pub outcome: BulkOutcome,
    /// For a refusal: the HTTP status a single decision would have answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For a refusal: the problem code (`bulk.not_eligible`, `claimed`, `already_decided`,
    /// `approval.body_done`, `not_found`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For an approval: the decision as `POST …/decision` answers it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionView>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct BulkApproveView {
    /// One result per id, in the order given.
    pub results: Vec<BulkResult>,
    pub approved: usize,
    pub awaiting_other_body: usize,
    pub refused: usize,
}

/// The body's shape: 1–100 distinct ids, a comment of at most 2,000 characters.
pub fn check(body: &BulkApproveBody) -> ApiResult<()> {
    let mut errors = Vec::new();
    if body.inspection_ids.is_empty() {
        errors.push(FieldError::new(
            "inspection_ids",
            Rule::AtLeastOneInspection,
        ));
    }
    if body.inspection_ids.len() > MAX_BULK {
        errors.push(FieldError::new(
            "inspection_ids",
            Rule::AtMostInspections.with("max", MAX_BULK),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, id) in body.inspection_ids.iter().enumerate() {
        if id.is_empty() || id.len() > 64 {
            errors.push(FieldError::new(
                format!("inspection_ids[{i}]"),
                Rule::NotAnInspectionId,
            ));
        } else if !seen.insert(id.as_str()) {
            errors.push(FieldError::new(
                format!("inspection_ids[{i}]"),
                Rule::Duplicate,
            ));
        }
    }
    if body.comment.trim().chars().count() > decide::MAX_COMMENT {
        errors.push(FieldError::new(
            "comment",
            Rule::TooLong.with("max", decide::MAX_COMMENT),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// 422 `bulk.not_eligible` unless the inspection is a renewal that passed with no flag.
fn eligible(conn: &mut DbConn, user: &AuthUser, id: &str) -> ApiResult<()> {
    let ins = Inspection::find_scoped(conn, &user.scope, id)?;
    let declaration = Declaration::find_scoped(conn, &user.scope, &ins.declaration_id)?;
    let not = |why: &str| {
        Err(ApiError::unprocessable(
            "bulk.not_eligible",
            format!("only a renewal that passed with no flag is approved in bulk: {why}"),
        ))
    };
    if DeclarationKind::parse(&declaration.kind) != Some(DeclarationKind::Renewal) {
        return not("this is not a renewal; decide it on its own page");
    }
    if !ins.passed {
        return not("the checklist did not pass");
    }
    let photos = ins.photos(conn)?;
    let flags = ins.all_flags(&photos);
    if !flags.is_empty() {
        let mut codes: Vec<&str> = flags.iter().map(|f| f.code.as_str()).collect();
        codes.dedup();
        return not(&format!("it has flags ({})", codes.join(", ")));
    }
    Ok(())
}

/// One inspection of the batch, inside its own write transaction: the eligibility check, then
/// the claim and the decision exactly as a reviewer takes them one by one.
pub fn approve_one(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
    comment: &str,
    claim_minutes: i64,
    tz: chrono_tz::Tz,
) -> ApiResult<DecisionView> {
    eligible(conn, user, id)?;
    decide::claim(conn, user, id, claim_minutes)?;
    let body = DecisionBody {
        decision: DecisionKind::Approve,
        consequence: None,
        comment: comment.trim().to_string(),
        acknowledged_flags: Vec::new(),
    };
    decide::decide(conn, user, id, &body, tz)
}

/// The result of one inspection's attempt.
pub fn result_of(id: String, r: ApiResult<DecisionView>) -> BulkResult {
    match r {
        Ok(view) => BulkResult {
            inspection_id: id,
            outcome: if view.awaiting_body.is_some() {
                BulkOutcome::AwaitingOtherBody
            } else {
                BulkOutcome::Approved
            },
            status: None,
            code: None,
            detail: None,
            decision: Some(view),
        },
        Err(e) => {
            if e.status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(inspection = %id, error = %e, "a bulk approval failed");
            }
            BulkResult {
                inspection_id: id,
                outcome: BulkOutcome::Refused,
                status: Some(e.status.as_u16()),
                code: Some(e.code.to_string()),
                // In the reader's language, as a single decision's problem would be.
                detail: Some(match crate::i18n::current() {
                    Some(lang) => e.problem_in(lang).detail,
                    None => e.detail,
                }),
                decision: None,
            }
        }
    }
}
