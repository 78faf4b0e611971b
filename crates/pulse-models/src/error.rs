//! Typed errors of the models crate: invalid data, invalid hyper-parameters, fitting failures,
//! artifacts that fail their integrity checks, and tables that cannot be encoded.
//!
//! Messages carry no trailing dot and never include row values that could be customer data
//! beyond a row/column index.

use thiserror::Error;

/// A hyper-parameter outside its valid range (returned by `check()`, before any fitting).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("invalid parameter {param}: expected {expected}, got {value}")]
pub struct ParamError {
    /// Parameter name as spelled in the params struct.
    pub param: &'static str,
    /// Human description of the valid range.
    pub expected: &'static str,
    /// The rejected value, formatted.
    pub value: String,
}

impl ParamError {
    pub(crate) fn new(param: &'static str, expected: &'static str, value: impl ToString) -> Self {
        Self {
            param,
            expected,
            value: value.to_string(),
        }
    }
}

/// A design matrix and labels that cannot be used for training or evaluation.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DatasetError {
    /// The matrix has no rows or no columns.
    #[error("dataset is empty: {rows} rows x {cols} columns")]
    Empty { rows: usize, cols: usize },
    /// Labels (or time / groups) do not have one entry per row.
    #[error("{what} has {got} entries, expected one per row ({rows})")]
    LengthMismatch {
        what: &'static str,
        rows: usize,
        got: usize,
    },
    /// Feature names do not have one entry per column.
    #[error("{names} feature names for {cols} columns")]
    FeatureNamesMismatch { cols: usize, names: usize },
    /// Two columns share a name, so the schema would be ambiguous.
    #[error("duplicate feature name {name}")]
    DuplicateFeatureName { name: String },
    /// Infinite values are not allowed; missing values must be NaN.
    #[error("non-finite value at row {row}, column {column} (missing values must be NaN)")]
    NonFinite { row: usize, column: String },
    /// Only one class is present, so a classifier cannot be trained or evaluated.
    #[error("labels must contain both classes, got {positives} positives in {rows} rows")]
    SingleClass { rows: usize, positives: usize },
    /// A feature the caller referred to is not in the dataset.
    #[error("unknown feature {name}")]
    UnknownFeature { name: String },
    /// A row index outside the dataset.
    #[error("row index {index} out of range for {rows} rows")]
    RowOutOfRange { index: usize, rows: usize },
    /// An operation needs `time` (or `groups`) but the dataset has none.
    #[error("dataset has no {what} column")]
    Missing { what: &'static str },
    /// A split left one side without rows or without both classes.
    #[error("split {part} is unusable: {reason}")]
    BadSplit { part: &'static str, reason: String },
}

/// Fitting, predicting or evaluating a model failed.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The logistic regression solver failed (argmin's L-BFGS, or a
    /// non-finite result).
    #[error("logistic regression failed: {reason}")]
    Logistic { reason: String },
    /// forust-ml refused the data or parameters.
    #[error("gradient boosting failed: {reason}")]
    Boosting { reason: String },
    /// A fitted model is structurally invalid (corrupt or foreign artifact).
    #[error("invalid model: {reason}")]
    InvalidModel { reason: String },
    /// The matrix handed to a fitted model has the wrong number of columns.
    #[error("model expects {expected} features, got {got}")]
    FeatureCount { expected: usize, got: usize },
    /// Calibration needs both classes and at least a few rows.
    #[error("calibration failed: {reason}")]
    Calibration { reason: String },
    /// Score and label vectors differ in length, or are empty.
    #[error("metric input invalid: {reason}")]
    MetricInput { reason: String },
}

impl ModelError {
    pub(crate) fn boosting(reason: impl ToString) -> Self {
        Self::Boosting {
            reason: reason.to_string(),
        }
    }
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidModel {
            reason: reason.into(),
        }
    }
    pub(crate) fn calibration(reason: impl Into<String>) -> Self {
        Self::Calibration {
            reason: reason.into(),
        }
    }
    pub(crate) fn metric(reason: impl Into<String>) -> Self {
        Self::MetricInput {
            reason: reason.into(),
        }
    }
}

/// Reading, writing or verifying a model artifact failed.
#[derive(Debug, Error)]
pub enum ArtifactError {
    /// The payload bytes do not hash to the value recorded in the card (tampering or corruption).
    #[error("artifact hash mismatch: card says {expected}, payload hashes to {actual}")]
    HashMismatch { expected: String, actual: String },
    /// The feature names (in order) differ from what the caller or the model expects.
    #[error("feature schema mismatch ({context}): expected {expected:?}, got {actual:?}")]
    SchemaMismatch {
        context: &'static str,
        expected: Vec<String>,
        actual: Vec<String>,
    },
    /// The artifact was written by an incompatible format version.
    #[error("unsupported artifact format {found}, this build reads {supported}")]
    UnsupportedFormat {
        found: String,
        supported: &'static str,
    },
    /// The JSON is malformed or does not describe an artifact.
    #[error("artifact JSON invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// The underlying reader or writer failed.
    #[error("artifact I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The model inside the artifact is structurally invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// A generic feature table that cannot be encoded into a dataset.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TableError {
    /// A row has a different number of cells than the header.
    #[error("row {row} has {got} cells, header has {expected}")]
    RaggedRow {
        row: usize,
        expected: usize,
        got: usize,
    },
    /// A column named in the options is not in the header.
    #[error("column {name} not found")]
    UnknownColumn { name: String },
    /// The header names a column twice.
    #[error("duplicate column {name}")]
    DuplicateColumn { name: String },
    /// The label cell is blank or missing.
    #[error("row {row}: label is missing")]
    MissingLabel { row: usize },
    /// The label cell is not a recognised binary value and no positive value was given.
    #[error(
        "row {row}: label {value:?} is not yes/no, true/false or 1/0; set an explicit positive value"
    )]
    UnrecognisedLabel { row: usize, value: String },
    /// No feature column is left after dropping ids and the label.
    #[error("no feature columns left")]
    NoFeatures,
    /// The encoded rows do not form a valid dataset.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
}
