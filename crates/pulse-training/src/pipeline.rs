//! The training pipeline over account histories: weekly snapshots, the
//! time-based backtest with a purged split, the leakage gate, the three-way
//! comparison (GBT, logistic, scorecard), ablation by feature family, the
//! final fit and the model card.
//!
//! Split, in as-of days (all snapshot days are multiples of `step_days` from
//! the first one):
//! ```text
//! first as-of ....... train ....... | calibration | purge (H days) | cutoff .. test .. | last as-of (= data end - H)
//! ```
//! - test: the latest `test_fraction` of the snapshot days;
//! - training rows need `t + H < cutoff`: their label window closes before
//!   the first test day, so no training label is resolved by an outcome the
//!   test period is scored on;
//! - calibration: the latest `calibration_fraction` of the remaining rows.
//!
//! Precision and recall at K are weekly: for each held-out as-of day, the K
//! highest-scored accounts of that day are the ones a team with K calls a
//! week would contact; the card reports their means over the held-out days.

use std::collections::BTreeSet;

use ndarray::{Array2, Axis};
use pulse_core::time::{Day, day_of_ts, format_day};
use pulse_features::{
    AccountHistory, Family, Snapshots, features, fill_snapshot_features, snapshot_rows,
};
use pulse_models::{
    CardCandidate, CardEvaluation, CardInfo, CardSelection, DataWindow, Dataset, DatasetError,
    FeatureFamily, GbtParams, GbtShape, Metrics, Model, ModelArtifact, ModelKind, ModelPayload,
    RowCounts, Split, TopK, TrainingConfig, ablation, average_precision, evaluate, fit_calibrated,
    leakage_screen_rows, log_loss, roc_auc,
};
use serde::Serialize;

use crate::config::{FinalFit, TrainConfig};
use crate::error::TrainError;

/// The stages a run reports progress in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Loading,
    /// The time-to-churn model (fitted before the account models, on the
    /// same histories).
    Survival,
    Snapshots,
    LeakageCheck,
    Backtest,
    Ablation,
    FinalFit,
    Saving,
    Done,
}

impl Stage {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Loading => "loading",
            Stage::Survival => "survival",
            Stage::Snapshots => "snapshots",
            Stage::LeakageCheck => "leakage_check",
            Stage::Backtest => "backtest",
            Stage::Ablation => "ablation",
            Stage::FinalFit => "final_fit",
            Stage::Saving => "saving",
            Stage::Done => "done",
        }
    }
}

/// A progress report: the stage starting now, for which model, and the share
/// of the whole run done so far (0 to 1, approximate).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub stage: Stage,
    pub kind: Option<ModelKind>,
    pub fraction: f64,
}

/// Feature names in column order: the schema of every account model.
pub fn feature_names() -> Vec<String> {
    features().iter().map(|f| f.name.to_string()).collect()
}

/// Checks that an artifact can score accounts: it has no table encoder and its
/// feature schema is exactly this build's features, in order.
pub fn check_account_model(a: &ModelArtifact) -> Result<(), pulse_models::ArtifactError> {
    if a.payload.encoder.is_some() {
        return Err(pulse_models::ArtifactError::SchemaMismatch {
            context: "tabular model vs account features (score it with `pulse score --table`)",
            expected: feature_names(),
            actual: a.card.feature_schema.clone(),
        });
    }
    a.check_schema(&feature_names())
}

/// The first and last day with any event (usage rows by their first day).
pub fn data_span(hs: &[AccountHistory]) -> Option<(Day, Day)> {
    let mut span: Option<(Day, Day)> = None;
    let mut see = |d: Day| {
        span = Some(match span {
            None => (d, d),
            Some((a, b)) => (a.min(d), b.max(d)),
        });
    };
    for h in hs {
        // Lists are sorted by time: the first and last of each are enough.
        for d in [h.usage.first(), h.usage.last()].into_iter().flatten() {
            see(d.day);
        }
        let ts = [
            h.contacts.first().map(|c| c.observed_at),
            h.contacts.last().map(|c| c.observed_at),
            h.interactions.first().map(|i| i.opened_at),
            h.interactions.last().map(|i| i.opened_at),
            h.subscriptions.first().map(|e| e.occurred_at),
            h.subscriptions.last().map(|e| e.occurred_at),
            h.surveys.first().map(|s| s.responded_at),
            h.surveys.last().map(|s| s.responded_at),
            h.operational.first().map(|e| e.occurred_at),
            h.operational.last().map(|e| e.occurred_at),
        ];
        for t in ts.into_iter().flatten() {
            see(day_of_ts(t));
        }
    }
    span
}

/// The labelled snapshot rows both kinds train on.
#[derive(Debug, Clone)]
pub struct TrainingData {
    /// First day with data.
    pub data_start: Day,
    /// Last day of data: labels are observed up to here.
    pub data_end: Day,
    pub accounts: usize,
    pub snapshots: Snapshots,
}

impl TrainingData {
    /// Builds weekly snapshots from `warmup_days` after the first day of data
    /// to `data_end - horizon_days` (later rows are right-censored).
    /// `data_end` defaults to the last day with an event.
    pub fn build(
        hs: &[AccountHistory],
        data_end: Option<Day>,
        cfg: &TrainConfig,
    ) -> Result<Self, TrainError> {
        cfg.validate()?;
        let _span = tracing::info_span!("training::snapshots", accounts = hs.len()).entered();
        let Some((start, last_event)) = data_span(hs) else {
            return Err(TrainError::no_data(
                "the store holds no accounts with events; import data first (pulse import FILES, or pulse synth then pulse import)",
            ));
        };
        let end = data_end.unwrap_or(last_event);
        let first = start + cfg.warmup_days;
        let last = end - cfg.horizon_days;
        let needed = cfg.warmup_days + cfg.horizon_days * 2 + 8 * cfg.step_days;
        if last - first < cfg.horizon_days + 8 * cfg.step_days {
            return Err(TrainError::no_data(format!(
                "the data spans {} days ({} to {}); a backtest needs at least {needed} ({} days of warm-up, the {}-day label horizon twice and 8 snapshot steps); import a longer history",
                end - start + 1,
                format_day(start),
                format_day(end),
                cfg.warmup_days,
                cfg.horizon_days,
            )));
        }
        let snaps = parallel_snapshots(hs, first, last, cfg.step_days, cfg.horizon_days, end);
        if snaps.is_empty() {
            return Err(TrainError::no_data(
                "no account was a customer on any snapshot day",
            ));
        }
        Ok(TrainingData {
            data_start: start,
            data_end: end,
            accounts: hs.len(),
            snapshots: snaps,
        })
    }

    /// Distinct as-of days, ascending.
    pub fn days(&self) -> Vec<Day> {
        let set: BTreeSet<Day> = self.snapshots.as_of.iter().copied().collect();
        set.into_iter().collect()
    }

    /// The backtest split every kind is evaluated with, and its cutoff day:
    /// test = the latest `test_fraction` of the as-of days, training rows
    /// purged by the label horizon, calibration = the latest
    /// `calibration_fraction` of the remaining rows.
    pub fn backtest_split(&self, cfg: &TrainConfig) -> (Split, Day) {
        let cutoff = cutoff_day(&self.days(), cfg.test_fraction);
        let split = Split::Time {
            cutoff: i64::from(cutoff),
            gap: i64::from(cfg.horizon_days),
            calibration_fraction: cfg.calibration_fraction,
        };
        (split, cutoff)
    }

    fn labels(&self, kind: ModelKind) -> &[bool] {
        match kind {
            ModelKind::Churn => &self.snapshots.churn,
            ModelKind::Expansion => &self.snapshots.expansion,
        }
    }

    /// The dataset of one kind, with as-of days as time and accounts as groups.
    pub fn dataset(&self, kind: ModelKind) -> Result<Dataset, TrainError> {
        let s = &self.snapshots;
        let ds = Dataset::shared(s.x.clone(), self.labels(kind).to_vec(), feature_names())
            .map_err(|e| match e {
                DatasetError::SingleClass { rows, positives } => TrainError::no_data(format!(
                    "{positives} of {rows} labelled snapshots are {kind} positives; the model needs both outcomes in the data"
                )),
                other => other.into(),
            })?;
        Ok(ds
            .with_time(s.as_of.iter().map(|&d| i64::from(d)).collect())?
            .with_groups(s.account.iter().map(|&a| a as i64).collect())?)
    }
}

/// Threads for computing feature rows (snapshots, the drift reference, the
/// time-to-churn model's person-periods): one per core, up to four.
pub fn feature_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
}

/// [`snapshots`] on [`feature_threads`], the same rows in the same order.
///
/// The rows (labels, accounts, days) first, account blocks on every core;
/// then one matrix for all of them, whose row blocks the threads fill in
/// place. The features are never held twice (a concatenation of the
/// threads' own matrices held them twice: at 50,000 accounts, 1.6 GB more).
fn parallel_snapshots(
    hs: &[AccountHistory],
    first: Day,
    last: Day,
    step: i32,
    horizon: i32,
    end: Day,
) -> Snapshots {
    let threads = feature_threads();
    let chunk = hs.len().div_ceil(threads).max(1);
    let parts: Vec<(usize, Snapshots)> = std::thread::scope(|s| {
        let handles: Vec<_> = hs
            .chunks(chunk)
            .enumerate()
            .map(|(k, c)| {
                s.spawn(move || (k * chunk, snapshot_rows(c, first, last, step, horizon, end)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(p) => p,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let mut out = Snapshots {
        x: Default::default(),
        churn: Vec::new(),
        expansion: Vec::new(),
        account: Vec::new(),
        as_of: Vec::new(),
    };
    for (offset, p) in parts {
        out.churn.extend(p.churn);
        out.expansion.extend(p.expansion);
        out.account
            .extend(p.account.into_iter().map(|a| a + offset));
        out.as_of.extend(p.as_of);
    }
    let mut x = Array2::zeros((out.len(), features().len()));
    let rows = out.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = x
            .axis_chunks_iter_mut(Axis(0), rows)
            .zip(out.account.chunks(rows).zip(out.as_of.chunks(rows)))
            .map(|(block, (account, as_of))| {
                s.spawn(move || fill_snapshot_features(hs, account, as_of, block))
            })
            .collect();
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    out.x = x.into();
    out
}

/// One trained model: its artifact (card included) ready to be saved.
#[derive(Debug)]
pub struct TrainedModel {
    pub kind: ModelKind,
    pub artifact: ModelArtifact,
    /// The backtest model of the served algorithm (trained on rows before the cutoff),
    /// when the served model is a refit; `None` when the artifact is the
    /// backtest model itself. A challenger is compared through it.
    pub backtest: Option<pulse_models::CalibratedModel>,
}

impl TrainedModel {
    /// The model trained only on rows before the backtest cutoff.
    pub fn backtest_model(&self) -> &pulse_models::CalibratedModel {
        self.backtest
            .as_ref()
            .unwrap_or(&self.artifact.payload.model)
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct TrainOutput {
    pub data_start: Day,
    pub data_end: Day,
    pub accounts: usize,
    pub rows: usize,
    /// Seconds spent building the snapshots shared by every kind.
    pub snapshot_seconds: f64,
    pub models: Vec<TrainedModel>,
}

/// Builds the snapshots once, then trains the kinds, side by side by
/// default (see [`train_on`]).
///
/// `clock` returns seconds from any fixed origin (the crate reads no clock);
/// `created_at` goes into every card as is.
pub fn train_models(
    hs: &[AccountHistory],
    kinds: &[ModelKind],
    data_end: Option<Day>,
    cfg: &TrainConfig,
    created_at: &str,
    clock: &mut (dyn FnMut() -> f64 + Send),
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<TrainOutput, TrainError> {
    if kinds.is_empty() {
        return Err(TrainError::Config {
            key: "kinds",
            reason: "name at least one of churn, expansion".into(),
        });
    }
    progress(Progress {
        stage: Stage::Snapshots,
        kind: None,
        fraction: 0.0,
    });
    let t0 = clock();
    let data = TrainingData::build(hs, data_end, cfg)?;
    let snapshot_seconds = clock() - t0;
    train_on(
        &data,
        kinds,
        cfg,
        created_at,
        snapshot_seconds,
        clock,
        progress,
    )
}

/// [`train_models`] on snapshots already built (`snapshot_seconds` is what
/// building them took, for the cards).
///
/// With `kinds_side_by_side` (the default), each kind trains on a thread of
/// its own, all at once; otherwise one after the other. A kind's fits use
/// every core already, but each also has stretches on one core (the leakage
/// screen, the candidates' scoring, the calibration, the card's metrics),
/// which the other kind's fits fill. Either way the models come back in the
/// order of `kinds` and are the same; the progress reported is the mean of
/// the kinds' own progress, and the first error of a kind (in the order of
/// `kinds`) is the run's.
pub fn train_on(
    data: &TrainingData,
    kinds: &[ModelKind],
    cfg: &TrainConfig,
    created_at: &str,
    snapshot_seconds: f64,
    clock: &mut (dyn FnMut() -> f64 + Send),
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<TrainOutput, TrainError> {
    if kinds.is_empty() {
        return Err(TrainError::Config {
            key: "kinds",
            reason: "name at least one of churn, expansion".into(),
        });
    }
    // The callbacks, shared by the kinds' threads; with each kind's progress.
    let shared = std::sync::Mutex::new((progress, clock, vec![0.0f64; kinds.len()]));
    let now = || {
        let mut g = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (g.1)()
    };
    let side_by_side = cfg.kinds_side_by_side && kinds.len() > 1;
    let one = |i: usize, kind: ModelKind| -> Result<TrainedModel, TrainError> {
        let t = now();
        let mut m = train_kind(data, kind, cfg, created_at, &mut |p: Progress| {
            let mut g = shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            g.2[i] = p.fraction;
            let mean = g.2.iter().sum::<f64>() / g.2.len() as f64;
            (g.0)(Progress {
                fraction: 0.15 + 0.85 * mean,
                ..p
            });
        })?;
        m.artifact.card.training_seconds = now() - t;
        let how = if side_by_side {
            ", trained side by side with the other kinds on the same cores"
        } else {
            ""
        };
        m.artifact.card.notes.push(format!(
            "training_seconds covers this model's backtest, ablation and final fit{how}; the feature snapshots shared by all kinds took {snapshot_seconds:.1} s more"
        ));
        Ok(m)
    };
    let models: Vec<TrainedModel> = if side_by_side {
        let results: Vec<Result<TrainedModel, TrainError>> = std::thread::scope(|s| {
            let handles: Vec<_> = kinds
                .iter()
                .enumerate()
                .map(|(i, &kind)| {
                    let one = &one;
                    s.spawn(move || one(i, kind))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        results.into_iter().collect::<Result<_, _>>()?
    } else {
        kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| one(i, kind))
            .collect::<Result<_, _>>()?
    };
    let (progress, ..) = shared
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    progress(Progress {
        stage: Stage::Done,
        kind: None,
        fraction: 1.0,
    });
    Ok(TrainOutput {
        data_start: data.data_start,
        data_end: data.data_end,
        accounts: data.accounts,
        rows: data.snapshots.len(),
        snapshot_seconds,
        models,
    })
}

/// The backtest cutoff: the first of the latest `test_fraction` snapshot days.
fn cutoff_day(days: &[Day], test_fraction: f64) -> Day {
    let n_test = ((days.len() as f64 * test_fraction).ceil() as usize).clamp(1, days.len());
    days[days.len() - n_test]
}

/// Weekly precision and recall at K: means over the distinct `days`.
/// Days without a positive are left out of the recall mean.
pub fn weekly_at_k(scores: &[f64], labels: &[bool], days: &[i64], k: usize) -> (f64, f64) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| days[a].cmp(&days[b]).then(scores[b].total_cmp(&scores[a])));
    let (mut p_sum, mut p_n, mut r_sum, mut r_n) = (0.0, 0usize, 0.0, 0usize);
    let mut i = 0;
    while i < order.len() {
        let day = days[order[i]];
        let j = i + order[i..].partition_point(|&r| days[r] == day);
        let week = &order[i..j];
        let kk = k.min(week.len());
        let hits = week[..kk].iter().filter(|&&r| labels[r]).count();
        let pos = week.iter().filter(|&&r| labels[r]).count();
        p_sum += hits as f64 / kk as f64;
        p_n += 1;
        if pos > 0 {
            r_sum += hits as f64 / pos as f64;
            r_n += 1;
        }
        i = j;
    }
    let mean = |s: f64, n: usize| if n > 0 { s / n as f64 } else { f64::NAN };
    (mean(p_sum, p_n), mean(r_sum, r_n))
}

fn label_note(kind: ModelKind, h: i32) -> String {
    match kind {
        ModelKind::Churn => format!(
            "label: a churn subscription event in the {h} days after the as-of day, (t, t + {h}d]; one row per account and weekly as-of day while it is a customer; rows whose window runs past the data end are right-censored and left out"
        ),
        ModelKind::Expansion => format!(
            "label: MRR at the end of day t + {h} at least {}% above MRR at the end of day t, with no churn in between; one row per account and weekly as-of day while it is a customer; right-censored rows left out",
            pulse_features::DEFAULT_EXPANSION_THRESHOLD_PCT
        ),
    }
}

/// Held by a final GBT fit on all rows: at 50,000 accounts each holds about
/// 0.6 GB of buffers, and the kinds trained side by side would otherwise fit
/// theirs at the same time.
static FINAL_FIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Backtest, leakage gate, comparison, ablation, final fit and card of one kind.
pub fn train_kind(
    data: &TrainingData,
    kind: ModelKind,
    cfg: &TrainConfig,
    created_at: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<TrainedModel, TrainError> {
    let _span = tracing::info_span!("training::kind", kind = kind.as_str()).entered();
    let report = |stage, fraction| Progress {
        stage,
        kind: Some(kind),
        fraction,
    };
    let ds = data.dataset(kind)?;
    let days = data.days();
    let (split, cutoff) = data.backtest_split(cfg);
    let idx = split.indices(&ds).map_err(|e| {
        TrainError::no_data(format!(
            "{kind}: {e} (snapshot days {} to {}, backtest cutoff {}, {}-day purge); import a longer history or shorten the horizon",
            format_day(days[0]),
            format_day(days[days.len() - 1]),
            format_day(cutoff),
            cfg.horizon_days
        ))
    })?;

    // The leakage gate, on the rows the backtest model learns from.
    progress(report(Stage::LeakageCheck, 0.0));
    let leakage = leakage_screen_rows(&ds, &idx.train, cfg.leakage_threshold)?;
    if !leakage.flagged.is_empty() && !cfg.allow_leakage {
        return Err(TrainError::Leakage {
            kind: kind.as_str(),
            threshold: cfg.leakage_threshold,
            features: leakage.flagged,
        });
    }

    progress(report(Stage::Backtest, 0.05));
    // The served algorithm and the GBT's capacity, on the rows before the
    // cutoff only; the outer backtest then measures that recipe.
    let before_cutoff: Vec<usize> = idx.train.iter().chain(&idx.calibration).copied().collect();
    let Chosen { mut selection, gbt } = select_served(&ds, &before_cutoff, cfg)?;
    let logistic_served = selection.served == "logistic";
    let tc = TrainingConfig {
        gbt: gbt.clone(),
        logistic: cfg.logistic.clone(),
        calibration: cfg.calibration,
        scorecard: Some(cfg.scorecard()),
        top_k: TopK::Count(cfg.capacity),
    };
    let eval = evaluate(&ds, &split, &tc)?;
    let models = weekly_metrics(&ds, &eval, cfg.capacity)?;
    for c in &mut selection.candidates {
        c.held_out = models.get(c.name.as_str()).cloned();
    }
    progress(report(Stage::Backtest, 0.25));

    let ablation_report = if cfg.ablation {
        progress(report(Stage::Ablation, 0.35));
        let families: Vec<FeatureFamily> = Family::ALL
            .iter()
            .map(|f| FeatureFamily {
                name: f.as_str().to_string(),
                features: features()
                    .iter()
                    .filter(|d| d.family == *f)
                    .map(|d| d.name.to_string())
                    .collect(),
            })
            .collect();
        Some(ablation(&ds, &split, &gbt, &families)?)
    } else {
        None
    };

    progress(report(Stage::FinalFit, 0.85));
    let n_rows = ds.n_rows();
    let test_days = days.iter().filter(|&&d| d >= cutoff).count();
    let mut notes = vec![
        label_note(kind, cfg.horizon_days),
        format!(
            "data window {} to {}; snapshots every {} days from {} to {} ({} days, {} rows, {} accounts)",
            format_day(data.data_start),
            format_day(data.data_end),
            cfg.step_days,
            format_day(days[0]),
            format_day(days[days.len() - 1]),
            days.len(),
            n_rows,
            data.accounts
        ),
        format!(
            "precision_at_k and recall_at_k: mean over the {test_days} held-out as-of days of the top {} accounts of each day (K = weekly outreach capacity); the other metrics pool all held-out rows",
            cfg.capacity
        ),
        "scorecard: the rule-based health score (pulse-training scorecard mapping, configured weights), its churn risk Platt-scaled on the calibration slice for the probability metrics; for expansion the fitted slope is negative when healthier accounts expand more".to_string(),
    ];
    if !leakage.flagged.is_empty() {
        notes.push(format!(
            "LEAKAGE GATE OVERRIDDEN: {} reached the {:.2} threshold alone on the training rows",
            leakage
                .flagged
                .iter()
                .map(|f| format!("{} ({:.3})", f.feature, f.roc_auc))
                .collect::<Vec<_>>()
                .join(", "),
            cfg.leakage_threshold
        ));
    }

    let (payload, rows, label_rate, backtest) = match cfg.final_fit {
        FinalFit::Backtest => {
            notes.push(format!(
                "served model: the backtest model itself, trained on as-of days before {} (minus the {}-day purge) and evaluated on the held-out days",
                format_day(cutoff),
                cfg.horizon_days
            ));
            let rows = RowCounts {
                train: eval.split.train.len(),
                calibration: eval.split.calibration.len(),
                test: eval.split.test.len(),
            };
            let rate = eval.report.train_positive_rate;
            let served = if logistic_served {
                eval.logistic
            } else {
                eval.gbt
            };
            (
                ModelPayload {
                    model: served,
                    encoder: None,
                    scorecard: eval.scorecard,
                },
                rows,
                rate,
                None,
            )
        }
        FinalFit::RefitAll => {
            let (train, cal) = latest_slice(&ds, cfg.calibration_fraction)?;
            // Every model reads the training rows straight from `ds`,
            // without a copy of them, and the calibration rows are copied
            // only after the fit (peak memory: the fit's own buffers and
            // that copy are not held at once), as in the backtest.
            let scorecard = cfg
                .scorecard()
                .fit_rows(ds.x(), &train, ds.feature_names())?;
            let train_labels = ds.labels_of(&train)?;
            let train_rate =
                train_labels.iter().filter(|&&b| b).count() as f64 / train_labels.len() as f64;
            let logistic = if logistic_served {
                Some(cfg.logistic.check_ref()?.fit_rows(&ds, &train)?)
            } else {
                None
            };
            let base = match logistic {
                Some(l) => Model::Logistic(l),
                None => {
                    // One final GBT fit at a time in this process: two side
                    // by side (the kinds trained together) hold both fits'
                    // buffers on all rows at once, training's peak memory.
                    let _one = FINAL_FIT
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    Model::Gbt(Box::new(gbt.check_ref()?.fit_rows(&ds, &train)?))
                }
            };
            let cal_ds = ds.select_rows(&cal)?;
            let model = fit_calibrated(base, Some(&cal_ds), cfg.calibration)?;
            drop(cal_ds);
            notes.push(format!(
                "served model: refit with the backtest's recipe on all {} labelled rows (train {}, calibration {} = the latest {:.0}% by as-of day); its own held-out performance is not measured: the metrics are those of the same recipe trained before {} and tested on the {} held-out days",
                n_rows,
                train.len(),
                cal.len(),
                cfg.calibration_fraction * 100.0,
                format_day(cutoff),
                test_days
            ));
            (
                ModelPayload {
                    model,
                    encoder: None,
                    scorecard: Some(scorecard),
                },
                RowCounts {
                    train: train.len(),
                    calibration: cal.len(),
                    test: 0,
                },
                train_rate,
                Some(if logistic_served {
                    eval.logistic
                } else {
                    eval.gbt
                }),
            )
        }
    };

    let served_metrics = models.get(selection.served.as_str()).cloned();
    let served_calibration = if logistic_served {
        eval.report.logistic.calibration_table.clone()
    } else {
        eval.report.gbt.calibration_table.clone()
    };
    let evaluation = CardEvaluation {
        method: format!(
            "time-based backtest: test = as-of days from {} ({} of {} days), training rows need t + {}d < cutoff, calibration = latest {:.0}% of training rows",
            format_day(cutoff),
            test_days,
            days.len(),
            cfg.horizon_days,
            cfg.calibration_fraction * 100.0
        ),
        cutoff: Some(i64::from(cutoff)),
        rows: RowCounts {
            train: eval.split.train.len(),
            calibration: eval.split.calibration.len(),
            test: eval.split.test.len(),
        },
        models,
        curves: eval.report.curves(),
        ablation: ablation_report,
        importance: eval.report.gbt_importance.clone(),
        leakage: Some(leakage),
        selection: Some(selection),
        reasons: None,
    };
    let info = CardInfo {
        version: format!("{kind}-unsaved"),
        kind,
        created_at: created_at.to_string(),
        data_window: Some(DataWindow {
            start: i64::from(data.data_start),
            end: i64::from(data.data_end),
        }),
        rows,
        label_rate,
        metrics: served_metrics,
        calibration_table: served_calibration,
        training_seconds: 0.0,
        evaluation: Some(evaluation),
        notes,
        id_column: None,
    };
    let artifact = ModelArtifact::new(info, payload)?;
    progress(report(Stage::Done, 1.0));
    Ok(TrainedModel {
        kind,
        artifact,
        backtest,
    })
}

/// The served algorithm and the GBT's capacity, as [`select_served`]
/// chose them.
struct Chosen {
    selection: CardSelection,
    /// `[training.gbt]` with the chosen shape and round count.
    gbt: GbtParams,
}

/// Chooses the served algorithm and the GBT's capacity on training rows
/// only, by an inner backtest built like the outer one: the rows before the
/// backtest cutoff (its training and calibration rows) are cut again at the
/// start of their latest `test_fraction` of as-of days; the candidates are
/// fitted on the rows before that inner cutoff (minus the horizon, so no
/// label resolves after it) and score the rows from it on.
///
/// - The GBT: `[training.gbt]`'s shape and each of `[training.gbt_search]`'s
///   is fitted with early stopping on the inner log-loss, at most
///   `[training.gbt] iterations` rounds; the shape and round count with the
///   lowest inner log-loss is the GBT candidate (`gbt`); the others are
///   listed by their shape.
/// - The logistic model with the run's settings.
///
/// Between the two the higher PR-AUC wins; a tie keeps the GBT. Without the
/// purge an account seen a week earlier in training would vouch for itself,
/// which favours the trees. The held-out test days decide nothing: their
/// figures are added beside each candidate once the outer backtest has run.
/// With too little history for the inner backtest, `[training.gbt]` is
/// served as configured and the card says why.
fn select_served(
    ds: &Dataset,
    before_cutoff: &[usize],
    cfg: &TrainConfig,
) -> Result<Chosen, TrainError> {
    let time = ds.time().ok_or_else(|| {
        TrainError::no_data("account snapshots carry their as-of day".to_string())
    })?;
    let mut days: Vec<Day> = before_cutoff.iter().map(|&i| time[i] as Day).collect();
    days.sort_unstable();
    days.dedup();
    let fallback = |why: String| Chosen {
        selection: CardSelection {
            folds: 0,
            criterion: "an inner backtest on the rows before the backtest cutoff".into(),
            candidates: Vec::new(),
            served: "gbt".into(),
            reason: format!("the GBT as configured, the default: {why}"),
        },
        gbt: cfg.gbt.clone(),
    };
    if days.len() < 2 {
        return Ok(fallback(format!(
            "{} as-of day(s) before the cutoff are too few for an inner backtest",
            days.len()
        )));
    }
    let inner = cutoff_day(&days, cfg.test_fraction);
    let purge_end = i64::from(inner) - i64::from(cfg.horizon_days);
    let fit_rows: Vec<usize> = before_cutoff
        .iter()
        .copied()
        .filter(|&i| time[i] < purge_end)
        .collect();
    let val_rows: Vec<usize> = before_cutoff
        .iter()
        .copied()
        .filter(|&i| time[i] >= i64::from(inner))
        .collect();
    let both = |rows: &[usize]| {
        let pos = rows.iter().filter(|&&i| ds.y()[i]).count();
        pos > 0 && pos < rows.len()
    };
    if !both(&fit_rows) || !both(&val_rows) {
        return Ok(fallback(format!(
            "the inner backtest at {} ({} rows to fit before it minus the {}-day purge, {} to score) lacks one class",
            format_day(inner),
            fit_rows.len(),
            cfg.horizon_days,
            val_rows.len()
        )));
    }
    // The scored rows are read straight from `ds`: the GBT's from the copy
    // its fit watched, the logistic model's a block at a time (peak memory:
    // no copy of them all is held beside the fits).
    let y = &ds.labels_of(&val_rows)?[..];
    let probabilities = |margins: &[f64]| -> Vec<f64> {
        margins.iter().map(|m| 1.0 / (1.0 + (-m).exp())).collect()
    };
    let candidate = |name: String, probs: &[f64]| -> Result<CardCandidate, TrainError> {
        Ok(CardCandidate {
            name,
            cv_log_loss: log_loss(probs, y)?,
            cv_roc_auc: roc_auc(probs, y)?,
            cv_pr_auc: average_precision(probs, y)?,
            held_out: None,
        })
    };
    // The GBT's capacity: every shape early-stopped on the inner log-loss.
    // Each reads its rows straight from `ds` (peak memory).
    let own = cfg.gbt.check_ref()?;
    let mut shapes = vec![GbtShape::of(own)];
    for shape in &cfg.gbt_search.shapes {
        if !shapes.contains(shape) {
            shapes.push(shape.clone());
        }
    }
    let try_gbt = |shape: &GbtShape,
                   params: GbtParams|
     -> Result<(CardCandidate, GbtParams, String, GbtShape), TrainError> {
        let valid = params.check_ref()?;
        let rate = valid.learning_rate();
        let mut fit = valid.fit_watched_rows(ds, &fit_rows, &val_rows, cfg.gbt_search.patience)?;
        let rounds = fit
            .curve
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(1, |(r, _)| r + 1);
        let described = format!(
            "depth {}, {} leaves, min leaf {}, learning rate {}, {rounds} rounds",
            shape.max_depth, shape.max_leaves, shape.min_leaf_weight, rate
        );
        let probs = probabilities(&fit.valid_margins(rounds));
        Ok((
            candidate(format!("gbt {described}"), &probs)?,
            params.iterations(rounds),
            described,
            shape.clone(),
        ))
    };
    let mut gbts = Vec::new();
    for shape in &shapes {
        gbts.push(try_gbt(shape, cfg.searched(shape))?);
    }
    // Lowest inner log-loss first; the sort is stable, so a tie keeps the
    // configured shape (and below, the configured learning rate).
    let by_loss = |a: &(CardCandidate, GbtParams, String, GbtShape),
                   b: &(CardCandidate, GbtParams, String, GbtShape)| {
        a.0.cv_log_loss.total_cmp(&b.0.cv_log_loss)
    };
    gbts.sort_by(by_loss);
    // The best shape at the other learning rates.
    let mut rates = vec![own.learning_rate()];
    for &rate in &cfg.gbt_search.learning_rates {
        if !rates.contains(&rate) {
            rates.push(rate);
            let shape = gbts[0].3.clone();
            gbts.push(try_gbt(&shape, cfg.searched(&shape).learning_rate(rate))?);
        }
    }
    gbts.sort_by(by_loss);
    let fits = gbts.len();
    let (mut best_gbt, gbt, gbt_shape, _) = gbts.remove(0);
    best_gbt.name = "gbt".into();
    let logistic = cfg.logistic.check_ref()?.fit_rows(ds, &fit_rows)?;
    let mut margins = Vec::with_capacity(val_rows.len());
    for rows in val_rows.chunks(pulse_models::ROW_BLOCK) {
        margins.extend(logistic.margins(ds.x().select(Axis(0), rows).view())?);
    }
    let logistic = candidate("logistic".into(), &probabilities(&margins))?;
    let mut candidates = vec![best_gbt, logistic];
    // Best first; the sort is stable, so a tie keeps the GBT first.
    candidates.sort_by(|a, b| b.cv_pr_auc.total_cmp(&a.cv_pr_auc));
    let (best, other) = (&candidates[0], &candidates[1]);
    let reason = format!(
        "PR-AUC {:.4} against {}'s {:.4} on the inner backtest; the GBT is {gbt_shape}, the lowest inner log-loss of {fits} fits ({} shape(s), then the best at {} other learning rate(s))",
        best.cv_pr_auc,
        other.name,
        other.cv_pr_auc,
        shapes.len(),
        rates.len() - 1
    );
    let served = best.name.clone();
    candidates.extend(gbts.into_iter().map(|(c, ..)| c));
    let val_days = days.iter().filter(|&&d| d >= inner).count();
    Ok(Chosen {
        selection: CardSelection {
            folds: 0,
            criterion: format!(
                "PR-AUC of each candidate's uncalibrated output on an inner backtest of the rows before the cutoff: fitted on as-of days before {} minus the {}-day purge ({} rows), scored on the {} as-of days from {} ({} rows); the GBT's shape, then its learning rate, and rounds (at most {}, early stopping after {} without gain) by the lowest inner log-loss; the held-out test days decide nothing",
                format_day(inner),
                cfg.horizon_days,
                fit_rows.len(),
                val_days,
                format_day(inner),
                val_rows.len(),
                own.iterations(),
                cfg.gbt_search.patience
            ),
            served,
            reason,
            candidates,
        },
        gbt,
    })
}

/// Train and calibration rows of a refit on everything: the latest
/// `fraction` of rows by time (whole days) calibrate.
fn latest_slice(ds: &Dataset, fraction: f64) -> Result<(Vec<usize>, Vec<usize>), TrainError> {
    let time = ds.time().ok_or(DatasetError::Missing { what: "time" })?;
    let mut sorted: Vec<i64> = time.to_vec();
    sorted.sort_unstable();
    let k = ((1.0 - fraction) * sorted.len() as f64).floor() as usize;
    let boundary = sorted[k.min(sorted.len() - 1)];
    let (cal, train): (Vec<usize>, Vec<usize>) =
        (0..ds.n_rows()).partition(|&i| time[i] >= boundary);
    for (part, rows) in [("train", &train), ("calibration", &cal)] {
        let pos = rows.iter().filter(|&&i| ds.y()[i]).count();
        if pos == 0 || pos == rows.len() {
            return Err(DatasetError::BadSplit {
                part,
                reason: format!("{} rows with {pos} positives in the final fit", rows.len()),
            }
            .into());
        }
    }
    Ok((train, cal))
}

/// The evaluation's metrics per model, with precision and recall at K
/// replaced by their weekly means.
fn weekly_metrics(
    ds: &Dataset,
    eval: &pulse_models::Evaluation,
    k: usize,
) -> Result<std::collections::BTreeMap<String, Metrics>, TrainError> {
    // The held-out rows' days and labels, and the probabilities `evaluate`
    // computed them from: no copy of the rows, no second prediction.
    let test = &eval.split.test;
    let days: Vec<i64> = match ds.time() {
        Some(t) => test.iter().map(|&i| t[i]).collect(),
        None => Vec::new(),
    };
    let y = ds.labels_of(test)?;
    let mut out = std::collections::BTreeMap::new();
    let mut put = |name: &str, mut m: Metrics, scores: &[f64]| {
        let (p, r) = weekly_at_k(scores, &y, &days, k);
        m.precision_at_k = p;
        m.recall_at_k = r;
        m.k = k;
        out.insert(name.to_string(), m);
    };
    put("gbt", eval.report.gbt.metrics.clone(), &eval.test.gbt);
    put(
        "logistic",
        eval.report.logistic.metrics.clone(),
        &eval.test.logistic,
    );
    if let (Some(probs), Some(rep)) = (&eval.test.scorecard, &eval.report.scorecard) {
        put("scorecard", rep.metrics.clone(), probs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_precision_and_recall_at_k() {
        // Day 1: 4 rows, 2 positives, ranked first and third. Day 2: 3 rows, no positive.
        let scores = [0.9, 0.8, 0.7, 0.1, 0.5, 0.4, 0.3];
        let labels = [true, false, true, false, false, false, false];
        let days = [1, 1, 1, 1, 2, 2, 2];
        let (p, r) = weekly_at_k(&scores, &labels, &days, 2);
        assert!((p - (0.5 + 0.0) / 2.0).abs() < 1e-12);
        assert!((r - 0.5).abs() < 1e-12);
        // K larger than a day: everything is contacted.
        let (p, r) = weekly_at_k(&scores, &labels, &days, 10);
        assert!((p - (0.5 + 0.0) / 2.0).abs() < 1e-12);
        assert!((r - 1.0).abs() < 1e-12);
    }

    #[test]
    fn cutoff_holds_out_the_latest_days() {
        let days: Vec<Day> = (0..20).map(|w| 100 + 7 * w).collect();
        assert_eq!(cutoff_day(&days, 0.25), 100 + 7 * 15);
        assert_eq!(cutoff_day(&days, 0.01), 100 + 7 * 19);
    }
}
