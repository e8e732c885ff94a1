//! `PUT /api/v1/inspections/{id}/photos/{photo_id}` (the image bytes, idempotent; the work is
//! in `upload`) and `GET /api/v1/photos/{photo_id}?size=` (scoped; originals for reviewers
//! and admins only).

use actix_web::http::header;
use actix_web::{get, put, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::IntoParams;

use super::store::{self, Size};
use super::upload::{self, storage_error, Body, Downsized};
pub use super::upload::{limits, PhotoUploadView, DECODE_TIMEOUT};
use crate::auth::{AuthUser, Role};
use crate::db::schema::photos;
use crate::error::{ApiError, ApiResult, OrNotFound, Problem};
use crate::http::etag::ETag;
use crate::i18n::Rule;
use crate::ids::{InspectionId, PhotoId};
use crate::inspection::model::PhotoRow;
use crate::state::AppState;
use crate::{audit, scoped};

/// The request header of a photo the phone downsized: the original's size, `4032x3024`.
pub const DOWNSIZED_FROM: &str = "fieldstar-downsized-from";

/// The `Fieldstar-Downsized-From` header, when sent (422 naming it when malformed).
pub fn downsized_from(req: &HttpRequest) -> ApiResult<Option<Downsized>> {
    req.headers()
        .get(DOWNSIZED_FROM)
        .map(|v| Downsized::parse_field(v.to_str().unwrap_or(""), "Fieldstar-Downsized-From"))
        .transpose()
}

/// Stores a photo of an inspection's manifest. 201 stored, 200 identical replay, 409 other
/// bytes for a stored photo, 404 not in the manifest, 413 too big, 415 not JPEG/PNG/WebP, 422
/// undecodable or not the manifest's SHA-256. Large photos on a poor link go by
/// `POST /api/v1/uploads` (tus), which resumes where a dropped connection stopped.
#[utoipa::path(
    tag = "photos",
    params(
        ("id" = String, Path, description = "Inspection id"),
        ("photo_id" = String, Path, description = "Photo id from the manifest"),
        ("Fieldstar-Downsized-From" = Option<String>, Header, description = "When the phone downsized the photo before sending: the original's size, WIDTHxHEIGHT (`4032x3024`)")
    ),
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
    let target = upload::locate(
        &state,
        &user,
        &InspectionId::new(inspection_id),
        &PhotoId::new(&photo_id),
    )
    .await?;
    let downsized = downsized_from(&req)?;
    if declared.is_some_and(|n| n > max) {
        return Err(upload::too_large(max));
    }
    let tmp_dir = state.config.data_dir.join("tmp");
    std::fs::create_dir_all(&tmp_dir)?;
    let body = Body::receive(&mut payload, max, &tmp_dir, "the photo").await?;
    slot.charge(body.size);
    Ok(upload::store(&state, &user, target, body, downsized)
        .await?
        .response())
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
        Some(s) => Size::parse(s).ok_or_else(|| {
            ApiError::field(
                "size",
                Rule::OneOf.with("allowed", "thumb, display, original"),
            )
        })?,
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
    let etag = ETag::of_version(&format!("{}-{}", photo.expected_sha256, size.as_str()));
    let cache = "private, max-age=31536000, immutable";
    let fresh = etag.matches_none_match(&req);
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
            .insert_header((header::ETAG, etag.as_str()))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish());
    }
    let blob = state
        .storage
        .get_stream(&store::key(size, &photo.expected_sha256))
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::NotFound => {
                tracing::error!(photo = %photo.id, "a received photo's blob is missing");
                ApiError::not_found("photo")
            }
            other => storage_error(other),
        })?;
    let mut res = HttpResponse::Ok();
    res.insert_header((header::ETAG, etag.as_str()))
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
    Ok(res.body(actix_web::body::SizedStream::new(blob.size, blob.bytes)))
}
