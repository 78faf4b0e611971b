//! The `pulse` command: serve, import, synth, train, models, score, scores,
//! lists, outreach, bench, keys and demo.
//!
//! Architecture Invariant: with the `pulse-bench` command (benchmarks only),
//! this is the only crate that reads files, flags or the environment, prints
//! to the terminal, or uses `anyhow`. It wires the store, the pure crates and
//! the server together.

mod bench;
mod bench_pipeline;
mod config;
mod encoding;
mod forecast_backtest;
mod forecast_cmd;
mod import;
mod keys_cmd;
mod lists_cmd;
mod malloc;
mod mapping;
mod model_ops_cmd;
mod presets;
mod scores_cmd;
mod sentiment_cmd;
mod tombstones;
mod train;
mod vendor_export;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use pulse_core::time;
use pulse_store::Store;
use tokio::net::TcpListener;

use config::Config;
use import::{DEFAULT_BATCH, ImportOptions};

/// Pulse: customer health and churn prediction.
#[derive(Debug, Parser)]
#[command(name = "pulse", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// TOML configuration file.
    #[arg(long, global = true, env = "PULSE_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default: <data-dir>/pulse.db) or postgres://...
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Directory for the embedded database, generated data and models [default: data].
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
    /// Serve the gRPC API.
    Serve {
        /// Listen address [default: 127.0.0.1:50051].
        #[arg(long)]
        addr: Option<SocketAddr>,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Load CSV or JSON Lines files (or directories of them) into the store.
    Import {
        /// Files or directories; each file holds one entity, named after it (accounts.csv, interactions.jsonl, ...).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Records per transaction.
        #[arg(long, default_value_t = DEFAULT_BATCH)]
        batch_size: usize,
        /// Where to write rejected rows with their reasons [default: <data-dir>/import-rejects.csv].
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// Do not score interaction and survey text with the default sentiment
        /// model (faster; `pulse sentiment backfill` can score later).
        #[arg(long)]
        no_sentiment: bool,
        /// SQLite commits: `full` syncs each batch to disk (an acknowledged
        /// batch survives a power failure); `normal` is faster for a bulk
        /// load you can re-run.
        #[arg(long, default_value = "full")]
        synchronous: pulse_store::Durability,
        /// A mapping file (TOML) saying how another system's export files
        /// become Pulse records; files no block of it reads are read as
        /// native files. See docs/bring-your-own-data.md.
        /// May be given several times.
        #[arg(long)]
        mapping: Vec<PathBuf>,
        /// A shipped mapping for a common export (`pulse presets` lists
        /// them), e.g. zendesk-tickets; may be given several times, and with
        /// --mapping.
        #[arg(long)]
        preset: Vec<String>,
        /// Read and check everything and say what would happen; write
        /// nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Accounts: erase one's personal data.
    Accounts {
        #[command(subcommand)]
        what: AccountsCmd,
    },
    /// Personal data: text retention and the audit log of erasures.
    Privacy {
        #[command(subcommand)]
        what: PrivacyCmd,
    },
    /// The shipped import mappings for common exports: list them, or print
    /// one (to copy and edit).
    Presets {
        /// The preset to print.
        name: Option<String>,
    },
    /// Generate a synthetic customer base as import files.
    Synth(SynthArgs),
    /// Sentiment of text: score a CSV column, train a model.
    Sentiment(sentiment_cmd::SentimentArgs),
    /// Train churn and expansion models on the store's data (backtest of GBT vs
    /// logistic vs the rule-based scorecard), or a model from a CSV table.
    Train(train::TrainArgs),
    /// List, inspect and promote models in the registry.
    Models(train::ModelsArgs),
    /// Score a CSV table with a model trained by `pulse train --table`.
    Score(train::ScoreArgs),
    /// Stored scoring runs (score history): run, backfill past weeks, list.
    Scores(scores_cmd::ScoresArgs),
    /// Weekly ranked lists: generate, show, export, an owner's portfolio.
    Lists(lists_cmd::ListsArgs),
    /// Outreach done from the lists: record it, report what it achieved.
    Outreach(lists_cmd::OutreachArgs),
    /// Churned accounts and ARR, expansion, gross and net revenue retention
    /// over a horizon with 80% and 95% intervals; `backtest` checks past quarters.
    Forecast(forecast_cmd::ForecastArgs),
    /// Write the leadership report of a quarter as one self-contained HTML file.
    Report(forecast_cmd::ReportArgs),
    /// Benchmarks of the import and of in-process scoring on the store in use
    /// (the Score load generator is the separate `pulse-bench` command).
    Bench(bench::BenchArgs),
    /// Make API keys for the server's access control.
    Keys(keys_cmd::KeysArgs),
    /// From nothing to a running server: create the database, generate and load
    /// a synthetic base if the store is empty, then serve.
    Demo {
        /// Accounts in the generated base.
        #[arg(long, default_value_t = 2_000)]
        accounts: usize,
        /// Months of history in the generated base.
        #[arg(long, default_value_t = 24)]
        months: u32,
        /// Listen address [default: 127.0.0.1:50051].
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Prepare everything, print what to try, and exit instead of serving.
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        tls: TlsArgs,
    },
}

/// TLS for `serve` and `demo` (both or neither; override `[server] tls_cert`,
/// `tls_key` and `PULSE_TLS_CERT`, `PULSE_TLS_KEY`).
#[derive(Debug, Args)]
struct TlsArgs {
    /// PEM certificate chain: serve TLS only.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Serve a non-loopback address without API keys (refused otherwise;
    /// `[server] insecure_no_auth`).
    #[arg(long)]
    insecure_no_auth: bool,
    /// Serve a non-loopback address without TLS, e.g. behind a proxy that
    /// ends TLS (refused otherwise; `[server] insecure_plaintext`).
    #[arg(long)]
    insecure_plaintext: bool,
}

impl TlsArgs {
    fn apply(self, cfg: &mut Config) {
        if let Some(p) = self.tls_cert {
            cfg.server.tls_cert = Some(p);
        }
        if let Some(p) = self.tls_key {
            cfg.server.tls_key = Some(p);
        }
        cfg.server.insecure_no_auth |= self.insecure_no_auth;
        cfg.server.insecure_plaintext |= self.insecure_plaintext;
    }
}

#[derive(Debug, Subcommand)]
enum AccountsCmd {
    /// Erase the personal data of an account and its contacts (names,
    /// interaction text, survey comments, details, notes), keeping what the
    /// models need; recorded in the audit log. With --contact, one contact's.
    Forget {
        /// The account's id (or the contact's, with --contact).
        id: String,
        /// ID is a contact's.
        #[arg(long)]
        contact: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PrivacyCmd {
    /// Drop interaction and survey text older than N days whose sentiment
    /// is stored.
    Retention {
        /// Days of text to keep [default: `[privacy] text_retention_days`].
        #[arg(long)]
        days: Option<u32>,
    },
    /// The latest erasures and retention runs, newest first.
    Audit {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Debug, Args)]
struct SynthArgs {
    /// Number of accounts.
    #[arg(long, default_value_t = 2_000)]
    accounts: usize,
    /// Months of history, ending at --end.
    #[arg(long, default_value_t = 24)]
    months: u32,
    /// Random seed: the same seed, size and end date give the same files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Last day of the history, YYYY-MM-DD [default: yesterday, UTC].
    #[arg(long)]
    end: Option<String>,
    /// Output directory (ground truth goes to <out>/truth/).
    #[arg(long)]
    out: PathBuf,
    /// From this day (YYYY-MM-DD, inside the window) nearly every renewal
    /// carries a 10-20% price rise that drives renewals: a base whose
    /// behaviour changes, to see drift and retraining at work.
    #[arg(long)]
    price_regime_from: Option<String>,
    /// Write these entities in a vendor's export shape instead of Pulse's
    /// (hubspot-companies, hubspot-contacts, salesforce-accounts,
    /// salesforce-contacts, zendesk-tickets, intercom-conversations,
    /// delighted-responses, qualtrics-responses): the same base, to import with
    /// `pulse import --preset`. May be given several times, one format per
    /// native file (one CRM, one survey tool).
    #[arg(long = "format")]
    formats: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    malloc::reexec_with_fixed_mmap_threshold();
    let cli = Cli::parse();
    let mut cfg = Config::load(cli.global.config.as_deref(), &|k| std::env::var(k).ok())?;
    if let Some(v) = &cli.global.database_url {
        cfg.database_url = v.clone();
    }
    if let Some(v) = &cli.global.data_dir {
        cfg.data_dir = v.clone();
    }
    if let Some(v) = &cli.global.log_format {
        cfg.log.format = v.clone();
    }
    if let Some(v) = &cli.global.models_dir {
        cfg.models.dir = Some(v.clone());
    }
    cfg.validate()?;
    init_tracing(&cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(run(cli.command, cfg));
    drop(rt);
    bench_pipeline::write_own_usage();
    result
}

fn init_tracing(cfg: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log.filter)
        .with_context(|| format!("log.filter (PULSE_LOG): '{}'", cfg.log.filter))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

async fn run(cmd: Command, mut cfg: Config) -> anyhow::Result<()> {
    match cmd {
        Command::Serve { addr, tls } => {
            if let Some(a) = addr {
                cfg.server.addr = a;
            }
            tls.apply(&mut cfg);
            let tls = read_tls(&cfg)?;
            // Refused before the store is opened.
            let keys = check_exposure(&cfg, tls.is_some())?;
            let store = open_store(&cfg).await?;
            serve(&cfg, store, tls, keys).await
        }
        Command::Import {
            paths,
            batch_size,
            rejects,
            no_sentiment,
            synchronous,
            mapping,
            preset,
            dry_run,
        } => {
            // The mapping is checked before anything is opened.
            let mapping = presets::load_all(&preset, &mapping)?;
            let url = cfg.database_url();
            // A dry run against a store that does not exist yet checks
            // against an empty one in memory, and creates nothing.
            let absent = url
                .strip_prefix("sqlite://")
                .is_some_and(|p| !Path::new(p).exists());
            let store = if dry_run && absent {
                Store::in_memory().await?
            } else {
                pulse_app::runtime::open_store_with(&url, &cfg.data_dir, synchronous).await?
            };
            let rejects_path = rejects.unwrap_or_else(|| cfg.data_dir.join("import-rejects.csv"));
            let sentiment = if no_sentiment || dry_run {
                None
            } else {
                sentiment_cmd::load_default_model(&cfg)?
            };
            let opts = ImportOptions {
                batch_size,
                rejects_path,
                progress: std::io::stderr().is_terminal(),
                sentiment,
                mapping: mapping.map(std::sync::Arc::new),
                dry_run,
            };
            run_import(&store, &paths, opts).await?;
            if let Some(days) = cfg.privacy.text_retention_days
                && !dry_run
            {
                let e = pulse_app::privacy::apply_retention(&store, days, cfg.clock.now()).await?;
                println!(
                    "text retention ({days} days): text dropped from {} interactions and {} survey answers",
                    e.interactions, e.surveys
                );
            }
            store.close().await;
            Ok(())
        }
        Command::Accounts {
            what: AccountsCmd::Forget { id, contact },
        } => {
            use pulse_app::privacy::{ForgetTarget, forget};
            let store = open_store(&cfg).await?;
            let target = if contact {
                ForgetTarget::Contact(id)
            } else {
                ForgetTarget::Account(id)
            };
            let e = forget(&store, &target, cfg.clock.now()).await?;
            store.close().await;
            println!("erased; rows changed: {}", e.summary());
            Ok(())
        }
        Command::Privacy { what } => {
            let store = open_store(&cfg).await?;
            match what {
                PrivacyCmd::Retention { days } => {
                    let Some(days) = days.or(cfg.privacy.text_retention_days) else {
                        bail!(
                            "no retention set: give --days N, or text_retention_days under [privacy]"
                        );
                    };
                    let e =
                        pulse_app::privacy::apply_retention(&store, days, cfg.clock.now()).await?;
                    println!(
                        "text older than {days} days dropped from {} interactions and {} survey answers",
                        e.interactions, e.surveys
                    );
                }
                PrivacyCmd::Audit { limit } => {
                    for a in store.audit_log(limit).await? {
                        println!(
                            "{}  {:<16} {:<24} {}",
                            time::format_ts(a.at),
                            a.action,
                            a.subject,
                            a.detail
                        );
                    }
                }
            }
            store.close().await;
            Ok(())
        }
        Command::Presets { name } => {
            let mut out = std::io::stdout().lock();
            match name {
                Some(n) => out.write_all(presets::text(&n)?.as_bytes())?,
                None => {
                    for p in presets::PRESETS {
                        writeln!(out, "{:<24} {}", p.name, p.summary)?;
                    }
                    writeln!(
                        out,
                        "\n`pulse presets NAME > my.toml` prints one to edit; \
                         `pulse import --preset NAME --dry-run FILES` checks an export against it."
                    )?;
                }
            }
            Ok(())
        }
        Command::Sentiment(args) => sentiment_cmd::run(args, &cfg).await,
        Command::Synth(args) => {
            let end = match &args.end {
                Some(s) => time::parse_day("--end", s).map_err(|e| anyhow::anyhow!("{e}"))?,
                None => cfg.clock.today() - 1,
            };
            let regime = match &args.price_regime_from {
                Some(s) => Some(
                    time::parse_day("--price-regime-from", s)
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                ),
                None => None,
            };
            synth(
                args.accounts,
                args.months,
                args.seed,
                end,
                regime,
                &args.out,
            )?;
            for p in vendor_export::convert(&args.out, &args.formats)? {
                println!("wrote {}", p.display());
            }
            for (f, loss) in vendor_export::LOSSES {
                if args.formats.iter().any(|x| x == f) {
                    println!("{f} cannot carry: {loss}");
                }
            }
            Ok(())
        }
        Command::Train(args) => train::run_train(&cfg, args).await,
        Command::Models(args) => train::run_models(&cfg, args).await,
        Command::Score(args) => train::run_score(&cfg, args),
        Command::Bench(args) => bench::run(&cfg, args).await,
        Command::Scores(args) => scores_cmd::run(&cfg, args).await,
        Command::Lists(args) => lists_cmd::run_lists(&cfg, args).await,
        Command::Outreach(args) => lists_cmd::run_outreach(&cfg, args).await,
        Command::Forecast(args) => forecast_cmd::run(&cfg, args).await,
        Command::Report(args) => forecast_cmd::run_report(&cfg, args).await,
        Command::Keys(args) => keys_cmd::run(args),
        Command::Demo {
            accounts,
            months,
            addr,
            no_serve,
            tls,
        } => {
            if let Some(a) = addr {
                cfg.server.addr = a;
            }
            tls.apply(&mut cfg);
            demo(&cfg, accounts, months, no_serve).await
        }
    }
}

async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    Ok(pulse_app::runtime::open_store(&cfg.database_url(), &cfg.data_dir).await?)
}

/// Expands directories into the entity files they hold (ground truth and
/// other files are skipped).
fn expand_paths(
    paths: &[PathBuf],
    mapping: Option<&mapping::Mapping>,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let name = f
                        .file_name()
                        .map(|n| n.to_string_lossy().to_ascii_lowercase())
                        .unwrap_or_default();
                    f.is_file()
                        && (name.ends_with(".csv")
                            || name.ends_with(".jsonl")
                            || name.ends_with(".ndjson"))
                        && (pulse_core::EntityKind::from_file_name(&name).is_some()
                            || tombstones::is_tombstone_file(f)
                            || mapping.is_some_and(|m| !m.blocks_for(&name).is_empty()))
                })
                .collect();
            // Another vendor's export a block's pattern also matches (the
            // samples' `qualtrics-csat.csv` for Delighted's `*csat*.csv`)
            // is skipped, and said so; named on the command line it is an
            // error naming the column.
            found.retain(|f| match unreadable_in_directory(f, mapping) {
                None => true,
                Some(why) => {
                    eprintln!("skipping {}: {why}", f.display());
                    false
                }
            });
            if found.is_empty() {
                bail!("{}: no import files in this directory", p.display());
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Why a CSV file found in a directory cannot be read as it stands, or
/// `None`: no block of the mapping whose pattern matches it binds to its
/// columns (each block's complaint), or, read as a native file, most of its
/// columns are not the entity's (another system's export named like one).
fn unreadable_in_directory(f: &Path, m: Option<&mapping::Mapping>) -> Option<String> {
    let name = f.file_name()?.to_string_lossy().to_ascii_lowercase();
    if !name.ends_with(".csv") || tombstones::is_tombstone_file(f) {
        return None;
    }
    let blocks = m.map(|m| m.blocks_for(&name)).unwrap_or_default();
    let encoding = blocks.first().map(|b| b.encoding).unwrap_or_default();
    let header: Vec<String> = encoding::csv_reader(f, encoding, false)
        .ok()
        .and_then(|mut r| {
            r.headers()
                .map(|h| h.iter().map(str::to_string).collect())
                .ok()
        })?;
    if blocks.is_empty() {
        let kind = pulse_core::EntityKind::from_file_name(&name)?;
        let foreign = header
            .iter()
            .filter(|h| {
                !kind
                    .columns()
                    .contains(&h.trim().to_ascii_lowercase().as_str())
            })
            .count();
        return (foreign * 2 > header.len()).then(|| {
            format!(
                "{foreign} of its {} columns are not Pulse's {kind} columns (another system's \
                 export?), and no mapping block reads it: give its preset or mapping",
                header.len()
            )
        });
    }
    let shown = f.display().to_string();
    let errors: Vec<String> = blocks
        .iter()
        .filter_map(|b| {
            b.bind(&header, &shown)
                .err()
                .map(|e| format!("{}, {e}", b.source))
        })
        .collect();
    (errors.len() == blocks.len()).then(|| {
        format!(
            "its columns fit no block of the mapping that matches its name ({})",
            errors.join("; ")
        )
    })
}

async fn run_import(store: &Store, paths: &[PathBuf], opts: ImportOptions) -> anyhow::Result<()> {
    let files = expand_paths(paths, opts.mapping.as_deref())?;
    let started = Instant::now();
    let report = import::import(store, &files, &opts).await?;
    let mut out = std::io::stdout().lock();
    if opts.dry_run {
        import::write_dry_run(&report, &mut out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<28} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "file", "rows", "inserted", "updated", "rejected", "rows/s"
    )?;
    for f in &report.files {
        let mut name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(k) = f.kind
            && !name.contains(k.as_str())
        {
            name = format!("{name} ({k})");
        }
        let rate = f.rows as f64 / f.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            out,
            "{:<28} {:>10} {:>10} {:>10} {:>10} {:>12.0}",
            name, f.rows, f.inserted, f.updated, f.rejected, rate
        )?;
    }
    let (rows, ins, upd, rej) = report.totals();
    writeln!(
        out,
        "{:<28} {:>10} {:>10} {:>10} {:>10}   in {:.1}s",
        "total",
        rows,
        ins,
        upd,
        rej,
        started.elapsed().as_secs_f64()
    )?;
    for f in report.files.iter().filter(|f| f.deleted > 0) {
        writeln!(
            out,
            "{}: {} marked deleted at the source; features leave them out from their deletion",
            f.path.display(),
            f.deleted
        )?;
    }
    if let Some(p) = &report.rejects_written {
        writeln!(out, "rejected rows and their reasons: {}", p.display())?;
    }
    Ok(())
}

fn synth(
    accounts: usize,
    months: u32,
    seed: u64,
    end: time::Day,
    price_regime_from: Option<time::Day>,
    out: &Path,
) -> anyhow::Result<()> {
    if accounts == 0 {
        bail!("--accounts: must be at least 1");
    }
    if months == 0 || months > 240 {
        bail!("--months: {months} is outside 1..=240");
    }
    std::fs::create_dir_all(out.join("truth"))
        .with_context(|| format!("creating {}", out.display()))?;
    let mut cfg = pulse_synth::SynthConfig::new(accounts, months, seed, end);
    cfg.price_regime_from = price_regime_from;
    cfg.check().map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(accounts as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "generating [{bar:30}] {pos}/{len} accounts eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let out_dir = out.to_path_buf();
    let mut open = |name: &str| -> std::io::Result<Box<dyn Write + Send>> {
        let path = if name.starts_with("truth") {
            out_dir.join("truth").join(name)
        } else {
            out_dir.join(name)
        };
        Ok(Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(path)?,
        )))
    };
    let summary = pulse_synth::write_csv(&cfg, &mut open, &mut |done, _| {
        bar.set_position(done as u64)
    })
    .context("generating the synthetic base")?;
    bar.finish_and_clear();
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "synthetic base: {} accounts, {} months to {}, seed {} -> {} ({:.1}s)",
        accounts,
        months,
        time::format_day(end),
        seed,
        out.display(),
        started.elapsed().as_secs_f64()
    )?;
    for f in &summary.files {
        writeln!(
            o,
            "  {:<28} {:>10} rows {:>8.1} MB",
            f.name,
            f.rows,
            f.bytes as f64 / 1e6
        )?;
    }
    writeln!(
        o,
        "  churned accounts: {}, expanded accounts: {}",
        summary.churned_accounts, summary.expanded_accounts
    )?;
    Ok(())
}

async fn demo(cfg: &Config, accounts: usize, months: u32, no_serve: bool) -> anyhow::Result<()> {
    // Bad TLS files fail before minutes of generating and training.
    let tls = read_tls(cfg)?;
    let keys = if no_serve {
        cfg.api_keys()?
    } else {
        check_exposure(cfg, tls.is_some())?
    };
    let store = open_store(cfg).await?;
    let counts = store.table_counts().await?;
    let have_accounts = counts
        .iter()
        .find(|(t, _)| *t == "accounts")
        .map_or(0, |c| c.1);
    if have_accounts == 0 {
        let dir = cfg.data_dir.join("synthetic");
        println!(
            "The store is empty: generating a synthetic base of {accounts} accounts in {}",
            dir.display()
        );
        synth(accounts, months, 42, cfg.clock.today() - 1, None, &dir)?;
        println!("Loading it");
        let opts = ImportOptions {
            batch_size: DEFAULT_BATCH,
            rejects_path: cfg.data_dir.join("import-rejects.csv"),
            progress: std::io::stderr().is_terminal(),
            sentiment: sentiment_cmd::load_default_model(cfg)?,
            mapping: None,
            dry_run: false,
        };
        run_import(&store, &[dir], opts).await?;
    } else {
        println!("The store already holds {have_accounts} accounts: using them");
    }
    let registry = std::sync::Arc::new(train::open_registry(cfg)?);
    let mut untrained = Vec::new();
    for kind in [
        pulse_models::ModelKind::Churn,
        pulse_models::ModelKind::Expansion,
    ] {
        use pulse_app::ModelRegistry;
        match registry.promoted(kind)? {
            Some(v) => println!("{kind} model: {v} (promoted)"),
            None => untrained.push(kind),
        }
    }
    if !untrained.is_empty() {
        println!(
            "Training and promoting the {} model(s) (models in {})",
            untrained
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(" and "),
            registry.dir().display()
        );
        let rule = cfg.model_ops.rule()?;
        // A synthetic base knows why each account left: the churn card
        // reports whether the reasons match.
        let truth_file = cfg
            .data_dir
            .join("synthetic")
            .join("truth")
            .join("truth_accounts.csv");
        let truth = if truth_file.is_file() {
            Some(std::sync::Arc::new(train::read_truth(&truth_file)?))
        } else {
            None
        };
        let how = train::TrainHow {
            config: &cfg.training,
            survival: &cfg.survival,
            rule: &rule,
            promote: true,
            data_end: None,
            truth,
        };
        train::train_store(&store, &registry, &untrained, how).await?;
        println!();
    }
    if store.score_runs(1).await?.is_empty() {
        println!("Storing weekly scoring runs for the last 12 weeks (score history and trends)");
        let scoring = scores_cmd::ready_scoring(cfg, &store).await?;
        scores_cmd::backfill(&scoring, &store, 12).await?;
        println!();
    }
    if store.list_runs(1).await?.is_empty() {
        println!(
            "Generating the weekly lists of the last two weeks (at-risk, expansion-ready, movers)"
        );
        let today = cfg.clock.today();
        for day in [today - 7, today] {
            let week = pulse_lists::Week::of(day);
            match pulse_app::lists::generate(
                &store,
                &cfg.lists,
                &week,
                pulse_store::ListWrite::Replace,
                "manual",
                std::thread::available_parallelism().map_or(2, |n| n.get()),
                &cfg.clock,
            )
            .await
            {
                Ok(Some(l)) => println!(
                    "  {}: {} accounts ranked, {} in the owners' slices. {}",
                    l.run.week,
                    l.params.summary.accounts,
                    l.params.summary.in_capacity,
                    l.params.summary.reasons.statement
                ),
                Ok(None) => {}
                Err(e) => println!("  {}: {e}", week.label),
            }
        }
        println!();
    }
    let addr = cfg.server.addr;
    // Show the account with the most ARR at risk in the latest stored run.
    let mut first = None;
    if let Some(run) = store.score_runs(1).await?.first() {
        first = store
            .run_scores(run.run_id)
            .await?
            .into_iter()
            .max_by(|a, b| a.arr_at_risk.total_cmp(&b.arr_at_risk))
            .map(|s| s.account_id);
    }
    if first.is_none() {
        first = store
            .accounts(&pulse_store::AccountFilter {
                limit: 1,
                ..Default::default()
            })
            .await?
            .into_iter()
            .next()
            .map(|a| a.id);
    }
    let first = first.unwrap_or_else(|| "ACCOUNT_ID".into());
    // How grpcurl reaches this server: TLS or not, and the key when keys are on.
    let transport = match cfg.tls_paths()? {
        Some((cert, _)) => format!("-cacert {}", cert.display()),
        None => "-plaintext".to_string(),
    };
    let open = format!("grpcurl {transport}");
    let g = if cfg.auth.keys.is_empty() {
        open.clone()
    } else {
        format!("{open} -H \"authorization: Bearer $PULSE_API_KEY\"")
    };
    println!();
    if cfg.web.enabled {
        println!(
            "Customer Central, the web console: http://{}/accounts/{first}  (this week's lists: http://{}/lists)",
            cfg.web.addr, cfg.web.addr
        );
        if !cfg.auth.keys.is_empty() {
            println!("  (access control is on: sign in with an API key)");
        }
    }
    println!("Pulse is ready on {addr}. Try, with grpcurl (server reflection is on):");
    if !cfg.auth.keys.is_empty() {
        println!("  (access control is on: export PULSE_API_KEY=<a key of role analyst or admin>)");
    }
    println!("  {open} {addr} list");
    println!("  {g} -d '{{\"page_size\": 3}}' {addr} pulse.v1.AccountService/ListAccounts");
    println!("  {g} -d '{{\"id\": \"{first}\"}}' {addr} pulse.v1.AccountService/GetAccount");
    println!("  {open} {addr} grpc.health.v1.Health/Check");
    println!(
        "  {g} -d '{{\"account_id\": \"{first}\", \"top_drivers\": 3}}' {addr} pulse.v1.ScoringService/Score"
    );
    println!(
        "  {g} -d '{{\"account_id\": \"{first}\"}}' {addr} pulse.v1.ScoringService/GetAccountProfile"
    );
    println!("  {g} -d '{{\"capacity_only\": true}}' {addr} pulse.v1.ListService/GetRiskList");
    println!("  {g} {addr} pulse.v1.ListService/GetMovers");
    println!("  {g} {addr} pulse.v1.ModelService/ListModels");
    println!("  {g} -d '{{\"version\": \"churn-v1\"}}' {addr} pulse.v1.ModelService/GetModelCard");
    println!("  {g} -d '{{\"group_by\": \"segment\"}}' {addr} pulse.v1.ForecastService/Forecast");
    println!(
        "and from the command line: pulse forecast --group-by segment, pulse forecast backtest, pulse report --out report.html"
    );
    if no_serve {
        store.close().await;
        return Ok(());
    }
    serve(cfg, store, tls, keys).await
}

/// The server's TLS certificate and key when configured, read and checked.
fn read_tls(cfg: &Config) -> anyhow::Result<Option<pulse_server::Tls>> {
    let Some((cert_path, key_path)) = cfg.tls_paths()? else {
        return Ok(None);
    };
    let cert = std::fs::read(cert_path).with_context(|| {
        format!(
            "server.tls_cert: reading the certificate {}",
            cert_path.display()
        )
    })?;
    let key = std::fs::read(key_path).with_context(|| {
        format!(
            "server.tls_key: reading the private key {}",
            key_path.display()
        )
    })?;
    let tls = pulse_server::Tls::from_pem(&cert, &key).with_context(|| {
        format!(
            "server.tls_cert {} / server.tls_key {}",
            cert_path.display(),
            key_path.display()
        )
    })?;
    Ok(Some(tls))
}

/// Refuses a non-loopback address without keys or TLS unless the matching
/// `insecure` setting allows it (logging what it lets through).
fn check_exposure(cfg: &Config, tls: bool) -> anyhow::Result<pulse_server::ApiKeys> {
    let keys = cfg.api_keys()?;
    let warnings = pulse_app::access::check_exposure(&pulse_app::access::Exposure {
        addr: cfg.server.addr.ip(),
        keys: !keys.is_empty(),
        tls,
        allow_no_auth: cfg.server.insecure_no_auth,
        allow_plaintext: cfg.server.insecure_plaintext,
    })?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    if cfg.web.enabled {
        // The console is plain HTTP: the same rules, never with TLS.
        let warnings = pulse_app::access::check_exposure(&pulse_app::access::Exposure {
            addr: cfg.web.addr.ip(),
            keys: !keys.is_empty(),
            tls: false,
            allow_no_auth: cfg.server.insecure_no_auth,
            allow_plaintext: cfg.server.insecure_plaintext,
        })
        .map_err(|e| anyhow::anyhow!("web.addr: {e} (or set [web] enabled = false)"))?;
        for w in warnings {
            tracing::warn!("web console: {w}");
        }
    }
    Ok(keys)
}

async fn serve(
    cfg: &Config,
    store: Store,
    tls: Option<pulse_server::Tls>,
    keys: pulse_server::ApiKeys,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(cfg.server.addr).await.with_context(|| {
        format!(
            "binding {} (is another server running there?)",
            cfg.server.addr
        )
    })?;
    tracing::info!(
        addr = %listener.local_addr()?,
        tls = tls.is_some(),
        keys = keys.len(),
        "serving gRPC"
    );
    let registry = std::sync::Arc::new(train::open_registry(cfg)?);
    let mut state =
        pulse_server::AppState::with_scoring(store.clone(), registry, cfg.scoring_settings());
    state.training = cfg.training.clone();
    state.survival = Some(cfg.survival.clone());
    state.sentiment = sentiment_cmd::serving_slot(cfg)?;
    state.api_keys = keys;
    state.lists = cfg.lists.clone();
    state.model_ops = cfg.model_ops.settings()?;
    state.max_message_bytes = cfg.server.max_message_bytes()?;
    let server = &cfg.server;
    state.cpu = pulse_app::limits::CpuPool::new(
        match server.cpu_jobs {
            0 => pulse_app::limits::default_cpu_jobs(),
            n => n,
        },
        std::time::Duration::from_secs(server.cpu_wait_secs),
    );
    state.request_timeout = (server.request_timeout_secs > 0)
        .then(|| std::time::Duration::from_secs(server.request_timeout_secs));
    if server.max_concurrent_per_connection == 0 {
        anyhow::bail!("server.max_concurrent_per_connection: must be at least 1");
    }
    state.max_concurrent_per_connection = server.max_concurrent_per_connection;
    state.analyst = pulse_app::limits::CpuPool::new(
        server.analyst_jobs.max(1),
        std::time::Duration::from_secs(server.cpu_wait_secs),
    );
    state.analyst_cache = std::time::Duration::from_secs(server.analyst_cache_secs);
    state.promotion_watch = (server.promotion_watch_secs > 0)
        .then(|| std::time::Duration::from_secs(server.promotion_watch_secs));
    let metrics = if cfg.metrics.enabled {
        let listener = TcpListener::bind(cfg.metrics.addr).await.with_context(|| {
            format!(
                "metrics.addr: binding {} (another server there? set [metrics] addr, or enabled = false)",
                cfg.metrics.addr
            )
        })?;
        tracing::info!(addr = %listener.local_addr()?, "serving Prometheus metrics on /metrics");
        let s = state.clone();
        Some(tokio::spawn(pulse_server::serve_metrics(
            listener,
            state.metrics.clone(),
            std::sync::Arc::new(move |_| s.refresh_metrics()),
            std::future::pending(),
        )))
    } else {
        None
    };
    let web = if cfg.web.enabled {
        let listener = TcpListener::bind(cfg.web.addr).await.with_context(|| {
            format!(
                "web.addr: binding {} (another server there? set [web] addr, or enabled = false)",
                cfg.web.addr
            )
        })?;
        tracing::info!(addr = %listener.local_addr()?, "serving the web console");
        let mut web = pulse_web::WebState::new(
            state.store.clone(),
            state.scoring.clone(),
            state.registry.clone(),
        );
        web.api_keys = state.api_keys.clone();
        web.lists = state.lists.clone();
        web.cpu = state.cpu.clone();
        web.analyst = state.analyst.clone();
        web.analyst_cache = state.analyst_cache;
        web.currency = cfg.web.currency.clone();
        web.sentiment = state.sentiment.clone();
        web.signer = pulse_web::Signer::random(std::time::Duration::from_secs(
            cfg.web.session_hours.max(1) * 3600,
        ));
        Some(tokio::spawn(async move {
            if let Err(e) = pulse_web::serve(listener, web, std::future::pending()).await {
                tracing::error!(error = %e, "the web console stopped");
            }
        }))
    } else {
        None
    };
    pulse_server::serve(listener, state, tls, pulse_app::runtime::shutdown_signal()).await?;
    if let Some(m) = metrics {
        m.abort();
    }
    if let Some(w) = web {
        w.abort();
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
