//! Reason accuracy: does the churn model's "why" match why accounts really
//! left? Only measurable where the reasons are known (a synthetic base's
//! truth); no vendor publishes it.
//!
//! On the backtest's held-out as-of days, each day's list is the top K
//! accounts by the backtest model's churn probability (K = the weekly
//! outreach capacity, as for precision at K). An account counts when it
//! churned within the label horizon of a day it was listed; its reason is
//! read on the latest such day: the cause of the strongest risk-raising
//! actionable driver (exact TreeSHAP contributions, context excluded) — the
//! cause the suggested play addresses. It matches when that cause is one of
//! the known reason's causes in [`REASON_CAUSES`]. Exogenous reasons are
//! reported apart: no signal can explain them.
//!
//! Beside it, a probe: a multinomial logistic regression trained on the
//! known reasons of the churners whose labels resolved before the cutoff
//! (their latest labelled row, every feature), asked about the same listed
//! churners. It is not served; it says how far the features themselves can
//! tell the reasons apart, so a low figure for the drivers can be read as
//! the model's or the data's.

use std::collections::{BTreeMap, HashMap};

use pulse_core::time::Day;
use pulse_features::{Cause, features};
use pulse_models::{CalibratedModel, ReasonAccuracy, ReasonProbe, ReasonRow};

use crate::{TrainConfig, TrainError, TrainingData};

/// Each known churn reason and the causes that explain it.
pub const REASON_CAUSES: &[(&str, &[Cause])] = &[
    ("low_adoption", &[Cause::Adoption]),
    (
        "support_experience",
        &[Cause::Support, Cause::Sentiment, Cause::Surveys],
    ),
    ("price", &[Cause::Commercial]),
    ("budget_cuts", &[Cause::Commercial]),
    ("weak_relationship", &[Cause::Relationships]),
    ("champion_left", &[Cause::Relationships]),
    ("competitor", &[Cause::Sentiment, Cause::Surveys]),
];

/// Reasons outside the customer relationship: no signal can explain them.
pub const EXOGENOUS_REASONS: &[&str] = &["out_of_business", "acquired"];

/// A churned account's known reason and churn day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownChurn {
    pub reason: String,
    pub day: Day,
}

/// Known churn reasons by account id.
pub type ReasonTruth = HashMap<String, KnownChurn>;

/// The cause of the strongest risk-raising actionable driver of a row, or
/// `None` when no actionable driver raises the risk.
pub fn top_cause(row: &[f64], contributions: &[f64]) -> Option<Cause> {
    top_driver(row, contributions).map(|(_, c)| c)
}

/// The strongest risk-raising actionable driver of a row (its feature index)
/// and its cause, or `None` when no actionable driver raises the risk.
pub(crate) fn top_driver(row: &[f64], contributions: &[f64]) -> Option<(usize, Cause)> {
    let defs = features();
    (0..contributions.len())
        .filter(|&j| contributions[j] > 0.0)
        .map(|j| (j, defs[j].cause(row[j])))
        .filter(|(_, c)| c.is_reason())
        .max_by(|a, b| contributions[a.0].total_cmp(&contributions[b.0]))
}

/// Reason accuracy of `model` (the backtest model, trained before the
/// cutoff) on the held-out days of `data`; `ids[i]` is the account id of
/// history `i`.
pub fn reason_accuracy(
    data: &TrainingData,
    ids: &[String],
    model: &CalibratedModel,
    cfg: &TrainConfig,
    truth: &ReasonTruth,
) -> Result<ReasonAccuracy, TrainError> {
    let s = &data.snapshots;
    let (_, cutoff) = data.backtest_split(cfg);
    // Held-out rows by day.
    let mut by_day: BTreeMap<Day, Vec<usize>> = BTreeMap::new();
    for (i, &d) in s.as_of.iter().enumerate() {
        if d >= cutoff {
            by_day.entry(d).or_default().push(i);
        }
    }
    // The latest listed row of each account that churned within the horizon.
    let mut latest: HashMap<usize, usize> = HashMap::new();
    for rows in by_day.values() {
        let x = s.x.select(ndarray::Axis(0), rows);
        let p = model.predict_proba(x.view())?;
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        for &k in order.iter().take(cfg.capacity) {
            let i = rows[k];
            if s.churn[i] {
                latest.insert(s.account[i], i);
            }
        }
    }
    let mut rows: Vec<(usize, usize)> = latest.into_iter().collect();
    rows.sort_unstable();

    let causes_of = |reason: &str| {
        REASON_CAUSES
            .iter()
            .find(|(r, _)| *r == reason)
            .map(|(_, c)| *c)
    };
    let probe = ReasonClassifier::train(data, ids, cutoff, cfg, truth);
    let mut probe_matched = 0usize;
    let mut by_reason: BTreeMap<String, Tally> = BTreeMap::new();
    let mut exogenous: BTreeMap<String, Tally> = BTreeMap::new();
    for (account, i) in rows {
        let Some(known) = ids.get(account).and_then(|id| truth.get(id)) else {
            continue;
        };
        // The label says it churned within the horizon; the truth must agree.
        if known.day < s.as_of[i] {
            continue;
        }
        let row = s.x.row(i).to_vec();
        let score = model.score_row(&row)?;
        let driver = top_driver(&row, &score.contributions);
        let named = driver.map(|(_, c)| c);
        let name = named.map_or("none", Cause::as_str).to_string();
        let feature = driver.map_or("none", |(j, _)| features()[j].name);
        let (table, hit) = match causes_of(&known.reason) {
            Some(cs) => {
                if let Some(p) = &probe
                    && cs.contains(&p.cause(&row))
                {
                    probe_matched += 1;
                }
                (&mut by_reason, named.is_some_and(|c| cs.contains(&c)))
            }
            None => (&mut exogenous, false),
        };
        let e = table.entry(known.reason.clone()).or_default();
        e.churners += 1;
        e.matched += usize::from(hit);
        *e.named.entry(name).or_default() += 1;
        *e.drivers.entry(feature.to_string()).or_default() += 1;
    }
    let most_first = |t: BTreeMap<String, usize>| {
        let mut v: Vec<(String, usize)> = t.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    let to_rows = |t: BTreeMap<String, Tally>| {
        let mut out: Vec<ReasonRow> = t
            .into_iter()
            .map(|(reason, e)| ReasonRow {
                reason,
                churners: e.churners,
                matched: e.matched,
                named: most_first(e.named),
                drivers: most_first(e.drivers),
            })
            .collect();
        out.sort_by(|a, b| b.churners.cmp(&a.churners).then(a.reason.cmp(&b.reason)));
        out
    };
    let by_reason = to_rows(by_reason);
    let exogenous = to_rows(exogenous);
    let churners: usize = by_reason.iter().map(|r| r.churners).sum();
    let matched: usize = by_reason.iter().map(|r| r.matched).sum();
    let share = |n: usize| {
        if churners == 0 {
            0.0
        } else {
            n as f64 / churners as f64
        }
    };
    let (baseline_reason, baseline_n) = by_reason
        .first()
        .map_or((String::new(), 0), |r| (r.reason.clone(), r.churners));
    Ok(ReasonAccuracy {
        method: format!(
            "held-out as-of days from {}: each day's top {} accounts by the backtest model's churn probability; an account counts when it churned within {} days of a day it was listed, read on the latest such day; Pulse's reason is the cause of the strongest risk-raising actionable driver (the play's cause); the baseline always names the most common known reason",
            pulse_core::time::format_day(cutoff),
            cfg.capacity,
            cfg.horizon_days
        ),
        mapping: REASON_CAUSES
            .iter()
            .map(|(r, cs)| {
                (
                    r.to_string(),
                    cs.iter().map(|c| c.as_str().to_string()).collect(),
                )
            })
            .collect(),
        churners,
        matched,
        accuracy: share(matched),
        baseline_reason,
        baseline_accuracy: share(baseline_n),
        by_reason,
        exogenous,
        probe: probe.map(|p| ReasonProbe {
            method: format!(
                "multinomial logistic regression (L2 {PROBE_L2}, standardised features, a missing value at the mean) of the known reason on every feature of each earlier churner's latest labelled row (labels resolved before {}); it names the first cause of the reason it finds likeliest",
                pulse_core::time::format_day(cutoff)
            ),
            trained_on: p.trained_on,
            matched: probe_matched,
            accuracy: share(probe_matched),
        }),
    })
}

/// One known reason's counts while the table is built.
#[derive(Default)]
struct Tally {
    churners: usize,
    matched: usize,
    /// Causes named, by cause.
    named: BTreeMap<String, usize>,
    /// The strongest risk-raising actionable driver, by feature.
    drivers: BTreeMap<String, usize>,
}

/// Fewest earlier churners with a known, explainable reason the probe
/// learns from.
const PROBE_MIN_CHURNERS: usize = 30;
/// The probe's L2 weight (on standardised features).
const PROBE_L2: f64 = 0.01;
/// Gradient steps of the probe's fit (the loss is convex and smooth).
const PROBE_STEPS: usize = 1_000;

/// The reason probe: a softmax regression over [`REASON_CAUSES`]' reasons.
struct ReasonClassifier {
    mean: Vec<f64>,
    sd: Vec<f64>,
    /// One row per reason: intercept, then a weight per feature.
    weights: Vec<Vec<f64>>,
    trained_on: usize,
}

impl ReasonClassifier {
    /// Trained on each account's latest labelled churn row whose label
    /// resolved before `cutoff` and whose known reason is explainable;
    /// `None` under [`PROBE_MIN_CHURNERS`] or with a single reason.
    fn train(
        data: &TrainingData,
        ids: &[String],
        cutoff: Day,
        cfg: &TrainConfig,
        truth: &ReasonTruth,
    ) -> Option<Self> {
        let s = &data.snapshots;
        let mut last: HashMap<usize, usize> = HashMap::new();
        for i in 0..s.as_of.len() {
            if s.churn[i] && s.as_of[i] + cfg.horizon_days as Day <= cutoff {
                let e = last.entry(s.account[i]).or_insert(i);
                if s.as_of[*e] < s.as_of[i] {
                    *e = i;
                }
            }
        }
        let mut last: Vec<(usize, usize)> = last.into_iter().collect();
        last.sort_unstable();
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for (account, i) in last {
            let Some(known) = ids.get(account).and_then(|id| truth.get(id)) else {
                continue;
            };
            if let Some(r) = REASON_CAUSES.iter().position(|(r, _)| *r == known.reason) {
                xs.push(s.x.row(i).to_vec());
                ys.push(r);
            }
        }
        let first = *ys.first()?;
        if xs.len() < PROBE_MIN_CHURNERS || ys.iter().all(|&y| y == first) {
            return None;
        }
        let (mean, sd, weights) = fit_softmax(&xs, &ys, REASON_CAUSES.len());
        Some(ReasonClassifier {
            mean,
            sd,
            weights,
            trained_on: xs.len(),
        })
    }

    /// The first cause of the likeliest reason for `row`.
    fn cause(&self, row: &[f64]) -> Cause {
        let z = standardise(row, &self.mean, &self.sd);
        let best = (0..self.weights.len())
            .max_by(|&a, &b| linear(&self.weights[a], &z).total_cmp(&linear(&self.weights[b], &z)))
            .unwrap_or(0);
        REASON_CAUSES[best].1[0]
    }
}

/// `w[0] + w[1..] · z`.
fn linear(w: &[f64], z: &[f64]) -> f64 {
    w[0] + w[1..].iter().zip(z).map(|(a, b)| a * b).sum::<f64>()
}

/// `(x - mean) / sd`, clipped to +-5; a missing value reads as the mean.
fn standardise(x: &[f64], mean: &[f64], sd: &[f64]) -> Vec<f64> {
    x.iter()
        .zip(mean.iter().zip(sd))
        .map(|(&v, (&m, &s))| {
            if v.is_finite() {
                ((v - m) / s).clamp(-5.0, 5.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// Softmax regression of `ys` (in `0..k`) on `xs` by gradient descent on
/// the mean cross-entropy plus [`PROBE_L2`]: the features' means and
/// standard deviations (over their finite values), and the weights.
fn fit_softmax(xs: &[Vec<f64>], ys: &[usize], k: usize) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
    let d = xs.first().map_or(0, Vec::len);
    let mut mean = vec![0.0; d];
    let mut sd = vec![1.0; d];
    for j in 0..d {
        let vals: Vec<f64> = xs.iter().map(|x| x[j]).filter(|v| v.is_finite()).collect();
        if vals.is_empty() {
            continue;
        }
        let n = vals.len() as f64;
        mean[j] = vals.iter().sum::<f64>() / n;
        sd[j] = (vals.iter().map(|v| (v - mean[j]).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-9);
    }
    let z: Vec<Vec<f64>> = xs.iter().map(|x| standardise(x, &mean, &sd)).collect();
    let n = z.len().max(1) as f64;
    let mut w = vec![vec![0.0; d + 1]; k];
    let mut g = vec![vec![0.0; d + 1]; k];
    let mut p = vec![0.0; k];
    for _ in 0..PROBE_STEPS {
        g.iter_mut()
            .for_each(|r| r.iter_mut().for_each(|v| *v = 0.0));
        for (x, &y) in z.iter().zip(ys) {
            for (c, pc) in p.iter_mut().enumerate() {
                *pc = linear(&w[c], x);
            }
            let top = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            p.iter_mut().for_each(|v| *v = (*v - top).exp());
            let total: f64 = p.iter().sum();
            for c in 0..k {
                let r = p[c] / total - f64::from(u8::from(c == y));
                g[c][0] += r;
                for (gj, xj) in g[c][1..].iter_mut().zip(x) {
                    *gj += r * xj;
                }
            }
        }
        for (wc, gc) in w.iter_mut().zip(&g) {
            wc[0] -= 0.5 * gc[0] / n;
            for (wj, gj) in wc[1..].iter_mut().zip(&gc[1..]) {
                *wj -= 0.5 * (gj / n + PROBE_L2 * *wj);
            }
        }
    }
    (mean, sd, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_features::Feature;

    #[test]
    fn the_top_cause_is_the_strongest_actionable_riser() {
        let n = features().len();
        let mut row = vec![1.0; n];
        let mut c = vec![0.0; n];
        c[Feature::DaysToRenewal.index()] = 2.0; // context: never a reason
        c[Feature::LoginsTrend.index()] = 0.5;
        c[Feature::CsatMean90d.index()] = 0.3;
        c[Feature::ChampionLeft.index()] = -1.0; // lowers the risk
        assert_eq!(top_cause(&row, &c), Some(Cause::Adoption));
        // A survey feature with no answer is a data gap.
        c[Feature::NpsLatest.index()] = 0.9;
        row[Feature::NpsLatest.index()] = f64::NAN;
        assert_eq!(top_cause(&row, &c), Some(Cause::DataGap));
        // Nothing actionable raises the risk.
        let c: Vec<f64> = (0..n)
            .map(|j| {
                if j == Feature::TenureDays.index() {
                    1.0
                } else {
                    -0.1
                }
            })
            .collect();
        assert_eq!(top_cause(&row, &c), None);
    }

    #[test]
    fn the_probe_learns_reasons_that_the_features_tell_apart() {
        // Reason 0 when feature 0 is high, reason 2 when feature 1 is high;
        // feature 2 is noise and sometimes missing.
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..60 {
            let a = f64::from(i % 2 == 0);
            let noise = if i % 7 == 0 {
                f64::NAN
            } else {
                f64::from(i % 5)
            };
            xs.push(vec![a + 0.1 * f64::from(i % 3), 1.0 - a, noise]);
            ys.push(if a > 0.5 { 0 } else { 2 });
        }
        let (mean, sd, weights) = fit_softmax(&xs, &ys, 3);
        let c = ReasonClassifier {
            mean,
            sd,
            weights,
            trained_on: xs.len(),
        };
        assert_eq!(c.cause(&[1.0, 0.0, 2.0]), REASON_CAUSES[0].1[0]);
        assert_eq!(c.cause(&[0.0, 1.0, f64::NAN]), REASON_CAUSES[2].1[0]);
        // Never seen, so never named: reason 1 is not the likeliest anywhere.
        assert_ne!(c.cause(&[0.5, 0.5, 1.0]), REASON_CAUSES[1].1[0]);
    }

    #[test]
    fn every_mapped_cause_is_a_reason() {
        for (r, cs) in REASON_CAUSES {
            assert!(!cs.is_empty(), "{r}");
            assert!(cs.iter().all(|c| c.is_reason()), "{r}");
            assert!(!EXOGENOUS_REASONS.contains(r));
        }
    }
}
