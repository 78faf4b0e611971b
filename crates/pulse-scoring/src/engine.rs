//! The promoted models as one scoring engine: probability, health, band,
//! quadrant, expansion, drivers with sentences and plays.

use pulse_core::time::Day;
use pulse_features::{Cause, Family, Feature, FeatureDef, Role};
use pulse_models::{CalibratedModel, Component, FittedScorecard, ModelArtifact, ModelKind};
use serde::{Deserialize, Serialize};

use crate::population::Reference;
use crate::{ScoringConfig, ScoringError, phrases};

/// Health band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Green,
    Yellow,
    Red,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Green => "green",
            Band::Yellow => "yellow",
            Band::Red => "red",
        }
    }
}

/// Outcome x Experience quadrant (Gainsight's framework).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quadrant {
    /// High outcome, high experience: renew and expand.
    HappyAndSuccessful,
    /// High outcome, low experience: gets value, dislikes the experience.
    Trapped,
    /// Low outcome, high experience: likes it, gets little value.
    Accessible,
    /// Low outcome, low experience.
    HighRisk,
    /// No scorecard in the promoted model.
    Unknown,
}

impl Quadrant {
    pub fn as_str(self) -> &'static str {
        match self {
            Quadrant::HappyAndSuccessful => "happy_and_successful",
            Quadrant::Trapped => "trapped",
            Quadrant::Accessible => "accessible",
            Quadrant::HighRisk => "high_risk",
            Quadrant::Unknown => "unknown",
        }
    }
}

/// How a driver's value compares with a reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `own_history` or `segment_median`.
    pub basis: String,
    pub reference: f64,
    /// value / reference; 0 when either is not positive.
    pub ratio: f64,
    pub text: String,
}

/// One feature's part in a churn score, ready to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainedDriver {
    pub feature: String,
    pub family: String,
    /// What it points to: its family when actionable, a data gap, or
    /// context (timing). Derived from the feature and its value.
    #[serde(default = "unknown_cause")]
    pub cause: Cause,
    /// The account's real value; `None` when unknown.
    pub value: Option<f64>,
    pub comparison: Option<Comparison>,
    /// Log-odds contribution to the churn margin (positive raises risk).
    pub contribution: f64,
    pub sentence: String,
    /// The play for this driver when it raises risk and the table has one.
    pub play: Option<String>,
}

/// `v` when it is a number (features are NaN when unknown).
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn unknown_cause() -> Cause {
    Cause::Context
}

/// When an account can leave, apart from why: the renewal, and how much
/// timing and context (days to renewal, tenure, segment, size) add to the
/// churn margin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Urgency {
    /// Days to the next renewal (the `days_to_renewal` feature); `None`
    /// when unknown.
    pub days_to_renewal: Option<f64>,
    /// The renewal is within `scoring.urgent_renewal_days`.
    pub urgent: bool,
    /// Summed log-odds contribution of the context features.
    pub context_contribution: f64,
    /// Probability of churning before the renewal from the time-to-churn
    /// curve; `None` without a survival model or a known renewal.
    #[serde(default)]
    pub churn_before_renewal: Option<f64>,
    /// "renews in 7 days", or empty when unknown.
    pub text: String,
}

/// Seat use as of a score: what the weekly lists show beside it, kept in
/// the stored explanation so that lists need no account histories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SeatUse {
    /// The `seats` feature; `None` when unknown.
    pub seats: Option<f64>,
    /// The `active_users_per_seat_30d` feature; `None` when unknown.
    pub active_users_per_seat: Option<f64>,
}

/// A family's summed contribution (log-odds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyContribution {
    pub family: String,
    pub contribution: f64,
}

/// Everything a score says about one account. Serialised as JSON, it is the
/// explanation stored with every scoring run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountScore {
    pub account_id: String,
    pub as_of: Day,
    pub churn_probability: f64,
    pub horizon_days: u32,
    /// 100 x (1 - churn probability).
    pub health: f64,
    pub band: Band,
    pub quadrant: Quadrant,
    /// 0-100 outcome (adoption, commercial) and experience (support,
    /// sentiment, relationships) from the scorecard; `None` without one.
    pub outcome: Option<f64>,
    pub experience: Option<f64>,
    pub expansion_probability: Option<f64>,
    pub arr: f64,
    pub arr_at_risk: f64,
    /// The reasons: the strongest actionable drivers (and data gaps),
    /// strongest first. Timing and context are in `urgency`.
    pub drivers: Vec<ExplainedDriver>,
    /// The play with its urgency prefix ("Before the renewal in 7 days: ...").
    pub suggested_play: String,
    /// The play alone, without the urgency prefix.
    #[serde(default)]
    pub base_play: String,
    /// The cause the play addresses; `None` for the band's default play.
    #[serde(default)]
    pub play_cause: Option<Cause>,
    /// When: the renewal and the context's part of the margin.
    #[serde(default)]
    pub urgency: Urgency,
    /// Seat use as of the score; `None` in explanations stored before it
    /// was kept (lists then compute it from the histories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_use: Option<SeatUse>,
    pub base_value: f64,
    pub margin: f64,
    /// Every family's summed contribution, in catalogue order.
    pub families: Vec<FamilyContribution>,
    pub churn_version: String,
    pub expansion_version: Option<String>,
}

impl AccountScore {
    /// The stored explanation (JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an account score always serialises")
    }

    /// A stored explanation. Causes are derived from each driver's feature
    /// and value, so explanations stored before causes existed read the same.
    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        let mut score: AccountScore = serde_json::from_str(s)?;
        for d in &mut score.drivers {
            if let Some(f) = Feature::from_name(&d.feature) {
                d.cause = f.def().cause(d.value.unwrap_or(f64::NAN));
            }
        }
        if score.base_play.is_empty() {
            score.base_play = score.suggested_play.clone();
        }
        Ok(score)
    }

    /// The reasons among the drivers (every driver but context ones).
    pub fn reasons(&self) -> impl Iterator<Item = &ExplainedDriver> {
        self.drivers.iter().filter(|d| d.cause.is_reason())
    }
}

/// What to score: a feature row with its context.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub account_id: &'a str,
    pub as_of: Day,
    /// Features in catalogue order.
    pub row: &'a [f64],
    /// Annual recurring revenue; 0 uses 12 x the `mrr` feature.
    pub arr: f64,
    /// Segment for comparisons (`smb`, `mid_market`, `enterprise`).
    pub segment: Option<&'a str>,
}

/// The promoted churn (and expansion) model with the scoring settings.
#[derive(Debug)]
pub struct Engine {
    churn: CalibratedModel,
    churn_version: String,
    scorecard: Option<FittedScorecard>,
    expansion: Option<(CalibratedModel, String)>,
    horizon_days: u32,
    config: ScoringConfig,
    defs: &'static [FeatureDef],
    mrr_col: usize,
    renewal_col: usize,
    seats_col: usize,
    seat_use_col: usize,
}

fn check_artifact(a: &ModelArtifact, kind: ModelKind) -> Result<(), ScoringError> {
    let bad = |reason: String| ScoringError::Model {
        version: a.card.version.clone(),
        reason,
    };
    if a.card.kind != kind {
        return Err(bad(format!("it is a {} model, not {kind}", a.card.kind)));
    }
    if a.payload.encoder.is_some() {
        return Err(bad(
            "it was trained from a table (pulse train --table) and scores tables, not accounts"
                .into(),
        ));
    }
    let names: Vec<&str> = pulse_features::features().iter().map(|f| f.name).collect();
    let model_names = a.payload.model.feature_names();
    if model_names.len() != names.len() || model_names.iter().zip(&names).any(|(a, b)| a != b) {
        return Err(bad(
            "its feature schema is not this build's; retrain with `pulse train`".into(),
        ));
    }
    Ok(())
}

/// The largest churn model (in tree nodes, see
/// [`pulse_models::Model::explain_size`]) whose one-row explanation
/// [`Engine::explains_inline`] calls cheap.
pub const INLINE_EXPLAIN_NODES: usize = 10_000;

impl Engine {
    /// An engine over a churn model and an optional expansion model.
    pub fn new(
        churn: ModelArtifact,
        expansion: Option<ModelArtifact>,
        horizon_days: u32,
        config: ScoringConfig,
    ) -> Result<Self, ScoringError> {
        config.validate()?;
        check_artifact(&churn, ModelKind::Churn)?;
        if let Some(e) = &expansion {
            check_artifact(e, ModelKind::Expansion)?;
        }
        let churn_version = churn.card.version.clone();
        Ok(Engine {
            churn: churn.payload.model,
            churn_version,
            scorecard: churn.payload.scorecard,
            expansion: expansion.map(|e| (e.payload.model, e.card.version)),
            horizon_days,
            config,
            defs: pulse_features::features(),
            mrr_col: Feature::Mrr.index(),
            renewal_col: Feature::DaysToRenewal.index(),
            seats_col: Feature::Seats.index(),
            seat_use_col: Feature::ActiveUsersPerSeat30d.index(),
        })
    }

    pub fn config(&self) -> &ScoringConfig {
        &self.config
    }
    pub fn churn_version(&self) -> &str {
        &self.churn_version
    }
    pub fn expansion_version(&self) -> Option<&str> {
        self.expansion.as_ref().map(|e| e.1.as_str())
    }
    pub fn horizon_days(&self) -> u32 {
        self.horizon_days
    }

    /// The band of a health score.
    pub fn band(&self, health: f64) -> Band {
        if health >= self.config.green_min {
            Band::Green
        } else if health >= self.config.yellow_min {
            Band::Yellow
        } else {
            Band::Red
        }
    }

    /// Scores a subject with its `top_k` strongest drivers.
    pub fn score(
        &self,
        s: &Subject<'_>,
        reference: Option<&Reference>,
        top_k: usize,
    ) -> Result<AccountScore, ScoringError> {
        Ok(self.score_with_contributions(s, reference, top_k)?.0)
    }

    /// Scores a subject and explains every feature, strongest first: the
    /// drivers of the returned score are the `top_k` first of the list.
    pub fn explain(
        &self,
        s: &Subject<'_>,
        reference: Option<&Reference>,
        top_k: usize,
    ) -> Result<(AccountScore, Vec<ExplainedDriver>), ScoringError> {
        let (score, contributions) = self.score_with_contributions(s, reference, top_k)?;
        let all = self.drivers(s, reference, &contributions, contributions.len(), false);
        Ok((score, all))
    }

    /// Whether one subject's drivers are cheap enough to compute where the
    /// request is served, without a hop to a worker pool: the churn model's
    /// explanation walks at most [`INLINE_EXPLAIN_NODES`] tree nodes (about
    /// 80 us on one core; the default 150-round GBT has about 7,000). A
    /// larger model's drivers go to the pool, where they cannot hold up the
    /// server's other requests.
    pub fn explains_inline(&self) -> bool {
        self.churn.model().explain_size() <= INLINE_EXPLAIN_NODES
    }

    /// Scores a subject without explaining it: no drivers and no family
    /// contributions, the band's default play. Skips the exact
    /// contributions, most of what a score costs; the probability, health,
    /// band, quadrant and expansion propensity equal [`Engine::score`]'s.
    pub fn score_without_drivers(&self, s: &Subject<'_>) -> Result<AccountScore, ScoringError> {
        self.check_row(s)?;
        let margin = self.churn.model().margin_row(s.row)?;
        let p = self.churn.calibrator().probability(margin);
        let base_value = self.churn.model().base_value();
        let mut score = self.assemble(s, p, margin, base_value)?;
        score.base_play = self.band_play(score.band).to_string();
        score.suggested_play = self.with_urgency(&score.urgency, &score.base_play);
        Ok(score)
    }

    fn check_row(&self, s: &Subject<'_>) -> Result<(), ScoringError> {
        if s.row.len() != self.defs.len() {
            return Err(ScoringError::Feature {
                feature: "features".into(),
                reason: format!("{} values, the schema has {}", s.row.len(), self.defs.len()),
            });
        }
        Ok(())
    }

    fn score_with_contributions(
        &self,
        s: &Subject<'_>,
        reference: Option<&Reference>,
        top_k: usize,
    ) -> Result<(AccountScore, Vec<f64>), ScoringError> {
        self.check_row(s)?;
        let sc = self.churn.score_row(s.row)?;
        let mut score = self.assemble(s, sc.probability, sc.margin, sc.base_value)?;
        score.drivers = self.drivers(s, reference, &sc.contributions, top_k, true);
        score.urgency.context_contribution = self
            .defs
            .iter()
            .zip(&sc.contributions)
            .filter(|(d, _)| d.role == Role::Context)
            .map(|(_, c)| c)
            .sum();
        let (play, cause) = self.play(s.row, &sc.contributions, score.band);
        score.suggested_play = self.with_urgency(&score.urgency, &play);
        score.base_play = play;
        score.play_cause = cause;
        score.families = Family::ALL
            .iter()
            .map(|fam| FamilyContribution {
                family: fam.as_str().to_string(),
                contribution: self
                    .defs
                    .iter()
                    .zip(&sc.contributions)
                    .filter(|(d, _)| d.family == *fam)
                    .map(|(_, c)| c)
                    .sum(),
            })
            .collect();
        Ok((score, sc.contributions))
    }

    /// Everything of a score but its explanation (drivers, play, families).
    fn assemble(
        &self,
        s: &Subject<'_>,
        p: f64,
        margin: f64,
        base_value: f64,
    ) -> Result<AccountScore, ScoringError> {
        let health = 100.0 * (1.0 - p);
        let band = self.band(health);
        let (outcome, experience, quadrant) = self.quadrant(s.row)?;
        let expansion_probability = match &self.expansion {
            Some((m, _)) => Some(m.probability_row(s.row)?),
            None => None,
        };
        let arr = if s.arr > 0.0 {
            s.arr
        } else {
            let mrr = s.row[self.mrr_col];
            if mrr.is_finite() { 12.0 * mrr } else { 0.0 }
        };
        Ok(AccountScore {
            account_id: s.account_id.to_string(),
            as_of: s.as_of,
            churn_probability: p,
            horizon_days: self.horizon_days,
            health,
            band,
            quadrant,
            outcome,
            experience,
            expansion_probability,
            arr,
            arr_at_risk: p * arr,
            drivers: Vec::new(),
            suggested_play: String::new(),
            base_play: String::new(),
            play_cause: None,
            urgency: self.urgency(s.row),
            seat_use: Some(SeatUse {
                seats: finite(s.row[self.seats_col]),
                active_users_per_seat: finite(s.row[self.seat_use_col]),
            }),
            base_value,
            margin,
            families: Vec::new(),
            churn_version: self.churn_version.clone(),
            expansion_version: self.expansion_version().map(str::to_string),
        })
    }

    fn quadrant(&self, row: &[f64]) -> Result<(Option<f64>, Option<f64>, Quadrant), ScoringError> {
        let Some(card) = &self.scorecard else {
            return Ok((None, None, Quadrant::Unknown));
        };
        let hs = card.score_row(row)?;
        let mean = |cs: &[Component]| {
            let v: Vec<f64> = hs
                .components
                .iter()
                .filter(|c| cs.contains(&c.component))
                .filter_map(|c| c.score)
                .collect();
            if v.is_empty() {
                50.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let outcome = mean(&[Component::Adoption, Component::Commercial]);
        let experience = mean(&[
            Component::Support,
            Component::Sentiment,
            Component::Relationships,
        ]);
        let cut = self.config.quadrant_cut;
        let q = match (outcome >= cut, experience >= cut) {
            (true, true) => Quadrant::HappyAndSuccessful,
            (true, false) => Quadrant::Trapped,
            (false, true) => Quadrant::Accessible,
            (false, false) => Quadrant::HighRisk,
        };
        Ok((Some(outcome), Some(experience), q))
    }

    fn order(contributions: &[f64]) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..contributions.len()).collect();
        idx.sort_by(|&a, &b| {
            contributions[b]
                .abs()
                .total_cmp(&contributions[a].abs())
                .then(a.cmp(&b))
        });
        idx
    }

    /// The `k` strongest drivers by |contribution|; with `reasons_only`,
    /// among the actionable and data-gap features only (the "why").
    fn drivers(
        &self,
        s: &Subject<'_>,
        reference: Option<&Reference>,
        contributions: &[f64],
        k: usize,
        reasons_only: bool,
    ) -> Vec<ExplainedDriver> {
        let eligible = |j: usize| !reasons_only || self.defs[j].role != Role::Context;
        if k >= contributions.len() {
            return Self::order(contributions)
                .into_iter()
                .filter(|&j| eligible(j))
                .map(|j| self.driver(s, reference, j, contributions[j]))
                .collect();
        }
        // Partial selection: only k drivers are formatted.
        let mut best: Vec<usize> = Vec::with_capacity(k + 1);
        for j in (0..contributions.len()).filter(|&j| eligible(j)) {
            let pos = best
                .iter()
                .position(|&b| contributions[j].abs() > contributions[b].abs())
                .unwrap_or(best.len());
            if pos < k {
                best.insert(pos, j);
                best.truncate(k);
            }
        }
        best.into_iter()
            .map(|j| self.driver(s, reference, j, contributions[j]))
            .collect()
    }

    /// The play of the strongest risk-raising reason that has one (a data
    /// gap's is `gap_play`), with the cause it addresses; else the band's.
    fn play(&self, row: &[f64], contributions: &[f64], band: Band) -> (String, Option<Cause>) {
        let mut risers: Vec<usize> = (0..contributions.len())
            .filter(|&j| contributions[j] > 0.0 && self.defs[j].role != Role::Context)
            .collect();
        risers.sort_by(|&a, &b| contributions[b].total_cmp(&contributions[a]));
        for j in risers {
            let cause = self.defs[j].cause(row[j]);
            if let Some(p) = self.driver_play(j, cause) {
                return (p.to_string(), Some(cause));
            }
        }
        (self.band_play(band).to_string(), None)
    }

    /// The play for feature `j` pointing to `cause`, if any.
    fn driver_play(&self, j: usize, cause: Cause) -> Option<&str> {
        match cause {
            Cause::Context => None,
            Cause::DataGap => Some(&self.config.gap_play),
            _ => self.config.play_for(self.defs[j].name),
        }
    }

    /// The renewal and whether it is urgent; the context contribution is
    /// filled in with the contributions.
    fn urgency(&self, row: &[f64]) -> Urgency {
        let days = row[self.renewal_col];
        let known = days.is_finite();
        Urgency {
            days_to_renewal: known.then_some(days),
            urgent: known && days <= f64::from(self.config.urgent_renewal_days),
            context_contribution: 0.0,
            churn_before_renewal: None,
            text: if known {
                phrases::say(Feature::DaysToRenewal, days)
            } else {
                String::new()
            },
        }
    }

    /// `play` with the urgency prefix when the renewal is urgent.
    fn with_urgency(&self, urgency: &Urgency, play: &str) -> String {
        match urgency.days_to_renewal {
            Some(d) if urgency.urgent => {
                let d = d.round() as i64;
                let when = match d {
                    0 => "today".to_string(),
                    1 => "in 1 day".to_string(),
                    d => format!("in {d} days"),
                };
                format!("Before the renewal {when}: {play}")
            }
            _ => play.to_string(),
        }
    }

    /// The band's default play.
    fn band_play(&self, band: Band) -> &str {
        match band {
            Band::Red => &self.config.red_play,
            Band::Yellow => &self.config.yellow_play,
            Band::Green => &self.config.green_play,
        }
    }

    fn driver(
        &self,
        s: &Subject<'_>,
        reference: Option<&Reference>,
        j: usize,
        contribution: f64,
    ) -> ExplainedDriver {
        let def = &self.defs[j];
        let v = s.row[j];
        let comparison = comparison(def, j, s, reference);
        let mut sentence = phrases::say(Feature::ALL[j], v);
        if let Some(c) = &comparison {
            sentence.push_str(", ");
            sentence.push_str(&c.text);
        }
        let cause = def.cause(v);
        let play = (contribution > 0.0)
            .then(|| self.driver_play(j, cause).map(str::to_string))
            .flatten();
        ExplainedDriver {
            feature: def.name.to_string(),
            family: def.family.as_str().to_string(),
            cause,
            value: v.is_finite().then_some(v),
            comparison,
            contribution,
            sentence,
            play,
        }
    }
}

fn col(name: &str) -> usize {
    pulse_features::feature_index(name).expect("known feature")
}

/// The account's own longer window as the reference, for the features that
/// have one.
fn own_history(def: &FeatureDef, row: &[f64]) -> Option<f64> {
    let r = match def.name {
        "interactions_7d" => row[col("interactions_90d")] * 7.0 / 90.0,
        "interactions_30d" => row[col("interactions_90d")] / 3.0,
        "logins_per_day_7d" => row[col("logins_per_day_30d")],
        "sentiment_mean_30d" => row[col("sentiment_mean_90d")],
        _ => return None,
    };
    r.is_finite().then_some(r)
}

fn comparison(
    def: &FeatureDef,
    j: usize,
    s: &Subject<'_>,
    reference: Option<&Reference>,
) -> Option<Comparison> {
    let v = s.row[j];
    if !v.is_finite() || matches!(def.unit, "0/1" | "ordinal") {
        return None;
    }
    let ratio_of = |r: f64| if v > 0.0 && r > 0.0 { v / r } else { 0.0 };
    if let Some(r) = own_history(def, s.row) {
        let signed = def.unit.starts_with("score");
        let text = if signed {
            format!(
                "against {} over its last 90 days",
                phrases::format_value(Feature::ALL[j], r)
            )
        } else if r <= 0.0 {
            "where it usually has none".to_string()
        } else {
            let ratio = v / r;
            if (ratio - 1.0).abs() < 0.15 {
                "about its usual rate".to_string()
            } else {
                format!("{ratio:.1}x its usual rate")
            }
        };
        return Some(Comparison {
            basis: "own_history".into(),
            reference: r,
            ratio: if signed { 0.0 } else { ratio_of(r) },
            text,
        });
    }
    let reference = reference?;
    let (median, who) = reference.median(s.segment, j)?;
    let ratio = ratio_of(median);
    let m = phrases::format_value(Feature::ALL[j], median);
    let text = if ratio >= 1.5 || (ratio > 0.0 && ratio <= 0.67) {
        format!("{ratio:.1}x the {who} median of {m}")
    } else {
        format!("the {who} median is {m}")
    };
    Some(Comparison {
        basis: "segment_median".into(),
        reference: median,
        ratio,
        text,
    })
}
