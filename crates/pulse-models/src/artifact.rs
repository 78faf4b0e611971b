//! Model artifacts: a model card plus the payload (calibrated model, optional table encoder and
//! scorecard), written as one JSON document through `io::Write`.
//!
//! Layout: `{"format": "pulse-model/1", "card": {...}, "payload": {...}}`. The payload is
//! stored verbatim and `card.sha256` is the SHA-256 of exactly those payload bytes, so loading
//! can verify integrity before trusting anything in it. Loading then checks that the card's
//! feature schema, the model's, the encoder's output and the scorecard's all agree (names in
//! order), and [`ModelArtifact::read_expecting`] also checks the caller's feature builder.
//!
//! Nothing here reads a clock or a file: `created_at` and `training_seconds` come from the caller.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::calibration::CalibrationMethod;
use crate::error::ArtifactError;
use crate::evaluation::{AblationReport, EvaluationReport, LeakageReport};
use crate::explain::FeatureImportance;
use crate::metrics::{CalibrationBin, Curves, Metrics};
use crate::model::{Algorithm, CalibratedModel, HyperParameters};
use crate::scorecard::FittedScorecard;
use crate::tabular::TableEncoder;

/// Format tag written in every artifact; bump on incompatible payload changes.
pub const ARTIFACT_FORMAT: &str = "pulse-model/1";

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Churn,
    Expansion,
}

impl ModelKind {
    /// The snake_case name (`churn`, `expansion`), as in the card.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Churn => "churn",
            ModelKind::Expansion => "expansion",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "churn" => Ok(ModelKind::Churn),
            "expansion" => Ok(ModelKind::Expansion),
            other => Err(format!("'{other}' is not churn or expansion")),
        }
    }
}

/// What a training run measured beside the headline metrics: every model of the comparison on
/// the same held-out rows, the ablation, importances and the leakage screen.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CardEvaluation {
    /// How the held-out rows were chosen, in words.
    pub method: String,
    /// First held-out time stamp of a time-based split.
    pub cutoff: Option<i64>,
    /// Rows of the evaluation's own train / calibration / test parts.
    pub rows: RowCounts,
    /// Held-out metrics per model (`gbt`, `logistic`, `scorecard`), same rows for all.
    pub models: BTreeMap<String, Metrics>,
    /// Held-out ROC and precision-recall curves per model, same rows.
    #[serde(default)]
    pub curves: BTreeMap<String, Curves>,
    /// GBT retrained without each feature family.
    pub ablation: Option<AblationReport>,
    /// Mean |contribution| per feature on the held-out rows, largest first.
    pub importance: Vec<FeatureImportance>,
    /// Single-feature separation on the training rows.
    pub leakage: Option<LeakageReport>,
    /// How the served model was chosen, when it was chosen by
    /// cross-validation (the tabular path).
    pub selection: Option<CardSelection>,
    /// Whether the backtest's reasons match the known churn reasons (only
    /// when training was given them, e.g. a synthetic base's truth).
    #[serde(default)]
    pub reasons: Option<ReasonAccuracy>,
}

/// Reason accuracy: for churners that were on a backtest list before they
/// left, how often the cause of the strongest risk-raising reason matches
/// the known reason, against a baseline that always names the most common one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReasonAccuracy {
    /// How the rows were chosen and matched, in words.
    pub method: String,
    /// Known reason -> the causes that count as a match.
    pub mapping: Vec<(String, Vec<String>)>,
    /// Explainable churners on a list before they left.
    pub churners: usize,
    /// Of them, those whose top cause matched their reason.
    pub matched: usize,
    pub accuracy: f64,
    /// The most common known reason and its share (the baseline's accuracy).
    pub baseline_reason: String,
    pub baseline_accuracy: f64,
    /// Per known reason: churners, matched, and the causes Pulse named.
    pub by_reason: Vec<ReasonRow>,
    /// Churners with an exogenous reason (no signal can explain them),
    /// reported apart, with the causes Pulse named.
    pub exogenous: Vec<ReasonRow>,
    /// What a classifier trained on the known reasons themselves names for
    /// the same churners: a reference for how far the features can tell
    /// the reasons apart. `None` when too few earlier churners are known.
    pub probe: Option<ReasonProbe>,
}

/// A reason classifier's figures beside [`ReasonAccuracy`]: trained on the
/// churners whose labels resolved before the backtest cutoff, read on the
/// same listed churners, matched the same way.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReasonProbe {
    /// How it was trained, in words.
    pub method: String,
    /// Earlier churners it learned from.
    pub trained_on: usize,
    /// Of the listed explainable churners, those it named a matching cause for.
    pub matched: usize,
    pub accuracy: f64,
}

/// One known reason's row of the reason-accuracy table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReasonRow {
    pub reason: String,
    pub churners: usize,
    pub matched: usize,
    /// The causes Pulse named for them, most often first (cause, count).
    pub named: Vec<(String, usize)>,
    /// The features behind those causes (each churner's strongest
    /// risk-raising actionable driver), most often first (feature, count).
    pub drivers: Vec<(String, usize)>,
}

/// The model selection behind a served model: every candidate's
/// cross-validated figures on the training rows, the finalists' held-out
/// figures, and why the served one won.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CardSelection {
    pub folds: usize,
    /// What decided, in words.
    pub criterion: String,
    /// Best first.
    pub candidates: Vec<CardCandidate>,
    /// Name of the served candidate.
    pub served: String,
    /// Why it was served, in words.
    pub reason: String,
}

/// One candidate of a selection.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CardCandidate {
    pub name: String,
    pub cv_log_loss: f64,
    pub cv_roc_auc: f64,
    pub cv_pr_auc: f64,
    /// On the held-out rows, for the finalists (the best of each family).
    pub held_out: Option<Metrics>,
}

/// Time range of the training data (same units as `Dataset::time`; Pulse uses day numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataWindow {
    pub start: i64,
    pub end: i64,
}

/// Rows used for each part.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowCounts {
    pub train: usize,
    pub calibration: usize,
    pub test: usize,
}

/// Human- and machine-readable description of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Caller-chosen model version, e.g. `churn-gbt-2026-11-23`.
    pub version: String,
    pub kind: ModelKind,
    /// Set from the payload.
    pub algorithm: Algorithm,
    /// Caller-supplied timestamp (RFC 3339 recommended).
    pub created_at: String,
    pub data_window: Option<DataWindow>,
    pub rows: RowCounts,
    /// Positive rate of the training labels.
    pub label_rate: f64,
    /// Feature names in model column order (set from the payload).
    pub feature_schema: Vec<String>,
    /// Set from the payload.
    pub hyper_parameters: HyperParameters,
    /// Calibrator in the payload (set from the payload).
    pub calibration: CalibrationMethod,
    /// Held-out metrics, if evaluated.
    pub metrics: Option<Metrics>,
    /// Held-out reliability table, if evaluated.
    pub calibration_table: Vec<CalibrationBin>,
    /// Wall-clock training time measured by the caller.
    pub training_seconds: f64,
    /// SHA-256 (lower-case hex) of the payload bytes (set when written).
    pub sha256: String,
    /// The full comparison behind `metrics` (absent in artifacts that were not evaluated).
    #[serde(default)]
    pub evaluation: Option<CardEvaluation>,
    /// Plain statements a reader needs, e.g. how the served model relates to the evaluated one.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Tabular models: the table column that identifies a row (never a feature).
    #[serde(default)]
    pub id_column: Option<String>,
}

/// The caller-supplied part of a card; the rest is derived from the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardInfo {
    pub version: String,
    pub kind: ModelKind,
    pub created_at: String,
    pub data_window: Option<DataWindow>,
    pub rows: RowCounts,
    pub label_rate: f64,
    pub metrics: Option<Metrics>,
    pub calibration_table: Vec<CalibrationBin>,
    pub training_seconds: f64,
    #[serde(default)]
    pub evaluation: Option<CardEvaluation>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub id_column: Option<String>,
}

impl CardInfo {
    /// Card facts with no evaluation attached.
    pub fn new(version: impl Into<String>, kind: ModelKind, created_at: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            kind,
            created_at: created_at.into(),
            data_window: None,
            rows: RowCounts::default(),
            label_rate: 0.0,
            metrics: None,
            calibration_table: Vec::new(),
            training_seconds: 0.0,
            evaluation: None,
            notes: Vec::new(),
            id_column: None,
        }
    }

    /// Copies row counts, label rate, metrics and reliability table of `algorithm` from an
    /// evaluation report.
    pub fn with_evaluation(mut self, report: &EvaluationReport, algorithm: Algorithm) -> Self {
        let r = match algorithm {
            Algorithm::Gbt => &report.gbt,
            Algorithm::Logistic => &report.logistic,
        };
        self.rows = RowCounts {
            train: report.n_train,
            calibration: report.n_calibration,
            test: report.n_test,
        };
        self.label_rate = report.train_positive_rate;
        self.metrics = Some(r.metrics.clone());
        self.calibration_table = r.calibration_table.clone();
        self
    }
}

/// Everything needed to score.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModelPayload {
    pub model: CalibratedModel,
    /// Present when the model was trained from a generic table.
    pub encoder: Option<TableEncoder>,
    /// Rule-based health shown beside the model's probability.
    pub scorecard: Option<FittedScorecard>,
}

/// A card and its payload.
#[derive(Debug)]
pub struct ModelArtifact {
    pub card: ModelCard,
    pub payload: ModelPayload,
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    card: &'a ModelCard,
    payload: &'a RawValue,
}

#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    format: String,
    card: ModelCard,
    #[serde(borrow)]
    payload: &'a RawValue,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn schema_eq(
    context: &'static str,
    expected: &[String],
    actual: &[String],
) -> Result<(), ArtifactError> {
    if expected != actual {
        return Err(ArtifactError::SchemaMismatch {
            context,
            expected: expected.to_vec(),
            actual: actual.to_vec(),
        });
    }
    Ok(())
}

impl ModelPayload {
    fn check_consistency(&self) -> Result<(), ArtifactError> {
        let names = self.model.feature_names();
        if let Some(e) = &self.encoder {
            schema_eq("encoder output vs model", names, e.feature_names())?;
        }
        if let Some(s) = &self.scorecard {
            schema_eq("scorecard vs model", names, s.feature_names())?;
        }
        Ok(())
    }

    fn to_json(&self) -> Result<String, ArtifactError> {
        Ok(serde_json::to_string(self)?)
    }
}

impl ModelArtifact {
    /// Builds the card from `info` and the payload, and computes the payload hash.
    pub fn new(info: CardInfo, payload: ModelPayload) -> Result<Self, ArtifactError> {
        payload.check_consistency()?;
        let sha256 = sha256_hex(payload.to_json()?.as_bytes());
        let model = payload.model.model();
        let card = ModelCard {
            version: info.version,
            kind: info.kind,
            algorithm: model.algorithm(),
            created_at: info.created_at,
            data_window: info.data_window,
            rows: info.rows,
            label_rate: info.label_rate,
            feature_schema: model.feature_names().to_vec(),
            hyper_parameters: model.hyper_parameters(),
            calibration: payload.model.calibrator().method(),
            metrics: info.metrics,
            calibration_table: info.calibration_table,
            training_seconds: info.training_seconds,
            sha256,
            evaluation: info.evaluation,
            notes: info.notes,
            id_column: info.id_column,
        };
        Ok(Self { card, payload })
    }

    /// Writes the artifact as pretty-printed JSON (payload compact and hashed).
    pub fn write<W: Write>(&self, mut w: W) -> Result<(), ArtifactError> {
        let payload = self.payload.to_json()?;
        let mut card = self.card.clone();
        card.sha256 = sha256_hex(payload.as_bytes());
        let raw = RawValue::from_string(payload)?;
        serde_json::to_writer_pretty(
            &mut w,
            &EnvelopeOut {
                format: ARTIFACT_FORMAT,
                card: &card,
                payload: &raw,
            },
        )?;
        w.write_all(b"\n")?;
        w.flush()?;
        Ok(())
    }

    /// The artifact as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ArtifactError> {
        let mut out = Vec::new();
        self.write(&mut out)?;
        Ok(out)
    }

    /// Reads an artifact, verifying format, hash and internal schema consistency.
    pub fn read<R: Read>(mut r: R) -> Result<Self, ArtifactError> {
        let mut text = String::new();
        r.read_to_string(&mut text)?;
        Self::from_json(&text)
    }

    /// Like [`read`](Self::read), and also checks the caller's feature schema (names in order).
    pub fn read_expecting<R: Read>(r: R, feature_names: &[String]) -> Result<Self, ArtifactError> {
        let a = Self::read(r)?;
        a.check_schema(feature_names)?;
        Ok(a)
    }

    /// Parses and verifies an artifact held in memory.
    pub fn from_json(text: &str) -> Result<Self, ArtifactError> {
        let env: EnvelopeIn<'_> = serde_json::from_str(text)?;
        if env.format != ARTIFACT_FORMAT {
            return Err(ArtifactError::UnsupportedFormat {
                found: env.format,
                supported: ARTIFACT_FORMAT,
            });
        }
        let actual = sha256_hex(env.payload.get().as_bytes());
        if actual != env.card.sha256 {
            return Err(ArtifactError::HashMismatch {
                expected: env.card.sha256,
                actual,
            });
        }
        let payload: ModelPayload = serde_json::from_str(env.payload.get())?;
        schema_eq(
            "card vs model",
            &env.card.feature_schema,
            payload.model.feature_names(),
        )?;
        payload.check_consistency()?;
        Ok(Self {
            card: env.card,
            payload,
        })
    }

    /// Checks that `feature_names` is exactly the model's schema.
    pub fn check_schema(&self, feature_names: &[String]) -> Result<(), ArtifactError> {
        schema_eq(
            "caller vs model",
            self.payload.model.feature_names(),
            feature_names,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::CalibrationMethod;
    use crate::gbt::GbtParams;
    use crate::logistic::LogisticParams;
    use crate::model::Model;
    use crate::testutil::interaction_problem;

    fn artifact(algorithm: Algorithm) -> (ModelArtifact, crate::Dataset) {
        let (ds, _) = interaction_problem(600, 8);
        let idx: Vec<usize> = (0..600).collect();
        let train = ds.select_rows(&idx[..450]).unwrap();
        let cal = ds.select_rows(&idx[450..]).unwrap();
        let model: Model = match algorithm {
            Algorithm::Gbt => GbtParams::new()
                .iterations(20)
                .check()
                .unwrap()
                .fit(&train)
                .unwrap()
                .into(),
            Algorithm::Logistic => LogisticParams::new()
                .check()
                .unwrap()
                .fit(&train)
                .unwrap()
                .into(),
        };
        let cm = CalibratedModel::calibrate(model, &cal, CalibrationMethod::Platt).unwrap();
        let mut info = CardInfo::new("churn-test-1", ModelKind::Churn, "2026-11-23T00:00:00Z");
        info.data_window = Some(DataWindow {
            start: 100,
            end: 200,
        });
        info.training_seconds = 0.5;
        let probs = cm.predict_proba(cal.x()).unwrap();
        let metrics =
            Metrics::compute(probs.as_slice().unwrap(), cal.y(), crate::TopK::Count(10)).unwrap();
        info.evaluation = Some(CardEvaluation {
            method: "held-out rows".into(),
            cutoff: Some(150),
            models: [("gbt".to_string(), metrics)].into(),
            leakage: Some(crate::leakage_screen(&cal, 0.9).unwrap()),
            ..Default::default()
        });
        info.notes = vec!["a note".into()];
        let a = ModelArtifact::new(
            info,
            ModelPayload {
                model: cm,
                encoder: None,
                scorecard: None,
            },
        )
        .unwrap();
        (a, cal)
    }

    #[test]
    fn round_trip_preserves_predictions_and_card() {
        for algorithm in [Algorithm::Gbt, Algorithm::Logistic] {
            let (a, cal) = artifact(algorithm);
            let bytes = a.to_bytes().unwrap();
            let back = ModelArtifact::read(&bytes[..]).unwrap();
            assert_eq!(back.card, a.card);
            let json = serde_json::to_value(&back.card).unwrap();
            let m = &json["evaluation"]["models"]["gbt"];
            for key in ["roc_auc", "pr_auc", "brier", "ece", "lift_top_decile"] {
                assert!(m[key].is_number(), "{key}");
            }
            assert_eq!(json["notes"][0], "a note");
            assert_eq!(back.card.algorithm, algorithm);
            assert_eq!(back.card.feature_schema, vec!["a", "b", "c", "d"]);
            assert_eq!(
                back.payload.model.predict_proba(cal.x()).unwrap(),
                a.payload.model.predict_proba(cal.x()).unwrap()
            );
            // Writing again gives identical bytes.
            assert_eq!(back.to_bytes().unwrap(), bytes);
            let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
            assert!(ModelArtifact::read_expecting(&bytes[..], &names).is_ok());
        }
    }

    #[test]
    fn refuses_tampered_payload() {
        let (a, _) = artifact(Algorithm::Logistic);
        let text = String::from_utf8(a.to_bytes().unwrap()).unwrap();
        // Change one coefficient digit inside the payload.
        let at = text.find("\"coefficients\":[").unwrap() + "\"coefficients\":[".len();
        let mut tampered = text.clone();
        let digit_at = at + tampered[at..].find(|c: char| c.is_ascii_digit()).unwrap();
        let d = tampered.as_bytes()[digit_at];
        let nd = if d == b'9' { "1" } else { "9" };
        tampered.replace_range(digit_at..digit_at + 1, nd);
        match ModelArtifact::read(tampered.as_bytes()) {
            Err(ArtifactError::HashMismatch { expected, actual }) => {
                assert_eq!(expected, a.card.sha256);
                assert_ne!(actual, expected);
            }
            other => panic!("expected HashMismatch, got {other:?}"),
        }
        // A tampered card hash is caught the same way.
        let bad_card = text.replace(&a.card.sha256, &"0".repeat(64));
        assert!(matches!(
            ModelArtifact::read(bad_card.as_bytes()),
            Err(ArtifactError::HashMismatch { .. })
        ));
        let bad_format = text.replace(ARTIFACT_FORMAT, "pulse-model/999");
        assert!(matches!(
            ModelArtifact::read(bad_format.as_bytes()),
            Err(ArtifactError::UnsupportedFormat { .. })
        ));
        assert!(matches!(
            ModelArtifact::read(&b"{"[..]),
            Err(ArtifactError::Json(_))
        ));
    }

    /// The generic tabular path end to end: the encoder travels inside the artifact, and a new
    /// table with an unseen category and a blank cell scores with the training encoding.
    #[test]
    fn table_encoder_travels_with_the_artifact() {
        use crate::rng::SplitMix64;
        use crate::tabular::{EncoderOptions, LabelSpec, Table, TableEncoder};
        let mut r = SplitMix64::new(5);
        let plans = ["Basic", "Pro", "Enterprise"];
        let columns = vec![
            "id".to_string(),
            "plan".into(),
            "seats_used".into(),
            "churned".into(),
        ];
        let rows: Vec<Vec<String>> = (0..400)
            .map(|i| {
                let plan = plans[r.below(3)];
                let used = r.next_f64();
                let risk = if plan == "Basic" { 0.5 } else { 0.1 } + 0.4 * (1.0 - used);
                let churned = if r.next_f64() < risk { "Yes" } else { "No" };
                let used = if i % 10 == 0 {
                    "NA".to_string()
                } else {
                    format!("{used:.3}")
                };
                vec![i.to_string(), plan.to_string(), used, churned.to_string()]
            })
            .collect();
        let table = Table::new(columns.clone(), rows).unwrap();
        let options = EncoderOptions {
            drop_columns: vec!["id".into()],
            ..Default::default()
        };
        let encoder = TableEncoder::fit(&table, &LabelSpec::binary("churned"), &options).unwrap();
        let ds = encoder.dataset(&table).unwrap();
        let model = GbtParams::new()
            .iterations(20)
            .check()
            .unwrap()
            .fit(&ds)
            .unwrap();
        let cm = CalibratedModel::new(model.into(), crate::Calibrator::Identity).unwrap();
        let info = CardInfo::new("tabular-1", ModelKind::Churn, "2026-11-23T00:00:00Z");
        let payload = ModelPayload {
            model: cm,
            encoder: Some(encoder),
            scorecard: None,
        };
        let bytes = ModelArtifact::new(info, payload)
            .unwrap()
            .to_bytes()
            .unwrap();
        let back = ModelArtifact::read(&bytes[..]).unwrap();
        let enc = back.payload.encoder.as_ref().unwrap();
        // New table: different column order, no label, an unseen plan and a blank cell.
        let new = Table::new(
            vec!["seats_used".into(), "plan".into(), "id".into()],
            vec![
                vec!["0.9".into(), "Pro".into(), "a".into()],
                vec!["".into(), "Platinum".into(), "b".into()],
            ],
        )
        .unwrap();
        let x = enc.transform(&new).unwrap();
        assert!(x[[1, 0]].is_nan() && x[[1, 1]].is_nan());
        let p = back.payload.model.predict_proba(x.view()).unwrap();
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
        let s = back.payload.model.score_row(&x.row(1).to_vec()).unwrap();
        assert!((s.base_value + s.contributions.iter().sum::<f64>() - s.margin).abs() < 1e-6);
        // An encoder whose output does not match the model is refused at construction.
        let other = TableEncoder::fit(
            &table,
            &LabelSpec::binary("churned"),
            &EncoderOptions {
                drop_columns: vec![],
                ..Default::default()
            },
        )
        .unwrap();
        let (a, _) = artifact(Algorithm::Gbt);
        let payload = ModelPayload {
            model: a.payload.model,
            encoder: Some(other),
            scorecard: None,
        };
        assert!(matches!(
            ModelArtifact::new(CardInfo::new("x", ModelKind::Expansion, "t"), payload),
            Err(ArtifactError::SchemaMismatch {
                context: "encoder output vs model",
                ..
            })
        ));
    }

    #[test]
    fn refuses_wrong_schema() {
        let (a, _) = artifact(Algorithm::Gbt);
        let bytes = a.to_bytes().unwrap();
        let swapped: Vec<String> = ["b", "a", "c", "d"].iter().map(|s| s.to_string()).collect();
        match ModelArtifact::read_expecting(&bytes[..], &swapped) {
            Err(ArtifactError::SchemaMismatch {
                context,
                expected,
                actual,
            }) => {
                assert_eq!(context, "caller vs model");
                assert_eq!(expected[0], "a");
                assert_eq!(actual[0], "b");
            }
            other => panic!("expected SchemaMismatch, got {other:?}"),
        }
        // A card whose schema disagrees with its (untampered) payload.
        let text = String::from_utf8(bytes).unwrap();
        let card_end = text.find("\"payload\"").unwrap();
        let (card_part, rest) = text.split_at(card_end);
        let card_part = card_part.replacen("\"d\"", "\"e\"", 1);
        let edited = format!("{card_part}{rest}");
        assert!(matches!(
            ModelArtifact::read(edited.as_bytes()),
            Err(ArtifactError::SchemaMismatch {
                context: "card vs model",
                ..
            })
        ));
    }
}
