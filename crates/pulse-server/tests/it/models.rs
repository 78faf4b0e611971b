//! ModelService end to end: a synthetic base ingested through the store,
//! training over the RPC, polling the job, listing, reading a card,
//! promoting and rolling back; with an in-memory registry.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulse_core::Record;
use pulse_core::time::parse_day;
use pulse_models::{GbtParams, ModelArtifact, ModelKind};
use pulse_proto::v1 as pb;
use pulse_proto::v1::forecast_service_client::ForecastServiceClient;
use pulse_proto::v1::model_service_client::ModelServiceClient;
use pulse_sentiment::{SentimentCard, SentimentModel};
use pulse_server::{
    ModelRegistry, Promotion, RegistryEntry, RegistryError, SentimentEntry, SentimentPromotion,
};
use pulse_store::Store;
use pulse_synth::{SynthConfig, generate};
use pulse_training::TrainConfig;
use tonic::Code;

use crate::TestServer;

/// Artifacts as bytes in memory, verified on every read like the binary's
/// directory registry.
#[derive(Debug, Default)]
pub(crate) struct MemoryRegistry {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Version -> artifact bytes, in save order.
    models: Vec<(String, Vec<u8>)>,
    promoted: BTreeMap<&'static str, String>,
    /// Sentiment cards with their model JSON, in save order.
    sentiment: Vec<(SentimentCard, Vec<u8>)>,
    promoted_sentiment: Option<String>,
    /// Survival models as JSON, in save order.
    survival: Vec<String>,
}

fn family(a: &ModelArtifact) -> &'static str {
    if a.payload.encoder.is_some() {
        "table"
    } else {
        a.card.kind.as_str()
    }
}

impl MemoryRegistry {
    fn read(&self, version: &str) -> Result<ModelArtifact, RegistryError> {
        let inner = self.inner.lock().unwrap();
        let (_, bytes) = inner
            .models
            .iter()
            .find(|(v, _)| v == version)
            .ok_or_else(|| RegistryError::NotFound {
                version: version.into(),
            })?;
        ModelArtifact::read(&bytes[..]).map_err(|e| RegistryError::Refused {
            version: version.into(),
            reason: e.to_string(),
        })
    }

    fn entry(&self, a: &ModelArtifact) -> RegistryEntry {
        let inner = self.inner.lock().unwrap();
        RegistryEntry {
            promoted: inner.promoted.get(a.card.kind.as_str()) == Some(&a.card.version),
            tabular: a.payload.encoder.is_some(),
            card: a.card.clone(),
        }
    }
}

impl ModelRegistry for MemoryRegistry {
    fn save_survival(
        &self,
        model: &mut pulse_forecast::SurvivalModel,
    ) -> Result<String, RegistryError> {
        let mut inner = self.inner.lock().unwrap();
        model.card.version = format!("survival-v{}", inner.survival.len() + 1);
        let json =
            serde_json::to_string(&*model).map_err(|e| RegistryError::Storage(e.to_string()))?;
        inner.survival.push(json);
        Ok(model.card.version.clone())
    }

    fn latest_survival(&self) -> Result<Option<pulse_forecast::SurvivalModel>, RegistryError> {
        let inner = self.inner.lock().unwrap();
        let Some(json) = inner.survival.last() else {
            return Ok(None);
        };
        let m: pulse_forecast::SurvivalModel =
            serde_json::from_str(json).map_err(|e| RegistryError::Storage(e.to_string()))?;
        m.check().map_err(|e| RegistryError::Refused {
            version: m.card.version.clone(),
            reason: e.to_string(),
        })?;
        Ok(Some(m))
    }

    fn list_survival(&self) -> Result<Vec<pulse_forecast::SurvivalCard>, RegistryError> {
        let inner = self.inner.lock().unwrap();
        inner
            .survival
            .iter()
            .rev()
            .map(|json| {
                serde_json::from_str::<pulse_forecast::SurvivalModel>(json)
                    .map(|m| m.card)
                    .map_err(|e| RegistryError::Storage(e.to_string()))
            })
            .collect()
    }

    fn list(&self) -> Result<Vec<RegistryEntry>, RegistryError> {
        let versions: Vec<String> = {
            let inner = self.inner.lock().unwrap();
            inner.models.iter().rev().map(|(v, _)| v.clone()).collect()
        };
        versions
            .iter()
            .map(|v| self.read(v).map(|a| self.entry(&a)))
            .collect()
    }

    fn get(&self, version: &str) -> Result<ModelArtifact, RegistryError> {
        let a = self.read(version)?;
        if !self.entry(&a).tabular {
            pulse_training::check_account_model(&a).map_err(|e| RegistryError::Refused {
                version: version.into(),
                reason: e.to_string(),
            })?;
        }
        Ok(a)
    }

    fn save(&self, mut artifact: ModelArtifact) -> Result<RegistryEntry, RegistryError> {
        {
            let mut inner = self.inner.lock().unwrap();
            let fam = family(&artifact);
            let n = inner
                .models
                .iter()
                .filter(|(v, _)| v.starts_with(&format!("{fam}-v")))
                .count();
            artifact.card.version = format!("{fam}-v{}", n + 1);
            let bytes = artifact
                .to_bytes()
                .map_err(|e| RegistryError::Storage(e.to_string()))?;
            inner.models.push((artifact.card.version.clone(), bytes));
        }
        Ok(self.entry(&artifact))
    }

    fn promote(&self, version: &str) -> Result<Promotion, RegistryError> {
        let a = self.get(version)?;
        if a.payload.encoder.is_some() {
            return Err(RegistryError::Refused {
                version: version.into(),
                reason: "a tabular model cannot serve accounts".into(),
            });
        }
        let mut inner = self.inner.lock().unwrap();
        let previous = inner
            .promoted
            .insert(a.card.kind.as_str(), version.to_string());
        Ok(Promotion {
            kind: a.card.kind,
            version: version.into(),
            previous,
        })
    }

    fn promoted(&self, kind: ModelKind) -> Result<Option<String>, RegistryError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .promoted
            .get(kind.as_str())
            .cloned())
    }

    fn list_sentiment(&self) -> Result<Vec<SentimentEntry>, RegistryError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .sentiment
            .iter()
            .rev()
            .map(|(card, _)| SentimentEntry {
                promoted: inner.promoted_sentiment.as_ref() == Some(&card.version),
                card: card.clone(),
            })
            .collect())
    }

    fn save_sentiment(
        &self,
        mut card: SentimentCard,
        model: &SentimentModel,
    ) -> Result<SentimentEntry, RegistryError> {
        let mut inner = self.inner.lock().unwrap();
        card.version = format!("sentiment-v{}", inner.sentiment.len() + 1);
        card.fingerprint = model.version().to_string();
        inner.sentiment.push((card.clone(), model.to_json()));
        Ok(SentimentEntry {
            card,
            promoted: false,
        })
    }

    fn get_sentiment(&self, version: &str) -> Result<SentimentModel, RegistryError> {
        let inner = self.inner.lock().unwrap();
        let (card, bytes) = inner
            .sentiment
            .iter()
            .find(|(c, _)| c.version == version)
            .ok_or_else(|| RegistryError::NotFound {
                version: version.into(),
            })?;
        let model = SentimentModel::from_json(&bytes[..]).map_err(|e| RegistryError::Refused {
            version: version.into(),
            reason: e.to_string(),
        })?;
        if model.version() != card.fingerprint {
            return Err(RegistryError::Refused {
                version: version.into(),
                reason: "fingerprint mismatch".into(),
            });
        }
        Ok(model)
    }

    fn promote_sentiment(&self, version: &str) -> Result<SentimentPromotion, RegistryError> {
        self.get_sentiment(version)?;
        let previous = self
            .inner
            .lock()
            .unwrap()
            .promoted_sentiment
            .replace(version.to_string());
        Ok(SentimentPromotion {
            version: version.into(),
            previous,
        })
    }

    fn promoted_sentiment(&self) -> Result<Option<String>, RegistryError> {
        Ok(self.inner.lock().unwrap().promoted_sentiment.clone())
    }
}

pub(crate) async fn ingest_synthetic(store: &Store, accounts: usize, months: u32) {
    let end = parse_day("end", "2026-06-30").unwrap();
    ingest_synthetic_until(store, accounts, months, end).await;
}

/// Generates a synthetic base ending on `end` and stores it.
pub(crate) async fn ingest_synthetic_until(
    store: &Store,
    accounts: usize,
    months: u32,
    end: pulse_core::time::Day,
) {
    ingest_generated(store, &SynthConfig::new(accounts, months, 42, end)).await;
}

/// Generates the synthetic base `cfg` describes and stores it.
pub(crate) async fn ingest_generated(store: &Store, cfg: &SynthConfig) {
    let b = generate(cfg);
    let mut records: Vec<Record> = Vec::new();
    records.extend(b.accounts.into_iter().map(Record::Account));
    records.extend(b.contacts.into_iter().map(Record::Contact));
    records.extend(b.interactions.into_iter().map(Record::Interaction));
    records.extend(b.usage.into_iter().map(Record::Usage));
    records.extend(b.subscriptions.into_iter().map(Record::Subscription));
    records.extend(b.surveys.into_iter().map(Record::Survey));
    records.extend(b.operational.into_iter().map(Record::Operational));
    let mut pos = 0;
    while !records.is_empty() {
        let rest = records.split_off(records.len().min(5_000));
        let batch: Vec<(usize, Record)> = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| (pos + i, r))
            .collect();
        pos += batch.len();
        let out = store.ingest(batch).await.unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected.first());
        records = rest;
    }
}

pub(crate) async fn wait(
    client: &mut ModelServiceClient<tonic::transport::Channel>,
    id: &str,
) -> pb::TrainJob {
    let mut seen_stages = Vec::new();
    // A guard against a hung job, not a speed check: ten minutes (a loaded
    // two-core machine takes well over the usual few seconds).
    for _ in 0..6_000 {
        let job = client
            .get_train_job(pb::GetTrainJobRequest { job_id: id.into() })
            .await
            .unwrap()
            .into_inner();
        if !seen_stages.contains(&job.stage) {
            seen_stages.push(job.stage.clone());
        }
        assert!((0.0..=1.0).contains(&job.progress));
        if job.state == pb::TrainJobState::Succeeded as i32
            || job.state == pb::TrainJobState::Failed as i32
        {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("training job {id} did not finish in 10 minutes (stages {seen_stages:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_over_rpc_then_list_read_promote_and_roll_back() {
    let store = Store::in_memory().await.unwrap();
    let mut state = crate::state(store.clone(), Arc::new(MemoryRegistry::default()));
    state.training = TrainConfig {
        gbt: GbtParams::new().iterations(60),
        ablation: false,
        ..TrainConfig::default()
    };
    state.survival = Some(pulse_forecast::SurvivalConfig {
        gbt: GbtParams::new().iterations(40),
        ..Default::default()
    });
    let server = TestServer::start_with(state).await;
    let mut client = ModelServiceClient::new(server.channel.clone());
    let mut forecasts = ForecastServiceClient::new(server.channel.clone());

    // No data: a clear FAILED_PRECONDITION, not a job that fails later.
    let err = client.train(pb::TrainRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("pulse import"), "{}", err.message());
    let err = client
        .train(pb::TrainRequest {
            kinds: vec!["upsell".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    ingest_synthetic(&store, 300, 18).await;
    let id = client
        .train(pb::TrainRequest::default())
        .await
        .unwrap()
        .into_inner()
        .job_id;
    // One job at a time (this one runs for seconds).
    let busy = client.train(pb::TrainRequest::default()).await.unwrap_err();
    assert_eq!(busy.code(), Code::FailedPrecondition);
    assert!(busy.message().contains(&id), "{}", busy.message());
    let job = wait(&mut client, &id).await;
    assert_eq!(
        job.state,
        pb::TrainJobState::Succeeded as i32,
        "{}",
        job.error
    );
    assert_eq!(job.stage, "done");
    assert_eq!(job.progress, 1.0);
    assert!(!job.finished_at.is_empty());
    // One flow fits all three: the time-to-churn model first.
    let versions: Vec<&str> = job.models.iter().map(|m| m.version.as_str()).collect();
    assert_eq!(versions, ["survival-v1", "churn-v1", "expansion-v1"]);
    assert_eq!(job.models[0].kind, "survival");
    // Nothing was promoted before, so all are now.
    assert!(job.models.iter().all(|m| m.promoted && !m.tabular));
    let m = job.models[1].metrics.as_ref().unwrap();
    assert!(m.roc_auc > 0.6 && m.k == 50, "{m:?}");
    // Forecasts read the model this run fitted.
    let q = forecasts
        .get_forecast_quality(pb::GetForecastQualityRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(q.survival_model, "survival-v1");

    // A second run (churn only), not promoted.
    let id2 = client
        .train(pb::TrainRequest {
            kinds: vec!["churn".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job_id;
    let job2 = wait(&mut client, &id2).await;
    assert_eq!(
        job2.state,
        pb::TrainJobState::Succeeded as i32,
        "{}",
        job2.error
    );
    // Training churn refits the time-to-churn model, which serves at once;
    // the churn challenger waits for the rule.
    let versions: Vec<(&str, bool)> = job2
        .models
        .iter()
        .map(|m| (m.version.as_str(), m.promoted))
        .collect();
    assert_eq!(versions, [("survival-v2", true), ("churn-v2", false)]);
    let q = forecasts
        .get_forecast_quality(pb::GetForecastQualityRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(q.survival_model, "survival-v2");
    let f = forecasts
        .forecast(pb::ForecastRequest {
            horizon_days: 90,
            as_of: String::new(),
            group_by: "segment".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(f.survival_model, "survival-v2");

    let list = client
        .list_models(pb::ListModelsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .models;
    let listed: Vec<(&str, bool)> = list
        .iter()
        .map(|m| (m.version.as_str(), m.promoted))
        .collect();
    assert_eq!(
        listed,
        [
            ("churn-v2", false),
            ("expansion-v1", true),
            ("churn-v1", true),
            ("survival-v2", true),
            ("survival-v1", false)
        ]
    );
    let survival_only: Vec<String> = client
        .list_models(pb::ListModelsRequest {
            kind: "survival".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .models
        .into_iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(survival_only, ["survival-v2", "survival-v1"]);
    let churn_only = client
        .list_models(pb::ListModelsRequest {
            kind: "churn".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .models;
    assert_eq!(churn_only.len(), 2);

    // The card: JSON with stable keys, and the three-way comparison.
    let card = client
        .get_model_card(pb::GetModelCardRequest {
            version: "churn-v1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let json: serde_json::Value = serde_json::from_str(&card.card_json).unwrap();
    assert_eq!(json["version"], "churn-v1");
    assert_eq!(json["kind"], "churn");
    for key in [
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "lift_top_decile",
        "precision_at_k",
    ] {
        assert!(json["metrics"][key].is_number(), "{key}");
    }
    assert_eq!(
        json["feature_schema"].as_array().unwrap().len(),
        pulse_features_count()
    );
    assert!(json["sha256"].as_str().unwrap().len() == 64);
    let mut names: Vec<&str> = card.compared.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["gbt", "logistic", "scorecard"]);
    // The served algorithm (chosen on the training rows) reports its own
    // held-out figures.
    let summary = card.summary.unwrap();
    assert!(
        ["gbt", "logistic"].contains(&summary.algorithm.as_str()),
        "{}",
        summary.algorithm
    );
    assert_eq!(
        summary.metrics.unwrap().roc_auc,
        card.compared[summary.algorithm.as_str()].roc_auc
    );

    // Promote the new version, then roll back to the old one.
    let p = client
        .promote_model(pb::PromoteModelRequest {
            version: "churn-v2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (p.kind.as_str(), p.previous.as_str()),
        ("churn", "churn-v1")
    );
    let p = client
        .promote_model(pb::PromoteModelRequest {
            version: "churn-v1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (p.version.as_str(), p.previous.as_str()),
        ("churn-v1", "churn-v2")
    );

    // Unknown names.
    for status in [
        client
            .promote_model(pb::PromoteModelRequest {
                version: "churn-v9".into(),
            })
            .await
            .unwrap_err(),
        client
            .get_model_card(pb::GetModelCardRequest {
                version: "nope".into(),
            })
            .await
            .unwrap_err(),
        client
            .get_train_job(pb::GetTrainJobRequest {
                job_id: "train-0-0".into(),
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    let status = client
        .get_model_card(pb::GetModelCardRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "pulse.v1.ModelService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    server.stop().await;
}

fn pulse_features_count() -> usize {
    pulse_training::feature_names().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_running_at_shutdown_is_recorded_interrupted_and_says_what_to_rerun() {
    let store = Store::in_memory().await.unwrap();
    ingest_synthetic(&store, 150, 12).await;
    let registry = Arc::new(MemoryRegistry::default());
    let server = TestServer::start_with(crate::state(store.clone(), registry.clone())).await;
    let id = ModelServiceClient::new(server.channel.clone())
        .train(pb::TrainRequest {
            kinds: vec!["churn".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job_id;
    // Shut down while it trains (seconds of work, even on a fast machine).
    server.stop().await;
    let rec = store.train_job(&id).await.unwrap().expect("recorded");
    assert_eq!(rec.state, "interrupted", "{rec:?}");
    assert!(rec.request.contains(r#""kinds":["churn"]"#), "{rec:?}");

    // After a restart the job is still known, with what to run again.
    let server = TestServer::start_with(crate::state(store.clone(), registry)).await;
    let job = ModelServiceClient::new(server.channel.clone())
        .get_train_job(pb::GetTrainJobRequest { job_id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.state, pb::TrainJobState::Interrupted as i32, "{job:?}");
    assert!(
        job.error.contains("ModelService.Train") && job.error.contains(r#""kinds":["churn"]"#),
        "{}",
        job.error
    );
    assert!(!job.finished_at.is_empty());
    server.stop().await;
}
