//! Login throttling, kept in the database so that every app node sees the same counts:
//! 5 failures for one account or more than 30 from one address within 15 minutes answer 429.
//!
//! Checking and counting are one step (`admit`): an attempt is counted *before* its password
//! is verified, in the same write transaction as the check, and uncounted only once the
//! password has proved right. Parallel attempts therefore cannot all pass the check before any
//! of them is counted: at most 5 passwords per account are ever verified per 15 minutes.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::DbConn;

pub const WINDOW_MINUTES: i64 = 15;
pub const MAX_ACCOUNT_FAILURES: i64 = 5;
pub const MAX_ADDRESS_FAILURES: i64 = 30;

/// Takes the throttle's locks for `username` and `address` until the transaction ends. On
/// SQLite every write already runs on the one writer thread, so check-then-insert cannot
/// interleave; on PostgreSQL two transactions could both count 4 and both insert, so they
/// queue on transaction-scoped advisory locks (account first, then address: one order, no
/// deadlock).
fn lock(conn: &mut DbConn, username: &str, address: &str) -> QueryResult<()> {
    if let DbConn::Pg(pg) = conn {
        for (class, key) in [(ACCOUNT_LOCK, username), (ADDRESS_LOCK, address)] {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind::<diesel::sql_types::Integer, _>(class)
                .bind::<diesel::sql_types::Text, _>(key)
                .execute(pg)?;
        }
    }
    Ok(())
}

/// The advisory-lock classes of the throttle (arbitrary, distinct from any other lock).
const ACCOUNT_LOCK: i32 = 0x4c47_4e01;
const ADDRESS_LOCK: i32 = 0x4c47_4e02;

/// Checks the limits and, when the caller may try, counts the attempt as a failure at once.
/// Returns the attempt's id (to `forget` it if the password proves right), or the seconds to
/// wait. Must run inside a write transaction (`Db::write`).
pub fn admit(
    conn: &mut DbConn,
    username: &str,
    address: &str,
    now: NaiveDateTime,
) -> QueryResult<Result<String, i64>> {
    lock(conn, username, address)?;
    if let Some(wait) = retry_after(conn, username, address, now)? {
        return Ok(Err(wait));
    }
    record_failure(conn, username, address, now).map(Ok)
}

/// Uncounts an attempt whose password was right.
pub fn forget(conn: &mut DbConn, attempt: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.find(attempt)).execute(conn)?;
    Ok(())
}

/// Seconds until the caller may try again, or `None` when not throttled.
fn retry_after(
    conn: &mut DbConn,
    username: &str,
    address: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    let since = now - Duration::minutes(WINDOW_MINUTES);
    let account: Vec<NaiveDateTime> = login_failures::table
        .filter(login_failures::username.eq(username))
        .filter(login_failures::at.gt(since))
        .select(login_failures::at)
        .order(login_failures::at.desc())
        .limit(MAX_ACCOUNT_FAILURES)
        .load(conn)?;
    let mut wait: Option<i64> = None;
    if account.len() as i64 >= MAX_ACCOUNT_FAILURES {
        // The window frees up when the oldest of the counted failures leaves it.
        let oldest = account[account.len() - 1];
        wait = Some((oldest + Duration::minutes(WINDOW_MINUTES) - now).num_seconds());
    }
    let by_address: Vec<NaiveDateTime> = login_failures::table
        .filter(login_failures::address.eq(address))
        .filter(login_failures::at.gt(since))
        .select(login_failures::at)
        .order(login_failures::at.desc())
        .limit(MAX_ADDRESS_FAILURES + 1)
        .load(conn)?;
    if by_address.len() as i64 > MAX_ADDRESS_FAILURES {
        let oldest = by_address[by_address.len() - 1];
        let w = (oldest + Duration::minutes(WINDOW_MINUTES) - now).num_seconds();
        wait = Some(wait.map_or(w, |x| x.max(w)));
    }
    Ok(wait.map(|w| w.max(1)))
}

/// Counts a failure; returns its id.
fn record_failure(
    conn: &mut DbConn,
    username: &str,
    address: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(&id),
            login_failures::username.eq(username),
            login_failures::address.eq(address),
            login_failures::at.eq(now),
        ))
        .execute(conn)?;
    // Old rows say nothing any more; trimming here keeps the table small without a job.
    diesel::delete(login_failures::table.filter(login_failures::at.lt(now - Duration::hours(24))))
        .execute(conn)?;
    Ok(id)
}
