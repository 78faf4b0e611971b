//! The traditional, transparent rule-based health scorecard: the baseline the models must beat.
//!
//! Five components, each a 0-100 sub-score (100 = healthy):
//! adoption, support, sentiment, relationships, commercial. Each input column is mapped to one
//! component with a direction and a normalisation:
//! - `Direction::HigherIsHealthier` (e.g. seat utilisation) or `HigherIsRiskier` (e.g. tickets);
//! - `Normalisation::Percentile` (default): the share of the reference population (the rows the
//!   scorecard is fitted on, labels unused) with a lower value, ties counted half, read off 101
//!   stored percentiles with linear interpolation; or `Normalisation::Range { low, high }`: a
//!   linear map of `[low, high]` onto `[0, 100]`, clamped.
//!
//! A riskier-direction input scores `100 - normalised`. A component is the weighted mean of its
//! available (non-missing) inputs; health is the weighted mean of the available components with
//! the component weights renormalised over them; with nothing available, health is 50 (no
//! information). `churn_risk = 100 - health` is the ranking score.
//!
//! Default component weights (adoption 0.30, support 0.25, sentiment 0.20, relationships 0.15,
//! commercial 0.10) follow the field notes: usage and support experience lead, NPS-like sentiment
//! is one input among several, commercial facts (plan, MRR) say little about intent on their own.
//! The mapping from feature name to component is data, so this module does not depend on how the
//! features crate names or computes its columns.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

use crate::dataset::check_feature_names;
use crate::error::{DatasetError, ModelError, ParamError};

/// A component of account health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    Adoption,
    Support,
    Sentiment,
    Relationships,
    Commercial,
}

impl Component {
    /// All components in display order.
    pub const ALL: [Component; 5] = [
        Component::Adoption,
        Component::Support,
        Component::Sentiment,
        Component::Relationships,
        Component::Commercial,
    ];
}

/// Which way an input points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsHealthier,
    HigherIsRiskier,
}

/// How a raw value becomes 0-100.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Normalisation {
    /// Percentile rank in the reference population.
    #[default]
    Percentile,
    /// Linear map of `[low, high]` to `[0, 100]`, clamped.
    Range { low: f64, high: f64 },
}

fn one() -> f64 {
    1.0
}

/// One input column of the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScorecardInput {
    /// Feature (column) name.
    pub feature: String,
    pub component: Component,
    pub direction: Direction,
    /// Weight within its component (default 1).
    #[serde(default = "one")]
    pub weight: f64,
    #[serde(default)]
    pub normalisation: Normalisation,
}

impl ScorecardInput {
    /// An input with weight 1 and percentile normalisation.
    pub fn new(feature: impl Into<String>, component: Component, direction: Direction) -> Self {
        Self {
            feature: feature.into(),
            component,
            direction,
            weight: 1.0,
            normalisation: Normalisation::Percentile,
        }
    }
}

/// Weights of the five components (need not sum to 1; they are normalised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComponentWeights {
    pub adoption: f64,
    pub support: f64,
    pub sentiment: f64,
    pub relationships: f64,
    pub commercial: f64,
}

impl Default for ComponentWeights {
    fn default() -> Self {
        Self {
            adoption: 0.30,
            support: 0.25,
            sentiment: 0.20,
            relationships: 0.15,
            commercial: 0.10,
        }
    }
}

impl ComponentWeights {
    pub fn get(&self, c: Component) -> f64 {
        match c {
            Component::Adoption => self.adoption,
            Component::Support => self.support,
            Component::Sentiment => self.sentiment,
            Component::Relationships => self.relationships,
            Component::Commercial => self.commercial,
        }
    }
}

/// Configuration of the scorecard (serde, with defaults for the weights).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScorecardConfig {
    #[serde(default)]
    pub weights: ComponentWeights,
    pub inputs: Vec<ScorecardInput>,
}

impl ScorecardConfig {
    /// Checks weights, ranges and that every feature is used once.
    pub fn validate(&self) -> Result<(), ParamError> {
        let mut total = 0.0;
        for c in Component::ALL {
            let w = self.weights.get(c);
            if !(w.is_finite() && w >= 0.0) {
                return Err(ParamError::new("weights", "finite and >= 0", w));
            }
            total += w;
        }
        if total <= 0.0 {
            return Err(ParamError::new(
                "weights",
                "at least one positive weight",
                total,
            ));
        }
        if self.inputs.is_empty() {
            return Err(ParamError::new("inputs", "at least one input", 0));
        }
        let mut seen = HashSet::new();
        for i in &self.inputs {
            if !seen.insert(i.feature.as_str()) {
                return Err(ParamError::new(
                    "inputs",
                    "each feature at most once",
                    &i.feature,
                ));
            }
            if !(i.weight.is_finite() && i.weight > 0.0) {
                return Err(ParamError::new("inputs.weight", "finite and > 0", i.weight));
            }
            if let Normalisation::Range { low, high } = i.normalisation
                && !(low.is_finite() && high.is_finite() && low != high)
            {
                return Err(ParamError::new(
                    "inputs.normalisation",
                    "finite low != high",
                    format!("{low}..{high}"),
                ));
            }
        }
        Ok(())
    }

    /// Resolves the inputs against a schema and learns percentile grids from `reference`
    /// (rows = accounts, columns = `feature_names`; NaN = missing).
    pub fn fit(
        &self,
        reference: ArrayView2<'_, f64>,
        feature_names: &[String],
    ) -> Result<FittedScorecard, ModelError> {
        check_feature_names(reference.ncols(), feature_names)?;
        self.fit_columns(feature_names, |j| reference.column(j).to_vec())
    }

    /// [`Self::fit`] with the rows `rows` of `reference` as the reference:
    /// the same grids as fitting their copy, read a column at a time.
    pub fn fit_rows(
        &self,
        reference: ArrayView2<'_, f64>,
        rows: &[usize],
        feature_names: &[String],
    ) -> Result<FittedScorecard, ModelError> {
        check_feature_names(reference.ncols(), feature_names)?;
        if let Some(&index) = rows.iter().find(|&&i| i >= reference.nrows()) {
            return Err(DatasetError::RowOutOfRange {
                index,
                rows: reference.nrows(),
            }
            .into());
        }
        self.fit_columns(feature_names, |j| {
            rows.iter().map(|&i| reference[[i, j]]).collect()
        })
    }

    /// Fits on a reference given a column at a time (`column(j)`: the
    /// values of `feature_names[j]`).
    fn fit_columns(
        &self,
        feature_names: &[String],
        column_values: impl Fn(usize) -> Vec<f64>,
    ) -> Result<FittedScorecard, ModelError> {
        self.validate()?;
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for spec in &self.inputs {
            let column = feature_names
                .iter()
                .position(|n| n == &spec.feature)
                .ok_or_else(|| DatasetError::UnknownFeature {
                    name: spec.feature.clone(),
                })?;
            let grid = match spec.normalisation {
                Normalisation::Percentile => {
                    let mut v = column_values(column);
                    v.retain(|x| !x.is_nan());
                    v.sort_by(f64::total_cmp);
                    percentile_grid(&v)
                }
                Normalisation::Range { .. } => Vec::new(),
            };
            inputs.push(FittedInput {
                spec: spec.clone(),
                column,
                grid,
            });
        }
        Ok(FittedScorecard {
            weights: self.weights.clone(),
            feature_names: feature_names.to_vec(),
            inputs,
        })
    }
}

/// 101 percentiles (linear interpolation between order statistics, like numpy's default).
fn percentile_grid(sorted: &[f64]) -> Vec<f64> {
    if sorted.is_empty() {
        return Vec::new();
    }
    let n = sorted.len();
    (0..=100)
        .map(|q| {
            let pos = q as f64 / 100.0 * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
        })
        .collect()
}

/// Percentile rank (0-100) of `v` on a 101-point grid; ties get the middle of their run.
fn percentile_rank(grid: &[f64], v: f64) -> f64 {
    let last = grid.len() - 1;
    if v < grid[0] {
        return 0.0;
    }
    if v > grid[last] {
        return 100.0;
    }
    let lo = grid.partition_point(|&g| g < v); // first >= v
    let hi = grid.partition_point(|&g| g <= v); // first > v
    if hi > lo {
        // v equals grid[lo..hi]
        return (lo + hi - 1) as f64 / 2.0 * 100.0 / last as f64;
    }
    // grid[lo - 1] < v < grid[lo]
    let (a, b) = (grid[lo - 1], grid[lo]);
    ((lo - 1) as f64 + (v - a) / (b - a)) * 100.0 / last as f64
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FittedInput {
    spec: ScorecardInput,
    column: usize,
    /// Percentile grid (empty for range normalisation or a column with no reference values).
    grid: Vec<f64>,
}

impl FittedInput {
    fn sub_score(&self, v: f64) -> Option<f64> {
        if v.is_nan() {
            return None;
        }
        let normalised = match self.spec.normalisation {
            Normalisation::Percentile => {
                if self.grid.is_empty() {
                    return None;
                }
                percentile_rank(&self.grid, v)
            }
            Normalisation::Range { low, high } => {
                ((v - low) / (high - low) * 100.0).clamp(0.0, 100.0)
            }
        };
        Some(match self.spec.direction {
            Direction::HigherIsHealthier => normalised,
            Direction::HigherIsRiskier => 100.0 - normalised,
        })
    }
}

/// One component's part of a health score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentScore {
    pub component: Component,
    /// 0-100, or `None` when none of its inputs is available.
    pub score: Option<f64>,
    /// Weight after renormalising over available components (0 when unavailable).
    pub effective_weight: f64,
}

/// Scorecard output for one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthScore {
    /// 0-100, higher is healthier.
    pub health: f64,
    /// `100 - health`: the ranking score for churn risk.
    pub churn_risk: f64,
    pub components: Vec<ComponentScore>,
}

/// A scorecard resolved against a feature schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedScorecard {
    weights: ComponentWeights,
    feature_names: Vec<String>,
    inputs: Vec<FittedInput>,
}

impl FittedScorecard {
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Health of one row in the fitted schema.
    pub fn score_row(&self, row: &[f64]) -> Result<HealthScore, ModelError> {
        if row.len() != self.feature_names.len() {
            return Err(ModelError::FeatureCount {
                expected: self.feature_names.len(),
                got: row.len(),
            });
        }
        let mut comp = Vec::with_capacity(Component::ALL.len());
        for c in Component::ALL {
            let (mut s, mut w) = (0.0, 0.0);
            for i in self.inputs.iter().filter(|i| i.spec.component == c) {
                if let Some(v) = i.sub_score(row[i.column]) {
                    s += i.spec.weight * v;
                    w += i.spec.weight;
                }
            }
            comp.push((c, if w > 0.0 { Some(s / w) } else { None }));
        }
        let total_w: f64 = comp
            .iter()
            .filter(|(_, s)| s.is_some())
            .map(|(c, _)| self.weights.get(*c))
            .sum();
        let health = if total_w > 0.0 {
            comp.iter()
                .filter_map(|(c, s)| s.map(|s| self.weights.get(*c) * s))
                .sum::<f64>()
                / total_w
        } else {
            50.0
        };
        let components = comp
            .into_iter()
            .map(|(component, score)| ComponentScore {
                component,
                score,
                effective_weight: match score {
                    Some(_) if total_w > 0.0 => self.weights.get(component) / total_w,
                    _ => 0.0,
                },
            })
            .collect();
        Ok(HealthScore {
            health,
            churn_risk: 100.0 - health,
            components,
        })
    }

    /// Churn-risk scores (0-100) of many rows.
    pub fn churn_risk(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>, ModelError> {
        x.rows()
            .into_iter()
            .map(|r| Ok(self.score_row(&r.to_vec())?.churn_risk))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn config() -> ScorecardConfig {
        ScorecardConfig {
            weights: ComponentWeights::default(),
            inputs: vec![
                ScorecardInput::new("logins", Component::Adoption, Direction::HigherIsHealthier),
                ScorecardInput::new("tickets", Component::Support, Direction::HigherIsRiskier),
                ScorecardInput {
                    feature: "nps".into(),
                    component: Component::Sentiment,
                    direction: Direction::HigherIsHealthier,
                    weight: 1.0,
                    normalisation: Normalisation::Range {
                        low: -100.0,
                        high: 100.0,
                    },
                },
            ],
        }
    }

    fn names() -> Vec<String> {
        ["logins", "tickets", "nps", "other"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn percentile_rank_by_hand() {
        let sorted: Vec<f64> = (0..=100).map(|v| v as f64).collect();
        let g = percentile_grid(&sorted);
        assert_eq!(percentile_rank(&g, 25.0), 25.0);
        assert_eq!(percentile_rank(&g, 25.5), 25.5);
        assert_eq!(percentile_rank(&g, -1.0), 0.0);
        assert_eq!(percentile_rank(&g, 1000.0), 100.0);
        // Half the population at 0: a 0 sits mid-run (25th percentile), not at the bottom.
        let mut v = vec![0.0; 50];
        v.extend((1..=50).map(|x| x as f64));
        let g = percentile_grid(&v);
        let r0 = percentile_rank(&g, 0.0);
        assert!((r0 - 24.5).abs() < 1e-9, "{r0}");
    }

    #[test]
    fn scores_by_hand_with_missing_components() {
        let reference = array![
            [0.0, 0.0, 0.0, 1.0],
            [10.0, 1.0, 0.0, 1.0],
            [20.0, 2.0, 0.0, 1.0],
            [30.0, 3.0, 0.0, 1.0],
            [40.0, 4.0, 0.0, 1.0]
        ];
        let sc = config().fit(reference.view(), &names()).unwrap();
        // Fitted on some of the rows: the grids of fitting their copy.
        let rows = [4, 0, 2];
        let copy = reference.select(ndarray::Axis(0), &rows);
        assert_eq!(
            config()
                .fit_rows(reference.view(), &rows, &names())
                .unwrap(),
            config().fit(copy.view(), &names()).unwrap()
        );
        assert!(config().fit_rows(reference.view(), &[5], &names()).is_err());
        // logins 30 -> 75th percentile; tickets 1 -> 25th -> 75 healthy; nps 50 -> 75.
        let h = sc.score_row(&[30.0, 1.0, 50.0, 0.0]).unwrap();
        assert!((h.health - 75.0).abs() < 1e-9, "{h:?}");
        assert!((h.churn_risk - 25.0).abs() < 1e-9);
        // Only adoption (weight .30) and sentiment (.20) present: renormalised over 0.5.
        let h = sc.score_row(&[40.0, f64::NAN, -100.0, 0.0]).unwrap();
        assert!((h.health - (0.3 * 100.0 + 0.2 * 0.0) / 0.5).abs() < 1e-9);
        let adoption = &h.components[0];
        assert_eq!(adoption.score, Some(100.0));
        assert!((adoption.effective_weight - 0.6).abs() < 1e-12);
        assert_eq!(h.components[1].score, None);
        // Nothing known -> 50.
        let h = sc.score_row(&[f64::NAN, f64::NAN, f64::NAN, 0.0]).unwrap();
        assert_eq!(h.health, 50.0);
        assert!(sc.score_row(&[1.0]).is_err());
        let back: FittedScorecard =
            serde_json::from_str(&serde_json::to_string(&sc).unwrap()).unwrap();
        assert_eq!(back, sc);
    }

    #[test]
    fn config_validation_and_serde_defaults() {
        let mut c = config();
        c.weights.support = -1.0;
        assert_eq!(c.validate().unwrap_err().param, "weights");
        let mut c = config();
        c.inputs.push(c.inputs[0].clone());
        assert_eq!(c.validate().unwrap_err().param, "inputs");
        let mut c = config();
        c.inputs[2].normalisation = Normalisation::Range {
            low: 1.0,
            high: 1.0,
        };
        assert_eq!(c.validate().unwrap_err().param, "inputs.normalisation");
        let r = array![[1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0]];
        let mut c = config();
        c.inputs[0].feature = "nope".into();
        assert!(matches!(
            c.fit(r.view(), &names()),
            Err(ModelError::Dataset(DatasetError::UnknownFeature { .. }))
        ));
        let parsed: ScorecardConfig = serde_json::from_str(
            r#"{"inputs":[{"feature":"logins","component":"adoption","direction":"higher_is_healthier"}]}"#,
        )
        .unwrap();
        assert_eq!(parsed.weights, ComponentWeights::default());
        assert_eq!(parsed.inputs[0].weight, 1.0);
        assert_eq!(parsed.inputs[0].normalisation, Normalisation::Percentile);
    }
}
