//! `ModelService`: training jobs, the model registry and promotion.
//!
//! `Train` checks that there is data, records a job and returns its id; the
//! job loads every account history from the store, runs the training
//! pipeline (`pulse_training`) on tokio's blocking pool, saves the artifacts
//! through the [`ModelRegistry`] and promotes them when asked (or when their
//! kind has no promoted model yet). `TrainSentiment` does the same for a
//! sentiment model, from an uploaded `text,label` corpus (parsed before the
//! job starts, so a bad line is INVALID_ARGUMENT) or from the store's weakly
//! labelled text. One job runs at a time; the last [`MAX_JOBS`] jobs stay
//! queryable.
//!
//! Promoting a sentiment model, by `PromoteModel` or a `TrainSentiment` job
//! asked to, swaps it into the [`SentimentSlot`] shared with
//! `SentimentService` and ingest: the next call uses it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use pulse_core::FieldError;
use pulse_models::ModelKind;
use pulse_proto::v1 as pb;
use pulse_proto::v1::model_service_server::ModelService;
use pulse_sentiment::{
    DEFAULT_SEED, Sentiment, SentimentCard, SentimentModel, TrainingSource, class_index,
    parse_labelled_csv, train_held_out, weak_label,
};
use pulse_store::{RatedStoredText, Store};
use pulse_training::{DecisionRule, Progress, Stage, TrainConfig};
use tonic::{Request, Response, Status};

use crate::convert::{
    key_metrics_out, model_summary_out, sentiment_summary_out, survival_summary_out,
};
use crate::error::{IntoStatus, OrStatus};
use crate::metrics::Metrics;
use crate::model_ops::decision_out;
use pulse_app::AppError;
use pulse_app::SentimentSlot;
use pulse_app::registry::{ModelRegistry, RegistryEntry, RegistryError, is_sentiment_version};
use pulse_app::{SurvivalOutcome, TrainRequest, train_and_decide};

/// Finished jobs kept for `GetTrainJob`.
pub const MAX_JOBS: usize = 64;

#[derive(Debug, Clone)]
struct Job {
    state: pb::TrainJobState,
    /// A `pulse_training::Stage` name, or a sentiment job's stage.
    stage: &'static str,
    /// The model kind the stage works on; empty if none.
    kind: &'static str,
    progress: f64,
    models: Vec<pb::ModelSummary>,
    error: String,
    started_at: String,
    finished_at: String,
    decisions: Vec<pb::ModelDecision>,
}

#[derive(Debug, Default)]
struct Jobs {
    by_id: HashMap<String, Job>,
    order: VecDeque<String>,
    next: u64,
    running: Option<String>,
}

#[derive(Clone)]
pub(crate) struct ModelSvc {
    pub(crate) store: Store,
    pub(crate) registry: Arc<dyn ModelRegistry>,
    pub(crate) training: TrainConfig,
    /// The time-to-churn model's settings: every run that trains churn
    /// refits it (`None`: never).
    pub(crate) survival: Option<pulse_forecast::SurvivalConfig>,
    /// The champion/challenger rule every account training run applies.
    pub(crate) rule: DecisionRule,
    /// Drift thresholds (GetDrift).
    pub(crate) ops: pulse_app::ModelOpsSettings,
    /// The models and population in service (GetDrift).
    pub(crate) scoring: Arc<pulse_app::serving::Scoring>,
    pub(crate) metrics: Arc<Metrics>,
    /// The sentiment model in service, swapped on promotion.
    pub(crate) sentiment: SentimentSlot,
    jobs: Arc<Mutex<Jobs>>,
    /// Bumped after every promotion so scoring swaps the new models in.
    models_changed: tokio::sync::watch::Sender<u64>,
}

fn lock(jobs: &Mutex<Jobs>) -> MutexGuard<'_, Jobs> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    jobs.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs a blocking registry call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, AppError> {
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

/// Texts weakly labelled by the survey score beside them.
fn weak_docs(rated: Vec<RatedStoredText>) -> Vec<(String, Sentiment)> {
    rated
        .into_iter()
        .map(|t| (t.text, weak_label(t.kind.into(), t.score)))
        .collect()
}

/// The documents of an uploaded `text,label` CSV, or the field error that
/// tells the caller what to fix.
fn parse_corpus(bytes: &[u8]) -> Result<Vec<(String, Sentiment)>, FieldError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        FieldError::new(
            "corpus_csv",
            format!("is not UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let docs: Vec<(String, Sentiment)> = parse_labelled_csv(text)
        .map_err(|e| FieldError::new("corpus_csv", e.to_string()))?
        .into_iter()
        .map(|d| (d.text, d.label))
        .collect();
    let mut counts = [0usize; 3];
    for d in &docs {
        counts[class_index(d.1)] += 1;
    }
    if counts.iter().filter(|&&c| c > 0).count() < 2 {
        return Err(FieldError::new(
            "corpus_csv",
            format!(
                "holds {} labelled texts of {} label(s): at least two labels are needed",
                docs.len(),
                counts.iter().filter(|&&c| c > 0).count()
            ),
        ));
    }
    Ok(docs)
}

impl ModelSvc {
    /// Everything a new job needs, moved into its task.
    fn job_run(&self, id: &str, promote: bool) -> JobRun {
        JobRun {
            id: id.to_string(),
            store: self.store.clone(),
            registry: self.registry.clone(),
            sentiment: self.sentiment.clone(),
            promote,
            jobs: self.jobs.clone(),
            models_changed: self.models_changed.clone(),
            rule: self.rule.clone(),
            metrics: self.metrics.clone(),
            clock: self.scoring.clock().clone(),
            survival: self.survival.clone(),
        }
    }

    /// The service over the state's store, registry, settings and slots.
    pub(crate) fn new(state: &crate::AppState) -> Self {
        ModelSvc {
            store: state.store.clone(),
            registry: state.registry.clone(),
            training: state.training.clone(),
            survival: state.survival.clone(),
            rule: state.model_ops.rule.clone(),
            ops: state.model_ops.clone(),
            scoring: state.scoring.clone(),
            metrics: state.metrics.clone(),
            sentiment: state.sentiment.clone(),
            jobs: Arc::default(),
            models_changed: state.models_changed.clone(),
        }
    }

    /// Records a queued job and marks it running, or refuses while another runs.
    fn start_job(&self, kind: &'static str) -> Result<String, AppError> {
        let mut jobs = lock(&self.jobs);
        if let Some(running) = &jobs.running {
            return Err(AppError::FailedPrecondition(format!(
                "training job {running} is still running; poll it with GetTrainJob and train again when it has finished"
            )));
        }
        jobs.next += 1;
        let id = format!("train-{}-{}", self.scoring.clock().now(), jobs.next);
        jobs.by_id.insert(
            id.clone(),
            Job {
                state: pb::TrainJobState::Queued,
                stage: Stage::Loading.as_str(),
                kind,
                progress: 0.0,
                models: Vec::new(),
                error: String::new(),
                started_at: self.scoring.clock().now_rfc3339(),
                finished_at: String::new(),
                decisions: Vec::new(),
            },
        );
        jobs.order.push_back(id.clone());
        while jobs.order.len() > MAX_JOBS {
            if let Some(old) = jobs.order.pop_front() {
                jobs.by_id.remove(&old);
            }
        }
        jobs.running = Some(id.clone());
        Ok(id)
    }

    /// Starts a churn/expansion training job (`trigger`: manual, scheduled,
    /// drift) with the server's training settings; returns its id, or
    /// FAILED_PRECONDITION while another job runs.
    pub(crate) fn start_account_training(
        &self,
        config: TrainConfig,
        kinds: Vec<ModelKind>,
        promote: bool,
        trigger: &'static str,
    ) -> Result<String, AppError> {
        let id = self.start_job("")?;
        tracing::info!(job = %id, ?kinds, trigger, "training job started");
        let run = self.job_run(&id, promote);
        tokio::spawn(run.run(Work::Accounts {
            config,
            kinds,
            trigger,
        }));
        Ok(id)
    }
}

/// What a job trains.
enum Work {
    /// Churn and expansion models from the account histories.
    Accounts {
        config: TrainConfig,
        kinds: Vec<ModelKind>,
        trigger: &'static str,
    },
    /// A sentiment model from a parsed corpus, or from the store's weakly
    /// labelled text when `None`.
    Sentiment {
        corpus: Option<Vec<(String, Sentiment)>>,
        seed: u64,
    },
}

/// Everything a job needs, moved into its task.
struct JobRun {
    id: String,
    store: Store,
    registry: Arc<dyn ModelRegistry>,
    sentiment: SentimentSlot,
    promote: bool,
    jobs: Arc<Mutex<Jobs>>,
    models_changed: tokio::sync::watch::Sender<u64>,
    rule: DecisionRule,
    metrics: Arc<Metrics>,
    clock: pulse_core::Clock,
    survival: Option<pulse_forecast::SurvivalConfig>,
}

impl JobRun {
    fn update(&self, f: impl FnOnce(&mut Job)) {
        if let Some(j) = lock(&self.jobs).by_id.get_mut(&self.id) {
            f(j);
        }
    }

    async fn run(self, work: Work) {
        let id = self.id.clone();
        let result = match work {
            Work::Accounts {
                config,
                kinds,
                trigger,
            } => self.train(config, kinds, trigger).await,
            Work::Sentiment { corpus, seed } => self
                .train_sentiment(corpus, seed)
                .await
                .map(|m| (m, Vec::new())),
        };
        let mut jobs = lock(&self.jobs);
        if jobs.running.as_deref() == Some(id.as_str()) {
            jobs.running = None;
        }
        if let Some(j) = jobs.by_id.get_mut(&id) {
            j.finished_at = self.clock.now_rfc3339();
            match result {
                Ok((models, decisions)) => {
                    j.state = pb::TrainJobState::Succeeded;
                    j.stage = Stage::Done.as_str();
                    j.kind = "";
                    j.progress = 1.0;
                    j.models = models;
                    j.decisions = decisions;
                }
                Err(message) => {
                    tracing::warn!(job = %id, error = %message, "training job failed");
                    j.state = pb::TrainJobState::Failed;
                    j.error = message;
                }
            }
        }
    }

    async fn train(
        &self,
        config: TrainConfig,
        kinds: Vec<ModelKind>,
        trigger: &'static str,
    ) -> Result<(Vec<pb::ModelSummary>, Vec<pb::ModelDecision>), String> {
        self.update(|j| {
            j.state = pb::TrainJobState::Running;
            j.stage = Stage::Loading.as_str();
        });
        let histories = self.store.load_histories(None).await.map_err(|e| {
            tracing::error!(error = %e, "loading histories for training");
            "internal error while loading the account histories".to_string()
        })?;
        let jobs = self.jobs.clone();
        let id = self.id.clone();
        let request = TrainRequest {
            kinds,
            config,
            rule: self.rule.clone(),
            trigger: trigger.to_string(),
            promote: self.promote,
            data_end: None,
            clock: self.clock.clone(),
            survival: self.survival.clone(),
        };
        let result = train_and_decide(
            &self.store,
            self.registry.clone(),
            histories,
            request,
            Some(self.metrics.clone() as Arc<dyn pulse_app::ModelOpsObserver>),
            move |p: Progress| {
                if let Some(j) = lock(&jobs).by_id.get_mut(&id) {
                    j.stage = p.stage.as_str();
                    j.kind = p.kind.map_or("", ModelKind::as_str);
                    // Loading took the first 5%, saving and deciding the last.
                    j.progress = 0.05 + 0.9 * p.fraction;
                }
            },
        )
        .await?;
        let survival = match &result.survival {
            Some(SurvivalOutcome::Saved(card)) => Some(survival_summary_out(card, true)),
            _ => None,
        };
        if survival.is_some() || result.entries.iter().any(|e| e.promoted) {
            self.models_changed.send_modify(|g| *g += 1);
        }
        // The survival model first: it was fitted first.
        let models = survival
            .into_iter()
            .chain(result.entries.iter().map(model_summary_out))
            .collect();
        Ok((models, result.decisions.iter().map(decision_out).collect()))
    }

    async fn train_sentiment(
        &self,
        corpus: Option<Vec<(String, Sentiment)>>,
        seed: u64,
    ) -> Result<Vec<pb::ModelSummary>, String> {
        self.update(|j| {
            j.state = pb::TrainJobState::Running;
            j.stage = "loading";
        });
        let (docs, source) = match corpus {
            Some(docs) => (docs, TrainingSource::Corpus),
            None => {
                let rated = self.store.rated_texts().await.map_err(|e| {
                    tracing::error!(error = %e, "loading rated texts for sentiment training");
                    "internal error while loading the stored texts".to_string()
                })?;
                (weak_docs(rated), TrainingSource::WeakLabels)
            }
        };
        if docs.is_empty() {
            return Err("no labelled text to train on: the store holds no interaction with a CSAT and no survey comment; upload a corpus (corpus_csv) instead".into());
        }
        self.update(|j| {
            j.stage = "training";
            j.progress = 0.1;
        });
        let (model, report) = tokio::task::spawn_blocking(move || train_held_out(docs, seed))
            .await
            .map_err(|e| format!("training task failed: {e}"))?
            .map_err(|e| format!("training failed: {e}"))?;
        let card = SentimentCard::new(&model, source, report, self.clock.now_rfc3339());
        self.update(|j| {
            j.stage = "saving";
            j.progress = 0.95;
        });
        let model = Arc::new(model);
        let registry = self.registry.clone();
        let promote = self.promote;
        let m = model.clone();
        let entry = tokio::task::spawn_blocking(move || {
            let mut entry = registry.save_sentiment(card, &m)?;
            if promote {
                registry.promote_sentiment(&entry.card.version)?;
                entry.promoted = true;
            }
            Ok::<_, RegistryError>(entry)
        })
        .await
        .map_err(|e| format!("saving task failed: {e}"))?
        .map_err(|e| {
            tracing::error!(error = %e, "saving the sentiment model");
            format!("saving the sentiment model failed: {e}")
        })?;
        if entry.promoted {
            self.sentiment.set(model, Some(entry.card.version.clone()));
            tracing::info!(version = %entry.card.version, "sentiment model promoted and in service");
        }
        Ok(vec![sentiment_summary_out(&entry)])
    }
}

fn job_out(id: &str, j: &Job) -> pb::TrainJob {
    pb::TrainJob {
        job_id: id.to_string(),
        state: j.state as i32,
        stage: j.stage.to_string(),
        kind: j.kind.to_string(),
        progress: j.progress,
        models: j.models.clone(),
        error: j.error.clone(),
        started_at: j.started_at.clone(),
        finished_at: j.finished_at.clone(),
        decisions: j.decisions.clone(),
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
        let id = self
            .start_account_training(config, kinds, r.promote, "manual")
            .or_status()?;
        Ok(Response::new(pb::TrainResponse { job_id: id }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "TrainSentiment"))]
    async fn train_sentiment(
        &self,
        request: Request<pb::TrainSentimentRequest>,
    ) -> Result<Response<pb::TrainResponse>, Status> {
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
        let id = self.start_job("sentiment").or_status()?;
        tracing::info!(
            job = %id,
            from_store = corpus.is_none(),
            documents = corpus.as_ref().map_or(0, Vec::len),
            "sentiment training job started"
        );
        let run = self.job_run(&id, r.promote);
        tokio::spawn(run.run(Work::Sentiment { corpus, seed }));
        Ok(Response::new(pb::TrainResponse { job_id: id }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetTrainJob"))]
    async fn get_train_job(
        &self,
        request: Request<pb::GetTrainJobRequest>,
    ) -> Result<Response<pb::TrainJob>, Status> {
        let id = required("job_id", &request.into_inner().job_id).or_status()?;
        let jobs = lock(&self.jobs);
        let job = jobs
            .by_id
            .get(&id)
            .ok_or(AppError::NotFound {
                what: "training job",
                id: id.clone(),
            })
            .or_status()?;
        Ok(Response::new(job_out(&id, job)))
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
        Ok(Response::new(pb::GetPerformanceResponse {
            runs: perf
                .iter()
                .map(|p| crate::model_ops::performance_out(p, today))
                .collect(),
            horizon_days: horizon,
        }))
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
