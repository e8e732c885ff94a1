//! Database access: one connection type over SQLite and PostgreSQL, the pool, the embedded
//! migrations, and the two doors every query goes through (`Db::read` and `Db::write`).

pub mod put;
pub mod schema;
mod writer;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::ApiError;

/// A status enum stored in a text column under its `as_str()` name: queries compare and set
/// the column with the enum itself (`status.eq(InspectionStatus::Submitted)`), never with a
/// string, and it prints (`Display`) as that name.
macro_rules! stored_as_text {
    ($ty:ty) => {
        impl diesel::expression::AsExpression<diesel::sql_types::Text> for $ty {
            type Expression = <&'static str as diesel::expression::AsExpression<
                diesel::sql_types::Text,
            >>::Expression;

            fn as_expression(self) -> Self::Expression {
                diesel::expression::AsExpression::<diesel::sql_types::Text>::as_expression(
                    self.as_str(),
                )
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use stored_as_text;

/// Runs `$body` on the connection underneath a `DbConn` (`$c` is the `SqliteConnection` or
/// the `PgConnection`), for the statements of the busiest write, a submitted inspection.
/// Through the `DbConn` (diesel's `MultiConnection`) a statement's SQL is rendered again each
/// time it runs — every identifier quoted and escaped, up to three times: to look up the
/// prepared statement, to check it may be cached and to bind its values — even when the
/// statement is prepared already; on the backend's own connection a statement of fixed shape
/// is found by its type and only its values are bound. The body is compiled once for each
/// backend. docs/performance.md measures it.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Pg($c) => $body,
        }
    };
}
pub(crate) use on_backend;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Pg(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Where the data lives: chosen from the URL scheme, never guessed by trying to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| "expected postgres://…, postgresql://… or sqlite://PATH".to_string())?;
        if path.is_empty() {
            return Err("the sqlite URL names no file".into());
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL with any password masked, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(u) => match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => match u[s + 3..at].find(':') {
                    Some(colon) => format!("{}:***{}", &u[..s + 3 + colon], &u[at..]),
                    None => u.clone(),
                },
                _ => u.clone(),
            },
        }
    }
}

/// Opens connections of the configured backend; SQLite gets its pragmas on every connect.
#[derive(Clone, Debug)]
pub struct ConnManager {
    url: DatabaseUrl,
}

impl ConnManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }

    pub fn establish(&self) -> Result<DbConn, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                sqlite_stable_plans();
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the single writer. FULL syncs the WAL at every
                // commit, so an answered write survives a power cut too; with group commit it
                // costs no throughput (docs/performance.md measures it against NORMAL).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -16000; PRAGMA temp_store = MEMORY;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// Turns on SQLite's query-planner stability guarantee for every connection this process opens.
/// Without it SQLite treats a value bound to LIMIT (every diesel `.first()`) or compared with a
/// partial index's WHERE as part of the plan, and re-prepares the cached statement each time
/// the value is bound again: a lookup by id of an inspection cost 36 µs, almost all of it
/// parsing the SQL again; with it, 4 µs (docs/performance.md). fieldstar's plans never depend
/// on bound values (no statistics are gathered, partial indexes serve uniqueness only).
fn sqlite_stable_plans() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a plain function with the bundled SQLite before any connection of
        // this process uses it; SQLite calls it with each new connection's valid handle.
        let rc = unsafe { libsqlite3_sys::sqlite3_auto_extension(Some(enable_qpsg)) };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::warn!(
                rc,
                "could not enable SQLite's query-planner stability guarantee"
            );
        }
    });
}

unsafe extern "C" fn enable_qpsg(
    db: *mut libsqlite3_sys::sqlite3,
    _error: *mut *mut std::ffi::c_char,
    _api: *const libsqlite3_sys::sqlite3_api_routines,
) -> std::ffi::c_int {
    // SAFETY: `db` is the connection SQLite is opening; a null pointer asks for no read-back.
    unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        );
    }
    libsqlite3_sys::SQLITE_OK
}

/// A connection in the pool: when it last went back, and whether the work done on it failed
/// in a way that makes it suspect (a 5xx).
pub struct Pooled {
    conn: DbConn,
    returned: Instant,
    suspect: bool,
}

/// How long a request waits for a connection before it is answered 503.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection that went back to the pool less than this ago is handed out without a ping.
/// r2d2 pings (`SELECT 1`) at every checkout to find connections that died while idle (a
/// database restart, a firewall's idle timeout); under load every connection is back within
/// milliseconds, and two pings a request were 2 of PostgreSQL's ~20 round trips for a submitted
/// inspection (docs/performance.md). A connection whose work failed is dropped on return
/// instead (`has_broken`), so a dead one costs at most the request that found it.
const PING_AFTER_IDLE: Duration = Duration::from_secs(2);

impl ManageConnection for ConnManager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        Ok(Pooled {
            conn: self.establish()?,
            returned: Instant::now(),
            suspect: false,
        })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), r2d2::Error> {
        if conn.returned.elapsed() < PING_AFTER_IDLE {
            return Ok(());
        }
        conn.conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.returned = Instant::now();
        conn.suspect || std::thread::panicking() || conn.conn.is_broken()
    }
}

/// Runs `f` on a pooled connection; a server error (a 5xx: the database failed, or the code
/// did) marks the connection so the pool drops it instead of handing it out unchecked.
fn on_pooled<T>(
    mut conn: Conn,
    f: impl FnOnce(&mut DbConn) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let outcome = f(&mut conn);
    if let Err(e) = &outcome {
        conn.0.suspect |= e.status.is_server_error();
    }
    outcome
}

/// A connection checked out of the pool; a `DbConn` to its user.
pub struct Conn(PooledConnection<ConnManager>);

impl std::ops::Deref for Conn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.0.conn
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.0.conn
    }
}

/// The pool and its backend. Diesel blocks, so reads run on the blocking thread pool. On
/// SQLite, `write` goes to the writer thread (`writer.rs`): SQLite admits one writer at a time
/// anyway, writers racing for the file lock sleep in its busy handler for 1, 2, 5, 10… ms each
/// time they lose, and one thread committing what queued up together pays one commit for many
/// writes (docs/performance.md measures all three).
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnManager>,
    /// As many permits as the pool has connections: `read` and `write` wait here, in arrival
    /// order, rather than in r2d2's checkout, which wakes its waiters in no order (with 64
    /// requests for 16 connections the unlucky ones waited several times over: p99 twice the
    /// median; docs/performance.md).
    turns: std::sync::Arc<tokio::sync::Semaphore>,
    writer: Option<writer::Writer>,
    backend: Backend,
}

impl Db {
    pub fn connect(url: &DatabaseUrl, max_size: u32) -> Result<Self, String> {
        if let DatabaseUrl::Sqlite(path) = url {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
        }
        let build = |size: u32| {
            Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                .connection_timeout(CHECKOUT_TIMEOUT)
                .build(ConnManager::new(url.clone()))
                .map_err(|e| format!("cannot connect to {}: {e}", url.redacted()))
        };
        let pool = build(max_size)?;
        let writer = match url.backend() {
            Backend::Sqlite => Some(writer::Writer::start(ConnManager::new(url.clone()))?),
            Backend::Postgres => None,
        };
        Ok(Self {
            turns: std::sync::Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize)),
            pool,
            writer,
            backend: url.backend(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn get(&self) -> Result<Conn, ApiError> {
        self.pool.get().map(Conn).map_err(|e| {
            tracing::error!(error = %e, "no database connection");
            ApiError::unavailable("the database is not reachable")
        })
    }

    /// Waits for a connection's turn (first come, first served), as long as the pool's own
    /// checkout would: a 503 after `CHECKOUT_TIMEOUT`, never a request that hangs.
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        match tokio::time::timeout(CHECKOUT_TIMEOUT, self.turns.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(ApiError::unavailable("the database is shutting down")),
            Err(_) => {
                tracing::error!("no database connection became free in time");
                Err(ApiError::unavailable("the database is busy; retry"))
            }
        }
    }

    pub fn state(&self) -> r2d2::State {
        self.pool.state()
    }

    /// Runs `f` on a pooled connection, off the async workers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let _turn = self.turn().await?;
        let db = self.clone();
        blocking(move || on_pooled(db.get()?, f)).await
    }

    /// Runs `f` in a write transaction, off the async workers. On SQLite the writer thread
    /// commits the writes queued together in one transaction, `f` in a savepoint of it
    /// (`writer.rs`); the answer comes once that commit has happened.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(writer) = &self.writer {
            let (reply, answer) = tokio::sync::oneshot::channel();
            writer.submit(Box::new(writer::Write { f, reply }));
            return answer.await.map_err(|_| {
                tracing::error!("the SQLite writer dropped a write");
                ApiError::internal()
            })?;
        }
        let _turn = self.turn().await?;
        let db = self.clone();
        blocking(move || on_pooled(db.get()?, |conn| write_tx(conn, f))).await
    }

    pub fn migrate(&self) -> Result<Vec<String>, String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        run_migrations(&mut conn.conn)
    }
}

pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    actix_web::web::block(f).await.map_err(|_| {
        tracing::error!("a blocking task panicked or was cancelled");
        ApiError::internal()
    })?
}

/// A write transaction. SQLite upgrades a read lock to a write lock lazily and can deadlock
/// two writers; `BEGIN IMMEDIATE` takes the write lock up front so the busy timeout applies.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    begin_write(conn)?;
    let outcome = f(conn);
    settle(conn, outcome)
}

/// Ends the innermost transaction (or savepoint) `outcome` ran in: commits a value, rolls
/// back an error.
fn settle<T, E>(conn: &mut DbConn, outcome: Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match outcome {
        Ok(value) => {
            <DbConn as TransactionManager<DbConn>>::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConn as TransactionManager<DbConn>>::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

fn begin_write(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, String> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| format!("migration failed: {e}"))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// True when `e` is a unique-constraint violation: the portable signal of a lost insert race.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_chosen_by_scheme() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite("data/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:/tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn redacted_urls_hide_the_password() {
        let u = DatabaseUrl::parse("postgres://fs:secret@127.0.0.1:5432/fs").unwrap();
        assert_eq!(u.redacted(), "postgres://fs:***@127.0.0.1:5432/fs");
    }
}
