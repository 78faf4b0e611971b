//! The tabular path's model selection around `pulse_models::select`: the
//! candidates are cross-validated on the training rows, then the finalists
//! (the best GBT, the best logistic model and their blend) are fitted on all
//! training rows, calibrated on their out-of-fold margins and measured on
//! the held-out rows, which the selection never saw.

use std::collections::HashMap;

use pulse_models::{
    CURVE_POINTS, CalibratedModel, Calibrator, CandidateInput, CardCandidate, CardSelection,
    Curves, Dataset, FeatureImportance, Metrics, ModelReport, Selection, TopK, calibration_table,
    fit_stack, select,
};

use crate::config::TrainConfig;
use crate::error::TrainError;

/// A selection with the finalists' held-out reports.
pub struct SelectionOutcome {
    pub selection: Selection,
    /// Held-out report per candidate name (the finalists only).
    pub held_out: HashMap<String, ModelReport>,
    /// Calibrated held-out probabilities per candidate name (the finalists
    /// only), test rows in the order given.
    pub test_probabilities: HashMap<String, Vec<f64>>,
    /// Mean |contribution| of the winner on the held-out rows.
    pub importance: Vec<FeatureImportance>,
}

fn report(probs: &[f64], labels: &[bool], cfg: &TrainConfig) -> Result<ModelReport, TrainError> {
    Ok(ModelReport {
        metrics: Metrics::compute(probs, labels, TopK::Count(cfg.capacity))?,
        calibration: cfg.calibration,
        calibration_table: calibration_table(probs, labels)?,
        curves: Curves::compute(probs, labels, CURVE_POINTS)?,
    })
}

/// Selects on `fit_rows` and reports the finalists on `test_rows`. `trees`
/// and `linear` hold the same rows, encoded for each family.
pub fn select_and_report(
    trees: &Dataset,
    linear: &Dataset,
    fit_rows: &[usize],
    test_rows: &[usize],
    cfg: &TrainConfig,
) -> Result<SelectionOutcome, TrainError> {
    let base = cfg.gbt.check_ref()?;
    let fit = |d: &Dataset| d.select_rows(fit_rows);
    let test = |d: &Dataset| d.select_rows(test_rows);
    let (trees_fit, linear_fit) = (fit(trees)?, fit(linear)?);
    let (trees_test, linear_test) = (test(trees)?, test(linear)?);
    let selection = select(&trees_fit, &linear_fit, base, &cfg.selection)?;
    let labels = trees_test.y();
    let mut held_out = HashMap::new();
    let mut test_probabilities = HashMap::new();
    let mut finalists = Vec::new();
    for family in ["gbt", "logistic"] {
        let Some(c) = selection.best_of(family) else {
            continue;
        };
        let Some(params) = &c.params else { continue };
        let (fit_ds, test_ds) = match c.input {
            Some(CandidateInput::Linear) => (&linear_fit, &linear_test),
            _ => (&trees_fit, &trees_test),
        };
        let model = params.fit(fit_ds)?;
        let calibrator = Calibrator::fit(cfg.calibration, &c.oof_margins, fit_ds.y())?;
        let cm = CalibratedModel::new(model, calibrator)?;
        let margins = cm.model().margins(test_ds.x())?.to_vec();
        let probs = cm.predict_proba(test_ds.x())?.to_vec();
        held_out.insert(c.name.clone(), report(&probs, labels, cfg)?);
        test_probabilities.insert(c.name.clone(), probs);
        finalists.push((c, cm, margins, test_ds));
    }
    if let ([(g, _, gm, _), (l, _, lm, _)], Some(blend)) =
        (finalists.as_slice(), selection.best_of("blend"))
    {
        let w = fit_stack(&g.oof_margins, &l.oof_margins, trees_fit.y());
        let probs: Vec<f64> = gm
            .iter()
            .zip(lm)
            .map(|(a, b)| Calibrator::Identity.probability(w[0] + w[1] * a + w[2] * b))
            .collect();
        held_out.insert(blend.name.clone(), report(&probs, labels, cfg)?);
        test_probabilities.insert(blend.name.clone(), probs);
    }
    let winner = selection.winner();
    let importance = finalists
        .iter()
        .find(|(c, ..)| c.name == winner.name)
        .map(|(_, cm, _, test_ds)| cm.model().mean_abs_contributions(test_ds.x()))
        .transpose()?
        .unwrap_or_default();
    Ok(SelectionOutcome {
        selection,
        held_out,
        test_probabilities,
        importance,
    })
}

impl SelectionOutcome {
    /// The selection as the model card records it.
    pub fn card(&self, cfg: &TrainConfig) -> CardSelection {
        let s = &self.selection;
        let winner = s.winner();
        let next = s
            .candidates
            .iter()
            .find(|c| c.name != winner.name && c.params.is_some());
        let mut reason = format!(
            "lowest cross-validated log-loss among single models ({:.4}",
            winner.cv_log_loss
        );
        if let Some(n) = next {
            reason.push_str(&format!("; next: {} at {:.4}", n.name, n.cv_log_loss));
        }
        reason.push(')');
        if let Some(b) = s.best_of("blend")
            && b.cv_log_loss < winner.cv_log_loss
        {
            reason.push_str(&format!(
                "; the blend scored {:.4}, {:.4} better, but blends are not served yet",
                b.cv_log_loss,
                winner.cv_log_loss - b.cv_log_loss
            ));
        }
        CardSelection {
            folds: s.folds,
            criterion: format!(
                "log-loss of Platt-calibrated out-of-fold margins, {}-fold stratified cross-validation on the training rows (GBT rounds by early stopping, learning rate {})",
                s.folds, cfg.selection.learning_rate
            ),
            candidates: s
                .candidates
                .iter()
                .map(|c| CardCandidate {
                    name: c.name.clone(),
                    cv_log_loss: c.cv_log_loss,
                    cv_roc_auc: c.cv_roc_auc,
                    cv_pr_auc: c.cv_pr_auc,
                    held_out: self.held_out.get(&c.name).map(|r| r.metrics.clone()),
                })
                .collect(),
            served: winner.name.clone(),
            reason,
        }
    }
}
