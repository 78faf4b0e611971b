//! The server's errors and their one exhaustive mapping to gRPC status codes.

use pulse_core::FieldError;
use pulse_store::StoreError;
use tonic::{Code, Status};

use crate::registry::RegistryError;
use tonic_types::{ErrorDetails, StatusExt};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{what} '{id}' not found")]
    NotFound { what: &'static str, id: String },
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
    /// Temporarily unable to answer (e.g. the scoring population is loading).
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("internal error")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Scoring(#[from] pulse_scoring::ScoringError),
}

impl From<ServerError> for Status {
    fn from(e: ServerError) -> Status {
        match e {
            ServerError::NotFound { .. } => Status::not_found(e.to_string()),
            ServerError::Invalid(f) => {
                let mut details = ErrorDetails::new();
                details.add_bad_request_violation(f.field.clone(), f.reason.clone());
                Status::with_error_details(Code::InvalidArgument, f.to_string(), details)
            }
            ServerError::NoModel { .. } => Status::failed_precondition(e.to_string()),
            ServerError::TooLarge { .. } => Status::resource_exhausted(e.to_string()),
            ServerError::FailedPrecondition(m) => Status::failed_precondition(m),
            ServerError::Unavailable(m) => Status::unavailable(m),
            ServerError::Unauthenticated(m) => Status::unauthenticated(m),
            ServerError::PermissionDenied(m) => Status::permission_denied(m),
            ServerError::Store(inner) => {
                // Callers see "internal error"; the cause goes to the log in full.
                tracing::error!(error = %inner, "store error");
                Status::internal("internal error")
            }
            ServerError::Registry(inner) => match inner {
                RegistryError::NotFound { .. } => Status::not_found(inner.to_string()),
                RegistryError::Refused { .. } => Status::failed_precondition(inner.to_string()),
                RegistryError::Storage(_) => {
                    tracing::error!(error = %inner, "model registry error");
                    Status::internal("internal error")
                }
            },
            ServerError::Scoring(inner) => match inner {
                pulse_scoring::ScoringError::Feature { feature, reason } => {
                    ServerError::Invalid(FieldError::new(feature, reason)).into()
                }
                pulse_scoring::ScoringError::Model { .. }
                | pulse_scoring::ScoringError::Config { .. } => {
                    Status::failed_precondition(inner.to_string())
                }
                pulse_scoring::ScoringError::Predict(e) => {
                    tracing::error!(error = %e, "scoring failed");
                    Status::internal("internal error")
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_fields_carry_a_bad_request_violation() {
        let s: Status = ServerError::Invalid(FieldError::new("csat", "9 is outside 1..=5")).into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "csat: 9 is outside 1..=5");
        let br = s.get_details_bad_request().expect("bad request details");
        assert_eq!(br.field_violations[0].field, "csat");
    }

    #[test]
    fn registry_errors_map_to_their_codes() {
        let s: Status = ServerError::from(RegistryError::NotFound {
            version: "churn-v9".into(),
        })
        .into();
        assert_eq!(
            (s.code(), s.message()),
            (Code::NotFound, "model churn-v9 not found")
        );
        let s: Status = ServerError::from(RegistryError::Refused {
            version: "churn-v1".into(),
            reason: "hash mismatch".into(),
        })
        .into();
        assert_eq!(s.code(), Code::FailedPrecondition);
        let s: Status =
            ServerError::from(RegistryError::Storage("/srv/models: disk full".into())).into();
        assert_eq!((s.code(), s.message()), (Code::Internal, "internal error"));
    }

    #[test]
    fn store_errors_do_not_leak() {
        let s: Status = ServerError::Store(StoreError::Corrupt {
            table: "accounts",
            id: "secret".into(),
            reason: "x".into(),
        })
        .into();
        assert_eq!((s.code(), s.message()), (Code::Internal, "internal error"));
    }
}
