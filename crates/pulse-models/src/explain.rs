//! Per-feature contributions to the raw margin (log-odds) and the summaries built on them:
//! top drivers of one prediction and mean-|contribution| feature importance.
//!
//! Every explanation in this crate is additive and exact in log-odds:
//! `base_value + sum(contributions) == margin` (checked to 1e-6 in tests). Calibration maps the
//! margin to a probability afterwards; it is monotone, so a driver that raises the margin never
//! lowers the calibrated probability, but its size is in log-odds, not probability points.

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// Contributions of every feature for a batch of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    /// Feature names, one per column of `values`.
    pub feature_names: Vec<String>,
    /// Expected margin before any feature is known (same for every row).
    pub base_value: f64,
    /// `rows x features` contributions in log-odds.
    pub values: Array2<f64>,
    /// Raw margin of each row.
    pub margins: Array1<f64>,
}

/// One feature's share of a prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    pub feature: String,
    /// Feature index in the schema.
    pub index: usize,
    /// Contribution in log-odds (positive raises churn risk).
    pub contribution: f64,
}

/// Mean absolute contribution of a feature over a set of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    pub feature: String,
    pub mean_abs_contribution: f64,
}

impl Contributions {
    /// Largest `|base + sum(row) - margin|` over rows (0 up to rounding for exact explainers).
    pub fn max_additivity_error(&self) -> f64 {
        self.values
            .rows()
            .into_iter()
            .zip(self.margins.iter())
            .map(|(r, m)| (self.base_value + r.sum() - m).abs())
            .fold(0.0, f64::max)
    }

    /// The `k` largest contributions of row `row` by absolute value (ties by feature order).
    pub fn top_drivers(&self, row: usize, k: usize) -> Vec<Driver> {
        top_drivers(
            &self.feature_names,
            self.values.row(row).as_slice().unwrap_or(&[]),
            k,
        )
    }

    /// Mean |contribution| per feature, largest first (ties by feature order).
    pub fn mean_abs(&self) -> Vec<FeatureImportance> {
        let mut sums = AbsSums::new(self.feature_names.len());
        sums.add(self);
        sums.mean_abs(&self.feature_names)
    }
}

/// Rows per block where many rows are predicted or explained from a larger
/// matrix without a copy of them all (the backtests' held-out and inner
/// validation rows): 32,768 rows x 61 features is 16 MB.
pub const ROW_BLOCK: usize = 32_768;

/// Running sums of |contribution| per feature over blocks of rows, in row
/// order: the blocks' [`Contributions::mean_abs`] without holding every
/// row's contributions at once, with the same sums in the same order.
#[derive(Debug, Clone)]
pub(crate) struct AbsSums {
    sums: Vec<f64>,
    rows: usize,
}

impl AbsSums {
    pub(crate) fn new(features: usize) -> Self {
        Self {
            sums: vec![0.0; features],
            rows: 0,
        }
    }

    pub(crate) fn add(&mut self, c: &Contributions) {
        for (j, s) in self.sums.iter_mut().enumerate() {
            *s = c.values.column(j).iter().fold(*s, |a, v| a + v.abs());
        }
        self.rows += c.values.nrows();
    }

    pub(crate) fn mean_abs(&self, feature_names: &[String]) -> Vec<FeatureImportance> {
        let n = self.rows.max(1) as f64;
        let mut out: Vec<FeatureImportance> = feature_names
            .iter()
            .zip(&self.sums)
            .map(|(f, s)| FeatureImportance {
                feature: f.clone(),
                mean_abs_contribution: s / n,
            })
            .collect();
        out.sort_by(|a, b| b.mean_abs_contribution.total_cmp(&a.mean_abs_contribution));
        out
    }
}

/// The `k` largest contributions by absolute value (ties keep feature order).
pub fn top_drivers(feature_names: &[String], contributions: &[f64], k: usize) -> Vec<Driver> {
    let mut idx: Vec<usize> = (0..contributions.len()).collect();
    idx.sort_by(|&a, &b| contributions[b].abs().total_cmp(&contributions[a].abs()));
    idx.into_iter()
        .take(k)
        .map(|i| Driver {
            feature: feature_names[i].clone(),
            index: i,
            contribution: contributions[i],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn drivers_and_importance() {
        let c = Contributions {
            feature_names: vec!["a".into(), "b".into(), "c".into()],
            base_value: -1.0,
            values: array![[0.5, -2.0, 0.0], [-0.5, 1.0, 0.25]],
            margins: array![-2.5, -0.25],
        };
        assert!(c.max_additivity_error() < 1e-12);
        let d = c.top_drivers(0, 2);
        assert_eq!(d[0].feature, "b");
        assert_eq!(d[0].contribution, -2.0);
        assert_eq!(d[1].feature, "a");
        let imp = c.mean_abs();
        assert_eq!(imp[0].feature, "b");
        assert!((imp[0].mean_abs_contribution - 1.5).abs() < 1e-12);
        assert!((imp[2].mean_abs_contribution - 0.125).abs() < 1e-12);
    }
}
