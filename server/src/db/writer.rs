//! SQLite's group commit: one thread owns the write connection and runs the writes queued
//! while the previous batch committed in one transaction, each in its own savepoint.
//!
//! SQLite admits one writer at a time. Handing one pooled connection from request thread to
//! request thread cost a wake-up per write, and each transaction its own commit (WAL frames,
//! checksums, a page-cache reset). Here a write that fails rolls back to its savepoint and
//! answers its own error; the others commit together, and nobody hears "done" before the
//! commit has happened. If the commit itself fails, every write of the batch fails with it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use diesel::connection::TransactionManager;
use diesel::r2d2::R2D2Connection;

use super::{ConnManager, DbConn};
use crate::error::ApiError;

/// At most this many writes share a transaction, so one commit never waits on an unbounded
/// queue and a failed commit takes few writes with it.
const MAX_BATCH: usize = 64;

/// A queued write: run inside the batch's transaction, or fail without running.
pub trait Job: Send {
    /// Runs the write in a savepoint and returns what to do once the batch has ended:
    /// `Ok(())` when it committed, else the error that ended it.
    fn run(self: Box<Self>, conn: &mut DbConn) -> Box<dyn Finish>;
    fn fail(self: Box<Self>, error: ApiError);
}

pub trait Finish: Send {
    fn finish(self: Box<Self>, committed: Result<(), ApiError>);
}

/// The sending side; cloning it is cheap. The thread ends when the last clone is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    pub fn start(manager: ConnManager) -> Result<Writer, String> {
        let conn = manager
            .establish()
            .map_err(|e| format!("cannot open the SQLite write connection: {e}"))?;
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, manager, queue))
            .map_err(|e| format!("cannot start the SQLite writer thread: {e}"))?;
        Ok(Writer { jobs })
    }

    pub fn submit(&self, job: Box<dyn Job>) {
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            job.fail(unavailable());
        }
    }
}

fn unavailable() -> ApiError {
    ApiError::unavailable("the database is not reachable")
}

fn run(mut conn: DbConn, manager: ConnManager, queue: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = super::begin_write(&mut conn) {
            tracing::error!(error = %e, "could not begin a write transaction");
            for job in batch {
                job.fail(unavailable());
            }
            reconnect_if_broken(&mut conn, &manager);
            continue;
        }
        let mut finishers = Vec::with_capacity(batch.len());
        let mut intact = true;
        for job in batch {
            finishers.push(job.run(&mut conn));
            // A write that panicked inside a nested transaction of its own leaves the depth
            // wrong; committing then would only release a savepoint.
            intact &= depth(&mut conn) == Some(1);
        }
        let committed = if intact {
            <DbConn as TransactionManager<DbConn>>::commit_transaction(&mut conn)
                .map_err(|e| e.to_string())
        } else {
            Err("a write left the transaction unbalanced".to_owned())
        };
        if let Err(e) = &committed {
            tracing::error!(error = %e, writes = finishers.len(), "a batch of writes did not commit");
            let _ = <DbConn as TransactionManager<DbConn>>::rollback_transaction(&mut conn);
            reconnect_if_broken(&mut conn, &manager);
        }
        for finisher in finishers {
            finisher.finish(committed.clone().map_err(|_| unavailable()));
        }
    }
}

fn depth(conn: &mut DbConn) -> Option<u32> {
    match <DbConn as TransactionManager<DbConn>>::transaction_manager_status_mut(conn)
        .transaction_depth()
    {
        Ok(depth) => depth.map(std::num::NonZeroU32::get),
        Err(_) => None,
    }
}

/// A connection left inside a transaction (or otherwise broken) is replaced.
fn reconnect_if_broken(conn: &mut DbConn, manager: &ConnManager) {
    if depth(conn).is_some() || conn.is_broken() {
        match manager.establish() {
            Ok(fresh) => *conn = fresh,
            Err(e) => tracing::error!(error = %e, "could not reopen the SQLite write connection"),
        }
    }
}

/// One `Db::write`: the closure, and where its answer goes.
pub struct Write<T, F> {
    pub f: F,
    pub reply: tokio::sync::oneshot::Sender<Result<T, ApiError>>,
}

struct Done<T> {
    outcome: Result<T, ApiError>,
    reply: tokio::sync::oneshot::Sender<Result<T, ApiError>>,
}

impl<T, F> Job for Write<T, F>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut DbConn) -> Box<dyn Finish> {
        let Write { f, reply } = *self;
        let outcome = savepoint(conn, f);
        Box::new(Done { outcome, reply })
    }

    fn fail(self: Box<Self>, error: ApiError) {
        let _ = self.reply.send(Err(error));
    }
}

impl<T: Send> Finish for Done<T> {
    fn finish(self: Box<Self>, committed: Result<(), ApiError>) {
        let _ = self.reply.send(committed.and(self.outcome));
    }
}

/// Runs `f` in a savepoint of the open transaction: released on success, rolled back on an
/// error or a panic (which answers 500 and leaves the writer and the batch running).
fn savepoint<T, F>(conn: &mut DbConn, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError>,
{
    <DbConn as TransactionManager<DbConn>>::begin_transaction(conn)?;
    let start = depth(conn);
    let outcome = match catch_unwind(AssertUnwindSafe(|| f(conn))) {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::error!("a write panicked; its savepoint is rolled back");
            // A panic inside a nested transaction of its own skipped that rollback.
            while depth(conn) > start {
                <DbConn as TransactionManager<DbConn>>::rollback_transaction(conn)?;
            }
            Err(ApiError::internal())
        }
    };
    super::settle(conn, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::DatabaseUrl;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    use std::time::Duration;
    use tokio::sync::oneshot;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    struct Scratch {
        _dir: tempfile::TempDir,
        manager: ConnManager,
        writer: Writer,
    }

    fn scratch() -> Scratch {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let manager = ConnManager::new(DatabaseUrl::parse(&url).expect("url"));
        let writer = Writer::start(manager.clone()).expect("writer");
        let s = Scratch {
            _dir: dir,
            manager,
            writer,
        };
        s.write(|c| {
            c.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")?;
            Ok(())
        })
        .blocking_recv()
        .expect("answered")
        .expect("created");
        s
    }

    impl Scratch {
        fn write<T, F>(&self, f: F) -> oneshot::Receiver<Result<T, ApiError>>
        where
            F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
            T: Send + 'static,
        {
            let (reply, answer) = oneshot::channel();
            self.writer.submit(Box::new(Write { f, reply }));
            answer
        }

        /// Rows as another connection sees them: only what has committed.
        fn committed(&self, filter: &str) -> i64 {
            let mut conn = self.manager.establish().expect("reader");
            diesel::sql_query(format!("SELECT count(*) AS n FROM t WHERE {filter}"))
                .get_result::<Count>(&mut conn)
                .expect("counts")
                .n
        }

        /// Holds the writer inside a write until the returned sender is dropped, so that the
        /// writes queued meanwhile form one batch.
        fn hold(
            &self,
        ) -> (
            std::sync::mpsc::Sender<()>,
            oneshot::Receiver<Result<(), ApiError>>,
        ) {
            let (release, held) = std::sync::mpsc::channel::<()>();
            let answer = self.write(move |_| {
                let _ = held.recv();
                Ok(())
            });
            (release, answer)
        }
    }

    fn insert(id: i64, v: &str) -> impl FnOnce(&mut DbConn) -> Result<i64, ApiError> {
        let sql = format!("INSERT INTO t (id, v) VALUES ({id}, '{v}')");
        move |c| {
            c.batch_execute(&sql)?;
            Ok(id)
        }
    }

    #[test]
    fn a_failed_write_rolls_back_alone_and_its_batch_commits() {
        let s = scratch();
        let (release, held) = s.hold();
        let answers: Vec<_> = (0..40)
            .map(|id| {
                let ok = insert(id, "kept");
                s.write(move |c| {
                    ok(c)?;
                    if id % 3 == 0 {
                        return Err(ApiError::conflict("nope", "refused after writing"));
                    }
                    Ok(id)
                })
            })
            .collect();
        drop(release);
        held.blocking_recv().expect("answered").expect("held");
        for (id, answer) in answers.into_iter().enumerate() {
            let outcome = answer.blocking_recv().expect("answered");
            assert_eq!(outcome.is_ok(), id % 3 != 0, "write {id}: {outcome:?}");
        }
        assert_eq!(s.committed("v = 'kept'"), 26);
        assert_eq!(s.committed("id % 3 = 0"), 0);
    }

    #[test]
    fn the_wal_starts_over_under_constant_writes_and_reads() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let s = scratch();
        let wal = s._dir.path().join("w.db-wal");
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (stop, manager) = (stop.clone(), s.manager.clone());
            std::thread::spawn(move || {
                let mut conn = manager.establish().expect("reader");
                while !stop.load(Ordering::Relaxed) {
                    diesel::sql_query("SELECT count(*) AS n FROM t WHERE id = 1")
                        .get_result::<Count>(&mut conn)
                        .expect("read");
                    std::thread::sleep(Duration::from_micros(200));
                }
            })
        };
        // 48 MB of writes that never let the writer idle, a reader beside them: the WAL must
        // start over (a checkpoint run on another connection, while the writer goes on, never
        // lets it: the WAL grew by 100 MB a second under the ingest bench). SQLite's own
        // checkpoint keeps it near 1,000 pages (4 MB).
        let (mut written, mut id) = (0u64, 0i64);
        while written < 48 << 20 {
            let answers: Vec<_> = (0..8)
                .map(|_| {
                    id += 1;
                    s.write(insert(id, &"x".repeat(4000)))
                })
                .collect();
            for answer in answers {
                answer.blocking_recv().expect("answered").expect("inserted");
                written += 4000;
            }
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().expect("reader");
        let wal_len = std::fs::metadata(&wal).expect("WAL").len();
        assert!(
            wal_len < written / 2,
            "the WAL holds {wal_len} bytes after {written} bytes of writes"
        );
    }

    #[test]
    fn an_answer_means_committed() {
        let s = scratch();
        for id in 0..20 {
            let answer = s.write(insert(id, "x")).blocking_recv().expect("answered");
            assert_eq!(answer.expect("inserted"), id);
            assert_eq!(s.committed(&format!("id = {id}")), 1);
        }
    }

    #[test]
    fn a_constraint_violation_fails_only_its_write() {
        let s = scratch();
        s.write(insert(1, "first"))
            .blocking_recv()
            .expect("answered")
            .expect("inserted");
        let (release, held) = s.hold();
        let duplicate = s.write(insert(1, "again"));
        let other = s.write(insert(2, "other"));
        drop(release);
        held.blocking_recv().expect("answered").expect("held");
        let err = duplicate
            .blocking_recv()
            .expect("answered")
            .expect_err("duplicate");
        // A raw constraint violation is the database's error, not the client's: a 500 whose
        // cause names the constraint.
        assert_eq!(
            err.status,
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            other.blocking_recv().expect("answered").expect("inserted"),
            2
        );
        assert_eq!(s.committed("true"), 2);
    }

    #[test]
    fn a_panicking_write_answers_500_and_the_writer_goes_on() {
        let s = scratch();
        let (release, held) = s.hold();
        let before = s.write(insert(1, "before"));
        let panics = s.write(|c| -> Result<(), ApiError> {
            c.batch_execute("INSERT INTO t (id, v) VALUES (2, 'panicked')")?;
            panic!("a bug");
        });
        drop(release);
        held.blocking_recv().expect("answered").expect("held");
        assert_eq!(
            before.blocking_recv().expect("answered").expect("inserted"),
            1
        );
        let err = panics
            .blocking_recv()
            .expect("answered")
            .expect_err("panicked");
        assert_eq!(err.status.as_u16(), 500);
        assert_eq!(s.committed("v = 'panicked'"), 0);

        let nested = s.write(|c| -> Result<(), ApiError> {
            c.transaction(|c| -> Result<(), ApiError> {
                c.batch_execute("INSERT INTO t (id, v) VALUES (3, 'nested')")?;
                panic!("inside a nested transaction");
            })
        });
        let err = nested
            .blocking_recv()
            .expect("answered")
            .expect_err("panicked");
        assert_eq!(err.status.as_u16(), 500);
        assert_eq!(s.committed("v = 'nested'"), 0);

        s.write(insert(4, "after"))
            .blocking_recv()
            .expect("answered")
            .expect("inserted");
        assert_eq!(s.committed("v IN ('before', 'after')"), 2);
    }

    #[test]
    fn nested_transactions_inside_a_write_keep_their_meaning() {
        let s = scratch();
        let answer = s.write(|c| {
            c.batch_execute("INSERT INTO t (id, v) VALUES (1, 'outer')")?;
            let inner: Result<(), diesel::result::Error> = c.transaction(|c| {
                c.batch_execute("INSERT INTO t (id, v) VALUES (2, 'inner')")?;
                Err(diesel::result::Error::RollbackTransaction)
            });
            assert!(inner.is_err());
            Ok(())
        });
        answer.blocking_recv().expect("answered").expect("written");
        assert_eq!(s.committed("v = 'outer'"), 1);
        assert_eq!(s.committed("v = 'inner'"), 0);
    }
}
