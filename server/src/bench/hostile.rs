//! Scenarios with hostile clients: `pixels` (eight concurrent 8000 × 8000 PNG and lossless WebP
//! uploads, for the decoding memory bound) and `soak` (slow bodies, amplifying EXIF, parallel
//! wrong passwords and oversized manifests beside normal inspection traffic).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use image::ImageEncoder;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::scenarios::{county_with_declarations, inspection_body, put_inspection, seeded};
use super::seed;
use super::{drive, expect_success, reset_peak_rss, Bench, BenchArgs, Report};
use crate::photo::fixtures;

/// 8000 × 8000 RGBA, one colour: a 249 KB PNG and a tiny lossless WebP that decode to 256 MB.
fn flood_images() -> Result<(Vec<u8>, Vec<u8>), String> {
    let (w, h) = (8000u32, 8000u32);
    let pixels = image::RgbaImage::from_pixel(w, h, image::Rgba([40, 120, 200, 255]));
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(pixels.as_raw(), w, h, image::ExtendedColorType::Rgba8)
    .map_err(|e| e.to_string())?;
    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .encode(pixels.as_raw(), w, h, image::ExtendedColorType::Rgba8)
        .map_err(|e| e.to_string())?;
    Ok((png, webp))
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Eight (`--concurrency`) uploads at once of 8000 × 8000 PNGs and lossless WebPs, half each.
pub async fn pixels(bench: &Rc<Bench>, args: &BenchArgs) -> Result<Report, String> {
    let rows = args.rows.unwrap_or(args.clients() as u64);
    let (county, villages, declarations) =
        county_with_declarations(bench, 3, rows, rows, "pending").await?;
    let (png, webp) = actix_web::rt::task::spawn_blocking(flood_images)
        .await
        .map_err(|e| format!("making the images crashed: {e}"))??;
    let files = Rc::new([png, webp]);
    let answers = seed::answers(3);
    let mut uploads = Vec::new();
    for n in 0..rows {
        let bytes = &files[(n % 2) as usize];
        let (ins, pid) = (
            uuid::Uuid::new_v4().to_string(),
            uuid::Uuid::new_v4().to_string(),
        );
        let manifest = format!(
            r#"[{{"id":"{pid}","item":"i0000","sha256":"{}"}}]"#,
            sha(bytes)
        );
        let d = &declarations[n as usize];
        let body = inspection_body(&county, &d.id, &villages[d.village], &answers, &manifest);
        put_inspection(bench, &county.inspector.token, &ins, body).await?;
        uploads.push((ins, pid, n));
    }
    let uploads = Rc::new(uploads);
    let token = Rc::new(county.inspector.token.clone());
    reset_peak_rss();
    let bench_ref = bench.clone();
    let files_ref = files.clone();
    let (mut report, _) = drive(args.clients(), args.seconds.max(600.0), rows, move |n| {
        let (uploads, files, token, bench) = (
            uploads.clone(),
            files_ref.clone(),
            token.clone(),
            bench_ref.clone(),
        );
        async move {
            let (ins, pid, seq) = &uploads[n as usize];
            let (body, ct) = if seq % 2 == 0 {
                (files[0].clone(), "image/png")
            } else {
                (files[1].clone(), "image/webp")
            };
            expect_success(
                bench
                    .client
                    .put(bench.url(&format!("/api/v1/inspections/{ins}/photos/{pid}")))
                    .bearer_auth(token.as_str())
                    .header("content-type", ct)
                    .body(body)
                    .send()
                    .await,
            )
            .await
        }
    })
    .await;
    seeded(&mut report, "photo_pixels", "8000x8000");
    seeded(&mut report, "png_bytes", files[0].len());
    seeded(&mut report, "webp_bytes", files[1].len());
    seeded(
        &mut report,
        "decode_budget_mib",
        bench.state.config.decode_budget_mib,
    );
    Ok(report)
}

/// What the hostile clients of the soak did, counted as they go.
#[derive(Default)]
struct Tally {
    slow_opened: Cell<u64>,
    slow_cut_408: Cell<u64>,
    slow_refused_429: Cell<u64>,
    slow_other: Cell<u64>,
    flood_photos: Cell<u64>,
    queue_reads: Cell<u64>,
    queue_max_bytes: Cell<u64>,
    wrong_passwords: Cell<u64>,
    logins_throttled: Cell<u64>,
    manifests_refused: Cell<u64>,
    unexpected: RefCell<Vec<String>>,
}

impl Tally {
    fn bump(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }
    fn unexpected(&self, what: String) {
        let mut u = self.unexpected.borrow_mut();
        if u.len() < 5 {
            u.push(what);
        }
    }
}

/// How many slow-body connections the soak keeps open from its second address.
const SLOW_CONNECTIONS: usize = 100;
/// Photos of the amplifying EXIF file per hostile inspection (the manifest's item bound).
const FLOOD_PER_INSPECTION: u64 = 40;

/// One slow body: login headers declaring 100,000 bytes, then a byte every 5 s, until the
/// server answers (408 when the pace cuts it off, 429 when the address holds too many).
async fn slow_body(server: SocketAddr, tally: Rc<Tally>, stop: Rc<Cell<bool>>) {
    while !stop.get() {
        let socket = match tokio::net::TcpSocket::new_v4() {
            Ok(s) => s,
            Err(_) => return,
        };
        if socket
            .bind("127.0.0.2:0".parse().expect("address"))
            .is_err()
        {
            return;
        }
        let Ok(mut c) = socket.connect(server).await else {
            actix_web::rt::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        Tally::bump(&tally.slow_opened);
        let head = "POST /api/v1/auth/login HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
        if c.write_all(head.as_bytes()).await.is_err() {
            continue;
        }
        let (mut reader, mut writer) = c.into_split();
        let trickle = actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(Duration::from_secs(5)).await;
                if writer.write_all(b" ").await.is_err() {
                    return;
                }
            }
        });
        let mut buf = [0u8; 512];
        let answer = loop {
            if stop.get() {
                break None;
            }
            match tokio::time::timeout(Duration::from_millis(500), reader.read(&mut buf)).await {
                Ok(Ok(n)) => break Some(String::from_utf8_lossy(&buf[..n]).to_string()),
                Ok(Err(_)) => break Some(String::new()),
                Err(_) => continue,
            }
        };
        trickle.abort();
        match answer.as_deref().and_then(|a| a.split(' ').nth(1)) {
            Some("408") => Tally::bump(&tally.slow_cut_408),
            Some("429") => {
                Tally::bump(&tally.slow_refused_429);
                actix_web::rt::time::sleep(Duration::from_secs(1)).await;
            }
            _ if stop.get() => {}
            _ => Tally::bump(&tally.slow_other),
        }
    }
}

/// The soak: normal inspection PUTs (`--concurrency` clients) measured beside hostile clients.
pub async fn soak(bench: &Rc<Bench>, args: &BenchArgs) -> Result<Report, String> {
    let normal_rows = ((args.seconds * 400.0) as u64).max(500);
    let flood_inspections = 40u64;
    let rows = args.rows.unwrap_or(normal_rows) + flood_inspections;
    let (county, villages, declarations) =
        county_with_declarations(bench, args.items, rows.min(20_000), rows, "pending").await?;
    let answers = Rc::new(seed::answers(args.items));
    let flood = Rc::new(fixtures::exif_flood_jpeg(9));
    let server: SocketAddr = bench
        .base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("bench address: {e}"))?;
    let tally = Rc::new(Tally::default());
    let stop = Rc::new(Cell::new(false));
    let mut hostile = Vec::new();
    reset_peak_rss();

    // Slow bodies from 127.0.0.2, beyond that address's connection bound.
    for _ in 0..SLOW_CONNECTIONS {
        hostile.push(actix_web::rt::spawn(slow_body(
            server,
            tally.clone(),
            stop.clone(),
        )));
    }
    // Amplifying EXIF: inspections whose manifests list 40 copies of a 5,459-entry EXIF file.
    {
        let (bench, tally, stop, county, villages, declarations, answers, flood) = (
            bench.clone(),
            tally.clone(),
            stop.clone(),
            county.clone(),
            villages.clone(),
            declarations.clone(),
            answers.clone(),
            flood.clone(),
        );
        hostile.push(actix_web::rt::spawn(async move {
            let sha = sha(&flood);
            for k in 0..flood_inspections {
                if stop.get() {
                    return;
                }
                let d = &declarations[(rows - 1 - k) as usize];
                let ids: Vec<String> = (0..FLOOD_PER_INSPECTION)
                    .map(|_| uuid::Uuid::new_v4().to_string())
                    .collect();
                let manifest = serde_json::to_string(
                    &ids.iter()
                        .map(|id| json!({"id": id, "item": "i0000", "sha256": sha}))
                        .collect::<Vec<_>>(),
                )
                .unwrap_or_default();
                let ins = uuid::Uuid::new_v4().to_string();
                let body =
                    inspection_body(&county, &d.id, &villages[d.village], &answers, &manifest);
                if let Err(e) = put_inspection(&bench, &county.inspector.token, &ins, body).await {
                    tally.unexpected(format!("flood inspection: {e}"));
                    continue;
                }
                for id in &ids {
                    if stop.get() {
                        return;
                    }
                    let res = bench
                        .client
                        .put(bench.url(&format!("/api/v1/inspections/{ins}/photos/{id}")))
                        .bearer_auth(&county.inspector.token)
                        .header("content-type", "image/jpeg")
                        .body(flood.as_ref().clone())
                        .send()
                        .await;
                    match expect_success(res).await {
                        Ok(_) => Tally::bump(&tally.flood_photos),
                        Err(e) => tally.unexpected(format!("flood photo: {e}")),
                    }
                }
            }
        }));
    }
    // A reviewer reading the whole first queue page that the flood fills.
    {
        let (bench, tally, stop, token) = (
            bench.clone(),
            tally.clone(),
            stop.clone(),
            county.reviewer.token.clone(),
        );
        hostile.push(actix_web::rt::spawn(async move {
            while !stop.get() {
                let res = bench
                    .client
                    .get(bench.url("/api/v1/review-queue?limit=200"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                match expect_success(res).await {
                    Ok(bytes) => {
                        Tally::bump(&tally.queue_reads);
                        tally
                            .queue_max_bytes
                            .set(tally.queue_max_bytes.get().max(bytes));
                    }
                    Err(e) => tally.unexpected(format!("queue: {e}")),
                }
                actix_web::rt::time::sleep(Duration::from_secs(1)).await;
            }
        }));
    }
    // Parallel wrong passwords: eight guessers, each at a known and an unknown username.
    let username = {
        let res = bench
            .client
            .get(bench.url("/api/v1/me"))
            .bearer_auth(&county.inspector.token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let me: serde_json::Value = res.json().await.map_err(|e| e.to_string())?;
        me["username"].as_str().unwrap_or("inspector").to_string()
    };
    for g in 0..8 {
        let (bench, tally, stop, username) =
            (bench.clone(), tally.clone(), stop.clone(), username.clone());
        hostile.push(actix_web::rt::spawn(async move {
            let mut n = 0u64;
            while !stop.get() {
                n += 1;
                let user = if n.is_multiple_of(2) {
                    username.clone()
                } else {
                    format!("nobody-{g}-{n}")
                };
                let res = bench
                    .client
                    .post(bench.url("/api/v1/auth/login"))
                    .json(&json!({"username": user, "password": format!("guess-{n}")}))
                    .send()
                    .await;
                match res.map(|r| r.status().as_u16()) {
                    Ok(401) => Tally::bump(&tally.wrong_passwords),
                    Ok(429) => {
                        Tally::bump(&tally.logins_throttled);
                        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                    }
                    Ok(s) => tally.unexpected(format!("wrong password answered {s}")),
                    Err(e) => tally.unexpected(format!("login: {e}")),
                }
            }
        }));
    }
    // Oversized manifests: 200 photo ids of one file, refused with 422.
    {
        let (bench, tally, stop, county, villages, declarations, answers) = (
            bench.clone(),
            tally.clone(),
            stop.clone(),
            county.clone(),
            villages.clone(),
            declarations.clone(),
            answers.clone(),
        );
        hostile.push(actix_web::rt::spawn(async move {
            let manifest = serde_json::to_string(
                &(0..200)
                    .map(|_| json!({"id": uuid::Uuid::new_v4().to_string(), "item": "i0000", "sha256": sha(b"x")}))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default();
            let d = &declarations[(rows - 1 - flood_inspections) as usize];
            let body = inspection_body(&county, &d.id, &villages[d.village], &answers, &manifest);
            while !stop.get() {
                let res = bench
                    .client
                    .put(bench.url(&format!(
                        "/api/v1/inspections/{}",
                        uuid::Uuid::new_v4()
                    )))
                    .bearer_auth(&county.inspector.token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match res.map(|r| r.status().as_u16()) {
                    Ok(422) => Tally::bump(&tally.manifests_refused),
                    Ok(s) => tally.unexpected(format!("a 200-photo manifest answered {s}")),
                    Err(e) => tally.unexpected(format!("manifest: {e}")),
                }
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    // The normal traffic, measured.
    let started = Instant::now();
    let bench_ref = bench.clone();
    let normal = normal_rows.min(rows - flood_inspections - 1);
    let (mut report, _) = drive(args.clients(), args.seconds, normal, move |n| {
        let (county, villages, declarations, answers, bench) = (
            county.clone(),
            villages.clone(),
            declarations.clone(),
            answers.clone(),
            bench_ref.clone(),
        );
        async move {
            let d = &declarations[n as usize];
            let body = inspection_body(&county, &d.id, &villages[d.village], &answers, "[]");
            let id = uuid::Uuid::new_v4().to_string();
            put_inspection(&bench, &county.inspector.token, &id, body).await
        }
    })
    .await;
    stop.set(true);
    for task in hostile {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    // /healthz under the same load: answered, and quickly.
    let t = Instant::now();
    let health = bench
        .client
        .get(bench.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    seeded(&mut report, "healthz_status", health);
    seeded(
        &mut report,
        "healthz_ms",
        super::round(t.elapsed().as_secs_f64() * 1000.0, 1),
    );
    let soak_secs = started.elapsed().as_secs_f64();
    for (key, value) in [
        ("slow_bodies_opened", &tally.slow_opened),
        ("slow_bodies_cut_408", &tally.slow_cut_408),
        ("slow_bodies_refused_429", &tally.slow_refused_429),
        ("slow_bodies_other", &tally.slow_other),
        ("exif_flood_photos", &tally.flood_photos),
        ("queue_reads", &tally.queue_reads),
        ("queue_max_bytes", &tally.queue_max_bytes),
        ("wrong_passwords_401", &tally.wrong_passwords),
        ("logins_throttled_429", &tally.logins_throttled),
        ("manifests_refused_422", &tally.manifests_refused),
    ] {
        seeded(&mut report, key, value.get());
    }
    seeded(&mut report, "soak_seconds", super::round(soak_secs, 1));
    let unexpected = tally.unexpected.borrow().clone();
    if !unexpected.is_empty() {
        seeded(&mut report, "hostile_unexpected", unexpected);
    }
    Ok(report)
}
