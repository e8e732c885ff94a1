//! Resumable photo uploads (tus 1.0.0) over a real server: a 4 MB photo in three PATCHes with
//! server restarts between them, offsets and checksums, termination, the same checks as the
//! PUT, bodies that trickle or stall, and the size of a photo the phone downsized.

use std::time::Duration;

use base64::Engine;
use rand::{RngCore, SeedableRng};
use reqwest::{Method, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::flow::*;
use crate::helpers::*;
use crate::{both_backends, both_backends_with};

pub const TUS: (&str, &str) = ("Tus-Resumable", "1.0.0");

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A phone photo of exactly `size` bytes: a real JPEG with EXIF taken in the village, followed
/// by a trailer of random bytes after its end (as phones that append motion clips write), so
/// it is as big as a camera's photo, incompressible, and quick to decode.
pub fn photo_of_size(seed: u64, size: usize) -> Vec<u8> {
    let mut bytes = phone_photo(seed, VILLAGE.0, VILLAGE.1, 20);
    assert!(bytes.len() < size);
    let mut trailer = vec![0u8; size - bytes.len()];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut trailer);
    bytes.extend_from_slice(&trailer);
    bytes
}

/// A submitted inspection body whose last photo is `big` (sent by tus); the others go by PUT.
pub async fn inspection_with_big_photo(
    app: &TestApp,
    f: &Field,
    seed: u64,
    big: Vec<u8>,
) -> Submission {
    let d = declare(app, &f.secretary.token, "FIELD-V1", 1).await;
    let mut s = submission(app, &f.inspector.token, &d, VILLAGE, seed).await;
    let last = s.photos.len() - 1;
    s.photos[last].bytes = big;
    s.body["photos"] = Value::Array(s.photos.iter().map(Photo::manifest).collect());
    let res = app
        .put(
            &format!("/api/v1/inspections/{}", s.id),
            &f.inspector.token,
            &s.body,
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    for p in &s.photos[..last] {
        let res = put_photo(app, &f.inspector.token, &s.id, &p.id, p.bytes.clone()).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    s
}

/// The tus client of the test suite (reqwest), against any base URL (the server or a proxy).
pub struct Tus {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Tus {
    pub fn new(base: &str, token: &str) -> Tus {
        Tus {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            base: base.to_owned(),
            token: token.to_owned(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header(TUS.0, TUS.1)
    }

    pub fn metadata(inspection: &str, photo: &Photo, extra: &[(&str, &str)]) -> String {
        let mut pairs = vec![
            format!("inspection_id {}", b64(inspection)),
            format!("photo_id {}", b64(&photo.id)),
            format!("sha256 {}", b64(photo.sha256())),
            format!("filename {}", b64("IMG_0001.jpg")),
        ];
        pairs.extend(extra.iter().map(|(k, v)| format!("{k} {}", b64(v))));
        pairs.join(",")
    }

    pub async fn try_create(&self, length: usize, metadata: &str) -> reqwest::Result<Response> {
        self.request(Method::POST, "/api/v1/uploads")
            .header("Upload-Length", length.to_string())
            .header("Upload-Metadata", metadata)
            .send()
            .await
    }

    /// Creates the upload; its path (from `Location`).
    pub async fn create(&self, inspection: &str, photo: &Photo, extra: &[(&str, &str)]) -> String {
        let res = self
            .try_create(photo.bytes.len(), &Tus::metadata(inspection, photo, extra))
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        assert_eq!(res.headers()["tus-resumable"], "1.0.0");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("/api/v1/uploads/"), "{location}");
        location
    }

    pub async fn try_head(&self, upload: &str) -> reqwest::Result<Response> {
        self.request(Method::HEAD, upload).send().await
    }

    /// The upload's offset (HEAD).
    pub async fn offset(&self, upload: &str) -> u64 {
        let res = self.try_head(upload).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        header_u64(&res, "upload-offset").unwrap()
    }

    pub async fn try_patch(
        &self,
        upload: &str,
        offset: u64,
        bytes: Vec<u8>,
        checksum: bool,
    ) -> reqwest::Result<Response> {
        let mut rb = self
            .request(Method::PATCH, upload)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string());
        if checksum {
            rb = rb.header(
                "Upload-Checksum",
                format!("sha256 {}", b64(Sha256::digest(&bytes))),
            );
        }
        rb.body(bytes).send().await
    }

    pub async fn patch(&self, upload: &str, offset: u64, bytes: &[u8], checksum: bool) -> Response {
        self.try_patch(upload, offset, bytes.to_vec(), checksum)
            .await
            .unwrap()
    }
}

pub fn header_u64(res: &Response, name: &str) -> Option<u64> {
    res.headers().get(name)?.to_str().ok()?.parse().ok()
}

/// The stored original of a photo, as a reviewer downloads it.
pub async fn original(app: &TestApp, token: &str, photo: &str) -> Vec<u8> {
    let res = app
        .get(&format!("/api/v1/photos/{photo}?size=original"), token)
        .await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

async fn received_audits(app: &TestApp, token: &str, inspection: &str) -> usize {
    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=inspection&entity_id={inspection}&limit=200"),
            token,
        )
        .await,
    )
    .await;
    audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "photo.received")
        .count()
}

const FOUR_MB: usize = 4 << 20;

both_backends!(
    a_4mb_photo_in_three_patches_with_restarts_between_arrives_once_and_submits,
    options_announce_the_protocol_and_creation_checks_like_the_put,
    a_chunk_with_a_wrong_checksum_is_460_and_nothing_of_it_is_kept,
    a_finished_upload_replays_and_a_terminated_one_is_gone,
    the_size_before_the_phone_downsized_is_kept_and_shown,
);

async fn a_4mb_photo_in_three_patches_with_restarts_between_arrives_once_and_submits(app: TestApp) {
    let f = field_county(&app).await;
    let big = photo_of_size(71, FOUR_MB);
    let s = inspection_with_big_photo(&app, &f, 71, big.clone()).await;
    let photo = s.photos.last().unwrap();
    let tus = Tus::new(&app.address, &f.inspector.token);
    let upload = tus.create(&s.id, photo, &[]).await;
    assert_eq!(tus.offset(&upload).await, 0);

    let third = FOUR_MB / 3;
    let res = tus.patch(&upload, 0, &big[..third], true).await;
    assert_eq!(res.status(), 204);
    assert_eq!(header_u64(&res, "upload-offset"), Some(third as u64));
    assert!(res.headers().get("fieldstar-photo-status").is_none());

    // A pause, and the server restarts on the same database and data dir.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let app = app.restart(&[]).await;
    let tus = Tus::new(&app.address, &f.inspector.token);
    assert_eq!(tus.offset(&upload).await, third as u64);
    // Anywhere but the offset is a conflict, and changes nothing.
    for wrong in [0, third as u64 - 1, third as u64 + 1] {
        let res = tus
            .patch(&upload, wrong, &big[wrong as usize..2 * third], false)
            .await;
        let problem = assert_problem(res, 409).await;
        assert_eq!(problem["errors"][0]["field"], "Upload-Offset");
    }
    let res = tus
        .patch(&upload, third as u64, &big[third..2 * third], false)
        .await;
    assert_eq!(res.status(), 204);
    let inspection = json_of(
        app.get(&format!("/api/v1/inspections/{}", s.id), &f.inspector.token)
            .await,
    )
    .await;
    assert_eq!(inspection["status"], "awaiting_photos");

    let app = app.restart(&[]).await;
    let tus = Tus::new(&app.address, &f.inspector.token);
    let offset = tus.offset(&upload).await;
    assert_eq!(offset, 2 * third as u64);
    let res = tus
        .patch(&upload, offset, &big[offset as usize..], true)
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(header_u64(&res, "upload-offset"), Some(FOUR_MB as u64));
    assert_eq!(res.headers()["fieldstar-photo-status"], "201");
    assert_eq!(res.headers()["fieldstar-inspection-status"], "submitted");

    assert_eq!(original(&app, &f.reviewer.token, &photo.id).await, big);
    let inspection = json_of(
        app.get(&format!("/api/v1/inspections/{}", s.id), &f.inspector.token)
            .await,
    )
    .await;
    assert_eq!(inspection["status"], "submitted");
    assert_eq!(
        received_audits(&app, &f.admin.token, &s.id).await,
        s.photos.len(),
        "each photo is received exactly once"
    );
    // The partial file is gone once the photo is stored.
    assert_eq!(count_files(&app.data_dir.path().join("uploads")), 0);
    let handle = app.stop_handle();
    handle.stop(false).await;
}

async fn options_announce_the_protocol_and_creation_checks_like_the_put(app: TestApp) {
    let res = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let h = res.headers();
    assert_eq!(h["tus-resumable"], "1.0.0");
    assert_eq!(h["tus-version"], "1.0.0");
    assert_eq!(h["tus-extension"], "creation,termination,checksum");
    assert_eq!(h["tus-checksum-algorithm"], "sha256");
    let max: usize = h["tus-max-size"].to_str().unwrap().parse().unwrap();
    assert_eq!(max, app.state.config.photo_max_bytes);

    let f = field_county(&app).await;
    let s = inspection_with_big_photo(&app, &f, 72, photo_of_size(72, 300_000)).await;
    let photo = s.photos.last().unwrap();
    let tus = Tus::new(&app.address, &f.inspector.token);
    let meta = Tus::metadata(&s.id, photo, &[]);

    // Another protocol version: 412, saying which one this is.
    let res = app
        .request(Method::POST, "/api/v1/uploads", Some(&f.inspector.token))
        .header("Tus-Resumable", "0.2.2")
        .header("Upload-Length", "10")
        .header("Upload-Metadata", &meta)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["tus-resumable"], "1.0.0");
    assert_eq!(res.headers()["tus-version"], "1.0.0");
    assert_eq!(
        assert_problem(res, 412).await["errors"][0]["field"],
        "Tus-Resumable"
    );

    let res = tus.try_create(photo.bytes.len(), "").await.unwrap();
    let problem = assert_problem(res, 422).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "Upload-Metadata.inspection_id",
            "Upload-Metadata.photo_id",
            "Upload-Metadata.sha256"
        ]
    );
    let res = tus
        .try_create(
            photo.bytes.len(),
            &Tus::metadata(&s.id, photo, &[("downsized_from", "big")]),
        )
        .await
        .unwrap();
    assert_eq!(
        assert_problem(res, 422).await["errors"][0]["field"],
        "Upload-Metadata.downsized_from"
    );
    let res = tus
        .try_create(app.state.config.photo_max_bytes + 1, &meta)
        .await
        .unwrap();
    assert_problem(res, 413).await;
    let res = tus
        .request(Method::POST, "/api/v1/uploads")
        .header("Upload-Metadata", &meta)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(res, 400).await["errors"][0]["field"],
        "Upload-Length"
    );
    // Not in the manifest, or not the manifest's bytes.
    let stranger = Photo::new(&photo.item, photo.bytes.clone());
    let res = tus
        .try_create(photo.bytes.len(), &Tus::metadata(&s.id, &stranger, &[]))
        .await
        .unwrap();
    assert_problem(res, 404).await;
    let mut wrong = Photo::new(&photo.item, b"other bytes".to_vec());
    wrong.id = photo.id.clone();
    let res = tus
        .try_create(photo.bytes.len(), &Tus::metadata(&s.id, &wrong, &[]))
        .await
        .unwrap();
    assert_eq!(
        assert_problem(res, 422).await["errors"][0]["field"],
        "Upload-Metadata.sha256"
    );
    // The same scoping as the PUT: a reviewer may not, another county's inspector finds nothing.
    let res = Tus::new(&app.address, &f.reviewer.token)
        .try_create(photo.bytes.len(), &meta)
        .await
        .unwrap();
    assert_problem(res, 403).await;
    let res = app
        .request(Method::POST, "/api/v1/uploads", None)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["tus-resumable"], "1.0.0");

    // Someone else's upload is not found; nor is a PATCH without the tus content type taken.
    let upload = tus.create(&s.id, photo, &[]).await;
    let admin = Tus::new(&app.address, &f.admin.token);
    assert_eq!(admin.try_head(&upload).await.unwrap().status(), 404);
    let res = tus
        .request(Method::PATCH, &upload)
        .header("Content-Type", "image/jpeg")
        .header("Upload-Offset", "0")
        .body(photo.bytes.clone())
        .send()
        .await
        .unwrap();
    assert_problem(res, 415).await;
    let res = app
        .request(Method::HEAD, &upload, Some(&f.inspector.token))
        .header(TUS.0, "2.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    // More bytes than the upload's length: 413, nothing kept.
    let mut long = photo.bytes.clone();
    long.push(0);
    assert_problem(tus.patch(&upload, 0, &long, false).await, 413).await;
    assert_eq!(tus.offset(&upload).await, 0);
}

async fn a_chunk_with_a_wrong_checksum_is_460_and_nothing_of_it_is_kept(app: TestApp) {
    let f = field_county(&app).await;
    let big = photo_of_size(73, 600_000);
    let s = inspection_with_big_photo(&app, &f, 73, big.clone()).await;
    let photo = s.photos.last().unwrap();
    let tus = Tus::new(&app.address, &f.inspector.token);
    let upload = tus.create(&s.id, photo, &[]).await;
    assert_eq!(
        tus.patch(&upload, 0, &big[..100_000], true).await.status(),
        204
    );
    let res = tus
        .request(Method::PATCH, &upload)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "100000")
        .header(
            "Upload-Checksum",
            format!("sha256 {}", b64(Sha256::digest(b"something else"))),
        )
        .body(big[100_000..200_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 460);
    assert_eq!(header_u64(&res, "upload-offset"), Some(100_000));
    let problem = json_of(res).await;
    assert_eq!(problem["errors"][0]["field"], "Upload-Checksum");
    assert_eq!(tus.offset(&upload).await, 100_000);
    let res = tus
        .request(Method::PATCH, &upload)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "100000")
        .header("Upload-Checksum", "md5 AAAA")
        .body(big[100_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(res, 400).await["errors"][0]["field"],
        "Upload-Checksum"
    );

    // Bytes that differ from the announced photo are refused as a whole at the end (460),
    // and the upload starts again from zero; sent right, the photo arrives.
    let mut corrupted = big.clone();
    corrupted[500_000] ^= 1;
    let res = tus
        .patch(&upload, 100_000, &corrupted[100_000..], false)
        .await;
    assert_eq!(res.status(), 460);
    assert_eq!(tus.offset(&upload).await, 0);
    let res = tus.patch(&upload, 0, &big, true).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["fieldstar-photo-status"], "201");
    assert_eq!(original(&app, &f.reviewer.token, &photo.id).await, big);
}

async fn a_finished_upload_replays_and_a_terminated_one_is_gone(app: TestApp) {
    let f = field_county(&app).await;
    let big = photo_of_size(74, 300_000);
    let s = inspection_with_big_photo(&app, &f, 74, big.clone()).await;
    let photo = s.photos.last().unwrap();
    let tus = Tus::new(&app.address, &f.inspector.token);

    // Termination: the upload and its bytes are gone.
    let dropped = tus.create(&s.id, photo, &[]).await;
    assert_eq!(
        tus.patch(&dropped, 0, &big[..1000], false).await.status(),
        204
    );
    let res = tus.request(Method::DELETE, &dropped).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(tus.try_head(&dropped).await.unwrap().status(), 404);
    assert_problem(tus.patch(&dropped, 1000, &big[1000..], false).await, 404).await;

    let upload = tus.create(&s.id, photo, &[]).await;
    let res = tus.patch(&upload, 0, &big, false).await;
    assert_eq!(res.headers()["fieldstar-photo-status"], "201");
    // The last PATCH again (its answer was lost): the same answer, nothing stored twice.
    let res = tus.patch(&upload, big.len() as u64, &[], false).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["fieldstar-photo-status"], "201");
    let head = tus.try_head(&upload).await.unwrap();
    assert_eq!(header_u64(&head, "upload-offset"), Some(big.len() as u64));
    assert_eq!(head.headers()["fieldstar-inspection-status"], "submitted");
    // The photo sent again, by tus or by PUT: an identical replay (200), stored once.
    let again = tus.create(&s.id, photo, &[]).await;
    let res = tus.patch(&again, 0, &big, false).await;
    assert_eq!(res.headers()["fieldstar-photo-status"], "200");
    let res = put_photo(&app, &f.inspector.token, &s.id, &photo.id, big.clone()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        received_audits(&app, &f.admin.token, &s.id).await,
        s.photos.len()
    );
    // Other bytes for the stored photo are a conflict, as with the PUT.
    let mut other = big.clone();
    other[299_999] ^= 1;
    let mut impostor = Photo::new(&photo.item, other.clone());
    impostor.id = photo.id.clone();
    let res = tus
        .try_create(other.len(), &Tus::metadata(&s.id, &impostor, &[]))
        .await
        .unwrap();
    assert_problem(res, 422).await;
}

async fn the_size_before_the_phone_downsized_is_kept_and_shown(app: TestApp) {
    let f = field_county(&app).await;
    let big = photo_of_size(75, 200_000);
    let s = inspection_with_big_photo(&app, &f, 75, big.clone()).await;
    let photo = s.photos.last().unwrap();
    let first = &s.photos[0];
    // By PUT: the header is checked before the body is taken.
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/inspections/{}/photos/{}", s.id, first.id),
            Some(&f.inspector.token),
        )
        .header("Fieldstar-Downsized-From", "4032 by 3024")
        .body(first.bytes.clone())
        .send()
        .await
        .unwrap();
    let problem = assert_problem(res, 422).await;
    assert_eq!(problem["errors"][0]["field"], "Fieldstar-Downsized-From");
    // By tus: the metadata key.
    let tus = Tus::new(&app.address, &f.inspector.token);
    let upload = tus
        .create(&s.id, photo, &[("downsized_from", "4032x3024")])
        .await;
    assert_eq!(tus.patch(&upload, 0, &big, true).await.status(), 204);
    let inspection = json_of(
        app.get(&format!("/api/v1/inspections/{}", s.id), &f.reviewer.token)
            .await,
    )
    .await;
    let photos = inspection["photos"].as_array().unwrap();
    let shown = photos
        .iter()
        .find(|p| p["id"] == photo.id.as_str())
        .unwrap();
    assert_eq!(shown["downsized_from"], "4032x3024");
    let other = photos
        .iter()
        .find(|p| p["id"] == first.id.as_str())
        .unwrap();
    assert!(other.get("downsized_from").is_none(), "{other}");
    // The printable record says it too.
    let record = app
        .get(
            &format!("/api/v1/inspections/{}/record", s.id),
            &f.reviewer.token,
        )
        .await;
    assert_eq!(record.status(), 200);
    let html = record.text().await.unwrap();
    assert!(html.contains("手机端已缩小（原图 4032×3024）"), "{html}");
    assert!(html.contains("downsized on the phone from 4032×3024"));
}

/// Bodies over a slow link: the idle time is short here (3 s) so that a stall shows quickly.
const IDLE: &[(&str, &str)] = &[("FIELDSTAR_BODY_IDLE_SECS", "3")];

both_backends_with!(
    IDLE;
    a_patch_trickling_2_kb_a_second_for_90_seconds_is_never_cut_off,
    a_stalled_patch_is_408_and_keeps_what_arrived,
);

/// Sends `bytes` as a PATCH body of `chunk` bytes every `every`, then stops (`stall`) or ends.
async fn raw_patch(
    tus: &Tus,
    upload: &str,
    offset: usize,
    body: &[u8],
    declared: usize,
    chunk: usize,
    every: Duration,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let token = &tus.token;
    let addr: std::net::SocketAddr = tus.base.trim_start_matches("http://").parse().unwrap();
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(
        format!(
            "PATCH {upload} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n\
             Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\nContent-Length: {declared}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    for piece in body.chunks(chunk) {
        c.write_all(piece).await.unwrap();
        tokio::time::sleep(every).await;
    }
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(30), c.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

async fn a_patch_trickling_2_kb_a_second_for_90_seconds_is_never_cut_off(app: TestApp) {
    let f = field_county(&app).await;
    let big = photo_of_size(76, 300_000);
    let s = inspection_with_big_photo(&app, &f, 76, big.clone()).await;
    let photo = s.photos.last().unwrap();
    let tus = Tus::new(&app.address, &f.inspector.token);
    let upload = tus.create(&s.id, photo, &[]).await;
    // 180 KB at 2 KB/s: 90 s, thirty times the idle time, in one PATCH.
    let part = &big[..180 * 1024];
    let answer = raw_patch(
        &tus,
        &upload,
        0,
        part,
        part.len(),
        1024,
        Duration::from_millis(500),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains(&format!("upload-offset: {}", part.len())),
        "{answer}"
    );
    let res = tus
        .patch(&upload, part.len() as u64, &big[part.len()..], false)
        .await;
    assert_eq!(res.headers()["fieldstar-photo-status"], "201");
}

async fn a_stalled_patch_is_408_and_keeps_what_arrived(app: TestApp) {
    let f = field_county(&app).await;
    let big = photo_of_size(77, 300_000);
    let s = inspection_with_big_photo(&app, &f, 77, big.clone()).await;
    let photo = s.photos.last().unwrap();
    let tus = Tus::new(&app.address, &f.inspector.token);
    let upload = tus.create(&s.id, photo, &[]).await;
    // 50 KB of the whole, then nothing: 408 after the idle time, the 50 KB kept.
    let answer = raw_patch(
        &tus,
        &upload,
        0,
        &big[..50_000],
        big.len(),
        10_000,
        Duration::from_millis(100),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("upload-offset: 50000"),
        "{answer}"
    );
    assert_eq!(tus.offset(&upload).await, 50_000);
    let res = tus.patch(&upload, 50_000, &big[50_000..], true).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["fieldstar-photo-status"], "201");
    assert_eq!(original(&app, &f.reviewer.token, &photo.id).await, big);
}
