//! The seam between ingest and a text model: whatever scores interaction and
//! survey text as it is stored implements [`TextScorer`], so the store never
//! depends on a model crate.

use crate::Sentiment;

/// Scores one text: a score in `[-1, 1]` and its label.
pub trait TextScorer: Send + Sync {
    /// `None` for empty or blank text (nothing to score); the store then
    /// leaves the sentiment columns NULL.
    fn score(&self, text: &str) -> Option<(f64, Sentiment)>;
    /// Identifies the model, stored next to every score it produced.
    fn version(&self) -> &str;
}
