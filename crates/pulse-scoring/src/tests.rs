//! Engine tests on small models fitted to generated feature rows.

use ndarray::Array2;
use pulse_models::{
    CalibratedModel, CalibrationMethod, CardInfo, Dataset, GbtParams, ModelArtifact, ModelKind,
    ModelPayload,
};

use crate::*;

fn col(name: &str) -> usize {
    pulse_features::feature_index(name).unwrap()
}

/// A deterministic pseudo-random stream in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Valid feature rows: every feature in its range, a few NaN where allowed.
fn rows(n: usize, seed: u64) -> Array2<f64> {
    let defs = pulse_features::features();
    let mut r = Lcg(seed);
    Array2::from_shape_fn((n, defs.len()), |(_, j)| {
        let d = &defs[j];
        let (lo, hi) = raw::valid_range(d);
        let u = r.next();
        if raw::may_be_unknown(d) && u < 0.05 {
            return f64::NAN;
        }
        let v = match (lo.is_finite(), hi.is_finite()) {
            (true, true) => lo + u * (hi - lo),
            (true, false) => lo + u * 50.0,
            _ => u * 1000.0,
        };
        if matches!(d.unit, "0/1" | "ordinal" | "count") {
            v.round()
        } else {
            v
        }
    })
}

fn labels(x: &Array2<f64>, seed: u64) -> Vec<bool> {
    let mut r = Lcg(seed);
    x.rows()
        .into_iter()
        .map(|row| {
            let logit = -1.0 + 0.08 * row[col("interactions_30d")]
                - 2.0 * row[col("active_users_per_seat_30d")]
                + 1.5 * row[col("missed_payroll_90d")];
            r.next() < 1.0 / (1.0 + (-logit).exp())
        })
        .collect()
}

fn artifact(kind: ModelKind, seed: u64) -> ModelArtifact {
    artifact_with(kind, seed, labels)
}

fn artifact_with(
    kind: ModelKind,
    seed: u64,
    labels: fn(&Array2<f64>, u64) -> Vec<bool>,
) -> ModelArtifact {
    artifact_of(
        kind,
        seed,
        labels,
        GbtParams::new().iterations(30).max_depth(3),
    )
}

fn artifact_of(
    kind: ModelKind,
    seed: u64,
    labels: fn(&Array2<f64>, u64) -> Vec<bool>,
    params: GbtParams,
) -> ModelArtifact {
    let names: Vec<String> = pulse_features::features()
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    let x = rows(1500, seed);
    let y = labels(&x, seed + 1);
    let ds = Dataset::new(x.clone(), y, names.clone()).unwrap();
    let model = params.check().unwrap().fit(&ds).unwrap();
    let cm = CalibratedModel::calibrate(model.into(), &ds, CalibrationMethod::Platt).unwrap();
    let scorecard = pulse_training::TrainConfig::default()
        .scorecard()
        .fit(x.view(), &names)
        .unwrap();
    let version = format!("{kind}-v1");
    ModelArtifact::new(
        CardInfo::new(version, kind, "2026-11-30T00:00:00Z"),
        ModelPayload {
            model: cm,
            encoder: None,
            scorecard: Some(scorecard),
        },
    )
    .unwrap()
}

fn engine() -> Engine {
    Engine::new(
        artifact(ModelKind::Churn, 7),
        Some(artifact(ModelKind::Expansion, 11)),
        90,
        ScoringConfig::default(),
    )
    .unwrap()
}

fn population(n: usize) -> Population {
    let x = rows(n, 99);
    let accounts = (0..n)
        .map(|i| AccountMeta {
            id: format!("acct-{i:03}"),
            name: format!("Account {i}"),
            segment: ["smb", "mid_market", "enterprise"][i % 3].into(),
            owner: "dana".into(),
            plan: "core".into(),
            arr: 12_000.0,
            renewal_date: None,
        })
        .collect();
    Population::from_parts(20_000, 20_000 * 86_400, accounts, x)
}

#[test]
fn contributions_add_up_to_the_margin_and_drivers_are_the_strongest() {
    let e = engine();
    let pop = population(40);
    for i in 0..pop.len() {
        let s = pop.subject(i);
        let (score, all) = e.explain(&s, Some(&pop.reference), 3).unwrap();
        assert_eq!(all.len(), pulse_features::n_features());
        let total: f64 = score.base_value + all.iter().map(|d| d.contribution).sum::<f64>();
        assert!(
            (total - score.margin).abs() < 1e-6,
            "row {i}: {total} vs {}",
            score.margin
        );
        let fam: f64 = score.families.iter().map(|f| f.contribution).sum();
        assert!((score.base_value + fam - score.margin).abs() < 1e-6);
        assert_eq!(score.drivers.len(), 3);
        for (d, a) in score
            .drivers
            .iter()
            .zip(all.iter().filter(|d| d.cause.is_reason()))
        {
            assert_eq!(
                d, a,
                "the top drivers are the first reasons of the full explanation"
            );
        }
        for w in all.windows(2) {
            assert!(w[0].contribution.abs() >= w[1].contribution.abs());
        }
        // A driver's value is the account's real value.
        for d in &all {
            let v = s.row[col(&d.feature)];
            match d.value {
                Some(x) => assert_eq!(x, v),
                None => assert!(v.is_nan()),
            }
        }
        assert!((score.health - 100.0 * (1.0 - score.churn_probability)).abs() < 1e-9);
        assert!((score.arr_at_risk - score.churn_probability * 12_000.0).abs() < 1e-6);
        assert!(score.expansion_probability.is_some());
        assert_ne!(score.quadrant, Quadrant::Unknown);
    }
}

#[test]
fn scores_without_drivers_equal_the_explained_ones_but_for_the_explanation() {
    let e = engine();
    let pop = population(30);
    for i in 0..pop.len() {
        let s = pop.subject(i);
        let full = e.score(&s, Some(&pop.reference), 3).unwrap();
        let quick = e.score_without_drivers(&s).unwrap();
        assert_eq!(quick.churn_probability, full.churn_probability, "row {i}");
        assert_eq!(quick.margin, full.margin);
        assert_eq!(quick.base_value, full.base_value);
        assert_eq!(quick.band, full.band);
        assert_eq!(quick.quadrant, full.quadrant);
        assert_eq!(quick.expansion_probability, full.expansion_probability);
        assert_eq!(quick.arr_at_risk, full.arr_at_risk);
        assert!(quick.drivers.is_empty() && quick.families.is_empty());
        let band_play = match quick.band {
            Band::Red => &e.config().red_play,
            Band::Yellow => &e.config().yellow_play,
            Band::Green => &e.config().green_play,
        };
        assert_eq!(&quick.base_play, band_play);
        assert!(quick.suggested_play.ends_with(band_play.as_str()));
        assert_eq!(quick.urgency.days_to_renewal, full.urgency.days_to_renewal);
    }
    let short = [0.0; 3];
    let s = Subject {
        row: &short,
        ..pop.subject(0)
    };
    assert!(matches!(
        e.score_without_drivers(&s),
        Err(ScoringError::Feature { feature, .. }) if feature == "features"
    ));
}

#[test]
fn bands_follow_the_configured_thresholds() {
    let e = engine();
    assert_eq!(e.band(95.0), Band::Green);
    assert_eq!(e.band(90.0), Band::Green);
    assert_eq!(e.band(89.9), Band::Yellow);
    assert_eq!(e.band(75.0), Band::Yellow);
    assert_eq!(e.band(74.9), Band::Red);
}

#[test]
fn sentences_compare_with_own_history_and_segment() {
    let e = engine();
    let pop = population(30);
    let mut row = pop.rows.row(0).to_vec();
    row[col("interactions_30d")] = 14.0;
    row[col("interactions_90d")] = 13.125; // usual monthly rate 4.375 -> 3.2x
    let s = Subject {
        account_id: "x",
        as_of: 20_000,
        row: &row,
        arr: 0.0,
        segment: Some("mid_market"),
    };
    let (score, all) = e.explain(&s, Some(&pop.reference), 60).unwrap();
    let d = all
        .iter()
        .find(|d| d.feature == "interactions_30d")
        .unwrap();
    assert_eq!(
        d.sentence,
        "14 interactions in the last 30 days, 3.2x its usual rate"
    );
    assert_eq!(d.comparison.as_ref().unwrap().basis, "own_history");
    let m = all.iter().find(|d| d.feature == "fcr_rate_90d").unwrap();
    if m.value.is_some() {
        let c = m.comparison.as_ref().unwrap();
        assert_eq!(c.basis, "segment_median");
        assert!(c.text.contains("mid-market median"), "{}", c.text);
    }
    // ARR falls back to 12 x the MRR feature.
    assert!((score.arr - 12.0 * row[col("mrr")]).abs() < 1e-9);
}

#[test]
fn suggested_play_is_the_strongest_risk_raising_drivers() {
    let e = engine();
    let pop = population(60);
    for i in 0..pop.len() {
        let s = pop.subject(i);
        let (score, all) = e.explain(&s, None, 3).unwrap();
        let expected = all
            .iter()
            .filter(|d| d.contribution > 0.0)
            .find_map(|d| d.play.clone());
        match expected {
            Some(p) => {
                // Ties in |contribution| aside, the first risk-raiser with a play wins.
                let first = all
                    .iter()
                    .filter(|d| d.contribution > 0.0 && d.play.is_some())
                    .max_by(|a, b| a.contribution.total_cmp(&b.contribution))
                    .unwrap();
                assert_eq!(score.base_play, first.play.clone().unwrap());
                assert_eq!(score.play_cause, Some(first.cause));
                let _ = p;
            }
            None => {
                assert!(!score.suggested_play.is_empty());
                assert_eq!(score.play_cause, None);
            }
        }
        // The urgency prefix is there exactly when the renewal is near.
        let days = s.row[col("days_to_renewal")];
        let urgent = days.is_finite() && days <= 90.0;
        assert_eq!(score.urgency.urgent, urgent, "{days}");
        if urgent {
            assert_eq!(
                score.suggested_play,
                format!(
                    "Before the renewal in {} days: {}",
                    days.round(),
                    score.base_play
                )
                .replace("in 1 days", "in 1 day")
                .replace("in 0 days", "today")
            );
        } else {
            assert_eq!(score.suggested_play, score.base_play);
        }
        for d in &all {
            if d.contribution <= 0.0 {
                assert!(d.play.is_none(), "only risk-raising drivers carry a play");
            }
        }
    }
}

/// Churn driven mostly by an imminent renewal, and by poor CSAT.
fn renewal_labels(x: &Array2<f64>, seed: u64) -> Vec<bool> {
    let mut r = Lcg(seed);
    x.rows()
        .into_iter()
        .map(|row| {
            let days = row[col("days_to_renewal")];
            let near = if days.is_finite() && days < 60.0 {
                3.0
            } else {
                0.0
            };
            let csat = row[col("csat_mean_90d")];
            let poor = if csat.is_finite() && csat < 2.5 {
                1.0
            } else {
                0.0
            };
            let logit: f64 = -2.5 + near + poor;
            r.next() < 1.0 / (1.0 + (-logit).exp())
        })
        .collect()
}

#[test]
fn timing_is_urgency_and_never_a_reason() {
    let e = Engine::new(
        artifact_with(ModelKind::Churn, 21, renewal_labels),
        None,
        90,
        ScoringConfig::default(),
    )
    .unwrap();
    let pop = population(80);
    let mut renewal_strongest = 0;
    for i in 0..pop.len() {
        let s = pop.subject(i);
        let (score, all) = e.explain(&s, Some(&pop.reference), 3).unwrap();
        // Explain keeps every feature, context included: the sum identity.
        assert_eq!(all.len(), pulse_features::n_features());
        let total: f64 = score.base_value + all.iter().map(|d| d.contribution).sum::<f64>();
        assert!((total - score.margin).abs() < 1e-6);
        if all[0].feature == "days_to_renewal" {
            renewal_strongest += 1;
        }
        // The why: actionable drivers only, the strongest of them.
        assert_eq!(score.drivers.len(), 3);
        let reasons: Vec<&ExplainedDriver> = all.iter().filter(|d| d.cause.is_reason()).collect();
        for (d, r) in score.drivers.iter().zip(&reasons) {
            assert_eq!(d.feature, r.feature);
            assert!(d.cause.is_reason(), "{}", d.feature);
        }
        // The when: the renewal and the context's share of the margin.
        let context: f64 = all
            .iter()
            .filter(|d| d.cause == pulse_features::Cause::Context)
            .map(|d| d.contribution)
            .sum();
        assert!((score.urgency.context_contribution - context).abs() < 1e-9);
        let days = s.row[col("days_to_renewal")];
        assert_eq!(
            score.urgency.days_to_renewal,
            days.is_finite().then_some(days)
        );
        if days.is_finite() {
            assert!(
                score.urgency.text.starts_with("renews in"),
                "{}",
                score.urgency.text
            );
        }
        assert!(!score.suggested_play.contains("renewal conversation"));
        // Seat use is the row's, for the lists.
        let known = |v: f64| v.is_finite().then_some(v);
        assert_eq!(
            score.seat_use,
            Some(crate::SeatUse {
                seats: known(s.row[col("seats")]),
                active_users_per_seat: known(s.row[col("active_users_per_seat_30d")]),
            })
        );
        // Round trip keeps causes, urgency and the play's parts.
        assert_eq!(AccountScore::from_json(&score.to_json()).unwrap(), score);
    }
    assert!(
        renewal_strongest > 0,
        "the fixture should make timing the strongest driver somewhere"
    );
}

#[test]
fn explanations_stored_before_causes_read_with_causes() {
    let e = engine();
    let pop = population(5);
    let score = e.score(&pop.subject(0), Some(&pop.reference), 3).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&score.to_json()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("urgency");
    o.remove("base_play");
    o.remove("play_cause");
    o.remove("seat_use");
    for d in o["drivers"].as_array_mut().unwrap() {
        d.as_object_mut().unwrap().remove("cause");
    }
    let old = AccountScore::from_json(&v.to_string()).unwrap();
    assert_eq!(old.base_play, score.suggested_play);
    assert!(score.seat_use.is_some());
    assert_eq!(old.seat_use, None, "lists then read the histories");
    for (a, b) in old.drivers.iter().zip(&score.drivers) {
        assert_eq!(a.cause, b.cause, "{}", a.feature);
    }
}

#[test]
fn scored_population_matches_single_scores_and_round_trips() {
    let e = engine();
    let pop = population(50);
    let singles: Vec<AccountScore> = (0..pop.len())
        .map(|i| e.score(&pop.subject(i), Some(&pop.reference), 5).unwrap())
        .collect();
    let scored = ScoredPopulation::score(pop, &e, 5, 2).unwrap();
    assert_eq!(scored.scores, singles);
    let s = scored.get("acct-007").unwrap();
    assert_eq!(s.account_id, "acct-007");
    let back = AccountScore::from_json(&s.to_json()).unwrap();
    assert_eq!(&back, s);
    assert!(scored.get("nobody").is_none());
}

#[test]
fn engine_refuses_the_wrong_models() {
    let e = Engine::new(
        artifact(ModelKind::Expansion, 3),
        None,
        90,
        ScoringConfig::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("expansion model, not churn"), "{e}");
    let bad = ScoringConfig {
        top_drivers: 0,
        ..Default::default()
    };
    let e = Engine::new(artifact(ModelKind::Churn, 3), None, 90, bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("scoring.top_drivers"), "{e}");
}

#[test]
fn change_between_two_real_scores_adds_up() {
    let e = engine();
    let pop = population(10);
    let a = e.score(&pop.subject(0), None, 3).unwrap();
    let b = e.score(&pop.subject(1), None, 3).unwrap();
    let c = attribute_change(&a, &b, "last week");
    let sum: f64 = c.families.iter().map(|f| f.points).sum();
    assert!((sum - (b.health - a.health)).abs() < 1e-6);
}

#[test]
fn a_small_model_explains_inline_and_a_large_one_on_the_pool() {
    let small = artifact(ModelKind::Churn, 7);
    let size = small.payload.model.model().explain_size();
    // 30 trees of depth 3: at most 15 nodes each.
    assert!(size > 30 && size <= 30 * 15, "{size}");
    let small = Engine::new(small, None, 90, ScoringConfig::default()).unwrap();
    assert!(small.explains_inline());

    let big = artifact_of(
        ModelKind::Churn,
        7,
        labels,
        GbtParams::new()
            .iterations(1000)
            .max_depth(8)
            .max_leaves(64)
            .min_leaf_weight(0.5),
    );
    let size = big.payload.model.model().explain_size();
    assert!(size > INLINE_EXPLAIN_NODES, "{size} nodes");
    let big = Engine::new(big, None, 90, ScoringConfig::default()).unwrap();
    assert!(!big.explains_inline());
}
