//! Small seeded synthetic problems shared by the unit tests.

use ndarray::Array2;

use crate::calibration::sigmoid;
use crate::dataset::Dataset;
use crate::rng::SplitMix64;

/// Churn-like problem with a pure interaction: `logit = 2.5 * a * b + 0.8 * c - 1.5`, plus a
/// noise column `d`; 15% of `b` is missing. Returns the dataset and the true probabilities.
/// A linear model cannot represent `a * b`; trees can.
pub(crate) fn interaction_problem(n: usize, seed: u64) -> (Dataset, Vec<f64>) {
    let mut r = SplitMix64::new(seed);
    let mut x = Array2::zeros((n, 4));
    let mut y = Vec::with_capacity(n);
    let mut probs = Vec::with_capacity(n);
    for i in 0..n {
        let a = r.normal();
        let b = r.normal();
        let c = r.normal();
        let d = r.normal();
        let p = sigmoid(2.5 * a * b + 0.8 * c - 1.5);
        probs.push(p);
        y.push(r.next_f64() < p);
        x[[i, 0]] = a;
        x[[i, 1]] = if r.next_f64() < 0.15 { f64::NAN } else { b };
        x[[i, 2]] = c;
        x[[i, 3]] = d;
    }
    let names = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
    (
        Dataset::new(x, y, names).expect("valid synthetic data"),
        probs,
    )
}

/// Linear problem: `logit = 1.2 * x0 - 0.8 * x1 + 0 * x2 - 1`, with a time column 0..n.
pub(crate) fn linear_problem(n: usize, seed: u64) -> Dataset {
    let mut r = SplitMix64::new(seed);
    let mut x = Array2::zeros((n, 3));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let v = [r.normal(), r.normal(), r.normal()];
        y.push(r.next_f64() < sigmoid(1.2 * v[0] - 0.8 * v[1] - 1.0));
        for j in 0..3 {
            x[[i, j]] = v[j];
        }
    }
    let names = ["x0", "x1", "x2"].iter().map(|s| s.to_string()).collect();
    Dataset::new(x, y, names)
        .and_then(|d| d.with_time((0..n as i64).collect()))
        .expect("valid synthetic data")
}
