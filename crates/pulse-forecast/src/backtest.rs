//! The forecast backtest: at each past quarter start in the data, forecast
//! the quarter with models trained only on what was known the day before,
//! then compare with what happened.
//!
//! Point in time: the survival model and the expansion GBT are fitted with
//! `data_end` = the day before the quarter (person-periods and labels are
//! censored there, features read nothing later), the population and its
//! ARR are as of the end of that day, and the assumptions (expansion uplift,
//! contraction rate) come from the quarter before. Only the comparison reads
//! the quarter itself.

use ndarray::Array2;
use pulse_core::time::{Day, format_day};
use pulse_features::{AccountHistory, compute, end_of_day, is_customer_at, mrr_at, n_features};
use pulse_models::{Dataset, Model, ModelKind, fit_calibrated};
use pulse_training::{TrainConfig, TrainingData};
use serde::{Deserialize, Serialize};

use crate::dist::{Interval, MonteCarlo};
use crate::error::ForecastError;
use crate::forecast::{AccountOutlook, Assumptions, GroupBy, actuals, expansion_over, forecast};
use crate::survival::{SurvivalConfig, fit_hazard_only};

/// One backtested figure at one past quarter start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestRow {
    /// The quarter's first day (the forecast's as-of day is the day before).
    pub quarter: String,
    /// `churned_accounts`, `churned_arr`, `expansion_arr`, `grr` or `nrr`.
    pub figure: String,
    pub expected: f64,
    pub i80: Interval,
    pub i95: Interval,
    pub actual: f64,
}

impl BacktestRow {
    /// Actual minus expected.
    pub fn error(&self) -> f64 {
        self.actual - self.expected
    }
    pub fn inside_80(&self) -> bool {
        self.i80.contains(self.actual)
    }
    pub fn inside_95(&self) -> bool {
        self.i95.contains(self.actual)
    }
}

/// The figures of a backtest, in order.
pub const FIGURES: [&str; 5] = [
    "churned_accounts",
    "churned_arr",
    "expansion_arr",
    "grr",
    "nrr",
];

/// What the backtest fits at each quarter start.
#[derive(Debug, Clone)]
pub struct BacktestConfig {
    pub survival: SurvivalConfig,
    /// The expansion model's snapshots, horizon and GBT.
    pub training: TrainConfig,
    pub monte_carlo: MonteCarlo,
}

/// A backtest: its rows and the quarters it had to skip, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    pub rows: Vec<BacktestRow>,
    pub skipped: Vec<String>,
}

impl Backtest {
    /// Per figure: quarters, mean absolute error, mean error (bias) and the
    /// share of quarters whose actual fell inside the 80% interval.
    pub fn summary(&self) -> Vec<(String, usize, f64, f64, f64)> {
        FIGURES
            .iter()
            .filter_map(|f| {
                let rows: Vec<&BacktestRow> = self.rows.iter().filter(|r| r.figure == *f).collect();
                if rows.is_empty() {
                    return None;
                }
                let n = rows.len() as f64;
                Some((
                    f.to_string(),
                    rows.len(),
                    rows.iter().map(|r| r.error().abs()).sum::<f64>() / n,
                    rows.iter().map(|r| r.error()).sum::<f64>() / n,
                    rows.iter().filter(|r| r.inside_80()).count() as f64 / n,
                ))
            })
            .collect()
    }
}

/// First days of calendar quarters in `[from, to]`.
pub fn quarter_starts(from: Day, to: Day) -> Vec<Day> {
    (from..=to)
        .filter(|&d| {
            let s = format_day(d);
            matches!(&s[4..], "-01-01" | "-04-01" | "-07-01" | "-10-01")
        })
        .collect()
}

/// Current customers at the end of `as_of` with their features and ARR.
fn population(hs: &[AccountHistory], as_of: Day) -> (Vec<&AccountHistory>, Array2<f64>) {
    let at = end_of_day(as_of);
    let customers: Vec<&AccountHistory> = hs.iter().filter(|h| is_customer_at(h, at)).collect();
    let nf = n_features();
    let mut x = Array2::<f64>::zeros((customers.len(), nf));
    for (h, mut row) in customers.iter().zip(x.rows_mut()) {
        if let Some(out) = row.as_slice_mut() {
            compute(h, at, out);
        }
    }
    (customers, x)
}

/// The expansion model as `pulse train` refits it (GBT on all labelled
/// snapshots up to `data_end`, the latest share by as-of day calibrating).
fn fit_expansion(
    hs: &[AccountHistory],
    data_end: Day,
    cfg: &TrainConfig,
) -> Result<pulse_models::CalibratedModel, ForecastError> {
    let data = TrainingData::build(hs, Some(data_end), cfg)?;
    let ds: Dataset = data.dataset(ModelKind::Expansion)?;
    let time = ds.time().unwrap_or(&[]).to_vec();
    let mut sorted = time.clone();
    sorted.sort_unstable();
    let k = ((1.0 - cfg.calibration_fraction) * sorted.len() as f64).floor() as usize;
    let boundary = sorted[k.min(sorted.len().saturating_sub(1))];
    let (cal, train): (Vec<usize>, Vec<usize>) =
        (0..ds.n_rows()).partition(|&i| time[i] >= boundary);
    let train_ds = ds.select_rows(&train)?;
    let cal_ds = ds.select_rows(&cal)?;
    let gbt = cfg.gbt.check_ref()?.fit(&train_ds)?;
    Ok(fit_calibrated(
        Model::Gbt(Box::new(gbt)),
        Some(&cal_ds),
        cfg.calibration,
    )?)
}

/// The total forecast a backtest makes at `as_of` for the next `h` days:
/// models fitted on the data up to the end of `as_of`, assumptions from
/// the `h` days before it. Reads nothing dated after the end of `as_of`.
pub fn forecast_at(
    hs: &[AccountHistory],
    as_of: Day,
    h: i32,
    cfg: &BacktestConfig,
) -> Result<crate::forecast::Forecast, ForecastError> {
    let survival = fit_hazard_only(hs, as_of, &cfg.survival)
        .map_err(|e| ForecastError::no_data(format!("time-to-churn model: {e}")))?;
    let expansion = fit_expansion(hs, as_of, &cfg.training)
        .map_err(|e| ForecastError::no_data(format!("expansion model: {e}")))?;
    let (customers, x) = population(hs, as_of);
    if customers.is_empty() {
        return Err(ForecastError::no_data("no customers"));
    }
    let pc = survival.churn_within(x.view(), h)?;
    let pe = expansion.predict_proba(x.view())?;
    let outlooks: Vec<AccountOutlook> = customers
        .iter()
        .enumerate()
        .map(|(j, c)| AccountOutlook {
            id: c.account.id.clone(),
            segment: c.account.segment.to_string(),
            owner: c.account.owner.clone(),
            plan: c.account.plan.clone(),
            arr: 12.0 * mrr_at(c, end_of_day(as_of)),
            p_churn: pc[j],
            p_expand: expansion_over(pe[j], cfg.training.horizon_days, h, pc[j]),
        })
        .collect();
    let before = actuals(hs, as_of - h, as_of, GroupBy::Total);
    let assumptions = before
        .first()
        .map(Assumptions::from_actuals)
        .unwrap_or_default();
    forecast(
        &outlooks,
        as_of,
        h,
        GroupBy::Total,
        assumptions,
        cfg.monte_carlo,
        &[],
    )
}

/// Forecasts every quarter that starts after enough history to train on and
/// ends by `data_end`, and compares with the actual figures. `progress` is
/// told each quarter as it starts.
pub fn backtest(
    hs: &[AccountHistory],
    data_start: Day,
    data_end: Day,
    cfg: &BacktestConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<Backtest, ForecastError> {
    cfg.survival.validate()?;
    let mut out = Backtest {
        rows: Vec::new(),
        skipped: Vec::new(),
    };
    let starts = quarter_starts(data_start + 1, data_end);
    for (i, &q) in starts.iter().enumerate() {
        let next = starts.get(i + 1).copied().unwrap_or_else(|| q + 91);
        let h = next - q;
        let as_of = q - 1;
        if as_of + h > data_end {
            continue; // the quarter is not over
        }
        let label = format_day(q);
        progress(&label);
        let f = match forecast_at(hs, as_of, h, cfg) {
            Ok(f) => f,
            Err(e) => {
                out.skipped.push(format!("{label}: {e}"));
                continue;
            }
        };
        let Some(actual) = actuals(hs, as_of, as_of + h, GroupBy::Total)
            .into_iter()
            .next()
        else {
            continue;
        };
        let t = &f.total;
        for (figure, e, a) in [
            (
                "churned_accounts",
                t.churned_accounts,
                actual.churned_accounts as f64,
            ),
            ("churned_arr", t.churned_arr, actual.churned_arr),
            ("expansion_arr", t.expansion_arr, actual.expansion_arr),
            ("grr", t.grr, actual.grr),
            ("nrr", t.nrr, actual.nrr),
        ] {
            out.rows.push(BacktestRow {
                quarter: label.clone(),
                figure: figure.to_string(),
                expected: e.expected,
                i80: e.i80,
                i95: e.i95,
                actual: a,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_core::time::parse_day;

    #[test]
    fn quarter_starts_are_calendar_quarters() {
        let d = |s| parse_day("d", s).unwrap();
        let q = quarter_starts(d("2025-02-10"), d("2026-01-01"));
        let s: Vec<String> = q.into_iter().map(format_day).collect();
        assert_eq!(s, ["2025-04-01", "2025-07-01", "2025-10-01", "2026-01-01"]);
    }
}
