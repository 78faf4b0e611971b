//! `pulse forecast` (the forecast table in the terminal) and `pulse forecast
//! backtest` (forecasts at past quarter starts against what happened),
//! `pulse report` (the leadership report as one HTML file).

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};
use pulse_app::forecast::{ForecastQuery, ForecastResult};
use pulse_core::time::format_day;
use pulse_forecast::{Estimate, GroupForecast, MonteCarlo};

use crate::config::Config;

/// `pulse forecast`.
#[derive(Debug, Args)]
pub(crate) struct ForecastArgs {
    #[command(subcommand)]
    command: Option<ForecastCommand>,
    #[command(flatten)]
    query: QueryArgs,
}

#[derive(Debug, Args)]
struct QueryArgs {
    /// Days ahead, 1 to 730 [default: 91, a quarter].
    #[arg(long, default_value_t = 0)]
    horizon_days: i32,
    /// Features as of the end of this day (YYYY-MM-DD) [default: today].
    #[arg(long, default_value = "")]
    as_of: String,
    /// total, segment, owner or plan.
    #[arg(long, default_value = "total")]
    group_by: String,
    /// Monte Carlo draws for the ARR intervals.
    #[arg(long, default_value_t = 10_000)]
    draws: usize,
    /// Monte Carlo seed (the same seed gives the same intervals).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

#[derive(Debug, Subcommand)]
enum ForecastCommand {
    /// At each past quarter start in the data, forecast the quarter with
    /// models trained on the data available then, and compare with what
    /// happened; stores the table in the newest survival model's card.
    Backtest(crate::forecast_backtest::BacktestArgs),
    /// The time-to-churn model in service: its card, held-out calibration
    /// per horizon and the stored forecast backtest.
    Model,
}

/// `pulse report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Where to write the HTML page.
    #[arg(long)]
    out: std::path::PathBuf,
    /// The quarter, e.g. 2026-Q4 [default: the quarter after today's].
    #[arg(long, default_value = "")]
    period: String,
}

pub(crate) async fn run_report(cfg: &Config, args: ReportArgs) -> anyhow::Result<()> {
    let store = crate::open_store(cfg).await?;
    let registry = std::sync::Arc::new(crate::train::open_registry(cfg)?);
    let r = pulse_app::report::build(
        &store,
        registry,
        &cfg.lists,
        cfg.training.horizon_days,
        threads(),
        &args.period,
        &cfg.clock,
    )
    .await;
    store.close().await;
    let r = r.map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    std::fs::write(&args.out, r.html.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    let t = &r.data.forecast.total;
    println!(
        "wrote {} ({} bytes): {} report, forecast of the {} days after {}: NRR {:.1}% (80% {:.1}-{:.1}%), churned ARR {:.0} (80% {:.0}-{:.0})",
        args.out.display(),
        r.html.len(),
        r.period,
        r.horizon_days,
        format_day(r.as_of),
        t.nrr.expected * 100.0,
        t.nrr.i80.lo * 100.0,
        t.nrr.i80.hi * 100.0,
        t.churned_arr.expected,
        t.churned_arr.i80.lo,
        t.churned_arr.i80.hi
    );
    Ok(())
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

pub(crate) async fn run(cfg: &Config, args: ForecastArgs) -> anyhow::Result<()> {
    match args.command {
        Some(ForecastCommand::Backtest(b)) => return crate::forecast_backtest::run(cfg, b).await,
        Some(ForecastCommand::Model) => return show_model(cfg),
        None => {}
    }
    let store = crate::open_store(cfg).await?;
    let registry = std::sync::Arc::new(crate::train::open_registry(cfg)?);
    let q = ForecastQuery {
        horizon_days: args.query.horizon_days,
        as_of: args.query.as_of,
        group_by: args.query.group_by,
        monte_carlo: MonteCarlo {
            draws: args.query.draws,
            seed: args.query.seed,
        },
    };
    let r = pulse_app::forecast::run(
        &store,
        registry,
        cfg.training.horizon_days,
        threads(),
        &q,
        cfg.clock.today(),
    )
    .await;
    store.close().await;
    let r = r.map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    print_forecast(&mut std::io::stdout().lock(), &r).context("writing the forecast")
}

fn show_model(cfg: &Config) -> anyhow::Result<()> {
    use pulse_app::ModelRegistry;
    let registry = crate::train::open_registry(cfg)?;
    let Some(m) = registry.latest_survival()? else {
        anyhow::bail!(
            "no time-to-churn model in {}: pulse train fits one with the churn model",
            registry.dir().display()
        );
    };
    let c = &m.card;
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "{} (created {}, data {} to {}): {} person-periods, {} churns, {} accounts, {} x {}-day intervals",
        c.version,
        c.created_at,
        c.data_start,
        c.data_end,
        c.rows,
        c.events,
        c.accounts,
        c.intervals,
        c.interval_days
    )?;
    crate::train::print_survival_calibration(&mut o, c)?;
    if c.forecast_backtest.is_empty() {
        writeln!(
            o,
            "\nno forecast backtest stored yet: pulse forecast backtest"
        )?;
    } else {
        writeln!(o, "\nforecast backtest")?;
        crate::forecast_backtest::print_backtest(
            &mut o,
            &pulse_forecast::Backtest {
                rows: c.forecast_backtest.clone(),
                skipped: Vec::new(),
            },
        )?;
    }
    Ok(())
}

use pulse_core::money::grouped as money;

fn est_money(e: &Estimate) -> String {
    format!(
        "{} [{} - {}]",
        money(e.expected),
        money(e.i80.lo),
        money(e.i80.hi)
    )
}

fn est_pct(e: &Estimate) -> String {
    format!(
        "{:.1}% [{:.1} - {:.1}]",
        e.expected * 100.0,
        e.i80.lo * 100.0,
        e.i80.hi * 100.0
    )
}

fn row(o: &mut impl Write, g: &GroupForecast) -> std::io::Result<()> {
    writeln!(
        o,
        "{:<16} {:>6} {:>13} {:>18} {:>30} {:>30} {:>22} {:>22}",
        g.group,
        g.accounts,
        money(g.current_arr),
        format!(
            "{:.1} [{} - {}]",
            g.churned_accounts.expected, g.churned_accounts.i80.lo, g.churned_accounts.i80.hi
        ),
        est_money(&g.churned_arr),
        est_money(&g.expansion_arr),
        est_pct(&g.grr),
        est_pct(&g.nrr),
    )
}

/// The forecast as a table: expected figures with their 80% intervals, the
/// 95% intervals of the total, last period's actuals and the methods.
pub(crate) fn print_forecast(o: &mut impl Write, r: &ForecastResult) -> std::io::Result<()> {
    let f = &r.forecast;
    writeln!(
        o,
        "forecast of the {} days after {} (models: churn {}, expansion {}, time to churn {})",
        f.horizon_days,
        format_day(f.as_of),
        r.churn_model,
        r.expansion_model.as_deref().unwrap_or("none"),
        r.survival_model
    )?;
    writeln!(o, "expected [80% interval]")?;
    writeln!(
        o,
        "{:<16} {:>6} {:>13} {:>18} {:>30} {:>30} {:>22} {:>22}",
        "group", "accts", "ARR now", "churned accts", "churned ARR", "expansion ARR", "GRR", "NRR"
    )?;
    for g in &f.groups {
        row(o, g)?;
    }
    row(o, &f.total)?;
    let t = &f.total;
    writeln!(
        o,
        "\ntotal, 95% intervals: churned accounts {} - {}, churned ARR {} - {}, expansion ARR {} - {}, GRR {:.1}% - {:.1}%, NRR {:.1}% - {:.1}%",
        t.churned_accounts.i95.lo,
        t.churned_accounts.i95.hi,
        money(t.churned_arr.i95.lo),
        money(t.churned_arr.i95.hi),
        money(t.expansion_arr.i95.lo),
        money(t.expansion_arr.i95.hi),
        t.grr.i95.lo * 100.0,
        t.grr.i95.hi * 100.0,
        t.nrr.i95.lo * 100.0,
        t.nrr.i95.hi * 100.0
    )?;
    writeln!(
        o,
        "\nlast period (actual, same length, customers at its start)"
    )?;
    writeln!(
        o,
        "{:<16} {:>23} {:>6} {:>13} {:>8} {:>13} {:>13} {:>11} {:>7} {:>7}",
        "group",
        "period",
        "accts",
        "start ARR",
        "churned",
        "churned ARR",
        "expansion",
        "contraction",
        "GRR",
        "NRR"
    )?;
    let mut groups: Vec<&GroupForecast> = f.groups.iter().collect();
    groups.push(&f.total);
    for g in groups {
        if let Some(a) = &g.last_period {
            writeln!(
                o,
                "{:<16} {:>23} {:>6} {:>13} {:>8} {:>13} {:>13} {:>11} {:>6.1}% {:>6.1}%",
                g.group,
                format!("{}..{}", format_day(a.from), format_day(a.to)),
                a.accounts,
                money(a.start_arr),
                a.churned_accounts,
                money(a.churned_arr),
                money(a.expansion_arr),
                money(a.contraction_arr),
                a.grr * 100.0,
                a.nrr * 100.0
            )?;
        }
    }
    writeln!(o, "\nmethods:")?;
    for m in &f.methods {
        writeln!(o, "  - {m}")?;
    }
    Ok(())
}
