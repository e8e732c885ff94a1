//! What a village reads of its own inspections: where each stands and, once decided, the
//! decision and the checklist result. Never the evidence (answers, notes, positions, flags,
//! photos) and never to a member: the village is the one inspected.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{ChecklistRef, Inspection, InspectionStatus};
use super::routes::{InspectionDetail, InspectionSummary};
use crate::auth::{AuthUser, Role};
use crate::db::schema::{declarations, org_units};
use crate::error::{ApiError, ApiResult};

/// Whether the inspection is decided for good: only then does the village see its result.
pub fn decided(status: InspectionStatus) -> bool {
    status.is_decided()
}

/// Members read no inspection; secretaries read the village's view.
pub fn refuse_members(user: &AuthUser) -> ApiResult<()> {
    if user.role == Role::Member {
        return Err(ApiError::forbidden(
            "members do not read inspections; the village secretary reads their outcome",
        ));
    }
    Ok(())
}

/// A decision as the village reads it: no reviewer's notes on flags.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct VillageDecision {
    pub revision: i32,
    pub decision: crate::review::rules::DecisionKind,
    /// For a rejected renewal: `downgrade` or `revoke`.
    pub consequence: Option<crate::stars::engine::Consequence>,
    pub comment: String,
    pub decided_at: chrono::DateTime<chrono::Utc>,
    /// Set when an admin reopened the decision (it no longer stands).
    pub reopened_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The checklist result, shown once the inspection is approved or rejected.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct VillageResult {
    pub score: f64,
    pub passed: bool,
    pub failing_items: Vec<String>,
}

/// An inspection as its village's secretary reads it.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct VillageInspectionView {
    pub id: String,
    pub village_id: String,
    pub village_name: String,
    pub declaration_id: String,
    pub quarter: Option<String>,
    pub star_level: Option<i32>,
    pub checklist: ChecklistRef,
    pub status: InspectionStatus,
    pub revision: i32,
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Oldest first.
    pub decisions: Vec<VillageDecision>,
    /// Null until the inspection is approved or rejected.
    pub result: Option<VillageResult>,
}

impl VillageInspectionView {
    pub fn of(conn: &mut crate::db::DbConn, ins: &Inspection) -> QueryResult<Self> {
        let village_name = org_units::table
            .find(&ins.village_id)
            .select(org_units::name)
            .first(conn)
            .optional()?
            .unwrap_or_default();
        let declaration: Option<(String, i32)> = declarations::table
            .find(&ins.declaration_id)
            .select((declarations::quarter, declarations::star_level))
            .first(conn)
            .optional()?;
        let decisions = crate::review::decide::records_of(conn, &ins.id)?
            .into_iter()
            .map(|d| VillageDecision {
                revision: d.revision,
                decision: d.decision,
                consequence: d.consequence,
                comment: d.comment,
                decided_at: d.decided_at,
                reopened_at: d.reopened_at,
            })
            .collect();
        let view = ins.view_with(&[]);
        Ok(VillageInspectionView {
            id: ins.id.clone(),
            village_id: ins.village_id.clone(),
            village_name,
            declaration_id: ins.declaration_id.clone(),
            quarter: declaration.as_ref().map(|d| d.0.clone()),
            star_level: declaration.map(|d| d.1),
            checklist: view.checklist,
            status: ins.status(),
            revision: ins.revision,
            submitted_at: view.submitted_at,
            decisions,
            result: decided(ins.status()).then_some(VillageResult {
                score: view.score,
                passed: view.passed,
                failing_items: view.failing_items,
            }),
        })
    }
}

/// `GET /inspections/{id}`: the full detail, or the village's view for its secretary.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum InspectionRead {
    Full(Box<InspectionDetail>),
    Village(Box<VillageInspectionView>),
}

/// A list entry as the village reads it: no flags, and no result until decided.
pub fn summary_for_village(mut s: InspectionSummary) -> InspectionSummary {
    s.flags.clear();
    if !decided(s.status) {
        s.score = None;
        s.passed = None;
    }
    s
}
