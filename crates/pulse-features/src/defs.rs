//! The feature catalogue: every feature's name, family, window, unit and
//! meaning, defined exactly once.
//!
//! The order of [`features()`] is the column order of every feature vector and
//! matrix this crate produces. Names are stable snake_case identifiers: they
//! flow unchanged into model artifacts, explanations and the README feature
//! table ([`markdown_table`]), so renaming one is a model-breaking change.
//!
//! Conventions shared by every definition:
//! - "window Nd" means the N days ending at the as-of instant t, lower bound
//!   excluded and t included: `(t - N days, t]`. Usage windows count whole
//!   days ending at the last complete day (see the crate docs).
//! - "trend" compares the last 30 days with the 90 days before them,
//!   `(t - 120d, t - 30d]`. Rate trends are `(recent - prior) / (recent + prior)`
//!   of per-day rates, in [-1, 1]; mean trends are differences of means.
//! - Missing values are `f64::NAN`; each description says when a feature is
//!   missing. Counts are never missing (no events is 0).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// The signal family a feature belongs to, as people group them when they
/// read an account's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Support,
    Sentiment,
    Relationships,
    Adoption,
    Commercial,
    Operational,
    Surveys,
}

impl Family {
    pub const ALL: &'static [Family] = &[
        Family::Support,
        Family::Sentiment,
        Family::Relationships,
        Family::Adoption,
        Family::Commercial,
        Family::Operational,
        Family::Surveys,
    ];

    /// The family's snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Support => "support",
            Family::Sentiment => "sentiment",
            Family::Relationships => "relationships",
            Family::Adoption => "adoption",
            Family::Commercial => "commercial",
            Family::Operational => "operational",
            Family::Surveys => "surveys",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One feature: what it is called, what it measures and over which window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeatureDef {
    /// Stable snake_case identifier (the column name).
    pub name: &'static str,
    pub family: Family,
    /// What it measures, including when it is missing (NaN).
    pub description: &'static str,
    /// The time span it looks at (`7d`, `30d vs prior 90d`, `at t`, `all to t`).
    pub window: &'static str,
    /// `count`, `fraction`, `hours`, `days`, `currency`, `score`, ...
    pub unit: &'static str,
}

macro_rules! feature_table {
    ($( $id:ident => $name:literal, $family:ident, $window:literal, $unit:literal, $desc:literal; )+) => {
        /// Column index of each feature, in [`features()`] order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub(crate) enum F { $($id),+ }

        static FEATURES: &[FeatureDef] = &[
            $(FeatureDef {
                name: $name,
                family: Family::$family,
                description: $desc,
                window: $window,
                unit: $unit,
            }),+
        ];
    };
}

feature_table! {
    // ---- Support -------------------------------------------------------
    Interactions7d => "interactions_7d", Support, "7d", "count",
        "Interactions (tickets, chats, calls, emails) opened in the window";
    Interactions30d => "interactions_30d", Support, "30d", "count",
        "Interactions opened in the window";
    Interactions90d => "interactions_90d", Support, "90d", "count",
        "Interactions opened in the window";
    InteractionsTrend => "interactions_trend", Support, "30d vs prior 90d", "ratio [-1,1]",
        "Change in interactions per day, (recent - prior) / (recent + prior); 0 when both windows are empty";
    OpenInteractions => "open_interactions", Support, "all to t", "count",
        "Interactions opened at or before t and not resolved at t";
    FirstResponseHours90d => "first_response_hours_90d", Support, "90d", "hours",
        "Mean time to first response of interactions opened in the window and answered by t; NaN if none";
    FcrRate90d => "fcr_rate_90d", Support, "90d", "fraction",
        "Share of interactions opened in the window and resolved by t that took one contact (first contact resolution); NaN if none resolved";
    ResolutionHours90d => "resolution_hours_90d", Support, "90d", "hours",
        "Mean time to resolution of interactions opened in the window and resolved by t; NaN if none";
    EscalationRate90d => "escalation_rate_90d", Support, "90d", "fraction",
        "Share escalated among interactions opened in the window and resolved by t (the flag has no time of its own, so it counts once resolved); NaN if none resolved";
    ReopenRate90d => "reopen_rate_90d", Support, "90d", "fraction",
        "Share reopened among interactions opened in the window and resolved by t; NaN if none resolved";
    ContactsToResolve90d => "contacts_to_resolve_90d", Support, "90d", "contacts",
        "Mean contacts it took to resolve interactions opened in the window and resolved by t; NaN if none";
    RepeatTopicContacts90d => "repeat_topic_contacts_90d", Support, "90d", "count",
        "Interactions in the window about a topic already raised earlier in the window (\"I had to explain this three times\"); empty topics never repeat";
    CsatMean90d => "csat_mean_90d", Support, "90d", "score 1-5",
        "Mean CSAT of interactions opened in the window and resolved by t; NaN if none rated";
    CsatLowShare90d => "csat_low_share_90d", Support, "90d", "fraction",
        "Share of rated interactions (as csat_mean_90d) with CSAT 1 or 2; NaN if none rated";
    // ---- Sentiment -----------------------------------------------------
    SentimentMean30d => "sentiment_mean_30d", Sentiment, "30d", "score [-1,1]",
        "Mean model sentiment of interactions opened in the window; NaN if none is scored";
    SentimentMean90d => "sentiment_mean_90d", Sentiment, "90d", "score [-1,1]",
        "Mean model sentiment of interactions opened in the window; NaN if none is scored";
    SentimentNegativeShare90d => "sentiment_negative_share_90d", Sentiment, "90d", "fraction",
        "Share of scored interactions in the window with sentiment below -1/3 (negative); NaN if none is scored";
    SentimentMin30d => "sentiment_min_30d", Sentiment, "30d", "score [-1,1]",
        "Most negative interaction sentiment in the window; NaN if none is scored";
    SentimentTrend => "sentiment_trend", Sentiment, "30d vs prior 90d", "score difference",
        "Mean sentiment of the last 30 days minus that of the 90 days before; NaN if either has no scored interaction";
    SurveySentimentMean180d => "survey_sentiment_mean_180d", Sentiment, "180d", "score [-1,1]",
        "Mean model sentiment of survey comments answered in the window; NaN if none is scored";
    // ---- Relationships -------------------------------------------------
    ContactsActive => "contacts_active", Relationships, "at t", "count",
        "Contacts whose latest observation at or before t is active";
    RelationshipStrengthMean => "relationship_strength_mean", Relationships, "at t", "level 1-4",
        "Mean relationship strength over active contacts; NaN if none";
    ChampionStrength => "champion_strength", Relationships, "at t", "level 1-4",
        "Strongest relationship among active champions; NaN if no active champion";
    ChampionSentiment => "champion_sentiment", Relationships, "at t", "score [-1,1]",
        "Mean sentiment (negative -1, neutral 0, positive 1) of active champions; NaN if none";
    ExecSponsorStrength => "exec_sponsor_strength", Relationships, "at t", "level 1-4",
        "Strongest relationship among active executive sponsors; NaN if none";
    ExecSponsorSentiment => "exec_sponsor_sentiment", Relationships, "at t", "score [-1,1]",
        "Mean sentiment of active executive sponsors; NaN if none";
    AdminStrength => "admin_strength", Relationships, "at t", "level 1-4",
        "Strongest relationship among active admins; NaN if none";
    AdminSentiment => "admin_sentiment", Relationships, "at t", "score [-1,1]",
        "Mean sentiment of active admins; NaN if none";
    ChampionLeft => "champion_left", Relationships, "at t", "0/1",
        "1 if a contact whose latest observation at or before t is a champion is marked inactive (the champion left)";
    ExecSponsorPresent => "exec_sponsor_present", Relationships, "at t", "0/1",
        "1 if there is an active executive sponsor";
    ExecSponsorNegative => "exec_sponsor_negative", Relationships, "at t", "0/1",
        "1 if an active executive sponsor's sentiment is negative";
    ExecSponsorInteractionSentiment => "exec_sponsor_interaction_sentiment", Relationships, "180d", "score [-1,1]",
        "Model sentiment of the latest scored interaction opened in the window by a contact who is an active executive sponsor at t; NaN if none";
    // ---- Adoption ------------------------------------------------------
    ActiveUsersPerSeat30d => "active_users_per_seat_30d", Adoption, "30d", "fraction",
        "Mean active users per usage row in the window divided by seats at t (daily rows give DAU, weekly rows WAU); 0 with no row in the window; NaN if no usage is known or seats at t are 0 or unknown";
    ActiveUsersTrend => "active_users_trend", Adoption, "30d vs prior 90d", "ratio [-1,1]",
        "Change in mean active users per row, (recent - prior) / (recent + prior); NaN if either window has no usage row";
    LoginsPerDay7d => "logins_per_day_7d", Adoption, "7d", "logins/day",
        "Logins per covered day of the usage rows in the window; 0 with no row in the window; NaN if no usage is known";
    LoginsPerDay30d => "logins_per_day_30d", Adoption, "30d", "logins/day",
        "Logins per covered day of the usage rows in the window; 0 with no row in the window; NaN if no usage is known";
    LoginsTrend => "logins_trend", Adoption, "30d vs prior 90d", "ratio [-1,1]",
        "Change in logins per day, (recent - prior) / (recent + prior); NaN if either window has no usage row";
    FeatureBreadth30d => "feature_breadth_30d", Adoption, "30d", "features",
        "Most distinct key features used in one usage row of the window; 0 with no row in the window; NaN if no usage is known";
    DaysSinceActive => "days_since_active", Adoption, "all to t", "days",
        "Days from the last complete usage day to the end of the latest period with an active user or a login; NaN if never active";
    // ---- Commercial ----------------------------------------------------
    Mrr => "mrr", Commercial, "at t", "currency/month",
        "MRR at t from subscription events (never the account's current value when events exist)";
    Seats => "seats", Commercial, "at t", "seats",
        "Seats at t from subscription events; NaN when events exist but none tells the seats at t";
    SegmentSize => "segment_size", Commercial, "static", "ordinal",
        "Customer segment: 0 SMB, 1 mid-market, 2 enterprise";
    TenureDays => "tenure_days", Commercial, "at t", "days",
        "Days since the account's start date (negative before it starts)";
    DaysToRenewal => "days_to_renewal", Commercial, "at t", "days",
        "Days to the next annual anniversary of the start date (0 on the day); NaN before the start date";
    MrrChange90d => "mrr_change_90d", Commercial, "90d", "fraction",
        "Relative MRR change, (MRR at t - MRR 90 days before) / MRR 90 days before; NaN if MRR then was 0";
    Downgrades90d => "downgrades_90d", Commercial, "90d", "count",
        "Downgrade events in the window";
    Downgrades180d => "downgrades_180d", Commercial, "180d", "count",
        "Downgrade events in the window";
    Upgrades180d => "upgrades_180d", Commercial, "180d", "count",
        "Upgrade events in the window";
    PaymentFailures90d => "payment_failures_90d", Commercial, "90d", "count",
        "Failed payment events in the window";
    // ---- Operational ---------------------------------------------------
    MissedPayroll90d => "missed_payroll_90d", Operational, "90d", "count",
        "Missed payroll deadlines in the window";
    MissedPayroll180d => "missed_payroll_180d", Operational, "180d", "count",
        "Missed payroll deadlines in the window";
    TaxErrors90d => "tax_errors_90d", Operational, "90d", "count",
        "Tax filing errors in the window";
    TaxErrors180d => "tax_errors_180d", Operational, "180d", "count",
        "Tax filing errors in the window";
    OnboardingCompleted => "onboarding_completed", Operational, "all to t", "0/1",
        "1 if onboarding was completed at or before t";
    OnboardingDays => "onboarding_days", Operational, "all to t", "days",
        "Days from onboarding start (its event, else the start date) to completion; NaN if not completed by t";
    TrainingCompleted => "training_completed", Operational, "all to t", "0/1",
        "1 if the customer completed training at or before t";
    PriceIncrease90d => "price_increase_90d", Operational, "90d", "count",
        "Price increases in the window";
    // ---- Surveys -------------------------------------------------------
    NpsLatest => "nps_latest", Surveys, "all to t", "score 0-10",
        "Latest NPS answer at or before t; NaN if none";
    NpsTrend => "nps_trend", Surveys, "all to t", "score difference",
        "Latest NPS answer minus the one before it; NaN with fewer than two";
    DaysSinceNps => "days_since_nps", Surveys, "all to t", "days",
        "Days since the latest NPS answer; NaN if none";
    CsatSurveyLatest => "csat_survey_latest", Surveys, "all to t", "score 1-5",
        "Latest CSAT survey answer at or before t; NaN if none";
}

/// Every feature, in column order.
pub fn features() -> &'static [FeatureDef] {
    FEATURES
}

/// The number of features (columns).
pub fn n_features() -> usize {
    FEATURES.len()
}

/// The column index of a feature by name.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| f.name == name)
}

/// The feature table in Markdown, one row per feature in column order, for
/// the README and for people reading explanations.
pub fn markdown_table() -> String {
    let mut s = String::with_capacity(FEATURES.len() * 160);
    s.push_str("| # | feature | family | window | unit | meaning |\n");
    s.push_str("|---|---|---|---|---|---|\n");
    for (i, f) in FEATURES.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {} | {} |",
            i,
            f.name,
            f.family.as_str(),
            f.window,
            f.unit,
            f.description.replace('|', "\\|")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_indices_match() {
        let n = features().len();
        assert!((40..=64).contains(&n), "{n} features");
        for (i, f) in features().iter().enumerate() {
            assert!(
                f.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                f.name
            );
            assert_eq!(feature_index(f.name), Some(i), "duplicate {}", f.name);
            assert!(!f.description.is_empty() && !f.description.ends_with('.'));
            assert!(!f.window.is_empty() && !f.unit.is_empty());
        }
        assert_eq!(F::CsatSurveyLatest as usize, n - 1);
        assert_eq!(features()[F::Mrr as usize].name, "mrr");
        for fam in Family::ALL {
            assert!(features().iter().any(|f| f.family == *fam), "{fam}");
        }
    }

    #[test]
    fn markdown_table_has_one_row_per_feature() {
        let t = markdown_table();
        assert_eq!(t.lines().count(), features().len() + 2);
        assert!(t.contains("| 0 | `interactions_7d` | support | 7d | count |"));
        assert!(t.lines().all(|l| l.starts_with('|') && l.ends_with('|')));
    }
}
