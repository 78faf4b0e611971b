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
use crate::scoring::{train, wait_ready};
use crate::today;

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
    let server = TestServer::start_with(crate::state(store.clone(), registry.clone())).await;
    let mut f = ForecastServiceClient::new(server.channel.clone());
    let err = f
        .forecast(pb::ForecastRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("pulse train"), "{}", err.message());
    let err = f
        .get_forecast_quality(pb::GetForecastQualityRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    server.stop().await;

    train_survival(&store, &registry, 40).await;
    // The server's clock reads the last second of today, the instant the
    // forecast's features are taken at, so the live curves are its inputs.
    let mut settings = pulse_server::ScoringSettings {
        weekly_runs: false,
        ..crate::settings()
    };
    settings.clock = pulse_core::Clock::fixed(pulse_features::end_of_day(today()));
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
    // The time-to-churn model's held-out calibration, as its card has it; no
    // forecast backtest before `pulse forecast backtest` runs.
    let q = f
        .get_forecast_quality(pb::GetForecastQualityRequest {})
        .await
        .unwrap()
        .into_inner();
    let card = registry.latest_survival().unwrap().unwrap().card;
    assert_eq!(q.survival_model, "survival-v1");
    assert_eq!(q.calibration.len(), card.calibration.len());
    assert!(!q.calibration.is_empty());
    for (got, want) in q.calibration.iter().zip(&card.calibration) {
        assert_eq!(got.horizon_days, want.horizon_days);
        assert_eq!(got.mean_predicted, want.mean_predicted);
        assert_eq!(got.observed_rate, want.observed_rate);
        assert_eq!(got.roc_auc, want.roc_auc);
    }
    assert!(q.backtest.is_empty());
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
    // (both read the features as of the end of today).
    let (ec, lo80, hi80, lo95, hi95) = est(&total.churned_accounts);
    assert!((ec - sum90).abs() < 1e-9 * sum90, "{ec} vs {sum90}");
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

/// `pct` and `money` as the report prints them.
fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_has_its_sections_and_the_forecast_figures() {
    use pulse_proto::v1::list_service_client::ListServiceClient;
    use pulse_proto::v1::report_service_client::ReportServiceClient;

    let store = Store::in_memory().await.unwrap();
    let end = today() - 1;
    ingest_synthetic_until(&store, 300, 24, end).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 40, true).await;
    train_survival(&store, &registry, 40).await;
    // The server's clock reads the last second of today, the instant the
    // forecast's features are taken at, so the live curves are its inputs.
    let mut settings = pulse_server::ScoringSettings {
        weekly_runs: false,
        ..crate::settings()
    };
    settings.clock = pulse_core::Clock::fixed(pulse_features::end_of_day(today()));
    let server = TestServer::start_with(AppState::with_scoring(
        store.clone(),
        registry.clone(),
        settings,
    ))
    .await;
    let mut c = ScoringServiceClient::new(server.channel.clone());
    wait_ready(&mut c).await;
    // Three weekly runs for the health trend, then this week's lists.
    for d in [today() - 14, today() - 7, today()] {
        c.run_scoring(pb::RunScoringRequest {
            as_of: pulse_core::time::format_day(d),
        })
        .await
        .unwrap();
    }
    ListServiceClient::new(server.channel.clone())
        .generate_lists(pb::GenerateListsRequest::default())
        .await
        .unwrap();

    let mut rc = ReportServiceClient::new(server.channel.clone());
    let rep = rc
        .get_report(pb::GetReportRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rep.as_of, pulse_core::time::format_day(today()));
    let html = rep.html;
    // The report's figures are the Forecast RPC's for the same horizon.
    let f = ForecastServiceClient::new(server.channel.clone())
        .forecast(pb::ForecastRequest {
            horizon_days: rep.horizon_days,
            as_of: rep.as_of.clone(),
            group_by: "segment".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let t = f.total.as_ref().unwrap();
    let nrr = est(&t.net_revenue_retention);
    let grr = est(&t.gross_revenue_retention);
    let summary_start = html.find("id=\"executive-summary\"").expect("summary");
    let summary =
        &html[summary_start..html[summary_start..].find("</section>").unwrap() + summary_start];
    assert!(
        summary.contains(&format!(
            "<b>{}</b> (80% interval {} to {})",
            pct(nrr.0),
            pct(nrr.1),
            pct(nrr.2)
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("<b>{}</b>", pct(grr.0))),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "<b>{:.0}</b> of {} customers",
            est(&t.churned_accounts).0,
            t.accounts
        )),
        "{summary}"
    );
    // Three sentences.
    let text = summary.split("<p").nth(1).unwrap();
    assert_eq!(text.matches(". ").count() + 1, 3, "{text}");
    for g in &f.groups {
        assert!(
            html.contains(&format!("<tr><td>{}</td><td>{}</td>", g.group, g.accounts)),
            "{}",
            g.group
        );
    }
    // Sections in the order executives read, and the five charts.
    let mut at = 0;
    for id in [
        "executive-summary",
        "key-metrics",
        "root-cause",
        "wins",
        "actions",
    ] {
        let p = html[at..]
            .find(&format!("<section id=\"{id}\""))
            .unwrap_or_else(|| panic!("section {id}"));
        at += p;
    }
    for h in [
        "Executive Summary",
        "Key Metrics and Trends",
        "Root Cause Analysis",
        "Wins and Opportunities",
        "Action Items and Next Steps",
    ] {
        assert!(html.contains(&format!("<h2>{h}</h2>")), "{h}");
    }
    for id in [
        "chart-health",
        "chart-nrr",
        "chart-churned-arr",
        "chart-drivers",
        "chart-calibration",
    ] {
        assert!(html.contains(&format!("<svg id=\"{id}\"")), "{id}");
    }
    // Three weekly runs in the health trend, actions from the at-risk list.
    assert_eq!(html.matches(" green: ").count(), 3);
    let actions = &html[html.find("id=\"actions\"").unwrap()..];
    assert!(actions.contains("<li><b>"));
    // Each action says why (reasons) and, apart, when (the renewal).
    assert!(actions.contains(". Why: "), "{actions}");
    assert!(actions.contains(" When: renews in "), "{actions}");
    assert!(!actions.contains("Why: renews in"), "{actions}");
    // Self-contained: no script, no external reference.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=") && !html.contains("href=") && !html.contains("url("));
    assert!(
        !html
            .replace("http://www.w3.org/2000/svg", "")
            .contains("http")
    );

    // Bad period: INVALID_ARGUMENT naming it.
    for p in ["2026-Q5", "Q4", "2026"] {
        let err = rc
            .get_report(pb::GetReportRequest { period: p.into() })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{p}: {err:?}");
        assert_eq!(field_of(&err), "period");
    }
    server.stop().await;

    // It opens in headless Chromium (when installed; CI installs it).
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        eprintln!(
            "SKIPPED the headless Chromium check: no chromium on PATH (apt-get install chromium)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let shot = dir.path().join("report.png");
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1100,3000",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    let dom = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(dom.status.success());
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("Root Cause Analysis") && dom.contains("chart-nrr"));
}
