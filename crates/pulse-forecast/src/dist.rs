//! Distributions of sums of independent account outcomes.
//!
//! - Counts: the number of churned accounts is a sum of independent
//!   Bernoulli(p_i), a Poisson-binomial; [`poisson_binomial`] computes its
//!   exact distribution by dynamic programming (O(n x support); the tails
//!   on either side of the mean whose mass is below 1e-16 are dropped as
//!   they form, so the support stays within a few standard deviations of
//!   the mean).
//! - Money: churned and expansion ARR weight each outcome by the account's
//!   ARR, which has no closed form; [`MonteCarlo`] draws every account's
//!   outcome `draws` times from seeded SplitMix64 streams (one per block of
//!   draws, spread over the cores), so the same inputs give the same
//!   intervals on any machine.
//!
//! Intervals are central: the 80% interval runs from the 10th to the 90th
//! percentile (the smallest value whose cumulative probability reaches each).

/// A central interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub fn contains(&self, v: f64) -> bool {
        self.lo - 1e-9 <= v && v <= self.hi + 1e-9
    }
}

/// The exact distribution of the number of successes among independent
/// trials with probabilities `ps` (each clamped to [0, 1]): `pmf[k] =
/// P(K = k)`, trailing negligible tail dropped.
pub fn poisson_binomial(ps: &[f64]) -> Vec<f64> {
    let mut pmf = Vec::with_capacity(64);
    pmf.push(1.0);
    // Entries below `lo` are exactly zero: the lower tail under the mean
    // whose mass fell below 1e-16, dropped like the upper one so the work
    // per trial is the support's width, not the mean.
    let mut lo = 0usize;
    let mut mean = 0.0;
    for &p in ps {
        let p = p.clamp(0.0, 1.0);
        mean += p;
        pmf.push(0.0);
        for k in (lo.max(1)..pmf.len()).rev() {
            pmf[k] = pmf[k] * (1.0 - p) + pmf[k - 1] * p;
        }
        if lo == 0 {
            pmf[0] *= 1.0 - p;
        }
        while pmf.len() > 1 && (pmf.len() - 1) as f64 > mean + 1.0 && pmf[pmf.len() - 1] < 1e-16 {
            pmf.pop();
        }
        while lo + 1 < pmf.len() && (lo as f64) + 1.0 < mean - 1.0 && pmf[lo] < 1e-16 {
            pmf[lo] = 0.0;
            lo += 1;
        }
    }
    pmf
}

/// The smallest `k` with `P(K <= k) >= q`.
pub fn pmf_quantile(pmf: &[f64], q: f64) -> usize {
    let mut c = 0.0;
    for (k, &m) in pmf.iter().enumerate() {
        c += m;
        if c >= q - 1e-12 {
            return k;
        }
    }
    pmf.len().saturating_sub(1)
}

/// The central `level` interval of a count distribution.
pub fn pmf_interval(pmf: &[f64], level: f64) -> Interval {
    let a = (1.0 - level) / 2.0;
    Interval {
        lo: pmf_quantile(pmf, a) as f64,
        hi: pmf_quantile(pmf, 1.0 - a) as f64,
    }
}

/// The central `level` interval of samples (sorted in place).
pub fn sample_interval(samples: &mut [f64], level: f64) -> Interval {
    if samples.is_empty() {
        return Interval { lo: 0.0, hi: 0.0 };
    }
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let a = (1.0 - level) / 2.0;
    let at = |q: f64| {
        let k = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        samples[k]
    };
    Interval {
        lo: at(a),
        hi: at(1.0 - a),
    }
}

/// Seeded Monte Carlo settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MonteCarlo {
    pub draws: usize,
    pub seed: u64,
}

impl Default for MonteCarlo {
    fn default() -> Self {
        MonteCarlo {
            draws: 10_000,
            seed: 2026,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn dropping_both_tails_keeps_the_distribution() {
        // 5,000 trials: the support is a few hundred counts wide around a
        // mean of about 1,250, far from both ends.
        let ps: Vec<f64> = (0..5_000).map(|i| 0.05 + f64::from(i % 9) / 20.0).collect();
        let mut full = vec![1.0];
        for &p in &ps {
            full.push(0.0);
            for k in (1..full.len()).rev() {
                full[k] = full[k] * (1.0 - p) + full[k - 1] * p;
            }
            full[0] *= 1.0 - p;
        }
        let pruned = poisson_binomial(&ps);
        assert!(pruned.len() < full.len());
        assert!(
            pruned.iter().take(900).all(|&m| m == 0.0),
            "lower tail dropped"
        );
        for (k, m) in full.iter().enumerate() {
            let got = pruned.get(k).copied().unwrap_or(0.0);
            assert!((got - m).abs() < 1e-12, "k {k}: {got} vs {m}");
        }
        for level in [0.8, 0.95] {
            assert_eq!(pmf_interval(&pruned, level), pmf_interval(&full, level));
        }
    }

    fn brute_force(ps: &[f64]) -> Vec<f64> {
        let n = ps.len();
        let mut pmf = vec![0.0; n + 1];
        for mask in 0u32..(1 << n) {
            let mut pr = 1.0;
            for (i, &p) in ps.iter().enumerate() {
                pr *= if mask & (1 << i) != 0 { p } else { 1.0 - p };
            }
            pmf[mask.count_ones() as usize] += pr;
        }
        pmf
    }

    #[test]
    fn poisson_binomial_matches_brute_force() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in 0..=12 {
            let ps: Vec<f64> = (0..n).map(|_| rng.r#gen::<f64>()).collect();
            let exact = brute_force(&ps);
            let dp = poisson_binomial(&ps);
            for (k, want) in exact.iter().enumerate() {
                let got = dp.get(k).copied().unwrap_or(0.0);
                assert!((got - want).abs() < 1e-12, "n={n} k={k}: {got} vs {want}");
            }
            assert!((dp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // Certain outcomes.
        let certain = poisson_binomial(&[1.0, 1.0, 0.0]);
        assert_eq!(certain[2], 1.0);
        assert_eq!(certain.iter().sum::<f64>(), 1.0);
    }

    #[test]
    fn large_inputs_keep_a_short_support_and_all_the_mass() {
        let ps = vec![0.02; 50_000];
        let pmf = poisson_binomial(&ps);
        assert!(pmf.len() < 2_000, "support {}", pmf.len());
        assert!((pmf.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let mean: f64 = pmf.iter().enumerate().map(|(k, m)| k as f64 * m).sum();
        assert!((mean - 1000.0).abs() < 1e-6, "{mean}");
    }

    #[test]
    fn intervals_cover_simulated_outcomes_at_their_level() {
        // 400 accounts with mixed probabilities; 4,000 simulated periods.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let ps: Vec<f64> = (0..400).map(|_| rng.r#gen::<f64>().powi(3) * 0.5).collect();
        let pmf = poisson_binomial(&ps);
        let i80 = pmf_interval(&pmf, 0.8);
        let i95 = pmf_interval(&pmf, 0.95);
        let trials = 4_000;
        let (mut in80, mut in95) = (0, 0);
        for _ in 0..trials {
            let k = ps.iter().filter(|&&p| rng.r#gen::<f64>() < p).count() as f64;
            in80 += usize::from(i80.contains(k));
            in95 += usize::from(i95.contains(k));
        }
        let c80 = in80 as f64 / trials as f64;
        let c95 = in95 as f64 / trials as f64;
        // Discrete intervals cover at least their level (plus sampling error).
        assert!((0.78..=0.90).contains(&c80), "80% interval covered {c80}");
        assert!((0.94..=0.99).contains(&c95), "95% interval covered {c95}");
    }

    #[test]
    fn sample_intervals_are_percentiles() {
        let mut s: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let i = sample_interval(&mut s, 0.8);
        assert_eq!((i.lo, i.hi), (10.0, 90.0));
    }
}
