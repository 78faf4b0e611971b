//! Why a survival fit or a forecast could not be made. Messages name the
//! setting or field at fault and say what to do.

use pulse_models::{DatasetError, ModelError, ParamError};
use thiserror::Error;

/// A survival model or forecast that could not be produced.
#[derive(Debug, Error)]
pub enum ForecastError {
    /// Too little data to learn from or to forecast.
    #[error("not enough data: {reason}")]
    NoData { reason: String },
    /// A setting or request field is out of range; `field` names it.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(transparent)]
    Train(#[from] pulse_training::TrainError),
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl ForecastError {
    pub(crate) fn no_data(reason: impl Into<String>) -> Self {
        ForecastError::NoData {
            reason: reason.into(),
        }
    }
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ForecastError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
