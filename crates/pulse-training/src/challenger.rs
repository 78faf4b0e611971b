//! Champion and challenger: a newly trained model (the challenger) against
//! the promoted one (the champion) on the same latest time-based window, and
//! the promotion decision.
//!
//! The window is the challenger's backtest test window (the latest
//! `test_fraction` of the as-of days), cut further to the as-of days on or
//! after the end of the champion's data window: a row whose label window
//! opened before the champion's data ended could have taught the champion
//! its outcome (the same purge the backtest applies to its own training
//! rows). The challenger is represented there by its backtest model (trained
//! on rows whose labels closed before the cutoff), so neither model has seen
//! a label of the window. When the window holds too few positives the
//! models are not compared and nothing is promoted: the champion is then
//! younger than the label horizon plus a few weeks, and its replacement
//! cannot be judged honestly yet.
//!
//! [`decide`] is the rule: promote when the challenger's PR-AUC is at least
//! the champion's plus `min_pr_auc_gain` and its expected calibration error
//! at most the champion's plus `max_ece_increase`; in manual mode nothing is
//! promoted automatically and the decision says what the rule would do.

use pulse_core::time::{Day, format_day};
use pulse_models::{CalibratedModel, Metrics, ModelArtifact, ModelKind, TopK};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::pipeline::{TrainingData, feature_names};

/// Whether a winning challenger is promoted by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionMode {
    /// Promote a challenger that passes the rule.
    Auto,
    /// Never promote automatically; record what the rule says.
    Manual,
}

impl PromotionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionMode::Auto => "auto",
            PromotionMode::Manual => "manual",
        }
    }
}

impl std::str::FromStr for PromotionMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(PromotionMode::Auto),
            "manual" => Ok(PromotionMode::Manual),
            other => Err(format!("'{other}' is not a promotion mode (auto, manual)")),
        }
    }
}

/// The promotion rule.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRule {
    pub mode: PromotionMode,
    /// The challenger's PR-AUC must reach the champion's plus this.
    pub min_pr_auc_gain: f64,
    /// The challenger's ECE may exceed the champion's by at most this.
    pub max_ece_increase: f64,
    /// Fewer positives in the comparison window: not compared.
    pub min_positives: usize,
}

impl Default for DecisionRule {
    fn default() -> Self {
        DecisionRule {
            mode: PromotionMode::Auto,
            min_pr_auc_gain: 0.02,
            max_ece_increase: 0.0,
            min_positives: 20,
        }
    }
}

impl DecisionRule {
    /// Checks the settings; errors name the key.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |key: &'static str, reason: String| Err(TrainError::Config { key, reason });
        if !self.min_pr_auc_gain.is_finite() || !(-1.0..=1.0).contains(&self.min_pr_auc_gain) {
            return bad(
                "min_pr_auc_gain",
                format!("{} is not in -1..=1", self.min_pr_auc_gain),
            );
        }
        if !self.max_ece_increase.is_finite() || !(0.0..=1.0).contains(&self.max_ece_increase) {
            return bad(
                "max_ece_increase",
                format!("{} is not in 0..=1", self.max_ece_increase),
            );
        }
        if self.min_positives == 0 {
            return bad("min_positives", "must be at least 1".into());
        }
        Ok(())
    }
}

/// Both models' metrics on the shared window (absent when not compared).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub kind: ModelKind,
    /// First as-of day of the window.
    pub window_from: Day,
    /// Last as-of day of the window.
    pub window_to: Day,
    pub rows: usize,
    pub positives: usize,
    pub champion: Option<Metrics>,
    pub challenger: Option<Metrics>,
    /// Why the models were not compared.
    pub not_compared: Option<String>,
}

/// Evaluates `champion` and the challenger's backtest model on the latest
/// window neither has seen a label of (see the module docs).
pub fn compare_on_latest_window(
    data: &TrainingData,
    kind: ModelKind,
    cfg: &TrainConfig,
    champion: &ModelArtifact,
    challenger_backtest: &CalibratedModel,
    min_positives: usize,
) -> Result<Comparison, TrainError> {
    let (_, cutoff) = data.backtest_split(cfg);
    let champion_end = champion
        .card
        .data_window
        .as_ref()
        .map(|w| w.end as Day)
        .unwrap_or(cutoff);
    let from = cutoff.max(champion_end);
    let days = data.days();
    let to = days.last().copied().unwrap_or(from);
    let labels = match kind {
        ModelKind::Churn => &data.snapshots.churn,
        ModelKind::Expansion => &data.snapshots.expansion,
    };
    let rows: Vec<usize> = (0..data.snapshots.as_of.len())
        .filter(|&i| data.snapshots.as_of[i] >= from)
        .collect();
    let positives = rows.iter().filter(|&&i| labels[i]).count();
    let mut out = Comparison {
        kind,
        window_from: from,
        window_to: to,
        rows: rows.len(),
        positives,
        champion: None,
        challenger: None,
        not_compared: None,
    };
    if champion.card.feature_schema != feature_names() {
        out.not_compared = Some(format!(
            "the champion {} was trained on another feature schema",
            champion.card.version
        ));
        return Ok(out);
    }
    if positives < min_positives || positives == rows.len() {
        out.not_compared = Some(format!(
            "the window from {} (the later of the backtest cutoff {} and the end of the champion's data {}) holds {} labelled rows with {positives} positives; at least {min_positives} positives are needed",
            format_day(from),
            format_day(cutoff),
            format_day(champion_end),
            rows.len()
        ));
        return Ok(out);
    }
    let x = data.snapshots.x.select(ndarray::Axis(0), &rows);
    let y: Vec<bool> = rows.iter().map(|&i| labels[i]).collect();
    let top_k = TopK::Count(cfg.capacity);
    let p_champion = champion.payload.model.predict_proba(x.view())?;
    let p_challenger = challenger_backtest.predict_proba(x.view())?;
    out.champion = Some(Metrics::compute(
        p_champion.as_slice().unwrap_or(&[]),
        &y,
        top_k,
    )?);
    out.challenger = Some(Metrics::compute(
        p_challenger.as_slice().unwrap_or(&[]),
        &y,
        top_k,
    )?);
    Ok(out)
}

/// What became of a challenger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Promoted: it beat the champion (or there was none, or a caller asked).
    Promoted,
    /// Not promoted; the champion stays.
    Kept,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Promoted => "promoted",
            Outcome::Kept => "kept",
        }
    }
}

/// A decision and the sentence that explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Whether the rule alone says the challenger wins (also in manual mode).
    pub passes_rule: bool,
    pub reason: String,
}

/// Applies `rule` to a comparison.
pub fn decide(rule: &DecisionRule, cmp: &Comparison) -> Decision {
    let (Some(ch), Some(c)) = (&cmp.champion, &cmp.challenger) else {
        return Decision {
            outcome: Outcome::Kept,
            passes_rule: false,
            reason: format!(
                "not compared: {}",
                cmp.not_compared.as_deref().unwrap_or("no metrics")
            ),
        };
    };
    let gain = c.pr_auc - ch.pr_auc;
    let ece_up = c.ece - ch.ece;
    let pr_ok = gain >= rule.min_pr_auc_gain - 1e-12;
    let ece_ok = ece_up <= rule.max_ece_increase + 1e-12;
    let numbers = format!(
        "PR-AUC {:.4} vs champion {:.4} ({gain:+.4}, needs {:+.4}); ECE {:.4} vs {:.4} ({ece_up:+.4}, allowed {:+.4}); {} rows, {} positives, as-of {} to {}",
        c.pr_auc,
        ch.pr_auc,
        rule.min_pr_auc_gain,
        c.ece,
        ch.ece,
        rule.max_ece_increase,
        cmp.rows,
        cmp.positives,
        format_day(cmp.window_from),
        format_day(cmp.window_to)
    );
    let passes = pr_ok && ece_ok;
    let verdict = match (pr_ok, ece_ok) {
        (true, true) => "the challenger wins",
        (false, true) => "PR-AUC gain too small",
        (true, false) => "calibration worse",
        (false, false) => "PR-AUC gain too small and calibration worse",
    };
    let (outcome, reason) = match (passes, rule.mode) {
        (true, PromotionMode::Auto) => (Outcome::Promoted, format!("{verdict}: {numbers}")),
        (true, PromotionMode::Manual) => (
            Outcome::Kept,
            format!("{verdict}, awaiting manual approval (promotion mode manual): {numbers}"),
        ),
        (false, _) => (Outcome::Kept, format!("{verdict}: {numbers}")),
    };
    Decision {
        outcome,
        passes_rule: passes,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pr_auc: f64, ece: f64) -> Metrics {
        Metrics {
            roc_auc: 0.8,
            pr_auc,
            brier: 0.05,
            ece,
            log_loss: 0.2,
            lift_top_decile: 3.0,
            precision_at_k: 0.3,
            recall_at_k: 0.3,
            k: 50,
            n_test: 1000,
            positive_rate: 0.05,
            distinct_probabilities: 1000,
        }
    }

    fn cmp(champion: (f64, f64), challenger: (f64, f64)) -> Comparison {
        Comparison {
            kind: ModelKind::Churn,
            window_from: 20_000,
            window_to: 20_070,
            rows: 1000,
            positives: 50,
            champion: Some(metrics(champion.0, champion.1)),
            challenger: Some(metrics(challenger.0, challenger.1)),
            not_compared: None,
        }
    }

    #[test]
    fn promotes_only_on_enough_gain_without_worse_calibration() {
        let rule = DecisionRule::default();
        let d = decide(&rule, &cmp((0.30, 0.02), (0.32, 0.02)));
        assert_eq!(d.outcome, Outcome::Promoted, "{}", d.reason);
        assert!(d.reason.starts_with("the challenger wins"));
        let d = decide(&rule, &cmp((0.30, 0.02), (0.319, 0.01)));
        assert_eq!(d.outcome, Outcome::Kept);
        assert!(
            d.reason.starts_with("PR-AUC gain too small"),
            "{}",
            d.reason
        );
        let d = decide(&rule, &cmp((0.30, 0.02), (0.40, 0.021)));
        assert_eq!(d.outcome, Outcome::Kept);
        assert!(d.reason.starts_with("calibration worse"), "{}", d.reason);
        let loose = DecisionRule {
            max_ece_increase: 0.005,
            ..rule.clone()
        };
        assert_eq!(
            decide(&loose, &cmp((0.30, 0.02), (0.40, 0.021))).outcome,
            Outcome::Promoted
        );
    }

    #[test]
    fn manual_mode_promotes_nothing_and_not_compared_keeps() {
        let rule = DecisionRule {
            mode: PromotionMode::Manual,
            ..DecisionRule::default()
        };
        let d = decide(&rule, &cmp((0.30, 0.02), (0.50, 0.01)));
        assert_eq!(d.outcome, Outcome::Kept);
        assert!(d.passes_rule);
        assert!(
            d.reason.contains("awaiting manual approval"),
            "{}",
            d.reason
        );
        let mut c = cmp((0.3, 0.02), (0.5, 0.01));
        c.champion = None;
        c.not_compared = Some("too few positives".into());
        let d = decide(&DecisionRule::default(), &c);
        assert_eq!(d.outcome, Outcome::Kept);
        assert_eq!(d.reason, "not compared: too few positives");
    }

    #[test]
    fn rule_settings_are_checked_by_name() {
        let bad = DecisionRule {
            max_ece_increase: -0.1,
            ..DecisionRule::default()
        };
        match bad.validate() {
            Err(TrainError::Config { key, .. }) => assert_eq!(key, "max_ece_increase"),
            other => panic!("{other:?}"),
        }
        assert!(DecisionRule::default().validate().is_ok());
        assert_eq!("manual".parse(), Ok(PromotionMode::Manual));
        assert!("sometimes".parse::<PromotionMode>().is_err());
    }
}
