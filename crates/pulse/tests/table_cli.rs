//! `pulse train --table` / `pulse score --table` on a messy real-world
//! export: a byte-order mark, column names with spaces and punctuation, no
//! id column, blanks and a stray `?` among numbers, Yes/No, currency and
//! percentages. Runs the real binary.

use std::process::Command;

fn pulse(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pulse"));
    c.arg("--data-dir")
        .arg(dir)
        .env_remove("PULSE_CONFIG")
        .env("PULSE_LOG", "warn");
    c
}

/// A deterministic messy table whose churn depends on tenure and plan.
fn messy_csv() -> String {
    let mut s = String::from(
        "\u{feff}Customer Tenure (months),Monthly Charges,Has Partner?,Discount,Plan Type,Churn?\n",
    );
    let mut state: u64 = 7;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    for i in 0..600 {
        let tenure = 1 + (next() * 71.0) as i64;
        let charges = 20.0 + next() * 1_100.0;
        let basic = i % 3 == 0;
        let risk = 0.5 - tenure as f64 / 150.0 + if basic { 0.3 } else { 0.0 };
        let churn = next() < risk;
        let t = if i % 40 == 0 {
            String::new()
        } else {
            tenure.to_string()
        };
        let c = if i % 97 == 0 {
            "?".to_string()
        } else {
            format!(
                "\"${},{:03}.{:02}\"",
                charges as i64 / 1000,
                charges as i64 % 1000,
                i % 100
            )
        };
        s.push_str(&format!(
            "{t},{c},{},{}%,{},{}\n",
            if i % 2 == 0 { "Yes" } else { "No" },
            (i % 5) * 5,
            if basic {
                "Basic"
            } else if i % 3 == 1 {
                "Pro"
            } else {
                "Enterprise"
            },
            if churn { "Yes" } else { "No" }
        ));
    }
    s
}

#[test]
fn a_messy_export_trains_and_scores_without_hand_editing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("export.csv");
    std::fs::write(&csv, messy_csv()).unwrap();
    let out = pulse(dir.path())
        .args(["train", "--table"])
        .arg(&csv)
        .args(["--label", "Churn?"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // How each column was read, before training.
    for (column, how) in [
        ("Customer Tenure (months)", "numeric"),
        (
            "Monthly Charges",
            "numeric (currency and thousands separators); 7 unreadable cell(s) read as missing",
        ),
        ("Has Partner?", "numeric (yes/no as 1/0)"),
        ("Discount", "numeric (percentages as fractions)"),
        ("Plan Type", "categorical, 3 levels"),
        ("Churn?", "label"),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(column) && l.trim_end().ends_with(how)),
            "{column}: {how}\n{stdout}"
        );
    }
    assert!(stdout.contains("saved table-v1"), "{stdout}");
    // The model selection is shown: every candidate, the served one marked.
    assert!(stdout.contains("model selection:"), "{stdout}");
    assert!(stdout.contains("served (*):"), "{stdout}");
    assert!(stdout.contains("logistic alpha"), "{stdout}");

    // Scored by row number (no id column).
    let preds = dir.path().join("p.csv");
    let out = pulse(dir.path())
        .args(["score", "--table"])
        .arg(&csv)
        .args(["--model", "table-v1", "--out"])
        .arg(&preds)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&preds).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("id,probability"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 600);
    assert!(rows[0].starts_with("1,") && rows[599].starts_with("600,"));
    // Drivers name the table's columns (a categorical one with the row's
    // value), whichever encoding the served model reads.
    let export = messy_csv();
    let source: Vec<&str> = export.lines().skip(1).collect();
    let plain = [
        "Customer Tenure (months)",
        "Monthly Charges",
        "Has Partner?",
        "Discount",
    ];
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<&str> = row.split(',').collect();
        let plan = source[i].rsplit(',').nth(1).unwrap();
        for driver in [cells[2], cells[4], cells[6]] {
            assert!(
                plain.contains(&driver) || driver == format!("Plan Type={plan}"),
                "row {}: driver {driver:?} (plan {plan})",
                i + 1
            );
        }
    }
}
