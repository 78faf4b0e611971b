//! The traditional rule-based health scorecard over Pulse's features.
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
//! Which feature feeds which component, and in which direction, is part of
//! each feature's definition (`pulse_features::FeatureDef::scorecard`); this
//! module turns those into `pulse_models` inputs, in a fixed order.

use pulse_features::{Feature, Scorecard, ScorecardComponent};
use pulse_models::{Component, Direction, ScorecardInput};

/// The order of the first inputs: the order the scorecard had when it was a
/// hand-written list. A component's score sums its inputs in this order, and
/// fitted scorecards store them in it, so keeping it keeps a scorecard
/// trained on the same data identical to the bit. A feature given a
/// scorecard role later needs no entry here: inputs not listed follow, in
/// column order.
const FIRST: &[Feature] = &[
    Feature::ActiveUsersPerSeat30d,
    Feature::LoginsPerDay30d,
    Feature::FeatureBreadth30d,
    Feature::ActiveUsersTrend,
    Feature::LoginsTrend,
    Feature::DaysSinceActive,
    Feature::Interactions30d,
    Feature::OpenInteractions,
    Feature::FirstResponseHours90d,
    Feature::ResolutionHours90d,
    Feature::EscalationRate90d,
    Feature::ReopenRate90d,
    Feature::RepeatTopicContacts90d,
    Feature::CsatMean90d,
    Feature::FcrRate90d,
    Feature::NpsLatest,
    Feature::CsatSurveyLatest,
    Feature::SentimentMean90d,
    Feature::SurveySentimentMean180d,
    Feature::ContactsActive,
    Feature::RelationshipStrengthMean,
    Feature::ChampionStrength,
    Feature::ExecSponsorPresent,
    Feature::ChampionLeft,
    Feature::MrrChange90d,
    Feature::TenureDays,
    Feature::PaymentFailures90d,
    Feature::Downgrades180d,
];

/// The `pulse_models` component of a catalogue component.
fn component(c: ScorecardComponent) -> Component {
    match c {
        ScorecardComponent::Adoption => Component::Adoption,
        ScorecardComponent::Support => Component::Support,
        ScorecardComponent::Sentiment => Component::Sentiment,
        ScorecardComponent::Relationships => Component::Relationships,
        ScorecardComponent::Commercial => Component::Commercial,
    }
}

/// The component and direction a feature feeds, if it is an input.
fn role(f: Feature) -> Option<(Component, Direction)> {
    match f.def().scorecard {
        Scorecard::Unused => None,
        Scorecard::Healthier(c) => Some((component(c), Direction::HigherIsHealthier)),
        Scorecard::Riskier(c) => Some((component(c), Direction::HigherIsRiskier)),
    }
}

/// `(feature, component, direction)` of every scorecard input, in the order
/// the scorecard sums them.
pub fn scorecard_inputs() -> Vec<(Feature, Component, Direction)> {
    let listed = FIRST.iter().copied();
    let rest = Feature::ALL.iter().copied().filter(|f| !FIRST.contains(f));
    listed
        .chain(rest)
        .filter_map(|f| role(f).map(|(c, d)| (f, c, d)))
        .collect()
}

/// The scorecard inputs, weight 1 each, percentile-normalised.
pub fn default_inputs() -> Vec<ScorecardInput> {
    scorecard_inputs()
        .into_iter()
        .map(|(f, c, d)| ScorecardInput::new(f.name(), c, d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_feature_is_an_input_and_every_component_is_fed() {
        for f in FIRST {
            assert!(
                role(*f).is_some(),
                "{} is listed but not an input",
                f.name()
            );
        }
        let inputs = scorecard_inputs();
        for c in Component::ALL {
            assert!(inputs.iter().any(|i| i.1 == c), "{c:?}");
        }
        let cfg = crate::TrainConfig::default().scorecard();
        cfg.validate().unwrap();
    }
}
