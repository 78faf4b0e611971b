//! `pulse-bench features`: the feature benchmark on a store. Loads every
//! account's history known at the end of one day (`Store::load_histories`)
//! and computes all point-in-time features of every account as of that
//! instant, timing both and their sum (the target: under 5 s for 50,000
//! accounts on SQLite).
//!
//! Reproduce: `pulse synth --accounts 50000 --months 24 --out data/synth50k`,
//! `pulse --data-dir data/bench import data/synth50k`, then
//! `pulse-bench --data-dir data/bench features` (release build).

use std::io::Write;
use std::time::Instant;

use anyhow::bail;
use clap::Args;
use pulse_core::time::{self, Day};
use pulse_features::{AccountHistory, compute, end_of_day, is_customer_at, n_features};

use crate::score::cpu_seconds;

/// `pulse-bench features`.
#[derive(Debug, Args)]
pub(crate) struct FeaturesArgs {
    /// The as-of day, YYYY-MM-DD [default: the last day with data].
    #[arg(long)]
    as_of: Option<String>,
    /// Runs; the report shows each and the best.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Compute threads [default: all cores].
    #[arg(long)]
    threads: Option<usize>,
}

pub(crate) async fn run(store: &pulse_store::Store, args: FeaturesArgs) -> anyhow::Result<()> {
    features(store, args.as_of.as_deref(), args.runs.max(1), args.threads).await
}
/// Features of every history as of `t`, rows in order, on `threads` threads.
fn compute_all(hs: &[AccountHistory], t: i64, threads: usize) -> Vec<f64> {
    let nf = n_features();
    let mut out = vec![0.0; hs.len() * nf];
    let chunk = hs.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        for (h, o) in hs.chunks(chunk).zip(out.chunks_mut(chunk * nf)) {
            s.spawn(move || {
                for (h, row) in h.iter().zip(o.chunks_mut(nf)) {
                    compute(h, t, row);
                }
            });
        }
    });
    out
}

async fn features(
    store: &pulse_store::Store,
    as_of: Option<&str>,
    runs: usize,
    threads: Option<usize>,
) -> anyhow::Result<()> {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let day: Day = match as_of {
        Some(s) => time::parse_day("--as-of", s).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => {
            // The last day with data, from one full load (not timed).
            let hs = store.load_histories(None).await?;
            match pulse_training::data_span(&hs) {
                Some((_, end)) => end,
                None => bail!("the store holds no events: import data first"),
            }
        }
    };
    let t = end_of_day(day);
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "features as of {} (end of day) on {} ({} compute threads)",
        time::format_day(day),
        store.backend_name(),
        threads
    )?;
    let mut best = f64::INFINITY;
    for run in 1..=runs {
        let cpu0 = cpu_seconds(None);
        let t0 = Instant::now();
        let hs = store.load_histories(Some(t)).await?;
        let load = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let x = compute_all(&hs, t, threads);
        let comp = t1.elapsed().as_secs_f64();
        let total = load + comp;
        let cpu = match (cpu0, cpu_seconds(None)) {
            (Some(a), Some(b)) => format!(" ({:.2} CPU-s)", b - a),
            _ => String::new(),
        };
        best = best.min(total);
        let events: usize = hs
            .iter()
            .map(|h| {
                h.contacts.len()
                    + h.interactions.len()
                    + h.usage.len()
                    + h.subscriptions.len()
                    + h.surveys.len()
                    + h.operational.len()
            })
            .sum();
        let customers = hs.iter().filter(|h| is_customer_at(h, t)).count();
        std::hint::black_box(&x);
        writeln!(
            o,
            "run {run}: {} accounts ({customers} customers at t), {events} events, {} features: load {load:.2}s + compute {comp:.2}s = {total:.2}s{cpu}",
            hs.len(),
            n_features()
        )?;
    }
    writeln!(
        o,
        "best: {best:.2}s (target: under 5 s for 50,000 accounts)"
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use pulse_core::Record;
    use pulse_store::Store;
    use pulse_synth::{SynthConfig, generate};

    use super::*;

    #[tokio::test]
    async fn the_feature_benchmark_runs_on_a_small_base() {
        let store = Store::in_memory().await.unwrap();
        let e = features(&store, None, 1, Some(1)).await.unwrap_err();
        assert!(e.to_string().contains("import data first"), "{e:#}");

        let end = time::parse_day("end", "2026-06-30").unwrap();
        let b = generate(&SynthConfig::new(20, 3, 42, end));
        let mut records: Vec<Record> = Vec::new();
        records.extend(b.accounts.into_iter().map(Record::Account));
        records.extend(b.contacts.into_iter().map(Record::Contact));
        records.extend(b.interactions.into_iter().map(Record::Interaction));
        records.extend(b.usage.into_iter().map(Record::Usage));
        records.extend(b.subscriptions.into_iter().map(Record::Subscription));
        records.extend(b.surveys.into_iter().map(Record::Survey));
        records.extend(b.operational.into_iter().map(Record::Operational));
        let out = store
            .ingest(records.into_iter().enumerate().collect())
            .await
            .unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected.first());

        features(&store, None, 2, Some(2)).await.unwrap();
        features(&store, Some("2026-05-01"), 1, None).await.unwrap();
        let hs = store.load_histories(None).await.unwrap();
        let x = compute_all(&hs, end_of_day(end), 3);
        assert_eq!(x.len(), hs.len() * n_features());
        // Threads split the rows, not the work on a row: the same bits (NaN included).
        let bits = |v: Vec<f64>| v.into_iter().map(f64::to_bits).collect::<Vec<_>>();
        assert_eq!(bits(x), bits(compute_all(&hs, end_of_day(end), 1)));
    }
}
