//! Why a training run stopped. Every message says what to do about it.

use pulse_models::{ArtifactError, DatasetError, FeatureAuc, ModelError, ParamError};
use thiserror::Error;

/// A training run that could not produce a model.
#[derive(Debug, Error)]
pub enum TrainError {
    /// There is nothing (or too little) to learn from.
    #[error("not enough data to train: {reason}")]
    NoData { reason: String },
    /// A setting is out of range.
    #[error("training setting {key}: {reason}")]
    Config { key: &'static str, reason: String },
    /// The leakage gate: features that alone predict the label too well.
    #[error(
        "leakage gate: {kind} features that alone reach ROC-AUC >= {threshold:.2} (or <= {low:.2}) on the training rows: {list}; a single feature this predictive is almost always computed from the outcome. Fix the feature, or override the gate (--allow-leakage / allow_leakage = true), which the model card records",
        low = 1.0 - threshold,
        list = describe(features)
    )]
    Leakage {
        kind: &'static str,
        threshold: f64,
        features: Vec<FeatureAuc>,
    },
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

impl TrainError {
    pub(crate) fn no_data(reason: impl Into<String>) -> Self {
        TrainError::NoData {
            reason: reason.into(),
        }
    }
}

fn describe(features: &[FeatureAuc]) -> String {
    features
        .iter()
        .map(|f| format!("{} (ROC-AUC {:.3})", f.feature, f.roc_auc))
        .collect::<Vec<_>>()
        .join(", ")
}
