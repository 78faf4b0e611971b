//! The model registry as the server sees it: a trait, so the server never
//! touches files. The binary implements it over a directory; tests use an
//! in-memory one.
//!
//! Methods are blocking (a directory registry reads and writes files); the
//! services call them on tokio's blocking pool.

use pulse_models::{ModelArtifact, ModelCard, ModelKind};

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
}
