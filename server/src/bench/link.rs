//! `fieldstar bench link`: a phone photo over a village's link. A TCP proxy holds each
//! connection to `--kbps` and cuts it every `--cut-kb`; the photo goes by tus (resuming from
//! HEAD's offset after each cut) and by a plain PUT (sent again from zero after each cut).

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rand::{RngCore, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::scenarios::{county_with_declarations, inspection_body, put_inspection, seeded};
use super::{round, seed, Bench, BenchArgs, Report};
use crate::photo::fixtures::{self, FixtureExif};

/// A slow link that drops: every connection through it is held to `bytes_per_sec` each way,
/// and cut (both sides closed) each time another `cut_every` bytes have gone up through it.
pub struct Link {
    pub address: SocketAddr,
    /// Bytes sent up (client to server) through the link, over all its connections.
    pub up: Arc<AtomicU64>,
    pub cuts: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Link {
    pub async fn start(
        upstream: SocketAddr,
        bytes_per_sec: u64,
        cut_every: u64,
    ) -> std::io::Result<Link> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let up = Arc::new(AtomicU64::new(0));
        let cuts = Arc::new(AtomicU64::new(0));
        let (up2, cuts2) = (up.clone(), cuts.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (up, cuts) = (up2.clone(), cuts2.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    // Whichever way ends first (a cut, or a side closing) ends the connection.
                    tokio::select! {
                        _ = pipe(cr, sw, bytes_per_sec, Some((up, cuts, cut_every))) => {}
                        _ = pipe(sr, cw, bytes_per_sec, None) => {}
                    }
                });
            }
        });
        Ok(Link {
            address,
            up,
            cuts,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

type Cutter = (Arc<AtomicU64>, Arc<AtomicU64>, u64);

/// Copies `from` to `to` at `rate` bytes a second; going up, stops at the next cut.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    rate: u64,
    cutter: Option<Cutter>,
) {
    let started = tokio::time::Instant::now();
    let mut sent = 0u64;
    // A tenth of a second's worth at a time: the rate holds within 100 ms.
    let mut buf = vec![0u8; (rate / 10).max(64) as usize];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n as u64,
        };
        let mut take = n;
        let mut cut = false;
        if let Some((up, cuts, every)) = &cutter {
            let before = up.load(Ordering::SeqCst);
            let boundary = (before / every + 1) * every;
            if before + n >= boundary {
                take = boundary - before;
                cut = true;
                cuts.fetch_add(1, Ordering::SeqCst);
            }
            up.fetch_add(take, Ordering::SeqCst);
        }
        if to.write_all(&buf[..take as usize]).await.is_err() || cut {
            return;
        }
        sent += take;
        let due = started + Duration::from_secs_f64(sent as f64 / rate as f64);
        tokio::time::sleep_until(due).await;
    }
}

/// A phone photo of `size` bytes: a real JPEG with EXIF, then random bytes after its end (as
/// phones that append motion clips write), so it is incompressible and quick to decode.
pub fn photo_of_size(seed: u64, size: usize, exif: &FixtureExif) -> Vec<u8> {
    let mut bytes = fixtures::phone_jpeg(1600, 1200, seed, Some(exif));
    if bytes.len() < size {
        let mut trailer = vec![0u8; size - bytes.len()];
        rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut trailer);
        bytes.extend_from_slice(&trailer);
    }
    bytes
}

/// One delivery's result.
struct Delivery {
    seconds: Option<f64>,
    requests: u64,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Sends the photo with tus through `base`, resuming from HEAD's offset after every failure.
async fn by_tus(
    base: &str,
    token: &str,
    inspection: &str,
    photo_id: &str,
    bytes: &[u8],
    cap: Duration,
) -> Delivery {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client");
    let started = Instant::now();
    let mut requests = 0;
    let sha = hex::encode(Sha256::digest(bytes));
    let metadata = format!(
        "inspection_id {},photo_id {},sha256 {}",
        b64(inspection),
        b64(photo_id),
        b64(&sha)
    );
    let mut upload = None;
    while started.elapsed() < cap {
        requests += 1;
        let Some(path) = upload.clone() else {
            if let Ok(res) = client
                .post(format!("{base}/api/v1/uploads"))
                .bearer_auth(token)
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", bytes.len().to_string())
                .header("Upload-Metadata", &metadata)
                .send()
                .await
            {
                upload = res
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .map(str::to_owned);
            }
            continue;
        };
        let Ok(head) = client
            .head(format!("{base}{path}"))
            .bearer_auth(token)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
        else {
            continue;
        };
        if head.headers().contains_key("fieldstar-photo-status") {
            return Delivery {
                seconds: Some(started.elapsed().as_secs_f64()),
                requests,
            };
        }
        let Some(offset) = head
            .headers()
            .get("upload-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
        else {
            continue;
        };
        requests += 1;
        let sent = client
            .patch(format!("{base}{path}"))
            .bearer_auth(token)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .body(bytes[offset..].to_vec())
            .send()
            .await;
        if sent.is_ok_and(|r| r.headers().contains_key("fieldstar-photo-status")) {
            return Delivery {
                seconds: Some(started.elapsed().as_secs_f64()),
                requests,
            };
        }
    }
    Delivery {
        seconds: None,
        requests,
    }
}

/// Sends the photo by PUT through `base`, from zero again after every failure.
async fn by_put(
    base: &str,
    token: &str,
    inspection: &str,
    photo_id: &str,
    bytes: &[u8],
    cap: Duration,
) -> Delivery {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client");
    let started = Instant::now();
    let mut requests = 0;
    while started.elapsed() < cap {
        requests += 1;
        let left = cap.saturating_sub(started.elapsed());
        let sent = client
            .put(format!(
                "{base}/api/v1/inspections/{inspection}/photos/{photo_id}"
            ))
            .bearer_auth(token)
            .header("content-type", "image/jpeg")
            .timeout(left.max(Duration::from_secs(1)))
            .body(bytes.to_vec())
            .send()
            .await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            return Delivery {
                seconds: Some(started.elapsed().as_secs_f64()),
                requests,
            };
        }
    }
    Delivery {
        seconds: None,
        requests,
    }
}

/// Every rate, by tus and by PUT, all at once (each over its own link): the run takes as long
/// as the slowest delivery or the cap.
pub async fn link(bench: &Rc<Bench>, args: &BenchArgs) -> Result<Report, String> {
    let rates = args.kbps.clone();
    if rates.is_empty() || rates.iter().any(|k| !(8..=1_000_000).contains(k)) {
        return Err("--kbps: one or more rates between 8 and 1000000 kbit/s".into());
    }
    if !(1..=100_000).contains(&args.cut_kb) {
        return Err("--cut-kb: must be between 1 and 100000".into());
    }
    if !(args.photo_mb > 0.0 && args.photo_mb <= 20.0) {
        return Err("--photo-mb: must be above 0 and at most 20".into());
    }
    let cap = Duration::from_secs_f64(args.cap_secs.clamp(1.0, 7200.0));
    let n = rates.len() as u64 * 2;
    let (county, villages, declarations) =
        county_with_declarations(bench, args.items, n, n, "pending").await?;
    let local = (chrono::Utc::now() + chrono::Duration::hours(8) - chrono::Duration::minutes(30))
        .naive_utc();
    let exif = FixtureExif {
        lat: Some(seed::CENTER.0),
        lon: Some(seed::CENTER.1),
        taken_at_local: Some(local),
        offset: Some("+08:00".into()),
        make: Some("Xiaomi".into()),
        model: Some("Redmi Note 12".into()),
        ..FixtureExif::default()
    };
    let size = (args.photo_mb * 1_048_576.0) as usize;
    let answers = seed::answers(args.items);
    let token = county.inspector.token.clone();
    // One inspection (and its own photo) per delivery.
    let mut jobs = Vec::new();
    for i in 0..n {
        let bytes = photo_of_size(i + 1, size, &exif);
        let (ins, pid) = (
            uuid::Uuid::new_v4().to_string(),
            uuid::Uuid::new_v4().to_string(),
        );
        let manifest = format!(
            r#"[{{"id":"{pid}","item":"i0000","sha256":"{}"}}]"#,
            hex::encode(Sha256::digest(&bytes))
        );
        let d = &declarations[i as usize];
        let body = inspection_body(&county, &d.id, &villages[d.village], &answers, &manifest);
        put_inspection(bench, &token, &ins, body)
            .await
            .map_err(|e| format!("announcing the photo failed: {e}"))?;
        jobs.push((ins, pid, bytes));
    }
    let upstream: SocketAddr = bench
        .base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let cut = args.cut_kb * 1024;
    let started = Instant::now();
    let mut runs = Vec::new();
    for (i, (ins, pid, bytes)) in jobs.into_iter().enumerate() {
        let kbps = rates[i / 2];
        let tus = i % 2 == 0;
        let token = token.clone();
        runs.push(async move {
            let link = Link::start(upstream, kbps * 1000 / 8, cut)
                .await
                .map_err(|e| format!("the link proxy: {e}"))?;
            let d = if tus {
                by_tus(&link.url(), &token, &ins, &pid, &bytes, cap).await
            } else {
                by_put(&link.url(), &token, &ins, &pid, &bytes, cap).await
            };
            Ok::<_, String>((kbps, tus, d, link.cuts.load(Ordering::SeqCst)))
        });
    }
    let results = futures_util::future::join_all(runs).await;
    let mut report = Report {
        requests: 0,
        errors: 0,
        first_error: None,
        elapsed: started.elapsed(),
        latencies_ms: Vec::new(),
        extra: Default::default(),
    };
    let mut rows: Vec<Value> = Vec::new();
    for r in results {
        let (kbps, tus, d, cuts) = r?;
        let ideal = size as f64 * 8.0 / (kbps as f64 * 1000.0);
        let outcome = match d.seconds {
            Some(s) => {
                report.requests += 1;
                report.latencies_ms.push(s * 1000.0);
                json!(round(s, 1))
            }
            None => {
                // A PUT that never finishes is the finding, not an error of the bench.
                if tus {
                    report.errors += 1;
                }
                json!(format!("did not finish in {} s", cap.as_secs()))
            }
        };
        rows.push(json!({
            "kbps": kbps,
            "by": if tus { "tus" } else { "put" },
            "seconds": outcome,
            "line_seconds": round(ideal, 1),
            "requests": d.requests,
            "cuts": cuts,
        }));
    }
    seeded(&mut report, "deliveries", Value::Array(rows));
    seeded(&mut report, "photo_bytes", size);
    seeded(&mut report, "cut_kb", args.cut_kb);
    seeded(&mut report, "cap_seconds", cap.as_secs());
    Ok(report)
}
