//! End-to-end tests: the real server on a loopback port, called with real
//! tonic clients. One test binary for the crate (see STYLE.md).

mod auth;
mod forecast;
mod ingest;
mod lists;
mod metrics;
mod modelops;
mod models;
mod scoring;
mod sentiment;
mod sentiment_training;

use std::net::SocketAddr;
use std::sync::Arc;

use pulse_server::AppState;
use pulse_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};

/// A running server and a channel to it; dropping it stops the server.
pub(crate) struct TestServer {
    pub(crate) channel: Channel,
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub(crate) async fn start(store: Store) -> TestServer {
        let registry = Arc::new(models::MemoryRegistry::default());
        Self::start_with(AppState::new(store, registry)).await
    }

    pub(crate) async fn start_with(state: AppState) -> TestServer {
        // Bind before spawning so the client never races the server.
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            pulse_server::serve(listener, state, None, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        TestServer {
            channel,
            addr,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stops the server and waits until it has finished.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
    }
}
