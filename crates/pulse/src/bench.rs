//! `pulse bench`: benchmarks of the product's own code paths on the store in
//! use. (The Score load generator and the feature benchmark, which need
//! only the library crates, are the separate `pulse-bench` command.)
//!
//! `pulse bench import`: import throughput (target: 200,000 interactions
//! per second into SQLite). Generates a synthetic base (or takes
//! a directory of import files), imports it with `pulse import`'s code into a
//! fresh SQLite file per run, without and with sentiment scoring, and prints
//! rows/s per entity, the process's CPU seconds and the machine's load.
//!
//! `pulse bench pipeline`: every step of the product on a fresh store, each
//! in its own process (see `bench_pipeline`).
//!
//! `pulse bench console`: the server time of each web console page.
//!
//! `pulse bench explain`: the in-process cost of scoring one feature vector
//! with the promoted models, as a raw-feature `Score` does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use pulse_core::time;

use crate::config::Config;
use crate::import::{DEFAULT_BATCH, FileReport, ImportOptions};

/// `pulse bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Debug, Subcommand)]
enum BenchWhat {
    /// The whole pipeline on a fresh store: synth, import, training, the
    /// week's scoring run, lists, forecast and report, and a server start to
    /// its first Score; wall time, CPU seconds and peak memory per step.
    Pipeline(crate::bench_pipeline::PipelineArgs),
    /// In-process cost of scoring one feature vector (what a raw-feature Score
    /// costs without gRPC): the promoted models over every live account's row.
    Explain {
        /// Passes over the population; the report shows each and the best.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Drivers formatted per score.
        #[arg(long, default_value_t = 3)]
        top_drivers: usize,
    },
    /// Server time of each web console page on the store in use (in
    /// process, no socket): the first call and the median of the rest.
    Console {
        /// Calls per page after the first.
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// Import a synthetic base into fresh SQLite files and report rows/s per entity.
    Import {
        /// Accounts in the generated base.
        #[arg(long, default_value_t = 20_000)]
        accounts: usize,
        /// Months of history in the generated base.
        #[arg(long, default_value_t = 24)]
        months: u32,
        /// Import the files of this directory instead of generating a base.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Runs of each sentiment mode; each into a fresh database.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Without sentiment scoring, with it (the default model), or both.
        #[arg(long, value_enum, default_value_t = SentimentMode::Both)]
        sentiment: SentimentMode,
        /// Records per transaction.
        #[arg(long, default_value_t = DEFAULT_BATCH)]
        batch_size: usize,
        /// Keep the generated files and databases (under <data-dir>/bench-import).
        #[arg(long)]
        keep: bool,
        /// Also import the same base written in vendors' export shapes
        /// (`pulse synth --format`) through the presets, runs interleaved
        /// with the native ones, and report mapped / native.
        #[arg(long)]
        mapped: bool,
        /// Which vendors' shapes `--mapped` writes: 0 is HubSpot, Zendesk
        /// and Delighted; 1 is Salesforce, Intercom, Qualtrics and Stripe;
        /// 2 is Salesforce and Freshdesk.
        #[arg(long, default_value_t = 0, requires = "mapped")]
        vendors: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SentimentMode {
    Off,
    On,
    Both,
}

pub(crate) async fn run(cfg: &Config, args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Pipeline(args) => crate::bench_pipeline::run(cfg, args).await,
        BenchWhat::Explain { runs, top_drivers } => {
            let store = crate::open_store(cfg).await?;
            let r = explain(cfg, &store, runs.max(1), top_drivers).await;
            store.close().await;
            r
        }
        BenchWhat::Console { runs } => {
            let store = crate::open_store(cfg).await?;
            let r = console(cfg, &store, runs.max(1)).await;
            store.close().await;
            r
        }
        BenchWhat::Import {
            accounts,
            months,
            from,
            runs,
            sentiment,
            batch_size,
            keep,
            mapped,
            vendors,
        } => {
            if vendors >= crate::vendor_export::SETS.len() {
                bail!(
                    "--vendors: {vendors} is not a set of vendors (0 to {})",
                    crate::vendor_export::SETS.len() - 1
                );
            }
            let work = cfg.data_dir.join("bench-import");
            let files = match from {
                Some(dir) => dir,
                None => {
                    let dir = work.join("synth");
                    // A fixed end date: the same command gives the same files.
                    let end =
                        time::parse_day("end", "2026-06-30").map_err(|e| anyhow::anyhow!("{e}"))?;
                    crate::synth(accounts, months, 42, end, None, &dir)?;
                    dir
                }
            };
            let vendor = if mapped {
                let dir = work.join("vendor");
                copy_files(&files, &dir)?;
                let formats = crate::vendor_export::set(vendors);
                crate::vendor_export::convert(&dir, &formats)?;
                let mapping = crate::presets::load_all(&formats, &[])?.expect("presets were given");
                Some((dir, mapping))
            } else {
                None
            };
            let r = import(
                cfg,
                &work,
                &files,
                vendor,
                runs.max(1),
                sentiment,
                batch_size,
            )
            .await;
            if !keep {
                std::fs::remove_dir_all(&work)
                    .with_context(|| format!("removing {}", work.display()))?;
            }
            r
        }
    }
}

/// `pulse bench explain`: one thread scores every live account's feature row
/// with the promoted models, `runs` times, as a raw-feature `Score` does
/// (probabilities, exact contributions, quadrant, drivers with sentences).
async fn explain(
    cfg: &Config,
    store: &pulse_store::Store,
    runs: usize,
    top_k: usize,
) -> anyhow::Result<()> {
    let scoring = crate::scores_cmd::ready_scoring(cfg, store).await?;
    let serving = scoring.current().context("no promoted model is loaded")?;
    let scored = serving
        .scored
        .clone()
        .context("no scoring population (no live accounts?)")?;
    let pop = &scored.population;
    let n = pop.accounts.len();
    if n == 0 {
        bail!("no live accounts to score");
    }
    println!(
        "scoring {n} accounts x {runs} runs, {top_k} drivers, churn model {} (load average {})",
        serving.engine.churn_version(),
        load_average()
    );
    let mut best = f64::INFINITY;
    let mut checksum = 0.0;
    for run in 1..=runs {
        let started = Instant::now();
        for (i, meta) in pop.accounts.iter().enumerate() {
            let row = pop.rows.row(i);
            let row = row.as_slice().context("population rows are contiguous")?;
            let subject = pulse_scoring::Subject {
                account_id: &meta.id,
                as_of: pop.as_of,
                row,
                arr: meta.arr,
                segment: Some(meta.segment.as_str()),
            };
            let s = serving
                .engine
                .score(&subject, Some(&pop.reference), top_k)?;
            checksum += s.churn_probability;
        }
        let us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
        best = best.min(us);
        println!("run {run}: {us:.1} us per account");
    }
    println!(
        "best: {best:.1} us per account ({:.0} accounts/s on one core); mean probability {:.4}",
        1e6 / best,
        checksum / (runs * n) as f64
    );
    Ok(())
}

/// `pulse bench console`: each page of the web console answered in process,
/// the first call (cold: caches empty) and the median and maximum of `runs`
/// more, over the store in use with its promoted models.
async fn console(cfg: &Config, store: &pulse_store::Store, runs: usize) -> anyhow::Result<()> {
    let scoring = crate::scores_cmd::ready_scoring(cfg, store).await?;
    let registry = std::sync::Arc::new(crate::train::open_registry(cfg)?);
    let mut state = pulse_web::WebState::new(store.clone(), scoring, registry);
    state.lists = cfg.lists.clone();
    state.currency = cfg.web.currency.clone();
    state.sentiment = crate::sentiment_cmd::serving_slot(cfg)?;
    let router = pulse_web::router(state);
    let l = pulse_app::lists::load(store, "week", "")
        .await
        .context("the console's pages need a generated week: run `pulse lists generate`")?;
    let top = pulse_app::lists::risk_rows(
        store,
        &l,
        &pulse_app::lists::RowFilter::new("", "", "", 1)?,
        false,
    )
    .await?;
    let first = top
        .first()
        .context("the latest week's at-risk list is empty")?;
    let q = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let pages = [
        format!("/accounts/{}", q(&first.account_id)),
        "/lists".to_string(),
        format!("/lists?owner={}", q(&first.owner)),
        "/lists?format=csv&top=10000".to_string(),
        format!("/owners/{}", q(&first.owner)),
        format!("/search?q={}", q(&first.name[..first.name.len().min(4)])),
        "/leadership".to_string(),
        "/models".to_string(),
    ];
    println!(
        "web console pages, in process, {runs} calls each after the first (load average {})",
        load_average()
    );
    println!(
        "{:<44} {:>6} {:>10} {:>11} {:>10} {:>10}",
        "page", "status", "bytes", "first ms", "median ms", "max ms"
    );
    for page in &pages {
        let started = Instant::now();
        let (status, bytes) = pulse_web::get_page(&router, page)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        let first_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            pulse_web::get_page(&router, page)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let shown: String = page.chars().take(44).collect();
        println!(
            "{shown:<44} {status:>6} {bytes:>10} {first_ms:>11.1} {:>10.1} {:>10.1}",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    Ok(())
}

/// The machine's load averages (1, 5, 15 minutes), as `/proc/loadavg` says.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// One import of every file in `files` into a fresh SQLite database in `dir`.
async fn import_once(
    dir: &Path,
    files: &[PathBuf],
    batch_size: usize,
    sentiment: Option<std::sync::Arc<pulse_sentiment::SentimentModel>>,
    mapping: Option<std::sync::Arc<crate::mapping::Mapping>>,
) -> anyhow::Result<(Vec<FileReport>, f64, Option<f64>)> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let url = format!("sqlite://{}", dir.join("pulse.db").display());
    let store = pulse_store::Store::connect(&url).await?;
    let opts = ImportOptions {
        batch_size,
        rejects_path: dir.join("import-rejects.csv"),
        progress: false,
        sentiment,
        mapping,
        dry_run: false,
    };
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let report = crate::import::import(&store, files, &opts).await?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu0.zip(cpu_seconds()).map(|(a, b)| b - a);
    store.close().await;
    Ok((report.files, wall, cpu))
}

/// Copies the import files of `from` (not `truth/`) into `to`.
fn copy_files(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for f in crate::expand_paths(&[from.to_path_buf()], None)? {
        let name = f.file_name().expect("a file");
        std::fs::copy(&f, to.join(name)).with_context(|| format!("copying {}", f.display()))?;
    }
    Ok(())
}

/// One entity's files in one run: name, rows, seconds, CPU seconds,
/// inserted, updated, rejected.
type KindTotals = (String, u64, f64, Option<f64>, u64, u64, u64);

/// One way of importing: label, sentiment model, files, mapping.
type ImportMode = (
    String,
    Option<std::sync::Arc<pulse_sentiment::SentimentModel>>,
    Vec<PathBuf>,
    Option<std::sync::Arc<crate::mapping::Mapping>>,
);

async fn import(
    cfg: &Config,
    work: &Path,
    from: &Path,
    vendor: Option<(PathBuf, crate::mapping::Mapping)>,
    runs: usize,
    mode: SentimentMode,
    batch_size: usize,
) -> anyhow::Result<()> {
    let files = crate::expand_paths(&[from.to_path_buf()], None)?;
    let model = match mode {
        SentimentMode::Off => None,
        SentimentMode::On | SentimentMode::Both => {
            match crate::sentiment_cmd::load_default_model(cfg)? {
                Some(m) => Some(m),
                None => bail!(
                    "no sentiment model found: use --sentiment off, or run from the repository root"
                ),
            }
        }
    };
    let sentiments: Vec<(
        &str,
        Option<std::sync::Arc<pulse_sentiment::SentimentModel>>,
    )> = match mode {
        SentimentMode::Off => vec![("no sentiment", None)],
        SentimentMode::On => vec![("with sentiment", model)],
        SentimentMode::Both => vec![("no sentiment", None), ("with sentiment", model)],
    };
    let mut modes: Vec<ImportMode> = Vec::new();
    for (label, model) in &sentiments {
        match &vendor {
            None => modes.push((label.to_string(), model.clone(), files.clone(), None)),
            Some((dir, mapping)) => {
                let mapping = std::sync::Arc::new(mapping.clone());
                let vendor_files = crate::expand_paths(std::slice::from_ref(dir), Some(&mapping))?;
                modes.push((
                    format!("native, {label}"),
                    model.clone(),
                    files.clone(),
                    None,
                ));
                modes.push((
                    format!("mapped, {label}"),
                    model.clone(),
                    vendor_files,
                    Some(mapping),
                ));
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "import of {} into fresh SQLite files (WAL), batch {batch_size}, {cores} cores, load average {}",
        from.display(),
        load_average()
    )?;
    // The best rows/s of each entity in each mode, and each mode's walls.
    let mut best: Vec<(String, u64, Vec<f64>)> = Vec::new();
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    // Runs interleave the modes, so a change in the machine's load touches all.
    for run in 1..=runs {
        for (m, (label, model, files, mapping)) in modes.iter().enumerate() {
            let dir = work.join(format!("run-{m}-{run}"));
            let (reports, wall, cpu) =
                import_once(&dir, files, batch_size, model.clone(), mapping.clone()).await?;
            walls[m].push(wall);
            let rows: u64 = reports.iter().map(|f| f.rows - f.skipped).sum();
            let cpu = cpu.map_or(String::new(), |c| format!(", {c:.1} CPU-s"));
            writeln!(
                o,
                "{label}, run {run}: {rows} rows in {wall:.2}s{cpu}, load average after {}",
                load_average()
            )?;
            // Per entity: files of one kind (two Delighted files) add up.
            let mut kinds: Vec<KindTotals> = Vec::new();
            for f in &reports {
                let name = f.kind.map_or("?", |k| k.as_str()).to_string();
                let at = match kinds.iter().position(|k| k.0 == name) {
                    Some(i) => i,
                    None => {
                        kinds.push((name, 0, 0.0, Some(0.0), 0, 0, 0));
                        kinds.len() - 1
                    }
                };
                let k = &mut kinds[at];
                // Rows a block's `when` left out are not the entity's: a
                // file read by several blocks (Stripe's event types) counts
                // each row once, for the block that keeps it.
                k.1 += f.rows - f.skipped;
                k.2 += f.elapsed.as_secs_f64();
                k.3 = k.3.zip(f.cpu).map(|(a, b)| a + b);
                k.4 += f.inserted;
                k.5 += f.updated;
                k.6 += f.rejected;
            }
            for (name, rows, secs, cpu, ins, upd, rej) in kinds {
                let rate = rows as f64 / secs.max(1e-9);
                let cpu = cpu.map_or(String::new(), |c| {
                    format!(
                        ", {c:.2} CPU-s = {:.0} rows per CPU-s",
                        rows as f64 / c.max(1e-9)
                    )
                });
                writeln!(
                    o,
                    "  {name:<20} {rows:>10} rows {secs:>8.2}s {rate:>10.0} rows/s  ({ins} inserted, {upd} updated, {rej} rejected{cpu})",
                )?;
                let at = match best.iter().position(|b| b.0 == name) {
                    Some(i) => i,
                    None => {
                        best.push((name.clone(), rows, vec![0.0; modes.len()]));
                        best.len() - 1
                    }
                };
                best[at].2[m] = best[at].2[m].max(rate);
            }
        }
    }
    write!(
        o,
        "best rows/s of {runs} run(s):\n  {:<20} {:>10}",
        "entity", "rows"
    )?;
    for (label, ..) in &modes {
        write!(o, " {label:>26}")?;
    }
    if vendor.is_some() {
        write!(o, " {:>16}", "mapped/native")?;
    }
    writeln!(o)?;
    for (name, rows, rates) in &best {
        write!(o, "  {name:<20} {rows:>10}")?;
        for r in rates {
            write!(o, " {r:>26.0}")?;
        }
        if vendor.is_some() {
            let ratios: Vec<String> = rates
                .chunks(2)
                .map(|p| format!("{:.2}x", p[1] / p[0].max(1e-9)))
                .collect();
            write!(o, " {:>16}", ratios.join(" "))?;
        }
        writeln!(o)?;
    }
    if vendor.is_some() {
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        for pair in (0..modes.len()).collect::<Vec<_>>().chunks(2) {
            let (n, m) = (median(&walls[pair[0]]), median(&walls[pair[1]]));
            writeln!(
                o,
                "median wall: {} {n:.2}s, {} {m:.2}s: mapped runs at {:.2}x native speed",
                modes[pair[0]].0,
                modes[pair[1]].0,
                n / m.max(1e-9)
            )?;
        }
    }
    Ok(())
}

/// CPU seconds used by this process so far (Linux; `None` elsewhere), so the
/// report stays meaningful on a shared, loaded machine.
pub(crate) fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (in parentheses): utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_import_benchmark_runs_native_and_mapped_on_a_small_base_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let args = |vendors| BenchArgs {
            what: BenchWhat::Import {
                accounts: 5,
                months: 2,
                from: None,
                runs: 2,
                sentiment: SentimentMode::Off,
                batch_size: 100,
                keep: false,
                mapped: true,
                vendors,
            },
        };
        for vendors in 0..crate::vendor_export::SETS.len() {
            run(&cfg, args(vendors)).await.unwrap();
            assert!(!dir.path().join("bench-import").exists());
        }
        let e = run(&cfg, args(9)).await.unwrap_err();
        assert!(format!("{e}").contains("--vendors: 9 is not a set"), "{e}");
    }
}
