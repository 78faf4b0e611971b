//! The survival model and actuals on a small synthetic base (pulse-synth, in
//! memory): censoring of person-periods, a monotone curve, held-out
//! calibration per horizon, a serde round trip.

use pulse_core::time::{Day, parse_day};
use pulse_features::{AccountHistory, churn_label, compute, compute_matrix, end_of_day};
use pulse_models::GbtParams;
use pulse_synth::{SynthConfig, generate};

use crate::{
    GroupBy, SurvivalConfig, SurvivalModel, actuals, churn_within, days_to_churn, fit_survival,
    person_periods,
};

fn base(accounts: usize, months: u32) -> (Vec<AccountHistory>, Day) {
    let end = parse_day("end", "2026-06-30").unwrap();
    let b = generate(&SynthConfig::new(accounts, months, 42, end));
    let hs = pulse_features::histories_from_records(pulse_features::Records {
        accounts: &b.accounts,
        contacts: &b.contacts,
        interactions: &b.interactions,
        usage: &b.usage,
        subscriptions: &b.subscriptions,
        surveys: &b.surveys,
        operational: &b.operational,
    });
    (hs, end)
}

fn quick() -> SurvivalConfig {
    SurvivalConfig {
        gbt: GbtParams::new().iterations(40),
        ..SurvivalConfig::default()
    }
}

#[test]
fn person_periods_stop_at_the_churn_and_at_the_censoring_day() {
    let (hs, end) = base(200, 18);
    let cfg = quick();
    let first = end - 400;
    let censor = end - 100;
    let pp = person_periods(&hs, first, end, censor, &cfg);
    assert!(!pp.is_empty());
    let mut seen_event = 0;
    for r in 0..pp.len() {
        let (t, k, a) = (pp.as_of[r], pp.interval[r], pp.account[r]);
        let i_end = t + (k as i32 + 1) * cfg.interval_days;
        // Every interval is fully observed by the censoring day.
        assert!(i_end <= censor, "row {r} ends {i_end} after {censor}");
        // The label is the churn, and only the churn interval is labelled.
        let d = days_to_churn(&hs[a], t);
        let in_interval = d.is_some_and(|d| d > i_end - t - cfg.interval_days && d <= i_end - t);
        assert_eq!(pp.event[r], in_interval, "row {r}");
        // Intervals of one (account, as-of) are 0, 1, 2.. and stop after an event.
        if k > 0 {
            assert_eq!((pp.account[r - 1], pp.as_of[r - 1]), (a, t));
            assert_eq!(pp.interval[r - 1], k - 1);
            assert!(!pp.event[r - 1]);
        }
        seen_event += usize::from(pp.event[r]);
    }
    assert!(seen_event > 0, "the base has churns");
    // Each row's columns are its own (account, as-of day)'s features, then
    // its interval index.
    let nf = pp.features.ncols();
    let cols: Vec<Vec<f64>> = (0..=nf).map(|j| pp.column(j)).collect();
    assert!(pp.features.nrows() < pp.len(), "groups hold several rows");
    let mut row = vec![0.0; nf];
    for r in 0..pp.len() {
        compute(&hs[pp.account[r]], end_of_day(pp.as_of[r]), &mut row);
        for (j, v) in row.iter().enumerate() {
            assert_eq!(cols[j][r].to_bits(), v.to_bits(), "row {r}, feature {j}");
        }
        assert_eq!(cols[nf][r], pp.interval[r] as f64);
    }
    // Censoring earlier only drops rows: the censored set is a subset.
    let full = person_periods(&hs, first, end, end, &cfg);
    assert!(full.len() > pp.len());
    let key =
        |p: &crate::PersonPeriods, r: usize| (p.account[r], p.as_of[r], p.interval[r], p.event[r]);
    let all: std::collections::HashSet<_> = (0..full.len()).map(|r| key(&full, r)).collect();
    for r in 0..pp.len() {
        assert!(
            all.contains(&key(&pp, r)),
            "row {r} changed under censoring"
        );
    }
}

#[test]
fn churn_within_never_decreases_with_the_horizon() {
    let hazards = [0.01, 0.2, 0.0, 0.05, 0.9, 0.02];
    let mut last = 0.0;
    for d in 0..=800 {
        let p = churn_within(&hazards, 30, d);
        assert!(p >= last - 1e-15, "day {d}: {p} < {last}");
        assert!((0.0..=1.0).contains(&p));
        last = p;
    }
    // At interval boundaries it is 1 - prod(1 - h).
    let p60 = churn_within(&hazards, 30, 60);
    assert!((p60 - (1.0 - 0.99 * 0.8)).abs() < 1e-12);
    assert_eq!(churn_within(&hazards, 30, 0), 0.0);
    assert_eq!(churn_within(&[1.0], 30, 10), 1.0);
}

#[test]
fn the_fitted_curve_is_monotone_calibrated_on_held_out_days_and_round_trips() {
    let (hs, end) = base(300, 24);
    let m = fit_survival(&hs, Some(end), &quick(), "2026-07-01T00:00:00Z").unwrap();
    let card = &m.card;
    assert!(card.events > 0 && card.rows > card.events);
    // Two years of data: every horizon but possibly 365 days is backtested.
    let horizons: Vec<i32> = card.calibration.iter().map(|c| c.horizon_days).collect();
    for h in [30, 90, 180] {
        assert!(horizons.contains(&h), "{horizons:?} {:?}", card.notes);
    }
    for c in &card.calibration {
        assert!(c.test_rows > 0 && c.train_rows > 0);
        // Training rows end before the cutoff; test as-of days start on or after it.
        assert!(c.test_from >= c.cutoff, "{c:?}");
        assert!(c.brier < 0.25, "{c:?}");
        // Predicted and observed churn rates are of the same size.
        assert!(
            (c.mean_predicted - c.observed_rate).abs() < 0.05 + c.observed_rate,
            "{c:?}"
        );
    }
    let c90 = card
        .calibration
        .iter()
        .find(|c| c.horizon_days == 90)
        .unwrap();
    assert!(c90.roc_auc.unwrap() > 0.6, "{c90:?}");
    // Curves of the current customers are monotone.
    let current: Vec<AccountHistory> = hs
        .iter()
        .filter(|h| churn_label(h, end - 1, 0).is_some())
        .cloned()
        .collect();
    let x = compute_matrix(&current, end_of_day(end));
    // Hazards split over the cores, one row at a time, are the batch's.
    let hz = m.hazards(x.view()).unwrap();
    assert_eq!(hz.dim(), (x.nrows(), card.intervals));
    assert_eq!(hz, m.hazards_in_one_batch(x.view()));
    let one = m.hazards(x.select(ndarray::Axis(0), &[3]).view()).unwrap();
    assert_eq!(one.row(0), hz.row(3));
    let none = x.select(ndarray::Axis(0), &[]);
    assert_eq!(m.hazards(none.view()).unwrap().nrows(), 0);
    let curves = m.curves(x.view()).unwrap();
    for c in &curves {
        assert!(c.within_30d <= c.within_90d);
        assert!(c.within_90d <= c.within_180d);
        assert!(c.within_180d <= c.within_365d);
    }
    // Serde round trip gives the same probabilities.
    let json = serde_json::to_string(&m).unwrap();
    let back: SurvivalModel = serde_json::from_str(&json).unwrap();
    back.check().unwrap();
    assert_eq!(
        back.churn_within(x.view(), 77).unwrap(),
        m.churn_within(x.view(), 77).unwrap()
    );
}

#[test]
fn actuals_count_the_cohort_at_the_start() {
    let (hs, end) = base(200, 18);
    let (from, to) = (end - 180, end - 90);
    let acts = actuals(&hs, from, to, GroupBy::Segment);
    let total = acts.iter().find(|a| a.group == "total").unwrap();
    let cohort = hs
        .iter()
        .filter(|h| churn_label(h, from, 90).is_some())
        .count();
    let churned = hs
        .iter()
        .filter(|h| churn_label(h, from, 90) == Some(true))
        .count();
    assert_eq!(total.accounts, cohort);
    assert_eq!(total.churned_accounts, churned);
    let parts: usize = acts
        .iter()
        .filter(|a| a.group != "total")
        .map(|a| a.accounts)
        .sum();
    assert_eq!(parts, cohort);
    assert!(total.grr <= 1.0 && total.nrr >= total.grr);
}

/// The history as it was known at the end of `day`: every event dated later
/// removed (what the store's `load_histories(Some(t))` returns).
fn known_at(h: &AccountHistory, day: Day) -> AccountHistory {
    let t = end_of_day(day);
    let mut k = h.clone();
    k.contacts.retain(|c| c.observed_at <= t);
    k.interactions.retain(|i| i.opened_at <= t);
    k.usage.retain(|u| u.last_day() <= day);
    k.subscriptions.retain(|e| e.occurred_at <= t);
    k.surveys.retain(|s| s.responded_at <= t);
    k.operational.retain(|e| e.occurred_at <= t);
    k
}

#[test]
fn a_backtest_forecast_reads_nothing_after_its_as_of_day() {
    let (hs, _) = base(250, 24);
    let as_of = parse_day("as_of", "2025-12-31").unwrap();
    // One thread per fit, so both runs are bitwise reproducible.
    let gbt = GbtParams::new().iterations(20).parallel(false);
    let cfg = crate::BacktestConfig {
        survival: SurvivalConfig {
            gbt: gbt.clone(),
            ..SurvivalConfig::default()
        },
        training: pulse_training::TrainConfig {
            gbt,
            ablation: false,
            ..Default::default()
        },
        monte_carlo: crate::MonteCarlo {
            draws: 2_000,
            seed: 7,
        },
    };
    let full = crate::forecast_at(&hs, as_of, 90, &cfg).unwrap();
    let known: Vec<AccountHistory> = hs.iter().map(|h| known_at(h, as_of)).collect();
    let then = crate::forecast_at(&known, as_of, 90, &cfg).unwrap();
    assert_eq!(full, then);
    assert!(full.total.churned_accounts.expected > 0.0);
}
