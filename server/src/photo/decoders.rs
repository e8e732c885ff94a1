//! The threads that decode photos: one per core, so decoding never takes more than the machine
//! has, and always the same threads, so the allocator reuses their memory.
//!
//! Decoding on the shared blocking pool spread each photo's megabyte-sized buffers over
//! whichever of its many threads ran it, and glibc kept what each thread freed in that
//! thread's arena: 32 concurrent uploads peaked near 500 MiB. On a fixed set of threads the
//! same buffers come back photo after photo (docs/performance.md).
//!
//! A thread count alone does not bound memory: two 64 MP PNGs on two cores held ~900 MB.
//! Each photo also reserves the memory its decode takes (`pipeline::decode_cost`, read from
//! its header) from a budget in MiB, so the pixels decoded at once never exceed the budget; a
//! photo larger than the whole budget waits until it can run alone.

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
    /// One permit per MiB of decoding memory.
    budget: Arc<Semaphore>,
    budget_mib: u32,
}

/// Decoding memory reserved for one photo; given back when dropped (its decode ended).
pub struct Reserved {
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    pub mib: u32,
}

/// Why `run` gave no value.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    Panicked,
    Stopped,
}

impl Decoders {
    /// `threads` decoding threads sharing a budget of `budget_mib` MiB of decoding memory.
    pub fn start(threads: usize, budget_mib: u32) -> Result<Decoders, String> {
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
        let budget_mib = budget_mib.max(1);
        Ok(Decoders {
            jobs,
            slots: Arc::new(Semaphore::new(threads)),
            budget: Arc::new(Semaphore::new(budget_mib as usize)),
            budget_mib,
        })
    }

    /// Waits until `bytes` of decoding memory are free in the budget (all of it when `bytes` is
    /// more), and reserves them. Waiting is fair: a large photo is not overtaken for ever.
    pub async fn reserve(&self, bytes: u64) -> Result<Reserved, Failed> {
        let mib = bytes.div_ceil(1 << 20).clamp(1, u64::from(self.budget_mib)) as u32;
        let permit = self
            .budget
            .clone()
            .acquire_many_owned(mib)
            .await
            .map_err(|_| Failed::Stopped)?;
        Ok(Reserved {
            _permit: Some(permit),
            mib,
        })
    }

    /// MiB of the budget free now.
    pub fn budget_free_mib(&self) -> usize {
        self.budget.available_permits()
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
        let decoders = Decoders::start(2, 64).expect("threads");
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
        let decoders = Decoders::start(1, 64).expect("threads");
        let outcome = decoders.run(|| -> u32 { panic!("a decoder bug") }).await;
        assert_eq!(outcome, Err(Failed::Panicked));
        assert_eq!(decoders.run(|| 7).await, Ok(7));
    }

    #[actix_web::test]
    async fn a_dropped_answer_still_frees_its_thread() {
        let decoders = Decoders::start(1, 64).expect("threads");
        let slow = decoders.run(|| std::thread::sleep(Duration::from_millis(50)));
        let timed_out = tokio::time::timeout(Duration::from_millis(5), slow).await;
        assert!(timed_out.is_err());
        assert_eq!(decoders.run(|| "next").await, Ok("next"));
    }

    #[actix_web::test]
    async fn reservations_never_exceed_the_budget_and_a_huge_one_runs_alone() {
        let decoders = Decoders::start(4, 100).expect("threads");
        let a = decoders.reserve(60 << 20).await.expect("fits");
        assert_eq!((a.mib, decoders.budget_free_mib()), (60, 40));
        let waiting = decoders.reserve(50 << 20);
        futures_util::pin_mut!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), &mut waiting)
                .await
                .is_err(),
            "60 + 50 MiB is over the budget"
        );
        drop(a);
        let b = waiting.await.expect("fits now");
        drop(b);
        let huge = decoders.reserve(5 << 30).await.expect("runs alone");
        assert_eq!((huge.mib, decoders.budget_free_mib()), (100, 0));
    }
}
