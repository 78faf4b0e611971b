//! The pipeline on a small synthetic base (pulse-synth, in memory): the GBT
//! beats the rule-based scorecard, cards are complete, the leakage gate
//! stops a run, and the tabular path trains and refuses leaky columns.

use pulse_core::time::parse_day;
use pulse_features::{AccountHistory, Cause, Records, histories_from_records};
use pulse_models::{Algorithm, GbtParams, LabelSpec, Model, ModelArtifact, ModelKind, Table};
use pulse_synth::{SynthBase, SynthConfig, generate};

use crate::{
    FinalFit, GbtSearch, KnownChurn, REASON_CAUSES, REFERENCE_WEEKS, ReasonTruth, ReferenceRows,
    Stage, TableSpec, TrainConfig, TrainError, TrainingData, check_account_model, drift_reference,
    reason_accuracy, train_kind, train_models, train_on, train_table,
};

/// Histories straight from generated rows (the store's `load_histories` gives
/// the same; its own test checks that).
fn histories(b: &SynthBase) -> Vec<AccountHistory> {
    histories_from_records(Records {
        accounts: &b.accounts,
        contacts: &b.contacts,
        interactions: &b.interactions,
        usage: &b.usage,
        subscriptions: &b.subscriptions,
        surveys: &b.surveys,
        operational: &b.operational,
    })
}

fn base(accounts: usize, months: u32) -> Vec<AccountHistory> {
    let end = parse_day("end", "2026-06-30").unwrap();
    histories(&generate(&SynthConfig::new(accounts, months, 42, end)))
}

fn quick() -> TrainConfig {
    TrainConfig {
        gbt: GbtParams::new().iterations(60),
        ablation: false,
        selection: pulse_models::SelectionConfig {
            folds: 3,
            max_rounds: 300,
            patience: 20,
            learning_rate: 0.1,
            ..Default::default()
        },
        ..TrainConfig::default()
    }
}

#[test]
fn gbt_beats_the_scorecard_and_cards_are_complete() {
    let hs = base(300, 18);
    let cfg = quick();
    let mut stages = Vec::new();
    let mut tick = 0.0;
    let out = train_models(
        &hs,
        &[ModelKind::Churn, ModelKind::Expansion],
        None,
        &cfg,
        "2026-07-01T00:00:00Z",
        &mut || {
            tick += 1.0;
            tick
        },
        &mut |p| stages.push((p.stage, p.kind, p.fraction)),
    )
    .unwrap();
    assert_eq!(out.models.len(), 2);
    assert!(stages.windows(2).all(|w| w[0].2 <= w[1].2), "{stages:?}");
    assert_eq!(stages.last().unwrap().0, Stage::Done);
    assert!(
        stages
            .iter()
            .any(|s| s.0 == Stage::Backtest && s.1 == Some(ModelKind::Expansion))
    );

    let churn = &out.models[0];
    assert_eq!(churn.kind, ModelKind::Churn);
    let card = &churn.artifact.card;
    let e = card.evaluation.as_ref().unwrap();
    let roc = |m: &str| e.models[m].roc_auc;
    assert!(
        roc("gbt") > roc("scorecard"),
        "gbt {} vs scorecard {} (logistic {})",
        roc("gbt"),
        roc("scorecard"),
        roc("logistic")
    );
    assert!(roc("gbt") > 0.7, "{}", roc("gbt"));
    // The served algorithm was chosen on the validation rows; the card's
    // metrics and algorithm are the winner's.
    let sel = e
        .selection
        .as_ref()
        .expect("the served algorithm is selected");
    // The two finalists (the GBT of the best shape and learning rate, the
    // logistic model), then the other GBT fits tried, with their rounds:
    // every shape at the configured rate, the best one at the other rate.
    let search = TrainConfig::default().gbt_search;
    let fits = 1 + search.shapes.len() + search.learning_rates.len();
    assert_eq!(sel.candidates.len(), 1 + fits, "{sel:#?}");
    assert_eq!(sel.candidates[0].name, sel.served);
    assert!(sel.candidates[0].cv_pr_auc >= sel.candidates[1].cv_pr_auc);
    for (i, c) in sel.candidates.iter().enumerate() {
        assert!(c.cv_log_loss > 0.0 && c.cv_roc_auc > 0.5, "{c:?}");
        if i < 2 {
            assert_eq!(c.held_out.as_ref(), Some(&e.models[c.name.as_str()]));
        } else {
            assert!(c.name.starts_with("gbt depth ") && c.name.ends_with(" rounds"));
            assert!(c.name.contains(", learning rate 0."), "{}", c.name);
            assert!(c.held_out.is_none(), "{c:?}");
        }
    }
    // The served GBT has the shape and rounds with the lowest inner log-loss.
    let gbt = sel.candidates.iter().find(|c| c.name == "gbt").unwrap();
    for c in sel.candidates.iter().filter(|c| c.name.starts_with("gbt ")) {
        assert!(gbt.cv_log_loss <= c.cv_log_loss, "{gbt:?} vs {c:?}");
    }
    assert!(
        sel.reason.contains(
            "lowest inner log-loss of 4 fits (3 shape(s), then the best at 1 other learning rate(s))"
        ),
        "{}",
        sel.reason
    );
    assert_eq!(card.metrics.as_ref(), Some(&e.models[sel.served.as_str()]));
    assert_eq!(
        card.algorithm,
        if sel.served == "gbt" {
            Algorithm::Gbt
        } else {
            Algorithm::Logistic
        }
    );
    assert_eq!(card.feature_schema.len(), pulse_features::n_features());
    assert_eq!(e.importance.len(), pulse_features::n_features());
    assert!(e.leakage.as_ref().unwrap().flagged.is_empty());
    assert!(e.rows.test > 0 && e.rows.train > 0 && e.rows.calibration > 0);
    assert!(card.rows.train > e.rows.train, "the refit uses more rows");
    assert_eq!(card.rows.test, 0);
    assert!(
        card.notes
            .iter()
            .any(|n| n.starts_with("served model: refit"))
    );
    assert_eq!(card.training_seconds, 1.0 * (card.training_seconds.round()));
    let m = &e.models["gbt"];
    assert_eq!(m.k, cfg.capacity);
    assert!(m.precision_at_k > 0.0 && m.recall_at_k > 0.0 && m.recall_at_k <= 1.0);
    assert!(card.label_rate > 0.0 && card.label_rate < 0.5);
    assert!(card.data_window.is_some() && !card.calibration_table.is_empty());
    assert!(churn.artifact.payload.scorecard.is_some());
    check_account_model(&churn.artifact).unwrap();

    // The artifact survives writing and reading, with its stable metric keys.
    let bytes = churn.artifact.to_bytes().unwrap();
    let back = ModelArtifact::read(&bytes[..]).unwrap();
    assert_eq!(back.card, churn.artifact.card);
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    for key in [
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "precision_at_k",
        "recall_at_k",
    ] {
        assert!(json["card"]["metrics"][key].is_number(), "{key}");
        assert!(
            json["card"]["evaluation"]["models"]["scorecard"][key].is_number(),
            "{key}"
        );
    }
    // Held-out curves of every compared model, corner to corner.
    for model in ["gbt", "logistic", "scorecard"] {
        let roc = json["card"]["evaluation"]["curves"][model]["roc"]
            .as_array()
            .unwrap_or_else(|| panic!("{model}: no ROC curve"));
        assert!(
            roc.len() > 2 && roc.len() <= pulse_models::CURVE_POINTS,
            "{model}"
        );
        assert_eq!(roc[0], serde_json::json!([0.0, 0.0]));
        assert_eq!(roc[roc.len() - 1], serde_json::json!([1.0, 1.0]));
        assert!(json["card"]["evaluation"]["curves"][model]["pr"].is_array());
    }

    // Expansion at this scale is a handful of events: only check it learned something.
    let exp = &out.models[1].artifact.card;
    assert_eq!(exp.kind, ModelKind::Expansion);
    assert!(exp.evaluation.as_ref().unwrap().models["gbt"].roc_auc > 0.52);
}

#[test]
fn ablation_and_the_backtest_model_as_final_fit() {
    let hs = base(200, 18);
    let cfg = TrainConfig {
        gbt: GbtParams::new().iterations(30),
        ablation: true,
        final_fit: FinalFit::Backtest,
        ..TrainConfig::default()
    };
    let data = TrainingData::build(&hs, None, &cfg).unwrap();
    let m = train_kind(&data, ModelKind::Churn, &cfg, "t", &mut |_| {}).unwrap();
    let card = &m.artifact.card;
    let e = card.evaluation.as_ref().unwrap();
    let ab = e.ablation.as_ref().unwrap();
    assert_eq!(ab.families.len(), pulse_features::Family::ALL.len());
    assert!(
        ab.families
            .iter()
            .all(|f| f.roc_auc > 0.4 && !f.dropped.is_empty())
    );
    assert_eq!(card.rows, e.rows);
    assert!(
        card.notes
            .iter()
            .any(|n| n.starts_with("served model: the backtest model"))
    );
}

#[test]
fn reason_accuracy_counts_listed_churners_and_the_probe_learns_from_earlier_ones() {
    let end = parse_day("end", "2026-06-30").unwrap();
    let b = generate(&SynthConfig::new(400, 24, 42, end));
    let hs = histories(&b);
    let truth: ReasonTruth = b
        .truth
        .accounts
        .iter()
        .filter_map(|t| {
            Some((
                t.account_id.clone(),
                KnownChurn {
                    reason: t.churn_reason.clone(),
                    day: t.churn_day?,
                },
            ))
        })
        .collect();
    let cfg = quick();
    let data = TrainingData::build(&hs, None, &cfg).unwrap();
    let m = train_kind(&data, ModelKind::Churn, &cfg, "t", &mut |_| {}).unwrap();
    let ids: Vec<String> = hs.iter().map(|h| h.account.id.clone()).collect();
    let r = reason_accuracy(&data, &ids, m.backtest_model(), &cfg, &truth).unwrap();
    assert!(r.churners > 0, "{r:?}");
    assert_eq!(
        r.churners,
        r.by_reason.iter().map(|x| x.churners).sum::<usize>()
    );
    assert_eq!(
        r.matched,
        r.by_reason.iter().map(|x| x.matched).sum::<usize>()
    );
    assert!(r.by_reason.iter().all(|x| {
        REASON_CAUSES.iter().any(|(k, _)| *k == x.reason)
            && x.named.iter().map(|(_, n)| n).sum::<usize>() == x.churners
            && x.drivers.iter().map(|(_, n)| n).sum::<usize>() == x.churners
    }));
    // Each driver named is a catalogue feature whose cause is among those
    // named for the same reason.
    let defs = pulse_features::features();
    for x in &r.by_reason {
        for (f, _) in &x.drivers {
            if f == "none" {
                continue;
            }
            let d = defs
                .iter()
                .find(|d| d.name == f)
                .expect("a catalogue feature");
            assert!(
                x.named
                    .iter()
                    .any(|(c, _)| { *c == d.family.as_str() || *c == Cause::DataGap.as_str() }),
                "{f} for {}: {:?}",
                x.reason,
                x.named
            );
        }
    }
    let p = r
        .probe
        .as_ref()
        .expect("earlier churners with known reasons");
    assert!(p.trained_on >= 30, "{p:?}");
    assert!(p.matched <= r.churners);
    assert!((p.accuracy - p.matched as f64 / r.churners as f64).abs() < 1e-12);
    assert!(p.method.contains("labels resolved before"), "{}", p.method);
    // Without known reasons there is nothing to learn from, nor to count.
    let none = reason_accuracy(&data, &ids, m.backtest_model(), &cfg, &ReasonTruth::new()).unwrap();
    assert_eq!((none.churners, none.probe), (0, None));
}

#[test]
fn a_weaker_gbt_loses_the_selection_and_the_logistic_model_is_served() {
    let hs = base(400, 24);
    // One tree of one split: the logistic model ranks the validation rows
    // better, so it is the one refitted and served.
    let cfg = TrainConfig {
        gbt: GbtParams::new().iterations(1).max_depth(1),
        gbt_search: GbtSearch {
            shapes: Vec::new(),
            ..GbtSearch::default()
        },
        ablation: false,
        ..TrainConfig::default()
    };
    let data = TrainingData::build(&hs, None, &cfg).unwrap();
    let m = train_kind(&data, ModelKind::Churn, &cfg, "t", &mut |_| {}).unwrap();
    let card = &m.artifact.card;
    let e = card.evaluation.as_ref().unwrap();
    let sel = e.selection.as_ref().unwrap();
    assert_eq!(sel.served, "logistic", "{sel:?}");
    assert!(sel.reason.contains("PR-AUC"), "{}", sel.reason);
    assert_eq!(card.algorithm, Algorithm::Logistic);
    assert!(matches!(
        m.artifact.payload.model.model(),
        Model::Logistic(_)
    ));
    assert!(matches!(m.backtest_model().model(), Model::Logistic(_)));
    assert_eq!(card.metrics.as_ref(), Some(&e.models["logistic"]));
    check_account_model(&m.artifact).unwrap();
    // It scores and explains like the GBT: contributions sum to the margin.
    let x = data.dataset(ModelKind::Churn).unwrap();
    let rows = x.x().select(ndarray::Axis(0), &[0, 1, 2]);
    let model = m.artifact.payload.model.model();
    let margins = model.margins(rows.view()).unwrap();
    let c = model.contributions(rows.view()).unwrap();
    for (i, margin) in margins.iter().enumerate() {
        let sum = c.base_value + c.values.row(i).sum();
        assert!((sum - margin).abs() < 1e-9, "{sum} vs {margin}");
    }
}

#[test]
fn the_leakage_gate_stops_a_run_unless_overridden() {
    let hs = base(150, 18);
    // A threshold no real feature set passes stands in for a leaky feature.
    let strict = TrainConfig {
        leakage_threshold: 0.55,
        ..quick()
    };
    let data = TrainingData::build(&hs, None, &strict).unwrap();
    match train_kind(&data, ModelKind::Churn, &strict, "t", &mut |_| {}) {
        Err(e @ TrainError::Leakage { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("ROC-AUC") && msg.contains("--allow-leakage"),
                "{msg}"
            );
        }
        other => panic!("expected the leakage gate, got {other:?}"),
    }
    let allowed = TrainConfig {
        allow_leakage: true,
        ..strict
    };
    let m = train_kind(&data, ModelKind::Churn, &allowed, "t", &mut |_| {}).unwrap();
    assert!(
        m.artifact
            .card
            .notes
            .iter()
            .any(|n| n.starts_with("LEAKAGE GATE OVERRIDDEN"))
    );
}

#[test]
fn kinds_trained_side_by_side_are_the_kinds_trained_alone_in_the_order_asked() {
    let hs = base(150, 18);
    let cfg = quick();
    let data = TrainingData::build(&hs, None, &cfg).unwrap();
    let train = |cfg: &TrainConfig, kinds: &[ModelKind], progress: &mut (dyn FnMut(_) + Send)| {
        train_on(&data, kinds, cfg, "t", 0.0, &mut || 0.0, progress)
    };
    let mut fractions = Vec::new();
    let out = train(&cfg, &[ModelKind::Expansion, ModelKind::Churn], &mut |p| {
        fractions.push(p.fraction)
    })
    .unwrap();
    let kinds: Vec<ModelKind> = out.models.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [ModelKind::Expansion, ModelKind::Churn]);
    // The mean of the kinds' progress never goes back, and ends the run.
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "{fractions:?}");
    assert_eq!(fractions.last(), Some(&1.0));
    // Artifacts hold no `PartialEq`: compared through their JSON.
    fn json<T: serde::Serialize>(v: &T) -> String {
        serde_json::to_string(v).expect("serialisable")
    }
    for m in &out.models {
        let alone = train_kind(&data, m.kind, &cfg, "t", &mut |_| {}).unwrap();
        assert_eq!(
            json(&m.artifact.payload),
            json(&alone.artifact.payload),
            "{}",
            m.kind
        );
        assert_eq!(
            json(&m.artifact.card.evaluation),
            json(&alone.artifact.card.evaluation),
            "{}",
            m.kind
        );
    }
    // One after the other: the same models.
    let in_turn = TrainConfig {
        kinds_side_by_side: false,
        ..quick()
    };
    let again = train(
        &in_turn,
        &[ModelKind::Expansion, ModelKind::Churn],
        &mut |_| {},
    )
    .unwrap();
    for (a, b) in out.models.iter().zip(&again.models) {
        assert_eq!(a.kind, b.kind);
        assert_eq!(json(&a.artifact.payload), json(&b.artifact.payload));
    }
    // A kind's error is the run's: the first in the order asked.
    let strict = TrainConfig {
        leakage_threshold: 0.55,
        ..quick()
    };
    match train(
        &strict,
        &[ModelKind::Churn, ModelKind::Expansion],
        &mut |_| {},
    ) {
        Err(TrainError::Leakage { kind, .. }) => assert_eq!(kind, "churn"),
        other => panic!("expected the churn model's leakage error, got {other:?}"),
    }
}

#[test]
fn too_little_data_says_what_to_do() {
    let err = TrainingData::build(&[], None, &TrainConfig::default()).unwrap_err();
    assert!(err.to_string().contains("import"), "{err}");
    let short = base(20, 4);
    let err = TrainingData::build(&short, None, &TrainConfig::default()).unwrap_err();
    assert!(matches!(err, TrainError::NoData { .. }), "{err}");
    assert!(err.to_string().contains("longer history"), "{err}");
}

fn table(n: usize, leak: bool) -> Table {
    let mut columns = vec![
        "customer".to_string(),
        "month".into(),
        "plan".into(),
        "usage".into(),
    ];
    if leak {
        columns.push("closed_account".into());
    }
    columns.push("churned".into());
    let mut state = 7u64;
    let mut rnd = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let rows = (0..n)
        .map(|i| {
            let usage = rnd();
            let plan = if rnd() < 0.5 { "basic" } else { "pro" };
            let risk = 0.05 + 0.5 * (1.0 - usage) + if plan == "basic" { 0.15 } else { 0.0 };
            let churned = rnd() < risk;
            let mut r = vec![
                format!("c{i}"),
                format!("2025-{:02}-01", 1 + i % 12),
                plan.to_string(),
                format!("{usage:.3}"),
            ];
            if leak {
                r.push(if churned { "1" } else { "0" }.to_string());
            }
            r.push(if churned { "yes" } else { "no" }.to_string());
            r
        })
        .collect();
    Table::new(columns, rows).unwrap()
}

#[test]
fn tables_train_with_a_time_backtest_and_leaky_columns_are_refused() {
    let spec = TableSpec {
        label: LabelSpec::binary("churned"),
        id_column: Some("customer".into()),
        time_column: Some("month".into()),
        kind: ModelKind::Churn,
        drop_columns: Vec::new(),
    };
    let m = train_table(&table(1200, false), &spec, &quick(), "t").unwrap();
    let card = &m.artifact.card;
    // The risk is linear in usage and plan: the one-hot logistic model wins
    // the cross-validation and is served with its own encoder.
    let e = card.evaluation.as_ref().unwrap();
    let sel = e.selection.as_ref().unwrap();
    assert!(sel.served.starts_with("logistic"), "{sel:#?}");
    assert_eq!(card.feature_schema, vec!["plan=basic", "plan=pro", "usage"]);
    // Every candidate has its cross-validated figures, best first; the
    // finalists (best GBT, best logistic, the blend) their held-out ones.
    assert!(
        sel.candidates
            .windows(2)
            .all(|w| w[0].cv_log_loss <= w[1].cv_log_loss)
    );
    let held: Vec<&str> = sel
        .candidates
        .iter()
        .filter(|c| c.held_out.is_some())
        .map(|c| c.name.split(' ').next().unwrap())
        .collect();
    assert_eq!(held.len(), 3, "{held:?}");
    for family in ["gbt", "logistic", "blend"] {
        assert!(held.contains(&family), "{held:?}");
        assert!(e.models.contains_key(family));
    }
    let served = sel
        .candidates
        .iter()
        .find(|c| c.name == sel.served)
        .unwrap();
    assert_eq!(card.metrics.as_ref(), served.held_out.as_ref());
    assert!(card.metrics.as_ref().unwrap().roc_auc > 0.6);
    assert!(m.artifact.payload.encoder.is_some());
    assert!(check_account_model(&m.artifact).is_err());
    assert!(e.method.starts_with("time-based") && e.rows.test > 0);
    // The served model is refitted on every row, the figures the evaluation's.
    assert!(
        card.notes
            .iter()
            .any(|n| n.contains("refitted on all 1200 rows")),
        "{:?}",
        card.notes
    );
    assert!(e.rows.train + e.rows.calibration + e.rows.test <= 1200);

    let no_time = TableSpec {
        time_column: None,
        ..spec.clone()
    };
    let m = train_table(&table(800, false), &no_time, &quick(), "t").unwrap();
    assert!(
        m.artifact
            .card
            .evaluation
            .as_ref()
            .unwrap()
            .method
            .starts_with("stratified")
    );

    match train_table(&table(800, true), &spec, &quick(), "t") {
        Err(TrainError::Leakage { features, .. }) => {
            assert_eq!(features[0].feature, "closed_account");
        }
        other => panic!("expected the leakage gate, got {other:?}"),
    }
    // Dropping the leaky column lets the same table train.
    let dropped = TableSpec {
        drop_columns: vec!["closed_account".into()],
        ..spec.clone()
    };
    let m = train_table(&table(800, true), &dropped, &quick(), "t").unwrap();
    assert!(
        !m.artifact
            .card
            .feature_schema
            .iter()
            .any(|f| f.starts_with("closed_account"))
    );
    let bad = TableSpec {
        id_column: Some("nope".into()),
        ..spec
    };
    let err = train_table(&table(100, false), &bad, &quick(), "t").unwrap_err();
    assert!(err.to_string().contains("column nope not found"), "{err}");
}

#[test]
fn the_drift_reference_is_every_customer_on_its_weeks_whatever_the_kind() {
    let hs = base(200, 18);
    let cfg = quick();
    let data = TrainingData::build(&hs, None, &cfg).unwrap();
    let rows = ReferenceRows::build(&data, &hs).unwrap();
    // One row per customer on each weekly day up to the end of the data (not
    // only the labelled days, which end a horizon earlier), each its
    // features as of that day.
    let to = data.data_end.max(*data.days().last().unwrap());
    let from = to - 7 * (REFERENCE_WEEKS - 1);
    assert!(to > *data.days().last().unwrap());
    let nf = pulse_features::n_features();
    let mut expected = Vec::new();
    for w in 0..REFERENCE_WEEKS {
        let at = pulse_features::end_of_day(from + 7 * w);
        for h in hs.iter().filter(|h| pulse_features::is_customer_at(h, at)) {
            let mut f = vec![f64::NAN; nf];
            pulse_features::compute(h, at, &mut f);
            expected.push(f);
        }
    }
    let x = rows.rows();
    assert_eq!(x.nrows(), expected.len());
    for (i, e) in expected.iter().enumerate() {
        for (j, v) in e.iter().enumerate() {
            let a = x[[i, j]];
            assert!(a == *v || (a.is_nan() && v.is_nan()), "row {i} feature {j}");
        }
    }
    drop(hs);

    // Each kind's reference: the same rows and bins, its own model's
    // probabilities and its own label rate.
    let churn = train_kind(&data, ModelKind::Churn, &cfg, "t", &mut |_| {}).unwrap();
    let model = &churn.artifact.payload.model;
    let c = drift_reference(&data, &rows, ModelKind::Churn, model).unwrap();
    let e = drift_reference(&data, &rows, ModelKind::Expansion, model).unwrap();
    assert_eq!((c.from, c.to, c.rows), (from, to, expected.len()));
    assert_eq!(c.features, e.features);
    // Each feature's bins are those of its column (the columns are binned
    // on several threads).
    use pulse_models::drift::BinnedProfile;
    let names = crate::pipeline::feature_names();
    assert_eq!(c.features.len(), nf);
    for (j, (name, bins)) in c.features.iter().enumerate() {
        let col: Vec<f64> = expected.iter().map(|e| e[j]).collect();
        assert_eq!(name, &names[j]);
        assert_eq!(Some(bins), BinnedProfile::fit(&col, 10).as_ref(), "{name}");
    }
    assert_eq!(c.features.len(), nf);
    let p = model.predict_proba(x).unwrap();
    let prediction = pulse_models::drift::BinnedProfile::fit(p.as_slice().unwrap(), 10).unwrap();
    assert_eq!(c.prediction, prediction);
    assert!(c.label_rate > 0.0 && c.label_rate < 1.0);
    assert_ne!(c.label_rate, e.label_rate);
}

#[test]
fn snapshots_built_on_every_core_are_the_rows_built_in_turn() {
    // 37 accounts: the threads' account blocks and row blocks are uneven.
    let hs = base(37, 14);
    let cfg = TrainConfig::default();
    let data = TrainingData::build(&hs, None, &cfg).unwrap();
    let (start, end) = crate::data_span(&hs).unwrap();
    let serial = pulse_features::snapshots(
        &hs,
        start + cfg.warmup_days,
        end - cfg.horizon_days,
        cfg.step_days,
        cfg.horizon_days,
        end,
    );
    let got = &data.snapshots;
    assert!(serial.len() > 100, "{} rows", serial.len());
    assert_eq!(got.account, serial.account);
    assert_eq!(got.as_of, serial.as_of);
    assert_eq!(got.churn, serial.churn);
    assert_eq!(got.expansion, serial.expansion);
    assert_eq!(got.x.dim(), serial.x.dim());
    for (r, (a, b)) in got.x.rows().into_iter().zip(serial.x.rows()).enumerate() {
        let same = a
            .iter()
            .zip(b.iter())
            .all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same, "row {r} differs: {a} against {b}");
    }
    // Each row's cells are `compute`'s for its account and day.
    let mut row = vec![0.0; pulse_features::n_features()];
    let last = got.len() - 1;
    for r in [0, got.len() / 2, last] {
        pulse_features::compute(
            &hs[got.account[r]],
            pulse_features::end_of_day(got.as_of[r]),
            &mut row,
        );
        let cells = got.x.row(r);
        assert!(
            cells
                .iter()
                .zip(&row)
                .all(|(p, q)| p.to_bits() == q.to_bits()),
            "row {r}"
        );
    }
}
