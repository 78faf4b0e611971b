//! Gradient-boosted trees (forust-ml, log-loss objective) with linfa-style checked parameters.
//!
//! `GbtParams::new()` → setters → `check()` → `GbtValidParams::fit(&Dataset)` → [`GbtModel`].
//! Missing values (NaN) are handled natively by forust: each split learns which side missing
//! values go to. Columns that are constant (or entirely missing) in the training data are left out
//! of the booster and get a zero contribution, so the model keeps the full feature schema.
//!
//! Histograms are built from a tiled (row-major by column group) copy of the binned data,
//! forust's `tiled_histograms`. Sums are added in another order, so trees can differ in the last
//! bits from the column-wise build; on the five tables of `bench/gbt_vs_lightgbm.py` the test
//! ROC-AUC was the same to four decimals for every seed tried, and fitting took 13-30% less CPU
//! from 60,000 rows up, for a second copy of the binned data (2 bytes a cell).
//!
//! Default size and the latency trade-off: exact TreeSHAP costs about `trees x leaves x depth`
//! per row, so the defaults (150 trees of depth <= 5 with <= 24 leaves, learning rate 0.08)
//! keep one row's probability plus all contributions near 55-65 us of CPU, while matching
//! the ranking quality of 300-500-tree / depth-8 configurations on the benchmark tables (the
//! crate docs list the measured figures). Raise `iterations` / `max_depth` for batch-only
//! scoring where explanation latency does not matter.

use forust_ml::Matrix;
use forust_ml::gradientbooster::GradientBooster;
use forust_ml::objective::ObjectiveType;
use forust_ml::sampler::SampleMethod;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, check_feature_names};
use crate::error::{ModelError, ParamError};
use crate::explain::Contributions;
use crate::treeshap::{Forest, Scratch};

/// Checked hyper-parameters of the boosted-tree classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbtValidParams {
    iterations: usize,
    learning_rate: f32,
    max_depth: usize,
    max_leaves: usize,
    min_leaf_weight: f32,
    l2: f32,
    gamma: f32,
    subsample: f32,
    colsample_bytree: f64,
    nbins: u16,
    seed: u64,
    parallel: bool,
}

impl Default for GbtValidParams {
    fn default() -> Self {
        Self {
            iterations: 150,
            learning_rate: 0.08,
            max_depth: 5,
            max_leaves: 24,
            min_leaf_weight: 2.0,
            l2: 1.0,
            gamma: 0.0,
            subsample: 0.8,
            colsample_bytree: 0.8,
            nbins: 256,
            seed: 0,
            parallel: true,
        }
    }
}

impl GbtValidParams {
    /// Number of boosting rounds (trees).
    pub fn iterations(&self) -> usize {
        self.iterations
    }
    /// Shrinkage applied to every leaf weight.
    pub fn learning_rate(&self) -> f32 {
        self.learning_rate
    }
    /// Maximum depth of a tree (root = depth 0).
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }
    /// Maximum number of leaves per tree.
    pub fn max_leaves(&self) -> usize {
        self.max_leaves
    }
    /// Minimum hessian sum in a leaf (log-loss: p(1-p) per row, so 2.0 ~ 10-20 churn rows).
    pub fn min_leaf_weight(&self) -> f32 {
        self.min_leaf_weight
    }
    /// L2 penalty on leaf weights.
    pub fn l2(&self) -> f32 {
        self.l2
    }
    /// Minimum loss reduction to split.
    pub fn gamma(&self) -> f32 {
        self.gamma
    }
    /// Share of rows sampled per tree (1.0 = no sampling).
    pub fn subsample(&self) -> f32 {
        self.subsample
    }
    /// Share of columns sampled per tree.
    pub fn colsample_bytree(&self) -> f64 {
        self.colsample_bytree
    }
    /// Histogram bins per feature.
    pub fn nbins(&self) -> u16 {
        self.nbins
    }
    /// Seed of row / column sampling.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Use forust's rayon parallelism while fitting.
    pub fn parallel(&self) -> bool {
        self.parallel
    }

    fn validate(&self) -> Result<(), ParamError> {
        if self.iterations == 0 || self.iterations > 10_000 {
            return Err(ParamError::new("iterations", "1..=10000", self.iterations));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(ParamError::new(
                "learning_rate",
                "in (0, 1]",
                self.learning_rate,
            ));
        }
        if self.max_depth == 0 || self.max_depth > 16 {
            return Err(ParamError::new("max_depth", "1..=16", self.max_depth));
        }
        if self.max_leaves < 2 {
            return Err(ParamError::new("max_leaves", ">= 2", self.max_leaves));
        }
        if !(self.min_leaf_weight.is_finite() && self.min_leaf_weight >= 0.0) {
            return Err(ParamError::new(
                "min_leaf_weight",
                "finite and >= 0",
                self.min_leaf_weight,
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(ParamError::new("l2", "finite and >= 0", self.l2));
        }
        if !(self.gamma.is_finite() && self.gamma >= 0.0) {
            return Err(ParamError::new("gamma", "finite and >= 0", self.gamma));
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return Err(ParamError::new("subsample", "in (0, 1]", self.subsample));
        }
        if !(self.colsample_bytree > 0.0 && self.colsample_bytree <= 1.0) {
            return Err(ParamError::new(
                "colsample_bytree",
                "in (0, 1]",
                self.colsample_bytree,
            ));
        }
        if self.nbins < 2 {
            return Err(ParamError::new("nbins", ">= 2", self.nbins));
        }
        Ok(())
    }

    /// Fits the classifier (label `true` = positive class).
    pub fn fit(&self, data: &Dataset) -> Result<GbtModel, ModelError> {
        self.validate()?;
        let x = data.x();
        let used = used_columns(x)?;
        let column = |j: usize| x.column(j).to_vec();
        let names = data.feature_names().to_vec();
        self.fit_used(x.nrows(), names, used, column, data.y())
    }

    /// [`Self::fit`] on a matrix of `rows` rows given one column at a time:
    /// `column(j)` returns the `rows` values of the feature
    /// `feature_names[j]`. forust bins each column as it comes and drops it,
    /// so the `f64` matrix is never held whole, only its bins (2 bytes a
    /// value): the time-to-churn model's person-periods (7.2 M rows x 62 at
    /// 50,000 accounts) are built a column at a time from their distinct
    /// feature rows. The same model as fitting the whole matrix.
    pub fn fit_columns<F>(
        &self,
        rows: usize,
        feature_names: Vec<String>,
        column: F,
        y: &[bool],
    ) -> Result<GbtModel, ModelError>
    where
        F: Fn(usize) -> Vec<f64> + Sync,
    {
        self.validate()?;
        if y.len() != rows {
            return Err(ModelError::boosting(format!(
                "{} labels for {rows} rows",
                y.len()
            )));
        }
        let used = columns_with_variance(feature_names.len(), &column);
        if used.is_empty() {
            return Err(ModelError::boosting("every feature is constant or missing"));
        }
        self.fit_used(rows, feature_names, used, column, y)
    }

    /// [`Self::fit`] on the rows `rows` of `data`, in that order: the same
    /// model as fitting `data.select_rows(rows)`, binned a column at a time
    /// straight from `data` without a copy of the rows.
    pub fn fit_rows(&self, data: &Dataset, rows: &[usize]) -> Result<GbtModel, ModelError> {
        self.validate()?;
        let labels = data.labels_of(rows)?;
        let x = data.x();
        let used = used_columns_in_rows(x, rows)?;
        let column = |j: usize| rows.iter().map(|&i| x[[i, j]]).collect();
        let names = data.feature_names().to_vec();
        self.fit_used(rows.len(), names, used, column, &labels)
    }

    /// Fits on the columns `used` (see [`used_columns`]) of a matrix given a
    /// column at a time, the rest getting no splits.
    fn fit_used<F>(
        &self,
        rows: usize,
        feature_names: Vec<String>,
        used: Vec<usize>,
        column: F,
        y: &[bool],
    ) -> Result<GbtModel, ModelError>
    where
        F: Fn(usize) -> Vec<f64> + Sync,
    {
        let w = vec![1.0; rows];
        let mut booster = self.booster();
        booster
            .fit_columns(rows, used.len(), |k| column(used[k]), &targets(y), &w, None)
            .map_err(ModelError::boosting)?;
        GbtModel::from_parts(self.clone(), feature_names, used, booster)
    }

    /// Fits on `train` while watching the log-loss on `valid` after every
    /// round, stopping `patience` rounds after the best one (at most
    /// `iterations` rounds): the early-stopping half of a cross-validation.
    /// The [`WatchedFit`] predicts with any prefix of its rounds.
    pub fn fit_watched(
        &self,
        train: &Dataset,
        valid: &Dataset,
        patience: usize,
    ) -> Result<WatchedFit, ModelError> {
        self.validate()?;
        if train.n_features() != valid.n_features() {
            return Err(ModelError::FeatureCount {
                expected: train.n_features(),
                got: valid.n_features(),
            });
        }
        let x = train.x();
        let used = used_columns(x)?;
        let vcols = column_major(valid.x(), &used).into_owned();
        self.watch(
            (x.nrows(), |j: usize| x.column(j).to_vec(), train.y()),
            (vcols, &targets(valid.y())),
            used,
            patience,
        )
    }

    /// [`Self::fit_watched`] on the rows `fit` of `data`, watching the rows
    /// `valid` of `data`: the fitted rows binned a column at a time straight
    /// from `data`, the watched ones read into forust's column-major layout,
    /// without the row-major copies `select_rows` would make. The same fit
    /// as `fit_watched(&data.select_rows(fit)?, &data.select_rows(valid)?, ..)`.
    pub fn fit_watched_rows(
        &self,
        data: &Dataset,
        fit: &[usize],
        valid: &[usize],
        patience: usize,
    ) -> Result<WatchedFit, ModelError> {
        self.validate()?;
        let labels = data.labels_of(fit)?;
        let vy = targets(&data.labels_of(valid)?);
        let x = data.x();
        let used = used_columns_in_rows(x, fit)?;
        let mut vcols = vec![0.0; valid.len() * used.len()];
        for (r, &i) in valid.iter().enumerate() {
            let row = x.row(i);
            for (k, &j) in used.iter().enumerate() {
                vcols[k * valid.len() + r] = row[j];
            }
        }
        let column = |j: usize| fit.iter().map(|&i| x[[i, j]]).collect();
        self.watch((fit.len(), column, &labels), (vcols, &vy), used, patience)
    }

    /// The early-stopped fit on the columns `used` of a matrix of `rows` rows
    /// given a column at a time, watching the validation pair (column-major
    /// cells of the used columns, targets); the cells are kept for
    /// [`WatchedFit::valid_margins`].
    fn watch<F>(
        &self,
        (rows, column, y): (usize, F, &[bool]),
        (vcols, vy): (Vec<f64>, &[f64]),
        used_columns: Vec<usize>,
        patience: usize,
    ) -> Result<WatchedFit, ModelError>
    where
        F: Fn(usize) -> Vec<f64> + Sync,
    {
        let vmatrix = Matrix::new(&vcols, vy.len(), used_columns.len());
        let vw = vec![1.0; vy.len()];
        let mut booster = self
            .booster()
            .set_early_stopping_rounds(Some(patience.max(1)));
        let w = vec![1.0; rows];
        booster
            .fit_columns(
                rows,
                used_columns.len(),
                |k| column(used_columns[k]),
                &targets(y),
                &w,
                Some(vec![(vmatrix, vy, &vw)]),
            )
            .map_err(ModelError::boosting)?;
        let curve = booster
            .evaluation_history
            .as_ref()
            .map(|h| (0..h.rows).map(|i| *h.get(i, 0)).collect())
            .unwrap_or_default();
        Ok(WatchedFit {
            booster,
            used_columns,
            valid: vcols,
            valid_rows: vy.len(),
            curve,
        })
    }

    /// A builder starting from these parameters (to change a few).
    pub fn to_builder(&self) -> GbtParams {
        GbtParams(self.clone())
    }

    fn booster(&self) -> GradientBooster {
        GradientBooster::default()
            .set_objective_type(ObjectiveType::LogLoss)
            .set_iterations(self.iterations)
            .set_learning_rate(self.learning_rate)
            .set_max_depth(self.max_depth)
            .set_max_leaves(self.max_leaves)
            .set_min_leaf_weight(self.min_leaf_weight)
            .set_l2(self.l2)
            .set_gamma(self.gamma)
            .set_subsample(self.subsample)
            .set_sample_method(if self.subsample < 1.0 {
                SampleMethod::Random
            } else {
                SampleMethod::None
            })
            .set_colsample_bytree(self.colsample_bytree)
            .set_nbins(self.nbins)
            .set_seed(self.seed)
            .set_parallel(self.parallel)
            // Histograms built row by row from a tiled copy of the binned data (module docs).
            .set_tiled_histograms(true)
            .set_initialize_base_score(true)
    }
}

/// A booster fitted with a validation set watched (see
/// [`GbtValidParams::fit_watched`]).
pub struct WatchedFit {
    booster: GradientBooster,
    used_columns: Vec<usize>,
    /// The watched rows, as forust read them (column-major used columns).
    valid: Vec<f64>,
    valid_rows: usize,
    /// Validation log-loss (uncalibrated) after round 1, 2, ...; shorter than
    /// `iterations` when the fit stopped early.
    pub curve: Vec<f64>,
}

impl WatchedFit {
    /// Raw margins of `x` from the first `rounds` trees (all of them if fewer
    /// were grown).
    pub fn margins(&mut self, x: ArrayView2<'_, f64>, rounds: usize) -> Vec<f64> {
        let cols = column_major(x, &self.used_columns);
        let matrix = Matrix::new(&cols, x.nrows(), self.used_columns.len());
        Self::predict(&mut self.booster, &matrix, rounds)
    }

    /// [`Self::margins`] of the watched rows, from the copy the fit read:
    /// the caller needs no copy of its own (peak memory).
    pub fn valid_margins(&mut self, rounds: usize) -> Vec<f64> {
        let matrix = Matrix::new(&self.valid, self.valid_rows, self.used_columns.len());
        Self::predict(&mut self.booster, &matrix, rounds)
    }

    /// Margins of `matrix` from the first `rounds` trees.
    fn predict(booster: &mut GradientBooster, matrix: &Matrix<'_, f64>, rounds: usize) -> Vec<f64> {
        let grown = booster.trees.len().max(1);
        booster.prediction_iteration = Some(rounds.clamp(1, grown));
        booster.predict(matrix, false)
    }
}

/// Columns with at least two distinct non-missing values.
fn used_columns(x: ArrayView2<'_, f64>) -> Result<Vec<usize>, ModelError> {
    let used: Vec<usize> = (0..x.ncols())
        .filter(|&j| has_variance(x.column(j).iter().copied()))
        .collect();
    if used.is_empty() {
        return Err(ModelError::boosting("every feature is constant or missing"));
    }
    Ok(used)
}

/// forust wants a column-major matrix: `x` itself when it is column-major
/// and every column is used (a large training matrix is not copied), else a
/// column-major copy of the used columns.
fn column_major<'a>(x: ArrayView2<'a, f64>, used: &[usize]) -> std::borrow::Cow<'a, [f64]> {
    let all = used.len() == x.ncols() && used.iter().enumerate().all(|(i, &j)| i == j);
    if all
        && x.t().is_standard_layout()
        && let Some(cells) = x.to_slice_memory_order()
    {
        return std::borrow::Cow::Borrowed(cells);
    }
    let mut cols = Vec::with_capacity(x.nrows() * used.len());
    for &j in used {
        cols.extend(x.column(j).iter().copied());
    }
    std::borrow::Cow::Owned(cols)
}

/// Columns with at least two distinct non-missing values among the rows
/// `rows` of `x` (row-major: read a row at a time).
fn used_columns_in_rows(x: ArrayView2<'_, f64>, rows: &[usize]) -> Result<Vec<usize>, ModelError> {
    let mut first = vec![f64::NAN; x.ncols()];
    let mut varies = vec![false; x.ncols()];
    for &i in rows {
        for (j, &v) in x.row(i).iter().enumerate() {
            if v.is_nan() || varies[j] {
                continue;
            }
            if first[j].is_nan() {
                first[j] = v;
            } else if v != first[j] {
                varies[j] = true;
            }
        }
    }
    let used: Vec<usize> = (0..x.ncols()).filter(|&j| varies[j]).collect();
    if used.is_empty() {
        return Err(ModelError::boosting("every feature is constant or missing"));
    }
    Ok(used)
}

fn targets(y: &[bool]) -> Vec<f64> {
    y.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect()
}

/// The columns of `0..cols` that vary, in order, each built by `column` and
/// checked on one of the cores (the 63 columns of 7.2 M person-periods take
/// seconds to build one after the other).
fn columns_with_variance<F>(cols: usize, column: &F) -> Vec<usize>
where
    F: Fn(usize) -> Vec<f64> + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, cols.max(1));
    let varies: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..cols)
                        .step_by(threads)
                        .map(|j| (j, has_variance(column(j).into_iter())))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut varies = vec![false; cols];
        for h in handles {
            let part = match h.join() {
                Ok(p) => p,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            for (j, v) in part {
                varies[j] = v;
            }
        }
        varies
    });
    (0..cols).filter(|&j| varies[j]).collect()
}

fn has_variance(mut values: impl Iterator<Item = f64>) -> bool {
    let Some(first) = values.find(|v| !v.is_nan()) else {
        return false;
    };
    values.any(|v| !v.is_nan() && v != first)
}

/// Unchecked builder of [`GbtValidParams`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GbtParams(GbtValidParams);

impl GbtParams {
    /// Defaults tuned for churn tables (see the module docs).
    pub fn new() -> Self {
        Self::default()
    }
    pub fn iterations(mut self, v: usize) -> Self {
        self.0.iterations = v;
        self
    }
    pub fn learning_rate(mut self, v: f32) -> Self {
        self.0.learning_rate = v;
        self
    }
    pub fn max_depth(mut self, v: usize) -> Self {
        self.0.max_depth = v;
        self
    }
    pub fn max_leaves(mut self, v: usize) -> Self {
        self.0.max_leaves = v;
        self
    }
    pub fn min_leaf_weight(mut self, v: f32) -> Self {
        self.0.min_leaf_weight = v;
        self
    }
    pub fn l2(mut self, v: f32) -> Self {
        self.0.l2 = v;
        self
    }
    pub fn gamma(mut self, v: f32) -> Self {
        self.0.gamma = v;
        self
    }
    pub fn subsample(mut self, v: f32) -> Self {
        self.0.subsample = v;
        self
    }
    pub fn colsample_bytree(mut self, v: f64) -> Self {
        self.0.colsample_bytree = v;
        self
    }
    pub fn nbins(mut self, v: u16) -> Self {
        self.0.nbins = v;
        self
    }
    pub fn seed(mut self, v: u64) -> Self {
        self.0.seed = v;
        self
    }
    pub fn parallel(mut self, v: bool) -> Self {
        self.0.parallel = v;
        self
    }
    /// Validates every parameter.
    pub fn check_ref(&self) -> Result<&GbtValidParams, ParamError> {
        self.0.validate()?;
        Ok(&self.0)
    }
    /// Validates every parameter and returns the fittable params.
    pub fn check(self) -> Result<GbtValidParams, ParamError> {
        self.0.validate()?;
        Ok(self.0)
    }
}

impl linfa::ParamGuard for GbtParams {
    type Checked = GbtValidParams;
    type Error = ParamError;
    fn check_ref(&self) -> Result<&GbtValidParams, ParamError> {
        GbtParams::check_ref(self)
    }
    fn check(self) -> Result<GbtValidParams, ParamError> {
        GbtParams::check(self)
    }
}

/// A fitted boosted-tree classifier: raw margins (log-odds) and exact TreeSHAP contributions.
#[derive(Deserialize)]
#[serde(try_from = "GbtModelRepr")]
pub struct GbtModel {
    params: GbtValidParams,
    feature_names: Vec<String>,
    used_columns: Vec<usize>,
    booster: GradientBooster,
    /// Derived from `booster` (flattened, column indices mapped back to the full schema).
    forest: Forest,
}

impl std::fmt::Debug for GbtModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbtModel")
            .field("params", &self.params)
            .field("feature_names", &self.feature_names)
            .field("used_columns", &self.used_columns)
            .field("n_trees", &self.forest.n_trees())
            .field("base_value", &self.forest.expected_value())
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct GbtModelRepr {
    params: GbtValidParams,
    feature_names: Vec<String>,
    used_columns: Vec<usize>,
    booster: GradientBooster,
}

impl TryFrom<GbtModelRepr> for GbtModel {
    type Error = ModelError;
    fn try_from(r: GbtModelRepr) -> Result<Self, ModelError> {
        GbtModel::from_parts(r.params, r.feature_names, r.used_columns, r.booster)
    }
}

/// Borrowing twin of `GbtModelRepr` (the booster is not `Clone`, so `serde(into)` is out).
#[derive(Serialize)]
struct GbtModelRef<'a> {
    params: &'a GbtValidParams,
    feature_names: &'a [String],
    used_columns: &'a [usize],
    booster: &'a GradientBooster,
}

impl Serialize for GbtModel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        GbtModelRef {
            params: &self.params,
            feature_names: &self.feature_names,
            used_columns: &self.used_columns,
            booster: &self.booster,
        }
        .serialize(s)
    }
}

impl GbtModel {
    fn from_parts(
        params: GbtValidParams,
        feature_names: Vec<String>,
        used_columns: Vec<usize>,
        booster: GradientBooster,
    ) -> Result<Self, ModelError> {
        check_feature_names(feature_names.len(), &feature_names)?;
        if used_columns.iter().any(|&j| j >= feature_names.len()) {
            return Err(ModelError::InvalidModel {
                reason: "used column out of range".into(),
            });
        }
        let forest = Forest::from_booster(&booster, &used_columns, feature_names.len())?;
        Ok(Self {
            params,
            feature_names,
            used_columns,
            booster,
            forest,
        })
    }

    /// Feature names in the column order the model expects.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
    /// The parameters it was fitted with.
    pub fn params(&self) -> &GbtValidParams {
        &self.params
    }
    /// Trees used for prediction.
    pub fn n_trees(&self) -> usize {
        self.forest.n_trees()
    }
    /// Nodes in all trees used for prediction.
    pub fn n_nodes(&self) -> usize {
        self.forest.n_nodes()
    }
    /// Base value of the explanations: the expected margin under the training cover.
    pub fn base_value(&self) -> f64 {
        self.forest.expected_value()
    }
    /// The underlying forust booster (e.g. for its own importance measures).
    pub fn booster(&self) -> &GradientBooster {
        &self.booster
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
        Ok(self.forest.margin(row))
    }

    /// Raw margins of many rows.
    pub fn margins(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>, ModelError> {
        self.check_width(x.ncols())?;
        let mut buf = vec![0.0; x.ncols()];
        Ok(x.axis_iter(Axis(0))
            .map(|r| {
                buf.iter_mut().zip(r.iter()).for_each(|(b, v)| *b = *v);
                self.forest.margin(&buf)
            })
            .collect())
    }

    /// Margin and exact contributions of one row (`out` gets one value per feature).
    pub fn explain_row(&self, row: &[f64], out: &mut [f64]) -> Result<f64, ModelError> {
        self.check_width(row.len())?;
        self.check_width(out.len())?;
        let mut scratch = Scratch::default();
        self.forest.contributions(row, out, &mut scratch);
        Ok(self.forest.margin(row))
    }

    /// Margins and exact contributions of many rows.
    pub fn contributions(&self, x: ArrayView2<'_, f64>) -> Result<Contributions, ModelError> {
        self.check_width(x.ncols())?;
        let (n, p) = x.dim();
        let mut values = Array2::zeros((n, p));
        let mut margins = Array1::zeros(n);
        // Rows are independent: large batches (the backtest's importance
        // over every held-out row) are split over the cores, each row
        // computed exactly as alone.
        const CHUNK: usize = 2_048;
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(n.div_ceil(CHUNK))
            .max(1);
        let per = n.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for ((xs, mut vs), mut ms) in x
                .axis_chunks_iter(Axis(0), per)
                .zip(values.axis_chunks_iter_mut(Axis(0), per))
                .zip(margins.axis_chunks_iter_mut(Axis(0), per))
            {
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    let mut row = vec![0.0; p];
                    let mut out = vec![0.0; p];
                    for i in 0..xs.nrows() {
                        row.iter_mut()
                            .zip(xs.row(i).iter())
                            .for_each(|(b, v)| *b = *v);
                        self.forest.contributions(&row, &mut out, &mut scratch);
                        vs.row_mut(i)
                            .iter_mut()
                            .zip(&out)
                            .for_each(|(d, s)| *d = *s);
                        ms[i] = self.forest.margin(&row);
                    }
                });
            }
        });
        Ok(Contributions {
            feature_names: self.feature_names.clone(),
            base_value: self.base_value(),
            values,
            margins,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::interaction_problem;
    use ndarray::ShapeBuilder;

    #[test]
    fn params_reject_invalid_values() {
        let cases: Vec<(GbtParams, &str)> = vec![
            (GbtParams::new().iterations(0), "iterations"),
            (GbtParams::new().learning_rate(0.0), "learning_rate"),
            (GbtParams::new().learning_rate(f32::NAN), "learning_rate"),
            (GbtParams::new().max_depth(0), "max_depth"),
            (GbtParams::new().max_leaves(1), "max_leaves"),
            (GbtParams::new().min_leaf_weight(-1.0), "min_leaf_weight"),
            (GbtParams::new().l2(f32::INFINITY), "l2"),
            (GbtParams::new().gamma(-0.1), "gamma"),
            (GbtParams::new().subsample(1.5), "subsample"),
            (GbtParams::new().colsample_bytree(0.0), "colsample_bytree"),
            (GbtParams::new().nbins(1), "nbins"),
        ];
        for (p, name) in cases {
            let err = p.check().unwrap_err();
            assert_eq!(err.param, name);
        }
        assert!(GbtParams::new().check().is_ok());
    }

    #[test]
    fn a_column_major_matrix_is_read_in_place_and_fits_the_same_model() {
        let (ds, _) = interaction_problem(800, 5);
        let x = ds.x();
        let all: Vec<usize> = (0..x.ncols()).collect();
        // Row-major: copied; column-major with every column used: borrowed.
        assert!(matches!(column_major(x, &all), std::borrow::Cow::Owned(_)));
        let mut f = ndarray::Array2::<f64>::zeros(x.raw_dim().f());
        f.assign(&x);
        assert!(matches!(
            column_major(f.view(), &all),
            std::borrow::Cow::Borrowed(_)
        ));
        // Bit for bit (the matrix has missing values, and NaN != NaN).
        let bits =
            |c: std::borrow::Cow<'_, [f64]>| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(bits(column_major(f.view(), &all)) == bits(column_major(x, &all)));
        // A subset of the columns is always a copy.
        assert!(matches!(
            column_major(f.view(), &all[1..]),
            std::borrow::Cow::Owned(_)
        ));
        let params = GbtParams::new().iterations(20).check().unwrap();
        let a = params.fit(&ds).unwrap();
        let fds = Dataset::new(f, ds.y().to_vec(), ds.feature_names().to_vec()).unwrap();
        let b = params.fit(&fds).unwrap();
        assert!(a.margins(x).unwrap() == b.margins(x).unwrap());
    }

    #[test]
    fn the_varying_columns_are_found_in_order_on_every_core() {
        let columns: Vec<Vec<f64>> = vec![
            vec![1.0, 1.0, 1.0],
            vec![0.0, 2.0, 0.0],
            vec![f64::NAN; 3],
            vec![f64::NAN, 5.0, 6.0],
            vec![f64::NAN, 4.0, 4.0],
            vec![3.0, 2.0, 1.0],
        ];
        let got = columns_with_variance(columns.len(), &|j| columns[j].clone());
        assert_eq!(got, vec![1, 3, 5]);
        let serial: Vec<usize> = (0..columns.len())
            .filter(|&j| has_variance(columns[j].iter().copied()))
            .collect();
        assert_eq!(got, serial);
        assert!(columns_with_variance(0, &|_| Vec::new()).is_empty());
    }

    #[test]
    fn rows_sampled_in_parallel_grow_the_trees_of_rows_sampled_in_order() {
        // forust's random sampler draws blocks of rows on every core (Pulse's
        // patch); a serial fit draws them one after the other. Three blocks
        // and a part: each row must get the same draw, round after round.
        let rows = 3 * forust_ml::sampler::RANDOM_BLOCK_ROWS + 1_234;
        let (ds, _) = interaction_problem(rows, 5);
        let x = ds.x();
        let y = targets(ds.y());
        let w = vec![1.0; y.len()];
        let params = GbtParams::new()
            .iterations(6)
            .subsample(0.7)
            .colsample_bytree(0.75)
            .check()
            .unwrap();
        let fit = |parallel: bool| {
            let mut b = params.booster().set_parallel(parallel);
            b.fit_columns(rows, x.ncols(), |j| x.column(j).to_vec(), &y, &w, None)
                .unwrap();
            // The setting itself aside, the dumps must be the same.
            b.set_parallel(false).json_dump().unwrap()
        };
        let (on_every_core, on_one) = (fit(true), fit(false));
        assert!(on_every_core == on_one, "the trees differ");
    }

    #[test]
    fn fitting_from_columns_grows_the_trees_of_fitting_the_whole_matrix() {
        // forust's `fit_columns` (Pulse's patch) against its own `fit` on the
        // whole f64 matrix: the same trees, with every row and with rows
        // sampled out (predicted from their bins), missing values included.
        let (ds, _) = interaction_problem(3_000, 9);
        let x = ds.x();
        let all: Vec<usize> = (0..x.ncols()).collect();
        let cells = column_major(x, &all).into_owned();
        assert!(
            cells.iter().any(|v| v.is_nan()),
            "the problem has missing values"
        );
        let y = targets(ds.y());
        let w = vec![1.0; y.len()];
        for subsample in [1.0, 0.5] {
            let params = GbtParams::new()
                .iterations(30)
                .subsample(subsample)
                .check()
                .unwrap();
            let mut whole = params.booster();
            whole
                .fit(&Matrix::new(&cells, x.nrows(), x.ncols()), &y, &w, None)
                .unwrap();
            let mut by_column = params.booster();
            by_column
                .fit_columns(x.nrows(), x.ncols(), |j| x.column(j).to_vec(), &y, &w, None)
                .unwrap();
            assert_eq!(
                whole.json_dump().unwrap(),
                by_column.json_dump().unwrap(),
                "subsample {subsample}"
            );
        }
        // Labels that do not match the rows are an error, not a panic.
        let mut booster = GbtParams::new().check().unwrap().booster();
        let short = booster.fit_columns(
            x.nrows(),
            x.ncols(),
            |j| x.column(j).to_vec(),
            &y[1..],
            &w,
            None,
        );
        assert!(short.is_err());
    }

    #[test]
    fn a_column_major_matrix_with_unused_columns_given_by_column_fits_the_same_model() {
        let (ds, _) = interaction_problem(800, 5);
        let x = ds.x();
        // Add a constant column and an empty one in the middle: they are
        // left out of the fit, so the in-place compaction must move columns.
        let (n, c) = x.dim();
        let mut f = ndarray::Array2::<f64>::zeros((n, c + 2).f());
        let mut names = ds.feature_names().to_vec();
        let mut from = 0;
        for j in 0..c + 2 {
            let mut col = f.column_mut(j);
            match j {
                1 => col.fill(7.0),
                3 => col.fill(f64::NAN),
                _ => {
                    col.assign(&x.column(from));
                    from += 1;
                }
            }
        }
        names.insert(1, "constant".into());
        names.insert(3, "empty".into());
        let wide = Dataset::new(f, ds.y().to_vec(), names).unwrap();
        let params = GbtParams::new().iterations(20).check().unwrap();
        let copied = params.fit(&wide).unwrap();
        let by_column = |d: &Dataset| {
            let x = d.x();
            params
                .fit_columns(
                    x.nrows(),
                    d.feature_names().to_vec(),
                    |j| x.column(j).to_vec(),
                    d.y(),
                )
                .unwrap()
        };
        let taken = by_column(&wide);
        assert_eq!(copied.used_columns, taken.used_columns);
        assert_eq!(taken.used_columns.len(), c);
        assert!(copied.margins(wide.x()).unwrap() == taken.margins(wide.x()).unwrap());
        // A row-major matrix goes the copying way and fits the same model too.
        let row_major = Dataset::new(
            wide.x().as_standard_layout().into_owned(),
            wide.y().to_vec(),
            wide.feature_names().to_vec(),
        )
        .unwrap();
        let again = by_column(&row_major);
        assert!(again.margins(wide.x()).unwrap() == taken.margins(wide.x()).unwrap());
        // Some rows, in another order: the same model as fitting their copy.
        let rows: Vec<usize> = (0..n).rev().filter(|i| i % 3 != 0).collect();
        let picked = params.fit_rows(&row_major, &rows).unwrap();
        let copy = params.fit(&row_major.select_rows(&rows).unwrap()).unwrap();
        assert!(picked.margins(wide.x()).unwrap() == copy.margins(wide.x()).unwrap());
        // Rows it cannot fit on are errors, not panics.
        assert!(params.fit_rows(&row_major, &[n]).is_err());
        assert!(params.fit_rows(&row_major, &[]).is_err());
        let negatives: Vec<usize> = (0..n).filter(|&i| !row_major.y()[i]).collect();
        assert!(params.fit_rows(&row_major, &negatives).is_err());
        // Watched on rows: the same curve and margins as watching the copies.
        let valid: Vec<usize> = (0..n).filter(|i| i % 3 == 0).collect();
        let watched = params.to_builder().iterations(60).check().unwrap();
        let mut on_rows = watched
            .fit_watched_rows(&row_major, &rows, &valid, 5)
            .unwrap();
        let valid_ds = row_major.select_rows(&valid).unwrap();
        let mut on_copies = watched
            .fit_watched(&row_major.select_rows(&rows).unwrap(), &valid_ds, 5)
            .unwrap();
        assert!(!on_rows.curve.is_empty());
        assert!(on_rows.curve == on_copies.curve);
        let r = on_rows.curve.len() / 2 + 1;
        assert!(on_rows.margins(valid_ds.x(), r) == on_copies.margins(valid_ds.x(), r));
        // The watched rows' margins from the fit's own copy of them.
        assert!(on_rows.valid_margins(r) == on_copies.margins(valid_ds.x(), r));
        assert!(on_copies.valid_margins(r) == on_copies.margins(valid_ds.x(), r));
        assert!(
            watched
                .fit_watched_rows(&row_major, &rows, &[n], 5)
                .is_err()
        );
        assert!(
            watched
                .fit_watched_rows(&row_major, &negatives, &valid, 5)
                .is_err()
        );
    }

    #[test]
    fn batch_contributions_split_over_threads_equal_each_row_alone() {
        // More rows than one chunk, and a count that does not divide evenly.
        let (ds, _) = interaction_problem(5_003, 9);
        let model = GbtParams::new()
            .iterations(15)
            .check()
            .unwrap()
            .fit(&ds)
            .unwrap();
        let c = model.contributions(ds.x()).unwrap();
        let mut out = vec![0.0; ds.n_features()];
        for i in [0, 1, 2_047, 2_048, 2_502, 4_095, 5_002] {
            let row: Vec<f64> = ds.x().row(i).to_vec();
            let margin = model.explain_row(&row, &mut out).unwrap();
            assert!(
                c.values
                    .row(i)
                    .iter()
                    .zip(&out)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            assert_eq!(c.margins[i].to_bits(), margin.to_bits(), "row {i}");
        }
    }

    #[test]
    fn fits_with_constant_and_missing_columns_and_round_trips() {
        let (ds, _) = interaction_problem(600, 11);
        // Add a constant column and an all-missing column.
        let n = ds.n_rows();
        let mut x = ds.x().to_owned();
        x.push_column(ndarray::Array1::from_elem(n, 3.0).view())
            .unwrap();
        x.push_column(ndarray::Array1::from_elem(n, f64::NAN).view())
            .unwrap();
        let mut names = ds.feature_names().to_vec();
        names.push("constant".into());
        names.push("empty".into());
        let ds = Dataset::new(x, ds.y().to_vec(), names).unwrap();
        let model = GbtParams::new()
            .iterations(40)
            .check()
            .unwrap()
            .fit(&ds)
            .unwrap();
        assert_eq!(model.n_trees(), 40);
        let c = model.contributions(ds.x()).unwrap();
        let p = ds.n_features();
        for i in 0..n {
            let total = c.base_value + c.values.row(i).sum();
            assert!((total - c.margins[i]).abs() < 1e-6);
            assert_eq!(c.values[[i, p - 1]], 0.0);
            assert_eq!(c.values[[i, p - 2]], 0.0);
        }
        let json = serde_json::to_string(&model).unwrap();
        let back: GbtModel = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.margins(ds.x()).unwrap(),
            model.margins(ds.x()).unwrap()
        );
        assert_eq!(back.params(), model.params());
        assert!(matches!(
            model.margin_row(&[1.0]),
            Err(ModelError::FeatureCount {
                expected: _,
                got: 1
            })
        ));
    }
}
