//! Realised performance: Pulse scoring its own past. A stored scoring run
//! said, on its day, how likely each customer was to churn within the
//! horizon; the outcomes that have arrived since say who did. Per run: of
//! the top K of its at-risk list (by churn probability), how many churned,
//! against the base rate of all the run's accounts; ROC-AUC and PR-AUC of
//! its probabilities; calibration (mean predicted against observed, by
//! decile of the prediction, and ECE) and the same by segment.
//!
//! A run whose label window has not closed yet is reported as partial
//! (outcomes observed so far: a lower bound on churn), never mixed with
//! closed ones. No I/O: the caller passes the stored scores and the
//! observed churn days.

use pulse_core::time::{Day, format_day};
use pulse_models::{average_precision, expected_calibration_error, roc_auc};
use serde::{Deserialize, Serialize};

/// One account of a stored run and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RealisedRow {
    pub churn_probability: f64,
    pub segment: String,
    /// Whether it churned in `(as_of, as_of + horizon]`, as far as observed.
    pub churned: bool,
}

/// Calibration of one group: mean predicted against observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationGroup {
    /// `decile 1` (lowest predictions) .. `decile 10`, or a segment.
    pub name: String,
    pub n: usize,
    pub churned: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
    /// `None` when the group holds one class only.
    pub roc_auc: Option<f64>,
}

/// How a stored run's list turned out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPerformance {
    pub run_id: i64,
    pub as_of: Day,
    /// Outcomes observed up to this day (`as_of + horizon` when closed).
    pub observed_through: Day,
    /// Whether the whole label window has passed.
    pub window_closed: bool,
    pub n: usize,
    pub churned: usize,
    pub base_rate: f64,
    pub top_k: usize,
    pub top_k_churned: usize,
    /// Churn rate of the top K over the base rate.
    pub top_k_lift: f64,
    /// `None` when nobody (or everybody) churned.
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    pub ece: Option<f64>,
    pub mean_predicted: f64,
    pub deciles: Vec<CalibrationGroup>,
    pub segments: Vec<CalibrationGroup>,
}

impl RunPerformance {
    /// "the at-risk list of 2026-09-07 (12 weeks ago): of its top 100, 23
    /// churned against a base rate of 6.0%".
    pub fn sentence(&self, today: Day) -> String {
        let weeks = (today - self.as_of) / 7;
        format!(
            "the at-risk list of {} ({} week{} ago): of its top {}, {} churned{} against a base rate of {:.1}% ({} of {}){}",
            format_day(self.as_of),
            weeks,
            if weeks == 1 { "" } else { "s" },
            self.top_k,
            self.top_k_churned,
            if self.window_closed { "" } else { " so far" },
            self.base_rate * 100.0,
            self.churned,
            self.n,
            if self.window_closed {
                String::new()
            } else {
                format!(
                    "; outcomes observed through {}, the window closes later",
                    format_day(self.observed_through)
                )
            }
        )
    }
}

fn group(name: String, rows: &[&RealisedRow]) -> CalibrationGroup {
    let n = rows.len();
    let churned = rows.iter().filter(|r| r.churned).count();
    let probs: Vec<f64> = rows.iter().map(|r| r.churn_probability).collect();
    let labels: Vec<bool> = rows.iter().map(|r| r.churned).collect();
    CalibrationGroup {
        name,
        n,
        churned,
        mean_predicted: probs.iter().sum::<f64>() / n.max(1) as f64,
        observed_rate: churned as f64 / n.max(1) as f64,
        roc_auc: roc_auc(&probs, &labels).ok(),
    }
}

/// The performance of one run (`rows` in any order; `top_k` >= 1).
pub fn run_performance(
    run_id: i64,
    as_of: Day,
    horizon_days: i32,
    today: Day,
    rows: &[RealisedRow],
    top_k: usize,
) -> RunPerformance {
    let close = as_of + horizon_days;
    let window_closed = today >= close;
    let observed_through = close.min(today);
    let n = rows.len();
    let churned = rows.iter().filter(|r| r.churned).count();
    let base_rate = churned as f64 / n.max(1) as f64;
    let mut order: Vec<&RealisedRow> = rows.iter().collect();
    order.sort_by(|a, b| b.churn_probability.total_cmp(&a.churn_probability));
    let k = top_k.max(1).min(n);
    let top_k_churned = order[..k].iter().filter(|r| r.churned).count();
    let top_rate = top_k_churned as f64 / k.max(1) as f64;
    let probs: Vec<f64> = rows.iter().map(|r| r.churn_probability).collect();
    let labels: Vec<bool> = rows.iter().map(|r| r.churned).collect();
    // Deciles of the prediction, lowest first.
    let mut deciles = Vec::new();
    if n > 0 {
        let asc: Vec<&RealisedRow> = order.iter().rev().copied().collect();
        for d in 0..10 {
            let (lo, hi) = (d * n / 10, (d + 1) * n / 10);
            if hi > lo {
                deciles.push(group(format!("decile {}", d + 1), &asc[lo..hi]));
            }
        }
    }
    let mut names: Vec<&str> = rows.iter().map(|r| r.segment.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let segments = names
        .into_iter()
        .map(|s| {
            let g: Vec<&RealisedRow> = rows.iter().filter(|r| r.segment == s).collect();
            group(s.to_string(), &g)
        })
        .collect();
    RunPerformance {
        run_id,
        as_of,
        observed_through,
        window_closed,
        n,
        churned,
        base_rate,
        top_k: k,
        top_k_churned,
        top_k_lift: if base_rate > 0.0 {
            top_rate / base_rate
        } else {
            0.0
        },
        roc_auc: roc_auc(&probs, &labels).ok(),
        pr_auc: average_precision(&probs, &labels).ok(),
        ece: expected_calibration_error(&probs, &labels).ok(),
        mean_predicted: probs.iter().sum::<f64>() / n.max(1) as f64,
        deciles,
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p: f64, seg: &str, churned: bool) -> RealisedRow {
        RealisedRow {
            churn_probability: p,
            segment: seg.into(),
            churned,
        }
    }

    #[test]
    fn top_k_base_rate_and_segments_are_counted_from_the_rows() {
        // 20 accounts; the two highest churned, one low one churned.
        let mut rows: Vec<RealisedRow> = (0..20)
            .map(|i| {
                row(
                    f64::from(i) / 100.0,
                    if i % 2 == 0 { "smb" } else { "enterprise" },
                    false,
                )
            })
            .collect();
        rows[19].churned = true;
        rows[18].churned = true;
        rows[2].churned = true;
        let p = run_performance(7, 1_000, 90, 1_100, &rows, 5);
        assert!(p.window_closed);
        assert_eq!(p.observed_through, 1_090);
        assert_eq!((p.n, p.churned, p.top_k, p.top_k_churned), (20, 3, 5, 2));
        assert!((p.base_rate - 0.15).abs() < 1e-12);
        assert!((p.top_k_lift - (2.0 / 5.0) / 0.15).abs() < 1e-12);
        // Positives above 17, 17 and 2 of the 17 negatives: AUC = 36 / 51.
        assert!((p.roc_auc.unwrap() - 36.0 / 51.0).abs() < 1e-12);
        assert_eq!(p.deciles.len(), 10);
        assert_eq!(p.deciles[9].churned, 2);
        assert_eq!(p.deciles[1].churned, 1);
        let smb = p.segments.iter().find(|s| s.name == "smb").unwrap();
        assert_eq!((smb.n, smb.churned), (10, 2));
        assert!(
            p.sentence(1_084)
                .starts_with("the at-risk list of 1972-09-27 (12 weeks ago): of its top 5, 2 churned against a base rate of 15.0% (3 of 20)"),
            "{}",
            p.sentence(1_084)
        );
    }

    #[test]
    fn an_open_window_is_partial_and_one_class_has_no_auc() {
        let rows = vec![row(0.2, "smb", false), row(0.1, "smb", false)];
        let p = run_performance(1, 1_000, 90, 1_030, &rows, 100);
        assert!(!p.window_closed);
        assert_eq!(p.observed_through, 1_030);
        assert_eq!(p.top_k, 2);
        assert_eq!(p.roc_auc, None);
        assert_eq!(p.top_k_lift, 0.0);
        assert!(
            p.sentence(1_030).contains("so far"),
            "{}",
            p.sentence(1_030)
        );
        let empty = run_performance(2, 1_000, 90, 1_030, &[], 100);
        assert_eq!((empty.n, empty.top_k_churned), (0, 0));
    }
}
