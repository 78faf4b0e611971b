//! Scoring settings: band thresholds, the quadrant cut, default driver count
//! and the driver -> play table.

use serde::{Deserialize, Serialize};

use crate::ScoringError;

/// One row of the play table: when `feature` (or any feature starting with
/// `feature` when it ends in `*`) raises an account's churn risk, suggest `play`.
/// Only actionable features have plays: timing and context (days to
/// renewal, tenure, segment, size) make a play urgent, they do not choose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayRule {
    pub feature: String,
    pub play: String,
}

impl PlayRule {
    fn new(feature: &str, play: &str) -> Self {
        PlayRule {
            feature: feature.into(),
            play: play.into(),
        }
    }

    /// Whether this rule covers `feature`.
    pub fn matches(&self, feature: &str) -> bool {
        match self.feature.strip_suffix('*') {
            Some(prefix) => feature.starts_with(prefix),
            None => self.feature == feature,
        }
    }
}

/// How scores become bands, quadrants, drivers and plays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    /// Health (0-100) at or above which an account is green.
    pub green_min: f64,
    /// Health at or above which an account is yellow (below is red).
    pub yellow_min: f64,
    /// Outcome and experience scores (0-100) at or above this are "high" in
    /// the Outcome x Experience quadrant.
    pub quadrant_cut: f64,
    /// Drivers returned when a request does not say.
    pub top_drivers: usize,
    /// Driver -> play, first match wins.
    pub plays: Vec<PlayRule>,
    /// Play when the strongest reason is a data gap (no recent survey answer).
    pub gap_play: String,
    /// A play is prefixed "Before the renewal in N days" when the renewal is
    /// at most this many days away.
    pub urgent_renewal_days: u32,
    /// Play when no risk-raising driver has one, by band.
    pub red_play: String,
    pub yellow_play: String,
    pub green_play: String,
    /// Server: seconds between checks for new data that rebuild the
    /// in-memory scoring population.
    pub refresh_seconds: u64,
    /// Server: store a scheduled scoring run once per ISO week.
    pub weekly_runs: bool,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            green_min: 90.0,
            yellow_min: 75.0,
            quadrant_cut: 50.0,
            top_drivers: 3,
            plays: default_plays(),
            gap_play:
                "Ask for feedback: send the NPS survey and ask how it is going on the next call"
                    .into(),
            urgent_renewal_days: 90,
            red_play: "Risk review: owner calls the main contact this week".into(),
            yellow_play: "Proactive check-in call".into(),
            green_play: "Nurture: share best practices and look for expansion".into(),
            refresh_seconds: 60,
            weekly_runs: true,
        }
    }
}

/// The built-in play table (override it with `[[scoring.plays]]` in the config).
pub fn default_plays() -> Vec<PlayRule> {
    vec![
        PlayRule::new(
            "missed_payroll_*",
            "Pre-deadline check-in call before the next payroll run",
        ),
        PlayRule::new(
            "tax_errors_*",
            "Tax-filing review with a payroll specialist",
        ),
        PlayRule::new(
            "champion_left",
            "Find and onboard a new champion; multi-thread the account",
        ),
        PlayRule::new(
            "champion_*",
            "Champion call: reconnect and ask what is blocking them",
        ),
        PlayRule::new("exec_sponsor_*", "Executive sponsor alignment meeting"),
        PlayRule::new(
            "admin_*",
            "Admin office hours: fix what frustrates the day-to-day user",
        ),
        PlayRule::new(
            "relationship_strength_mean",
            "Relationship building: meet the wider team",
        ),
        PlayRule::new(
            "contacts_active",
            "Relationship building: meet the wider team",
        ),
        PlayRule::new(
            "payment_failures_90d",
            "Billing outreach to fix the payment method",
        ),
        PlayRule::new(
            "price_increase_90d",
            "Pricing conversation: explain the change, offer annual terms",
        ),
        PlayRule::new(
            "downgrades_*",
            "Value review: map spend to outcomes before renewal",
        ),
        PlayRule::new(
            "mrr_change_90d",
            "Value review: map spend to outcomes before renewal",
        ),
        PlayRule::new("onboarding_*", "Guided setup session to finish onboarding"),
        PlayRule::new("training_completed", "Schedule admin training"),
        PlayRule::new(
            "csat_*",
            "Service recovery call about the lowest-rated tickets",
        ),
        PlayRule::new(
            "sentiment_*",
            "Listen-first call with the main contact about recent frustrations",
        ),
        PlayRule::new(
            "survey_sentiment_mean_180d",
            "Close the loop on the latest survey comments",
        ),
        PlayRule::new("nps_*", "Close the loop on the latest NPS feedback"),
        PlayRule::new(
            "escalation_rate_90d",
            "Support escalation review with a named support lead",
        ),
        PlayRule::new(
            "reopen_rate_90d",
            "Support escalation review with a named support lead",
        ),
        PlayRule::new(
            "repeat_topic_contacts_90d",
            "Root-cause call on the recurring issue",
        ),
        PlayRule::new(
            "interactions_*",
            "Support review: assign a named support lead for a month",
        ),
        PlayRule::new(
            "open_interactions",
            "Support review: close the open tickets with the customer",
        ),
        PlayRule::new(
            "first_response_hours_90d",
            "Support review: assign a named support lead for a month",
        ),
        PlayRule::new(
            "resolution_hours_90d",
            "Support review: assign a named support lead for a month",
        ),
        PlayRule::new(
            "fcr_rate_90d",
            "Support review: assign a named support lead for a month",
        ),
        PlayRule::new(
            "contacts_to_resolve_90d",
            "Support review: assign a named support lead for a month",
        ),
        PlayRule::new(
            "active_users_*",
            "Adoption workshop: re-train admins and end users",
        ),
        PlayRule::new(
            "logins_*",
            "Adoption workshop: re-train admins and end users",
        ),
        PlayRule::new(
            "feature_breadth_30d",
            "Feature walkthrough of what they are not using yet",
        ),
        PlayRule::new(
            "days_since_active",
            "Re-engagement call: is anyone still using it?",
        ),
    ]
}

impl ScoringConfig {
    /// Checks every setting; errors name the key.
    pub fn validate(&self) -> Result<(), ScoringError> {
        let bad = |key: &str, reason: String| {
            Err(ScoringError::Config {
                key: key.into(),
                reason,
            })
        };
        if !(0.0..=100.0).contains(&self.yellow_min) || !(0.0..=100.0).contains(&self.green_min) {
            return bad(
                "scoring.green_min",
                "band thresholds must lie in [0, 100]".into(),
            );
        }
        if self.yellow_min > self.green_min {
            return bad(
                "scoring.yellow_min",
                format!(
                    "{} is above green_min {}; red < yellow_min <= yellow < green_min <= green",
                    self.yellow_min, self.green_min
                ),
            );
        }
        if !(0.0..=100.0).contains(&self.quadrant_cut) {
            return bad(
                "scoring.quadrant_cut",
                format!("{} is outside [0, 100]", self.quadrant_cut),
            );
        }
        if self.refresh_seconds == 0 {
            return bad("scoring.refresh_seconds", "must be at least 1".into());
        }
        if self.gap_play.trim().is_empty() {
            return bad("scoring.gap_play", "is empty".into());
        }
        if self.urgent_renewal_days > 366 {
            return bad(
                "scoring.urgent_renewal_days",
                format!("{} is more than a year", self.urgent_renewal_days),
            );
        }
        if self.top_drivers == 0 {
            return bad("scoring.top_drivers", "must be at least 1".into());
        }
        for (i, p) in self.plays.iter().enumerate() {
            let matched: Vec<&pulse_features::FeatureDef> = pulse_features::features()
                .iter()
                .filter(|f| p.matches(f.name))
                .collect();
            if matched.is_empty() {
                return bad(
                    &format!("scoring.plays[{i}].feature"),
                    format!("'{}' matches no feature", p.feature),
                );
            }
            if let Some(f) = matched
                .iter()
                .find(|f| f.role == pulse_features::Role::Context)
            {
                return bad(
                    &format!("scoring.plays[{i}].feature"),
                    format!(
                        "'{}' matches {}, a timing and context feature: it sets how urgent a play is (scoring.urgent_renewal_days), not which play; give plays to actionable features",
                        p.feature, f.name
                    ),
                );
            }
            if p.play.trim().is_empty() {
                return bad(&format!("scoring.plays[{i}].play"), "is empty".into());
            }
        }
        Ok(())
    }

    /// The play for a risk-raising driver, if the table has one.
    pub fn play_for(&self, feature: &str) -> Option<&str> {
        self.plays
            .iter()
            .find(|p| p.matches(feature))
            .map(|p| p.play.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_every_rule_matches_a_feature() {
        ScoringConfig::default().validate().unwrap();
        let cfg = ScoringConfig::default();
        assert_eq!(
            cfg.play_for("missed_payroll_90d"),
            Some("Pre-deadline check-in call before the next payroll run")
        );
        assert_eq!(
            cfg.play_for("champion_left"),
            Some("Find and onboard a new champion; multi-thread the account")
        );
        assert_eq!(cfg.play_for("segment_size"), None);
    }

    #[test]
    fn bad_settings_name_the_key() {
        let cfg = ScoringConfig {
            yellow_min: 95.0,
            ..Default::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("scoring.yellow_min"), "{e}");
        let cfg = ScoringConfig {
            plays: vec![PlayRule::new("no_such_feature", "x")],
            ..Default::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("scoring.plays[0].feature"), "{e}");
        assert!(e.contains("no_such_feature"), "{e}");
        // Timing is urgency, not a reason: no play for it.
        let cfg = ScoringConfig {
            plays: vec![PlayRule::new("days_to_renewal", "Renewal call")],
            ..Default::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("scoring.plays[0].feature"), "{e}");
        assert!(e.contains("timing and context"), "{e}");
    }
}
