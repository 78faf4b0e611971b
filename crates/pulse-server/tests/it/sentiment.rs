//! `SentimentService.Analyze` against the committed default model.

use std::sync::{Arc, OnceLock};

use pulse_proto::v1 as pb;
use pulse_proto::v1::sentiment_service_client::SentimentServiceClient;
use pulse_sentiment::SentimentModel;
use pulse_server::MAX_SENTIMENT_TEXTS;
use pulse_store::Store;
use tonic::Code;

use crate::TestServer;
use crate::models::MemoryRegistry;

/// `models/sentiment/sentiment-default.json`, loaded once per test binary.
pub(crate) fn default_model() -> Arc<SentimentModel> {
    static MODEL: OnceLock<Arc<SentimentModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../models/sentiment/sentiment-default.json"
            );
            let file = std::fs::File::open(path).expect("the default sentiment model is committed");
            Arc::new(SentimentModel::from_json(std::io::BufReader::new(file)).unwrap())
        })
        .clone()
}

async fn server(model: Option<Arc<SentimentModel>>) -> TestServer {
    let store = Store::in_memory().await.unwrap();
    let mut state = crate::state(store, Arc::new(MemoryRegistry::default()));
    state.sentiment = model.into();
    TestServer::start_with(state).await
}

async fn analyze(
    server: &TestServer,
    texts: Vec<String>,
) -> Result<pb::AnalyzeResponse, tonic::Status> {
    let mut client = SentimentServiceClient::new(server.channel.clone());
    client
        .analyze(pb::AnalyzeRequest {
            texts,
            top_phrases: 0,
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn analyze_labels_scores_and_explains() {
    let model = default_model();
    let server = server(Some(model.clone())).await;
    let long = "the service was great and fast. ".repeat(1_000);
    let texts = vec![
        "Still waiting for a reply, this is terrible and nothing is resolved!!! :(".to_string(),
        "Thank you so much, the support team was fantastic and fixed it quickly".to_string(),
        String::new(),
        "\u{0}\u{1}\u{7f}\u{fffd}\u{fffd}%%%\u{2}".to_string(),
        "Это ужасный сервис, ничего не работает".to_string(),
        "這個服務很好".to_string(),
        long.clone(),
    ];
    let out = analyze(&server, texts.clone()).await.unwrap();
    assert_eq!(out.results.len(), texts.len());
    assert_eq!(out.model, model.version());

    let neg = &out.results[0];
    assert_eq!(neg.label, "negative");
    assert!(neg.score < -0.5, "{neg:?}");
    assert!(!neg.phrases.is_empty() && neg.phrases.len() <= 5);
    assert!(neg.phrases[0].contribution > 0.0, "{neg:?}");
    let pos = &out.results[1];
    assert_eq!(pos.label, "positive");
    assert!(pos.score > 0.5, "{pos:?}");
    for r in &out.results {
        let sum = r.negative + r.neutral + r.positive;
        assert!((sum - 1.0).abs() < 1e-4, "{r:?}");
        assert!((-1.0..=1.0).contains(&r.score));
    }

    let empty = &out.results[2];
    assert!(empty.empty && !empty.truncated);
    assert_eq!((empty.label.as_str(), empty.score), ("neutral", 0.0));
    assert!(empty.phrases.is_empty());
    // Junk and non-English text get a response, whatever the label.
    for r in &out.results[3..6] {
        assert!(!r.truncated);
        assert!(["negative", "neutral", "positive"].contains(&r.label.as_str()));
    }
    let truncated = &out.results[6];
    assert!(truncated.truncated && !truncated.empty);
    assert_eq!(truncated.label, "positive");

    // The service agrees with the library.
    let p = model.predict(&texts[0]);
    assert_eq!(neg.score, p.score);
    server.stop().await;
}

#[tokio::test]
async fn analyze_refuses_an_over_limit_batch() {
    let server = server(Some(default_model())).await;
    let out = analyze(&server, vec!["fine".to_string(); MAX_SENTIMENT_TEXTS])
        .await
        .unwrap();
    assert_eq!(out.results.len(), MAX_SENTIMENT_TEXTS);
    let err = analyze(&server, vec!["fine".to_string(); MAX_SENTIMENT_TEXTS + 1])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains("1000"), "{}", err.message());
    server.stop().await;
}

#[tokio::test]
async fn analyze_without_a_model_says_how_to_get_one() {
    let server = server(None).await;
    let err = analyze(&server, vec!["hello".into()]).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("sentiment-default.json"),
        "{}",
        err.message()
    );
    server.stop().await;
}

#[tokio::test]
async fn relationships_show_a_sponsor_turned_negative_in_what_they_wrote() {
    use pulse_proto::v1::account_service_client::AccountServiceClient;
    use pulse_proto::v1::ingest_service_client::IngestServiceClient;

    let server = server(Some(default_model())).await;
    let contact = |id: &str, persona: &str| pb::Record {
        entity: Some(pb::record::Entity::Contact(pb::Contact {
            deleted_at: String::new(),
            id: id.into(),
            account_id: "a-1".into(),
            name: format!("Person {id}"),
            persona: persona.into(),
            relationship_strength: 3,
            sentiment: "positive".into(),
            active: Some(true),
            observed_at: "2026-01-01T00:00:00Z".into(),
        })),
    };
    let interaction = |id: &str, contact: &str, at: &str, body: &str| pb::Record {
        entity: Some(pb::record::Entity::Interaction(pb::Interaction {
            id: id.into(),
            account_id: "a-1".into(),
            contact_id: contact.into(),
            channel: "email".into(),
            topic: "payroll".into(),
            opened_at: at.into(),
            body: body.into(),
            ..Default::default()
        })),
    };
    let records = vec![
        pb::Record {
            entity: Some(pb::record::Entity::Account(pb::Account {
                id: "a-1".into(),
                name: "Acme".into(),
                segment: "enterprise".into(),
                industry: "retail".into(),
                region: "us-east".into(),
                plan: "enterprise".into(),
                mrr: 9_000.0,
                seats: 400,
                owner: "dana".into(),
                start_date: "2024-05-01".into(),
                status: "active".into(),
                ..Default::default()
            })),
        },
        contact("c-admin", "admin"),
        contact("c-exec", "executive_sponsor"),
        interaction(
            "i-1",
            "c-exec",
            "2026-02-01T09:00:00Z",
            "Thank you, the rollout went great and the team loves it!",
        ),
        interaction(
            "i-2",
            "c-exec",
            "2026-03-01T09:00:00Z",
            "This is unacceptable. Payroll failed again, still not resolved, terrible!!!",
        ),
        interaction("i-3", "c-admin", "2026-03-02T09:00:00Z", ""),
    ];
    let summary = IngestServiceClient::new(server.channel.clone())
        .ingest(tokio_stream::iter(vec![pb::IngestRequest { records }]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.rejected, 0, "{summary:?}");

    let mut client = AccountServiceClient::new(server.channel.clone());
    let out = client
        .get_relationships(pb::GetRelationshipsRequest {
            account_id: "a-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(out.negative_executive_sponsor);
    let rows: Vec<(&str, &str, &str, Option<&str>)> = out
        .relationships
        .iter()
        .map(|r| {
            (
                r.contact_id.as_str(),
                r.persona.as_str(),
                r.recorded_sentiment.as_str(),
                r.latest_interaction.as_ref().map(|i| i.label.as_str()),
            )
        })
        .collect();
    // The admin's only interaction is blank, so it has no score.
    assert_eq!(
        rows,
        [
            ("c-exec", "executive_sponsor", "positive", Some("negative")),
            ("c-admin", "admin", "positive", None),
        ]
    );
    let latest = out.relationships[0].latest_interaction.as_ref().unwrap();
    assert_eq!(
        (latest.interaction_id.as_str(), latest.opened_at.as_str()),
        ("i-2", "2026-03-01T09:00:00Z")
    );
    assert!(latest.score < -0.3, "{latest:?}");
    assert_eq!(latest.model, default_model().version());
    assert_eq!(out.relationships[0].relationship_strength, 3);

    let err = client
        .get_relationships(pb::GetRelationshipsRequest {
            account_id: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}
