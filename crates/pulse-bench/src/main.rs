//! The `pulse-bench` command: Pulse's benchmarks that are not part of the
//! product.
//!
//! - `score`: a gRPC load generator for `ScoringService.Score` (and the bare
//!   stub server it is measured against), driven by `bench/score_bench.sh`.
//! - `features`: loading histories from a store and computing every feature
//!   of every account as of one day.
//!
//! It reads `pulse`'s configuration file, environment and global flags for
//! the few settings it needs (see [`settings`]). The benchmarks that run the
//! product's own code paths (`pulse bench import`, `pulse bench explain`)
//! stay in `pulse`.

mod features;
mod score;
mod settings;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use pulse_store::Store;

use settings::Settings;

/// Pulse's benchmarks: the Score load generator and the feature benchmark.
#[derive(Debug, Parser)]
#[command(name = "pulse-bench", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// The global flags of `pulse`, with the same meaning.
#[derive(Debug, Args)]
struct Global {
    /// Pulse's TOML configuration file (only the data, database, models,
    /// server address and log settings are read).
    #[arg(long, global = true, env = "PULSE_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default: <data-dir>/pulse.db) or postgres://...
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Directory of the embedded database and models [default: data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, global = true)]
    log_format: Option<String>,
    /// Model registry directory [default: <data-dir>/models].
    #[arg(long, global = true)]
    models_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load generator for ScoringService.Score over loopback: throughput and latency percentiles.
    Score(Box<score::ScoreArgs>),
    /// Load histories and compute every feature of every account as of one day.
    Features(features::FeaturesArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut cfg = Settings::load(cli.global.config.as_deref(), &|k| std::env::var(k).ok())?;
    if let Some(v) = &cli.global.database_url {
        cfg.database_url = v.clone();
    }
    if let Some(v) = &cli.global.data_dir {
        cfg.data_dir = v.clone();
    }
    if let Some(v) = &cli.global.log_format {
        cfg.log_format = v.clone();
    }
    if let Some(v) = &cli.global.models_dir {
        cfg.models_dir = Some(v.clone());
    }
    cfg.validate()?;
    init_tracing(&cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli.command, cfg))
}

fn init_tracing(cfg: &Settings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_filter)
        .with_context(|| format!("log.filter (PULSE_LOG): '{}'", cfg.log_filter))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

async fn run(cmd: Command, cfg: Settings) -> anyhow::Result<()> {
    match cmd {
        Command::Score(args) => score::run(&cfg, *args).await,
        Command::Features(args) => {
            let store = open_store(&cfg).await?;
            let r = features::run(&store, args).await;
            store.close().await;
            r
        }
    }
}

async fn open_store(cfg: &Settings) -> anyhow::Result<Store> {
    Ok(pulse_app::runtime::open_store(&cfg.database_url(), &cfg.data_dir).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// The flags of `score` are the load generator's: the ones
    /// `bench/score_bench.sh` passes parse, global flags included.
    #[test]
    fn the_benchmark_scripts_command_lines_parse() {
        for line in [
            "pulse-bench score --addr 127.0.0.1:50071 --features f.csv --label pulse \
             --concurrency 32 --connections 2 --duration 10 --warmup 2 --server-pid 1,2 \
             --json --mode all --without-drivers --rate 10000",
            "pulse-bench --data-dir d score --stub-server 127.0.0.1:1 --stub-model",
            "pulse-bench score --addr a:1 --compare b:2 --duration 0 --label python",
            "pulse-bench score --export-features f.csv --data-dir d",
            "pulse-bench features --runs 1 --as-of 2026-06-30",
        ] {
            Cli::try_parse_from(line.split_whitespace()).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }
}
