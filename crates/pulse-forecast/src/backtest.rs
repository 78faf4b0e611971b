//! The forecast backtest: at past quarter starts, what the forecast said
//! against what happened.

use serde::{Deserialize, Serialize};

use crate::dist::Interval;

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
}
