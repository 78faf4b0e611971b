//! `SentimentService.Analyze` against the committed default model.

use std::sync::{Arc, OnceLock};

use pulse_proto::v1 as pb;
use pulse_proto::v1::sentiment_service_client::SentimentServiceClient;
use pulse_sentiment::SentimentModel;
use pulse_server::{AppState, MAX_SENTIMENT_TEXTS};
use pulse_store::Store;
use tonic::Code;

use crate::TestServer;
use crate::models::MemoryRegistry;

/// `models/sentiment/sentiment-default.json`, loaded once per test binary.
fn default_model() -> Arc<SentimentModel> {
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
    let mut state = AppState::new(store, Arc::new(MemoryRegistry::default()));
    state.sentiment = model;
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
