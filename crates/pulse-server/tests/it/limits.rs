//! Limits and isolation end to end: a huge id gets a short error, every
//! service takes the configured message size, health answers while heavy
//! score batches run on the CPU pool, and one account with an out-of-bounds
//! stored value is left out of scoring runs, forecasts and the report
//! instead of failing them for everyone.

use std::sync::Arc;
use std::time::Duration;

use pulse_proto::v1 as pb;
use pulse_proto::v1::account_service_client::AccountServiceClient;
use pulse_proto::v1::forecast_service_client::ForecastServiceClient;
use pulse_proto::v1::model_service_client::ModelServiceClient;
use pulse_proto::v1::report_service_client::ReportServiceClient;
use pulse_proto::v1::scoring_service_client::ScoringServiceClient;
use pulse_proto::v1::sentiment_service_client::SentimentServiceClient;
use pulse_store::Store;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::TestServer;
use crate::forecast::train_survival;
use crate::models::{MemoryRegistry, ingest_synthetic_until};
use crate::scoring::{train, wait_ready};
use crate::today;

#[tokio::test]
async fn a_huge_id_gets_a_short_error() {
    let server = TestServer::start(Store::in_memory().await.unwrap()).await;
    let mut c = AccountServiceClient::new(server.channel.clone());
    let id = "x".repeat(1 << 20);
    let s = c
        .get_account(pb::GetAccountRequest { id })
        .await
        .unwrap_err();
    assert!(
        matches!(s.code(), Code::NotFound | Code::InvalidArgument),
        "{:?}",
        s.code()
    );
    assert!(s.message().len() < 1_200, "{} bytes", s.message().len());
    assert!(s.message().contains("(1048576 bytes)"), "{}", s.message());
    // The connection is still good.
    let s = c
        .get_account(pb::GetAccountRequest { id: "a-1".into() })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn every_service_takes_the_configured_message_size() {
    let mut state = crate::state(
        Store::in_memory().await.unwrap(),
        Arc::new(MemoryRegistry::default()),
    );
    state.max_message_bytes = 8 * 1024 * 1024;
    let server = TestServer::start_with(state).await;
    // 5 MiB: over tonic's 4 MiB default, under the configured 8 MiB. The
    // model service reads it (and finds the corpus is not a CSV of labels).
    let corpus = vec![b'x'; 5 * 1024 * 1024];
    let mut models = ModelServiceClient::new(server.channel.clone())
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    let s = models
        .train_sentiment(pb::TrainSentimentRequest {
            corpus_csv: corpus,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    // 9 MiB is over the limit on every service alike.
    let mut sentiment =
        SentimentServiceClient::new(server.channel.clone()).max_encoding_message_size(64 << 20);
    let s = sentiment
        .analyze(pb::AnalyzeRequest {
            texts: vec!["y".repeat(9 * 1024 * 1024)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(s.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{s:?}"
    );
    server.stop().await;
}

async fn health(channel: tonic::transport::Channel) -> i32 {
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_while_heavy_score_batches_run() {
    let store = Store::in_memory().await.unwrap();
    ingest_synthetic_until(&store, 150, 12, today() - 1).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 20, true).await;
    let mut state = crate::state(store, registry);
    // One CPU slot, a generous wait: the heavy calls queue, none is refused.
    state.cpu = pulse_app::limits::CpuPool::new(1, Duration::from_secs(600));
    let server = TestServer::start_with(state).await;
    let mut c = ScoringServiceClient::new(server.channel.clone());
    let all = wait_ready(&mut c).await;
    let n = all.len();
    assert!(n > 50, "{n}");
    let heavy: Vec<_> = (0..4)
        .map(|_| {
            let mut c = c.clone();
            tokio::spawn(async move {
                // Every driver, computed on demand: over the stored ones.
                let mut s = c
                    .score_batch(pb::ScoreBatchRequest {
                        top_drivers: 61,
                        chunk_size: 10,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let mut scores = Vec::new();
                while let Some(chunk) = s.message().await.unwrap() {
                    scores.extend(chunk.scores);
                }
                scores
            })
        })
        .collect();
    // Health checks interleaved with the batches all answer SERVING.
    for _ in 0..20 {
        assert_eq!(
            health(server.channel.clone()).await,
            ServingStatus::Serving as i32
        );
    }
    for h in heavy {
        let scores = h.await.unwrap();
        assert_eq!(scores.len(), n);
        assert!(
            scores.iter().all(|s| s.drivers.len() > 3),
            "on-demand drivers"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_account_is_left_out_and_the_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pulse.db").display());
    let store = Store::connect(&url).await.unwrap();
    ingest_synthetic_until(&store, 150, 18, today() - 1).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 20, true).await;
    train_survival(&store, &registry, 20).await;
    // A value stored before validation had bounds (written around Pulse).
    let bad = store
        .accounts(&pulse_store::AccountFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .remove(0)
        .id;
    {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("UPDATE accounts SET mrr = 1e308 WHERE id = $1")
            .bind(&bad)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let state = crate::state(store.clone(), registry);
    let metrics = crate::metrics::start_metrics(&state).await;
    let server = TestServer::start_with(state).await;
    let mut scoring = ScoringServiceClient::new(server.channel.clone());
    let scores = wait_ready(&mut scoring).await;
    assert!(scores.iter().all(|s| s.account_id != bad));
    // Counted for operators.
    let (_, text) = crate::metrics::http_get(metrics, "/metrics").await;
    assert_eq!(
        crate::metrics::sample(&text, "pulse_scoring_excluded_accounts"),
        Some(1.0),
        "{text}"
    );
    let warned = |w: &[String]| w.iter().any(|w| w.contains(&bad) && w.contains("mrr"));

    let run = scoring
        .run_scoring(pb::RunScoringRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(run.accounts > 50, "{run:?}");
    assert!(warned(&run.warnings), "{:?}", run.warnings);

    let f = ForecastServiceClient::new(server.channel.clone())
        .forecast(pb::ForecastRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(warned(&f.warnings), "{:?}", f.warnings);
    let total = f.total.unwrap();
    let arr = total.current_arr;
    assert!(arr.is_finite() && arr > 0.0, "{arr}");

    let r = ReportServiceClient::new(server.channel.clone())
        .max_decoding_message_size(64 << 20)
        .get_report(pb::GetReportRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(warned(&r.warnings), "{:?}", r.warnings);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyst_answers_are_cached_until_this_server_writes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pulse.db").display());
    let store = Store::connect(&url).await.unwrap();
    ingest_synthetic_until(&store, 120, 12, today() - 1).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 10, true).await;
    train_survival(&store, &registry, 10).await;
    // No scheduled scoring run: it would write (and change the key) at a
    // moment of its own.
    let settings = pulse_server::ScoringSettings {
        weekly_runs: false,
        ..crate::settings()
    };
    let server = TestServer::start_with(pulse_server::AppState::with_scoring(
        store.clone(),
        registry,
        settings,
    ))
    .await;
    // Models in service: they are part of the key.
    wait_ready(&mut ScoringServiceClient::new(server.channel.clone())).await;
    let mut f = ForecastServiceClient::new(server.channel.clone());
    let accounts = |r: pb::ForecastResponse| r.total.unwrap().accounts;
    let before = accounts(
        f.forecast(pb::ForecastRequest::default())
            .await
            .unwrap()
            .into_inner(),
    );
    assert!(before > 50, "{before}");
    let new_account = |id: &str| crate::ingest::account(id, 500.0);
    // Written around this server (another process): the cached answer stands.
    let other = Store::connect(&url).await.unwrap();
    let Some(pb::record::Entity::Account(a)) = new_account("new-1").entity else {
        unreachable!()
    };
    let a = pulse_core::Account {
        id: a.id,
        name: a.name,
        segment: pulse_core::Segment::Smb,
        industry: a.industry,
        region: a.region,
        plan: a.plan,
        mrr: a.mrr,
        seats: a.seats,
        owner: a.owner,
        start_date: today() - 30,
        renewal_date: Some(today() + 300),
        status: pulse_core::AccountStatus::Active,
    };
    other
        .ingest(vec![(0, pulse_core::Record::Account(a))])
        .await
        .unwrap();
    let cached = accounts(
        f.forecast(pb::ForecastRequest::default())
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(cached, before, "served from the cache");
    // Written through this server: the next answer is computed afresh.
    let mut ingest =
        pulse_proto::v1::ingest_service_client::IngestServiceClient::new(server.channel.clone());
    let mut rec = new_account("new-2");
    if let Some(pb::record::Entity::Account(a)) = rec.entity.as_mut() {
        a.start_date = pulse_core::time::format_day(today() - 30);
        a.renewal_date = pulse_core::time::format_day(today() + 300);
    }
    ingest
        .ingest(tokio_stream::iter(vec![pb::IngestRequest {
            records: vec![rec],
        }]))
        .await
        .unwrap();
    let fresh = accounts(
        f.forecast(pb::ForecastRequest::default())
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(fresh, before + 2, "both new accounts");
    server.stop().await;
}
