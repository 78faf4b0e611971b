//! Corpus loading and the fixed held-out split shared by the examples.

use std::error::Error;
use std::fs;
use std::path::PathBuf;

use pulse_sentiment::{
    LabelledText, class_index, parse_uci, parse_vader_groundtruth, stratified_split,
};

/// Seed of the held-out split.
pub(crate) const SPLIT_SEED: u64 = 2015;
/// Share of each (source, label) stratum held out.
pub(crate) const TEST_FRACTION: f64 = 0.2;

const VADER_FILES: &[(&str, &str)] = &[
    (
        "vader_amazon",
        "vader_groundtruth/amazonReviewSnippets_GroundTruth.txt",
    ),
    (
        "vader_movie",
        "vader_groundtruth/movieReviewSnippets_GroundTruth.txt",
    ),
    (
        "vader_nyt",
        "vader_groundtruth/nytEditorialSnippets_GroundTruth.txt",
    ),
    ("vader_tweets", "vader_groundtruth/tweets_GroundTruth.txt"),
];
const UCI_FILES: &[(&str, &str)] = &[
    (
        "uci_amazon",
        "uci_labelled_sentences/amazon_cells_labelled.txt",
    ),
    ("uci_imdb", "uci_labelled_sentences/imdb_labelled.txt"),
    ("uci_yelp", "uci_labelled_sentences/yelp_labelled.txt"),
];

/// A document with the name of the file it came from.
pub(crate) type SourcedDoc = (&'static str, LabelledText);

/// `training-data/sentiment/`, or `PULSE_SENTIMENT_DATA` when set.
pub(crate) fn data_root() -> PathBuf {
    std::env::var_os("PULSE_SENTIMENT_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../training-data/sentiment"),
        PathBuf::from,
    )
}

/// Every document of the seven files, VADER ratings cut at ±0.5.
pub(crate) fn load_corpus() -> Result<Vec<SourcedDoc>, Box<dyn Error>> {
    let root = data_root();
    let mut corpus = Vec::new();
    for &(source, file) in VADER_FILES {
        let text = fs::read_to_string(root.join(file))?;
        let docs = parse_vader_groundtruth(&text).map_err(|e| format!("{file}: {e}"))?;
        corpus.extend(docs.into_iter().map(|d| (source, d.into_labelled())));
    }
    for &(source, file) in UCI_FILES {
        let text = fs::read_to_string(root.join(file))?;
        let docs = parse_uci(&text).map_err(|e| format!("{file}: {e}"))?;
        corpus.extend(docs.into_iter().map(|d| (source, d)));
    }
    Ok(corpus)
}

/// `(train, held_out)`: 20% of every (source, label) stratum, seed 2015.
pub(crate) fn split(
    corpus: Vec<SourcedDoc>,
    fraction: f64,
    seed: u64,
) -> (Vec<SourcedDoc>, Vec<SourcedDoc>) {
    stratified_split(corpus, fraction, seed, |(source, d)| {
        (*source, class_index(d.label))
    })
}
