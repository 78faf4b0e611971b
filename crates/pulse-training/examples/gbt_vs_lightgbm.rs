//! The Rust half of `bench/gbt_vs_lightgbm.py`: trains Pulse's GBT (forust-ml) and logistic
//! baseline (linfa) on one dataset exactly as Pulse does, and writes everything the Python half
//! needs to train LightGBM and scikit-learn on the same rows and split:
//!
//! - `NAME.x.npy` (f64, rows x features, NaN = missing: the matrix Pulse trained on),
//!   `NAME.y.npy` (u8 labels), `NAME.split.npy` (u8 per row: 0 train, 1 calibration, 2 test, 3 unused: purged
//!   by the backtest's gap);
//! - `NAME.pulse_gbt.npy` (one row per seed), `NAME.pulse_logistic.npy` (one row): Pulse's
//!   calibrated test probabilities, test rows in ascending row order;
//! - `NAME.json`: shape, feature names, categorical columns, the GBT parameters, split sizes,
//!   training wall and CPU seconds, Pulse's own metrics and the load average around the fits.
//!
//! Datasets (`--dataset`):
//! - `bank_churners`, `churn_modelling`, `mlc_churn`: the public churn tables in
//!   `shared/datasets/churn`, encoded and split as `pulse train --table` does (ordinal
//!   categories, stratified split with `TrainConfig`'s test and calibration fractions, seed 42);
//!   id columns and BankChurners' two leaked Naive Bayes columns are dropped;
//! - `synthetic`: the churn snapshots of a 2,000-account x 24-month synthetic base (seed 42,
//!   ending 2026-06-30, as in the backtest of docs/benchmarks.md), with the pipeline's own
//!   time-based split;
//! - `numeric_500k`: 700,000 seeded rows x 40 numeric features with non-linear effects and
//!   interactions; rows 0..500,000 train, the next 100,000 calibrate, the last 100,000 test.
//!
//! Run: `cargo run --release -p pulse-training --example gbt_vs_lightgbm -- --dataset NAME
//! --out DIR [--churn-dir DIR] [--repeats N]`: N fits of the GBT with seeds 0..N (row and
//! column sampling), each timed, calibrated and scored.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::Array2;
use pulse_core::time::parse_day;
use pulse_models::{
    CalibratedModel, Dataset, EncoderOptions, GbtValidParams, LabelSpec, Metrics, Model, ModelKind,
    Split, SplitIndices, Table, TableEncoder, TopK, roc_auc,
};
use pulse_synth::{SynthConfig, generate};
use pulse_training::{TrainConfig, TrainingData};
use serde_json::json;

type BoxError = Box<dyn std::error::Error>;

/// A dataset ready to train on: the matrix Pulse uses and its split.
struct Prepared {
    ds: Dataset,
    split: SplitIndices,
    /// Indices of categorical (ordinal-coded) columns.
    categorical: Vec<usize>,
    source: String,
    split_method: String,
    /// The same rows with one-hot categories, for `pulse train --table`'s
    /// model selection (churn tables only).
    linear: Option<Dataset>,
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let name = flag("--dataset").ok_or("--dataset NAME is required")?;
    let out = PathBuf::from(flag("--out").ok_or("--out DIR is required")?);
    let churn_dir = flag("--churn-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/datasets/churn"));
    let repeats: usize = flag("--repeats").map_or(Ok(1), |s| s.parse())?;
    std::fs::create_dir_all(&out)?;

    let cfg = TrainConfig::default();
    let t_prep = Instant::now();
    let p = match name.as_str() {
        "bank_churners" => churn_table(
            &churn_dir.join("BankChurners.csv"),
            LabelSpec::with_positive("Attrition_Flag", "Attrited Customer"),
            &["CLIENTNUM"],
            "Naive_Bayes_Classifier",
            &cfg,
        )?,
        "churn_modelling" => churn_table(
            &churn_dir.join("Churn_Modelling.csv"),
            LabelSpec::binary("Exited"),
            &["RowNumber", "CustomerId", "Surname"],
            "",
            &cfg,
        )?,
        "mlc_churn" => churn_table(
            &churn_dir.join("mlc_churn.csv"),
            LabelSpec::binary("churn"),
            &[],
            "",
            &cfg,
        )?,
        "synthetic" => synthetic(&cfg)?,
        "numeric_500k" => numeric(500_000, 100_000, 100_000, 40, 20_261_123)?,
        other => return Err(format!("unknown dataset {other}").into()),
    };
    let prep_s = t_prep.elapsed().as_secs_f64();
    let Prepared {
        ds,
        split,
        categorical,
        source,
        split_method,
        linear,
    } = p;
    for part in [&split.train, &split.calibration, &split.test] {
        if !part.windows(2).all(|w| w[0] < w[1]) {
            return Err("split indices must be ascending".into());
        }
    }
    let train = ds.select_rows(&split.train)?;
    let cal = ds.select_rows(&split.calibration)?;
    let test = ds.select_rows(&split.test)?;

    // The GBT: Pulse's defaults with seeds 0..repeats (row and column sampling depend on the
    // seed), each fit timed (wall and whole-process CPU), calibrated and scored.
    let gbt_params: GbtValidParams = cfg.gbt.check_ref()?.clone();
    let load_before = load_average();
    let mut gbt_wall = Vec::new();
    let mut gbt_cpu = Vec::new();
    let mut gbt_p: Vec<f64> = Vec::new();
    let mut gbt_metrics = Vec::new();
    let mut gbt_raw_auc = Vec::new();
    let mut gbt_calibration = Vec::new();
    for seed in 0..repeats.max(1) as u64 {
        let params = cfg.gbt.clone().seed(seed).check()?;
        let (c0, t0) = (process_cpu_seconds(), Instant::now());
        let m = params.fit(&train)?;
        gbt_wall.push(t0.elapsed().as_secs_f64());
        gbt_cpu.push(process_cpu_seconds() - c0);
        let m = Model::from(m);
        gbt_raw_auc.push(roc_auc(
            m.margins(test.x())?.as_slice().unwrap_or(&[]),
            test.y(),
        )?);
        let m = CalibratedModel::calibrate(m, &cal, cfg.calibration)?;
        let p = m.predict_proba(test.x())?.to_vec();
        gbt_metrics.push(Metrics::compute(&p, test.y(), TopK::Fraction(0.1))?);
        gbt_calibration.push(format!("{:?}", m.calibrator().method()));
        gbt_p.extend(p);
    }
    let load_after_gbt = load_average();

    // The logistic baseline, as the pipeline trains it (same matrix).
    let (c0, t0) = (process_cpu_seconds(), Instant::now());
    let lr = Model::from(cfg.logistic.check_ref()?.fit(&train)?);
    let lr_wall = t0.elapsed().as_secs_f64();
    let lr_cpu = process_cpu_seconds() - c0;
    let lr_raw_auc = roc_auc(lr.margins(test.x())?.as_slice().unwrap_or(&[]), test.y())?;
    let lr = CalibratedModel::calibrate(lr, &cal, cfg.calibration)?;
    let lr_p = lr.predict_proba(test.x())?.to_vec();
    let lr_metrics = Metrics::compute(&lr_p, test.y(), TopK::Fraction(0.1))?;
    let load_after = load_average();

    // `pulse train --table`: candidates cross-validated on the train and
    // calibration rows, the winner fitted on them with cross-fitted
    // calibration and scored on the test rows.
    let selected = match &linear {
        None => None,
        Some(linear) => {
            let mut fit_rows = split.train.clone();
            fit_rows.extend_from_slice(&split.calibration);
            fit_rows.sort_unstable();
            let (c0, t0) = (process_cpu_seconds(), Instant::now());
            let o = pulse_training::select_and_report(&ds, linear, &fit_rows, &split.test, &cfg)?;
            let wall = t0.elapsed().as_secs_f64();
            let cpu = process_cpu_seconds() - c0;
            let winner = o.selection.winner().name.clone();
            let p = o.test_probabilities[&winner].clone();
            let m = Metrics::compute(&p, test.y(), TopK::Fraction(0.1))?;
            let smartcore = smartcore_candidates(
                &ds.select_rows(&fit_rows)?,
                &linear.select_rows(&fit_rows)?,
                &test,
                &linear.select_rows(&split.test)?,
            )?;
            Some((o.card(&cfg), p, m, wall, cpu, smartcore))
        }
    };

    // Everything the Python half needs.
    let (n, f) = (ds.n_rows(), ds.n_features());
    let mut part = vec![3u8; n];
    split.train.iter().for_each(|&i| part[i] = 0);
    split.calibration.iter().for_each(|&i| part[i] = 1);
    split.test.iter().for_each(|&i| part[i] = 2);
    let stem = |ext: &str| out.join(format!("{name}.{ext}"));
    write_npy_f64(&stem("x.npy"), ds.x().iter().copied(), &[n, f])?;
    write_npy_u8(
        &stem("y.npy"),
        &ds.y().iter().map(|&b| b as u8).collect::<Vec<_>>(),
    )?;
    write_npy_u8(&stem("split.npy"), &part)?;
    write_npy_f64(
        &stem("pulse_gbt.npy"),
        gbt_p.iter().copied(),
        &[gbt_wall.len(), split.test.len()],
    )?;
    write_npy_f64(
        &stem("pulse_logistic.npy"),
        lr_p.iter().copied(),
        &[1, lr_p.len()],
    )?;
    if let Some((_, p, .., smartcore)) = &selected {
        write_npy_f64(
            &stem("pulse_selected.npy"),
            p.iter().copied(),
            &[1, p.len()],
        )?;
        for (key, _, p, _) in smartcore {
            write_npy_f64(
                &stem(&format!("{key}.npy")),
                p.iter().copied(),
                &[1, p.len()],
            )?;
        }
    }
    let selected_json = selected.as_ref().map(|(card, _, m, wall, cpu, sc)| {
        json!({
            "seeds": [0],
            "train_seconds": [wall],
            "train_cpu_seconds": [cpu],
            "calibration": [format!("{:?}", cfg.calibration)],
            "roc_auc_uncalibrated": [m.roc_auc],
            "metrics": [m],
            "selection": card,
            "smartcore": sc
                .iter()
                .map(|(key, label, _, secs)| json!({"key": key, "label": label, "train_seconds": secs}))
                .collect::<Vec<_>>(),
        })
    });
    let report = json!({
        "dataset": name,
        "source": source,
        "split_method": split_method,
        "rows": n,
        "features": f,
        "feature_names": ds.feature_names(),
        "categorical": categorical,
        "positive_rate": ds.positive_rate(),
        "n_train": split.train.len(),
        "n_calibration": split.calibration.len(),
        "n_test": split.test.len(),
        "prepare_seconds": prep_s,
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "load_average": {"before": load_before, "after_gbt": load_after_gbt, "after": load_after},
        "gbt_params": gbt_params,
        "pulse": {
            "gbt": {
                "seeds": (0..gbt_wall.len()).collect::<Vec<_>>(),
                "train_seconds": gbt_wall,
                "train_cpu_seconds": gbt_cpu,
                "calibration": gbt_calibration,
                "roc_auc_uncalibrated": gbt_raw_auc,
                "metrics": gbt_metrics,
            },
            "logistic": {
                "seeds": [0],
                "train_seconds": [lr_wall],
                "train_cpu_seconds": [lr_cpu],
                "calibration": [format!("{:?}", lr.calibrator().method())],
                "roc_auc_uncalibrated": [lr_raw_auc],
                "metrics": [lr_metrics],
            },
            "selected": selected_json,
        },
    });
    std::fs::write(stem("json"), serde_json::to_vec_pretty(&report)?)?;
    let mean_auc = gbt_metrics.iter().map(|m| m.roc_auc).sum::<f64>() / gbt_metrics.len() as f64;
    println!(
        "{name}: {n} x {f}, Pulse GBT mean ROC-AUC {mean_auc:.4} over {} seeds, fastest fit {:.2} s; logistic {:.4} in {:.2} s",
        gbt_metrics.len(),
        gbt_wall.iter().copied().fold(f64::INFINITY, f64::min),
        lr_metrics.roc_auc,
        lr_wall
    );
    Ok(())
}

/// smartcore's estimators that give probabilities, as candidates would be
/// trained (on the selection's rows) and scored on the test rows: bagged
/// decision trees (smartcore 0.7's random forest only votes, with no
/// probabilities) and k-nearest neighbours on standardised one-hot rows.
/// Missing values are imputed with training medians (smartcore has no NaN
/// handling). Returns (key, label, test probabilities, fit + predict seconds).
#[allow(clippy::type_complexity)]
fn smartcore_candidates(
    trees_fit: &Dataset,
    linear_fit: &Dataset,
    trees_test: &Dataset,
    linear_test: &Dataset,
) -> Result<Vec<(String, String, Vec<f64>, f64)>, BoxError> {
    use smartcore::linalg::basic::arrays::Array;
    use smartcore::linalg::basic::matrix::DenseMatrix;
    use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
    use smartcore::tree::decision_tree_classifier::{
        DecisionTreeClassifier, DecisionTreeClassifierParameters,
    };

    // Median imputation (and, for kNN, standardisation) learned on the fit rows.
    let prepare = |fit: &Dataset, scale: bool| {
        let x = fit.x();
        (0..x.ncols())
            .map(|j| {
                let mut v: Vec<f64> = x
                    .column(j)
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan())
                    .collect();
                v.sort_by(f64::total_cmp);
                let med = if v.is_empty() { 0.0 } else { v[v.len() / 2] };
                let n = x.nrows() as f64;
                let filled = x
                    .column(j)
                    .iter()
                    .map(|&v| if v.is_nan() { med } else { v })
                    .collect::<Vec<_>>();
                let mean = filled.iter().sum::<f64>() / n;
                let sd = (filled.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
                if scale && sd > 1e-12 {
                    (med, mean, sd)
                } else {
                    (med, 0.0, 1.0)
                }
            })
            .collect::<Vec<_>>()
    };
    let matrix = |d: &Dataset, rows: Option<&[usize]>, pre: &[(f64, f64, f64)]| {
        let x = d.x();
        let idx: Vec<usize> = rows.map_or_else(|| (0..x.nrows()).collect(), <[usize]>::to_vec);
        let data: Vec<Vec<f64>> = idx
            .iter()
            .map(|&i| {
                x.row(i)
                    .iter()
                    .zip(pre)
                    .map(|(&v, &(med, mean, sd))| ((if v.is_nan() { med } else { v }) - mean) / sd)
                    .collect()
            })
            .collect();
        DenseMatrix::from_2d_vec(&data)
    };
    let labels = |d: &Dataset, rows: Option<&[usize]>| -> Vec<u32> {
        let y = d.y();
        rows.map_or_else(|| (0..y.len()).collect(), <[usize]>::to_vec)
            .into_iter()
            .map(|i| u32::from(y[i]))
            .collect()
    };
    let mut out = Vec::new();

    let pre = prepare(trees_fit, false);
    let test_x = matrix(trees_test, None, &pre)?;
    let t0 = Instant::now();
    let n_trees = 100;
    let mut rng = Rng::new(7);
    let mut probs = vec![0.0; trees_test.n_rows()];
    for _ in 0..n_trees {
        let rows: Vec<usize> = (0..trees_fit.n_rows())
            .map(|_| (rng.next_f64() * trees_fit.n_rows() as f64) as usize)
            .collect();
        let x = matrix(trees_fit, Some(&rows), &pre)?;
        let y = labels(trees_fit, Some(&rows));
        let tree = DecisionTreeClassifier::fit(
            &x,
            &y,
            DecisionTreeClassifierParameters::default().with_min_samples_leaf(5),
        )?;
        let p = tree.predict_proba(&test_x)?;
        for (i, v) in probs.iter_mut().enumerate() {
            *v += *p.get((i, 1)) / f64::from(n_trees);
        }
    }
    out.push((
        "smartcore_bagged_trees".to_string(),
        format!("smartcore bagged decision trees ({n_trees}, min leaf 5)"),
        probs,
        t0.elapsed().as_secs_f64(),
    ));

    let pre = prepare(linear_fit, true);
    let t0 = Instant::now();
    let x = matrix(linear_fit, None, &pre)?;
    let knn = KNNClassifier::fit(
        &x,
        &labels(linear_fit, None),
        KNNClassifierParameters::default().with_k(50),
    )?;
    let p = knn.predict_proba(&matrix(linear_test, None, &pre)?)?;
    out.push((
        "smartcore_knn".to_string(),
        "smartcore k-nearest neighbours (k 50, standardised one-hot)".to_string(),
        p.iter()
            .map(|r| if r.len() > 1 { r[1] } else { 0.0 })
            .collect(),
        t0.elapsed().as_secs_f64(),
    ));
    Ok(out)
}

/// A churn CSV encoded and split as `pulse train --table` does (no time column).
fn churn_table(
    path: &Path,
    label: LabelSpec,
    drop: &[&str],
    drop_prefix: &str,
    cfg: &TrainConfig,
) -> Result<Prepared, BoxError> {
    let mut rdr = csv::Reader::from_path(path)
        .map_err(|e| format!("{}: {e} (pass --churn-dir)", path.display()))?;
    let columns: Vec<String> = rdr.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        rows.push(rec?.iter().map(str::to_string).collect());
    }
    let mut drop_columns: Vec<String> = drop.iter().map(|s| s.to_string()).collect();
    if !drop_prefix.is_empty() {
        drop_columns.extend(
            columns
                .iter()
                .filter(|c| c.starts_with(drop_prefix))
                .cloned(),
        );
    }
    let table = Table::new(columns, rows)?;
    let options = EncoderOptions {
        drop_columns,
        ..Default::default()
    };
    let encoder = TableEncoder::fit(&table, &label, &options)?;
    let ds = encoder.dataset(&table)?;
    let linear = TableEncoder::fit(
        &table,
        &label,
        &EncoderOptions {
            categorical: pulse_models::CategoricalEncoding::OneHot,
            ..options.clone()
        },
    )?
    .dataset(&table)?;
    let cats = encoder.categorical_columns();
    let categorical = encoder
        .feature_sources()
        .iter()
        .enumerate()
        .filter(|(_, s)| cats.contains(&s.as_str()))
        .map(|(j, _)| j)
        .collect();
    let split = Split::Stratified {
        test_fraction: cfg.test_fraction,
        calibration_fraction: cfg.calibration_fraction,
        seed: 42,
    };
    let idx = split.indices(&ds)?;
    Ok(Prepared {
        ds,
        split: idx,
        categorical,
        source: path.display().to_string(),
        linear: Some(linear),
        split_method: format!(
            "stratified (as `pulse train --table` without a time column): test {:.0}%, calibration {:.0}%, seed 42",
            cfg.test_fraction * 100.0,
            cfg.calibration_fraction * 100.0
        ),
    })
}

/// Churn snapshots of the synthetic base with the pipeline's backtest split.
fn synthetic(cfg: &TrainConfig) -> Result<Prepared, BoxError> {
    let end = parse_day("end", "2026-06-30")?;
    let b = generate(&SynthConfig::new(2000, 24, 42, end));
    let hs = pulse_features::histories_from_records(pulse_features::Records {
        accounts: &b.accounts,
        contacts: &b.contacts,
        interactions: &b.interactions,
        usage: &b.usage,
        subscriptions: &b.subscriptions,
        surveys: &b.surveys,
        operational: &b.operational,
    });
    let data = TrainingData::build(&hs, None, cfg)?;
    let ds = data.dataset(ModelKind::Churn)?;
    let (split, cutoff) = data.backtest_split(cfg);
    let idx = split.indices(&ds)?;
    Ok(Prepared {
        linear: None,
        ds,
        split: idx,
        categorical: Vec::new(),
        source: "pulse-synth: 2,000 accounts x 24 months, seed 42, ending 2026-06-30; weekly churn snapshots (90-day label)".into(),
        split_method: format!(
            "time-based backtest as in pulse-training: test = as-of days from {} (latest {:.0}%), training rows purged by the {}-day horizon, calibration = latest {:.0}% of the rest",
            pulse_core::time::format_day(cutoff),
            cfg.test_fraction * 100.0,
            cfg.horizon_days,
            cfg.calibration_fraction * 100.0
        ),
    })
}

use pulse_core::rng::SplitMix64 as Rng;

/// A seeded numeric table: 10 Gaussian, 10 uniform, 5 correlated, 5 count-like and the rest
/// pure-noise features; the log-odds mix thresholds, curves and pairwise interactions, and two
/// columns have 3% missing values. Values are rounded to f32 precision so any reader sees the
/// same numbers. Rows are independent, so the positional split is a random one.
fn numeric(
    n_train: usize,
    n_cal: usize,
    n_test: usize,
    p: usize,
    seed: u64,
) -> Result<Prepared, BoxError> {
    if p < 30 {
        return Err("numeric table needs at least 30 features".into());
    }
    let n = n_train + n_cal + n_test;
    let mut rng = Rng::new(seed);
    let mut x = Array2::<f64>::zeros((n, p));
    let mut y = Vec::with_capacity(n);
    let mut row = vec![0.0; p];
    for i in 0..n {
        for (j, v) in row.iter_mut().enumerate() {
            *v = match j {
                0..10 => rng.normal(),
                10..20 => rng.next_f64(),
                _ => rng.normal(),
            };
        }
        for j in 20..25 {
            row[j] = 0.7 * row[j - 20] + 0.7 * row[j];
        }
        for v in &mut row[25..30] {
            *v = (0.6 * *v + 1.0).exp().floor();
        }
        let logit = -2.3 + 0.9 * row[0] - 0.5 * row[1] * row[1]
            + 1.1 * (2.0 * row[2]).sin()
            + 1.0 * f64::from(row[3] > 0.5) * row[4]
            + 0.8 * row[5] * row[6]
            + 1.3 * f64::from(row[10] > 0.7)
            - 2.4 * row[11] * row[12]
            + 0.6 * row[7].abs()
            + 0.5 * (row[25] + 1.0).ln()
            - 0.4 * f64::from(row[26] >= 3.0) * row[8]
            + 0.7 * (row[13] - 0.5) * row[20]
            + 0.5 * rng.normal();
        y.push(rng.next_f64() < 1.0 / (1.0 + (-logit).exp()));
        for (j, v) in row.iter().enumerate() {
            let missing = (j == 3 || j == 27) && rng.next_f64() < 0.03;
            x[[i, j]] = if missing {
                f64::NAN
            } else {
                f64::from(*v as f32)
            };
        }
    }
    let names = (0..p).map(|j| format!("x{j:02}")).collect();
    let ds = Dataset::new(x, y, names)?;
    Ok(Prepared {
        linear: None,
        ds,
        split: SplitIndices {
            train: (0..n_train).collect(),
            calibration: (n_train..n_train + n_cal).collect(),
            test: (n_train + n_cal..n).collect(),
        },
        categorical: Vec::new(),
        source: format!(
            "generated by this example (seed {seed}): {n} rows x {p} numeric features, non-linear with interactions, 3% missing in two columns"
        ),
        split_method: format!(
            "by position (rows are i.i.d.): {n_train} train, {n_cal} calibration, {n_test} test"
        ),
    })
}

/// User + system CPU seconds of this process, all threads (Linux; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

/// The 1-minute load average (Linux; NaN elsewhere).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // Magic (6) + version (2) + length (2) + dict + newline, padded to a multiple of 64.
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    h.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h
}

fn write_npy_f64(
    path: &Path,
    values: impl Iterator<Item = f64>,
    shape: &[usize],
) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    w.write_all(&npy_header("<f8", shape))?;
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    w.flush()
}

fn write_npy_u8(path: &Path, values: &[u8]) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    w.write_all(&npy_header("|u1", &[values.len()]))?;
    w.write_all(values)?;
    w.flush()
}
