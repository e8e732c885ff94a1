//! The test harness: a real fieldstar on a random port over a real database, one per test,
#![allow(dead_code)]
//! on SQLite and on PostgreSQL (a throwaway cluster started from the system's binaries).

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fieldstar::state::AppState;
use fieldstar::Application;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

pub const PASSWORD: &str = "demo-password-123";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub database_url: String,
    pub data_dir: tempfile::TempDir,
    pub state: actix_web::web::Data<AppState>,
    /// The photo store's variables it was started with (an S3 prefix), kept by `restart` and
    /// shared by `sibling`.
    pub storage_vars: Vec<(String, String)>,
    handle: actix_web::dev::ServerHandle,
}

/// Writes straight to the terminal, past the test harness's output capture.
pub fn loud(message: &str) {
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/stderr") {
        let _ = writeln!(tty, "{message}");
    }
}

struct PgCluster {
    admin_url: String,
}

fn find_pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("postgres").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Starts a throwaway cluster (never the system's), stopped by a watcher when this test
/// process exits, however it exits.
fn start_cluster() -> Result<PgCluster, String> {
    if let Ok(url) = std::env::var("FIELDSTAR_TEST_POSTGRES_URL") {
        return Ok(PgCluster { admin_url: url });
    }
    let bin = find_pg_bin().ok_or("no PostgreSQL binaries under /usr/lib/postgresql")?;
    let dir = tempfile::Builder::new()
        .prefix("fieldstar-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let root = is_root();
    let as_pg = |args: &[&str]| -> Command {
        if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(args);
            c
        } else {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        }
    };
    if root {
        Command::new("chown")
            .args(["-R", "postgres:postgres", &dir.to_string_lossy()])
            .status()
            .map_err(|e| e.to_string())?;
    }
    let data = dir.join("data");
    let initdb = bin.join("initdb");
    let out = as_pg(&[
        &initdb.to_string_lossy(),
        "-D",
        &data.to_string_lossy(),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--no-instructions",
    ])
    .stdout(Stdio::null())
    .output()
    .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = free_port();
    let postgres = bin.join("postgres");
    let pg_ctl = bin.join("pg_ctl");
    let run_as_pg = if root { "runuser -u postgres -- " } else { "" };
    // The watcher runs as this process's user, so that it can see this process; when the test
    // process is gone, however it ended, the cluster is stopped and its folder removed.
    let script = format!(
        "{run}{pg_ctl} -D {data} -l {dir}/log -w -t 120 -o '-p {port} -k {dir} -c listen_addresses=127.0.0.1 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 \
         -c shared_buffers=64MB' start >/dev/null 2>&1; \
         while kill -0 {parent} 2>/dev/null; do sleep 1; done; \
         {run}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        run = run_as_pg,
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
        parent = std::process::id(),
    );
    let _ = postgres;
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    // Generous: on a loaded two-core machine the first start can take a while.
    let deadline = Instant::now() + Duration::from_secs(180);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            return Err(format!(
                "the throwaway PostgreSQL did not start in 180 s: {log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Accepting TCP is not yet accepting logins: wait for a real connection.
    let admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    loop {
        use diesel::Connection;
        if diesel::PgConnection::establish(&admin_url).is_ok() {
            break;
        }
        if Instant::now() > deadline {
            return Err("the throwaway PostgreSQL does not accept connections".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(PgCluster { admin_url })
}

fn cluster() -> Option<&'static PgCluster> {
    static CLUSTER: OnceLock<Option<PgCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| match start_cluster() {
            Ok(c) => Some(c),
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                    panic!("PostgreSQL is required under CI: {e}");
                }
                loud(&format!(
                    "\n*** PostgreSQL tests SKIPPED: {e}. Only SQLite was tested. ***\n"
                ));
                None
            }
        })
        .as_ref()
}

fn new_pg_database() -> Option<String> {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let cluster = cluster()?;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = diesel::PgConnection::establish(&cluster.admin_url).expect("admin connection");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let base = cluster.admin_url.rsplit_once('/').unwrap().0;
    Some(format!("{base}/{name}"))
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let data_dir = tempfile::tempdir().unwrap();
    let database_url = match backend {
        Backend::Sqlite => format!(
            "sqlite://{}",
            data_dir.path().join("fieldstar.db").display()
        ),
        Backend::Postgres => new_pg_database()?,
    };
    Some(start_on(backend, database_url, data_dir, extra).await)
}

/// Runs each named test function (`async fn name(app: TestApp)`, an ordinary function that
/// rustfmt formats) once on SQLite and once on PostgreSQL:
/// `both_backends!(first_test, second_test);` makes `first_test::sqlite` and
/// `first_test::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $crate::both_backends_with!(&[]; $($name),+);
    };
}

pub struct Session {
    pub token: String,
    pub refresh: String,
    pub user: Value,
}

impl TestApp {
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.handle.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let rb = self.client.request(method, self.url(path));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PUT, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Seeds the demo county (fast path through the library, as `fieldstar demo` does).
    pub async fn seed_demo(&self) -> String {
        let db = self.state.db.clone();
        fieldstar::db::blocking(move || {
            let mut conn = db.get()?;
            fieldstar::demo::seed(&mut conn, Some(PASSWORD)).map(|s| s.county_id)
        })
        .await
        .expect("demo seed")
    }

    /// Imports org units from CSV text, as `fieldstar org import` does.
    pub async fn import_org(&self, csv: &str) {
        let db = self.state.db.clone();
        let csv = csv.to_string();
        fieldstar::db::blocking(move || {
            let mut conn = db.get()?;
            fieldstar::org::import::import(
                &mut conn,
                csv.as_bytes(),
                None,
                &fieldstar::auth::Actor::cli(),
            )
            .map_err(|e| fieldstar::error::ApiError::unprocessable("import", e.to_string()))
        })
        .await
        .expect("org import");
    }

    /// Creates a user directly, as `fieldstar user create` does; a reviewer is the programme
    /// department's (see `create_reviewer` for the association's).
    pub async fn create_user(&self, username: &str, role: &str, org_code: &str) {
        let body = (role == "reviewer").then_some("department");
        self.create_user_with(username, role, org_code, body).await
    }

    /// Creates a reviewer of a verifying body (`department` or `association`).
    pub async fn create_reviewer(&self, username: &str, org_code: &str, body: &str) {
        self.create_user_with(username, "reviewer", org_code, Some(body))
            .await
    }

    async fn create_user_with(
        &self,
        username: &str,
        role: &str,
        org_code: &str,
        body: Option<&str>,
    ) {
        let db = self.state.db.clone();
        let (u, r, o) = (username.to_string(), role.to_string(), org_code.to_string());
        let body = body.map(str::to_string);
        fieldstar::db::blocking(move || {
            let mut conn = db.get()?;
            let unit = fieldstar::org::OrgUnit::find_by_code(&mut conn, &o)?.expect("unit");
            let new = fieldstar::users::NewUser::parse(&u, PASSWORD, &r, body.as_deref())
                .map_err(fieldstar::error::ApiError::validation)?;
            fieldstar::db::write_tx(&mut conn, |c| {
                new.insert(c, &unit, &fieldstar::auth::Actor::cli())
            })
        })
        .await
        .expect("create user");
    }

    pub async fn login_raw(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/v1/auth/refresh` with a refresh token; the answer as it comes.
    pub async fn refresh_raw(&self, refresh_token: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": refresh_token}))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str) -> Session {
        let res = self.login_raw(username, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "login {username}");
        let body: Value = res.json().await.unwrap();
        Session {
            token: body["access_token"].as_str().unwrap().to_string(),
            refresh: body["refresh_token"].as_str().unwrap().to_string(),
            user: body["user"].clone(),
        }
    }

    /// The id of the org unit with `code`, looked up as the demo admin would.
    pub async fn unit_id(&self, token: &str, code: &str) -> String {
        let body = json_of(
            self.get(&format!("/api/v1/org-units?code={code}"), token)
                .await,
        )
        .await;
        body["items"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no unit {code}: {body}"))
            .to_string()
    }
}

/// A CSV export's text: it must start with a UTF-8 byte-order mark, which is taken off.
pub async fn csv_text(res: Response) -> String {
    let text = res.text().await.unwrap();
    match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_string(),
        None => panic!("a CSV without a byte-order mark: {text}"),
    }
}

pub async fn json_of(res: Response) -> Value {
    res.json().await.unwrap()
}

/// Asserts a problem+json answer with `status`, returning its body.
pub async fn assert_problem(res: Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "{:?}", res.url().path());
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(ct, "application/problem+json", "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["code"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

/// A second county, `EAST`, with one township and two villages, and its admin `east-admin`.
pub const SECOND_COUNTY_CSV: &str = "code,name,level,parent_code,lat,lon,radius_m\n\
EAST,East County,county,,,,\n\
EAST-T1,East Township,township,EAST,,,\n\
EAST-V1,East Village One,village,EAST-T1,43.4675,11.8840,1500\n\
EAST-V2,East Village Two,village,EAST-T1,43.5575,11.8840,1500\n";

pub async fn seed_two_counties(app: &TestApp) {
    app.seed_demo().await;
    app.import_org(SECOND_COUNTY_CSV).await;
    app.create_user("east-admin", "admin", "EAST").await;
}

/// Starts a server on a database and data dir: a new one, a restart, or a second process.
async fn start_on(
    backend: Backend,
    database_url: String,
    data_dir: tempfile::TempDir,
    extra: &[(&str, &str)],
) -> TestApp {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert(
        "FIELDSTAR_DATA_DIR".into(),
        data_dir.path().to_string_lossy().into_owned(),
    );
    vars.insert("FIELDSTAR_DATABASE_URL".into(), database_url.clone());
    vars.insert("FIELDSTAR_DB_POOL_SIZE".into(), "4".into());
    vars.insert("FIELDSTAR_HTTP_WORKERS".into(), "2".into());
    vars.insert("FIELDSTAR_BIND".into(), "127.0.0.1:0".into());
    // Tests create renewals explicitly (`declarations::renewals::ensure`), never behind their back.
    vars.insert("FIELDSTAR_RENEWALS".into(), "0".into());
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    let storage_vars: Vec<(String, String)> = extra
        .iter()
        .filter(|(k, _)| *k == "FIELDSTAR_STORAGE_URL" || k.starts_with("AWS_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut config = fieldstar::Config::from_vars(&vars).expect("config");
    config.handle_signals = false;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = Application::build_with_listener(config, listener)
        .await
        .expect("app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state.clone();
    let handle = app.handle();
    actix_web::rt::spawn(app.into_server());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Below the server's 5 s keep-alive, so a pooled connection is never reused just
            // as the server closes it.
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
        backend,
        database_url,
        data_dir,
        state,
        storage_vars,
        handle,
    }
}

impl TestApp {
    /// Stops this server and its webhook worker, then starts a new one on the same database
    /// and data dir, as an operator's restart does.
    pub async fn restart(self, extra: &[(&str, &str)]) -> TestApp {
        let TestApp {
            client,
            backend,
            database_url,
            data_dir,
            state,
            handle,
            storage_vars,
            ..
        } = self;
        // Idle keep-alive connections would hold the graceful stop for its full timeout.
        drop(client);
        state.webhooks.stop().await;
        handle.stop(true).await;
        let leases = state.leases.clone();
        tokio::task::spawn_blocking(move || leases.stop())
            .await
            .unwrap();
        let extra = with_storage(&storage_vars, extra);
        start_on(backend, database_url, data_dir, &extra).await
    }

    /// A second server process on the same database (its own data dir and JWT secret) and, when
    /// this one's photos are in S3, the same photo store.
    pub async fn sibling(&self, extra: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let extra = with_storage(&self.storage_vars, extra);
        start_on(self.backend, self.database_url.clone(), dir, &extra).await
    }

    /// Imports star baselines from CSV text, as `fieldstar stars import` does.
    pub async fn import_stars(&self, csv: &str) -> Result<(usize, usize, usize), String> {
        let db = self.state.db.clone();
        let csv = csv.to_string();
        let tz = self.state.config.timezone;
        fieldstar::db::blocking(move || {
            let mut conn = db.get()?;
            Ok(fieldstar::stars::import::import(
                &mut conn,
                csv.as_bytes(),
                None,
                fieldstar::clock::today(tz),
                &fieldstar::auth::Actor::cli(),
            )
            .map(|s| (s.created, s.updated, s.unchanged))
            .map_err(|e| e.to_string()))
        })
        .await
        .expect("stars import")
    }
}

fn with_storage<'a>(
    storage: &'a [(String, String)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut all: Vec<(&str, &str)> = storage
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(extra);
    all
}

/// Polls `check` until it is true or `secs` have passed.
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Like `both_backends!`, with extra configuration variables for the server:
/// `both_backends_with!(&[("FIELDSTAR_X", "1")]; some_test);`.
#[macro_export]
macro_rules! both_backends_with {
    ($env:expr; $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[actix_web::test]
                async fn sqlite() {
                    let app = $crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, $env)
                        .await
                        .unwrap();
                    let handle = app.stop_handle();
                    super::$name(app).await;
                    handle.stop(false).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(app) =
                        $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, $env).await
                    {
                        let handle = app.stop_handle();
                        super::$name(app).await;
                        handle.stop(false).await;
                    }
                }
            }
        )+
    };
}

/// The S3-compatible server the tests use: `FIELDSTAR_TEST_S3=http://127.0.0.1:PORT` with
/// `FIELDSTAR_TEST_S3_BUCKET` (an existing bucket; default `fieldstar-test`),
/// `FIELDSTAR_TEST_S3_KEY` and `FIELDSTAR_TEST_S3_SECRET` (`.ci/run` starts s3s-fs so). Each
/// server gets its own prefix in the bucket. Without it the S3 variants are skipped loudly;
/// under CI (`CI=true`) that is a failure.
pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    pub key: String,
    pub secret: String,
}

pub fn s3_server() -> Option<&'static S3Server> {
    static S3: OnceLock<Option<S3Server>> = OnceLock::new();
    S3.get_or_init(|| {
        let var = |k: &str, default: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let endpoint = var("FIELDSTAR_TEST_S3", "");
        if endpoint.is_empty() {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("an S3-compatible server is required under CI: set FIELDSTAR_TEST_S3 (.ci/run starts s3s-fs)");
            }
            loud("\n*** S3 storage tests SKIPPED: FIELDSTAR_TEST_S3 is not set. Only the file store was tested. ***\n");
            return None;
        }
        Some(S3Server {
            endpoint,
            bucket: var("FIELDSTAR_TEST_S3_BUCKET", "fieldstar-test"),
            key: var("FIELDSTAR_TEST_S3_KEY", "fieldstar"),
            secret: var("FIELDSTAR_TEST_S3_SECRET", "fieldstar-secret"),
        })
    })
    .as_ref()
}

/// The variables that put a server's photos under a fresh prefix of the test bucket.
pub fn s3_vars() -> Option<Vec<(String, String)>> {
    let s3 = s3_server()?;
    Some(vec![
        (
            "FIELDSTAR_STORAGE_URL".into(),
            format!("s3://{}/t-{}", s3.bucket, uuid::Uuid::new_v4().simple()),
        ),
        ("AWS_ENDPOINT_URL".into(), s3.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID".into(), s3.key.clone()),
        ("AWS_SECRET_ACCESS_KEY".into(), s3.secret.clone()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ALLOW_HTTP".into(), "true".into()),
    ])
}

/// A server on PostgreSQL with its photos in the test S3 server (`None` when either is
/// missing outside CI).
pub async fn spawn_app_on_s3(extra: &[(&str, &str)]) -> Option<TestApp> {
    let vars = s3_vars()?;
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    spawn_app_with(Backend::Postgres, &all).await
}

/// Like `both_backends!`, with a third variant `s3`: PostgreSQL with the photos in the test
/// S3 server. For the tests that store or read photos.
#[macro_export]
macro_rules! all_stores {
    ($($name:ident),+ $(,)?) => {
        $crate::all_stores_with!(&[]; $($name),+);
    };
}

/// `all_stores!` with extra configuration variables, as `both_backends_with!`.
#[macro_export]
macro_rules! all_stores_with {
    ($env:expr; $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[actix_web::test]
                async fn sqlite() {
                    let app = $crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, $env)
                        .await
                        .unwrap();
                    let handle = app.stop_handle();
                    super::$name(app).await;
                    handle.stop(false).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(app) =
                        $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, $env).await
                    {
                        let handle = app.stop_handle();
                        super::$name(app).await;
                        handle.stop(false).await;
                    }
                }

                #[actix_web::test]
                async fn s3() {
                    if let Some(app) = $crate::helpers::spawn_app_on_s3($env).await {
                        let handle = app.stop_handle();
                        super::$name(app).await;
                        handle.stop(false).await;
                    }
                }
            }
        )+
    };
}

impl TestApp {
    /// How many blobs the server's photo store holds under `prefix` (`original`, `tmp`, …),
    /// whichever store it is.
    pub async fn blobs(&self, prefix: &str) -> usize {
        if !self.state.storage.is_s3() {
            // Counted on disk: the local store's staging files are hidden from its listings.
            return count_files(&self.data_dir.path().join("photos").join(prefix));
        }
        let later = chrono::Utc::now() + chrono::Duration::days(1);
        self.state
            .storage
            .list_older_than(prefix, later)
            .await
            .expect("list the photo store")
            .len()
    }
}

/// A fresh, empty database for a server the test starts itself (e.g. the real binary):
/// a SQLite file under `dir`, or a new database in the throwaway PostgreSQL cluster (`None`
/// when PostgreSQL is not available outside CI).
pub fn fresh_database_url(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}", dir.join("fieldstar.db").display())),
        Backend::Postgres => new_pg_database(),
    }
}

/// Counts the files under `dir`, recursively (0 when it does not exist).
pub fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        count_files(&p)
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Writes a decision taken on a past date (its declaration, inspection and decision rows), as
/// the review would have written it then.
pub async fn past_decision(
    app: &TestApp,
    village_code: &str,
    on: chrono::NaiveDate,
    level: i32,
    kind: &str,
    decision: &str,
    consequence: Option<&str>,
) {
    let db = app.state.db.clone();
    let (code, kind, decision) = (
        village_code.to_string(),
        kind.to_string(),
        decision.to_string(),
    );
    let consequence = consequence.map(str::to_string);
    use diesel::prelude::*;
    use fieldstar::db::schema::{decisions, declarations, inspections};
    use fieldstar::quarter::Quarter;
    fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        let v = fieldstar::org::OrgUnit::find_by_code(&mut conn, &code)?.expect("village");
        let quarter = Quarter::containing(on).to_string();
        let at = on.and_hms_opt(4, 0, 0).unwrap();
        let declaration = uuid::Uuid::now_v7().to_string();
        let inspection = uuid::Uuid::now_v7().to_string();
        let status = if decision == "approve" {
            "approved"
        } else {
            "rejected"
        };
        fieldstar::db::write_tx(&mut conn, |c| {
            diesel::insert_into(declarations::table)
                .values((
                    declarations::id.eq(&declaration),
                    declarations::village_id.eq(&v.id),
                    declarations::township_id.eq(&v.township_id),
                    declarations::county_id.eq(&v.county_id),
                    declarations::quarter.eq(&quarter),
                    declarations::star_level.eq(level),
                    declarations::kind.eq(&kind),
                    declarations::status.eq(status),
                    declarations::created_at.eq(at),
                    declarations::updated_at.eq(at),
                ))
                .execute(c)?;
            diesel::insert_into(inspections::table)
                .values((
                    inspections::id.eq(&inspection),
                    inspections::declaration_id.eq(&declaration),
                    inspections::village_id.eq(&v.id),
                    inspections::township_id.eq(&v.township_id),
                    inspections::county_id.eq(&v.county_id),
                    inspections::inspector_id.eq("inspector"),
                    inspections::checklist_code.eq(format!("star-{level}")),
                    inspections::checklist_version.eq(1),
                    inspections::status.eq(status),
                    inspections::revision.eq(1),
                    inspections::body_hash.eq("x"),
                    inspections::body.eq("{}"),
                    inspections::evaluation.eq("{}"),
                    inspections::score.eq(50.0),
                    inspections::passed.eq(decision == "approve"),
                    inspections::flags.eq("[]"),
                    inspections::flag_severity.eq(0),
                    inspections::started_at.eq(at),
                    inspections::client_submitted_at.eq(at),
                    inspections::received_at.eq(at),
                    inspections::updated_at.eq(at),
                ))
                .execute(c)?;
            diesel::insert_into(decisions::table)
                .values((
                    decisions::id.eq(uuid::Uuid::now_v7().to_string()),
                    decisions::inspection_id.eq(&inspection),
                    decisions::revision.eq(1),
                    decisions::declaration_id.eq(&declaration),
                    decisions::village_id.eq(&v.id),
                    decisions::township_id.eq(&v.township_id),
                    decisions::county_id.eq(&v.county_id),
                    decisions::quarter.eq(&quarter),
                    decisions::star_level.eq(level),
                    decisions::kind.eq(&kind),
                    decisions::decision.eq(&decision),
                    decisions::consequence.eq(&consequence),
                    decisions::comment.eq("decided before this test"),
                    decisions::actor_id.eq("reviewer"),
                    decisions::decided_at.eq(at),
                    decisions::decided_on.eq(on),
                ))
                .execute(c)?;
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    })
    .await
    .expect("decision rows");
}
