//! Train the default sentiment model on the real labelled text in
//! `training-data/sentiment/` (VADER ground truth, MIT; UCI labelled
//! sentences, CC BY 4.0), report held-out accuracy, macro-F1 and the
//! confusion matrix, and write the model JSON.
//!
//! ```text
//! cargo run --release -p pulse-sentiment --example train_default -- MODEL.json [HELDOUT.csv]
//! ```
//!
//! The held-out split is 20% of every (source, label) stratum, seed 2015
//! (`common/mod.rs`). `HELDOUT.csv` (`text,label,source`) is what
//! `bench/vader_baseline.py` scores VADER on, so both see the same texts.
//! Set `PULSE_SENTIMENT_DATA` to read the corpus from another directory.
//! The model's card (held-out figures, tied to the model by its
//! fingerprint) is written beside it as `MODEL.card.json`; set
//! `PULSE_CARD_DATE` (RFC 3339) to date it.

mod common;

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::io::{BufWriter, Write};
use std::time::Instant;

use pulse_sentiment::{
    Evaluation, HeldOutReport, Sentiment, SentimentCard, SentimentModel, TrainParams,
    TrainingSource, evaluate, write_card_beside,
};

/// Support-style sentences the corpus does not contain, shown with their
/// explanations as a smell test.
const SAMPLES: &[&str] = &[
    "Still waiting for a reply, this is the third time I ask.",
    "any update?? this is the third time I'm asking",
    "Still waiting on an answer here.",
    "The payroll export is still not resolved.",
    "Third time asking, no real answer.",
    "The issue is not resolved and nobody calls back :(",
    "Thanks a lot, the export works perfectly now!",
    "Please send me the invoice for March.",
    "This is NOT acceptable!!!",
    "Not bad at all, the new dashboard is quite nice",
];

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let Some(model_path) = args.next() else {
        return Err("usage: train_default MODEL.json [HELDOUT.csv]".into());
    };
    let heldout_path = args.next();
    let (train, test) = common::split(
        common::load_corpus()?,
        common::TEST_FRACTION,
        common::SPLIT_SEED,
    );
    println!("corpus: {} train, {} held out", train.len(), test.len());

    let params = TrainParams::default();
    let train_pairs: Vec<(&str, Sentiment)> = train
        .iter()
        .map(|(_, d)| (d.text.as_str(), d.label))
        .collect();
    let started = Instant::now();
    let model = SentimentModel::train(&train_pairs, &params)?;
    let train_secs = started.elapsed().as_secs_f64();
    let summary = model.summary();
    println!(
        "trained in {train_secs:.1} s: {} fit + {} calibration documents, {} features \
         ({} word, {} char), temperature {:.3}",
        summary.fit_documents,
        summary.calibration_documents,
        model.vocabulary_len(),
        summary.word_features,
        summary.char_features,
        model.temperature()
    );

    let test_pairs: Vec<(&str, Sentiment)> = test
        .iter()
        .map(|(_, d)| (d.text.as_str(), d.label))
        .collect();
    let eval = evaluate(&model, &test_pairs);
    println!("\nheld-out, all sources\n{eval}");
    let held_out = HeldOutReport {
        seed: common::SPLIT_SEED,
        held_out_fraction: common::TEST_FRACTION,
        train_documents: train.len(),
        held_out_documents: test.len(),
        evaluation: eval.clone(),
    };
    let mut by_source: BTreeMap<&str, Vec<(&str, Sentiment)>> = BTreeMap::new();
    for (source, d) in &test {
        by_source
            .entry(source)
            .or_default()
            .push((d.text.as_str(), d.label));
    }
    println!(
        "{:<14} {:>6} {:>9} {:>9}",
        "source", "docs", "accuracy", "macro-F1"
    );
    for (source, docs) in &by_source {
        let e: Evaluation = evaluate(&model, docs);
        println!(
            "{source:<14} {:>6} {:>9.4} {:>9.4}",
            e.documents, e.accuracy, e.macro_f1
        );
    }

    println!("\nsamples (label, score, top phrases)");
    for text in SAMPLES {
        let p = model.predict(text);
        let phrases: Vec<String> = model
            .explain(text, 4)
            .iter()
            .map(|ph| format!("{} {:+.2}", ph.text, ph.contribution))
            .collect();
        println!(
            "{:<8} {:+.2}  {text}\n                [{}]",
            p.label,
            p.score,
            phrases.join(", ")
        );
    }

    let json = model.to_json();
    fs::write(&model_path, &json)?;
    println!("\nwrote {model_path} ({} bytes)", json.len());
    // The card the console shows for the default model; its fingerprint ties
    // it to this file.
    let created = std::env::var("PULSE_CARD_DATE").unwrap_or_else(|_| "unknown".into());
    let card = SentimentCard::new(&model, TrainingSource::Corpus, held_out, created);
    let card_path = write_card_beside(std::path::Path::new(&model_path), &card)?;
    println!("wrote {}", card_path.display());
    if let Some(path) = heldout_path {
        let mut w = BufWriter::new(fs::File::create(&path)?);
        writeln!(w, "text,label,source")?;
        for (source, d) in &test {
            writeln!(
                w,
                "\"{}\",{},{source}",
                d.text.replace('"', "\"\""),
                d.label
            )?;
        }
        w.flush()?;
        println!("wrote {path} ({} documents)", test.len());
    }
    Ok(())
}
