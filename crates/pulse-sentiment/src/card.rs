//! Training with a held-out split and the card of the result: where the
//! training text came from, how it was split and the held-out numbers.
//!
//! Shared by `pulse sentiment train` and `ModelService.TrainSentiment`, so
//! both report the same figures for the same corpus and seed.

use std::path::{Path, PathBuf};

use pulse_core::Sentiment;
use serde::{Deserialize, Serialize};

use crate::corpus::stratified_split;
use crate::error::SentimentError;
use crate::eval::{Evaluation, evaluate};
use crate::model::{SentimentModel, TrainParams, class_index};

/// Share of every label held out by [`train_held_out`].
pub const HELD_OUT_FRACTION: f64 = 0.2;

/// Seed of the held-out split and of training when none is given.
pub const DEFAULT_SEED: u64 = 2015;

/// Where a model's training text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingSource {
    /// A labelled `text,label` corpus.
    Corpus,
    /// Stored interaction and survey text weakly labelled by the CSAT or NPS
    /// score beside it (see [`weak_label`](crate::weak_label)).
    WeakLabels,
}

impl TrainingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TrainingSource::Corpus => "corpus",
            TrainingSource::WeakLabels => "weak_labels",
        }
    }
}

/// What [`train_held_out`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOutReport {
    pub seed: u64,
    pub held_out_fraction: f64,
    pub train_documents: usize,
    pub held_out_documents: usize,
    /// Accuracy, macro-F1, per class and confusion on the held-out part.
    pub evaluation: Evaluation,
}

/// A trained sentiment model's card, kept beside it in the model registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentCard {
    /// The registry id (`sentiment-v3`); empty until the registry saves it.
    pub version: String,
    /// The model's content fingerprint ([`SentimentModel::version`]), which
    /// is stored beside every score it produces.
    pub fingerprint: String,
    /// RFC 3339, passed in by the caller.
    pub created_at: String,
    pub source: TrainingSource,
    pub held_out: HeldOutReport,
    /// Vocabulary size (word and character features).
    pub features: usize,
}

impl SentimentCard {
    pub fn new(
        model: &SentimentModel,
        source: TrainingSource,
        held_out: HeldOutReport,
        created_at: impl Into<String>,
    ) -> Self {
        SentimentCard {
            version: String::new(),
            fingerprint: model.version().to_owned(),
            created_at: created_at.into(),
            source,
            held_out,
            features: model.vocabulary_len(),
        }
    }
}

/// Where the card of a model file is kept: `NAME.card.json` beside
/// `NAME.json` (`sentiment-default.json` -> `sentiment-default.card.json`).
pub fn card_path(model_path: &Path) -> PathBuf {
    let stem = model_path
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    model_path.with_file_name(format!("{stem}.card.json"))
}

/// Writes `card` beside the model file at `model_path` (see [`card_path`]).
pub fn write_card_beside(
    model_path: &Path,
    card: &SentimentCard,
) -> Result<PathBuf, SentimentError> {
    let path = card_path(model_path);
    let mut json = serde_json::to_vec_pretty(card)?;
    json.push(b'\n');
    std::fs::write(&path, json).map_err(|e| SentimentError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(path)
}

/// The card kept beside the model file at `model_path`: `Ok(None)` when there
/// is none, an error when it cannot be read or describes another model (its
/// fingerprint is not `model`'s).
pub fn read_card_beside(
    model_path: &Path,
    model: &SentimentModel,
) -> Result<Option<SentimentCard>, SentimentError> {
    let path = card_path(model_path);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SentimentError::Io {
                path: path.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    let card: SentimentCard = serde_json::from_str(&text)?;
    if card.fingerprint != model.version() {
        return Err(SentimentError::InvalidModel {
            reason: format!(
                "{} describes model {}, not {}: retrain, or delete the stale card",
                path.display(),
                card.fingerprint,
                model.version()
            ),
        });
    }
    Ok(Some(card))
}

/// Trains on `1 - HELD_OUT_FRACTION` of `docs` (stratified by label, seeded)
/// and evaluates on the rest.
pub fn train_held_out(
    docs: Vec<(String, Sentiment)>,
    seed: u64,
) -> Result<(SentimentModel, HeldOutReport), SentimentError> {
    if docs.is_empty() {
        return Err(SentimentError::EmptyCorpus);
    }
    let (train, held_out) = stratified_split(docs, HELD_OUT_FRACTION, seed, |d| class_index(d.1));
    let train_refs: Vec<(&str, Sentiment)> = train.iter().map(|(t, l)| (t.as_str(), *l)).collect();
    let held_refs: Vec<(&str, Sentiment)> =
        held_out.iter().map(|(t, l)| (t.as_str(), *l)).collect();
    let params = TrainParams {
        seed,
        ..TrainParams::default()
    };
    let model = SentimentModel::train(&train_refs, &params)?;
    let evaluation = evaluate(&model, &held_refs);
    Ok((
        model,
        HeldOutReport {
            seed,
            held_out_fraction: HELD_OUT_FRACTION,
            train_documents: train.len(),
            held_out_documents: held_out.len(),
            evaluation,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_training_reports_its_split_and_the_card_round_trips() {
        let corpus = crate::model::tests::toy_corpus();
        let docs: Vec<(String, Sentiment)> = corpus
            .iter()
            .cycle()
            .take(corpus.len() * 5)
            .map(|(t, l)| (t.to_string(), *l))
            .collect();
        let n = docs.len();
        let (model, report) = train_held_out(docs, 7).unwrap();
        assert_eq!(report.train_documents + report.held_out_documents, n);
        assert_eq!(report.evaluation.documents, report.held_out_documents);
        // Every held-out text was also seen in training here.
        assert!(report.evaluation.macro_f1 > 0.9, "{report:?}");
        let card = SentimentCard::new(
            &model,
            TrainingSource::Corpus,
            report,
            "2026-11-30T00:00:00Z",
        );
        assert_eq!(card.fingerprint, model.version());
        let json = serde_json::to_string(&card).unwrap();
        assert!(json.contains("\"source\":\"corpus\""), "{json}");
        let back: SentimentCard = serde_json::from_str(&json).unwrap();
        // Floats may move in their last bit through JSON; the rest is exact.
        assert_eq!(back.fingerprint, card.fingerprint);
        assert_eq!(
            back.held_out.evaluation.confusion,
            card.held_out.evaluation.confusion
        );
        assert!(
            (back.held_out.evaluation.macro_f1 - card.held_out.evaluation.macro_f1).abs() < 1e-12
        );
        assert!(matches!(
            train_held_out(Vec::new(), 1),
            Err(SentimentError::EmptyCorpus)
        ));
    }

    #[test]
    fn a_card_is_kept_beside_its_model_file_and_refused_for_another_model() {
        let corpus = crate::model::tests::toy_corpus();
        let docs = |n: usize| -> Vec<(String, Sentiment)> {
            corpus
                .iter()
                .cycle()
                .take(corpus.len() * n)
                .map(|(t, l)| (t.to_string(), *l))
                .collect()
        };
        let dir = std::env::temp_dir().join(format!("pulse-card-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model_path = dir.join("sentiment-default.json");
        assert_eq!(
            card_path(&model_path),
            dir.join("sentiment-default.card.json")
        );

        let (model, report) = train_held_out(docs(5), 7).unwrap();
        assert!(read_card_beside(&model_path, &model).unwrap().is_none());
        let card = SentimentCard::new(
            &model,
            TrainingSource::Corpus,
            report,
            "2026-12-04T00:00:00Z",
        );
        write_card_beside(&model_path, &card).unwrap();
        let back = read_card_beside(&model_path, &model).unwrap().unwrap();
        assert_eq!(back.fingerprint, model.version());
        assert_eq!(back.held_out.train_documents, card.held_out.train_documents);

        let (other, _) = train_held_out(docs(6), 8).unwrap();
        assert_ne!(other.version(), model.version());
        let err = read_card_beside(&model_path, &other)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sentiment-default.card.json") && err.contains(other.version()),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
