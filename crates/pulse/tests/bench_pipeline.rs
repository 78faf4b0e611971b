//! `pulse bench pipeline` end to end on a small base: every step runs as its
//! own `pulse` process on a fresh store, the server it starts answers a real
//! Score over gRPC, and the table has a measured row per step. On
//! PostgreSQL too when `PULSE_TEST_DATABASE_URL` is set.

use std::path::Path;
use std::process::{Command, Output};

const TODAY: &str = "2026-11-30";

/// The checkout's root, where the default sentiment model is.
fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bench(dir: &Path, extra: &[&str]) -> Output {
    bench_in(&root(), dir, extra)
}

fn bench_in(cwd: &Path, dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pulse"))
        .current_dir(cwd)
        .arg("--data-dir")
        .arg(dir)
        .args([
            "bench",
            "pipeline",
            "--accounts",
            "150",
            "--months",
            "12",
            "--seed",
            "7",
            "--settle-secs",
            "1",
        ])
        .args(extra)
        .env_remove("PULSE_CONFIG")
        .env_remove("PULSE_DATABASE_URL")
        .env("PULSE_CLOCK", TODAY)
        .env("PULSE_LOG", "warn")
        .output()
        .expect("the pulse binary runs")
}

/// The table's row for `step`, split into its cells.
fn row(table: &str, step: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("| {step} |")))
        .unwrap_or_else(|| panic!("no row for {step} in:\n{table}"));
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

fn check_table(table: &str, backend: &str) {
    assert!(table.starts_with(backend), "{table}");
    assert!(
        table.contains("150 accounts x 12 months (seed 7)"),
        "{table}"
    );
    for step in [
        "synth",
        "import without sentiment",
        "import with sentiment",
        "train (churn, expansion, time to churn)",
        "scoring run",
        "lists",
        "forecast",
        "report",
    ] {
        let cells = row(table, step);
        let wall: f64 = cells[1].parse().unwrap();
        let cpu: f64 = cells[2].parse().unwrap();
        let peak: f64 = cells[4].parse().unwrap();
        assert!(wall > 0.0 && cpu >= 0.0, "{step}: {cells:?}");
        // Each step is a process of its own that loads the store: megabytes.
        assert!(peak > 1.0, "{step}: {cells:?}");
    }
    let weekly = row(
        table,
        "weekly pipeline (scoring run + lists + forecast + report; largest peak)",
    );
    let sum: f64 = ["scoring run", "lists", "forecast", "report"]
        .iter()
        .map(|s| row(table, s)[1].parse::<f64>().unwrap())
        .sum();
    let weekly_wall: f64 = weekly[1].parse().unwrap();
    assert!((weekly_wall - sum).abs() < 0.02, "{weekly:?} vs {sum}");
    let server = row(table, "server start to first Score");
    let first: f64 = server[1].parse().unwrap();
    assert!(first > 0.0, "{server:?}");
    assert!(server[4].parse::<f64>().unwrap() > 1.0, "{server:?}");
}

#[test]
fn without_the_sentiment_model_the_benchmark_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let o = bench_in(dir.path(), &dir.path().join("data"), &[]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("needs the default sentiment model") && stderr.contains("checkout's root"),
        "{stderr}"
    );
}

#[test]
fn the_pipeline_benchmark_runs_every_step_and_measures_each() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("table.md");
    let o = bench(dir.path(), &["--out", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let table = std::fs::read_to_string(&out).unwrap();
    check_table(&table, "SQLite");
    assert!(stdout.contains(&table), "the table is printed too");
    // Without --keep, nothing is left behind.
    assert!(!dir.path().join("bench-pipeline").exists());

    if let Ok(url) = std::env::var("PULSE_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        let out = dir.path().join("table-pg.md");
        let o = bench(
            dir.path(),
            &[
                "--backend",
                "postgres",
                "--postgres-url",
                &url,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(
            o.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        check_table(&std::fs::read_to_string(&out).unwrap(), "PostgreSQL");
    }
}

#[test]
fn postgres_without_a_url_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let o = bench(dir.path(), &["--backend", "postgres"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--postgres-url"), "{err}");
    assert!(!dir.path().join("bench-pipeline").join("synthetic").exists());
}
