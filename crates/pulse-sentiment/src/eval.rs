//! Held-out evaluation: accuracy, per-class precision / recall / F1, macro-F1
//! and the confusion matrix, in the class order negative, neutral, positive.

use std::fmt;

use pulse_core::Sentiment;
use serde::{Deserialize, Serialize};

use crate::model::{CLASSES, SentimentModel, class_index};

/// Precision, recall and F1 of one class (0 when undefined).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Documents of this class in the truth.
    pub support: u32,
}

/// How good the probabilities are, not only the labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbabilityMetrics {
    /// Mean negative log-probability of the true class (probabilities
    /// clipped at 1e-7).
    pub log_loss: f64,
    /// Mean squared distance between the probabilities and the one-hot truth.
    pub brier: f64,
    /// Expected calibration error of the top label: over 10 equal-width
    /// confidence bins, the document-weighted mean |accuracy − confidence|.
    pub ece: f64,
}

/// How well predictions match the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub documents: usize,
    pub accuracy: f64,
    /// Mean F1 over the classes that occur in the truth or the predictions
    /// (scikit-learn's `f1_score(average="macro")`).
    pub macro_f1: f64,
    /// Indexed negative, neutral, positive.
    pub per_class: [ClassMetrics; 3],
    /// `confusion[truth][predicted]`, indexed negative, neutral, positive.
    pub confusion: [[u32; 3]; 3],
    /// Present when the evaluation saw probabilities ([`evaluate`]).
    pub probability: Option<ProbabilityMetrics>,
}

impl Evaluation {
    /// Score `(truth, predicted)` pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Sentiment, Sentiment)>) -> Evaluation {
        let mut confusion = [[0u32; 3]; 3];
        for (truth, predicted) in pairs {
            confusion[class_index(truth)][class_index(predicted)] += 1;
        }
        Evaluation::from_confusion(confusion)
    }

    pub fn from_confusion(confusion: [[u32; 3]; 3]) -> Evaluation {
        let total: u32 = confusion.iter().flatten().sum();
        let correct: u32 = (0..3).map(|c| confusion[c][c]).sum();
        let mut per_class = [ClassMetrics::default(); 3];
        let mut f1_sum = 0.0;
        let mut f1_classes = 0;
        for c in 0..3 {
            let tp = f64::from(confusion[c][c]);
            let support: u32 = confusion[c].iter().sum();
            let predicted: u32 = (0..3).map(|t| confusion[t][c]).sum();
            let precision = ratio(tp, f64::from(predicted));
            let recall = ratio(tp, f64::from(support));
            let f1 = ratio(2.0 * precision * recall, precision + recall);
            per_class[c] = ClassMetrics {
                precision,
                recall,
                f1,
                support,
            };
            if support > 0 || predicted > 0 {
                f1_sum += f1;
                f1_classes += 1;
            }
        }
        Evaluation {
            documents: total as usize,
            accuracy: ratio(f64::from(correct), f64::from(total)),
            macro_f1: ratio(f1_sum, f64::from(f1_classes)),
            per_class,
            confusion,
            probability: None,
        }
    }
}

impl ProbabilityMetrics {
    /// Score `(truth, probabilities)` pairs.
    pub fn from_probabilities<'a>(
        pairs: impl IntoIterator<Item = (Sentiment, &'a [f32; 3])>,
    ) -> ProbabilityMetrics {
        const BINS: usize = 10;
        let mut n = 0usize;
        let (mut log_loss, mut brier) = (0.0, 0.0);
        let mut bins = [(0usize, 0.0f64, 0.0f64); BINS]; // count, correct, confidence
        for (truth, p) in pairs {
            let y = class_index(truth);
            n += 1;
            log_loss -= f64::from(p[y]).max(1e-7).ln();
            for (c, &pc) in p.iter().enumerate() {
                let target = if c == y { 1.0 } else { 0.0 };
                brier += (f64::from(pc) - target).powi(2);
            }
            let (top, confidence) =
                p.iter().enumerate().fold(
                    (0, f32::MIN),
                    |best, (c, &pc)| if pc > best.1 { (c, pc) } else { best },
                );
            let bin = ((f64::from(confidence) * BINS as f64) as usize).min(BINS - 1);
            bins[bin].0 += 1;
            bins[bin].1 += if top == y { 1.0 } else { 0.0 };
            bins[bin].2 += f64::from(confidence);
        }
        if n == 0 {
            return ProbabilityMetrics::default();
        }
        let ece = bins
            .iter()
            .filter(|b| b.0 > 0)
            .map(|&(_, correct, confidence)| (correct - confidence).abs())
            .sum::<f64>()
            / n as f64;
        ProbabilityMetrics {
            log_loss: log_loss / n as f64,
            brier: brier / n as f64,
            ece,
        }
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Predict every document and score the labels and the probabilities.
pub fn evaluate(model: &SentimentModel, docs: &[(&str, Sentiment)]) -> Evaluation {
    let texts: Vec<&str> = docs.iter().map(|d| d.0).collect();
    let predictions = model.predict_batch(&texts);
    let mut e = Evaluation::from_pairs(docs.iter().zip(&predictions).map(|(d, p)| (d.1, p.label)));
    e.probability = Some(ProbabilityMetrics::from_probabilities(
        docs.iter()
            .zip(&predictions)
            .map(|(d, p)| (d.1, &p.probabilities)),
    ));
    e
}

impl fmt::Display for Evaluation {
    /// A plain-text report: headline numbers, per-class table, confusion matrix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "documents {}  accuracy {:.4}  macro-F1 {:.4}",
            self.documents, self.accuracy, self.macro_f1
        )?;
        writeln!(
            f,
            "{:<10} {:>9} {:>9} {:>9} {:>8}",
            "class", "precision", "recall", "f1", "support"
        )?;
        for (c, m) in CLASSES.iter().zip(&self.per_class) {
            writeln!(
                f,
                "{:<10} {:>9.4} {:>9.4} {:>9.4} {:>8}",
                c.as_str(),
                m.precision,
                m.recall,
                m.f1,
                m.support
            )?;
        }
        writeln!(f, "confusion (rows truth, columns predicted)")?;
        writeln!(
            f,
            "{:<10} {:>9} {:>9} {:>9}",
            "", "negative", "neutral", "positive"
        )?;
        for (c, row) in CLASSES.iter().zip(&self.confusion) {
            writeln!(
                f,
                "{:<10} {:>9} {:>9} {:>9}",
                c.as_str(),
                row[0],
                row[1],
                row[2]
            )?;
        }
        if let Some(p) = &self.probability {
            writeln!(
                f,
                "probabilities: log-loss {:.4}  Brier {:.4}  top-label ECE {:.4}",
                p.log_loss, p.brier, p.ece
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Sentiment::*;

    #[test]
    fn metrics_match_hand_computation() {
        // truth/pred: (N,N) (N,U) (U,U) (P,P) (P,N) (P,P)
        let e = Evaluation::from_pairs([
            (Negative, Negative),
            (Negative, Neutral),
            (Neutral, Neutral),
            (Positive, Positive),
            (Positive, Negative),
            (Positive, Positive),
        ]);
        assert_eq!(e.confusion, [[1, 1, 0], [0, 1, 0], [1, 0, 2]]);
        assert!((e.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // negative p=1/2 r=1/2 f=1/2; neutral p=1/2 r=1 f=2/3; positive p=1 r=2/3 f=4/5
        let f = [0.5, 2.0 / 3.0, 0.8];
        for (m, want) in e.per_class.iter().zip(f) {
            assert!((m.f1 - want).abs() < 1e-12);
        }
        assert!((e.macro_f1 - (0.5 + 2.0 / 3.0 + 0.8) / 3.0).abs() < 1e-12);
        assert_eq!(e.per_class[2].support, 3);
    }

    #[test]
    fn probability_metrics_by_hand() {
        // Two documents: confident and right, unsure and wrong.
        let p1 = [0.9f32, 0.05, 0.05];
        let p2 = [0.4f32, 0.35, 0.25];
        let m = ProbabilityMetrics::from_probabilities([(Negative, &p1), (Positive, &p2)]);
        let log_loss = -(0.9f64.ln() + 0.25f64.ln()) / 2.0;
        assert!((m.log_loss - log_loss).abs() < 1e-6);
        let brier = ((0.1f64.powi(2) + 0.05f64.powi(2) * 2.0)
            + (0.4f64.powi(2) + 0.35f64.powi(2) + 0.75f64.powi(2)))
            / 2.0;
        assert!((m.brier - brier).abs() < 1e-6);
        // Bin 9: 1 right at 0.9 -> 0.1; bin 4: 0 right at 0.4 -> 0.4.
        assert!((m.ece - (0.1 + 0.4) / 2.0).abs() < 1e-6);
        assert_eq!(
            ProbabilityMetrics::from_probabilities(std::iter::empty()),
            ProbabilityMetrics::default()
        );
    }

    #[test]
    fn absent_classes_do_not_count_in_macro_f1() {
        let e = Evaluation::from_pairs([(Negative, Negative), (Positive, Positive)]);
        assert_eq!(e.macro_f1, 1.0);
        let e = Evaluation::from_pairs(std::iter::empty());
        assert_eq!((e.accuracy, e.macro_f1, e.documents), (0.0, 0.0, 0));
    }
}
