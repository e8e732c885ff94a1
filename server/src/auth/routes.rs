//! `/api/v1/auth/*` and `/api/v1/me`: log in, rotate refresh tokens, log out, who am I.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::token::{self, ACCESS_TTL_SECS, REFRESH_TTL_DAYS};
use super::{password, throttle, Actor, AuthUser};
use crate::db::schema::refresh_tokens;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::Json;
use crate::org::{OrgUnit, OrgUnitView};
use crate::state::AppState;
use crate::users::{User, UserView};
use crate::{audit, clock::now};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: UserView,
}

const INVALID_LOGIN: &str = "the username or password is wrong";

/// Logs in. An unknown user and a wrong password get the same answer, in the same time.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, body = Problem),
        (status = 422, body = Problem),
        (status = 429, body = Problem, description = "Too many failed logins; see Retry-After")
    )
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let address = crate::http::client::client_ip(
        req.peer_addr().map(|a| a.ip()),
        req.headers(),
        &state.config.trusted_proxies,
    )
    .map_or_else(|| "unknown".into(), |ip| ip.to_string());
    let username = crate::users::model::normalize_username(&body.username);
    // Counted before the password is checked, in the same write as the throttle's check, so
    // that parallel attempts cannot outrun the count (`throttle.rs`).
    let attempt = {
        let (username, address) = (username.clone(), address.clone());
        state
            .db
            .write(move |conn| Ok(throttle::admit(conn, &username, &address, now())?))
            .await?
            .map_err(|wait| ApiError::too_many_requests(wait as u64))?
    };
    // The slow hash runs outside any transaction, on the blocking pool.
    let user = state
        .db
        .read(move |conn| {
            let user = User::find_by_username(conn, &username)?;
            Ok(match user {
                Some(u) if password::verify(&u.password_hash, &body.password) && u.active => {
                    Some(u)
                }
                Some(_) => None,
                None => {
                    password::verify_dummy(&body.password);
                    None
                }
            })
        })
        .await?
        .ok_or_else(|| ApiError::unauthorized(INVALID_LOGIN))?;
    let tokens = state.clone();
    let response = state
        .db
        .write(move |c| {
            throttle::forget(c, &attempt)?;
            let family = uuid::Uuid::now_v7().to_string();
            let expires_at = now() + Duration::days(REFRESH_TTL_DAYS);
            let refresh_token = insert_refresh(c, &user.id, &family, expires_at)?;
            audit::record(
                c,
                &Actor {
                    id: Some(user.id.clone()),
                    name: user.username.clone(),
                    request_id: None,
                },
                "user.logged_in",
                "user",
                &user.id,
                Some(&user.county_id),
                format!("from {address}"),
            )?;
            Ok(token_response(&tokens, &user, refresh_token))
        })
        .await?;
    Ok(HttpResponse::Ok().json(response))
}

fn token_response(state: &AppState, user: &User, refresh_token: String) -> TokenResponse {
    TokenResponse {
        access_token: state.tokens.issue(
            &user.id,
            &user.username,
            user.role(),
            &user.scope(),
            chrono::Utc::now().timestamp(),
        ),
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: ACCESS_TTL_SECS,
        user: user.view(),
    }
}

/// A new refresh token of `family`, valid until `expires_at`: the login's time plus
/// `REFRESH_TTL_DAYS`, inherited by every rotation so that no rotation extends the session.
fn insert_refresh(
    conn: &mut DbConn,
    user_id: &str,
    family: &str,
    expires_at: NaiveDateTime,
) -> ApiResult<String> {
    let raw = token::new_refresh_token();
    let t = now();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(uuid::Uuid::now_v7().to_string()),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::family_id.eq(family),
            refresh_tokens::token_hash.eq(token::hash_refresh_token(&raw)),
            refresh_tokens::issued_at.eq(t),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(raw)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Queryable)]
struct RefreshRow {
    id: String,
    user_id: String,
    family_id: String,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

fn find_refresh(conn: &mut DbConn, raw: &str) -> QueryResult<Option<RefreshRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token::hash_refresh_token(raw)))
        .select((
            refresh_tokens::id,
            refresh_tokens::user_id,
            refresh_tokens::family_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            refresh_tokens::revoked_at,
        ))
        .first(conn)
        .optional()
}

/// The family's token that is neither used nor revoked (at most one: rotation keeps it so).
fn live_token(conn: &mut DbConn, family: &str) -> QueryResult<Option<String>> {
    refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family))
        .filter(refresh_tokens::used_at.is_null())
        .filter(refresh_tokens::revoked_at.is_null())
        .select(refresh_tokens::id)
        .first(conn)
        .optional()
}

/// Whether a token of the family was used after `used` (the session moved on from it).
fn family_used_after(conn: &mut DbConn, family: &str, used: NaiveDateTime) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family))
            .filter(refresh_tokens::used_at.gt(used)),
    ))
    .get_result(conn)
}

fn revoke_family(conn: &mut DbConn, family: &str) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(conn)
}

/// Trades a refresh token for a new pair. A spent token presented again revokes its family,
/// unless it comes back within two minutes and nothing of its family was used since: then its
/// answer was lost and this is the retry (`token::judge`); the lost successor is replaced.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 422, body = Problem))
)]
#[post("/api/v1/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let st = state.clone();
    let outcome = state
        .db
        .write(move |conn| {
            let invalid =
                || ApiError::unauthorized("the refresh token is invalid, spent or revoked");
            let Some(row) = find_refresh(conn, &body.refresh_token)? else {
                return Ok(Err(invalid()));
            };
            let t = now();
            // An unused, unrevoked token (every ordinary refresh) needs nothing of its family.
            let settled = row.used_at.is_some() || row.revoked_at.is_some();
            let live = if settled {
                live_token(conn, &row.family_id)?
            } else {
                None
            };
            let used_since = match row.used_at {
                Some(used) => family_used_after(conn, &row.family_id, used)?,
                None => false,
            };
            let presented = token::judge(
                &token::RefreshState {
                    expires_at: row.expires_at,
                    used_at: row.used_at,
                    revoked_at: row.revoked_at,
                    family_lives: live.is_some(),
                    family_used_since: used_since,
                },
                t,
            );
            match presented {
                token::Presented::Dead => return Ok(Err(invalid())),
                // Reuse means the session is in two hands: end every token of this family.
                token::Presented::Copied => {
                    revoke_family(conn, &row.family_id)?;
                    return Ok(Err(invalid()));
                }
                token::Presented::Fresh | token::Presented::Retry => {}
            }
            let user = match User::find(conn, &row.user_id)? {
                Some(u) if u.active => u,
                _ => {
                    revoke_family(conn, &row.family_id)?;
                    return Ok(Err(invalid()));
                }
            };
            // Fresh: spend it. Retry: its successor, issued into a lost answer, is replaced (and
            // presenting that one later ends the family, as any copy does). Either only if no
            // other request claimed it first.
            let claimed = match (presented, live) {
                (token::Presented::Retry, Some(successor)) => diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::id.eq(successor))
                        .filter(refresh_tokens::used_at.is_null())
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(t))
                .execute(conn)?,
                _ => diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::id.eq(&row.id))
                        .filter(refresh_tokens::used_at.is_null())
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::used_at.eq(t))
                .execute(conn)?,
            };
            if claimed != 1 {
                return Ok(Err(invalid()));
            }
            // The new token ends when the family does: 30 days after the login, not after now.
            let raw = insert_refresh(conn, &user.id, &row.family_id, row.expires_at)?;
            Ok(Ok(token_response(&st, &user, raw)))
        })
        .await?;
    // The family's revocation above must commit even though the answer is 401.
    Ok(HttpResponse::Ok().json(outcome?))
}

/// Revokes the refresh token's whole family. Unknown tokens also answer 204.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Logged out"), (status = 422, body = Problem))
)]
#[post("/api/v1/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    state
        .db
        .write(move |conn| {
            if let Some(row) = find_refresh(conn, &body.refresh_token)? {
                revoke_family(conn, &row.family_id)?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MeView {
    #[serde(flatten)]
    pub user: UserView,
    pub org_unit: OrgUnitView,
    pub county_id: String,
}

#[utoipa::path(
    tag = "auth",
    responses((status = 200, body = MeView), (status = 401, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/me")]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let view = state
        .db
        .read(move |conn| {
            let u = User::find(conn, &user.id)?
                .filter(|u| u.active)
                .ok_or_else(|| ApiError::unauthorized("the user is no longer active"))?;
            let unit = OrgUnit::find(conn, &u.org_unit_id)?.ok_or_else(|| ApiError::internal())?;
            Ok(MeView {
                county_id: u.county_id.clone(),
                user: u.view(),
                org_unit: unit.view(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
