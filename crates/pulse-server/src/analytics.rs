//! What the expensive analyst calls (Forecast, GetReport, GetPerformance)
//! share: a bounded number at once ([`AppState::analyst`](crate::AppState)),
//! and their answers cached under a key naming everything they depend on
//! (`pulse_app::cache`).

use std::sync::Arc;

use pulse_app::cache::ResultCache;
use pulse_app::limits::CpuPool;
use pulse_proto::v1 as pb;
use pulse_store::Store;

/// Shared by the analyst services of one server.
#[derive(Debug, Clone)]
pub(crate) struct Analytics {
    store: Store,
    scoring: Arc<pulse_app::serving::Scoring>,
    /// At most this many analyst calls compute at once.
    pub(crate) pool: CpuPool,
    pub(crate) forecasts: Arc<ResultCache<pb::ForecastResponse>>,
    pub(crate) reports: Arc<ResultCache<Arc<pb::GetReportResponse>>>,
    pub(crate) performance: Arc<ResultCache<pb::GetPerformanceResponse>>,
}

impl Analytics {
    pub(crate) fn new(
        store: Store,
        scoring: Arc<pulse_app::serving::Scoring>,
        pool: CpuPool,
        ttl: std::time::Duration,
    ) -> Analytics {
        let n = pulse_app::cache::DEFAULT_ENTRIES;
        Analytics {
            store,
            scoring,
            pool,
            forecasts: Arc::new(ResultCache::new(ttl, n)),
            reports: Arc::new(ResultCache::new(ttl, n)),
            performance: Arc::new(ResultCache::new(ttl, n)),
        }
    }

    /// The cache key of `call` with `params`: the store's write generation,
    /// the models in service (churn, expansion, time-to-churn), today, and
    /// the parameters.
    pub(crate) fn key(&self, call: &str, params: &str) -> String {
        pulse_app::cache::analyst_key(&self.store, &self.scoring, call, params)
    }
}
