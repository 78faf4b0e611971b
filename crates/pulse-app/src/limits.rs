//! Bounds on the work one server does at once.
//!
//! CPU-heavy request work (scores with drivers computed on demand under a
//! large model, Explain, sentiment over a batch) runs on tokio's blocking
//! pool behind a semaphore ([`CpuPool`]), never on the async workers (one
//! row's drivers under a model of bounded size, tens of microseconds, are
//! computed in place: the hop would cost more than the work): health
//! checks and cheap calls keep answering while heavy ones queue. A request
//! that cannot get a slot within the configured wait is refused with
//! [`AppError::Busy`] (RESOURCE_EXHAUSTED), so load sheds instead of piling up.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::AppError;

/// Default CPU-heavy requests at once: the machine's cores.
pub fn default_cpu_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Default wait for a slot before a request is refused as busy.
pub const DEFAULT_CPU_WAIT: Duration = Duration::from_secs(10);

/// A bounded pool for CPU-heavy request work.
#[derive(Debug, Clone)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
    jobs: usize,
    wait: Duration,
}

impl Default for CpuPool {
    fn default() -> Self {
        CpuPool::new(default_cpu_jobs(), DEFAULT_CPU_WAIT)
    }
}

impl CpuPool {
    /// At most `jobs` (at least 1) closures at once; a caller waits at most
    /// `wait` for a slot.
    pub fn new(jobs: usize, wait: Duration) -> CpuPool {
        let jobs = jobs.max(1);
        CpuPool {
            permits: Arc::new(Semaphore::new(jobs)),
            jobs,
            wait,
        }
    }

    /// Slots in all.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// A slot for async work that is heavy as a whole (store reads, then
    /// computing), held until the permit is dropped. Busy when no slot frees
    /// within the wait.
    pub async fn slot(&self, what: &str) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(AppError::internal(what, "the pool is closed")),
            Err(_) => Err(self.busy(what)),
        }
    }

    fn busy(&self, what: &str) -> AppError {
        AppError::Busy(format!(
            "the server is busy: {} heavy requests are running and no slot freed within {} s ({what}); retry with backoff",
            self.jobs,
            self.wait.as_secs_f64()
        ))
    }

    /// Runs `f` on the blocking pool once a slot is free; `what` names the
    /// work in errors. Busy when no slot frees within the wait.
    pub async fn run<T, F>(&self, what: &str, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = self.slot(what).await?;
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            f()
        })
        .await
        .map_err(|e| AppError::internal(what, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn work_runs_off_the_async_thread() {
        // On a one-thread runtime, a closure that blocks until an async task
        // has run can only finish if it does not run on that thread.
        let pool = CpuPool::new(1, Duration::from_secs(30));
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let job = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run("test", move || rx.recv().unwrap() + 1).await }
        });
        tokio::task::yield_now().await;
        tx.send(41).unwrap();
        assert_eq!(job.await.unwrap().unwrap(), 42);
    }

    #[tokio::test]
    async fn a_full_pool_refuses_as_busy_after_the_wait() {
        let pool = CpuPool::new(1, Duration::from_millis(50));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let held = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run("hold", move || rx.recv().unwrap()).await }
        });
        // Wait until the holder has its slot.
        while pool.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let e = pool.run("second", || ()).await.unwrap_err();
        assert!(matches!(e, AppError::Busy(_)), "{e:?}");
        assert!(e.to_string().contains("retry"), "{e}");
        tx.send(()).unwrap();
        held.await.unwrap().unwrap();
        // Free again: the next one runs.
        assert_eq!(pool.run("third", || 7).await.unwrap(), 7);
        assert_eq!(pool.jobs(), 1);
    }
}
