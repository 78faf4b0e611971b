//! Model selection on training rows only, as an expert would do it by hand:
//! every candidate is scored by K-fold cross-validation on the rows it may
//! learn from, and the winner is the one with the lowest cross-validated
//! log-loss. The held-out rows are not touched here.
//!
//! Candidates:
//! - **GBT**, one per [`GbtShape`] (depth, leaves, minimum leaf hessian) at a
//!   fixed learning rate. The number of rounds is chosen by early stopping:
//!   each fold's booster watches its held-out fold's log-loss
//!   ([`GbtValidParams::fit_watched`]); the fold curves are averaged and the
//!   round with the lowest mean log-loss is the shape's round count.
//! - **Logistic regression**, one per L2 weight in
//!   [`SelectionConfig::logistic_alphas`], on whatever dataset the caller
//!   encodes for it (the tabular path gives it one-hot categories).
//!
//! Each candidate's out-of-fold margins (every row scored by the model that
//! did not see it) give its figures: ROC-AUC and PR-AUC of the margins, and
//! the log-loss after Platt scaling on those margins. Calibrated log-loss is
//! the criterion because the served model is calibrated: a GBT's raw
//! margins are often overconfident, which calibration repairs and raw
//! log-loss would punish.
//!
//! A **blend** of the best GBT and the best logistic model (a logistic
//! stack on their two out-of-fold margins, itself cross-validated over the
//! same folds) is scored the same way and reported.

use serde::{Deserialize, Serialize};

use crate::calibration::Calibrator;
use crate::dataset::Dataset;
use crate::error::ModelError;
use crate::gbt::GbtValidParams;
use crate::logistic::{LogisticParams, LogisticValidParams};
use crate::metrics::{average_precision, log_loss, roc_auc};
use crate::model::HyperParameters;
use crate::rng::SplitMix64;

/// The tree shape of one GBT candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbtShape {
    pub max_depth: usize,
    pub max_leaves: usize,
    pub min_leaf_weight: f32,
}

impl GbtShape {
    pub fn new(max_depth: usize, max_leaves: usize, min_leaf_weight: f32) -> Self {
        GbtShape {
            max_depth,
            max_leaves,
            min_leaf_weight,
        }
    }

    /// The shape of `params`.
    pub fn of(params: &GbtValidParams) -> Self {
        GbtShape::new(
            params.max_depth(),
            params.max_leaves(),
            params.min_leaf_weight(),
        )
    }
}

/// What to try and how to cross-validate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectionConfig {
    /// Cross-validation folds (stratified by label).
    pub folds: usize,
    /// Learning rate of every GBT candidate; rounds compensate.
    pub learning_rate: f32,
    /// Most rounds a GBT candidate may use.
    pub max_rounds: usize,
    /// Early stopping: rounds without improvement before a fold stops.
    pub patience: usize,
    pub shapes: Vec<GbtShape>,
    pub logistic_alphas: Vec<f64>,
    /// Seed of the folds.
    pub seed: u64,
}

impl Default for SelectionConfig {
    fn default() -> Self {
        let shape = GbtShape::new;
        Self {
            folds: 5,
            learning_rate: 0.05,
            max_rounds: 1500,
            patience: 60,
            // From nearly additive to deep, and one heavily regularised.
            shapes: vec![
                shape(2, 4, 1.0),
                shape(4, 15, 2.0),
                shape(6, 31, 5.0),
                shape(4, 15, 20.0),
            ],
            logistic_alphas: vec![0.1, 1.0, 10.0],
            seed: 42,
        }
    }
}

impl SelectionConfig {
    fn validate(&self) -> Result<(), ModelError> {
        if self.folds < 2 || self.folds > 20 {
            return Err(ModelError::invalid(format!(
                "selection folds must be 2..=20, got {}",
                self.folds
            )));
        }
        if self.shapes.is_empty() && self.logistic_alphas.is_empty() {
            return Err(ModelError::invalid("selection has no candidates"));
        }
        Ok(())
    }
}

/// Which encoded dataset a candidate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateInput {
    /// The trees' dataset (ordinal categories in the tabular path).
    Trees,
    /// The linear model's dataset (one-hot categories in the tabular path).
    Linear,
}

/// One candidate's cross-validated figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    /// e.g. `gbt depth 4, 15 leaves, min leaf 2, 380 rounds` or `logistic alpha 1`.
    pub name: String,
    /// `None` for the blend, which is not a single fitted model.
    pub params: Option<HyperParameters>,
    pub input: Option<CandidateInput>,
    /// Log-loss of the Platt-calibrated out-of-fold margins.
    pub cv_log_loss: f64,
    pub cv_roc_auc: f64,
    pub cv_pr_auc: f64,
    /// Out-of-fold margins, in the order of the rows selected on.
    #[serde(skip)]
    pub oof_margins: Vec<f64>,
}

/// Every candidate tried, and the winner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub folds: usize,
    /// Best first (by cross-validated log-loss); the blend, when scored, is
    /// among them.
    pub candidates: Vec<CandidateScore>,
    /// Index into `candidates` of the best single model (never the blend).
    pub winner: usize,
}

impl Selection {
    pub fn winner(&self) -> &CandidateScore {
        &self.candidates[self.winner]
    }
    /// The best candidate of an algorithm family (`gbt` / `logistic` / `blend`).
    pub fn best_of(&self, family: &str) -> Option<&CandidateScore> {
        self.candidates.iter().find(|c| c.name.starts_with(family))
    }
}

/// Stratified fold number (0..folds) of every row, seeded.
pub(crate) fn stratified_folds(labels: &[bool], folds: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0usize; labels.len()];
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        SplitMix64::new(seed).shuffle(&mut idx);
        for (k, i) in idx.into_iter().enumerate() {
            fold[i] = k % folds;
        }
    }
    fold
}

fn score(
    name: String,
    params: Option<HyperParameters>,
    input: Option<CandidateInput>,
    oof: Vec<f64>,
    labels: &[bool],
) -> Result<CandidateScore, ModelError> {
    let platt = Calibrator::fit_platt(&oof, labels)?;
    let probs: Vec<f64> = oof.iter().map(|&m| platt.probability(m)).collect();
    Ok(CandidateScore {
        name,
        params,
        input,
        cv_log_loss: log_loss(&probs, labels)?,
        cv_roc_auc: roc_auc(&oof, labels)?,
        cv_pr_auc: average_precision(&oof, labels)?,
        oof_margins: oof,
    })
}

/// Cross-validates every candidate on `trees` / `linear` (the same rows,
/// encoded for each family; pass the same dataset twice when there is one
/// encoding) and ranks them. `base` gives the GBT's other parameters
/// (sampling, L2, bins, seed).
pub fn select(
    trees: &Dataset,
    linear: &Dataset,
    base: &GbtValidParams,
    config: &SelectionConfig,
) -> Result<Selection, ModelError> {
    config.validate()?;
    if trees.y() != linear.y() {
        return Err(ModelError::invalid(
            "the trees' and the linear model's datasets must hold the same rows",
        ));
    }
    let labels = trees.y();
    let fold = stratified_folds(labels, config.folds, config.seed);
    let parts: Vec<(Vec<usize>, Vec<usize>)> = (0..config.folds)
        .map(|f| {
            let (held, fit): (Vec<usize>, Vec<usize>) =
                (0..labels.len()).partition(|&i| fold[i] == f);
            (fit, held)
        })
        .filter(|(_, held)| !held.is_empty())
        .collect();
    let mut candidates = Vec::new();
    for shape in &config.shapes {
        let params = base
            .to_builder()
            .learning_rate(config.learning_rate)
            .max_depth(shape.max_depth)
            .max_leaves(shape.max_leaves)
            .min_leaf_weight(shape.min_leaf_weight)
            .iterations(config.max_rounds)
            .check()?;
        let mut fits = Vec::with_capacity(parts.len());
        for (fit, held) in &parts {
            let train = trees.select_rows(fit)?;
            let valid = trees.select_rows(held)?;
            fits.push((params.fit_watched(&train, &valid, config.patience)?, valid));
        }
        let longest = fits.iter().map(|(w, _)| w.curve.len()).max().unwrap_or(0);
        let mut best = (f64::INFINITY, 1);
        for r in 0..longest {
            let mean = fits
                .iter()
                .map(|(w, _)| {
                    w.curve
                        .get(r)
                        .or(w.curve.last())
                        .copied()
                        .unwrap_or(f64::NAN)
                })
                .sum::<f64>()
                / fits.len() as f64;
            if mean < best.0 {
                best = (mean, r + 1);
            }
        }
        let rounds = best.1;
        let mut oof = vec![0.0; labels.len()];
        for ((w, valid), (_, held)) in fits.iter_mut().zip(&parts) {
            for (&i, m) in held.iter().zip(w.margins(valid.x(), rounds)) {
                oof[i] = m;
            }
        }
        let chosen = params.to_builder().iterations(rounds).check()?;
        candidates.push(score(
            format!(
                "gbt depth {}, {} leaves, min leaf {}, {} rounds",
                shape.max_depth, shape.max_leaves, shape.min_leaf_weight, rounds
            ),
            Some(HyperParameters::Gbt(chosen)),
            Some(CandidateInput::Trees),
            oof,
            labels,
        )?);
    }
    for &alpha in &config.logistic_alphas {
        let params: LogisticValidParams = LogisticParams::new().alpha(alpha).check()?;
        let mut oof = vec![0.0; labels.len()];
        for (fit, held) in &parts {
            let m = params.fit(&linear.select_rows(fit)?)?;
            let margins = m.margins(linear.select_rows(held)?.x())?;
            for (&i, v) in held.iter().zip(margins) {
                oof[i] = v;
            }
        }
        candidates.push(score(
            format!("logistic alpha {alpha}"),
            Some(HyperParameters::Logistic(params)),
            Some(CandidateInput::Linear),
            oof,
            labels,
        )?);
    }
    let by_loss = |a: &CandidateScore, b: &CandidateScore| a.cv_log_loss.total_cmp(&b.cv_log_loss);
    candidates.sort_by(by_loss);
    let best_gbt = candidates.iter().find(|c| c.name.starts_with("gbt"));
    let best_linear = candidates.iter().find(|c| c.name.starts_with("logistic"));
    if let (Some(g), Some(l)) = (best_gbt, best_linear) {
        let oof = stack_oof(&g.oof_margins, &l.oof_margins, labels, &fold, config.folds)?;
        let blend = score(
            format!("blend of {} and {}", g.name, l.name),
            None,
            None,
            oof,
            labels,
        )?;
        candidates.push(blend);
        candidates.sort_by(by_loss);
    }
    let winner = candidates
        .iter()
        .position(|c| c.params.is_some())
        .ok_or_else(|| ModelError::invalid("no single model was scored"))?;
    Ok(Selection {
        folds: config.folds,
        candidates,
        winner,
    })
}

/// Out-of-fold margins of a logistic stack on two margin columns: for each
/// fold, `w0 + w1 a + w2 b` fitted on the other folds' rows, applied to its own.
fn stack_oof(
    a: &[f64],
    b: &[f64],
    labels: &[bool],
    fold: &[usize],
    folds: usize,
) -> Result<Vec<f64>, ModelError> {
    let mut out = vec![0.0; labels.len()];
    for f in 0..folds {
        let fit: Vec<usize> = (0..labels.len()).filter(|&i| fold[i] != f).collect();
        let w = stack_weights(
            &fit.iter().map(|&i| [a[i], b[i]]).collect::<Vec<_>>(),
            &fit.iter().map(|&i| labels[i]).collect::<Vec<_>>(),
        );
        for i in (0..labels.len()).filter(|&i| fold[i] == f) {
            out[i] = w[0] + w[1] * a[i] + w[2] * b[i];
        }
    }
    Ok(out)
}

/// The blend of two models: logistic regression of the labels on their two
/// margins, by Newton's method (tiny ridge for stability), giving
/// `[w0, w1, w2]` for `w0 + w1 a + w2 b`. Fit it on out-of-fold margins.
pub fn fit_stack(a: &[f64], b: &[f64], labels: &[bool]) -> [f64; 3] {
    let x: Vec<[f64; 2]> = a.iter().zip(b).map(|(&a, &b)| [a, b]).collect();
    stack_weights(&x, labels)
}

fn stack_weights(x: &[[f64; 2]], y: &[bool]) -> [f64; 3] {
    crate::calibration::logistic2(x, y, [true, true])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{interaction_problem, linear_problem};

    fn small() -> SelectionConfig {
        SelectionConfig {
            folds: 3,
            max_rounds: 300,
            patience: 20,
            shapes: vec![GbtShape::new(1, 2, 1.0), GbtShape::new(4, 15, 2.0)],
            logistic_alphas: vec![1.0],
            learning_rate: 0.1,
            seed: 7,
        }
    }

    #[test]
    fn trees_win_an_interaction_and_the_linear_model_a_linear_problem() {
        let (ds, _) = interaction_problem(1500, 3);
        let s = select(&ds, &ds, &GbtValidParams::default(), &small()).unwrap();
        assert!(
            s.winner().name.starts_with("gbt depth 4"),
            "{:?}",
            s.winner().name
        );
        // Stumps cannot represent a * b either.
        let stumps = s.best_of("gbt depth 1").unwrap();
        assert!(stumps.cv_log_loss > s.winner().cv_log_loss);
        assert_eq!(s.candidates.len(), 4, "two shapes, one alpha, one blend");
        let sorted = s
            .candidates
            .windows(2)
            .all(|w| w[0].cv_log_loss <= w[1].cv_log_loss);
        assert!(sorted);

        let ds = linear_problem(1500, 5);
        let s = select(&ds, &ds, &GbtValidParams::default(), &small()).unwrap();
        let logistic = s.best_of("logistic").unwrap();
        let deep = s.best_of("gbt depth 4").unwrap();
        assert!(logistic.cv_log_loss < deep.cv_log_loss, "{s:#?}");
        assert!(logistic.cv_roc_auc > 0.75);
    }

    #[test]
    fn rounds_come_from_early_stopping_and_oof_margins_cover_every_row() {
        let (ds, _) = interaction_problem(900, 9);
        let s = select(&ds, &ds, &GbtValidParams::default(), &small()).unwrap();
        for c in &s.candidates {
            assert_eq!(c.oof_margins.len(), ds.n_rows());
            assert!(c.oof_margins.iter().all(|m| m.is_finite()));
            if let Some(HyperParameters::Gbt(p)) = &c.params {
                assert!(p.iterations() >= 1 && p.iterations() <= 300);
                assert!((p.learning_rate() - 0.1).abs() < 1e-6);
            }
        }
        assert!(s.winner().params.is_some());
    }

    #[test]
    fn the_stack_recovers_known_weights() {
        let mut r = SplitMix64::new(1);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..4000 {
            let (a, b) = (r.normal(), r.normal());
            x.push([a, b]);
            y.push(r.next_f64() < crate::calibration::sigmoid(-0.5 + 1.5 * a + 0.5 * b));
        }
        let w = stack_weights(&x, &y);
        assert!(
            (w[0] + 0.5).abs() < 0.15 && (w[1] - 1.5).abs() < 0.2 && (w[2] - 0.5).abs() < 0.15,
            "{w:?}"
        );
    }

    #[test]
    fn bad_configurations_are_refused() {
        let (ds, _) = interaction_problem(300, 1);
        let mut c = small();
        c.folds = 1;
        assert!(select(&ds, &ds, &GbtValidParams::default(), &c).is_err());
        let mut c = small();
        c.shapes.clear();
        c.logistic_alphas.clear();
        assert!(select(&ds, &ds, &GbtValidParams::default(), &c).is_err());
    }
}
