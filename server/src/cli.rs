//! The command line: `serve`, `migrate`, `demo`, the operator's imports and `bench`. Every failure
//! prints one clear line to stderr and exits non-zero.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::auth::Actor;
use crate::config::Config;
use crate::db::{Db, DbConn};
use crate::error::ApiError;
use crate::org::decode::Encoding;

fn parse_encoding(s: &str) -> Result<Encoding, String> {
    Encoding::parse(s).map_err(|m| m.to_string())
}

#[derive(Parser)]
#[command(
    name = "fieldstar",
    version,
    about = "Quarterly on-site verification of star-rated villages"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrates first).
    Serve {
        /// Address to listen on (overrides FIELDSTAR_BIND).
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Seed the demo county first (once; seeding again changes nothing).
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Seed the demo county and print its logins.
    Demo,
    /// Org units.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Checklist templates.
    Checklist {
        #[command(subcommand)]
        command: ChecklistCommand,
    },
    /// Photos.
    Photo {
        #[command(subcommand)]
        command: PhotoCommand,
    },
    /// Star levels.
    Stars {
        #[command(subcommand)]
        command: StarsCommand,
    },
    /// Benchmark a scenario on a fresh temporary database; prints one JSON line.
    Bench(crate::bench::BenchArgs),
}

#[derive(Subcommand)]
enum ChecklistCommand {
    /// Import a checklist template (JSON) as a new version available to every county.
    Import {
        file: PathBuf,
        /// Publish the new version at once.
        #[arg(long)]
        publish: bool,
    },
}

#[derive(Subcommand)]
enum PhotoCommand {
    /// Run the server's exact photo pipeline on a file; print JSON, write the derivatives.
    Inspect {
        file: PathBuf,
        /// Write display.jpg and thumb.jpg here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StarsCommand {
    /// Import the levels villages held before fieldstar: village_code,level,since_quarter.
    Import {
        file: PathBuf,
        /// utf-8 or gb18030 (what Excel and WPS save on a Chinese Windows); detected when absent.
        #[arg(long, value_parser = parse_encoding)]
        encoding: Option<Encoding>,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Import org units from CSV: code,name,level,parent_code,lat,lon,radius_m.
    Import {
        file: PathBuf,
        /// utf-8 or gb18030 (what Excel and WPS save on a Chinese Windows); detected when absent.
        #[arg(long, value_parser = parse_encoding)]
        encoding: Option<Encoding>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from stdin or generated and printed once.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
        /// Code of the org unit that is the user's scope.
        #[arg(long)]
        org: String,
        /// A reviewer's verifying body: department or association (required for reviewers).
        #[arg(long)]
        body: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fieldstar: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration for a one-off command: unknown variables are warned about on stderr.
fn config() -> Result<Config, String> {
    let config = Config::from_env().map_err(|e| format!("configuration error: {e}"))?;
    for warning in &config.warnings {
        eprintln!("fieldstar: warning: {warning}");
    }
    Ok(config)
}

fn open_db(config: &Config) -> Result<Db, String> {
    let db =
        Db::connect(&config.database_url, 2).map_err(|e| format!("FIELDSTAR_DATABASE_URL: {e}"))?;
    db.migrate()
        .map_err(|e| format!("FIELDSTAR_DATABASE_URL: {e}"))?;
    Ok(db)
}

fn with_conn<T>(
    config: &Config,
    f: impl FnOnce(&mut DbConn) -> Result<T, String>,
) -> Result<T, String> {
    let db = open_db(config)?;
    let mut conn = db.get().map_err(|e| e.detail)?;
    f(&mut conn)
}

fn api_error(e: ApiError) -> String {
    match e.errors.as_slice() {
        [] => e.detail,
        errs => errs
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve { bind, demo } => {
            let mut config = Config::from_env().map_err(|e| format!("configuration error: {e}"))?;
            if let Some(b) = bind {
                config.bind = b;
            }
            crate::telemetry::init(config.log_format);
            for warning in &config.warnings {
                tracing::warn!("{warning}");
            }
            serve(config, demo)
        }
        Command::Migrate => {
            let config = config()?;
            let db = Db::connect(&config.database_url, 1)
                .map_err(|e| format!("FIELDSTAR_DATABASE_URL: {e}"))?;
            let applied = db.migrate()?;
            println!(
                "{} migration(s) applied on {}",
                applied.len(),
                config.database_url.redacted()
            );
            Ok(())
        }
        Command::Demo => {
            let config = config()?;
            with_conn(&config, |conn| seed_demo(conn, &config))
        }
        Command::Org {
            command: OrgCommand::Import { file, encoding },
        } => {
            let config = config()?;
            let input = std::fs::File::open(&file)
                .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
            with_conn(&config, |conn| {
                let summary = crate::org::import::import(conn, input, encoding, &Actor::cli())
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                println!(
                    "{}: {} created, {} updated, {} unchanged",
                    file.display(),
                    summary.created,
                    summary.updated,
                    summary.unchanged
                );
                Ok(())
            })
        }
        Command::Checklist {
            command: ChecklistCommand::Import { file, publish },
        } => {
            let config = config()?;
            import_checklist(&config, &file, publish)
        }
        Command::Photo {
            command: PhotoCommand::Inspect { file, out },
        } => inspect_photo(&file, out.as_ref()),
        Command::Stars {
            command: StarsCommand::Import { file, encoding },
        } => {
            let config = config()?;
            let input = std::fs::File::open(&file)
                .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
            let today = crate::clock::today(config.timezone);
            with_conn(&config, |conn| {
                let summary =
                    crate::stars::import::import(conn, input, encoding, today, &Actor::cli())
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                println!(
                    "{}: {} created, {} updated, {} unchanged",
                    file.display(),
                    summary.created,
                    summary.updated,
                    summary.unchanged
                );
                Ok(())
            })
        }
        Command::Bench(args) => crate::bench::run(args),
        Command::User {
            command:
                UserCommand::Create {
                    username,
                    role,
                    org,
                    body,
                    password_stdin,
                },
        } => {
            let config = config()?;
            let (password, generated) = if password_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| format!("cannot read stdin: {e}"))?;
                (s.trim_end_matches(['\n', '\r']).to_string(), false)
            } else {
                (crate::demo::random_password_for_cli(), true)
            };
            let new = crate::users::NewUser::parse(&username, &password, &role, body.as_deref())
                .map_err(|e| api_error(ApiError::validation(e)))?;
            with_conn(&config, |conn| {
                let unit = crate::org::OrgUnit::find_by_code(conn, &org)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("--org: no org unit has code {org}"))?;
                let user = crate::db::write_tx(conn, |c| new.insert(c, &unit, &Actor::cli()))
                    .map_err(api_error)?;
                println!(
                    "created {} ({}{}) at {}",
                    user.username,
                    user.role,
                    user.body.map(|b| format!(", {b}")).unwrap_or_default(),
                    unit.code
                );
                if generated {
                    println!("password: {password}");
                }
                Ok(())
            })
        }
    }
}

fn import_checklist(config: &Config, file: &PathBuf, publish: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let template: crate::checklist::template::Template = crate::http::json::parse(text.as_bytes())
        .map_err(|e| format!("{}: {}", file.display(), api_error(e)))?;
    with_conn(config, |conn| {
        let v = crate::db::write_tx(conn, |c| {
            crate::checklist::store::add_version(c, &template, None, publish, &Actor::cli())
        })
        .map_err(|e| format!("{}: {}", file.display(), api_error(e)))?;
        println!("{} version {} ({})", v.code, v.version, v.status);
        Ok(())
    })
}

fn inspect_photo(file: &PathBuf, out: Option<&PathBuf>) -> Result<(), String> {
    let started = std::time::Instant::now();
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let processed = crate::photo::pipeline::process(&bytes, &crate::photo::routes::limits())
        .map_err(|e| format!("{}: {e}", file.display()))?;
    if let Some(dir) = out {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for (name, data) in [
            ("display.jpg", &processed.display_jpeg),
            ("thumb.jpg", &processed.thumb_jpeg),
        ] {
            std::fs::write(dir.join(name), data)
                .map_err(|e| format!("cannot write {name}: {e}"))?;
        }
    }
    let mut doc = serde_json::to_value(&processed).map_err(|e| e.to_string())?;
    doc["file"] = serde_json::Value::String(file.display().to_string());
    doc["wall_ms"] = serde_json::json!(started.elapsed().as_secs_f64() * 1000.0);
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn seed_demo(conn: &mut DbConn, config: &Config) -> Result<(), String> {
    let summary = crate::demo::seed(conn, config.demo_password.as_deref()).map_err(api_error)?;
    println!(
        "demo county {}: {} org units created, users created: {}",
        crate::demo::COUNTY_CODE,
        summary.created_units,
        if summary.created_users.is_empty() {
            "none".to_string()
        } else {
            summary.created_users.join(", ")
        }
    );
    if let Some(p) = summary.password.filter(|_| summary.password_was_generated) {
        println!("password for the demo users (shown once): {p}");
    } else if !summary.created_users.is_empty() {
        println!("password for the demo users: the value of FIELDSTAR_DEMO_PASSWORD");
    }
    println!(
        "logins: {}",
        crate::demo::USERS
            .iter()
            .map(|(u, _)| *u)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

fn serve(config: Config, demo: bool) -> Result<(), String> {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let started = std::time::Instant::now();
        let app = crate::Application::build(config.clone()).await?;
        if demo {
            let db = app.state.db.clone();
            let cfg = config.clone();
            crate::db::blocking(move || {
                let mut conn = db.get()?;
                seed_demo(&mut conn, &cfg).map_err(ApiError::unavailable)
            })
            .await
            .map_err(|e| e.detail)?;
        }
        tracing::info!(
            address = %format!("http://{}:{}", config.bind.ip(), app.port()),
            database = %config.database_url.redacted(),
            storage = %config.storage_url,
            ready_ms = started.elapsed().as_millis() as u64,
            "fieldstar is listening"
        );
        let state = app.state.clone();
        let served = app.run().await.map_err(|e| e.to_string());
        // Let a delivery in flight finish and record its attempt before the process exits.
        state.webhooks.stop().await;
        // Then hand the leases over at once rather than when the process is gone.
        let leases = state.leases.clone();
        let _ = tokio::task::spawn_blocking(move || leases.stop()).await;
        served
    })
}
