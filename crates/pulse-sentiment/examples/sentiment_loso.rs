//! The Rust half of `bench/sentiment_loso.py`: leave-one-source-out
//! evaluation of the default sentiment model. For each labelled source in
//! `training-data/sentiment/` in turn, the model is trained with
//! `TrainParams::default()` on every other source and predicts the one left
//! out, which it never saw.
//!
//! ```text
//! cargo run --release -p pulse-sentiment --example sentiment_loso -- OUT_DIR
//! ```
//!
//! Writes `OUT_DIR/corpus.csv` (`row,source,label,text`, every document
//! once) and `OUT_DIR/pulse.csv` (`row,predicted`: each row predicted by the
//! model trained without its source), and prints each source's macro-F1.
//! The Python half trains its baselines on exactly the same rows.

#[allow(dead_code)]
mod common;

use std::collections::BTreeSet;
use std::error::Error;
use std::fs;
use std::io::{BufWriter, Write};
use std::time::Instant;

use pulse_sentiment::{Sentiment, SentimentModel, TrainParams, evaluate};

fn main() -> Result<(), Box<dyn Error>> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: sentiment_loso OUT_DIR")?;
    fs::create_dir_all(&out)?;
    let corpus = common::load_corpus()?;
    // `PULSE_SENTIMENT_PARAMS`: a JSON `TrainParams` to evaluate something
    // other than the default model. Missing fields take their defaults,
    // except `balance_power`, which reads as 1.0 (full balance) the way it
    // does for models stored before it existed.
    let params: TrainParams = match std::env::var("PULSE_SENTIMENT_PARAMS") {
        Ok(json) => serde_json::from_str(&json)?,
        Err(_) => TrainParams::default(),
    };
    let sources: BTreeSet<&str> = corpus.iter().map(|(s, _)| *s).collect();
    let mut w = BufWriter::new(fs::File::create(format!("{out}/corpus.csv"))?);
    writeln!(w, "row,source,label,text")?;
    for (i, (source, d)) in corpus.iter().enumerate() {
        writeln!(
            w,
            "{i},{source},{},\"{}\"",
            d.label,
            d.text.replace('"', "\"\"")
        )?;
    }
    w.flush()?;
    let mut predicted: Vec<Option<Sentiment>> = vec![None; corpus.len()];
    println!(
        "{:<14} {:>6} {:>7} {:>9} {:>8}",
        "left out", "docs", "train", "macro-F1", "train s"
    );
    for left_out in &sources {
        let train: Vec<(&str, Sentiment)> = corpus
            .iter()
            .filter(|(s, _)| s != left_out)
            .map(|(_, d)| (d.text.as_str(), d.label))
            .collect();
        let started = Instant::now();
        let model = SentimentModel::train(&train, &params)?;
        let secs = started.elapsed().as_secs_f64();
        let test: Vec<(usize, (&str, Sentiment))> = corpus
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| s == left_out)
            .map(|(i, (_, d))| (i, (d.text.as_str(), d.label)))
            .collect();
        for (i, (text, _)) in &test {
            predicted[*i] = Some(model.predict(text).label);
        }
        let pairs: Vec<(&str, Sentiment)> = test.iter().map(|(_, p)| *p).collect();
        let e = evaluate(&model, &pairs);
        println!(
            "{left_out:<14} {:>6} {:>7} {:>9.4} {secs:>8.1}",
            pairs.len(),
            train.len(),
            e.macro_f1
        );
    }
    let mut w = BufWriter::new(fs::File::create(format!("{out}/pulse.csv"))?);
    writeln!(w, "row,predicted")?;
    for (i, p) in predicted.iter().enumerate() {
        let p = p.ok_or("a row was not predicted")?;
        writeln!(w, "{i},{p}")?;
    }
    w.flush()?;
    println!("wrote {out}/corpus.csv and {out}/pulse.csv");
    Ok(())
}
