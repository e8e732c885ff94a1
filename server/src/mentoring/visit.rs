//! Visits: the idempotent `PUT` of a visit as the phone records it (body, canonical hash,
//! checks), the row and its view, and the visit kinds as stored.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::coverage::VisitKind;
use super::mentee::Mentee;
use super::model::{chars, own_member_id};
use crate::auth::{AuthUser, Role};
use crate::db::put::{lost_race, Put};
use crate::db::schema::visits;
use crate::db::{is_unique_violation, DbConn};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::geo::GeoPoint;
use crate::i18n::Rule;
use crate::{audit, clock::now, scoped};

pub const NOTE_MAX_CHARS: usize = 500;

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
