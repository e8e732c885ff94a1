//! Members, mentees and visits: the rows, their views, the parsed inputs, the rules that
//! guard each change (one to three mentees per member, idempotent visits) and the scoped queries.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::coverage::VisitKind;
use crate::auth::{Actor, AuthUser, Role};
use crate::db::put::{lost_race, Put};
use crate::db::schema::{members, mentees, users, visits};
use crate::db::{is_unique_violation, DbConn};
use crate::error::{ApiError, ApiResult, FieldError, OrNotFound};
use crate::geo::GeoPoint;
use crate::i18n::{Msg, Rule};
use crate::org::OrgUnit;
use crate::users::User;
use crate::{audit, clock::now, scoped};

/// A member mentors one to three people.
pub const MAX_MENTEES_PER_MEMBER: i64 = 3;
pub const NOTE_MAX_CHARS: usize = 500;
pub const NAME_MAX_CHARS: usize = 100;
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;
pub const CODE_MAX_LEN: usize = 32;

// ---------------------------------------------------------------------------------------------
// Who is asking

/// Roles that change members, mentees and their visits (members log only their own visits).
pub const MANAGERS: [Role; 2] = [Role::Admin, Role::Secretary];

/// The member record linked to a `member` login, if any: what "her own mentees" means.
pub fn own_member_id(conn: &mut DbConn, user: &AuthUser) -> QueryResult<Option<String>> {
    if user.role != Role::Member {
        return Ok(None);
    }
    members::table
        .filter(members::user_id.eq(&user.id))
        .filter(members::village_id.eq(&user.scope.unit_id))
        .filter(members::active.eq(true))
        .select(members::id)
        .first(conn)
        .optional()
}

/// Locks a row for the rest of the transaction by a write that changes nothing: portable across
/// both backends (SQLite already serializes writers with `BEGIN IMMEDIATE`; on PostgreSQL the
/// row lock makes concurrent writers to the same member wait, so counts taken after it hold).
fn lock_member(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(members::table.find(id))
        .set(members::active.eq(members::active))
        .execute(conn)
}

fn lock_user(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::active.eq(users::active))
        .execute(conn)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

// ---------------------------------------------------------------------------------------------
// Members

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

// ---------------------------------------------------------------------------------------------
// Mentees

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

// ---------------------------------------------------------------------------------------------
// Visits

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

/// `PUT /api/v1/visits/{id}`: a visit as the phone records it.
#[derive(Deserialize, ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct VisitBody {
    pub mentee_id: String,
    /// `YYYY-MM-DD`: not in the future (county time zone), not before the mentee was registered.
    pub visited_on: NaiveDate,
    pub kind: VisitKind,
    /// At most 500 characters.
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub location: Option<Location>,
}

/// The parts of a visit body that identify it, in a fixed order: what `body_hash` hashes.
#[derive(Serialize)]
struct Canonical<'a> {
    mentee_id: &'a str,
    visited_on: NaiveDate,
    kind: VisitKind,
    note: Option<&'a str>,
    location: Option<Location>,
}

impl VisitBody {
    /// Checks what needs no database: the note's length and the position's ranges.
    pub fn check(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        if let Some(note) = &self.note {
            let n = chars(note);
            if n > NOTE_MAX_CHARS {
                errors.push(FieldError::new(
                    "note",
                    Rule::TooLongGot.with("max", NOTE_MAX_CHARS).with("got", n),
                ));
            }
        }
        if let Some(l) = self.location {
            GeoPoint::new(l.lat, l.lon).check("location", &mut errors);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(errors))
        }
    }

    /// SHA-256 (hex) of the canonical parsed body: equal bodies, however formatted, hash equal.
    pub fn hash(&self) -> String {
        let canonical = Canonical {
            mentee_id: &self.mentee_id,
            visited_on: self.visited_on,
            kind: self.kind,
            note: self.note.as_deref(),
            location: self.location,
        };
        let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }
}

pub fn kind_str(kind: VisitKind) -> &'static str {
    match kind {
        VisitKind::Outreach => "outreach",
        VisitKind::QuarterlyFollowup => "quarterly_followup",
    }
}

pub fn parse_kind(s: &str) -> VisitKind {
    match s {
        "quarterly_followup" => VisitKind::QuarterlyFollowup,
        _ => VisitKind::Outreach,
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = visits)]
pub struct Visit {
    pub id: String,
    pub mentee_id: String,
    pub member_id: String,
    pub village_id: String,
    pub township_id: Option<String>,
    pub county_id: String,
    pub visited_on: NaiveDate,
    pub kind: String,
    pub note: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub body_hash: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// A recorded visit. The same for the first `PUT` (201) and every identical replay (200).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct VisitView {
    pub id: String,
    pub mentee_id: String,
    /// The member who mentored the mentee when the visit was recorded.
    pub member_id: String,
    pub visited_on: NaiveDate,
    pub kind: VisitKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// When the server first recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl Visit {
    pub fn view(self) -> VisitView {
        VisitView {
            kind: parse_kind(&self.kind),
            location: match (self.lat, self.lon) {
                (Some(lat), Some(lon)) => Some(Location { lat, lon }),
                _ => None,
            },
            id: self.id,
            mentee_id: self.mentee_id,
            member_id: self.member_id,
            visited_on: self.visited_on,
            note: self.note,
            recorded_at: self.created_at.and_utc(),
        }
    }
}

/// Records the visit `id`, or replays it. Runs inside one write transaction.
pub fn record_visit(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
    body: &VisitBody,
    today: NaiveDate,
) -> ApiResult<Put<VisitView>> {
    let own = own_member_id(conn, user)?;
    let hash = body.hash();
    let q = visits::table.filter(visits::id.eq(id)).into_boxed();
    let existing = scoped!(q, visits, &user.scope)
        .select(Visit::as_select())
        .first(conn)
        .optional()?;
    if let Some(visit) = existing {
        let visible = user.role != Role::Member
            || visit.created_by == user.id
            || Mentee::find_visible(conn, user, own.as_deref(), &visit.mentee_id).is_ok();
        if !visible {
            return Err(ApiError::not_found("visit"));
        }
        if visit.body_hash == hash {
            return Ok(Put::Replayed(visit.view()));
        }
        return Err(ApiError::conflict(
            "visit_conflict",
            Rule::VisitConflict.with("id", id.to_string()),
        ));
    }
    let mentee = Mentee::find_visible(conn, user, own.as_deref(), &body.mentee_id)?;
    if body.visited_on > today {
        return Err(ApiError::field(
            "visited_on",
            Rule::InFuture.with("today", today.to_string()),
        ));
    }
    if body.visited_on < mentee.created_on {
        return Err(ApiError::field(
            "visited_on",
            Rule::BeforeRegistered.with("date", mentee.created_on.to_string()),
        ));
    }
    let res = diesel::insert_into(visits::table)
        .values((
            visits::id.eq(id),
            visits::mentee_id.eq(&mentee.id),
            visits::member_id.eq(&mentee.member_id),
            visits::village_id.eq(&mentee.village_id),
            visits::township_id.eq(&mentee.township_id),
            visits::county_id.eq(&mentee.county_id),
            visits::visited_on.eq(body.visited_on),
            visits::kind.eq(kind_str(body.kind)),
            visits::note.eq(&body.note),
            visits::lat.eq(body.location.map(|l| l.lat)),
            visits::lon.eq(body.location.map(|l| l.lon)),
            visits::body_hash.eq(&hash),
            visits::created_by.eq(&user.id),
            visits::created_at.eq(now()),
        ))
        .execute(conn);
    match res {
        Err(e) if is_unique_violation(&e) => return Err(lost_race(&format!("visit {id}"))),
        other => other?,
    };
    audit::record(
        conn,
        &user.actor(),
        "visit.recorded",
        "visit",
        id,
        Some(&mentee.county_id),
        format!(
            "{} visit to mentee {} on {}",
            kind_str(body.kind),
            mentee.code,
            body.visited_on
        ),
    )?;
    let visit = visits::table
        .find(id)
        .select(Visit::as_select())
        .first(conn)?;
    Ok(Put::Created(visit.view()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> VisitBody {
        crate::http::json::parse(json.as_bytes()).expect("visit body")
    }

    #[test]
    fn equal_bodies_hash_equal_however_they_are_written() {
        let a = body(
            r#"{"mentee_id":"e1","visited_on":"2026-11-01","kind":"outreach","location":{"lat":36.5,"lon":114.25}}"#,
        );
        let b = body(
            r#"{ "kind": "outreach", "location": {"lon": 114.250, "lat": 36.50}, "visited_on": "2026-11-01", "mentee_id": "e1", "note": null }"#,
        );
        assert_eq!(a.hash(), b.hash());
        let c =
            body(r#"{"mentee_id":"e1","visited_on":"2026-11-01","kind":"outreach","note":"x"}"#);
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn codes_are_pseudonymous_and_short() {
        assert!(check_code("M-001").is_ok());
        assert!(check_code(&"a".repeat(32)).is_ok());
        for bad in ["", "李", "a b", "+8613800000000", &"a".repeat(33)] {
            assert!(check_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_long_note_and_a_position_off_the_globe_are_refused() {
        let long = "字".repeat(501);
        let b = body(&format!(
            r#"{{"mentee_id":"e1","visited_on":"2026-11-01","kind":"outreach","note":"{long}","location":{{"lat":91,"lon":0}}}}"#
        ));
        let e = b.check().unwrap_err();
        let fields: Vec<&str> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["note", "location.lat"]);
        let ok = "字".repeat(500);
        let b = body(&format!(
            r#"{{"mentee_id":"e1","visited_on":"2026-11-01","kind":"outreach","note":"{ok}"}}"#
        ));
        assert!(b.check().is_ok());
    }
}
