//! Configuration: read once from the environment, with safe one-machine defaults.
//! A bad value stops start-up with a message that names the variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::db::DatabaseUrl;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    pub storage_url: String,
    pub jwt_secret: Vec<u8>,
    pub data_dir: PathBuf,
    pub timezone: chrono_tz::Tz,
    pub demo_password: Option<String>,
    pub log_format: LogFormat,
    pub webhook_allow_private: bool,
    /// How long a reviewer's claim on an inspection lasts.
    pub claim_minutes: i64,
    pub photo_max_bytes: usize,
    pub json_max_bytes: usize,
    /// How every request body must arrive: idle timeout and minimum rate over a window.
    pub body_pace: crate::http::pace::Pace,
    /// TCP connections one client address may hold at once (its peer address; not counted for
    /// trusted proxies).
    pub connections_per_address: usize,
    /// MiB of memory the photo decodes in progress may take together (`photo/decoders.rs`).
    pub decode_budget_mib: u32,
    /// Photo uploads one user may have in flight at once.
    pub photo_uploads_per_user: usize,
    /// Photo bytes one user may upload per hour (a bucket that refills continuously).
    pub photo_bytes_per_hour: u64,
    /// Blobs younger than this are left alone by the start-up orphan sweep (uploads in flight).
    pub orphan_min_age: std::time::Duration,
    pub db_pool_size: u32,
    /// Whether the webhook delivery worker runs in this process.
    pub run_workers: bool,
    /// Whether this process creates each quarter's renewal declarations.
    pub run_renewals: bool,
    /// The first webhook retry waits this long; each later one twice the one before (cap 1 h).
    pub webhook_retry_base_ms: u64,
    /// How often the webhook worker looks for new events and due deliveries.
    pub webhook_poll_ms: u64,
    /// Finished webhook jobs, their delivery log and dispatched events are kept this long.
    pub webhook_retention_days: u32,
    /// Peers whose `X-Forwarded-For` names the client (the operator's proxies).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// HTTP worker threads (default: one per core).
    pub http_workers: Option<usize>,
    /// Whether SIGTERM/SIGINT stop the server gracefully (off for in-process test servers).
    pub handle_signals: bool,
    /// Where `/metrics` is served instead of the main address, when set.
    pub metrics_addr: Option<SocketAddr>,
    /// HTTPS served directly (`FIELDSTAR_TLS_CERT`, `FIELDSTAR_TLS_KEY`), when set.
    pub tls: Option<crate::http::tls::TlsFiles>,
    /// `FIELDSTAR_*` variables this build does not know, each with a warning to log.
    pub warnings: Vec<String>,
}

/// Every variable the server reads. Add each new one here: any other `FIELDSTAR_*` variable is
/// reported at start-up as a probable misspelling (a unit test checks this list).
pub const KNOWN_VARIABLES: &[&str] = &[
    "FIELDSTAR_DATABASE_URL",
    "FIELDSTAR_BIND",
    "FIELDSTAR_STORAGE_URL",
    "FIELDSTAR_JWT_SECRET",
    "FIELDSTAR_DATA_DIR",
    "FIELDSTAR_TIMEZONE",
    "FIELDSTAR_DEMO_PASSWORD",
    "FIELDSTAR_LOG_FORMAT",
    "FIELDSTAR_WEBHOOK_ALLOW_PRIVATE",
    "FIELDSTAR_CLAIM_MINUTES",
    "FIELDSTAR_PHOTO_MAX_BYTES",
    "FIELDSTAR_JSON_MAX_BYTES",
    "FIELDSTAR_PHOTO_BODY_TIMEOUT_SECS",
    "FIELDSTAR_PHOTO_UPLOADS_PER_USER",
    "FIELDSTAR_PHOTO_BYTES_PER_HOUR",
    "FIELDSTAR_ORPHAN_MIN_AGE_SECS",
    "FIELDSTAR_DB_POOL_SIZE",
    "FIELDSTAR_WORKERS",
    "FIELDSTAR_RENEWALS",
    "FIELDSTAR_WEBHOOK_RETRY_BASE_MS",
    "FIELDSTAR_WEBHOOK_POLL_MS",
    "FIELDSTAR_WEBHOOK_RETENTION_DAYS",
    "FIELDSTAR_TRUSTED_PROXIES",
    "FIELDSTAR_HTTP_WORKERS",
    "FIELDSTAR_METRICS_ADDR",
    "FIELDSTAR_BODY_IDLE_SECS",
    "FIELDSTAR_TLS_CERT",
    "FIELDSTAR_TLS_KEY",
    "FIELDSTAR_BODY_MIN_BYTES_PER_SEC",
    "FIELDSTAR_BODY_RATE_WINDOW_SECS",
    "FIELDSTAR_CONNECTIONS_PER_ADDRESS",
    "FIELDSTAR_DECODE_BUDGET_MIB",
];

/// Variables of the project's own tooling (tests, CI, browser runners, the build), which may be
/// set in the same environment without being meant for the server.
const TOOL_VARIABLES: &[&str] = &[
    "FIELDSTAR_TEST_POSTGRES_URL",
    "FIELDSTAR_TEST_PHOTOS",
    "FIELDSTAR_UPDATE_SPEC",
    "FIELDSTAR_SHOTS",
    "FIELDSTAR_NODE_HOME",
    "FIELDSTAR_NODE_DIR",
    "FIELDSTAR_URL",
    "FIELDSTAR_CI_VENV",
    "FIELDSTAR_CHROMIUM_PROFILE",
    "FIELDSTAR_GIT_COMMIT",
];

/// A warning for each `FIELDSTAR_*` variable that nothing reads, naming the closest known one.
pub fn unknown_variables<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with("FIELDSTAR_"))
        .filter(|n| !KNOWN_VARIABLES.contains(&n.as_str()) && !TOOL_VARIABLES.contains(&n.as_str()))
        .map(|n| {
            let closest = KNOWN_VARIABLES
                .iter()
                .map(|k| (edit_distance(n, k), *k))
                .min()
                .filter(|(d, _)| *d <= 4);
            match closest {
                Some((_, k)) => {
                    format!("{n} is not a fieldstar variable and is ignored (did you mean {k}?)")
                }
                None => format!("{n} is not a fieldstar variable and is ignored"),
            }
        })
        .collect();
    out.sort();
    out
}

/// Levenshtein distance, for the "did you mean" of a misspelt variable.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("FIELDSTAR_"))
            .collect();
        Self::from_vars(&vars)
    }

    /// Reads the configuration from a map of variables, so tests need not touch the process
    /// environment. Creates the data dir and, unless one is given, the JWT secret file.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());

        let data_dir = PathBuf::from(get("FIELDSTAR_DATA_DIR").unwrap_or("./data"));
        std::fs::create_dir_all(&data_dir).map_err(|e| {
            err(
                "FIELDSTAR_DATA_DIR",
                format!("cannot create {}: {e}", data_dir.display()),
            )
        })?;

        let database_url = match get("FIELDSTAR_DATABASE_URL") {
            Some(url) => DatabaseUrl::parse(url).map_err(|m| err("FIELDSTAR_DATABASE_URL", m))?,
            None => DatabaseUrl::Sqlite(data_dir.join("fieldstar.db")),
        };
        // SQLite would create a missing directory's file nowhere and report ready: refuse.
        if let DatabaseUrl::Sqlite(path) = &database_url {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            if let Some(dir) = dir.filter(|d| !d.is_dir()) {
                return Err(err(
                    "FIELDSTAR_DATABASE_URL",
                    format!(
                        "the directory {} of the SQLite file does not exist (create it or fix the path)",
                        dir.display()
                    ),
                ));
            }
        }

        let bind = get("FIELDSTAR_BIND")
            .unwrap_or("127.0.0.1:8080")
            .parse::<SocketAddr>()
            .map_err(|e| err("FIELDSTAR_BIND", format!("expected HOST:PORT ({e})")))?;

        let storage_url = match get("FIELDSTAR_STORAGE_URL") {
            Some(url) => {
                if !(url.starts_with("file://") || url.starts_with("s3://")) {
                    return Err(err(
                        "FIELDSTAR_STORAGE_URL",
                        "expected file:///path or s3://bucket/prefix",
                    ));
                }
                url.to_string()
            }
            None => format!("file://{}", absolute(&data_dir.join("photos")).display()),
        };

        let jwt_secret = match get("FIELDSTAR_JWT_SECRET") {
            Some(s) if s.len() < 32 => {
                return Err(err(
                    "FIELDSTAR_JWT_SECRET",
                    "must be at least 32 characters",
                ))
            }
            Some(s) => s.as_bytes().to_vec(),
            None => load_or_create_secret(&data_dir)?,
        };

        let timezone = get("FIELDSTAR_TIMEZONE")
            .unwrap_or("Asia/Shanghai")
            .parse::<chrono_tz::Tz>()
            .map_err(|_| {
                err(
                    "FIELDSTAR_TIMEZONE",
                    "expected an IANA time zone name such as Asia/Shanghai",
                )
            })?;

        let demo_password = match get("FIELDSTAR_DEMO_PASSWORD") {
            Some(p) if p.chars().count() < 10 => {
                return Err(err(
                    "FIELDSTAR_DEMO_PASSWORD",
                    "must be at least 10 characters",
                ))
            }
            other => other.map(str::to_string),
        };

        let log_format = match get("FIELDSTAR_LOG_FORMAT").unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(err("FIELDSTAR_LOG_FORMAT", "expected text or json")),
        };

        let webhook_allow_private = match get("FIELDSTAR_WEBHOOK_ALLOW_PRIVATE").unwrap_or("0") {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => return Err(err("FIELDSTAR_WEBHOOK_ALLOW_PRIVATE", "expected 1 or 0")),
        };

        let claim_minutes = number(
            get("FIELDSTAR_CLAIM_MINUTES"),
            "FIELDSTAR_CLAIM_MINUTES",
            120,
            1,
            7 * 24 * 60,
        )?;
        let photo_max_bytes = number(
            get("FIELDSTAR_PHOTO_MAX_BYTES"),
            "FIELDSTAR_PHOTO_MAX_BYTES",
            20 << 20,
            1 << 10,
            200 << 20,
        )? as usize;
        let json_max_bytes = number(
            get("FIELDSTAR_JSON_MAX_BYTES"),
            "FIELDSTAR_JSON_MAX_BYTES",
            1 << 20,
            1 << 10,
            64 << 20,
        )? as usize;
        let body_pace = crate::http::pace::Pace {
            idle: std::time::Duration::from_secs(number(
                get("FIELDSTAR_BODY_IDLE_SECS"),
                "FIELDSTAR_BODY_IDLE_SECS",
                30,
                1,
                3600,
            )? as u64),
            min_bytes_per_sec: number(
                get("FIELDSTAR_BODY_MIN_BYTES_PER_SEC"),
                "FIELDSTAR_BODY_MIN_BYTES_PER_SEC",
                512,
                1,
                1 << 30,
            )? as u64,
            window: std::time::Duration::from_secs(number(
                get("FIELDSTAR_BODY_RATE_WINDOW_SECS"),
                "FIELDSTAR_BODY_RATE_WINDOW_SECS",
                30,
                1,
                3600,
            )? as u64),
        };
        let connections_per_address = number(
            get("FIELDSTAR_CONNECTIONS_PER_ADDRESS"),
            "FIELDSTAR_CONNECTIONS_PER_ADDRESS",
            64,
            1,
            100_000,
        )? as usize;
        let decode_budget_mib = number(
            get("FIELDSTAR_DECODE_BUDGET_MIB"),
            "FIELDSTAR_DECODE_BUDGET_MIB",
            512,
            64,
            1 << 20,
        )? as u32;
        let photo_uploads_per_user = number(
            get("FIELDSTAR_PHOTO_UPLOADS_PER_USER"),
            "FIELDSTAR_PHOTO_UPLOADS_PER_USER",
            4,
            1,
            1000,
        )? as usize;
        let photo_bytes_per_hour = number(
            get("FIELDSTAR_PHOTO_BYTES_PER_HOUR"),
            "FIELDSTAR_PHOTO_BYTES_PER_HOUR",
            2 << 30,
            1 << 20,
            1 << 40,
        )? as u64;
        let orphan_min_age = std::time::Duration::from_secs(number(
            get("FIELDSTAR_ORPHAN_MIN_AGE_SECS"),
            "FIELDSTAR_ORPHAN_MIN_AGE_SECS",
            600,
            0,
            7 * 24 * 3600,
        )? as u64);
        let default_pool = if database_url.backend() == crate::db::Backend::Sqlite {
            8
        } else {
            16
        };
        let db_pool_size = number(
            get("FIELDSTAR_DB_POOL_SIZE"),
            "FIELDSTAR_DB_POOL_SIZE",
            default_pool,
            1,
            512,
        )? as u32;
        let run_workers = match get("FIELDSTAR_WORKERS").unwrap_or("1") {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => return Err(err("FIELDSTAR_WORKERS", "expected 1 or 0")),
        };

        let run_renewals = match get("FIELDSTAR_RENEWALS").unwrap_or("1") {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => return Err(err("FIELDSTAR_RENEWALS", "expected 1 or 0")),
        };
        let webhook_retry_base_ms = number(
            get("FIELDSTAR_WEBHOOK_RETRY_BASE_MS"),
            "FIELDSTAR_WEBHOOK_RETRY_BASE_MS",
            10_000,
            1,
            3_600_000,
        )? as u64;
        let webhook_poll_ms = number(
            get("FIELDSTAR_WEBHOOK_POLL_MS"),
            "FIELDSTAR_WEBHOOK_POLL_MS",
            1_000,
            10,
            60_000,
        )? as u64;

        let webhook_retention_days = number(
            get("FIELDSTAR_WEBHOOK_RETENTION_DAYS"),
            "FIELDSTAR_WEBHOOK_RETENTION_DAYS",
            30,
            1,
            3650,
        )? as u32;

        let trusted_proxies =
            crate::http::client::parse_trusted(get("FIELDSTAR_TRUSTED_PROXIES").unwrap_or(""))
                .map_err(|m| err("FIELDSTAR_TRUSTED_PROXIES", m))?;

        let http_workers = match get("FIELDSTAR_HTTP_WORKERS") {
            Some(v) => Some(number(Some(v), "FIELDSTAR_HTTP_WORKERS", 0, 1, 256)? as usize),
            None => None,
        };

        let metrics_addr = match get("FIELDSTAR_METRICS_ADDR") {
            Some(v) => Some(v.parse::<SocketAddr>().map_err(|e| {
                err(
                    "FIELDSTAR_METRICS_ADDR",
                    format!("expected HOST:PORT ({e})"),
                )
            })?),
            None => None,
        };

        Ok(Config {
            database_url,
            bind,
            storage_url,
            jwt_secret,
            data_dir,
            timezone,
            demo_password,
            log_format,
            webhook_allow_private,
            claim_minutes,
            photo_max_bytes,
            json_max_bytes,
            body_pace,
            connections_per_address,
            decode_budget_mib,
            photo_uploads_per_user,
            photo_bytes_per_hour,
            orphan_min_age,
            db_pool_size,
            run_workers,
            run_renewals,
            webhook_retry_base_ms,
            webhook_poll_ms,
            webhook_retention_days,
            trusted_proxies,
            http_workers,
            handle_signals: true,
            metrics_addr,
            tls: crate::http::tls::files(get("FIELDSTAR_TLS_CERT"), get("FIELDSTAR_TLS_KEY"))?,
            warnings: unknown_variables(vars.keys()),
        })
    }
}

fn number(
    value: Option<&str>,
    var: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    let n: i64 = v
        .parse()
        .map_err(|_| err(var, format!("expected a whole number, got {v:?}")))?;
    if !(min..=max).contains(&n) {
        return Err(err(var, format!("must be between {min} and {max}")));
    }
    Ok(n)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The signing secret lives in the data dir, created once with mode 0600, so that restarts
/// keep sessions valid without any configuration.
fn load_or_create_secret(data_dir: &Path) -> Result<Vec<u8>, ConfigError> {
    let path = data_dir.join("jwt-secret");
    let var = "FIELDSTAR_DATA_DIR";
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => return Err(err(var, format!("{} is too short", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(var, format!("cannot read {}: {e}", path.display()))),
    }
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(&path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(secret.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| err(var, format!("cannot write {}: {e}", path.display())))?;
            Ok(secret.into_bytes())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(&path)
            .map(|s| s.trim().as_bytes().to_vec())
            .map_err(|e| err(var, format!("cannot read {}: {e}", path.display()))),
        Err(e) => Err(err(var, format!("cannot write {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(dir: &Path, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert(
            "FIELDSTAR_DATA_DIR".to_string(),
            dir.to_string_lossy().into_owned(),
        );
        for (k, v) in extra {
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    #[test]
    fn defaults_work_on_one_machine_and_create_a_private_secret() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::from_vars(&vars(dir.path(), &[])).unwrap();
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite(dir.path().join("fieldstar.db"))
        );
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert!(c.storage_url.starts_with("file://"));
        assert_eq!(c.timezone, chrono_tz::Asia::Shanghai);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("jwt-secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Config::from_vars(&vars(dir.path(), &[])).unwrap();
        assert_eq!(c.jwt_secret, again.jwt_secret, "the secret is kept");
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let dir = tempfile::tempdir().unwrap();
        for (var, value) in [
            ("FIELDSTAR_DATABASE_URL", "mysql://x"),
            ("FIELDSTAR_BIND", "nowhere"),
            ("FIELDSTAR_STORAGE_URL", "ftp://x"),
            ("FIELDSTAR_JWT_SECRET", "short"),
            ("FIELDSTAR_TIMEZONE", "Mars/Olympus"),
            ("FIELDSTAR_DEMO_PASSWORD", "short"),
            ("FIELDSTAR_LOG_FORMAT", "xml"),
            ("FIELDSTAR_WEBHOOK_ALLOW_PRIVATE", "yes"),
            ("FIELDSTAR_CLAIM_MINUTES", "0"),
            ("FIELDSTAR_BODY_IDLE_SECS", "0"),
            ("FIELDSTAR_BODY_MIN_BYTES_PER_SEC", "slow"),
            ("FIELDSTAR_BODY_RATE_WINDOW_SECS", "0"),
            ("FIELDSTAR_CONNECTIONS_PER_ADDRESS", "0"),
            ("FIELDSTAR_DECODE_BUDGET_MIB", "1"),
            ("FIELDSTAR_PHOTO_UPLOADS_PER_USER", "many"),
            ("FIELDSTAR_ORPHAN_MIN_AGE_SECS", "-1"),
            ("FIELDSTAR_WEBHOOK_RETENTION_DAYS", "0"),
            ("FIELDSTAR_TRUSTED_PROXIES", "10.0.0.1,proxy.local"),
            ("FIELDSTAR_METRICS_ADDR", "metrics"),
            (
                "FIELDSTAR_DATABASE_URL",
                "sqlite:///nonexistent-dir/fieldstar.db",
            ),
        ] {
            let e = Config::from_vars(&vars(dir.path(), &[(var, value)])).unwrap_err();
            assert_eq!(e.var, var, "{value}");
            assert!(e.to_string().starts_with(var));
        }
    }

    #[test]
    fn a_misspelt_variable_is_reported_with_the_closest_known_name() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::from_vars(&vars(
            dir.path(),
            &[
                ("FIELDSTAR_DATABSE_URL", "x"),
                ("FIELDSTAR_TEST_PHOTOS", "y"),
            ],
        ))
        .unwrap();
        assert_eq!(
            c.warnings,
            vec!["FIELDSTAR_DATABSE_URL is not a fieldstar variable and is ignored (did you mean FIELDSTAR_DATABASE_URL?)"]
        );
        assert!(
            unknown_variables(&["FIELDSTAR_SOMETHING_ELSE_ENTIRELY".to_string()])[0]
                .ends_with("is ignored")
        );
    }

    #[test]
    fn every_variable_this_file_reads_is_known() {
        let source = include_str!("config.rs");
        for part in source.split("get(\"").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(
                KNOWN_VARIABLES.contains(&name),
                "{name} is missing from KNOWN_VARIABLES"
            );
        }
    }
}
