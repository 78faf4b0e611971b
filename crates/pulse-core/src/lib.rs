//! Pulse's domain: the entities a B2B service company knows about its customers,
//! their validation rules and the time helpers every other crate shares.
//!
//! Architecture Invariant: this crate does no I/O, has no async and knows
//! nothing of SQL, protobuf or the command line. Everything above it converts
//! into these types, and every rule about what a valid record is lives here.
//! Its one read of the outside world is [`Clock::system`], the only wall-clock
//! read in the workspace: everything else is handed a [`Clock`].

pub mod clock;
pub mod column;
pub mod entity;
pub mod error;
pub mod money;
pub mod rng;
pub mod scorer;
pub mod time;

pub use clock::Clock;
pub use column::{Column, ColumnSink, ColumnSource, ColumnType, Columns, ValueKind};
pub use entity::*;
pub use error::{FieldError, cap, echo};
pub use scorer::TextScorer;
