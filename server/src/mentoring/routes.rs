//! Mentoring routes: members of a village, their mentees, visits (idempotent `PUT`), a
//! village's coverage for a quarter, and the county's roll-up (JSON or CSV).

use actix_web::{get, patch, post, put, web, HttpResponse};
use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::coverage::Coverage;
use super::model::{
    self, Member, MemberChange, MemberView, Mentee, MenteeChange, MenteeView, NewMember, NewMentee,
    Visit, VisitBody, VisitView, MANAGERS,
};
use super::report::{self, MentoringReport};
use crate::auth::{AuthUser, Role};
use crate::db::schema::{members, mentees, visits};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{Json, Page, PageParams};
use crate::i18n::Rule;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::scoped;
use crate::state::AppState;

/// Everyone but members reads a whole village's mentoring (members see only their own mentees).
const READERS: [Role; 5] = [
    Role::Admin,
    Role::Inspector,
    Role::Reviewer,
    Role::Township,
    Role::Secretary,
];

/// `?quarter=`: a `YYYY-Qn`, or the current quarter in the county's time zone when absent.
fn quarter_or_current(quarter: Option<&str>, tz: chrono_tz::Tz) -> ApiResult<Quarter> {
    match quarter.filter(|q| !q.is_empty()) {
        Some(q) => Quarter::param("quarter", q),
        None => Ok(Quarter::containing(crate::clock::today(tz))),
    }
}

// ---------------------------------------------------------------------------------------------
// Members

/// The active members of a village, by name. A member login sees only herself: that is how
/// her phone learns her member id (and from it her mentees).
#[utoipa::path(
    tag = "mentoring",
    params(("id" = String, Path, description = "Village id"), PageParams),
    responses(
        (status = 200, body = Page<MemberView>), (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/villages/{id}/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let cursor: Option<(String, String)> = page.cursor()?;
    let id = id.into_inner();
    let page = state
        .db
        .read(move |conn| {
            let village = OrgUnit::find_village(conn, &user.scope, &id)?;
            let mut q = members::table
                .filter(members::village_id.eq(village.id))
                .filter(members::active.eq(true))
                .into_boxed();
            if user.role == Role::Member {
                q = q.filter(members::user_id.eq(user.id.clone()));
            }
            if let Some((name, id)) = cursor {
                q = q.filter(
                    members::name
                        .gt(name.clone())
                        .or(members::name.eq(name).and(members::id.gt(id))),
                );
            }
            let rows = q
                .select(Member::as_select())
                .order((members::name.asc(), members::id.asc()))
                .limit(limit + 1)
                .load(conn)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |m: &Member| (m.name.clone(), m.id.clone()),
                Member::view,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMember {
    /// 1–100 characters.
    pub name: String,
    /// A login with the `member` role in the same village, not linked to another member.
    pub user_id: Option<String>,
}

/// Adds a member to a village (its secretary, or an admin).
#[utoipa::path(
    tag = "mentoring",
    params(("id" = String, Path, description = "Village id")),
    request_body = CreateMember,
    responses(
        (status = 201, body = MemberView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/villages/{id}/members")]
pub async fn create_member(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<CreateMember>,
) -> ApiResult<HttpResponse> {
    user.require(&MANAGERS)?;
    let new = NewMember::parse(&body.name, body.user_id).map_err(ApiError::validation)?;
    let id = id.into_inner();
    let member = state
        .db
        .write(move |conn| {
            let village = OrgUnit::find_village(conn, &user.scope, &id)?;
            new.insert(conn, &village, &user.actor())
        })
        .await?;
    Ok(HttpResponse::Created().json(member.view()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    pub name: Option<String>,
    /// A `member` login of the village to link; `null` unlinks.
    #[serde(default, deserialize_with = "model::double_option")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<Option<String>>,
    /// `false` removes the member (refused with 422 while she still mentors anyone: move her
    /// mentees first); `true` brings her back.
    pub active: Option<bool>,
}

/// Renames a member, links or unlinks her login, or removes her (`{"active": false}`).
#[utoipa::path(
    tag = "mentoring",
    params(("id" = String, Path, description = "Member id")),
    request_body = UpdateMember,
    responses(
        (status = 200, body = MemberView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/members/{id}")]
pub async fn update_member(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<UpdateMember>,
) -> ApiResult<HttpResponse> {
    user.require(&MANAGERS)?;
    let id = id.into_inner();
    let member = state
        .db
        .write(move |conn| {
            let member = Member::find_visible(conn, &user, &id)?;
            let change = MemberChange {
                name: body.name,
                user_id: body.user_id,
                active: body.active,
            };
            model::update_member(conn, &member, change, &user.actor())
        })
        .await?;
    Ok(HttpResponse::Ok().json(member.view()))
}

// ---------------------------------------------------------------------------------------------
// Mentees

/// A member's mentees, by code. A member login sees her own only (another member's: 404).
#[utoipa::path(
    tag = "mentoring",
    params(("id" = String, Path, description = "Member id"), PageParams),
    responses((status = 200, body = Page<MenteeView>), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/members/{id}/mentees")]
pub async fn list_mentees(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let id = id.into_inner();
    let page = state
        .db
        .read(move |conn| {
            let member = Member::find_visible(conn, &user, &id)?;
            let mut q = mentees::table
                .filter(mentees::member_id.eq(member.id))
                .into_boxed();
            if let Some(code) = cursor {
                q = q.filter(mentees::code.gt(code));
            }
            let rows = q
                .select(Mentee::as_select())
                .order(mentees::code.asc())
                .limit(limit + 1)
                .load(conn)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |m: &Mentee| m.code.clone(),
                Mentee::view,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// A mentee: a pseudonymous code and a display name, nothing else.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMentee {
    /// 1–32 letters, digits or '-'; unique in the village (409 otherwise).
    pub code: String,
    /// 1–64 characters.
    pub display_name: String,
}

/// Registers a mentee with a member: at most three per member (a fourth is 422).
#[utoipa::path(
    tag = "mentoring",
    params(("id" = String, Path, description = "Member id")),
    request_body = CreateMentee,
    responses(
        (status = 201, body = MenteeView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/members/{id}/mentees")]
pub async fn create_mentee(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<CreateMentee>,
) -> ApiResult<HttpResponse> {
    user.require(&MANAGERS)?;
    let new = NewMentee::parse(&body.code, &body.display_name).map_err(ApiError::validation)?;
    let today = crate::clock::today(state.config.timezone);
    let id = id.into_inner();
    let mentee = state
        .db
        .write(move |conn| {
            let member = Member::find_visible(conn, &user, &id)?;
            new.insert(conn, &member, today, &user.actor())
        })
        .await?;
    Ok(HttpResponse::Created().json(mentee.view()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMentee {
    pub code: Option<String>,
    pub display_name: Option<String>,
    /// Moves the mentee to another member of the same village (who must have a free place).
    pub member_id: Option<String>,
}

/// Changes a mentee's code or display name, or moves her to another member.
#[utoipa::path(
    tag = "mentoring",
    params(("id" = String, Path, description = "Mentee id")),
    request_body = UpdateMentee,
    responses(
        (status = 200, body = MenteeView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/mentees/{id}")]
pub async fn update_mentee(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<UpdateMentee>,
) -> ApiResult<HttpResponse> {
    user.require(&MANAGERS)?;
    let id = id.into_inner();
    let mentee = state
        .db
        .write(move |conn| {
            let mentee = Mentee::find_visible(conn, &user, None, &id)?;
            let change = MenteeChange {
                code: body.code,
                display_name: body.display_name,
                member_id: body.member_id,
            };
            model::update_mentee(conn, &user, &mentee, change)
        })
        .await?;
    Ok(HttpResponse::Ok().json(mentee.view()))
}

// ---------------------------------------------------------------------------------------------
// Visits

/// Records a visit under a client-chosen UUID: 201 when created, 200 when the same body is sent
/// again (the stored visit), 409 when the id exists with another body. A member records visits
/// to her own mentees, a secretary to her village's, an admin to her county's.
#[utoipa::path(
    tag = "mentoring",
    params(("id" = String, Path, description = "The visit's UUID, chosen by the client")),
    request_body = VisitBody,
    responses(
        (status = 201, body = VisitView), (status = 200, body = VisitView),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/visits/{id}")]
pub async fn put_visit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<VisitBody>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin, Role::Secretary, Role::Member])?;
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::field("id", Rule::ClientUuid))?
        .to_string();
    body.check()?;
    let today = crate::clock::today(state.config.timezone);
    // Two simultaneous first PUTs of one id: the loser's insert fails on the primary key; its
    // second attempt reads the winner's row and answers as a replay or a conflict. If that
    // read, scoped, did not find the row its insert collided with, the id belongs to a visit
    // the caller may not see (another county's): as for any object out of scope, 404.
    let put = state
        .db
        .write_put(
            2,
            || {
                let (user, id, body) = (user.clone(), id.clone(), body.clone());
                move |conn: &mut crate::db::DbConn| {
                    model::record_visit(conn, &user, &id, &body, today)
                }
            },
            || ApiError::not_found("visit"),
        )
        .await?;
    Ok(put.respond())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisitFilter {
    /// Only this mentee's visits.
    pub mentee: Option<String>,
    /// Only visits recorded for this member's mentees.
    pub member: Option<String>,
    /// Only visits dated in this quarter (`YYYY-Qn`).
    pub quarter: Option<String>,
}

/// Visits in the caller's scope, newest date first. A member login sees her own mentees' visits.
#[utoipa::path(
    tag = "mentoring",
    params(VisitFilter, PageParams),
    responses((status = 200, body = Page<VisitView>), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/visits")]
pub async fn list_visits(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<VisitFilter>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let cursor: Option<(NaiveDate, String)> = page.cursor()?;
    let filter = filter.into_inner();
    let quarter = match filter.quarter.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => Some(Quarter::param("quarter", q)?),
        None => None,
    };
    let page = state
        .db
        .read(move |conn| {
            let q = visits::table.into_boxed();
            let mut q = scoped!(q, visits, &user.scope);
            if user.role == Role::Member {
                let own: Vec<String> = match model::own_member_id(conn, &user)? {
                    Some(member) => mentees::table
                        .filter(mentees::member_id.eq(member))
                        .select(mentees::id)
                        .load(conn)?,
                    None => Vec::new(),
                };
                q = q.filter(visits::mentee_id.eq_any(own));
            }
            if let Some(m) = filter.mentee {
                q = q.filter(visits::mentee_id.eq(m));
            }
            if let Some(m) = filter.member {
                q = q.filter(visits::member_id.eq(m));
            }
            if let Some(quarter) = quarter {
                q = q.filter(visits::visited_on.between(quarter.first_day(), quarter.last_day()));
            }
            if let Some((on, id)) = cursor {
                q = q.filter(
                    visits::visited_on
                        .lt(on)
                        .or(visits::visited_on.eq(on).and(visits::id.lt(id))),
                );
            }
            let rows = q
                .select(Visit::as_select())
                .order((visits::visited_on.desc(), visits::id.desc()))
                .limit(limit + 1)
                .load(conn)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |v: &Visit| (v.visited_on, v.id.clone()),
                Visit::view,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

// ---------------------------------------------------------------------------------------------
// Coverage and the roll-up

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuarterQuery {
    /// `YYYY-Qn`; the current quarter in the county's time zone when absent.
    pub quarter: Option<String>,
}

/// A village's mentoring for a quarter: coverage (mentees with a quarterly follow-up / all
/// mentees), the overdue mentees with their last visit, and each member's activity.
#[utoipa::path(
    tag = "mentoring",
    params(("id" = String, Path, description = "Village id"), QuarterQuery),
    responses(
        (status = 200, body = Coverage), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/villages/{id}/mentoring")]
pub async fn village_mentoring(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    query: web::Query<QuarterQuery>,
) -> ApiResult<HttpResponse> {
    user.require(&READERS)?;
    let quarter = quarter_or_current(query.quarter.as_deref(), state.config.timezone)?;
    let id = id.into_inner();
    let coverage = state
        .db
        .read(move |conn| {
            let village = OrgUnit::find_village(conn, &user.scope, &id)?;
            Ok(super::village_coverage(conn, &village.id, quarter)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(coverage))
}

pub use crate::reports::ReportQuery;

/// Mentoring coverage per village and township for a quarter. `?format=csv` gives one row per
/// village (with its township's columns): counts only, never a mentee's code or name.
#[utoipa::path(
    tag = "mentoring",
    params(ReportQuery),
    responses(
        (status = 200, description = "The report: JSON, CSV with `?format=csv`, XLSX with `?format=xlsx`",
            content((MentoringReport = "application/json"), (String = "text/csv"),
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/reports/mentoring")]
pub async fn mentoring_report(
    state: web::Data<AppState>,
    user: AuthUser,
    req: actix_web::HttpRequest,
    query: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    crate::reports::shell::answer(
        state,
        user,
        req,
        query.into_inner(),
        crate::reports::shell::Report {
            name: "mentoring",
            readers: &READERS,
            columns: report::CSV_COLUMNS,
        },
        |conn, unit, quarter, _| Ok(report::mentoring_report(conn, unit, quarter)?),
        |conn, unit, quarter, _, after| report::csv_page(conn, unit, quarter, after),
    )
    .await
}
