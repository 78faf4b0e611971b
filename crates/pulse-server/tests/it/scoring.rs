//! ScoringService end to end: models trained on a synthetic base and
//! promoted in an in-memory registry; Score by id and by raw features,
//! Explain (additivity), ScoreBatch, stored runs, past-date scores, change
//! attribution, the account profile, the error codes, and a promotion under
//! load that no in-flight call notices.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pulse_core::time::format_day;
use pulse_models::{GbtParams, ModelKind};
use pulse_proto::v1 as pb;
use pulse_proto::v1::model_service_client::ModelServiceClient;
use pulse_proto::v1::scoring_service_client::ScoringServiceClient;
use pulse_server::{AppState, ModelRegistry};
use pulse_store::Store;
use pulse_training::TrainConfig;
use tonic::Code;
use tonic::transport::Channel;

use crate::TestServer;
use crate::models::{MemoryRegistry, ingest_synthetic_until};
use crate::today;

/// Trains churn and expansion models on the store's data and saves them;
/// promotes them when `promote`.
pub(crate) async fn train(
    store: &Store,
    registry: &MemoryRegistry,
    iterations: usize,
    promote: bool,
) -> Vec<String> {
    let hs = store.load_histories(None).await.unwrap();
    // The small worlds of these tests (100 to 300 accounts) can trip the
    // leakage gate by chance on some dates (tenure alone separated the few
    // churners of a 120-account base ending 2028-02-29 at ROC-AUC 0.97);
    // the gate has its own tests in pulse-training.
    let cfg = TrainConfig {
        gbt: GbtParams::new().iterations(iterations),
        ablation: false,
        allow_leakage: true,
        ..TrainConfig::default()
    };
    let out = tokio::task::spawn_blocking(move || {
        pulse_training::train_models(
            &hs,
            &[ModelKind::Churn, ModelKind::Expansion],
            None,
            &cfg,
            "2026-11-30T00:00:00Z",
            &mut || 0.0,
            &mut |_| {},
        )
        .unwrap()
    })
    .await
    .unwrap();
    let mut versions = Vec::new();
    for m in out.models {
        let e = registry.save(m.artifact).unwrap();
        if promote {
            registry.promote(&e.card.version).unwrap();
        }
        versions.push(e.card.version);
    }
    versions
}

async fn score_id(
    c: &mut ScoringServiceClient<Channel>,
    id: &str,
    as_of: &str,
) -> Result<pb::ScoreResponse, tonic::Status> {
    c.score(pb::ScoreRequest {
        subject: Some(pb::score_request::Subject::AccountId(id.into())),
        as_of: as_of.into(),
        top_drivers: 0,
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner())
}

/// Waits until the server has loaded its models and scored the population.
pub(crate) async fn wait_ready(c: &mut ScoringServiceClient<Channel>) -> Vec<pb::ScoreResponse> {
    // Hang guards, not speed checks: ten minutes on a loaded machine.
    for _ in 0..6_000 {
        let mut stream = match c.score_batch(pb::ScoreBatchRequest::default()).await {
            Ok(s) => s.into_inner(),
            Err(e) if matches!(e.code(), Code::Unavailable | Code::FailedPrecondition) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => panic!("{e:?}"),
        };
        let mut all = Vec::new();
        while let Some(chunk) = stream.message().await.unwrap() {
            all.extend(chunk.scores);
        }
        return all;
    }
    panic!("scoring was not ready after 10 minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn score_explain_batch_runs_profile_and_errors() {
    let store = Store::in_memory().await.unwrap();
    let end = today() - 1;
    ingest_synthetic_until(&store, 300, 18, end).await;
    let registry = Arc::new(MemoryRegistry::default());

    // Before any model: UNAVAILABLE while the server looks for one, then
    // FAILED_PRECONDITION saying how to train one.
    let server = TestServer::start_with(crate::state(store.clone(), registry.clone())).await;
    let mut c = ScoringServiceClient::new(server.channel.clone());
    let mut err = score_id(&mut c, "a", "").await.unwrap_err();
    for _ in 0..600 {
        if err.code() != Code::Unavailable {
            break;
        }
        assert!(err.message().contains("loading"), "{}", err.message());
        tokio::time::sleep(Duration::from_millis(100)).await;
        err = score_id(&mut c, "a", "").await.unwrap_err();
    }
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("pulse train"), "{}", err.message());
    server.stop().await;

    let versions = train(&store, &registry, 40, true).await;
    assert_eq!(versions, ["churn-v1", "expansion-v1"]);
    // No scheduled weekly run here, so the stored runs are exactly this test's.
    let settings = pulse_server::ScoringSettings {
        weekly_runs: false,
        ..crate::settings()
    };
    let server = TestServer::start_with(AppState::with_scoring(
        store.clone(),
        registry.clone(),
        settings,
    ))
    .await;
    let mut c = ScoringServiceClient::new(server.channel.clone());
    let all = wait_ready(&mut c).await;
    assert!(all.len() > 100, "{} live accounts", all.len());

    // Score by id: a calibrated probability, health, band and drivers.
    let id = all[0].account_id.clone();
    let s = score_id(&mut c, &id, "").await.unwrap();
    assert_eq!(s.source, pb::ScoreSource::Live as i32);
    assert!((0.0..=1.0).contains(&s.churn_probability));
    assert!((s.health - 100.0 * (1.0 - s.churn_probability)).abs() < 1e-9);
    assert!(["green", "yellow", "red"].contains(&s.band.as_str()));
    assert!(
        ["happy_and_successful", "trapped", "accessible", "high_risk"]
            .contains(&s.quadrant.as_str())
    );
    assert_eq!(s.horizon_days, 90);
    assert!(s.expansion_probability.is_some());
    assert!((s.arr_at_risk - s.churn_probability * s.arr).abs() < 1e-6);
    assert_eq!(s.drivers.len(), 3);
    assert!(s.drivers.iter().all(|d| !d.sentence.is_empty()));
    assert!(!s.suggested_play.is_empty());
    // The why and the when apart: the drivers are reasons, timing is urgency.
    let context = [
        "days_to_renewal",
        "tenure_days",
        "segment_size",
        "mrr",
        "seats",
    ];
    for a in all.iter().take(200) {
        let r = score_id(&mut c, &a.account_id, "").await.unwrap();
        for d in &r.drivers {
            assert!(!context.contains(&d.feature.as_str()), "{}", d.feature);
            assert_ne!(d.cause, "context");
            assert!(!d.cause.is_empty());
        }
        let u = r.urgency.as_ref().expect("urgency");
        if let Some(days) = u.days_to_renewal {
            assert!(u.text.starts_with("renews in"), "{}", u.text);
            assert_eq!(u.urgent, days <= 90.0);
            assert_eq!(r.suggested_play.starts_with("Before the renewal"), u.urgent);
        }
        assert!(r.suggested_play.ends_with(r.base_play.as_str()));
        let curve = r.churn_curve.as_ref().and_then(|c| c.before_renewal);
        assert_eq!(u.churn_before_renewal, curve);
        assert!(!r.suggested_play.contains("renewal conversation"));
    }
    assert_eq!(s.models.as_ref().unwrap().churn, "churn-v1");
    assert_eq!(s.models.as_ref().unwrap().expansion, "expansion-v1");

    // Explain: contributions add up with the base value to the margin, and
    // their values reproduce the score when sent back as raw features.
    let e = c
        .explain(pb::ScoreRequest {
            subject: Some(pb::score_request::Subject::AccountId(id.clone())),
            as_of: String::new(),
            top_drivers: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.contributions.len(), pulse_features::n_features());
    // Explain keeps the context features (the sum identity needs them).
    assert!(
        e.contributions
            .iter()
            .any(|d| d.feature == "days_to_renewal" && d.cause == "context")
    );
    let total: f64 = e.base_value + e.contributions.iter().map(|d| d.contribution).sum::<f64>();
    assert!((total - e.margin).abs() < 1e-6, "{total} vs {}", e.margin);
    let values: HashMap<String, f64> = e
        .contributions
        .iter()
        .map(|d| (d.feature.clone(), d.value))
        .collect();
    let raw = c
        .score(pb::ScoreRequest {
            subject: Some(pb::score_request::Subject::Features(pb::FeatureVector {
                values: values.clone(),
                arr: s.arr,
                segment: "smb".into(),
                reference: "caller-1".into(),
                ..Default::default()
            })),
            as_of: String::new(),
            top_drivers: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(raw.source, pb::ScoreSource::Raw as i32);
    assert_eq!(raw.account_id, "caller-1");
    assert!((raw.churn_probability - s.churn_probability).abs() < 1e-12);
    assert_eq!(raw.drivers.len(), 2);

    // Every live account's own feature vector is accepted as raw features and
    // scores exactly as the account does (ranges match real data).
    for live in &all {
        let e = c
            .explain(pb::ScoreRequest {
                subject: Some(pb::score_request::Subject::AccountId(
                    live.account_id.clone(),
                )),
                as_of: String::new(),
                top_drivers: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let values: HashMap<String, f64> = e
            .contributions
            .iter()
            .map(|d| (d.feature.clone(), d.value))
            .collect();
        let r = c
            .score(pb::ScoreRequest {
                subject: Some(pb::score_request::Subject::Features(pb::FeatureVector {
                    values,
                    ..Default::default()
                })),
                as_of: String::new(),
                top_drivers: 1,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", live.account_id))
            .into_inner();
        assert!((r.churn_probability - live.churn_probability).abs() < 1e-12);
    }

    // The same vector in schema order (GetFeatureSchema's columns and
    // fingerprint) scores the same; without drivers, the same probability
    // with no drivers.
    let schema = c
        .get_feature_schema(pb::GetFeatureSchemaRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schema.features.len(), pulse_features::n_features());
    assert_eq!(schema.fingerprint.len(), 16);
    let fcr = schema
        .features
        .iter()
        .find(|f| f.name == "fcr_rate_90d")
        .unwrap();
    assert_eq!((fcr.min, fcr.max, fcr.may_be_unknown), (0.0, 1.0, true));
    let ordered: Vec<f64> = schema.features.iter().map(|f| values[&f.name]).collect();
    let ordered_request = |schema: &str, without_drivers: bool| pb::ScoreRequest {
        subject: Some(pb::score_request::Subject::Features(pb::FeatureVector {
            ordered_values: ordered.clone(),
            schema: schema.to_string(),
            arr: s.arr,
            ..Default::default()
        })),
        without_drivers,
        ..Default::default()
    };
    let r = c
        .score(ordered_request(&schema.fingerprint, false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.churn_probability, raw.churn_probability);
    assert_eq!(r.drivers.len(), 3);
    let quick = c
        .score(ordered_request(&schema.fingerprint, true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(quick.churn_probability, raw.churn_probability);
    assert_eq!(quick.band, raw.band);
    assert_eq!(quick.arr_at_risk, raw.arr_at_risk);
    assert!(quick.drivers.is_empty());
    assert!(!quick.suggested_play.is_empty());
    let by_id = c
        .score(pb::ScoreRequest {
            subject: Some(pb::score_request::Subject::AccountId(id.clone())),
            without_drivers: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id.churn_probability, s.churn_probability);
    assert!(by_id.drivers.is_empty());
    // A vector built for another schema is refused, never misread.
    let err = c
        .score(ordered_request("0000000000000000", false))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("features.schema"),
        "{}",
        err.message()
    );
    let err = c.score(ordered_request("", false)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("features.schema"),
        "{}",
        err.message()
    );
    let mut short = ordered_request(&schema.fingerprint, false);
    if let Some(pb::score_request::Subject::Features(fv)) = &mut short.subject {
        fv.ordered_values.pop();
    }
    let err = c.score(short).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("features.ordered_values"),
        "{}",
        err.message()
    );
    let mut both = ordered_request(&schema.fingerprint, false);
    if let Some(pb::score_request::Subject::Features(fv)) = &mut both.subject {
        fv.values = values.clone();
    }
    let err = c.score(both).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = c
        .score(pb::ScoreRequest {
            without_drivers: true,
            top_drivers: 2,
            ..ordered_request(&schema.fingerprint, false)
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("top_drivers"), "{}", err.message());
    let err = c
        .explain(ordered_request(&schema.fingerprint, true))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("without_drivers"),
        "{}",
        err.message()
    );

    // Bad raw features: INVALID_ARGUMENT naming the feature.
    let mut missing = values.clone();
    missing.remove("mrr");
    let err = c
        .score(pb::ScoreRequest {
            subject: Some(pb::score_request::Subject::Features(pb::FeatureVector {
                values: missing,
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("features.mrr") && err.message().contains("missing"),
        "{}",
        err.message()
    );
    let mut bad = values.clone();
    bad.insert("fcr_rate_90d".into(), 3.0);
    let err = c
        .score(pb::ScoreRequest {
            subject: Some(pb::score_request::Subject::Features(pb::FeatureVector {
                values: bad,
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("features.fcr_rate_90d"),
        "{}",
        err.message()
    );

    // Other errors.
    let err = score_id(&mut c, "no-such-account", "").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = score_id(&mut c, "  ", "").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = score_id(&mut c, &id, "30/11/2026").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("as_of"), "{}", err.message());
    let err = c.score(pb::ScoreRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = c
        .score_batch(pb::ScoreBatchRequest {
            account_ids: vec!["x".into(); pulse_server::MAX_SCORE_BATCH + 1],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);

    // ScoreBatch by ids reports the unknown ones.
    let mut stream = c
        .score_batch(pb::ScoreBatchRequest {
            account_ids: vec![id.clone(), "ghost".into()],
            top_drivers: 1,
            chunk_size: 1,
        })
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    let mut not_found = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        got.extend(m.scores);
        not_found.extend(m.not_found);
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].churn_probability, s.churn_probability);
    assert_eq!(got[0].drivers.len(), 1);
    assert_eq!(not_found, ["ghost"]);

    // Stored runs: two past weeks, then scores as of past dates come from them.
    let d1 = format_day(end - 14);
    let d2 = format_day(end - 7);
    let r1 = c
        .run_scoring(pb::RunScoringRequest { as_of: d1.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r1.as_of, d1);
    assert!(r1.accounts > 100);
    let r2 = c
        .run_scoring(pb::RunScoringRequest { as_of: d2.clone() })
        .await
        .unwrap()
        .into_inner();
    let past = score_id(&mut c, &id, &format_day(end - 10)).await.unwrap();
    assert_eq!(past.source, pb::ScoreSource::Stored as i32);
    assert_eq!(past.score_run_id, r1.run_id);
    assert_eq!(past.as_of, d1);
    // Re-running a past date never rewrites what was shown then.
    c.run_scoring(pb::RunScoringRequest { as_of: d1.clone() })
        .await
        .unwrap();
    let again = score_id(&mut c, &id, &format_day(end - 10)).await.unwrap();
    assert_eq!(again.score_run_id, r1.run_id);
    assert_eq!(again.churn_probability, past.churn_probability);
    let err = score_id(&mut c, &id, &format_day(end - 400))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("RunScoring"), "{}", err.message());
    let runs = c
        .list_score_runs(pb::ListScoreRunsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .runs;
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].as_of, d2);

    // Change attribution between the two stored weeks adds up.
    let ch = c
        .get_score_change(pb::GetScoreChangeRequest {
            account_id: id.clone(),
            to: d2.clone(),
            from: d1.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let sum: f64 = ch.families.iter().map(|f| f.points).sum();
    assert!((sum - ch.points).abs() < 1e-6, "{sum} vs {}", ch.points);
    assert!((ch.health_to - ch.health_from - ch.points).abs() < 1e-9);
    assert!(ch.summary.starts_with("health "), "{}", ch.summary);
    assert_eq!(r2.as_of, ch.to);

    // The profile: score, trend, interactions and personas.
    let p = c
        .get_account_profile(pb::GetAccountProfileRequest {
            account_id: id.clone(),
            interactions: 5,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.account_id, id);
    assert_eq!(
        p.score.as_ref().unwrap().churn_probability,
        s.churn_probability
    );
    // The profile's score: reasons, and the when apart, as Score says.
    let ps = p.score.as_ref().unwrap();
    assert_eq!(ps.urgency, s.urgency);
    assert_eq!(ps.suggested_play, s.suggested_play);
    assert!(ps.drivers.iter().all(|d| d.cause != "context"));
    assert_eq!(p.trend.len(), 2);
    assert_eq!(p.trend[0].as_of, d1);
    // What the stored data determines: the account's record, its newest five
    // interactions up to now (newest first), the ones still open now, its
    // contacts, and the change between the two stored weeks.
    let now = crate::clock().now();
    let history = store
        .load_histories(None)
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.account.id == id)
        .unwrap();
    let a = &history.account;
    assert_eq!(
        (p.name.as_str(), p.owner.as_str(), p.plan.as_str()),
        (a.name.as_str(), a.owner.as_str(), a.plan.as_str())
    );
    assert_eq!(p.segment, a.segment.to_string());
    assert_eq!(p.arr, s.arr);
    assert_eq!(
        p.days_to_renewal,
        a.renewal_date
            .map_or(0, |r| r - pulse_core::time::day_of_ts(now))
    );
    let shown =
        |i: &pb::ProfileInteraction| (i.opened_at.clone(), i.channel.clone(), i.topic.clone());
    let fact = |i: &pulse_features::InteractionFact| {
        (
            pulse_core::time::format_ts(i.opened_at),
            i.channel.to_string(),
            i.topic.to_string(),
        )
    };
    let mut up_to_now: Vec<_> = history
        .interactions
        .iter()
        .filter(|i| i.opened_at <= now)
        .collect();
    up_to_now.reverse();
    let newest: Vec<_> = up_to_now.iter().take(5).map(|i| fact(i)).collect();
    assert_eq!(newest.len(), 5, "the test account has a history");
    assert_eq!(
        p.recent_interactions.iter().map(shown).collect::<Vec<_>>(),
        newest
    );
    let open: Vec<_> = up_to_now
        .iter()
        .filter(|i| i.resolved_at.is_none_or(|r| r > now))
        .map(|i| fact(i))
        .collect();
    assert_eq!(p.open_issues.iter().map(shown).collect::<Vec<_>>(), open);
    let mut contacts: Vec<&str> = history
        .contacts
        .iter()
        .map(|c| c.contact_id.as_str())
        .collect();
    contacts.sort_unstable();
    contacts.dedup();
    let mut personas: Vec<&str> = p.personas.iter().map(|c| c.contact_id.as_str()).collect();
    personas.sort_unstable();
    assert_eq!(personas, contacts);
    assert_eq!(p.change_summary, ch.summary);
    let err = c
        .get_account_profile(pb::GetAccountProfileRequest {
            account_id: "ghost".into(),
            interactions: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_under_load_swaps_models_without_failing_a_call() {
    let store = Store::in_memory().await.unwrap();
    ingest_synthetic_until(&store, 200, 18, today() - 1).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 30, true).await;
    let next = train(&store, &registry, 50, false).await;
    let server = TestServer::start_with(crate::state(store.clone(), registry.clone())).await;
    let mut c = ScoringServiceClient::new(server.channel.clone());
    let all = wait_ready(&mut c).await;
    let ids: Arc<Vec<String>> = Arc::new(all.iter().map(|s| s.account_id.clone()).collect());

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..8 {
        let mut c = c.clone();
        let (stop, calls, ids) = (stop.clone(), calls.clone(), ids.clone());
        workers.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let id = &ids[i % ids.len()];
                let s = score_id(&mut c, id, "")
                    .await
                    .expect("no call fails during a promotion");
                versions.push(s.models.unwrap().churn);
                calls.fetch_add(1, Ordering::Relaxed);
                i += 8;
            }
            versions
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut m = ModelServiceClient::new(server.channel.clone());
    for v in &next {
        m.promote_model(pb::PromoteModelRequest { version: v.clone() })
            .await
            .unwrap();
    }
    // Wait until the new churn model serves, then a little more load.
    let mut swapped = false;
    for _ in 0..6_000 {
        let s = score_id(&mut c, &ids[0], "").await.unwrap();
        if s.models.as_ref().unwrap().churn == next[0] {
            swapped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(swapped, "the promoted model never came into service");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = Vec::new();
    for w in workers {
        seen.extend(w.await.unwrap());
    }
    assert!(calls.load(Ordering::Relaxed) > 50);
    assert!(seen.iter().any(|v| v == "churn-v1"));
    assert!(seen.iter().any(|v| v == &next[0]));

    // The scheduled weekly run (on by default) stored this week's scores.
    let mut scheduled = None;
    for _ in 0..6_000 {
        let runs = c
            .list_score_runs(pb::ListScoreRunsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .runs;
        scheduled = runs.into_iter().find(|r| r.trigger == "scheduled");
        if scheduled.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scheduled = scheduled.expect("a scheduled run is stored once models are in service");
    assert_eq!(scheduled.as_of, format_day(today()));
    assert!(scheduled.accounts > 0);
    server.stop().await;
}
