//! Training job records (migration 0006): a job is recorded `running` when
//! it starts and `succeeded`, `failed` or `interrupted` when it ends, so a
//! shutdown never drops a job without a trace.

use pulse_core::time::Ts;

use crate::{Store, StoreError, on_backend};

/// One training job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainJobRecord {
    pub job_id: String,
    /// The server that ran it.
    pub holder: String,
    /// `accounts` or `sentiment`.
    pub work: String,
    /// What was asked (JSON), to run it again.
    pub request: String,
    /// `running`, `succeeded`, `failed` or `interrupted`.
    pub state: String,
    /// Why it failed or was interrupted; empty otherwise.
    pub detail: String,
    pub started_at: Ts,
    pub finished_at: Option<Ts>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
);

impl Store {
    /// Records a job that started (nothing happens if it is recorded
    /// already: an interruption recorded first stands).
    pub async fn start_train_job(&self, r: &TrainJobRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO train_jobs (job_id, holder, work, request, state, detail, \
                   started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                   ON CONFLICT (job_id) DO NOTHING";
        on_backend!(self, p => {
            sqlx::query(sql)
                .bind(&r.job_id)
                .bind(&r.holder)
                .bind(&r.work)
                .bind(&r.request)
                .bind(&r.state)
                .bind(&r.detail)
                .bind(r.started_at)
                .bind(r.finished_at)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Records how a running job ended. A job already marked interrupted
    /// keeps that state.
    pub async fn finish_train_job(
        &self,
        job_id: &str,
        state: &str,
        detail: &str,
        at: Ts,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE train_jobs SET state = $1, detail = $2, finished_at = $3 \
                   WHERE job_id = $4 AND state = 'running'";
        on_backend!(self, p => {
            sqlx::query(sql)
                .bind(state)
                .bind(detail)
                .bind(at)
                .bind(job_id)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Marks a job interrupted at `at` (recording it if its start was not
    /// recorded yet), unless it already ended.
    pub async fn interrupt_train_job(&self, r: &TrainJobRecord, at: Ts) -> Result<(), StoreError> {
        let sql = "INSERT INTO train_jobs (job_id, holder, work, request, state, detail, \
                   started_at, finished_at) VALUES ($1, $2, $3, $4, 'interrupted', $5, $6, $7) \
                   ON CONFLICT (job_id) DO UPDATE SET state = 'interrupted', \
                   detail = excluded.detail, finished_at = excluded.finished_at \
                   WHERE train_jobs.state = 'running'";
        on_backend!(self, p => {
            sqlx::query(sql)
                .bind(&r.job_id)
                .bind(&r.holder)
                .bind(&r.work)
                .bind(&r.request)
                .bind(&r.detail)
                .bind(r.started_at)
                .bind(at)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// One recorded job.
    pub async fn train_job(&self, job_id: &str) -> Result<Option<TrainJobRecord>, StoreError> {
        let sql = "SELECT job_id, holder, work, request, state, detail, started_at, finished_at \
                   FROM train_jobs WHERE job_id = $1";
        let row: Option<Row> = on_backend!(self, p => {
            sqlx::query_as::<_, Row>(sql).bind(job_id).fetch_optional(p).await?
        });
        Ok(row.map(|r| TrainJobRecord {
            job_id: r.0,
            holder: r.1,
            work: r.2,
            request: r.3,
            state: r.4,
            detail: r.5,
            started_at: r.6,
            finished_at: r.7,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str) -> TrainJobRecord {
        TrainJobRecord {
            job_id: id.into(),
            holder: "host/1/0".into(),
            work: "accounts".into(),
            request: r#"{"kinds":["churn"]}"#.into(),
            state: "running".into(),
            detail: String::new(),
            started_at: 100,
            finished_at: None,
        }
    }

    #[tokio::test]
    async fn jobs_end_once_and_an_interruption_stands() {
        for store in crate::test_stores("train_jobs").await {
            let b = store.backend_name();
            store.start_train_job(&job("j1")).await.unwrap();
            store
                .finish_train_job("j1", "succeeded", "", 200)
                .await
                .unwrap();
            let j = store.train_job("j1").await.unwrap().unwrap();
            assert_eq!(
                (j.state.as_str(), j.finished_at),
                ("succeeded", Some(200)),
                "{b}"
            );
            // An ended job is not interrupted afterwards.
            let mut stop = job("j1");
            stop.detail = "stopped".into();
            store.interrupt_train_job(&stop, 300).await.unwrap();
            assert_eq!(
                store.train_job("j1").await.unwrap().unwrap().state,
                "succeeded",
                "{b}"
            );
            // Interrupted while running: it stays interrupted, even if the
            // job's own end (or start) is recorded later.
            store.start_train_job(&job("j2")).await.unwrap();
            let mut stop = job("j2");
            stop.detail = "the server stopped".into();
            store.interrupt_train_job(&stop, 300).await.unwrap();
            store
                .finish_train_job("j2", "succeeded", "", 400)
                .await
                .unwrap();
            store.start_train_job(&job("j2")).await.unwrap();
            let j = store.train_job("j2").await.unwrap().unwrap();
            assert_eq!(
                (j.state.as_str(), j.detail.as_str(), j.finished_at),
                ("interrupted", "the server stopped", Some(300)),
                "{b}"
            );
            // Interrupted before its start was recorded.
            store.interrupt_train_job(&job("j3"), 50).await.unwrap();
            store.start_train_job(&job("j3")).await.unwrap();
            assert_eq!(
                store.train_job("j3").await.unwrap().unwrap().state,
                "interrupted",
                "{b}"
            );
            assert_eq!(store.train_job("nope").await.unwrap(), None, "{b}");
        }
    }
}
