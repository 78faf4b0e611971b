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
    /// The error; a field name or reason longer than [`MAX_MESSAGE`]
    /// characters is cut (they may quote a caller's input).
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: cap(field.into(), MAX_ECHO),
            reason: cap(reason.into(), MAX_MESSAGE),
        }
    }
}

/// Most characters of a caller's input an error message quotes ([`echo`]).
pub const MAX_ECHO: usize = 100;
/// Most characters of any error message ([`cap`]).
pub const MAX_MESSAGE: usize = 1_000;

/// `s` as an error message may quote it: at most [`MAX_ECHO`] characters,
/// then `...` and the full length. A 1 MB id must not become a 1 MB message
/// (a gRPC status travels in a header that clients limit).
pub fn echo(s: &str) -> String {
    cap(s.to_string(), MAX_ECHO)
}

/// `s` cut to `max` characters, marked with `... (N bytes)` when cut.
pub fn cap(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s,
        Some((at, _)) => format!("{}... ({} bytes)", &s[..at], s.len()),
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_in_messages() {
        assert_eq!(echo("a-1"), "a-1");
        let long = "x".repeat(1_000_000);
        let e = echo(&long);
        assert!(e.len() < 130 && e.ends_with("... (1000000 bytes)"), "{e}");
        // Cut on a character boundary.
        let wide = "é".repeat(200);
        assert!(echo(&wide).starts_with(&"é".repeat(100)));
        let f = FieldError::new("id", format!("'{long}' is unknown"));
        assert!(f.reason.len() < 1_100, "{}", f.reason.len());
    }
}
