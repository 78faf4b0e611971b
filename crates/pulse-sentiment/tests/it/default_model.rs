//! The committed default model on support phrasing the review and tweet
//! corpora never contain: chasing an answer, repeat contacts, unresolved
//! issues come out negative; requests stay neutral, thanks positive.

use pulse_sentiment::{Sentiment, SentimentModel};

fn default_model() -> SentimentModel {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/sentiment/sentiment-default.json"
    );
    let file = std::fs::File::open(path).expect("the default model is committed");
    SentimentModel::from_json(std::io::BufReader::new(file)).unwrap()
}

#[test]
fn support_phrasing_is_negative() {
    let model = default_model();
    assert!(model.token_config().support_phrases);
    for (text, want) in [
        (
            "Still waiting for a reply, this is the third time I ask.",
            Sentiment::Negative,
        ),
        (
            "any update?? this is the third time I'm asking",
            Sentiment::Negative,
        ),
        ("Still waiting on an answer here.", Sentiment::Negative),
        (
            "The payroll export is still not resolved.",
            Sentiment::Negative,
        ),
        ("Third time asking, no real answer.", Sentiment::Negative),
        ("Please send me the invoice for March.", Sentiment::Neutral),
        (
            "Thanks a lot, the export works perfectly now!",
            Sentiment::Positive,
        ),
    ] {
        let p = model.predict(text);
        assert_eq!(p.label, want, "{text}: {p:?}");
    }
}
