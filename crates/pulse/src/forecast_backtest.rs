//! `pulse forecast backtest`: at each past quarter start in the store's
//! data, the quarter's forecast from models trained on the data known the
//! day before, against what happened; prints the table and stores it in the
//! newest time-to-churn model's card (saved as a new `survival-vN`).

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use pulse_app::ModelRegistry;
use pulse_forecast::{Backtest, BacktestConfig, MonteCarlo};
use pulse_models::GbtParams;

use crate::config::Config;

/// `pulse forecast backtest`.
#[derive(Debug, Args)]
pub(crate) struct BacktestArgs {
    /// Boosting rounds of the models fitted at each quarter start (small is fast).
    #[arg(long, default_value_t = 60)]
    iterations: usize,
    /// Monte Carlo draws for the ARR intervals.
    #[arg(long, default_value_t = 5_000)]
    draws: usize,
    /// Monte Carlo seed.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Print the table only; do not store it in the survival model's card.
    #[arg(long)]
    no_save: bool,
}

pub(crate) async fn run(cfg: &Config, args: BacktestArgs) -> anyhow::Result<()> {
    if args.iterations == 0 {
        bail!("--iterations: must be at least 1");
    }
    let started = Instant::now();
    let store = crate::open_store(cfg).await?;
    let histories = pulse_app::serving::load_usable_histories(&store, None)
        .await
        .map(|(h, _)| h);
    store.close().await;
    let histories = histories.context("loading the account histories")?;
    let Some((start, end)) = pulse_training::data_span(&histories) else {
        bail!("no data: import a customer base first (pulse import FILES)");
    };
    let mut training = cfg.training.clone();
    training.ablation = false;
    training.gbt = training.gbt.clone().iterations(args.iterations);
    let mut survival = cfg.survival.clone();
    survival.gbt = GbtParams::new().iterations(args.iterations);
    let bc = BacktestConfig {
        survival,
        training,
        monte_carlo: MonteCarlo {
            draws: args.draws,
            seed: args.seed,
        },
    };
    println!(
        "backtest over the quarters in {}..{} ({} accounts; models with {} boosting rounds, refitted at each quarter start)",
        pulse_core::time::format_day(start),
        pulse_core::time::format_day(end),
        histories.len(),
        args.iterations
    );
    let bt = tokio::task::spawn_blocking(move || {
        pulse_forecast::backtest(&histories, start, end, &bc, &mut |q| {
            println!(
                "[{:>6.1}s] quarter from {q}: fitting on the data before it",
                started.elapsed().as_secs_f64()
            );
        })
    })
    .await
    .context("the backtest task failed")?
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    print_backtest(&mut std::io::stdout().lock(), &bt)?;
    if bt.rows.is_empty() {
        bail!(
            "no quarter could be backtested: the data needs about a year of history before a complete quarter"
        );
    }
    if !args.no_save {
        let registry = crate::train::open_registry(cfg)?;
        match registry.latest_survival()? {
            Some(mut m) => {
                let was = m.card.version.clone();
                m.card.forecast_backtest = bt.rows.clone();
                m.card.notes.push(format!(
                    "forecast_backtest: pulse forecast backtest, models with {} boosting rounds refitted at each quarter start on the data before it; Monte Carlo {} draws, seed {}",
                    args.iterations, args.draws, args.seed
                ));
                let v = registry.save_survival(&mut m)?;
                println!("stored the table in {v}'s card (a copy of {was} with the backtest)");
            }
            None => println!(
                "no time-to-churn model in the registry to store the table in; run pulse train first"
            ),
        }
    }
    Ok(())
}

fn fmt(figure: &str, v: f64) -> String {
    match figure {
        "grr" | "nrr" => format!("{:.1}%", v * 100.0),
        "churned_accounts" => format!("{v:.1}"),
        _ => format!("{v:.0}"),
    }
}

/// The backtest table, then per figure the mean absolute error, the bias
/// and the 80%-interval coverage.
pub(crate) fn print_backtest(o: &mut impl Write, bt: &Backtest) -> std::io::Result<()> {
    writeln!(
        o,
        "{:<11} {:<17} {:>12} {:>27} {:>12} {:>12} {:>6}",
        "quarter", "figure", "expected", "80% interval", "actual", "error", "in 80%"
    )?;
    for r in &bt.rows {
        writeln!(
            o,
            "{:<11} {:<17} {:>12} {:>27} {:>12} {:>12} {:>6}",
            r.quarter,
            r.figure,
            fmt(&r.figure, r.expected),
            format!(
                "{} - {}",
                fmt(&r.figure, r.i80.lo),
                fmt(&r.figure, r.i80.hi)
            ),
            fmt(&r.figure, r.actual),
            fmt(&r.figure, r.error()),
            if r.inside_80() { "yes" } else { "no" }
        )?;
    }
    writeln!(
        o,
        "\n{:<17} {:>8} {:>14} {:>14} {:>14}",
        "figure", "quarters", "mean |error|", "mean error", "80% coverage"
    )?;
    for (f, n, mae, bias, cov) in bt.summary() {
        writeln!(
            o,
            "{:<17} {:>8} {:>14} {:>14} {:>13.0}%",
            f,
            n,
            fmt(&f, mae),
            fmt(&f, bias),
            cov * 100.0
        )?;
    }
    for s in &bt.skipped {
        writeln!(o, "skipped {s}")?;
    }
    Ok(())
}
