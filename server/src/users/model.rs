//! The user row, its view, and creation and update rules.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{password, Actor, Role};
use crate::db::schema::{refresh_tokens, users};
use crate::db::{is_unique_violation, DbConn};
use crate::error::{ApiError, ApiResult, FieldError, OrNotFound};
use crate::i18n::Rule;
use crate::org::OrgUnit;
use crate::review::rules::ReviewBody;
use crate::scope::{OrgLevel, Placement, Scope};
use crate::{audit, clock::now, scoped};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub org_unit_id: String,
    pub county_id: String,
    pub township_id: Option<String>,
    pub village_id: Option<String>,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// A reviewer's verifying body (`department` or `association`); none for other roles.
    pub body: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub org_unit_id: String,
    /// The level of her org unit: her scope is its subtree.
    pub scope_level: OrgLevel,
    /// A reviewer's verifying body; absent for every other role.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body: Option<ReviewBody>,
    pub active: bool,
}

impl User {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Member)
    }

    /// Her scope: the subtree of the unit she is placed at.
    pub fn scope(&self) -> Scope {
        let level = if self.village_id.is_some() {
            OrgLevel::Village
        } else if self.township_id.is_some() {
            OrgLevel::Township
        } else {
            OrgLevel::County
        };
        Scope {
            unit_id: self.org_unit_id.clone(),
            level,
            county_id: self.county_id.clone(),
        }
    }

    /// A reviewer's verifying body.
    pub fn review_body(&self) -> Option<ReviewBody> {
        self.body.as_deref().and_then(ReviewBody::parse)
    }

    pub fn view(&self) -> UserView {
        UserView {
            id: self.id.clone(),
            username: self.username.clone(),
            role: self.role(),
            org_unit_id: self.org_unit_id.clone(),
            scope_level: self.scope().level,
            body: self.review_body(),
            active: self.active,
        }
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
        users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_scoped(conn: &mut DbConn, scope: &Scope, id: &str) -> ApiResult<User> {
        let q = users::table.filter(users::id.eq(id)).into_boxed();
        scoped!(q, users, scope)
            .select(User::as_select())
            .first(conn)
            .optional()
            .or_not_found("user")
    }
}

pub fn normalize_username(u: &str) -> String {
    u.trim().to_lowercase()
}

fn check_username(u: &str) -> Result<(), Rule> {
    let ok = (3..=64).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Rule::UsernameFormat)
    }
}

/// A user to create, checked: username, password rules, a role that fits the unit's level, and
/// a verifying body for a reviewer (and for nobody else).
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub body: Option<ReviewBody>,
}

/// Checks a reviewer's body: required for reviewers, refused for every other role.
pub fn check_body(role: Role, body: Option<&str>) -> Result<Option<ReviewBody>, FieldError> {
    match (role, body) {
        (Role::Reviewer, None) => Err(FieldError::new("body", Rule::ReviewerNeedsBody)),
        (Role::Reviewer, Some(b)) => ReviewBody::parse(b).map(Some).ok_or_else(|| {
            FieldError::new(
                "body",
                Rule::OneOf.with("allowed", vec!["department", "association"]),
            )
        }),
        (_, None) => Ok(None),
        (other, Some(_)) => Err(FieldError::new(
            "body",
            Rule::ReviewerBodyRole.with("role", other.as_str()),
        )),
    }
}

impl NewUser {
    pub fn parse(
        username: &str,
        password: &str,
        role: &str,
        body: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let username = normalize_username(username);
        let mut errors = Vec::new();
        if let Err(m) = check_username(&username) {
            errors.push(FieldError::new("username", m));
        }
        if let Err(m) = password::check_rules(password) {
            errors.push(FieldError::new("password", m));
        }
        let parsed = Role::parse(role);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "role",
                Rule::OneOf.with("allowed", Role::ALL.map(Role::as_str).to_vec()),
            ));
        }
        let body = match parsed.map(|role| check_body(role, body)) {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            None => None,
        };
        match parsed {
            Some(role) if errors.is_empty() => Ok(NewUser {
                username,
                password: password.to_string(),
                role,
                body,
            }),
            _ => Err(errors),
        }
    }

    /// Inserts the user with her scope at `unit`. Hashing is slow by design: call off the
    /// async workers (every caller does, through `Db::write`).
    pub fn insert(&self, conn: &mut DbConn, unit: &OrgUnit, actor: &Actor) -> ApiResult<User> {
        if !self.role.fits(unit.level()) {
            let levels: Vec<&str> = self.role.levels().iter().map(|l| l.as_str()).collect();
            return Err(ApiError::field(
                "org_unit_id",
                Rule::RolePlacement
                    .with("role", self.role.as_str())
                    .with("levels", levels)
                    .with("level", unit.level.clone()),
            ));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let p: Placement = unit.placement();
        let t = now();
        let res = diesel::insert_into(users::table)
            .values((
                users::id.eq(&id),
                users::username.eq(&self.username),
                users::password_hash.eq(password::hash(&self.password)),
                users::role.eq(self.role.as_str()),
                users::org_unit_id.eq(&unit.id),
                users::county_id.eq(&p.county_id),
                users::township_id.eq(&p.township_id),
                users::village_id.eq(&p.village_id),
                users::active.eq(true),
                users::created_at.eq(t),
                users::updated_at.eq(t),
                users::body.eq(self.body.map(ReviewBody::as_str)),
            ))
            .execute(conn);
        match res {
            Err(e) if is_unique_violation(&e) => {
                return Err(ApiError::conflict(
                    "username_taken",
                    format!("the username {} is taken", self.username),
                ))
            }
            other => other?,
        };
        audit::record(
            conn,
            actor,
            "user.created",
            "user",
            &id,
            Some(&p.county_id),
            format!(
                "{} as {}{} at {}",
                self.username,
                self.role.as_str(),
                self.body
                    .map(|b| format!(" ({})", b.as_str()))
                    .unwrap_or_default(),
                unit.code
            ),
        )?;
        User::find(conn, &id)?.ok_or_else(|| ApiError::internal())
    }
}

/// Changes a user's active flag or password. A new password and a deactivation both revoke
/// every refresh-token family of the user (every session she has, on any device); her access
/// tokens stop working at once on deactivation (`AuthUser` reads her row on every request) and
/// within their 15 minutes after a password change.
pub fn update(
    conn: &mut DbConn,
    user: &User,
    active: Option<bool>,
    new_password: Option<&str>,
    body: Option<&str>,
    actor: &Actor,
) -> ApiResult<User> {
    if let Some(b) = body {
        let body = check_body(user.role(), Some(b)).map_err(|e| ApiError::validation(vec![e]))?;
        if body != user.review_body() {
            diesel::update(users::table.find(&user.id))
                .set((
                    users::body.eq(body.map(ReviewBody::as_str)),
                    users::updated_at.eq(now()),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                actor,
                "user.body_changed",
                "user",
                &user.id,
                Some(&user.county_id),
                format!("{}: {}", user.username, b),
            )?;
        }
    }
    if let Some(p) = new_password {
        password::check_rules(p).map_err(|m| ApiError::field("password", m))?;
        diesel::update(users::table.find(&user.id))
            .set((
                users::password_hash.eq(password::hash(p)),
                users::updated_at.eq(now()),
            ))
            .execute(conn)?;
        revoke_sessions(conn, &user.id)?;
        audit::record(
            conn,
            actor,
            "user.password_changed",
            "user",
            &user.id,
            Some(&user.county_id),
            user.username.clone(),
        )?;
    }
    if let Some(active) = active.filter(|a| *a != user.active) {
        diesel::update(users::table.find(&user.id))
            .set((users::active.eq(active), users::updated_at.eq(now())))
            .execute(conn)?;
        if !active {
            revoke_sessions(conn, &user.id)?;
        }
        let action = if active {
            "user.activated"
        } else {
            "user.deactivated"
        };
        audit::record(
            conn,
            actor,
            action,
            "user",
            &user.id,
            Some(&user.county_id),
            user.username.clone(),
        )?;
    }
    User::find(conn, &user.id)?.ok_or_else(|| ApiError::internal())
}

/// Revokes every refresh token of the user, so that no session of hers can be refreshed.
pub fn revoke_sessions(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(conn)
}
