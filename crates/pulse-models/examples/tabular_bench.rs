//! Benchmark of the generic tabular path on the public churn tables in `shared/datasets/churn`:
//! ROC-AUC / PR-AUC (and calibration) of the GBT (ordinal categories) and the logistic baseline
//! (one-hot categories) on a stratified 60/20/20 train/calibration/test split, plus the per-row
//! cost of scoring with exact contributions for several GBT sizes.
//!
//! Run (release, so the TreeSHAP timing is meaningful):
//! `cargo run --release -p pulse-models --example tabular_bench -- [DATASET_DIR]`
//! DATASET_DIR defaults to `../shared/datasets/churn` (from the workspace root) or
//! `../../../shared/datasets/churn` (from the crate directory).

use std::path::{Path, PathBuf};
use std::time::Instant;

use pulse_models::{
    CalibratedModel, CalibrationMethod, CardInfo, CategoricalEncoding, Dataset, EncoderOptions,
    GbtParams, LabelSpec, LogisticParams, Metrics, Model, ModelArtifact, ModelKind, ModelPayload,
    Split, Table, TableEncoder, TopK,
};

struct Spec {
    file: &'static str,
    label: LabelSpec,
    drop: Vec<String>,
}

fn read_table(
    path: &Path,
    drop_prefix: &str,
) -> Result<(Table, Vec<String>), Box<dyn std::error::Error>> {
    let mut rdr = csv::Reader::from_path(path)?;
    let columns: Vec<String> = rdr.headers()?.iter().map(|s| s.to_string()).collect();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        rows.push(rec?.iter().map(|s| s.to_string()).collect());
    }
    let extra_drop = if drop_prefix.is_empty() {
        Vec::new()
    } else {
        columns
            .iter()
            .filter(|c| c.starts_with(drop_prefix))
            .cloned()
            .collect()
    };
    Ok((Table::new(columns, rows)?, extra_drop))
}

struct Fitted {
    model: CalibratedModel,
    metrics: Metrics,
    train_s: f64,
}

fn fit_eval(
    model: impl FnOnce(&Dataset) -> Result<Model, pulse_models::ModelError>,
    ds: &Dataset,
    split: &pulse_models::SplitIndices,
) -> Result<Fitted, Box<dyn std::error::Error>> {
    let train = ds.select_rows(&split.train)?;
    let cal = ds.select_rows(&split.calibration)?;
    let test = ds.select_rows(&split.test)?;
    let t0 = Instant::now();
    let m = model(&train)?;
    let train_s = t0.elapsed().as_secs_f64();
    let cm = CalibratedModel::calibrate(m, &cal, CalibrationMethod::Auto)?;
    let p = cm.predict_proba(test.x())?;
    let metrics = Metrics::compute(p.as_slice().unwrap_or(&[]), test.y(), TopK::Fraction(0.1))?;
    Ok(Fitted {
        model: cm,
        metrics,
        train_s,
    })
}

/// CPU seconds used by this thread (Linux `/proc/thread-self/stat`, 100 Hz ticks), so timings
/// stay meaningful on a shared, loaded machine; falls back to wall time elsewhere.
fn cpu_seconds(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses: utime is field 14.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or_else(|| wall.elapsed().as_secs_f64())
}

/// Mean CPU microseconds per row of `score_row` (probability + all contributions) and of
/// `probability_row` over the test rows, repeated for at least two CPU seconds.
fn per_row_cost(model: &CalibratedModel, test: &Dataset) -> (f64, f64) {
    let rows: Vec<Vec<f64>> = test.x().rows().into_iter().map(|r| r.to_vec()).collect();
    let time = |f: &dyn Fn(&[f64]) -> f64| {
        let wall = Instant::now();
        let start = cpu_seconds(wall);
        let mut n = 0usize;
        let mut sink = 0.0;
        while cpu_seconds(wall) - start < 2.0 {
            for r in &rows {
                sink += f(r);
            }
            n += rows.len();
        }
        std::hint::black_box(sink);
        (cpu_seconds(wall) - start) * 1e6 / n as f64
    };
    let explain = time(&|r| model.score_row(r).map(|s| s.probability).unwrap_or(0.0));
    let plain = time(&|r| model.probability_row(r).unwrap_or(0.0));
    (explain, plain)
}

fn line(name: &str, f: &Fitted) {
    let m = &f.metrics;
    println!(
        "  {name:<28} roc_auc {:.4}  pr_auc {:.4}  brier {:.4}  ece {:.4}  log_loss {:.4}  lift@10% {:.2}  train {:.2}s  calib {:?}",
        m.roc_auc,
        m.pr_auc,
        m.brier,
        m.ece,
        m.log_loss,
        m.lift_top_decile,
        f.train_s,
        f.model.calibrator().method()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            ["../shared/datasets/churn", "../../../shared/datasets/churn"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                .unwrap_or_else(|| PathBuf::from("../shared/datasets/churn"))
        });
    let specs = [
        Spec {
            file: "BankChurners.csv",
            label: LabelSpec::with_positive("Attrition_Flag", "Attrited Customer"),
            drop: vec!["CLIENTNUM".into()],
        },
        Spec {
            file: "Churn_Modelling.csv",
            label: LabelSpec::binary("Exited"),
            drop: vec!["RowNumber".into(), "CustomerId".into(), "Surname".into()],
        },
        Spec {
            file: "mlc_churn.csv",
            label: LabelSpec::binary("churn"),
            drop: vec![],
        },
    ];
    let split = Split::Stratified {
        test_fraction: 0.2,
        calibration_fraction: 0.2,
        seed: 42,
    };
    let sizes: [(&str, GbtParams); 3] = [
        ("gbt default (150/d5/24)", GbtParams::new()),
        (
            "gbt 300/lr.05/d8/31",
            GbtParams::new()
                .iterations(300)
                .learning_rate(0.05)
                .max_depth(8)
                .max_leaves(31),
        ),
        (
            "gbt 500/lr.05/d8/31",
            GbtParams::new()
                .iterations(500)
                .learning_rate(0.05)
                .max_depth(8)
                .max_leaves(31),
        ),
    ];
    for spec in &specs {
        let path = dir.join(spec.file);
        let (table, naive_bayes) = read_table(&path, "Naive_Bayes_Classifier")?;
        let mut drop = spec.drop.clone();
        drop.extend(naive_bayes);
        let opts = |categorical| EncoderOptions {
            drop_columns: drop.clone(),
            categorical,
            ..Default::default()
        };
        let ordinal = TableEncoder::fit(&table, &spec.label, &opts(CategoricalEncoding::Ordinal))?;
        let one_hot = TableEncoder::fit(&table, &spec.label, &opts(CategoricalEncoding::OneHot))?;
        let ds_ord = ordinal.dataset(&table)?;
        let ds_hot = one_hot.dataset(&table)?;
        // Indices depend only on labels and the seed, so both encodings share the split.
        let idx = split.indices(&ds_ord)?;
        assert_eq!(idx, split.indices(&ds_hot)?);
        println!(
            "{}: {} rows, {} features ordinal / {} one-hot, positive rate {:.3}, categorical {:?}",
            spec.file,
            ds_ord.n_rows(),
            ds_ord.n_features(),
            ds_hot.n_features(),
            ds_ord.positive_rate(),
            ordinal.categorical_columns()
        );
        let test = ds_ord.select_rows(&idx.test)?;
        for (k, (name, params)) in sizes.iter().enumerate() {
            let p = params.check_ref()?.clone();
            let f = fit_eval(|d| Ok(Model::from(p.fit(d)?)), &ds_ord, &idx)?;
            line(name, &f);
            let (explain_us, plain_us) = per_row_cost(&f.model, &test);
            println!(
                "  {:<28} score_row with contributions {explain_us:.1} us/row, probability only {plain_us:.2} us/row (CPU time)",
                ""
            );
            if k == 0 {
                let mut info = CardInfo::new("bench", ModelKind::Churn, "1970-01-01T00:00:00Z");
                info.training_seconds = f.train_s;
                let artifact = ModelArtifact::new(
                    info,
                    ModelPayload {
                        model: f.model,
                        encoder: Some(ordinal.clone()),
                        scorecard: None,
                    },
                )?;
                let bytes = artifact.to_bytes()?;
                let t0 = Instant::now();
                let back = ModelArtifact::read(&bytes[..])?;
                println!(
                    "  {:<28} artifact {} KiB, read + verify {:.1} ms, sha256 {}",
                    "",
                    bytes.len() / 1024,
                    t0.elapsed().as_secs_f64() * 1e3,
                    &back.card.sha256[..12]
                );
            }
        }
        let lp = LogisticParams::new().check()?;
        let f = fit_eval(|d| Ok(Model::from(lp.fit(d)?)), &ds_hot, &idx)?;
        line("logistic (one-hot)", &f);
        let f = fit_eval(|d| Ok(Model::from(lp.fit(d)?)), &ds_ord, &idx)?;
        line("logistic (ordinal codes)", &f);
    }
    Ok(())
}
