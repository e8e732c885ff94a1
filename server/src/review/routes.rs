//! `/api/v1/review-queue` and the reviewer's actions on one inspection: claim, release, decide.

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::bulk::{self, BulkApproveBody, BulkApproveView, BulkOutcome};
use super::decide::{self, ClaimView, DecisionBody, DecisionView, ReopenBody};
use crate::auth::{AuthUser, Role};
use crate::db::schema::{declarations, inspections, org_units, users};
use crate::declarations::Declaration;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{Json, Page, PageParams};
use crate::i18n::Rule;
use crate::inspection::flags::FlagCount;
use crate::inspection::model::{InspectionHead, InspectionStatus};
use crate::inspection::routes::{flags_for_page, InspectionDetail};
use crate::org::OrgUnit;
use crate::review::rules::ReviewBody;
use crate::scoped;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueFilter {
    /// Only inspections with a warning or an alert.
    pub flagged: Option<bool>,
    /// Only this township's villages.
    pub township: Option<String>,
    /// Only declarations of this star level.
    pub level: Option<i32>,
    /// `oldest` (default: longest waiting first) or `flags` (worst flags first, then oldest).
    pub sort: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct UnitRef {
    pub id: String,
    pub code: String,
    pub name: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct ClaimHolder {
    pub id: String,
    pub username: String,
    pub until: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct QueueEntry {
    pub id: String,
    pub village_id: String,
    pub village: UnitRef,
    pub township: Option<UnitRef>,
    pub declaration_id: String,
    pub declared_level: i32,
    pub kind: Option<crate::stars::engine::DeclarationKind>,
    pub quarter: String,
    pub status: InspectionStatus,
    pub revision: i32,
    pub score: f64,
    pub passed: bool,
    /// One entry per flag code, worst first: `{code, severity, count}` (details on the
    /// inspection's page).
    #[schema(value_type = Vec<Object>)]
    pub flags: Vec<FlagCount>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// Seconds since the submission was complete.
    pub waiting_seconds: i64,
    pub claimed_by: Option<ClaimHolder>,
    /// In `awaiting_second_approval`: the verifying body whose approval is still missing (the
    /// other body approved). A `submitted` inspection needs every body the county requires.
    pub awaiting_body: Option<ReviewBody>,
}

#[derive(Serialize, Deserialize)]
struct QueueCursor {
    severity: i32,
    at: NaiveDateTime,
    id: String,
}

/// The county's submitted inspections awaiting a decision, oldest first. With joint approval,
/// an inspection one body approved (`awaiting_second_approval`) waits in the other body's
/// reviewers' queue only; admins see every one.
#[utoipa::path(
    tag = "review",
    params(QueueFilter, PageParams),
    responses((status = 200, body = Page<QueueEntry>), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/review-queue")]
pub async fn review_queue(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<QueueFilter>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Reviewer, Role::Admin])?;
    let limit = page.limit()?;
    let cursor: Option<QueueCursor> = page.cursor()?;
    let filter = filter.into_inner();
    let by_flags = match filter.sort.as_deref() {
        None | Some("oldest") => false,
        Some("flags") => true,
        Some(_) => {
            return Err(ApiError::field(
                "sort",
                Rule::OneOf.with("allowed", "oldest, flags"),
            ))
        }
    };
    if filter.level.is_some_and(|l| !(1..=3).contains(&l)) {
        return Err(ApiError::field("level", Rule::StarLevelRange));
    }
    let page = state
        .db
        .read(move |conn| {
            let body: Option<String> = if user.role == Role::Reviewer {
                users::table
                    .find(&user.id)
                    .select(users::body)
                    .first(conn)
                    .optional()?
                    .flatten()
            } else {
                None
            };
            let second = inspections::status.eq(InspectionStatus::AwaitingSecondApproval);
            let q =
                match body {
                    Some(b) => inspections::table
                        .filter(
                            inspections::status
                                .eq(InspectionStatus::Submitted)
                                .or(second.and(inspections::awaiting_body.eq(b))),
                        )
                        .into_boxed(),
                    None if user.role == Role::Admin => inspections::table
                        .filter(inspections::status.eq_any(
                            InspectionStatus::AWAITING_REVIEW.map(InspectionStatus::as_str),
                        ))
                        .into_boxed(),
                    None => inspections::table
                        .filter(inspections::status.eq(InspectionStatus::Submitted))
                        .into_boxed(),
                };
            let mut q = scoped!(q, inspections, &user.scope);
            if filter.flagged == Some(true) {
                q = q.filter(inspections::flag_severity.ge(2));
            }
            if let Some(t) = filter.township {
                q = q.filter(inspections::township_id.eq(t));
            }
            if let Some(level) = filter.level {
                q = q.filter(
                    inspections::declaration_id.eq_any(
                        declarations::table
                            .filter(declarations::star_level.eq(level))
                            .filter(declarations::county_id.eq(user.scope.county_id.clone()))
                            .select(declarations::id),
                    ),
                );
            }
            if let Some(c) = cursor {
                let after_time = inspections::submitted_at
                    .gt(c.at)
                    .or(inspections::submitted_at
                        .eq(c.at)
                        .and(inspections::id.gt(c.id.clone())));
                q = if by_flags {
                    q.filter(
                        inspections::flag_severity
                            .lt(c.severity)
                            .or(inspections::flag_severity.eq(c.severity).and(after_time)),
                    )
                } else {
                    q.filter(after_time)
                };
            }
            q = if by_flags {
                q.order((
                    inspections::flag_severity.desc(),
                    inspections::submitted_at.asc(),
                    inspections::id.asc(),
                ))
            } else {
                q.order((inspections::submitted_at.asc(), inspections::id.asc()))
            };
            let rows: Vec<InspectionHead> = q
                .select(InspectionHead::as_select())
                .limit(limit + 1)
                .load(conn)?;
            let cursor_of = |r: &InspectionHead| QueueCursor {
                severity: r.flag_severity,
                at: r.submitted_at.unwrap_or(r.updated_at),
                id: r.id.clone(),
            };
            let page = Page::from_rows(rows, limit, cursor_of, |r| r);
            Ok(Page {
                items: entries(conn, page.items)?,
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Joins a page of inspections to their villages, townships, declarations and claimers:
/// a fixed number of queries per page, whatever its size.
fn entries(
    conn: &mut crate::db::DbConn,
    rows: Vec<InspectionHead>,
) -> QueryResult<Vec<QueueEntry>> {
    let unit_ids: Vec<String> = rows
        .iter()
        .flat_map(|r| [Some(r.village_id.clone()), r.township_id.clone()])
        .flatten()
        .collect();
    let units: Vec<OrgUnit> = org_units::table
        .filter(org_units::id.eq_any(&unit_ids))
        .select(OrgUnit::as_select())
        .load(conn)?;
    let decl_ids: Vec<String> = rows.iter().map(|r| r.declaration_id.clone()).collect();
    let decls: Vec<Declaration> = declarations::table
        .filter(declarations::id.eq_any(&decl_ids))
        .select(Declaration::as_select())
        .load(conn)?;
    let claimer_ids: Vec<String> = rows.iter().filter_map(|r| r.claimed_by.clone()).collect();
    let claimers: Vec<(String, String)> = users::table
        .filter(users::id.eq_any(&claimer_ids))
        .select((users::id, users::username))
        .load(conn)?;
    let unit_ref = |id: &str| {
        units.iter().find(|u| u.id == id).map(|u| UnitRef {
            id: u.id.clone(),
            code: u.code.clone(),
            name: u.name.clone(),
        })
    };
    let now = crate::clock::now();
    let flags = flags_for_page(conn, &rows)?;
    Ok(rows
        .into_iter()
        .zip(flags)
        .map(|(r, flags)| {
            let d = decls.iter().find(|d| d.id == r.declaration_id);
            let live_claim = r.claim_expires_at.filter(|e| *e > now);
            QueueEntry {
                village: unit_ref(&r.village_id).unwrap_or(UnitRef {
                    id: r.village_id.clone(),
                    code: String::new(),
                    name: String::new(),
                }),
                township: r.township_id.as_deref().and_then(unit_ref),
                declared_level: d.map_or(0, |d| d.star_level),
                kind: d.and_then(|d| crate::stars::engine::DeclarationKind::parse(&d.kind)),
                quarter: d.map(|d| d.quarter.clone()).unwrap_or_default(),
                waiting_seconds: r.submitted_at.map_or(0, |s| (now - s).num_seconds().max(0)),
                claimed_by: match (&r.claimed_by, live_claim) {
                    (Some(id), Some(until)) => Some(ClaimHolder {
                        id: id.clone(),
                        username: claimers
                            .iter()
                            .find(|(i, _)| i == id)
                            .map(|(_, n)| n.clone())
                            .unwrap_or_default(),
                        until: until.and_utc(),
                    }),
                    _ => None,
                },
                awaiting_body: r.awaiting_body.as_deref().and_then(ReviewBody::parse),
                status: r.status(),
                id: r.id,
                village_id: r.village_id,
                declaration_id: r.declaration_id,
                revision: r.revision,
                score: r.score,
                passed: r.passed,
                flags,
                submitted_at: r.submitted_at.map(|t| t.and_utc()),
            }
        })
        .collect())
}

/// Claims the inspection for the caller; claims expire (FIELDSTAR_CLAIM_MINUTES, default 120).
#[utoipa::path(
    tag = "review",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ClaimView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/inspections/{id}/claim")]
pub async fn claim(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let minutes = state.config.claim_minutes;
    let id = id.into_inner();
    let view = state
        .db
        .write(move |conn| decide::claim(conn, &user, &id, minutes))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Releases the caller's claim.
#[utoipa::path(
    tag = "review",
    params(("id" = String, Path)),
    responses((status = 204, description = "Released"), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/api/v1/inspections/{id}/claim")]
pub async fn release(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state
        .db
        .write(move |conn| decide::release(conn, &user, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Decides the inspection: approve, reject (with a consequence for a held level) or return.
/// Only the reviewer holding the live claim decides. A checklist that did not pass is never
/// approved, and an approval acknowledges each alert with a comment. With joint approval (the
/// county's policy, on by default) an approval needs one reviewer of the department and one of
/// the association: the first leaves the inspection `awaiting_second_approval` in the other
/// body's queue, the second takes the decision; a rejection or a return by either body decides
/// at once, and one reviewer never gives both approvals.
#[utoipa::path(
    tag = "review",
    params(("id" = String, Path)),
    request_body = DecisionBody,
    responses(
        (status = 201, body = DecisionView), (status = 403, body = Problem, description = "Not a reviewer; her own inspection; a reviewer without a verifying body (`reviewer.no_body`)"), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Already decided (`already_decided`), claimed by another reviewer (`claimed`), not claimed by the caller (`claim_required`), approved by the caller already (`approval.already_given`), or approved by the caller's body already (`approval.body_done`, naming `awaiting_body`)"),
        (status = 422, body = Problem, description = "Invalid body; `decision.checklist_failed` (approving a checklist that did not pass: `failing_items`); `decision.alerts_unacknowledged` (approving with alerts not acknowledged with a comment: `alerts`)")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/inspections/{id}/decision")]
pub async fn decision(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<DecisionBody>,
) -> ApiResult<HttpResponse> {
    let tz = state.config.timezone;
    let id = id.into_inner();
    let view = state
        .db
        .write(move |conn| decide::decide(conn, &user, &id, &body, tz))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Reopens a wrong approval or rejection (county admins, within 30 days, with a reason): the
/// decision stays on the record, the inspection goes back to the review queue and the village's
/// star status is recomputed from the decisions that remain.
#[utoipa::path(
    tag = "review",
    params(("id" = String, Path)),
    request_body = ReopenBody,
    responses(
        (status = 200, body = InspectionDetail), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Not decided (`reopen.not_decided`), decided more than 30 days ago (`reopen.too_late`), or the village has a later decision (`reopen.superseded`)"),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/inspections/{id}/reopen")]
pub async fn reopen(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<ReopenBody>,
) -> ApiResult<HttpResponse> {
    let tz = state.config.timezone;
    let id = id.into_inner();
    let view = state
        .db
        .write(move |conn| {
            let ins = decide::reopen(conn, &user, &id, &body, tz)?;
            Ok(InspectionDetail::of(conn, &ins)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Approves a batch of renewals that passed with no flag (a reviewer's quarterly renewals):
/// each inspection is claimed and decided with the same rules as a single decision, in its own
/// transaction and audited on its own; the answer says per id what happened — approved,
/// approved by the caller's body and awaiting the other body, or refused with the problem code
/// a single decision would have answered (`bulk.not_eligible` for an inspection that is not a
/// renewal, did not pass or has any flag). At most 100 ids.
#[utoipa::path(
    tag = "review",
    request_body = BulkApproveBody,
    responses(
        (status = 200, body = BulkApproveView, description = "One result per id, in order"),
        (status = 403, body = Problem, description = "Not a reviewer, or a reviewer without a verifying body (`reviewer.no_body`)"),
        (status = 422, body = Problem, description = "No ids, more than 100, an id twice, or a comment over 2,000 characters")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/review/bulk-approve")]
pub async fn bulk_approve(
    state: web::Data<AppState>,
    user: AuthUser,
    Json(body): Json<BulkApproveBody>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Reviewer])?;
    bulk::check(&body)?;
    {
        let user = user.clone();
        state
            .db
            .read(move |conn| decide::body_of(conn, &user).map(|_| ()))
            .await?;
    }
    let (tz, minutes) = (state.config.timezone, state.config.claim_minutes);
    let mut results = Vec::with_capacity(body.inspection_ids.len());
    for id in body.inspection_ids {
        let (user, comment, one) = (user.clone(), body.comment.clone(), id.clone());
        let r = state
            .db
            .write(move |conn| bulk::approve_one(conn, &user, &one, &comment, minutes, tz))
            .await;
        results.push(bulk::result_of(id, r));
    }
    let count = |o: BulkOutcome| results.iter().filter(|r| r.outcome == o).count();
    let view = BulkApproveView {
        approved: count(BulkOutcome::Approved),
        awaiting_other_body: count(BulkOutcome::AwaitingOtherBody),
        refused: count(BulkOutcome::Refused),
        results,
    };
    Ok(HttpResponse::Ok().json(view))
}
