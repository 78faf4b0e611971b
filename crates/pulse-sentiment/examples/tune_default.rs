//! Compare training settings for the default model without touching its
//! held-out split: the training part (80%) is split again, 20% of every
//! (source, label) stratum for validation (seed 7, or `TUNE_SEED`), and each
//! variant trains on the rest and reports validation accuracy and macro-F1.
//!
//! ```text
//! cargo run --release -p pulse-sentiment --example tune_default -- \
//!     default lexicon=false alpha=0.5,balance=false
//! ```
//!
//! `TUNE_SAVE=PATH` writes each variant's model to `PATH` (the last one
//! stays), e.g. to measure its speed with `sentiment_speed`.
//!
//! A variant is `default` or comma-separated `key=value` overrides of
//! `TrainParams::default()`: `alpha`, `words`, `chars`, `iters`, `min_df`,
//! `negation`, `ngram_min`, `ngram_max`, `bigrams`, `emphasis`, `lexicon`,
//! `balance`, `calibration`.

mod common;

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Instant;

use pulse_sentiment::{Balance, Sentiment, SentimentModel, TrainParams, evaluate};

fn variant(spec: &str) -> Result<TrainParams, Box<dyn Error>> {
    let mut p = TrainParams::default();
    if spec == "default" {
        return Ok(p);
    }
    for pair in spec.split(',') {
        let (key, value) = pair
            .split_once('=')
            .ok_or(format!("'{pair}' is not key=value"))?;
        match key {
            "alpha" => p.alpha = value.parse()?,
            "words" => p.max_word_features = value.parse()?,
            "chars" => p.max_char_features = value.parse()?,
            "iters" => p.max_iterations = value.parse()?,
            "min_df" => p.min_df = value.parse()?,
            "negation" => p.tokens.negation_window = value.parse()?,
            "ngram_min" => p.tokens.char_ngram_min = value.parse()?,
            "ngram_max" => p.tokens.char_ngram_max = value.parse()?,
            "bigrams" => p.tokens.word_bigrams = value.parse()?,
            "emphasis" => p.tokens.emphasis = value.parse()?,
            "lexicon" => p.tokens.lexicon = value.parse()?,
            "balance" => {
                p.balance = match value {
                    "none" => Balance::None,
                    "weights" => Balance::Weights,
                    "offsets" => Balance::Offsets,
                    other => return Err(format!("balance {other}").into()),
                }
            }
            "calibration" => p.calibration_fraction = value.parse()?,
            other => return Err(format!("unknown key '{other}'").into()),
        }
    }
    Ok(p)
}

fn main() -> Result<(), Box<dyn Error>> {
    let variants: Vec<String> = std::env::args().skip(1).collect();
    if variants.is_empty() {
        return Err("usage: tune_default VARIANT...".into());
    }
    let (train, _held_out) = common::split(
        common::load_corpus()?,
        common::TEST_FRACTION,
        common::SPLIT_SEED,
    );
    let seed = std::env::var("TUNE_SEED").map_or(Ok(7), |s| s.parse())?;
    let (fit, valid) = common::split(train, 0.2, seed);
    let fit: Vec<(&str, Sentiment)> = fit
        .iter()
        .map(|(_, d)| (d.text.as_str(), d.label))
        .collect();
    let mut by_source: BTreeMap<&str, Vec<(&str, Sentiment)>> = BTreeMap::new();
    for (source, d) in &valid {
        by_source
            .entry(source)
            .or_default()
            .push((d.text.as_str(), d.label));
    }
    let valid: Vec<(&str, Sentiment)> = valid
        .iter()
        .map(|(_, d)| (d.text.as_str(), d.label))
        .collect();
    println!("{} fit, {} validation documents", fit.len(), valid.len());
    for spec in &variants {
        let params = variant(spec)?;
        let started = Instant::now();
        let model = SentimentModel::train(&fit, &params)?;
        let secs = started.elapsed().as_secs_f64();
        let e = evaluate(&model, &valid);
        let p = e.probability.unwrap_or_default();
        let sources: Vec<String> = by_source
            .iter()
            .map(|(s, docs)| format!("{s} {:.3}", evaluate(&model, docs).macro_f1))
            .collect();
        if let Ok(path) = std::env::var("TUNE_SAVE") {
            std::fs::write(&path, model.to_json())?;
        }
        println!(
            "{spec}: accuracy {:.4} macro-F1 {:.4} (neg {:.3} neu {:.3} pos {:.3}) T {:.2} \
             offsets {:?} {secs:.0} s\n    log-loss {:.4} Brier {:.4} ECE {:.4}\n    {}",
            e.accuracy,
            e.macro_f1,
            e.per_class[0].f1,
            e.per_class[1].f1,
            e.per_class[2].f1,
            model.temperature(),
            model.summary().decision_offsets,
            p.log_loss,
            p.brier,
            p.ece,
            sources.join(", ")
        );
    }
    Ok(())
}
