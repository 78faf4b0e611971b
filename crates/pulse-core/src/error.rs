//! The one validation error: which field is wrong and why.

use std::fmt;

/// A rejected field: `field` names it as the caller wrote it (`csat`,
/// `opened_at`, `account_id`), `reason` says what is wrong in words a caller
/// can act on. Messages carry no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}
