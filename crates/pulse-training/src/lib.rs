//! Pulse's training pipeline: from account histories to churn and expansion
//! model artifacts with full model cards.
//!
//! ```text
//! TrainingData::build(&histories, data_end, &cfg)?   weekly snapshots + labels (pulse-features)
//! train_kind(&data, ModelKind::Churn, &cfg, ..)?      leakage gate, backtest of GBT vs logistic
//!                                                     vs scorecard, ablation, final fit, card
//! train_models(..)                                    both, with progress and timings
//! train_table(&table, &TableSpec, &cfg, ..)?          the generic tabular path
//! ```
//!
//! The pipeline lives in its own crate rather than in `pulse-models`:
//! `pulse-models` is deliberately independent of how features are named and
//! computed (it takes a matrix and names), and this crate is where the two
//! meet (the catalogue's scorecard components turned into scorecard inputs,
//! which family a column belongs to, what a label means).
//!
//! Architecture Invariant: no I/O, no async, no clock reads (callers pass
//! timestamps and a stopwatch), no printing; never depends on tokio, sqlx,
//! tonic, prost or clap. Outreach records cannot reach a model: histories
//! have no field for them.

mod challenger;
mod config;
mod drift;
mod error;
mod pipeline;
mod realised;
mod reasons;
mod scorecard;
mod selection;
mod table;

#[cfg(test)]
mod tests;

pub use challenger::{
    Comparison, Decision, DecisionRule, Outcome, PromotionMode, compare_on_latest_window, decide,
};
pub use config::{FinalFit, GbtSearch, TrainConfig};
pub use drift::{
    DriftBin, DriftReference, DriftReport, QuantityDrift, REFERENCE_WEEKS, ReferenceRows,
    drift_reference, drift_report, recent_label_rate,
};
pub use error::TrainError;
pub use pipeline::{
    Progress, Stage, TrainOutput, TrainedModel, TrainingData, check_account_model, data_span,
    feature_names, feature_threads, train_kind, train_models, train_on, weekly_at_k,
};
pub use realised::{CalibrationGroup, RealisedRow, RunPerformance, run_performance};
pub use reasons::{
    EXOGENOUS_REASONS, KnownChurn, REASON_CAUSES, ReasonTruth, reason_accuracy, top_cause,
};
pub use scorecard::{default_inputs, scorecard_inputs};
pub use selection::{SelectionOutcome, select_and_report};
pub use table::{ROW_NUMBER, TableSpec, describe_table, parse_time_cell, train_table};
