//! Sentiment models through `ModelService`: `TrainSentiment` from an uploaded
//! CSV corpus and from the store's weak labels, polling the job, listing,
//! reading the card, promoting (which swaps the model `Analyze` and ingest
//! use, without a restart) and rolling back.

use std::sync::Arc;

use pulse_proto::v1 as pb;
use pulse_proto::v1::ingest_service_client::IngestServiceClient;
use pulse_proto::v1::model_service_client::ModelServiceClient;
use pulse_proto::v1::sentiment_service_client::SentimentServiceClient;
use pulse_sentiment::SentimentModel;
use pulse_server::ModelRegistry;
use pulse_store::Store;
use tonic::Code;
use tonic_types::StatusExt;

use crate::TestServer;
use crate::models::{MemoryRegistry, wait};

/// A small labelled corpus in which made-up product words carry the
/// sentiment, so a model trained on it is told apart from the default one.
fn corpus_csv() -> String {
    let negative = [
        "the zorblax export is broken",
        "zorblax failed again",
        "still waiting on the zorblax fix",
        "zorblax crashed our payroll run",
    ];
    let neutral = [
        "please send the quarterly invoice",
        "what time is the call on Tuesday",
        "update the billing address to the new office",
        "attached is the file you asked for",
    ];
    let positive = [
        "the flumption team was wonderful",
        "flumption fixed it in minutes",
        "thanks, flumption works perfectly now",
        "great help from flumption support",
    ];
    let mut out = String::from("text,label\n");
    for i in 0..30 {
        for (texts, label) in [
            (&negative, "negative"),
            (&neutral, "neutral"),
            (&positive, "positive"),
        ] {
            out.push_str(&format!("\"{} (ref {i})\",{label}\n", texts[i % 4]));
        }
    }
    out
}

async fn analyze(server: &TestServer, text: &str) -> pb::AnalyzeResponse {
    SentimentServiceClient::new(server.channel.clone())
        .analyze(pb::AnalyzeRequest {
            texts: vec![text.to_string()],
            top_phrases: 3,
        })
        .await
        .unwrap()
        .into_inner()
}

fn account() -> pb::Record {
    pb::Record {
        entity: Some(pb::record::Entity::Account(pb::Account {
            id: "a-1".into(),
            name: "Acme".into(),
            segment: "smb".into(),
            industry: "retail".into(),
            region: "us-east".into(),
            plan: "core".into(),
            mrr: 100.0,
            seats: 10,
            owner: "dana".into(),
            start_date: "2024-05-01".into(),
            status: "active".into(),
            ..Default::default()
        })),
    }
}

fn interaction(id: &str, body: &str) -> pb::Record {
    pb::Record {
        entity: Some(pb::record::Entity::Interaction(pb::Interaction {
            id: id.into(),
            account_id: "a-1".into(),
            channel: "ticket".into(),
            topic: "payroll".into(),
            opened_at: "2026-03-01T10:00:00Z".into(),
            body: body.into(),
            ..Default::default()
        })),
    }
}

/// Ingests through the gRPC service (which scores with the model in service)
/// and returns the stored sentiment score of `id`.
async fn ingest_and_read_score(server: &TestServer, store: &Store, id: &str, body: &str) -> f32 {
    let summary = IngestServiceClient::new(server.channel.clone())
        .ingest(tokio_stream::iter(vec![pb::IngestRequest {
            records: vec![account(), interaction(id, body)],
        }]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.rejected, 0, "{summary:?}");
    let histories = store.load_histories(None).await.unwrap();
    let h = histories.iter().find(|h| h.account.id == "a-1").unwrap();
    h.interactions
        .iter()
        .rev()
        .find_map(|i| i.sentiment)
        .expect("the interaction was scored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_from_a_csv_promote_and_analyze_uses_the_new_version() {
    let store = Store::in_memory().await.unwrap();
    let registry = Arc::new(MemoryRegistry::default());
    let mut state = crate::state(store.clone(), registry.clone());
    let default = crate::sentiment::default_model();
    state.sentiment = Some(default.clone()).into();
    let server = TestServer::start_with(state).await;
    let mut client = ModelServiceClient::new(server.channel.clone());

    // Bad requests are refused before any job starts.
    let err = client
        .train_sentiment(pb::TrainSentimentRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client
        .train_sentiment(pb::TrainSentimentRequest {
            corpus_csv: b"text,label\nfine,positive\nbad,maybe\n".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let br = err.get_details_bad_request().expect("a BadRequest detail");
    assert_eq!(br.field_violations[0].field, "corpus_csv");
    assert!(
        br.field_violations[0].description.starts_with("line 3:"),
        "{br:?}"
    );

    // Train without promoting: the default model keeps serving.
    let job = client
        .train_sentiment(pb::TrainSentimentRequest {
            corpus_csv: corpus_csv().into_bytes(),
            seed: 7,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let done = wait(&mut client, &job.job_id).await;
    assert_eq!(
        done.state,
        pb::TrainJobState::Succeeded as i32,
        "{}",
        done.error
    );
    assert_eq!((done.stage.as_str(), done.progress), ("done", 1.0));
    let summary = &done.models[0];
    assert_eq!(
        (
            summary.version.as_str(),
            summary.kind.as_str(),
            summary.promoted
        ),
        ("sentiment-v1", "sentiment", false)
    );
    let m = summary.sentiment.as_ref().expect("sentiment metrics");
    assert_eq!((m.n_train, m.n_test, m.source.as_str()), (72, 18, "corpus"));
    assert!(m.macro_f1 > 0.9 && m.accuracy > 0.9, "{m:?}");
    let first_fingerprint = m.fingerprint.clone();
    assert_ne!(first_fingerprint, default.version());
    let text = "zorblax is broken again";
    let before = analyze(&server, text).await;
    assert_eq!(
        (before.model.as_str(), before.registry_version.as_str()),
        (default.version(), "")
    );

    // Listed (alone under kind=sentiment), with a card.
    let listed = client
        .list_models(pb::ListModelsRequest {
            kind: "sentiment".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .models;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, "sentiment-v1");
    let card = client
        .get_model_card(pb::GetModelCardRequest {
            version: "sentiment-v1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let json: serde_json::Value = serde_json::from_str(&card.card_json).unwrap();
    assert_eq!(json["fingerprint"], first_fingerprint.as_str());
    assert!(json["held_out"]["evaluation"]["macro_f1"].as_f64().unwrap() > 0.9);
    let churn_only = client
        .list_models(pb::ListModelsRequest {
            kind: "churn".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .models;
    assert!(churn_only.is_empty());

    // Promote: Analyze and ingest switch at once, no restart.
    let p = client
        .promote_model(pb::PromoteModelRequest {
            version: "sentiment-v1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (p.kind.as_str(), p.version.as_str(), p.previous.as_str()),
        ("sentiment", "sentiment-v1", "")
    );
    let after = analyze(&server, text).await;
    assert_eq!(
        (after.model.as_str(), after.registry_version.as_str()),
        (first_fingerprint.as_str(), "sentiment-v1")
    );
    assert_eq!(after.results[0].label, "negative");
    assert!(
        after.results[0]
            .phrases
            .iter()
            .any(|p| p.text.contains("zorblax")),
        "{:?}",
        after.results[0].phrases
    );
    let served: SentimentModel = registry.get_sentiment("sentiment-v1").unwrap();
    let stored = ingest_and_read_score(&server, &store, "i-1", text).await;
    assert_eq!(stored, served.predict(text).score);
    assert_ne!(stored, default.predict(text).score);

    // Train again and promote in the same job; then roll back.
    let job = client
        .train_sentiment(pb::TrainSentimentRequest {
            corpus_csv: corpus_csv().replace("zorblax", "quibbit").into_bytes(),
            promote: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let done = wait(&mut client, &job.job_id).await;
    assert_eq!(done.state, pb::TrainJobState::Succeeded as i32);
    assert_eq!(
        (done.models[0].version.as_str(), done.models[0].promoted),
        ("sentiment-v2", true)
    );
    let now = analyze(&server, text).await;
    assert_eq!(now.registry_version, "sentiment-v2");
    let p = client
        .promote_model(pb::PromoteModelRequest {
            version: "sentiment-v1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.previous, "sentiment-v2");
    assert_eq!(
        analyze(&server, text).await.model,
        first_fingerprint.as_str()
    );
    let err = client
        .promote_model(pb::PromoteModelRequest {
            version: "sentiment-v9".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_from_the_store_weak_labels_or_say_why_not() {
    let store = Store::in_memory().await.unwrap();
    let server =
        TestServer::start_with(crate::state(store, Arc::new(MemoryRegistry::default()))).await;
    let mut client = ModelServiceClient::new(server.channel.clone());
    let job = client
        .train_sentiment(pb::TrainSentimentRequest {
            from_store: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let done = wait(&mut client, &job.job_id).await;
    assert_eq!(done.state, pb::TrainJobState::Failed as i32);
    assert!(done.error.contains("no labelled text"), "{}", done.error);
    server.stop().await;

    // A synthetic base has CSAT-rated interactions and survey comments.
    let store = Store::in_memory().await.unwrap();
    crate::models::ingest_synthetic(&store, 60, 6).await;
    let server = TestServer::start_with(crate::state(
        store.clone(),
        Arc::new(MemoryRegistry::default()),
    ))
    .await;
    let mut client = ModelServiceClient::new(server.channel.clone());
    let job = client
        .train_sentiment(pb::TrainSentimentRequest {
            from_store: true,
            promote: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let done = wait(&mut client, &job.job_id).await;
    assert_eq!(
        done.state,
        pb::TrainJobState::Succeeded as i32,
        "{}",
        done.error
    );
    let m = done.models[0].sentiment.as_ref().unwrap();
    assert_eq!(m.source, "weak_labels");
    let rated = store.rated_texts().await.unwrap().len() as u64;
    assert_eq!(m.n_train + m.n_test, rated);
    // Promoted by the job: a server that started without a model has one now.
    let out = analyze(&server, "still waiting, nothing works").await;
    assert_eq!(
        (out.model.as_str(), out.registry_version.as_str()),
        (m.fingerprint.as_str(), "sentiment-v1")
    );
    server.stop().await;
}
