//! Metrics for operators: a Prometheus registry, the tower layer that counts
//! and times every gRPC call, and the `/metrics` HTTP endpoint.
//!
//! [`MetricsLayer`] sits outside the auth layer, so refused calls are counted
//! with their code too. A call is recorded when its response body ends: the
//! code is the `grpc-status` of the trailers (or of the headers, for the
//! trailers-only answers tonic gives to errors); a response dropped before
//! its end (the client went away) counts as `CANCELLED`. Latency runs from
//! the request reaching the layer to that moment, so a server stream is
//! timed in full. Paths that are not an RPC of the server are counted under
//! `service="other", method="other"`, so a caller cannot grow the label set.
//!
//! Every metric name is listed in docs/model-operations.md ("Metrics for operators").
//! Nothing here logs or labels keys or interaction text.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use prost::Message;
use tower_layer::Layer;
use tower_service::Service;

/// Labels of a gRPC call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// `pulse.v1.ScoringService`, or `other`.
    pub service: String,
    /// `Score`, or `other`.
    pub method: String,
    /// The gRPC code in upper snake case: `OK`, `NOT_FOUND`, ...
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectLabels {
    entity: String,
    field: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    kind: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DriftLabels {
    kind: String,
    name: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type LatencyFamily = Family<RpcLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s, doubling.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Every metric Pulse exports, in one registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    known: HashSet<String>,
    requests: Family<RpcLabels, Counter>,
    latency: LatencyFamily,
    ingest_records: Family<OutcomeLabels, Counter>,
    ingest_rejects: Family<RejectLabels, Counter>,
    models: Family<ModelLabels, Gauge>,
    last_training: Family<KindLabels, FloatGauge>,
    decisions: Family<DecisionLabels, Counter>,
    drift_psi: Family<DriftLabels, FloatGauge>,
    drift_level: Family<KindLabels, Gauge>,
    drift_checked: Family<KindLabels, FloatGauge>,
    excluded: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The `/service/method` paths of every RPC this server answers.
fn known_paths() -> HashSet<String> {
    let mut known: HashSet<String> = [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    if let Ok(fds) = prost_types::FileDescriptorSet::decode(pulse_proto::FILE_DESCRIPTOR_SET) {
        for file in &fds.file {
            let package = file.package();
            for service in &file.service {
                for method in &service.method {
                    known.insert(format!("/{package}.{}/{}", service.name(), method.name()));
                }
            }
        }
    }
    known
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pulse");
        let requests = Family::<RpcLabels, Counter>::default();
        registry.register(
            "grpc_requests",
            "gRPC calls finished, by service, method and gRPC code",
            requests.clone(),
        );
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "grpc_request_duration_seconds",
            "gRPC call latency from request to the end of the response, by service, method and code",
            latency.clone(),
        );
        let ingest_records = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "ingest_records",
            "records received by IngestService.Ingest, by outcome (inserted, updated, rejected)",
            ingest_records.clone(),
        );
        let ingest_rejects = Family::<RejectLabels, Counter>::default();
        registry.register(
            "ingest_rejects",
            "records rejected by IngestService.Ingest, by entity and the field at fault",
            ingest_rejects.clone(),
        );
        let models = Family::<ModelLabels, Gauge>::default();
        registry.register(
            "model_info",
            "the model versions in service (1 per kind and version)",
            models.clone(),
        );
        let last_training = Family::<KindLabels, FloatGauge>::default();
        registry.register(
            "last_training_timestamp_seconds",
            "Unix time at which the last training run of a model kind finished",
            last_training.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "challenger_decisions",
            "champion/challenger decisions, by kind and outcome (promoted, kept, manual)",
            decisions.clone(),
        );
        let drift_psi = Family::<DriftLabels, FloatGauge>::default();
        registry.register(
            "drift_psi",
            "population stability index of the latest drift check, per feature, predicted probability and label rate",
            drift_psi.clone(),
        );
        let drift_level = Family::<KindLabels, Gauge>::default();
        registry.register(
            "drift_level",
            "level of the latest drift check (0 none, 1 warn, 2 critical)",
            drift_level.clone(),
        );
        let drift_checked = Family::<KindLabels, FloatGauge>::default();
        registry.register(
            "drift_checked_timestamp_seconds",
            "Unix time of the latest drift check",
            drift_checked.clone(),
        );
        let excluded = Gauge::default();
        registry.register(
            "scoring_excluded_accounts",
            "accounts the scoring population in service left out (a stored value out of bounds)",
            excluded.clone(),
        );
        Metrics {
            registry,
            known: known_paths(),
            requests,
            latency,
            ingest_records,
            ingest_rejects,
            models,
            last_training,
            decisions,
            drift_psi,
            drift_level,
            drift_checked,
            excluded,
        }
    }

    /// Labels of a call to `path` finished with `code`.
    fn labels(&self, path: &str, code: tonic::Code) -> RpcLabels {
        let (service, method) = match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
            Some((s, m)) if self.known.contains(path) => (s.to_string(), m.to_string()),
            _ => ("other".to_string(), "other".to_string()),
        };
        RpcLabels {
            service,
            method,
            code: code_name(code).to_string(),
        }
    }

    /// Records one finished call.
    pub fn record_call(&self, path: &str, code: tonic::Code, seconds: f64) {
        let labels = self.labels(path, code);
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// Records one ingest batch's outcome.
    pub fn record_ingest(&self, inserted: u64, updated: u64, rejects: &[(String, String)]) {
        let outcome = |o: &str| OutcomeLabels {
            outcome: o.to_string(),
        };
        self.ingest_records
            .get_or_create(&outcome("inserted"))
            .inc_by(inserted);
        self.ingest_records
            .get_or_create(&outcome("updated"))
            .inc_by(updated);
        self.ingest_records
            .get_or_create(&outcome("rejected"))
            .inc_by(rejects.len() as u64);
        for (entity, field) in rejects {
            self.ingest_rejects
                .get_or_create(&RejectLabels {
                    entity: entity.clone(),
                    field: field.clone(),
                })
                .inc();
        }
    }

    /// How many accounts the scoring population in service left out.
    pub fn set_excluded_accounts(&self, n: usize) {
        self.excluded.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The model versions in service now, replacing the previous set.
    pub fn set_models(&self, models: &[(&str, &str)]) {
        self.models.clear();
        for (kind, version) in models {
            self.models
                .get_or_create(&ModelLabels {
                    kind: kind.to_string(),
                    version: version.to_string(),
                })
                .set(1);
        }
    }

    /// A training run of `kind` finished at `ts` (Unix seconds).
    pub fn set_last_training(&self, kind: &str, ts: i64) {
        self.last_training
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .set(ts as f64);
    }

    /// A champion/challenger decision was made.
    pub fn record_decision(&self, kind: &str, outcome: &str) {
        self.decisions
            .get_or_create(&DecisionLabels {
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// The latest drift check: PSI per name (`feature:<name>`, `prediction`,
    /// `label_rate`), its level (0 none, 1 warn, 2 critical) and time.
    pub fn set_drift(&self, kind: &str, psi: &[(String, f64)], level: i64, checked_at: i64) {
        self.drift_psi.clear();
        for (name, v) in psi {
            self.drift_psi
                .get_or_create(&DriftLabels {
                    kind: kind.to_string(),
                    name: name.clone(),
                })
                .set(*v);
        }
        let k = KindLabels {
            kind: kind.to_string(),
        };
        self.drift_level.get_or_create(&k).set(level);
        self.drift_checked.get_or_create(&k).set(checked_at as f64);
    }

    /// The registry in Prometheus text format (version 0.0.4 / OpenMetrics text).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The conventional upper-snake name of a gRPC code.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<tonic::Code> {
    let v = headers.get("grpc-status")?.to_str().ok()?;
    v.trim().parse::<i32>().ok().map(tonic::Code::from_i32)
}

/// The tower layer that counts and times every call (outside auth).
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> MetricsLayer {
        MetricsLayer { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> MetricsService<S> {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`MetricsLayer`] wraps around the server.
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

/// A call waiting for its response to end.
#[derive(Debug)]
struct Pending {
    metrics: Arc<Metrics>,
    path: String,
    started: Instant,
    /// The code of a trailers-only response (set from its headers).
    code: Option<tonic::Code>,
}

impl Pending {
    fn finish(self, code: tonic::Code) {
        self.metrics
            .record_call(&self.path, code, self.started.elapsed().as_secs_f64());
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<MetricsBody<ResBody>>;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let pending = Pending {
            metrics: self.metrics.clone(),
            path: req.uri().path().to_string(),
            started: Instant::now(),
            code: None,
        };
        MetricsFuture {
            inner: self.inner.call(req),
            pending: Some(pending),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`MetricsService`].
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, ResBody, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<MetricsBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        let mut pending = this.pending.take();
        Poll::Ready(match out {
            Ok(response) => {
                if let Some(p) = pending.as_mut() {
                    p.code = grpc_status(response.headers());
                }
                Ok(response.map(|inner| MetricsBody { inner, pending }))
            }
            Err(e) => {
                if let Some(p) = pending {
                    p.finish(tonic::Code::Internal);
                }
                Err(e)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its call when it ends (or is dropped).
    pub struct MetricsBody<B> {
        #[pin]
        inner: B,
        pending: Option<Pending>,
    }

    impl<B> PinnedDrop for MetricsBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(p) = this.project().pending.take() {
                // A trailers-only answer ends without a body frame; anything
                // else dropped early was cancelled by the client.
                let code = p.code.unwrap_or(tonic::Code::Cancelled);
                p.finish(code);
            }
        }
    }
}

impl<B: Body> Body for MetricsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(trailers) = f.trailers_ref()
                    && let Some(p) = this.pending.take()
                {
                    let code = grpc_status(trailers)
                        .or(p.code)
                        .unwrap_or(tonic::Code::Unknown);
                    p.finish(code);
                }
            }
            Some(Err(_)) => {
                if let Some(p) = this.pending.take() {
                    p.finish(tonic::Code::Internal);
                }
            }
            None => {
                if let Some(p) = this.pending.take() {
                    let code = p.code.unwrap_or(tonic::Code::Ok);
                    p.finish(code);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `GET /metrics` (Prometheus text) on `listener` until `shutdown`
/// resolves; `refresh` runs before each scrape to update gauges read from
/// live state (the models in service).
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    refresh: Arc<dyn Fn(&Metrics) + Send + Sync>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            let refresh = refresh.clone();
            async move {
                refresh(&metrics);
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_labelled_by_known_rpc_and_code() {
        let m = Metrics::new();
        m.record_call("/pulse.v1.ScoringService/Score", tonic::Code::Ok, 0.001);
        m.record_call("/pulse.v1.ScoringService/Score", tonic::Code::Ok, 0.002);
        m.record_call(
            "/pulse.v1.ScoringService/Score",
            tonic::Code::NotFound,
            0.001,
        );
        m.record_call("/evil/aaaa", tonic::Code::Unimplemented, 0.001);
        let text = m.encode();
        assert!(
            text.contains(
                r#"pulse_grpc_requests_total{service="pulse.v1.ScoringService",method="Score",code="OK"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"method="Score",code="NOT_FOUND"} 1"#));
        assert!(text.contains(
            r#"pulse_grpc_requests_total{service="other",method="other",code="UNIMPLEMENTED"} 1"#
        ));
        assert!(!text.contains("evil"));
        assert!(text.contains("pulse_grpc_request_duration_seconds_bucket"));
    }

    #[test]
    fn model_info_is_replaced_and_ingest_counted() {
        let m = Metrics::new();
        m.set_models(&[("churn", "churn-v1")]);
        m.set_models(&[("churn", "churn-v2"), ("expansion", "expansion-v1")]);
        m.record_ingest(3, 1, &[("account".into(), "mrr".into())]);
        let text = m.encode();
        assert!(!text.contains("churn-v1"), "{text}");
        assert!(text.contains(r#"pulse_model_info{kind="churn",version="churn-v2"} 1"#));
        assert!(text.contains(r#"pulse_ingest_records_total{outcome="inserted"} 3"#));
        assert!(text.contains(r#"pulse_ingest_records_total{outcome="rejected"} 1"#));
        assert!(text.contains(r#"pulse_ingest_rejects_total{entity="account",field="mrr"} 1"#));
    }
}
