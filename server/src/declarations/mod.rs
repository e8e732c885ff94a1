//! Declarations: a village declares that it meets a star level for a quarter; inspections
//! verify it. The rules (banned villages, one step at a time) come from the star engine.

pub mod renewals;
pub mod routes;
pub mod window;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::declarations;
use crate::db::DbConn;
use crate::error::{ApiResult, OrNotFound};
use crate::scope::Scope;
use crate::scoped;

pub const PENDING: &str = "pending";
pub const INSPECTING: &str = "inspecting";
pub const APPROVED: &str = "approved";
pub const REJECTED: &str = "rejected";
/// An upgrade whose quarter's verification window closed before it was inspected.
pub const EXPIRED: &str = "expired";
/// A renewal whose quarter's verification window closed before it was inspected: the county
/// missed the visit, the village keeps its level.
pub const UNVERIFIED: &str = "unverified";

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = declarations)]
pub struct Declaration {
    pub id: String,
    pub village_id: String,
    pub township_id: Option<String>,
    pub county_id: String,
    pub quarter: String,
    pub star_level: i32,
    pub kind: String,
    pub status: String,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The day its quarter's closed window expired it (`expired`, `unverified`).
    pub closed_on: Option<chrono::NaiveDate>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct DeclarationView {
    pub id: String,
    pub village_id: String,
    /// `YYYY-Qn` in the county's time zone.
    pub quarter: String,
    pub star_level: i32,
    /// `upgrade` or `renewal`.
    pub kind: String,
    /// `pending`, `inspecting`, `approved`, `rejected`, `expired` (an upgrade whose quarter's
    /// verification window closed uninspected) or `unverified` (a renewal likewise).
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Declaration {
    pub fn view(&self) -> DeclarationView {
        DeclarationView {
            id: self.id.clone(),
            village_id: self.village_id.clone(),
            quarter: self.quarter.clone(),
            star_level: self.star_level,
            kind: self.kind.clone(),
            status: self.status.clone(),
            created_at: self.created_at.and_utc(),
        }
    }

    pub fn find_scoped(conn: &mut DbConn, scope: &Scope, id: &str) -> ApiResult<Declaration> {
        let q = declarations::table
            .filter(declarations::id.eq(id))
            .into_boxed();
        scoped!(q, declarations, scope)
            .select(Declaration::as_select())
            .first(conn)
            .optional()
            .or_not_found("declaration")
    }

    pub fn set_status(conn: &mut DbConn, id: &str, status: &str) -> QueryResult<usize> {
        diesel::update(declarations::table.find(id))
            .set((
                declarations::status.eq(status),
                declarations::updated_at.eq(crate::now()),
            ))
            .execute(conn)
    }
}
