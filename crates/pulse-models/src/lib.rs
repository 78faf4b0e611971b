//! Churn and expansion models (work in progress).
