//! The generic tabular path: a team's own feature table (one row per
//! customer or per customer and date, a binary label column) trained and
//! evaluated like the account models, with the table encoder saved inside the
//! artifact so `pulse score --table` encodes new rows exactly as in training.
//!
//! - With a time column: a time-based backtest, test = rows at the latest
//!   `test_fraction` of the distinct times. The table's label horizon is
//!   unknown, so there is no purge gap; the card says so.
//! - Without: a stratified random split (test `test_fraction`, seed 42).
//!
//! On the other (training) rows, candidates are cross-validated
//! ([`pulse_models::select`]): GBTs of several shapes with their rounds
//! chosen by early stopping on ordinal-coded categories, and logistic models
//! on one-hot categories. The best by cross-validated log-loss is served; the
//! best of each family (and their blend) is also fitted on all training rows,
//! calibrated on its out-of-fold margins and measured on the test rows, for
//! the card. The served model is then refitted on every row with cross-fitted
//! calibration ([`pulse_models::refit_cross_calibrated`]).
//!
//! The leakage gate runs on the training rows as for account models. There is
//! no scorecard (the columns have no known meaning) and no ablation.

use std::collections::BTreeSet;

use pulse_core::time::{parse_day, parse_ts};
use pulse_models::is_missing;
use pulse_models::{
    CandidateInput, CardEvaluation, CardInfo, CategoricalEncoding, DataWindow, EncoderOptions,
    LabelSpec, ModelArtifact, ModelKind, ModelPayload, RowCounts, Split, Table, TableEncoder,
    leakage_screen,
};

use crate::selection::select_and_report;

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::pipeline::TrainedModel;

/// Which columns of a table are what.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub label: LabelSpec,
    /// Identifies a row in predictions; never a feature. `None`: rows are
    /// identified by their number ([`ROW_NUMBER`]).
    pub id_column: Option<String>,
    /// Orders rows for a time-based backtest; never a feature.
    pub time_column: Option<String>,
    /// What the label means.
    pub kind: ModelKind,
    /// Columns that are not features (leaky or irrelevant ones).
    pub drop_columns: Vec<String>,
}

/// The id a table without an id column records: predictions name rows by
/// their 1-based number in the file.
pub const ROW_NUMBER: &str = "(row number)";

/// How each column of `table` is read for `spec`, in table order: the
/// label, the id, the time column and dropped columns by their role, every
/// other column as the encoder reads it (numeric and how, or categorical
/// with its levels). What `pulse train --table` prints before training.
pub fn describe_table(
    table: &Table,
    spec: &TableSpec,
) -> Result<Vec<(String, String)>, TrainError> {
    let mut roles: Vec<(String, String)> = vec![(spec.label.column.clone(), "label".to_string())];
    if let Some(id) = &spec.id_column {
        roles.push((id.clone(), "id (not a feature)".into()));
    }
    if let Some(t) = &spec.time_column {
        roles.push((
            t.clone(),
            "time (orders the backtest; not a feature)".into(),
        ));
    }
    for d in &spec.drop_columns {
        roles.push((d.clone(), "dropped (--drop)".into()));
    }
    let options = EncoderOptions {
        drop_columns: roles[1..].iter().map(|(c, _)| c.clone()).collect(),
        ..Default::default()
    };
    let encoder = pulse_models::TableEncoder::fit(table, &spec.label, &options).map_err(|e| {
        TrainError::Config {
            key: "table",
            reason: e.to_string(),
        }
    })?;
    let read: std::collections::HashMap<String, String> =
        encoder.column_report(table).into_iter().collect();
    Ok(table
        .columns
        .iter()
        .map(|c| {
            let how = roles
                .iter()
                .find(|(r, _)| r == c)
                .map(|(_, how)| how.clone())
                .or_else(|| read.get(c).cloned())
                .unwrap_or_else(|| "not read".into());
            (c.clone(), how)
        })
        .collect())
}

/// A time cell as a number: an integer (any unit), a date `YYYY-MM-DD` (day
/// number) or an RFC 3339 instant (Unix seconds).
pub fn parse_time_cell(cell: &str) -> Option<i64> {
    let t = cell.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    if let Ok(d) = parse_day("time", t) {
        return Some(i64::from(d));
    }
    parse_ts("time", t).ok()
}

/// Chooses, evaluates and refits a model for a table: candidates (GBTs of
/// several shapes, logistic models) are cross-validated on the training rows,
/// the finalists are measured on the held-out rows, and the winner is refitted
/// on every row.
pub fn train_table(
    table: &Table,
    spec: &TableSpec,
    cfg: &TrainConfig,
    created_at: &str,
) -> Result<TrainedModel, TrainError> {
    cfg.validate()?;
    let col = |name: &str| {
        table.column_index(name).ok_or_else(|| TrainError::Config {
            key: "table",
            reason: format!(
                "column {name} not found; the header has {}",
                table.columns.join(", ")
            ),
        })
    };
    col(&spec.label.column)?;
    let mut drop = Vec::new();
    if let Some(id) = &spec.id_column {
        col(id)?;
        drop.push(id.clone());
    }
    for c in &spec.drop_columns {
        col(c)?;
        if !drop.contains(c) {
            drop.push(c.clone());
        }
    }
    let time = match &spec.time_column {
        Some(t) => {
            let j = col(t)?;
            drop.push(t.clone());
            let mut v = Vec::with_capacity(table.rows.len());
            for (i, r) in table.rows.iter().enumerate() {
                let cell = &r[j];
                match (is_missing(cell), parse_time_cell(cell)) {
                    (false, Some(x)) => v.push(x),
                    _ => {
                        return Err(TrainError::Config {
                            key: "time",
                            reason: format!(
                                "row {} of column {t}: {cell:?} is not an integer, YYYY-MM-DD date or RFC 3339 instant",
                                i + 1
                            ),
                        });
                    }
                }
            }
            Some(v)
        }
        None => None,
    };
    // Trees read categories as ordinal codes; the linear model one-hot.
    let options = EncoderOptions {
        drop_columns: drop,
        ..Default::default()
    };
    let encoder =
        TableEncoder::fit(table, &spec.label, &options).map_err(|e| TrainError::Config {
            key: "table",
            reason: e.to_string(),
        })?;
    let linear_encoder = TableEncoder::fit(
        table,
        &spec.label,
        &EncoderOptions {
            categorical: CategoricalEncoding::OneHot,
            ..options
        },
    )
    .map_err(|e| TrainError::Config {
        key: "table",
        reason: e.to_string(),
    })?;
    let encode = |enc: &TableEncoder| {
        enc.dataset(table).map_err(|e| TrainError::Config {
            key: "table",
            reason: e.to_string(),
        })
    };
    let mut ds = encode(&encoder)?;
    let linear_ds = encode(&linear_encoder)?;
    let (split, cutoff, window) = match &time {
        Some(t) => {
            ds = ds.with_time(t.clone())?;
            let distinct: Vec<i64> = t
                .iter()
                .copied()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if distinct.len() < 3 {
                return Err(TrainError::no_data(format!(
                    "the time column has {} distinct values; a backtest needs at least 3",
                    distinct.len()
                )));
            }
            let n_test = ((distinct.len() as f64 * cfg.test_fraction).ceil() as usize)
                .clamp(1, distinct.len() - 1);
            let cutoff = distinct[distinct.len() - n_test];
            (
                Split::Time {
                    cutoff,
                    gap: 0,
                    calibration_fraction: cfg.calibration_fraction,
                },
                Some(cutoff),
                Some(DataWindow {
                    start: distinct[0],
                    end: distinct[distinct.len() - 1],
                }),
            )
        }
        None => (
            Split::Stratified {
                test_fraction: cfg.test_fraction,
                calibration_fraction: cfg.calibration_fraction,
                seed: 42,
            },
            None,
            None,
        ),
    };
    let idx = split
        .indices(&ds)
        .map_err(|e| TrainError::no_data(e.to_string()))?;
    // Calibration is cross-fitted, so the split's calibration part trains too.
    let mut fit_rows = idx.train.clone();
    fit_rows.extend_from_slice(&idx.calibration);
    fit_rows.sort_unstable();
    let leakage = leakage_screen(&ds.select_rows(&fit_rows)?, cfg.leakage_threshold)?;
    if !leakage.flagged.is_empty() && !cfg.allow_leakage {
        return Err(TrainError::Leakage {
            kind: spec.kind.as_str(),
            threshold: cfg.leakage_threshold,
            features: leakage.flagged,
        });
    }
    let outcome = select_and_report(&ds, &linear_ds, &fit_rows, &idx.test, cfg)?;
    let winner = outcome.selection.winner();
    let (served_ds, served_encoder) = match winner.input {
        Some(CandidateInput::Linear) => (&linear_ds, linear_encoder),
        _ => (&ds, encoder),
    };
    let served_params = winner
        .params
        .clone()
        .ok_or_else(|| TrainError::no_data("the selection named no single model"))?;
    // The honest figures are reported; the model served uses every row.
    let served = pulse_models::refit_cross_calibrated(
        served_ds,
        &served_params,
        cfg.calibration,
        cfg.selection.folds,
        cfg.selection.seed,
    )?;
    let rows = RowCounts {
        train: fit_rows.len(),
        calibration: 0,
        test: idx.test.len(),
    };
    let method = match (&spec.time_column, cutoff) {
        (Some(t), Some(c)) => format!(
            "time-based backtest on column {t}: test = rows with {t} >= {c}; candidates chosen by {}-fold cross-validation on the earlier rows, calibration cross-fitted on them; no purge gap (the label horizon of a table is unknown: make sure no training label is resolved after {c})",
            cfg.selection.folds
        ),
        _ => format!(
            "stratified random split: test {:.0}%, seed 42 (no time column: rows are assumed independent); candidates chosen by {}-fold cross-validation on the other rows, calibration cross-fitted on them",
            cfg.test_fraction * 100.0,
            cfg.selection.folds
        ),
    };
    let mut notes = vec![
        format!(
            "tabular model trained from a table: label column {}{}, id column {}; score new tables with `pulse score --table`; it cannot serve accounts",
            spec.label.column,
            spec.label
                .positive
                .as_ref()
                .map(|p| format!(" (positive = {p})"))
                .unwrap_or_default(),
            spec.id_column.as_deref().unwrap_or(ROW_NUMBER)
        ),
        format!(
            "served model: {}, chosen by cross-validation, then refitted on all {} rows and calibrated on {}-fold out-of-fold predictions (no row set aside); the held-out figures are from before the refit (fitted on the {} training rows, measured on the {} test rows)",
            winner.name,
            ds.n_rows(),
            cfg.selection.folds,
            fit_rows.len(),
            idx.test.len()
        ),
        format!(
            "precision_at_k and recall_at_k: the top {} rows of the whole test set (K = capacity)",
            cfg.capacity
        ),
        "categorical columns: ordinal codes for the trees, one-hot for the logistic model"
            .to_string(),
    ];
    if !leakage.flagged.is_empty() {
        notes.push(format!(
            "LEAKAGE GATE OVERRIDDEN: {} reached the {:.2} threshold alone on the training rows",
            leakage
                .flagged
                .iter()
                .map(|f| format!("{} ({:.3})", f.feature, f.roc_auc))
                .collect::<Vec<_>>()
                .join(", "),
            cfg.leakage_threshold
        ));
    }
    let served_report = outcome
        .held_out
        .get(&winner.name)
        .ok_or_else(|| TrainError::no_data("the served candidate has no held-out report"))?;
    let mut models = std::collections::BTreeMap::new();
    let mut curves = std::collections::BTreeMap::new();
    for (family, name) in [("gbt", "gbt"), ("logistic", "logistic"), ("blend", "blend")] {
        if let Some(c) = outcome.selection.best_of(family)
            && let Some(r) = outcome.held_out.get(&c.name)
        {
            models.insert(name.to_string(), r.metrics.clone());
            curves.insert(name.to_string(), r.curves.clone());
        }
    }
    let info = CardInfo {
        version: format!("table-{}-unsaved", spec.kind),
        kind: spec.kind,
        created_at: created_at.to_string(),
        data_window: window,
        rows: rows.clone(),
        label_rate: ds.select_rows(&fit_rows)?.positive_rate(),
        metrics: Some(served_report.metrics.clone()),
        calibration_table: served_report.calibration_table.clone(),
        training_seconds: 0.0,
        evaluation: Some(CardEvaluation {
            method,
            cutoff,
            rows,
            models,
            curves,
            ablation: None,
            importance: outcome.importance.clone(),
            leakage: Some(leakage),
            selection: Some(outcome.card(cfg)),
            reasons: None,
        }),
        notes,
        id_column: Some(
            spec.id_column
                .clone()
                .unwrap_or_else(|| ROW_NUMBER.to_string()),
        ),
    };
    let artifact = ModelArtifact::new(
        info,
        ModelPayload {
            model: served,
            encoder: Some(served_encoder),
            scorecard: None,
        },
    )?;
    Ok(TrainedModel {
        kind: spec.kind,
        artifact,
        backtest: None,
    })
}
