//! Probability calibration fitted on a held-out slice, so that "0.30" means about 30 in 100.
//!
//! Both calibrators map a model's raw margin (log-odds) to a probability:
//! - **Platt scaling**: `p = sigmoid(a * margin + b)`, fitted by Newton's method on the log-loss
//!   with Platt's (1999) smoothed targets `(n+ + 1) / (n+ + 2)` and `1 / (n- + 2)` — the same
//!   objective as scikit-learn's `CalibratedClassifierCV(method="sigmoid")`.
//! - **Isotonic**: a non-decreasing step function fitted by pool-adjacent-violators (PAV) on the
//!   margins, interpolated linearly between block end points and held constant outside the
//!   fitted range (scikit-learn's `IsotonicRegression(out_of_bounds="clip")` semantics). Outputs
//!   are clipped to `[0.5 / (n + 1), 1 - 0.5 / (n + 1)]` (n = calibration rows) so no customer
//!   is ever scored as a certain 0 or 1 from a finite sample.
//!
//!   Why our own PAV rather than `linfa_linear::IsotonicRegression` (0.8.1): on sorted,
//!   increasing data its fit departs far from the PAV solution (test
//!   `linfa_isotonic_still_disagrees_with_pav`: up to 0.4 away from scikit-learn's answer, close
//!   to a straight line); it also picks the direction from the Pearson correlation (a calibration
//!   map must be non-decreasing whatever the slice says) and panics (`assert!`) instead of
//!   returning errors. Ours is pinned to scikit-learn's `IsotonicRegression` in the tests.
//! - **Centred isotonic** (Oron & Flournoy's centred isotonic regression): the same PAV
//!   blocks, but one knot per block at the block's mean margin, interpolated linearly between
//!   knots. Plain isotonic is flat inside every block, so dozens of rows share one probability
//!   and a list cannot rank them; the centred map is strictly increasing between the first and
//!   last knots, so it keeps the model's ranking there (ROC-AUC is preserved) while staying
//!   non-parametric.
//! - **Beta calibration** (Kull, Silva Filho & Flach, 2017): `p = sigmoid(c + a ln s - b ln(1-s))`
//!   with `s = sigmoid(margin)`; it contains Platt scaling and the identity, and bends
//!   differently at the two ends. `a` and `b` are kept >= 0 (a negative one is fixed at 0 and the
//!   other refitted), so the map is non-decreasing.
//! - **Auto** (default): 5-fold cross-validated log-loss on the calibration slice picks among
//!   Platt, beta and centred isotonic, and the winner is refitted on the whole slice. Isotonic
//!   needs data: with fewer than 200 rows or fewer than 20 of either class, it is not tried.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::metrics::log_loss;

/// Which calibrator to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// No calibration: `sigmoid(margin)`.
    None,
    Platt,
    Isotonic,
    /// Isotonic with one knot per block, interpolated (keeps the ranking).
    CentredIsotonic,
    Beta,
    /// Cross-validated choice among Platt, beta and centred isotonic.
    #[default]
    Auto,
}

/// A fitted margin → probability map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    /// `sigmoid(margin)`.
    Identity,
    /// `sigmoid(a * margin + b)`.
    Platt { a: f64, b: f64 },
    /// Piecewise-linear non-decreasing map through `(x[i], y[i])`, clipped to `[low, high]`.
    Isotonic {
        x: Vec<f64>,
        y: Vec<f64>,
        low: f64,
        high: f64,
    },
    /// Piecewise-linear map through block centres (same form as `Isotonic`).
    CentredIsotonic {
        x: Vec<f64>,
        y: Vec<f64>,
        low: f64,
        high: f64,
    },
    /// `sigmoid(c + a ln s - b ln(1 - s))`, `s = sigmoid(margin)`, `a, b >= 0`.
    Beta { a: f64, b: f64, c: f64 },
}

const MIN_ROWS_FOR_ISOTONIC: usize = 200;
const MIN_CLASS_FOR_ISOTONIC: usize = 20;
const AUTO_FOLDS: usize = 5;

pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(z))` without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

fn check_input(margins: &[f64], labels: &[bool]) -> Result<(usize, usize), ModelError> {
    if margins.len() != labels.len() {
        return Err(ModelError::calibration(format!(
            "{} margins for {} labels",
            margins.len(),
            labels.len()
        )));
    }
    if margins.iter().any(|m| !m.is_finite()) {
        return Err(ModelError::calibration("margins must be finite"));
    }
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return Err(ModelError::calibration(format!(
            "calibration slice needs both classes, got {pos} positives and {neg} negatives"
        )));
    }
    Ok((pos, neg))
}

impl Calibrator {
    /// Fits the requested calibrator on held-out `margins` and their labels.
    pub fn fit(
        method: CalibrationMethod,
        margins: &[f64],
        labels: &[bool],
    ) -> Result<Self, ModelError> {
        match method {
            CalibrationMethod::None => Ok(Calibrator::Identity),
            CalibrationMethod::Platt => Self::fit_platt(margins, labels),
            CalibrationMethod::Isotonic => Self::fit_isotonic(margins, labels),
            CalibrationMethod::CentredIsotonic => Self::fit_centred_isotonic(margins, labels),
            CalibrationMethod::Beta => Self::fit_beta(margins, labels),
            CalibrationMethod::Auto => Self::fit_auto(margins, labels),
        }
    }

    /// The method this calibrator implements.
    pub fn method(&self) -> CalibrationMethod {
        match self {
            Calibrator::Identity => CalibrationMethod::None,
            Calibrator::Platt { .. } => CalibrationMethod::Platt,
            Calibrator::Isotonic { .. } => CalibrationMethod::Isotonic,
            Calibrator::CentredIsotonic { .. } => CalibrationMethod::CentredIsotonic,
            Calibrator::Beta { .. } => CalibrationMethod::Beta,
        }
    }

    /// Calibrated probability of a raw margin.
    pub fn probability(&self, margin: f64) -> f64 {
        match self {
            Calibrator::Identity => sigmoid(margin),
            Calibrator::Platt { a, b } => sigmoid(a * margin + b),
            Calibrator::Isotonic { x, y, low, high }
            | Calibrator::CentredIsotonic { x, y, low, high } => {
                interpolate(x, y, margin).clamp(*low, *high)
            }
            Calibrator::Beta { a, b, c } => sigmoid(beta_z(*a, *b, *c, margin)),
        }
    }

    /// Checks a deserialised calibrator.
    pub(crate) fn validate(&self) -> Result<(), ModelError> {
        let ok = match self {
            Calibrator::Identity => true,
            Calibrator::Platt { a, b } => a.is_finite() && b.is_finite(),
            Calibrator::Beta { a, b, c } => {
                a.is_finite() && b.is_finite() && c.is_finite() && *a >= 0.0 && *b >= 0.0
            }
            Calibrator::Isotonic { x, y, low, high }
            | Calibrator::CentredIsotonic { x, y, low, high } => {
                !x.is_empty()
                    && x.len() == y.len()
                    && x.windows(2).all(|w| w[0] <= w[1])
                    && y.windows(2).all(|w| w[0] <= w[1])
                    && x.iter().chain(y).all(|v| v.is_finite())
                    && (0.0..=*high).contains(low)
                    && *high <= 1.0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(ModelError::invalid("calibrator parameters invalid"))
        }
    }

    /// Platt scaling with smoothed targets, fitted by damped Newton steps.
    pub fn fit_platt(margins: &[f64], labels: &[bool]) -> Result<Self, ModelError> {
        let (pos, neg) = check_input(margins, labels)?;
        let hi = (pos as f64 + 1.0) / (pos as f64 + 2.0);
        let lo = 1.0 / (neg as f64 + 2.0);
        let t: Vec<f64> = labels.iter().map(|&l| if l { hi } else { lo }).collect();
        let loss = |a: f64, b: f64| -> f64 {
            margins
                .iter()
                .zip(&t)
                .map(|(&f, &t)| {
                    let z = a * f + b;
                    // -[t log s(z) + (1-t) log(1-s(z))] = softplus(z) - t z
                    softplus(z) - t * z
                })
                .sum()
        };
        let (mut a, mut b) = (1.0, 0.0);
        let mut current = loss(a, b);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (&f, &t) in margins.iter().zip(&t) {
                let p = sigmoid(a * f + b);
                let w = (p * (1.0 - p)).max(1e-12);
                ga += (p - t) * f;
                gb += p - t;
                haa += w * f * f;
                hab += w * f;
                hbb += w;
            }
            if ga.abs().max(gb.abs()) < 1e-10 * margins.len() as f64 {
                break;
            }
            // Small ridge keeps the 2x2 system solvable when all margins are equal.
            let (haa, hbb) = (haa + 1e-12, hbb + 1e-12);
            let det = haa * hbb - hab * hab;
            let (da, db) = if det.abs() > 1e-300 {
                ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det)
            } else {
                (ga / haa, gb / hbb)
            };
            let mut step = 1.0;
            let mut improved = false;
            while step > 1e-10 {
                let (na, nb) = (a - step * da, b - step * db);
                let l = loss(na, nb);
                if l <= current {
                    a = na;
                    b = nb;
                    improved = current - l > 1e-14 * current.abs().max(1.0);
                    current = l;
                    break;
                }
                step *= 0.5;
            }
            if !improved {
                break;
            }
        }
        if !(a.is_finite() && b.is_finite()) {
            return Err(ModelError::calibration("Platt scaling diverged"));
        }
        Ok(Calibrator::Platt { a, b })
    }

    /// Isotonic (PAV) calibration on the margins.
    pub fn fit_isotonic(margins: &[f64], labels: &[bool]) -> Result<Self, ModelError> {
        check_input(margins, labels)?;
        let y: Vec<f64> = labels.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
        let (x, v) = pav(margins, &y);
        let eps = 0.5 / (margins.len() as f64 + 1.0);
        Ok(Calibrator::Isotonic {
            x,
            y: v,
            low: eps,
            high: 1.0 - eps,
        })
    }

    /// Centred isotonic calibration: one knot per PAV block at its mean margin.
    pub fn fit_centred_isotonic(margins: &[f64], labels: &[bool]) -> Result<Self, ModelError> {
        check_input(margins, labels)?;
        let y: Vec<f64> = labels.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
        let blocks = pav_blocks(margins, &y);
        let eps = 0.5 / (margins.len() as f64 + 1.0);
        Ok(Calibrator::CentredIsotonic {
            x: blocks.iter().map(|b| b.x_sum / b.w).collect(),
            y: blocks.iter().map(|b| b.y_sum / b.w).collect(),
            low: eps,
            high: 1.0 - eps,
        })
    }

    /// Beta calibration by Newton's method on `[ln s, -ln(1-s)]`; a negative
    /// `a` or `b` is fixed at 0 and the other refitted.
    pub fn fit_beta(margins: &[f64], labels: &[bool]) -> Result<Self, ModelError> {
        check_input(margins, labels)?;
        let feats: Vec<[f64; 2]> = margins
            .iter()
            .map(|&m| [-softplus(-m), softplus(m)])
            .collect();
        let mut w = logistic2(&feats, labels, [true, true]);
        if w[1] < 0.0 || w[2] < 0.0 {
            let keep = if w[1] >= w[2] {
                [true, false]
            } else {
                [false, true]
            };
            w = logistic2(&feats, labels, keep);
            w[1] = w[1].max(0.0);
            w[2] = w[2].max(0.0);
        }
        let cal = Calibrator::Beta {
            a: w[1],
            b: w[2],
            c: w[0],
        };
        cal.validate()
            .map_err(|_| ModelError::calibration("beta calibration diverged"))?;
        Ok(cal)
    }

    fn fit_auto(margins: &[f64], labels: &[bool]) -> Result<Self, ModelError> {
        let (pos, neg) = check_input(margins, labels)?;
        let isotonic_ok =
            margins.len() >= MIN_ROWS_FOR_ISOTONIC && pos.min(neg) >= MIN_CLASS_FOR_ISOTONIC;
        let methods: &[CalibrationMethod] = if isotonic_ok {
            &[
                CalibrationMethod::Platt,
                CalibrationMethod::Beta,
                CalibrationMethod::CentredIsotonic,
            ]
        } else {
            &[CalibrationMethod::Platt, CalibrationMethod::Beta]
        };
        if margins.len() < 2 * AUTO_FOLDS || pos.min(neg) < AUTO_FOLDS {
            return Self::fit_platt(margins, labels);
        }
        // Stratified fold assignment from a fixed seed, so the choice is reproducible.
        let fold = crate::selection::stratified_folds(labels, AUTO_FOLDS, 0x5EED_CA1B);
        let mut oof = vec![vec![0.0; margins.len()]; methods.len()];
        for f in 0..AUTO_FOLDS {
            let (mut tm, mut tl) = (Vec::new(), Vec::new());
            for i in 0..margins.len() {
                if fold[i] != f {
                    tm.push(margins[i]);
                    tl.push(labels[i]);
                }
            }
            for (k, &method) in methods.iter().enumerate() {
                let cal = Self::fit(method, &tm, &tl)?;
                for i in (0..margins.len()).filter(|&i| fold[i] == f) {
                    oof[k][i] = cal.probability(margins[i]);
                }
            }
        }
        // Ties go to the simpler map (Platt first).
        let mut best = (f64::INFINITY, CalibrationMethod::Platt);
        for (k, &method) in methods.iter().enumerate() {
            let l = log_loss(&oof[k], labels)?;
            if l < best.0 - 1e-12 {
                best = (l, method);
            }
        }
        Self::fit(best.1, margins, labels)
    }
}

/// The logit of beta calibration.
fn beta_z(a: f64, b: f64, c: f64, margin: f64) -> f64 {
    // ln s = -softplus(-m), -ln(1 - s) = softplus(m)
    c - a * softplus(-margin) + b * softplus(margin)
}

/// Logistic regression of `labels` on up to two features (`use_` says
/// which) plus an intercept, by damped Newton steps: `[w0, w1, w2]`.
pub(crate) fn logistic2(x: &[[f64; 2]], labels: &[bool], use_: [bool; 2]) -> [f64; 3] {
    let mut w = [0.0f64; 3];
    let on = [true, use_[0], use_[1]];
    let loss = |w: &[f64; 3]| -> f64 {
        x.iter()
            .zip(labels)
            .map(|(r, &t)| {
                let z = w[0] + w[1] * r[0] + w[2] * r[1];
                softplus(z) - if t { z } else { 0.0 }
            })
            .sum()
    };
    let mut current = loss(&w);
    for _ in 0..100 {
        let mut g = [0.0f64; 3];
        let mut h = [[0.0f64; 3]; 3];
        for (r, &t) in x.iter().zip(labels) {
            let v = [1.0, r[0], r[1]];
            let p = sigmoid(w[0] + w[1] * r[0] + w[2] * r[1]);
            let d = p - if t { 1.0 } else { 0.0 };
            let s = (p * (1.0 - p)).max(1e-12);
            for i in 0..3 {
                g[i] += d * v[i];
                for j in 0..3 {
                    h[i][j] += s * v[i] * v[j];
                }
            }
        }
        for i in 0..3 {
            if !on[i] {
                g[i] = 0.0;
                h[i] = [0.0; 3];
                for row in h.iter_mut() {
                    row[i] = 0.0;
                }
                h[i][i] = 1.0;
            } else {
                h[i][i] += 1e-9 * x.len() as f64;
            }
        }
        let Some(step) = solve3(h, g) else { break };
        let mut t = 1.0;
        let mut moved = false;
        while t > 1e-10 {
            let cand = [w[0] - t * step[0], w[1] - t * step[1], w[2] - t * step[2]];
            let l = loss(&cand);
            if l.is_finite() && l <= current {
                moved = current - l > 1e-13 * current.abs().max(1.0);
                w = cand;
                current = l;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    w
}

/// Solves the 3x3 system `h s = g` (Cramer's rule); `None` if singular.
fn solve3(h: [[f64; 3]; 3], g: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(h);
    if !d.is_finite() || d.abs() < 1e-300 {
        return None;
    }
    let mut s = [0.0; 3];
    for (k, sk) in s.iter_mut().enumerate() {
        let mut m = h;
        for i in 0..3 {
            m[i][k] = g[i];
        }
        *sk = det(m) / d;
    }
    Some(s)
}

/// One pooled block of PAV.
struct Block {
    y_sum: f64,
    w: f64,
    x_sum: f64,
    x_first: f64,
    x_last: f64,
}

/// Pool-adjacent-violators blocks in increasing x (ties in x pooled first).
fn pav_blocks(x: &[f64], y: &[f64]) -> Vec<Block> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut blocks: Vec<Block> = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let xv = x[order[i]];
        let (mut s, mut w) = (0.0, 0.0);
        while i < order.len() && x[order[i]] == xv {
            s += y[order[i]];
            w += 1.0;
            i += 1;
        }
        blocks.push(Block {
            y_sum: s,
            w,
            x_sum: xv * w,
            x_first: xv,
            x_last: xv,
        });
        while blocks.len() >= 2 {
            let n = blocks.len();
            if blocks[n - 2].y_sum / blocks[n - 2].w <= blocks[n - 1].y_sum / blocks[n - 1].w {
                break;
            }
            let b2 = blocks.pop().expect("two blocks");
            let b1 = blocks.last_mut().expect("one block");
            b1.y_sum += b2.y_sum;
            b1.w += b2.w;
            b1.x_sum += b2.x_sum;
            b1.x_last = b2.x_last;
        }
    }
    blocks
}

/// Pool-adjacent-violators on `(x, y)`; returns the interpolation knots `(x_k, value_k)`:
/// the first and last x of every block (ties in x are pooled before PAV, as scikit-learn does).
fn pav(x: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let blocks = pav_blocks(x, y);
    let mut kx = Vec::with_capacity(2 * blocks.len());
    let mut ky = Vec::with_capacity(2 * blocks.len());
    for b in blocks {
        kx.push(b.x_first);
        ky.push(b.y_sum / b.w);
        if b.x_last > b.x_first {
            kx.push(b.x_last);
            ky.push(b.y_sum / b.w);
        }
    }
    (kx, ky)
}

/// Linear interpolation through sorted knots, constant outside.
fn interpolate(x: &[f64], y: &[f64], v: f64) -> f64 {
    if v.is_nan() {
        return y[y.len() / 2];
    }
    if v <= x[0] {
        return y[0];
    }
    if v >= x[x.len() - 1] {
        return y[y.len() - 1];
    }
    // First knot strictly greater than v.
    let hi = x.partition_point(|&k| k <= v);
    let lo = hi - 1;
    if x[hi] == x[lo] {
        return y[hi];
    }
    y[lo] + (v - x[lo]) / (x[hi] - x[lo]) * (y[hi] - y[lo])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::brier;
    use crate::rng::SplitMix64;

    /// Hand-checked PAV: y = [1, 0, 0, 1, 0, 1] at x = 1..6 pools (1,0,0) -> 1/3 and (1,0) -> 1/2.
    #[test]
    fn pav_matches_hand_computation() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let y = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
        let (kx, ky) = pav(&x, &y);
        assert_eq!(kx, vec![1.0, 3.0, 4.0, 5.0, 6.0]);
        let third = 1.0 / 3.0;
        assert_eq!(ky, vec![third, third, 0.5, 0.5, 1.0]);
        assert_eq!(interpolate(&kx, &ky, 0.0), third);
        assert_eq!(interpolate(&kx, &ky, 3.5), third + 0.5 * (0.5 - third));
        assert_eq!(interpolate(&kx, &ky, 5.5), 0.75);
        assert_eq!(interpolate(&kx, &ky, 9.0), 1.0);
        // Ties in x are pooled first: x = [1, 1, 2], y = [1, 0, 0] -> 0.5 then 0 violates -> 1/3.
        let (kx, ky) = pav(&[1.0, 1.0, 2.0], &[1.0, 0.0, 0.0]);
        assert_eq!(kx, vec![1.0, 2.0]);
        assert_eq!(ky, vec![third, third]);
    }

    /// Reference: scikit-learn 1.9.1 `IsotonicRegression(out_of_bounds="clip")` on 16 margins
    /// with ties (crates/pulse-models/reference/sklearn_reference.py).
    #[test]
    fn isotonic_matches_scikit_learn() {
        let x = [
            -3.0, -2.5, -2.5, -2.0, -1.2, -1.0, -0.3, 0.0, 0.0, 0.4, 0.9, 1.1, 1.5, 2.0, 2.2, 3.0,
        ];
        let y = [0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1].map(|v| v as f64);
        let probe = [-4.0, -2.5, -2.25, -1.1, 0.0, 0.2, 0.95, 1.8, 2.1, 5.0];
        let (kx, ky) = pav(&x, &y);
        for (p, r) in probe.iter().zip(SK_ISO) {
            let v = interpolate(&kx, &ky, *p);
            assert!((v - r).abs() < 1e-12, "at {p}: {v} vs {r}");
        }
    }
    const SK_ISO: [f64; 10] = [
        0.0,
        0.25,
        0.25,
        0.3749999999999999,
        0.5,
        0.5,
        0.5416666666666666,
        0.6666666666666666,
        0.8333333333333333,
        1.0,
    ];

    /// FIXME(upstream): linfa-linear 0.8.1 `IsotonicRegression` departs from PAV on sorted,
    /// increasing data (its fit here is close to a straight line), which is why this crate uses
    /// its own PAV. This asserts today's disagreement; when it fails after an upgrade, linfa's
    /// version may have become usable.
    #[test]
    fn linfa_isotonic_still_disagrees_with_pav() {
        use linfa::traits::{Fit, Predict};
        let mut r = SplitMix64::new(9);
        let n = 300;
        let x: Vec<f64> = (0..n).map(|i| i as f64 / 10.0).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&v| {
                if r.next_f64() < sigmoid(v / 5.0 - 3.0) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let (kx, ky) = pav(&x, &y);
        let records = ndarray::Array2::from_shape_vec((n, 1), x.clone()).unwrap();
        let ds = linfa::Dataset::new(records, ndarray::Array1::from(y.clone()));
        let model = linfa_linear::IsotonicRegression::default()
            .fit(&ds)
            .unwrap();
        let probe = ndarray::Array2::from_shape_vec((kx.len(), 1), kx.clone()).unwrap();
        let theirs = model.predict(&probe);
        let worst = theirs
            .iter()
            .zip(&ky)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst > 0.1,
            "linfa now agrees with PAV (max diff {worst}); reconsider using it"
        );
    }

    /// Reference: scikit-learn 1.9.1 `_sigmoid_calibration(f, y)` (see
    /// crates/pulse-models/reference/sklearn_reference.py) returns A, B with p = 1 / (1 + exp(A f + B)),
    /// so a = -A and b = -B.
    #[test]
    fn platt_matches_scikit_learn() {
        let f = [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5];
        let y = [
            false, false, true, false, false, true, false, true, true, true,
        ];
        let Calibrator::Platt { a, b } = Calibrator::fit_platt(&f, &y).unwrap() else {
            panic!("not platt")
        };
        assert!((a - PLATT_A).abs() < 1e-5, "a = {a}");
        assert!((b - PLATT_B).abs() < 1e-5, "b = {b}");
    }
    const PLATT_A: f64 = 0.6640431491369831;
    const PLATT_B: f64 = -0.1660107758213118;

    #[test]
    fn rejects_single_class_and_length_mismatch() {
        assert!(matches!(
            Calibrator::fit_platt(&[0.0, 1.0], &[true, true]),
            Err(ModelError::Calibration { .. })
        ));
        assert!(matches!(
            Calibrator::fit_isotonic(&[0.0], &[true, false]),
            Err(ModelError::Calibration { .. })
        ));
    }

    /// A model whose margins are 3x too confident and shifted: calibration on one half must
    /// improve the Brier score on the other half, and Auto must pick something, not Identity.
    #[test]
    fn calibration_improves_held_out_brier_on_miscalibrated_scores() {
        let mut r = SplitMix64::new(42);
        let n = 4000;
        let mut margins = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let true_logit = r.normal() - 1.5;
            labels.push(r.next_f64() < sigmoid(true_logit));
            margins.push(3.0 * true_logit + 2.0);
        }
        let (cm, cl) = (&margins[..n / 2], &labels[..n / 2]);
        let (tm, tl) = (&margins[n / 2..], &labels[n / 2..]);
        let raw: Vec<f64> = tm.iter().map(|&m| sigmoid(m)).collect();
        let raw_brier = brier(&raw, tl).unwrap();
        for method in [
            CalibrationMethod::Platt,
            CalibrationMethod::Isotonic,
            CalibrationMethod::CentredIsotonic,
            CalibrationMethod::Beta,
            CalibrationMethod::Auto,
        ] {
            let c = Calibrator::fit(method, cm, cl).unwrap();
            let p: Vec<f64> = tm.iter().map(|&m| c.probability(m)).collect();
            let b = brier(&p, tl).unwrap();
            assert!(b < raw_brier - 0.02, "{method:?}: {b} vs raw {raw_brier}");
            assert_ne!(c.method(), CalibrationMethod::None);
            c.validate().unwrap();
            let back: Calibrator =
                serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
            assert_eq!(back, c);
        }
        // Platt recovers the generating map a = 1/3, b = -2/3.
        let Calibrator::Platt { a, b } = Calibrator::fit_platt(cm, cl).unwrap() else {
            panic!("not platt")
        };
        assert!(
            (a - 1.0 / 3.0).abs() < 0.05 && (b + 2.0 / 3.0).abs() < 0.15,
            "{a} {b}"
        );
    }

    #[test]
    fn centred_isotonic_keeps_the_ranking_that_plain_isotonic_ties() {
        let mut r = SplitMix64::new(5);
        let n = 3000;
        let mut margins = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let m = r.normal() * 1.5 - 1.0;
            margins.push(m);
            labels.push(r.next_f64() < sigmoid(m));
        }
        let plain = Calibrator::fit_isotonic(&margins, &labels).unwrap();
        let centred = Calibrator::fit_centred_isotonic(&margins, &labels).unwrap();
        let Calibrator::CentredIsotonic { x, y, .. } = &centred else {
            panic!("centred expected")
        };
        // One knot per block, values non-decreasing, knots increasing.
        assert!(x.windows(2).all(|w| w[0] < w[1]) && y.windows(2).all(|w| w[0] <= w[1]));
        let distinct = |c: &Calibrator| {
            let mut p: Vec<u64> = margins
                .iter()
                .map(|&m| c.probability(m).to_bits())
                .collect();
            p.sort_unstable();
            p.dedup();
            p.len()
        };
        let (dp, dc) = (distinct(&plain), distinct(&centred));
        assert!(dc > 10 * dp, "centred {dc} distinct vs plain {dp}");
        // Inside the knots the map is strictly increasing wherever the block
        // values differ: the ranking of the margins is kept.
        let inside: Vec<f64> = margins
            .iter()
            .copied()
            .filter(|&m| m > x[0] && m < x[x.len() - 1])
            .collect();
        let p: Vec<f64> = inside.iter().map(|&m| centred.probability(m)).collect();
        let labels_inside: Vec<bool> = margins
            .iter()
            .zip(&labels)
            .filter(|(m, _)| **m > x[0] && **m < x[x.len() - 1])
            .map(|(_, &l)| l)
            .collect();
        let auc_m = crate::metrics::roc_auc(&inside, &labels_inside).unwrap();
        let auc_p = crate::metrics::roc_auc(&p, &labels_inside).unwrap();
        assert!((auc_m - auc_p).abs() < 1e-3, "{auc_m} vs {auc_p}");
        centred.validate().unwrap();
    }

    #[test]
    fn beta_recovers_a_known_map_and_stays_monotone() {
        // True probability: sigmoid(0.3 + 1.5 ln s - 0.5 ln(1 - s)), s = sigmoid(m).
        let mut r = SplitMix64::new(9);
        let (mut margins, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let m = r.normal() * 2.0;
            margins.push(m);
            labels.push(r.next_f64() < sigmoid(beta_z(1.5, 0.5, 0.3, m)));
        }
        let Calibrator::Beta { a, b, c } = Calibrator::fit_beta(&margins, &labels).unwrap() else {
            panic!("beta expected")
        };
        assert!(
            (a - 1.5).abs() < 0.15 && (b - 0.5).abs() < 0.15 && (c - 0.3).abs() < 0.2,
            "{a} {b} {c}"
        );
        // A decreasing relation cannot make the map decreasing.
        let flipped: Vec<bool> = labels.iter().map(|l| !l).collect();
        let cal = Calibrator::fit_beta(&margins, &flipped).unwrap();
        let grid: Vec<f64> = (-40..=40).map(|i| f64::from(i) / 5.0).collect();
        assert!(
            grid.windows(2)
                .all(|w| cal.probability(w[0]) <= cal.probability(w[1]))
        );
    }
}
