//! Scoring: what a churn and an expansion model say about an account, in the
//! terms a retention team uses. A calibrated churn probability becomes a
//! 0-100 health score, a green / yellow / red band and expected ARR at risk;
//! the rule-based scorecard's components place the account in the Outcome x
//! Experience quadrant; the churn model's exact contributions become drivers,
//! each with the account's real value, a comparison (its own history or its
//! segment's median), a sentence a CSM can say out loud and a suggested play.
//! Two stored scores give change attribution by feature family.
//!
//! Architecture Invariant: no I/O, no async, no clock reads. The server holds
//! an [`Engine`] (the promoted models) and a [`ScoredPopulation`] (every
//! current customer's features and score as of one date) and swaps them
//! atomically; this crate only computes.

mod change;
mod config;
mod engine;
pub mod phrases;
mod population;
pub mod raw;
#[cfg(test)]
mod tests;

pub use change::{FamilyChange, ScoreChange, attribute_change, family_label};
pub use config::{PlayRule, ScoringConfig, default_plays};
pub use engine::{
    AccountScore, Band, Comparison, Engine, ExplainedDriver, FamilyContribution,
    INLINE_EXPLAIN_NODES, Quadrant, SeatUse, Subject, Urgency,
};
pub use population::{AccountMeta, Population, Reference, ScoredPopulation};

/// Why scoring failed.
#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    /// A caller-supplied feature is missing, unknown or out of range.
    #[error("feature {feature}: {reason}")]
    Feature { feature: String, reason: String },
    /// A model cannot be used for scoring accounts.
    #[error("model {version} cannot score accounts: {reason}")]
    Model { version: String, reason: String },
    /// A setting is invalid.
    #[error("{key}: {reason}")]
    Config { key: String, reason: String },
    #[error(transparent)]
    Predict(#[from] pulse_models::ModelError),
}
