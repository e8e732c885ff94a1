//! `fieldstar bench drive` and `fieldstar bench verify`: load against running servers at a URL
//! (a load balancer in front of several processes, tests/multi/run.sh), recording every
//! acknowledged write, then checking that each is there exactly once and readable through
//! every process, that each submission's event reached the webhook receiver once, and that no
//! renewal is duplicated.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use sha2::Digest;

use super::BenchArgs;

fn password() -> Result<String, String> {
    std::env::var("FIELDSTAR_DEMO_PASSWORD")
        .map_err(|_| "FIELDSTAR_DEMO_PASSWORD: the demo county's password is needed".to_string())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client")
}

async fn login(c: &reqwest::Client, base: &str, user: &str) -> Result<String, String> {
    let res = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": user, "password": password()?}))
        .send()
        .await
        .map_err(|e| format!("login {user}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("login {user}: {}", res.status()));
    }
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    Ok(body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

async fn get_json(c: &reqwest::Client, url: &str, token: &str) -> Result<Value, String> {
    let res = c
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("GET {url}: {}", res.status()));
    }
    res.json().await.map_err(|e| format!("GET {url}: {e}"))
}

/// Every item of a cursor-paged list.
async fn all_pages(c: &reqwest::Client, url: &str, token: &str) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if url.contains('?') { '&' } else { '?' };
        let page_url = match &cursor {
            Some(cur) => format!("{url}{sep}limit=200&cursor={cur}"),
            None => format!("{url}{sep}limit=200"),
        };
        let page = get_json(c, &page_url, token).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) if !next.is_empty() => cursor = Some(next.to_string()),
            _ => return Ok(items),
        }
    }
}

/// Answers that pass a template, and the photos each item asks for.
fn passing_answers(t: &Value) -> (Map<String, Value>, Vec<String>) {
    let mut answers = Map::new();
    let mut photos = Vec::new();
    for section in t["sections"].as_array().into_iter().flatten() {
        for item in section["items"].as_array().into_iter().flatten() {
            if let Some(cond) = item.get("visible_if") {
                let seen = answers.get(cond["item"].as_str().unwrap_or_default());
                if seen != Some(&cond["equals"]) {
                    continue;
                }
            }
            let id = item["id"].as_str().unwrap_or_default().to_string();
            let pass = &item["pass"];
            let value = match item["kind"].as_str().unwrap_or_default() {
                "yes_no" => Some(pass.get("equals").cloned().unwrap_or(json!(true))),
                "number" => Some(
                    pass.get("min")
                        .or(item.get("min"))
                        .cloned()
                        .unwrap_or(json!(1)),
                ),
                "choice" => Some(
                    pass.get("in")
                        .map(|v| v[0].clone())
                        .unwrap_or_else(|| item["options"][0]["id"].clone()),
                ),
                "multi_choice" => Some(Value::Array(
                    item["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|o| o["id"].clone())
                        .collect(),
                )),
                "text" if item["required"] == true => Some(json!("fine")),
                _ => None,
            };
            if let Some(v) = value {
                answers.insert(id.clone(), v);
            }
            for _ in 0..item.get("photos_min").and_then(Value::as_u64).unwrap_or(0) {
                photos.push(id.clone());
            }
        }
    }
    (answers, photos)
}

/// A photo of its own bytes (its own SHA-256) made cheaply from one of a few phone-like JPEGs:
/// a comment segment with `tag` after the APPn segments. Encoding a fresh JPEG for every photo
/// would make the driver, not the servers, the bottleneck.
fn unique_photo(base: &[u8], tag: &str) -> Vec<u8> {
    let mut at = 2;
    while at + 4 <= base.len() && base[at] == 0xFF && (0xE0..=0xEF).contains(&base[at + 1]) {
        at += 2 + u16::from_be_bytes([base[at + 2], base[at + 3]]) as usize;
    }
    let mut out = Vec::with_capacity(base.len() + tag.len() + 4);
    out.extend_from_slice(&base[..at]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((tag.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(&base[at..]);
    out
}

fn phone_photo(seed: u64, lat: f64, lon: f64) -> Vec<u8> {
    use crate::photo::fixtures::{jpeg, FixtureExif};
    let local = (chrono::Utc::now() - chrono::Duration::minutes(5)).naive_utc()
        + chrono::Duration::minutes(480);
    let exif = FixtureExif {
        lat: Some(lat),
        lon: Some(lon),
        taken_at_local: Some(local),
        make: Some("Fieldphone".into()),
        model: Some("F1".into()),
        ..Default::default()
    };
    jpeg(800, 600, seed, Some(&exif))
}

/// Sends a request until the server acknowledges it: a lost connection, a 5xx (a process
/// killed behind the balancer), 408 or 429 leave the outcome unknown, and the idempotent PUT is
/// simply sent again. Another 4xx is an answer. Returns the status and the time of the
/// successful try.
async fn until_answered(
    send: impl Fn() -> reqwest::RequestBuilder,
    retries: &AtomicU64,
) -> Result<(u16, Value, f64), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let t = Instant::now();
        if let Ok(res) = send().send().await {
            let status = res.status().as_u16();
            if status < 500 && status != 408 && status != 429 {
                let body: Value = res.json().await.unwrap_or(Value::Null);
                return Ok((status, body, t.elapsed().as_secs_f64() * 1000.0));
            }
        }
        retries.fetch_add(1, Ordering::Relaxed);
        if Instant::now() > deadline {
            return Err("no answer within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Acks(Mutex<std::fs::File>);

impl Acks {
    fn record(&self, line: Value) {
        if let Ok(mut f) = self.0.lock() {
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
    }
}

/// Drives inspections with their photos at `--url` for `--seconds` with `--concurrency`
/// clients, each inspection of a fresh declaration; writes one JSON line per acknowledged
/// write to `--acks`.
pub async fn drive(args: &BenchArgs) -> Result<String, String> {
    let base = args.url.first().ok_or("--url: required")?.clone();
    let acks_path = args.acks.clone().ok_or("--acks: required")?;
    let c = client();
    let admin = login(&c, &base, "admin").await?;
    let inspector = login(&c, &base, "inspector1").await?;
    let villages = all_pages(
        &c,
        &format!("{base}/api/v1/org-units?level=village"),
        &admin,
    )
    .await?;
    let template = get_json(
        &c,
        &format!("{base}/api/v1/checklists/star-1/versions/1"),
        &admin,
    )
    .await?;
    let (answers, photo_items) = passing_answers(&template);
    // Eight base photos taken at the first village; elsewhere they raise the (never blocking)
    // distance and near-duplicate flags, which is work the server does anyway.
    let (lat0, lon0) = villages
        .first()
        .map(|v| {
            (
                v["lat"].as_f64().unwrap_or(36.0),
                v["lon"].as_f64().unwrap_or(114.0),
            )
        })
        .unwrap_or((36.0, 114.0));
    let bases: Arc<Vec<Vec<u8>>> = Arc::new((0..8).map(|k| phone_photo(k, lat0, lon0)).collect());
    let acks = Arc::new(Acks(Mutex::new(
        std::fs::File::create(&acks_path).map_err(|e| format!("--acks: {e}"))?,
    )));
    let next = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let skipped = Arc::new(AtomicU64::new(0));
    let villages = Arc::new(villages);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.seconds);
    let mut tasks = Vec::new();
    for worker in 0..args.clients() {
        let (c, base, admin, inspector) =
            (c.clone(), base.clone(), admin.clone(), inspector.clone());
        let (acks, next, retries, skipped, villages) = (
            acks.clone(),
            next.clone(),
            retries.clone(),
            skipped.clone(),
            villages.clone(),
        );
        let (answers, photo_items, bases) = (answers.clone(), photo_items.clone(), bases.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat_ms: Vec<f64> = Vec::new();
            let (mut inspections, mut photos) = (0u64, 0u64);
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(v) = villages.get(i) else { break };
                let declare = || {
                    c.post(format!("{base}/api/v1/declarations"))
                        .bearer_auth(&admin)
                        .json(&json!({"village_id": v["id"], "star_level": 1}))
                };
                let (status, d, _) = until_answered(declare, &retries).await?;
                let declaration = if status == 201 {
                    d
                } else {
                    // Declared already (a lost answer, or a renewal): take its open one.
                    let list = get_json(
                        &c,
                        &format!("{base}/api/v1/declarations?village={}", v["id"].as_str().unwrap_or_default()),
                        &admin,
                    )
                    .await?;
                    match list["items"].as_array().into_iter().flatten().find(|d| {
                        d["status"] == "pending" && d["star_level"] == 1 && d["kind"] == "upgrade"
                    }) {
                        Some(d) => d.clone(),
                        None => {
                            skipped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                };
                let (lat, lon) = (
                    v["lat"].as_f64().unwrap_or(36.0),
                    v["lon"].as_f64().unwrap_or(114.0),
                );
                let files: Vec<(String, String, Vec<u8>)> = photo_items
                    .iter()
                    .enumerate()
                    .map(|(k, item)| {
                        let id = uuid::Uuid::new_v4().to_string();
                        let bytes = unique_photo(&bases[(worker + k) % bases.len()], &id);
                        (id, item.clone(), bytes)
                    })
                    .collect();
                let now = chrono::Utc::now();
                let body = json!({
                    "declaration_id": declaration["id"],
                    "checklist": {"code": "star-1", "version": 1},
                    "started_at": (now - chrono::Duration::minutes(40)).to_rfc3339(),
                    "submitted_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                    "location": {"lat": lat, "lon": lon, "accuracy_m": 10.0,
                                 "captured_at": (now - chrono::Duration::minutes(2)).to_rfc3339(), "mock": false},
                    "utc_offset_minutes": 480,
                    "answers": answers,
                    "photos": files.iter().map(|(id, item, bytes)| json!({
                        "id": id, "item": item, "sha256": hex::encode(sha2::Sha256::digest(bytes)),
                    })).collect::<Vec<_>>(),
                });
                let id = uuid::Uuid::new_v4().to_string();
                let put = || {
                    c.put(format!("{base}/api/v1/inspections/{id}"))
                        .bearer_auth(&inspector)
                        .json(&body)
                };
                let (status, answer, ms) = until_answered(put, &retries).await?;
                if status != 200 && status != 201 {
                    return Err(format!("inspection {id}: {status} {answer}"));
                }
                lat_ms.push(ms);
                inspections += 1;
                acks.record(json!({"kind": "inspection", "id": id, "village_id": v["id"]}));
                for (photo, _, bytes) in &files {
                    let put = || {
                        c.put(format!("{base}/api/v1/inspections/{id}/photos/{photo}"))
                            .bearer_auth(&inspector)
                            .header("content-type", "image/jpeg")
                            .body(bytes.clone())
                    };
                    let (status, answer, ms) = until_answered(put, &retries).await?;
                    if status != 200 && status != 201 {
                        return Err(format!("photo {photo}: {status} {answer}"));
                    }
                    lat_ms.push(ms);
                    photos += 1;
                    acks.record(json!({
                        "kind": "photo", "inspection": id, "id": photo,
                        "sha256": hex::encode(sha2::Sha256::digest(bytes)),
                    }));
                }
            }
            Ok::<_, String>((inspections, photos, lat_ms))
        }));
    }
    let (mut inspections, mut photos, mut lat) = (0u64, 0u64, Vec::new());
    for t in tasks {
        let (i, p, l) = t.await.map_err(|e| e.to_string())??;
        inspections += i;
        photos += p;
        lat.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok(json!({
        "scenario": "drive",
        "url": base,
        "concurrency": args.clients(),
        "seconds": (elapsed * 10.0).round() / 10.0,
        "inspections": inspections,
        "photos": photos,
        "writes_per_s": ((inspections + photos) as f64 / elapsed * 10.0).round() / 10.0,
        "inspections_per_s": (inspections as f64 / elapsed * 100.0).round() / 100.0,
        "photos_per_s": (photos as f64 / elapsed * 10.0).round() / 10.0,
        "p50_ms": (pct(0.5) * 10.0).round() / 10.0,
        "p99_ms": (pct(0.99) * 10.0).round() / 10.0,
        "retries": retries.load(Ordering::Relaxed),
        "villages_skipped": skipped.load(Ordering::Relaxed),
    })
    .to_string())
}

/// Checks the acknowledged writes of `--acks` against every `--url` (the balancer first, then
/// each process), the webhook receiver's log `--events` (one JSON line per delivery: `event`,
/// `type`, `inspection_id`) and the declarations. Fails on the first broken promise.
pub async fn verify(args: &BenchArgs) -> Result<String, String> {
    let base = args.url.first().ok_or("--url: required")?.clone();
    let acks_path = args.acks.clone().ok_or("--acks: required")?;
    let c = client();
    let reviewer = login(&c, &base, "reviewer1").await?;
    let admin = login(&c, &base, "admin").await?;
    let file = std::fs::File::open(&acks_path).map_err(|e| format!("--acks: {e}"))?;
    let mut inspections: Vec<String> = Vec::new();
    let mut photos: Vec<(String, String, String)> = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("{line}: {e}"))?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        match v["kind"].as_str() {
            Some("inspection") => inspections.push(s("id")),
            Some("photo") => photos.push((s("inspection"), s("id"), s("sha256"))),
            _ => return Err(format!("unknown ack {line}")),
        }
    }
    // Exactly once: the list holds each acknowledged inspection once and nothing else.
    let listed = all_pages(&c, &format!("{base}/api/v1/inspections"), &admin).await?;
    let mut count: HashMap<String, usize> = HashMap::new();
    for i in &listed {
        *count
            .entry(i["id"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    for id in &inspections {
        match count.get(id) {
            Some(1) => {}
            n => return Err(format!("inspection {id} is listed {n:?} times")),
        }
    }
    if listed.len() != inspections.len() {
        return Err(format!(
            "{} inspections listed, {} acknowledged",
            listed.len(),
            inspections.len()
        ));
    }
    for id in &inspections {
        let ins = get_json(&c, &format!("{base}/api/v1/inspections/{id}"), &reviewer).await?;
        if ins["status"] != "submitted" {
            return Err(format!("inspection {id} is {}", ins["status"]));
        }
    }
    // Every photo whole through every process.
    let mut reads = 0;
    for (_, photo, sha) in &photos {
        for url in &args.url {
            let res = c
                .get(format!("{url}/api/v1/photos/{photo}?size=original"))
                .bearer_auth(&reviewer)
                .send()
                .await
                .map_err(|e| format!("photo {photo} at {url}: {e}"))?;
            if res.status() != 200 {
                return Err(format!("photo {photo} at {url}: {}", res.status()));
            }
            let bytes = res.bytes().await.map_err(|e| e.to_string())?;
            if hex::encode(sha2::Sha256::digest(&bytes)) != *sha {
                return Err(format!("photo {photo} at {url} is not whole"));
            }
            reads += 1;
        }
    }
    // Each submission's event delivered once (the receiver logs every delivery it got).
    let mut deliveries = 0;
    let mut events: HashMap<String, usize> = HashMap::new();
    let mut submitted: HashMap<String, HashSet<String>> = HashMap::new();
    if let Some(path) = &args.events {
        let want: HashSet<&String> = inspections.iter().collect();
        let wait = Instant::now() + Duration::from_secs(90);
        loop {
            deliveries = 0;
            events.clear();
            submitted.clear();
            let text = std::fs::read_to_string(path).unwrap_or_default();
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                deliveries += 1;
                let event = v["event"].as_str().unwrap_or_default().to_string();
                *events.entry(event.clone()).or_default() += 1;
                if v["type"] == "inspection.submitted" {
                    submitted
                        .entry(v["inspection_id"].as_str().unwrap_or_default().to_string())
                        .or_default()
                        .insert(event);
                }
            }
            let done = want.iter().all(|id| submitted.contains_key(*id));
            if done || Instant::now() > wait {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for id in &inspections {
            match submitted.get(id).map(HashSet::len) {
                Some(1) => {}
                n => return Err(format!("inspection {id}: {n:?} submitted events received")),
            }
        }
        if let Some((event, n)) = events.iter().find(|(_, n)| **n != 1) {
            return Err(format!("event {event} was delivered {n} times"));
        }
    }
    // No renewal twice: at most one renewal declaration per village and quarter.
    let declarations = all_pages(&c, &format!("{base}/api/v1/declarations"), &admin).await?;
    let mut renewals: HashMap<(String, String), usize> = HashMap::new();
    for d in declarations.iter().filter(|d| d["kind"] == "renewal") {
        let key = (
            d["village_id"].as_str().unwrap_or_default().to_string(),
            d["quarter"].as_str().unwrap_or_default().to_string(),
        );
        *renewals.entry(key).or_default() += 1;
    }
    if let Some(((village, quarter), n)) = renewals.iter().find(|(_, n)| **n > 1) {
        return Err(format!("{n} renewals of {village} for {quarter}"));
    }
    Ok(json!({
        "scenario": "verify",
        "inspections": inspections.len(),
        "photos": photos.len(),
        "photo_reads": reads,
        "processes_read": args.url.len(),
        "webhook_deliveries": deliveries,
        "events": events.len(),
        "renewals": renewals.len(),
        "ok": true,
    })
    .to_string())
}
