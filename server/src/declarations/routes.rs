//! `/api/v1/declarations`: a village's secretary, its township or a county admin declares a
//! star level for a quarter.

use actix_web::{get, post, put, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::window::{self, Window, WindowBody, WindowView};
use super::{Declaration, DeclarationStatus, DeclarationView};
use crate::auth::{AuthUser, Role};
use crate::db::schema::declarations;
use crate::db::{is_unique_violation, DbConn};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{Json, Page, PageParams};
use crate::i18n::{Msg, Rule};
use crate::org::OrgUnit;
use crate::quarter::{declarable_quarters, Quarter};
use crate::stars::engine::{check_declaration, DeclarationKind, Refusal};
use crate::state::AppState;
use crate::{audit, clock::now, scoped, stars};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeclaration {
    pub village_id: String,
    /// `YYYY-Qn`; the current quarter when omitted (also the next one in a quarter's last two weeks).
    pub quarter: Option<String>,
    pub star_level: i32,
}

/// Inserts a declaration after checking the programme's rules; shared by the API and renewals.
/// `status` is `pending` (the county's inspectors see it) or `awaiting_township` (its township
/// checks it first).
pub fn declare(
    conn: &mut DbConn,
    village: &OrgUnit,
    quarter: Quarter,
    level: i32,
    today: chrono::NaiveDate,
    status: DeclarationStatus,
    actor: &crate::auth::Actor,
) -> ApiResult<Declaration> {
    let initial = status;
    let status = stars::status_of(conn, village, today)?;
    let policy = stars::policy_of(conn, &village.county_id)?;
    let level_u8 = u8::try_from(level).unwrap_or(0);
    // One step a quarter: an upgrade declared for the quarter, open or decided, uses it up.
    let first_upgrade: Option<Declaration> = declarations::table
        .filter(declarations::village_id.eq(&village.id))
        .filter(declarations::quarter.eq(quarter.to_string()))
        .filter(declarations::kind.eq(DeclarationKind::Upgrade.as_str()))
        .filter(
            declarations::status.eq_any(
                [
                    DeclarationStatus::AwaitingTownship,
                    DeclarationStatus::Pending,
                    DeclarationStatus::Inspecting,
                    DeclarationStatus::Approved,
                    DeclarationStatus::Rejected,
                ]
                .map(DeclarationStatus::as_str),
            ),
        )
        .order(declarations::created_at.asc())
        .select(Declaration::as_select())
        .first(conn)
        .optional()?;
    let checked = check_declaration(&status, level_u8, &policy, quarter, first_upgrade.is_some());
    let kind = match (checked, first_upgrade) {
        (Err(r @ Refusal::QuarterUsed { .. }), Some(first)) => {
            return Err(ApiError::conflict(
                r.code(),
                format!(
                    "stars are climbed one step a quarter: {} already declared level {} for \
                     {quarter} (declaration {}, {})",
                    village.name, first.star_level, first.id, first.status
                ),
            )
            .with("declaration_id", first.id))
        }
        (Err(r), _) => {
            let mut e = ApiError::unprocessable(r.code(), refusal(r));
            e.errors = vec![FieldError::new("star_level", refusal(r))];
            return Err(e);
        }
        (Ok(kind), _) => kind,
    };
    let kind = kind.as_str();
    let id = uuid::Uuid::now_v7().to_string();
    let t = now();
    let placement = village.placement();
    let res = diesel::insert_into(declarations::table)
        .values((
            declarations::id.eq(&id),
            declarations::village_id.eq(&village.id),
            declarations::township_id.eq(&placement.township_id),
            declarations::county_id.eq(&placement.county_id),
            declarations::quarter.eq(quarter.to_string()),
            declarations::star_level.eq(level),
            declarations::kind.eq(kind),
            declarations::status.eq(initial.as_str()),
            declarations::created_by.eq(actor.id.as_deref()),
            declarations::created_at.eq(t),
            declarations::updated_at.eq(t),
        ))
        .execute(conn);
    match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::conflict(
                "declaration_open",
                format!(
                    "{} already has an open declaration for {quarter}",
                    village.name
                ),
            ))
        }
        other => other?,
    };
    audit::record(
        conn,
        actor,
        "declaration.created",
        "declaration",
        &id,
        Some(&placement.county_id),
        format!(
            "{} declares level {level} ({kind}) for {quarter}{}",
            village.code,
            if initial == DeclarationStatus::AwaitingTownship {
                "; its township checks it first"
            } else {
                ""
            }
        ),
    )?;
    declarations::table
        .find(&id)
        .select(Declaration::as_select())
        .first(conn)
        .map_err(Into::into)
}

#[utoipa::path(
    tag = "declarations",
    request_body = CreateDeclaration,
    responses(
        (status = 201, body = DeclarationView),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "An open declaration exists for this village and quarter (`declaration_open`), or the quarter's upgrade is used (`declaration.quarter_used`, naming the first in `declaration_id`)"),
        (status = 422, body = Problem, description = "An upgrade while banned, more than one step up, or a quarter that cannot be declared")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/declarations")]
pub async fn create_declaration(
    state: web::Data<AppState>,
    user: AuthUser,
    Json(body): Json<CreateDeclaration>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Secretary, Role::Township, Role::Admin])?;
    let tz = state.config.timezone;
    let now_utc = chrono::Utc::now();
    let allowed = declarable_quarters(now_utc, tz);
    let quarter = match &body.quarter {
        None => allowed[0],
        Some(q) => {
            let q = Quarter::param("quarter", q)?;
            if !allowed.contains(&q) {
                let list: Vec<String> = allowed.iter().map(|q| q.to_string()).collect();
                return Err(ApiError::field(
                    "quarter",
                    Rule::DeclarationsOpenFor.with("quarter", list),
                ));
            }
            q
        }
    };
    let today = crate::clock::day_at(now_utc, tz);
    let declaration = state
        .db
        .write(move |conn| {
            let village = OrgUnit::find_village(conn, &user.scope, &body.village_id)?;
            // A village's own declaration goes through its township's check where the county
            // asks for one; a township's or the county's goes straight to the county.
            let precheck = user.role == Role::Secretary
                && stars::policy::procedure_of(conn, &village.county_id)?.township_precheck;
            let status = if precheck {
                DeclarationStatus::AwaitingTownship
            } else {
                DeclarationStatus::Pending
            };
            declare(
                conn,
                &village,
                quarter,
                body.star_level,
                today,
                status,
                &user.actor(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(declaration.view()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeclarationFilter {
    pub quarter: Option<String>,
    pub status: Option<super::DeclarationStatus>,
    pub village: Option<String>,
}

/// Declarations in the caller's scope, oldest first.
#[utoipa::path(
    tag = "declarations",
    params(DeclarationFilter, PageParams),
    responses((status = 200, body = Page<DeclarationView>), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/declarations")]
pub async fn list_declarations(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<DeclarationFilter>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let filter = filter.into_inner();
    if let Some(q) = &filter.quarter {
        Quarter::param("quarter", q)?;
    }
    let page = state
        .db
        .read(move |conn| {
            let q = declarations::table.into_boxed();
            let mut q = scoped!(q, declarations, &user.scope);
            if let Some(v) = filter.quarter {
                q = q.filter(declarations::quarter.eq(v));
            }
            if let Some(v) = filter.status {
                q = q.filter(declarations::status.eq(v.as_str()));
            }
            if let Some(v) = filter.village {
                q = q.filter(declarations::village_id.eq(v));
            }
            if let Some(c) = cursor {
                q = q.filter(declarations::id.gt(c));
            }
            let rows = q
                .select(Declaration::as_select())
                .order(declarations::id.asc())
                .limit(limit + 1)
                .load(conn)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |d: &Declaration| d.id.clone(),
                |d| d.view(),
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The star engine's refusal in the catalogue's words.
fn refusal(r: Refusal) -> Msg {
    match r {
        Refusal::Banned { until } => Rule::DeclarationBanned.with("until", until.to_string()),
        Refusal::QuarterUsed { quarter } => {
            Rule::DeclarationQuarterUsed.with("quarter", quarter.to_string())
        }
        Refusal::InvalidLevel => Rule::DeclarationInvalidLevel.into(),
        Refusal::StepTooLarge { current, max } => Rule::DeclarationStepTooLarge
            .with("current", current)
            .with("max", max),
        Refusal::BelowCurrent { current } => Rule::DeclarationBelowCurrent.with("current", current),
    }
}

fn parse_quarter(text: &str) -> ApiResult<Quarter> {
    Quarter::param("quarter", text)
}

/// The county's verification window for a quarter: the days in which that quarter's
/// declarations are inspected (by default its first day to 15 days after its last).
#[utoipa::path(
    tag = "declarations",
    params(("quarter" = String, Path, description = "`YYYY-Qn`")),
    responses(
        (status = 200, body = WindowView),
        (status = 401, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/quarters/{quarter}")]
pub async fn get_quarter_window(
    state: web::Data<AppState>,
    user: AuthUser,
    quarter: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let quarter = parse_quarter(&quarter)?;
    let today = crate::clock::today(state.config.timezone);
    let view = state
        .db
        .read(move |conn| Ok(window::view(conn, &user.scope.county_id, quarter, today)?))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Sets the county's verification window for a quarter (admins). A window that has already
/// closed expires the quarter's uninspected declarations at once: upgrades `expired`,
/// renewals `unverified`.
#[utoipa::path(
    tag = "declarations",
    params(("quarter" = String, Path, description = "`YYYY-Qn`")),
    request_body = WindowBody,
    responses(
        (status = 200, body = WindowView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Another admin set this window at the same moment (`window_changed`)"),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/quarters/{quarter}")]
pub async fn put_quarter_window(
    state: web::Data<AppState>,
    user: AuthUser,
    quarter: web::Path<String>,
    Json(body): Json<WindowBody>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let quarter = parse_quarter(&quarter)?;
    let window =
        Window::new(quarter, body.opens_on, body.closes_on).map_err(ApiError::validation)?;
    let today = crate::clock::today(state.config.timezone);
    let view = state
        .db
        .write(move |conn| {
            window::set(
                conn,
                &user.scope.county_id,
                quarter,
                window,
                &user.actor(),
                today,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
