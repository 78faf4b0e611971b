//! The training job queue and the model-operations schedule.
//!
//! A job trains the account models (churn, expansion and the time-to-churn
//! model, through [`train_and_decide`]) or a sentiment model, on tokio's
//! blocking pool, and records its stage and progress where a front end can
//! poll it ([`TrainingJobs::get`]). One job runs at a time; the last
//! [`MAX_JOBS`] jobs stay queryable. Every trigger (a front end's request,
//! the retraining schedule, critical drift) goes through the same queue.
//!
//! Promoting a sentiment model swaps it into the [`SentimentSlot`] shared
//! with sentiment analysis and ingest: the next call uses it. Promoting an
//! account model (or saving a new survival model) bumps `models_changed`, so
//! the serving state reloads.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pulse_core::FieldError;
use pulse_forecast::{SurvivalCard, SurvivalConfig};
use pulse_models::ModelKind;
use pulse_sentiment::{
    Sentiment, SentimentCard, TrainingSource, class_index, parse_labelled_csv, train_held_out,
    weak_label,
};
use pulse_store::{ModelDecision, RatedStoredText, Store, TrainJobRecord};
use pulse_training::{DecisionRule, Progress, Stage, TrainConfig};

use crate::model_ops::{
    ModelOpsObserver, ModelOpsSettings, SurvivalOutcome, TrainRequest, check_drift, drift_due,
    drift_run_recent, retraining_due, train_and_decide,
};
use crate::registry::{ModelRegistry, RegistryEntry, RegistryError, SentimentEntry};
use crate::serving::Scoring;
use crate::{AppError, SentimentSlot};

/// Finished jobs kept for [`TrainingJobs::get`].
pub const MAX_JOBS: usize = 64;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// The server stopped while it ran (recorded in the store; run it again).
    Interrupted,
}

/// A model a job saved.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainedModel {
    /// A time-to-churn model: the newest is the one in service.
    Survival(Box<SurvivalCard>),
    Account(Box<RegistryEntry>),
    Sentiment(Box<SentimentEntry>),
}

/// One training job as a front end shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub state: JobState,
    /// A `pulse_training::Stage` name, or a sentiment job's stage.
    pub stage: &'static str,
    /// The model kind the stage works on; empty if none.
    pub kind: &'static str,
    /// 0 to 1.
    pub progress: f64,
    /// What the job saved, the survival model first (it is fitted first).
    pub models: Vec<TrainedModel>,
    /// Why the job failed; empty otherwise.
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// The champion/challenger decisions the job recorded.
    pub decisions: Vec<ModelDecision>,
}

/// What a job trains.
#[derive(Debug, Clone)]
pub enum Work {
    /// Churn and expansion models (and the time-to-churn model with churn)
    /// from the account histories. `trigger`: manual, scheduled or drift.
    Accounts {
        config: Box<TrainConfig>,
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

#[derive(Debug, Default)]
struct Jobs {
    by_id: HashMap<String, Job>,
    order: VecDeque<String>,
    next: u64,
    running: Option<String>,
    /// The running job's store record, for marking it interrupted.
    running_record: Option<TrainJobRecord>,
}

/// What a job was asked to do, as JSON for its store record (never an
/// uploaded corpus, only its size).
fn request_json(work: &Work, promote: bool) -> (String, String) {
    match work {
        Work::Accounts {
            config,
            kinds,
            trigger,
        } => (
            "accounts".into(),
            serde_json::json!({
                "kinds": kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "trigger": trigger,
                "promote": promote,
                "horizon_days": config.horizon_days,
                "capacity": config.capacity,
                "allow_leakage": config.allow_leakage,
            })
            .to_string(),
        ),
        Work::Sentiment { corpus, seed } => (
            "sentiment".into(),
            serde_json::json!({
                "from_store": corpus.is_none(),
                "documents": corpus.as_ref().map_or(0, Vec::len),
                "seed": seed,
                "promote": promote,
            })
            .to_string(),
        ),
    }
}

fn lock(jobs: &Mutex<Jobs>) -> MutexGuard<'_, Jobs> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    jobs.lock().unwrap_or_else(|p| p.into_inner())
}

/// The training job queue: what every job needs, and the jobs themselves.
#[derive(Clone)]
pub struct TrainingJobs {
    store: Store,
    registry: Arc<dyn ModelRegistry>,
    sentiment: SentimentSlot,
    rule: DecisionRule,
    /// The time-to-churn model's settings: every run that trains churn
    /// refits it (`None`: never).
    survival: Option<SurvivalConfig>,
    observer: Option<Arc<dyn ModelOpsObserver>>,
    clock: pulse_core::Clock,
    /// Bumped after every promotion so scoring swaps the new models in.
    models_changed: tokio::sync::watch::Sender<u64>,
    jobs: Arc<Mutex<Jobs>>,
}

impl std::fmt::Debug for TrainingJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let jobs = lock(&self.jobs);
        f.debug_struct("TrainingJobs")
            .field("jobs", &jobs.by_id.len())
            .field("running", &jobs.running)
            .finish_non_exhaustive()
    }
}

/// What [`TrainingJobs::new`] needs.
pub struct JobSettings {
    pub rule: DecisionRule,
    pub survival: Option<SurvivalConfig>,
    pub observer: Option<Arc<dyn ModelOpsObserver>>,
    pub clock: pulse_core::Clock,
}

impl TrainingJobs {
    pub fn new(
        store: Store,
        registry: Arc<dyn ModelRegistry>,
        sentiment: SentimentSlot,
        models_changed: tokio::sync::watch::Sender<u64>,
        settings: JobSettings,
    ) -> Self {
        TrainingJobs {
            store,
            registry,
            sentiment,
            rule: settings.rule,
            survival: settings.survival,
            observer: settings.observer,
            clock: settings.clock,
            models_changed,
            jobs: Arc::default(),
        }
    }

    /// A job by id, as it is now.
    pub fn get(&self, id: &str) -> Option<Job> {
        lock(&self.jobs).by_id.get(id).cloned()
    }

    /// The running job's id, if any.
    pub fn running(&self) -> Option<String> {
        lock(&self.jobs).running.clone()
    }

    /// Records a queued job, marks it running and starts it on the runtime;
    /// returns its id, or FAILED_PRECONDITION while another job runs.
    /// `promote`: put the new models into service at once (an account model
    /// still has to win its comparison unless its kind has no champion).
    pub fn start(&self, work: Work, promote: bool) -> Result<String, AppError> {
        let id = self.enqueue(match &work {
            Work::Accounts { .. } => "",
            Work::Sentiment { .. } => "sentiment",
        })?;
        match &work {
            Work::Accounts { kinds, trigger, .. } => {
                tracing::info!(job = %id, ?kinds, trigger, "training job started");
            }
            Work::Sentiment { corpus, .. } => tracing::info!(
                job = %id,
                from_store = corpus.is_none(),
                documents = corpus.as_ref().map_or(0, Vec::len),
                "sentiment training job started"
            ),
        }
        let (kind, request) = request_json(&work, promote);
        let record = TrainJobRecord {
            job_id: id.clone(),
            holder: crate::runtime::instance_id().to_string(),
            work: kind,
            request,
            state: "running".into(),
            detail: String::new(),
            started_at: self.clock.now(),
            finished_at: None,
        };
        lock(&self.jobs).running_record = Some(record.clone());
        let run = JobRun {
            id: id.clone(),
            promote,
            jobs: self.clone(),
            record,
        };
        tokio::spawn(run.run(work));
        Ok(id)
    }

    /// A job by id: from memory, else from the store (a job of an earlier
    /// run of this server, or of another server sharing the database, shows
    /// its recorded state; its models are listed by ListModels).
    pub async fn find(&self, id: &str) -> Result<Option<Job>, AppError> {
        if let Some(j) = self.get(id) {
            return Ok(Some(j));
        }
        let Some(r) = self.store.train_job(id).await? else {
            return Ok(None);
        };
        let state = match r.state.as_str() {
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "interrupted" => JobState::Interrupted,
            _ => JobState::Running,
        };
        Ok(Some(Job {
            id: r.job_id,
            state,
            stage: if state == JobState::Succeeded {
                Stage::Done.as_str()
            } else {
                ""
            },
            kind: "",
            progress: if state == JobState::Succeeded {
                1.0
            } else {
                0.0
            },
            models: Vec::new(),
            error: r.detail,
            started_at: pulse_core::time::format_ts(r.started_at),
            finished_at: r
                .finished_at
                .map(pulse_core::time::format_ts)
                .unwrap_or_default(),
            decisions: Vec::new(),
        }))
    }

    /// Marks the running job, if any, interrupted, in memory and in the
    /// store: called when the server stops. Returns its id.
    pub async fn interrupt_running(&self) -> Option<String> {
        let (record, stage) = {
            let mut jobs = lock(&self.jobs);
            let id = jobs.running.take()?;
            let record = jobs.running_record.take();
            let stage = jobs.by_id.get(&id).map_or("", |j| j.stage);
            (record?, stage)
        };
        let detail = format!(
            "interrupted: the server stopped during stage {stage}; nothing of this job was saved or promoted. Run it again: ModelService.Train (or TrainSentiment) with the same request: {}",
            record.request
        );
        self.update(&record.job_id, |j| {
            j.state = JobState::Interrupted;
            j.error = detail.clone();
            j.finished_at = self.clock.now_rfc3339();
        });
        let mut r = record.clone();
        r.detail = detail;
        match self.store.interrupt_train_job(&r, self.clock.now()).await {
            Ok(()) => {
                tracing::warn!(job = %r.job_id, "training job interrupted by shutdown (recorded)")
            }
            Err(e) => {
                tracing::error!(job = %r.job_id, error = %e, "recording an interrupted training job")
            }
        }
        Some(record.job_id)
    }

    fn enqueue(&self, kind: &'static str) -> Result<String, AppError> {
        let mut jobs = lock(&self.jobs);
        if let Some(running) = &jobs.running {
            return Err(AppError::FailedPrecondition(format!(
                "training job {running} is still running; poll it with GetTrainJob and train again when it has finished"
            )));
        }
        jobs.next += 1;
        let id = format!("train-{}-{}", self.clock.now(), jobs.next);
        jobs.by_id.insert(
            id.clone(),
            Job {
                id: id.clone(),
                state: JobState::Queued,
                stage: Stage::Loading.as_str(),
                kind,
                progress: 0.0,
                models: Vec::new(),
                error: String::new(),
                started_at: self.clock.now_rfc3339(),
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

    fn update(&self, id: &str, f: impl FnOnce(&mut Job)) {
        if let Some(j) = lock(&self.jobs).by_id.get_mut(id) {
            f(j);
        }
    }
}

/// One job, moved into its task.
struct JobRun {
    id: String,
    promote: bool,
    jobs: TrainingJobs,
    record: TrainJobRecord,
}

impl JobRun {
    fn update(&self, f: impl FnOnce(&mut Job)) {
        self.jobs.update(&self.id, f);
    }

    async fn run(self, work: Work) {
        if let Err(e) = self.jobs.store.start_train_job(&self.record).await {
            tracing::error!(job = %self.id, error = %e, "recording a training job");
        }
        let result = match work {
            Work::Accounts {
                config,
                kinds,
                trigger,
            } => self.train(*config, kinds, trigger).await,
            Work::Sentiment { corpus, seed } => self
                .train_sentiment(corpus, seed)
                .await
                .map(|m| (m, Vec::new())),
        };
        let (state, detail) = match &result {
            Ok(_) => ("succeeded", String::new()),
            Err(m) => ("failed", m.clone()),
        };
        if let Err(e) = self
            .jobs
            .store
            .finish_train_job(&self.id, state, &detail, self.jobs.clock.now())
            .await
        {
            tracing::error!(job = %self.id, error = %e, "recording a training job's end");
        }
        let finished_at = self.jobs.clock.now_rfc3339();
        let mut jobs = lock(&self.jobs.jobs);
        if jobs.running.as_deref() == Some(self.id.as_str()) {
            jobs.running = None;
            jobs.running_record = None;
        }
        if jobs
            .by_id
            .get(&self.id)
            .is_some_and(|j| j.state == JobState::Interrupted)
        {
            return;
        }
        if let Some(j) = jobs.by_id.get_mut(&self.id) {
            j.finished_at = finished_at;
            match result {
                Ok((models, decisions)) => {
                    j.state = JobState::Succeeded;
                    j.stage = Stage::Done.as_str();
                    j.kind = "";
                    j.progress = 1.0;
                    j.models = models;
                    j.decisions = decisions;
                }
                Err(message) => {
                    tracing::warn!(job = %self.id, error = %message, "training job failed");
                    j.state = JobState::Failed;
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
    ) -> Result<(Vec<TrainedModel>, Vec<ModelDecision>), String> {
        self.update(|j| {
            j.state = JobState::Running;
            j.stage = Stage::Loading.as_str();
        });
        let s = &self.jobs;
        let (histories, _) = crate::serving::load_usable_histories(&s.store, None)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "loading histories for training");
                "internal error while loading the account histories".to_string()
            })?;
        let request = TrainRequest {
            kinds,
            config,
            rule: s.rule.clone(),
            trigger: trigger.to_string(),
            promote: self.promote,
            data_end: None,
            clock: s.clock.clone(),
            survival: s.survival.clone(),
            truth: None,
        };
        let (jobs, id) = (s.clone(), self.id.clone());
        let result = train_and_decide(
            &s.store,
            s.registry.clone(),
            histories,
            request,
            s.observer.clone(),
            move |p: Progress| {
                jobs.update(&id, |j| {
                    j.stage = p.stage.as_str();
                    j.kind = p.kind.map_or("", ModelKind::as_str);
                    // Loading took the first 5%, saving and deciding the last.
                    j.progress = 0.05 + 0.9 * p.fraction;
                });
            },
        )
        .await?;
        let survival = match result.survival {
            Some(SurvivalOutcome::Saved(card)) => Some(TrainedModel::Survival(card)),
            _ => None,
        };
        if survival.is_some() || result.entries.iter().any(|e| e.promoted) {
            s.models_changed.send_modify(|g| *g += 1);
        }
        let models = survival
            .into_iter()
            .chain(
                result
                    .entries
                    .into_iter()
                    .map(|e| TrainedModel::Account(Box::new(e))),
            )
            .collect();
        Ok((models, result.decisions))
    }

    async fn train_sentiment(
        &self,
        corpus: Option<Vec<(String, Sentiment)>>,
        seed: u64,
    ) -> Result<Vec<TrainedModel>, String> {
        self.update(|j| {
            j.state = JobState::Running;
            j.stage = "loading";
        });
        let s = &self.jobs;
        let (docs, source) = match corpus {
            Some(docs) => (docs, TrainingSource::Corpus),
            None => {
                let rated = s.store.rated_texts().await.map_err(|e| {
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
        let card = SentimentCard::new(&model, source, report, s.clock.now_rfc3339());
        self.update(|j| {
            j.stage = "saving";
            j.progress = 0.95;
        });
        let model = Arc::new(model);
        let registry = s.registry.clone();
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
            s.sentiment.set(model, Some(entry.card.version.clone()));
            tracing::info!(version = %entry.card.version, "sentiment model promoted and in service");
        }
        Ok(vec![TrainedModel::Sentiment(Box::new(entry))])
    }
}

/// Texts weakly labelled by the survey score beside them.
fn weak_docs(rated: Vec<RatedStoredText>) -> Vec<(String, Sentiment)> {
    rated
        .into_iter()
        .map(|t| (t.text, weak_label(t.kind.into(), t.score)))
        .collect()
}

/// The documents of an uploaded `text,label` CSV, or the field error
/// (`corpus_csv`) that tells the caller what to fix: not UTF-8, a bad line,
/// or fewer than two labels.
pub fn parse_corpus(bytes: &[u8]) -> Result<Vec<(String, Sentiment)>, FieldError> {
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
    let labels = counts.iter().filter(|&&c| c > 0).count();
    if labels < 2 {
        return Err(FieldError::new(
            "corpus_csv",
            format!(
                "holds {} labelled texts of {labels} label(s): at least two labels are needed",
                docs.len(),
            ),
        ));
    }
    Ok(docs)
}

/// How long one server holds a scheduled drift check (seconds of work).
const DRIFT_CHECK_LEASE: Duration = Duration::from_secs(10 * 60);
/// How long one server holds a drift-triggered retraining (at most one a week).
const DRIFT_RETRAIN_LEASE: Duration = Duration::from_secs(6 * 3600);

/// The model-operations schedule of `serve`:
/// - every `retrain_every` (counted from the latest recorded decision, so a
///   restart does not retrain early) a training job of both kinds whose
///   challengers face the champions;
/// - every `drift_every` a drift check, and on critical drift a training
///   job (`trigger = drift`, at most one a week).
///
/// A failed or refused start is retried after its cadence or six hours,
/// whichever is sooner.
pub fn spawn_schedule(
    jobs: TrainingJobs,
    scoring: Arc<Scoring>,
    settings: ModelOpsSettings,
    config: TrainConfig,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let shortest = [settings.retrain_every, settings.drift_every]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(Duration::from_secs(3600));
        let check = (shortest / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        // While the scoring population is loading, look again soon.
        let soon = check.min(Duration::from_secs(5));
        let mut wait = Duration::ZERO;
        let mut last_training: Option<Instant> = None;
        let mut last_drift: Option<Instant> = None;
        let store = &jobs.store;
        let me = crate::runtime::instance_id();
        // Servers sharing the database: each scheduled job runs on the one
        // that claims its lease. A training lease lasts as long as this
        // server would wait before retrying, so the others wait as long; a
        // holder killed mid-job leaves it to expire.
        let clock = scoring.clock().clone();
        let claim = |lease: &'static str, ttl: Duration| {
            let clock = clock.clone();
            async move {
                let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
                match store.claim(lease, me, ttl, clock.now()).await {
                    Ok(true) => true,
                    Ok(false) => {
                        tracing::debug!(lease, "another server holds the lease");
                        false
                    }
                    Err(e) => {
                        tracing::error!(error = %e, lease, "claiming a scheduled job");
                        false
                    }
                }
            }
        };
        let start = |trigger: &'static str| {
            let work = Work::Accounts {
                config: Box::new(config.clone()),
                kinds: vec![ModelKind::Churn, ModelKind::Expansion],
                trigger,
            };
            match jobs.start(work, false) {
                Ok(job) => tracing::info!(%job, trigger, "retraining started"),
                Err(e) => tracing::warn!(error = %e, trigger, "retraining not started"),
            }
        };
        loop {
            tokio::time::sleep(wait).await;
            wait = check;
            if let Some(every) = settings.retrain_every {
                let retry = every.min(Duration::from_secs(6 * 3600));
                if last_training.is_none_or(|t| t.elapsed() >= retry) {
                    match retraining_due(store, every, scoring.clock().now()).await {
                        Ok(false) => {}
                        Ok(true) => {
                            last_training = Some(Instant::now());
                            if claim("retrain:scheduled", retry).await
                                && retraining_due(store, every, scoring.clock().now())
                                    .await
                                    .unwrap_or(false)
                            {
                                start("scheduled");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "checking whether retraining is due"),
                    }
                }
            }
            let Some(every) = settings.drift_every else {
                continue;
            };
            let retry = every.min(Duration::from_secs(6 * 3600));
            if scoring.current().is_none_or(|s| s.scored.is_none()) {
                wait = soon;
                continue;
            }
            if last_drift.is_some_and(|t| t.elapsed() < retry) {
                continue;
            }
            match drift_due(store, every, scoring.clock().now()).await {
                Ok(false) => continue,
                Ok(true) => {}
                Err(e) => {
                    tracing::error!(error = %e, "checking whether a drift check is due");
                    continue;
                }
            }
            last_drift = Some(Instant::now());
            if !claim("drift-check", DRIFT_CHECK_LEASE).await
                || !drift_due(store, every, scoring.clock().now())
                    .await
                    .unwrap_or(false)
            {
                continue;
            }
            match check_drift(store, &scoring, &settings, jobs.observer.as_deref()).await {
                Ok((report, _)) => {
                    if report.level == pulse_models::drift::DriftLevel::Critical
                        && settings.retrain_on_critical_drift
                    {
                        match drift_run_recent(store, scoring.clock().now()).await {
                            Ok(false) => {
                                if claim("retrain:drift", DRIFT_RETRAIN_LEASE).await {
                                    start("drift");
                                }
                            }
                            Ok(true) => tracing::info!(
                                "critical drift, but a drift-triggered run happened this week"
                            ),
                            Err(e) => tracing::error!(error = %e, "reading recent decisions"),
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "scheduled drift check"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corpus_needs_utf8_lines_and_two_labels() {
        let e = parse_corpus(b"\xff\xfe").unwrap_err();
        assert_eq!(e.field, "corpus_csv");
        assert!(e.reason.contains("UTF-8"), "{e}");
        let e = parse_corpus(b"text,label\ngreat,positive\nlovely,positive\n").unwrap_err();
        assert!(e.reason.contains("1 label(s)"), "{e}");
        let docs = parse_corpus(b"text,label\ngreat,positive\nawful,negative\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].1, Sentiment::Negative);
    }
}
