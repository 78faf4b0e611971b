//! Integration tests of pulse-sentiment through its public API only: junk
//! input never panics, and the shipped training data parses as documented.

mod default_model;
mod junk;
mod training_data;
