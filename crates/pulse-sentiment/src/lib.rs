//! Sentiment of customer interaction text (tickets, chats, call notes, survey
//! comments): negative, neutral or positive, with a calibrated score in
//! `[-1, 1]` and the phrases that decided it.
//!
//! - [`tokenize`]: words, `NOT_`-marked negation scope, bigrams (`still
//!   waiting`), character n-grams, emphasis (`!!!`, capitals, intensifiers),
//!   emoticons and emoji.
//! - [`SentimentModel`]: TF-IDF + multinomial logistic regression (the
//!   objective and L-BFGS of `linfa-logistic`, fitted on a sparse matrix;
//!   linfa's dense fit selectable and used as the reference in tests),
//!   calibrated (class offsets for macro-F1, temperature); served sparsely
//!   from a hash map of feature rows, never through a matrix.
//! - Training from labelled text ([`SentimentModel::train`], corpus parsers in
//!   [`corpus`]) or from survey scores as weak labels
//!   ([`SentimentModel::train_weak`], [`weak_label`]).
//! - [`evaluate`] and [`Evaluation`] for held-out numbers; [`train_held_out`]
//!   and the [`SentimentCard`] a registry keeps beside a model.
//!
//! Architecture Invariant: no file, network or terminal I/O. Models are read
//! through `std::io::Read` and written through `std::io::Write`, corpora are
//! parsed from `&str`, nothing is printed or logged (interaction text is
//! customer data).

mod calibrate;
mod card;
pub mod corpus;
mod error;
mod eval;
mod hash;
mod model;
mod rng;
mod solver;
pub mod tokenize;
mod weak;

pub use card::{
    DEFAULT_SEED, HELD_OUT_FRACTION, HeldOutReport, SentimentCard, TrainingSource, card_path,
    read_card_beside, train_held_out, write_card_beside,
};
pub use corpus::{
    LabelledText, RatedText, as_pairs, parse_labelled_csv, parse_uci, parse_vader_groundtruth,
    stratified_split, vader_label, write_labelled_csv,
};
pub use error::SentimentError;
pub use eval::{ClassMetrics, Evaluation, ProbabilityMetrics, evaluate};
pub use model::{
    Balance, CLASSES, MAX_TRAINING_MATRIX_BYTES, MIN_CALIBRATION_DOCS, MODEL_FORMAT, Phrase,
    Prediction, SentimentModel, TrainParams, TrainingSummary, class_index,
};
pub use pulse_core::Sentiment;
pub use solver::Solver;
pub use tokenize::{MAX_TEXT_BYTES, TokenConfig};
pub use weak::{SurveyKind, weak_label};
