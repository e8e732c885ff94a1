//! Members, mentees and visits: what the three share (who manages them, what "her own" means,
//! the row locks that keep the rules true under concurrent writes), and each entity's rows,
//! views, parsed inputs, rules and scoped queries, re-exported from its own file
//! (`member.rs`, `mentee.rs`, `visit.rs`).

use diesel::prelude::*;

use crate::auth::{AuthUser, Role};
use crate::db::schema::{members, users};
use crate::db::DbConn;

pub use super::member::{
    double_option, update_member, Member, MemberChange, MemberView, NewMember, NAME_MAX_CHARS,
};
pub use super::mentee::{
    check_code, check_display_name, update_mentee, Mentee, MenteeChange, MenteeView, NewMentee,
    CODE_MAX_LEN, DISPLAY_NAME_MAX_CHARS, MAX_MENTEES_PER_MEMBER,
};
pub use super::visit::{
    kind_str, parse_kind, record_visit, Location, Visit, VisitBody, VisitView, NOTE_MAX_CHARS,
};

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
pub(super) fn lock_member(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(members::table.find(id))
        .set(members::active.eq(members::active))
        .execute(conn)
}

pub(super) fn lock_user(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::active.eq(users::active))
        .execute(conn)
}

pub(super) fn chars(s: &str) -> usize {
    s.chars().count()
}
