//! The one error type of the crate: bad input files, bad parameters, a model
//! that cannot be trained or loaded.

use crate::weak::SurveyKind;

/// Everything that can go wrong while parsing a corpus, training, or reading
/// and writing a model. Messages carry no trailing dot.
#[derive(Debug, thiserror::Error)]
pub enum SentimentError {
    /// A corpus line could not be parsed; `line` counts from 1.
    #[error("line {line}: {reason}")]
    Parse { line: usize, reason: String },
    /// A training parameter is out of its range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },
    /// Training was given no documents.
    #[error("no training documents")]
    EmptyCorpus,
    /// Training needs at least two of the three classes.
    #[error("training needs at least two classes, found {found}")]
    TooFewClasses { found: usize },
    /// No feature occurs often enough to enter the vocabulary.
    #[error("no feature occurs in at least {min_df} documents")]
    EmptyVocabulary { min_df: u32 },
    /// A survey score outside its scale was given for weak labelling.
    #[error("document {index}: {kind} score {score} is outside {min}..={max}")]
    ScoreOutOfRange {
        index: usize,
        kind: SurveyKind,
        score: i64,
        min: i64,
        max: i64,
    },
    /// A serialised model is inconsistent (wrong format, lengths, values).
    #[error("invalid model: {reason}")]
    InvalidModel { reason: String },
    /// linfa's logistic regression failed.
    #[error(transparent)]
    Linfa(#[from] linfa_logistic::error::Error),
    /// The sparse solver's optimiser failed.
    #[error("optimiser failed: {reason}")]
    Solver { reason: String },
    /// A file beside a model could not be read or written.
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    /// JSON (de)serialisation failed, including the underlying reader or writer.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl SentimentError {
    pub fn parse(line: usize, reason: impl Into<String>) -> Self {
        SentimentError::Parse {
            line,
            reason: reason.into(),
        }
    }

    pub fn invalid_param(name: &'static str, reason: impl Into<String>) -> Self {
        SentimentError::InvalidParam {
            name,
            reason: reason.into(),
        }
    }

    pub fn solver(reason: impl Into<String>) -> Self {
        SentimentError::Solver {
            reason: reason.into(),
        }
    }

    pub fn invalid_model(reason: impl Into<String>) -> Self {
        SentimentError::InvalidModel {
            reason: reason.into(),
        }
    }
}
