//! Pulse's application layer: everything that is neither transport nor pure
//! computation. The serving state and its hot swap ([`serving`]), scoring
//! runs, weekly lists and the outreach loop ([`lists`]), forecasts
//! ([`forecast`]) and the report's assembly ([`report`]), model operations
//! (train → compare → promote, drift, realised performance: [`model_ops`];
//! the training job queue and the retraining schedule: [`jobs`]),
//! and the model registry: the trait ([`registry`]) and its directory
//! implementation ([`dir_registry`]); roles and API keys ([`access`]).
//!
//! Architecture Invariant: no protobuf, no tonic, no command-line parsing.
//! Front ends (the gRPC server, the command line, a future HTTP console)
//! call these functions with core types and map [`AppError`] to their own
//! codes, so the same question gets the same answer on every front end.

pub mod access;
pub mod accounts;
pub mod cache;
pub mod dir_registry;
pub mod error;
pub mod forecast;
pub mod jobs;
pub mod limits;
pub mod lists;
pub mod model_ops;
pub mod privacy;
pub mod registry;
pub mod report;
pub mod runtime;
pub mod sentiment;
pub mod serving;

pub use dir_registry::DirRegistry;
pub use error::AppError;
pub use jobs::{MAX_JOBS, TrainingJobs};
pub use model_ops::{
    ModelOpsObserver, ModelOpsSettings, SurvivalOutcome, TrainRequest, TrainResult,
    train_and_decide,
};
pub use registry::{
    ModelRegistry, Promotion, RegistryEntry, RegistryError, SentimentEntry, SentimentPromotion,
    is_sentiment_version,
};
pub use sentiment::SentimentSlot;
pub use serving::{Scoring, ScoringSettings};
