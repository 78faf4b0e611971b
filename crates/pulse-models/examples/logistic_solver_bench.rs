//! The logistic baseline's solver against linfa-logistic, side by side in one
//! run, on a matrix the size of the churn backtest's training rows (default
//! 131,570 x 61, about 9% positive, standardised, as the baseline sees
//! it): wall time per fit (median of the runs, interleaved) and the largest
//! difference in fitted probability.
//!
//! `cargo run --release -p pulse-models --example logistic_solver_bench -- [ROWS] [RUNS]`

use std::time::Instant;

use linfa::traits::Fit;
use ndarray::{Array1, Array2};
use pulse_models::{Dataset, LogisticParams};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(131_570);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let p = 61;
    // A deterministic linear world with correlated columns and a rare class.
    let mut state: u64 = 2026;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut x = Array2::<f64>::zeros((n, p));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let common = uniform() - 0.5;
        let mut z = -4.2;
        for j in 0..p {
            let v = (uniform() - 0.5) * 3.4 + common * (j % 3) as f64;
            x[[i, j]] = v;
            z += v * ((j % 7) as f64 - 3.0) / 6.0;
        }
        y.push(uniform() < 1.0 / (1.0 + (-z).exp()));
    }
    let names = (0..p).map(|j| format!("f{j}")).collect();
    let ds = Dataset::new(x, y, names).expect("a valid dataset");
    let params = LogisticParams::new().check().expect("default parameters");
    let rate = ds.y().iter().filter(|&&t| t).count() as f64 / n as f64;
    println!(
        "{n} rows x {p} features, positive rate {:.1}%, {runs} interleaved runs each; load average {}",
        rate * 100.0,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    let (mut ours_t, mut linfa_t) = (Vec::new(), Vec::new());
    let mut worst: f64 = 0.0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let ours = params.fit(&ds).expect("our fit");
        ours_t.push(t0.elapsed().as_secs_f64());

        // linfa on the same standardised matrix (no missing values here, so
        // the preprocessing is the standardisation alone).
        let mut z = ds.x().to_owned();
        for mut col in z.columns_mut() {
            let mean = col.mean().unwrap_or(0.0);
            let sd = col.std(0.0).max(1e-12);
            col.mapv_inplace(|v| (v - mean) / sd);
        }
        let t0 = Instant::now();
        let reference = linfa_logistic::LogisticRegression::<f64>::default()
            .alpha(params.alpha())
            .max_iterations(params.max_iterations())
            .gradient_tolerance(params.gradient_tolerance())
            .fit(&linfa::Dataset::new(
                z.clone(),
                Array1::from(ds.y().to_vec()),
            ))
            .expect("linfa's fit");
        linfa_t.push(t0.elapsed().as_secs_f64());

        let margins = ours.margins(ds.x()).expect("margins");
        let sign = if reference.labels().pos.class {
            1.0
        } else {
            -1.0
        };
        for (i, row) in z.rows().into_iter().enumerate() {
            let theirs = sign * (reference.intercept() + row.dot(reference.params()));
            let (a, b) = (
                1.0 / (1.0 + (-margins[i]).exp()),
                1.0 / (1.0 + (-theirs).exp()),
            );
            worst = worst.max((a - b).abs());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut ours_t), median(&mut linfa_t));
    println!("Pulse's solver : {a:.2} s per fit (median)");
    println!("linfa-logistic : {b:.2} s per fit (median)");
    println!("speed-up       : {:.1}x", b / a);
    println!("largest probability difference: {worst:.2e}");
}
