//! Model operations: one training run that fits the time-to-churn model and
//! makes churn and expansion challengers, compares each with its champion on
//! the latest window (`pulse_training::compare_on_latest_window`), promotes by
//! the rule (`pulse_training::decide`) and records every decision in the
//! store; drift checks; realised performance of past runs; and when the
//! retraining schedule is due.
//!
//! [`train_and_decide`] is shared by `ModelService.Train`, the schedule, a
//! drift-triggered run and `pulse train`, so every training run leaves the
//! same trail and refreshes the same models: churn, expansion and the
//! time-to-churn model behind forecasts and churn curves. A caller that asks
//! for promotion (`promote`) gets it whatever the comparison says; the
//! decision records that it was asked, with the numbers when there are some.

/// What `realised_performance` measures per past scoring run.
pub use pulse_training::RunPerformance;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pulse_features::AccountHistory;
use pulse_forecast::{SurvivalCard, SurvivalConfig};
use pulse_models::{ModelArtifact, ModelKind};
use pulse_store::{ModelDecision, Store};
use pulse_training::{
    Comparison, DecisionRule, DriftReference, DriftReport, Outcome, Progress, REFERENCE_WEEKS,
    ReferenceRows, Stage, TrainConfig, TrainingData, compare_on_latest_window, decide,
    drift_reference, drift_report, recent_label_rate, train_on,
};

use crate::error::AppError;
use crate::registry::{ModelRegistry, RegistryEntry, RegistryError};

/// Told what model operations did, for monitoring (the server implements
/// it with its Prometheus metrics); a front end without monitoring passes
/// `None`.
pub trait ModelOpsObserver: Send + Sync {
    /// A champion/challenger decision was recorded for `kind` at `decided_at`.
    fn decision(&self, kind: &str, outcome: &str, decided_at: i64);
    /// A drift check was stored.
    fn drift_checked(&self, report: &DriftReport, checked_at: i64);
}

/// The `[model_ops]` settings the server runs with.
#[derive(Debug, Clone)]
pub struct ModelOpsSettings {
    /// The promotion rule (mode, PR-AUC margin, calibration tolerance).
    pub rule: DecisionRule,
    /// Retrain this often inside `serve`; `None`: never by schedule.
    pub retrain_every: Option<Duration>,
    /// PSI thresholds of the drift check.
    pub drift_warn: f64,
    pub drift_critical: f64,
    /// Check drift this often inside `serve` (weekly); `None`: never by schedule.
    pub drift_every: Option<Duration>,
    /// A critical drift check starts a retraining run (at most one a week).
    pub retrain_on_critical_drift: bool,
}

impl Default for ModelOpsSettings {
    /// The rule's defaults, no schedule (the binary turns it on from its
    /// configuration; tests and embedders opt in).
    fn default() -> Self {
        ModelOpsSettings {
            rule: DecisionRule::default(),
            retrain_every: None,
            drift_warn: 0.10,
            drift_critical: 0.20,
            drift_every: None,
            retrain_on_critical_drift: true,
        }
    }
}

/// What a training run asks for.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub kinds: Vec<ModelKind>,
    pub config: TrainConfig,
    pub rule: DecisionRule,
    /// `manual`, `scheduled`, `drift` or `cli`.
    pub trigger: String,
    /// Promote whatever the comparison says.
    pub promote: bool,
    /// Train on what was known at the end of this day (`None`: all data).
    pub data_end: Option<pulse_core::time::Day>,
    /// Stamps the models' creation and the decisions' time.
    pub clock: pulse_core::Clock,
    /// Fit the time-to-churn model too (before the account models, on the
    /// same histories) when `kinds` holds churn; `None`: leave it as it is.
    pub survival: Option<SurvivalConfig>,
    /// Known churn reasons (a synthetic base's truth): the churn card then
    /// reports how often the backtest's reasons match them.
    pub truth: Option<Arc<pulse_training::ReasonTruth>>,
}

/// What became of the time-to-churn model in a training run.
#[derive(Debug)]
pub enum SurvivalOutcome {
    /// Fitted and saved; the newest survival model serves.
    Saved(Box<SurvivalCard>),
    /// The fit failed (e.g. too few churns to learn from); the run went on
    /// with the account models and the previous survival model still serves.
    Failed(String),
}

/// What a training run produced.
#[derive(Debug)]
pub struct TrainResult {
    pub entries: Vec<RegistryEntry>,
    pub decisions: Vec<ModelDecision>,
    pub rows: usize,
    pub accounts: usize,
    pub data_start: pulse_core::time::Day,
    pub data_end: pulse_core::time::Day,
    pub snapshot_seconds: f64,
    /// The time-to-churn model, when the request asked for it.
    pub survival: Option<SurvivalOutcome>,
}

/// Why a training run failed: a message for the caller (store and registry
/// causes are logged in full, never sent).
pub type TrainFailure = String;

fn storage(what: &str, e: impl std::fmt::Display) -> TrainFailure {
    tracing::error!(error = %e, "{what}");
    format!("internal error while {what}")
}

/// Trains `request.kinds` on `histories`, then per kind: saves the new
/// version, compares it with the promoted one, promotes it when the rule (or
/// the caller, or the absence of a champion) says so, and records the
/// decision. Returns whether anything was promoted through the entries.
pub async fn train_and_decide(
    store: &Store,
    registry: Arc<dyn ModelRegistry>,
    histories: Vec<AccountHistory>,
    request: TrainRequest,
    observer: Option<Arc<dyn ModelOpsObserver>>,
    mut progress: impl FnMut(Progress) + Send + 'static,
) -> Result<TrainResult, TrainFailure> {
    request.rule.validate().map_err(|e| e.to_string())?;
    // The champions, loaded before training (blocking registry reads).
    let kinds = request.kinds.clone();
    let reg = registry.clone();
    let champions: Vec<(ModelKind, ModelArtifact)> = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for k in kinds {
            if let Some(v) = reg.promoted(k)? {
                out.push((k, reg.get(&v)?));
            }
        }
        Ok::<_, RegistryError>(out)
    })
    .await
    .map_err(|e| storage("loading the champions", e))?
    .map_err(|e| storage("loading the champions", e))?;

    let req = request.clone();
    let (out, comparisons, references, survival) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let created_at = req.clock.now_rfc3339();
        // The time-to-churn model first, on the same histories.
        let survival = match &req.survival {
            Some(cfg) if req.kinds.contains(&ModelKind::Churn) => {
                progress(Progress {
                    stage: Stage::Survival,
                    kind: None,
                    fraction: 0.0,
                });
                Some(
                    pulse_forecast::fit_survival(&histories, req.data_end, cfg, &created_at)
                        .map_err(|e| e.to_string()),
                )
            }
            _ => None,
        };
        progress(Progress {
            stage: Stage::Snapshots,
            kind: None,
            fraction: 0.0,
        });
        let snapshots_started = Instant::now();
        let data = TrainingData::build(&histories, req.data_end, &req.config)?;
        let snapshot_seconds = snapshots_started.elapsed().as_secs_f64();
        // What needs the histories after the fits, taken now (the drift
        // reference's rows and the account ids), so that they are dropped
        // before the fits: 195 MB off training's peak at 50,000 accounts
        // (measured on the seed-7 base, 4,085 -> 3,890 MB).
        let reference_rows =
            ReferenceRows::build(&data, &histories).map_err(|e| e.to_string());
        let ids: Vec<String> = match req.truth {
            Some(_) => histories.iter().map(|h| h.account.id.clone()).collect(),
            None => Vec::new(),
        };
        drop(histories);
        let mut out = train_on(
            &data,
            &req.kinds,
            &req.config,
            &created_at,
            snapshot_seconds,
            &mut || started.elapsed().as_secs_f64(),
            &mut progress,
        )?;
        if let Some(truth) = &req.truth {
            for m in out.models.iter_mut().filter(|m| m.kind == ModelKind::Churn) {
                let r = pulse_training::reason_accuracy(
                    &data,
                    &ids,
                    m.backtest_model(),
                    &req.config,
                    truth,
                )?;
                if let Some(e) = m.artifact.card.evaluation.as_mut() {
                    e.reasons = Some(r);
                }
            }
        }
        let mut comparisons: Vec<Option<Comparison>> = Vec::new();
        let mut references: Vec<Option<String>> = Vec::new();
        for m in &out.models {
            // The drift reference of the served model; a run never fails for it.
            let reference = match &reference_rows {
                Ok(rows) => drift_reference(&data, rows, m.kind, &m.artifact.payload.model)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.clone()),
            };
            let reference = match reference {
                Ok(r) => serde_json::to_string(&r).ok(),
                Err(e) => {
                    tracing::warn!(kind = m.kind.as_str(), error = %e, "no drift reference for this model");
                    None
                }
            };
            references.push(reference);
            let cmp = match champions.iter().find(|(k, _)| *k == m.kind) {
                Some((_, champion)) => Some(compare_on_latest_window(
                    &data,
                    m.kind,
                    &req.config,
                    champion,
                    m.backtest_model(),
                    req.rule.min_positives,
                )?),
                None => None,
            };
            comparisons.push(cmp);
        }
        Ok::<_, pulse_training::TrainError>((out, comparisons, references, survival))
    })
    .await
    .map_err(|e| format!("training task failed: {e}"))?
    .map_err(|e| e.to_string())?;

    let survival = match survival {
        None => None,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "the time-to-churn model was not fitted; the previous one still serves");
            Some(SurvivalOutcome::Failed(e))
        }
        Some(Ok(mut model)) => {
            let reg = registry.clone();
            let model = tokio::task::spawn_blocking(move || {
                reg.save_survival(&mut model)?;
                Ok::<_, RegistryError>(model)
            })
            .await
            .map_err(|e| storage("saving the time-to-churn model", e))?
            .map_err(|e| storage("saving the time-to-churn model", e))?;
            tracing::info!(version = %model.card.version, "time-to-churn model saved and in service");
            Some(SurvivalOutcome::Saved(Box::new(model.card)))
        }
    };
    let rows = out.rows;
    let (accounts, data_start, data_end, snapshot_seconds) = (
        out.accounts,
        out.data_start,
        out.data_end,
        out.snapshot_seconds,
    );
    let mut entries = Vec::new();
    let mut decisions = Vec::new();
    for ((m, cmp), reference) in out.models.into_iter().zip(comparisons).zip(references) {
        let kind = m.kind;
        let reg = registry.clone();
        let (entry, champion) = tokio::task::spawn_blocking(move || {
            let champion = reg.promoted(kind)?;
            let entry = reg.save(m.artifact)?;
            Ok::<_, RegistryError>((entry, champion))
        })
        .await
        .map_err(|e| storage("saving the trained models", e))?
        .map_err(|e| storage("saving the trained models", e))?;
        let (outcome, reason) = match (&champion, &cmp) {
            (None, _) => (
                Outcome::Promoted,
                format!("no {kind} model was promoted: the first one serves"),
            ),
            (Some(_), Some(c)) => {
                let d = decide(&request.rule, c);
                if request.promote {
                    (
                        Outcome::Promoted,
                        format!("promotion requested by the caller ({})", d.reason),
                    )
                } else {
                    (d.outcome, d.reason)
                }
            }
            (Some(_), None) => (
                if request.promote {
                    Outcome::Promoted
                } else {
                    Outcome::Kept
                },
                "not compared: the champion could not be loaded before training".to_string(),
            ),
        };
        if let Some(profile) = reference {
            store
                .save_model_profile(
                    &entry.card.version,
                    kind.as_str(),
                    request.clock.now(),
                    &profile,
                )
                .await
                .map_err(|e| storage("saving the drift reference", e))?;
        }
        let mut entry = entry;
        if outcome == Outcome::Promoted {
            let reg = registry.clone();
            let v = entry.card.version.clone();
            tokio::task::spawn_blocking(move || reg.promote(&v))
                .await
                .map_err(|e| storage("promoting the challenger", e))?
                .map_err(|e| storage("promoting the challenger", e))?;
            entry.promoted = true;
        }
        let metric = |f: fn(&pulse_models::Metrics) -> f64, m: Option<&pulse_models::Metrics>| {
            m.map(f).filter(|v| v.is_finite())
        };
        let champion_m = cmp.as_ref().and_then(|c| c.champion.as_ref());
        let challenger_m = cmp.as_ref().and_then(|c| c.challenger.as_ref());
        let decision = ModelDecision {
            decision_id: 0,
            decided_at: request.clock.now(),
            kind: kind.as_str().to_string(),
            trigger: request.trigger.clone(),
            challenger_version: entry.card.version.clone(),
            champion_version: champion,
            outcome: outcome.as_str().to_string(),
            reason,
            champion_pr_auc: metric(|m| m.pr_auc, champion_m),
            challenger_pr_auc: metric(|m| m.pr_auc, challenger_m),
            champion_ece: metric(|m| m.ece, champion_m),
            challenger_ece: metric(|m| m.ece, challenger_m),
            detail: serde_json::to_string(&cmp).unwrap_or_else(|_| "null".into()),
        };
        let id = store
            .save_decision(&decision)
            .await
            .map_err(|e| storage("recording the decision", e))?;
        tracing::info!(
            kind = kind.as_str(),
            challenger = %decision.challenger_version,
            champion = ?decision.champion_version,
            outcome = %decision.outcome,
            reason = %decision.reason,
            trigger = %decision.trigger,
            "champion/challenger decision"
        );
        if let Some(o) = &observer {
            o.decision(kind.as_str(), &decision.outcome, decision.decided_at);
        }
        decisions.push(ModelDecision {
            decision_id: id,
            ..decision
        });
        entries.push(entry);
    }
    Ok(TrainResult {
        entries,
        decisions,
        rows,
        accounts,
        data_start,
        data_end,
        snapshot_seconds,
        survival,
    })
}

/// Whether a scheduled run is due: the store has accounts and its latest
/// decision (of any trigger) is older than `every`, or there is none.
pub async fn retraining_due(
    store: &Store,
    every: Duration,
    now: i64,
) -> Result<bool, pulse_store::StoreError> {
    let accounts = store
        .table_counts()
        .await?
        .iter()
        .find(|(t, _)| *t == "accounts")
        .map_or(0, |c| c.1);
    if accounts == 0 {
        return Ok(false);
    }
    let latest = store.decisions(None, 1).await?;
    Ok(latest
        .first()
        .is_none_or(|d| now - d.decided_at >= every.as_secs() as i64))
}

/// Whether a drift check is due: none stored, or the latest older than `every`.
pub async fn drift_due(
    store: &Store,
    every: Duration,
    now: i64,
) -> Result<bool, pulse_store::StoreError> {
    let latest = store.drift_checks(1).await?;
    Ok(latest
        .first()
        .is_none_or(|c| now - c.checked_at >= every.as_secs() as i64))
}

/// Whether a drift-triggered run happened in the last week.
pub async fn drift_run_recent(store: &Store, now: i64) -> Result<bool, pulse_store::StoreError> {
    let week = 7 * 86_400;
    Ok(store
        .decisions(None, 50)
        .await?
        .iter()
        .any(|d| d.trigger == "drift" && now - d.decided_at < week))
}

/// Checks the drift of the churn model in service: its training reference
/// against the scoring population in memory and the latest closed label
/// window; stores the check and updates the drift gauges.
pub async fn check_drift(
    store: &Store,
    scoring: &crate::serving::Scoring,
    settings: &ModelOpsSettings,
    observer: Option<&dyn ModelOpsObserver>,
) -> Result<(DriftReport, i64), AppError> {
    let serving = scoring.require()?;
    let Some(scored) = serving.scored.clone() else {
        return Err(AppError::Unavailable(
            "the scoring population is still loading; try again in a moment".into(),
        ));
    };
    let version = serving.engine.churn_version().to_string();
    let Some(profile) = store.model_profile(&version).await? else {
        return Err(AppError::FailedPrecondition(format!(
            "no training profile for {version}: it was trained before drift tracking; retrain (pulse train or ModelService.Train) to get one"
        )));
    };
    let reference: DriftReference = serde_json::from_str(&profile)
        .map_err(|e| AppError::internal(&format!("the drift reference of {version}"), e))?;
    let (histories, _) = crate::serving::load_usable_histories(store, None).await?;
    let horizon = i32::try_from(scoring.settings().horizon_days).unwrap_or(90);
    let (warn, critical) = (settings.drift_warn, settings.drift_critical);
    let now = scoring.clock().now();
    let report = tokio::task::spawn_blocking(move || {
        let today = pulse_core::time::day_of_ts(now);
        let label = recent_label_rate(&histories, reference.kind, today, horizon, REFERENCE_WEEKS)
            .map(|r| r.0);
        let predictions: Vec<f64> = scored.scores.iter().map(|s| s.churn_probability).collect();
        drift_report(
            &reference,
            scored.population.as_of,
            scored.population.rows.view(),
            &predictions,
            label,
            warn,
            critical,
        )
    })
    .await
    .map_err(|e| AppError::internal("drift task", e))?
    .map_err(|e| AppError::FailedPrecondition(e.to_string()))?;
    let check = pulse_store::DriftCheck {
        check_id: 0,
        checked_at: now,
        as_of: report.as_of,
        kind: report.kind.as_str().to_string(),
        model_version: version,
        level: report.level.as_str().to_string(),
        max_psi: report.max_psi,
        report: serde_json::to_string(&report).unwrap_or_else(|_| "null".into()),
    };
    let id = store.save_drift_check(&check).await?;
    if let Some(o) = observer {
        o.drift_checked(&report, check.checked_at);
    }
    tracing::info!(summary = %report.summary(), "drift checked");
    Ok((report, id))
}

/// How the stored runs of the last `runs` as-of days turned out (the newest
/// run of each day), newest first, from the outcomes stored since; ranked
/// by churn probability, `top_k` accounts per list.
pub async fn realised_performance(
    store: &Store,
    horizon_days: i32,
    runs: u32,
    top_k: usize,
    now: i64,
) -> Result<Vec<pulse_training::RunPerformance>, AppError> {
    let mut seen = std::collections::HashSet::new();
    let picked: Vec<pulse_store::ScoreRunInfo> = store
        .score_runs(runs.saturating_mul(8).max(runs))
        .await?
        .into_iter()
        .filter(|r| seen.insert(r.as_of))
        .take(runs as usize)
        .collect();
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let mut scores = Vec::with_capacity(picked.len());
    for r in &picked {
        scores.push(store.run_scores(r.run_id).await?);
    }
    let (histories, _) = crate::serving::load_usable_histories(store, None).await?;
    tokio::task::spawn_blocking(move || {
        use pulse_core::SubscriptionKind;
        let facts: std::collections::HashMap<&str, (&str, Vec<i64>)> = histories
            .iter()
            .map(|h| {
                let churns = h
                    .subscriptions
                    .iter()
                    .filter(|s| s.kind == SubscriptionKind::Churn)
                    .map(|s| s.occurred_at)
                    .collect();
                (h.account.id.as_str(), (h.account.segment.as_str(), churns))
            })
            .collect();
        let today = pulse_core::time::day_of_ts(now);
        picked
            .iter()
            .zip(&scores)
            .map(|(run, stored)| {
                let from = pulse_features::end_of_day(run.as_of);
                let to = pulse_features::end_of_day(run.as_of + horizon_days).min(now);
                let rows: Vec<pulse_training::RealisedRow> = stored
                    .iter()
                    .map(|s| {
                        let (segment, churns) = facts
                            .get(s.account_id.as_str())
                            .map_or(("unknown", &[][..]), |f| (f.0, f.1.as_slice()));
                        pulse_training::RealisedRow {
                            churn_probability: s.churn_probability,
                            segment: segment.to_string(),
                            churned: churns.iter().any(|&t| t > from && t <= to),
                        }
                    })
                    .collect();
                pulse_training::run_performance(
                    run.run_id,
                    run.as_of,
                    horizon_days,
                    today,
                    &rows,
                    top_k,
                )
            })
            .collect()
    })
    .await
    .map_err(|e| AppError::internal("performance task", e))
}
