//! Pure evaluation metrics for binary churn scores, pinned to scikit-learn 1.9.1 or to hand
//! computation in the tests (`reference/sklearn_reference.py` regenerates the numbers).
//!
//! Conventions:
//! - `scores` are probabilities in [0, 1] for the probability metrics (Brier, ECE, log-loss,
//!   calibration table); ranking metrics (ROC-AUC, PR-AUC, lift, precision/recall at K) accept
//!   any real score where higher means more likely positive.
//! - ROC-AUC: Mann-Whitney statistic with mid-ranks for ties (= scikit-learn's trapezoidal
//!   `roc_auc_score`).
//! - PR-AUC: average precision, `sum_n (R_n - R_{n-1}) P_n` over distinct score thresholds
//!   (= scikit-learn's `average_precision_score`; no interpolation).
//! - Log-loss clips probabilities to `[eps, 1 - eps]` with `eps = f64::EPSILON` (scikit-learn
//!   >= 1.5 behaviour).
//! - ECE: 10 equal-width bins `[0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]` (1.0 goes in the last bin);
//!   `ECE = sum_b (n_b / N) * |mean predicted_b - observed rate_b|`.
//! - Top-K selections (lift, precision/recall at K) sort by score descending; ties keep the
//!   input order, so results are deterministic. Lift in the top decile uses
//!   `K = ceil(N / 10)`: positive rate among the top K divided by the overall positive rate.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

fn check(scores: &[f64], labels: &[bool]) -> Result<(), ModelError> {
    if scores.len() != labels.len() {
        return Err(ModelError::metric(format!(
            "{} scores for {} labels",
            scores.len(),
            labels.len()
        )));
    }
    if scores.is_empty() {
        return Err(ModelError::metric("no rows"));
    }
    if scores.iter().any(|s| s.is_nan()) {
        return Err(ModelError::metric("scores contain NaN"));
    }
    Ok(())
}

fn check_both_classes(labels: &[bool]) -> Result<(usize, usize), ModelError> {
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return Err(ModelError::metric(format!(
            "needs both classes, got {pos} positives and {neg} negatives"
        )));
    }
    Ok((pos, neg))
}

fn check_probabilities(scores: &[f64]) -> Result<(), ModelError> {
    if scores.iter().any(|s| !(0.0..=1.0).contains(s)) {
        return Err(ModelError::metric("probabilities must lie in [0, 1]"));
    }
    Ok(())
}

/// Indices sorted by score descending; ties keep input order.
fn order_desc(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx
}

/// Area under the ROC curve; ties count one half.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64, ModelError> {
    check(scores, labels)?;
    let (pos, neg) = check_both_classes(labels)?;
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of mid-ranks (1-based) of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid_rank * idx[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let pos_f = pos as f64;
    Ok((rank_sum - pos_f * (pos_f + 1.0) / 2.0) / (pos_f * neg as f64))
}

/// Average precision (area under the precision-recall curve, step-wise).
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64, ModelError> {
    check(scores, labels)?;
    let (pos, _) = check_both_classes(labels)?;
    let idx = order_desc(scores);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut prev_recall = 0.0;
    let mut ap = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        while i < idx.len() && scores[idx[i]] == s {
            if labels[idx[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let recall = tp as f64 / pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Ok(ap)
}

/// ROC and precision-recall curves of held-out scores, for plots: one point
/// per distinct score threshold (ties kept together), thinned to at most
/// `max_points` evenly spaced thresholds (the first and last kept).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Curves {
    /// `[false positive rate, true positive rate]`, from `[0, 0]` to `[1, 1]`.
    pub roc: Vec<[f64; 2]>,
    /// `[recall, precision]`, by falling threshold.
    pub pr: Vec<[f64; 2]>,
}

impl Curves {
    pub fn compute(scores: &[f64], labels: &[bool], max_points: usize) -> Result<Self, ModelError> {
        check(scores, labels)?;
        let (pos, neg) = check_both_classes(labels)?;
        let idx = order_desc(scores);
        let (mut tp, mut fp) = (0usize, 0usize);
        let mut roc = vec![[0.0, 0.0]];
        let mut pr = Vec::new();
        let mut i = 0;
        while i < idx.len() {
            let s = scores[idx[i]];
            while i < idx.len() && scores[idx[i]] == s {
                if labels[idx[i]] {
                    tp += 1;
                } else {
                    fp += 1;
                }
                i += 1;
            }
            roc.push([fp as f64 / neg as f64, tp as f64 / pos as f64]);
            pr.push([tp as f64 / pos as f64, tp as f64 / (tp + fp) as f64]);
        }
        Ok(Curves {
            roc: thin(roc, max_points),
            pr: thin(pr, max_points),
        })
    }
}

/// At most `max` (>= 2) evenly spaced points of `v`, its first and last kept.
fn thin(v: Vec<[f64; 2]>, max: usize) -> Vec<[f64; 2]> {
    let max = max.max(2);
    if v.len() <= max {
        return v;
    }
    let last = v.len() - 1;
    (0..max).map(|k| v[k * last / (max - 1)]).collect()
}

/// Mean squared error of probabilities against 0/1 outcomes.
pub fn brier(probs: &[f64], labels: &[bool]) -> Result<f64, ModelError> {
    check(probs, labels)?;
    check_probabilities(probs)?;
    Ok(probs
        .iter()
        .zip(labels)
        .map(|(&p, &l)| {
            let d = p - if l { 1.0 } else { 0.0 };
            d * d
        })
        .sum::<f64>()
        / probs.len() as f64)
}

/// Mean negative log-likelihood (natural log), probabilities clipped to `[eps, 1 - eps]`.
pub fn log_loss(probs: &[f64], labels: &[bool]) -> Result<f64, ModelError> {
    check(probs, labels)?;
    check_probabilities(probs)?;
    let eps = f64::EPSILON;
    Ok(probs
        .iter()
        .zip(labels)
        .map(|(&p, &l)| {
            let p = p.clamp(eps, 1.0 - eps);
            -(if l { p.ln() } else { (1.0 - p).ln() })
        })
        .sum::<f64>()
        / probs.len() as f64)
}

/// Number of equal-width bins of the calibration table and ECE.
pub const CALIBRATION_BINS: usize = 10;

/// One non-empty bin of a calibration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Bin bounds `[lower, upper)` (the last bin includes 1.0).
    pub lower: f64,
    pub upper: f64,
    /// Mean predicted probability in the bin.
    pub mean_predicted: f64,
    /// Observed positive rate in the bin.
    pub observed_rate: f64,
    pub count: usize,
}

/// Reliability table over 10 equal-width bins; empty bins are omitted.
pub fn calibration_table(
    probs: &[f64],
    labels: &[bool],
) -> Result<Vec<CalibrationBin>, ModelError> {
    check(probs, labels)?;
    check_probabilities(probs)?;
    let mut sum_p = [0.0; CALIBRATION_BINS];
    let mut pos = [0usize; CALIBRATION_BINS];
    let mut count = [0usize; CALIBRATION_BINS];
    for (&p, &l) in probs.iter().zip(labels) {
        let b = ((p * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        sum_p[b] += p;
        pos[b] += usize::from(l);
        count[b] += 1;
    }
    Ok((0..CALIBRATION_BINS)
        .filter(|&b| count[b] > 0)
        .map(|b| CalibrationBin {
            lower: b as f64 / CALIBRATION_BINS as f64,
            upper: (b + 1) as f64 / CALIBRATION_BINS as f64,
            mean_predicted: sum_p[b] / count[b] as f64,
            observed_rate: pos[b] as f64 / count[b] as f64,
            count: count[b],
        })
        .collect())
}

/// Expected calibration error over 10 equal-width bins.
pub fn expected_calibration_error(probs: &[f64], labels: &[bool]) -> Result<f64, ModelError> {
    let n = probs.len() as f64;
    Ok(calibration_table(probs, labels)?
        .iter()
        .map(|b| b.count as f64 / n * (b.mean_predicted - b.observed_rate).abs())
        .sum())
}

/// Share of positives among the `k` highest scores (`k` is clamped to `1..=N`).
pub fn precision_at_k(scores: &[f64], labels: &[bool], k: usize) -> Result<f64, ModelError> {
    check(scores, labels)?;
    let k = k.clamp(1, scores.len());
    let hits = order_desc(scores)
        .iter()
        .take(k)
        .filter(|&&i| labels[i])
        .count();
    Ok(hits as f64 / k as f64)
}

/// Share of all positives found among the `k` highest scores.
pub fn recall_at_k(scores: &[f64], labels: &[bool], k: usize) -> Result<f64, ModelError> {
    check(scores, labels)?;
    let (pos, _) = check_both_classes(labels)?;
    let k = k.clamp(1, scores.len());
    let hits = order_desc(scores)
        .iter()
        .take(k)
        .filter(|&&i| labels[i])
        .count();
    Ok(hits as f64 / pos as f64)
}

/// Positive rate in the top `ceil(N / 10)` scores over the overall positive rate.
pub fn lift_top_decile(scores: &[f64], labels: &[bool]) -> Result<f64, ModelError> {
    check(scores, labels)?;
    let (pos, _) = check_both_classes(labels)?;
    let k = scores.len().div_ceil(10);
    let top_rate = precision_at_k(scores, labels, k)?;
    Ok(top_rate / (pos as f64 / scores.len() as f64))
}

/// How many top-ranked rows "precision/recall at K" look at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopK {
    /// A share of the evaluated rows, rounded up (e.g. 0.1 = the top decile).
    Fraction(f64),
    /// A fixed count (e.g. the accounts a team can call in a week).
    Count(usize),
}

impl Default for TopK {
    fn default() -> Self {
        TopK::Fraction(0.1)
    }
}

impl TopK {
    /// The count for `n` rows (at least 1, at most `n`).
    pub fn resolve(self, n: usize) -> usize {
        let k = match self {
            TopK::Fraction(f) => (f.clamp(0.0, 1.0) * n as f64).ceil() as usize,
            TopK::Count(c) => c,
        };
        k.clamp(1, n.max(1))
    }
}

/// The headline metrics of one model on one evaluation set (stable serde keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub brier: f64,
    pub ece: f64,
    pub log_loss: f64,
    pub lift_top_decile: f64,
    pub precision_at_k: f64,
    pub recall_at_k: f64,
    /// The K used for precision/recall at K.
    pub k: usize,
    pub n_test: usize,
    pub positive_rate: f64,
    /// How many distinct probabilities the model gave the test rows: a
    /// calibration that ties many rows (an isotonic step) gives few, and a
    /// list cannot rank rows it scores the same (0 in cards made before
    /// this was counted).
    #[serde(default)]
    pub distinct_probabilities: usize,
}

/// Distinct values among `probs` (bit-equal values count once).
pub(crate) fn distinct_values(probs: &[f64]) -> usize {
    let mut bits: Vec<u64> = probs.iter().map(|p| p.to_bits()).collect();
    bits.sort_unstable();
    bits.dedup();
    bits.len()
}

impl Metrics {
    /// All metrics for calibrated probabilities `probs`.
    pub fn compute(probs: &[f64], labels: &[bool], top_k: TopK) -> Result<Self, ModelError> {
        check(probs, labels)?;
        check_probabilities(probs)?;
        let (pos, _) = check_both_classes(labels)?;
        let k = top_k.resolve(probs.len());
        Ok(Self {
            roc_auc: roc_auc(probs, labels)?,
            pr_auc: average_precision(probs, labels)?,
            brier: brier(probs, labels)?,
            ece: expected_calibration_error(probs, labels)?,
            log_loss: log_loss(probs, labels)?,
            lift_top_decile: lift_top_decile(probs, labels)?,
            precision_at_k: precision_at_k(probs, labels, k)?,
            recall_at_k: recall_at_k(probs, labels, k)?,
            k,
            n_test: probs.len(),
            positive_rate: pos as f64 / probs.len() as f64,
            distinct_probabilities: distinct_values(probs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    // Reference data: 12 rows with tied scores across classes (0.35 x3, 0.8 x2, 0.1 x2).
    const P: [f64; 12] = [
        0.1, 0.35, 0.35, 0.8, 0.8, 0.05, 0.6, 0.35, 0.92, 0.1, 0.45, 0.7,
    ];
    const Y: [bool; 12] = [
        false, true, false, true, false, false, true, false, true, true, false, false,
    ];

    /// Values from scikit-learn 1.9.1 (reference/sklearn_reference.py).
    #[test]
    fn distinct_probabilities_count_ties_once() {
        assert_eq!(distinct_values(&[0.277, 0.277, 0.1, 0.5, 0.1]), 3);
        assert_eq!(distinct_values(&[]), 0);
        let m = Metrics::compute(
            &[0.277, 0.277, 0.1, 0.9],
            &[true, false, false, true],
            TopK::Count(2),
        )
        .unwrap();
        assert_eq!(m.distinct_probabilities, 3);
        // Cards made before the count read as 0.
        let mut v = serde_json::to_value(&m).unwrap();
        v.as_object_mut().unwrap().remove("distinct_probabilities");
        let old: Metrics = serde_json::from_value(v).unwrap();
        assert_eq!(old.distinct_probabilities, 0);
    }

    #[test]
    fn pinned_to_scikit_learn() {
        close(roc_auc(&P, &Y).unwrap(), SK_ROC_AUC);
        close(average_precision(&P, &Y).unwrap(), SK_AP);
        close(brier(&P, &Y).unwrap(), SK_BRIER);
        close(log_loss(&P, &Y).unwrap(), SK_LOG_LOSS);
    }
    const SK_ROC_AUC: f64 = 0.6571428571428571;
    const SK_AP: f64 = 0.6331313131313132;
    const SK_BRIER: f64 = 0.25240833333333335;
    const SK_LOG_LOSS: f64 = 0.7166021134381598;

    /// Hand computation on the same 12 rows.
    #[test]
    fn hand_computed_ranking_and_calibration() {
        // Sorted desc (ties keep input order): 0.92 T, 0.8 T, 0.8 F, 0.7 F, 0.6 T, 0.45 F, ...
        // top ceil(12/10)=2 -> 2 positives; rate 1.0 over base 5/12 -> lift 2.4.
        close(lift_top_decile(&P, &Y).unwrap(), 2.4);
        close(precision_at_k(&P, &Y, 3).unwrap(), 2.0 / 3.0);
        close(recall_at_k(&P, &Y, 5).unwrap(), 3.0 / 5.0);
        close(precision_at_k(&P, &Y, 100).unwrap(), 5.0 / 12.0);
        // Bins: [0,.1): 0.05 F; [.1,.2): 0.1 F, 0.1 T; [.3,.4): 0.35 T,F,F; [.4,.5): 0.45 F;
        // [.6,.7): 0.6 T; [.7,.8): 0.7 F; [.8,.9): 0.8 T,F; [.9,1]: 0.92 T.
        let t = calibration_table(&P, &Y).unwrap();
        let counts: Vec<usize> = t.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![1, 2, 3, 1, 1, 1, 2, 1]);
        close(t[2].mean_predicted, 0.35);
        close(t[2].observed_rate, 1.0 / 3.0);
        let ece =
            (0.05 + 2.0 * 0.4 + 3.0 * (0.35 - 1.0 / 3.0) + 0.45 + 0.4 + 0.7 + 2.0 * 0.3 + 0.08)
                / 12.0;
        close(expected_calibration_error(&P, &Y).unwrap(), ece);
        // p = 1.0 lands in the last bin.
        let t = calibration_table(&[1.0, 0.95], &[true, false]).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].count, 2);
    }

    #[test]
    fn edge_cases_and_errors() {
        // Perfect and inverted rankings, all-tied scores.
        close(roc_auc(&[0.1, 0.9], &[false, true]).unwrap(), 1.0);
        close(roc_auc(&[0.9, 0.1], &[false, true]).unwrap(), 0.0);
        close(
            roc_auc(&[0.5, 0.5, 0.5], &[false, true, true]).unwrap(),
            0.5,
        );
        close(
            average_precision(&[0.5, 0.5, 0.5], &[false, true, true]).unwrap(),
            2.0 / 3.0,
        );
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_err());
        assert!(brier(&[0.1], &[true, false]).is_err());
        assert!(brier(&[1.5], &[true]).is_err());
        assert!(roc_auc(&[f64::NAN, 0.2], &[true, false]).is_err());
        assert!(log_loss(&[0.0, 1.0], &[false, true]).unwrap() < 1e-12);
        assert!(log_loss(&[1.0], &[false]).unwrap() > 30.0);
    }

    #[test]
    fn metrics_struct_has_stable_keys_and_round_trips() {
        let m = Metrics::compute(&P, &Y, TopK::Count(4)).unwrap();
        assert_eq!(m.k, 4);
        assert_eq!(m.n_test, 12);
        close(m.precision_at_k, 0.5);
        close(m.recall_at_k, 0.4);
        let v = serde_json::to_value(&m).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "brier",
                "distinct_probabilities",
                "ece",
                "k",
                "lift_top_decile",
                "log_loss",
                "n_test",
                "positive_rate",
                "pr_auc",
                "precision_at_k",
                "recall_at_k",
                "roc_auc"
            ]
        );
        let back: Metrics = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
        assert_eq!(TopK::Fraction(0.1).resolve(12), 2);
        assert_eq!(TopK::Count(0).resolve(12), 1);
        assert_eq!(TopK::Count(50).resolve(12), 12);
    }

    #[test]
    fn curves_run_from_corner_to_corner_and_thin_evenly() {
        let scores = [0.9, 0.8, 0.8, 0.4, 0.3, 0.1];
        let labels = [true, true, false, false, true, false];
        let c = Curves::compute(&scores, &labels, 100).unwrap();
        // Thresholds 0.9, 0.8 (a tie of one positive and one negative), 0.4, 0.3, 0.1.
        let third = 1.0 / 3.0;
        assert_eq!(
            c.roc,
            vec![
                [0.0, 0.0],
                [0.0, third],
                [third, 2.0 * third],
                [2.0 * third, 2.0 * third],
                [2.0 * third, 1.0],
                [1.0, 1.0]
            ]
        );
        assert_eq!(c.roc.first(), Some(&[0.0, 0.0]));
        assert_eq!(c.roc.last(), Some(&[1.0, 1.0]));
        assert_eq!(c.roc[2], [1.0 / 3.0, 2.0 / 3.0]);
        assert_eq!(c.roc[4], [2.0 / 3.0, 1.0]);
        assert_eq!(c.pr[0], [1.0 / 3.0, 1.0]);
        assert_eq!(c.pr[1], [2.0 / 3.0, 2.0 / 3.0]);
        assert_eq!(c.pr.last(), Some(&[1.0, 0.5]));
        // The area under the drawn ROC curve is the AUC (no thinning here).
        let area: f64 = c
            .roc
            .windows(2)
            .map(|w| (w[1][0] - w[0][0]) * (w[1][1] + w[0][1]) / 2.0)
            .sum();
        assert!((area - roc_auc(&scores, &labels).unwrap()).abs() < 1e-12);

        let many: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let labels: Vec<bool> = (0..1000).map(|i| i % 3 == 0).collect();
        let c = Curves::compute(&many, &labels, 51).unwrap();
        assert_eq!(c.roc.len(), 51);
        assert_eq!(c.roc.first(), Some(&[0.0, 0.0]));
        assert_eq!(c.roc.last(), Some(&[1.0, 1.0]));
        assert!(
            c.roc
                .windows(2)
                .all(|w| w[0][0] <= w[1][0] && w[0][1] <= w[1][1])
        );
        assert!(Curves::compute(&[0.1], &[true], 10).is_err());
    }
}
