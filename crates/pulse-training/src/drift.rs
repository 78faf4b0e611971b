//! Drift of a served model's world: its training data's profile (the
//! reference, made when the model is trained) against the current scoring
//! population, feature by feature, for the predicted probabilities and for
//! the label rate.
//!
//! The reference is the latest [`REFERENCE_WEEKS`] weeks of labelled
//! training snapshots (the most recent picture of the customers the model
//! learned from, not two years pooled): each feature's deciles and shares
//! (`pulse_models::drift::BinnedProfile`), the served model's predicted
//! probabilities on those rows, and their label rate. The current side is
//! the scoring population (every customer's features as of now), its
//! predictions, and the label rate of the latest weeks whose label window
//! has closed, computed by the caller with [`recent_label_rate`].

use ndarray::ArrayView2;
use pulse_core::time::{Day, Ts, format_day};
use pulse_features::{AccountHistory, churn_label, expansion_label};
use pulse_models::drift::{BinnedProfile, DriftLevel, rate_psi};
use pulse_models::{CalibratedModel, ModelKind};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::pipeline::{TrainingData, feature_names, feature_threads};

/// Weeks of the latest training snapshots the reference describes.
pub const REFERENCE_WEEKS: i32 = 13;
/// Deciles.
const BINS: usize = 10;

/// What a model was trained on, for drift checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReference {
    pub kind: ModelKind,
    /// As-of days of the reference rows.
    pub from: Day,
    pub to: Day,
    pub rows: usize,
    /// Per feature in schema order: its name and bins.
    pub features: Vec<(String, BinnedProfile)>,
    /// The served model's probabilities on the reference rows.
    pub prediction: BinnedProfile,
    pub label_rate: f64,
}

/// Every customer's features on each of the latest [`REFERENCE_WEEKS`]
/// weekly days up to the end of the training data, with each feature's
/// bins: what every kind's drift reference describes, whatever the model.
///
/// The features are the world as it was when the model was trained, up to
/// its last day, not only the labelled weeks (which end a horizon earlier):
/// otherwise a check made right after training compares two seasons (the
/// demo's summer weeks against its December) and reads seasonality as drift.
///
/// Built once from the histories, before the fits, so that training can
/// drop the histories while it fits (at 50,000 accounts these rows hold
/// 0.3 GB, and dropping the histories took 195 MB off training's peak).
#[derive(Debug, Clone)]
pub struct ReferenceRows {
    from: Day,
    to: Day,
    x: ndarray::Array2<f64>,
    features: Vec<(String, BinnedProfile)>,
}

impl ReferenceRows {
    pub fn build(data: &TrainingData, histories: &[AccountHistory]) -> Result<Self, TrainError> {
        let labelled_to = *data
            .days()
            .last()
            .ok_or_else(|| TrainError::no_data("no snapshot days"))?;
        let to = data.data_end.max(labelled_to);
        let from = to - 7 * (REFERENCE_WEEKS - 1);
        let nf = pulse_features::n_features();
        // Every (account, as-of) row in order, weekly day by weekly day; the
        // rows are then computed on every core into their own places.
        let mut rows: Vec<(&AccountHistory, Ts)> = Vec::new();
        let mut t = from;
        while t <= to {
            let at = pulse_features::end_of_day(t);
            rows.extend(
                histories
                    .iter()
                    .filter(|h| pulse_features::is_customer_at(h, at))
                    .map(|h| (h, at)),
            );
            t += 7;
        }
        let n = rows.len();
        if n == 0 {
            return Err(TrainError::no_data(
                "no customers in the drift reference weeks",
            ));
        }
        let mut flat = vec![f64::NAN; n * nf];
        compute_rows(&rows, nf, &mut flat);
        let x = ndarray::Array2::from_shape_vec((n, nf), flat)
            .map_err(|e| TrainError::no_data(format!("drift reference rows: {e}")))?;
        // Each column's bins (a sort of its rows), the columns split over
        // the cores.
        let mut bins: Vec<Option<BinnedProfile>> = (0..nf).map(|_| None).collect();
        let per = nf.div_ceil(feature_threads()).max(1);
        std::thread::scope(|s| {
            for (k, part) in bins.chunks_mut(per).enumerate() {
                let x = &x;
                s.spawn(move || {
                    for (i, slot) in part.iter_mut().enumerate() {
                        let col: Vec<f64> = x.column(k * per + i).to_vec();
                        *slot = BinnedProfile::fit(&col, BINS);
                    }
                });
            }
        });
        let features = feature_names()
            .into_iter()
            .zip(bins)
            .filter_map(|(name, b)| b.map(|b| (name, b)))
            .collect();
        Ok(Self {
            from,
            to,
            x,
            features,
        })
    }

    /// The rows: one per customer and weekly day, features in schema order.
    pub fn rows(&self) -> ArrayView2<'_, f64> {
        self.x.view()
    }
}

/// The features of `rows` into `out` (`nf` values per row, in the rows'
/// order), split over [`feature_threads`].
fn compute_rows(rows: &[(&AccountHistory, Ts)], nf: usize, out: &mut [f64]) {
    let per = rows.len().div_ceil(feature_threads()).max(1);
    std::thread::scope(|s| {
        for (part, dst) in rows.chunks(per).zip(out.chunks_mut(per * nf)) {
            s.spawn(move || {
                for (&(h, at), row) in part.iter().zip(dst.chunks_mut(nf)) {
                    pulse_features::compute(h, at, row);
                }
            });
        }
    });
}

/// The reference of `model` (the served one): the [`ReferenceRows`], the
/// model's probabilities on them, and the label rate of the latest
/// [`REFERENCE_WEEKS`] weeks of labelled snapshots.
pub fn drift_reference(
    data: &TrainingData,
    rows: &ReferenceRows,
    kind: ModelKind,
    model: &CalibratedModel,
) -> Result<DriftReference, TrainError> {
    let labelled_to = *data
        .days()
        .last()
        .ok_or_else(|| TrainError::no_data("no snapshot days"))?;
    let labelled_from = labelled_to - 7 * (REFERENCE_WEEKS - 1);
    let labels = match kind {
        ModelKind::Churn => &data.snapshots.churn,
        ModelKind::Expansion => &data.snapshots.expansion,
    };
    let labelled: Vec<usize> = (0..data.snapshots.as_of.len())
        .filter(|&i| data.snapshots.as_of[i] >= labelled_from)
        .collect();
    let label_rate =
        labelled.iter().filter(|&&i| labels[i]).count() as f64 / labelled.len().max(1) as f64;
    let p = model.predict_proba(rows.x.view())?;
    let prediction = BinnedProfile::fit(p.as_slice().unwrap_or(&[]), BINS)
        .ok_or_else(|| TrainError::no_data("no reference rows for the drift profile"))?;
    Ok(DriftReference {
        kind,
        from: rows.from,
        to: rows.to,
        rows: rows.x.nrows(),
        features: rows.features.clone(),
        prediction,
        label_rate,
    })
}

/// The label rate of the as-of weeks `[to - 7 (weeks - 1), to]` (every
/// customer on each of those days), where `to` is the latest day whose
/// label window has closed by `today`; `None` when no customer was found.
pub fn recent_label_rate(
    histories: &[AccountHistory],
    kind: ModelKind,
    today: Day,
    horizon_days: i32,
    weeks: i32,
) -> Option<(f64, usize, Day, Day)> {
    let to = today - horizon_days;
    let from = to - 7 * (weeks - 1);
    let (mut n, mut pos) = (0usize, 0usize);
    let mut t = from;
    while t <= to {
        for h in histories {
            let label = match kind {
                ModelKind::Churn => churn_label(h, t, horizon_days),
                ModelKind::Expansion => expansion_label(
                    h,
                    t,
                    horizon_days,
                    pulse_features::DEFAULT_EXPANSION_THRESHOLD_PCT,
                ),
            };
            if let Some(l) = label {
                n += 1;
                pos += usize::from(l);
            }
        }
        t += 7;
    }
    (n > 0).then(|| (pos as f64 / n as f64, n, from, to))
}

/// One bin of a before/after distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftBin {
    /// `<= 3.5`, `3.5 - 7`, `> 7`, `missing`.
    pub label: String,
    pub reference: f64,
    pub current: f64,
}

/// The drift of one quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantityDrift {
    /// A feature name, `predicted_probability` or `label_rate`.
    pub name: String,
    pub psi: f64,
    pub level: DriftLevel,
    pub bins: Vec<DriftBin>,
}

/// A drift check's findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub kind: ModelKind,
    /// The reference window's as-of days.
    pub reference_from: Day,
    pub reference_to: Day,
    /// The current population's as-of day and size.
    pub as_of: Day,
    pub current_rows: usize,
    /// Every feature, largest PSI first.
    pub features: Vec<QuantityDrift>,
    pub prediction: QuantityDrift,
    /// `None` when no recent label window could be measured.
    pub label_rate: Option<QuantityDrift>,
    /// The highest level of all of the above.
    pub level: DriftLevel,
    pub max_psi: f64,
    pub warn: f64,
    pub critical: f64,
}

fn fmt_edge(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn bins_of(p: &BinnedProfile, current: &[f64]) -> Vec<DriftBin> {
    let cur = p.shares_of(current);
    let n = p.edges.len();
    (0..n + 2)
        .filter(|&i| i < n + 1 || p.shares[i] > 0.0 || cur[i] > 0.0)
        .map(|i| DriftBin {
            label: if i == n + 1 {
                "missing".to_string()
            } else if n == 0 {
                "all".to_string()
            } else if i == 0 {
                format!("<= {}", fmt_edge(p.edges[0]))
            } else if i == n {
                format!("> {}", fmt_edge(p.edges[n - 1]))
            } else {
                format!("{} - {}", fmt_edge(p.edges[i - 1]), fmt_edge(p.edges[i]))
            },
            reference: p.shares[i],
            current: cur[i],
        })
        .collect()
}

fn quantity(
    name: &str,
    p: &BinnedProfile,
    current: &[f64],
    warn: f64,
    critical: f64,
) -> QuantityDrift {
    let psi = p.psi(current);
    QuantityDrift {
        name: name.to_string(),
        psi,
        level: DriftLevel::of(psi, warn, critical),
        bins: bins_of(p, current),
    }
}

/// Compares the current population (`rows`: features in schema order,
/// `predictions` of the served model) and the recent label rate with the
/// reference.
pub fn drift_report(
    reference: &DriftReference,
    as_of: Day,
    rows: ArrayView2<'_, f64>,
    predictions: &[f64],
    label_rate: Option<f64>,
    warn: f64,
    critical: f64,
) -> Result<DriftReport, TrainError> {
    let names = feature_names();
    if rows.ncols() != names.len() {
        return Err(TrainError::Config {
            key: "features",
            reason: format!(
                "the population has {} feature columns, the schema {}",
                rows.ncols(),
                names.len()
            ),
        });
    }
    let mut features: Vec<QuantityDrift> = reference
        .features
        .iter()
        .filter_map(|(name, p)| {
            let j = names.iter().position(|n| n == name)?;
            Some(quantity(name, p, &rows.column(j).to_vec(), warn, critical))
        })
        .collect();
    features.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    let prediction = quantity(
        "predicted_probability",
        &reference.prediction,
        predictions,
        warn,
        critical,
    );
    let label_rate = label_rate.map(|r| {
        let psi = rate_psi(reference.label_rate, r);
        QuantityDrift {
            name: "label_rate".into(),
            psi,
            level: DriftLevel::of(psi, warn, critical),
            bins: vec![
                DriftBin {
                    label: "positive".into(),
                    reference: reference.label_rate,
                    current: r,
                },
                DriftBin {
                    label: "negative".into(),
                    reference: 1.0 - reference.label_rate,
                    current: 1.0 - r,
                },
            ],
        }
    });
    let all = features
        .iter()
        .chain(std::iter::once(&prediction))
        .chain(label_rate.iter());
    let (mut level, mut max_psi) = (DriftLevel::None, 0.0f64);
    for q in all {
        level = level.max(q.level);
        max_psi = max_psi.max(q.psi);
    }
    Ok(DriftReport {
        kind: reference.kind,
        reference_from: reference.from,
        reference_to: reference.to,
        as_of,
        current_rows: rows.nrows(),
        features,
        prediction,
        label_rate,
        level,
        max_psi,
        warn,
        critical,
    })
}

impl DriftReport {
    /// One line for logs and decisions.
    pub fn summary(&self) -> String {
        let moved: Vec<String> = self
            .features
            .iter()
            .filter(|f| f.level != DriftLevel::None)
            .take(5)
            .map(|f| format!("{} {:.3}", f.name, f.psi))
            .collect();
        format!(
            "{} drift {} (max PSI {:.3}) of {} as of {} against training weeks {} to {}; predictions PSI {:.3}{}; features moved: {}",
            self.kind,
            self.level.as_str(),
            self.max_psi,
            self.current_rows,
            format_day(self.as_of),
            format_day(self.reference_from),
            format_day(self.reference_to),
            self.prediction.psi,
            self.label_rate
                .as_ref()
                .map(|l| format!(", label rate PSI {:.3}", l.psi))
                .unwrap_or_default(),
            if moved.is_empty() {
                "none".to_string()
            } else {
                moved.join(", ")
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn reference(n: usize) -> DriftReference {
        let names = feature_names();
        let features = names
            .iter()
            .map(|name| {
                let vals: Vec<f64> = (0..n).map(|i| i as f64).collect();
                (name.clone(), BinnedProfile::fit(&vals, BINS).unwrap())
            })
            .collect();
        let preds: Vec<f64> = (0..n).map(|i| i as f64 / n as f64 * 0.2).collect();
        DriftReference {
            kind: ModelKind::Churn,
            from: 100,
            to: 184,
            rows: n,
            features,
            prediction: BinnedProfile::fit(&preds, BINS).unwrap(),
            label_rate: 0.05,
        }
    }

    #[test]
    fn a_moved_feature_is_found_and_ranked_first() {
        let n = 1000;
        let r = reference(n);
        let nf = feature_names().len();
        let mut rows = Array2::<f64>::zeros((n, nf));
        for i in 0..n {
            for j in 0..nf {
                rows[[i, j]] = i as f64;
            }
            // The third feature moves up by half its range.
            rows[[i, 2]] = i as f64 + 500.0;
        }
        let preds: Vec<f64> = (0..n).map(|i| i as f64 / n as f64 * 0.2).collect();
        let rep = drift_report(&r, 200, rows.view(), &preds, Some(0.05), 0.1, 0.2).unwrap();
        assert_eq!(rep.features[0].name, feature_names()[2]);
        assert_eq!(rep.features[0].level, DriftLevel::Critical);
        assert!(rep.features[1].psi < 1e-9);
        assert_eq!(rep.prediction.level, DriftLevel::None);
        assert_eq!(rep.level, DriftLevel::Critical);
        let lr = rep.label_rate.as_ref().unwrap();
        assert!(lr.psi.abs() < 1e-12);
        // Before/after bins: the moved feature's lower half is empty now.
        let bins = &rep.features[0].bins;
        assert_eq!(bins.len(), 10);
        assert!(bins[0].label.starts_with("<= "), "{}", bins[0].label);
        assert!((bins[0].reference - 0.1).abs() < 1e-3 && bins[0].current == 0.0);
        assert!(
            rep.summary().contains("drift critical"),
            "{}",
            rep.summary()
        );

        // Nothing moved but the label rate doubled: warn.
        let same = Array2::from_shape_fn((n, nf), |(i, _)| i as f64);
        let rep = drift_report(&r, 200, same.view(), &preds, Some(0.10), 0.01, 0.2).unwrap();
        assert_eq!(rep.level, DriftLevel::Warn);
        assert_eq!(rep.label_rate.unwrap().level, DriftLevel::Warn);
        // A population of the wrong width is an error naming it.
        let narrow = Array2::<f64>::zeros((3, 2));
        assert!(drift_report(&r, 200, narrow.view(), &[0.0; 3], None, 0.1, 0.2).is_err());
    }
}
