//! The traditional rule-based health scorecard over Pulse's features: which
//! feature feeds which of the five components, and in which direction.
//!
//! This is the kind of score a customer-success team builds by hand: usage
//! and seat utilisation for adoption, ticket volume, speed and escalations for
//! support, NPS / CSAT answers and the tone of what customers write for
//! sentiment, champion and sponsor coverage for relationships, payment
//! failures and downgrades for commercial health. Every input is a percentile
//! against the training population (see `pulse_models::scorecard`), and the
//! component weights come from configuration. Operational incidents have no
//! component of their own in the classic scorecard: they show up through
//! support.
//!
//! | component | feature | direction |
//! |---|---|---|
//! | adoption | `active_users_per_seat_30d`, `logins_per_day_30d`, `feature_breadth_30d`, `active_users_trend`, `logins_trend` | higher is healthier |
//! | adoption | `days_since_active` | higher is riskier |
//! | support | `interactions_30d`, `open_interactions`, `first_response_hours_90d`, `resolution_hours_90d`, `escalation_rate_90d`, `reopen_rate_90d`, `repeat_topic_contacts_90d` | higher is riskier |
//! | support | `csat_mean_90d`, `fcr_rate_90d` | higher is healthier |
//! | sentiment | `nps_latest`, `csat_survey_latest`, `sentiment_mean_90d`, `survey_sentiment_mean_180d` | higher is healthier |
//! | relationships | `contacts_active`, `relationship_strength_mean`, `champion_strength`, `exec_sponsor_present` | higher is healthier |
//! | relationships | `champion_left` | higher is riskier |
//! | commercial | `mrr_change_90d`, `tenure_days` | higher is healthier |
//! | commercial | `payment_failures_90d`, `downgrades_180d` | higher is riskier |

use pulse_models::{Component, Direction, ScorecardInput};

const HEALTHIER: Direction = Direction::HigherIsHealthier;
const RISKIER: Direction = Direction::HigherIsRiskier;

/// `(feature, component, direction)` of every scorecard input.
pub const SCORECARD_INPUTS: &[(&str, Component, Direction)] = &[
    ("active_users_per_seat_30d", Component::Adoption, HEALTHIER),
    ("logins_per_day_30d", Component::Adoption, HEALTHIER),
    ("feature_breadth_30d", Component::Adoption, HEALTHIER),
    ("active_users_trend", Component::Adoption, HEALTHIER),
    ("logins_trend", Component::Adoption, HEALTHIER),
    ("days_since_active", Component::Adoption, RISKIER),
    ("interactions_30d", Component::Support, RISKIER),
    ("open_interactions", Component::Support, RISKIER),
    ("first_response_hours_90d", Component::Support, RISKIER),
    ("resolution_hours_90d", Component::Support, RISKIER),
    ("escalation_rate_90d", Component::Support, RISKIER),
    ("reopen_rate_90d", Component::Support, RISKIER),
    ("repeat_topic_contacts_90d", Component::Support, RISKIER),
    ("csat_mean_90d", Component::Support, HEALTHIER),
    ("fcr_rate_90d", Component::Support, HEALTHIER),
    ("nps_latest", Component::Sentiment, HEALTHIER),
    ("csat_survey_latest", Component::Sentiment, HEALTHIER),
    ("sentiment_mean_90d", Component::Sentiment, HEALTHIER),
    (
        "survey_sentiment_mean_180d",
        Component::Sentiment,
        HEALTHIER,
    ),
    ("contacts_active", Component::Relationships, HEALTHIER),
    (
        "relationship_strength_mean",
        Component::Relationships,
        HEALTHIER,
    ),
    ("champion_strength", Component::Relationships, HEALTHIER),
    ("exec_sponsor_present", Component::Relationships, HEALTHIER),
    ("champion_left", Component::Relationships, RISKIER),
    ("mrr_change_90d", Component::Commercial, HEALTHIER),
    ("tenure_days", Component::Commercial, HEALTHIER),
    ("payment_failures_90d", Component::Commercial, RISKIER),
    ("downgrades_180d", Component::Commercial, RISKIER),
];

/// The scorecard inputs, weight 1 each, percentile-normalised.
pub fn default_inputs() -> Vec<ScorecardInput> {
    SCORECARD_INPUTS
        .iter()
        .map(|&(f, c, d)| ScorecardInput::new(f, c, d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_is_a_feature_and_every_component_is_fed() {
        for (f, _, _) in SCORECARD_INPUTS {
            assert!(pulse_features::feature_index(f).is_some(), "{f}");
        }
        for c in Component::ALL {
            assert!(SCORECARD_INPUTS.iter().any(|i| i.1 == c), "{c:?}");
        }
        let cfg = crate::TrainConfig::default().scorecard();
        cfg.validate().unwrap();
    }
}
