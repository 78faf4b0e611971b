//! Binary L2-regularised logistic regression on a dense matrix: the
//! objective of `linfa_logistic::LogisticRegression`, solved by the same
//! argmin L-BFGS (memory 10, More-Thuente line search, gradient tolerance,
//! zero start), with the loss and its gradient computed together in one pass
//! over the rows.
//!
//! Objective, with `z_i = x_i · w + b` and `y_i` in {-1, +1}:
//! `Σ_i log(1 + exp(-y_i z_i)) + α/2 · ‖w‖²` (intercept not penalised).
//!
//! Rows are summed in fixed blocks of [`BLOCK_ROWS`], the blocks spread over
//! the machine's cores and their partial sums added in block order, so the
//! result is the same on any number of cores.

use std::sync::Mutex;

use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::{Array1, ArrayView2};

use super::Preprocessor;
use crate::error::ModelError;

/// Rows per block of the summation.
const BLOCK_ROWS: usize = 2_048;

/// Below this many matrix cells an evaluation runs on one thread (threads
/// cost more than they save).
const PARALLEL_CELLS: usize = 200_000;

/// An evaluation: the parameters, the loss and the gradient there.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

/// The rows the loss is summed over.
pub(super) enum Rows<'a> {
    /// Row-major rows of `n_cols` values, as fitted.
    Dense(&'a [f64]),
    /// The rows `rows` of a row-major matrix `cells` of `n_cols` columns,
    /// each value imputed and standardised by `pre` as it is read: the same
    /// values as the standardised copy of those rows, without the copy.
    Standardised {
        cells: &'a [f64],
        rows: &'a [usize],
        pre: &'a Preprocessor,
    },
}

struct Problem<'a> {
    x: Rows<'a>,
    n_cols: usize,
    /// +1 or -1 per row.
    y: Vec<f64>,
    alpha: f64,
    threads: usize,
    /// The last evaluation: parameters, loss and gradient. The line search
    /// asks for the cost and then the gradient at the same point.
    last: Mutex<Option<Evaluation>>,
}

/// `log(1 + exp(-t))`, stable for large |t|.
fn softplus_neg(t: f64) -> f64 {
    if t > 0.0 {
        (-t).exp().ln_1p()
    } else {
        -t + t.exp().ln_1p()
    }
}

impl Problem<'_> {
    fn n_rows(&self) -> usize {
        self.y.len()
    }

    /// Loss and gradient (length `n_cols + 1`, the intercept last) of the
    /// rows of one block.
    fn block(&self, b: usize, w: &[f64]) -> (f64, Vec<f64>) {
        let p = self.n_cols;
        let (coef, intercept) = (&w[..p], w[p]);
        let from = b * BLOCK_ROWS;
        let to = (from + BLOCK_ROWS).min(self.n_rows());
        let mut grad = vec![0.0; p + 1];
        let mut loss = 0.0;
        let mut standardised = vec![0.0; p];
        for i in from..to {
            let row: &[f64] = match &self.x {
                Rows::Dense(x) => &x[i * p..(i + 1) * p],
                Rows::Standardised { cells, rows, pre } => {
                    let at = rows[i] * p;
                    pre.z_row(&cells[at..at + p], &mut standardised);
                    &standardised
                }
            };
            let z = intercept + row.iter().zip(coef).map(|(a, b)| a * b).sum::<f64>();
            let y = self.y[i];
            let t = y * z;
            loss += softplus_neg(t);
            // d/dz log(1 + exp(-y z)) = -y · σ(-y z)
            let r = -y / (1.0 + t.exp());
            for (g, a) in grad[..p].iter_mut().zip(row) {
                *g += r * a;
            }
            grad[p] += r;
        }
        (loss, grad)
    }

    fn evaluate(&self, w: &[f64]) -> (f64, Vec<f64>) {
        if let Some((at, loss, grad)) = &*self.last.lock().unwrap_or_else(|e| e.into_inner())
            && at.as_slice() == w
        {
            return (*loss, grad.clone());
        }
        let blocks = self.n_rows().div_ceil(BLOCK_ROWS);
        let threads = if self.n_rows() * self.n_cols < PARALLEL_CELLS {
            1
        } else {
            self.threads.clamp(1, blocks.max(1))
        };
        let partials: Vec<(f64, Vec<f64>)> = if threads == 1 {
            (0..blocks).map(|b| self.block(b, w)).collect()
        } else {
            let per = blocks.div_ceil(threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        s.spawn(move || {
                            (t * per..((t + 1) * per).min(blocks))
                                .map(|b| self.block(b, w))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        };
        let p = self.n_cols;
        let mut loss = 0.0;
        let mut grad = vec![0.0; p + 1];
        for (l, g) in &partials {
            loss += l;
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b;
            }
        }
        let coef = &w[..p];
        loss += 0.5 * self.alpha * coef.iter().map(|c| c * c).sum::<f64>();
        for (g, c) in grad[..p].iter_mut().zip(coef) {
            *g += self.alpha * c;
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((w.to_vec(), loss, grad.clone()));
        (loss, grad)
    }
}

impl CostFunction for Problem<'_> {
    type Param = Array1<f64>;
    type Output = f64;

    fn cost(&self, w: &Array1<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.evaluate(&w.to_vec()).0)
    }
}

impl Gradient for Problem<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;

    fn gradient(&self, w: &Array1<f64>) -> Result<Array1<f64>, argmin::core::Error> {
        Ok(Array1::from(self.evaluate(&w.to_vec()).1))
    }
}

fn failed(e: impl std::fmt::Display) -> ModelError {
    ModelError::Logistic {
        reason: e.to_string(),
    }
}

/// Fits the coefficients and intercept of `P(y) = σ(x · w + b)` (`true` is
/// the positive class).
pub(super) fn fit(
    x: ArrayView2<'_, f64>,
    y: &[bool],
    alpha: f64,
    max_iterations: u64,
    gradient_tolerance: f64,
) -> Result<(Vec<f64>, f64), ModelError> {
    let rows = x.as_standard_layout();
    let Some(cells) = rows.as_slice() else {
        return Err(failed("the matrix is not contiguous"));
    };
    solve(
        Rows::Dense(cells),
        x.ncols(),
        y,
        alpha,
        max_iterations,
        gradient_tolerance,
    )
}

/// [`fit`] on `x` (`n_cols` columns; one row per label of `y`).
pub(super) fn solve(
    x: Rows<'_>,
    n_cols: usize,
    y: &[bool],
    alpha: f64,
    max_iterations: u64,
    gradient_tolerance: f64,
) -> Result<(Vec<f64>, f64), ModelError> {
    let problem = Problem {
        x,
        n_cols,
        y: y.iter().map(|&t| if t { 1.0 } else { -1.0 }).collect(),
        alpha,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        last: Mutex::new(None),
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(gradient_tolerance)
        .map_err(failed)?;
    let result = Executor::new(problem, solver)
        .configure(|state| {
            state
                .param(Array1::zeros(n_cols + 1))
                .max_iters(max_iterations)
        })
        .run()
        .map_err(failed)?;
    let params = result
        .state
        .best_param
        .ok_or_else(|| failed("no parameters after optimisation"))?;
    let params = params.to_vec();
    Ok((params[..n_cols].to_vec(), params[n_cols]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem<'a>(
        x: &'a [f64],
        n_cols: usize,
        y: &[bool],
        alpha: f64,
        threads: usize,
    ) -> Problem<'a> {
        Problem {
            x: Rows::Dense(x),
            n_cols,
            y: y.iter().map(|&t| if t { 1.0 } else { -1.0 }).collect(),
            alpha,
            threads,
            last: Mutex::new(None),
        }
    }

    fn data(n: usize, p: usize) -> (Vec<f64>, Vec<bool>) {
        let x: Vec<f64> = (0..n * p)
            .map(|k| (((k * 37 + 11) % 101) as f64 - 50.0) / 29.0)
            .collect();
        let y = (0..n)
            .map(|i| x[i * p] - 0.5 * x[i * p + 1] + ((i * 13) % 7) as f64 / 7.0 > 0.4)
            .collect();
        (x, y)
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        let (x, y) = data(300, 4);
        let pr = problem(&x, 4, &y, 0.7, 1);
        let w = [0.3, -0.2, 0.1, 0.05, -0.4];
        let (_, g) = pr.evaluate(&w);
        for k in 0..w.len() {
            let h = 1e-6;
            let (mut a, mut b) = (w, w);
            a[k] += h;
            b[k] -= h;
            let fd = (pr.evaluate(&a).0 - pr.evaluate(&b).0) / (2.0 * h);
            assert!(
                (fd - g[k]).abs() < 1e-4 * fd.abs().max(1.0),
                "{k}: {fd} vs {}",
                g[k]
            );
        }
    }

    #[test]
    fn the_result_does_not_depend_on_the_number_of_threads() {
        // More cells than PARALLEL_CELLS and several blocks.
        let (x, y) = data(20_000, 12);
        let w: Vec<f64> = (0..13).map(|k| (k as f64 - 6.0) / 10.0).collect();
        let one = problem(&x, 12, &y, 1.0, 1).evaluate(&w);
        for threads in [2, 3, 8] {
            assert_eq!(problem(&x, 12, &y, 1.0, threads).evaluate(&w), one);
        }
    }

    #[test]
    fn the_loss_is_stable_for_large_margins() {
        assert_eq!(softplus_neg(1_000.0), 0.0);
        assert!((softplus_neg(-1_000.0) - 1_000.0).abs() < 1e-9);
        assert!((softplus_neg(0.0) - 2f64.ln()).abs() < 1e-15);
    }
}
