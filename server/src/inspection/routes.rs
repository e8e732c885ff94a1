//! `/api/v1/inspections`: the inspector's worklist, the idempotent PUT, reads and lists.

use actix_web::{delete, get, put, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::*;
use super::submit;
use super::village::{self, InspectionRead, VillageInspectionView};
use crate::auth::{AuthUser, Role};
use crate::checklist::store::ChecklistVersion;
use crate::db::schema::{declarations, inspections, org_units};
use crate::declarations::{Declaration, DeclarationStatus, DeclarationView};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{Page, PageParams, RawJson};
use crate::i18n::Rule;
use crate::org::{OrgUnit, OrgUnitView};
use crate::quarter::Quarter;
use crate::scoped;
use crate::state::AppState;

/// Creates or replays an inspection under a client-chosen UUID.
///
/// 201 when created (or when a returned inspection comes back as its next revision), 200 on an
/// identical replay, 409 for the same id with a different body.
#[utoipa::path(
    tag = "inspections",
    params(("id" = String, Path, description = "A client-chosen UUID")),
    request_body = InspectionBody,
    responses(
        (status = 200, body = InspectionView, description = "Identical replay"),
        (status = 201, body = InspectionView, description = "Created"),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/inspections/{id}")]
pub async fn put_inspection(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    RawJson(body, _raw): RawJson<InspectionBody>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Inspector, Role::Admin])?;
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::field("id", Rule::NotUuid))?
        .to_string();
    let received_at = chrono::Utc::now();
    let tz = state.config.timezone;
    // Hashing and serialising the body need no database: done before taking the writer.
    let encoded = std::sync::Arc::new(body.encode()?);
    let body = std::sync::Arc::new(body);
    // A lost insert race rolls back; the next run finds the winner's row and replays.
    let put = state
        .db
        .write_put(
            3,
            || {
                let (user, id, body, encoded) =
                    (user.clone(), id.clone(), body.clone(), encoded.clone());
                move |conn: &mut crate::db::DbConn| {
                    submit::put(conn, &user, &id, &body, &encoded, received_at, tz)
                }
            },
            || ApiError::conflict("retry", "too much contention on this inspection; retry"),
        )
        .await?;
    Ok(put.map(|s| s.view()).respond())
}

/// An inspection with what the people concerned read about it: every decision taken on it
/// (reopened ones included, with the reason), and why it can or cannot be approved.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct InspectionDetail {
    #[serde(flatten)]
    pub inspection: InspectionView,
    pub village_name: String,
    pub inspector_name: String,
    /// Oldest first.
    pub decisions: Vec<crate::review::decide::DecisionRecord>,
    /// Each verifying body's approval, oldest first (withdrawn ones when a decision was
    /// reopened): with joint approval the decision is taken at the second.
    pub approvals: Vec<crate::review::decide::ApprovalRecord>,
    /// In `awaiting_second_approval`: the body whose approval is missing.
    pub awaiting_body: Option<crate::review::rules::ReviewBody>,
    pub approval: crate::review::rules::Approval,
}

/// An inspection, for anyone whose scope holds its village: reviewers and admins of the
/// county and inspectors read it whole; the village's secretary reads the village's view
/// (status, decisions, and the checklist result once decided; no evidence); members none (403).
#[utoipa::path(
    tag = "inspections",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = InspectionRead, description = "`InspectionDetail`, or `VillageInspectionView` for a secretary"),
        (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/inspections/{id}")]
pub async fn get_inspection(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    village::refuse_members(&user)?;
    let id = id.into_inner();
    let view = state
        .db
        .read(move |conn| {
            let ins = Inspection::find_scoped(conn, &user.scope, &id)?;
            if user.role == Role::Secretary {
                let view = VillageInspectionView::of(conn, &ins)?;
                return Ok(InspectionRead::Village(Box::new(view)));
            }
            Ok(InspectionRead::Full(Box::new(InspectionDetail::of(
                conn, &ins,
            )?)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

impl InspectionDetail {
    pub fn of(conn: &mut crate::db::DbConn, ins: &Inspection) -> QueryResult<InspectionDetail> {
        let photos = ins.photos(conn)?;
        let village_name = org_units::table
            .find(&ins.village_id)
            .select(org_units::name)
            .first(conn)
            .optional()?
            .unwrap_or_default();
        let inspector_name = crate::db::schema::users::table
            .find(&ins.inspector_id)
            .select(crate::db::schema::users::username)
            .first(conn)
            .optional()?
            .unwrap_or_default();
        Ok(InspectionDetail {
            approval: crate::review::decide::approval_of(ins, &photos),
            decisions: crate::review::decide::records_of(conn, &ins.id)?,
            approvals: crate::review::decide::approvals_of(conn, &ins.id)?,
            awaiting_body: ins
                .awaiting_body
                .as_deref()
                .and_then(crate::review::rules::ReviewBody::parse),
            inspection: ins.view_with(&photos),
            village_name,
            inspector_name,
        })
    }
}

/// Cancels an inspection not yet submitted (awaiting photos, or returned), so that its
/// declaration can be inspected again: its inspector or a county admin. The inspection is kept
/// with its photos.
#[utoipa::path(
    tag = "inspections",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Cancelled"), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Already submitted or decided (`inspection.not_cancellable`)")
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/inspections/{id}")]
pub async fn cancel_inspection(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state
        .db
        .write(move |conn| submit::cancel(conn, &user, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An inspection in a list or queue: its summary without answers.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct InspectionSummary {
    pub id: String,
    pub village_id: String,
    pub declaration_id: String,
    pub inspector_id: String,
    pub status: InspectionStatus,
    pub revision: i32,
    /// Null for a village's secretary until the inspection is approved or rejected.
    pub score: Option<f64>,
    pub passed: Option<bool>,
    /// One entry per flag code, worst first: `{code, severity, count}`. The details are on the
    /// inspection's own page.
    #[schema(value_type = Vec<Object>)]
    pub flags: Vec<super::flags::FlagCount>,
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// With `?decided_by=me`: the caller's last decision or approval on the inspection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_decision: Option<MyDecision>,
}

/// What the caller decided on an inspection (`?decided_by=me`), and on which village.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct MyDecision {
    /// `approve` (a decision, or one body's approval of two), `reject` or `return`.
    pub decision: String,
    /// True for a body's approval that did not (yet) take the decision.
    pub approval_only: bool,
    pub decided_at: chrono::DateTime<chrono::Utc>,
    pub revision: i32,
    pub comment: String,
    pub village_code: String,
    pub village_name: String,
}

impl InspectionSummary {
    /// Flags need the photos' flags too; one query for a whole page.
    pub fn for_page(
        conn: &mut crate::db::DbConn,
        rows: Vec<InspectionHead>,
    ) -> QueryResult<Vec<Self>> {
        let flags = flags_for_page(conn, &rows)?;
        Ok(rows
            .into_iter()
            .zip(flags)
            .map(|(r, flags)| InspectionSummary {
                flags,
                status: r.status(),
                id: r.id,
                village_id: r.village_id,
                declaration_id: r.declaration_id,
                inspector_id: r.inspector_id,
                revision: r.revision,
                score: Some(r.score),
                passed: Some(r.passed),
                submitted_at: r.submitted_at.map(|t| t.and_utc()),
                updated_at: r.updated_at.and_utc(),
                my_decision: None,
            })
            .collect())
    }
}

/// Each inspection's own flags and its current photos' flags counted by code, worst first, in
/// the order of `rows`: one query for the whole page, reading only the photos' flags.
pub fn flags_for_page(
    conn: &mut crate::db::DbConn,
    rows: &[InspectionHead],
) -> QueryResult<Vec<Vec<super::flags::FlagCount>>> {
    use crate::db::schema::photos;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let all: Vec<(String, i32, String)> = photos::table
        .filter(photos::inspection_id.eq_any(&ids))
        .select((photos::inspection_id, photos::revision, photos::flags))
        .load(conn)?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut flags = parse_flags(&r.flags);
            for (_, _, stored) in all
                .iter()
                .filter(|(i, rev, _)| *i == r.id && *rev == r.revision)
            {
                flags.extend(parse_flags(stored));
            }
            super::flags::count_by_code(&flags)
        })
        .collect())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InspectionFilter {
    pub status: Option<InspectionStatus>,
    pub village: Option<String>,
    /// `YYYY-Qn`: inspections of declarations for that quarter.
    pub quarter: Option<String>,
    /// `me` (the only value): the inspections the caller decided, approved as one body of two,
    /// or returned, in their present state, each with `my_decision`.
    pub decided_by: Option<String>,
}

/// Inspections in the caller's scope, newest first. A village's secretary gets no flags, and
/// the score only once decided; members none (403).
#[utoipa::path(
    tag = "inspections",
    params(InspectionFilter, PageParams),
    responses((status = 200, body = Page<InspectionSummary>), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/inspections")]
pub async fn list_inspections(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<InspectionFilter>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    village::refuse_members(&user)?;
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let filter = filter.into_inner();
    if let Some(q) = &filter.quarter {
        Quarter::param("quarter", q)?;
    }
    let mine = match filter.decided_by.as_deref() {
        None => false,
        Some("me") => true,
        Some(_) => {
            return Err(ApiError::field(
                "decided_by",
                Rule::MustBe.with("value", "me"),
            ))
        }
    };
    let page = state
        .db
        .read(move |conn| {
            let q = inspections::table.into_boxed();
            let mut q = scoped!(q, inspections, &user.scope);
            if let Some(s) = filter.status {
                q = q.filter(inspections::status.eq(s.as_str()));
            }
            if let Some(v) = filter.village {
                q = q.filter(inspections::village_id.eq(v));
            }
            if let Some(quarter) = filter.quarter {
                q = q.filter(
                    inspections::declaration_id.eq_any(
                        declarations::table
                            .filter(declarations::quarter.eq(quarter))
                            .select(declarations::id),
                    ),
                );
            }
            if mine {
                use crate::db::schema::{approvals, decisions};
                q = q.filter(
                    inspections::id
                        .eq_any(
                            decisions::table
                                .filter(decisions::actor_id.eq(user.id.clone()))
                                .select(decisions::inspection_id),
                        )
                        .or(inspections::id.eq_any(
                            approvals::table
                                .filter(approvals::actor_id.eq(user.id.clone()))
                                .select(approvals::inspection_id),
                        )),
                );
            }
            if let Some(c) = cursor {
                q = q.filter(inspections::id.lt(c));
            }
            let rows = q
                .select(InspectionHead::as_select())
                .order(inspections::id.desc())
                .limit(limit + 1)
                .load(conn)?;
            let page = Page::from_rows(rows, limit, |r: &InspectionHead| r.id.clone(), |r| r);
            let mut items = InspectionSummary::for_page(conn, page.items)?;
            if user.role == Role::Secretary {
                items = items
                    .into_iter()
                    .map(village::summary_for_village)
                    .collect();
            }
            if mine {
                my_decisions(conn, &user.id, &mut items)?;
            }
            Ok(Page {
                items,
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Fills `my_decision` of a page: the caller's latest decision or approval on each inspection,
/// and its village. Three queries for the page.
fn my_decisions(
    conn: &mut crate::db::DbConn,
    me: &str,
    items: &mut [InspectionSummary],
) -> QueryResult<()> {
    use crate::db::schema::{approvals, decisions};
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let decided: Vec<(String, String, chrono::NaiveDateTime, i32, String)> = decisions::table
        .filter(decisions::inspection_id.eq_any(&ids))
        .filter(decisions::actor_id.eq(me))
        .select((
            decisions::inspection_id,
            decisions::decision,
            decisions::decided_at,
            decisions::revision,
            decisions::comment,
        ))
        .load(conn)?;
    let approved: Vec<(String, chrono::NaiveDateTime, i32, String)> = approvals::table
        .filter(approvals::inspection_id.eq_any(&ids))
        .filter(approvals::actor_id.eq(me))
        .select((
            approvals::inspection_id,
            approvals::approved_at,
            approvals::revision,
            approvals::comment,
        ))
        .load(conn)?;
    let village_ids: Vec<String> = items.iter().map(|i| i.village_id.clone()).collect();
    let villages: Vec<(String, String, String)> = org_units::table
        .filter(org_units::id.eq_any(&village_ids))
        .select((org_units::id, org_units::code, org_units::name))
        .load(conn)?;
    for item in items.iter_mut() {
        // The latest of her acts on it: a decision, or an approval that did not decide.
        let d = decided
            .iter()
            .filter(|d| d.0 == item.id)
            .map(|d| (d.2, d.1.clone(), false, d.3, d.4.clone()));
        let a = approved
            .iter()
            .filter(|a| a.0 == item.id)
            .map(|a| (a.1, "approve".to_string(), true, a.2, a.3.clone()));
        let Some((at, decision, approval_only, revision, comment)) =
            d.chain(a).max_by(|x, y| (x.0, !x.2).cmp(&(y.0, !y.2)))
        else {
            continue;
        };
        let village = villages.iter().find(|v| v.0 == item.village_id);
        item.my_decision = Some(MyDecision {
            decision,
            approval_only,
            decided_at: at.and_utc(),
            revision,
            comment,
            village_code: village.map(|v| v.1.clone()).unwrap_or_default(),
            village_name: village.map(|v| v.2.clone()).unwrap_or_default(),
        });
    }
    Ok(())
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct WorklistEntry {
    pub declaration: DeclarationView,
    pub village: OrgUnitView,
    /// The checklist version to answer; null when none is published for this level.
    pub checklist: Option<ChecklistRef>,
}

/// Declarations in the inspector's scope that await inspection, oldest first. The answer is
/// tagged by its bytes: a phone revalidates its copy with If-None-Match and gets 304 while
/// nothing changed.
#[utoipa::path(
    tag = "inspections",
    params(PageParams),
    responses(
        (status = 200, body = Page<WorklistEntry>),
        (status = 304, description = "Not modified: the copy named by If-None-Match is current"),
        (status = 403, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/inspections/worklist")]
pub async fn worklist(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<PageParams>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Inspector, Role::Admin])?;
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let page = state
        .db
        .read(move |conn| {
            let q = declarations::table
                .filter(declarations::status.eq(DeclarationStatus::Pending))
                .into_boxed();
            let mut q = scoped!(q, declarations, &user.scope);
            if let Some(c) = cursor {
                q = q.filter(declarations::id.gt(c));
            }
            let rows: Vec<Declaration> = q
                .select(Declaration::as_select())
                .order(declarations::id.asc())
                .limit(limit + 1)
                .load(conn)?;
            let village_ids: Vec<String> = rows.iter().map(|d| d.village_id.clone()).collect();
            let villages: Vec<OrgUnit> = org_units::table
                .filter(org_units::id.eq_any(&village_ids))
                .select(OrgUnit::as_select())
                .load(conn)?;
            let mut templates: std::collections::HashMap<i32, Option<ChecklistRef>> =
                Default::default();
            let mut entries = Vec::new();
            for d in rows {
                let Some(v) = villages.iter().find(|v| v.id == d.village_id) else {
                    continue;
                };
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    templates.entry(d.star_level)
                {
                    let t = ChecklistVersion::latest_for_level(conn, &d.county_id, d.star_level)?
                        .map(|c| ChecklistRef {
                            code: c.code,
                            version: c.version,
                        });
                    slot.insert(t);
                }
                entries.push((
                    d.id.clone(),
                    d.view(),
                    v.clone().view(),
                    templates[&d.star_level].clone(),
                ));
            }
            Ok(Page::from_rows(
                entries,
                limit,
                |e| e.0.clone(),
                |(_, declaration, village, checklist)| WorklistEntry {
                    declaration,
                    village,
                    checklist,
                },
            ))
        })
        .await?;
    crate::http::etag::json(&req, HttpResponse::Ok(), &page)
}
