//! Serving throughput of a trained sentiment model on one core.
//!
//! ```text
//! cargo run --release -p pulse-sentiment --example train_default -- model.json
//! cargo run --release -p pulse-sentiment --example sentiment_speed -- model.json [MESSAGES]
//! ```
//!
//! Messages of about 200 characters are built by joining consecutive
//! sentences of the UCI and VADER tweet files in `training-data/sentiment/`
//! (real wording, support-message length). Each message is predicted once
//! to warm up, then all of them are predicted in rounds on this thread, with
//! `predict` (fresh buffers per call) and with `predict_batch` (buffers
//! reused), in 7 trials; it prints the best and the median rate. Rates are
//! messages per second of this thread's CPU time (Linux
//! `/proc/thread-self/schedstat`; wall time elsewhere), so other load on the
//! machine does not dilute the per-core figure; the best trial is the one
//! least disturbed by neighbours sharing caches.

use std::error::Error;
use std::fs;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use pulse_sentiment::{SentimentModel, parse_uci, parse_vader_groundtruth};

const TARGET_CHARS: usize = 200;

/// This thread's on-CPU time in seconds (Linux `schedstat`), so the rate per
/// core is not diluted by other processes on a shared machine; `None` where
/// it is not available.
fn thread_cpu_secs() -> Option<f64> {
    let text = fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Run `trials` timed trials of `work` (which predicts `n` messages) and
/// print the best and median rate per core.
fn measure(what: &str, trials: usize, n: usize, mut work: impl FnMut()) {
    let mut rates = Vec::new();
    let mut used_wall = false;
    for _ in 0..trials {
        let (wall, cpu) = (Instant::now(), thread_cpu_secs());
        work();
        let secs = match (cpu, thread_cpu_secs()) {
            (Some(a), Some(b)) => b - a,
            _ => {
                used_wall = true;
                wall.elapsed().as_secs_f64()
            }
        };
        rates.push(n as f64 / secs);
    }
    rates.sort_by(f64::total_cmp);
    let best = rates[rates.len() - 1];
    let median = rates[rates.len() / 2];
    println!(
        "{what:<14} {trials} x {n} messages: best {best:.0}/s ({:.2} µs each), \
         median {median:.0}/s per core{}",
        1e6 / best,
        if used_wall {
            " (wall clock)"
        } else {
            " (thread CPU time)"
        }
    );
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let Some(model_path) = args.next() else {
        return Err("usage: sentiment_speed MODEL.json [MESSAGES]".into());
    };
    let total: usize = args.next().map_or(Ok(2_000_000), |s| s.parse())?;
    let model = SentimentModel::from_json(std::io::BufReader::new(fs::File::open(&model_path)?))?;

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../training-data/sentiment");
    let mut sentences: Vec<String> = Vec::new();
    for file in ["amazon_cells", "yelp", "imdb"] {
        let text =
            fs::read_to_string(root.join(format!("uci_labelled_sentences/{file}_labelled.txt")))?;
        sentences.extend(parse_uci(&text)?.into_iter().map(|d| d.text));
    }
    let text = fs::read_to_string(root.join("vader_groundtruth/tweets_GroundTruth.txt"))?;
    sentences.extend(parse_vader_groundtruth(&text)?.into_iter().map(|d| d.text));

    let mut messages = Vec::new();
    let mut current = String::new();
    for s in &sentences {
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(s);
        if current.chars().count() >= TARGET_CHARS {
            let cut: String = current.chars().take(TARGET_CHARS).collect();
            messages.push(cut);
            current.clear();
        }
    }
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    let mean_chars =
        messages.iter().map(|m| m.chars().count()).sum::<usize>() as f64 / messages.len() as f64;
    println!(
        "model: {} features; {} messages of {mean_chars:.0} chars on average",
        model.vocabulary_len(),
        messages.len()
    );

    // Warm up caches and the allocator.
    black_box(model.predict_batch(&refs));

    // Trials of at least one pass over all messages each.
    let trials = 7;
    let rounds = (total / trials).div_ceil(messages.len()).max(1);
    let n = rounds * messages.len();
    let mut positive = 0usize;
    measure("predict", trials, n, || {
        for _ in 0..rounds {
            for m in &refs {
                positive += usize::from(black_box(model.predict(black_box(m))).score > 0.0);
            }
        }
    });
    measure("predict_batch", trials, n, || {
        for _ in 0..rounds {
            let batch = model.predict_batch(black_box(&refs));
            positive += batch.iter().filter(|p| p.score > 0.0).count();
        }
    });
    black_box(positive);
    Ok(())
}
