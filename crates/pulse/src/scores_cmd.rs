//! `pulse scores`: store scoring runs (the immutable score history behind
//! past-date scores, trends, change attribution and the weekly lists), list
//! them, and backfill weekly runs over past weeks.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use pulse_app::Scoring;
use pulse_core::time::{self, Day, format_day, format_ts};
use pulse_store::Store;

use crate::config::Config;

/// `pulse scores`.
#[derive(Debug, Args)]
pub(crate) struct ScoresArgs {
    #[command(subcommand)]
    what: ScoresWhat,
}

#[derive(Debug, Subcommand)]
enum ScoresWhat {
    /// Score every current customer with the promoted models and store the run.
    Run {
        /// The as-of date, YYYY-MM-DD [default: today].
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Store one run per week for the past weeks (features as of each week's
    /// Monday, with today's promoted models), skipping weeks that have a run.
    Backfill {
        /// How many weeks back.
        #[arg(long, default_value_t = 12)]
        weeks: u32,
    },
    /// The stored runs, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

pub(crate) async fn run(cfg: &Config, args: ScoresArgs) -> anyhow::Result<()> {
    let store = crate::open_store(cfg).await?;
    let r = match args.what {
        ScoresWhat::Run { as_of } => {
            let day = match as_of {
                Some(s) => {
                    Some(time::parse_day("--as-of", &s).map_err(|e| anyhow::anyhow!("{e}"))?)
                }
                None => None,
            };
            let scoring = ready_scoring(cfg, &store).await?;
            run_one(&scoring, day, "manual").await
        }
        ScoresWhat::Backfill { weeks } => {
            let scoring = ready_scoring(cfg, &store).await?;
            backfill(&scoring, &store, weeks).await
        }
        ScoresWhat::List { limit } => list(&store, limit).await,
    };
    store.close().await;
    r
}

/// A scoring layer with the promoted models loaded, or an error saying how
/// to get them.
pub(crate) async fn ready_scoring(cfg: &Config, store: &Store) -> anyhow::Result<Arc<Scoring>> {
    let registry = Arc::new(crate::train::open_registry(cfg)?);
    let scoring = Arc::new(Scoring::new(
        store.clone(),
        registry,
        cfg.scoring_settings(),
    ));
    let started = Instant::now();
    if !scoring
        .reload_models()
        .await
        .context("loading the promoted models")?
    {
        bail!("no promoted churn model: train one with `pulse train` first");
    }
    let serving = scoring.current().context("models loaded")?;
    println!(
        "Models {} / {} scored {} current customers in {:.1} s",
        serving.engine.churn_version(),
        serving
            .engine
            .expansion_version()
            .unwrap_or("(no expansion model)"),
        serving.scored.as_ref().map_or(0, |s| s.scores.len()),
        started.elapsed().as_secs_f64()
    );
    Ok(scoring)
}

async fn run_one(scoring: &Scoring, day: Option<Day>, trigger: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let run = scoring.run_and_store(day, trigger).await?;
    for w in &run.warnings {
        eprintln!("warning: {w}");
    }
    let info = run.info;
    println!(
        "Stored run {} as of {}: {} accounts ({:.1} s)",
        info.run_id,
        format_day(info.as_of),
        info.n_accounts,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The Mondays of the last `weeks` weeks, oldest first, ending with this
/// week's (today when today is Monday).
pub(crate) fn backfill_days(today: Day, weeks: u32) -> Vec<Day> {
    let monday = time::week_start(today);
    (0..weeks as i32).rev().map(|w| monday - 7 * w).collect()
}

/// Stores one run per past week that has none.
pub(crate) async fn backfill(scoring: &Scoring, store: &Store, weeks: u32) -> anyhow::Result<()> {
    let days = backfill_days(scoring.clock().today(), weeks);
    let existing: Vec<Day> = store
        .score_runs(1_000)
        .await?
        .into_iter()
        .map(|r| r.as_of)
        .collect();
    let todo: Vec<Day> = days.into_iter().filter(|d| !existing.contains(d)).collect();
    if todo.is_empty() {
        println!("Every one of the last {weeks} weeks has a stored run");
        return Ok(());
    }
    println!("Backfilling {} weekly runs", todo.len());
    for d in todo {
        run_one(scoring, Some(d), "backfill").await?;
    }
    Ok(())
}

async fn list(store: &Store, limit: u32) -> anyhow::Result<()> {
    let runs = store.score_runs(limit).await?;
    if runs.is_empty() {
        println!("No stored scoring runs yet: `pulse scores run` stores one.");
        return Ok(());
    }
    println!(
        "{:>6}  {:<10}  {:<20}  {:<10}  {:<14}  {:>8}",
        "run", "as of", "created", "trigger", "churn model", "accounts"
    );
    for r in runs {
        println!(
            "{:>6}  {:<10}  {:<20}  {:<10}  {:<14}  {:>8}",
            r.run_id,
            format_day(r.as_of),
            format_ts(r.created_at),
            r.trigger,
            r.churn_version,
            r.n_accounts
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backfill_days_are_mondays_ending_this_week() {
        let wed = time::parse_day("d", "2026-11-25").unwrap();
        let days = backfill_days(wed, 3);
        let shown: Vec<String> = days.iter().map(|d| format_day(*d)).collect();
        assert_eq!(shown, ["2026-11-09", "2026-11-16", "2026-11-23"]);
        assert!(backfill_days(wed, 0).is_empty());
    }
}
