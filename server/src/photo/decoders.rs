//! The threads that decode photos: one per core, so decoding never takes more than the machine
//! has, and always the same threads, so the allocator reuses their memory.
//!
//! Decoding on the shared blocking pool spread each photo's megabyte-sized buffers over
//! whichever of its many threads ran it, and glibc kept what each thread freed in that
//! thread's arena: 32 concurrent uploads peaked near 500 MiB. On a fixed set of threads the
//! same buffers come back photo after photo (docs/performance.md).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};

use tokio::sync::{oneshot, Semaphore};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Decoders {
    jobs: mpsc::Sender<Job>,
    /// One permit per thread: a photo waits for its turn here, not in the channel, so that a
    /// time limit on `run` counts decoding only.
    slots: Arc<Semaphore>,
}

/// Why `run` gave no value.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    Panicked,
    Stopped,
}

impl Decoders {
    pub fn start(threads: usize) -> Result<Decoders, String> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("photo-decode-{n}"))
                .spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .map_err(|e| format!("cannot start a photo decoding thread: {e}"))?;
        }
        Ok(Decoders {
            jobs,
            slots: Arc::new(Semaphore::new(threads)),
        })
    }

    /// Waits for a free thread, then runs `f` on it. The returned future may be dropped (a
    /// time limit): `f` then runs to its end and only then frees the thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Failed>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Failed::Stopped)?;
        self.start_now(move || {
            let _permit = permit;
            f()
        })
        .await
    }

    fn start_now<T, F>(&self, f: F) -> impl std::future::Future<Output = Result<T, Failed>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let sent = self.jobs.send(Box::new(move || {
            let _ = reply.send(catch_unwind(AssertUnwindSafe(f)).map_err(|_| Failed::Panicked));
        }));
        async move {
            sent.map_err(|_| Failed::Stopped)?;
            answer.await.map_err(|_| Failed::Stopped)?
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[actix_web::test]
    async fn runs_at_most_one_job_per_thread_at_once() {
        let decoders = Decoders::start(2).expect("threads");
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..8)
            .map(|n| {
                let (running, peak) = (running.clone(), peak.clone());
                decoders.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    (n, std::thread::current().name().map(str::to_owned))
                })
            })
            .collect();
        let done = futures_util::future::join_all(jobs).await;
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        for (n, outcome) in done.into_iter().enumerate() {
            let (m, thread) = outcome.expect("ran");
            assert_eq!(m, n);
            assert!(thread.is_some_and(|t| t.starts_with("photo-decode-")));
        }
    }

    #[actix_web::test]
    async fn a_panic_is_an_error_and_the_thread_goes_on() {
        let decoders = Decoders::start(1).expect("threads");
        let outcome = decoders.run(|| -> u32 { panic!("a decoder bug") }).await;
        assert_eq!(outcome, Err(Failed::Panicked));
        assert_eq!(decoders.run(|| 7).await, Ok(7));
    }

    #[actix_web::test]
    async fn a_dropped_answer_still_frees_its_thread() {
        let decoders = Decoders::start(1).expect("threads");
        let slow = decoders.run(|| std::thread::sleep(Duration::from_millis(50)));
        let timed_out = tokio::time::timeout(Duration::from_millis(5), slow).await;
        assert!(timed_out.is_err());
        assert_eq!(decoders.run(|| "next").await, Ok("next"));
    }
}
