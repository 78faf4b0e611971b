//! The corpus shipped in `training-data/sentiment/` parses with the crate's
//! parsers into the documented number of documents and classes.

use std::path::PathBuf;

use pulse_sentiment::{Sentiment, parse_uci, parse_vader_groundtruth};

fn data(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../training-data/sentiment");
    std::fs::read_to_string(root.join(path)).unwrap()
}

fn counts(labels: impl Iterator<Item = Sentiment>) -> [usize; 3] {
    let mut c = [0; 3];
    for l in labels {
        c[pulse_sentiment::class_index(l)] += 1;
    }
    c
}

#[test]
fn vader_groundtruth_files() {
    for (file, want) in [
        ("amazonReviewSnippets_GroundTruth.txt", [1218, 765, 1725]),
        ("movieReviewSnippets_GroundTruth.txt", [5061, 562, 4982]),
        ("nytEditorialSnippets_GroundTruth.txt", [1688, 2402, 1100]),
        ("tweets_GroundTruth.txt", [1062, 838, 2300]),
    ] {
        let docs = parse_vader_groundtruth(&data(&format!("vader_groundtruth/{file}"))).unwrap();
        assert_eq!(counts(docs.iter().map(|d| d.label())), want, "{file}");
        assert!(
            docs.iter()
                .all(|d| !d.text.is_empty() && !d.text.contains('\r'))
        );
    }
}

#[test]
fn uci_files() {
    for file in ["amazon_cells", "yelp", "imdb"] {
        let docs = parse_uci(&data(&format!(
            "uci_labelled_sentences/{file}_labelled.txt"
        )))
        .unwrap();
        assert_eq!(
            counts(docs.iter().map(|d| d.label)),
            [500, 0, 500],
            "{file}"
        );
    }
}
