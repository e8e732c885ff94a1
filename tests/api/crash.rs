//! Crash safety: the real binary under concurrent inspection and photo uploads is killed with
//! SIGKILL at random moments and restarted. Every acknowledged inspection and photo survives
//! whole, no orphan blob or half row remains, and replaying everything duplicates nothing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

use crate::flow::{passing_answers, phone_photo, Photo};
use crate::helpers::*;

const INSPECTIONS: usize = 10;
const WORKERS: usize = 4;
const KILLS: usize = 3;

struct Server {
    child: Option<Child>,
    dir: PathBuf,
    db_url: String,
    port: u16,
    /// The photo store's variables (an S3 prefix); none for the local store in the data dir.
    storage: Vec<(String, String)>,
}

impl Server {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
            .args(["serve", "--demo"])
            .env("FIELDSTAR_DATA_DIR", self.dir.join("data"))
            .env("FIELDSTAR_DATABASE_URL", &self.db_url)
            .env("FIELDSTAR_BIND", format!("127.0.0.1:{}", self.port))
            .env("FIELDSTAR_DEMO_PASSWORD", PASSWORD)
            .env("FIELDSTAR_ORPHAN_MIN_AGE_SECS", "0")
            .env("FIELDSTAR_PHOTO_UPLOADS_PER_USER", "100")
            .env("FIELDSTAR_HTTP_WORKERS", "2")
            .env("FIELDSTAR_DB_POOL_SIZE", "4")
            .envs(self.storage.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the fieldstar binary");
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown hook, no flush, no goodbye.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base())).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server did not become ready: {}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn login(client: &reqwest::Client, base: &str, user: &str) -> String {
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": user, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login {user}");
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// One request of the run: an inspection PUT or a photo PUT, with everything to replay it.
#[derive(Clone)]
enum Req {
    Inspection {
        id: String,
        body: Value,
    },
    Photo {
        inspection: String,
        photo: String,
        bytes: Vec<u8>,
    },
}

impl Req {
    async fn send(&self, client: &reqwest::Client, base: &str, token: &str) -> Result<u16, String> {
        let rb = match self {
            Req::Inspection { id, body } => client
                .put(format!("{base}/api/v1/inspections/{id}"))
                .json(body),
            Req::Photo {
                inspection,
                photo,
                bytes,
            } => client
                .put(format!(
                    "{base}/api/v1/inspections/{inspection}/photos/{photo}"
                ))
                .header("content-type", "image/jpeg")
                .body(bytes.clone()),
        };
        match rb
            .bearer_auth(token)
            .timeout(Duration::from_secs(20))
            .send()
            .await
        {
            Ok(r) => Ok(r.status().as_u16()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The work: `INSPECTIONS` declarations of DEMO villages, each an inspection and its photos.
async fn prepare(client: &reqwest::Client, base: &str, admin: &str) -> Vec<Vec<Req>> {
    let villages: Value = client
        .get(format!("{base}/api/v1/org-units?level=village&limit=100"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t: Value = client
        .get(format!("{base}/api/v1/checklists/star-1/versions/1"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (answers, needs) = passing_answers(&t);
    let mut work = Vec::new();
    for v in villages["items"].as_array().unwrap() {
        if work.len() == INSPECTIONS {
            break;
        }
        let res = client
            .post(format!("{base}/api/v1/declarations"))
            .bearer_auth(admin)
            .json(&json!({"village_id": v["id"], "star_level": 1}))
            .send()
            .await
            .unwrap();
        if res.status() != 201 {
            continue;
        }
        let d: Value = res.json().await.unwrap();
        let (lat, lon) = (
            v["lat"].as_f64().unwrap_or(36.0),
            v["lon"].as_f64().unwrap_or(114.0),
        );
        let mut photos = Vec::new();
        for (item, count) in &needs {
            for _ in 0..*count {
                let seed = 5000 + (work.len() * 10 + photos.len()) as u64;
                photos.push(Photo::new(item, phone_photo(seed, lat, lon, 20)));
            }
        }
        let now = chrono::Utc::now();
        let body = json!({
            "declaration_id": d["id"],
            "checklist": {"code": "star-1", "version": 1},
            "started_at": (now - chrono::Duration::minutes(40)).to_rfc3339(),
            "submitted_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
            "location": {"lat": lat, "lon": lon, "accuracy_m": 10.0, "captured_at": (now - chrono::Duration::minutes(2)).to_rfc3339(), "mock": false},
            "utc_offset_minutes": 480,
            "answers": answers,
            "photos": photos.iter().map(Photo::manifest).collect::<Vec<_>>(),
        });
        let id = uuid::Uuid::new_v4().to_string();
        let mut reqs = vec![Req::Inspection {
            id: id.clone(),
            body,
        }];
        for p in photos {
            reqs.push(Req::Photo {
                inspection: id.clone(),
                photo: p.id,
                bytes: p.bytes,
            });
        }
        work.push(reqs);
    }
    assert_eq!(work.len(), INSPECTIONS, "enough declarable villages");
    work
}

async fn run(backend: Backend, s3: bool) {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let storage = if s3 {
        let Some(vars) = s3_vars() else { return };
        vars
    } else {
        Vec::new()
    };
    let Some(db_url) = fresh_database_url(backend, dir.path()) else {
        return;
    };
    // The test reads the store the server writes, through the same client code.
    let store = match storage.first() {
        Some((_, url)) => fieldstar::storage::Storage::from_url(url, &storage[1..]).unwrap(),
        None => fieldstar::storage::Storage::from_url(
            &format!(
                "file://{}",
                dir.path().join("data").join("photos").display()
            ),
            &[],
        )
        .unwrap(),
    };
    let mut server = Server {
        child: None,
        dir: dir.path().to_path_buf(),
        db_url,
        port: free_port(),
        storage,
    };
    let client = reqwest::Client::new();
    server.start();
    server.wait_ready(&client).await;
    let base = server.base();
    let admin = login(&client, &base, "admin").await;
    let inspector = login(&client, &base, "inspector1").await;
    let work = prepare(&client, &base, &admin).await;

    // Workers send their inspections' requests in order, each until the server acknowledges it
    // (a lost connection leaves the outcome unknown: the idempotent PUT is simply sent again).
    let acked: Arc<Mutex<Vec<(usize, usize, u16)>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let mine: Vec<(usize, Vec<Req>)> = work
            .iter()
            .cloned()
            .enumerate()
            .filter(|(i, _)| i % WORKERS == w)
            .collect();
        let (client, base, token, acked) = (
            client.clone(),
            base.clone(),
            inspector.clone(),
            acked.clone(),
        );
        tasks.push(actix_web::rt::spawn(async move {
            for (i, reqs) in mine {
                for (j, req) in reqs.iter().enumerate() {
                    loop {
                        match req.send(&client, &base, &token).await {
                            Ok(s) if s == 200 || s == 201 => {
                                acked.lock().unwrap().push((i, j, s));
                                break;
                            }
                            Ok(s) if s < 500 && s != 429 && s != 408 => {
                                panic!("request {i}/{j}: {s}")
                            }
                            _ => tokio::time::sleep(Duration::from_millis(100)).await,
                        }
                    }
                }
            }
        }));
    }
    let mut kills = 0;
    while kills < KILLS {
        // Kill after some progress since the last start, at a random moment in the traffic.
        let target = acked.lock().unwrap().len() + rand::thread_rng().gen_range(4..12);
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked.lock().unwrap().len() < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let jitter = rand::thread_rng().gen_range(0..250);
        tokio::time::sleep(Duration::from_millis(jitter)).await;
        let before = acked.lock().unwrap().len();
        server.kill();
        kills += 1;
        loud(&format!(
            "crash ({backend:?}): SIGKILL #{kills} after {before} acknowledged requests"
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.start();
        server.wait_ready(&client).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total: usize = work.iter().map(Vec::len).sum();
    assert_eq!(acked.lock().unwrap().len(), total);

    // A last kill after everything was acknowledged, then a clean start: the start-up sweep runs.
    server.kill();
    server.start();
    server.wait_ready(&client).await;
    let reviewer = login(&client, &base, "reviewer1").await;
    check(
        &client,
        &base,
        &reviewer,
        &admin,
        &work,
        &store,
        &server.dir.join("data"),
    )
    .await;
    check_outbox(&server.db_url, &work);

    // Replaying every request changes nothing and duplicates nothing.
    for reqs in &work {
        for req in reqs {
            assert_eq!(req.send(&client, &base, &inspector).await, Ok(200));
        }
    }
    check(
        &client,
        &base,
        &reviewer,
        &admin,
        &work,
        &store,
        &server.dir.join("data"),
    )
    .await;
    check_outbox(&server.db_url, &work);
    server.kill();
    loud(&format!(
        "crash ({backend:?}): {KILLS} kills, {total} requests, checked in {:?}",
        started.elapsed()
    ));
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
}

/// Every acknowledged submission has exactly one `inspection.submitted` event in the outbox:
/// the event is written in the submission's transaction, so no kill loses or repeats it.
fn check_outbox(db_url: &str, work: &[Vec<Req>]) {
    use diesel::prelude::*;
    use fieldstar::db::schema::outbox_events as o;
    let url = fieldstar::db::DatabaseUrl::parse(db_url).unwrap();
    let mut conn = fieldstar::db::ConnManager::new(url).establish().unwrap();
    let events: Vec<String> = o::table
        .filter(o::event_type.eq(fieldstar::webhooks::outbox::INSPECTION_SUBMITTED))
        .select(o::data)
        .load(&mut conn)
        .unwrap();
    let mut per_inspection: HashMap<String, usize> = HashMap::new();
    for data in &events {
        let v: Value = serde_json::from_str(data).unwrap();
        *per_inspection
            .entry(v["inspection_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for reqs in work {
        let Req::Inspection { id, .. } = &reqs[0] else {
            unreachable!()
        };
        assert_eq!(
            per_inspection.get(id.as_str()),
            Some(&1),
            "the submitted event of {id}"
        );
    }
    assert_eq!(
        events.len(),
        work.len(),
        "no event for anything unacknowledged or replayed"
    );
}

async fn check(
    client: &reqwest::Client,
    base: &str,
    reviewer: &str,
    admin: &str,
    work: &[Vec<Req>],
    store: &fieldstar::storage::Storage,
    data: &Path,
) {
    let mut shas = HashSet::new();
    for reqs in work {
        let Req::Inspection { id, body } = &reqs[0] else {
            unreachable!()
        };
        let ins: Value = client
            .get(format!("{base}/api/v1/inspections/{id}"))
            .bearer_auth(reviewer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ins["status"], "submitted", "{ins}");
        let photos = ins["photos"].as_array().unwrap();
        assert_eq!(photos.len(), body["photos"].as_array().unwrap().len());
        assert!(photos.iter().all(|p| p["received"] == true), "{ins}");
        for req in &reqs[1..] {
            let Req::Photo { photo, bytes, .. } = req else {
                unreachable!()
            };
            let res = client
                .get(format!("{base}/api/v1/photos/{photo}?size=original"))
                .bearer_auth(reviewer)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            assert!(
                res.bytes().await.unwrap().to_vec() == *bytes,
                "photo {photo} is whole"
            );
            for size in ["display", "thumb"] {
                let res = client
                    .get(format!("{base}/api/v1/photos/{photo}?size={size}"))
                    .bearer_auth(reviewer)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200, "{size} of {photo}");
            }
            use sha2::Digest;
            shas.insert(hex::encode(sha2::Sha256::digest(bytes)));
        }
    }
    // Exactly one inspection per id, none extra, none without its photo rows.
    let list: Value = client
        .get(format!("{base}/api/v1/inspections?limit=200"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    let ids: HashMap<&str, usize> = items.iter().fold(HashMap::new(), |mut m, i| {
        *m.entry(i["id"].as_str().unwrap()).or_default() += 1;
        m
    });
    assert_eq!(items.len(), work.len(), "{list}");
    assert!(ids.values().all(|n| *n == 1));
    // Every original blob is referenced; no temporary blob is left. The start-up sweep runs in
    // the background, so give it a moment.
    let later = chrono::Utc::now() + chrono::Duration::days(1);
    let originals = || async {
        let mut keys = store.list_older_than("original", later).await.unwrap();
        keys.sort();
        keys
    };
    let swept = eventually(20, || async { originals().await.len() == shas.len() }).await;
    let blobs = originals().await;
    assert!(
        swept,
        "one original per photo: {} blobs for {} photos",
        blobs.len(),
        shas.len()
    );
    for b in &blobs {
        let name = b.rsplit('/').next().unwrap().to_string();
        assert!(shas.contains(&name), "orphan blob {name}");
    }
    let tmp = data.join("photos").join("tmp");
    assert!(
        eventually(20, || {
            let tmp = tmp.clone();
            async move {
                count_files(&tmp) == 0
                    && store
                        .list_older_than("tmp", later)
                        .await
                        .unwrap()
                        .is_empty()
            }
        })
        .await,
        "temporary blobs left"
    );
}

#[actix_web::test]
async fn sigkill_under_concurrent_uploads_loses_nothing_acknowledged_on_sqlite() {
    run(Backend::Sqlite, false).await;
}

#[actix_web::test]
async fn sigkill_under_concurrent_uploads_loses_nothing_acknowledged_on_postgres() {
    run(Backend::Postgres, false).await;
}

/// PostgreSQL with the photos in the S3-compatible test server, as a province runs.
#[actix_web::test]
async fn sigkill_under_concurrent_uploads_loses_nothing_acknowledged_on_s3() {
    run(Backend::Postgres, true).await;
}
