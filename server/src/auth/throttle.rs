//! Login throttling, kept in the database so that every app node sees the same counts:
//! 5 failures for one account or more than 30 from one address within 15 minutes answer 429.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::DbConn;

pub const WINDOW_MINUTES: i64 = 15;
pub const MAX_ACCOUNT_FAILURES: i64 = 5;
pub const MAX_ADDRESS_FAILURES: i64 = 30;

/// Seconds until the caller may try again, or `None` when not throttled.
pub fn retry_after(
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

pub fn record_failure(
    conn: &mut DbConn,
    username: &str,
    address: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(uuid::Uuid::now_v7().to_string()),
            login_failures::username.eq(username),
            login_failures::address.eq(address),
            login_failures::at.eq(now),
        ))
        .execute(conn)?;
    // Old rows say nothing any more; trimming here keeps the table small without a job.
    diesel::delete(login_failures::table.filter(login_failures::at.lt(now - Duration::hours(24))))
        .execute(conn)?;
    Ok(())
}
