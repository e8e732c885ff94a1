//! The inspection row, its wire body and views, and the rules that turn a PUT body into a
//! stored revision: validation against the checklist version, scoring, and flags.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::flags::{self, Flag, Severity};
use crate::db::schema::{inspections, photos};
use crate::db::DbConn;
use crate::error::{ApiResult, FieldError, OrNotFound};
use crate::geo::GeoPoint;
use crate::i18n::Rule;
use crate::scope::Scope;
use crate::scoped;

/// The longest visit: `started_at` at most this long before `submitted_at`.
pub const MAX_VISIT_HOURS: i64 = 24;

/// Where an inspection stands: stored, sent and filtered on under the same snake_case name.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum InspectionStatus {
    /// Answers received, photos still arriving.
    AwaitingPhotos,
    /// Complete, waiting for a reviewer.
    Submitted,
    /// Approved by one verifying body, waiting for the other's approval (joint approval).
    AwaitingSecondApproval,
    Approved,
    Rejected,
    /// Sent back to the inspector with a comment; the next PUT is the next revision.
    Returned,
    /// Withdrawn before it was complete (by its inspector or an admin, or when its quarter's
    /// window closed); kept with its photos, no longer holding its declaration.
    Cancelled,
}

impl InspectionStatus {
    pub const ALL: [InspectionStatus; 7] = [
        Self::AwaitingPhotos,
        Self::Submitted,
        Self::AwaitingSecondApproval,
        Self::Approved,
        Self::Rejected,
        Self::Returned,
        Self::Cancelled,
    ];
    /// Waiting for a reviewer's decision: submitted, or approved by one body of two.
    pub const AWAITING_REVIEW: [InspectionStatus; 2] =
        [Self::Submitted, Self::AwaitingSecondApproval];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPhotos => "awaiting_photos",
            Self::Submitted => "submitted",
            Self::AwaitingSecondApproval => "awaiting_second_approval",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Returned => "returned",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A stored status. Only `as_str` values are ever written; anything else is a damaged row,
    /// logged and treated as withdrawn so that nothing acts on it.
    pub fn stored(text: &str) -> Self {
        Self::parse(text).unwrap_or_else(|| {
            tracing::error!(status = text, "an inspection row holds an unknown status");
            Self::Cancelled
        })
    }

    pub fn awaits_review(self) -> bool {
        matches!(self, Self::Submitted | Self::AwaitingSecondApproval)
    }

    /// Approved or rejected: a final decision (which only a reopening undoes).
    pub fn is_decided(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected)
    }
}

// Queries compare and set the column with the enum itself (`status.eq(InspectionStatus::Submitted)`).
crate::db::stored_as_text!(InspectionStatus);

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChecklistRef {
    pub code: String,
    pub version: i32,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy in metres, as the phone reports it.
    pub accuracy_m: f64,
    pub captured_at: Option<DateTime<Utc>>,
    /// The phone's own mock-location signal.
    #[serde(default)]
    pub mock: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ManifestPhoto {
    /// A client-chosen UUID; the photo's bytes follow at `PUT …/photos/{id}`.
    pub id: String,
    /// The checklist item the photo is evidence for.
    pub item: String,
    /// Lowercase hex SHA-256 of the bytes that will be uploaded.
    pub sha256: String,
}

/// What the phone sends (`PUT /api/v1/inspections/{id}`).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InspectionBody {
    pub declaration_id: String,
    pub checklist: ChecklistRef,
    pub started_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    #[serde(default)]
    pub location: Option<LocationBody>,
    /// The phone's UTC offset, used to read EXIF capture times (which carry no zone).
    #[serde(default)]
    pub utc_offset_minutes: Option<i32>,
    #[schema(value_type = Object)]
    pub answers: serde_json::Map<String, Value>,
    #[serde(default)]
    pub photos: Vec<ManifestPhoto>,
}

/// A body's idempotency key and its stored text, computed once outside the write transaction.
pub struct Encoded {
    pub digest: String,
    pub json: String,
}

impl InspectionBody {
    /// A hash of the parsed body that ignores key order and whitespace: the idempotency key.
    pub fn digest(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(answers) = v.get_mut("answers") {
            // serde_json's map is already sorted unless `preserve_order` is on somewhere.
            let sorted = answers.as_object().is_some_and(|m| m.keys().is_sorted());
            if !sorted {
                let sorted: BTreeMap<String, Value> = answers
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                *answers = serde_json::to_value(sorted).unwrap_or(Value::Null);
            }
        }
        // The same bytes as `v.to_string()`, hashed as they are written.
        let mut hasher = Sha256::new();
        if serde_json::to_writer(&mut hasher, &v).is_err() {
            return hex::encode(Sha256::digest(v.to_string().as_bytes()));
        }
        hex::encode(hasher.finalize())
    }

    pub fn encode(&self) -> ApiResult<Encoded> {
        Ok(Encoded {
            digest: self.digest(),
            json: serde_json::to_string(self).map_err(|_| crate::error::ApiError::internal())?,
        })
    }

    /// Shape checks that need no database: ids, ranges, hashes, times.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(l) = &self.location {
            GeoPoint::new(l.lat, l.lon).check("location", &mut errors);
            if !(0.0..=100_000.0).contains(&l.accuracy_m) {
                errors.push(FieldError::new(
                    "location.accuracy_m",
                    Rule::BetweenMetres.with("min", 0).with("max", 100_000),
                ));
            }
        }
        // Both times come from the phone's one clock: a wrong clock moves them together, so a
        // visit longer than a day is not a clock problem but a backdated start.
        if self.submitted_at - self.started_at > chrono::TimeDelta::hours(MAX_VISIT_HOURS) {
            errors.push(FieldError::new(
                "started_at",
                Rule::VisitTooLong
                    .with("hours", MAX_VISIT_HOURS)
                    .with("started", self.started_at.to_rfc3339())
                    .with("submitted", self.submitted_at.to_rfc3339()),
            ));
        }
        if let Some(o) = self.utc_offset_minutes {
            if !(-14 * 60..=14 * 60).contains(&o) {
                errors.push(FieldError::new(
                    "utc_offset_minutes",
                    Rule::Between.with("min", -840).with("max", 840),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, p) in self.photos.iter().enumerate() {
            if uuid::Uuid::parse_str(&p.id).is_err() {
                errors.push(FieldError::new(format!("photos[{i}].id"), Rule::NotUuid));
            } else if !seen.insert(p.id.to_ascii_lowercase()) {
                errors.push(FieldError::new(
                    format!("photos[{i}].id"),
                    Rule::DuplicateInManifest,
                ));
            }
            if p.sha256.len() != 64
                || !p
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                errors.push(FieldError::new(
                    format!("photos[{i}].sha256"),
                    Rule::Sha256Hex,
                ));
            }
        }
        use crate::checklist::template::{MAX_PHOTOS_PER_INSPECTION, MAX_PHOTOS_PER_ITEM};
        if self.photos.len() > MAX_PHOTOS_PER_INSPECTION {
            errors.push(FieldError::new(
                "photos",
                Rule::PhotosPerInspection
                    .with("max", MAX_PHOTOS_PER_INSPECTION)
                    .with("got", self.photos.len()),
            ));
        }
        let mut per_item: std::collections::HashMap<&str, usize> = Default::default();
        for (i, p) in self.photos.iter().enumerate() {
            let n = per_item.entry(p.item.as_str()).or_default();
            *n += 1;
            if *n == MAX_PHOTOS_PER_ITEM + 1 {
                errors.push(FieldError::new(
                    format!("photos[{i}].item"),
                    Rule::PhotosPerItem.with("max", MAX_PHOTOS_PER_ITEM),
                ));
            }
        }
        errors
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = inspections)]
pub struct Inspection {
    pub id: String,
    pub declaration_id: String,
    pub village_id: String,
    pub township_id: Option<String>,
    pub county_id: String,
    pub inspector_id: String,
    pub checklist_code: String,
    pub checklist_version: i32,
    pub status: String,
    pub revision: i32,
    pub body_hash: String,
    pub body: String,
    pub evaluation: String,
    pub score: f64,
    pub passed: bool,
    pub flags: String,
    pub flag_severity: i32,
    pub started_at: NaiveDateTime,
    pub client_submitted_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
    pub submitted_at: Option<NaiveDateTime>,
    pub claimed_by: Option<String>,
    pub claim_expires_at: Option<NaiveDateTime>,
    pub decided_at: Option<NaiveDateTime>,
    pub return_comment: Option<String>,
    pub updated_at: NaiveDateTime,
    /// In `awaiting_second_approval`: the verifying body whose approval is missing.
    pub awaiting_body: Option<String>,
}

/// An inspection without its answers, for lists, the review queue and reports: the body and
/// evaluation are most of a row (~5.6 KB at 30 items) and a page never shows them.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = inspections)]
pub struct InspectionHead {
    pub id: String,
    pub declaration_id: String,
    pub village_id: String,
    pub township_id: Option<String>,
    pub inspector_id: String,
    pub status: String,
    pub revision: i32,
    pub score: f64,
    pub passed: bool,
    pub flags: String,
    pub flag_severity: i32,
    pub submitted_at: Option<NaiveDateTime>,
    pub claimed_by: Option<String>,
    pub claim_expires_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub awaiting_body: Option<String>,
}

impl InspectionHead {
    pub fn status(&self) -> InspectionStatus {
        InspectionStatus::stored(&self.status)
    }

    /// The inspection's own flags and its current photos' flags, worst first.
    pub fn all_flags(&self, photos: &[PhotoRow]) -> Vec<Flag> {
        merged_flags(&self.flags, photos)
    }
}

/// Stored flags, each detail within its bound (rows written before the bound may hold more).
pub fn parse_flags(stored: &str) -> Vec<Flag> {
    serde_json::from_str::<Vec<Flag>>(stored)
        .unwrap_or_default()
        .into_iter()
        .map(Flag::bounded)
        .collect()
}

fn merged_flags(own: &str, photos: &[PhotoRow]) -> Vec<Flag> {
    let mut all: Vec<Flag> = parse_flags(own);
    for p in photos {
        all.extend(p.flags());
    }
    flags::sort_worst_first(&mut all);
    all
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = photos)]
pub struct PhotoRow {
    pub id: String,
    pub inspection_id: String,
    pub county_id: String,
    pub township_id: Option<String>,
    pub village_id: String,
    pub revision: i32,
    pub item: String,
    pub expected_sha256: String,
    pub received: bool,
    pub format: Option<String>,
    pub bytes: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub taken_at: Option<NaiveDateTime>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub exif: Option<String>,
    pub phash: Option<i64>,
    pub flags: String,
    pub received_at: Option<NaiveDateTime>,
    pub downsized_from: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct PhotoView {
    pub id: String,
    pub item: String,
    pub received: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    /// When the photo was taken (from EXIF, in UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<DateTime<Utc>>,
    /// Where the photo was taken (from EXIF GPS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// When the phone downsized the photo before sending it: the original's size, `4032x3024`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downsized_from: Option<String>,
}

impl PhotoRow {
    pub fn view(&self) -> PhotoView {
        PhotoView {
            id: self.id.clone(),
            item: self.item.clone(),
            received: self.received,
            width: self.width,
            height: self.height,
            taken_at: self.taken_at.map(|t| t.and_utc()),
            lat: self.lat,
            lon: self.lon,
            downsized_from: self.downsized_from.clone(),
        }
    }

    pub fn flags(&self) -> Vec<Flag> {
        parse_flags(&self.flags)
    }
}

/// The stored inspection as the API shows it.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct InspectionView {
    pub id: String,
    pub declaration_id: String,
    pub village_id: String,
    pub inspector_id: String,
    pub checklist: ChecklistRef,
    pub status: InspectionStatus,
    pub revision: i32,
    /// Weighted score, 0–100.
    pub score: f64,
    pub passed: bool,
    pub failing_items: Vec<String>,
    /// Integrity flags, worst first: `{code, severity, item?, photo_id?, detail}`.
    #[schema(value_type = Vec<Object>)]
    pub flags: Vec<Flag>,
    pub photos: Vec<PhotoView>,
    #[schema(value_type = Object)]
    pub answers: Value,
    /// Per-item results, including values the server computed.
    #[schema(value_type = Vec<Object>)]
    pub items: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationBody>,
    pub started_at: DateTime<Utc>,
    /// When the phone says it finished.
    pub client_submitted_at: DateTime<Utc>,
    /// When the server had the whole submission (answers and every photo).
    pub submitted_at: Option<DateTime<Utc>>,
    /// The reviewer's comment when the inspection was returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_comment: Option<String>,
}

pub fn severity_rank(s: Severity) -> i32 {
    match s {
        Severity::Info => 1,
        Severity::Warning => 2,
        Severity::Alert => 3,
    }
}

impl Inspection {
    pub fn status(&self) -> InspectionStatus {
        InspectionStatus::stored(&self.status)
    }

    pub fn find_scoped(conn: &mut DbConn, scope: &Scope, id: &str) -> ApiResult<Inspection> {
        let q = inspections::table
            .filter(inspections::id.eq(id))
            .into_boxed();
        scoped!(q, inspections, scope)
            .select(Inspection::as_select())
            .first(conn)
            .optional()
            .or_not_found("inspection")
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Inspection>> {
        crate::db::on_backend!(conn, |c| inspections::table
            .find(id)
            .select(Inspection::as_select())
            .first(c)
            .optional())
    }

    pub fn body(&self) -> Option<InspectionBody> {
        serde_json::from_str(&self.body).ok()
    }

    pub fn photos(&self, conn: &mut DbConn) -> QueryResult<Vec<PhotoRow>> {
        photos::table
            .filter(photos::inspection_id.eq(&self.id))
            .filter(photos::revision.eq(self.revision))
            .select(PhotoRow::as_select())
            .order(photos::id.asc())
            .load(conn)
    }

    /// The inspection's own flags and its current photos' flags, worst first.
    pub fn all_flags(&self, photos: &[PhotoRow]) -> Vec<Flag> {
        merged_flags(&self.flags, photos)
    }

    pub fn view(&self, conn: &mut DbConn) -> QueryResult<InspectionView> {
        let photos = self.photos(conn)?;
        Ok(self.view_with(&photos))
    }

    pub fn view_with(&self, photos: &[PhotoRow]) -> InspectionView {
        let body = self.body();
        let evaluation: Value = serde_json::from_str(&self.evaluation).unwrap_or(Value::Null);
        InspectionView {
            id: self.id.clone(),
            declaration_id: self.declaration_id.clone(),
            village_id: self.village_id.clone(),
            inspector_id: self.inspector_id.clone(),
            checklist: ChecklistRef {
                code: self.checklist_code.clone(),
                version: self.checklist_version,
            },
            status: self.status(),
            revision: self.revision,
            score: self.score,
            passed: self.passed,
            failing_items: evaluation
                .get("failing_items")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default(),
            flags: self.all_flags(photos),
            photos: photos.iter().map(PhotoRow::view).collect(),
            answers: body
                .as_ref()
                .map(|b| Value::Object(b.answers.clone()))
                .unwrap_or(Value::Null),
            items: evaluation
                .get("items")
                .cloned()
                .unwrap_or(Value::Array(vec![])),
            location: body.and_then(|b| b.location),
            started_at: self.started_at.and_utc(),
            client_submitted_at: self.client_submitted_at.and_utc(),
            submitted_at: self.submitted_at.map(|t| t.and_utc()),
            return_comment: self.return_comment.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InspectionStatus;

    #[test]
    fn each_status_is_stored_and_sent_under_one_name() {
        for s in InspectionStatus::ALL {
            assert_eq!(InspectionStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(InspectionStatus::stored(s.as_str()), s);
        }
        assert_eq!(InspectionStatus::parse("Submitted"), None);
        // A damaged row is treated as withdrawn: nothing reviews or decides it.
        assert_eq!(
            InspectionStatus::stored("bogus"),
            InspectionStatus::Cancelled
        );
    }

    #[test]
    fn only_submitted_and_half_approved_inspections_await_review() {
        let waiting: Vec<_> = InspectionStatus::ALL
            .into_iter()
            .filter(|s| s.awaits_review())
            .collect();
        assert_eq!(waiting, InspectionStatus::AWAITING_REVIEW);
        let decided: Vec<_> = InspectionStatus::ALL
            .into_iter()
            .filter(|s| s.is_decided())
            .collect();
        assert_eq!(
            decided,
            [InspectionStatus::Approved, InspectionStatus::Rejected]
        );
    }
}
