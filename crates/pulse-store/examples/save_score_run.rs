//! Speed of saving score history: times `Store::save_score_run` for a run of
//! 50,000 scores (by default), each with a ~1 KB JSON explanation, on a fresh
//! SQLite file, then a same-day re-run, and the reads a profile makes.
//!
//! Run: `cargo run --release -p pulse-store --example save_score_run [scores]`

use std::time::Instant;

use pulse_store::{NewScoreRun, Store, StoredScore};

/// CPU seconds this process has used (user + system, all threads), read from
/// `/proc/self/stat` (Linux; clock ticks assumed 100 Hz). On a shared machine
/// wall time says little, so each figure is printed with its CPU time.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Wall and CPU time since `start`, as `1.234 s (cpu 0.98 s)`.
fn since(start: (Instant, Option<f64>)) -> String {
    let wall = start.0.elapsed().as_secs_f64();
    match (start.1, cpu_seconds()) {
        (Some(a), Some(b)) => format!("{wall:.3} s (cpu {:.2} s)", b - a),
        _ => format!("{wall:.3} s"),
    }
}

fn now() -> (Instant, Option<f64>) {
    (Instant::now(), cpu_seconds())
}

/// An explanation shaped like the scoring crate's: eight drivers with a
/// value, a contribution and a sentence each.
fn explanation(i: usize) -> String {
    let drivers: Vec<String> = (0..8)
        .map(|k| {
            format!(
                r#"{{"feature":"feature_{k}_30d","value":{v:.4},"contribution":{c:.6},"sentence":"Feature {k} over the last 30 days is {v:.1}, which raises the risk"}}"#,
                v = (i * 7 + k) as f64 / 13.0,
                c = ((i + k) % 17) as f64 / 100.0 - 0.08,
            )
        })
        .collect();
    format!(
        r#"{{"base":0.08,"drivers":[{}],"model":"churn-v3"}}"#,
        drivers.join(",")
    )
}

fn scores(n: usize) -> Vec<StoredScore> {
    (0..n)
        .map(|i| {
            let p = (i % 1000) as f64 / 1000.0;
            StoredScore {
                account_id: format!("acct-{:06}", (i * 7_919) % n),
                churn_probability: p,
                health: 100.0 * (1.0 - p),
                band: if p > 0.6 { "high" } else { "low" }.into(),
                quadrant: "protect".into(),
                expansion_probability: Some(1.0 - p),
                arr: 24_000.0,
                arr_at_risk: 24_000.0 * p,
                explanation: explanation(i),
            }
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 50_000,
    };
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("s.db").display())).await?;
    let scores = scores(n);
    let bytes: usize = scores.iter().map(|s| s.explanation.len()).sum();
    let run = |as_of, created_at, trigger: &str| NewScoreRun {
        as_of,
        created_at,
        churn_version: "churn-v3".into(),
        expansion_version: Some("expansion-v1".into()),
        trigger: trigger.into(),
    };
    println!(
        "{n} scores, explanations {:.0} bytes on average",
        bytes as f64 / n.max(1) as f64
    );
    for (label, r) in [
        ("first run", run(20_000, 1_728_000_000, "scheduled")),
        ("same-day re-run", run(20_000, 1_728_003_600, "manual")),
        ("next week", run(20_007, 1_728_604_800, "scheduled")),
    ] {
        let t = now();
        let saved = store.save_score_run(&r, &scores).await?;
        println!(
            "save_score_run ({label}): {} ({} scores)",
            since(t),
            saved.n_accounts
        );
    }
    let t = now();
    let runs = store.score_runs(10).await?;
    let all = store.run_scores(runs[0].run_id).await?;
    println!("run_scores: {} ({} scores)", since(t), all.len());
    let t = Instant::now();
    let k = 1_000.min(n);
    for s in &scores[..k] {
        store.score_as_of(&s.account_id, 20_003).await?;
        store.score_trend(&s.account_id, 19_920, 20_007).await?;
    }
    println!(
        "score_as_of + score_trend: {:.0} us per account ({k} accounts)",
        t.elapsed().as_secs_f64() * 1e6 / k.max(1) as f64
    );
    store.close().await;
    Ok(())
}
