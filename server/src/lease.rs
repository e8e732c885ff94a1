//! Leases: work that must happen once whatever the number of processes (webhook delivery, the
//! quarter's renewals and expiries) runs only in the process that holds its lease.
//!
//! On PostgreSQL a lease is a session-level advisory lock taken on a connection of its own: the
//! server releases it the moment that session ends, so when the holder dies (a SIGKILL closes
//! its socket) another process takes it at its next try, every `FIELDSTAR_LEASE_RETRY_SECS`. On
//! SQLite there is one process, which always holds every lease it wants.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use crate::db::DatabaseUrl;

/// The work a lease guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    Webhooks,
    Renewals,
}

impl Work {
    pub const ALL: [Work; 2] = [Work::Webhooks, Work::Renewals];

    pub fn as_str(self) -> &'static str {
        match self {
            Work::Webhooks => "webhooks",
            Work::Renewals => "renewals",
        }
    }

    /// The advisory lock's key: "fieldst" in ASCII, then the work's number.
    fn key(self) -> i64 {
        const BASE: i64 = 0x6669_656c_6473_7400;
        BASE + match self {
            Work::Webhooks => 1,
            Work::Renewals => 2,
        }
    }

    fn index(self) -> usize {
        match self {
            Work::Webhooks => 0,
            Work::Renewals => 1,
        }
    }
}

/// This process's leases: which it wants, which it holds.
#[derive(Default)]
pub struct Leases {
    wanted: [AtomicBool; 2],
    held: [AtomicBool; 2],
    stop: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

impl Leases {
    /// Whether this process holds the lease of `work` now.
    pub fn holds(&self, work: Work) -> bool {
        self.held[work.index()].load(Ordering::SeqCst)
    }

    /// Whether this process runs `work` at all (`FIELDSTAR_WORKERS`, `FIELDSTAR_RENEWALS`).
    pub fn wants(&self, work: Work) -> bool {
        self.wanted[work.index()].load(Ordering::SeqCst)
    }

    /// Starts holding or trying for the leases of `wanted`. SQLite: held at once. PostgreSQL: a
    /// thread with its own connection tries every `retry` for each lease not held and checks
    /// the connection of those held; a lost connection loses them all.
    pub fn start(self: &Arc<Self>, url: &DatabaseUrl, wanted: &[Work], retry: Duration) {
        for w in wanted {
            self.wanted[w.index()].store(true, Ordering::SeqCst);
        }
        let url = match url {
            DatabaseUrl::Sqlite(_) => {
                for w in wanted {
                    self.held[w.index()].store(true, Ordering::SeqCst);
                }
                return;
            }
            DatabaseUrl::Postgres(url) if !wanted.is_empty() => url.clone(),
            DatabaseUrl::Postgres(_) => return,
        };
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let leases = self.clone();
        let wanted = wanted.to_vec();
        let thread = std::thread::Builder::new()
            .name("leases".into())
            .spawn(move || leases.hold(&url, &wanted, retry, &stopped))
            .expect("start the lease thread");
        if let Ok(mut s) = self.stop.lock() {
            *s = Some(stop);
        }
        if let Ok(mut t) = self.thread.lock() {
            *t = Some(thread);
        }
    }

    fn hold(
        &self,
        url: &str,
        wanted: &[Work],
        retry: Duration,
        stopped: &std::sync::mpsc::Receiver<()>,
    ) {
        let mut conn: Option<PgConnection> = None;
        loop {
            if conn.is_none() {
                match PgConnection::establish(url) {
                    Ok(c) => conn = Some(c),
                    Err(e) => tracing::warn!(error = %e, "the lease connection failed; retrying"),
                }
            }
            if let Some(c) = conn.as_mut() {
                if let Err(e) = self.try_all(c, wanted) {
                    tracing::warn!(error = %e, "the lease connection was lost; leases released");
                    conn = None;
                }
            }
            if conn.is_none() {
                self.release_all();
            }
            match stopped.recv_timeout(retry) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                // Stopped: closing the connection ends the session, which releases its locks.
                _ => break,
            }
        }
        self.release_all();
        drop(conn);
    }

    fn try_all(&self, conn: &mut PgConnection, wanted: &[Work]) -> QueryResult<()> {
        for &w in wanted {
            if self.holds(w) {
                diesel::sql_query("SELECT 1").execute(conn)?;
                continue;
            }
            let got: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind::<BigInt, _>(w.key())
                .get_result(conn)?;
            if got.locked {
                tracing::info!(lease = w.as_str(), "took the lease");
                self.held[w.index()].store(true, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    fn release_all(&self) {
        for w in Work::ALL {
            if self.held[w.index()].swap(false, Ordering::SeqCst) {
                tracing::info!(lease = w.as_str(), "gave up the lease");
            }
        }
    }

    /// Stops trying and releases every lease (their session ends); returns once done.
    pub fn stop(&self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        self.release_all();
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_work_has_its_own_key_and_name() {
        assert_ne!(Work::Webhooks.key(), Work::Renewals.key());
        assert_eq!(Work::Webhooks.as_str(), "webhooks");
        assert_eq!(Work::Renewals.as_str(), "renewals");
    }

    #[test]
    fn on_sqlite_the_one_process_holds_what_it_wants() {
        let leases = Arc::new(Leases::default());
        let url = DatabaseUrl::parse("sqlite:///tmp/none.db").unwrap();
        leases.start(&url, &[Work::Webhooks], Duration::from_secs(1));
        assert!(leases.holds(Work::Webhooks));
        assert!(!leases.holds(Work::Renewals));
        assert!(!leases.wants(Work::Renewals));
        leases.stop();
    }
}
