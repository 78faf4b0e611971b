//! Time to churn: a discrete-time hazard model over the point-in-time
//! features.
//!
//! Person-period rows: for an account that is a customer at the end of an
//! as-of day `t`, interval `k` covers the days `(t + k*I, t + (k+1)*I]`
//! (`I = interval_days`, 30 by default). Each row carries the features as of
//! `t` plus the interval index `k`; its label is "the account churned in that
//! interval". An account contributes intervals until the one it churns in
//! (the last row, labelled 1) or until the data ends: an interval that is not
//! fully observed by `data_end` is right-censored and left out, whether or
//! not a churn falls in its observed part (counting only observed churns of
//! a partial interval would overstate its hazard).
//!
//! The GBT of `pulse-models` fitted on these rows with log loss estimates the
//! hazard `h_k(x) = P(churn in interval k | no churn before it, x)`, and
//! `P(churn within d days) = 1 - prod_k (1 - h_k)^{overlap_k}` where
//! `overlap_k` is the share of interval `k` inside `(t, t + d]`. Every factor
//! is in `[0, 1]`, so the curve never decreases with the horizon. Horizons
//! past the last modelled interval repeat its hazard.
//!
//! The backtest holds out, for each horizon `h` of [`HORIZONS`], the as-of
//! days of the last `test_days` whose window `(t, t + h]` ends by the data's
//! last day (every one of those accounts has a known outcome), and trains on
//! person-periods censored at the first of them, so no training row sees a
//! day of the test period.

use std::collections::BTreeSet;

use ndarray::{Array2, ArrayView1, ArrayView2};
use pulse_core::SubscriptionKind;
use pulse_core::time::{Day, day_of_ts, format_day};
use pulse_features::{
    AccountHistory, churn_label, compute, end_of_day, is_customer_at, n_features,
};
use pulse_models::{
    CalibratedModel, CalibrationBin, Calibrator, GbtParams, Model, brier, calibration_table,
    expected_calibration_error, roc_auc,
};
use serde::{Deserialize, Serialize};

use crate::error::ForecastError;

/// The horizons (days) the model card and score responses report.
pub const HORIZONS: [i32; 4] = [30, 90, 180, 365];

/// The name of the interval-index column appended to the features.
pub const INTERVAL_COLUMN: &str = "hazard_interval";

/// Longest horizon a caller may ask for.
pub const MAX_HORIZON_DAYS: i32 = 730;

/// Settings of a survival fit. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurvivalConfig {
    /// Length of one hazard interval in days.
    pub interval_days: i32,
    /// Number of modelled intervals (13 x 30 days covers a year).
    pub intervals: usize,
    /// Days between the as-of days of person-period rows.
    pub step_days: i32,
    /// Days of data before the first as-of day (feature windows fill up).
    pub warmup_days: i32,
    /// Span of held-out as-of days per horizon in the backtest.
    pub test_days: i32,
    /// The hazard GBT.
    pub gbt: GbtParams,
}

impl Default for SurvivalConfig {
    fn default() -> Self {
        SurvivalConfig {
            interval_days: 30,
            intervals: 13,
            step_days: 28,
            warmup_days: 120,
            test_days: 84,
            gbt: GbtParams::new().iterations(100),
        }
    }
}

impl SurvivalConfig {
    /// Checks every setting; errors name the key.
    pub fn validate(&self) -> Result<(), ForecastError> {
        if !(1..=365).contains(&self.interval_days) {
            return Err(ForecastError::invalid(
                "interval_days",
                format!("{} is outside 1..=365", self.interval_days),
            ));
        }
        if !(1..=60).contains(&self.intervals) {
            return Err(ForecastError::invalid(
                "intervals",
                format!("{} is outside 1..=60", self.intervals),
            ));
        }
        if !(1..=91).contains(&self.step_days) {
            return Err(ForecastError::invalid(
                "step_days",
                format!("{} is outside 1..=91", self.step_days),
            ));
        }
        if !(0..=730).contains(&self.warmup_days) {
            return Err(ForecastError::invalid(
                "warmup_days",
                format!("{} is outside 0..=730", self.warmup_days),
            ));
        }
        if !(1..=365).contains(&self.test_days) {
            return Err(ForecastError::invalid(
                "test_days",
                format!("{} is outside 1..=365", self.test_days),
            ));
        }
        self.gbt.check_ref()?;
        Ok(())
    }
}

/// Person-period training rows. Each (account, as-of day) group's features
/// are kept once, in `features`, and read by its rows through `group`: the
/// matrix of every row (the group's features, then the interval index) is
/// never built whole, only a column at a time (see [`Self::column`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonPeriods {
    /// Features as of each group's as-of day, one row per group.
    pub features: Array2<f64>,
    /// Each row's group: a row of `features`.
    pub group: Vec<u32>,
    /// Churned in this interval.
    pub event: Vec<bool>,
    /// Index into the histories.
    pub account: Vec<usize>,
    pub as_of: Vec<Day>,
    pub interval: Vec<usize>,
}

impl PersonPeriods {
    pub fn len(&self) -> usize {
        self.event.len()
    }
    pub fn is_empty(&self) -> bool {
        self.event.is_empty()
    }

    /// Column `j` of the rows' matrix: feature `j` of each row's group, or,
    /// for `j` = the number of features, the interval index.
    pub fn column(&self, j: usize) -> Vec<f64> {
        if j == self.features.ncols() {
            return self.interval.iter().map(|&k| k as f64).collect();
        }
        let f = self.features.column(j);
        self.group.iter().map(|&g| f[g as usize]).collect()
    }
}

/// Days from the end of day `t` to the account's first churn after it
/// (1 = the next day), if any.
pub fn days_to_churn(h: &AccountHistory, t: Day) -> Option<i32> {
    let from = end_of_day(t);
    let k = h.subscriptions.partition_point(|e| e.occurred_at <= from);
    h.subscriptions[k..]
        .iter()
        .find(|e| e.kind == SubscriptionKind::Churn)
        .map(|e| day_of_ts(e.occurred_at) - t)
}

/// Feature names of the hazard model: the account features, then
/// [`INTERVAL_COLUMN`].
pub fn hazard_feature_names() -> Vec<String> {
    let mut v: Vec<String> = pulse_features::features()
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    v.push(INTERVAL_COLUMN.to_string());
    v
}

/// Person-period rows at as-of days `first, first + step, ... <= last`,
/// censored at `data_end` (see the module docs). Churn events after
/// `data_end` are ignored, so full histories can be censored at any day.
///
/// Built in two passes: the rows first, then each (account, as-of day)
/// group's features, computed once for all of its intervals' rows (about
/// 13 rows a group).
pub fn person_periods(
    hs: &[AccountHistory],
    first: Day,
    last: Day,
    data_end: Day,
    cfg: &SurvivalConfig,
) -> PersonPeriods {
    let nf = n_features();
    let i_days = cfg.interval_days.max(1);
    let step = cfg.step_days.max(1);
    let mut pp = PersonPeriods {
        features: Array2::zeros((0, nf)),
        group: Vec::new(),
        event: Vec::new(),
        account: Vec::new(),
        as_of: Vec::new(),
        interval: Vec::new(),
    };
    let mut groups: Vec<(usize, Day)> = Vec::new();
    let last = last.min(data_end - i_days);
    for (i, h) in hs.iter().enumerate() {
        let mut t = first;
        while t <= last {
            if is_customer_at(h, end_of_day(t)) {
                let churn = days_to_churn(h, t);
                let g = groups.len() as u32;
                for k in 0..cfg.intervals {
                    let end = (k as i32 + 1) * i_days;
                    if t + end > data_end {
                        break; // right-censored: not fully observed
                    }
                    let event = churn.is_some_and(|d| d <= end);
                    pp.group.push(g);
                    pp.event.push(event);
                    pp.account.push(i);
                    pp.as_of.push(t);
                    pp.interval.push(k);
                    if event {
                        break;
                    }
                }
                if pp.group.last() == Some(&g) {
                    groups.push((i, t));
                }
            }
            t += step;
        }
    }
    pp.features = group_features(hs, &groups);
    pp
}

/// Features of each (account, as-of day) group, one row per group, computed
/// on [`pulse_training::feature_threads`], each thread filling its own block of
/// rows: the same rows as computing them one after the other.
fn group_features(hs: &[AccountHistory], groups: &[(usize, Day)]) -> Array2<f64> {
    let nf = n_features();
    let mut features = Array2::<f64>::zeros((groups.len(), nf));
    if groups.is_empty() {
        return features;
    }
    let chunk = groups.len().div_ceil(pulse_training::feature_threads());
    let fill = |groups: &[(usize, Day)], out: &mut [f64]| {
        for (&(i, t), out) in groups.iter().zip(out.chunks_exact_mut(nf)) {
            compute(&hs[i], end_of_day(t), out);
        }
    };
    match features.as_slice_mut() {
        Some(cells) => std::thread::scope(|s| {
            for (g, out) in groups.chunks(chunk).zip(cells.chunks_mut(chunk * nf)) {
                s.spawn(move || fill(g, out));
            }
        }),
        None => unreachable!("a new array is in standard layout"),
    }
    features
}

/// `P(churn within days)` from per-interval hazards: `1 - prod (1 - h_k)`
/// over the intervals inside `(0, days]`, the last one by the share of it
/// covered, hazards past the last interval repeating it. Never decreases as
/// `days` grows; 0 for `days <= 0`.
pub fn churn_within(hazards: &[f64], interval_days: i32, days: i32) -> f64 {
    if days <= 0 || hazards.is_empty() {
        return 0.0;
    }
    let i_days = f64::from(interval_days.max(1));
    let mut log_survival = 0.0;
    let mut covered = 0.0;
    let total = f64::from(days);
    let mut k = 0usize;
    while covered < total {
        let h = hazards[k.min(hazards.len() - 1)].clamp(0.0, 1.0);
        let part = (total - covered).min(i_days) / i_days;
        if h >= 1.0 {
            return 1.0;
        }
        log_survival += part * (1.0 - h).ln();
        covered += i_days;
        k += 1;
    }
    (1.0 - log_survival.exp()).clamp(0.0, 1.0)
}

/// The churn curve of one account at the reported horizons.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChurnCurve {
    pub within_30d: f64,
    pub within_90d: f64,
    pub within_180d: f64,
    pub within_365d: f64,
    /// Before the next renewal (the `days_to_renewal` feature as of the
    /// as-of day); `None` when it is unknown.
    pub before_renewal: Option<f64>,
}

/// Calibration of the curve at one horizon on held-out as-of days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonCalibration {
    pub horizon_days: i32,
    /// Training person-periods end before this day; test as-of days start on it.
    pub cutoff: String,
    pub test_from: String,
    pub test_to: String,
    pub test_rows: usize,
    pub train_rows: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
    pub brier: f64,
    pub ece: f64,
    /// None when the held-out rows hold one class only.
    pub roc_auc: Option<f64>,
    pub table: Vec<CalibrationBin>,
}

/// The survival model's card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurvivalCard {
    pub version: String,
    pub created_at: String,
    pub data_start: String,
    pub data_end: String,
    pub interval_days: i32,
    pub intervals: usize,
    pub rows: usize,
    pub events: usize,
    pub accounts: usize,
    /// Held-out calibration per horizon (a horizon the data is too short for
    /// is missing and explained in `notes`).
    pub calibration: Vec<HorizonCalibration>,
    /// Forecast backtest rows, when `pulse forecast backtest` has run.
    #[serde(default)]
    pub forecast_backtest: Vec<crate::backtest::BacktestRow>,
    pub notes: Vec<String>,
}

/// A fitted hazard model and its card.
#[derive(Debug, Serialize, Deserialize)]
pub struct SurvivalModel {
    pub card: SurvivalCard,
    model: CalibratedModel,
}

impl SurvivalModel {
    /// Wraps a fitted hazard model (features + interval column).
    pub fn new(card: SurvivalCard, model: Model) -> Result<Self, ForecastError> {
        if model.feature_names() != hazard_feature_names().as_slice() {
            return Err(ForecastError::invalid(
                "model",
                "the hazard model's features are not this build's features plus the interval index",
            ));
        }
        Ok(SurvivalModel {
            card,
            model: CalibratedModel::new(model, Calibrator::Identity)?,
        })
    }

    /// Checks a deserialised model against this build's feature schema.
    pub fn check(&self) -> Result<(), ForecastError> {
        if self.model.feature_names() != hazard_feature_names().as_slice() {
            return Err(ForecastError::invalid(
                "model",
                "the survival model was trained on another feature schema; retrain with pulse train",
            ));
        }
        Ok(())
    }

    /// Per-interval hazards of each row of account features (one row per
    /// account, catalogue order): `rows x intervals`.
    ///
    /// Each account's person-period rows (its features and the interval
    /// index) are built one at a time in a small buffer, never as a
    /// `rows x intervals` matrix (at 50,000 accounts that matrix was most of
    /// a forecast's memory), and the accounts are split over the cores; every
    /// hazard is computed exactly as for a single row.
    pub fn hazards(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, ForecastError> {
        let k = self.card.intervals;
        let nf = n_features();
        if x.ncols() != nf {
            return Err(ForecastError::invalid(
                "features",
                format!("{} columns, expected {nf}", x.ncols()),
            ));
        }
        let n = x.nrows();
        let mut out = vec![0.0; n * k];
        if n == 0 || k == 0 {
            return Array2::from_shape_vec((n, k), out)
                .map_err(|e| ForecastError::invalid("features", e.to_string()));
        }
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let chunk = n.div_ceil(threads).max(1);
        let model = &self.model;
        let run = |first: usize, dst: &mut [f64]| -> Result<(), ForecastError> {
            let mut buf = vec![0.0; nf + 1];
            for (i, hz) in dst.chunks_mut(k).enumerate() {
                for (b, v) in buf.iter_mut().zip(x.row(first + i).iter()) {
                    *b = *v;
                }
                for (j, h) in hz.iter_mut().enumerate() {
                    buf[nf] = j as f64;
                    *h = model.probability_row(&buf)?;
                }
            }
            Ok(())
        };
        let results: Vec<Result<(), ForecastError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = out
                .chunks_mut(chunk * k)
                .enumerate()
                .map(|(c, dst)| {
                    let run = &run;
                    scope.spawn(move || run(c * chunk, dst))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(r) => r,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        results.into_iter().collect::<Result<(), _>>()?;
        Array2::from_shape_vec((n, k), out)
            .map_err(|e| ForecastError::invalid("features", e.to_string()))
    }

    /// The hazards the way they were computed before [`Self::hazards`]
    /// stopped building it: one `rows x intervals` person-period matrix
    /// predicted in one batch.
    #[cfg(test)]
    pub(crate) fn hazards_in_one_batch(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let (k, nf) = (self.card.intervals, n_features());
        let mut big = Array2::<f64>::zeros((x.nrows() * k, nf + 1));
        for (i, r) in x.rows().into_iter().enumerate() {
            for j in 0..k {
                let mut out = big.row_mut(i * k + j);
                for (c, v) in r.iter().enumerate() {
                    out[c] = *v;
                }
                out[nf] = j as f64;
            }
        }
        let p = self.model.predict_proba(big.view()).unwrap();
        Array2::from_shape_vec((x.nrows(), k), p.to_vec()).unwrap()
    }

    /// `P(churn within days)` for each row.
    pub fn churn_within(
        &self,
        x: ArrayView2<'_, f64>,
        days: i32,
    ) -> Result<Vec<f64>, ForecastError> {
        let hz = self.hazards(x)?;
        Ok(hz
            .rows()
            .into_iter()
            .map(|h| churn_within(&to_vec(h), self.card.interval_days, days))
            .collect())
    }

    /// The curve at [`HORIZONS`] for each row.
    pub fn curves(&self, x: ArrayView2<'_, f64>) -> Result<Vec<ChurnCurve>, ForecastError> {
        let hz = self.hazards(x)?;
        let i = self.card.interval_days;
        let renewal = pulse_features::feature_index("days_to_renewal");
        Ok(hz
            .rows()
            .into_iter()
            .zip(x.rows())
            .map(|(h, row)| {
                let h = to_vec(h);
                let before_renewal = renewal
                    .map(|j| row[j])
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .map(|d| churn_within(&h, i, (d.ceil() as i32).clamp(0, MAX_HORIZON_DAYS)));
                ChurnCurve {
                    within_30d: churn_within(&h, i, 30),
                    within_90d: churn_within(&h, i, 90),
                    within_180d: churn_within(&h, i, 180),
                    within_365d: churn_within(&h, i, 365),
                    before_renewal,
                }
            })
            .collect())
    }
}

fn to_vec(v: ArrayView1<'_, f64>) -> Vec<f64> {
    v.iter().copied().collect()
}

/// Fits the hazard GBT on the person-periods, a column at a time: their
/// whole matrix (7.2 M rows x 62 columns at 50,000 accounts) would be the
/// largest allocation of training, so forust bins each column as it is
/// built from the groups' features and holds only the bins.
fn fit_hazard(pp: &PersonPeriods, cfg: &SurvivalConfig) -> Result<Model, ForecastError> {
    let gbt = cfg.gbt.check_ref()?.fit_columns(
        pp.len(),
        hazard_feature_names(),
        |j| pp.column(j),
        &pp.event,
    )?;
    Ok(Model::Gbt(Box::new(gbt)))
}

/// Fits the hazard model on every fully observed person-period up to
/// `data_end` (default: the last day with an event) after backtesting its
/// calibration at each of [`HORIZONS`]. `created_at` is the caller's clock.
pub fn fit_survival(
    hs: &[AccountHistory],
    data_end: Option<Day>,
    cfg: &SurvivalConfig,
    created_at: &str,
) -> Result<SurvivalModel, ForecastError> {
    cfg.validate()?;
    let _span = tracing::info_span!("forecast::fit_survival", accounts = hs.len()).entered();
    let Some((start, last_event)) = span_of(hs) else {
        return Err(ForecastError::no_data(
            "the store holds no accounts with events; import data first",
        ));
    };
    let end = data_end.unwrap_or(last_event);
    let first = start + cfg.warmup_days;
    let mut notes = vec![format!(
        "discrete-time hazard: one row per account, as-of day (every {} days from {}) and {}-day interval while observed; label = churn in that interval; intervals not fully observed by the data end are right-censored and left out; hazard = GBT ({} trees) on the {} features plus the interval index; P(churn within d days) = 1 - prod(1 - hazard), monotone in d; past {} days the last interval's hazard repeats",
        cfg.step_days,
        format_day(first),
        cfg.interval_days,
        cfg.gbt.check_ref()?.iterations(),
        n_features(),
        cfg.interval_days * cfg.intervals as i32
    )];
    let mut calibration = Vec::new();
    for &h in &HORIZONS {
        match backtest_horizon(hs, first, end, h, cfg)? {
            Some(c) => calibration.push(c),
            None => notes.push(format!(
                "no held-out calibration at {h} days: the data ({} to {}) is too short to train before and observe {h} days after a test period",
                format_day(start),
                format_day(end)
            )),
        }
    }
    let pp = person_periods(hs, first, end, end, cfg);
    let events = pp.event.iter().filter(|&&e| e).count();
    if events == 0 || events == pp.len() {
        return Err(ForecastError::no_data(format!(
            "{events} churns in {} person-periods; the hazard model needs both outcomes",
            pp.len()
        )));
    }
    let model = fit_hazard(&pp, cfg)?;
    let accounts: BTreeSet<usize> = pp.account.iter().copied().collect();
    let card = SurvivalCard {
        version: "survival-unsaved".into(),
        created_at: created_at.to_string(),
        data_start: format_day(start),
        data_end: format_day(end),
        interval_days: cfg.interval_days,
        intervals: cfg.intervals,
        rows: pp.len(),
        events,
        accounts: accounts.len(),
        calibration,
        forecast_backtest: Vec::new(),
        notes,
    };
    SurvivalModel::new(card, model)
}

/// The hazard model alone, fitted on the person-periods fully observed by
/// `data_end` (no held-out calibration): what the forecast backtest fits at
/// each past quarter start.
pub fn fit_hazard_only(
    hs: &[AccountHistory],
    data_end: Day,
    cfg: &SurvivalConfig,
) -> Result<SurvivalModel, ForecastError> {
    cfg.validate()?;
    let Some((start, _)) = span_of(hs) else {
        return Err(ForecastError::no_data("no accounts with events"));
    };
    let first = start + cfg.warmup_days;
    if data_end - cfg.interval_days < first + 2 * cfg.step_days {
        return Err(ForecastError::no_data(format!(
            "{} leaves too little history after the {}-day warm-up",
            format_day(data_end),
            cfg.warmup_days
        )));
    }
    let pp = person_periods(hs, first, data_end, data_end, cfg);
    let events = pp.event.iter().filter(|&&e| e).count();
    if events == 0 || events == pp.len() {
        return Err(ForecastError::no_data(format!(
            "{events} churns in {} person-periods up to {}",
            pp.len(),
            format_day(data_end)
        )));
    }
    let model = fit_hazard(&pp, cfg)?;
    let card = SurvivalCard {
        version: format!("survival-as-of-{}", format_day(data_end)),
        created_at: String::new(),
        data_start: format_day(start),
        data_end: format_day(data_end),
        interval_days: cfg.interval_days,
        intervals: cfg.intervals,
        rows: pp.len(),
        events,
        accounts: 0,
        calibration: Vec::new(),
        forecast_backtest: Vec::new(),
        notes: Vec::new(),
    };
    SurvivalModel::new(card, model)
}

/// First and last day with a subscription event or usage: enough for the
/// span of the data the labels depend on.
fn span_of(hs: &[AccountHistory]) -> Option<(Day, Day)> {
    let mut span: Option<(Day, Day)> = None;
    let mut see = |d: Day| {
        span = Some(match span {
            None => (d, d),
            Some((a, b)) => (a.min(d), b.max(d)),
        })
    };
    for h in hs {
        for u in [h.usage.first(), h.usage.last()].into_iter().flatten() {
            see(u.day);
        }
        for e in [h.subscriptions.first(), h.subscriptions.last()]
            .into_iter()
            .flatten()
        {
            see(day_of_ts(e.occurred_at));
        }
        for i in [h.interactions.first(), h.interactions.last()]
            .into_iter()
            .flatten()
        {
            see(day_of_ts(i.opened_at));
        }
    }
    span
}

/// Held-out calibration at horizon `h`: train censored at the cutoff, test
/// on as-of days whose window is fully observed.
fn backtest_horizon(
    hs: &[AccountHistory],
    first: Day,
    end: Day,
    h: i32,
    cfg: &SurvivalConfig,
) -> Result<Option<HorizonCalibration>, ForecastError> {
    let last_test = end - h;
    let cutoff = last_test - cfg.test_days + 1;
    // Training needs a few as-of days with at least one observed interval.
    if cutoff - 1 - cfg.interval_days < first + 2 * cfg.step_days {
        return Ok(None);
    }
    let train = person_periods(hs, first, cutoff - 1, cutoff - 1, cfg);
    let events = train.event.iter().filter(|&&e| e).count();
    if events == 0 || events == train.len() {
        return Ok(None);
    }
    let model = SurvivalModel {
        card: SurvivalCard {
            version: String::new(),
            created_at: String::new(),
            data_start: String::new(),
            data_end: String::new(),
            interval_days: cfg.interval_days,
            intervals: cfg.intervals,
            rows: 0,
            events: 0,
            accounts: 0,
            calibration: Vec::new(),
            forecast_backtest: Vec::new(),
            notes: Vec::new(),
        },
        model: CalibratedModel::new(fit_hazard(&train, cfg)?, Calibrator::Identity)?,
    };
    // Test as-of days on the same grid as training, from the cutoff.
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    let mut t = first;
    while t < cutoff {
        t += cfg.step_days;
    }
    let (test_from, mut test_to) = (t, t);
    while t <= last_test {
        for (i, hist) in hs.iter().enumerate() {
            if let Some(l) = churn_label(hist, t, h) {
                rows.push((i, t));
                labels.push(l);
            }
        }
        test_to = t;
        t += cfg.step_days;
    }
    if labels.is_empty() {
        return Ok(None);
    }
    let x = group_features(hs, &rows);
    let p = model.churn_within(x.view(), h)?;
    let n = labels.len() as f64;
    let observed = labels.iter().filter(|&&l| l).count() as f64 / n;
    Ok(Some(HorizonCalibration {
        horizon_days: h,
        cutoff: format_day(cutoff),
        test_from: format_day(test_from),
        test_to: format_day(test_to),
        test_rows: labels.len(),
        train_rows: train.len(),
        mean_predicted: p.iter().sum::<f64>() / n,
        observed_rate: observed,
        brier: brier(&p, &labels)?,
        ece: expected_calibration_error(&p, &labels)?,
        roc_auc: roc_auc(&p, &labels).ok(),
        table: calibration_table(&p, &labels)?,
    }))
}
