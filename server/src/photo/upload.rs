//! One photo upload, whatever carried its bytes (`PUT …/photos/{photo_id}` or a finished tus
//! upload): find its manifest entry, check and process the complete body, store, record, flag.

use std::io::{Read, Seek, Write};
use std::time::Duration;

use actix_web::HttpResponse;
use diesel::prelude::*;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::decoders::Failed;
use super::pipeline::{self, Limits, PhotoError, Processed};
use super::store::{self, Size};
use crate::auth::{AuthUser, Role};
use crate::db::schema::{inspections, photos};
use crate::error::{ApiError, ApiResult, FieldError, OrNotFound};
use crate::i18n::Rule;
use crate::ids::{InspectionId, PhotoId};
use crate::inspection::flags::{self, Match, PhotoFacts};
use crate::inspection::model::{Inspection, InspectionStatus, PhotoRow, PhotoView};
use crate::inspection::submit;
use crate::org::OrgUnit;
use crate::state::AppState;
use crate::{audit, clock::now};

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
    pub inspection_status: InspectionStatus,
}

/// The size of the original a phone downsized before sending (`4032x3024`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Downsized {
    pub width: u32,
    pub height: u32,
}

impl Downsized {
    /// `WIDTHxHEIGHT`, each 1 to 100000 pixels.
    pub fn parse(text: &str) -> Option<Downsized> {
        let (w, h) = text.trim().split_once(['x', 'X'])?;
        let dim = |s: &str| {
            (!s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
                .filter(|n| (1..=100_000).contains(n))
        };
        Some(Downsized {
            width: dim(w)?,
            height: dim(h)?,
        })
    }

    /// The same as [`Downsized::parse`], refused with 422 naming `field`.
    pub fn parse_field(text: &str, field: &str) -> ApiResult<Downsized> {
        Downsized::parse(text).ok_or_else(|| ApiError::field(field, Rule::DownsizedFrom))
    }
}

impl std::fmt::Display for Downsized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// The manifest entry a photo is for, in the uploader's scope.
pub struct Target {
    pub inspection: Inspection,
    pub photo: PhotoRow,
}

/// Finds the photo in the current revision's manifest of an inspection in the user's scope
/// (404 otherwise); only the inspection's inspector (or an admin) uploads its photos (403).
pub async fn locate(
    state: &AppState,
    user: &AuthUser,
    inspection_id: &InspectionId,
    photo_id: &PhotoId,
) -> ApiResult<Target> {
    user.require(&[Role::Inspector, Role::Admin])?;
    let (scope, inspection_id, photo_id) =
        (user.scope.clone(), inspection_id.clone(), photo_id.clone());
    let (inspection, photo) = state
        .db
        .read(move |conn| {
            let ins = Inspection::find_scoped(conn, &scope, inspection_id.as_str())?;
            let photo: PhotoRow = photos::table
                .filter(photos::id.eq(photo_id.as_str()))
                .filter(photos::inspection_id.eq(&ins.id))
                .filter(photos::revision.eq(ins.revision))
                .select(PhotoRow::as_select())
                .first(conn)
                .optional()
                .or_not_found("photo in this inspection's manifest")?;
            Ok((ins, photo))
        })
        .await?;
    if inspection.inspector_id != user.id && user.role != Role::Admin {
        return Err(ApiError::forbidden(
            "only the inspection's inspector uploads its photos",
        ));
    }
    Ok(Target { inspection, photo })
}

/// 409 when the inspection takes no more photos (decided, cancelled).
fn check_status(ins: &Inspection) -> ApiResult<()> {
    if ins.status() != InspectionStatus::AwaitingPhotos && !ins.status().awaits_review() {
        return Err(ApiError::conflict(
            "inspection_closed",
            format!("the inspection is {}", ins.status),
        ));
    }
    Ok(())
}

/// Whether the target can still take a photo: a stored one is a replay (fine), otherwise the
/// inspection must still take photos (409).
pub fn check_open(target: &Target) -> ApiResult<()> {
    if target.photo.received {
        return Ok(());
    }
    check_status(&target.inspection)
}

/// A complete photo body on disk, with its size and SHA-256 (hex).
pub struct Body {
    pub file: std::fs::File,
    pub size: usize,
    pub sha256: String,
}

impl Body {
    /// Reads a request body into a temporary file under the size cap, hashing as it goes. A
    /// body that stalls or trickles is cut off by the body pace of every route (`http::pace`).
    pub async fn receive<S, E>(
        payload: &mut S,
        max: usize,
        dir: &std::path::Path,
        what: &str,
    ) -> ApiResult<Body>
    where
        S: Stream<Item = Result<actix_web::web::Bytes, E>> + Unpin,
        E: Into<actix_web::error::PayloadError>,
    {
        let mut file = tempfile::tempfile_in(dir)?;
        let mut hasher = Sha256::new();
        let mut size = 0usize;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| crate::http::pace::body_error(e.into(), what))?;
            size += chunk.len();
            if size > max {
                return Err(too_large(max));
            }
            hasher.update(&chunk);
            file.write_all(&chunk)?;
        }
        file.rewind()?;
        Ok(Body {
            file,
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// A finished file (a tus upload's), hashed from its start.
    pub fn from_file(mut file: std::fs::File) -> ApiResult<Body> {
        file.rewind()?;
        let mut hasher = Sha256::new();
        let size = std::io::copy(&mut file, &mut hasher)? as usize;
        file.rewind()?;
        Ok(Body {
            file,
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }
}

pub fn too_large(max: usize) -> ApiError {
    ApiError::too_large(format!("photos are limited to {max} bytes"))
}

/// What a stored (or replayed) photo answers.
pub struct Outcome {
    pub view: PhotoUploadView,
    /// False for an identical replay of a stored photo.
    pub created: bool,
}

impl Outcome {
    /// 201 stored, 200 identical replay.
    pub fn response(self) -> HttpResponse {
        if self.created {
            HttpResponse::Created().json(self.view)
        } else {
            HttpResponse::Ok().json(self.view)
        }
    }
}

fn upload_error(e: PhotoError) -> ApiError {
    match e {
        PhotoError::Unsupported { .. } => ApiError::unsupported_media(e.to_string()),
        PhotoError::TooLarge { .. } => ApiError::unprocessable("photo_too_large", e.to_string()),
        PhotoError::Undecodable(_) => ApiError::unprocessable("photo_undecodable", e.to_string()),
    }
}

pub fn storage_error(e: crate::storage::StorageError) -> ApiError {
    tracing::error!(error = %e, "photo storage failed");
    ApiError::unavailable("the photo storage is not available; retry later")
}

/// Stores a complete photo of a manifest: 201 stored, 200 identical replay, 409 other bytes for
/// a stored photo or a closed inspection, 415 not JPEG/PNG/WebP, 422 empty, undecodable or not
/// the manifest's SHA-256. Submits the inspection when it was the last photo.
pub async fn store(
    state: &AppState,
    user: &AuthUser,
    target: Target,
    body: Body,
    downsized: Option<Downsized>,
) -> ApiResult<Outcome> {
    let Target {
        inspection: ins,
        photo,
    } = target;
    let Body {
        mut file,
        size,
        sha256,
    } = body;
    if photo.received {
        if sha256 == photo.expected_sha256 {
            return Ok(Outcome {
                view: PhotoUploadView {
                    photo: photo.view(),
                    inspection_status: ins.status(),
                },
                created: false,
            });
        }
        return Err(conflict());
    }
    check_status(&ins)?;
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
        e.errors = vec![FieldError::new("sha256", Rule::ManifestMismatch)];
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
    let facts = Stored::new(&processed, downsized);
    let result = {
        let (user, inspection_id, photo_id) = (
            user.clone(),
            InspectionId::new(&ins.id),
            PhotoId::new(&photo.id),
        );
        state
            .db
            .write(move |conn| record(conn, &user, &inspection_id, &photo_id, &facts, tz))
            .await
    };
    match result {
        Ok((view, inspection_status, replay)) => Ok(Outcome {
            view: PhotoUploadView {
                photo: view,
                inspection_status,
            },
            created: !replay,
        }),
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

fn conflict() -> ApiError {
    ApiError::conflict("photo_conflict", "this photo is stored with other bytes")
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
    downsized: Option<Downsized>,
}

impl Stored {
    fn new(p: &Processed, downsized: Option<Downsized>) -> Self {
        Stored {
            sha256: p.sha256.clone(),
            format: p.format.mime(),
            bytes: p.bytes as i64,
            width: p.width as i32,
            height: p.height as i32,
            phash: p.phash,
            exif: p.exif.clone(),
            downsized,
        }
    }
}

/// Records the photo, its flags, and completes the inspection when it was the last one.
fn record(
    conn: &mut crate::db::DbConn,
    user: &AuthUser,
    inspection_id: &InspectionId,
    photo_id: &PhotoId,
    p: &Stored,
    tz: chrono_tz::Tz,
) -> ApiResult<(PhotoView, InspectionStatus, bool)> {
    let (inspection_id, photo_id) = (inspection_id.as_str(), photo_id.as_str());
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
            Ok((photo.view(), ins.status(), true))
        } else {
            Err(conflict())
        };
    }
    let body = ins.body().ok_or_else(ApiError::internal)?;
    let village = OrgUnit::find(conn, &ins.village_id)?.ok_or_else(ApiError::internal)?;
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
    let taken_at = p.exif.taken_at_local.and_then(|local| {
        flags::capture_time(
            local,
            p.exif.offset_minutes,
            body.utc_offset_minutes,
            Some(tz),
        )
    });
    let facts = PhotoFacts {
        photo_id,
        item: &photo.item,
        exif_present: p.exif.present,
        lat: p.exif.lat,
        lon: p.exif.lon,
        taken_at_local: p.exif.taken_at_local,
        exif_offset_minutes: p.exif.offset_minutes,
        software: p.exif.software.as_deref(),
        exif_problems: &p.exif.problems,
    };
    let template_items = crate::checklist::store::ChecklistVersion::find(
        conn,
        &ins.checklist_code,
        ins.checklist_version,
    )?
    .and_then(|c| c.template_shared().ok())
    .map_or(0, |t| t.items().count());
    let received_at = ins.received_at.and_utc();
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
    let flags = flags::photo_flags(
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
            photos::downsized_from.eq(p.downsized.map(|d| d.to_string())),
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
    let ins = Inspection::find(conn, &ins.id)?.ok_or_else(ApiError::internal)?;
    let photo: PhotoRow = photos::table
        .find(photo_id)
        .select(PhotoRow::as_select())
        .first(conn)?;
    Ok((photo.view(), ins.status(), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsized_from_is_width_x_height_in_pixels() {
        assert_eq!(
            Downsized::parse("4032x3024"),
            Some(Downsized {
                width: 4032,
                height: 3024
            })
        );
        assert_eq!(
            Downsized::parse("4032X3024")
                .map(|d| d.to_string())
                .as_deref(),
            Some("4032x3024")
        );
        for bad in [
            "",
            "x",
            "4032",
            "4032x",
            "x3024",
            "0x10",
            "10x0",
            "-1x5",
            "+4x5",
            "4032×3024",
            "4032x3024x1",
            "1000001x5",
            "12 x 5",
            "4e3x5",
            "0004032x5",
        ] {
            assert_eq!(Downsized::parse(bad), None, "{bad}");
        }
    }
}
