//! Identity: roles, the one authentication extractor (`AuthUser`), and who did what (`Actor`).
//! Tokens, passwords, login throttling and the auth routes live in the submodules.

pub mod password;
pub mod routes;
pub mod throttle;
pub mod token;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;
use utoipa::ToSchema;

use crate::db::schema::users;
use crate::error::{ApiError, ApiResult};
use crate::scope::{OrgLevel, Scope};
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Inspector,
    Reviewer,
    /// Township staff (乡镇): see their township's villages, declare on their behalf, and
    /// pre-check their declarations where the county asks for it.
    Township,
    Secretary,
    Member,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Inspector,
        Role::Reviewer,
        Role::Township,
        Role::Secretary,
        Role::Member,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Inspector => "inspector",
            Role::Reviewer => "reviewer",
            Role::Township => "township",
            Role::Secretary => "secretary",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The levels of org unit a user of this role may be placed at; her scope is that unit's
    /// subtree. Admins are the county's; inspectors and reviewers work for the county and may be
    /// narrowed to one township; township staff belong to a township; secretaries and members
    /// to a village.
    pub fn levels(self) -> &'static [OrgLevel] {
        match self {
            Role::Admin => &[OrgLevel::County],
            Role::Inspector | Role::Reviewer => &[OrgLevel::County, OrgLevel::Township],
            Role::Township => &[OrgLevel::Township],
            Role::Secretary | Role::Member => &[OrgLevel::Village],
        }
    }

    /// Whether a user of this role may be placed at a unit of `level`.
    pub fn fits(self, level: OrgLevel) -> bool {
        self.levels().contains(&level)
    }

    /// The county's own roles, whatever unit they are placed at.
    pub fn is_county_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Inspector | Role::Reviewer)
    }
}

/// The authenticated caller, from a valid bearer access token.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub scope: Scope,
    pub request_id: Option<String>,
}

impl AuthUser {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> ApiResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.id.clone()),
            name: self.username.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = verify_token(req);
        let req = req.clone();
        Box::pin(async move {
            let (state, user) = verified?;
            still_current(&state, &user).await?;
            // For the access log: who made the request (never the token).
            req.extensions_mut()
                .insert(crate::http::middleware::UserId(user.id.clone()));
            Ok(user)
        })
    }
}

/// The caller named by a valid access token (signature, expiry, issuer, audience).
fn verify_token(req: &HttpRequest) -> ApiResult<(Data<AppState>, AuthUser)> {
    let state = req
        .app_data::<Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal())?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| ApiError::unauthorized("a bearer access token is required"))?;
    let claims = state
        .tokens
        .verify(token.trim())
        .ok_or_else(|| ApiError::unauthorized("the access token is invalid or expired"))?;
    let user = AuthUser {
        scope: claims.scope(),
        id: claims.sub,
        username: claims.name,
        role: claims.role,
        request_id: req.extensions().get::<RequestId>().map(|r| r.to_string()),
    };
    Ok((state, user))
}

/// 401 unless the token's user is still active with the role and scope the token names: a
/// deactivation or a change of role or scope takes effect on the next request, not when the
/// access token expires. One read by primary key.
async fn still_current(state: &AppState, user: &AuthUser) -> ApiResult<()> {
    let id = user.id.clone();
    let row: Option<(bool, String, String, String)> = state
        .db
        .read(move |conn| {
            Ok(users::table
                .find(id)
                .select((
                    users::active,
                    users::role,
                    users::org_unit_id,
                    users::county_id,
                ))
                .first(conn)
                .optional()?)
        })
        .await?;
    match row {
        Some((true, role, unit, county))
            if role == user.role.as_str()
                && user.role.fits(user.scope.level)
                && unit == user.scope.unit_id
                && county == user.scope.county_id =>
        {
            Ok(())
        }
        _ => Err(ApiError::unauthorized(
            "the user is no longer active or her role or scope changed: log in again",
        )),
    }
}

/// Who made a change, for the audit log: a user, or the operator's command line.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Option<String>,
    pub name: String,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn cli() -> Self {
        Actor {
            id: None,
            name: "cli".into(),
            request_id: None,
        }
    }
}
