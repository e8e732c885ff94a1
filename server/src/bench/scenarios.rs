//! The four scenarios: what each seeds, the request it repeats, and the extra figures it reports.

use std::rc::Rc;
use std::time::Instant;

use chrono::{Duration, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::seed::{self, County, SeededDeclaration, TokenIssuer, Village};
use super::{drive, expect_success, reset_peak_rss, Bench, BenchArgs, Outcome, Report};
use crate::photo::fixtures::{self, FixtureExif};
use crate::quarter::Quarter;

fn current_quarter(bench: &Bench) -> Quarter {
    Quarter::of_instant(Utc::now(), bench.state.config.timezone)
}

async fn county(bench: &Bench, items: usize) -> Result<County, String> {
    let issuer = TokenIssuer(bench.state.clone());
    bench
        .with_conn(move |conn| seed::county(conn, items, &issuer))
        .await
}

/// The county, `villages` villages and `count` open declarations of the current quarter (and
/// earlier ones when there are more declarations than villages).
pub(super) async fn county_with_declarations(
    bench: &Bench,
    items: usize,
    villages: u64,
    count: u64,
    status: &'static str,
) -> Result<(Rc<County>, Rc<Vec<Village>>, Rc<Vec<SeededDeclaration>>), String> {
    let county = county(bench, items).await?;
    let quarter = current_quarter(bench);
    let unit = county.county.clone();
    let (villages, declarations) = bench
        .with_conn(move |conn| {
            let v = seed::villages(conn, &unit, villages)?;
            let d = seed::declarations(conn, &unit, &v, count, quarter, status)?;
            Ok((v, d))
        })
        .await?;
    Ok((Rc::new(county), Rc::new(villages), Rc::new(declarations)))
}

/// An inspection body for a declaration, answering every item; `photos` is the manifest.
pub(super) fn inspection_body(
    county: &County,
    declaration_id: &str,
    village: &Village,
    answers: &str,
    photos: &str,
) -> String {
    let now = Utc::now();
    let started = (now - Duration::minutes(35)).to_rfc3339();
    let submitted = (now - Duration::seconds(20)).to_rfc3339();
    format!(
        r#"{{"declaration_id":"{declaration_id}","checklist":{{"code":"{code}","version":{version}}},"started_at":"{started}","submitted_at":"{submitted}","location":{{"lat":{lat},"lon":{lon},"accuracy_m":8.0,"captured_at":"{submitted}"}},"utc_offset_minutes":480,"answers":{answers},"photos":{photos}}}"#,
        code = county.checklist_code,
        version = county.checklist_version,
        lat = village.lat,
        lon = village.lon,
    )
}

pub(super) async fn put_inspection(bench: &Bench, token: &str, id: &str, body: String) -> Outcome {
    expect_success(
        bench
            .client
            .put(bench.url(&format!("/api/v1/inspections/{id}")))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await,
    )
    .await
}

pub(super) fn seeded(report: &mut Report, key: &str, value: impl Into<Value>) {
    report.extra.insert(key.into(), value.into());
}

/// Inspection PUTs without photos: each a new inspection id for a new declaration, so every
/// request validates, scores, flags and stores a whole submission.
pub async fn ingest(bench: &Rc<Bench>, args: &BenchArgs) -> Result<Report, String> {
    // Enough declarations for 8,000/s; a run that uses them all stops early and says so.
    let rows = args
        .rows
        .unwrap_or_else(|| ((args.seconds * 8000.0) as u64).max(1000));
    let seed_start = Instant::now();
    let (county, villages, declarations) =
        county_with_declarations(bench, args.items, rows.min(20_000), rows, "pending").await?;
    let seed_secs = seed_start.elapsed().as_secs_f64();
    let answers = Rc::new(seed::answers(args.items));
    let body_bytes =
        inspection_body(&county, &declarations[0].id, &villages[0], &answers, "[]").len();
    reset_peak_rss();
    let bench_ref = bench.clone();
    let (mut report, _) = drive(args.clients(), args.seconds, rows, move |n| {
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
    seeded(&mut report, "items", args.items);
    seeded(&mut report, "body_bytes", body_bytes);
    seeded(&mut report, "declarations_seeded", rows);
    seeded(&mut report, "seed_seconds", super::round(seed_secs, 1));
    if report.requests + report.errors >= rows {
        seeded(&mut report, "ran_out_of_declarations", true);
    }
    Ok(report)
}

/// A phone JPEG made unique by a comment segment after SOI: what a phone's next photo is.
struct PhoneJpeg {
    base: Rc<Vec<u8>>,
    comment: Vec<u8>,
}

impl PhoneJpeg {
    fn new(base: Rc<Vec<u8>>, n: u64) -> Self {
        let text = format!("fieldstar bench photo {n:010}");
        let mut comment = vec![0xFF, 0xFE];
        comment.extend_from_slice(&((text.len() + 2) as u16).to_be_bytes());
        comment.extend_from_slice(text.as_bytes());
        PhoneJpeg { base, comment }
    }

    fn sha256(&self) -> String {
        let mut h = Sha256::new();
        h.update(&self.base[..2]);
        h.update(&self.comment);
        h.update(&self.base[2..]);
        hex::encode(h.finalize())
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.base.len() + self.comment.len());
        out.extend_from_slice(&self.base[..2]);
        out.extend_from_slice(&self.comment);
        out.extend_from_slice(&self.base[2..]);
        out
    }
}

/// Phone photo uploads: 9 MP JPEGs with EXIF (made once, each upload made unique), one per
/// inspection that announced it, `--concurrency` at a time.
pub async fn photos(bench: &Rc<Bench>, args: &BenchArgs) -> Result<Report, String> {
    let rows = args
        .rows
        .unwrap_or_else(|| ((args.seconds * 60.0) as u64).clamp(64, 20_000));
    let seed_start = Instant::now();
    let (county, villages, declarations) =
        county_with_declarations(bench, args.items, rows, rows, "pending").await?;
    let (w, h) = (4000u16, 2250u16);
    let bases: Vec<Rc<Vec<u8>>> = {
        let made = actix_web::rt::task::spawn_blocking(move || {
            (0..4u64)
                .map(|s| {
                    let local =
                        (Utc::now() + Duration::hours(8) - Duration::minutes(30)).naive_utc();
                    let exif = FixtureExif {
                        lat: Some(seed::CENTER.0 + 0.01 * s as f64),
                        lon: Some(seed::CENTER.1 - 0.01 * s as f64),
                        taken_at_local: Some(local),
                        offset: Some("+08:00".into()),
                        orientation: Some(1),
                        make: Some("Xiaomi".into()),
                        model: Some("Redmi Note 12".into()),
                        ..FixtureExif::default()
                    };
                    fixtures::phone_jpeg(w, h, s + 1, Some(&exif))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| format!("making the photos crashed: {e}"))?;
        made.into_iter().map(Rc::new).collect()
    };
    let mean_bytes = bases.iter().map(|b| b.len()).sum::<usize>() / bases.len();
    // One inspection per photo, announced through the API like a phone does.
    let answers = seed::answers(args.items);
    let mut uploads: Vec<(String, String, u64)> = Vec::with_capacity(rows as usize);
    let mut pending = Vec::new();
    for n in 0..rows {
        let photo = PhoneJpeg::new(bases[(n % 4) as usize].clone(), n);
        let (ins, pid) = (
            uuid::Uuid::new_v4().to_string(),
            uuid::Uuid::new_v4().to_string(),
        );
        let manifest = format!(
            r#"[{{"id":"{pid}","item":"i0000","sha256":"{}"}}]"#,
            photo.sha256()
        );
        let d = &declarations[n as usize];
        let body = inspection_body(&county, &d.id, &villages[d.village], &answers, &manifest);
        pending.push((ins.clone(), body));
        uploads.push((ins, pid, n));
    }
    let pending = Rc::new(pending);
    let bench_ref = bench.clone();
    let token = Rc::new(county.inspector.token.clone());
    let (announced, _) = drive(8, 3600.0, rows, {
        let (pending, token) = (pending.clone(), token.clone());
        let bench = bench_ref.clone();
        move |n| {
            let (pending, token, bench) = (pending.clone(), token.clone(), bench.clone());
            async move {
                let (id, body) = &pending[n as usize];
                put_inspection(&bench, &token, id, body.clone()).await
            }
        }
    })
    .await;
    if announced.errors > 0 {
        return Err(format!(
            "announcing the photos failed: {}",
            announced.first_error.unwrap_or_default()
        ));
    }
    let seed_secs = seed_start.elapsed().as_secs_f64();
    reset_peak_rss();
    let uploads = Rc::new(uploads);
    let bases = Rc::new(bases);
    let (mut report, bytes) = drive(args.clients(), args.seconds, rows, move |n| {
        let (uploads, bases, token, bench_ref) = (
            uploads.clone(),
            bases.clone(),
            token.clone(),
            bench_ref.clone(),
        );
        async move {
            let (ins, pid, seq) = &uploads[n as usize];
            let body = PhoneJpeg::new(bases[(seq % 4) as usize].clone(), *seq).bytes();
            let size = body.len() as u64;
            expect_success(
                bench_ref
                    .client
                    .put(bench_ref.url(&format!("/api/v1/inspections/{ins}/photos/{pid}")))
                    .bearer_auth(token.as_str())
                    .header("content-type", "image/jpeg")
                    .body(body)
                    .send()
                    .await,
            )
            .await
            .map(|_| size)
        }
    })
    .await;
    let secs = report.elapsed.as_secs_f64();
    seeded(&mut report, "photo_pixels", format!("{w}x{h}"));
    seeded(&mut report, "photo_chroma", "4:2:0");
    seeded(&mut report, "photo_bytes", mean_bytes);
    seeded(
        &mut report,
        "mib_per_second",
        super::round(bytes as f64 / secs / 1048576.0, 1),
    );
    seeded(&mut report, "photos_seeded", rows);
    seeded(&mut report, "seed_seconds", super::round(seed_secs, 1));
    if report.requests + report.errors >= rows {
        seeded(&mut report, "ran_out_of_photos", true);
    }
    Ok(report)
}

/// The first page of the review queue with `--rows` submitted inspections in the county.
pub async fn queue(bench: &Rc<Bench>, args: &BenchArgs) -> Result<Report, String> {
    let rows = args.rows.unwrap_or(100_000).max(1);
    let seed_start = Instant::now();
    // Declarations for every inspection: villages × quarters back in time.
    let (county, villages, declarations) =
        county_with_declarations(bench, args.items, rows.min(25_000), rows + 1, "inspecting")
            .await?;
    // One real submission gives the stored body, evaluation and flags every seeded row copies.
    let sample_id = uuid::Uuid::new_v4().to_string();
    let last = declarations.len() - 1;
    {
        let answers = seed::answers(args.items);
        let d = &declarations[last];
        let body = inspection_body(&county, &d.id, &villages[d.village], &answers, "[]");
        bench
            .with_conn({
                let id = d.id.clone();
                move |conn| {
                    use crate::db::schema::declarations;
                    use diesel::prelude::*;
                    diesel::update(declarations::table.find(&id))
                        .set(declarations::status.eq("pending"))
                        .execute(conn)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            })
            .await?;
        put_inspection(bench, &county.inspector.token, &sample_id, body).await?;
    }
    let sample = bench
        .with_conn(move |conn| {
            crate::inspection::model::Inspection::find(conn, &sample_id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "the sample inspection is missing".to_string())
        })
        .await?;
    {
        let (county, villages, declarations) =
            (county.clone(), villages.clone(), declarations.clone());
        // The seeding thread needs owned data: hand it copies of what it reads.
        let villages: Vec<Village> = villages.to_vec();
        let declarations: Vec<(String, usize)> = declarations[..last]
            .iter()
            .map(|d| (d.id.clone(), d.village))
            .collect();
        let county = (*county).clone();
        bench
            .with_conn(move |conn| {
                let declarations: Vec<SeededDeclaration> = declarations
                    .into_iter()
                    .map(|(id, village)| SeededDeclaration { id, village })
                    .collect();
                seed::inspections(conn, &county, &villages, &declarations, &sample)?;
                seed::analyze(conn)
            })
            .await?;
    }
    let seed_secs = seed_start.elapsed().as_secs_f64();
    // The review queue once main has it; until then the inspections list filtered to
    // submitted ones, which pages the same rows.
    let token = Rc::new(county.reviewer.token.clone());
    let probe = bench
        .client
        .get(bench.url("/api/v1/review-queue"))
        .bearer_auth(token.as_str())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let path = if probe.status().as_u16() == 404 {
        "/api/v1/inspections?status=submitted"
    } else {
        "/api/v1/review-queue"
    };
    let first = expect_success(
        bench
            .client
            .get(bench.url(path))
            .bearer_auth(token.as_str())
            .send()
            .await,
    )
    .await?;
    drop(declarations);
    drop(villages);
    reset_peak_rss();
    let bench_ref = bench.clone();
    let (mut report, _) = drive(args.clients(), args.seconds, u64::MAX, move |_| {
        let (token, bench_ref) = (token.clone(), bench_ref.clone());
        async move {
            expect_success(
                bench_ref
                    .client
                    .get(bench_ref.url(path))
                    .bearer_auth(token.as_str())
                    .send()
                    .await,
            )
            .await
        }
    })
    .await;
    seeded(&mut report, "rows", rows);
    seeded(&mut report, "path", path);
    seeded(&mut report, "page_bytes", first);
    seeded(&mut report, "seed_seconds", super::round(seed_secs, 1));
    Ok(report)
}

/// A report (`--report`: stars by default) as CSV for a county of `--rows` villages, read as a stream.
pub async fn export(bench: &Rc<Bench>, args: &BenchArgs) -> Result<Report, String> {
    let rows = args.rows.unwrap_or(100_000).max(1);
    let seed_start = Instant::now();
    let county = county(bench, args.items).await?;
    let quarter = current_quarter(bench);
    let unit = county.county.clone();
    bench
        .with_conn(move |conn| {
            let villages = seed::villages(conn, &unit, rows)?;
            seed::mentoring(conn, &unit, &villages, quarter)?;
            seed::analyze(conn)
        })
        .await?;
    let seed_secs = seed_start.elapsed().as_secs_f64();
    reset_peak_rss();
    let path = format!(
        "/api/v1/reports/{}?format={}&quarter={quarter}",
        args.report, args.format
    );
    let token = Rc::new(county.admin.token.clone());
    let bench_ref = bench.clone();
    let (mut report, lines) = drive(args.clients(), args.seconds, u64::MAX, move |_| {
        let (token, path, bench) = (token.clone(), path.clone(), bench_ref.clone());
        async move { csv_rows(&bench, &path, &token).await }
    })
    .await;
    let secs = report.elapsed.as_secs_f64();
    seeded(&mut report, "rows", rows);
    seeded(&mut report, "report", args.report.clone());
    seeded(&mut report, "format", args.format.clone());
    // An XLSX answer is compressed, not lines: `lines` is its KiB, and every answer has `rows`.
    let (rows_read, kib) = if args.format == "xlsx" {
        (report.requests * rows, Some(lines / report.requests.max(1)))
    } else {
        (lines, None)
    };
    seeded(
        &mut report,
        "rows_per_second",
        super::round(rows_read as f64 / secs, 0),
    );
    if let Some(kib) = kib {
        seeded(&mut report, "xlsx_kib", kib);
    }
    seeded(&mut report, "seed_seconds", super::round(seed_secs, 1));
    Ok(report)
}

/// Reads a CSV response chunk by chunk (never whole) and counts its data rows.
async fn csv_rows(bench: &Bench, path: &str, token: &str) -> Outcome {
    let mut res = bench
        .client
        .get(bench.url(path))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        return Err(format!("{status}: {}", &text[..text.len().min(400)]));
    }
    let xlsx = path.contains("format=xlsx");
    let (mut newlines, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        newlines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        bytes += chunk.len() as u64;
    }
    if xlsx {
        // A workbook is compressed: its rows are not lines; answer its size in KiB.
        return Ok(bytes / 1024);
    }
    Ok(newlines.saturating_sub(1))
}
