//! Customer Central: Pulse's web console, served by `pulse serve` on its own
//! HTTP address beside gRPC.
//!
//! Pages are rendered on the server from askama templates (checked when the
//! crate compiles) over the same application-layer calls as the gRPC API
//! (`pulse_app::accounts`, `pulse_app::lists`, `pulse_app::forecast`,
//! `pulse_app::report`), so the same question gets the same number on
//! either. Reading needs no script; the one stylesheet is a file of this
//! crate served by the binary, and charts are inline SVG from
//! `pulse_report::chart`, shared with the leadership report.
//!
//! Access: with API keys configured, a user signs in with a key and gets a
//! signed, expiring session cookie ([`session`]); every signed-in role reads
//! every page, and what a page changes (recording an outreach, generating a
//! week's lists) follows the gRPC access table (`pulse_app::access`). Forms
//! carry a CSRF token. Without keys (loopback only, as for gRPC) the console
//! is open.
//!
//! Architecture Invariant: a thin front end. No scoring, ranking or
//! forecasting here: only calls into pulse-app, formatting and templates.

mod pages;
pub mod session;
mod view;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use pulse_app::access::ApiKeys;
use pulse_app::cache::ResultCache;
use pulse_app::limits::CpuPool;
use pulse_app::serving::Scoring;
use pulse_app::{ModelRegistry, SentimentSlot};
use pulse_lists::ListConfig;
use pulse_store::Store;
use tokio::net::TcpListener;

pub use session::{DEFAULT_SESSION_TTL, Signer};

/// What the console reads from: the same store, serving state and settings
/// as the gRPC services of the same process.
#[derive(Clone)]
pub struct WebState {
    pub store: Store,
    pub scoring: Arc<Scoring>,
    pub registry: Arc<dyn ModelRegistry>,
    /// The same keys as gRPC; empty turns access control off.
    pub api_keys: ApiKeys,
    pub lists: ListConfig,
    /// Where drivers computed on demand run (as for `Score`).
    pub cpu: CpuPool,
    /// Where forecasts and reports compute (as for `Forecast`, `GetReport`).
    pub analyst: CpuPool,
    /// How long forecasts and reports are served from the cache while
    /// nothing was written.
    pub analyst_cache: Duration,
    pub threads: usize,
    /// The expansion model's horizon (the scoring settings').
    pub expansion_horizon_days: i32,
    /// The currency every amount is shown in.
    pub currency: String,
    pub signer: Signer,
    /// The sentiment model in service (its card is shown on `/models`).
    pub sentiment: SentimentSlot,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState")
            .field("keys", &self.api_keys.len())
            .field("currency", &self.currency)
            .finish_non_exhaustive()
    }
}

impl WebState {
    /// A state over `store` and `scoring` with the default settings: no
    /// keys, the default list configuration, a fresh signing secret.
    pub fn new(store: Store, scoring: Arc<Scoring>, registry: Arc<dyn ModelRegistry>) -> Self {
        let horizon = scoring.settings().horizon_days as i32;
        let threads = scoring.settings().threads;
        WebState {
            store,
            scoring,
            registry,
            api_keys: ApiKeys::default(),
            lists: ListConfig {
                schedule: false,
                ..Default::default()
            },
            cpu: CpuPool::default(),
            analyst: CpuPool::new(2, pulse_app::limits::DEFAULT_CPU_WAIT),
            analyst_cache: pulse_app::cache::DEFAULT_TTL,
            threads,
            expansion_horizon_days: horizon,
            currency: "USD".into(),
            signer: Signer::random(DEFAULT_SESSION_TTL),
            sentiment: SentimentSlot::default(),
        }
    }
}

/// The shared state of the handlers: the settings and the caches.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) s: WebState,
    pub(crate) forecasts: Arc<ResultCache<Arc<pulse_app::forecast::ForecastResult>>>,
    pub(crate) reports: Arc<ResultCache<Arc<pulse_app::report::Report>>>,
    /// A week's lists as read (with the week's outreach), per filter.
    pub(crate) lists: Arc<ResultCache<Arc<pages::ListsData>>>,
    /// An owner's portfolio and the outreach report, per week.
    pub(crate) owners: Arc<ResultCache<Arc<pages::OwnerData>>>,
    /// The outreach report per play, per range of weeks.
    pub(crate) plays: Arc<ResultCache<Arc<Vec<pulse_lists::PlayReport>>>>,
    pub(crate) performance: Arc<ResultCache<Arc<Vec<pulse_app::model_ops::RunPerformance>>>>,
    /// Keys of results being recomputed in the background while a page
    /// shows the previous one.
    pub(crate) refreshing: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// The console's routes.
pub fn router(state: WebState) -> Router {
    routes(shared(state))
}

fn shared(state: WebState) -> Shared {
    let n = pulse_app::cache::DEFAULT_ENTRIES;
    Shared {
        forecasts: Arc::new(ResultCache::new(state.analyst_cache, n)),
        reports: Arc::new(ResultCache::new(state.analyst_cache, n)),
        lists: Arc::new(ResultCache::new(state.analyst_cache, n)),
        owners: Arc::new(ResultCache::new(state.analyst_cache, n)),
        plays: Arc::new(ResultCache::new(state.analyst_cache, n)),
        performance: Arc::new(ResultCache::new(state.analyst_cache, n)),
        refreshing: Arc::default(),
        s: state,
    }
}

fn routes(shared: Shared) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/static/console.css", get(pages::stylesheet))
        .route("/static/favicon.svg", get(pages::favicon))
        .route("/favicon.ico", get(pages::favicon))
        .route("/signin", get(pages::signin_form).post(pages::signin))
        .route("/signout", post(pages::signout))
        .route("/search", get(pages::search))
        .route("/accounts/{id}", get(pages::account))
        .route("/accounts/{id}/outreach", post(pages::record_outreach))
        .route("/lists", get(pages::lists))
        .route("/lists/generate", post(pages::generate_lists))
        .route("/owners/{owner}", get(pages::owner))
        .route("/leadership", get(pages::leadership))
        .route("/leadership/report", get(pages::report))
        .route("/models", get(pages::models))
        .fallback(pages::not_found)
        .layer(axum::middleware::map_response(pages::security_headers))
        .with_state(shared)
}

/// How often the leadership page's forecast and report are recomputed in
/// the background when data or models changed (so its first view does not
/// wait for them).
const WARM_EVERY: Duration = Duration::from_secs(60);

/// Serves the console on `listener` until `shutdown` resolves. A background
/// task keeps the leadership page's default forecast and report computed.
pub async fn serve(
    listener: TcpListener,
    state: WebState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shared = shared(state);
    let warm = {
        let sh = shared.clone();
        tokio::spawn(async move {
            loop {
                let ready = pages::warm(&sh).await;
                // Until the models and population are loaded, look again soon.
                let pause = if ready {
                    WARM_EVERY
                } else {
                    Duration::from_secs(2)
                };
                tokio::time::sleep(pause).await;
            }
        })
    };
    let served = axum::serve(listener, routes(shared))
        .with_graceful_shutdown(shutdown)
        .await;
    warm.abort();
    served
}

/// Answers one GET of `path` in process (no socket): the status and the
/// body's length. `pulse bench console` times pages with it, so the figure
/// is the server's own time per page.
pub async fn get_page(router: &Router, path: &str) -> Result<(u16, usize), String> {
    use tower_service::Service;
    let request = http::Request::get(path)
        .body(axum::body::Body::empty())
        .map_err(|e| format!("{path}: {e}"))?;
    let mut svc = router.clone();
    let response = svc
        .call(request)
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 256 * 1024 * 1024)
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    Ok((status, body.len()))
}
