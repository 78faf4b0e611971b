//! L2-regularised logistic regression baseline (linfa-logistic) with median imputation and
//! standardisation learned on the training data and stored in the model.
//!
//! Preprocessing: a missing value (NaN) is replaced by the training median of its column (0 when
//! the column is entirely missing), then standardised as `z = (x - mean) / sd` with the training
//! mean and population standard deviation of the imputed column (`sd = 1` for a constant column).
//!
//! Contributions: `coef_j * (z_j - mean_train(z_j))`. The training mean of every standardised
//! column is 0 by construction, so this is `coef_j * z_j`, and the base value is the intercept:
//! `intercept + sum_j coef_j * z_j` is exactly the margin.
//!
//! `alpha` is the L2 weight on the summed (not averaged) log-loss, as in linfa-logistic, so
//! `alpha = 1` matches scikit-learn's default `C = 1`; the intercept is not penalised.
//!
//! Solver: linfa-logistic's objective and optimiser (argmin's L-BFGS, memory 10, More-Thuente
//! line search, the same gradient tolerance, from zero parameters), with the loss and gradient
//! evaluated in one pass over the rows ([`solver`]). linfa computes them with a matrix-matrix
//! product that copies the whole matrix on every call, in separate passes for the cost and the
//! gradient, on one core; on the 10,000-account base that made the logistic baseline most of
//! the churn backtest. The test `the_solver_matches_linfa` pins the fit to linfa's.

mod solver;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, check_feature_names};
use crate::error::{ModelError, ParamError};
use crate::explain::Contributions;

/// Checked hyper-parameters of the logistic baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticValidParams {
    alpha: f64,
    max_iterations: u64,
    gradient_tolerance: f64,
}

impl Default for LogisticValidParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            max_iterations: 300,
            gradient_tolerance: 1e-5,
        }
    }
}

impl LogisticValidParams {
    /// L2 penalty weight.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// L-BFGS iteration limit.
    pub fn max_iterations(&self) -> u64 {
        self.max_iterations
    }
    /// L-BFGS gradient-norm stopping tolerance.
    pub fn gradient_tolerance(&self) -> f64 {
        self.gradient_tolerance
    }

    fn validate(&self) -> Result<(), ParamError> {
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(ParamError::new("alpha", "finite and >= 0", self.alpha));
        }
        if self.max_iterations == 0 {
            return Err(ParamError::new(
                "max_iterations",
                ">= 1",
                self.max_iterations,
            ));
        }
        if !(self.gradient_tolerance.is_finite() && self.gradient_tolerance > 0.0) {
            return Err(ParamError::new(
                "gradient_tolerance",
                "finite and > 0",
                self.gradient_tolerance,
            ));
        }
        Ok(())
    }

    /// Learns imputation and scaling on `data`, then fits the regression.
    pub fn fit(&self, data: &Dataset) -> Result<LogisticModel, ModelError> {
        self.fit_on(data, None)
    }

    /// [`Self::fit`] on the rows `rows` of `data`, in that order: the same
    /// model as fitting `data.select_rows(rows)`, without that copy of the
    /// rows (the solver reads their standardised copy alone).
    pub fn fit_rows(&self, data: &Dataset, rows: &[usize]) -> Result<LogisticModel, ModelError> {
        let y = data.labels_of(rows)?;
        self.fit_on(data, Some((rows, &y)))
    }

    /// Fits on every row of `data`, or on the `(rows, labels)` given.
    fn fit_on(
        &self,
        data: &Dataset,
        rows: Option<(&[usize], &[bool])>,
    ) -> Result<LogisticModel, ModelError> {
        self.validate()?;
        let x = data.x();
        let p = x.ncols();
        let mut medians = Vec::with_capacity(p);
        let mut means = Vec::with_capacity(p);
        let mut scales = Vec::with_capacity(p);
        for j in 0..p {
            let col: Vec<f64> = match rows {
                Some((rows, _)) => rows.iter().map(|&i| x[[i, j]]).collect(),
                None => x.column(j).to_vec(),
            };
            let median = median(col.iter().copied().filter(|v| !v.is_nan()).collect());
            let n = col.len() as f64;
            let imputed = col.iter().map(|&v| if v.is_nan() { median } else { v });
            let mean = imputed.clone().sum::<f64>() / n;
            let var = imputed.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            let sd = var.sqrt();
            medians.push(median);
            means.push(mean);
            scales.push(if sd > 1e-12 * mean.abs().max(1.0) {
                sd
            } else {
                1.0
            });
        }
        let pre = Preprocessor {
            medians,
            means,
            scales,
        };
        let (coefficients, intercept) = match (rows, x.as_slice()) {
            // Rows of a row-major matrix: standardised as the solver reads
            // them (no copy of them).
            (Some((rows, y)), Some(cells)) => solver::solve(
                solver::Rows::Standardised {
                    cells,
                    rows,
                    pre: &pre,
                },
                p,
                y,
                self.alpha,
                self.max_iterations,
                self.gradient_tolerance,
            )?,
            (Some((rows, y)), None) => solver::fit(
                pre.transform_rows(x, rows).view(),
                y,
                self.alpha,
                self.max_iterations,
                self.gradient_tolerance,
            )?,
            (None, _) => solver::fit(
                pre.transform(x).view(),
                data.y(),
                self.alpha,
                self.max_iterations,
                self.gradient_tolerance,
            )?,
        };
        if !intercept.is_finite() || coefficients.iter().any(|c| !c.is_finite()) {
            return Err(ModelError::Logistic {
                reason: "the fitted coefficients are not finite".into(),
            });
        }
        Ok(LogisticModel {
            params: self.clone(),
            feature_names: data.feature_names().to_vec(),
            pre,
            coefficients,
            intercept,
        })
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Unchecked builder of [`LogisticValidParams`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogisticParams(LogisticValidParams);

impl LogisticParams {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn alpha(mut self, v: f64) -> Self {
        self.0.alpha = v;
        self
    }
    pub fn max_iterations(mut self, v: u64) -> Self {
        self.0.max_iterations = v;
        self
    }
    pub fn gradient_tolerance(mut self, v: f64) -> Self {
        self.0.gradient_tolerance = v;
        self
    }
    /// Validates every parameter.
    pub fn check_ref(&self) -> Result<&LogisticValidParams, ParamError> {
        self.0.validate()?;
        Ok(&self.0)
    }
    /// Validates every parameter and returns the fittable params.
    pub fn check(self) -> Result<LogisticValidParams, ParamError> {
        self.0.validate()?;
        Ok(self.0)
    }
}

impl linfa::ParamGuard for LogisticParams {
    type Checked = LogisticValidParams;
    type Error = ParamError;
    fn check_ref(&self) -> Result<&LogisticValidParams, ParamError> {
        LogisticParams::check_ref(self)
    }
    fn check(self) -> Result<LogisticValidParams, ParamError> {
        LogisticParams::check(self)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Preprocessor {
    medians: Vec<f64>,
    means: Vec<f64>,
    scales: Vec<f64>,
}

impl Preprocessor {
    #[inline]
    fn z(&self, j: usize, v: f64) -> f64 {
        let v = if v.is_nan() { self.medians[j] } else { v };
        (v - self.means[j]) / self.scales[j]
    }

    /// [`z`](Self::z) of every value of `row` into `out` (the same length):
    /// the same operations on the same values, so the same bits, in a loop
    /// without bounds checks or branches that the compiler vectorises.
    #[inline]
    fn z_row(&self, row: &[f64], out: &mut [f64]) {
        let columns = self.medians.iter().zip(&self.means).zip(&self.scales);
        for ((o, &v), ((&median, &mean), &scale)) in out.iter_mut().zip(row).zip(columns) {
            let v = if v.is_nan() { median } else { v };
            *o = (v - mean) / scale;
        }
    }

    /// The rows `rows` of `x`, standardised, row-major.
    fn transform_rows(&self, x: ArrayView2<'_, f64>, rows: &[usize]) -> Array2<f64> {
        let mut z = Array2::zeros((rows.len(), x.ncols()));
        for (mut out, &i) in z.rows_mut().into_iter().zip(rows) {
            for (j, (o, &v)) in out.iter_mut().zip(x.row(i)).enumerate() {
                *o = self.z(j, v);
            }
        }
        z
    }

    fn transform(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut z = x.to_owned();
        for (j, mut col) in z.axis_iter_mut(Axis(1)).enumerate() {
            col.mapv_inplace(|v| self.z(j, v));
        }
        z
    }
}

/// A fitted logistic baseline (preprocessing included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LogisticRepr", into = "LogisticRepr")]
pub struct LogisticModel {
    params: LogisticValidParams,
    feature_names: Vec<String>,
    pre: Preprocessor,
    coefficients: Vec<f64>,
    intercept: f64,
}

#[derive(Serialize, Deserialize)]
struct LogisticRepr {
    params: LogisticValidParams,
    feature_names: Vec<String>,
    medians: Vec<f64>,
    means: Vec<f64>,
    scales: Vec<f64>,
    coefficients: Vec<f64>,
    intercept: f64,
}

impl TryFrom<LogisticRepr> for LogisticModel {
    type Error = ModelError;
    fn try_from(r: LogisticRepr) -> Result<Self, ModelError> {
        let p = r.feature_names.len();
        check_feature_names(p, &r.feature_names)?;
        for (what, v) in [
            ("medians", &r.medians),
            ("means", &r.means),
            ("scales", &r.scales),
            ("coefficients", &r.coefficients),
        ] {
            if v.len() != p {
                return Err(ModelError::FeatureCount {
                    expected: p,
                    got: v.len(),
                });
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(ModelError::invalid(format!("logistic {what} not finite")));
            }
        }
        if r.scales.iter().any(|&s| s <= 0.0) || !r.intercept.is_finite() {
            return Err(ModelError::invalid("logistic scales or intercept invalid"));
        }
        Ok(Self {
            params: r.params,
            feature_names: r.feature_names,
            pre: Preprocessor {
                medians: r.medians,
                means: r.means,
                scales: r.scales,
            },
            coefficients: r.coefficients,
            intercept: r.intercept,
        })
    }
}

impl From<LogisticModel> for LogisticRepr {
    fn from(m: LogisticModel) -> Self {
        LogisticRepr {
            params: m.params,
            feature_names: m.feature_names,
            medians: m.pre.medians,
            means: m.pre.means,
            scales: m.pre.scales,
            coefficients: m.coefficients,
            intercept: m.intercept,
        }
    }
}

impl LogisticModel {
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
    pub fn params(&self) -> &LogisticValidParams {
        &self.params
    }
    /// Coefficients on the standardised features.
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }
    /// Intercept, which is also the base value of the explanations.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }
    /// Training medians used for imputation.
    pub fn medians(&self) -> &[f64] {
        &self.pre.medians
    }
    /// Base value of the explanations.
    pub fn base_value(&self) -> f64 {
        self.intercept
    }

    fn check_width(&self, got: usize) -> Result<(), ModelError> {
        if got != self.feature_names.len() {
            return Err(ModelError::FeatureCount {
                expected: self.feature_names.len(),
                got,
            });
        }
        Ok(())
    }

    /// Raw margin (log-odds) of one row.
    pub fn margin_row(&self, row: &[f64]) -> Result<f64, ModelError> {
        self.check_width(row.len())?;
        Ok(self.intercept
            + row
                .iter()
                .enumerate()
                .map(|(j, &v)| self.coefficients[j] * self.pre.z(j, v))
                .sum::<f64>())
    }

    /// Raw margins of many rows.
    pub fn margins(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>, ModelError> {
        self.check_width(x.ncols())?;
        Ok(x.axis_iter(Axis(0))
            .map(|r| {
                self.intercept
                    + r.iter()
                        .enumerate()
                        .map(|(j, &v)| self.coefficients[j] * self.pre.z(j, v))
                        .sum::<f64>()
            })
            .collect())
    }

    /// Margin and contributions of one row (`out` gets one value per feature).
    pub fn explain_row(&self, row: &[f64], out: &mut [f64]) -> Result<f64, ModelError> {
        self.check_width(row.len())?;
        self.check_width(out.len())?;
        for (j, (o, &v)) in out.iter_mut().zip(row).enumerate() {
            *o = self.coefficients[j] * self.pre.z(j, v);
        }
        Ok(self.intercept + out.iter().sum::<f64>())
    }

    /// Margins and contributions of many rows.
    pub fn contributions(&self, x: ArrayView2<'_, f64>) -> Result<Contributions, ModelError> {
        self.check_width(x.ncols())?;
        let mut values = self.pre.transform(x);
        for (j, mut col) in values.axis_iter_mut(Axis(1)).enumerate() {
            col.mapv_inplace(|z| self.coefficients[j] * z);
        }
        let margins = values.sum_axis(Axis(1)) + self.intercept;
        Ok(Contributions {
            feature_names: self.feature_names.clone(),
            base_value: self.intercept,
            values,
            margins,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::linear_problem;
    use ndarray::array;

    #[test]
    fn fitting_on_rows_fits_the_model_of_their_copy() {
        let (ds, _) = crate::testutil::interaction_problem(900, 3);
        assert!(ds.x().iter().any(|v| v.is_nan()), "imputation is exercised");
        let rows: Vec<usize> = (0..ds.n_rows()).rev().filter(|i| i % 4 != 1).collect();
        let params = LogisticParams::new().check().unwrap();
        let on_rows = params.fit_rows(&ds, &rows).unwrap();
        let on_copy = params.fit(&ds.select_rows(&rows).unwrap()).unwrap();
        assert_eq!(on_rows, on_copy);
        // A column-major matrix is standardised into a copy first: the same.
        let mut f = ndarray::Array2::<f64>::zeros(ndarray::ShapeBuilder::f(ds.x().raw_dim()));
        f.assign(&ds.x());
        let fds = Dataset::new(f, ds.y().to_vec(), ds.feature_names().to_vec()).unwrap();
        assert!(fds.x().as_slice().is_none());
        assert_eq!(params.fit_rows(&fds, &rows).unwrap(), on_copy);
        assert!(params.fit_rows(&ds, &[ds.n_rows()]).is_err());
        assert!(params.fit_rows(&ds, &[]).is_err());
    }

    #[test]
    fn a_row_is_standardised_as_its_values_are() {
        let pre = Preprocessor {
            medians: vec![1.5, -2.0, 0.0, 7.0, 3.25],
            means: vec![0.3, -1.1, 0.0, 6.0, 1.0 / 3.0],
            scales: vec![2.0, 0.7, 1.0, 1e-3, 3.0],
        };
        let row = [f64::NAN, 4.0, -0.0, 1e300, 2.0 / 3.0];
        let mut out = [0.0; 5];
        pre.z_row(&row, &mut out);
        for (j, (&o, &v)) in out.iter().zip(&row).enumerate() {
            assert_eq!(o.to_bits(), pre.z(j, v).to_bits(), "column {j}");
        }
    }

    #[test]
    fn params_reject_invalid_values() {
        assert_eq!(
            LogisticParams::new().alpha(-1.0).check().unwrap_err().param,
            "alpha"
        );
        assert_eq!(
            LogisticParams::new()
                .alpha(f64::NAN)
                .check()
                .unwrap_err()
                .param,
            "alpha"
        );
        assert_eq!(
            LogisticParams::new()
                .max_iterations(0)
                .check()
                .unwrap_err()
                .param,
            "max_iterations"
        );
        assert_eq!(
            LogisticParams::new()
                .gradient_tolerance(0.0)
                .check()
                .unwrap_err()
                .param,
            "gradient_tolerance"
        );
        assert!(LogisticParams::new().check().is_ok());
    }

    #[test]
    fn median_imputation_and_standardisation() {
        let x = array![[1.0, 10.0], [f64::NAN, 20.0], [3.0, 30.0], [5.0, 40.0]];
        let ds = Dataset::new(
            x,
            vec![false, true, false, true],
            vec!["a".into(), "b".into()],
        )
        .unwrap();
        let m = LogisticParams::new().check().unwrap().fit(&ds).unwrap();
        assert_eq!(m.medians(), &[3.0, 25.0]);
        // Imputed column a = [1, 3, 3, 5]: mean 3, population sd sqrt(2).
        assert!((m.pre.means[0] - 3.0).abs() < 1e-12);
        assert!((m.pre.scales[0] - 2f64.sqrt()).abs() < 1e-12);
        let c = m.contributions(ds.x()).unwrap();
        assert!(c.max_additivity_error() < 1e-12);
        // Row 1 (a missing) gets a zero contribution from a: imputed to the median = mean here.
        assert!(c.values[[1, 0]].abs() < 1e-12);
    }

    /// Reference: scikit-learn 1.9.1 `SimpleImputer(median) + StandardScaler +
    /// LogisticRegression(C=1)` on the same 12 rows (crates/pulse-models/reference/
    /// sklearn_reference.py).
    #[test]
    fn matches_scikit_learn_pipeline() {
        let nan = f64::NAN;
        let x = array![
            [1.0, 20.0, 0.0],
            [2.0, 18.0, 1.0],
            [nan, 25.0, 0.0],
            [4.0, 30.0, 1.0],
            [5.0, nan, 1.0],
            [6.0, 12.0, 0.0],
            [7.0, 40.0, 1.0],
            [8.0, 35.0, 0.0],
            [9.0, 15.0, 1.0],
            [10.0, 22.0, 0.0],
            [3.0, 28.0, 1.0],
            [6.5, 19.0, 0.0]
        ];
        let y = [0, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0]
            .iter()
            .map(|&v| v == 1)
            .collect();
        let ds = Dataset::new(x, y, vec!["a".into(), "b".into(), "c".into()]).unwrap();
        let m = LogisticParams::new()
            .gradient_tolerance(1e-10)
            .max_iterations(1000)
            .check()
            .unwrap()
            .fit(&ds)
            .unwrap();
        for (c, r) in m.coefficients().iter().zip(SK_COEF) {
            assert!((c - r).abs() < 1e-5, "{c} vs {r}");
        }
        assert!(
            (m.intercept() - SK_INTERCEPT).abs() < 1e-5,
            "{}",
            m.intercept()
        );
    }
    const SK_COEF: [f64; 3] = [
        0.38589086617743135,
        0.8487310518287549,
        -0.05464934112929867,
    ];
    const SK_INTERCEPT: f64 = 0.03596237824857598;

    /// The dense solver against linfa-logistic, the implementation it
    /// replaced, on the same standardised matrix with the defaults Pulse
    /// trains with: a larger problem than the scikit-learn reference, with
    /// a rare positive class as churn has and rows spread over several
    /// blocks and threads.
    #[test]
    fn the_solver_matches_linfa() {
        use linfa::traits::Fit;
        let ds = linear_problem(30_000, 11);
        // A rare positive class: keep 1 positive in 6.
        let keep: Vec<usize> = (0..ds.n_rows())
            .filter(|&i| !ds.y()[i] || i % 6 == 0)
            .collect();
        let ds = ds.select_rows(&keep).unwrap();
        let params = LogisticParams::new().check().unwrap();
        let m = params.fit(&ds).unwrap();
        let z = m.pre.transform(ds.x());
        let reference = linfa_logistic::LogisticRegression::<f64>::default()
            .alpha(params.alpha())
            .max_iterations(params.max_iterations())
            .gradient_tolerance(params.gradient_tolerance())
            .fit(&linfa::Dataset::new(
                z.clone(),
                Array1::from(ds.y().to_vec()),
            ))
            .unwrap();
        // linfa makes the larger class (`false` here) positive.
        assert!(!reference.labels().pos.class);
        for (c, r) in m.coefficients().iter().zip(reference.params()) {
            assert!((c + r).abs() < 1e-4, "{c} vs {}", -r);
        }
        assert!((m.intercept() + reference.intercept()).abs() < 1e-4);
        let ours = m.margins(ds.x()).unwrap();
        for (i, row) in z.rows().into_iter().enumerate() {
            let theirs = -(reference.intercept() + row.dot(reference.params()));
            let (p, q) = (
                1.0 / (1.0 + (-ours[i]).exp()),
                1.0 / (1.0 + (-theirs).exp()),
            );
            assert!((p - q).abs() < 1e-5, "row {i}: {p} vs {q}");
        }
    }

    #[test]
    fn recovers_direction_contributions_sum_and_round_trips() {
        let ds = linear_problem(2000, 5);
        let m = LogisticParams::new().check().unwrap().fit(&ds).unwrap();
        let c = m.coefficients();
        assert!(c[0] > 0.5 && c[1] < -0.3 && c[2].abs() < 0.15, "{c:?}");
        let contribs = m.contributions(ds.x()).unwrap();
        assert!(contribs.max_additivity_error() < 1e-9);
        let mut out = vec![0.0; ds.n_features()];
        let row: Vec<f64> = ds.x().row(3).to_vec();
        let margin = m.explain_row(&row, &mut out).unwrap();
        assert!((margin - m.margin_row(&row).unwrap()).abs() < 1e-12);
        assert!((m.base_value() + out.iter().sum::<f64>() - margin).abs() < 1e-12);
        let json = serde_json::to_string(&m).unwrap();
        let back: LogisticModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }
}
