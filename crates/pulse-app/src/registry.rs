//! The model registry as the server sees it: a trait, so the server never
//! touches files. The binary implements it over a directory; tests use an
//! in-memory one.
//!
//! Methods are blocking (a directory registry reads and writes files); the
//! services call them on tokio's blocking pool.
//!
//! Sentiment models (`sentiment-v<N>`) are kept beside the account models with
//! their own methods, because they are another kind of artifact (a
//! [`SentimentModel`] and its [`SentimentCard`]); the defaults describe a
//! registry that keeps none. Survival (time-to-churn) models
//! (`survival-v<N>`, a [`SurvivalModel`] with its card) likewise: every
//! training run that fits churn saves one, and the newest is in service.

use pulse_forecast::{SurvivalCard, SurvivalModel};
use pulse_models::{ModelArtifact, ModelCard, ModelKind};
use pulse_sentiment::{SentimentCard, SentimentModel};

/// One model in the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEntry {
    pub card: ModelCard,
    /// Whether this version is the one serving its kind.
    pub promoted: bool,
    /// Trained from a table (`pulse train --table`): scores tables, not
    /// accounts, and cannot be promoted.
    pub tabular: bool,
}

/// The outcome of a promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub kind: ModelKind,
    pub version: String,
    /// The version that served the kind before, if any.
    pub previous: Option<String>,
}

/// One sentiment model in the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentEntry {
    pub card: SentimentCard,
    /// Whether this version serves `SentimentService` and ingest scoring.
    pub promoted: bool,
}

/// The outcome of promoting a sentiment model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentimentPromotion {
    pub version: String,
    /// The version promoted before, if any.
    pub previous: Option<String>,
}

/// Registry versions of sentiment models are `sentiment-v<N>` (a model's
/// content fingerprint, `sentiment-` and 12 hex digits, never has the `v`).
pub fn is_sentiment_version(version: &str) -> bool {
    version
        .strip_prefix("sentiment-v")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("model {version} not found")]
    NotFound { version: String },
    /// The artifact exists but must not be used: its hash or feature schema
    /// does not match, or it is the wrong sort of model for the request.
    #[error("model {version} refused: {reason}")]
    Refused { version: String, reason: String },
    /// The registry's storage failed (shown to callers as "internal error").
    #[error("model registry storage failed: {0}")]
    Storage(String),
}

/// Versioned model artifacts and which version serves each kind.
pub trait ModelRegistry: Send + Sync + std::fmt::Debug {
    /// Every model, newest first.
    fn list(&self) -> Result<Vec<RegistryEntry>, RegistryError>;

    /// A model with its payload. Implementations verify the payload hash and,
    /// for account models, that the feature schema is this build's
    /// (`pulse_training::check_account_model`), and refuse a mismatch.
    fn get(&self, version: &str) -> Result<ModelArtifact, RegistryError>;

    /// Stores a new artifact under a fresh version, written into its card,
    /// and returns the saved entry.
    fn save(&self, artifact: ModelArtifact) -> Result<RegistryEntry, RegistryError>;

    /// Makes `version` the model serving its kind, atomically: readers see
    /// either the old or the new promotion, never a mix.
    fn promote(&self, version: &str) -> Result<Promotion, RegistryError>;

    /// The version serving `kind`, if any.
    fn promoted(&self, kind: ModelKind) -> Result<Option<String>, RegistryError>;

    /// Every sentiment model, newest first.
    fn list_sentiment(&self) -> Result<Vec<SentimentEntry>, RegistryError> {
        Ok(Vec::new())
    }

    /// Stores a sentiment model under a fresh `sentiment-v<N>`, written into
    /// its card, and returns the saved entry.
    fn save_sentiment(
        &self,
        card: SentimentCard,
        model: &SentimentModel,
    ) -> Result<SentimentEntry, RegistryError> {
        let _ = (card, model);
        Err(RegistryError::Storage(
            "this registry keeps no sentiment models".into(),
        ))
    }

    /// A sentiment model. Implementations check that it is the model its
    /// card describes (the content fingerprint matches) and refuse it if not.
    fn get_sentiment(&self, version: &str) -> Result<SentimentModel, RegistryError> {
        Err(RegistryError::NotFound {
            version: version.to_string(),
        })
    }

    /// The card of one sentiment model, without its model.
    fn sentiment_card(&self, version: &str) -> Result<SentimentCard, RegistryError> {
        Err(RegistryError::NotFound {
            version: version.to_string(),
        })
    }

    /// Makes `version` the sentiment model in service, atomically.
    fn promote_sentiment(&self, version: &str) -> Result<SentimentPromotion, RegistryError> {
        Err(RegistryError::NotFound {
            version: version.to_string(),
        })
    }

    /// The promoted sentiment version, if any.
    fn promoted_sentiment(&self) -> Result<Option<String>, RegistryError> {
        Ok(None)
    }

    /// Stores a survival model under a fresh `survival-v<N>` (written into
    /// its card) and returns that version.
    fn save_survival(&self, model: &mut SurvivalModel) -> Result<String, RegistryError> {
        let _ = model;
        Err(RegistryError::Storage(
            "this registry keeps no survival models".into(),
        ))
    }

    /// The newest survival model (the one in service), checked against this
    /// build's feature schema; `None` when none was trained.
    fn latest_survival(&self) -> Result<Option<SurvivalModel>, RegistryError> {
        Ok(None)
    }

    /// The cards of every survival model, newest (the one in service) first.
    fn list_survival(&self) -> Result<Vec<SurvivalCard>, RegistryError> {
        Ok(Vec::new())
    }

    /// The card of the survival model in service (the newest), without
    /// reading its model or any older one.
    fn latest_survival_card(&self) -> Result<Option<SurvivalCard>, RegistryError> {
        Ok(self.list_survival()?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentiment_versions_are_not_fingerprints() {
        assert!(is_sentiment_version("sentiment-v1"));
        assert!(is_sentiment_version("sentiment-v12"));
        assert!(!is_sentiment_version("sentiment-v"));
        assert!(!is_sentiment_version("sentiment-0123456789ab"));
        assert!(!is_sentiment_version("churn-v1"));
    }
}
