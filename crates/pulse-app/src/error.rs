//! The application's one error type. Front ends map it to their own codes
//! (the gRPC server to status codes, the command line to messages); the
//! variants say whose fault a failure is.

use pulse_core::FieldError;
use pulse_store::StoreError;

use crate::registry::RegistryError;

/// Everything an application call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    // The id may be a caller's 1 MB string: quoted up to 400 characters.
    #[error("{what} '{}' not found", pulse_core::cap(.id.clone(), 400))]
    NotFound { what: &'static str, id: String },
    /// The caller's input is wrong; the error names the field and the reason.
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("no promoted {kind} model: {hint}")]
    NoModel {
        kind: &'static str,
        hint: &'static str,
    },
    #[error("{what} has {got} items, over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        got: usize,
        limit: usize,
    },
    /// The request cannot run in the current state; the message says how to fix it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Too much work at once: the request was refused to keep the server
    /// answering; retry with backoff.
    #[error("{0}")]
    Busy(String),
    /// The caller is known but may not do this; the message says why.
    #[error("{0}")]
    PermissionDenied(String),
    /// Temporarily unable to answer (e.g. the scoring population is loading).
    #[error("{0}")]
    Unavailable(String),
    /// The store failed; callers see "internal error", the log the cause.
    #[error("internal error")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Scoring(#[from] pulse_scoring::ScoringError),
    /// A failure that is not the caller's fault and not the store's or the
    /// registry's: a panicked blocking task, a serialisation error. The
    /// message is for the log; callers see "internal error".
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// An internal error with what was being done and why it failed.
    pub fn internal(what: &str, e: impl std::fmt::Display) -> AppError {
        AppError::Internal(format!("{what}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_say_what_failed_for_the_log() {
        let e = AppError::internal("scoring task", "panicked");
        assert_eq!(e.to_string(), "internal error: scoring task: panicked");
        let e: AppError = FieldError::new("week", "is not YYYY-Www").into();
        assert_eq!(e.to_string(), "week: is not YYYY-Www");
    }
}
