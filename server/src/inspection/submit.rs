//! Storing an inspection: the idempotent PUT (create, replay, conflict, next revision) and the
//! moment it becomes `submitted`. Every step runs inside the caller's write transaction.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::json;

use super::flags::{self, Flag};
use super::model::*;
use crate::auth::{Actor, AuthUser};
use crate::checklist::answers::{self, ComputedValues, Evaluation};
use crate::checklist::store::ChecklistVersion;
use crate::checklist::versions;
use crate::db::put::{lost_race, Put};
use crate::db::schema::{inspection_revisions, inspections, photos};
use crate::db::{is_unique_violation, DbConn};
use crate::declarations::window::Window;
use crate::declarations::{Declaration, DeclarationStatus};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::i18n::Rule;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::webhooks::outbox;
use crate::{audit, clock::now};

/// The stored inspection and its current photos; the caller builds the view after the
/// transaction, so that the writer is not held for it.
pub struct Stored {
    pub inspection: Inspection,
    pub photos: Vec<PhotoRow>,
}

impl Stored {
    fn load(conn: &mut DbConn, id: &str) -> ApiResult<Stored> {
        let inspection = Inspection::find(conn, id)?.ok_or_else(|| ApiError::internal())?;
        let photos = inspection.photos(conn)?;
        Ok(Stored { inspection, photos })
    }

    pub fn view(&self) -> InspectionView {
        self.inspection.view_with(&self.photos)
    }
}

/// The signal that a concurrent request won an insert race (or claimed the row first): the
/// caller runs the PUT again in a new transaction, where it finds the winner's row.
fn retry() -> ApiError {
    lost_race("this inspection")
}

struct Prepared {
    village: OrgUnit,
    evaluation: Evaluation,
    flags: Vec<Flag>,
}

pub fn village_facts(v: &OrgUnit) -> flags::Village {
    flags::Village {
        lat: v.lat.unwrap_or_default(),
        lon: v.lon.unwrap_or_default(),
        radius_m: v.radius_m.unwrap_or(crate::org::model::DEFAULT_RADIUS_M),
    }
}

pub fn device_location(b: &InspectionBody) -> Option<flags::DeviceLocation> {
    b.location.as_ref().map(|l| flags::DeviceLocation {
        lat: l.lat,
        lon: l.lon,
        accuracy_m: l.accuracy_m,
        captured_at: l.captured_at,
        mock: l.mock,
    })
}

pub fn visit_facts(
    b: &InspectionBody,
    received_at: DateTime<Utc>,
    item_count: usize,
) -> flags::Visit {
    flags::Visit {
        started_at: b.started_at,
        submitted_at: b.submitted_at,
        received_at,
        utc_offset_minutes: b.utc_offset_minutes,
        item_count,
    }
}

/// Checks the body against its declaration and checklist version, scores it and flags it.
fn prepare(
    conn: &mut DbConn,
    user: &AuthUser,
    body: &InspectionBody,
    declaration: &Declaration,
    village: OrgUnit,
    received_at: DateTime<Utc>,
) -> ApiResult<Prepared> {
    let (checklist, published) =
        ChecklistVersion::find_with_published(conn, &body.checklist.code, body.checklist.version)?;
    let checklist = checklist
        .filter(|c| c.is_published() && c.visible_to(&user.scope.county_id))
        .ok_or_else(|| {
            ApiError::field(
                "checklist",
                Rule::NoSuch.with("what", "published checklist version"),
            )
        })?;
    if checklist.star_level != declaration.star_level {
        return Err(ApiError::field(
            "checklist",
            Rule::ChecklistLevel
                .with("version_level", checklist.star_level)
                .with("level", declaration.star_level),
        ));
    }
    // The version that was current for its level when the inspection started, or a later
    // one: an older one is refused, naming the current version.
    versions::check_version(
        &checklist.code,
        checklist.version,
        &published,
        body.started_at,
    )
    .map_err(|message| ApiError::field("checklist", message))?;
    let template = checklist.template_shared()?;
    let quarter = quarter_of(declaration)?;
    let coverage = crate::mentoring::village_coverage(conn, &village.id, quarter)?;
    let mut computed = ComputedValues::new();
    computed.insert("mentoring.coverage".into(), coverage.computed());
    let mut errors = Vec::new();
    let evaluation = match answers::validate_answers(&template, &body.answers, &computed) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    let items: Vec<&str> = body.photos.iter().map(|p| p.item.as_str()).collect();
    errors.extend(answers::validate_manifest(&template, &body.answers, &items));
    match evaluation {
        Some(evaluation) if errors.is_empty() => {
            let flags = flags::inspection_flags(
                &village_facts(&village),
                device_location(body).as_ref(),
                &visit_facts(body, received_at, template.items().count()),
            );
            Ok(Prepared {
                village,
                evaluation,
                flags,
            })
        }
        _ => Err(ApiError::validation(errors)),
    }
}

fn evaluation_json(e: &Evaluation) -> String {
    json!({"score": e.score, "pass_score": e.pass_score, "passed": e.passed, "failing_items": e.failing_items, "items": e.items}).to_string()
}

/// The columns each revision sets: the first insert and every resubmission write the same.
#[derive(AsChangeset)]
#[diesel(table_name = inspections, treat_none_as_null = true)]
struct RevisionFields {
    checklist_code: String,
    checklist_version: i32,
    status: String,
    revision: i32,
    body_hash: String,
    body: String,
    evaluation: String,
    score: f64,
    passed: bool,
    flags: String,
    flag_severity: i32,
    started_at: chrono::NaiveDateTime,
    client_submitted_at: chrono::NaiveDateTime,
    received_at: chrono::NaiveDateTime,
    submitted_at: Option<chrono::NaiveDateTime>,
    updated_at: chrono::NaiveDateTime,
}

impl RevisionFields {
    /// A revision without photos is complete (submitted) at once.
    fn new(
        body: &InspectionBody,
        encoded: &Encoded,
        prepared: &Prepared,
        revision: i32,
        received_at: DateTime<Utc>,
    ) -> ApiResult<Self> {
        let t = now();
        let complete = body.photos.is_empty();
        Ok(RevisionFields {
            checklist_code: body.checklist.code.clone(),
            checklist_version: body.checklist.version,
            status: if complete {
                InspectionStatus::Submitted
            } else {
                InspectionStatus::AwaitingPhotos
            }
            .to_string(),
            revision,
            body_hash: encoded.digest.clone(),
            body: encoded.json.clone(),
            evaluation: evaluation_json(&prepared.evaluation),
            score: prepared.evaluation.score,
            passed: prepared.evaluation.passed,
            flags: super::flags::to_stored(&prepared.flags),
            flag_severity: prepared
                .flags
                .iter()
                .map(|f| severity_rank(f.severity))
                .max()
                .unwrap_or(0),
            started_at: body.started_at.naive_utc(),
            client_submitted_at: body.submitted_at.naive_utc(),
            received_at: received_at.naive_utc(),
            submitted_at: complete.then_some(t),
            updated_at: t,
        })
    }
}

/// The declaration an inspection verifies, with its village and its quarter's verification
/// window (the county's, or the default one).
struct Verified {
    declaration: Declaration,
    village: OrgUnit,
    window: Window,
}

/// The body's declaration in the caller's scope, its village and its window, in one query.
fn declaration_for(
    conn: &mut DbConn,
    user: &AuthUser,
    body: &InspectionBody,
) -> ApiResult<Verified> {
    use crate::db::schema::{declarations as d, org_units, quarter_windows as w};
    type Row = (Declaration, OrgUnit, Option<(NaiveDate, NaiveDate)>);
    let row: Option<Row> = crate::db::on_backend!(conn, |c| {
        let q = d::table
            .inner_join(org_units::table.on(org_units::id.eq(d::village_id)))
            .left_join(w::table.on(w::county_id.eq(d::county_id).and(w::quarter.eq(d::quarter))))
            .filter(d::id.eq(&body.declaration_id))
            .into_boxed();
        crate::scoped!(q, d, &user.scope)
            .select((
                Declaration::as_select(),
                OrgUnit::as_select(),
                (w::opens_on, w::closes_on).nullable(),
            ))
            .first(c)
            .optional()
    })?;
    let (declaration, village, window) = row.ok_or_else(|| {
        ApiError::field(
            "declaration_id",
            Rule::NotInScope.with("what", "declaration"),
        )
    })?;
    let (window, _) = Window::stored_or_default(window, quarter_of(&declaration)?);
    Ok(Verified {
        declaration,
        village,
        window,
    })
}

/// What a body of inspection `inspection_id` is checked against once its declaration is
/// found: the window, the checklist and the answers (scored and flagged), the photo ids.
fn check_body(
    conn: &mut DbConn,
    user: &AuthUser,
    body: &InspectionBody,
    verified: Verified,
    inspection_id: &str,
    received_at: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> ApiResult<(Declaration, Prepared, Vec<PhotoRow>)> {
    check_window(&verified, body.started_at, tz)?;
    let Verified {
        declaration,
        village,
        ..
    } = verified;
    let prepared = prepare(conn, user, body, &declaration, village, received_at)?;
    let existing_photos = check_photo_ids(conn, inspection_id, body)?;
    Ok((declaration, prepared, existing_photos))
}

fn quarter_of(declaration: &Declaration) -> ApiResult<Quarter> {
    Quarter::parse(&declaration.quarter).map_err(|_| ApiError::internal())
}

/// An inspection verifies its declaration within the quarter's verification window: the
/// visit starts (county date) on a day of the window.
fn check_window(
    verified: &Verified,
    started_at: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> ApiResult<()> {
    let quarter = quarter_of(&verified.declaration)?;
    let window = verified.window;
    let started_on = crate::clock::day_at(started_at, tz);
    if window.contains(started_on) {
        return Ok(());
    }
    let message = Rule::OutsideWindow
        .with("quarter", quarter.to_string())
        .with("opens_on", window.opens_on.to_string())
        .with("closes_on", window.closes_on.to_string())
        .with("started_on", started_on.to_string());
    Err(
        ApiError::unprocessable("inspection.outside_window", message.clone())
            .with_errors(vec![FieldError::new("started_at", message)]),
    )
}

/// The declaration's live inspection (not returned-and-replaced, not cancelled) and its
/// inspector's username, to name what blocks a second one.
fn live_inspection(
    conn: &mut DbConn,
    declaration_id: &str,
) -> QueryResult<Option<(String, String)>> {
    use crate::db::schema::users;
    inspections::table
        .inner_join(users::table.on(users::id.eq(inspections::inspector_id)))
        .filter(inspections::declaration_id.eq(declaration_id))
        .filter(inspections::status.ne(InspectionStatus::Cancelled))
        .order(inspections::received_at.desc())
        .select((inspections::id, users::username))
        .first(conn)
        .optional()
}

/// `encoded` is `body.encode()`, computed before the write transaction begins.
pub fn put(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
    body: &InspectionBody,
    encoded: &Encoded,
    received_at: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> ApiResult<Put<Stored>> {
    let shape = body.check();
    if !shape.is_empty() {
        return Err(ApiError::validation(shape));
    }
    let digest = encoded.digest.clone();
    if let Some(existing) = Inspection::find(conn, id)? {
        let placement = crate::scope::Placement {
            county_id: existing.county_id.clone(),
            township_id: existing.township_id.clone(),
            village_id: Some(existing.village_id.clone()),
        };
        if !user.scope.contains(&placement) {
            return Err(ApiError::not_found("inspection"));
        }
        if existing.body_hash == digest {
            let photos = existing.photos(conn)?;
            return Ok(Put::Replayed(Stored {
                inspection: existing,
                photos,
            }));
        }
        if existing.status() != InspectionStatus::Returned {
            return Err(ApiError::conflict(
                "inspection_conflict",
                "this inspection id already holds a different body; a new inspection needs a new id",
            ));
        }
        if existing.inspector_id != user.id {
            return Err(ApiError::forbidden(
                "only the inspector who made it resubmits a returned inspection",
            ));
        }
        if body.declaration_id != existing.declaration_id {
            return Err(ApiError::field("declaration_id", Rule::SameDeclaration));
        }
        return revise(conn, user, existing, body, encoded, received_at, tz).map(Put::Created);
    }
    create(conn, user, id, body, encoded, received_at, tz).map(Put::Created)
}

fn check_photo_ids(
    conn: &mut DbConn,
    inspection_id: &str,
    body: &InspectionBody,
) -> ApiResult<Vec<PhotoRow>> {
    if body.photos.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = body
        .photos
        .iter()
        .map(|p| p.id.to_ascii_lowercase())
        .collect();
    let existing: Vec<PhotoRow> = photos::table
        .filter(photos::id.eq_any(&ids))
        .select(PhotoRow::as_select())
        .load(conn)?;
    let mut errors = Vec::new();
    for (i, p) in body.photos.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| e.id == p.id.to_ascii_lowercase()) {
            if e.inspection_id != inspection_id || e.expected_sha256 != p.sha256 {
                errors.push(FieldError::new(
                    format!("photos[{i}].id"),
                    Rule::PhotoIdUsed,
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(existing)
    } else {
        Err(ApiError::validation(errors))
    }
}

fn insert_photos(
    conn: &mut DbConn,
    ins: &Inspection,
    body: &InspectionBody,
    existing: &[PhotoRow],
) -> ApiResult<()> {
    for p in &body.photos {
        let id = p.id.to_ascii_lowercase();
        if existing.iter().any(|e| e.id == id) {
            diesel::update(photos::table.find(&id))
                .set((photos::revision.eq(ins.revision), photos::item.eq(&p.item)))
                .execute(conn)?;
            continue;
        }
        let res = diesel::insert_into(photos::table)
            .values((
                photos::id.eq(&id),
                photos::inspection_id.eq(&ins.id),
                photos::county_id.eq(&ins.county_id),
                photos::township_id.eq(&ins.township_id),
                photos::village_id.eq(&ins.village_id),
                photos::revision.eq(ins.revision),
                photos::item.eq(&p.item),
                photos::expected_sha256.eq(&p.sha256),
                photos::received.eq(false),
                photos::flags.eq("[]"),
            ))
            .execute(conn);
        match res {
            Err(e) if is_unique_violation(&e) => return Err(retry()),
            other => other?,
        };
    }
    Ok(())
}

fn create(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
    body: &InspectionBody,
    encoded: &Encoded,
    received_at: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> ApiResult<Stored> {
    let verified = declaration_for(conn, user, body)?;
    let declaration = &verified.declaration;
    match declaration.status() {
        DeclarationStatus::Pending => {}
        // Under READ COMMITTED a concurrent PUT of this id may have committed since our first
        // look: then this is a replay, which the retry answers.
        DeclarationStatus::Inspecting if Inspection::find(conn, id)?.is_some() => return Err(retry()),
        DeclarationStatus::Inspecting => {
            let live = live_inspection(conn, &declaration.id)?;
            let (live_id, inspector) = live.unwrap_or_default();
            return Err(ApiError::conflict(
                "declaration_inspected",
                format!(
                    "this declaration already has a live inspection ({live_id}, by {inspector}); \
                     it can be cancelled by its inspector or a county admin"
                ),
            )
            .with("live_inspection_id", live_id)
            .with("live_inspector", inspector));
        }
        DeclarationStatus::AwaitingTownship => {
            return Err(ApiError::conflict(
                "declaration.awaiting_township",
                "this declaration waits for its township's check; the county inspects it once forwarded",
            ))
        }
        DeclarationStatus::SentBack => {
            return Err(ApiError::conflict(
                "declaration_closed",
                "this declaration was sent back by its township",
            ))
        }
        DeclarationStatus::Expired | DeclarationStatus::Unverified => {
            return Err(ApiError::conflict(
                "declaration_closed",
                format!(
                    "this declaration is {}: its quarter's verification window has closed",
                    declaration.status
                ),
            ))
        }
        DeclarationStatus::Approved | DeclarationStatus::Rejected => {
            return Err(ApiError::conflict(
                "declaration_decided",
                "this declaration is already decided",
            ))
        }
    }
    let (declaration, prepared, existing_photos) =
        check_body(conn, user, body, verified, id, received_at, tz)?;
    // Pending when read in this transaction; under READ COMMITTED another may have taken it.
    if !Declaration::claim_for_inspection(conn, &declaration.id)? {
        return Err(retry());
    }
    insert_new(
        conn,
        user,
        id,
        body,
        encoded,
        received_at,
        &declaration,
        &prepared,
        &existing_photos,
    )
}

/// Inserts revision 1 of inspection `id` (its declaration already claimed), its photos'
/// rows, the audit entry and, when complete, the announcement.
#[allow(clippy::too_many_arguments)]
fn insert_new(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
    body: &InspectionBody,
    encoded: &Encoded,
    received_at: DateTime<Utc>,
    declaration: &Declaration,
    prepared: &Prepared,
    existing_photos: &[PhotoRow],
) -> ApiResult<Stored> {
    let fields = RevisionFields::new(body, encoded, prepared, 1, received_at)?;
    let res = crate::db::on_backend!(conn, |c| diesel::insert_into(inspections::table)
        .values((
            inspections::id.eq(id),
            inspections::declaration_id.eq(&declaration.id),
            inspections::village_id.eq(&declaration.village_id),
            inspections::township_id.eq(&declaration.township_id),
            inspections::county_id.eq(&declaration.county_id),
            inspections::inspector_id.eq(&user.id),
            // Column by column, not `&fields`: the derived `Insertable` makes PostgreSQL parse
            // and plan the statement on every execution (diesel does not keep it prepared).
            (
                inspections::checklist_code.eq(&fields.checklist_code),
                inspections::checklist_version.eq(fields.checklist_version),
                inspections::status.eq(&fields.status),
                inspections::revision.eq(fields.revision),
                inspections::body_hash.eq(&fields.body_hash),
                inspections::body.eq(&fields.body),
                inspections::evaluation.eq(&fields.evaluation),
                inspections::score.eq(fields.score),
                inspections::passed.eq(fields.passed),
                inspections::flags.eq(&fields.flags),
                inspections::flag_severity.eq(fields.flag_severity),
                inspections::started_at.eq(fields.started_at),
                inspections::client_submitted_at.eq(fields.client_submitted_at),
                inspections::received_at.eq(fields.received_at),
                inspections::submitted_at.eq(fields.submitted_at),
                inspections::updated_at.eq(fields.updated_at),
            ),
        ))
        .returning(Inspection::as_returning())
        .get_result::<Inspection>(c));
    let ins = match res {
        Err(e) if is_unique_violation(&e) => return Err(retry()),
        other => other?,
    };
    let complete = fields.submitted_at.is_some();
    insert_photos(conn, &ins, body, existing_photos)?;
    // A new inspection's photos are the ones its manifest announced just now.
    let photos = if body.photos.is_empty() {
        Vec::new()
    } else {
        ins.photos(conn)?
    };
    audit::record(
        conn,
        &user.actor(),
        "inspection.created",
        "inspection",
        id,
        Some(&ins.county_id),
        format!(
            "revision 1 for {} (level {}), score {}, {} photo(s) announced",
            prepared.village.code,
            declaration.star_level,
            prepared.evaluation.score,
            body.photos.len()
        ),
    )?;
    if complete {
        announce(conn, &ins, &photos, &user.actor())?;
    }
    // Nothing above changed the row after it was read back.
    Ok(Stored {
        inspection: ins,
        photos,
    })
}

fn revise(
    conn: &mut DbConn,
    user: &AuthUser,
    existing: Inspection,
    body: &InspectionBody,
    encoded: &Encoded,
    received_at: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> ApiResult<Stored> {
    let verified = declaration_for(conn, user, body)?;
    let (_, prepared, existing_photos) =
        check_body(conn, user, body, verified, &existing.id, received_at, tz)?;
    // Claim the row: a concurrent resubmission that read the same revision changes nothing.
    let claimed = diesel::update(
        inspections::table
            .filter(inspections::id.eq(&existing.id))
            .filter(inspections::revision.eq(existing.revision))
            .filter(inspections::status.eq(InspectionStatus::Returned)),
    )
    .set(inspections::updated_at.eq(now()))
    .execute(conn)?;
    if claimed != 1 {
        return Err(retry());
    }
    diesel::insert_into(inspection_revisions::table)
        .values((
            inspection_revisions::inspection_id.eq(&existing.id),
            inspection_revisions::revision.eq(existing.revision),
            inspection_revisions::body.eq(&existing.body),
            inspection_revisions::evaluation.eq(&existing.evaluation),
            inspection_revisions::flags.eq(&existing.flags),
            inspection_revisions::return_comment.eq(&existing.return_comment),
            inspection_revisions::archived_at.eq(now()),
        ))
        .execute(conn)?;
    let revision = existing.revision + 1;
    let fields = RevisionFields::new(body, encoded, &prepared, revision, received_at)?;
    let complete = fields.submitted_at.is_some();
    diesel::update(inspections::table.find(&existing.id))
        .set((
            &fields,
            inspections::claimed_by.eq(None::<String>),
            inspections::claim_expires_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    let ins = Inspection::find(conn, &existing.id)?.ok_or_else(|| ApiError::internal())?;
    insert_photos(conn, &ins, body, &existing_photos)?;
    audit::record(
        conn,
        &user.actor(),
        "inspection.resubmitted",
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        format!("revision {revision}, score {}", prepared.evaluation.score),
    )?;
    if complete {
        announce_submitted(conn, &ins, &user.actor())?;
    } else {
        // Photos of this revision that were already received (same id and bytes) count.
        complete_if_all_photos(conn, &ins.id, &user.actor())?;
    }
    Stored::load(conn, &ins.id)
}

/// Marks the inspection `submitted` once every photo of its current revision has arrived.
/// Returns whether it did. Callers hold the write transaction.
pub fn complete_if_all_photos(
    conn: &mut DbConn,
    inspection_id: &str,
    actor: &Actor,
) -> ApiResult<bool> {
    let Some(ins) = Inspection::find(conn, inspection_id)? else {
        return Ok(false);
    };
    if ins.status() != InspectionStatus::AwaitingPhotos {
        return Ok(false);
    }
    let photos = ins.photos(conn)?;
    if photos.iter().any(|p| !p.received) {
        let severity = ins
            .all_flags(&photos)
            .iter()
            .map(|f| severity_rank(f.severity))
            .max()
            .unwrap_or(0);
        diesel::update(inspections::table.find(&ins.id))
            .set(inspections::flag_severity.eq(severity))
            .execute(conn)?;
        return Ok(false);
    }
    let severity = ins
        .all_flags(&photos)
        .iter()
        .map(|f| severity_rank(f.severity))
        .max()
        .unwrap_or(0);
    let t = now();
    diesel::update(inspections::table.find(&ins.id))
        .set((
            inspections::status.eq(InspectionStatus::Submitted),
            inspections::submitted_at.eq(t),
            inspections::flag_severity.eq(severity),
            inspections::updated_at.eq(t),
        ))
        .execute(conn)?;
    let ins = Inspection::find(conn, inspection_id)?.ok_or_else(|| ApiError::internal())?;
    announce_submitted(conn, &ins, actor)?;
    Ok(true)
}

fn announce_submitted(conn: &mut DbConn, ins: &Inspection, actor: &Actor) -> ApiResult<()> {
    let photos = ins.photos(conn)?;
    announce(conn, ins, &photos, actor)
}

fn announce(
    conn: &mut DbConn,
    ins: &Inspection,
    photos: &[PhotoRow],
    actor: &Actor,
) -> ApiResult<()> {
    let flags = ins.all_flags(photos);
    audit::record(
        conn,
        actor,
        "inspection.submitted",
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        format!(
            "revision {} submitted with {} photo(s) and {} flag(s)",
            ins.revision,
            photos.len(),
            flags.len()
        ),
    )?;
    outbox::enqueue(
        conn,
        &ins.county_id,
        outbox::INSPECTION_SUBMITTED,
        json!({
            "inspection_id": ins.id,
            "declaration_id": ins.declaration_id,
            "village_id": ins.village_id,
            "revision": ins.revision,
            "score": ins.score,
            "passed": ins.passed,
            "flags": flags.iter().map(|f| &f.code).collect::<Vec<_>>(),
        }),
    )?;
    Ok(())
}

/// Cancels an inspection that is not yet submitted (awaiting its photos, or returned): its
/// inspector or a county admin may, so that nothing blocks its declaration for ever. The
/// inspection is kept, with the photos already stored; its declaration is open again.
pub fn cancel(conn: &mut DbConn, user: &AuthUser, id: &str) -> ApiResult<()> {
    let ins = Inspection::find_scoped(conn, &user.scope, id)?;
    let owner = ins.inspector_id == user.id;
    if !(owner || user.role == crate::auth::Role::Admin) {
        return Err(ApiError::forbidden(
            "only the inspector who made it or a county admin cancels an inspection",
        ));
    }
    let t = now();
    let cancelled = diesel::update(
        inspections::table
            .filter(inspections::id.eq(&ins.id))
            .filter(
                inspections::status.eq_any(
                    [InspectionStatus::AwaitingPhotos, InspectionStatus::Returned]
                        .map(InspectionStatus::as_str),
                ),
            ),
    )
    .set((
        inspections::status.eq(InspectionStatus::Cancelled),
        inspections::claimed_by.eq(None::<String>),
        inspections::claim_expires_at.eq(None::<chrono::NaiveDateTime>),
        inspections::updated_at.eq(t),
    ))
    .execute(conn)?;
    if cancelled != 1 {
        return Err(ApiError::conflict(
            "inspection.not_cancellable",
            format!(
                "only an inspection not yet submitted (awaiting photos or returned) can be \
                 cancelled; this one is {}",
                ins.status
            ),
        ));
    }
    diesel::update(
        crate::db::schema::declarations::table
            .filter(crate::db::schema::declarations::id.eq(&ins.declaration_id))
            .filter(crate::db::schema::declarations::status.eq(DeclarationStatus::Inspecting)),
    )
    .set((
        crate::db::schema::declarations::status.eq(DeclarationStatus::Pending),
        crate::db::schema::declarations::updated_at.eq(t),
    ))
    .execute(conn)?;
    audit::record(
        conn,
        &user.actor(),
        "inspection.cancelled",
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        format!(
            "revision {} cancelled while {}; its declaration is open again",
            ins.revision, ins.status
        ),
    )?;
    Ok(())
}
