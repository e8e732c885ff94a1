//! `PUT /api/v1/inspections/{id}/photos/{photo_id}` (the image bytes, idempotent) and
//! `GET /api/v1/photos/{photo_id}?size=` (scoped; originals for reviewers and admins only).

use std::io::{Read, Seek, Write};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{get, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Offset, TimeZone, Utc};
use diesel::prelude::*;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::decoders::Failed;
use super::pipeline::{self, Limits, PhotoError, Processed};
use super::store::{self, Size};
use crate::app::AppState;
use crate::auth::{AuthUser, Role};
use crate::db::schema::{inspections, photos};
use crate::error::{ApiError, ApiResult, OrNotFound, Problem};
use crate::inspection::flags::{self, Match, PhotoFacts};
use crate::inspection::model::{Inspection, PhotoRow, PhotoView, AWAITING_PHOTOS, AWAITING_REVIEW};
use crate::inspection::submit;
use crate::org::OrgUnit;
use crate::{audit, now, scoped};

/// The first bytes of a photo read to find its decoding cost (headers, EXIF and all).
const HEADER_BYTES: usize = 256 << 10;

/// How long one photo may take to decode; the limits make this a backstop, not a rule.
pub const DECODE_TIMEOUT: Duration = Duration::from_secs(30);

/// The server's decode limits: JPEGs decode at a reduced DCT scale, so these bound the
/// memory of PNG and WebP decodes (64 MP × 4 bytes), two at a time per core.
pub fn limits() -> Limits {
    Limits {
        max_pixels: 64_000_000,
        max_alloc: 300 * 1024 * 1024,
        ..Limits::default()
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PhotoUploadView {
    #[serde(flatten)]
    pub photo: PhotoView,
    /// The inspection's status after this photo (`submitted` once the last one arrived).
    pub inspection_status: String,
}

fn upload_error(e: PhotoError) -> ApiError {
    match e {
        PhotoError::Unsupported { .. } => ApiError::unsupported_media(e.to_string()),
        PhotoError::TooLarge { .. } => ApiError::unprocessable("photo_too_large", e.to_string()),
        PhotoError::Undecodable(_) => ApiError::unprocessable("photo_undecodable", e.to_string()),
    }
}

/// Reads the body into a temporary file under the size cap, hashing as it goes. A body that
/// stalls or trickles is cut off by the body pace of every route (`http::pace`, 408).
async fn receive(
    payload: &mut web::Payload,
    max: usize,
    dir: &std::path::Path,
) -> ApiResult<(std::fs::File, usize, String)> {
    let mut file = tempfile::tempfile_in(dir)?;
    let mut hasher = Sha256::new();
    let mut size = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| crate::http::pace::body_error(e, "the photo"))?;
        size += chunk.len();
        if size > max {
            return Err(ApiError::too_large(format!(
                "photos are limited to {max} bytes"
            )));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)?;
    }
    file.rewind()?;
    Ok((file, size, hex::encode(hasher.finalize())))
}

/// EXIF capture time is wall-clock time without a zone: read it with the camera's offset,
/// else the phone's, else the county's.
fn capture_time(
    local: NaiveDateTime,
    exif_offset: Option<i32>,
    phone_offset: Option<i32>,
    tz: chrono_tz::Tz,
) -> DateTime<Utc> {
    let minutes = exif_offset.or(phone_offset).unwrap_or_else(|| {
        tz.offset_from_local_datetime(&local)
            .earliest()
            .map_or(0, |o| o.fix().local_minus_utc() / 60)
    });
    (local - chrono::Duration::minutes(minutes as i64)).and_utc()
}

/// Stores a photo of an inspection's manifest. 201 stored, 200 identical replay, 409 other
/// bytes for a stored photo, 404 not in the manifest, 413 too big, 415 not JPEG/PNG/WebP, 422
/// undecodable or not the manifest's SHA-256.
#[utoipa::path(
    tag = "photos",
    params(("id" = String, Path, description = "Inspection id"), ("photo_id" = String, Path, description = "Photo id from the manifest")),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "The image bytes (JPEG, PNG or WebP)"),
    responses(
        (status = 200, body = PhotoUploadView, description = "Identical replay"),
        (status = 201, body = PhotoUploadView, description = "Stored"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 408, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem),
        (status = 429, body = Problem, description = "Over the user's upload quota; see Retry-After")
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/inspections/{id}/photos/{photo_id}")]
pub async fn put_photo(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Inspector, Role::Admin])?;
    let max = state.config.photo_max_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let slot = state
        .upload_quota
        .begin(&user.id, declared.filter(|n| *n <= max))?;
    let (inspection_id, photo_id) = path.into_inner();
    let photo_id = photo_id.to_ascii_lowercase();
    let (ins, photo) = {
        let (user, inspection_id, photo_id) =
            (user.clone(), inspection_id.clone(), photo_id.clone());
        state
            .db
            .read(move |conn| {
                let ins = Inspection::find_scoped(conn, &user.scope, &inspection_id)?;
                let photo: PhotoRow = photos::table
                    .filter(photos::id.eq(&photo_id))
                    .filter(photos::inspection_id.eq(&ins.id))
                    .filter(photos::revision.eq(ins.revision))
                    .select(PhotoRow::as_select())
                    .first(conn)
                    .optional()
                    .or_not_found("photo in this inspection's manifest")?;
                Ok((ins, photo))
            })
            .await?
    };
    if ins.inspector_id != user.id && user.role != Role::Admin {
        return Err(ApiError::forbidden(
            "only the inspection's inspector uploads its photos",
        ));
    }
    if declared.is_some_and(|n| n > max) {
        return Err(ApiError::too_large(format!(
            "photos are limited to {max} bytes"
        )));
    }
    let tmp_dir = state.config.data_dir.join("tmp");
    std::fs::create_dir_all(&tmp_dir)?;
    let received = receive(&mut payload, max, &tmp_dir).await;
    let (mut file, size, sha256) = received?;
    slot.charge(size);
    if photo.received {
        if sha256 == photo.expected_sha256 {
            return Ok(HttpResponse::Ok().json(PhotoUploadView {
                photo: photo.view(),
                inspection_status: ins.status,
            }));
        }
        return Err(ApiError::conflict(
            "photo_conflict",
            "this photo is stored with other bytes",
        ));
    }
    if ins.status != AWAITING_PHOTOS && !AWAITING_REVIEW.contains(&ins.status.as_str()) {
        return Err(ApiError::conflict(
            "inspection_closed",
            format!("the inspection is {}", ins.status),
        ));
    }
    if size == 0 {
        return Err(ApiError::unprocessable("photo_empty", "the body is empty"));
    }
    let mut head = [0u8; 32];
    let n = file.read(&mut head)?;
    pipeline::sniff(&head[..n]).map_err(upload_error)?;
    if sha256 != photo.expected_sha256 {
        let mut e = ApiError::unprocessable(
            "sha256_mismatch",
            format!(
                "the bytes hash to {sha256}, the manifest says {}",
                photo.expected_sha256
            ),
        );
        e.errors = vec![crate::error::FieldError::new(
            "sha256",
            "does not match the manifest",
        )];
        return Err(e);
    }
    file.rewind()?;

    // The memory this decode takes, from the header, reserved from the decoding budget before
    // the bytes are even read into memory; held until the decode ends.
    let mut head = vec![0u8; HEADER_BYTES.min(size)];
    file.read_exact(&mut head)?;
    file.rewind()?;
    let cost = pipeline::decode_cost(&head, size as u64).unwrap_or(u64::MAX);
    drop(head);
    let reserved = state
        .photo_decoders
        .reserve(cost)
        .await
        .map_err(|_| ApiError::unavailable("photo decoding has stopped"))?;

    // Decode under the limits, on the decoding threads (one per core), off the async workers.
    // A decode that outlives its answer (the time limit) keeps its thread until it ends.
    let decode = state.photo_decoders.run(move || {
        let _reserved = reserved;
        let mut bytes = Vec::with_capacity(size);
        file.read_to_end(&mut bytes)?;
        pipeline::process_hashed(&bytes, Some(sha256), &limits())
            .map(|p| (p, bytes))
            .map_err(upload_error)
    });
    let (processed, original): (Processed, Vec<u8>) = tokio::time::timeout(DECODE_TIMEOUT, decode)
        .await
        .map_err(|_| {
            ApiError::unprocessable(
                "photo_timeout",
                format!(
                    "the photo took longer than {} s to decode",
                    DECODE_TIMEOUT.as_secs()
                ),
            )
        })?
        .map_err(|failed| match failed {
            Failed::Panicked => {
                ApiError::unprocessable("photo_undecodable", "the photo could not be decoded")
            }
            Failed::Stopped => ApiError::unavailable("photo decoding has stopped"),
        })??;
    state.metrics.photos_processed.inc();

    // Blobs first, each written atomically; the row that points to them commits after, so a
    // crash leaves at most an unreferenced blob (swept at start-up), never a dangling row.
    let sha = processed.sha256.clone();
    for (size, bytes) in [
        (Size::Original, original),
        (Size::Display, processed.display_jpeg.clone()),
        (Size::Thumb, processed.thumb_jpeg.clone()),
    ] {
        let key = store::key(size, &sha);
        let present = state.storage.exists(&key).await.map_err(storage_error)?;
        if !present {
            state
                .storage
                .put_atomic(&key, bytes.into())
                .await
                .map_err(storage_error)?;
        }
    }

    let tz = state.config.timezone;
    let facts = Stored::from(&processed);
    let result = {
        let user = user.clone();
        state
            .db
            .write(move |conn| record(conn, &user, &inspection_id, &photo_id, &facts, tz))
            .await
    };
    match result {
        Ok((view, status, replay)) => {
            let body = PhotoUploadView {
                photo: view,
                inspection_status: status,
            };
            Ok(if replay {
                HttpResponse::Ok().json(body)
            } else {
                HttpResponse::Created().json(body)
            })
        }
        Err(e) => {
            let sha = processed.sha256.clone();
            let used = state
                .db
                .read(move |conn| Ok(store::referenced(conn, &sha)?))
                .await
                .unwrap_or(true);
            if !used {
                store::delete_all(&state.storage, &processed.sha256).await;
            }
            Err(e)
        }
    }
}

fn storage_error(e: crate::storage::StorageError) -> ApiError {
    tracing::error!(error = %e, "photo storage failed");
    ApiError::unavailable("the photo storage is not available; retry later")
}

/// What the database keeps of a processed photo.
struct Stored {
    sha256: String,
    format: &'static str,
    bytes: i64,
    width: i32,
    height: i32,
    phash: u64,
    exif: super::exif::ExifInfo,
}

impl From<&Processed> for Stored {
    fn from(p: &Processed) -> Self {
        Stored {
            sha256: p.sha256.clone(),
            format: p.format.mime(),
            bytes: p.bytes as i64,
            width: p.width as i32,
            height: p.height as i32,
            phash: p.phash,
            exif: p.exif.clone(),
        }
    }
}

/// Records the photo, its flags, and completes the inspection when it was the last one.
fn record(
    conn: &mut crate::db::DbConn,
    user: &AuthUser,
    inspection_id: &str,
    photo_id: &str,
    p: &Stored,
    tz: chrono_tz::Tz,
) -> ApiResult<(PhotoView, String, bool)> {
    // Lock the inspection row first: concurrent last photos then see each other's rows.
    diesel::update(inspections::table.find(inspection_id))
        .set(inspections::updated_at.eq(now()))
        .execute(conn)?;
    let ins = Inspection::find_scoped(conn, &user.scope, inspection_id)?;
    let photo: PhotoRow = photos::table
        .find(photo_id)
        .select(PhotoRow::as_select())
        .first(conn)
        .optional()
        .or_not_found("photo")?;
    if photo.received {
        return if photo.expected_sha256 == p.sha256 {
            Ok((photo.view(), ins.status, true))
        } else {
            Err(ApiError::conflict(
                "photo_conflict",
                "this photo is stored with other bytes",
            ))
        };
    }
    let body = ins.body().ok_or_else(|| ApiError::internal())?;
    let village = OrgUnit::find(conn, &ins.village_id)?.ok_or_else(|| ApiError::internal())?;
    let exact: Option<(String, String)> = photos::table
        .filter(photos::county_id.eq(&ins.county_id))
        .filter(photos::expected_sha256.eq(&p.sha256))
        .filter(photos::received.eq(true))
        .filter(photos::inspection_id.ne(&ins.id))
        .select((photos::inspection_id, photos::id))
        .first(conn)
        .optional()?;
    // A linear scan of the county's hashes: 8 bytes a photo, fine to ~10^6 photos per county.
    let hashes: Vec<(String, String, Option<i64>)> = photos::table
        .filter(photos::county_id.eq(&ins.county_id))
        .filter(photos::received.eq(true))
        .filter(photos::inspection_id.ne(&ins.id))
        .filter(photos::phash.is_not_null())
        .select((photos::inspection_id, photos::id, photos::phash))
        .load(conn)?;
    let near = hashes
        .iter()
        .filter_map(|(i, id, h)| h.map(|h| (i, id, super::phash::hamming(h as u64, p.phash))))
        .filter(|(_, _, d)| *d <= super::phash::NEAR_DUPLICATE_MAX_DISTANCE)
        .min_by_key(|(_, _, d)| *d);
    // The other inspection's village, named in the duplicate flags (an id says nothing).
    let mut village_of = |inspection_id: &str| -> ApiResult<Option<String>> {
        let village_id: Option<String> = inspections::table
            .find(inspection_id)
            .select(inspections::village_id)
            .first(conn)
            .optional()?;
        Ok(match village_id {
            Some(v) => OrgUnit::find(conn, &v)?.map(|u| u.name),
            None => None,
        })
    };
    let exact_village = match &exact {
        Some((i, _)) => village_of(i)?,
        None => None,
    };
    let near_village = match &near {
        Some((i, _, _)) => village_of(i)?,
        None => None,
    };
    let taken_at = p
        .exif
        .taken_at_local
        .map(|local| capture_time(local, p.exif.offset_minutes, body.utc_offset_minutes, tz));
    let facts = PhotoFacts {
        photo_id,
        item: &photo.item,
        exif_present: p.exif.present,
        lat: p.exif.lat,
        lon: p.exif.lon,
        taken_at_local: p.exif.taken_at_local,
        exif_offset_minutes: p.exif.offset_minutes,
        software: p.exif.software.as_deref(),
    };
    let template_items = crate::checklist::store::ChecklistVersion::find(
        conn,
        &ins.checklist_code,
        ins.checklist_version,
    )?
    .and_then(|c| c.template_shared().ok())
    .map_or(0, |t| t.items().count());
    let received_at = ins.received_at.and_utc();
    let mut flags = flags::photo_flags(
        &submit::village_facts(&village),
        submit::device_location(&body).as_ref(),
        &submit::visit_facts(&body, received_at, template_items),
        &facts,
        exact.as_ref().map(|(i, id)| Match {
            inspection_id: i,
            village: exact_village.as_deref(),
            photo_id: id,
            distance: 0,
        }),
        near.map(|(i, id, d)| Match {
            inspection_id: i,
            village: near_village.as_deref(),
            photo_id: id,
            distance: d,
        }),
    );
    // EXIF that is there but cannot be read in full never fails the upload: the reviewer
    // sees what could not be read.
    if p.exif.present && !p.exif.problems.is_empty() {
        flags.push(flags::Flag {
            code: flags::codes::PHOTO_NO_EXIF.to_owned(),
            severity: flags::Severity::Info,
            item: Some(photo.item.clone()),
            photo_id: Some(photo_id.to_owned()),
            detail: flags::bounded_detail(&format!(
                "the photo's EXIF could not be read in full: {}",
                p.exif.problems.join("; ")
            )),
            params: serde_json::json!({"unreadable": true})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        });
    }
    let t = now();
    diesel::update(photos::table.find(photo_id))
        .set((
            photos::received.eq(true),
            photos::format.eq(p.format),
            photos::bytes.eq(p.bytes),
            photos::width.eq(p.width),
            photos::height.eq(p.height),
            photos::taken_at.eq(taken_at.map(|t| t.naive_utc())),
            photos::lat.eq(p.exif.lat),
            photos::lon.eq(p.exif.lon),
            photos::exif.eq(serde_json::to_string(&p.exif).ok()),
            photos::phash.eq(p.phash as i64),
            photos::flags.eq(flags::to_stored(&flags)),
            photos::received_at.eq(t),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        &user.actor(),
        "photo.received",
        "inspection",
        &ins.id,
        Some(&ins.county_id),
        format!(
            "photo {photo_id} for {} ({} bytes, {} flag(s))",
            photo.item,
            p.bytes,
            flags.len()
        ),
    )?;
    submit::complete_if_all_photos(conn, &ins.id, &user.actor())?;
    let ins = Inspection::find(conn, &ins.id)?.ok_or_else(|| ApiError::internal())?;
    let photo: PhotoRow = photos::table
        .find(photo_id)
        .select(PhotoRow::as_select())
        .first(conn)?;
    Ok((photo.view(), ins.status, false))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PhotoQuery {
    /// `thumb` (320 px), `display` (1600 px) or `original` (reviewers and admins).
    pub size: Option<String>,
}

/// A photo. Derivatives are JPEGs without metadata; the original is served as an attachment.
#[utoipa::path(
    tag = "photos",
    params(("photo_id" = String, Path), PhotoQuery),
    responses(
        (status = 200, content_type = "image/jpeg", body = Vec<u8>),
        (status = 304, description = "Not modified"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/photos/{photo_id}")]
pub async fn get_photo(
    state: web::Data<AppState>,
    user: AuthUser,
    photo_id: web::Path<String>,
    query: web::Query<PhotoQuery>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let size = match query.size.as_deref() {
        None => Size::Display,
        Some(s) => Size::parse(s)
            .ok_or_else(|| ApiError::field("size", "must be thumb, display or original"))?,
    };
    // Photos are evidence: the village inspected (secretary, members) sees none of them.
    user.require(&[Role::Inspector, Role::Reviewer, Role::Admin])?;
    let photo_id = photo_id.into_inner().to_ascii_lowercase();
    let photo: PhotoRow = {
        let user = user.clone();
        state
            .db
            .read(move |conn| {
                let q = photos::table.filter(photos::id.eq(&photo_id)).into_boxed();
                scoped!(q, photos, &user.scope)
                    .filter(photos::received.eq(true))
                    .select(PhotoRow::as_select())
                    .first(conn)
                    .optional()
                    .or_not_found("photo")
            })
            .await?
    };
    if size == Size::Original {
        user.require(&[Role::Reviewer, Role::Admin])?;
    }
    let etag = format!("\"{}-{}\"", photo.expected_sha256, size.as_str());
    let cache = "private, max-age=31536000, immutable";
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.split(',').any(|t| t.trim() == etag));
    if size == Size::Original {
        let (user, photo) = (user.clone(), photo.clone());
        state
            .db
            .write(move |conn| {
                audit::record(
                    conn,
                    &user.actor(),
                    "photo.original_read",
                    "inspection",
                    &photo.inspection_id,
                    Some(&photo.county_id),
                    format!("original of photo {}", photo.id),
                )?;
                Ok(())
            })
            .await?;
    }
    if fresh {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish());
    }
    let bytes = state
        .storage
        .get(&store::key(size, &photo.expected_sha256))
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::NotFound => {
                tracing::error!(photo = %photo.id, "a received photo's blob is missing");
                ApiError::not_found("photo")
            }
            other => storage_error(other),
        })?;
    let mut res = HttpResponse::Ok();
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache));
    if size == Size::Original {
        // Only re-encoded copies are ever shown inline: an original may be a polyglot.
        let ext = match photo.format.as_deref() {
            Some("image/png") => "png",
            Some("image/webp") => "webp",
            _ => "jpg",
        };
        res.content_type(
            photo
                .format
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
        )
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.{ext}\"", photo.id),
        ))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        ));
    } else {
        res.content_type("image/jpeg");
    }
    Ok(res.body(bytes))
}
