//! The one exhaustive mapping of the application's errors
//! ([`pulse_app::AppError`]) to gRPC status codes. Causes the caller cannot
//! act on (store, registry storage, internal failures) are logged in full and
//! reach the caller as "internal error".

use pulse_app::{AppError, RegistryError};
use pulse_core::FieldError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The status a caller sees for `e`.
pub fn status(e: impl Into<AppError>) -> Status {
    let s = status_of(e.into());
    // Every message capped: it travels in a header clients limit.
    if s.message().len() > pulse_core::error::MAX_MESSAGE {
        let message = pulse_core::cap(s.message().to_string(), pulse_core::error::MAX_MESSAGE);
        return Status::with_details(s.code(), message, s.details().to_vec().into());
    }
    s
}

fn status_of(e: AppError) -> Status {
    match e {
        AppError::NotFound { .. } => Status::not_found(e.to_string()),
        AppError::Invalid(f) => {
            let mut details = ErrorDetails::new();
            details.add_bad_request_violation(f.field.clone(), f.reason.clone());
            Status::with_error_details(Code::InvalidArgument, f.to_string(), details)
        }
        AppError::NoModel { .. } => Status::failed_precondition(e.to_string()),
        AppError::TooLarge { .. } => Status::resource_exhausted(e.to_string()),
        AppError::FailedPrecondition(m) => Status::failed_precondition(m),
        AppError::Unavailable(m) => Status::unavailable(m),
        AppError::PermissionDenied(m) => Status::permission_denied(m),
        AppError::Busy(m) => Status::resource_exhausted(m),
        AppError::Store(inner) => {
            // Callers see "internal error"; the cause goes to the log in full.
            tracing::error!(error = %inner, "store error");
            Status::internal("internal error")
        }
        AppError::Registry(inner) => match inner {
            RegistryError::NotFound { .. } => Status::not_found(inner.to_string()),
            RegistryError::Refused { .. } => Status::failed_precondition(inner.to_string()),
            RegistryError::Storage(_) => {
                tracing::error!(error = %inner, "model registry error");
                Status::internal("internal error")
            }
        },
        AppError::Scoring(inner) => match inner {
            pulse_scoring::ScoringError::Feature { feature, reason } => {
                status_of(FieldError::new(feature, reason).into())
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
        AppError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            Status::internal("internal error")
        }
    }
}

/// `Err(e.into_status())` in a handler: the application's error as a status.
pub(crate) trait IntoStatus {
    fn into_status(self) -> Status;
}

impl<E: Into<AppError>> IntoStatus for E {
    fn into_status(self) -> Status {
        status(self)
    }
}

/// `result.or_status()?` in a handler: the application's error as a status.
pub(crate) trait OrStatus<T> {
    fn or_status(self) -> Result<T, Status>;
}

impl<T, E: Into<AppError>> OrStatus<T> for Result<T, E> {
    fn or_status(self) -> Result<T, Status> {
        self.map_err(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_store::StoreError;

    #[test]
    fn invalid_fields_carry_a_bad_request_violation() {
        let s = status(FieldError::new("csat", "9 is outside 1..=5"));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "csat: 9 is outside 1..=5");
        let br = s.get_details_bad_request().expect("bad request details");
        assert_eq!(br.field_violations[0].field, "csat");
    }

    #[test]
    fn registry_errors_map_to_their_codes() {
        let s = status(RegistryError::NotFound {
            version: "churn-v9".into(),
        });
        assert_eq!(
            (s.code(), s.message()),
            (Code::NotFound, "model churn-v9 not found")
        );
        let s = status(RegistryError::Refused {
            version: "churn-v1".into(),
            reason: "hash mismatch".into(),
        });
        assert_eq!(s.code(), Code::FailedPrecondition);
        let s = status(RegistryError::Storage("/srv/models: disk full".into()));
        assert_eq!((s.code(), s.message()), (Code::Internal, "internal error"));
    }

    #[test]
    fn store_errors_do_not_leak() {
        let s = status(StoreError::Corrupt {
            table: "accounts",
            id: "secret".into(),
            reason: "x".into(),
        });
        assert_eq!((s.code(), s.message()), (Code::Internal, "internal error"));
        let s = status(AppError::internal("the scoring task", "panicked at secret"));
        assert_eq!((s.code(), s.message()), (Code::Internal, "internal error"));
    }
}
