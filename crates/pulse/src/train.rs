//! `pulse train` (from the store, or `--table FILE.csv`), `pulse models
//! list|show|promote` and `pulse score --table`: the command-line side of the
//! training pipeline (`pulse_training`) and the directory model registry.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use pulse_app::{ModelRegistry, RegistryEntry};
use pulse_core::time::format_day;
use pulse_models::{LabelSpec, Metrics, ModelCard, ModelKind, Table};
use pulse_store::Store;
use pulse_training::{DecisionRule, Progress, TableSpec, TrainConfig, train_table};
use std::sync::Arc;

use crate::config::Config;
use pulse_app::DirRegistry;

/// `pulse train`.
#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// Models to train from the store (churn, expansion; comma-separated) [default: both].
    /// With --table: what the table's label means [default: churn].
    #[arg(long = "kind", value_delimiter = ',')]
    kinds: Vec<String>,
    /// Promote the new versions whatever the comparison says (without it, a
    /// kind with no promoted model gets the new one, and otherwise it is a
    /// challenger promoted only when it beats the champion by the
    /// `[model_ops]` rule).
    #[arg(long)]
    promote: bool,
    /// Label horizon in days [default: training.horizon_days, 90].
    #[arg(long)]
    horizon_days: Option<i32>,
    /// Weekly outreach capacity K for precision/recall at K [default: training.capacity, 50].
    #[arg(long)]
    capacity: Option<usize>,
    /// Train even if the leakage gate flags a feature (recorded in the model card).
    #[arg(long)]
    allow_leakage: bool,
    /// Skip the feature-family ablation (faster).
    #[arg(long)]
    no_ablation: bool,
    /// Train on what was known at the end of this day (YYYY-MM-DD): labels
    /// and snapshots stop there [default: all data].
    #[arg(long)]
    data_end: Option<String>,
    /// Known churn reasons (`truth/truth_accounts.csv` of `pulse synth`):
    /// the churn card then reports how often the backtest's reasons match.
    #[arg(long, conflicts_with = "table")]
    truth: Option<PathBuf>,
    /// Train from a CSV feature table instead of the store (one row per customer or customer-date).
    #[arg(long, requires = "label")]
    table: Option<PathBuf>,
    /// The table's label column.
    #[arg(long, requires = "table")]
    label: Option<String>,
    /// The table's row id column (not a feature) [default: none; predictions
    /// name rows by their number].
    #[arg(long, requires = "table")]
    id: Option<String>,
    /// The table's time column (integer, YYYY-MM-DD or RFC 3339): enables a time-based backtest.
    #[arg(long, requires = "table")]
    time: Option<String>,
    /// The label value meaning positive (e.g. "Attrited Customer"); default: yes/no, true/false, 1/0.
    #[arg(long, requires = "table")]
    positive: Option<String>,
    /// Table columns that are not features (comma-separated), e.g. ones the leakage gate flags.
    #[arg(long, requires = "table", value_delimiter = ',')]
    drop: Vec<String>,
}

/// `pulse models`.
#[derive(Debug, Args)]
pub(crate) struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Every model in the registry, newest first; * marks the promoted ones.
    List {
        /// JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One model's card.
    Show {
        /// A version as listed, e.g. churn-v3.
        version: String,
        /// The card as JSON (stable keys: metrics.roc_auc, metrics.pr_auc, metrics.brier, metrics.ece, ...).
        #[arg(long)]
        json: bool,
    },
    /// Make a version the one serving its kind; promoting an older version rolls back.
    Promote {
        /// A version as listed, e.g. churn-v3.
        version: String,
    },
    /// Every champion/challenger decision, newest first: both models'
    /// PR-AUC and calibration error on the shared window, promoted or not, and why.
    History(crate::model_ops_cmd::HistoryArgs),
    /// Drift of the churn model in service: PSI per feature, of the
    /// predictions and of the label rate against its training data, with
    /// before/after distributions.
    Drift(crate::model_ops_cmd::DriftArgs),
    /// How the stored runs' at-risk lists turned out: top-K churn against
    /// the base rate, realised ROC-AUC, PR-AUC and calibration by run (and,
    /// with --detail, by decile and segment).
    Performance(crate::model_ops_cmd::PerformanceArgs),
}

/// `pulse score`.
#[derive(Debug, Args)]
pub(crate) struct ScoreArgs {
    /// CSV table with the columns the model was trained on (the label may be absent).
    #[arg(long)]
    table: PathBuf,
    /// A tabular model version, e.g. table-v2.
    #[arg(long)]
    model: String,
    /// Where to write id, probability and the top drivers.
    #[arg(long)]
    out: PathBuf,
    /// The row id column [default: the one the model was trained with].
    #[arg(long)]
    id: Option<String>,
    /// Drivers per row.
    #[arg(long, default_value_t = 3)]
    drivers: usize,
}

pub(crate) fn open_registry(cfg: &Config) -> anyhow::Result<DirRegistry> {
    Ok(DirRegistry::open(&cfg.models_dir(), cfg.clock.clone())?)
}

fn parse_kinds(kinds: &[String]) -> anyhow::Result<Vec<ModelKind>> {
    if kinds.is_empty() {
        return Ok(vec![ModelKind::Churn, ModelKind::Expansion]);
    }
    let mut out = Vec::new();
    for k in kinds {
        let kind: ModelKind = k.parse().map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

pub(crate) async fn run_train(cfg: &Config, args: TrainArgs) -> anyhow::Result<()> {
    let mut tc = cfg.training.clone();
    if let Some(h) = args.horizon_days {
        tc.horizon_days = h;
    }
    if let Some(k) = args.capacity {
        tc.capacity = k;
    }
    tc.allow_leakage |= args.allow_leakage;
    if args.no_ablation {
        tc.ablation = false;
    }
    tc.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let registry = open_registry(cfg)?;
    if let Some(table) = &args.table {
        let kind = match parse_kinds(&args.kinds)?.as_slice() {
            [k] if !args.kinds.is_empty() => *k,
            _ if args.kinds.is_empty() => ModelKind::Churn,
            _ => bail!("--kind: a table has one label: name one kind"),
        };
        let Some(label) = args.label else {
            bail!("--table needs --label COLUMN");
        };
        let id = args.id;
        let spec = TableSpec {
            label: match args.positive {
                Some(p) => LabelSpec::with_positive(label, p),
                None => LabelSpec::binary(label),
            },
            id_column: id,
            time_column: args.time,
            kind,
            drop_columns: args.drop,
        };
        return train_from_table(&registry, table, &spec, &tc);
    }
    let kinds = parse_kinds(&args.kinds)?;
    let rule = cfg.model_ops.rule()?;
    let data_end = match &args.data_end {
        Some(s) => {
            Some(pulse_core::time::parse_day("--data-end", s).map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        None => None,
    };
    let registry = Arc::new(registry);
    let store = crate::open_store(cfg).await?;
    let how = TrainHow {
        config: &tc,
        survival: &cfg.survival,
        rule: &rule,
        promote: args.promote,
        data_end,
        truth: match &args.truth {
            Some(p) => Some(std::sync::Arc::new(read_truth(p)?)),
            None => None,
        },
    };
    let result = train_store(&store, &registry, &kinds, how).await;
    store.close().await;
    result.map(|_| ())
}

/// The survival card's held-out calibration per horizon, as a table.
pub(crate) fn print_survival_calibration(
    o: &mut impl Write,
    c: &pulse_forecast::SurvivalCard,
) -> std::io::Result<()> {
    writeln!(
        o,
        "\ntime to churn ({}): held-out calibration per horizon",
        c.version
    )?;
    writeln!(
        o,
        "{:>8} {:>10} {:>21} {:>8} {:>9} {:>9} {:>7} {:>7} {:>8}",
        "horizon",
        "cutoff",
        "test as-of days",
        "rows",
        "predicted",
        "observed",
        "Brier",
        "ECE",
        "ROC-AUC"
    )?;
    for h in &c.calibration {
        writeln!(
            o,
            "{:>7}d {:>10} {:>10}..{:<10} {:>8} {:>8.2}% {:>8.2}% {:>7.4} {:>7.4} {:>8}",
            h.horizon_days,
            h.cutoff,
            h.test_from,
            h.test_to,
            h.test_rows,
            h.mean_predicted * 100.0,
            h.observed_rate * 100.0,
            h.brier,
            h.ece,
            h.roc_auc.map_or("-".to_string(), |a| format!("{a:.4}"))
        )?;
    }
    for n in &c.notes {
        writeln!(o, "  note: {n}")?;
    }
    Ok(())
}

/// How [`train_store`] trains: the models' settings, the time-to-churn
/// model's, the promotion rule, whether to promote unconditionally, and the
/// last day of data to use (`None`: all).
#[derive(Debug, Clone)]
pub(crate) struct TrainHow<'a> {
    pub(crate) config: &'a TrainConfig,
    pub(crate) survival: &'a pulse_forecast::SurvivalConfig,
    pub(crate) rule: &'a DecisionRule,
    pub(crate) promote: bool,
    pub(crate) data_end: Option<pulse_core::time::Day>,
    pub(crate) truth: Option<std::sync::Arc<pulse_training::ReasonTruth>>,
}

/// Reads the churned accounts' reasons from a `truth_accounts.csv`
/// (`account_id`, `churned`, `churn_day`, `churn_reason`); errors name the
/// file, the line and the column.
pub(crate) fn read_truth(path: &std::path::Path) -> anyhow::Result<pulse_training::ReasonTruth> {
    let mut r = csv::Reader::from_path(path)
        .with_context(|| format!("--truth: reading {}", path.display()))?;
    let headers = r.headers()?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            anyhow::anyhow!(
                "--truth: {} has no '{name}' column (expected pulse synth's truth_accounts.csv)",
                path.display()
            )
        })
    };
    let (id, churned, day, reason) = (
        col("account_id")?,
        col("churned")?,
        col("churn_day")?,
        col("churn_reason")?,
    );
    let mut out = pulse_training::ReasonTruth::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("--truth: {} line {line}", path.display()))?;
        if rec.get(churned) != Some("true") {
            continue;
        }
        let d = pulse_core::time::parse_day("churn_day", rec.get(day).unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("--truth: {} line {line}: {e}", path.display()))?;
        out.insert(
            rec.get(id).unwrap_or_default().to_string(),
            pulse_training::KnownChurn {
                reason: rec.get(reason).unwrap_or_default().to_string(),
                day: d,
            },
        );
    }
    Ok(out)
}

/// Trains `kinds` on the store's data, saves them, compares each with its
/// champion and promotes it when asked, when its kind has no promoted model,
/// or when it wins by the rule; records the decisions and prints the
/// comparison.
pub(crate) async fn train_store(
    store: &Store,
    registry: &Arc<DirRegistry>,
    kinds: &[ModelKind],
    how: TrainHow<'_>,
) -> anyhow::Result<Vec<RegistryEntry>> {
    let TrainHow {
        config: tc,
        survival,
        rule,
        promote,
        data_end,
        truth,
    } = how;
    let started = Instant::now();
    let stamp = move || format!("[{:>6.1}s]", started.elapsed().as_secs_f64());
    println!("{} loading account histories", stamp());
    let (histories, excluded) = pulse_app::serving::load_usable_histories(store, None)
        .await
        .context("loading the account histories")?;
    for e in &excluded {
        eprintln!("warning: {}", e.warning());
    }
    if histories.is_empty() {
        bail!(
            "no data to train on: the store holds no accounts. Import a customer base first (pulse import FILES; pulse synth --out DIR writes a synthetic one)"
        );
    }
    let events: usize = histories
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
    println!(
        "{} loaded {} accounts, {} events",
        stamp(),
        histories.len(),
        events
    );
    let request = pulse_app::TrainRequest {
        kinds: kinds.to_vec(),
        config: tc.clone(),
        rule: rule.clone(),
        trigger: "cli".into(),
        promote,
        data_end,
        clock: registry.clock().clone(),
        survival: Some(survival.clone()),
        truth,
    };
    let mut last: Option<(pulse_training::Stage, Option<ModelKind>)> = None;
    let result = pulse_app::train_and_decide(
        store,
        registry.clone(),
        histories,
        request,
        None,
        move |p: Progress| {
            if last != Some((p.stage, p.kind)) {
                last = Some((p.stage, p.kind));
                println!(
                    "{} {:<13} {:<9} {:>3.0}%",
                    stamp(),
                    p.stage.as_str(),
                    p.kind.map(|k| k.as_str()).unwrap_or(""),
                    p.fraction * 100.0
                );
            }
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{} {} labelled snapshot rows from {} to {} ({} accounts; snapshots took {:.1}s)",
        stamp(),
        result.rows,
        format_day(result.data_start),
        format_day(result.data_end),
        result.accounts,
        result.snapshot_seconds
    );
    for (entry, d) in result.entries.iter().zip(&result.decisions) {
        if entry.promoted {
            println!(
                "{} saved and promoted {}{}: {}",
                stamp(),
                entry.card.version,
                d.champion_version
                    .as_ref()
                    .map(|v| format!(" (was {v})"))
                    .unwrap_or_default(),
                d.reason
            );
        } else {
            println!(
                "{} saved {} (not promoted: {} serves {}; pulse models promote {} to switch): {}",
                stamp(),
                entry.card.version,
                d.champion_version.as_deref().unwrap_or(""),
                entry.card.kind,
                entry.card.version,
                d.reason
            );
        }
    }
    let saved = result.entries;
    println!("models in {}", registry.dir().display());
    let mut o = std::io::stdout().lock();
    match &result.survival {
        Some(pulse_app::SurvivalOutcome::Saved(c)) => {
            writeln!(
                o,
                "saved {} (time to churn: {} person-periods, {} churns, {} accounts, {} x {}-day intervals)",
                c.version, c.rows, c.events, c.accounts, c.intervals, c.interval_days
            )?;
            print_survival_calibration(&mut o, c)?;
        }
        Some(pulse_app::SurvivalOutcome::Failed(e)) => writeln!(
            o,
            "time to churn: not refitted ({e}); forecasts keep the previous survival model"
        )?,
        None => {}
    }
    for e in &saved {
        print_comparison(&mut o, &e.card)?;
    }
    Ok(saved)
}

fn train_from_table(
    registry: &DirRegistry,
    path: &Path,
    spec: &TableSpec,
    tc: &TrainConfig,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let table = read_table(path)?;
    println!(
        "read {} rows x {} columns from {}",
        table.rows.len(),
        table.columns.len(),
        path.display()
    );
    // How every column is read, before minutes of training on a misreading.
    let read = pulse_training::describe_table(&table, spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let width = read
        .iter()
        .map(|(c, _)| c.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    for (column, how) in &read {
        println!("  {column:<width$}  {how}");
    }
    let mut m = train_table(&table, spec, tc, &registry.clock().now_rfc3339())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    m.artifact.card.training_seconds = started.elapsed().as_secs_f64();
    let entry = registry.save(m.artifact)?;
    println!(
        "saved {} in {} (score tables with: pulse score --table FILE.csv --model {} --out predictions.csv)",
        entry.card.version,
        registry.dir().display(),
        entry.card.version
    );
    print_comparison(&mut std::io::stdout().lock(), &entry.card)
}

fn read_table(path: &Path) -> anyhow::Result<Table> {
    // A UTF-16 file (by its byte-order mark) is read as its text; fields
    // may be separated by `;` or tabs (read off the header).
    let encoding = crate::encoding::Encoding::Utf8;
    let delimiter = crate::encoding::csv_delimiter(path, encoding)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut rdr = crate::encoding::csv_reader(path, encoding, false)
        .with_context(|| format!("opening {}", path.display()))?;
    // Cells that are not UTF-8 are read as Windows-1252, what spreadsheet
    // programs on Windows write: counted, and the first one named.
    let mut recoded: (usize, Option<(usize, usize)>) = (0, None);
    let mut text = |b: &[u8], row: usize, column: usize| match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => {
            recoded.0 += 1;
            recoded.1.get_or_insert((row, column));
            crate::encoding::windows_1252(b)
        }
    };
    // Header names as written (spaces and punctuation kept), without a
    // UTF-8 byte-order mark or surrounding blanks.
    let columns: Vec<String> = rdr
        .byte_headers()
        .with_context(|| format!("reading the header of {}", path.display()))?
        .iter()
        .enumerate()
        .map(|(c, s)| {
            text(s, 0, c)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_string()
        })
        .collect();
    if let Some(i) = columns.iter().position(String::is_empty) {
        bail!(
            "{}: column {} has no name in the header",
            path.display(),
            i + 1
        );
    }
    let mut rows = Vec::new();
    let mut rec = csv::ByteRecord::new();
    let mut i = 0;
    while rdr
        .read_byte_record(&mut rec)
        .with_context(|| format!("{}: row {}", path.display(), i + 1))?
    {
        i += 1;
        rows.push(rec.iter().enumerate().map(|(c, b)| text(b, i, c)).collect());
    }
    if let (n, Some((row, column))) = recoded {
        let first = match row {
            0 => format!("the header's column {}", column + 1),
            _ => match columns.get(column) {
                Some(name) => format!("row {row}, column {name}"),
                None => format!("row {row}, column {}", column + 1),
            },
        };
        println!(
            "{}: {n} cell{} not UTF-8, read as Windows-1252 (the first: {first})",
            path.display(),
            if n == 1 { " is" } else { "s are" }
        );
    }
    if delimiter == b';' {
        let read = decimal_commas(&mut rows);
        if !read.is_empty() {
            let names: Vec<&str> = read.iter().map(|&c| columns[c].as_str()).collect();
            println!(
                "{}: fields separated by ';', so numbers with a decimal comma (12,5 or 1.234,50) in {}",
                path.display(),
                names.join(", ")
            );
        }
    }
    Table::new(columns, rows).with_context(|| format!("{}", path.display()))
}

/// Where `;` separates fields, the comma is the decimal separator and the
/// point groups thousands (`12,5`, `-1.234,50`, `7,5%`). A column whose
/// every non-blank cell is such a number, one at least with a comma, is
/// rewritten with decimal points; returns the columns rewritten. Other
/// columns (text, plain integers, numbers with decimal points) are left
/// as they are.
fn decimal_commas(rows: &mut [Vec<String>]) -> Vec<usize> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut read = Vec::new();
    for c in 0..width {
        let cells = || rows.iter().filter_map(|r| r.get(c)).map(|v| v.trim());
        let numbers = cells()
            .filter(|v| !v.is_empty())
            .all(|v| decimal_comma(v).is_some());
        if numbers && cells().any(|v| v.contains(',')) {
            for r in rows.iter_mut() {
                if let Some(v) = r.get_mut(c)
                    && let Some(n) = decimal_comma(v.trim())
                {
                    *v = n;
                }
            }
            read.push(c);
        }
    }
    read
}

/// `cell` (trimmed) as a number with a decimal comma and points between
/// groups of three digits, written with a decimal point; `None` when it is
/// not one.
fn decimal_comma(cell: &str) -> Option<String> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (sign, t) = match cell.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", cell),
    };
    let (t, percent) = match t.strip_suffix('%') {
        Some(r) => (r.trim_end(), "%"),
        None => (t, ""),
    };
    let (int, frac) = match t.split_once(',') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    if frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    let groups: Vec<&str> = int.split('.').collect();
    let grouped =
        groups.len() == 1 || (groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3));
    if !grouped || !groups.iter().all(|g| digits(g)) {
        return None;
    }
    let mut out = format!("{sign}{}", groups.concat());
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out.push_str(percent);
    Some(out)
}

fn metric_row(o: &mut impl Write, name: &str, m: &Metrics) -> std::io::Result<()> {
    writeln!(
        o,
        "  {:<10} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>9.2} {:>8.3} {:>8.3}",
        name,
        m.roc_auc,
        m.pr_auc,
        m.brier,
        m.ece,
        m.lift_top_decile,
        m.precision_at_k,
        m.recall_at_k
    )
}

/// Every candidate of a model selection, and why the served one won.
fn print_selection(o: &mut impl Write, s: &pulse_models::CardSelection) -> anyhow::Result<()> {
    writeln!(o, "  model selection: {}", s.criterion)?;
    // Tables select by cross-validation; account models on a validation
    // slice of the training rows (`folds` is 0).
    let on = if s.folds == 0 { "val." } else { "CV" };
    let w = s
        .candidates
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("candidate".len());
    writeln!(
        o,
        "    {:<w$} {:>12} {:>12} {:>11} {:>16}",
        "candidate",
        format!("{on} log-loss"),
        format!("{on} ROC-AUC"),
        format!("{on} PR-AUC"),
        "held-out ROC-AUC"
    )?;
    for c in &s.candidates {
        let mark = if c.name == s.served { "*" } else { " " };
        let held = c
            .held_out
            .as_ref()
            .map_or("-".to_string(), |m| format!("{:.4}", m.roc_auc));
        writeln!(
            o,
            "  {mark} {:<w$} {:>12.4} {:>12.4} {:>11.4} {:>16}",
            c.name, c.cv_log_loss, c.cv_roc_auc, c.cv_pr_auc, held
        )?;
    }
    writeln!(o, "  served (*): {}: {}", s.served, s.reason)?;
    Ok(())
}

/// The backtest comparison, ablation and top drivers of a card.
fn print_comparison(o: &mut impl Write, c: &ModelCard) -> anyhow::Result<()> {
    writeln!(o)?;
    writeln!(
        o,
        "{} ({}, {:.1}s, training label rate {:.2}%)",
        c.version,
        c.kind,
        c.training_seconds,
        c.label_rate * 100.0
    )?;
    let Some(e) = &c.evaluation else {
        return Ok(());
    };
    writeln!(o, "  {}", e.method)?;
    writeln!(
        o,
        "  rows: train {}, calibration {}, test {}",
        e.rows.train, e.rows.calibration, e.rows.test
    )?;
    let k = e.models.values().next().map_or(0, |m| m.k);
    // Account models rank each week's accounts; tables rank the whole test set.
    let weekly = if c.id_column.is_none() { "/wk" } else { "" };
    writeln!(
        o,
        "  {:<10} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8}",
        "model",
        "ROC-AUC",
        "PR-AUC",
        "Brier",
        "ECE",
        "lift@10%",
        format!("P@{k}{weekly}"),
        format!("R@{k}{weekly}")
    )?;
    for name in ["gbt", "logistic", "blend", "scorecard"] {
        if let Some(m) = e.models.get(name) {
            metric_row(o, name, m)?;
        }
    }
    if let Some(s) = &e.selection {
        print_selection(o, s)?;
    }
    // Ties among calibrated probabilities: rows a list cannot rank apart
    // (it orders them by the raw margin).
    let distinct: Vec<String> = ["gbt", "logistic"]
        .iter()
        .filter_map(|n| e.models.get(*n).map(|m| (n, m)))
        .filter(|(_, m)| m.distinct_probabilities > 0)
        .map(|(n, m)| format!("{n} {} of {}", m.distinct_probabilities, m.n_test))
        .collect();
    if !distinct.is_empty() {
        writeln!(
            o,
            "  distinct probabilities on the test rows: {}",
            distinct.join(", ")
        )?;
    }
    if let (Some(g), Some(s)) = (e.models.get("gbt"), e.models.get("scorecard")) {
        writeln!(
            o,
            "  GBT - scorecard ROC-AUC: {:+.4}",
            g.roc_auc - s.roc_auc
        )?;
    }
    if let Some(a) = &e.ablation {
        writeln!(
            o,
            "  ablation (GBT retrained without a family; test ROC-AUC {:.4}, PR-AUC {:.4} with all):",
            a.roc_auc, a.pr_auc
        )?;
        for f in &a.families {
            writeln!(
                o,
                "    without {:<14} ROC-AUC {:.4} ({:+.4})  PR-AUC {:.4} ({:+.4})",
                f.family, f.roc_auc, f.delta_roc_auc, f.pr_auc, f.delta_pr_auc
            )?;
        }
    }
    let top: Vec<String> = e
        .importance
        .iter()
        .take(10)
        .map(|f| format!("{} {:.3}", f.feature, f.mean_abs_contribution))
        .collect();
    writeln!(
        o,
        "  top drivers (mean |contribution|, log-odds): {}",
        top.join(", ")
    )?;
    if let Some(l) = &e.leakage {
        let s: Vec<String> = l
            .strongest
            .iter()
            .map(|f| format!("{} {:.3}", f.feature, f.separation))
            .collect();
        writeln!(
            o,
            "  leakage gate (threshold {:.2}): {} flagged; strongest single features: {}",
            l.threshold,
            l.flagged.len(),
            s.join(", ")
        )?;
    }
    if let Some(r) = &e.reasons {
        print_reason_accuracy(o, r)?;
    }
    Ok(())
}

/// The reason-accuracy table of a churn card.
pub(crate) fn print_reason_accuracy(
    o: &mut impl Write,
    r: &pulse_models::ReasonAccuracy,
) -> std::io::Result<()> {
    writeln!(
        o,
        "  reason accuracy: the play's cause matches the known reason for {} of {} explainable churners on a backtest list ({:.1}%); baseline, always \"{}\": {:.1}%",
        r.matched,
        r.churners,
        100.0 * r.accuracy,
        r.baseline_reason,
        100.0 * r.baseline_accuracy
    )?;
    for row in r.by_reason.iter().chain(&r.exogenous) {
        let exo = r.exogenous.iter().any(|x| x.reason == row.reason);
        let named: Vec<String> = row
            .named
            .iter()
            .take(3)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let drivers: Vec<String> = row
            .drivers
            .iter()
            .take(3)
            .map(|(f, n)| format!("{f} {n}"))
            .collect();
        writeln!(
            o,
            "    {:<20} {:>5} churners {:>5} matched{}  named: {}; by {}",
            row.reason,
            row.churners,
            if exo {
                "-".to_string()
            } else {
                row.matched.to_string()
            },
            if exo { " (exogenous)" } else { "" },
            named.join(", "),
            drivers.join(", ")
        )?;
    }
    if let Some(p) = &r.probe {
        writeln!(
            o,
            "  reason probe: a classifier trained on the known reasons of {} earlier churners names a matching cause for {} of {} ({:.1}%): how far the features tell the reasons apart",
            p.trained_on,
            p.matched,
            r.churners,
            100.0 * p.accuracy
        )?;
    }
    Ok(())
}

pub(crate) async fn run_models(cfg: &Config, args: ModelsArgs) -> anyhow::Result<()> {
    let command = match args.command {
        ModelsCommand::History(h) => return crate::model_ops_cmd::history(cfg, h).await,
        ModelsCommand::Drift(d) => return crate::model_ops_cmd::drift(cfg, d).await,
        ModelsCommand::Performance(p) => return crate::model_ops_cmd::performance(cfg, p).await,
        other => other,
    };
    let registry = open_registry(cfg)?;
    let mut o = std::io::stdout().lock();
    match command {
        ModelsCommand::List { json } => {
            let list = registry.list()?;
            let sentiment = registry.list_sentiment()?;
            let survival = registry.list_survival()?;
            if json {
                let v: Vec<serde_json::Value> = list
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "version": e.card.version,
                            "kind": e.card.kind,
                            "algorithm": e.card.algorithm,
                            "created_at": e.card.created_at,
                            "promoted": e.promoted,
                            "tabular": e.tabular,
                            "metrics": e.card.metrics,
                            "sha256": e.card.sha256,
                        })
                    })
                    .chain(sentiment.iter().map(|e| {
                        serde_json::json!({
                            "version": e.card.version,
                            "kind": "sentiment",
                            "algorithm": "tfidf_logistic",
                            "created_at": e.card.created_at,
                            "promoted": e.promoted,
                            "source": e.card.source,
                            "fingerprint": e.card.fingerprint,
                            "accuracy": e.card.held_out.evaluation.accuracy,
                            "macro_f1": e.card.held_out.evaluation.macro_f1,
                        })
                    }))
                    .chain(survival.iter().enumerate().map(|(i, c)| {
                        serde_json::json!({
                            "version": c.version,
                            "kind": "survival",
                            "algorithm": "discrete_time_hazard_gbt",
                            "created_at": c.created_at,
                            "promoted": i == 0,
                            "data_end": c.data_end,
                            "person_periods": c.rows,
                            "churns": c.events,
                            "accounts": c.accounts,
                        })
                    }))
                    .collect();
                serde_json::to_writer_pretty(&mut o, &v)?;
                writeln!(o)?;
                return Ok(());
            }
            if list.is_empty() && sentiment.is_empty() && survival.is_empty() {
                writeln!(
                    o,
                    "no models in {} yet: run pulse train",
                    registry.dir().display()
                )?;
                return Ok(());
            }
            writeln!(
                o,
                "  {:<16} {:<17} {:<9} {:<21} {:>8} {:>8} {:>8} {:>8}",
                "version", "kind", "algorithm", "created", "ROC-AUC", "PR-AUC", "Brier", "ECE"
            )?;
            for e in &list {
                let m = e.card.metrics.as_ref();
                let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
                writeln!(
                    o,
                    "{} {:<16} {:<17} {:<9} {:<21} {:>8} {:>8} {:>8} {:>8}",
                    if e.promoted { "*" } else { " " },
                    e.card.version,
                    if e.tabular {
                        format!("{} (table)", e.card.kind)
                    } else {
                        e.card.kind.to_string()
                    },
                    serde_json::to_value(e.card.algorithm)?
                        .as_str()
                        .unwrap_or_default(),
                    e.card.created_at,
                    f(m.map(|m| m.roc_auc)),
                    f(m.map(|m| m.pr_auc)),
                    f(m.map(|m| m.brier)),
                    f(m.map(|m| m.ece)),
                )?;
            }
            if !sentiment.is_empty() {
                writeln!(
                    o,
                    "  {:<16} {:<12} {:<21} {:>8} {:>8} {:>7} {:>7}  fingerprint",
                    "version", "source", "created", "accuracy", "macro-F1", "train", "test"
                )?;
            }
            for e in &sentiment {
                let h = &e.card.held_out;
                writeln!(
                    o,
                    "{} {:<16} {:<12} {:<21} {:>8.4} {:>8.4} {:>7} {:>7}  {}",
                    if e.promoted { "*" } else { " " },
                    e.card.version,
                    e.card.source.as_str(),
                    e.card.created_at,
                    h.evaluation.accuracy,
                    h.evaluation.macro_f1,
                    h.train_documents,
                    h.held_out_documents,
                    e.card.fingerprint
                )?;
            }
            if !survival.is_empty() {
                writeln!(
                    o,
                    "  {:<16} {:<12} {:<21} {:>10} {:>14} {:>7} {:>8}",
                    "version", "kind", "created", "data to", "person-periods", "churns", "accounts"
                )?;
            }
            // The newest survival model is the one in service.
            for (i, c) in survival.iter().enumerate() {
                writeln!(
                    o,
                    "{} {:<16} {:<12} {:<21} {:>10} {:>14} {:>7} {:>8}",
                    if i == 0 { "*" } else { " " },
                    c.version,
                    "survival",
                    c.created_at,
                    c.data_end,
                    c.rows,
                    c.events,
                    c.accounts
                )?;
            }
            writeln!(o, "* = promoted (serves its kind)")?;
        }
        ModelsCommand::Show { version, json } if pulse_app::is_sentiment_version(&version) => {
            let entry = registry
                .list_sentiment()?
                .into_iter()
                .find(|e| e.card.version == version)
                .with_context(|| format!("no sentiment model {version} in the registry"))?;
            if json {
                serde_json::to_writer_pretty(&mut o, &entry.card)?;
                writeln!(o)?;
                return Ok(());
            }
            let c = &entry.card;
            writeln!(
                o,
                "{} (sentiment, tfidf_logistic){}",
                c.version,
                if entry.promoted { ", promoted" } else { "" }
            )?;
            writeln!(
                o,
                "  created {}, trained on {}",
                c.created_at,
                c.source.as_str()
            )?;
            match registry.get_sentiment(&version) {
                Ok(_) => writeln!(o, "  integrity: fingerprint {} verified", c.fingerprint)?,
                Err(e) => writeln!(o, "  integrity: REFUSED: {e}")?,
            }
            writeln!(
                o,
                "  {} features; {} train / {} held out (seed {}, {:.0}% of every label)",
                c.features,
                c.held_out.train_documents,
                c.held_out.held_out_documents,
                c.held_out.seed,
                c.held_out.held_out_fraction * 100.0
            )?;
            write!(o, "  held out: {}", c.held_out.evaluation)?;
        }
        ModelsCommand::Show { version, json } => {
            let card = registry.card(&version)?;
            if json {
                serde_json::to_writer_pretty(&mut o, &card)?;
                writeln!(o)?;
                return Ok(());
            }
            let promoted = registry.promoted(card.kind)?.as_deref() == Some(version.as_str());
            writeln!(
                o,
                "{} ({}, {}){}",
                card.version,
                card.kind,
                serde_json::to_value(card.algorithm)?
                    .as_str()
                    .unwrap_or_default(),
                if promoted { ", promoted" } else { "" }
            )?;
            writeln!(o, "  created {}", card.created_at)?;
            match registry.get(&version) {
                Ok(_) => writeln!(o, "  integrity: payload hash and feature schema verified")?,
                Err(e) => writeln!(o, "  integrity: REFUSED: {e}")?,
            }
            writeln!(o, "  sha256 {}", card.sha256)?;
            if let Some(w) = &card.data_window {
                if card.id_column.is_none() {
                    writeln!(
                        o,
                        "  data window {} to {}",
                        format_day(w.start as i32),
                        format_day(w.end as i32)
                    )?;
                } else {
                    writeln!(o, "  data window {} to {} (time column)", w.start, w.end)?;
                }
            }
            writeln!(
                o,
                "  served model rows: train {}, calibration {}, test {}; label rate {:.4}; {} features; calibration {:?}",
                card.rows.train,
                card.rows.calibration,
                card.rows.test,
                card.label_rate,
                card.feature_schema.len(),
                card.calibration
            )?;
            print_comparison(&mut o, &card)?;
            if !card.notes.is_empty() {
                writeln!(o, "  notes:")?;
                for n in &card.notes {
                    writeln!(o, "  - {n}")?;
                }
            }
        }
        ModelsCommand::Promote { version } if pulse_app::is_sentiment_version(&version) => {
            let p = registry.promote_sentiment(&version)?;
            writeln!(
                o,
                "promoted {} to serve sentiment{} (a running server picks it up at its next start, \
                 or at once through ModelService.PromoteModel; pulse sentiment backfill rescores stored text)",
                p.version,
                p.previous
                    .map(|v| format!(" (was {v}; pulse models promote {v} rolls back)"))
                    .unwrap_or_default()
            )?;
        }
        ModelsCommand::History(_) | ModelsCommand::Drift(_) | ModelsCommand::Performance(_) => {
            bail!("internal: model-operations commands are answered above")
        }
        ModelsCommand::Promote { version } => {
            let p = registry.promote(&version)?;
            writeln!(
                o,
                "promoted {} to serve {}{}",
                p.version,
                p.kind,
                p.previous
                    .map(|v| format!(" (was {v}; pulse models promote {v} rolls back)"))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

pub(crate) fn run_score(cfg: &Config, args: ScoreArgs) -> anyhow::Result<()> {
    let registry = open_registry(cfg)?;
    let artifact = registry.get(&args.model)?;
    let Some(encoder) = &artifact.payload.encoder else {
        bail!(
            "model {} scores accounts, not tables: use a model trained with pulse train --table",
            args.model
        );
    };
    let table = read_table(&args.table)?;
    let id_column = args
        .id
        .or_else(|| artifact.card.id_column.clone())
        .context("the model records no id column: pass --id COLUMN")?;
    // A model trained without an id column names rows by their number.
    let id_at = if id_column == pulse_training::ROW_NUMBER {
        None
    } else {
        Some(table.column_index(&id_column).with_context(|| {
            format!(
                "{} has no id column {id_column} (pass --id COLUMN)",
                args.table.display()
            )
        })?)
    };
    let x = encoder
        .transform(&table)
        .with_context(|| format!("{} does not fit model {}", args.table.display(), args.model))?;
    let started = Instant::now();
    let mut w = csv::Writer::from_path(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut header = vec!["id".to_string(), "probability".to_string()];
    for i in 1..=args.drivers {
        header.push(format!("driver_{i}"));
        header.push(format!("contribution_{i}"));
    }
    w.write_record(&header)?;
    let model = &artifact.payload.model;
    // Drivers are per column of the table: a one-hot model's contributions
    // (`Plan=Basic`, `Plan=Pro`, ...) are summed per source column, which
    // keeps them exact (they add up to the margin); a categorical column is
    // named with the row's value (`Plan=Basic`).
    let sources = encoder.feature_sources();
    let mut columns: Vec<String> = Vec::new();
    let slot: Vec<usize> = sources
        .iter()
        .map(|src| match columns.iter().position(|c| c == src) {
            Some(k) => k,
            None => {
                columns.push(src.clone());
                columns.len() - 1
            }
        })
        .collect();
    let categorical = encoder.categorical_columns();
    let one_hot: Vec<Option<usize>> = columns
        .iter()
        .map(|c| {
            categorical
                .contains(&c.as_str())
                .then(|| table.column_index(c))
                .flatten()
        })
        .collect();
    for (i, row) in x.rows().into_iter().enumerate() {
        let row = row.to_vec();
        let mut s = model.score_row(&row)?;
        let mut by_column = vec![0.0; columns.len()];
        for (k, c) in slot.iter().zip(&s.contributions) {
            by_column[*k] += c;
        }
        let names: Vec<String> = columns
            .iter()
            .zip(&one_hot)
            .map(|(c, j)| match j {
                Some(j) => format!("{c}={}", table.rows[i][*j].trim()),
                None => c.clone(),
            })
            .collect();
        s.contributions = by_column;
        let mut rec = vec![
            match id_at {
                Some(j) => table.rows[i][j].clone(),
                None => (i + 1).to_string(),
            },
            format!("{:.6}", s.probability),
        ];
        let drivers = pulse_models::top_drivers(&names, &s.contributions, args.drivers);
        for k in 0..args.drivers {
            match drivers.get(k) {
                Some(d) => {
                    rec.push(d.feature.clone());
                    rec.push(format!("{:+.4}", d.contribution));
                }
                None => rec.extend([String::new(), String::new()]),
            }
        }
        w.write_record(&rec)?;
    }
    w.flush()?;
    println!(
        "scored {} rows with {} in {:.2}s -> {}",
        table.rows.len(),
        args.model,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_are_not_utf8_are_read_as_windows_1252() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customers.csv");
        // A spreadsheet's export on Windows: one name and one header in
        // Windows-1252, the rest plain ASCII or UTF-8.
        std::fs::write(
            &path,
            b"\xef\xbb\xbfid,Pr\xe9f\xe9rence,churned\r\n1,caf\xe9,yes\r\n2,th\xc3\xa9,no\r\n3,caf\xe9,no\r\n",
        )
        .unwrap();
        let table = read_table(&path).unwrap();
        assert_eq!(table.columns, ["id", "Préférence", "churned"]);
        assert_eq!(table.rows[0], ["1", "café", "yes"]);
        assert_eq!(table.rows[1], ["2", "thé", "no"]);
        assert_eq!(table.rows[2][1], "café");
    }

    #[test]
    fn a_utf16_semicolon_separated_table_reads_as_its_comma_separated_twin() {
        let dir = tempfile::tempdir().unwrap();
        let text = "id;Name;churned\r\n1;\"12,5\";Yes\r\n2;\"Zoë, 7\";No\r\n";
        let utf16 = crate::encoding::utf16_with_bom(text, crate::encoding::Endian::Little);
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, utf16).unwrap();
        std::fs::write(&b, text.replace(';', ",")).unwrap();
        let (a, b) = (read_table(&a).unwrap(), read_table(&b).unwrap());
        assert_eq!(a.columns, ["id", "Name", "churned"]);
        assert_eq!(a.rows[1], ["2", "Zoë, 7", "No"]);
        assert_eq!((a.columns, a.rows), (b.columns, b.rows));
    }

    #[test]
    fn semicolon_separated_numbers_with_decimal_commas_read_as_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(
            &path,
            "id;Charges;Discount;Plan;Seats;Ratio\n\
             1;12,5;7,5%;Basic, yearly;3;0.25\n\
             2;-1.234,50;;Pro;12;1.5\n\
             3;7;10 %;Pro;4;2\n",
        )
        .unwrap();
        let t = read_table(&path).unwrap();
        let column = |name: &str| -> Vec<&str> {
            let c = t.columns.iter().position(|c| c == name).unwrap();
            t.rows.iter().map(|r| r[c].as_str()).collect()
        };
        assert_eq!(column("Charges"), ["12.5", "-1234.50", "7"]);
        assert_eq!(column("Discount"), ["7.5%", "", "10%"]);
        // Text, integers and decimal points are left as they are.
        assert_eq!(column("Plan"), ["Basic, yearly", "Pro", "Pro"]);
        assert_eq!(column("Seats"), ["3", "12", "4"]);
        assert_eq!(column("Ratio"), ["0.25", "1.5", "2"]);
        assert_eq!(decimal_comma("1.234.567,8").as_deref(), Some("1234567.8"));
        for not in ["1.23,4", "12,", ",5", "1,2,3", "a,5", "1234.567,8"] {
            assert_eq!(decimal_comma(not), None, "{not}");
        }
        // A comma-separated file is read as before.
        std::fs::write(&path, "id,Charges\n1,\"12,5\"\n").unwrap();
        assert_eq!(read_table(&path).unwrap().rows[0][1], "12,5");
    }
}
