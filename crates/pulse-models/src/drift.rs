//! Drift: the population stability index (PSI) between a reference sample
//! (the training data) and a current one (the scoring population).
//!
//! A [`BinnedProfile`] fixes the bins on the reference: edges at its
//! deciles (duplicates merged, so a feature with few distinct values gets
//! fewer bins), plus a bin of its own for missing values (NaN), and the
//! reference share of each bin. The current sample is counted in the same
//! bins, and
//!
//! ```text
//! PSI = sum over bins of (current - reference) * ln(current / reference)
//! ```
//!
//! with every share floored at [`PSI_FLOOR`] so an empty bin does not make
//! it infinite. By convention PSI < 0.10 is stable, 0.10-0.20 a moderate
//! shift worth a look, > 0.20 a major shift ([`DriftLevel`], thresholds
//! passed in). No I/O.

use serde::{Deserialize, Serialize};

/// Shares below this count as this in the PSI (an empty bin would be infinite).
pub const PSI_FLOOR: f64 = 1e-4;

/// PSI between two share vectors over the same bins (each should sum to 1).
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    reference
        .iter()
        .zip(current)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(PSI_FLOOR), a.max(PSI_FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Bins fixed on a reference sample and the reference's share in each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinnedProfile {
    /// Upper edges of the value bins, ascending: bin `i` holds values
    /// `<= edges[i]` (and above `edges[i-1]`); the last bin holds everything
    /// above the last edge. `n_value_bins = edges.len() + 1`.
    pub edges: Vec<f64>,
    /// Reference shares: one per value bin, then the missing-value bin.
    pub shares: Vec<f64>,
    /// Reference sample size.
    pub n: usize,
}

fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl BinnedProfile {
    /// Bins at the reference's `n_bins`-quantiles (10: deciles). Returns
    /// `None` for an empty sample.
    pub fn fit(reference: &[f64], n_bins: usize) -> Option<BinnedProfile> {
        if reference.is_empty() {
            return None;
        }
        let mut values: Vec<f64> = reference.iter().copied().filter(|v| !v.is_nan()).collect();
        values.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = Vec::new();
        if !values.is_empty() {
            for i in 1..n_bins.max(1) {
                let e = quantile_sorted(&values, i as f64 / n_bins as f64);
                // An edge at the maximum would leave the last bin empty.
                if e < values[values.len() - 1] && edges.last().is_none_or(|&l| e > l) {
                    edges.push(e);
                }
            }
        }
        let mut p = BinnedProfile {
            edges,
            shares: Vec::new(),
            n: reference.len(),
        };
        p.shares = p.shares_of(reference);
        Some(p)
    }

    /// The bin of a value (the last one for NaN).
    pub fn bin(&self, v: f64) -> usize {
        if v.is_nan() {
            return self.edges.len() + 1;
        }
        self.edges.partition_point(|&e| e < v)
    }

    /// Shares of `sample` in these bins (all zero for an empty sample).
    pub fn shares_of(&self, sample: &[f64]) -> Vec<f64> {
        let mut counts = vec![0usize; self.edges.len() + 2];
        for &v in sample {
            counts[self.bin(v)] += 1;
        }
        let n = sample.len().max(1) as f64;
        counts.into_iter().map(|c| c as f64 / n).collect()
    }

    /// PSI of `current` against the reference.
    pub fn psi(&self, current: &[f64]) -> f64 {
        psi(&self.shares, &self.shares_of(current))
    }
}

/// How far a PSI has moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftLevel {
    None,
    Warn,
    Critical,
}

impl DriftLevel {
    /// The level of `psi` under the `warn` and `critical` thresholds.
    pub fn of(psi: f64, warn: f64, critical: f64) -> DriftLevel {
        if psi >= critical {
            DriftLevel::Critical
        } else if psi >= warn {
            DriftLevel::Warn
        } else {
            DriftLevel::None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DriftLevel::None => "none",
            DriftLevel::Warn => "warn",
            DriftLevel::Critical => "critical",
        }
    }

    /// 0, 1, 2 (for a gauge).
    pub fn as_number(self) -> i64 {
        self as i64
    }
}

/// PSI of a rate against a reference rate: two bins, `rate` and `1 - rate`.
pub fn rate_psi(reference: f64, current: f64) -> f64 {
    psi(&[reference, 1.0 - reference], &[current, 1.0 - current])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn close(a: f64, b: f64, eps: f64) {
        assert!((a - b).abs() <= eps, "{a} vs {b}");
    }

    #[test]
    fn psi_matches_hand_computed_values() {
        // Identical distributions: 0.
        close(psi(&[0.25; 4], &[0.25; 4]), 0.0, 1e-12);
        // (0.3-0.5)ln(0.3/0.5) + (0.7-0.5)ln(0.7/0.5)
        //   = 0.2 * 0.510826 + 0.2 * 0.336472 = 0.169460
        close(psi(&[0.5, 0.5], &[0.3, 0.7]), 0.169_459_6, 1e-6);
        // A textbook ten-bin example: reference uniform, current shifted.
        let e = [0.1; 10];
        let a = [0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.15, 0.15, 0.15];
        // 3 * (-0.05 ln 0.5) + 3 * (0.05 ln 1.5) = 0.103972 + 0.060820
        close(psi(&e, &a), 0.164_792_4, 1e-6);
        // Symmetric in its arguments.
        close(psi(&a, &e), psi(&e, &a), 1e-12);
        // An empty bin is floored, not infinite.
        let p = psi(&[0.5, 0.5], &[1.0, 0.0]);
        assert!(p.is_finite() && p > 1.0, "{p}");
        // Rates: 5% -> 10%.
        close(
            rate_psi(0.05, 0.10),
            0.05 * (2.0f64).ln() + (-0.05) * (0.9f64 / 0.95).ln(),
            1e-12,
        );
    }

    #[test]
    fn bins_are_deciles_of_the_reference_with_a_missing_bin() {
        let reference: Vec<f64> = (0..1000).map(f64::from).collect();
        let p = BinnedProfile::fit(&reference, 10).unwrap();
        assert_eq!(p.edges.len(), 9);
        assert_eq!(p.shares.len(), 11);
        for s in &p.shares[..10] {
            close(*s, 0.1, 1e-3);
        }
        assert_eq!(p.shares[10], 0.0);
        // The same distribution: ~0; everything moved to the top: large.
        assert!(p.psi(&reference) < 1e-6);
        let shifted: Vec<f64> = reference.iter().map(|v| v + 500.0).collect();
        let moved = p.psi(&shifted);
        assert!(moved > 0.2, "{moved}");
        // Missing values get their own bin.
        let mut with_nan = reference.clone();
        with_nan.extend(std::iter::repeat_n(f64::NAN, 1000));
        let q = p.shares_of(&with_nan);
        close(q[10], 0.5, 1e-12);
        // A binary feature gets two bins, not ten.
        let binary: Vec<f64> = (0..100).map(|i| f64::from(i % 4 == 0)).collect();
        let b = BinnedProfile::fit(&binary, 10).unwrap();
        assert_eq!(b.edges, vec![0.0]);
        close(b.shares[0], 0.75, 1e-12);
        close(b.shares[1], 0.25, 1e-12);
        assert!(BinnedProfile::fit(&[], 10).is_none());
    }

    #[test]
    fn levels_follow_the_thresholds() {
        assert_eq!(DriftLevel::of(0.05, 0.1, 0.2), DriftLevel::None);
        assert_eq!(DriftLevel::of(0.10, 0.1, 0.2), DriftLevel::Warn);
        assert_eq!(DriftLevel::of(0.25, 0.1, 0.2), DriftLevel::Critical);
        assert!(DriftLevel::Critical > DriftLevel::Warn);
    }
}
