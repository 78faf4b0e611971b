//! Model operations on the gRPC side: the protobuf forms of decisions,
//! drift reports and realised performance, and the Prometheus gauges model
//! operations feed ([`pulse_app::ModelOpsObserver`] for [`Metrics`]). The
//! training job queue and the retraining schedule are
//! [`pulse_app::jobs`].

use pulse_app::{AppError, ModelOpsObserver};
use pulse_core::time::format_day;
use pulse_models::ModelKind;
use pulse_proto::v1 as pb;
use pulse_store::{ModelDecision, Store};
use pulse_training::{Comparison, DriftReport};

use crate::metrics::Metrics;

impl ModelOpsObserver for Metrics {
    fn decision(&self, kind: &str, outcome: &str, decided_at: i64) {
        self.record_decision(kind, outcome);
        self.set_last_training(kind, decided_at);
    }

    fn drift_checked(&self, report: &DriftReport, checked_at: i64) {
        drift_gauges(self, report, checked_at);
    }
}

/// The protobuf form of a decision.
pub(crate) fn decision_out(d: &ModelDecision) -> pb::ModelDecision {
    let cmp: Option<Comparison> = serde_json::from_str(&d.detail).ok().flatten();
    let (from, to, rows, positives) =
        cmp.as_ref()
            .map_or((String::new(), String::new(), 0, 0), |c| {
                (
                    format_day(c.window_from),
                    format_day(c.window_to),
                    c.rows as u64,
                    c.positives as u64,
                )
            });
    pb::ModelDecision {
        decision_id: d.decision_id,
        decided_at: pulse_core::time::format_ts(d.decided_at),
        kind: d.kind.clone(),
        trigger: d.trigger.clone(),
        challenger_version: d.challenger_version.clone(),
        champion_version: d.champion_version.clone().unwrap_or_default(),
        outcome: d.outcome.clone(),
        reason: d.reason.clone(),
        champion_pr_auc: d.champion_pr_auc,
        challenger_pr_auc: d.challenger_pr_auc,
        champion_ece: d.champion_ece,
        challenger_ece: d.challenger_ece,
        window_from: from,
        window_to: to,
        window_rows: rows,
        window_positives: positives,
    }
}

fn quantity_out(q: &pulse_training::QuantityDrift) -> pb::QuantityDrift {
    pb::QuantityDrift {
        name: q.name.clone(),
        psi: q.psi,
        level: q.level.as_str().to_string(),
        bins: q
            .bins
            .iter()
            .map(|b| pb::DriftBin {
                label: b.label.clone(),
                reference: b.reference,
                current: b.current,
            })
            .collect(),
    }
}

/// The protobuf form of a drift check: the `top` features by PSI (0: those
/// at warn or above, at least 5).
pub(crate) fn drift_out(
    r: &DriftReport,
    c: &pulse_store::DriftCheck,
    top: usize,
) -> pb::DriftReport {
    let n = if top > 0 {
        top
    } else {
        r.features
            .iter()
            .filter(|f| f.level != pulse_models::drift::DriftLevel::None)
            .count()
            .max(5)
    };
    pb::DriftReport {
        check_id: c.check_id,
        checked_at: pulse_core::time::format_ts(c.checked_at),
        as_of: format_day(r.as_of),
        kind: r.kind.as_str().to_string(),
        model_version: c.model_version.clone(),
        level: r.level.as_str().to_string(),
        max_psi: r.max_psi,
        warn: r.warn,
        critical: r.critical,
        reference_from: format_day(r.reference_from),
        reference_to: format_day(r.reference_to),
        current_rows: r.current_rows as u64,
        features: r.features.iter().take(n).map(quantity_out).collect(),
        n_features: r.features.len() as u32,
        prediction: Some(quantity_out(&r.prediction)),
        label_rate: r.label_rate.as_ref().map(quantity_out),
        summary: r.summary(),
    }
}

fn group_out(g: &pulse_training::CalibrationGroup) -> pb::CalibrationGroup {
    pb::CalibrationGroup {
        name: g.name.clone(),
        n: g.n as u64,
        churned: g.churned as u64,
        mean_predicted: g.mean_predicted,
        observed_rate: g.observed_rate,
        roc_auc: g.roc_auc,
    }
}

/// The protobuf form of a run's realised performance.
pub(crate) fn performance_out(
    p: &pulse_training::RunPerformance,
    today: pulse_core::time::Day,
) -> pb::RunPerformance {
    pb::RunPerformance {
        run_id: p.run_id,
        as_of: format_day(p.as_of),
        observed_through: format_day(p.observed_through),
        window_closed: p.window_closed,
        accounts: p.n as u64,
        churned: p.churned as u64,
        base_rate: p.base_rate,
        top_k: p.top_k as u64,
        top_k_churned: p.top_k_churned as u64,
        top_k_lift: p.top_k_lift,
        roc_auc: p.roc_auc,
        pr_auc: p.pr_auc,
        ece: p.ece,
        mean_predicted: p.mean_predicted,
        deciles: p.deciles.iter().map(group_out).collect(),
        segments: p.segments.iter().map(group_out).collect(),
        summary: p.sentence(today),
    }
}

/// Sets the gauges that outlive a restart from the store: the last training
/// time of each kind (its latest decision) and the latest drift check.
pub(crate) async fn restore_gauges(store: &Store, metrics: &Metrics) -> Result<(), AppError> {
    for kind in [ModelKind::Churn, ModelKind::Expansion] {
        if let Some(d) = store.decisions(Some(kind.as_str()), 1).await?.first() {
            metrics.set_last_training(kind.as_str(), d.decided_at);
        }
    }
    if let Some(c) = store.drift_checks(1).await?.first()
        && let Ok(report) = serde_json::from_str::<DriftReport>(&c.report)
    {
        drift_gauges(metrics, &report, c.checked_at);
    }
    Ok(())
}

/// The drift gauges of a check.
fn drift_gauges(metrics: &Metrics, report: &DriftReport, checked_at: i64) {
    let mut psi: Vec<(String, f64)> = report
        .features
        .iter()
        .map(|f| (format!("feature:{}", f.name), f.psi))
        .collect();
    psi.push(("prediction".into(), report.prediction.psi));
    if let Some(l) = &report.label_rate {
        psi.push(("label_rate".into(), l.psi));
    }
    metrics.set_drift(
        report.kind.as_str(),
        &psi,
        report.level.as_number(),
        checked_at,
    );
}
