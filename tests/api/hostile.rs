//! Hostile uploads: pixel floods, lying and broken files, other formats, wrong labels, slow
//! senders, clients that vanish mid-body, malformed EXIF, polyglots and the real test photos.
//! Each gets a clear answer within seconds and leaves the server healthy, with nothing half-written.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fieldstar::photo::fixtures;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::flow::*;
use crate::helpers::*;
use crate::{all_stores, all_stores_with, both_backends, both_backends_with};

/// An inspection of FIELD-V1 whose manifest has its required photos plus one per `files`.
pub async fn inspection_with(
    app: &TestApp,
    f: &Field,
    files: &[Vec<u8>],
) -> (Submission, Vec<String>) {
    let d = declare(app, &f.secretary.token, "FIELD-V1", 1).await;
    let mut s = submission(app, &f.inspector.token, &d, VILLAGE, 40).await;
    let item = s.photos[0].item.clone();
    let mut ids = Vec::new();
    for bytes in files {
        let id = uuid::Uuid::new_v4().to_string();
        s.body["photos"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": id, "item": item, "sha256": hex::encode(Sha256::digest(bytes))}));
        ids.push(id);
    }
    let res = app
        .put(
            &format!("/api/v1/inspections/{}", s.id),
            &f.inspector.token,
            &s.body,
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    (s, ids)
}

pub async fn upload(
    app: &TestApp,
    token: &str,
    inspection: &str,
    photo: &str,
    bytes: Vec<u8>,
    ct: &str,
) -> (u16, Value, Duration) {
    let t = Instant::now();
    let res = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/inspections/{inspection}/photos/{photo}"),
            Some(token),
        )
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body, t.elapsed())
}

async fn inspection(app: &TestApp, token: &str, id: &str) -> Value {
    json_of(app.get(&format!("/api/v1/inspections/{id}"), token).await).await
}

fn received(ins: &Value, photo: &str) -> bool {
    ins["photos"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == photo && p["received"] == true)
}

async fn originals(app: &TestApp) -> usize {
    app.blobs("original").await
}

async fn ready(app: &TestApp) {
    let res = app
        .client
        .get(app.url("/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

fn host(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

/// Opens a raw connection and sends the headers of a photo PUT declaring `length` bytes.
fn raw_put(addr: &str, path: &str, token: &str, length: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: image/jpeg\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    s
}

fn heic() -> Vec<u8> {
    [
        &[0, 0, 0, 24][..],
        b"ftypheic",
        &[0, 0, 0, 0],
        b"mif1heic",
        &[0u8; 64][..],
    ]
    .concat()
}

all_stores!(
    hostile_files_get_a_clear_4xx_within_seconds_and_leave_nothing,
    the_bytes_decide_the_format_not_the_content_type_header,
    malformed_exif_never_fails_an_upload_and_is_flagged,
    a_polyglot_is_stored_and_only_its_reencoded_copies_are_served_inline
);

async fn hostile_files_get_a_clear_4xx_within_seconds_and_leave_nothing(app: TestApp) {
    let f = field_county(&app).await;
    let good = fixtures::jpeg(800, 600, 3, None);
    let mut truncated = good.clone();
    truncated.truncate(good.len() * 2 / 5);
    let mut corrupt = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43];
    corrupt.extend((0..4000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let mut bmp = b"BM".to_vec();
    bmp.extend([0u8; 200]);
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        (
            "pixel flood PNG 60000x60000",
            fixtures::pixel_flood_png(60000, 60000),
            &[422],
        ),
        (
            "JPEG declaring 60000x60000",
            fixtures::lying_jpeg(60000, 60000),
            &[422],
        ),
        (
            "JPEG declaring 65535x1",
            fixtures::lying_jpeg(65535, 1),
            &[201, 422],
        ),
        ("truncated JPEG", truncated, &[201, 422]),
        ("corrupt JPEG", corrupt, &[422]),
        ("JPEG header only", vec![0xFF, 0xD8, 0xFF], &[422]),
        ("PNG signature only", b"\x89PNG\r\n\x1a\n".to_vec(), &[422]),
        (
            "GIF",
            [&b"GIF89a"[..], &[1, 0, 1, 0, 0, 0, 0, 0x3B][..]].concat(),
            &[415],
        ),
        ("BMP", bmp, &[415]),
        ("HEIC", heic(), &[415]),
        ("text", b"hello, this is not a photo".to_vec(), &[415]),
        ("empty", Vec::new(), &[422]),
    ];
    let files: Vec<Vec<u8>> = cases.iter().map(|c| c.1.clone()).collect();
    let (s, ids) = inspection_with(&app, &f, &files).await;
    let mut stored = 0;
    for ((name, bytes, allowed), id) in cases.into_iter().zip(&ids) {
        let (status, body, took) =
            upload(&app, &f.inspector.token, &s.id, id, bytes, "image/jpeg").await;
        assert!(allowed.contains(&status), "{name}: {status} {body}");
        assert!(took < Duration::from_secs(10), "{name} took {took:?}");
        if status == 201 {
            stored += 1;
        } else {
            assert!(
                body["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{name}: {body}"
            );
        }
        if status == 415 {
            assert!(
                body["detail"].as_str().unwrap().contains("JPEG"),
                "{name}: {body}"
            );
        }
    }
    ready(&app).await;
    let ins = inspection(&app, &f.inspector.token, &s.id).await;
    assert_eq!(ins["status"], "awaiting_photos");
    let received_count = ids.iter().filter(|id| received(&ins, id)).count();
    assert_eq!(received_count, stored);
    assert_eq!(
        originals(&app).await,
        stored,
        "a blob for each stored photo, none for the refused"
    );
}

async fn the_bytes_decide_the_format_not_the_content_type_header(app: TestApp) {
    let f = field_county(&app).await;
    let jpeg = phone_photo(11, VILLAGE.0, VILLAGE.1, 10);
    let png = fixtures::png(300, 200, 12);
    let jpeg2 = phone_photo(13, VILLAGE.0, VILLAGE.1, 10);
    let (s, ids) = inspection_with(&app, &f, &[jpeg.clone(), png.clone(), jpeg2.clone()]).await;
    for ((bytes, label), id) in [
        (jpeg, "text/plain"),
        (png, "image/jpeg"),
        (jpeg2, "application/octet-stream"),
    ]
    .into_iter()
    .zip(&ids)
    {
        let (status, body, _) = upload(&app, &f.inspector.token, &s.id, id, bytes, label).await;
        assert_eq!(status, 201, "labelled {label}: {body}");
    }
    let ins = inspection(&app, &f.inspector.token, &s.id).await;
    assert!(ids.iter().all(|id| received(&ins, id)));
}

async fn malformed_exif_never_fails_an_upload_and_is_flagged(app: TestApp) {
    let f = field_county(&app).await;
    let mut deep = b"II*\0\x08\0\0\0".to_vec();
    deep.extend([0xFF, 0xFF]); // 65535 entries announced, none there
    deep.extend([0x01, 0x01, 0x04, 0x00]);
    let tiffs: Vec<Vec<u8>> = vec![
        b"this is not a TIFF header at all".to_vec(),
        b"II*\0\xF0\xFF\xFF\xFF".to_vec(),
        deep,
        b"MM\0*\0\0\0\x08\0\x05\x01".to_vec(),
        [
            &b"II*\0\x08\0\0\0\x01\0"[..],
            &[
                0x25, 0x88, 0x04, 0x00, 0xFF, 0xFF, 0xFF, 0x0F, 0x40, 0, 0, 0,
            ][..],
            &[0u8; 4][..],
        ]
        .concat(),
        Vec::new(),
    ];
    let files: Vec<Vec<u8>> = tiffs
        .iter()
        .enumerate()
        .map(|(i, t)| fixtures::with_app1(&fixtures::jpeg(400, 300, 60 + i as u64, None), t))
        .collect();
    let (s, ids) = inspection_with(&app, &f, &files).await;
    for (i, (bytes, id)) in files.into_iter().zip(&ids).enumerate() {
        let (status, body, _) =
            upload(&app, &f.inspector.token, &s.id, id, bytes, "image/jpeg").await;
        assert_eq!(status, 201, "malformed EXIF #{i}: {body}");
    }
    let ins = inspection(&app, &f.inspector.token, &s.id).await;
    for id in &ids {
        assert!(received(&ins, id));
        let flagged = ins["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|fl| fl["photo_id"] == id.as_str() && fl["code"] == "photo.no_exif");
        assert!(flagged, "photo {id} is not flagged: {}", ins["flags"]);
    }
}

async fn a_polyglot_is_stored_and_only_its_reencoded_copies_are_served_inline(app: TestApp) {
    let f = field_county(&app).await;
    let mut polyglot = phone_photo(21, VILLAGE.0, VILLAGE.1, 10);
    polyglot
        .extend_from_slice(b"<html><body><script>alert(document.cookie)</script></body></html>");
    let (s, ids) = inspection_with(&app, &f, std::slice::from_ref(&polyglot)).await;
    let (status, body, _) = upload(
        &app,
        &f.inspector.token,
        &s.id,
        &ids[0],
        polyglot.clone(),
        "text/html",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let res = app
        .get(
            &format!("/api/v1/photos/{}?size=original", ids[0]),
            &f.reviewer.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(
        res.bytes().await.unwrap().to_vec(),
        polyglot,
        "the original is kept byte for byte"
    );
    for size in ["display", "thumb"] {
        let res = app
            .get(
                &format!("/api/v1/photos/{}?size={size}", ids[0]),
                &f.reviewer.token,
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        assert!(res.headers().get("content-disposition").is_none());
        let bytes = res.bytes().await.unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"<script"),
            "{size} carries the script"
        );
        assert!(image::load_from_memory(&bytes).is_ok());
    }
}

both_backends_with!(
    &[("FIELDSTAR_BODY_IDLE_SECS", "2"), ("FIELDSTAR_BODY_RATE_WINDOW_SECS", "2")];
    a_slow_sender_is_cut_off_by_the_body_timeout,
);

async fn a_slow_sender_is_cut_off_by_the_body_timeout(app: TestApp) {
    let f = field_county(&app).await;
    let (s, ids) = inspection_with(&app, &f, &[vec![0xFF; 1 << 20]]).await;
    let (addr, path, token) = (
        host(&app),
        format!("/api/v1/inspections/{}/photos/{}", s.id, ids[0]),
        f.inspector.token.clone(),
    );
    let (status, took) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut stream = raw_put(&addr, &path, &token, 1 << 20);
        let mut writer = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            // One byte every 100 ms: a megabyte would take more than a day.
            for _ in 0..200 {
                if writer.write_all(&[0xFF]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        (
            head.split(' ').nth(1).map(str::to_string),
            started.elapsed(),
        )
    })
    .await
    .unwrap();
    assert!(took < Duration::from_secs(8), "the server waited {took:?}");
    assert!(
        took >= Duration::from_millis(1500),
        "cut off after {took:?}, before the timeout"
    );
    // It answers 408, or at least closes the connection.
    assert!(
        status.is_none() || status.as_deref() == Some("408"),
        "{status:?}"
    );
    ready(&app).await;
    assert!(!received(
        &inspection(&app, &f.inspector.token, &s.id).await,
        &ids[0]
    ));
}

all_stores_with!(
    &[("FIELDSTAR_PHOTO_UPLOADS_PER_USER", "100")];
    twenty_clients_vanishing_mid_body_leave_no_row_blob_or_held_connection,
);

async fn twenty_clients_vanishing_mid_body_leave_no_row_blob_or_held_connection(app: TestApp) {
    let f = field_county(&app).await;
    let files: Vec<Vec<u8>> = (0..20)
        .map(|i| phone_photo(300 + i, VILLAGE.0, VILLAGE.1, 10))
        .collect();
    let (s, ids) = inspection_with(&app, &f, &files).await;
    let addr = host(&app);
    let jobs: Vec<_> = files
        .iter()
        .zip(&ids)
        .map(|(bytes, id)| {
            let (addr, token, bytes) = (addr.clone(), f.inspector.token.clone(), bytes.clone());
            let path = format!("/api/v1/inspections/{}/photos/{id}", s.id);
            tokio::task::spawn_blocking(move || {
                let mut stream = raw_put(&addr, &path, &token, bytes.len());
                let _ = stream.write_all(&bytes[..bytes.len() / 2]);
                std::thread::sleep(Duration::from_millis(200));
                drop(stream);
            })
        })
        .collect();
    for j in jobs {
        j.await.unwrap();
    }
    // Give the server a moment to notice the hang-ups.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    ready(&app).await;
    let ins = inspection(&app, &f.inspector.token, &s.id).await;
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "the pool answers at once: {:?}",
        t.elapsed()
    );
    assert!(
        ids.iter().all(|id| !received(&ins, id)),
        "no photo row was completed"
    );
    assert_eq!(originals(&app).await, 0, "no blob was written");
    assert_eq!(
        count_files(&app.data_dir.path().join("tmp")),
        0,
        "no temporary file is left"
    );
    // The pool and the decode slots are all free: every photo now goes through.
    let t = Instant::now();
    for (bytes, id) in files.into_iter().zip(&ids) {
        let (status, body, _) =
            upload(&app, &f.inspector.token, &s.id, id, bytes, "image/jpeg").await;
        assert_eq!(status, 201, "{body}");
    }
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert_eq!(originals(&app).await, 20);
}

/// The real phone photos of `FIELDSTAR_TEST_PHOTOS` (see its README.md), when CI provides them.
fn real_photos() -> Option<std::path::PathBuf> {
    match std::env::var_os("FIELDSTAR_TEST_PHOTOS").map(std::path::PathBuf::from) {
        Some(dir) if dir.is_dir() => Some(dir),
        _ => {
            loud("\n*** hostile::real_photos SKIPPED: FIELDSTAR_TEST_PHOTOS does not name the test photo folder ***\n");
            None
        }
    }
}

/// Positions from the gps/ folder's README.
const GPS: [(&str, f64, f64); 5] = [
    ("DSCN0010.jpg", 43.467448, 11.885127),
    ("DSCN0012.jpg", 43.467157, 11.885395),
    ("DSCN0021.jpg", 43.467082, 11.884538),
    ("DSCN0025.jpg", 43.468365, 11.881635),
    ("DSCN0027.jpg", 43.468442, 11.881515),
];

both_backends!(real_broken_malformed_unsupported_and_gps_photos_get_sound_answers);

async fn real_broken_malformed_unsupported_and_gps_photos_get_sound_answers(app: TestApp) {
    let Some(dir) = real_photos() else { return };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for sub in ["broken", "malformed-exif", "unsupported", "gps"] {
        let mut names: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e != "md"))
            .collect();
        names.sort();
        for p in names {
            files.push((
                format!("{sub}/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read(&p).unwrap(),
            ));
        }
    }
    assert!(files.len() >= 10, "{} files", files.len());
    let f = field_county(&app).await;
    let bytes: Vec<Vec<u8>> = files.iter().map(|(_, b)| b.clone()).collect();
    let (s, ids) = inspection_with(&app, &f, &bytes).await;
    let mut report = Vec::new();
    for ((name, bytes), id) in files.iter().zip(&ids) {
        let (status, body, took) = upload(
            &app,
            &f.inspector.token,
            &s.id,
            id,
            bytes.clone(),
            "image/jpeg",
        )
        .await;
        report.push(format!("{name}: {status} in {took:?}"));
        assert!(status < 500, "{name}: {status} {body}");
        assert!(took < Duration::from_secs(10), "{name} took {took:?}");
        if name.starts_with("unsupported/") {
            assert_eq!(status, 415, "{name}: {body}");
        }
        if name.starts_with("malformed-exif/") || name.starts_with("gps/") {
            assert_eq!(status, 201, "{name}: {body}");
        }
    }
    loud(&format!(
        "real photos ({:?}):\n  {}",
        app.backend,
        report.join("\n  ")
    ));
    let ins = inspection(&app, &f.inspector.token, &s.id).await;
    for (file, lat, lon) in GPS {
        let i = files
            .iter()
            .position(|(n, _)| n == &format!("gps/{file}"))
            .unwrap();
        let p = ins["photos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == ids[i].as_str())
            .unwrap();
        let (plat, plon) = (p["lat"].as_f64().unwrap(), p["lon"].as_f64().unwrap());
        assert!(
            (plat - lat).abs() < 1e-4 && (plon - lon).abs() < 1e-4,
            "{file}: {plat},{plon}"
        );
    }
    ready(&app).await;
}
