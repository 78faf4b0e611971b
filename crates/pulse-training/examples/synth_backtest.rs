//! The training pipeline on an in-memory synthetic base, without a store:
//! prints the backtest table (GBT, logistic, scorecard), the ablation, the top
//! drivers and where the time went. For iterating on the pipeline; the
//! figures in docs/benchmarks.md come from `pulse synth` + `pulse import` + `pulse train`.
//!
//! Run: `cargo run --release -p pulse-training --example synth_backtest -- [accounts] [months] [--no-ablation]`

use std::time::Instant;

use pulse_core::time::parse_day;
use pulse_models::ModelKind;
use pulse_synth::{SynthConfig, generate};
use pulse_training::{TrainConfig, train_models};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (accounts, months) = (num(0, 2000), num(1, 24) as u32);
    let t = Instant::now();
    let end = parse_day("end", "2026-06-30").unwrap();
    let b = generate(&SynthConfig::new(accounts, months, 42, end));
    let hs = pulse_features::histories_from_records(pulse_features::Records {
        accounts: &b.accounts,
        contacts: &b.contacts,
        interactions: &b.interactions,
        usage: &b.usage,
        subscriptions: &b.subscriptions,
        surveys: &b.surveys,
        operational: &b.operational,
    });
    println!(
        "generated {accounts} accounts x {months} months in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let cfg = TrainConfig {
        ablation: !args.iter().any(|a| a == "--no-ablation"),
        gbt: match std::env::var("PULSE_GBT_ITERATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            Some(n) => pulse_models::GbtParams::new().iterations(n),
            None => pulse_models::GbtParams::new(),
        },
        ..TrainConfig::default()
    };
    let origin = Instant::now();
    let mut last = Instant::now();
    let out = train_models(
        &hs,
        &[ModelKind::Churn, ModelKind::Expansion],
        None,
        &cfg,
        "now",
        &mut || origin.elapsed().as_secs_f64(),
        &mut |p| {
            println!(
                "  {:>6.1}s  {:<14} {:<10} {:>4.0}%",
                last.elapsed().as_secs_f64(),
                p.stage.as_str(),
                p.kind.map(|k| k.as_str()).unwrap_or(""),
                p.fraction * 100.0
            );
            last = Instant::now();
        },
    )
    .unwrap();
    println!("rows {} snapshots {:.1}s", out.rows, out.snapshot_seconds);
    for m in &out.models {
        let c = &m.artifact.card;
        let e = c.evaluation.as_ref().unwrap();
        println!("\n{} ({:.1}s) {}", m.kind, c.training_seconds, e.method);
        println!("  label rate {:.4}", c.label_rate);
        println!(
            "  {:<10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            "model", "roc", "pr", "brier", "ece", "lift10", "p@k", "r@k"
        );
        for (name, x) in &e.models {
            println!(
                "  {:<10} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.2} {:>7.3} {:>7.3}",
                name,
                x.roc_auc,
                x.pr_auc,
                x.brier,
                x.ece,
                x.lift_top_decile,
                x.precision_at_k,
                x.recall_at_k
            );
        }
        if let Some(a) = &e.ablation {
            for f in &a.families {
                println!(
                    "  without {:<14} roc {:.4} ({:+.4})  pr {:.4} ({:+.4})",
                    f.family, f.roc_auc, f.delta_roc_auc, f.pr_auc, f.delta_pr_auc
                );
            }
        }
        for f in e.importance.iter().take(12) {
            println!("  {:<30} {:.4}", f.feature, f.mean_abs_contribution);
        }
        if let Some(l) = &e.leakage {
            println!(
                "  strongest single features: {:?}",
                l.strongest
                    .iter()
                    .map(|f| (f.feature.as_str(), (f.separation * 1000.0).round() / 1000.0))
                    .collect::<Vec<_>>()
            );
        }
    }
}
