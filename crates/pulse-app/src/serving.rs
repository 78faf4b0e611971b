//! What scoring serves from memory: the promoted models (an
//! [`Engine`](pulse_scoring::Engine)) and every current customer's features
//! and score as of the latest refresh, swapped together atomically.
//!
//! Readers take an `Arc` of the current [`Serving`] under a read lock held
//! for a pointer copy, so a promotion or a refresh never fails or delays an
//! in-flight call: calls that started on the old models finish on them, the
//! next ones see the new ones. Rebuilding (loading histories, computing
//! features, scoring 50,000 accounts) happens off to the side on the
//! blocking pool, one rebuild at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use pulse_core::Clock;
use pulse_core::time::{Day, Ts};
use pulse_features::{AccountHistory, Excluded};
use pulse_forecast::{ChurnCurve, SurvivalModel};
use pulse_models::ModelKind;
use pulse_scoring::{Engine, Population, ScoredPopulation, ScoringConfig};
use pulse_store::{NewScoreRun, ScoreRunInfo, Store, StoredScore};

use crate::error::AppError;
use crate::registry::ModelRegistry;

/// Drivers kept with every precomputed and stored score.
pub const STORED_DRIVERS: usize = 5;

/// The hint returned when no churn model is promoted.
pub const TRAIN_HINT: &str = "train one with `pulse train` (or ModelService.Train) and promote it";

/// Models and population in service together.
#[derive(Debug)]
pub struct Serving {
    pub engine: Arc<Engine>,
    /// `None` until the first population is built.
    pub scored: Option<Arc<ScoredPopulation>>,
    /// The newest time-to-churn model, when one was trained.
    pub survival: Option<Arc<SurvivalModel>>,
    /// Each account's churn curve, in population order (with `survival`).
    pub curves: Option<Arc<Vec<ChurnCurve>>>,
}

impl Serving {
    /// The churn curve of population row `i`, with the survival version.
    pub fn curve(&self, i: usize) -> Option<(&ChurnCurve, &str)> {
        let c = self.curves.as_ref()?.get(i)?;
        Some((c, self.survival.as_ref()?.card.version.as_str()))
    }
}

/// Settings of the scoring layer.
#[derive(Debug, Clone)]
pub struct ScoringSettings {
    pub config: ScoringConfig,
    /// The churn label horizon the models were trained for.
    pub horizon_days: u32,
    /// How often the population is rebuilt when new data arrived.
    pub refresh_every: Duration,
    /// Store a scheduled scoring run once per ISO week.
    pub weekly_runs: bool,
    /// Threads for feature computation and scoring.
    pub threads: usize,
    /// Where "now" comes from: the default `as_of`, the weekly run's week,
    /// and (through the front ends' clocks) every service's "today".
    pub clock: Clock,
}

impl ScoringSettings {
    /// Settings from the scoring configuration, the models' horizon and the
    /// clock every "today" of the application is read from.
    pub fn new(config: ScoringConfig, horizon_days: u32, clock: Clock) -> Self {
        ScoringSettings {
            refresh_every: Duration::from_secs(config.refresh_seconds.max(1)),
            weekly_runs: config.weekly_runs,
            config,
            horizon_days,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            clock,
        }
    }
}

/// The shared scoring state of a server.
#[derive(Debug)]
pub struct Scoring {
    store: Store,
    registry: Arc<dyn ModelRegistry>,
    settings: ScoringSettings,
    serving: RwLock<Option<Arc<Serving>>>,
    dirty: AtomicBool,
    /// A first load of the promoted models has finished (or failed): until
    /// then, "no model" means "not loaded yet" and is UNAVAILABLE.
    attempted: AtomicBool,
    rebuild: tokio::sync::Mutex<()>,
}

/// The histories known at `until` that a pipeline run can use, and the
/// accounts left out because their stored values are out of bounds
/// ([`pulse_features::screen`]); each is logged by id. Every run (scoring,
/// lists, forecasts, the report, training, drift) loads through here, so one
/// bad account never fails a run for everyone.
pub async fn load_usable_histories(
    store: &Store,
    until: Option<Ts>,
) -> Result<(Vec<AccountHistory>, Vec<Excluded>), AppError> {
    let histories = store.load_histories(until).await?;
    let (usable, excluded) = pulse_features::screen(histories);
    for e in &excluded {
        tracing::warn!(
            account_id = %pulse_core::echo(&e.account_id),
            reason = %e.reason,
            "account left out of the run: a stored value is out of bounds"
        );
    }
    Ok((usable, excluded))
}

/// How long one server holds the week's scheduled scoring run.
pub const WEEKLY_RUN_LEASE_SECS: i64 = 15 * 60;

/// A stored scoring run and the warnings of the run (accounts left out).
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub info: ScoreRunInfo,
    pub warnings: Vec<String>,
}

fn internal(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::internal(what, e)
}

impl Scoring {
    pub fn new(store: Store, registry: Arc<dyn ModelRegistry>, settings: ScoringSettings) -> Self {
        Scoring {
            store,
            registry,
            settings,
            serving: RwLock::new(None),
            dirty: AtomicBool::new(true),
            attempted: AtomicBool::new(false),
            rebuild: tokio::sync::Mutex::new(()),
        }
    }

    pub fn settings(&self) -> &ScoringSettings {
        &self.settings
    }

    /// The application's clock (see [`Clock`]).
    pub fn clock(&self) -> &Clock {
        &self.settings.clock
    }

    fn now(&self) -> Ts {
        self.settings.clock.now()
    }

    /// What serves now (cheap: one `Arc` clone).
    pub fn current(&self) -> Option<Arc<Serving>> {
        self.serving
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The engine; UNAVAILABLE while the first load of the models (and the
    /// population they score) is under way, FAILED_PRECONDITION saying how
    /// to get one when no churn model is promoted.
    pub fn require(&self) -> Result<Arc<Serving>, AppError> {
        if let Some(s) = self.current() {
            return Ok(s);
        }
        if !self.attempted.load(Ordering::Acquire) {
            return Err(AppError::Unavailable(
                "the models are loading (the server started moments ago): retry in a few seconds"
                    .into(),
            ));
        }
        Err(AppError::NoModel {
            kind: "churn",
            hint: TRAIN_HINT,
        })
    }

    fn swap(&self, s: Serving) {
        *self.serving.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(s));
    }

    /// New data arrived: the next refresh tick rebuilds the population.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Loads the promoted models into a new engine (blocking registry reads
    /// on the blocking pool). `None` when no churn model is promoted.
    async fn load_engine(&self) -> Result<Option<Engine>, AppError> {
        let registry = self.registry.clone();
        let settings = self.settings.clone();
        tokio::task::spawn_blocking(move || -> Result<Option<Engine>, AppError> {
            let Some(churn) = registry.promoted(ModelKind::Churn)? else {
                return Ok(None);
            };
            let churn = registry.get(&churn)?;
            let expansion = match registry.promoted(ModelKind::Expansion)? {
                Some(v) => Some(registry.get(&v)?),
                None => None,
            };
            Engine::new(churn, expansion, settings.horizon_days, settings.config)
                .map(Some)
                .map_err(|e| AppError::FailedPrecondition(e.to_string()))
        })
        .await
        .map_err(|e| internal("loading models", e))?
    }

    /// The newest survival model; a registry error is logged and served as
    /// none (scores go on without curves).
    async fn load_survival(&self) -> Option<Arc<SurvivalModel>> {
        let registry = self.registry.clone();
        match tokio::task::spawn_blocking(move || registry.latest_survival()).await {
            Ok(Ok(m)) => m.map(Arc::new),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "time-to-churn model not loaded: scores carry no churn curve");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "loading the time-to-churn model");
                None
            }
        }
    }

    /// Builds the population as of `as_of` (an instant) on the blocking
    /// pool, from the usable histories ([`load_usable_histories`]).
    async fn build_population(&self, as_of: Ts) -> Result<Population, AppError> {
        let (histories, excluded) = load_usable_histories(&self.store, Some(as_of)).await?;
        let threads = self.settings.threads;
        let mut population =
            tokio::task::spawn_blocking(move || Population::build(&histories, as_of, threads))
                .await
                .map_err(|e| internal("computing features", e))?;
        population.excluded = excluded;
        Ok(population)
    }

    /// Accounts the population in service left out (out-of-bounds stored
    /// values), for the gauge.
    pub fn excluded_accounts(&self) -> usize {
        self.current()
            .and_then(|s| s.scored.as_ref().map(|p| p.population.excluded.len()))
            .unwrap_or(0)
    }

    /// Scores the population (blocking pool) and, with a survival model,
    /// each account's churn curve, whose probability before the renewal
    /// goes into the score's urgency.
    async fn score_population(
        &self,
        population: Population,
        engine: Arc<Engine>,
        survival: Option<Arc<SurvivalModel>>,
    ) -> Result<(ScoredPopulation, Option<Arc<Vec<ChurnCurve>>>), AppError> {
        let threads = self.settings.threads;
        tokio::task::spawn_blocking(move || {
            let mut scored = ScoredPopulation::score(population, &engine, STORED_DRIVERS, threads)?;
            let curves = survival.and_then(|s| match s.curves(scored.population.rows.view()) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "computing churn curves");
                    None
                }
            });
            if let Some(curves) = &curves {
                for (score, curve) in scored.scores.iter_mut().zip(curves) {
                    score.urgency.churn_before_renewal = curve.before_renewal;
                }
            }
            Ok((scored, curves.map(Arc::new)))
        })
        .await
        .map_err(|e| internal("scoring", e))?
        .map_err(|e: pulse_scoring::ScoringError| AppError::FailedPrecondition(e.to_string()))
    }

    /// Whether the first load of the promoted models has finished (or failed).
    pub fn first_load_done(&self) -> bool {
        self.attempted.load(Ordering::Acquire)
    }

    /// Reloads the promoted models and rescores the population with them,
    /// then swaps both in. Returns whether a churn model is in service.
    pub async fn reload_models(&self) -> Result<bool, AppError> {
        let r = self.load_and_swap().await;
        self.attempted.store(true, Ordering::Release);
        r
    }

    async fn load_and_swap(&self) -> Result<bool, AppError> {
        let _guard = self.rebuild.lock().await;
        let Some(engine) = self.load_engine().await? else {
            return Ok(false);
        };
        let engine = Arc::new(engine);
        let population = self
            .current()
            .and_then(|s| s.scored.clone())
            .map(|old| old.population.clone());
        let population = match population {
            Some(p) => p,
            None => self.build_population(self.now()).await?,
        };
        let started = Instant::now();
        let survival = self.load_survival().await;
        let (scored, curves) = self
            .score_population(population, engine.clone(), survival.clone())
            .await?;
        tracing::info!(
            churn = engine.churn_version(),
            expansion = ?engine.expansion_version(),
            accounts = scored.scores.len(),
            seconds = started.elapsed().as_secs_f64(),
            "models in service"
        );
        self.dirty.store(false, Ordering::Release);
        let scored = Arc::new(scored);
        self.swap(Serving {
            engine,
            scored: Some(scored),
            survival,
            curves,
        });
        Ok(true)
    }

    /// Rebuilds the population as of now with the models in service.
    pub async fn refresh_population(&self) -> Result<(), AppError> {
        let _guard = self.rebuild.lock().await;
        let Some(current) = self.current() else {
            return Ok(());
        };
        self.dirty.store(false, Ordering::Release);
        let started = Instant::now();
        let population = self.build_population(self.now()).await?;
        let (scored, curves) = self
            .score_population(population, current.engine.clone(), current.survival.clone())
            .await?;
        tracing::info!(
            accounts = scored.scores.len(),
            seconds = started.elapsed().as_secs_f64(),
            "scoring population refreshed"
        );
        // The models may have changed meanwhile: only swap if they did not.
        let latest = self.current();
        if latest
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(&l.engine, &current.engine))
        {
            let scored = Arc::new(scored);
            self.swap(Serving {
                engine: current.engine.clone(),
                scored: Some(scored),
                survival: current.survival.clone(),
                curves,
            });
        }
        Ok(())
    }

    /// Scores every customer as of `as_of` (today: now; a past day: its end)
    /// with the models in service and stores the run.
    pub async fn run_and_store(
        &self,
        as_of: Option<Day>,
        trigger: &str,
    ) -> Result<StoredRun, AppError> {
        let now = self.now();
        let today = pulse_core::time::day_of_ts(now);
        let day = as_of.unwrap_or(today);
        if day > today {
            return Err(AppError::Invalid(pulse_core::FieldError::new(
                "as_of",
                format!(
                    "{} is in the future; scores describe what is known",
                    pulse_core::time::format_day(day)
                ),
            )));
        }
        if let Some(first) = self.store.first_data_day().await?
            && day < first
        {
            return Err(AppError::Invalid(pulse_core::FieldError::new(
                "as_of",
                format!(
                    "{} is before the first data day {} (the earliest account start); nothing can be scored before it",
                    pulse_core::time::format_day(day),
                    pulse_core::time::format_day(first)
                ),
            )));
        }
        let serving = self.require()?;
        let reuse = serving
            .scored
            .as_ref()
            .filter(|s| s.population.as_of == day && !self.dirty.load(Ordering::Acquire));
        let scored = match reuse {
            Some(s) => s.clone(),
            None => {
                let at = if day == today {
                    now
                } else {
                    pulse_features::end_of_day(day)
                };
                let population = self.build_population(at).await?;
                Arc::new(
                    self.score_population(
                        population,
                        serving.engine.clone(),
                        serving.survival.clone(),
                    )
                    .await?
                    .0,
                )
            }
        };
        let rows: Vec<StoredScore> = scored.scores.iter().map(stored_score).collect();
        let run = NewScoreRun {
            as_of: day,
            created_at: now,
            churn_version: serving.engine.churn_version().to_string(),
            expansion_version: serving.engine.expansion_version().map(str::to_string),
            trigger: trigger.to_string(),
        };
        let info = self.store.save_score_run(&run, &rows).await?;
        tracing::info!(run_id = info.run_id, as_of = %pulse_core::time::format_day(day), accounts = info.n_accounts, left_out = scored.population.excluded.len(), trigger, "scoring run stored");
        Ok(StoredRun {
            info,
            warnings: scored
                .population
                .excluded
                .iter()
                .map(Excluded::warning)
                .collect(),
        })
    }

    /// Background work of a server: load models at start, reload when a
    /// promotion is announced on `models_changed`, rebuild the population
    /// when data changed, and store the weekly scheduled run.
    pub fn spawn_background(
        self: &Arc<Self>,
        mut models_changed: tokio::sync::watch::Receiver<u64>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            match this.reload_models().await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    "no promoted churn model: Score answers FAILED_PRECONDITION until one is trained and promoted"
                ),
                Err(e) => tracing::error!(error = %e, "loading the promoted models"),
            }
            let mut tick = tokio::time::interval(this.settings.refresh_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    changed = models_changed.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        if let Err(e) = this.reload_models().await {
                            tracing::error!(error = %e, "reloading the promoted models");
                        }
                    }
                    _ = tick.tick() => {
                        if this.dirty.load(Ordering::Acquire) {
                            if this.current().is_none() {
                                if let Err(e) = this.reload_models().await {
                                    tracing::error!(error = %e, "loading the promoted models");
                                }
                            } else if let Err(e) = this.refresh_population().await {
                                tracing::error!(error = %e, "refreshing the scoring population");
                            }
                        }
                        if this.settings.weekly_runs
                            && let Err(e) = this.weekly_run().await
                        {
                            tracing::error!(error = %e, "scheduled scoring run");
                        }
                    }
                }
            }
        })
    }

    /// Stores this week's scheduled run unless a run of this ISO week exists.
    async fn weekly_run(&self) -> Result<(), AppError> {
        if self.current().is_none() {
            return Ok(());
        }
        let today = self.clock().today();
        let week = pulse_core::time::week_start(today);
        let latest = self.store.score_runs(1).await?;
        if latest.first().is_some_and(|r| r.as_of >= week) {
            return Ok(());
        }
        // Servers sharing the database: one runs it. The lease outlives any
        // run (seconds at 50,000 accounts); a holder killed mid-run leaves it
        // to expire, and the week's run is claimable again.
        let lease = format!("scoring-run:{}", pulse_core::time::iso_week_label(week));
        let me = crate::runtime::instance_id();
        if !self
            .store
            .claim(&lease, me, WEEKLY_RUN_LEASE_SECS, self.now())
            .await?
        {
            return Ok(());
        }
        // Checked again under the lease: another server may have just run it.
        let latest = self.store.score_runs(1).await?;
        if latest.first().is_some_and(|r| r.as_of >= week) {
            return Ok(());
        }
        self.run_and_store(Some(today), "scheduled")
            .await
            .map(|_| ())
    }
}

/// The stored form of a score.
pub fn stored_score(s: &pulse_scoring::AccountScore) -> StoredScore {
    StoredScore {
        account_id: s.account_id.clone(),
        churn_probability: s.churn_probability,
        health: s.health,
        band: s.band.as_str().to_string(),
        quadrant: s.quadrant.as_str().to_string(),
        expansion_probability: s.expansion_probability,
        arr: s.arr,
        arr_at_risk: s.arr_at_risk,
        explanation: s.to_json(),
    }
}

/// Keeps this server serving what the registry says is promoted when
/// another server sharing the registry (a shared models directory) promotes:
/// every `every`, it reads the promoted churn, expansion and sentiment
/// versions. A churn or expansion change is announced on `models_changed`
/// (the background loop reloads and rescores), a sentiment change is loaded
/// and put in `sentiment`. A local promotion is seen as no change.
pub fn spawn_promotion_watch(
    registry: Arc<dyn ModelRegistry>,
    scoring: Arc<Scoring>,
    sentiment: crate::SentimentSlot,
    models_changed: tokio::sync::watch::Sender<u64>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The promoted versions last announced, so a reload in progress is
        // not announced twice.
        let mut announced: Option<(Option<String>, Option<String>)> = None;
        loop {
            tick.tick().await;
            let r = registry.clone();
            let read = tokio::task::spawn_blocking(move || {
                Ok::<_, crate::RegistryError>((
                    r.promoted(ModelKind::Churn)?,
                    r.promoted(ModelKind::Expansion)?,
                    r.promoted_sentiment()?,
                ))
            })
            .await;
            let (churn, expansion, sent) = match read {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "reading the promoted versions");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the promoted versions");
                    continue;
                }
            };
            let serving = scoring.current().map(|s| {
                (
                    Some(s.engine.churn_version().to_string()),
                    s.engine.expansion_version().map(str::to_string),
                )
            });
            let promoted = (churn, expansion);
            // Until the server's own first load has finished, nothing is
            // served yet and a promotion is not news: announcing it would
            // load the same models twice at every start.
            if scoring.first_load_done()
                && promoted.0.is_some()
                && serving.as_ref() != Some(&promoted)
                && announced.as_ref() != Some(&promoted)
            {
                tracing::info!(churn = ?promoted.0, expansion = ?promoted.1, "another server promoted: reloading");
                models_changed.send_modify(|g| *g += 1);
                announced = Some(promoted);
            }
            if let Some(v) = sent.filter(|v| sentiment.registry_version().as_ref() != Some(v)) {
                let r = registry.clone();
                let version = v.clone();
                match tokio::task::spawn_blocking(move || r.get_sentiment(&version)).await {
                    Ok(Ok(model)) => {
                        tracing::info!(version = %v, "another server promoted a sentiment model: in service");
                        sentiment.set(Arc::new(model), Some(v));
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, version = %v, "loading the promoted sentiment model")
                    }
                    Err(e) => tracing::warn!(error = %e, "loading the promoted sentiment model"),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_model_is_unavailable_while_loading_and_a_precondition_after() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::at_day(pulse_core::time::parse_day("d", "2026-11-30").unwrap());
        let registry =
            Arc::new(crate::dir_registry::DirRegistry::open(dir.path(), clock.clone()).unwrap());
        let store = Store::in_memory().await.unwrap();
        let scoring = Scoring::new(
            store,
            registry,
            ScoringSettings::new(ScoringConfig::default(), 90, clock),
        );
        // Before the first load has finished: retry later.
        let e = scoring.require().unwrap_err();
        assert!(matches!(e, AppError::Unavailable(_)), "{e:?}");
        assert!(e.to_string().contains("loading"), "{e}");
        // Loaded, and nothing is promoted: say how to get a model.
        assert!(!scoring.reload_models().await.unwrap());
        let e = scoring.require().unwrap_err();
        assert!(matches!(e, AppError::NoModel { .. }), "{e:?}");
        assert!(e.to_string().contains("pulse train"), "{e}");
    }

    /// A registry where churn-v1 is promoted but cannot be read.
    #[derive(Debug)]
    struct PromotedOnly;

    impl ModelRegistry for PromotedOnly {
        fn list(&self) -> Result<Vec<crate::RegistryEntry>, crate::RegistryError> {
            Ok(Vec::new())
        }
        fn get(&self, version: &str) -> Result<pulse_models::ModelArtifact, crate::RegistryError> {
            Err(crate::RegistryError::NotFound {
                version: version.to_string(),
            })
        }
        fn save(
            &self,
            _: pulse_models::ModelArtifact,
        ) -> Result<crate::RegistryEntry, crate::RegistryError> {
            Err(crate::RegistryError::Storage("read only".into()))
        }
        fn promote(&self, version: &str) -> Result<crate::Promotion, crate::RegistryError> {
            Err(crate::RegistryError::NotFound {
                version: version.to_string(),
            })
        }
        fn promoted(&self, kind: ModelKind) -> Result<Option<String>, crate::RegistryError> {
            Ok((kind == ModelKind::Churn).then(|| "churn-v1".to_string()))
        }
    }

    #[tokio::test]
    async fn the_promotion_watch_waits_for_the_first_load_before_announcing() {
        let clock = Clock::at_day(pulse_core::time::parse_day("d", "2026-11-30").unwrap());
        let registry: Arc<dyn ModelRegistry> = Arc::new(PromotedOnly);
        let scoring = Arc::new(Scoring::new(
            Store::in_memory().await.unwrap(),
            registry.clone(),
            ScoringSettings::new(ScoringConfig::default(), 90, clock),
        ));
        let (tx, rx) = tokio::sync::watch::channel(0u64);
        let watch = spawn_promotion_watch(
            registry,
            scoring.clone(),
            crate::SentimentSlot::default(),
            tx,
            Duration::from_millis(10),
        );
        // The first load is under way: the promoted churn-v1 is what it
        // loads, not a promotion by another server.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(*rx.borrow(), 0);
        // The first load is over and churn-v1 is still not served (it
        // could not be read): now the watch asks for a reload.
        assert!(scoring.reload_models().await.is_err());
        let mut waited = 0;
        while *rx.borrow() == 0 && waited < 200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
        assert_eq!(*rx.borrow(), 1, "announced once");
        watch.abort();
    }
}
