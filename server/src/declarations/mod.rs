//! Declarations: a village declares that it meets a star level for a quarter; inspections
//! verify it. The rules (banned villages, one step at a time) come from the star engine.

pub mod precheck;
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
use crate::stars::engine::DeclarationKind;

/// Where a declaration stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclarationStatus {
    /// Waiting for its township's check (where the county asks for one): the county's
    /// inspectors do not see it yet.
    AwaitingTownship,
    /// Sent back to the village by its township, with a comment; the village may declare again.
    SentBack,
    /// Waiting for its inspection.
    Pending,
    /// An inspection of it is live.
    Inspecting,
    Approved,
    Rejected,
    /// An upgrade whose quarter's verification window closed before it was inspected.
    Expired,
    /// A renewal whose quarter's verification window closed before it was inspected: the
    /// county missed the visit, the village keeps its level.
    Unverified,
}

impl DeclarationStatus {
    pub const ALL: [DeclarationStatus; 8] = [
        DeclarationStatus::AwaitingTownship,
        DeclarationStatus::SentBack,
        DeclarationStatus::Pending,
        DeclarationStatus::Inspecting,
        DeclarationStatus::Approved,
        DeclarationStatus::Rejected,
        DeclarationStatus::Expired,
        DeclarationStatus::Unverified,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            DeclarationStatus::AwaitingTownship => "awaiting_township",
            DeclarationStatus::SentBack => "sent_back",
            DeclarationStatus::Pending => "pending",
            DeclarationStatus::Inspecting => "inspecting",
            DeclarationStatus::Approved => "approved",
            DeclarationStatus::Rejected => "rejected",
            DeclarationStatus::Expired => "expired",
            DeclarationStatus::Unverified => "unverified",
        }
    }

    pub fn parse(text: &str) -> Option<DeclarationStatus> {
        DeclarationStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// A stored status. Only `as_str` values are ever written; anything else is a damaged row,
    /// logged and treated as expired so that nothing inspects or decides it.
    pub fn stored(text: &str) -> DeclarationStatus {
        DeclarationStatus::parse(text).unwrap_or_else(|| {
            tracing::error!(status = text, "a declaration row holds an unknown status");
            DeclarationStatus::Expired
        })
    }
}

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
    /// The township user who forwarded it or sent it back.
    pub checked_by: Option<String>,
    pub checked_at: Option<NaiveDateTime>,
    /// The township's comment (required when sending back).
    pub check_comment: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct DeclarationView {
    pub id: String,
    pub village_id: String,
    /// `YYYY-Qn` in the county's time zone.
    pub quarter: String,
    pub star_level: i32,
    pub kind: DeclarationKind,
    pub status: DeclarationStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When its township forwarded it or sent it back (township pre-check).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The township's comment: why it was sent back, or a note when forwarded.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub check_comment: Option<String>,
}

crate::db::stored_as_text!(DeclarationStatus);

impl Declaration {
    pub fn status(&self) -> DeclarationStatus {
        DeclarationStatus::stored(&self.status)
    }

    pub fn view(&self) -> DeclarationView {
        DeclarationView {
            id: self.id.clone(),
            village_id: self.village_id.clone(),
            quarter: self.quarter.clone(),
            star_level: self.star_level,
            kind: DeclarationKind::parse(&self.kind).unwrap_or(DeclarationKind::Upgrade),
            status: self.status(),
            created_at: self.created_at.and_utc(),
            checked_at: self.checked_at.map(|t| t.and_utc()),
            check_comment: self.check_comment.clone(),
        }
    }

    pub fn find_scoped(conn: &mut DbConn, scope: &Scope, id: &str) -> ApiResult<Declaration> {
        crate::db::on_backend!(conn, |c| {
            let q = declarations::table
                .filter(declarations::id.eq(id))
                .into_boxed();
            scoped!(q, declarations, scope)
                .select(Declaration::as_select())
                .first(c)
                .optional()
        })
        .or_not_found("declaration")
    }

    /// Moves a pending declaration to `inspecting`; false when it is no longer pending (another
    /// request's inspection took it, or its township or the window closed it meanwhile).
    pub fn claim_for_inspection(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
        let claim = ClaimPending {
            id,
            at: crate::clock::now(),
        };
        let claimed = crate::db::on_backend!(conn, |c| claim.execute(c))?;
        Ok(claimed == 1)
    }

    pub fn set_status(
        conn: &mut DbConn,
        id: &str,
        status: DeclarationStatus,
    ) -> QueryResult<usize> {
        diesel::update(declarations::table.find(id))
            .set((
                declarations::status.eq(status),
                declarations::updated_at.eq(crate::clock::now()),
            ))
            .execute(conn)
    }
}

/// `UPDATE declarations SET status = 'inspecting', updated_at = ? WHERE id = ? AND status =
/// 'pending'`, the claim of every submitted inspection. diesel prepares an `UPDATE` built with its
/// query builder anew each time it runs (it never caches one); this statement has one shape, so
/// each connection prepares it once and binds its values after (docs/performance.md).
struct ClaimPending<'a> {
    id: &'a str,
    at: NaiveDateTime,
}

impl diesel::query_builder::QueryId for ClaimPending<'_> {
    type QueryId = ClaimPending<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for ClaimPending<'_>
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
    NaiveDateTime: diesel::serialize::ToSql<diesel::sql_types::Timestamp, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Text, Timestamp};
        out.push_sql("UPDATE declarations SET status = ");
        out.push_bind_param::<Text, str>(DeclarationStatus::Inspecting.as_str())?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, str>(self.id)?;
        out.push_sql(" AND status = ");
        out.push_bind_param::<Text, str>(DeclarationStatus::Pending.as_str())?;
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for ClaimPending<'_> {}
