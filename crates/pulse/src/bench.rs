//! `pulse bench features`: the feature benchmark on the store in use.
//! Loads every account's history known at the end of one day
//! (`Store::load_histories`) and computes all point-in-time features of every
//! account as of that instant, timing both and their sum (the target: under
//! 5 s for 50,000 accounts on SQLite).
//!
//! Reproduce: `pulse synth --accounts 50000 --months 24 --out data/synth50k`,
//! `pulse --data-dir data/bench import data/synth50k`, then
//! `pulse --data-dir data/bench bench features` (release build).

use std::io::Write;
use std::time::Instant;

use anyhow::bail;
use clap::{Args, Subcommand};
use pulse_core::time::{self, Day};
use pulse_features::{AccountHistory, compute, end_of_day, is_customer_at, n_features};

use crate::config::Config;

/// `pulse bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Debug, Subcommand)]
enum BenchWhat {
    /// Load histories and compute every feature of every account as of one day.
    Features {
        /// The as-of day, YYYY-MM-DD [default: the last day with data].
        #[arg(long)]
        as_of: Option<String>,
        /// Runs; the report shows each and the best.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Compute threads [default: all cores].
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Load generator for ScoringService.Score over loopback: throughput and latency percentiles.
    Score(Box<crate::bench_score::ScoreArgs>),
}

pub(crate) async fn run(cfg: &Config, args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Features {
            as_of,
            runs,
            threads,
        } => {
            let store = crate::open_store(cfg).await?;
            let r = features(&store, as_of.as_deref(), runs.max(1), threads).await;
            store.close().await;
            r
        }
        BenchWhat::Score(args) => crate::bench_score::run(cfg, *args).await,
    }
}

/// CPU seconds used by this process so far (Linux; `None` elsewhere), so the
/// report stays meaningful on a shared, loaded machine.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (in parentheses): utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
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
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let hs = store.load_histories(Some(t)).await?;
        let load = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let x = compute_all(&hs, t, threads);
        let comp = t1.elapsed().as_secs_f64();
        let total = load + comp;
        let cpu = match (cpu0, cpu_seconds()) {
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
