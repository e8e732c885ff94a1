//! `/api/v1/users`: admins list, create and (de)activate users inside their scope.

use actix_web::{get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::model::{self, NewUser, User, UserView};
use crate::auth::{AuthUser, Role};
use crate::db::schema::users;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{Json, Page, PageParams};
use crate::i18n::Rule;
use crate::org::OrgUnit;
use crate::scoped;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub org_unit: Option<String>,
}

/// Users in the caller's scope, ordered by username.
#[utoipa::path(
    tag = "users",
    params(UserFilter, PageParams),
    responses((status = 200, body = Page<UserView>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<UserFilter>,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let limit = page.limit()?;
    let cursor: Option<String> = page.cursor()?;
    let filter = filter.into_inner();
    let page = state
        .db
        .read(move |conn| {
            let q = users::table.into_boxed();
            let mut q = scoped!(q, users, &user.scope);
            if let Some(r) = filter.role {
                q = q.filter(users::role.eq(r.as_str()));
            }
            if let Some(u) = filter.org_unit {
                q = q.filter(users::org_unit_id.eq(u));
            }
            if let Some(c) = cursor {
                q = q.filter(users::username.gt(c));
            }
            let rows = q
                .select(User::as_select())
                .order(users::username.asc())
                .limit(limit + 1)
                .load(conn)?;
            Ok(Page::from_rows(
                rows,
                limit,
                |u: &User| u.username.clone(),
                |u| u.view(),
            ))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    /// At least 10 characters.
    pub password: String,
    /// admin, inspector, reviewer, township, secretary or member.
    pub role: String,
    /// The user's scope: a county for an admin; the county or one of its townships for an
    /// inspector or a reviewer (narrowed to that township); a township for township staff; a
    /// village for a secretary or a member.
    pub org_unit_id: String,
    /// A reviewer's verifying body, `department` or `association`: required for reviewers,
    /// refused for every other role.
    pub body: Option<String>,
}

#[utoipa::path(
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, body = UserView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    user: AuthUser,
    Json(body): Json<CreateUser>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let new = NewUser::parse(
        &body.username,
        &body.password,
        &body.role,
        body.body.as_deref(),
    )
    .map_err(ApiError::validation)?;
    let created = state
        .db
        .write(move |conn| {
            let unit =
                OrgUnit::find_scoped(conn, &user.scope, &body.org_unit_id).map_err(|_| {
                    ApiError::field("org_unit_id", Rule::NotInScope.with("what", "org unit"))
                })?;
            new.insert(conn, &unit, &user.actor())
        })
        .await?;
    Ok(HttpResponse::Created().json(created.view()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// false deactivates: the user cannot log in or refresh, and her access tokens are
    /// refused from the next request.
    pub active: Option<bool>,
    /// A new password (at least 10 characters); it ends every session of the user.
    pub password: Option<String>,
    /// A reviewer's verifying body, `department` or `association`.
    pub body: Option<String>,
}

#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        (status = 200, body = UserView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    Json(body): Json<UpdateUser>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin])?;
    let id = id.into_inner();
    let updated = state
        .db
        .write(move |conn| {
            let target = User::find_scoped(conn, &user.scope, &id)?;
            if target.id == user.id && body.active == Some(false) {
                return Err(ApiError::field("active", Rule::SelfDeactivate));
            }
            model::update(
                conn,
                &target,
                body.active,
                body.password.as_deref(),
                body.body.as_deref(),
                &user.actor(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(updated.view()))
}
