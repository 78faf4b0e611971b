//! Point-in-time features and forward-looking labels over in-memory account
//! histories.
//!
//! Architecture Invariant: this crate does no I/O, has no async and prints
//! nothing; it depends on `pulse-core`, `ndarray` and `serde` (never tokio, sqlx,
//! tonic, prost or clap). The store fills [`AccountHistory`]s, this crate turns
//! them into numbers, `pulse-models` learns from them.
//!
//! # Point in time
//! [`compute`] reads an account as it was known at an instant `t`:
//! - events count when their time is `<= t` (at exactly `t` counts, one second
//!   later does not); windows are `(t - N days, t]`;
//! - an interaction is known once opened; its first response and resolution
//!   only once they happened, so one resolved after `t` is open at `t`; its
//!   flags without a time (escalated, reopened, contacts to resolve, CSAT) count
//!   only once it is resolved;
//! - a contact is its latest observation at or before `t`;
//! - a usage row is known once its period is over (the end of its last day)
//!   and counts in a window by its last day, so a weekly rollup never brings in
//!   days after `t`. Usage windows end at the last complete day;
//! - MRR, seats and customer status at `t` come from subscription events, never
//!   from the account's current values (see [`mrr_at`] for the fallbacks);
//!   only the account's static attributes (segment, start date) are read as is.
//!
//! Outreach is deliberately not an input: [`AccountHistory`] has no field for
//! it, so the retention loop can never score its own actions.
//!
//! # Labels
//! [`churn_label`] and [`expansion_label`] look forward from the end of a day;
//! [`snapshots`] builds weekly (or any step) training rows and leaves out the
//! right-censored ones whose label window is not over yet.
//!
//! The catalogue of features is [`Feature`]: one exhaustive definition per
//! feature ([`Feature::def`]) with its name, family, window, unit, valid
//! range, when it is missing, the sentences that state it and the scorecard
//! component it feeds. [`features()`] lists the definitions in column order;
//! [`markdown_table`] renders them.

mod civil;
mod compute;
mod defs;
mod history;
mod labels;
mod screen;
mod state;

#[cfg(test)]
mod tests;

pub use compute::{NEGATIVE_SENTIMENT_BELOW, compute, compute_matrix};
pub use defs::{
    Cause, Family, Feature, FeatureDef, Missing, Range, Role, Says, Scorecard, ScorecardComponent,
    Sentence, Value, feature_index, features, markdown_table, n_features,
};
pub use history::{
    AccountHistory, ContactFact, Deleted, InteractionFact, OpKind, OperationalFact, Records,
    SubscriptionFact, SurveyFact, UsageFact, histories_from_records,
};
pub use labels::{
    DEFAULT_EXPANSION_THRESHOLD_PCT, Snapshots, churn_label, end_of_day, expansion_label,
    fill_snapshot_features, snapshot_rows, snapshots,
};
pub use screen::{Excluded, screen};
pub use state::{is_customer_at, mrr_at, seats_at};
