//! Pulse's gRPC server: the tonic services over the store and the model
//! registry, the standard `grpc.health.v1` health service and server
//! reflection.
//!
//! Architecture Invariant: this crate (with `pulse-proto`) is the only one that
//! knows protobuf; it converts at the edge and calls the store and the pure
//! crates with core types. It reads no files, flags or environment: the binary
//! hands it a bound listener and a ready [`AppState`]; models are stored
//! behind the [`ModelRegistry`] trait, which the binary implements over a
//! directory.

mod accounts;
mod convert;
pub mod error;
mod ingest;
mod models;
pub mod registry;
mod sentiment;

use std::future::Future;
use std::sync::Arc;

use pulse_proto::v1::account_service_server::AccountServiceServer;
use pulse_proto::v1::ingest_service_server::IngestServiceServer;
use pulse_proto::v1::model_service_server::ModelServiceServer;
use pulse_proto::v1::sentiment_service_server::SentimentServiceServer;
use pulse_store::Store;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub use error::ServerError;
pub use ingest::{MAX_BATCH, MAX_REJECTIONS};
pub use models::MAX_JOBS;
pub use registry::{ModelRegistry, Promotion, RegistryEntry, RegistryError};
pub use sentiment::MAX_TEXTS as MAX_SENTIMENT_TEXTS;

/// Everything the services share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    /// Where trained models are kept and which version serves each kind.
    pub registry: Arc<dyn ModelRegistry>,
    /// Defaults of `ModelService.Train` (a request may override the horizon,
    /// the capacity and the leakage gate).
    pub training: pulse_training::TrainConfig,
    /// The sentiment model behind `SentimentService` and ingest scoring;
    /// `None` makes `Analyze` fail with FAILED_PRECONDITION and ingest store
    /// NULL sentiment.
    pub sentiment: Option<Arc<pulse_sentiment::SentimentModel>>,
}

impl AppState {
    /// State with the default training settings.
    pub fn new(store: Store, registry: Arc<dyn ModelRegistry>) -> Self {
        AppState {
            store,
            registry,
            training: pulse_training::TrainConfig::default(),
            sentiment: None,
        }
    }
}

/// Largest accepted request message (an ingest batch), in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Serves every Pulse service on `listener` until `shutdown` resolves, then
/// stops accepting connections and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (health, health_svc) = tonic_health::server::health_reporter();
    health
        .set_serving::<IngestServiceServer<ingest::IngestSvc>>()
        .await;
    health
        .set_serving::<AccountServiceServer<accounts::AccountSvc>>()
        .await;
    health
        .set_serving::<ModelServiceServer<models::ModelSvc>>()
        .await;
    health
        .set_serving::<SentimentServiceServer<sentiment::SentimentSvc>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pulse_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor set is valid");

    let ingest = IngestServiceServer::new(ingest::IngestSvc {
        store: state.store.clone(),
        sentiment: state.sentiment.clone(),
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let accounts = AccountServiceServer::new(accounts::AccountSvc {
        store: state.store.clone(),
    });
    let models = ModelServiceServer::new(models::ModelSvc::new(
        state.store.clone(),
        state.registry.clone(),
        state.training.clone(),
    ));

    let sentiment = SentimentServiceServer::new(sentiment::SentimentSvc {
        model: state.sentiment.clone(),
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES);

    Server::builder()
        .add_service(health_svc)
        .add_service(reflection)
        .add_service(ingest)
        .add_service(accounts)
        .add_service(models)
        .add_service(sentiment)
        // TCP_NODELAY: `TcpIncoming::from` leaves Nagle's algorithm on, and
        // every small response then waits ~40 ms for the client's delayed ACK
        // (`pulse bench score` against its stub: 22 vs 5,500 calls/s at one in
        // flight, p50 44 ms vs 0.11 ms; `--stub-nagle` reproduces it).
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}
