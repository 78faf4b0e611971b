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

use std::collections::{BTreeMap, HashMap};

use pulse_core::time::Day;
use pulse_features::{Cause, features};
use pulse_models::{CalibratedModel, ReasonAccuracy, ReasonRow};

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
    let defs = features();
    (0..contributions.len())
        .filter(|&j| contributions[j] > 0.0)
        .map(|j| (j, defs[j].cause(row[j])))
        .filter(|(_, c)| c.is_reason())
        .max_by(|a, b| contributions[a.0].total_cmp(&contributions[b.0]))
        .map(|(_, c)| c)
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
    let mut by_reason: BTreeMap<String, (usize, usize, BTreeMap<String, usize>)> = BTreeMap::new();
    let mut exogenous: BTreeMap<String, (usize, usize, BTreeMap<String, usize>)> = BTreeMap::new();
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
        let named = top_cause(&row, &score.contributions);
        let name = named.map_or("none", Cause::as_str).to_string();
        let (table, hit) = match causes_of(&known.reason) {
            Some(cs) => (&mut by_reason, named.is_some_and(|c| cs.contains(&c))),
            None => (&mut exogenous, false),
        };
        let e = table.entry(known.reason.clone()).or_default();
        e.0 += 1;
        e.1 += usize::from(hit);
        *e.2.entry(name).or_default() += 1;
    }
    let to_rows = |t: BTreeMap<String, (usize, usize, BTreeMap<String, usize>)>| {
        let mut out: Vec<ReasonRow> = t
            .into_iter()
            .map(|(reason, (n, m, named))| {
                let mut named: Vec<(String, usize)> = named.into_iter().collect();
                named.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                ReasonRow {
                    reason,
                    churners: n,
                    matched: m,
                    named,
                }
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
    })
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
    fn every_mapped_cause_is_a_reason() {
        for (r, cs) in REASON_CAUSES {
            assert!(!cs.is_empty(), "{r}");
            assert!(cs.iter().all(|c| c.is_reason()), "{r}");
            assert!(!EXOGENOUS_REASONS.contains(r));
        }
    }
}
