//! `ModelService`: training jobs, the model registry and promotion.
//!
//! `Train` checks that there is data and the request's settings, and starts
//! a job on [`pulse_app::jobs::TrainingJobs`] (the same queue the retraining
//! schedule uses); `GetTrainJob` polls it. `TrainSentiment` parses an
//! uploaded `text,label` corpus before the job starts, so a bad line is
//! INVALID_ARGUMENT. Promoting a sentiment model, by `PromoteModel` or a
//! `TrainSentiment` job asked to, swaps it into the [`SentimentSlot`] shared
//! with `SentimentService` and ingest: the next call uses it.

use std::sync::Arc;

use pulse_app::AppError;
use pulse_app::SentimentSlot;
use pulse_app::jobs::{Job, JobState, TrainedModel, TrainingJobs, Work, parse_corpus};
use pulse_app::registry::{ModelRegistry, RegistryEntry, RegistryError, is_sentiment_version};
use pulse_core::FieldError;
use pulse_models::ModelKind;
use pulse_proto::v1 as pb;
use pulse_proto::v1::model_service_server::ModelService;
use pulse_sentiment::{DEFAULT_SEED, SentimentModel};
use pulse_store::Store;
use pulse_training::TrainConfig;
use tonic::{Request, Response, Status};

use crate::convert::{
    key_metrics_out, model_summary_out, sentiment_summary_out, survival_summary_out,
};
use crate::error::{IntoStatus, OrStatus};
use crate::metrics::Metrics;
use crate::model_ops::decision_out;

#[derive(Clone)]
pub(crate) struct ModelSvc {
    /// GetPerformance is bounded and cached with the other analyst calls.
    pub(crate) analytics: crate::analytics::Analytics,
    pub(crate) store: Store,
    pub(crate) registry: Arc<dyn ModelRegistry>,
    pub(crate) training: TrainConfig,
    /// Drift thresholds (GetDrift).
    pub(crate) ops: pulse_app::ModelOpsSettings,
    /// The models and population in service (GetDrift).
    pub(crate) scoring: Arc<pulse_app::serving::Scoring>,
    pub(crate) metrics: Arc<Metrics>,
    /// The sentiment model in service, swapped on promotion.
    pub(crate) sentiment: SentimentSlot,
    /// The training job queue (shared with the model-operations schedule).
    pub(crate) jobs: TrainingJobs,
    /// Bumped after every promotion so scoring swaps the new models in.
    models_changed: tokio::sync::watch::Sender<u64>,
}

/// Runs a blocking registry call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, AppError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => Ok(r?),
        Err(e) => Err(AppError::internal("registry task", e)),
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

/// Which models to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KindFilter {
    All,
    Account(ModelKind),
    Sentiment,
    Survival,
}

fn parse_kind_filter(kind: &str) -> Result<KindFilter, FieldError> {
    let kind = kind.trim();
    if kind.is_empty() {
        Ok(KindFilter::All)
    } else if kind.eq_ignore_ascii_case("sentiment") {
        Ok(KindFilter::Sentiment)
    } else if kind.eq_ignore_ascii_case("survival") {
        Ok(KindFilter::Survival)
    } else {
        kind.parse().map(KindFilter::Account).map_err(|e: String| {
            FieldError::new("kind", format!("{e} (or sentiment, or survival)"))
        })
    }
}

impl ModelSvc {
    /// The service over the state's store, registry, settings, slots and
    /// training job queue.
    pub(crate) fn new(
        state: &crate::AppState,
        jobs: TrainingJobs,
        analytics: crate::analytics::Analytics,
    ) -> Self {
        ModelSvc {
            analytics,
            store: state.store.clone(),
            registry: state.registry.clone(),
            training: state.training.clone(),
            ops: state.model_ops.clone(),
            scoring: state.scoring.clone(),
            metrics: state.metrics.clone(),
            sentiment: state.sentiment.clone(),
            jobs,
            models_changed: state.models_changed.clone(),
        }
    }
}

fn job_state_out(s: JobState) -> pb::TrainJobState {
    match s {
        JobState::Queued => pb::TrainJobState::Queued,
        JobState::Running => pb::TrainJobState::Running,
        JobState::Succeeded => pb::TrainJobState::Succeeded,
        JobState::Failed => pb::TrainJobState::Failed,
        JobState::Interrupted => pb::TrainJobState::Interrupted,
    }
}

fn trained_out(m: &TrainedModel) -> pb::ModelSummary {
    match m {
        TrainedModel::Survival(card) => survival_summary_out(card, true),
        TrainedModel::Account(e) => model_summary_out(e),
        TrainedModel::Sentiment(e) => sentiment_summary_out(e),
    }
}

fn job_out(j: &Job) -> pb::TrainJob {
    pb::TrainJob {
        job_id: j.id.clone(),
        state: job_state_out(j.state) as i32,
        stage: j.stage.to_string(),
        kind: j.kind.to_string(),
        progress: j.progress,
        models: j.models.iter().map(trained_out).collect(),
        error: j.error.clone(),
        started_at: j.started_at.clone(),
        finished_at: j.finished_at.clone(),
        decisions: j.decisions.iter().map(decision_out).collect(),
    }
}

fn required(field: &str, v: &str) -> Result<String, AppError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(AppError::Invalid(FieldError::new(field, "is required")));
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
        if request.get_ref().promote {
            crate::auth::require_field(&request, "/pulse.v1.ModelService/Train", "promote")?;
        }
        let r = request.into_inner();
        let kinds = parse_kinds(&r.kinds).or_status()?;
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
            return Err(AppError::Invalid(FieldError::new(field, e.to_string())).into_status());
        }
        let accounts = self
            .store
            .table_counts()
            .await
            .or_status()?
            .iter()
            .find(|(t, _)| *t == "accounts")
            .map_or(0, |c| c.1);
        if accounts == 0 {
            return Err(AppError::FailedPrecondition(
                "no data to train on: the store holds no accounts. Load a customer base first (IngestService.Ingest, or `pulse import FILES`; `pulse synth --out DIR` writes a synthetic one), then call Train again".into(),
            )
            .into_status());
        }
        let work = Work::Accounts {
            config: Box::new(config),
            kinds,
            trigger: "manual",
        };
        let id = self.jobs.start(work, r.promote).or_status()?;
        Ok(Response::new(pb::TrainResponse { job_id: id }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "TrainSentiment"))]
    async fn train_sentiment(
        &self,
        request: Request<pb::TrainSentimentRequest>,
    ) -> Result<Response<pb::TrainResponse>, Status> {
        if request.get_ref().promote {
            crate::auth::require_field(
                &request,
                "/pulse.v1.ModelService/TrainSentiment",
                "promote",
            )?;
        }
        let r = request.into_inner();
        let seed = if r.seed == 0 { DEFAULT_SEED } else { r.seed };
        let corpus = match (r.corpus_csv.is_empty(), r.from_store) {
            (false, false) => {
                let bytes = r.corpus_csv;
                // Parsing a large corpus is CPU work: off the async workers.
                let docs = tokio::task::spawn_blocking(move || parse_corpus(&bytes))
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "corpus parsing task failed");
                        Status::internal("internal error")
                    })?
                    .or_status()?;
                Some(docs)
            }
            (true, true) => None,
            (false, true) => {
                return Err(AppError::Invalid(FieldError::new(
                    "corpus_csv",
                    "give either corpus_csv or from_store, not both",
                ))
                .into_status());
            }
            (true, false) => {
                return Err(AppError::Invalid(FieldError::new(
                    "corpus_csv",
                    "is required unless from_store is set (a text,label CSV)",
                ))
                .into_status());
            }
        };
        let id = self
            .jobs
            .start(Work::Sentiment { corpus, seed }, r.promote)
            .or_status()?;
        Ok(Response::new(pb::TrainResponse { job_id: id }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetTrainJob"))]
    async fn get_train_job(
        &self,
        request: Request<pb::GetTrainJobRequest>,
    ) -> Result<Response<pb::TrainJob>, Status> {
        let id = required("job_id", &request.into_inner().job_id).or_status()?;
        let job = self
            .jobs
            .find(&id)
            .await
            .or_status()?
            .ok_or(AppError::NotFound {
                what: "training job",
                id: id.clone(),
            })
            .or_status()?;
        Ok(Response::new(job_out(&job)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListModels"))]
    async fn list_models(
        &self,
        request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::ListModelsResponse>, Status> {
        let r = request.into_inner();
        let filter = parse_kind_filter(&r.kind).or_status()?;
        let registry = self.registry.clone();
        let (accounts, sentiment, survival) = blocking(move || {
            let accounts = match filter {
                KindFilter::All | KindFilter::Account(_) => registry.list()?,
                _ => Vec::new(),
            };
            let sentiment = match filter {
                KindFilter::All | KindFilter::Sentiment => registry.list_sentiment()?,
                _ => Vec::new(),
            };
            let survival = match filter {
                KindFilter::All | KindFilter::Survival => registry.list_survival()?,
                _ => Vec::new(),
            };
            Ok((accounts, sentiment, survival))
        })
        .await
        .or_status()?;
        let mut models: Vec<pb::ModelSummary> = accounts
            .iter()
            .filter(|e| match filter {
                KindFilter::Account(k) => e.card.kind == k,
                _ => true,
            })
            .map(model_summary_out)
            .chain(sentiment.iter().map(sentiment_summary_out))
            .chain(
                survival
                    .iter()
                    .enumerate()
                    .map(|(i, c)| survival_summary_out(c, i == 0)),
            )
            .collect();
        // Both lists are newest first; merged, still newest first (stable).
        models.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(Response::new(pb::ListModelsResponse { models }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetModelCard"))]
    async fn get_model_card(
        &self,
        request: Request<pb::GetModelCardRequest>,
    ) -> Result<Response<pb::ModelCard>, Status> {
        let version = required("version", &request.into_inner().version).or_status()?;
        let registry = self.registry.clone();
        if is_sentiment_version(&version) {
            let entry = blocking(move || {
                registry
                    .list_sentiment()?
                    .into_iter()
                    .find(|e| e.card.version == version)
                    .ok_or(RegistryError::NotFound { version })
            })
            .await
            .or_status()?;
            let card_json = serde_json::to_string_pretty(&entry.card)
                .map_err(|e| AppError::from(RegistryError::Storage(format!("card to JSON: {e}"))))
                .or_status()?;
            return Ok(Response::new(pb::ModelCard {
                summary: Some(sentiment_summary_out(&entry)),
                card_json,
                compared: Default::default(),
            }));
        }
        let entry: RegistryEntry = blocking(move || {
            registry
                .list()?
                .into_iter()
                .find(|e| e.card.version == version)
                .ok_or(RegistryError::NotFound { version })
        })
        .await
        .or_status()?;
        let card_json = serde_json::to_string_pretty(&entry.card)
            .map_err(|e| AppError::from(RegistryError::Storage(format!("card to JSON: {e}"))))
            .or_status()?;
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

    #[tracing::instrument(skip_all, fields(rpc = "ListDecisions"))]
    async fn list_decisions(
        &self,
        request: Request<pb::ListDecisionsRequest>,
    ) -> Result<Response<pb::ListDecisionsResponse>, Status> {
        let r = request.into_inner();
        let kind = r.kind.trim();
        let kind = if kind.is_empty() {
            None
        } else {
            Some(
                kind.parse::<ModelKind>()
                    .map_err(|e| AppError::from(FieldError::new("kind", e)))
                    .or_status()?,
            )
        };
        if r.limit > 1000 {
            return Err(AppError::Invalid(FieldError::new(
                "limit",
                format!("{} is over the maximum of 1000", r.limit),
            ))
            .into_status());
        }
        let limit = if r.limit == 0 { 50 } else { r.limit };
        let decisions = self
            .store
            .decisions(kind.map(ModelKind::as_str), limit)
            .await
            .or_status()?;
        Ok(Response::new(pb::ListDecisionsResponse {
            decisions: decisions.iter().map(decision_out).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetDrift"))]
    async fn get_drift(
        &self,
        request: Request<pb::GetDriftRequest>,
    ) -> Result<Response<pb::DriftReport>, Status> {
        let r = request.into_inner();
        let stored = if r.refresh {
            None
        } else {
            self.store
                .drift_checks(1)
                .await
                .or_status()?
                .into_iter()
                .next()
        };
        let (report, check) = match stored {
            Some(c) => {
                let report: pulse_training::DriftReport = serde_json::from_str(&c.report)
                    .map_err(|e| {
                        AppError::from(RegistryError::Storage(format!(
                            "drift check {} does not parse: {e}",
                            c.check_id
                        )))
                    })
                    .or_status()?;
                (report, c)
            }
            None => {
                let (report, id) = pulse_app::model_ops::check_drift(
                    &self.store,
                    &self.scoring,
                    &self.ops,
                    Some(self.metrics.as_ref()),
                )
                .await
                .or_status()?;
                let check = self
                    .store
                    .drift_checks(20)
                    .await
                    .or_status()?
                    .into_iter()
                    .find(|c| c.check_id == id)
                    .ok_or(AppError::NotFound {
                        what: "drift check",
                        id: id.to_string(),
                    })
                    .or_status()?;
                (report, check)
            }
        };
        Ok(Response::new(crate::model_ops::drift_out(
            &report,
            &check,
            r.top as usize,
        )))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetPerformance"))]
    async fn get_performance(
        &self,
        request: Request<pb::GetPerformanceRequest>,
    ) -> Result<Response<pb::GetPerformanceResponse>, Status> {
        let r = request.into_inner();
        if r.runs > 520 {
            return Err(AppError::Invalid(FieldError::new(
                "runs",
                format!("{} is over the maximum of 520", r.runs),
            ))
            .into_status());
        }
        let runs = if r.runs == 0 { 26 } else { r.runs };
        let top = if r.top == 0 { 100 } else { r.top as usize };
        let key = self.analytics.key("performance", &format!("{runs}|{top}"));
        if let Some(hit) = self.analytics.performance.get(&key) {
            return Ok(Response::new(hit));
        }
        let _slot = self
            .analytics
            .pool
            .slot("realised performance")
            .await
            .or_status()?;
        let horizon = self.scoring.settings().horizon_days;
        let perf = pulse_app::model_ops::realised_performance(
            &self.store,
            i32::try_from(horizon).unwrap_or(90),
            runs,
            top,
            self.scoring.clock().now(),
        )
        .await
        .or_status()?;
        let today = self.scoring.clock().today();
        let response = pb::GetPerformanceResponse {
            runs: perf
                .iter()
                .map(|p| crate::model_ops::performance_out(p, today))
                .collect(),
            horizon_days: horizon,
        };
        self.analytics.performance.put(key, response.clone());
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(rpc = "PromoteModel"))]
    async fn promote_model(
        &self,
        request: Request<pb::PromoteModelRequest>,
    ) -> Result<Response<pb::PromoteModelResponse>, Status> {
        let version = required("version", &request.into_inner().version).or_status()?;
        let registry = self.registry.clone();
        if is_sentiment_version(&version) {
            let v = version.clone();
            let (model, p) = blocking(move || {
                // Load (and verify) before promoting: a model that cannot
                // serve is never promoted.
                let model: SentimentModel = registry.get_sentiment(&v)?;
                let p = registry.promote_sentiment(&v)?;
                Ok((model, p))
            })
            .await
            .or_status()?;
            self.sentiment.set(Arc::new(model), Some(p.version.clone()));
            tracing::info!(version = %p.version, previous = ?p.previous, "sentiment model promoted and in service");
            return Ok(Response::new(pb::PromoteModelResponse {
                kind: "sentiment".into(),
                version: p.version,
                previous: p.previous.unwrap_or_default(),
            }));
        }
        let p = blocking(move || registry.promote(&version))
            .await
            .or_status()?;
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
    fn list_filters_and_corpus_errors_name_their_field() {
        assert_eq!(parse_kind_filter(" ").unwrap(), KindFilter::All);
        assert_eq!(
            parse_kind_filter("Sentiment").unwrap(),
            KindFilter::Sentiment
        );
        assert_eq!(
            parse_kind_filter("churn").unwrap(),
            KindFilter::Account(ModelKind::Churn)
        );
        assert_eq!(parse_kind_filter("upsell").unwrap_err().field, "kind");

        let docs = parse_corpus(b"text,label\nstill waiting,negative\nthanks!,positive\n").unwrap();
        assert_eq!(docs.len(), 2);
        let e = parse_corpus(b"fine,1\nbad,maybe\n").unwrap_err();
        assert_eq!(e.field, "corpus_csv");
        assert!(
            e.reason.starts_with("line 2: label 'maybe'"),
            "{}",
            e.reason
        );
        let e = parse_corpus(b"a,1\nb,1\n").unwrap_err();
        assert!(e.reason.contains("at least two labels"), "{}", e.reason);
        let e = parse_corpus(b"caf\xe9,1\n").unwrap_err();
        assert_eq!(e.reason, "is not UTF-8 (byte 3)");
    }

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
