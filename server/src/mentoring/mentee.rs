//! Mentees: the people a member mentors (one to three each), known by a pseudonymous code and
//! a display name; registering one, and changing her code, name or mentor.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::member::Member;
use super::model::{chars, lock_member};
use crate::auth::{Actor, AuthUser, Role};
use crate::db::schema::mentees;
use crate::db::{is_unique_violation, DbConn};
use crate::error::{ApiError, ApiResult, FieldError, OrNotFound};
use crate::i18n::{Msg, Rule};
use crate::{audit, clock::now, scoped};

/// A member mentors one to three people.
pub const MAX_MENTEES_PER_MEMBER: i64 = 3;
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;
pub const CODE_MAX_LEN: usize = 32;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = mentees)]
pub struct Mentee {
    pub id: String,
    pub member_id: String,
    pub village_id: String,
    pub township_id: Option<String>,
    pub county_id: String,
    pub code: String,
    pub display_name: String,
    pub created_on: NaiveDate,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A person a member mentors: a pseudonymous code and a display name, nothing more.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct MenteeView {
    pub id: String,
    pub member_id: String,
    pub code: String,
    pub display_name: String,
}

impl Mentee {
    pub fn view(self) -> MenteeView {
        MenteeView {
            id: self.id,
            member_id: self.member_id,
            code: self.code,
            display_name: self.display_name,
        }
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Mentee>> {
        mentees::table
            .find(id)
            .select(Mentee::as_select())
            .first(conn)
            .optional()
    }

    /// The mentee as the caller may see her: inside the caller's scope, and for a `member`
    /// login only if she mentors her. Otherwise 404.
    pub fn find_visible(
        conn: &mut DbConn,
        user: &AuthUser,
        own_member: Option<&str>,
        id: &str,
    ) -> ApiResult<Mentee> {
        let q = mentees::table.filter(mentees::id.eq(id)).into_boxed();
        let mut q = scoped!(q, mentees, &user.scope);
        if user.role == Role::Member {
            let Some(own) = own_member else {
                return Err(ApiError::not_found("mentee"));
            };
            q = q.filter(mentees::member_id.eq(own.to_string()));
        }
        q.select(Mentee::as_select())
            .first(conn)
            .optional()
            .or_not_found("mentee")
    }
}

pub fn check_code(code: &str) -> Result<(), Msg> {
    let ok = (1..=CODE_MAX_LEN).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Rule::MenteeCodeFormat.with("max", CODE_MAX_LEN))
    }
}

pub fn check_display_name(name: &str) -> Result<String, Msg> {
    let name = name.trim();
    if (1..=DISPLAY_NAME_MAX_CHARS).contains(&chars(name)) {
        Ok(name.to_string())
    } else {
        Err(Rule::LengthRange.with("max", DISPLAY_NAME_MAX_CHARS))
    }
}

/// A mentee to register, checked.
pub struct NewMentee {
    pub code: String,
    pub display_name: String,
}

impl NewMentee {
    pub fn parse(code: &str, display_name: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(m) = check_code(code) {
            errors.push(FieldError::new("code", m));
        }
        let display_name = check_display_name(display_name)
            .map_err(|m| errors.push(FieldError::new("display_name", m)))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewMentee {
            code: code.to_string(),
            display_name,
        })
    }

    /// Registers the mentee with `member`, whose row stays locked until the transaction ends,
    /// so that two concurrent registrations cannot both see a free place.
    pub fn insert(
        &self,
        conn: &mut DbConn,
        member: &Member,
        created_on: NaiveDate,
        actor: &Actor,
    ) -> ApiResult<Mentee> {
        let member = place_for(conn, &member.id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let t = now();
        let res = diesel::insert_into(mentees::table)
            .values((
                mentees::id.eq(&id),
                mentees::member_id.eq(&member.id),
                mentees::village_id.eq(&member.village_id),
                mentees::township_id.eq(&member.township_id),
                mentees::county_id.eq(&member.county_id),
                mentees::code.eq(&self.code),
                mentees::display_name.eq(&self.display_name),
                mentees::created_on.eq(created_on),
                mentees::created_at.eq(t),
                mentees::updated_at.eq(t),
            ))
            .execute(conn);
        match res {
            Err(e) if is_unique_violation(&e) => return Err(code_taken(&self.code)),
            other => other?,
        };
        audit::record(
            conn,
            actor,
            "mentee.created",
            "mentee",
            &id,
            Some(&member.county_id),
            format!("mentee {} with {}", self.code, member.name),
        )?;
        Mentee::find(conn, &id)?.ok_or_else(|| ApiError::internal())
    }
}

fn code_taken(code: &str) -> ApiError {
    ApiError::conflict(
        "mentee_code_taken",
        Rule::MenteeCodeTaken.with("code", code),
    )
}

/// Locks the member and checks that she is active and mentors fewer than three people.
fn place_for(conn: &mut DbConn, member_id: &str) -> ApiResult<Member> {
    lock_member(conn, member_id)?;
    let member = Member::find(conn, member_id)?.ok_or_else(|| ApiError::not_found("member"))?;
    if !member.active {
        return Err(ApiError::unprocessable(
            "member_inactive",
            Rule::MemberInactive.with("member", member.name.clone()),
        ));
    }
    let n = Member::mentee_count(conn, member_id)?;
    if n >= MAX_MENTEES_PER_MEMBER {
        return Err(ApiError::unprocessable(
            "mentee_limit",
            Rule::MenteeLimit
                .with("member", member.name.clone())
                .with("count", n)
                .with("max", MAX_MENTEES_PER_MEMBER),
        ));
    }
    Ok(member)
}

/// Changes to a mentee: her code, display name, or mentor (`member_id`, same village).
pub struct MenteeChange {
    pub code: Option<String>,
    pub display_name: Option<String>,
    pub member_id: Option<String>,
}

pub fn update_mentee(
    conn: &mut DbConn,
    user: &AuthUser,
    mentee: &Mentee,
    change: MenteeChange,
) -> ApiResult<Mentee> {
    let mut errors = Vec::new();
    if let Some(c) = &change.code {
        if let Err(m) = check_code(c) {
            errors.push(FieldError::new("code", m));
        }
    }
    let display_name = match &change.display_name {
        Some(n) => check_display_name(n)
            .map_err(|m| errors.push(FieldError::new("display_name", m)))
            .ok(),
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut notes = Vec::new();
    let code = change.code.unwrap_or_else(|| mentee.code.clone());
    if code != mentee.code {
        notes.push(format!("code {} → {code}", mentee.code));
    }
    let display_name = display_name.unwrap_or_else(|| mentee.display_name.clone());
    if display_name != mentee.display_name {
        notes.push("display name changed".to_string());
    }
    let mut member_id = mentee.member_id.clone();
    if let Some(target) = change.member_id.filter(|m| *m != mentee.member_id) {
        let not_here = || ApiError::field("member_id", Rule::MemberNotInVillage);
        let target = Member::find_visible(conn, user, &target).map_err(|_| not_here())?;
        if target.village_id != mentee.village_id {
            return Err(not_here());
        }
        let target = place_for(conn, &target.id)?;
        notes.push(format!("moved to {}", target.name));
        member_id = target.id;
    }
    if notes.is_empty() {
        return Ok(mentee.clone());
    }
    let res = diesel::update(mentees::table.find(&mentee.id))
        .set((
            mentees::code.eq(&code),
            mentees::display_name.eq(&display_name),
            mentees::member_id.eq(&member_id),
            mentees::updated_at.eq(now()),
        ))
        .execute(conn);
    match res {
        Err(e) if is_unique_violation(&e) => return Err(code_taken(&code)),
        other => other?,
    };
    let action = if member_id != mentee.member_id {
        "mentee.moved"
    } else {
        "mentee.updated"
    };
    audit::record(
        conn,
        &user.actor(),
        action,
        "mentee",
        &mentee.id,
        Some(&mentee.county_id),
        format!("mentee {}: {}", mentee.code, notes.join("; ")),
    )?;
    Mentee::find(conn, &mentee.id)?.ok_or_else(|| ApiError::internal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_pseudonymous_and_short() {
        assert!(check_code("M-001").is_ok());
        assert!(check_code(&"a".repeat(32)).is_ok());
        for bad in ["", "李", "a b", "+8613800000000", &"a".repeat(33)] {
            assert!(check_code(bad).is_err(), "{bad}");
        }
    }
}
