//! `pulse bench pipeline`: the whole product on a fresh store, step by step,
//! each step in a process of its own so its wall time, CPU seconds and peak
//! resident memory are its own.
//!
//! Steps: synth, import without sentiment (into a scratch store, then
//! dropped), import with sentiment, training (churn, expansion, time to
//! churn; no ablation), the week's scoring run, lists, forecast and report,
//! and a server start up to its first answered `Score` by id.
//!
//! Each child runs this same executable with the bench's data directory,
//! database and model registry. CPU seconds come from the child's
//! `/proc/<pid>/stat` read when it has exited but is not yet reaped (a
//! zombie keeps its times), peak memory from `VmHWM` in `/proc/<pid>/status`:
//! sampled every 20 ms while it runs, and written by the step itself as it
//! ends ([`write_own_usage`], so a step shorter than a sample still has its
//! peak). Linux only; elsewhere those columns are blank.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use crate::config::Config;

/// The database names the PostgreSQL run creates (and drops unless `--keep`).
const PG_DATABASE: &str = "pulse_bench_pipeline";
const PG_SCRATCH: &str = "pulse_bench_pipeline_scratch";

/// When set, a `pulse` process writes its peak resident memory (kB) to
/// this file as it ends ([`write_own_usage`]).
pub(crate) const USAGE_ENV: &str = "PULSE_BENCH_USAGE";

/// Writes this process's `VmHWM` (kB) to the file named by [`USAGE_ENV`],
/// if it is set. Called by `main` after the command, so that a step of the
/// benchmark reports the peak of its whole run however short it was.
pub(crate) fn write_own_usage() {
    let Some(path) = std::env::var_os(USAGE_ENV) else {
        return;
    };
    if let Some(kb) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(peak_kb)
    {
        let _ = std::fs::write(path, format!("{kb}\n"));
    }
}

/// The peak (kB) a step wrote with [`write_own_usage`].
fn reported_peak_kb(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// How often a running step's memory and state are read.
const SAMPLE: Duration = Duration::from_millis(20);

#[derive(Debug, Args)]
pub(crate) struct PipelineArgs {
    /// Accounts in the generated base.
    #[arg(long, default_value_t = 2_000)]
    accounts: usize,
    /// Months of history.
    #[arg(long, default_value_t = 24)]
    months: u32,
    /// Random seed of the base.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The store to run on: a fresh SQLite file, or a fresh database on the
    /// PostgreSQL server of `--postgres-url`.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// A PostgreSQL URL whose user may create databases [default: the
    /// configured database URL when it is PostgreSQL]. The benchmark creates
    /// `pulse_bench_pipeline` (and a scratch database) there, dropping any
    /// earlier one of that name.
    #[arg(long)]
    postgres_url: Option<String>,
    /// Seconds the server keeps running after its first answer (its warm-up:
    /// the console's precomputed pages) before its peak memory is read.
    #[arg(long, default_value_t = 20)]
    settle_secs: u64,
    /// Keep the files, logs and databases (under <data-dir>/bench-pipeline).
    #[arg(long)]
    keep: bool,
    /// Also write the table (Markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// What one step cost.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepCost {
    pub(crate) wall: f64,
    /// CPU seconds (user + system) of the step's process; `None` off Linux.
    pub(crate) cpu: Option<f64>,
    /// Peak resident memory in MB; `None` off Linux.
    pub(crate) peak_mb: Option<f64>,
}

/// A measured row of the table.
#[derive(Debug, Clone)]
struct Row {
    step: String,
    cost: StepCost,
}

pub(crate) async fn run(cfg: &Config, args: PipelineArgs) -> anyhow::Result<()> {
    // The PostgreSQL server first: a missing URL is refused before any work.
    let pg_server = match (args.backend, &args.postgres_url) {
        (Backend::Sqlite, _) => None,
        (Backend::Postgres, Some(u)) => Some(u.clone()),
        (Backend::Postgres, None) if cfg.database_url.starts_with("postgres") => {
            Some(cfg.database_url.clone())
        }
        (Backend::Postgres, None) => bail!(
            "--backend postgres needs --postgres-url (a PostgreSQL URL whose user may create databases)"
        ),
    };
    let work = cfg.data_dir.join("bench-pipeline");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    std::fs::create_dir_all(work.join("logs"))
        .with_context(|| format!("creating {}", work.display()))?;
    let (url, scratch_url) = match &pg_server {
        None => (
            format!("sqlite://{}", work.join("pulse.db").display()),
            format!("sqlite://{}", work.join("scratch.db").display()),
        ),
        Some(server) => {
            let main = pulse_store::Store::recreate_postgres_database(server, PG_DATABASE)
                .await
                .with_context(|| format!("creating database {PG_DATABASE}"))?;
            let scratch = pulse_store::Store::recreate_postgres_database(server, PG_SCRATCH)
                .await
                .with_context(|| format!("creating database {PG_SCRATCH}"))?;
            (main, scratch)
        }
    };
    let result = pipeline(cfg, &args, &work, &url, &scratch_url).await;
    if args.keep {
        println!("Kept: {} (and the store {url})", work.display());
        return result;
    }
    if let Some(server) = &pg_server {
        for db in [PG_DATABASE, PG_SCRATCH] {
            pulse_store::Store::drop_postgres_database(server, db)
                .await
                .with_context(|| format!("dropping database {db}"))?;
        }
    }
    std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    result
}

async fn pipeline(
    cfg: &Config,
    args: &PipelineArgs,
    work: &Path,
    url: &str,
    scratch_url: &str,
) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the pulse executable")?;
    // Without the default sentiment model the "import with sentiment" step
    // would quietly import without it, and time the wrong thing.
    let model = crate::sentiment_cmd::DEFAULT_MODEL;
    if !(Path::new(model).is_file() || work.join(model).is_file()) {
        bail!(
            "the step \"import with sentiment\" needs the default sentiment model, and {model} is not in the working directory: run the benchmark from the checkout's root"
        );
    }
    let synth_dir = work.join("synthetic");
    let end = pulse_core::time::format_day(cfg.clock.today() - 1);
    let backend = match args.backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_before = crate::bench::load_average();
    println!(
        "Pipeline benchmark on {backend}: {} accounts x {} months (seed {}), {cores} cores, load average {load_before}",
        args.accounts, args.months, args.seed
    );
    println!("Logs of each step: {}", work.join("logs").display());

    let accounts = args.accounts.to_string();
    let months = args.months.to_string();
    let seed = args.seed.to_string();
    let synth_out = synth_dir.display().to_string();
    let report_out = work.join("report.html").display().to_string();
    let steps: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "synth",
            url,
            vec![
                "synth",
                "--accounts",
                &accounts,
                "--months",
                &months,
                "--seed",
                &seed,
                "--end",
                &end,
                "--out",
                &synth_out,
            ],
        ),
        (
            "import without sentiment",
            scratch_url,
            vec!["import", "--no-sentiment", &synth_out],
        ),
        ("import with sentiment", url, vec!["import", &synth_out]),
        (
            "train (churn, expansion, time to churn)",
            url,
            vec!["train", "--no-ablation", "--promote"],
        ),
        ("scoring run", url, vec!["scores", "run"]),
        ("lists", url, vec!["lists", "generate"]),
        ("forecast", url, vec!["forecast"]),
        ("report", url, vec!["report", "--out", &report_out]),
    ];
    let mut rows = Vec::new();
    let total = steps.len() + 1;
    for (i, (name, db, step_args)) in steps.iter().enumerate() {
        print!("[{}/{total}] {name} ... ", i + 1);
        flush();
        let log = work
            .join("logs")
            .join(format!("{:02}-{}.log", i + 1, slug(name)));
        let mut cmd = child(&exe, cfg, work, db);
        cmd.args(step_args);
        let cost = run_step(cmd, &log)?;
        println!("{}", cost.line());
        rows.push(Row {
            step: (*name).to_string(),
            cost,
        });
        if *name == "synth" {
            // The files on disk before the import reads them, so that no
            // step pays for the write-back of the synthesis's files (1.4 GB
            // at 50,000 accounts).
            let t = Instant::now();
            sync_files(&synth_dir).with_context(|| format!("syncing {}", synth_dir.display()))?;
            println!(
                "      (files synced to disk in {:.2}s)",
                t.elapsed().as_secs_f64()
            );
        }
        if *name == "import without sentiment" && args.backend == Backend::Sqlite {
            // The scratch store is only there to be timed.
            let _ = std::fs::remove_file(work.join("scratch.db"));
        }
    }

    // A live account to ask for: the top of the stored run.
    let store = pulse_store::Store::connect(url).await?;
    let run = store.score_runs(1).await?;
    let Some(run) = run.first() else {
        bail!(
            "the scoring run stored nothing: see {}",
            work.join("logs").display()
        );
    };
    let account = store
        .run_scores(run.run_id)
        .await?
        .into_iter()
        .next()
        .map(|s| s.account_id)
        .context("the scoring run holds no account")?;
    let stored_rows: u64 = store.table_counts().await?.iter().map(|(_, n)| *n).sum();
    store.close().await;

    print!("[{total}/{total}] server start to first Score ... ");
    flush();
    let log = work.join("logs").join(format!("{total:02}-serve.log"));
    let (cost, first) = serve_step(&exe, cfg, work, url, &account, &log, args.settle_secs).await?;
    println!(
        "first answer after {:.2}s; {} (peak over {}s more)",
        first,
        cost.line(),
        args.settle_secs
    );

    let load_after = crate::bench::load_average();
    let table = table(
        &rows,
        ("server start to first Score", first, &cost),
        &format!(
            "{backend}, {} accounts x {} months (seed {}), {stored_rows} stored rows; {cores} cores; load average {load_before} before, {load_after} after",
            args.accounts, args.months, args.seed
        ),
    );
    println!();
    println!("{table}");
    if let Some(out) = &args.out {
        std::fs::write(out, &table).with_context(|| format!("writing {}", out.display()))?;
        println!("Written to {}", out.display());
    }
    Ok(())
}

/// The Markdown table: every step, the weekly pipeline's sum (and its
/// largest peak), and the server's start.
fn table(rows: &[Row], server: (&str, f64, &StepCost), caption: &str) -> String {
    let mut s = format!(
        "{caption}\n\n| step | wall s | CPU s | CPU / wall | peak MB |\n|---|---:|---:|---:|---:|\n"
    );
    for r in rows {
        s.push_str(&r.cost.row(&r.step));
    }
    const WEEKLY: [&str; 4] = ["scoring run", "lists", "forecast", "report"];
    let weekly: Vec<&StepCost> = rows
        .iter()
        .filter(|r| WEEKLY.contains(&r.step.as_str()))
        .map(|r| &r.cost)
        .collect();
    if weekly.len() == WEEKLY.len() {
        let sum = StepCost {
            wall: weekly.iter().map(|c| c.wall).sum(),
            cpu: weekly.iter().map(|c| c.cpu).sum(),
            peak_mb: weekly
                .iter()
                .map(|c| c.peak_mb)
                .try_fold(0.0f64, |m, p| p.map(|p| m.max(p))),
        };
        s.push_str(
            &sum.row("weekly pipeline (scoring run + lists + forecast + report; largest peak)"),
        );
    }
    let (name, first, cost) = server;
    s.push_str(&format!(
        "| {name} | {first:.2} | {} | | {} |\n",
        cost.cpu.map_or(String::new(), |c| format!("{c:.1}")),
        cost.peak_mb.map_or(String::new(), |m| format!("{m:.0}")),
    ));
    s.push_str(
        "\nThe server's CPU seconds and peak memory cover its whole run: start, first answer and the settle time after it.\n",
    );
    s
}

impl StepCost {
    fn line(&self) -> String {
        format!(
            "{:.2}s wall, {} CPU-s, peak {} MB",
            self.wall,
            self.cpu.map_or("?".into(), |c| format!("{c:.1}")),
            self.peak_mb.map_or("?".into(), |m| format!("{m:.0}"))
        )
    }

    fn row(&self, step: &str) -> String {
        let ratio = match self.cpu {
            Some(c) if self.wall > 0.0 => format!("{:.2}", c / self.wall),
            _ => String::new(),
        };
        format!(
            "| {step} | {:.2} | {} | {ratio} | {} |\n",
            self.wall,
            self.cpu.map_or(String::new(), |c| format!("{c:.1}")),
            self.peak_mb.map_or(String::new(), |m| format!("{m:.0}"))
        )
    }
}

/// This executable with the bench's data directory, store and registry.
fn child(exe: &Path, cfg: &Config, work: &Path, url: &str) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg("--data-dir")
        .arg(work)
        .arg("--database-url")
        .arg(url)
        .arg("--models-dir")
        .arg(work.join("models"))
        .arg("--log-format")
        .arg("text")
        // The clock the bench runs on (a fixed PULSE_CLOCK stays fixed).
        .env("PULSE_CLOCK", cfg.clock.now_rfc3339())
        // A failing step's log ends with its error, not a backtrace.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null());
    cmd
}

/// Flushes every file under `dir` to disk (`fsync`).
fn sync_files(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sync_files(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    Ok(())
}

fn run_step(mut cmd: Command, log: &Path) -> anyhow::Result<StepCost> {
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    cmd.stdout(out.try_clone()?).stderr(out);
    let usage = log.with_extension("usage");
    let _ = std::fs::remove_file(&usage);
    cmd.env(USAGE_ENV, &usage);
    let t0 = Instant::now();
    let mut child = cmd.spawn().context("starting a step")?;
    let mut probe = Probe::new(child.id());
    loop {
        probe.sample();
        if probe.exited() {
            break;
        }
        // A process that is gone from /proc (not Linux, or reaped) is waited for.
        if probe.unreadable() {
            break;
        }
        std::thread::sleep(SAMPLE);
    }
    let status = child.wait().context("waiting for a step")?;
    let wall = t0.elapsed().as_secs_f64();
    if !status.success() {
        bail!("the step failed ({status}); its output:\n{}", tail(log, 30));
    }
    let reported = reported_peak_kb(&usage).map(|kb| kb as f64 / 1024.0);
    let _ = std::fs::remove_file(&usage);
    Ok(StepCost {
        wall,
        cpu: probe.cpu,
        peak_mb: match (probe.peak_mb, reported) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        },
    })
}

/// Starts `pulse serve` on free loopback ports, calls `Score` for `account`
/// until it answers, lets the server settle, reads its cost and stops it.
/// Returns the cost and the seconds from start to the first answer.
async fn serve_step(
    exe: &Path,
    cfg: &Config,
    work: &Path,
    url: &str,
    account: &str,
    log: &Path,
    settle_secs: u64,
) -> anyhow::Result<(StepCost, f64)> {
    let port = free_port()?;
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut cmd = child(exe, cfg, work, url);
    cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("PULSE_WEB__ADDR", format!("127.0.0.1:{}", free_port()?))
        .env("PULSE_METRICS__ADDR", format!("127.0.0.1:{}", free_port()?))
        .stdout(out.try_clone()?)
        .stderr(out);
    let t0 = Instant::now();
    let child = cmd.spawn().context("starting pulse serve")?;
    let mut server = Running(child);
    let mut probe = Probe::new(server.0.id());
    let first = loop {
        probe.sample();
        if probe.exited() || server.0.try_wait()?.is_some() {
            bail!(
                "pulse serve stopped before answering; its output:\n{}",
                tail(log, 30)
            );
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!(
                "pulse serve did not answer Score within 600 s; its output:\n{}",
                tail(log, 30)
            );
        }
        if score_once(port, account).await {
            break t0.elapsed().as_secs_f64();
        }
        tokio::time::sleep(SAMPLE).await;
    };
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(settle_secs) {
        probe.sample();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    probe.sample();
    let cost = StepCost {
        wall: t0.elapsed().as_secs_f64(),
        cpu: probe.cpu,
        peak_mb: probe.peak_mb,
    };
    drop(server);
    Ok((cost, first))
}

/// Whether the server at `port` answers `Score` for `account` now.
async fn score_once(port: u16, account: &str) -> bool {
    use pulse_proto::v1 as pb;
    let Ok(channel) = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .map(|e| e.connect_timeout(Duration::from_secs(1)))
    else {
        return false;
    };
    let Ok(channel) = channel.connect().await else {
        return false;
    };
    let mut client = pb::scoring_service_client::ScoringServiceClient::new(channel);
    client
        .score(pb::ScoreRequest {
            subject: Some(pb::score_request::Subject::AccountId(account.to_string())),
            ..Default::default()
        })
        .await
        .is_ok()
}

/// A child process killed and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port (bound, read and released).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// What `/proc` says of one process, sampled while it runs.
struct Probe {
    pid: u32,
    cpu: Option<f64>,
    peak_mb: Option<f64>,
    state: Option<char>,
}

impl Probe {
    fn new(pid: u32) -> Probe {
        Probe {
            pid,
            cpu: None,
            peak_mb: None,
            state: None,
        }
    }

    fn sample(&mut self) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok();
        match stat.as_deref().and_then(parse_stat) {
            Some((state, cpu)) => {
                self.state = Some(state);
                self.cpu = Some(cpu);
            }
            None => self.state = None,
        }
        if let Some(kb) = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .as_deref()
            .and_then(peak_kb)
        {
            let mb = kb as f64 / 1024.0;
            self.peak_mb = Some(self.peak_mb.map_or(mb, |m: f64| m.max(mb)));
        }
    }

    /// Exited, not yet reaped: its times are final.
    fn exited(&self) -> bool {
        matches!(self.state, Some('Z') | Some('X'))
    }

    fn unreadable(&self) -> bool {
        self.state.is_none()
    }
}

/// State and CPU seconds (user + system; clock ticks at 100 Hz) from a
/// `/proc/<pid>/stat` line.
fn parse_stat(stat: &str) -> Option<(char, f64)> {
    // Fields after the command name (in parentheses): state is 3, utime and
    // stime are 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((state, (utime + stime) / 100.0))
}

/// `VmHWM` (peak resident set, kB) from a `/proc/<pid>/status` text.
fn peak_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn slug(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join("-")
}

/// The last `n` lines of a log.
fn tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn flush() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_state_and_cpu_even_with_spaces_in_the_name() {
        let line = "4242 (pulse serve) Z 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 1 0";
        assert_eq!(parse_stat(line), Some(('Z', 3.25)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_peak_is_vmhwm() {
        let status = "Name:\tpulse\nVmPeak:\t 900 kB\nVmHWM:\t  51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(peak_kb(status), Some(51_200));
        assert_eq!(peak_kb("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_can_be_probed() {
        let mut p = Probe::new(std::process::id());
        p.sample();
        assert!(p.state.is_some());
        assert!(p.cpu.is_some_and(|c| c >= 0.0));
        assert!(p.peak_mb.is_some_and(|m| m > 1.0));
        assert!(!p.exited());
    }

    #[test]
    fn the_table_sums_the_weekly_steps_and_keeps_the_largest_peak() {
        let cost = |wall, cpu, peak| StepCost {
            wall,
            cpu: Some(cpu),
            peak_mb: Some(peak),
        };
        let rows: Vec<Row> = [
            (
                "train (churn, expansion, time to churn)",
                cost(100.0, 170.0, 3000.0),
            ),
            ("scoring run", cost(2.0, 3.0, 400.0)),
            ("lists", cost(1.0, 1.5, 500.0)),
            ("forecast", cost(1.5, 2.0, 300.0)),
            ("report", cost(5.5, 6.0, 350.0)),
        ]
        .into_iter()
        .map(|(s, c)| Row {
            step: s.into(),
            cost: c,
        })
        .collect();
        let t = table(
            &rows,
            ("server start", 3.25, &cost(23.0, 9.0, 800.0)),
            "caption",
        );
        assert!(t.starts_with("caption\n"));
        assert!(t.contains(
            "| train (churn, expansion, time to churn) | 100.00 | 170.0 | 1.70 | 3000 |"
        ));
        assert!(t.contains("| weekly pipeline (scoring run + lists + forecast + report; largest peak) | 10.00 | 12.5 | 1.25 | 500 |"));
        assert!(t.contains("| server start | 3.25 | 9.0 | | 800 |"));
    }

    #[test]
    fn every_file_under_the_synthetic_base_is_synced_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("truth")).unwrap();
        std::fs::write(dir.path().join("accounts.csv"), "id\n").unwrap();
        std::fs::write(dir.path().join("truth").join("t.csv"), "id\n").unwrap();
        sync_files(dir.path()).unwrap();
        assert!(sync_files(&dir.path().join("absent")).is_err());
    }

    #[test]
    fn step_logs_are_named_after_the_step() {
        assert_eq!(
            slug("train (churn, expansion, time to churn)"),
            "train-churn-expansion"
        );
        assert_eq!(slug("import without sentiment"), "import-without-sentiment");
    }
}
