//! End-to-end tests: the real server on a loopback port, called with real
//! tonic clients. One test binary for the crate (see STYLE.md).

mod access;
mod auth;
mod catalog;
mod forecast;
mod fuzz;
mod ingest;
mod limits;
mod lists;
mod metrics;
mod modelops;
mod models;
mod scoring;
mod sentiment;
mod sentiment_training;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use pulse_core::Clock;
use pulse_core::time::{Day, parse_day};
use pulse_server::{AppState, ScoringSettings};
use pulse_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};

/// The suite's "today": `PULSE_TEST_TODAY` (`YYYY-MM-DD`) when set, else
/// 2026-11-30. Every test world ends the day before and every server's clock
/// reads it, so no assertion depends on the day the suite runs; setting the
/// variable replays the whole suite on another date (docs/development.md).
pub(crate) fn today() -> Day {
    static TODAY: OnceLock<Day> = OnceLock::new();
    *TODAY.get_or_init(|| {
        let s = std::env::var("PULSE_TEST_TODAY").unwrap_or_default();
        let s = if s.trim().is_empty() {
            "2026-11-30"
        } else {
            s.as_str()
        };
        parse_day("PULSE_TEST_TODAY", s).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// A manual clock at noon of [`today`], for one server (tests that need
/// time to pass advance it).
pub(crate) fn clock() -> Clock {
    Clock::at_day(today())
}

/// Default scoring settings on a fresh test [`clock`].
pub(crate) fn settings() -> ScoringSettings {
    ScoringSettings::new(pulse_scoring::ScoringConfig::default(), 90, clock())
}

/// Server state with the default settings on a fresh test [`clock`].
pub(crate) fn state(store: Store, registry: Arc<dyn pulse_server::ModelRegistry>) -> AppState {
    AppState::new(store, registry, clock())
}

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
        Self::start_with(state(store, registry)).await
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

/// A request already encoded, sent as is (the access matrix and the fuzz
/// tests call any RPC with bytes of their own).
#[derive(Clone, PartialEq, Default)]
pub(crate) struct Raw(pub(crate) Vec<u8>);

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Raw({} bytes)", self.0.len())
    }
}

impl prost::Message for Raw {
    fn encode_raw(&self, buf: &mut impl prost::bytes::BufMut) {
        buf.put_slice(&self.0);
    }
    fn merge_field(
        &mut self,
        _: u32,
        _: prost::encoding::WireType,
        _: &mut impl prost::bytes::Buf,
        _: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        unreachable!("only sent")
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}
