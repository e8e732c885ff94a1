//! The township's pre-check (乡、村自报): where the county asks for it (policy
//! `township_precheck`), a village's declaration waits `awaiting_township` until its township
//! forwards it to the county (then the county's inspectors see it) or sends it back with a
//! comment. Township staff check their own villages; a county admin may act for a township that
//! has nobody in fieldstar yet.

use actix_web::{post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{Declaration, DeclarationStatus, DeclarationView};
use crate::auth::{AuthUser, Role};
use crate::db::schema::declarations;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::Json;
use crate::state::AppState;
use crate::webhooks::outbox;
use crate::{audit, clock::now};

pub const MAX_COMMENT: usize = 2000;

/// What the township decides about a declaration it checked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// To the county: its inspectors see it from now on.
    Forward,
    /// Back to the village, with the reason.
    SendBack,
}

impl Check {
    fn status(self) -> DeclarationStatus {
        match self {
            Check::Forward => DeclarationStatus::Pending,
            Check::SendBack => DeclarationStatus::SentBack,
        }
    }

    fn action(self) -> &'static str {
        match self {
            Check::Forward => "declaration.forwarded",
            Check::SendBack => "declaration.sent_back",
        }
    }

    fn outcome(self) -> &'static str {
        match self {
            Check::Forward => "forwarded",
            Check::SendBack => "sent_back",
        }
    }
}

#[derive(Deserialize, ToSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// Why the declaration goes back (required to send back); a note for the county when
    /// forwarding. At most 2,000 characters.
    #[serde(default)]
    pub comment: String,
}

/// The comment, checked: required to send back, bounded always.
pub fn check_comment(check: Check, comment: &str) -> Result<String, crate::error::FieldError> {
    let comment = comment.trim().to_string();
    if comment.chars().count() > MAX_COMMENT {
        return Err(crate::error::FieldError::new(
            "comment",
            crate::i18n::Rule::TooLong.with("max", MAX_COMMENT),
        ));
    }
    if check == Check::SendBack && comment.is_empty() {
        return Err(crate::error::FieldError::new(
            "comment",
            crate::i18n::Rule::SendBackReasonRequired,
        ));
    }
    Ok(comment)
}

/// Forwards or sends back a declaration awaiting its township's check, inside the caller's
/// write transaction: the status changes once (a second check is 409), audited, with a
/// `declaration.checked` event.
pub fn apply(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
    check: Check,
    comment: &str,
) -> ApiResult<Declaration> {
    let declaration = Declaration::find_scoped(conn, &user.scope, id)?;
    user.require(&[Role::Township, Role::Admin])?;
    let comment = check_comment(check, comment).map_err(|e| ApiError::validation(vec![e]))?;
    let t = now();
    // The guard repeats the status check, so two township users racing cannot both act.
    let changed = diesel::update(
        declarations::table
            .filter(declarations::id.eq(&declaration.id))
            .filter(declarations::status.eq(DeclarationStatus::AwaitingTownship)),
    )
    .set((
        declarations::status.eq(check.status().as_str()),
        declarations::checked_by.eq(&user.id),
        declarations::checked_at.eq(t),
        declarations::check_comment.eq((!comment.is_empty()).then_some(comment.clone())),
        declarations::updated_at.eq(t),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Err(ApiError::conflict(
            "declaration.not_awaiting_township",
            format!(
                "only a declaration awaiting its township's check is forwarded or sent back; this one is {}",
                declaration.status
            ),
        ));
    }
    audit::record(
        conn,
        &user.actor(),
        check.action(),
        "declaration",
        &declaration.id,
        Some(&declaration.county_id),
        format!(
            "level {} for {}{}",
            declaration.star_level,
            declaration.quarter,
            if comment.is_empty() {
                String::new()
            } else {
                format!(" — {comment}")
            }
        ),
    )?;
    outbox::enqueue(
        conn,
        &declaration.county_id,
        outbox::DECLARATION_CHECKED,
        json!({
            "declaration_id": declaration.id, "village_id": declaration.village_id,
            "quarter": declaration.quarter, "star_level": declaration.star_level,
            "outcome": check.outcome(), "comment": comment,
            "checked_by": user.username, "checked_at": t.and_utc().to_rfc3339(),
        }),
    )?;
    declarations::table
        .find(&declaration.id)
        .select(Declaration::as_select())
        .first(conn)
        .map_err(Into::into)
}

async fn answer(
    state: web::Data<AppState>,
    user: AuthUser,
    id: String,
    check: Check,
    body: CheckBody,
) -> ApiResult<HttpResponse> {
    let declaration = state
        .db
        .write(move |conn| apply(conn, &user, &id, check, &body.comment))
        .await?;
    Ok(HttpResponse::Ok().json(declaration.view()))
}

/// Forwards a declaration awaiting its township's check to the county: from now on the
/// county's inspectors see it in their worklists. Township staff of its village (or a county
/// admin).
#[utoipa::path(
    tag = "declarations",
    params(("id" = String, Path)),
    request_body(content = CheckBody, description = "`{}`, or a note for the county"),
    responses(
        (status = 200, body = DeclarationView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Not awaiting its township's check (`declaration.not_awaiting_township`)"),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/declarations/{id}/forward")]
pub async fn forward(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<CheckBody>,
) -> ApiResult<HttpResponse> {
    answer(state, user, id.into_inner(), Check::Forward, body).await
}

/// Sends a declaration awaiting its township's check back to its village, with the reason
/// (`comment`, required). The village may declare again. Township staff of its village (or a
/// county admin).
#[utoipa::path(
    tag = "declarations",
    params(("id" = String, Path)),
    request_body = CheckBody,
    responses(
        (status = 200, body = DeclarationView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Not awaiting its township's check (`declaration.not_awaiting_township`)"),
        (status = 422, body = Problem, description = "No comment")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/declarations/{id}/send-back")]
pub async fn send_back(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<CheckBody>,
) -> ApiResult<HttpResponse> {
    answer(state, user, id.into_inner(), Check::SendBack, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sending_back_needs_a_reason_and_forwarding_does_not() {
        assert!(check_comment(Check::SendBack, "  ").is_err());
        assert_eq!(
            check_comment(Check::SendBack, " 材料不全 ").unwrap(),
            "材料不全"
        );
        assert_eq!(check_comment(Check::Forward, "").unwrap(), "");
        let long = "长".repeat(MAX_COMMENT + 1);
        for c in [Check::Forward, Check::SendBack] {
            assert_eq!(check_comment(c, &long).unwrap_err().field, "comment");
        }
    }

    #[test]
    fn a_forwarded_declaration_waits_for_the_county_and_a_sent_back_one_is_closed() {
        assert_eq!(Check::Forward.status(), DeclarationStatus::Pending);
        assert_eq!(Check::SendBack.status(), DeclarationStatus::SentBack);
    }
}
