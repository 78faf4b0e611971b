//! Pulse's gRPC server: the tonic services over the store and the model
//! registry, the standard `grpc.health.v1` health service and server
//! reflection, behind API-key access control ([`auth`]) and optional TLS
//! ([`Tls`]).
//!
//! Architecture Invariant: this crate (with `pulse-proto`) is the only one that
//! knows protobuf; it converts at the edge and calls the store and the pure
//! crates with core types. It reads no files, flags or environment: the binary
//! hands it a bound listener and a ready [`AppState`]; models are stored
//! behind the [`ModelRegistry`] trait, which the binary implements over a
//! directory.

mod accounts;
mod analytics;
pub mod auth;
mod convert;
pub mod error;
mod forecast;
mod ingest;
mod list_service;
pub mod metrics;
mod model_ops;
mod models;
mod privacy;
mod report;
mod scoring;
mod sentiment;
mod tls;

use std::future::Future;
use std::sync::Arc;

use pulse_proto::v1::account_service_server::AccountServiceServer;
use pulse_proto::v1::forecast_service_server::ForecastServiceServer;
use pulse_proto::v1::ingest_service_server::IngestServiceServer;
use pulse_proto::v1::list_service_server::ListServiceServer;
use pulse_proto::v1::model_service_server::ModelServiceServer;
use pulse_proto::v1::privacy_service_server::PrivacyServiceServer;
use pulse_proto::v1::report_service_server::ReportServiceServer;
use pulse_proto::v1::scoring_service_server::ScoringServiceServer;
use pulse_proto::v1::sentiment_service_server::SentimentServiceServer;
use pulse_store::Store;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub use auth::{ApiKey, ApiKeys, Role};
pub use error::status;
pub use ingest::{INGEST_INTERRUPTED, MAX_BATCH, MAX_REJECTIONS};
pub use metrics::{Metrics, serve_metrics};
pub use pulse_app::MAX_JOBS;
pub use pulse_app::registry::{
    ModelRegistry, Promotion, RegistryEntry, RegistryError, SentimentEntry, SentimentPromotion,
    is_sentiment_version,
};
pub use pulse_app::{
    AppError, ModelOpsSettings, Scoring, ScoringSettings, SentimentSlot, SurvivalOutcome,
    TrainRequest, TrainResult, train_and_decide,
};
pub use scoring::{MAX_CHUNK, MAX_SCORE_BATCH, feature_schema};
pub use sentiment::MAX_TEXTS as MAX_SENTIMENT_TEXTS;
pub use tls::{Tls, TlsError};

/// Everything the services share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    /// Where trained models are kept and which version serves each kind.
    pub registry: Arc<dyn ModelRegistry>,
    /// Defaults of `ModelService.Train` (a request may override the horizon,
    /// the capacity and the leakage gate).
    pub training: pulse_training::TrainConfig,
    /// Settings of the time-to-churn model, refitted by every training run
    /// that trains churn (`None`: never refitted by the server).
    pub survival: Option<pulse_forecast::SurvivalConfig>,
    /// The sentiment model behind `SentimentService` and ingest scoring,
    /// swapped when `ModelService` promotes a sentiment model; empty makes
    /// `Analyze` fail with FAILED_PRECONDITION and ingest store NULL sentiment.
    pub sentiment: SentimentSlot,
    /// The promoted models and scoring population in memory.
    pub scoring: Arc<Scoring>,
    /// Bumped on every promotion; scoring reloads the models when it moves.
    pub models_changed: tokio::sync::watch::Sender<u64>,
    /// The API keys callers must present (see [`auth`]); empty turns access
    /// control off.
    pub api_keys: ApiKeys,
    /// How weekly lists are made and scheduled (`[lists]`). The state's
    /// default has the schedule off (tests and embedders opt in); the binary
    /// passes the configuration, where it is on.
    pub lists: pulse_lists::ListConfig,
    /// The Prometheus registry every call, ingest batch, training run and
    /// drift check is recorded in (served by [`serve_metrics`]).
    pub metrics: Arc<Metrics>,
    /// Champion/challenger rule and the retraining schedule (`[model_ops]`);
    /// the state's default has no schedule.
    pub model_ops: ModelOpsSettings,
    /// Largest request or response message of every service, in bytes
    /// (`[server] max_message_mib`; default [`MAX_MESSAGE_BYTES`]).
    pub max_message_bytes: usize,
    /// Where CPU-heavy request work runs, bounded (`[server] cpu_jobs`,
    /// `cpu_wait_secs`).
    pub cpu: pulse_app::limits::CpuPool,
    /// Longest a call may take before it is answered DEADLINE_EXCEEDED
    /// (`[server] request_timeout_secs`; `None`: no limit but the caller's).
    pub request_timeout: Option<std::time::Duration>,
    /// Most calls in flight on one connection (`[server]
    /// max_concurrent_per_connection`); more wait for a slot.
    pub max_concurrent_per_connection: usize,
    /// How often to read the promoted versions from the registry, to serve
    /// what another server sharing it promoted (`[server]
    /// promotion_watch_secs`; `None`: never).
    pub promotion_watch: Option<std::time::Duration>,
    /// Where Forecast, GetReport and GetPerformance compute: at most its
    /// slots at once (`[server] analyst_jobs`).
    pub analyst: pulse_app::limits::CpuPool,
    /// How long their answers are served from the cache while nothing was
    /// written (`[server] analyst_cache_secs`; zero: no cache).
    pub analyst_cache: std::time::Duration,
}

impl AppState {
    /// State with the default training and scoring settings, reading
    /// "today" from `clock`.
    pub fn new(store: Store, registry: Arc<dyn ModelRegistry>, clock: pulse_core::Clock) -> Self {
        let settings = ScoringSettings::new(pulse_scoring::ScoringConfig::default(), 90, clock);
        Self::with_scoring(store, registry, settings)
    }

    /// State with the given scoring settings.
    pub fn with_scoring(
        store: Store,
        registry: Arc<dyn ModelRegistry>,
        settings: ScoringSettings,
    ) -> Self {
        AppState {
            scoring: Arc::new(Scoring::new(store.clone(), registry.clone(), settings)),
            store,
            registry,
            training: pulse_training::TrainConfig::default(),
            survival: Some(pulse_forecast::SurvivalConfig::default()),
            sentiment: SentimentSlot::default(),
            models_changed: tokio::sync::watch::Sender::new(0),
            api_keys: ApiKeys::default(),
            lists: pulse_lists::ListConfig {
                schedule: false,
                ..Default::default()
            },
            metrics: Arc::new(Metrics::new()),
            model_ops: ModelOpsSettings::default(),
            max_message_bytes: MAX_MESSAGE_BYTES,
            cpu: pulse_app::limits::CpuPool::default(),
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            max_concurrent_per_connection: DEFAULT_MAX_CONCURRENT_PER_CONNECTION,
            promotion_watch: Some(std::time::Duration::from_secs(5)),
            analyst: pulse_app::limits::CpuPool::new(2, pulse_app::limits::DEFAULT_CPU_WAIT),
            analyst_cache: pulse_app::cache::DEFAULT_TTL,
        }
    }

    /// The application's one clock (set with the scoring settings).
    pub fn clock(&self) -> &pulse_core::Clock {
        self.scoring.clock()
    }

    /// Updates the gauges read from live state (the models in service), for
    /// a scrape.
    pub fn refresh_metrics(&self) {
        let mut models: Vec<(&str, String)> = Vec::new();
        if let Some(s) = self.scoring.current() {
            models.push(("churn", s.engine.churn_version().to_string()));
            if let Some(v) = s.engine.expansion_version() {
                models.push(("expansion", v.to_string()));
            }
        }
        if let Some((model, version)) = self.sentiment.current() {
            models.push((
                "sentiment",
                version.unwrap_or_else(|| model.version().to_string()),
            ));
        }
        let models: Vec<(&str, &str)> = models.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.metrics.set_models(&models);
        self.metrics
            .set_excluded_accounts(self.scoring.excluded_accounts());
    }
}

/// Default largest message (an ingest batch, a sentiment corpus, a report),
/// in bytes, for every service alike.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Default longest call (a large ingest stream or a report at 50,000
/// accounts fits well within it).
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Default most calls in flight on one connection.
pub const DEFAULT_MAX_CONCURRENT_PER_CONNECTION: usize = 256;

/// Serves every Pulse service on `listener` until `shutdown` resolves, then
/// stops accepting connections and lets in-flight requests finish. With
/// `tls`, connections are TLS only; every call goes through the
/// [`auth::AuthLayer`] over `state.api_keys`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    tls: Option<Tls>,
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
    health
        .set_serving::<ScoringServiceServer<scoring::ScoringSvc>>()
        .await;
    health
        .set_serving::<ListServiceServer<list_service::ListSvc>>()
        .await;
    health
        .set_serving::<ForecastServiceServer<forecast::ForecastSvc>>()
        .await;
    health
        .set_serving::<PrivacyServiceServer<privacy::PrivacySvc>>()
        .await;
    health
        .set_serving::<ReportServiceServer<report::ReportSvc>>()
        .await;
    // Reflection in both versions (grpcio-reflection, older grpcurl and
    // Postman speak only v1alpha), describing the health service too.
    let described = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pulse_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = described()
        .build_v1()
        .expect("the embedded descriptor sets are valid");
    let reflection_v1alpha = described()
        .build_v1alpha()
        .expect("the embedded descriptor sets are valid");

    let background = state
        .scoring
        .spawn_background(state.models_changed.subscribe());
    let watch = state.promotion_watch.map(|every| {
        pulse_app::serving::spawn_promotion_watch(
            state.registry.clone(),
            state.scoring.clone(),
            state.sentiment.clone(),
            state.models_changed.clone(),
            every,
        )
    });
    let ingest = IngestServiceServer::new(ingest::IngestSvc {
        store: state.store.clone(),
        sentiment: state.sentiment.clone(),
        scoring: state.scoring.clone(),
        metrics: state.metrics.clone(),
        cpu: state.cpu.clone(),
    });
    let accounts = AccountServiceServer::new(accounts::AccountSvc {
        store: state.store.clone(),
    });
    let jobs = pulse_app::TrainingJobs::new(
        state.store.clone(),
        state.registry.clone(),
        state.sentiment.clone(),
        state.models_changed.clone(),
        pulse_app::jobs::JobSettings {
            rule: state.model_ops.rule.clone(),
            survival: state.survival.clone(),
            observer: Some(state.metrics.clone() as Arc<dyn pulse_app::ModelOpsObserver>),
            clock: state.clock().clone(),
        },
    );
    let analytics = analytics::Analytics::new(
        state.store.clone(),
        state.scoring.clone(),
        state.analyst.clone(),
        state.analyst_cache,
    );
    let jobs_on_stop = jobs.clone();
    let model_svc = models::ModelSvc::new(&state, jobs.clone(), analytics.clone());
    {
        let (store, metrics) = (state.store.clone(), state.metrics.clone());
        tokio::spawn(async move {
            if let Err(e) = model_ops::restore_gauges(&store, &metrics).await {
                tracing::warn!(error = %e, "restoring the model-operations gauges");
            }
        });
    }
    let models = ModelServiceServer::new(model_svc.clone());
    let ops = &state.model_ops;
    let retraining = (ops.retrain_every.is_some() || ops.drift_every.is_some()).then(|| {
        pulse_app::jobs::spawn_schedule(
            jobs,
            state.scoring.clone(),
            state.model_ops.clone(),
            state.training.clone(),
        )
    });
    let scoring = ScoringServiceServer::new(scoring::ScoringSvc {
        store: state.store.clone(),
        scoring: state.scoring.clone(),
        cpu: state.cpu.clone(),
    });

    let threads = state.scoring.settings().threads;
    let lists_svc = ListServiceServer::new(list_service::ListSvc {
        store: state.store.clone(),
        config: state.lists.clone(),
        threads,
        clock: state.clock().clone(),
    });
    let schedule = state.lists.schedule.then(|| {
        pulse_app::lists::spawn_schedule(
            state.store.clone(),
            state.lists.clone(),
            state.scoring.settings().refresh_every,
            threads,
            state.clock().clone(),
        )
    });

    let forecast_svc = ForecastServiceServer::new(forecast::ForecastSvc {
        analytics: analytics.clone(),
        store: state.store.clone(),
        registry: state.registry.clone(),
        expansion_horizon_days: state.scoring.settings().horizon_days as i32,
        threads,
        clock: state.clock().clone(),
    });

    let report_svc = ReportServiceServer::new(report::ReportSvc {
        analytics: analytics.clone(),
        store: state.store.clone(),
        registry: state.registry.clone(),
        lists: state.lists.clone(),
        expansion_horizon_days: state.scoring.settings().horizon_days as i32,
        threads,
        clock: state.clock().clone(),
    });

    let privacy_svc = PrivacyServiceServer::new(privacy::PrivacySvc {
        store: state.store.clone(),
        clock: state.clock().clone(),
    });

    let sentiment = SentimentServiceServer::new(sentiment::SentimentSvc {
        slot: state.sentiment.clone(),
        cpu: state.cpu.clone(),
    });

    if state.api_keys.is_empty() {
        tracing::warn!(
            "no API keys configured: access control is off, every caller may call every RPC"
        );
    }
    // One message limit for every service, both ways.
    let max = state.max_message_bytes;
    macro_rules! limit {
        ($svc:expr) => {
            $svc.max_decoding_message_size(max)
                .max_encoding_message_size(max)
        };
    }
    let mut server = Server::builder()
        .concurrency_limit_per_connection(state.max_concurrent_per_connection.max(1));
    if let Some(t) = state.request_timeout {
        server = server.timeout(t);
    }
    if let Some(tls) = tls {
        server = match server.tls_config(tls.config()) {
            Ok(s) => s,
            Err(e) => {
                background.abort();
                if let Some(w) = &watch {
                    w.abort();
                }
                if let Some(s) = &schedule {
                    s.abort();
                }
                if let Some(r) = &retraining {
                    r.abort();
                }
                return Err(e);
            }
        };
    }
    let served = server
        // Outermost: refused calls are counted with their code too.
        .layer(metrics::MetricsLayer::new(state.metrics.clone()))
        .layer(auth::AuthLayer::new(state.api_keys.clone()))
        .add_service(health_svc)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(limit!(ingest))
        .add_service(limit!(accounts))
        .add_service(limit!(models))
        .add_service(limit!(sentiment))
        .add_service(limit!(scoring))
        .add_service(limit!(lists_svc))
        .add_service(limit!(forecast_svc))
        .add_service(limit!(report_svc))
        .add_service(limit!(privacy_svc))
        // TCP_NODELAY: `TcpIncoming::from` leaves Nagle's algorithm on, and
        // every small response then waits ~40 ms for the client's delayed ACK
        // (`pulse-bench score` against its stub: 22 vs 5,500 calls/s at one in
        // flight, p50 44 ms vs 0.11 ms; `--stub-nagle` reproduces it).
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await;
    // Training jobs still running are stopped with the process: say so.
    jobs_on_stop.interrupt_running().await;
    background.abort();
    if let Some(w) = watch {
        w.abort();
    }
    if let Some(s) = schedule {
        s.abort();
    }
    if let Some(r) = retraining {
        r.abort();
    }
    served
}
