//! Resumable photo uploads: tus 1.0.0 (core, creation, termination, checksum with sha256) at
//! `/api/v1/uploads`. The bytes so far wait on the local disk; the last one sends the photo
//! through `upload::store`, exactly as `PUT …/photos/{photo_id}` does.

use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{delete, patch, post, route, web, HttpRequest, HttpResponse, ResponseError};
use base64::Engine;
use diesel::prelude::*;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::upload::{self, Body, Downsized};
use crate::auth::{AuthUser, Role};
use crate::clock::now;
use crate::db::schema::uploads;
use crate::error::{ApiError, ApiResult, FieldError, OrNotFound, Problem};
use crate::i18n::Rule;
use crate::ids::{InspectionId, PhotoId};
use crate::state::AppState;

/// The protocol version this server speaks (the only one).
pub const TUS_VERSION: &str = "1.0.0";
/// The tus extensions served.
pub const EXTENSIONS: &str = "creation,termination,checksum";
/// An upload not finished within this time is removed with its bytes.
pub const EXPIRY_HOURS: i64 = 24;
/// Unfinished uploads one user may hold at once (each up to the photo size limit on disk).
pub const MAX_OPEN_PER_USER: i64 = 32;
/// The status tus gives a chunk whose `Upload-Checksum` does not match its bytes.
pub const CHECKSUM_MISMATCH: u16 = 460;
/// How long a request waits for another request on the same upload to finish.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The request headers of the protocol.
pub mod headers {
    pub const TUS_RESUMABLE: &str = "tus-resumable";
    pub const TUS_VERSION: &str = "tus-version";
    pub const TUS_EXTENSION: &str = "tus-extension";
    pub const TUS_MAX_SIZE: &str = "tus-max-size";
    pub const TUS_CHECKSUM_ALGORITHM: &str = "tus-checksum-algorithm";
    pub const UPLOAD_LENGTH: &str = "upload-length";
    pub const UPLOAD_OFFSET: &str = "upload-offset";
    pub const UPLOAD_METADATA: &str = "upload-metadata";
    pub const UPLOAD_CHECKSUM: &str = "upload-checksum";
    pub const UPLOAD_EXPIRES: &str = "upload-expires";
    pub const UPLOAD_DEFER_LENGTH: &str = "upload-defer-length";
    /// On a finished upload: the photo's status code (201 stored, 200 identical replay).
    pub const PHOTO_STATUS: &str = "fieldstar-photo-status";
    /// On a finished upload: the inspection's status after the photo.
    pub const INSPECTION_STATUS: &str = "fieldstar-inspection-status";
}

/// What `Upload-Metadata` says the upload is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub inspection_id: String,
    pub photo_id: String,
    pub sha256: String,
    pub downsized_from: Option<Downsized>,
}

impl Metadata {
    /// Parses `key base64,key base64,…` (tus), needing `inspection_id`, `photo_id` and `sha256`
    /// (64 hex digits); `downsized_from` (`4032x3024`) is optional, other keys are ignored
    /// (clients add `filename`, `filetype`). Every problem names its key.
    pub fn parse(header: &str) -> Result<Metadata, Vec<FieldError>> {
        let mut values: HashMap<&str, String> = HashMap::new();
        let mut errors = Vec::new();
        for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
            let field = format!("Upload-Metadata.{key}");
            match base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .ok()
                .and_then(|v| String::from_utf8(v).ok())
            {
                Some(v) => {
                    values.insert(key, v);
                }
                None => errors.push(FieldError::new(field, Rule::Base64Utf8)),
            }
        }
        let mut take = |key: &str, check: fn(&str) -> bool, rule: Rule| match values
            .remove(key)
            .map(|v| v.trim().to_ascii_lowercase())
        {
            Some(v) if check(&v) => Some(v),
            Some(_) => {
                errors.push(FieldError::new(format!("Upload-Metadata.{key}"), rule));
                None
            }
            None => {
                errors.push(FieldError::new(
                    format!("Upload-Metadata.{key}"),
                    Rule::Required,
                ));
                None
            }
        };
        let id_like = |v: &str| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let inspection_id = take("inspection_id", id_like, Rule::InspectionIdOf);
        let photo_id = take("photo_id", id_like, Rule::PhotoIdOf);
        let sha256 = take(
            "sha256",
            |v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()),
            Rule::PhotoSha256,
        );
        let downsized_from = match values.get("downsized_from") {
            None => None,
            Some(v) => match Downsized::parse(v) {
                Some(d) => Some(d),
                None => {
                    errors.push(FieldError::new(
                        "Upload-Metadata.downsized_from",
                        Rule::DownsizedFrom,
                    ));
                    None
                }
            },
        };
        match (inspection_id, photo_id, sha256) {
            (Some(inspection_id), Some(photo_id), Some(sha256)) if errors.is_empty() => {
                Ok(Metadata {
                    inspection_id,
                    photo_id,
                    sha256,
                    downsized_from,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Parses `Upload-Checksum: sha256 <base64 of the 32-byte digest>`.
pub fn parse_checksum(header: &str) -> ApiResult<[u8; 32]> {
    let field = |rule: Rule| {
        ApiError::bad_request("bad_checksum", rule)
            .with_errors(vec![FieldError::new("Upload-Checksum", rule)])
    };
    let (algorithm, digest) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| field(Rule::ChecksumHeader))?;
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(field(Rule::ChecksumAlgorithm));
    }
    base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .ok()
        .and_then(|d| <[u8; 32]>::try_from(d).ok())
        .ok_or_else(|| field(Rule::ChecksumDigest))
}

/// One upload as stored.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = uploads)]
pub struct UploadRow {
    pub id: String,
    pub user_id: String,
    pub county_id: String,
    pub inspection_id: String,
    pub photo_id: String,
    pub length: i64,
    pub upload_offset: i64,
    pub sha256: String,
    pub downsized_from: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub expires_at: chrono::NaiveDateTime,
    pub completed_at: Option<chrono::NaiveDateTime>,
    /// On a finished upload: `<photo status> <inspection status>` (`201 submitted`).
    pub outcome: Option<String>,
}

fn dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("uploads")
}

fn file_of(state: &AppState, id: &str) -> PathBuf {
    dir(state).join(id)
}

/// One lock per upload in this process: a PATCH appends alone, and a HEAD after a cut
/// connection waits for the cut PATCH to record its bytes.
fn lock_of(id: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if locks.len() > 1024 {
        locks.retain(|_, l| Arc::strong_count(l) > 1);
    }
    locks.entry(id.to_ascii_lowercase()).or_default().clone()
}

/// Every tus answer, errors included, says which protocol it speaks.
fn answer(result: ApiResult<HttpResponse>) -> HttpResponse {
    let mut res = result.unwrap_or_else(|e| e.error_response());
    let refused = res.status() == StatusCode::PRECONDITION_FAILED;
    let h = res.headers_mut();
    if refused {
        h.insert(
            header::HeaderName::from_static(headers::TUS_VERSION),
            header::HeaderValue::from_static(TUS_VERSION),
        );
    }
    h.insert(
        header::HeaderName::from_static(headers::TUS_RESUMABLE),
        header::HeaderValue::from_static(TUS_VERSION),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// 412 unless the request speaks tus 1.0.0.
fn check_version(headers: &HeaderMap) -> ApiResult<()> {
    match headers.get(headers::TUS_RESUMABLE).map(|v| v.to_str()) {
        Some(Ok(TUS_VERSION)) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "tus_version",
            format!("this server speaks tus {TUS_VERSION}: send `Tus-Resumable: {TUS_VERSION}`"),
        )
        .with_errors(vec![FieldError::new(
            "Tus-Resumable",
            Rule::MustBe.with("value", TUS_VERSION),
        )])),
    }
}

fn number_header(headers: &HeaderMap, name: &str, field: &str) -> ApiResult<Option<i64>> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("bad_header", format!("{field} must be a whole number"))
                        .with_errors(vec![FieldError::new(field, Rule::WholeNumber)])
                })
        })
        .transpose()
}

/// Announces the protocol: version, extensions, the size limit and the checksum algorithm.
#[utoipa::path(
    options,
    path = "/api/v1/uploads",
    tag = "uploads",
    responses((status = 204, description = "What the server supports", headers(
        ("Tus-Resumable" = String, description = "1.0.0"),
        ("Tus-Version" = String, description = "1.0.0"),
        ("Tus-Extension" = String, description = "creation,termination,checksum"),
        ("Tus-Max-Size" = i64, description = "The photo size limit in bytes"),
        ("Tus-Checksum-Algorithm" = String, description = "sha256")
    )), (status = 429, body = Problem, description = "Too many connections from this address"))
)]
#[route("/api/v1/uploads", method = "OPTIONS")]
pub async fn options_uploads(state: web::Data<AppState>) -> HttpResponse {
    answer(Ok(HttpResponse::NoContent()
        .insert_header((headers::TUS_VERSION, TUS_VERSION))
        .insert_header((headers::TUS_EXTENSION, EXTENSIONS))
        .insert_header((
            headers::TUS_MAX_SIZE,
            state.config.photo_max_bytes.to_string(),
        ))
        .insert_header((headers::TUS_CHECKSUM_ALGORITHM, "sha256"))
        .finish()))
}

/// Starts an upload of one photo of an inspection's manifest (`Upload-Metadata`:
/// `inspection_id`, `photo_id`, `sha256` in hex, optional `downsized_from` = `4032x3024`; each
/// value base64). Same scoping, checks and limits as `PUT …/photos/{photo_id}`. The upload
/// expires after 24 hours.
#[utoipa::path(
    post,
    path = "/api/v1/uploads",
    tag = "uploads",
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = i64, Header, description = "The photo's size in bytes"),
        ("Upload-Metadata" = String, Header, description = "`inspection_id <b64>,photo_id <b64>,sha256 <b64 of the hex digest>[,downsized_from <b64 of WxH>]`")
    ),
    responses(
        (status = 201, description = "Created: `Location` is the upload's URL", headers(
            ("Location" = String, description = "/api/v1/uploads/{id}"),
            ("Upload-Expires" = String, description = "When the unfinished upload is removed (RFC 7231 date)")
        )),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The inspection no longer takes photos"),
        (status = 412, body = Problem, description = "Not tus 1.0.0"),
        (status = 413, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "Over the user's upload quota or open uploads; see Retry-After")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/uploads")]
pub async fn create_upload(
    state: web::Data<AppState>,
    user: Result<AuthUser, ApiError>,
    req: HttpRequest,
) -> HttpResponse {
    answer(create(&state, user, &req).await)
}

async fn create(
    state: &AppState,
    user: Result<AuthUser, ApiError>,
    req: &HttpRequest,
) -> ApiResult<HttpResponse> {
    let user = user?;
    check_version(req.headers())?;
    user.require(&[Role::Inspector, Role::Admin])?;
    if req.headers().contains_key(headers::UPLOAD_DEFER_LENGTH) {
        return Err(ApiError::field("Upload-Defer-Length", Rule::DeferLength));
    }
    let length = number_header(req.headers(), headers::UPLOAD_LENGTH, "Upload-Length")?
        .ok_or_else(|| {
            ApiError::bad_request("bad_header", "Upload-Length is required")
                .with_errors(vec![FieldError::new("Upload-Length", Rule::Required)])
        })?;
    let meta = Metadata::parse(
        req.headers()
            .get(headers::UPLOAD_METADATA)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    )
    .map_err(ApiError::validation)?;
    let max = state.config.photo_max_bytes;
    if length > max as i64 {
        return Err(upload::too_large(max));
    }
    if length == 0 {
        return Err(ApiError::field(
            "Upload-Length",
            Rule::AtLeast.with("min", 1),
        ));
    }
    let target = upload::locate(
        state,
        &user,
        &InspectionId::new(&meta.inspection_id),
        &PhotoId::new(&meta.photo_id),
    )
    .await?;
    if meta.sha256 != target.photo.expected_sha256 {
        return Err(ApiError::unprocessable(
            "sha256_mismatch",
            format!(
                "Upload-Metadata says {}, the manifest says {}",
                meta.sha256, target.photo.expected_sha256
            ),
        )
        .with_errors(vec![FieldError::new(
            "Upload-Metadata.sha256",
            Rule::ManifestMismatch,
        )]));
    }
    upload::check_open(&target)?;
    // The byte budget is checked now (charged as the bytes arrive).
    drop(state.upload_quota.begin(&user.id, Some(length as usize))?);
    let t = now();
    let row = UploadRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.id.clone(),
        county_id: target.inspection.county_id.clone(),
        inspection_id: target.inspection.id.clone(),
        photo_id: target.photo.id.clone(),
        length,
        upload_offset: 0,
        sha256: meta.sha256,
        downsized_from: meta.downsized_from.map(|d| d.to_string()),
        created_at: t,
        expires_at: t + chrono::Duration::hours(EXPIRY_HOURS),
        completed_at: None,
        outcome: None,
    };
    std::fs::create_dir_all(dir(state))?;
    std::fs::File::create(file_of(state, &row.id))?;
    let inserted = {
        let row = row.clone();
        state
            .db
            .write(move |conn| {
                let open: i64 = uploads::table
                    .filter(uploads::user_id.eq(&row.user_id))
                    .filter(uploads::completed_at.is_null())
                    .count()
                    .get_result(conn)?;
                if open >= MAX_OPEN_PER_USER {
                    let mut e = ApiError::too_many_requests(60);
                    e.code = "upload_quota";
                    e.detail = format!(
                        "at most {MAX_OPEN_PER_USER} unfinished uploads per user; finish or \
                         delete some"
                    );
                    return Err(e);
                }
                diesel::insert_into(uploads::table)
                    .values(&row)
                    .execute(conn)?;
                Ok(())
            })
            .await
    };
    if let Err(e) = inserted {
        let _ = std::fs::remove_file(file_of(state, &row.id));
        return Err(e);
    }
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/uploads/{}", row.id)))
        .insert_header((headers::UPLOAD_EXPIRES, http_date(row.expires_at)))
        .finish())
}

fn http_date(t: chrono::NaiveDateTime) -> String {
    t.and_utc().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The caller's unexpired upload (404 for anyone else's, or once it expired).
async fn find(state: &AppState, user: &AuthUser, id: &str) -> ApiResult<UploadRow> {
    let (id, user_id) = (id.to_ascii_lowercase(), user.id.clone());
    state
        .db
        .read(move |conn| {
            uploads::table
                .filter(uploads::id.eq(&id))
                .filter(uploads::user_id.eq(&user_id))
                .filter(uploads::expires_at.gt(now()))
                .select(UploadRow::as_select())
                .first(conn)
                .optional()
                .or_not_found("upload")
        })
        .await
}

fn offset_headers(res: &mut HttpResponse, row: &UploadRow) {
    let h = res.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            h.insert(header::HeaderName::from_static(name), v);
        }
    };
    put(headers::UPLOAD_OFFSET, row.upload_offset.to_string());
    put(headers::UPLOAD_LENGTH, row.length.to_string());
    put(headers::UPLOAD_EXPIRES, http_date(row.expires_at));
    if let Some((photo, inspection)) = row.outcome.as_deref().and_then(|o| o.split_once(' ')) {
        put(headers::PHOTO_STATUS, photo.to_owned());
        put(headers::INSPECTION_STATUS, inspection.to_owned());
    }
}

/// How far an upload has come: `Upload-Offset` bytes of `Upload-Length`. Waits a moment for a
/// PATCH still being received on the same upload (a connection just cut).
#[utoipa::path(
    head,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    params(("id" = String, Path, description = "The upload's id (from `Location`)"), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        (status = 200, description = "The upload's offset", headers(
            ("Upload-Offset" = i64, description = "Bytes received so far"),
            ("Upload-Length" = i64, description = "The photo's size"),
            ("Fieldstar-Photo-Status" = i64, description = "Once finished: 201 stored, 200 identical replay"),
            ("Fieldstar-Inspection-Status" = String, description = "Once finished: the inspection's status")
        )),
        (status = 404, description = "No such upload of the caller's, or expired"),
        (status = 412, description = "Not tus 1.0.0")
    ),
    security(("bearer" = []))
)]
#[route("/api/v1/uploads/{id}", method = "HEAD")]
pub async fn head_upload(
    state: web::Data<AppState>,
    user: Result<AuthUser, ApiError>,
    id: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    answer(
        async {
            let user = user?;
            check_version(req.headers())?;
            let lock = lock_of(&id);
            let _held = tokio::time::timeout(LOCK_WAIT, lock.lock()).await.ok();
            let row = find(&state, &user, &id).await?;
            let mut res = HttpResponse::Ok().finish();
            offset_headers(&mut res, &row);
            Ok(res)
        }
        .await,
    )
}

/// Appends the body at `Upload-Offset` (409 at any other offset). With `Upload-Checksum:
/// sha256 <base64>` the chunk is verified (460 and nothing kept on a mismatch or a cut body);
/// without it, whatever arrived before a cut or a stall (408) is kept. The last byte sends the
/// photo through the same pipeline as `PUT …/photos/{photo_id}`: its answer is this one's
/// (204 with `Fieldstar-Photo-Status`, or the PUT's problem).
#[utoipa::path(
    patch,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    params(
        ("id" = String, Path, description = "The upload's id (from `Location`)"),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = i64, Header, description = "Where these bytes go: the offset HEAD answered"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha256 <base64 digest of this chunk>`")
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream", description = "The next bytes of the photo"),
    responses(
        (status = 204, description = "Appended", headers(
            ("Upload-Offset" = i64, description = "The new offset"),
            ("Fieldstar-Photo-Status" = i64, description = "Once finished: 201 stored, 200 identical replay"),
            ("Fieldstar-Inspection-Status" = String, description = "Once finished: the inspection's status")
        )),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 408, body = Problem, description = "The body stalled; the bytes received are kept (see Upload-Offset)"),
        (status = 409, body = Problem, description = "Upload-Offset is not the upload's offset, or the photo is stored with other bytes"),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem), (status = 423, body = Problem, description = "Another request is appending to this upload"),
        (status = 429, body = Problem),
        (status = 460, body = Problem, description = "Checksum mismatch: the chunk (or the whole photo against its sha256) is refused")
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/uploads/{id}")]
pub async fn patch_upload(
    state: web::Data<AppState>,
    user: Result<AuthUser, ApiError>,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    answer(append(&state, user, &id, &req, payload).await)
}

async fn append(
    state: &AppState,
    user: Result<AuthUser, ApiError>,
    id: &str,
    req: &HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let user = user?;
    check_version(req.headers())?;
    user.require(&[Role::Inspector, Role::Admin])?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/offset+octet-stream")
    }) {
        return Err(ApiError::unsupported_media(
            "a tus PATCH is Content-Type: application/offset+octet-stream",
        ));
    }
    let offset = number_header(req.headers(), headers::UPLOAD_OFFSET, "Upload-Offset")?
        .ok_or_else(|| {
            ApiError::bad_request("bad_header", "Upload-Offset is required")
                .with_errors(vec![FieldError::new("Upload-Offset", Rule::Required)])
        })?;
    let checksum = req
        .headers()
        .get(headers::UPLOAD_CHECKSUM)
        .map(|v| parse_checksum(v.to_str().unwrap_or("")))
        .transpose()?;
    let declared = number_header(
        req.headers(),
        header::CONTENT_LENGTH.as_str(),
        "Content-Length",
    )?;

    let lock = lock_of(id);
    let _held = tokio::time::timeout(LOCK_WAIT, lock.lock())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::LOCKED,
                "upload_busy",
                "another request is appending to this upload; retry after it ends",
            )
        })?;
    let mut row = find(state, &user, id).await?;
    let path = file_of(state, &row.id);
    if row.completed_at.is_some() {
        if offset != row.length {
            return Err(offset_conflict(&row, offset));
        }
        let mut res = HttpResponse::NoContent().finish();
        offset_headers(&mut res, &row);
        return Ok(res);
    }
    // The bytes are on this machine's disk; a lost file (another node, a restored backup)
    // starts the upload again from zero.
    let on_disk = std::fs::metadata(&path).map(|m| m.len() as i64).ok();
    if on_disk.is_none_or(|n| n < row.upload_offset) {
        std::fs::create_dir_all(dir(state))?;
        std::fs::File::create(&path)?;
        row.upload_offset = 0;
        save_offset(state, &row.id, 0).await?;
    }
    if offset != row.upload_offset {
        return Err(offset_conflict(&row, offset));
    }
    let room = row.length - row.upload_offset;
    if declared.is_some_and(|n| n > room) {
        return Err(ApiError::too_large(format!(
            "the upload has {room} bytes left of {}",
            row.length
        )));
    }
    let slot = state
        .upload_quota
        .begin(&user.id, declared.map(|n| n as usize))?;

    let mut file = std::fs::OpenOptions::new().write(true).open(&path)?;
    // A tail beyond the recorded offset (a crash before the offset was saved) is dropped.
    file.set_len(row.upload_offset as u64)?;
    file.seek(SeekFrom::Start(row.upload_offset as u64))?;
    let mut hasher = Sha256::new();
    let mut received: i64 = 0;
    let mut failure: Option<ApiError> = None;
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(chunk) => {
                if received + chunk.len() as i64 > room {
                    failure = Some(ApiError::too_large(format!(
                        "the upload has {room} bytes left of {}",
                        row.length
                    )));
                    received = 0;
                    break;
                }
                if let Err(e) = file.write_all(&chunk) {
                    failure = Some(e.into());
                    received = 0;
                    break;
                }
                hasher.update(&chunk);
                received += chunk.len() as i64;
            }
            Err(e) => {
                failure = Some(crate::http::pace::body_error(e, "the upload's body"));
                // Bytes that cannot be checked are not kept.
                if checksum.is_some() {
                    received = 0;
                }
                break;
            }
        }
    }
    slot.charge(received as usize);
    if failure.is_none() {
        if let Some(expected) = checksum {
            if hasher.finalize()[..] != expected[..] {
                received = 0;
                failure = Some(ApiError::new(
                    StatusCode::from_u16(CHECKSUM_MISMATCH).unwrap_or(StatusCode::BAD_REQUEST),
                    "checksum_mismatch",
                    "the chunk's bytes do not match its Upload-Checksum; nothing of it was kept",
                ).with_errors(vec![FieldError::new("Upload-Checksum", Rule::BytesMismatch)]));
            }
        }
    }
    file.set_len((row.upload_offset + received) as u64)?;
    file.sync_data()?;
    drop(file);
    row.upload_offset += received;
    if received > 0 {
        save_offset(state, &row.id, row.upload_offset).await?;
    }
    if let Some(e) = failure {
        let mut res = e.error_response();
        offset_headers(&mut res, &row);
        return Ok(res);
    }
    if row.upload_offset == row.length {
        return finish(state, &user, row, path).await;
    }
    let mut res = HttpResponse::NoContent().finish();
    offset_headers(&mut res, &row);
    Ok(res)
}

fn offset_conflict(row: &UploadRow, offset: i64) -> ApiError {
    ApiError::conflict(
        "upload_offset",
        format!(
            "Upload-Offset is {offset}, the upload is at {}: ask HEAD and send from there",
            row.upload_offset
        ),
    )
    .with_errors(vec![FieldError::new(
        "Upload-Offset",
        Rule::MustBe.with("value", row.upload_offset),
    )])
}

async fn save_offset(state: &AppState, id: &str, offset: i64) -> ApiResult<()> {
    let id = id.to_owned();
    state
        .db
        .write(move |conn| {
            diesel::update(uploads::table.find(&id))
                .set(uploads::upload_offset.eq(offset))
                .execute(conn)?;
            Ok(())
        })
        .await
}

/// The last byte arrived: check the whole photo against its sha256, then store it as the PUT
/// does. A refusal the client cannot mend by retrying (4xx but 408 and 429) ends the upload.
async fn finish(
    state: &AppState,
    user: &AuthUser,
    mut row: UploadRow,
    path: PathBuf,
) -> ApiResult<HttpResponse> {
    let body = Body::from_file(std::fs::File::open(&path)?)?;
    if body.sha256 != row.sha256 {
        // The bytes are not the photo announced: start again from zero.
        std::fs::File::create(&path)?;
        save_offset(state, &row.id, 0).await?;
        return Err(ApiError::new(
            StatusCode::from_u16(CHECKSUM_MISMATCH).unwrap_or(StatusCode::BAD_REQUEST),
            "checksum_mismatch",
            format!(
                "the bytes received hash to {}, Upload-Metadata says {}; the upload starts \
                 again from offset 0",
                body.sha256, row.sha256
            ),
        )
        .with_errors(vec![FieldError::new(
            "Upload-Metadata.sha256",
            Rule::BytesMismatch,
        )]));
    }
    let downsized = row.downsized_from.as_deref().and_then(Downsized::parse);
    let stored = match upload::locate(
        state,
        user,
        &InspectionId::new(&row.inspection_id),
        &PhotoId::new(&row.photo_id),
    )
    .await
    {
        Ok(target) => upload::store(state, user, target, body, downsized).await,
        Err(e) => Err(e),
    };
    match stored {
        Ok(outcome) => {
            let status = if outcome.created { 201 } else { 200 };
            row.completed_at = Some(now());
            row.outcome = Some(format!("{status} {}", outcome.view.inspection_status));
            let done = row.clone();
            state
                .db
                .write(move |conn| {
                    diesel::update(uploads::table.find(&done.id))
                        .set((
                            uploads::completed_at.eq(done.completed_at),
                            uploads::outcome.eq(&done.outcome),
                        ))
                        .execute(conn)?;
                    Ok(())
                })
                .await?;
            let _ = std::fs::remove_file(&path);
            let mut res = HttpResponse::NoContent().finish();
            offset_headers(&mut res, &row);
            Ok(res)
        }
        Err(e) => {
            let retry = e.status.is_server_error() || matches!(e.status.as_u16(), 408 | 423 | 429);
            if !retry {
                remove(state, &row.id).await;
            }
            Err(e)
        }
    }
}

/// Removes an upload's row and bytes.
async fn remove(state: &AppState, id: &str) {
    let key = id.to_owned();
    let _ = state
        .db
        .write(move |conn| {
            diesel::delete(uploads::table.find(&key)).execute(conn)?;
            Ok(())
        })
        .await;
    let _ = std::fs::remove_file(file_of(state, id));
}

/// Ends an upload and removes its bytes (tus termination). A photo it already delivered stays.
#[utoipa::path(
    delete,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    params(("id" = String, Path, description = "The upload's id"), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 423, body = Problem, description = "Another request is appending to this upload")
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/uploads/{id}")]
pub async fn delete_upload(
    state: web::Data<AppState>,
    user: Result<AuthUser, ApiError>,
    id: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    answer(
        async {
            let user = user?;
            check_version(req.headers())?;
            let lock = lock_of(&id);
            let _held = tokio::time::timeout(LOCK_WAIT, lock.lock())
                .await
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::LOCKED,
                        "upload_busy",
                        "another request is appending to this upload",
                    )
                })?;
            let row = find(&state, &user, &id).await?;
            remove(&state, &row.id).await;
            Ok(HttpResponse::NoContent().finish())
        }
        .await,
    )
}

/// Removes expired uploads with their bytes, and files under `uploads/` that no row names (a
/// crash between the file and the row). Run at start-up and hourly.
pub async fn sweep_expired(state: &AppState) -> Result<usize, String> {
    let expired: Vec<String> = state
        .db
        .write(|conn| {
            let ids: Vec<String> = uploads::table
                .filter(uploads::expires_at.le(now()))
                .select(uploads::id)
                .load(conn)?;
            diesel::delete(uploads::table.filter(uploads::id.eq_any(&ids))).execute(conn)?;
            Ok(ids)
        })
        .await
        .map_err(|e| e.detail)?;
    let mut removed = 0;
    for id in &expired {
        let _ = std::fs::remove_file(file_of(state, id));
        removed += 1;
    }
    let Ok(entries) = std::fs::read_dir(dir(state)) else {
        return Ok(removed);
    };
    let cutoff = std::time::SystemTime::now() - Duration::from_secs(600);
    let stale: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < cutoff)
        })
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    if stale.is_empty() {
        return Ok(removed);
    }
    let wanted = stale.clone();
    let known: Vec<String> = state
        .db
        .read(move |conn| {
            Ok(uploads::table
                .filter(uploads::id.eq_any(&wanted))
                .select(uploads::id)
                .load(conn)?)
        })
        .await
        .map_err(|e| e.detail)?;
    for name in stale.iter().filter(|n| !known.contains(n)) {
        if std::fs::remove_file(dir(state).join(name)).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn metadata_needs_inspection_photo_and_sha256() {
        let sha = "ab".repeat(32);
        let header = format!(
            "filename {},inspection_id {},photo_id {},sha256 {},downsized_from {}",
            b64("IMG_1.jpg"),
            b64("0193A1B2-0000-7000-8000-000000000001"),
            b64("p1"),
            b64(&sha.to_uppercase()),
            b64("4032x3024")
        );
        let m = Metadata::parse(&header).unwrap();
        assert_eq!(m.inspection_id, "0193a1b2-0000-7000-8000-000000000001");
        assert_eq!(
            (m.photo_id.as_str(), m.sha256.as_str()),
            ("p1", sha.as_str())
        );
        assert_eq!(
            m.downsized_from.map(|d| d.to_string()).as_deref(),
            Some("4032x3024")
        );

        let fields = |h: &str| -> Vec<String> {
            Metadata::parse(h)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(
            fields(""),
            [
                "Upload-Metadata.inspection_id",
                "Upload-Metadata.photo_id",
                "Upload-Metadata.sha256"
            ]
        );
        let bad_sha = format!(
            "inspection_id {},photo_id {},sha256 {}",
            b64("i"),
            b64("p"),
            b64("12")
        );
        assert_eq!(fields(&bad_sha), ["Upload-Metadata.sha256"]);
        let not_b64 = format!(
            "inspection_id !!,photo_id {},sha256 {}",
            b64("p"),
            b64(&sha)
        );
        assert!(fields(&not_b64).contains(&"Upload-Metadata.inspection_id".to_owned()));
        let bad_size = format!(
            "inspection_id {},photo_id {},sha256 {},downsized_from {}",
            b64("i"),
            b64("p"),
            b64(&sha),
            b64("big")
        );
        assert_eq!(fields(&bad_size), ["Upload-Metadata.downsized_from"]);
    }

    #[test]
    fn checksums_are_sha256_in_base64() {
        let digest = Sha256::digest(b"abc");
        let header = format!(
            "sha256 {}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert_eq!(parse_checksum(&header).unwrap()[..], digest[..]);
        for bad in [
            "sha256",
            "md5 AAAA",
            "sha256 !!",
            "sha256 AAAA",
            "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
        ] {
            assert_eq!(
                parse_checksum(bad).unwrap_err().status.as_u16(),
                400,
                "{bad}"
            );
        }
    }
}
