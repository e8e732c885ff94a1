//! Members of a village's association: the row, its view, a new member (a checked name and
//! an optional `member` login of her village) and the changes to one (rename, link, removal).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::model::{chars, lock_member, lock_user};
use crate::auth::{Actor, AuthUser, Role};
use crate::db::schema::{members, mentees};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, FieldError, OrNotFound};
use crate::i18n::{Msg, Rule};
use crate::org::OrgUnit;
use crate::users::User;
use crate::{audit, clock::now, scoped};

pub const NAME_MAX_CHARS: usize = 100;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = members)]
pub struct Member {
    pub id: String,
    pub village_id: String,
    pub township_id: Option<String>,
    pub county_id: String,
    pub name: String,
    pub user_id: Option<String>,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

/// A member of a village's association.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct MemberView {
    pub id: String,
    pub village_id: String,
    pub name: String,
    /// The `member` login linked to her, if she has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// false once removed (`PATCH … {"active": false}`); removed members are not listed.
    pub active: bool,
}

impl Member {
    pub fn view(self) -> MemberView {
        MemberView {
            id: self.id,
            village_id: self.village_id,
            name: self.name,
            user_id: self.user_id,
            active: self.active,
        }
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Member>> {
        members::table
            .find(id)
            .select(Member::as_select())
            .first(conn)
            .optional()
    }

    /// The member with `id` as the caller may see her: inside the caller's scope, and for a
    /// `member` login only her own record. Otherwise 404.
    pub fn find_visible(conn: &mut DbConn, user: &AuthUser, id: &str) -> ApiResult<Member> {
        let q = members::table.filter(members::id.eq(id)).into_boxed();
        let mut q = scoped!(q, members, &user.scope);
        if user.role == Role::Member {
            q = q.filter(members::user_id.eq(user.id.clone()));
        }
        q.select(Member::as_select())
            .first(conn)
            .optional()
            .or_not_found("member")
    }

    pub fn mentee_count(conn: &mut DbConn, id: &str) -> QueryResult<i64> {
        mentees::table
            .filter(mentees::member_id.eq(id))
            .count()
            .get_result(conn)
    }
}

fn check_member_name(name: &str) -> Result<String, Msg> {
    let name = name.trim();
    if (1..=NAME_MAX_CHARS).contains(&chars(name)) {
        Ok(name.to_string())
    } else {
        Err(Rule::LengthRange.with("max", NAME_MAX_CHARS))
    }
}

/// Checks that `user_id` may be linked to a member of `village_id`: a `member` login of that
/// village not yet linked to another active member. The login's row is locked meanwhile, so two
/// members can never be linked to one login.
fn check_login(
    conn: &mut DbConn,
    user_id: &str,
    village_id: &str,
    except_member: Option<&str>,
) -> ApiResult<()> {
    let bad = |m: Msg| ApiError::field("user_id", m);
    if lock_user(conn, user_id)? == 0 {
        return Err(bad(Rule::NoSuch.with("what", "login")));
    }
    let login =
        User::find(conn, user_id)?.ok_or_else(|| bad(Rule::NoSuch.with("what", "login")))?;
    if login.role() != Role::Member || login.village_id.as_deref() != Some(village_id) {
        return Err(bad(Rule::MemberLogin.into()));
    }
    let mut q = members::table
        .filter(members::user_id.eq(user_id))
        .filter(members::active.eq(true))
        .select(members::name)
        .into_boxed();
    if let Some(id) = except_member {
        q = q.filter(members::id.ne(id.to_string()));
    }
    if let Some(other) = q.first::<String>(conn).optional()? {
        return Err(bad(Rule::LoginLinked.with("other", other)));
    }
    Ok(())
}

/// A member to add to a village, checked.
pub struct NewMember {
    pub name: String,
    pub user_id: Option<String>,
}

impl NewMember {
    pub fn parse(name: &str, user_id: Option<String>) -> Result<Self, Vec<FieldError>> {
        let name = check_member_name(name).map_err(|m| vec![FieldError::new("name", m)])?;
        Ok(NewMember {
            name,
            user_id: user_id.filter(|u| !u.is_empty()),
        })
    }

    pub fn insert(&self, conn: &mut DbConn, village: &OrgUnit, actor: &Actor) -> ApiResult<Member> {
        if let Some(user_id) = &self.user_id {
            check_login(conn, user_id, &village.id, None)?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        diesel::insert_into(members::table)
            .values((
                members::id.eq(&id),
                members::village_id.eq(&village.id),
                members::township_id.eq(&village.township_id),
                members::county_id.eq(&village.county_id),
                members::name.eq(&self.name),
                members::user_id.eq(&self.user_id),
                members::active.eq(true),
                members::created_at.eq(now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "member.created",
            "member",
            &id,
            Some(&village.county_id),
            format!(
                "{} in {}{}",
                self.name,
                village.code,
                if self.user_id.is_some() {
                    " (linked to a login)"
                } else {
                    ""
                }
            ),
        )?;
        Member::find(conn, &id)?.ok_or_else(|| ApiError::internal())
    }
}

/// `null` and absent differ for `user_id` in a PATCH: `null` unlinks, absent keeps.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to a member: her name, her login, or her removal (`active: false`), which is refused
/// while she still mentors anyone.
pub struct MemberChange {
    pub name: Option<String>,
    pub user_id: Option<Option<String>>,
    pub active: Option<bool>,
}

pub fn update_member(
    conn: &mut DbConn,
    member: &Member,
    change: MemberChange,
    actor: &Actor,
) -> ApiResult<Member> {
    lock_member(conn, &member.id)?;
    let member = Member::find(conn, &member.id)?.ok_or_else(|| ApiError::internal())?;
    let mut notes = Vec::new();
    let name = match change.name {
        Some(n) => check_member_name(&n).map_err(|m| ApiError::field("name", m))?,
        None => member.name.clone(),
    };
    if name != member.name {
        notes.push(format!("name {:?} → {:?}", member.name, name));
    }
    let active = change.active.unwrap_or(member.active);
    let user_id = match change.user_id {
        Some(u) => u.filter(|u| !u.is_empty()),
        None => member.user_id.clone(),
    };
    // A new login is checked even when the member is removed in the same change: the column
    // is a foreign key, and an unknown id must be a 422, never a failed write.
    if let Some(u) = user_id.as_deref() {
        if user_id != member.user_id || (active && !member.active) {
            check_login(conn, u, &member.village_id, Some(&member.id))?;
        }
    }
    if user_id != member.user_id {
        notes.push(match &user_id {
            Some(_) => "linked to a login".to_string(),
            None => "unlinked from her login".to_string(),
        });
    }
    if active != member.active {
        if !active {
            let n = Member::mentee_count(conn, &member.id)?;
            if n > 0 {
                return Err(ApiError::unprocessable(
                    "member_has_mentees",
                    Rule::MemberHasMentees
                        .with("member", member.name.clone())
                        .with("count", n),
                ));
            }
        }
        notes.push(if active { "re-activated" } else { "removed" }.to_string());
    }
    if notes.is_empty() {
        return Ok(member);
    }
    diesel::update(members::table.find(&member.id))
        .set((
            members::name.eq(&name),
            members::user_id.eq(&user_id),
            members::active.eq(active),
        ))
        .execute(conn)?;
    let action = match (member.active, active) {
        (true, false) => "member.removed",
        _ => "member.updated",
    };
    audit::record(
        conn,
        actor,
        action,
        "member",
        &member.id,
        Some(&member.county_id),
        notes.join("; "),
    )?;
    Member::find(conn, &member.id)?.ok_or_else(|| ApiError::internal())
}
