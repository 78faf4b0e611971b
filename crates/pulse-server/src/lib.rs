//! Pulse's gRPC server: the tonic services over the store, the standard
//! `grpc.health.v1` health service and server reflection.
//!
//! Architecture Invariant: this crate (with `pulse-proto`) is the only one that
//! knows protobuf; it converts at the edge and calls the store and the pure
//! crates with core types. It reads no files, flags or environment: the binary
//! hands it a bound listener and a ready [`AppState`].

mod accounts;
mod convert;
pub mod error;
mod ingest;

use std::future::Future;

use pulse_proto::v1::account_service_server::AccountServiceServer;
use pulse_proto::v1::ingest_service_server::IngestServiceServer;
use pulse_store::Store;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub use error::ServerError;
pub use ingest::{MAX_BATCH, MAX_REJECTIONS};

/// Everything the services share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
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
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pulse_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor set is valid");

    let ingest = IngestServiceServer::new(ingest::IngestSvc {
        store: state.store.clone(),
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let accounts = AccountServiceServer::new(accounts::AccountSvc {
        store: state.store.clone(),
    });

    Server::builder()
        .add_service(health_svc)
        .add_service(reflection)
        .add_service(ingest)
        .add_service(accounts)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}
