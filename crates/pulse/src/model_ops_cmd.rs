//! `pulse models history` and `pulse models drift`: the champion/challenger
//! decisions and the drift checks recorded in the store.

use std::io::Write;

use anyhow::bail;
use clap::Args;
use pulse_core::time::format_ts;

use crate::config::Config;

/// `pulse models history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// Only this kind (churn, expansion).
    #[arg(long)]
    kind: Option<String>,
    /// At most this many decisions, newest first.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"))
}

pub(crate) async fn history(cfg: &Config, args: HistoryArgs) -> anyhow::Result<()> {
    let kind = match args.kind.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) => {
            let k: pulse_models::ModelKind =
                k.parse().map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
            Some(k)
        }
    };
    if args.limit == 0 {
        bail!("--limit: must be at least 1");
    }
    let store = crate::open_store(cfg).await?;
    let decisions = store.decisions(kind.map(|k| k.as_str()), args.limit).await;
    store.close().await;
    let decisions = decisions?;
    let mut o = std::io::stdout().lock();
    if args.json {
        let v: Vec<serde_json::Value> = decisions
            .iter()
            .map(|d| {
                serde_json::json!({
                    "decision_id": d.decision_id,
                    "decided_at": format_ts(d.decided_at),
                    "kind": d.kind,
                    "trigger": d.trigger,
                    "challenger_version": d.challenger_version,
                    "champion_version": d.champion_version,
                    "outcome": d.outcome,
                    "reason": d.reason,
                    "champion_pr_auc": d.champion_pr_auc,
                    "challenger_pr_auc": d.challenger_pr_auc,
                    "champion_ece": d.champion_ece,
                    "challenger_ece": d.challenger_ece,
                    "window": serde_json::from_str::<serde_json::Value>(&d.detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect();
        writeln!(o, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    if decisions.is_empty() {
        writeln!(
            o,
            "no decisions recorded yet: every training run (pulse train, ModelService.Train, the schedule in pulse serve) records one per model"
        )?;
        return Ok(());
    }
    writeln!(
        o,
        "{:<20} {:<9} {:<9} {:<14} {:<14} {:<8} {:>8} {:>8} {:>8} {:>8}",
        "decided",
        "kind",
        "trigger",
        "challenger",
        "champion",
        "outcome",
        "PR-AUC",
        "champ",
        "ECE",
        "champ"
    )?;
    for d in &decisions {
        writeln!(
            o,
            "{:<20} {:<9} {:<9} {:<14} {:<14} {:<8} {:>8} {:>8} {:>8} {:>8}",
            format_ts(d.decided_at),
            d.kind,
            d.trigger,
            d.challenger_version,
            d.champion_version.as_deref().unwrap_or("-"),
            d.outcome,
            num(d.challenger_pr_auc),
            num(d.champion_pr_auc),
            num(d.challenger_ece),
            num(d.champion_ece),
        )?;
        writeln!(o, "    {}", d.reason)?;
    }
    Ok(())
}

/// `pulse models drift`.
#[derive(Debug, Args)]
pub(crate) struct DriftArgs {
    /// Check now (scores the current population with the promoted models and
    /// stores the check) instead of showing the latest stored check.
    #[arg(long)]
    now: bool,
    /// Features shown, largest PSI first [default: those at warn or above, at least 5].
    #[arg(long)]
    top: Option<usize>,
    /// JSON (the full report) instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn drift(cfg: &Config, args: DriftArgs) -> anyhow::Result<()> {
    let store = crate::open_store(cfg).await?;
    let result = drift_inner(cfg, &store, &args).await;
    store.close().await;
    let (report, checked_at, version) = result?;
    let mut o = std::io::stdout().lock();
    if args.json {
        writeln!(o, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    writeln!(
        o,
        "drift of {version}, checked {}: {}",
        format_ts(checked_at),
        report.summary()
    )?;
    writeln!(
        o,
        "thresholds: warn at PSI {:.2}, critical at {:.2}",
        report.warn, report.critical
    )?;
    let n = args.top.unwrap_or_else(|| {
        report
            .features
            .iter()
            .filter(|f| f.level != pulse_models::drift::DriftLevel::None)
            .count()
            .max(5)
    });
    let show = |o: &mut std::io::StdoutLock<'_>,
                q: &pulse_training::QuantityDrift|
     -> std::io::Result<()> {
        writeln!(
            o,
            "\n{:<40} PSI {:.3} ({})",
            q.name,
            q.psi,
            q.level.as_str()
        )?;
        writeln!(o, "    {:<24} {:>9} {:>9}", "bin", "training", "now")?;
        for b in &q.bins {
            writeln!(
                o,
                "    {:<24} {:>8.1}% {:>8.1}%",
                b.label,
                b.reference * 100.0,
                b.current * 100.0
            )?;
        }
        Ok(())
    };
    show(&mut o, &report.prediction)?;
    if let Some(l) = &report.label_rate {
        show(&mut o, l)?;
    }
    for f in report.features.iter().take(n) {
        show(&mut o, f)?;
    }
    Ok(())
}

async fn drift_inner(
    cfg: &Config,
    store: &pulse_store::Store,
    args: &DriftArgs,
) -> anyhow::Result<(pulse_training::DriftReport, i64, String)> {
    if !args.now
        && let Some(c) = store.drift_checks(1).await?.into_iter().next()
    {
        let report = serde_json::from_str(&c.report)
            .map_err(|e| anyhow::anyhow!("drift check {} does not parse: {e}", c.check_id))?;
        return Ok((report, c.checked_at, c.model_version));
    }
    if !args.now {
        println!("no drift check stored yet: checking now");
    }
    let scoring = crate::scores_cmd::ready_scoring(cfg, store).await?;
    let settings = cfg.model_ops.settings()?;
    let (report, id) = pulse_app::model_ops::check_drift(store, &scoring, &settings, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let c = store
        .drift_checks(20)
        .await?
        .into_iter()
        .find(|c| c.check_id == id)
        .ok_or_else(|| anyhow::anyhow!("drift check {id} was stored but cannot be read back"))?;
    Ok((report, c.checked_at, c.model_version))
}

/// `pulse models performance`.
#[derive(Debug, Args)]
pub(crate) struct PerformanceArgs {
    /// The latest this many as-of days with a stored scoring run.
    #[arg(long, default_value_t = 13)]
    runs: u32,
    /// The at-risk list size counted.
    #[arg(long, default_value_t = 100)]
    top: usize,
    /// Also calibration by decile and by segment.
    #[arg(long)]
    detail: bool,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"))
}

pub(crate) async fn performance(cfg: &Config, args: PerformanceArgs) -> anyhow::Result<()> {
    if args.runs == 0 || args.top == 0 {
        bail!("--runs and --top: must be at least 1");
    }
    let store = crate::open_store(cfg).await?;
    let horizon = cfg.training.horizon_days;
    let result = pulse_app::model_ops::realised_performance(
        &store,
        horizon,
        args.runs,
        args.top,
        cfg.clock.now(),
    )
    .await;
    store.close().await;
    let perf = result.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut o = std::io::stdout().lock();
    if args.json {
        writeln!(o, "{}", serde_json::to_string_pretty(&perf)?)?;
        return Ok(());
    }
    if perf.is_empty() {
        writeln!(
            o,
            "no stored scoring runs: `pulse scores run` (or `pulse scores backfill`) stores them, and `pulse serve` stores one a week"
        )?;
        return Ok(());
    }
    let today = cfg.clock.today();
    writeln!(
        o,
        "{:<11} {:>8} {:>7} {:>7} {:>9} {:>6} {:>8} {:>7} {:>7} {:>7} {:>7}  window",
        "as of",
        "accounts",
        "churned",
        "base %",
        "top churn",
        "lift",
        "ROC-AUC",
        "PR-AUC",
        "ECE",
        "pred %",
        "obs %"
    )?;
    for p in &perf {
        writeln!(
            o,
            "{:<11} {:>8} {:>7} {:>7.2} {:>9} {:>6.2} {:>8} {:>7} {:>7} {:>7.2} {:>7.2}  {}",
            pulse_core::time::format_day(p.as_of),
            p.n,
            p.churned,
            p.base_rate * 100.0,
            format!("{}/{}", p.top_k_churned, p.top_k),
            p.top_k_lift,
            opt(p.roc_auc),
            opt(p.pr_auc),
            opt(p.ece),
            p.mean_predicted * 100.0,
            p.base_rate * 100.0,
            if p.window_closed {
                "closed"
            } else {
                "open (so far)"
            }
        )?;
    }
    writeln!(o)?;
    for p in &perf {
        writeln!(o, "{}", p.sentence(today))?;
        if args.detail {
            for g in p.deciles.iter().chain(&p.segments) {
                writeln!(
                    o,
                    "    {:<14} n {:>6}  churned {:>5}  predicted {:>6.2}%  observed {:>6.2}%  ROC-AUC {}",
                    g.name,
                    g.n,
                    g.churned,
                    g.mean_predicted * 100.0,
                    g.observed_rate * 100.0,
                    opt(g.roc_auc)
                )?;
            }
        }
    }
    Ok(())
}
