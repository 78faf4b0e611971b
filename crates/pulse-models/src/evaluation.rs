//! Evaluation: train / calibration / test splits (time-based backtest or stratified random),
//! side-by-side metrics of the GBT, the logistic baseline and the rule-based scorecard,
//! feature-family ablation and mean-|contribution| importance.
//!
//! Time split (backtest): rows with `time < cutoff - gap` train, rows with `time >= cutoff` test.
//! Set `gap` to the label horizon so no training label resolves after the cutoff. The last
//! `calibration_fraction` of the training rows by time (whole time stamps kept together) become
//! the calibration slice, so calibration is also fitted on "later" data than the trees.
//!
//! Stratified split (tables without time): positives and negatives (or, with groups, groups with
//! and without a positive) are shuffled with a seed and cut into test / calibration / train.
//!
//! The scorecard needs no training, but its churn-risk (0-100) is not a probability: for the
//! probability metrics (Brier, ECE, log-loss) it is Platt-scaled on the same calibration slice,
//! which leaves its ranking metrics unchanged.

use ndarray::Axis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::calibration::{CalibrationMethod, Calibrator};
use crate::dataset::Dataset;
use crate::error::{DatasetError, ModelError};
use crate::explain::{AbsSums, FeatureImportance, ROW_BLOCK};
use crate::gbt::GbtParams;
use crate::logistic::LogisticParams;
use crate::metrics::{
    CalibrationBin, Curves, Metrics, TopK, average_precision, calibration_table, roc_auc,
};
use crate::model::{CalibratedModel, HyperParameters, Model};
use crate::rng::SplitMix64;
use crate::scorecard::{FittedScorecard, ScorecardConfig};

fn default_calibration_fraction() -> f64 {
    0.2
}

/// How rows are divided into train, calibration and test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Split {
    /// Backtest on `Dataset::time`.
    Time {
        cutoff: i64,
        #[serde(default)]
        gap: i64,
        #[serde(default = "default_calibration_fraction")]
        calibration_fraction: f64,
    },
    /// Stratified random split (by group when the dataset has groups).
    Stratified {
        test_fraction: f64,
        calibration_fraction: f64,
        seed: u64,
    },
}

impl Split {
    /// A backtest at `cutoff` with no gap and a 20% calibration slice.
    pub fn time(cutoff: i64) -> Self {
        Split::Time {
            cutoff,
            gap: 0,
            calibration_fraction: default_calibration_fraction(),
        }
    }
}

/// Row indices of the three parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitIndices {
    pub train: Vec<usize>,
    /// Empty when `calibration_fraction` is 0 (no calibration).
    pub calibration: Vec<usize>,
    pub test: Vec<usize>,
}

fn check_fraction(name: &'static str, f: f64) -> Result<(), DatasetError> {
    if !(0.0..1.0).contains(&f) {
        return Err(DatasetError::BadSplit {
            part: name,
            reason: format!("fraction {f} not in [0, 1)"),
        });
    }
    Ok(())
}

fn check_part(ds: &Dataset, part: &'static str, idx: &[usize]) -> Result<(), DatasetError> {
    let pos = idx.iter().filter(|&&i| ds.y()[i]).count();
    if idx.is_empty() || pos == 0 || pos == idx.len() {
        return Err(DatasetError::BadSplit {
            part,
            reason: format!(
                "{} rows with {pos} positives; both classes are needed",
                idx.len()
            ),
        });
    }
    Ok(())
}

impl Split {
    /// Divides `ds`; every non-empty part must contain both classes.
    pub fn indices(&self, ds: &Dataset) -> Result<SplitIndices, DatasetError> {
        let s = match *self {
            Split::Time {
                cutoff,
                gap,
                calibration_fraction,
            } => {
                check_fraction("calibration", calibration_fraction)?;
                let time = ds.time().ok_or(DatasetError::Missing { what: "time" })?;
                let test: Vec<usize> = (0..ds.n_rows()).filter(|&i| time[i] >= cutoff).collect();
                let mut train: Vec<usize> = (0..ds.n_rows())
                    .filter(|&i| time[i] < cutoff.saturating_sub(gap))
                    .collect();
                let mut calibration = Vec::new();
                if calibration_fraction > 0.0 && !train.is_empty() {
                    let mut times: Vec<i64> = train.iter().map(|&i| time[i]).collect();
                    times.sort_unstable();
                    let k = ((1.0 - calibration_fraction) * times.len() as f64).floor() as usize;
                    let boundary = times[k.min(times.len() - 1)];
                    // Whole time stamps stay together; if the boundary is the earliest time the
                    // training part would be empty, so take the next time stamp instead.
                    let boundary = if boundary == times[0] {
                        times
                            .iter()
                            .copied()
                            .find(|&t| t > boundary)
                            .unwrap_or(i64::MAX)
                    } else {
                        boundary
                    };
                    calibration = train
                        .iter()
                        .copied()
                        .filter(|&i| time[i] >= boundary)
                        .collect();
                    train.retain(|&i| time[i] < boundary);
                    if calibration.is_empty() {
                        return Err(DatasetError::BadSplit {
                            part: "calibration",
                            reason: "the training period has a single time stamp".into(),
                        });
                    }
                }
                SplitIndices {
                    train,
                    calibration,
                    test,
                }
            }
            Split::Stratified {
                test_fraction,
                calibration_fraction,
                seed,
            } => {
                check_fraction("test", test_fraction)?;
                check_fraction("calibration", calibration_fraction)?;
                if test_fraction + calibration_fraction >= 1.0 {
                    return Err(DatasetError::BadSplit {
                        part: "train",
                        reason: "test + calibration fractions leave no training rows".into(),
                    });
                }
                stratified(ds, test_fraction, calibration_fraction, seed)
            }
        };
        check_part(ds, "train", &s.train)?;
        check_part(ds, "test", &s.test)?;
        if !s.calibration.is_empty() {
            check_part(ds, "calibration", &s.calibration)?;
        }
        Ok(s)
    }
}

fn stratified(ds: &Dataset, test_f: f64, cal_f: f64, seed: u64) -> SplitIndices {
    // Units: groups when present, else rows. A unit is "positive" if any of its rows is.
    let mut units: BTreeMap<i64, (bool, Vec<usize>)> = BTreeMap::new();
    for i in 0..ds.n_rows() {
        let key = ds.groups().map_or(i as i64, |g| g[i]);
        let e = units.entry(key).or_insert((false, Vec::new()));
        e.0 |= ds.y()[i];
        e.1.push(i);
    }
    let mut rng = SplitMix64::new(seed);
    let mut out = SplitIndices {
        train: Vec::new(),
        calibration: Vec::new(),
        test: Vec::new(),
    };
    for class in [true, false] {
        let mut members: Vec<&Vec<usize>> = units
            .values()
            .filter(|(p, _)| *p == class)
            .map(|(_, rows)| rows)
            .collect();
        rng.shuffle(&mut members);
        let n = members.len() as f64;
        let n_test = (test_f * n).round() as usize;
        let n_cal = (cal_f * n).round() as usize;
        for (k, rows) in members.into_iter().enumerate() {
            let part = if k < n_test {
                &mut out.test
            } else if k < n_test + n_cal {
                &mut out.calibration
            } else {
                &mut out.train
            };
            part.extend_from_slice(rows);
        }
    }
    out.train.sort_unstable();
    out.calibration.sort_unstable();
    out.test.sort_unstable();
    out
}

/// What to train and how to score it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    pub gbt: GbtParams,
    pub logistic: LogisticParams,
    pub calibration: CalibrationMethod,
    /// The rule-based baseline; skipped when `None`.
    pub scorecard: Option<ScorecardConfig>,
    pub top_k: TopK,
}

/// Metrics and reliability of one model on the test part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    pub metrics: Metrics,
    /// The calibrator actually used (Auto resolves to Platt or isotonic).
    pub calibration: CalibrationMethod,
    pub calibration_table: Vec<CalibrationBin>,
    /// ROC and precision-recall curves on the test part (at most
    /// `CURVE_POINTS` points each).
    #[serde(default)]
    pub curves: Curves,
}

/// Points kept per curve in reports and model cards.
pub const CURVE_POINTS: usize = 101;

/// Serializable summary of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationReport {
    pub n_train: usize,
    pub n_calibration: usize,
    pub n_test: usize,
    /// Positive rate of the training part.
    pub train_positive_rate: f64,
    pub gbt: ModelReport,
    pub logistic: ModelReport,
    pub scorecard: Option<ModelReport>,
    /// Mean |TreeSHAP| of the GBT on the test part, largest first.
    pub gbt_importance: Vec<FeatureImportance>,
}

impl EvaluationReport {
    /// Each model's held-out curves, by name (`gbt`, `logistic`, `scorecard`).
    pub fn curves(&self) -> BTreeMap<String, Curves> {
        let mut m = BTreeMap::new();
        m.insert("gbt".to_string(), self.gbt.curves.clone());
        m.insert("logistic".to_string(), self.logistic.curves.clone());
        if let Some(sc) = &self.scorecard {
            m.insert("scorecard".to_string(), sc.curves.clone());
        }
        m
    }
}

/// An evaluation's report plus the fitted models (trained on the train part).
#[derive(Debug)]
pub struct Evaluation {
    pub report: EvaluationReport,
    pub split: SplitIndices,
    pub gbt: CalibratedModel,
    pub logistic: CalibratedModel,
    pub scorecard: Option<FittedScorecard>,
    /// The probabilities the report was computed from.
    pub test: TestProbabilities,
}

/// Each model's calibrated probability of every held-out row, in the order
/// of `split.test`: what the report's metrics were computed from, kept so
/// that figures over the same rows (per as-of day, say) need neither a copy
/// of the rows nor a second prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct TestProbabilities {
    pub gbt: Vec<f64>,
    pub logistic: Vec<f64>,
    /// The scorecard's churn risk, Platt-scaled on the calibration rows
    /// (when a scorecard is configured).
    pub scorecard: Option<Vec<f64>>,
}

fn report(
    probs: &[f64],
    labels: &[bool],
    calibration: CalibrationMethod,
    top_k: TopK,
) -> Result<ModelReport, ModelError> {
    Ok(ModelReport {
        metrics: Metrics::compute(probs, labels, top_k)?,
        calibration,
        calibration_table: calibration_table(probs, labels)?,
        curves: Curves::compute(probs, labels, CURVE_POINTS)?,
    })
}

/// Trains a model on `train` and calibrates it on `calibration` (identity if `None`).
pub fn fit_calibrated(
    model: Model,
    calibration: Option<&Dataset>,
    method: CalibrationMethod,
) -> Result<CalibratedModel, ModelError> {
    match calibration {
        Some(c) => CalibratedModel::calibrate(model, c, method),
        None => CalibratedModel::new(model, Calibrator::Identity),
    }
}

/// Trains GBT and logistic on the train part, calibrates on the calibration part, and reports
/// all three models (scorecard included when configured) on the test part.
pub fn evaluate(
    ds: &Dataset,
    split: &Split,
    config: &TrainingConfig,
) -> Result<Evaluation, ModelError> {
    let gbt_params = config.gbt.check_ref()?;
    let logistic_params = config.logistic.check_ref()?;
    if let Some(sc) = &config.scorecard {
        sc.validate()?;
    }
    let idx = split.indices(ds)?;

    // Every model reads its training rows straight from `ds`, without a
    // copy of them, and is fitted before the calibration and test rows are
    // copied (peak memory: the fits' own buffers and those copies are not
    // held at once).
    let gbt = Model::Gbt(Box::new(gbt_params.fit_rows(ds, &idx.train)?));
    let logistic = Model::Logistic(logistic_params.fit_rows(ds, &idx.train)?);
    let train_labels = ds.labels_of(&idx.train)?;
    // The scorecard: its grids, and its churn risk Platt-scaled.
    // Centre and scale risk so Platt's Newton iterations start well conditioned.
    let to_margin = |r: f64| (r - 50.0) / 10.0;
    let scorecard = match &config.scorecard {
        None => None,
        Some(sc) => Some(sc.fit_rows(ds.x(), &idx.train, ds.feature_names())?),
    };
    let (gbt, logistic, scorecard_calibrator) = {
        let cal = if idx.calibration.is_empty() {
            None
        } else {
            Some(ds.select_rows(&idx.calibration)?)
        };
        let gbt = fit_calibrated(gbt, cal.as_ref(), config.calibration)?;
        let logistic = fit_calibrated(logistic, cal.as_ref(), config.calibration)?;
        let scorecard_calibrator = match &scorecard {
            None => None,
            Some(fitted) => {
                // Platt-scaled on the calibration rows, or on the training
                // rows when there are none.
                let train;
                let rows = match &cal {
                    Some(c) => c,
                    None => {
                        train = ds.select_rows(&idx.train)?;
                        &train
                    }
                };
                let m: Vec<f64> = fitted
                    .churn_risk(rows.x())?
                    .into_iter()
                    .map(to_margin)
                    .collect();
                Some(Calibrator::fit_platt(&m, rows.y())?)
            }
        };
        (gbt, logistic, scorecard_calibrator)
    };

    // The held-out rows are predicted and explained a block at a time,
    // straight from `ds`: neither a copy of them all (0.4 GB at 50,000
    // accounts) nor their whole matrix of contributions is held. Every row
    // is predicted as alone, so the figures are those of all rows at once.
    let labels = ds.labels_of(&idx.test)?;
    let n_test = idx.test.len();
    let mut gbt_probs = Vec::with_capacity(n_test);
    let mut logistic_probs = Vec::with_capacity(n_test);
    let mut scorecard_probs = Vec::with_capacity(n_test);
    let mut importance = AbsSums::new(ds.n_features());
    for rows in idx.test.chunks(ROW_BLOCK) {
        let x = ds.x().select(Axis(0), rows);
        gbt_probs.extend(gbt.predict_proba(x.view())?.iter().copied());
        logistic_probs.extend(logistic.predict_proba(x.view())?.iter().copied());
        if let (Some(fitted), Some(calibrator)) = (&scorecard, &scorecard_calibrator) {
            scorecard_probs.extend(
                fitted
                    .churn_risk(x.view())?
                    .into_iter()
                    .map(|r| calibrator.probability(to_margin(r))),
            );
        }
        importance.add(&gbt.model().contributions(x.view())?);
    }
    let gbt_report = report(&gbt_probs, &labels, gbt.calibrator().method(), config.top_k)?;
    let logistic_report = report(
        &logistic_probs,
        &labels,
        logistic.calibrator().method(),
        config.top_k,
    )?;
    let scorecard_report = match (&scorecard, &scorecard_calibrator) {
        (Some(_), Some(_)) => Some(report(
            &scorecard_probs,
            &labels,
            CalibrationMethod::Platt,
            config.top_k,
        )?),
        _ => None,
    };
    let gbt_importance = importance.mean_abs(gbt.model().feature_names());
    let has_scorecard = scorecard_report.is_some();
    Ok(Evaluation {
        report: EvaluationReport {
            n_train: idx.train.len(),
            n_calibration: idx.calibration.len(),
            n_test: idx.test.len(),
            train_positive_rate: train_labels.iter().filter(|&&b| b).count() as f64
                / train_labels.len() as f64,
            gbt: gbt_report,
            logistic: logistic_report,
            scorecard: scorecard_report,
            gbt_importance,
        },
        split: idx,
        gbt,
        logistic,
        scorecard,
        test: TestProbabilities {
            gbt: gbt_probs,
            logistic: logistic_probs,
            scorecard: has_scorecard.then_some(scorecard_probs),
        },
    })
}

/// The model to serve once the evaluation is reported: `params` fitted on
/// every row of `ds`, calibrated (`method`) on out-of-fold margins: each row's
/// margin from a model fitted on the `folds - 1` other folds (stratified,
/// from `seed`). No row is set aside for calibration, and the calibration
/// never sees a margin of a model that trained on that row (scikit-learn's
/// `CalibratedClassifierCV(ensemble=False)` does the same).
pub fn refit_cross_calibrated(
    ds: &Dataset,
    params: &HyperParameters,
    method: CalibrationMethod,
    folds: usize,
    seed: u64,
) -> Result<CalibratedModel, ModelError> {
    let folds = folds.max(2);
    let labels = ds.y();
    let fold = crate::selection::stratified_folds(labels, folds, seed);
    let mut oof = vec![0.0; labels.len()];
    for f in 0..folds {
        let (held, train): (Vec<usize>, Vec<usize>) =
            (0..labels.len()).partition(|&i| fold[i] == f);
        if held.is_empty() {
            continue;
        }
        let model = params.fit(&ds.select_rows(&train)?)?;
        let margins = model.margins(ds.select_rows(&held)?.x())?;
        for (i, m) in held.into_iter().zip(margins) {
            oof[i] = m;
        }
    }
    let calibrator = Calibrator::fit(method, &oof, labels)?;
    CalibratedModel::new(params.fit(ds)?, calibrator)
}

/// Time-based backtest: train before `cutoff` (last 20% of that period calibrates), test at or
/// after it. Use [`evaluate`] with [`Split::Time`] to set a gap or another calibration share.
pub fn backtest(
    ds: &Dataset,
    cutoff: i64,
    config: &TrainingConfig,
) -> Result<Evaluation, ModelError> {
    evaluate(ds, &Split::time(cutoff), config)
}

/// A named set of columns removed together in an ablation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureFamily {
    pub name: String,
    pub features: Vec<String>,
}

/// Test ROC-AUC / PR-AUC of the GBT without one family, and the change from the full model
/// (negative delta = the family helps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationResult {
    pub family: String,
    pub dropped: Vec<String>,
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub delta_roc_auc: f64,
    pub delta_pr_auc: f64,
}

/// Baseline and one result per family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationReport {
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub families: Vec<AblationResult>,
}

/// Retrains the GBT without each family in turn. Ranking metrics ignore calibration, so the
/// models train on the train and calibration parts together and are scored by raw margin.
pub fn ablation(
    ds: &Dataset,
    split: &Split,
    gbt: &GbtParams,
    families: &[FeatureFamily],
) -> Result<AblationReport, ModelError> {
    let params = gbt.check_ref()?;
    let idx = split.indices(ds)?;
    let mut fit_rows = idx.train.clone();
    fit_rows.extend_from_slice(&idx.calibration);
    let score = |d: &Dataset| -> Result<(f64, f64), ModelError> {
        let train = d.select_rows(&fit_rows)?;
        let test = d.select_rows(&idx.test)?;
        let m = params.fit(&train)?.margins(test.x())?;
        let m = m.as_slice().unwrap_or(&[]);
        Ok((roc_auc(m, test.y())?, average_precision(m, test.y())?))
    };
    let (base_roc, base_pr) = score(ds)?;
    let mut results = Vec::with_capacity(families.len());
    for f in families {
        let reduced = ds.drop_features(&f.features)?;
        let (roc, pr) = score(&reduced)?;
        results.push(AblationResult {
            family: f.name.clone(),
            dropped: f.features.clone(),
            roc_auc: roc,
            pr_auc: pr,
            delta_roc_auc: roc - base_roc,
            delta_pr_auc: pr - base_pr,
        });
    }
    Ok(AblationReport {
        roc_auc: base_roc,
        pr_auc: base_pr,
        families: results,
    })
}

/// How well one feature alone separates the classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureAuc {
    pub feature: String,
    /// ROC-AUC of the raw value as a score, missing values ranked lowest.
    pub roc_auc: f64,
    /// `max(auc, 1 - auc)` over both directions and both placements of missing values
    /// (lowest and highest), so a feature whose mere absence gives the label away counts too.
    pub separation: f64,
}

/// The leakage screen of a training set: every feature that alone separates the classes at
/// least as well as `threshold`, and the strongest features whatever their value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakageReport {
    pub threshold: f64,
    /// Features with `separation >= threshold`, strongest first.
    pub flagged: Vec<FeatureAuc>,
    /// The five features with the highest separation, strongest first.
    pub strongest: Vec<FeatureAuc>,
}

/// Single-feature ROC-AUC of every column of `ds`, in column order.
///
/// A feature that predicts a forward-looking label this well on its own is more likely to be
/// computed from the outcome (leakage) than to be that good: see [`leakage_screen`].
pub fn feature_aucs(ds: &Dataset) -> Result<Vec<FeatureAuc>, ModelError> {
    aucs_of(ds, None)
}

/// [`feature_aucs`] of the rows `rows` of `ds`, or of every row.
fn aucs_of(ds: &Dataset, rows: Option<&[usize]>) -> Result<Vec<FeatureAuc>, ModelError> {
    let x = ds.x();
    let labels = match rows {
        Some(rows) => std::borrow::Cow::Owned(ds.labels_of(rows)?),
        None => std::borrow::Cow::Borrowed(ds.y()),
    };
    let y = labels.as_ref();
    let mut out = Vec::with_capacity(ds.n_features());
    let mut low = vec![0.0; y.len()];
    let mut high = vec![0.0; y.len()];
    for (j, name) in ds.feature_names().iter().enumerate() {
        let column = x.column(j);
        let values: Box<dyn Iterator<Item = &f64>> = match rows {
            Some(rows) => Box::new(rows.iter().map(|&i| &column[i])),
            None => Box::new(column.iter()),
        };
        for (i, v) in values.enumerate() {
            (low[i], high[i]) = if v.is_nan() {
                (f64::MIN, f64::MAX)
            } else {
                (*v, *v)
            };
        }
        let a = roc_auc(&low, y)?;
        let b = roc_auc(&high, y)?;
        out.push(FeatureAuc {
            feature: name.clone(),
            roc_auc: a,
            separation: a.max(1.0 - a).max(b).max(1.0 - b),
        });
    }
    Ok(out)
}

/// Screens `ds` (the training rows) for features that alone reach `threshold` separation
/// (ROC-AUC or 1 - ROC-AUC). Callers fail the run when `flagged` is not empty unless a person
/// has overridden the gate.
pub fn leakage_screen(ds: &Dataset, threshold: f64) -> Result<LeakageReport, ModelError> {
    screen(ds, None, threshold)
}

/// [`leakage_screen`] of the rows `rows` of `ds`: the same report as
/// screening `ds.select_rows(rows)`, without that copy.
pub fn leakage_screen_rows(
    ds: &Dataset,
    rows: &[usize],
    threshold: f64,
) -> Result<LeakageReport, ModelError> {
    screen(ds, Some(rows), threshold)
}

fn screen(
    ds: &Dataset,
    rows: Option<&[usize]>,
    threshold: f64,
) -> Result<LeakageReport, ModelError> {
    if !(threshold > 0.5 && threshold <= 1.0) {
        return Err(crate::error::ParamError::new("threshold", "in (0.5, 1]", threshold).into());
    }
    let mut all = aucs_of(ds, rows)?;
    all.sort_by(|a, b| b.separation.total_cmp(&a.separation));
    let flagged = all
        .iter()
        .filter(|f| f.separation >= threshold)
        .cloned()
        .collect();
    all.truncate(5);
    Ok(LeakageReport {
        threshold,
        flagged,
        strongest: all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scorecard::{Component, Direction, ScorecardInput};
    use crate::testutil::{interaction_problem, linear_problem};

    fn small_gbt() -> GbtParams {
        GbtParams::new().iterations(60)
    }

    #[test]
    fn the_served_refit_uses_every_row_and_out_of_fold_calibration() {
        let ds = linear_problem(800, 3);
        let params = HyperParameters::Gbt(GbtParams::new().iterations(40).check().unwrap());
        let served = refit_cross_calibrated(&ds, &params, CalibrationMethod::Platt, 5, 7).unwrap();
        // The model is the one fitted on every row.
        let full = params.fit(&ds).unwrap();
        let margins = full.margins(ds.x()).unwrap();
        assert_eq!(served.model().margins(ds.x()).unwrap(), margins);
        // Its calibration saw only out-of-fold margins: not the map fitted
        // on the model's own (over-confident) in-sample margins, which has
        // the flatter slope.
        let in_sample = Calibrator::fit_platt(margins.as_slice().unwrap(), ds.y()).unwrap();
        let (Calibrator::Platt { a: a_oof, .. }, Calibrator::Platt { a: a_in, .. }) =
            (served.calibrator(), &in_sample)
        else {
            panic!("Platt expected");
        };
        assert!(
            a_oof < a_in,
            "out-of-fold slope {a_oof} vs in-sample {a_in}"
        );
        // Deterministic for a seed.
        let again = refit_cross_calibrated(&ds, &params, CalibrationMethod::Platt, 5, 7).unwrap();
        assert_eq!(again.calibrator(), served.calibrator());
    }

    #[test]
    fn time_split_respects_cutoff_gap_and_calibration_slice() {
        let ds = linear_problem(1000, 1); // time = row index
        let s = Split::Time {
            cutoff: 800,
            gap: 50,
            calibration_fraction: 0.25,
        }
        .indices(&ds)
        .unwrap();
        assert_eq!(s.test, (800..1000).collect::<Vec<_>>());
        assert_eq!(s.train, (0..562).collect::<Vec<_>>());
        assert_eq!(s.calibration, (562..750).collect::<Vec<_>>());
        assert!(matches!(
            Split::time(5000).indices(&ds),
            Err(DatasetError::BadSplit { part: "test", .. })
        ));
        let no_time = ds.select_rows(&(0..100).collect::<Vec<_>>()).unwrap();
        let (x, y, n, _, _) = no_time.into_parts();
        let no_time = Dataset::new(x, y, n).unwrap();
        assert!(matches!(
            Split::time(50).indices(&no_time),
            Err(DatasetError::Missing { .. })
        ));
        // A training period with one time stamp cannot give a calibration slice.
        let stamps = (0..1000).map(|i| if i < 800 { 0 } else { 9 }).collect();
        let one_stamp = ds.clone().with_time(stamps).unwrap();
        assert!(matches!(
            Split::time(9).indices(&one_stamp),
            Err(DatasetError::BadSplit {
                part: "calibration",
                ..
            })
        ));
    }

    #[test]
    fn stratified_split_is_disjoint_stratified_and_group_aware() {
        let (ds, _) = interaction_problem(1000, 2);
        let split = Split::Stratified {
            test_fraction: 0.2,
            calibration_fraction: 0.2,
            seed: 7,
        };
        let s = split.indices(&ds).unwrap();
        let mut all: Vec<usize> = s
            .train
            .iter()
            .chain(&s.calibration)
            .chain(&s.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        let rate =
            |idx: &[usize]| idx.iter().filter(|&&i| ds.y()[i]).count() as f64 / idx.len() as f64;
        assert!((rate(&s.test) - ds.positive_rate()).abs() < 0.01);
        assert_eq!(
            split.indices(&ds).unwrap(),
            s,
            "seeded split must be reproducible"
        );
        // Groups of 4 rows stay together.
        let grouped = ds
            .clone()
            .with_groups((0..1000).map(|i| i / 4).collect())
            .unwrap();
        let s = split.indices(&grouped).unwrap();
        for part in [&s.train, &s.calibration, &s.test] {
            for &i in part.iter() {
                let g = i / 4;
                assert!((g * 4..g * 4 + 4).all(|j| part.contains(&j)));
            }
        }
        assert!(matches!(
            Split::Stratified {
                test_fraction: 0.6,
                calibration_fraction: 0.5,
                seed: 1
            }
            .indices(&ds),
            Err(DatasetError::BadSplit { .. })
        ));
    }

    /// The interaction `a * b` is invisible to a linear model; the trees must win clearly.
    #[test]
    fn gbt_beats_logistic_on_interaction_and_scorecard_runs() {
        let (ds, _) = interaction_problem(3000, 3);
        let ds = ds.with_time((0..3000).collect()).unwrap();
        let config = TrainingConfig {
            gbt: small_gbt(),
            scorecard: Some(ScorecardConfig {
                weights: Default::default(),
                inputs: vec![
                    ScorecardInput::new("c", Component::Adoption, Direction::HigherIsRiskier),
                    ScorecardInput::new("d", Component::Support, Direction::HigherIsRiskier),
                ],
            }),
            ..Default::default()
        };
        let e = backtest(&ds, 2400, &config).unwrap();
        let r = &e.report;
        assert_eq!((r.n_train, r.n_calibration, r.n_test), (1920, 480, 600));
        assert!(
            r.gbt.metrics.roc_auc > r.logistic.metrics.roc_auc + 0.1,
            "gbt {} vs logistic {}",
            r.gbt.metrics.roc_auc,
            r.logistic.metrics.roc_auc
        );
        let sc = r.scorecard.as_ref().unwrap();
        assert!(sc.metrics.roc_auc > 0.55 && sc.metrics.roc_auc < r.gbt.metrics.roc_auc);
        assert_eq!(sc.calibration, CalibrationMethod::Platt);
        assert_ne!(r.gbt.calibration, CalibrationMethod::Auto);
        // Importance: the noise column is last, well below the signal columns.
        let top: Vec<&str> = r
            .gbt_importance
            .iter()
            .take(3)
            .map(|f| f.feature.as_str())
            .collect();
        assert!(
            top.contains(&"a") && top.contains(&"b"),
            "{:?}",
            r.gbt_importance
        );
        assert_eq!(r.gbt_importance.last().unwrap().feature, "d");
        assert!(
            r.gbt_importance[3].mean_abs_contribution
                < 0.5 * r.gbt_importance[2].mean_abs_contribution
        );
        let json = serde_json::to_string(&e.report).unwrap();
        let back: EvaluationReport = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, r);
    }

    #[test]
    fn held_out_rows_in_blocks_give_the_figures_of_all_rows_at_once() {
        // More held-out rows than one block, the last block not full.
        let (ds, _) = interaction_problem(50_000, 9);
        let ds = ds.with_time((0..50_000).collect()).unwrap();
        let config = TrainingConfig {
            gbt: GbtParams::new().iterations(20),
            scorecard: Some(ScorecardConfig {
                weights: Default::default(),
                inputs: vec![ScorecardInput::new(
                    "c",
                    Component::Adoption,
                    Direction::HigherIsRiskier,
                )],
            }),
            ..Default::default()
        };
        let e = backtest(&ds, 10_000, &config).unwrap();
        assert_eq!(e.split.test.len(), 40_000);
        let test = ds.select_rows(&e.split.test).unwrap();
        let whole = |m: &CalibratedModel| {
            let probs = m.predict_proba(test.x()).unwrap();
            report(
                probs.as_slice().unwrap(),
                test.y(),
                m.calibrator().method(),
                config.top_k,
            )
            .unwrap()
        };
        assert_eq!(e.report.gbt, whole(&e.gbt));
        assert_eq!(e.report.logistic, whole(&e.logistic));
        // The kept probabilities are those of all rows at once, in order.
        let all = |m: &CalibratedModel| m.predict_proba(test.x()).unwrap().to_vec();
        assert_eq!(e.test.gbt, all(&e.gbt));
        assert_eq!(e.test.logistic, all(&e.logistic));
        let fitted = e.scorecard.as_ref().unwrap();
        let risk = fitted.churn_risk(test.x()).unwrap();
        let kept = e.test.scorecard.as_ref().unwrap();
        assert_eq!(kept.len(), risk.len());
        // Platt's scaling of the risk: the rows sorted by risk have their
        // probabilities in order too (rising or falling with the slope's
        // sign).
        let mut by_risk: Vec<usize> = (0..risk.len()).collect();
        by_risk.sort_by(|&a, &b| risk[a].total_cmp(&risk[b]));
        let sorted: Vec<f64> = by_risk.iter().map(|&i| kept[i]).collect();
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]) || sorted.windows(2).all(|w| w[0] >= w[1]));
        assert!(sorted[0] != sorted[sorted.len() - 1]);
        assert_eq!(
            e.report.gbt_importance,
            e.gbt.model().contributions(test.x()).unwrap().mean_abs()
        );
        assert!(e.report.scorecard.is_some());
    }

    #[test]
    fn ablation_shows_the_interaction_family_matters() {
        let (ds, _) = interaction_problem(2000, 4);
        let split = Split::Stratified {
            test_fraction: 0.3,
            calibration_fraction: 0.0,
            seed: 1,
        };
        let families = vec![
            FeatureFamily {
                name: "interaction".into(),
                features: vec!["a".into(), "b".into()],
            },
            FeatureFamily {
                name: "noise".into(),
                features: vec!["d".into()],
            },
        ];
        let r = ablation(&ds, &split, &small_gbt(), &families).unwrap();
        assert!(r.families[0].delta_roc_auc < -0.1, "{r:?}");
        assert!(r.families[1].delta_roc_auc.abs() < 0.03, "{r:?}");
        let bad = vec![FeatureFamily {
            name: "x".into(),
            features: vec!["zzz".into()],
        }];
        assert!(ablation(&ds, &split, &small_gbt(), &bad).is_err());
    }

    #[test]
    fn invalid_params_are_rejected_before_training() {
        let ds = linear_problem(500, 1);
        let config = TrainingConfig {
            gbt: GbtParams::new().max_depth(0),
            ..Default::default()
        };
        assert!(matches!(
            backtest(&ds, 400, &config),
            Err(ModelError::Param(_))
        ));
    }

    #[test]
    fn leakage_screen_flags_a_feature_that_gives_the_label_away() {
        let (ds, _) = interaction_problem(1000, 6);
        let r = leakage_screen(&ds, 0.9).unwrap();
        assert!(r.flagged.is_empty(), "{r:?}");
        assert_eq!(r.strongest.len(), 4);
        // Add the label itself, inverted, and a column that is missing exactly for positives.
        let (x, y, mut names, _, _) = ds.into_parts();
        let n = y.len();
        let mut cols = x.clone();
        let leak: Vec<f64> = y.iter().map(|&l| if l { 0.0 } else { 1.0 }).collect();
        let gone: Vec<f64> = y.iter().map(|&l| if l { f64::NAN } else { 3.0 }).collect();
        cols.push_column(ndarray::ArrayView1::from(&leak)).unwrap();
        cols.push_column(ndarray::ArrayView1::from(&gone)).unwrap();
        names.push("leak".into());
        names.push("gone".into());
        let ds = Dataset::new(cols, y, names).unwrap();
        let r = leakage_screen(&ds, 0.9).unwrap();
        let flagged: Vec<&str> = r.flagged.iter().map(|f| f.feature.as_str()).collect();
        assert_eq!(flagged.len(), 2, "{r:?}");
        assert!(flagged.contains(&"leak") && flagged.contains(&"gone"));
        let leak = r.flagged.iter().find(|f| f.feature == "leak").unwrap();
        assert!(leak.roc_auc < 0.01 && (leak.separation - 1.0).abs() < 1e-12);
        assert_eq!(n, 1000);
        assert!(leakage_screen(&ds, 0.4).is_err());
        // On some rows, in another order: the report of screening their copy.
        let rows: Vec<usize> = (0..n).rev().filter(|i| i % 3 != 0).collect();
        assert_eq!(
            leakage_screen_rows(&ds, &rows, 0.9).unwrap(),
            leakage_screen(&ds.select_rows(&rows).unwrap(), 0.9).unwrap()
        );
        assert!(leakage_screen_rows(&ds, &[n], 0.9).is_err());
    }
}
