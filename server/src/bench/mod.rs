//! `fieldstar bench`: starts fieldstar in-process on a fresh temporary database, seeds what a
//! scenario needs, drives load over real HTTP on loopback and prints one JSON line.

mod cluster;
mod hostile;
pub mod link;
mod scenarios;
mod seed;

use std::collections::HashMap;
use std::future::Future;
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use crate::db::DatabaseUrl;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Inspection PUTs (no photos), each a new inspection of a new declaration.
    Ingest,
    /// Phone-sized photo uploads (9 MP JPEGs) to inspections awaiting them.
    Photos,
    /// The first review-queue page with `--rows` submitted inspections seeded.
    Queue,
    /// A report as CSV (`--report`) for a county of `--rows` villages.
    Export,
    /// 8000 × 8000 PNG and lossless WebP uploads at once: the decoding memory bound.
    Pixels,
    /// Normal inspection PUTs beside hostile clients (slow bodies, amplifying EXIF, parallel
    /// wrong passwords, oversized manifests); bounded by `--max-p99-ms` and `--max-rss-mib`.
    Soak,
    /// One phone photo over a slow link that drops (`--kbps`, `--cut-kb`, `--photo-mb`): by
    /// tus, resuming after each cut, and by a plain PUT sent again from zero.
    Link,
    /// Inspections with their photos against running servers at `--url` (no in-process
    /// server), every acknowledged write recorded in `--acks` (tests/multi/run.sh).
    Drive,
    /// Checks `--acks` through every `--url`, the webhook receiver's `--events` and the
    /// renewals: each write there once, each photo whole everywhere, each event once.
    Verify,
}

impl Scenario {
    /// The default number of clients: the targets for ingest (64) and photos (32); a
    /// county's reviewers looking at their queue (8); a few exports at once (4).
    fn default_concurrency(self) -> usize {
        match self {
            Scenario::Ingest => 64,
            Scenario::Photos => 32,
            Scenario::Queue => 8,
            Scenario::Export => 4,
            Scenario::Pixels => 8,
            Scenario::Soak => 8,
            Scenario::Link => 1,
            Scenario::Drive => 8,
            Scenario::Verify => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Ingest => "ingest",
            Scenario::Photos => "photos",
            Scenario::Queue => "queue",
            Scenario::Export => "export",
            Scenario::Pixels => "pixels",
            Scenario::Soak => "soak",
            Scenario::Link => "link",
            Scenario::Drive => "drive",
            Scenario::Verify => "verify",
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct BenchArgs {
    pub scenario: Scenario,
    /// How long to drive load, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Concurrent HTTP clients (default: 64 ingest, 32 photos, 8 queue, 4 export).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Checklist items per inspection (ingest, photos).
    #[arg(long, default_value_t = 30)]
    pub items: usize,
    /// Rows to seed: declarations (ingest), inspections (queue), villages (export), photos
    /// (photos). Defaults to what the scenario needs for `--seconds`.
    #[arg(long)]
    pub rows: Option<u64>,
    /// `postgres://…` runs on a fresh database created there (and dropped after); default: a
    /// SQLite file in a temporary folder.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Keep the database afterwards (its location goes to stderr), to study query plans.
    #[arg(long)]
    pub keep: bool,
    /// The report the `export` scenario reads as CSV, streamed a page at a time: `stars` or
    /// `mentoring`.
    #[arg(long, default_value = "stars", value_parser = ["stars", "mentoring"])]
    pub report: String,
    /// Fail (exit 1) when the p99 latency is above this many milliseconds.
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
    /// Fail (exit 1) when the peak resident memory is above this many MiB.
    #[arg(long)]
    pub max_rss_mib: Option<f64>,
    /// The `export` scenario's format: `csv` (streamed) or `xlsx` (one workbook per request,
    /// rows written through a temporary file).
    #[arg(long, default_value = "csv", value_parser = ["csv", "xlsx"])]
    pub format: String,
    /// The `link` scenario's rates, in kbit/s, comma-separated (all run at once).
    #[arg(long, value_delimiter = ',', default_value = "64,256,1024")]
    pub kbps: Vec<u64>,
    /// The `link` scenario cuts the connection each time this many KiB went up through it.
    #[arg(long, default_value_t = 200)]
    pub cut_kb: u64,
    /// The `link` scenario's photo size in MiB.
    #[arg(long, default_value_t = 4.0)]
    pub photo_mb: f64,
    /// The `link` scenario gives up a delivery after this many seconds.
    #[arg(long, default_value_t = 900.0)]
    pub cap_secs: f64,
    /// `drive`, `verify`: the servers' base URLs (the balancer first; `verify` reads every
    /// photo through each).
    #[arg(long)]
    pub url: Vec<String>,
    /// `drive` writes one JSON line per acknowledged write here; `verify` reads it.
    #[arg(long)]
    pub acks: Option<std::path::PathBuf>,
    /// `verify`: the webhook receiver's log, one JSON line per delivery.
    #[arg(long)]
    pub events: Option<std::path::PathBuf>,
    /// Run the server as its own `fieldstar serve` process (this binary) and drive it from
    /// this one: the report's CPU, per-thread shares and peak memory are then the server's
    /// alone, and the clients' CPU is `client_cpu_seconds`.
    #[arg(long)]
    pub external: bool,
}

/// The server process an `--external` run measures (unset: this process serves).
static SERVER_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// `/proc/<pid>` of the measured server, or `/proc/self`.
fn proc_dir(pid: Option<u32>) -> String {
    pid.map_or_else(|| "/proc/self".to_string(), |p| format!("/proc/{p}"))
}

impl BenchArgs {
    /// The number of clients, once `run` has filled in the scenario's default.
    pub fn clients(&self) -> usize {
        self.concurrency
            .unwrap_or_else(|| self.scenario.default_concurrency())
    }
}

/// One scenario's measurements, printed as one JSON line.
pub struct Report {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub latencies_ms: Vec<f64>,
    pub extra: Map<String, Value>,
}

pub fn run(mut args: BenchArgs) -> Result<(), String> {
    let concurrency = args
        .concurrency
        .unwrap_or_else(|| args.scenario.default_concurrency());
    args.concurrency = Some(concurrency);
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        return Err("--seconds: must be between 0 and 3600".into());
    }
    if !(1..=4096).contains(&concurrency) {
        return Err("--concurrency: must be between 1 and 4096".into());
    }
    if !(1..=2000).contains(&args.items) {
        return Err("--items: must be between 1 and 2000".into());
    }
    if matches!(args.scenario, Scenario::Drive | Scenario::Verify) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let line = rt.block_on(async {
            match args.scenario {
                Scenario::Drive => cluster::drive(&args).await,
                _ => cluster::verify(&args).await,
            }
        })?;
        println!("{line}");
        return Ok(());
    }
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let target = Target::create(args.database_url.as_deref())?;
        let outcome = run_on(&args, &target).await;
        if args.keep {
            target.keep();
        } else {
            target.drop_database();
        }
        let line = outcome?;
        println!("{line}");
        Ok(())
    })
}

async fn run_on(args: &BenchArgs, target: &Target) -> Result<String, String> {
    let bench = Rc::new(Bench::start(target, args).await?);
    let report = match args.scenario {
        Scenario::Ingest => scenarios::ingest(&bench, args).await,
        Scenario::Photos => scenarios::photos(&bench, args).await,
        Scenario::Queue => scenarios::queue(&bench, args).await,
        Scenario::Export => scenarios::export(&bench, args).await,
        Scenario::Pixels => hostile::pixels(&bench, args).await,
        Scenario::Soak => hostile::soak(&bench, args).await,
        Scenario::Link => link::link(&bench, args).await,
        Scenario::Drive | Scenario::Verify => unreachable!("run without an in-process server"),
    };
    bench.stop().await;
    let report = report?;
    if report.requests == 0 {
        return Err(format!(
            "no request succeeded ({} failed): {}",
            report.errors,
            report.first_error.unwrap_or_default()
        ));
    }
    let doc = line(args, target, &bench, report);
    let text = ordered(&doc);
    let mut over = Vec::new();
    let p99 = doc["p99_ms"].as_f64().unwrap_or(0.0);
    let rss = doc["peak_rss_mib"].as_f64().unwrap_or(0.0);
    if let Some(bound) = args.max_p99_ms.filter(|b| p99 > *b) {
        over.push(format!("p99 {p99} ms is above --max-p99-ms {bound}"));
    }
    if let Some(bound) = args.max_rss_mib.filter(|b| rss > *b) {
        over.push(format!("peak RSS {rss} MiB is above --max-rss-mib {bound}"));
    }
    if doc.get("healthz_status").is_some_and(|s| s != 200) {
        over.push("/healthz did not answer 200 under the load".into());
    }
    if over.is_empty() {
        Ok(text)
    } else {
        Err(format!("{text}\n{}", over.join("; ")))
    }
}

/// The fields in a fixed order (the ones every scenario has first); serde_json sorts them.
fn ordered(doc: &Value) -> String {
    const FIRST: [&str; 8] = [
        "scenario",
        "backend",
        "requests",
        "per_second",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "peak_rss_mib",
    ];
    let Some(obj) = doc.as_object() else {
        return doc.to_string();
    };
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort_by_key(|k| FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()));
    let fields: Vec<String> = keys
        .into_iter()
        .map(|k| format!("{}:{}", Value::String(k.clone()), obj[k.as_str()]))
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn line(args: &BenchArgs, target: &Target, bench: &Bench, report: Report) -> Value {
    let mut lat = report.latencies_ms;
    lat.sort_by(f64::total_cmp);
    let secs = report.elapsed.as_secs_f64();
    let mut doc = json!({
        "scenario": args.scenario.name(),
        "backend": target.backend(),
        "requests": report.requests,
        "per_second": round(report.requests as f64 / secs, 1),
        "p50_ms": round(percentile(&lat, 50.0), 2),
        "p95_ms": round(percentile(&lat, 95.0), 2),
        "p99_ms": round(percentile(&lat, 99.0), 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "server": if args.external { "external process" } else { "in process" },
        "concurrency": args.clients(),
        "seconds": round(secs, 2),
        "errors": report.errors,
        "startup_ms": round(bench.startup.as_secs_f64() * 1000.0, 1),
    });
    if let Some(obj) = doc.as_object_mut() {
        if let Some(e) = report.first_error {
            obj.insert("first_error".into(), e.into());
        }
        obj.extend(report.extra);
    }
    doc
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn status_kib(field: &str) -> Option<f64> {
    let pid = SERVER_PID.get().copied();
    let status = std::fs::read_to_string(format!("{}/status", proc_dir(pid))).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The process's peak resident memory (server, clients and all; the server's alone with
/// `--external`) since the last reset.
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:").unwrap_or(0.0) / 1024.0
}

/// CPU seconds used so far by each thread of this process, summed by thread name
/// (`sqlite-writer`, each actix worker, the blocking pool…), from /proc/self/task.
pub fn thread_cpu_seconds(pid: Option<u32>) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("{}/task", proc_dir(pid))) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Some((name, secs)) = stat_cpu(&task.path().join("stat")) {
            *out.entry(name).or_insert(0.0) += secs;
        }
    }
    out
}

/// The share of one core each thread name used between two `thread_cpu_seconds` readings
/// (1.0 = one core busy the whole time); threads under 1 % are left out.
pub fn thread_shares(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
    elapsed: Duration,
) -> Map<String, Value> {
    let secs = elapsed.as_secs_f64().max(1e-9);
    after
        .iter()
        .map(|(name, t)| (name, (t - before.get(name).copied().unwrap_or(0.0)) / secs))
        .filter(|(_, share)| *share >= 0.01)
        .map(|(name, share)| (name.clone(), json!(round(share, 2))))
        .collect()
}

/// CPU time this process (server and clients) has used, in seconds: the measure that does not
/// depend on what else the machine is doing.
pub fn cpu_seconds() -> f64 {
    cpu_seconds_of(None)
}

/// CPU seconds used by process `pid` (this one when `None`).
fn cpu_seconds_of(pid: Option<u32>) -> f64 {
    stat_cpu(std::path::Path::new(&format!("{}/stat", proc_dir(pid)))).map_or(0.0, |(_, s)| s)
}

/// The command name and CPU seconds (user + system) of a `/proc/…/stat` file.
fn stat_cpu(path: &std::path::Path) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The name is in parentheses and may hold spaces; the fields after it start at field 3.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15, in clock ticks (100 a second on Linux).
    Some((
        stat[open + 1..close].to_string(),
        (ticks(11) + ticks(12)) / 100.0,
    ))
}

/// Resets the peak so that it measures the load phase, not the seeding (Linux only; elsewhere
/// the peak covers the whole run).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    if let Some(pid) = SERVER_PID.get() {
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
}

/// Where the benchmark's database lives.
pub enum Target {
    Sqlite {
        dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        url: String,
        name: String,
        dir: tempfile::TempDir,
    },
}

impl Target {
    fn create(database_url: Option<&str>) -> Result<Target, String> {
        let dir = tempfile::Builder::new()
            .prefix("fieldstar-bench-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
        match database_url.map(DatabaseUrl::parse).transpose() {
            Err(e) => Err(format!("--database-url: {e}")),
            Ok(None) => Ok(Target::Sqlite { dir }),
            Ok(Some(DatabaseUrl::Sqlite(_))) => Err(
                "--database-url: SQLite runs on a fresh temporary file; pass no URL for it".into(),
            ),
            Ok(Some(DatabaseUrl::Postgres(admin_url))) => {
                use diesel::connection::SimpleConnection;
                use diesel::Connection;
                let name = format!("fieldstar_bench_{}", uuid::Uuid::new_v4().simple());
                let mut admin = diesel::PgConnection::establish(&admin_url)
                    .map_err(|e| format!("--database-url: {e}"))?;
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .map_err(|e| format!("--database-url: cannot create a database: {e}"))?;
                let url = match admin_url.rsplit_once('/') {
                    Some((base, _)) if base.contains("://") && base.len() > "postgres://".len() => {
                        format!("{base}/{name}")
                    }
                    _ => format!("{}/{name}", admin_url.trim_end_matches('/')),
                };
                Ok(Target::Postgres {
                    admin_url,
                    url,
                    name,
                    dir,
                })
            }
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Target::Sqlite { .. } => "sqlite",
            Target::Postgres { .. } => "postgres",
        }
    }

    fn dir(&self) -> &std::path::Path {
        match self {
            Target::Sqlite { dir } | Target::Postgres { dir, .. } => dir.path(),
        }
    }

    fn database_url(&self) -> String {
        match self {
            Target::Sqlite { dir } => format!("sqlite://{}", dir.path().join("bench.db").display()),
            Target::Postgres { url, .. } => url.clone(),
        }
    }

    fn keep(self) {
        let url = self.database_url();
        match self {
            Target::Sqlite { dir } | Target::Postgres { dir, .. } => {
                let _ = dir.keep();
            }
        }
        eprintln!("fieldstar bench: kept {url}");
    }

    fn drop_database(&self) {
        if let Target::Postgres {
            admin_url, name, ..
        } = self
        {
            use diesel::connection::SimpleConnection;
            use diesel::Connection;
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// The running server and an HTTP client for it.
pub struct Bench {
    pub base: String,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    pub startup: Duration,
    /// The in-process server, or (`--external`) the `fieldstar serve` child process; the
    /// in-process state then only seeds the shared database.
    server: Server,
}

enum Server {
    InProcess(actix_web::dev::ServerHandle),
    External(std::process::Child),
}

impl Drop for Bench {
    /// A child server never outlives the bench, whatever ended it.
    fn drop(&mut self) {
        if let Server::External(child) = &mut self.server {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Bench {
    async fn start(target: &Target, args: &BenchArgs) -> Result<Bench, String> {
        // Tuning knobs (pool size, HTTP workers, …) pass through from the environment; where
        // the data lives does not.
        let mut vars: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("FIELDSTAR_"))
            .collect();
        for k in [
            "FIELDSTAR_DATA_DIR",
            "FIELDSTAR_DATABASE_URL",
            "FIELDSTAR_STORAGE_URL",
            "FIELDSTAR_BIND",
            "FIELDSTAR_JWT_SECRET",
        ] {
            vars.remove(k);
        }
        vars.insert(
            "FIELDSTAR_DATA_DIR".into(),
            target.dir().to_string_lossy().into_owned(),
        );
        vars.insert("FIELDSTAR_DATABASE_URL".into(), target.database_url());
        vars.insert("FIELDSTAR_BIND".into(), "127.0.0.1:0".into());
        vars.entry("FIELDSTAR_LOG_FORMAT".into())
            .or_insert_with(|| "text".into());
        // The clients stand for many phones but all come from 127.0.0.1.
        vars.entry("FIELDSTAR_CONNECTIONS_PER_ADDRESS".into())
            .or_insert_with(|| (args.clients() * 2 + 64).to_string());
        if matches!(
            args.scenario,
            Scenario::Photos | Scenario::Pixels | Scenario::Link
        ) {
            // The clients stand for that many phones but share one inspector's login, so the
            // per-user upload quotas (4 at once, 2 GiB an hour) would refuse most of them.
            vars.entry("FIELDSTAR_PHOTO_UPLOADS_PER_USER".into())
                .or_insert_with(|| args.clients().clamp(8, 1000).to_string());
            vars.entry("FIELDSTAR_PHOTO_BYTES_PER_HOUR".into())
                .or_insert_with(|| (1u64 << 40).to_string());
        }
        if args.external {
            // Both processes sign and check the same tokens.
            let secret: String = (0..2)
                .map(|_| uuid::Uuid::new_v4().simple().to_string())
                .collect();
            vars.insert("FIELDSTAR_JWT_SECRET".into(), secret);
        }
        let mut config =
            crate::Config::from_vars(&vars).map_err(|e| format!("configuration error: {e}"))?;
        config.handle_signals = false;
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let started = Instant::now();
        let app = crate::Application::build_with_listener(config, listener).await?;
        let state = app.state.clone();
        let (base, server) = if args.external {
            let free = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("cannot find a free port: {e}"))?;
            vars.insert("FIELDSTAR_BIND".into(), free.to_string());
            let log = std::fs::File::create(target.dir().join("server.log"))
                .map_err(|e| format!("cannot write the server's log: {e}"))?;
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let child = std::process::Command::new(exe)
                .arg("serve")
                .env_clear()
                .envs(std::env::vars().filter(|(k, _)| !k.starts_with("FIELDSTAR_")))
                .envs(&vars)
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log)
                .spawn()
                .map_err(|e| format!("cannot start `fieldstar serve`: {e}"))?;
            let _ = SERVER_PID.set(child.id());
            (format!("http://{free}"), Server::External(child))
        } else {
            let base = format!("http://127.0.0.1:{}", app.port());
            let handle = app.handle();
            actix_web::rt::spawn(app.into_server());
            (base, Server::InProcess(handle))
        };
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(4096)
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| e.to_string())?;
        // Ready means answering: wait for /readyz like a load balancer would.
        loop {
            match client.get(format!("{base}/readyz")).send().await {
                Ok(r) if r.status().is_success() => break,
                _ if started.elapsed() > Duration::from_secs(60) => {
                    return Err("the server did not become ready in 60 s".into())
                }
                _ => actix_web::rt::time::sleep(Duration::from_millis(5)).await,
            }
        }
        Ok(Bench {
            base,
            client,
            state,
            startup: started.elapsed(),
            server,
        })
    }

    /// Stops the server: in process, gracefully; the child process, by its pid.
    async fn stop(&self) {
        match &self.server {
            Server::InProcess(handle) => handle.stop(true).await,
            // SIGTERM: the server drains and exits; `Drop` reaps it.
            Server::External(child) => {
                let _ = std::process::Command::new("kill")
                    .arg(child.id().to_string())
                    .status();
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs `f` on a pooled connection on the blocking pool (seeding).
    pub async fn with_conn<T, F>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(&mut crate::db::DbConn) -> Result<T, String> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.state.db.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let mut conn = db.get().map_err(|e| e.detail)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| format!("seeding crashed: {e}"))?
    }
}

/// What one request did: `Ok(units)` (rows, bytes, … for scenario totals) or an error.
pub type Outcome = Result<u64, String>;

/// `concurrency` clients call `request(n)` with n = 0, 1, 2, … until `seconds` have passed or
/// `limit` requests were started; returns the measurements and the units summed.
pub async fn drive<F, Fut>(
    concurrency: usize,
    seconds: f64,
    limit: u64,
    request: F,
) -> (Report, u64)
where
    F: Fn(u64) -> Fut + 'static,
    Fut: Future<Output = Outcome> + 'static,
{
    let request = Rc::new(request);
    let next = Rc::new(AtomicU64::new(0));
    let server = SERVER_PID.get().copied();
    let cpu = cpu_seconds_of(server);
    let own = cpu_seconds();
    let threads = thread_cpu_seconds(server);
    // For scripts that measure beside the load (tests/perf/pg-ingest.sh: PostgreSQL's CPU).
    eprintln!("fieldstar bench: load starts");
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (request, next) = (request.clone(), next.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut lat = Vec::new();
            let (mut errors, mut units, mut first_error) = (0u64, 0u64, None);
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= limit {
                    break;
                }
                let t = Instant::now();
                match request(n).await {
                    Ok(u) => {
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        units += u;
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, errors, units, first_error)
        }));
    }
    let mut report = Report {
        requests: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latencies_ms: Vec::new(),
        extra: Map::new(),
    };
    let mut units = 0;
    for t in tasks {
        if let Ok((lat, errors, u, first)) = t.await {
            report.requests += lat.len() as u64;
            report.latencies_ms.extend(lat);
            report.errors += errors;
            units += u;
            if report.first_error.is_none() {
                report.first_error = first;
            }
        }
    }
    report.elapsed = started.elapsed();
    let used = cpu_seconds_of(server) - cpu;
    report
        .extra
        .insert("cpu_seconds".into(), json!(round(used, 2)));
    if server.is_some() {
        report.extra.insert(
            "client_cpu_seconds".into(),
            json!(round(cpu_seconds() - own, 2)),
        );
    }
    // Which thread bounds the rate: the share of a core each used (in process, the clients'
    // threads are among them).
    report.extra.insert(
        "thread_cores".into(),
        Value::Object(thread_shares(
            &threads,
            &thread_cpu_seconds(server),
            report.elapsed,
        )),
    );
    if report.requests > 0 {
        report.extra.insert(
            "cpu_ms_per_request".into(),
            json!(round(used * 1000.0 / report.requests as f64, 3)),
        );
    }
    (report, units)
}

/// Reads a response to its end; `Ok(bytes)` for a success, else the status and problem text.
pub async fn expect_success(res: Result<reqwest::Response, reqwest::Error>) -> Outcome {
    let res = res.map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body.len() as u64)
    } else {
        Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(400)])
        ))
    }
}
