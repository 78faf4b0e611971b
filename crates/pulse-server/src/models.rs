//! `ModelService`: training jobs, the model registry and promotion.
//!
//! `Train` checks that there is data, records a job and returns its id; the
//! job loads every account history from the store, runs the training
//! pipeline (`pulse_training`) on tokio's blocking pool, saves the artifacts
//! through the [`ModelRegistry`] and promotes them when asked (or when their
//! kind has no promoted model yet). One job runs at a time; the last
//! [`MAX_JOBS`] jobs stay queryable.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use pulse_core::FieldError;
use pulse_core::time::format_ts;
use pulse_models::ModelKind;
use pulse_proto::v1 as pb;
use pulse_proto::v1::model_service_server::ModelService;
use pulse_store::Store;
use pulse_training::{Progress, Stage, TrainConfig, train_models};
use tonic::{Request, Response, Status};

use crate::convert::{key_metrics_out, model_summary_out};
use crate::error::ServerError;
use crate::registry::{ModelRegistry, RegistryEntry, RegistryError};

/// Finished jobs kept for `GetTrainJob`.
pub const MAX_JOBS: usize = 64;

#[derive(Debug, Clone)]
struct Job {
    state: pb::TrainJobState,
    stage: Stage,
    kind: Option<ModelKind>,
    progress: f64,
    models: Vec<pb::ModelSummary>,
    error: String,
    started_at: String,
    finished_at: String,
}

#[derive(Debug, Default)]
struct Jobs {
    by_id: HashMap<String, Job>,
    order: VecDeque<String>,
    next: u64,
    running: Option<String>,
}

pub(crate) struct ModelSvc {
    pub(crate) store: Store,
    pub(crate) registry: Arc<dyn ModelRegistry>,
    pub(crate) training: TrainConfig,
    jobs: Arc<Mutex<Jobs>>,
    /// Bumped after every promotion so scoring swaps the new models in.
    models_changed: tokio::sync::watch::Sender<u64>,
}

fn lock(jobs: &Mutex<Jobs>) -> MutexGuard<'_, Jobs> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    jobs.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ts() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs a blocking registry call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, ServerError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => Ok(r?),
        Err(e) => Err(RegistryError::Storage(format!("registry task failed: {e}")).into()),
    }
}

fn parse_kinds(kinds: &[String]) -> Result<Vec<ModelKind>, FieldError> {
    if kinds.is_empty() {
        return Ok(vec![ModelKind::Churn, ModelKind::Expansion]);
    }
    let mut out: Vec<ModelKind> = Vec::new();
    for k in kinds {
        let kind: ModelKind = k.parse().map_err(|e| FieldError::new("kinds", e))?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

impl ModelSvc {
    pub(crate) fn new(
        store: Store,
        registry: Arc<dyn ModelRegistry>,
        training: TrainConfig,
        models_changed: tokio::sync::watch::Sender<u64>,
    ) -> Self {
        ModelSvc {
            store,
            registry,
            training,
            jobs: Arc::default(),
            models_changed,
        }
    }
}

/// Everything a job needs, moved into its task.
struct JobRun {
    id: String,
    store: Store,
    registry: Arc<dyn ModelRegistry>,
    config: TrainConfig,
    kinds: Vec<ModelKind>,
    promote: bool,
    jobs: Arc<Mutex<Jobs>>,
    models_changed: tokio::sync::watch::Sender<u64>,
}

impl JobRun {
    fn update(&self, f: impl FnOnce(&mut Job)) {
        if let Some(j) = lock(&self.jobs).by_id.get_mut(&self.id) {
            f(j);
        }
    }

    async fn run(self) {
        let id = self.id.clone();
        let result = self.train().await;
        let mut jobs = lock(&self.jobs);
        if jobs.running.as_deref() == Some(id.as_str()) {
            jobs.running = None;
        }
        if let Some(j) = jobs.by_id.get_mut(&id) {
            j.finished_at = format_ts(now_ts());
            match result {
                Ok(models) => {
                    j.state = pb::TrainJobState::Succeeded;
                    j.stage = Stage::Done;
                    j.kind = None;
                    j.progress = 1.0;
                    j.models = models;
                }
                Err(message) => {
                    tracing::warn!(job = %id, error = %message, "training job failed");
                    j.state = pb::TrainJobState::Failed;
                    j.error = message;
                }
            }
        }
    }

    async fn train(&self) -> Result<Vec<pb::ModelSummary>, String> {
        self.update(|j| {
            j.state = pb::TrainJobState::Running;
            j.stage = Stage::Loading;
        });
        let histories = self.store.load_histories(None).await.map_err(|e| {
            tracing::error!(error = %e, "loading histories for training");
            "internal error while loading the account histories".to_string()
        })?;
        let jobs = self.jobs.clone();
        let id = self.id.clone();
        let config = self.config.clone();
        let kinds = self.kinds.clone();
        let trained = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let created_at = format_ts(now_ts());
            train_models(
                &histories,
                &kinds,
                None,
                &config,
                &created_at,
                &mut || started.elapsed().as_secs_f64(),
                &mut |p: Progress| {
                    if let Some(j) = lock(&jobs).by_id.get_mut(&id) {
                        j.stage = p.stage;
                        j.kind = p.kind;
                        // Loading took the first 5%.
                        j.progress = 0.05 + 0.9 * p.fraction;
                    }
                },
            )
        })
        .await
        .map_err(|e| format!("training task failed: {e}"))?
        .map_err(|e| e.to_string())?;

        self.update(|j| {
            j.stage = Stage::Saving;
            j.kind = None;
            j.progress = 0.95;
        });
        let registry = self.registry.clone();
        let promote = self.promote;
        let saved = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for m in trained.models {
                let mut entry = registry.save(m.artifact)?;
                if promote || registry.promoted(m.kind)?.is_none() {
                    registry.promote(&entry.card.version)?;
                    entry.promoted = true;
                }
                out.push(entry);
            }
            Ok::<_, RegistryError>(out)
        })
        .await
        .map_err(|e| format!("saving task failed: {e}"))?
        .map_err(|e| {
            tracing::error!(error = %e, "saving trained models");
            format!("saving the trained models failed: {e}")
        })?;
        if saved.iter().any(|e| e.promoted) {
            self.models_changed.send_modify(|g| *g += 1);
        }
        Ok(saved.iter().map(model_summary_out).collect())
    }
}

fn job_out(id: &str, j: &Job) -> pb::TrainJob {
    pb::TrainJob {
        job_id: id.to_string(),
        state: j.state as i32,
        stage: j.stage.as_str().to_string(),
        kind: j.kind.map(|k| k.as_str().to_string()).unwrap_or_default(),
        progress: j.progress,
        models: j.models.clone(),
        error: j.error.clone(),
        started_at: j.started_at.clone(),
        finished_at: j.finished_at.clone(),
    }
}

fn required(field: &str, v: &str) -> Result<String, ServerError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(ServerError::Invalid(FieldError::new(field, "is required")));
    }
    Ok(v.to_string())
}

#[tonic::async_trait]
impl ModelService for ModelSvc {
    #[tracing::instrument(skip_all, fields(rpc = "Train"))]
    async fn train(
        &self,
        request: Request<pb::TrainRequest>,
    ) -> Result<Response<pb::TrainResponse>, Status> {
        let r = request.into_inner();
        let kinds = parse_kinds(&r.kinds).map_err(ServerError::from)?;
        let mut config = self.training.clone();
        if r.horizon_days > 0 {
            config.horizon_days = i32::try_from(r.horizon_days).unwrap_or(i32::MAX);
        }
        if r.capacity > 0 {
            config.capacity = r.capacity as usize;
        }
        config.allow_leakage |= r.allow_leakage;
        if let Err(e) = config.validate() {
            let field = match &e {
                pulse_training::TrainError::Config { key, .. } => *key,
                _ => "config",
            };
            return Err(ServerError::Invalid(FieldError::new(field, e.to_string())).into());
        }
        let accounts = self
            .store
            .table_counts()
            .await
            .map_err(ServerError::from)?
            .iter()
            .find(|(t, _)| *t == "accounts")
            .map_or(0, |c| c.1);
        if accounts == 0 {
            return Err(ServerError::FailedPrecondition(
                "no data to train on: the store holds no accounts. Load a customer base first (IngestService.Ingest, or `pulse import FILES`; `pulse synth --out DIR` writes a synthetic one), then call Train again".into(),
            )
            .into());
        }
        let id = {
            let mut jobs = lock(&self.jobs);
            if let Some(running) = &jobs.running {
                return Err(ServerError::FailedPrecondition(format!(
                    "training job {running} is still running; poll it with GetTrainJob and train again when it has finished"
                ))
                .into());
            }
            jobs.next += 1;
            let id = format!("train-{}-{}", now_ts(), jobs.next);
            jobs.by_id.insert(
                id.clone(),
                Job {
                    state: pb::TrainJobState::Queued,
                    stage: Stage::Loading,
                    kind: None,
                    progress: 0.0,
                    models: Vec::new(),
                    error: String::new(),
                    started_at: format_ts(now_ts()),
                    finished_at: String::new(),
                },
            );
            jobs.order.push_back(id.clone());
            while jobs.order.len() > MAX_JOBS {
                if let Some(old) = jobs.order.pop_front() {
                    jobs.by_id.remove(&old);
                }
            }
            jobs.running = Some(id.clone());
            id
        };
        tracing::info!(job = %id, ?kinds, "training job started");
        let run = JobRun {
            id: id.clone(),
            store: self.store.clone(),
            registry: self.registry.clone(),
            config,
            kinds,
            promote: r.promote,
            jobs: self.jobs.clone(),
            models_changed: self.models_changed.clone(),
        };
        tokio::spawn(run.run());
        Ok(Response::new(pb::TrainResponse { job_id: id }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetTrainJob"))]
    async fn get_train_job(
        &self,
        request: Request<pb::GetTrainJobRequest>,
    ) -> Result<Response<pb::TrainJob>, Status> {
        let id = required("job_id", &request.into_inner().job_id)?;
        let jobs = lock(&self.jobs);
        let job = jobs.by_id.get(&id).ok_or(ServerError::NotFound {
            what: "training job",
            id: id.clone(),
        })?;
        Ok(Response::new(job_out(&id, job)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListModels"))]
    async fn list_models(
        &self,
        request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::ListModelsResponse>, Status> {
        let r = request.into_inner();
        let kind: Option<ModelKind> = if r.kind.trim().is_empty() {
            None
        } else {
            Some(
                r.kind
                    .parse()
                    .map_err(|e: String| ServerError::Invalid(FieldError::new("kind", e)))?,
            )
        };
        let registry = self.registry.clone();
        let entries = blocking(move || registry.list()).await?;
        Ok(Response::new(pb::ListModelsResponse {
            models: entries
                .iter()
                .filter(|e| kind.is_none_or(|k| e.card.kind == k))
                .map(model_summary_out)
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetModelCard"))]
    async fn get_model_card(
        &self,
        request: Request<pb::GetModelCardRequest>,
    ) -> Result<Response<pb::ModelCard>, Status> {
        let version = required("version", &request.into_inner().version)?;
        let registry = self.registry.clone();
        let entry: RegistryEntry = blocking(move || {
            registry
                .list()?
                .into_iter()
                .find(|e| e.card.version == version)
                .ok_or(RegistryError::NotFound { version })
        })
        .await?;
        let card_json = serde_json::to_string_pretty(&entry.card)
            .map_err(|e| ServerError::from(RegistryError::Storage(format!("card to JSON: {e}"))))?;
        let compared = entry
            .card
            .evaluation
            .as_ref()
            .map(|e| {
                e.models
                    .iter()
                    .map(|(name, m)| (name.clone(), key_metrics_out(m)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Response::new(pb::ModelCard {
            summary: Some(model_summary_out(&entry)),
            card_json,
            compared,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "PromoteModel"))]
    async fn promote_model(
        &self,
        request: Request<pb::PromoteModelRequest>,
    ) -> Result<Response<pb::PromoteModelResponse>, Status> {
        let version = required("version", &request.into_inner().version)?;
        let registry = self.registry.clone();
        let p = blocking(move || registry.promote(&version)).await?;
        self.models_changed.send_modify(|g| *g += 1);
        tracing::info!(kind = %p.kind, version = %p.version, previous = ?p.previous, "model promoted");
        Ok(Response::new(pb::PromoteModelResponse {
            kind: p.kind.as_str().to_string(),
            version: p.version,
            previous: p.previous.unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_default_to_both_and_reject_unknown_names() {
        assert_eq!(
            parse_kinds(&[]).unwrap(),
            vec![ModelKind::Churn, ModelKind::Expansion]
        );
        assert_eq!(
            parse_kinds(&["Expansion".into(), "expansion".into()]).unwrap(),
            vec![ModelKind::Expansion]
        );
        let e = parse_kinds(&["upsell".into()]).unwrap_err();
        assert_eq!(e.field, "kinds");
    }
}
