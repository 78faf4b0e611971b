//! Weak labels from survey scores: a survey answered next to a comment says
//! roughly how the customer felt, so the score can stand in for a human label
//! when no labelled text exists.
//!
//! | survey | negative | neutral | positive |
//! |---|---|---|---|
//! | CSAT (1-5) | 1-2 | 3 | 4-5 |
//! | NPS (0-10) | 0-6 (detractor) | 7-8 (passive) | 9-10 (promoter) |

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use pulse_core::Sentiment;
use serde::{Deserialize, Serialize};

/// Which survey a score comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    /// Customer satisfaction, 1 (very unsatisfied) to 5 (very satisfied).
    Csat,
    /// Net Promoter Score question, 0 to 10.
    Nps,
}

impl SurveyKind {
    /// The valid scores.
    pub fn range(self) -> RangeInclusive<i64> {
        match self {
            SurveyKind::Csat => 1..=5,
            SurveyKind::Nps => 0..=10,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Csat => "csat",
            SurveyKind::Nps => "nps",
        }
    }
}

impl From<pulse_core::SurveyKind> for SurveyKind {
    fn from(k: pulse_core::SurveyKind) -> Self {
        match k {
            pulse_core::SurveyKind::Csat => SurveyKind::Csat,
            pulse_core::SurveyKind::Nps => SurveyKind::Nps,
        }
    }
}

impl fmt::Display for SurveyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SurveyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csat" => Ok(SurveyKind::Csat),
            "nps" => Ok(SurveyKind::Nps),
            other => Err(format!("'{other}' is not one of csat, nps")),
        }
    }
}

/// The weak label of a survey score (table in the module docs). Scores
/// outside the scale are clamped to it first (a CSAT of 0 counts as 1, an NPS
/// of 11 as 10); check [`SurveyKind::range`] beforehand to reject them
/// instead, as [`SentimentModel::train_weak`](crate::SentimentModel::train_weak) does.
pub fn weak_label(kind: SurveyKind, score: i64) -> Sentiment {
    let range = kind.range();
    let score = score.clamp(*range.start(), *range.end());
    let (negative_max, neutral_max) = match kind {
        SurveyKind::Csat => (2, 3),
        SurveyKind::Nps => (6, 8),
    };
    if score <= negative_max {
        Sentiment::Negative
    } else if score <= neutral_max {
        Sentiment::Neutral
    } else {
        Sentiment::Positive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Sentiment::*;

    #[test]
    fn mapping_table() {
        let csat: Vec<_> = (1..=5).map(|s| weak_label(SurveyKind::Csat, s)).collect();
        assert_eq!(csat, [Negative, Negative, Neutral, Positive, Positive]);
        let nps: Vec<_> = (0..=10).map(|s| weak_label(SurveyKind::Nps, s)).collect();
        assert_eq!(
            nps,
            [
                Negative, Negative, Negative, Negative, Negative, Negative, Negative, Neutral,
                Neutral, Positive, Positive
            ]
        );
        // Clamped.
        assert_eq!(weak_label(SurveyKind::Csat, 0), Negative);
        assert_eq!(weak_label(SurveyKind::Csat, 99), Positive);
        assert_eq!(weak_label(SurveyKind::Nps, -3), Negative);
        assert_eq!(weak_label(SurveyKind::Nps, i64::MAX), Positive);
        assert_eq!("NPS".parse::<SurveyKind>(), Ok(SurveyKind::Nps));
        assert!("ces".parse::<SurveyKind>().is_err());
    }
}
