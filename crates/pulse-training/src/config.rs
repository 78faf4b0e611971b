//! What a training run does: label horizon, snapshot cadence, the split, the
//! outreach capacity K, the leakage gate, the model hyper-parameters and the
//! scorecard's component weights. Serde with defaults, so the binary can embed
//! it in its TOML configuration as `[training]`.

use pulse_models::{
    CalibrationMethod, ComponentWeights, GbtParams, GbtShape, LogisticParams, SelectionConfig,
};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Which model is served after the backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalFit {
    /// Refit with the backtest's recipe on every labelled row, so the served
    /// model has seen the latest weeks too. Its own held-out performance is
    /// not measured; the card reports the backtest's and says so.
    #[default]
    RefitAll,
    /// Serve the backtest model itself (trained before the cutoff).
    Backtest,
}

/// Settings of a training run. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Label horizon H: churned (expanded) within H days after the as-of day.
    pub horizon_days: i32,
    /// Days between snapshots of one account (7 = weekly).
    pub step_days: i32,
    /// Days of data before the first snapshot, so the feature windows (up to
    /// 120 days for trends) are filled.
    pub warmup_days: i32,
    /// Share of the snapshot days (the latest ones) held out for the backtest.
    pub test_fraction: f64,
    /// Share of the training rows (the latest ones) that fit the calibration.
    pub calibration_fraction: f64,
    /// Weekly outreach capacity: K of precision and recall at K.
    pub capacity: usize,
    /// A feature that alone reaches this ROC-AUC (or 1 - ROC-AUC) on the
    /// training rows fails the run.
    pub leakage_threshold: f64,
    /// Train anyway when the leakage gate flags features (recorded in the card).
    pub allow_leakage: bool,
    /// Retrain the GBT without each feature family to measure its gain.
    pub ablation: bool,
    /// Train the churn and expansion models at the same time, each on a
    /// thread of its own: faster on two or more cores, at the cost of both
    /// models' fitting memory at once (at 50,000 accounts 4.1 GB at the peak
    /// against 3.9 GB). `false` trains one kind after the other.
    pub kinds_side_by_side: bool,
    pub final_fit: FinalFit,
    pub gbt: GbtParams,
    pub logistic: LogisticParams,
    pub calibration: CalibrationMethod,
    /// Weights of the rule-based scorecard's five components.
    pub scorecard_weights: ComponentWeights,
    /// Candidates and cross-validation of the model selection (`pulse train
    /// --table`).
    pub selection: SelectionConfig,
    /// The churn and expansion GBT's capacity, chosen on the inner backtest.
    pub gbt_search: GbtSearch,
}

/// How the churn and expansion models' GBT capacity is chosen on the inner
/// backtest of the training rows: `[training.gbt]`'s own shape and each of
/// `shapes` (its other settings kept) is fitted with early stopping, at
/// most `[training.gbt] iterations` rounds, and the shape and round count
/// with the lowest inner log-loss is the GBT candidate. Then the best shape
/// is fitted again at each of `learning_rates` (a coordinate step, not the
/// whole grid: one more fit per rate), and the lowest inner log-loss of all
/// wins. The round cap keeps the cost of a Score's exact contributions
/// bounded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbtSearch {
    /// Tree shapes tried beside `[training.gbt]`'s.
    pub shapes: Vec<GbtShape>,
    /// Learning rates tried with the best shape beside `[training.gbt]`'s.
    pub learning_rates: Vec<f32>,
    /// Rounds without improvement of the inner log-loss before a fit stops.
    pub patience: usize,
}

impl Default for GbtSearch {
    fn default() -> Self {
        let shape = GbtShape::new;
        GbtSearch {
            // Shallower, and the default shape with larger leaves.
            shapes: vec![shape(3, 8, 2.0), shape(5, 24, 20.0)],
            // Half the default 0.08: slower steps, more of the 150 rounds.
            learning_rates: vec![0.04],
            patience: 20,
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            horizon_days: 90,
            step_days: 7,
            warmup_days: 120,
            test_fraction: 0.25,
            calibration_fraction: 0.2,
            capacity: 50,
            leakage_threshold: 0.90,
            allow_leakage: false,
            ablation: true,
            kinds_side_by_side: true,
            final_fit: FinalFit::RefitAll,
            gbt: GbtParams::new(),
            logistic: LogisticParams::new(),
            calibration: CalibrationMethod::Auto,
            scorecard_weights: ComponentWeights::default(),
            selection: SelectionConfig::default(),
            gbt_search: GbtSearch::default(),
        }
    }
}

impl TrainConfig {
    /// Checks every setting before any work starts; errors name the key.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |key: &'static str, reason: String| Err(TrainError::Config { key, reason });
        if !(1..=730).contains(&self.horizon_days) {
            return bad(
                "horizon_days",
                format!("{} is outside 1..=730", self.horizon_days),
            );
        }
        if !(1..=91).contains(&self.step_days) {
            return bad("step_days", format!("{} is outside 1..=91", self.step_days));
        }
        if !(0..=730).contains(&self.warmup_days) {
            return bad(
                "warmup_days",
                format!("{} is outside 0..=730", self.warmup_days),
            );
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 0.9) {
            return bad(
                "test_fraction",
                format!("{} is not in (0, 0.9)", self.test_fraction),
            );
        }
        if !(self.calibration_fraction > 0.0 && self.calibration_fraction < 0.9) {
            return bad(
                "calibration_fraction",
                format!("{} is not in (0, 0.9)", self.calibration_fraction),
            );
        }
        if self.capacity == 0 {
            return bad("capacity", "must be at least 1".into());
        }
        if !(self.leakage_threshold > 0.5 && self.leakage_threshold <= 1.0) {
            return bad(
                "leakage_threshold",
                format!("{} is not in (0.5, 1]", self.leakage_threshold),
            );
        }
        self.gbt.check_ref()?;
        for (i, shape) in self.gbt_search.shapes.iter().enumerate() {
            self.searched(shape)
                .check_ref()
                .map_err(|e| TrainError::Config {
                    key: "gbt_search.shapes",
                    reason: format!("shape {} of {}: {e}", i + 1, self.gbt_search.shapes.len()),
                })?;
        }
        for (i, &rate) in self.gbt_search.learning_rates.iter().enumerate() {
            self.gbt
                .clone()
                .learning_rate(rate)
                .check_ref()
                .map_err(|e| TrainError::Config {
                    key: "gbt_search.learning_rates",
                    reason: format!(
                        "rate {} of {}: {e}",
                        i + 1,
                        self.gbt_search.learning_rates.len()
                    ),
                })?;
        }
        if self.gbt_search.patience == 0 {
            return bad("gbt_search.patience", "must be at least 1".into());
        }
        self.logistic.check_ref()?;
        self.scorecard().validate()?;
        Ok(())
    }

    /// `[training.gbt]` with the tree shape `shape`.
    pub fn searched(&self, shape: &GbtShape) -> GbtParams {
        self.gbt
            .clone()
            .max_depth(shape.max_depth)
            .max_leaves(shape.max_leaves)
            .min_leaf_weight(shape.min_leaf_weight)
    }

    /// The rule-based scorecard: the default feature mapping with these weights.
    pub fn scorecard(&self) -> pulse_models::ScorecardConfig {
        pulse_models::ScorecardConfig {
            weights: self.scorecard_weights.clone(),
            inputs: crate::scorecard::default_inputs(),
        }
    }
}
