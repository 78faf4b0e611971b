//! Calibration on documents the classifier did not see: decision offsets per
//! class for macro-F1, then temperature scaling (Guo et al., ICML 2017), one
//! scalar `T` that divides every logit, fitted by minimising the log-loss.
//! The temperature changes no label, only how confident the probabilities
//! (and so the score) are.

/// Inverse temperatures searched: `T` in `[0.1, 10]`.
const BETA_RANGE: (f64, f64) = (0.1, 10.0);

/// Softmax of `logits / temperature` over the `present` classes; absent
/// classes get probability 0.
pub(crate) fn softmax(logits: [f32; 3], temperature: f32, present: [bool; 3]) -> [f32; 3] {
    let mut max = f32::NEG_INFINITY;
    for c in 0..3 {
        if present[c] {
            max = max.max(logits[c] / temperature);
        }
    }
    let mut out = [0.0f32; 3];
    let mut sum = 0.0f32;
    for c in 0..3 {
        if present[c] {
            out[c] = (logits[c] / temperature - max).exp();
            sum += out[c];
        }
    }
    if sum > 0.0 && sum.is_finite() {
        for p in &mut out {
            *p /= sum;
        }
    }
    out
}

/// Mean negative log-likelihood of `labels` under `softmax(beta * logits)`.
fn nll(beta: f64, logits: &[[f32; 3]], labels: &[usize], present: [bool; 3]) -> f64 {
    let mut total = 0.0;
    for (z, &y) in logits.iter().zip(labels) {
        let mut max = f64::NEG_INFINITY;
        for c in 0..3 {
            if present[c] {
                max = max.max(beta * f64::from(z[c]));
            }
        }
        let mut sum = 0.0;
        for c in 0..3 {
            if present[c] {
                sum += (beta * f64::from(z[c]) - max).exp();
            }
        }
        total += max + sum.ln() - beta * f64::from(z[y]);
    }
    total / logits.len().max(1) as f64
}

/// The temperature minimising the log-loss of `labels` given `logits`, found
/// by golden-section search on the inverse temperature (the loss is convex in
/// it). Returns 1 when there is nothing to fit.
pub(crate) fn fit_temperature(logits: &[[f32; 3]], labels: &[usize], present: [bool; 3]) -> f32 {
    if logits.is_empty() || logits.len() != labels.len() {
        return 1.0;
    }
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (BETA_RANGE.0.ln(), BETA_RANGE.1.ln());
    // Search on ln(beta): still unimodal, and even steps in scale.
    let f = |lb: f64| nll(lb.exp(), logits, labels, present);
    let mut c = b - phi * (b - a);
    let mut d = a + phi * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - phi * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + phi * (b - a);
            fd = f(d);
        }
    }
    let beta = ((a + b) / 2.0).exp();
    (1.0 / beta) as f32
}

/// Per-class logit offsets, chosen on held-back documents to maximise
/// macro-F1. Log-loss training favours the frequent classes at the expense
/// of a rare one (neutral is 17% of the default corpus), which macro-F1
/// punishes; shifting the decision boundary is the standard remedy.
///
/// The first present class keeps offset 0 (only differences matter); the
/// others are searched on a grid of step [`OFFSET_STEP`] within
/// ±[`OFFSET_MAX`]. Ties go to the smallest total shift, so flat stretches
/// of the objective stay close to the unshifted model.
pub(crate) fn fit_offsets(logits: &[[f32; 3]], labels: &[usize], present: [bool; 3]) -> [f32; 3] {
    let mut free: Vec<usize> = (0..3).filter(|&c| present[c]).collect();
    if logits.is_empty() || logits.len() != labels.len() || free.len() < 2 {
        return [0.0; 3];
    }
    free.remove(0);
    let steps = (OFFSET_MAX / OFFSET_STEP).round() as i32;
    let grid: Vec<f32> = (-steps..=steps).map(|i| i as f32 * OFFSET_STEP).collect();
    let mut best = ([0.0f32; 3], macro_f1(logits, labels, [0.0; 3], present));
    let mut consider = |offsets: [f32; 3]| {
        let f = macro_f1(logits, labels, offsets, present);
        let shift = |o: &[f32; 3]| o.iter().map(|x| x.abs()).sum::<f32>();
        if f > best.1 + 1e-12 || ((f - best.1).abs() <= 1e-12 && shift(&offsets) < shift(&best.0)) {
            best = (offsets, f);
        }
    };
    for &a in &grid {
        let mut offsets = [0.0f32; 3];
        offsets[free[0]] = a;
        if free.len() == 1 {
            consider(offsets);
            continue;
        }
        for &b in &grid {
            offsets[free[1]] = b;
            consider(offsets);
        }
    }
    best.0
}

/// Grid step of [`fit_offsets`].
pub(crate) const OFFSET_STEP: f32 = 0.05;
/// Largest absolute offset [`fit_offsets`] tries.
pub(crate) const OFFSET_MAX: f32 = 2.0;

fn macro_f1(logits: &[[f32; 3]], labels: &[usize], offsets: [f32; 3], present: [bool; 3]) -> f64 {
    let mut confusion = [[0u32; 3]; 3];
    for (z, &y) in logits.iter().zip(labels) {
        let mut best = usize::MAX;
        let mut best_value = f32::NEG_INFINITY;
        for c in 0..3 {
            if present[c] && z[c] + offsets[c] > best_value {
                best = c;
                best_value = z[c] + offsets[c];
            }
        }
        if best < 3 {
            confusion[y][best] += 1;
        }
    }
    crate::eval::Evaluation::from_confusion(confusion).macro_f1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_rescue_an_underpredicted_class() {
        // Neutral documents whose neutral logit is always 1 below the winner:
        // an offset of about +1 on neutral (relative to the others) fixes them.
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for i in 0..300 {
            let x = (i % 10) as f32 / 10.0;
            logits.push([2.0 + x, 1.0 + x, 0.0]);
            labels.push(1);
            logits.push([2.0, 0.0, -1.0]);
            labels.push(0);
            logits.push([0.0, 0.5, 2.0]);
            labels.push(2);
        }
        let before = macro_f1(&logits, &labels, [0.0; 3], [true; 3]);
        let offsets = fit_offsets(&logits, &labels, [true; 3]);
        let after = macro_f1(&logits, &labels, offsets, [true; 3]);
        assert!(before < 0.7 && after == 1.0, "{before} {after} {offsets:?}");
        assert_eq!(offsets[0], 0.0);
        assert!(offsets[1] > 1.0 && offsets[1] < 2.0, "{offsets:?}");
        // Nothing to gain: no shift.
        let clean = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert_eq!(fit_offsets(&clean, &[0, 1, 2], [true; 3]), [0.0; 3]);
        assert_eq!(fit_offsets(&[], &[], [true; 3]), [0.0; 3]);
    }

    #[test]
    fn softmax_respects_absent_classes() {
        let p = softmax([1.0, 5.0, 1.0], 1.0, [true, false, true]);
        assert_eq!(p[1], 0.0);
        assert!((p[0] - 0.5).abs() < 1e-6 && (p[2] - 0.5).abs() < 1e-6);
        let p = softmax([0.0, 0.0, 0.0], 1.0, [true, true, true]);
        assert!(p.iter().all(|&x| (x - 1.0 / 3.0).abs() < 1e-6));
    }

    #[test]
    fn recovers_a_known_temperature() {
        // Labels drawn so that softmax(z / 2) is the true distribution: the
        // fitted temperature must come out near 2.
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        let mut rng = crate::rng::SplitMix64::new(3);
        for _ in 0..20_000 {
            let z = [
                (rng.below(1000) as f32 / 100.0) - 5.0,
                (rng.below(1000) as f32 / 100.0) - 5.0,
                (rng.below(1000) as f32 / 100.0) - 5.0,
            ];
            let p = softmax(z, 2.0, [true; 3]);
            let u = rng.below(1_000_000) as f32 / 1e6;
            let y = if u < p[0] {
                0
            } else if u < p[0] + p[1] {
                1
            } else {
                2
            };
            logits.push(z);
            labels.push(y);
        }
        let t = fit_temperature(&logits, &labels, [true; 3]);
        assert!((t - 2.0).abs() < 0.15, "{t}");
        assert_eq!(fit_temperature(&[], &[], [true; 3]), 1.0);
    }
}
