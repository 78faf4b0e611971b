//! ForecastService and the churn curve end to end: churn and expansion
//! models and a time-to-churn model trained on a synthetic base; the curve
//! on live scores is monotone, the forecast's expected churned accounts are
//! the sum of the accounts' curves at the horizon, the groups add up to the
//! total, intervals nest, and bad fields are INVALID_ARGUMENT naming them.

use std::sync::Arc;

use pulse_forecast::SurvivalConfig;
use pulse_models::GbtParams;
use pulse_proto::v1 as pb;
use pulse_proto::v1::forecast_service_client::ForecastServiceClient;
use pulse_proto::v1::scoring_service_client::ScoringServiceClient;
use pulse_server::{AppState, ModelRegistry};
use pulse_store::Store;
use tonic::Code;
use tonic_types::StatusExt;

use crate::TestServer;
use crate::models::{MemoryRegistry, ingest_synthetic_until};
use crate::scoring::{today, train, wait_ready};

/// Fits the time-to-churn model on the store's data and saves it.
pub(crate) async fn train_survival(store: &Store, registry: &MemoryRegistry, iterations: usize) {
    let hs = store.load_histories(None).await.unwrap();
    let cfg = SurvivalConfig {
        gbt: GbtParams::new().iterations(iterations),
        ..SurvivalConfig::default()
    };
    let mut m = tokio::task::spawn_blocking(move || {
        pulse_forecast::fit_survival(&hs, None, &cfg, "2026-11-30T00:00:00Z").unwrap()
    })
    .await
    .unwrap();
    assert_eq!(registry.save_survival(&mut m).unwrap(), "survival-v1");
}

fn field_of(s: &tonic::Status) -> String {
    s.get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

fn est(e: &Option<pb::Estimate>) -> (f64, f64, f64, f64, f64) {
    let e = e.as_ref().expect("estimate");
    let i80 = e.interval_80.as_ref().unwrap();
    let i95 = e.interval_95.as_ref().unwrap();
    (e.expected, i80.lo, i80.hi, i95.lo, i95.hi)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecast_matches_the_curves_and_rejects_bad_fields() {
    let store = Store::in_memory().await.unwrap();
    let end = today() - 1;
    ingest_synthetic_until(&store, 300, 24, end).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 40, true).await;

    // Without a time-to-churn model the forecast says how to get one.
    let server = TestServer::start_with(AppState::new(store.clone(), registry.clone())).await;
    let mut f = ForecastServiceClient::new(server.channel.clone());
    let err = f
        .forecast(pb::ForecastRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("pulse train"), "{}", err.message());
    server.stop().await;

    train_survival(&store, &registry, 40).await;
    let settings = pulse_server::ScoringSettings {
        weekly_runs: false,
        ..Default::default()
    };
    let server = TestServer::start_with(AppState::with_scoring(
        store.clone(),
        registry.clone(),
        settings,
    ))
    .await;
    let mut c = ScoringServiceClient::new(server.channel.clone());
    let live = wait_ready(&mut c).await;
    assert!(live.len() > 100);
    let mut sum90 = 0.0;
    for s in &live {
        let cv = s.churn_curve.as_ref().expect("live scores carry the curve");
        assert_eq!(cv.model_version, "survival-v1");
        assert!(0.0 <= cv.within_30d && cv.within_30d <= cv.within_90d);
        assert!(cv.within_90d <= cv.within_180d && cv.within_180d <= cv.within_365d);
        assert!(cv.within_365d <= 1.0);
        if let Some(r) = cv.before_renewal {
            assert!((0.0..=1.0).contains(&r));
        }
        sum90 += cv.within_90d;
    }
    let arr: f64 = live.iter().map(|s| s.arr).sum();

    let mut f = ForecastServiceClient::new(server.channel.clone());
    let r = f
        .forecast(pb::ForecastRequest {
            horizon_days: 90,
            as_of: String::new(),
            group_by: "segment".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.horizon_days, 90);
    assert_eq!(r.group_by, "segment");
    assert_eq!(r.survival_model, "survival-v1");
    assert_eq!(r.churn_model, "churn-v1");
    assert_eq!(r.expansion_model, "expansion-v1");
    let total = r.total.as_ref().unwrap();
    assert_eq!(total.accounts as usize, live.len());
    assert!((total.current_arr - arr).abs() < 1e-6 * arr.max(1.0));
    // Expected churned accounts = the sum of the accounts' 90-day curves
    // (live features are as of now, the forecast's as of the end of today:
    // 30-day windows differ by a few hours of events, hence 1%).
    let (ec, lo80, hi80, lo95, hi95) = est(&total.churned_accounts);
    assert!((ec - sum90).abs() < 0.01 * sum90, "{ec} vs {sum90}");
    assert!(lo95 <= lo80 && lo80 <= ec && ec <= hi80 && hi80 <= hi95);
    for e in [
        &total.churned_arr,
        &total.expansion_arr,
        &total.gross_revenue_retention,
        &total.net_revenue_retention,
    ] {
        let (x, lo80, hi80, lo95, hi95) = est(e);
        assert!(
            lo95 <= lo80 && lo80 <= x && x <= hi80 && hi80 <= hi95,
            "{e:?}"
        );
    }
    // The groups add up to the total.
    assert!(r.groups.len() >= 2);
    let n: u32 = r.groups.iter().map(|g| g.accounts).sum();
    assert_eq!(n, total.accounts);
    let g_ec: f64 = r.groups.iter().map(|g| est(&g.churned_accounts).0).sum();
    assert!((g_ec - ec).abs() < 1e-6);
    let g_arr: f64 = r.groups.iter().map(|g| est(&g.churned_arr).0).sum();
    assert!((g_arr - est(&total.churned_arr).0).abs() < 1e-3);
    // Last period's actuals and the methods are stated.
    let last = total.last_period.as_ref().expect("last period");
    assert!(last.accounts > 0 && last.start_arr > 0.0);
    assert!(r.methods.iter().any(|m| m.contains("Poisson-binomial")));
    assert!(
        r.methods
            .iter()
            .any(|m| m.contains("Monte Carlo") && m.contains("seed 2026"))
    );
    // The same request gives the same figures (fixed seed).
    let again = f
        .forecast(pb::ForecastRequest {
            horizon_days: 90,
            as_of: String::new(),
            group_by: "segment".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, r);
    // Default horizon is a quarter; a longer horizon forecasts more churn.
    let q = f
        .forecast(pb::ForecastRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(q.horizon_days, 91);
    assert!(q.groups.is_empty());
    let y = f
        .forecast(pb::ForecastRequest {
            horizon_days: 365,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(est(&y.total.as_ref().unwrap().churned_accounts).0 > ec);

    // Bad fields: INVALID_ARGUMENT naming the field.
    for (req, field) in [
        (
            pb::ForecastRequest {
                horizon_days: 1000,
                ..Default::default()
            },
            "horizon_days",
        ),
        (
            pb::ForecastRequest {
                horizon_days: -5,
                ..Default::default()
            },
            "horizon_days",
        ),
        (
            pb::ForecastRequest {
                as_of: "2026-13-45".into(),
                ..Default::default()
            },
            "as_of",
        ),
        (
            pb::ForecastRequest {
                as_of: pulse_core::time::format_day(today() + 3),
                ..Default::default()
            },
            "as_of",
        ),
        (
            pb::ForecastRequest {
                group_by: "region".into(),
                ..Default::default()
            },
            "group_by",
        ),
    ] {
        let err = f.forecast(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert_eq!(field_of(&err), field, "{err:?}");
    }
    server.stop().await;
}
