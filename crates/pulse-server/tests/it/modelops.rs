//! Model operations end to end: a synthetic base whose generator changes
//! behaviour halfway (from a day on, nearly every renewal carries a price
//! rise and the price shock drives renewals) makes drift fire, and a
//! retrained challenger is compared with the champion and promoted or kept
//! by the rule; on the same base without the change, the scheduled
//! retraining decides by the same rule; the weekly drift check of the
//! schedule finds the change critical and starts a run by itself. Decisions
//! are listed over gRPC and counted in `/metrics`; the realised performance
//! of stored runs agrees with the outcomes in the store. Every world ends the
//! day before the suite's today (`crate::today`); whether a challenger wins
//! depends on the draw, so the tests assert the rule on the recorded figures.

use std::sync::Arc;
use std::time::Duration;

use pulse_core::time::format_day;
use pulse_models::{GbtParams, ModelKind};
use pulse_proto::v1 as pb;
use pulse_proto::v1::model_service_client::ModelServiceClient;
use pulse_proto::v1::scoring_service_client::ScoringServiceClient;
use pulse_server::{AppState, ModelOpsSettings, TrainRequest, train_and_decide};
use pulse_store::Store;
use pulse_synth::SynthConfig;
use pulse_training::{DecisionRule, TrainConfig};

use crate::TestServer;
use crate::metrics::{http_get, sample, start_metrics};
use crate::models::{MemoryRegistry, ingest_generated, wait};
use crate::scoring::wait_ready;
use crate::today;

const ACCOUNTS: usize = 800;
const MONTHS: u32 = 24;

fn small_training() -> TrainConfig {
    TrainConfig {
        gbt: GbtParams::new().iterations(60),
        ablation: false,
        ..TrainConfig::default()
    }
}

/// A store with the base (with the price change from `change` when given)
/// and a champion trained on what was known at the end of `champion_end`,
/// promoted; the server state over them.
async fn setup(change: Option<i32>, champion_end: i32) -> (AppState, Store) {
    let end = today() - 1;
    let mut cfg = SynthConfig::new(ACCOUNTS, MONTHS, 7, end);
    cfg.price_regime_from = change;
    let store = Store::in_memory().await.unwrap();
    ingest_generated(&store, &cfg).await;
    let registry = Arc::new(MemoryRegistry::default());
    let histories = store.load_histories(None).await.unwrap();
    let champion = train_and_decide(
        &store,
        registry.clone(),
        histories,
        TrainRequest {
            kinds: vec![ModelKind::Churn, ModelKind::Expansion],
            config: small_training(),
            rule: DecisionRule::default(),
            trigger: "test".into(),
            promote: false,
            data_end: Some(champion_end),
            clock: crate::clock(),
            survival: None,
            truth: None,
        },
        None,
        |_| {},
    )
    .await
    .unwrap();
    assert!(champion.entries.iter().all(|e| e.promoted));
    assert!(
        champion
            .decisions
            .iter()
            .all(|d| d.outcome == "promoted" && d.reason.contains("the first one serves")),
        "{:?}",
        champion.decisions
    );
    let mut state = crate::state(store.clone(), registry);
    state.training = small_training();
    (state, store)
}

/// Asserts that a recorded decision applied the default promotion rule to
/// the figures recorded beside it: promoted iff the PR-AUC gain reaches
/// `min_pr_auc_gain` and the ECE does not rise by more than allowed.
fn assert_decided_by_rule(figures: [Option<f64>; 4], outcome: &str, reason: &str) -> bool {
    let [Some(ch), Some(champ), Some(ch_ece), Some(champ_ece)] = figures else {
        panic!("not compared: {reason}");
    };
    let rule = DecisionRule::default();
    let passes = ch - champ >= rule.min_pr_auc_gain - 1e-12
        && ch_ece - champ_ece <= rule.max_ece_increase + 1e-12;
    assert_eq!(
        outcome,
        if passes { "promoted" } else { "kept" },
        "{reason}"
    );
    assert_eq!(
        reason.starts_with("the challenger wins"),
        passes,
        "{reason}"
    );
    passes
}

fn churn_decision(job: &pb::TrainJob) -> &pb::ModelDecision {
    job.decisions
        .iter()
        .find(|d| d.kind == "churn")
        .expect("a churn decision")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_change_makes_drift_fire_and_the_challenger_is_judged_by_the_rule() {
    let end = today() - 1;
    let change = end - 365;
    let (state, store) = setup(Some(change), change).await;
    let metrics_addr = start_metrics(&state).await;
    let server = TestServer::start_with(state).await;
    wait_ready(&mut ScoringServiceClient::new(server.channel.clone())).await;
    let mut models = ModelServiceClient::new(server.channel.clone());

    let drift = models
        .get_drift(pb::GetDriftRequest {
            refresh: true,
            top: 0,
        })
        .await
        .unwrap()
        .into_inner();
    eprintln!("{}", drift.summary);
    assert_eq!(drift.level, "critical", "{}", drift.summary);
    let price = drift
        .features
        .iter()
        .find(|f| f.name == "price_increase_90d")
        .unwrap_or_else(|| panic!("price_increase_90d did not move: {}", drift.summary));
    assert_ne!(price.level, "none");
    // Its before/after distributions: more accounts with a recent rise now.
    let none_before = price.bins[0].reference;
    let none_now = price.bins[0].current;
    assert!(none_now < none_before, "{:?}", price.bins);
    let p = drift.prediction.as_ref().unwrap();
    assert!(!p.bins.is_empty());

    // Realised performance of the champion's lists: one run whose window
    // has closed, one 12 weeks ago whose window is still open.
    let mut scoring = ScoringServiceClient::new(server.channel.clone());
    let mut runs = Vec::new();
    for back in [120, 84] {
        let run = scoring
            .run_scoring(pb::RunScoringRequest {
                as_of: format_day(today() - back),
            })
            .await
            .unwrap()
            .into_inner();
        runs.push(run);
    }
    let perf = models
        .get_performance(pb::GetPerformanceRequest { runs: 0, top: 50 })
        .await
        .unwrap()
        .into_inner();
    // The server's own weekly run may be there too (newest first).
    let find = |id: i64| perf.runs.iter().find(|r| r.run_id == id).unwrap();
    let (closed, open) = (find(runs[0].run_id), find(runs[1].run_id));
    assert!(
        perf.runs.iter().position(|r| r.run_id == runs[1].run_id)
            < perf.runs.iter().position(|r| r.run_id == runs[0].run_id)
    );
    eprintln!("{}\n{}", closed.summary, open.summary);
    assert!(closed.window_closed && !open.window_closed);
    assert!(open.summary.contains("12 weeks ago") && open.summary.contains("so far"));
    // The top 50 of the closed run counted from the store independently.
    let stored = store.run_scores(closed.run_id).await.unwrap();
    let mut ranked: Vec<_> = stored.iter().collect();
    ranked.sort_by(|a, b| b.churn_probability.total_cmp(&a.churn_probability));
    let histories = store.load_histories(None).await.unwrap();
    let as_of = today() - 120;
    let churned = |id: &str| {
        histories.iter().any(|h| {
            h.account.id == id
                && h.subscriptions.iter().any(|s| {
                    s.kind == pulse_core::SubscriptionKind::Churn
                        && s.occurred_at > pulse_features::end_of_day(as_of)
                        && s.occurred_at <= pulse_features::end_of_day(as_of + 90)
                })
        })
    };
    let top = ranked[..50]
        .iter()
        .filter(|s| churned(&s.account_id))
        .count();
    let all = ranked.iter().filter(|s| churned(&s.account_id)).count();
    assert_eq!(closed.top_k_churned, top as u64);
    assert_eq!(closed.churned, all as u64);
    assert_eq!(closed.accounts, stored.len() as u64);
    assert!(closed.roc_auc.is_some_and(|a| a > 0.5), "{closed:?}");
    assert!(!closed.segments.is_empty() && closed.deciles.len() == 10);

    let job = models
        .train(pb::TrainRequest::default())
        .await
        .unwrap()
        .into_inner();
    let job = wait(&mut models, &job.job_id).await;
    assert_eq!(
        job.state,
        pb::TrainJobState::Succeeded as i32,
        "{}",
        job.error
    );
    let d = churn_decision(&job);
    eprintln!("{}: {}", d.outcome, d.reason);
    assert_eq!(d.trigger, "manual");
    assert!(d.window_from >= format_day(change), "{d:?}");
    // Whether the fresher challenger gains 0.02 PR-AUC on the latest window
    // depends on the draw (+0.075 with the suite's today 2026-11-30 and
    // 2026-12-02, -0.021 with 2025-11-30), so the rule is asserted on the
    // recorded figures; drift above is what the price change always does.
    assert_decided_by_rule(
        [
            d.challenger_pr_auc,
            d.champion_pr_auc,
            d.challenger_ece,
            d.champion_ece,
        ],
        &d.outcome,
        &d.reason,
    );

    let listed = models
        .list_decisions(pb::ListDecisionsRequest {
            kind: "churn".into(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .decisions;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].decision_id, d.decision_id);
    assert_eq!(listed[1].trigger, "test");
    let e = models
        .list_decisions(pb::ListDecisionsRequest {
            kind: "upsell".into(),
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);

    let (_, text) = http_get(metrics_addr, "/metrics").await;
    assert_eq!(
        sample(
            &text,
            &format!(
                r#"pulse_challenger_decisions_total{{kind="churn",outcome="{}"}}"#,
                d.outcome
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"pulse_drift_level{kind="churn"}"#),
        Some(2.0)
    );
    assert!(
        sample(
            &text,
            r#"pulse_last_training_timestamp_seconds{kind="churn"}"#
        )
        .is_some_and(|t| t > 1.7e9)
    );
    server.stop().await;
}

/// The scheduled retraining compares its challenger with the champion and
/// applies the promotion rule to the figures it records. Whether a challenger
/// a year fresher gains 0.02 PR-AUC on a base without a change depends on
/// the draw (on 2026-11-30 it did not, on 2026-12-02 it did: +0.0296), so
/// the test asserts the rule on the recorded figures, not the outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_retraining_compares_and_decides_by_the_rule() {
    let end = today() - 1;
    let (mut state, store) = setup(None, end - 365).await;
    // Retraining is due 8 s after the champion's decision: the test moves
    // the server's clock a minute on instead of waiting.
    state.model_ops = ModelOpsSettings {
        retrain_every: Some(Duration::from_secs(8)),
        ..ModelOpsSettings::default()
    };
    assert!(state.clock().advance(60));
    let server = TestServer::start_with(state).await;
    let mut models = ModelServiceClient::new(server.channel.clone());
    let mut scheduled = None;
    for _ in 0..6_000 {
        let ds = store.decisions(Some("churn"), 10).await.unwrap();
        if let Some(d) = ds.into_iter().find(|d| d.trigger == "scheduled") {
            scheduled = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = scheduled.expect("a scheduled run within 10 minutes");
    eprintln!("{}: {}", d.outcome, d.reason);
    assert_decided_by_rule(
        [
            d.challenger_pr_auc,
            d.champion_pr_auc,
            d.challenger_ece,
            d.champion_ece,
        ],
        &d.outcome,
        &d.reason,
    );
    assert_eq!(
        d.decided_at,
        crate::clock().now() + 60,
        "the server's clock"
    );
    let listed = models
        .list_decisions(pb::ListDecisionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .decisions;
    assert!(listed.iter().any(|l| l.decision_id == d.decision_id));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_drift_found_by_the_schedule_starts_a_retraining_run() {
    let end = today() - 1;
    let change = end - 365;
    let (mut state, store) = setup(Some(change), change).await;
    state.model_ops = ModelOpsSettings {
        drift_every: Some(Duration::from_secs(3_600)),
        ..ModelOpsSettings::default()
    };
    let server = TestServer::start_with(state).await;
    let mut drift_run = None;
    for _ in 0..6_000 {
        let ds = store.decisions(Some("churn"), 10).await.unwrap();
        if let Some(d) = ds.into_iter().find(|d| d.trigger == "drift") {
            drift_run = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = drift_run.expect("a drift-triggered run within 10 minutes");
    let checks = store.drift_checks(10).await.unwrap();
    assert_eq!(checks.len(), 1, "one scheduled check");
    assert_eq!(checks[0].level, "critical");
    assert!(checks[0].checked_at <= d.decided_at);
    eprintln!("{}: {}", d.outcome, d.reason);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_world_does_not_look_drifted_right_after_training() {
    // The champion knows everything up to yesterday: the check compares the
    // customers of its last weeks with today's, the same season.
    let (state, _store) = setup(None, today() - 1).await;
    let server = TestServer::start_with(state).await;
    wait_ready(&mut ScoringServiceClient::new(server.channel.clone())).await;
    let drift = ModelServiceClient::new(server.channel.clone())
        .get_drift(pb::GetDriftRequest {
            refresh: true,
            top: 0,
        })
        .await
        .unwrap()
        .into_inner();
    eprintln!("{}", drift.summary);
    assert_ne!(drift.level, "critical", "{}", drift.summary);
    assert!(drift.max_psi < drift.critical, "{}", drift.summary);
    server.stop().await;
}
