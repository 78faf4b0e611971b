//! The model registry on disk: one directory (default `<data_dir>/models`)
//! holding `<kind>-v<N>.json` artifacts (`table-v<N>.json` for models trained
//! from a table) and `registry.json`, which records the promoted version of
//! each kind and every promotion so far.
//!
//! - A new artifact is written to a temporary file in the directory, synced,
//!   then hard-linked to its versioned name, which fails if the name exists:
//!   two processes saving at once claim different versions and no artifact is
//!   ever overwritten.
//! - `registry.json` is replaced atomically (temporary file, sync, rename), so
//!   a reader sees the old or the new promotion, never a half-written file.
//!   Promotions from one process are serialised by a lock; two processes
//!   promoting at the same instant can lose one update (the last rename wins).
//! - Loading verifies the payload hash and, for account models, that the
//!   feature schema is this build's, and refuses a mismatch.
//! - Sentiment models are `sentiment-v<N>.json`: `{"format", "card", "model"}`
//!   with the [`SentimentCard`] and the model JSON; loading checks that the
//!   model's content fingerprint is the card's. `registry.json` records the
//!   promoted one under the kind `sentiment`.
//! - Survival models are `survival-v<N>.json`: `{"format", "model"}` with the
//!   [`SurvivalModel`] (its card inside). Every training run that fits churn
//!   saves one; the newest is the one in service (no promotion step).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::registry::{
    ModelRegistry, Promotion, RegistryEntry, RegistryError, SentimentEntry, SentimentPromotion,
};
use pulse_forecast::SurvivalModel;
use pulse_models::{ArtifactError, ModelArtifact, ModelCard, ModelKind};
use pulse_sentiment::{SentimentCard, SentimentModel};
use serde::{Deserialize, Serialize};

const INDEX: &str = "registry.json";
const INDEX_FORMAT: &str = "pulse-registry/1";
/// Format of a sentiment model file in the registry.
const SENTIMENT_FORMAT: &str = "pulse-sentiment-artifact/1";
/// The family (file prefix) and promotion key of sentiment models.
const SENTIMENT: &str = "sentiment";
/// The family (file prefix) of survival models and their file format.
const SURVIVAL: &str = "survival";
const SURVIVAL_FORMAT: &str = "pulse-survival/1";

/// The registry directory.
#[derive(Debug)]
pub struct DirRegistry {
    dir: PathBuf,
    lock: Mutex<()>,
    /// Stamps each promotion in the index's history.
    clock: pulse_core::Clock,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    format: String,
    /// Kind -> promoted version.
    promoted: BTreeMap<String, String>,
    /// Every promotion, oldest first.
    history: Vec<PromotionRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PromotionRecord {
    kind: String,
    version: String,
    previous: Option<String>,
    at: String,
}

/// Only the card of an artifact file (the payload is skipped, not parsed).
#[derive(Deserialize)]
struct CardOnly {
    card: ModelCard,
}

/// A sentiment model file as written.
#[derive(Serialize)]
struct SentimentFileRef<'a> {
    format: &'a str,
    card: &'a SentimentCard,
    model: &'a SentimentModel,
}

/// A sentiment model file as read.
#[derive(Deserialize)]
struct SentimentFile {
    format: String,
    card: SentimentCard,
    model: SentimentModel,
}

/// A survival model file as written.
#[derive(Serialize)]
struct SurvivalFileRef<'a> {
    format: &'a str,
    model: &'a SurvivalModel,
}

/// A survival model file as read.
#[derive(Deserialize)]
struct SurvivalFile {
    format: String,
    model: SurvivalModel,
}

/// Only the card of a survival model file.
#[derive(Deserialize)]
struct SurvivalCardFile {
    model: SurvivalCardOnly,
}

#[derive(Deserialize)]
struct SurvivalCardOnly {
    card: pulse_forecast::SurvivalCard,
}

/// Only the card of a sentiment model file.
#[derive(Deserialize)]
struct SentimentCardOnly {
    card: SentimentCard,
}

fn storage(context: impl std::fmt::Display, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Storage(format!("{context}: {e}"))
}

/// `churn-v3` -> ("churn", 3).
fn parse_version(v: &str) -> Option<(&str, u64)> {
    let (family, n) = v.rsplit_once("-v")?;
    let n: u64 = n.parse().ok()?;
    matches!(
        family,
        "churn" | "expansion" | "table" | SENTIMENT | SURVIVAL
    )
    .then_some((family, n))
}

fn family_of(a: &ModelArtifact) -> &'static str {
    if a.payload.encoder.is_some() {
        "table"
    } else {
        a.card.kind.as_str()
    }
}

/// A short, actionable reason for an artifact that fails its checks.
fn refusal(e: &ArtifactError) -> String {
    match e {
        ArtifactError::SchemaMismatch {
            context,
            expected,
            actual,
        } => {
            let at = expected
                .iter()
                .zip(actual)
                .position(|(a, b)| a != b)
                .unwrap_or(expected.len().min(actual.len()));
            format!(
                "feature schema mismatch ({context}): {} vs {} features, first difference at column {at} ({:?} vs {:?}); retrain with `pulse train`",
                expected.len(),
                actual.len(),
                expected.get(at).map(String::as_str).unwrap_or("-"),
                actual.get(at).map(String::as_str).unwrap_or("-"),
            )
        }
        ArtifactError::HashMismatch { expected, actual } => format!(
            "payload hash mismatch (card says {expected}, payload hashes to {actual}): the file was changed or corrupted; retrain or restore it"
        ),
        other => other.to_string(),
    }
}

impl DirRegistry {
    /// Opens (creating if needed) the registry directory.
    pub fn open(dir: &Path, clock: pulse_core::Clock) -> Result<Self, RegistryError> {
        fs::create_dir_all(dir)
            .map_err(|e| storage(format!("creating the model directory {}", dir.display()), e))?;
        Ok(DirRegistry {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
            clock,
        })
    }

    /// The clock promotions are stamped with (the configuration's).
    pub fn clock(&self) -> &pulse_core::Clock {
        &self.clock
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of a version; only names this registry writes are accepted.
    pub fn path_of(&self, version: &str) -> Result<PathBuf, RegistryError> {
        if parse_version(version).is_none() {
            return Err(RegistryError::NotFound {
                version: version.to_string(),
            });
        }
        Ok(self.dir.join(format!("{version}.json")))
    }

    fn read_text(&self, version: &str) -> Result<String, RegistryError> {
        let path = self.path_of(version)?;
        match fs::read_to_string(&path) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(RegistryError::NotFound {
                version: version.to_string(),
            }),
            Err(e) => Err(storage(path.display(), e)),
        }
    }

    /// A version's card, without verifying the payload.
    pub fn card(&self, version: &str) -> Result<ModelCard, RegistryError> {
        let text = self.read_text(version)?;
        let c: CardOnly = serde_json::from_str(&text).map_err(|e| RegistryError::Refused {
            version: version.to_string(),
            reason: format!("not a model artifact: {e}"),
        })?;
        Ok(c.card)
    }

    fn read_index(&self) -> Result<Index, RegistryError> {
        let path = self.dir.join(INDEX);
        match fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| storage(path.display(), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index {
                format: INDEX_FORMAT.into(),
                ..Index::default()
            }),
            Err(e) => Err(storage(path.display(), e)),
        }
    }

    /// Writes `bytes` to a new temporary file in the directory and syncs it.
    fn temp_file(&self, bytes: &[u8]) -> Result<PathBuf, RegistryError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self.dir.join(format!(".tmp-{}-{n}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()
        };
        write().map_err(|e| storage(tmp.display(), e))?;
        Ok(tmp)
    }

    fn write_index(&self, index: &Index) -> Result<(), RegistryError> {
        let bytes = serde_json::to_vec_pretty(index).map_err(|e| storage(INDEX, e))?;
        let tmp = self.temp_file(&bytes)?;
        let path = self.dir.join(INDEX);
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            storage(path.display(), e)
        })?;
        // Make the rename itself durable.
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Writes the bytes `encode` makes for each candidate version to the next
    /// free `<family>-v<N>.json` and returns that version.
    fn claim(
        &self,
        family: &str,
        mut encode: impl FnMut(&str) -> Result<Vec<u8>, RegistryError>,
    ) -> Result<String, RegistryError> {
        let mut n = self
            .versions()?
            .iter()
            .filter_map(|v| parse_version(v))
            .filter(|(f, _)| *f == family)
            .map(|(_, n)| n)
            .max()
            .unwrap_or(0);
        loop {
            n += 1;
            let version = format!("{family}-v{n}");
            let bytes = encode(&version)?;
            let tmp = self.temp_file(&bytes)?;
            let path = self.path_of(&version)?;
            let linked = fs::hard_link(&tmp, &path);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => break Ok(version),
                // Another process claimed this version: take the next one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => break Err(storage(path.display(), e)),
            }
        }
    }

    /// The newest survival model's version (the one in service).
    fn newest_survival(&self) -> Result<Option<String>, RegistryError> {
        Ok(self
            .versions()?
            .into_iter()
            .filter_map(|v| {
                let n = parse_version(&v).filter(|(f, _)| *f == SURVIVAL)?.1;
                Some((n, v))
            })
            .max()
            .map(|(_, v)| v))
    }

    fn versions(&self) -> Result<Vec<String>, RegistryError> {
        let entries = fs::read_dir(&self.dir).map_err(|e| storage(self.dir.display(), e))?;
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(|e| storage(self.dir.display(), e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(v) = name.strip_suffix(".json")
                && parse_version(v).is_some()
            {
                out.push(v.to_string());
            }
        }
        Ok(out)
    }
}

impl ModelRegistry for DirRegistry {
    fn list(&self) -> Result<Vec<RegistryEntry>, RegistryError> {
        let index = self.read_index()?;
        let mut out = Vec::new();
        for v in self.versions()? {
            if v.starts_with("sentiment-") || v.starts_with("survival-") {
                continue;
            }
            let card = match self.card(&v) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(version = %v, error = %e, "skipping unreadable model file");
                    continue;
                }
            };
            out.push(RegistryEntry {
                promoted: index.promoted.get(card.kind.as_str()) == Some(&v),
                tabular: v.starts_with("table-"),
                card,
            });
        }
        // Newest first: by creation time, then by version number.
        out.sort_by(|a, b| {
            let n = |e: &RegistryEntry| parse_version(&e.card.version).map_or(0, |p| p.1);
            b.card
                .created_at
                .cmp(&a.card.created_at)
                .then(n(b).cmp(&n(a)))
                .then(b.card.version.cmp(&a.card.version))
        });
        Ok(out)
    }

    fn get(&self, version: &str) -> Result<ModelArtifact, RegistryError> {
        if version.starts_with("sentiment-") {
            return Err(RegistryError::Refused {
                version: version.to_string(),
                reason: "it is a sentiment model: it scores text, not accounts or tables".into(),
            });
        }
        let text = self.read_text(version)?;
        let refused = |e: ArtifactError| RegistryError::Refused {
            version: version.to_string(),
            reason: refusal(&e),
        };
        let a = ModelArtifact::from_json(&text).map_err(refused)?;
        if a.card.version != version {
            return Err(RegistryError::Refused {
                version: version.to_string(),
                reason: format!(
                    "the file holds model {}; was it renamed? restore its name",
                    a.card.version
                ),
            });
        }
        if a.payload.encoder.is_none() {
            pulse_training::check_account_model(&a).map_err(refused)?;
        }
        Ok(a)
    }

    fn save(&self, mut artifact: ModelArtifact) -> Result<RegistryEntry, RegistryError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let family = family_of(&artifact);
        self.claim(family, |version| {
            artifact.card.version = version.to_string();
            artifact
                .to_bytes()
                .map_err(|e| storage("encoding the artifact", e))
        })?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        let index = self.read_index()?;
        Ok(RegistryEntry {
            promoted: index.promoted.get(artifact.card.kind.as_str())
                == Some(&artifact.card.version),
            tabular: family == "table",
            card: artifact.card,
        })
    }

    fn promote(&self, version: &str) -> Result<Promotion, RegistryError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let a = self.get(version)?;
        if a.payload.encoder.is_some() {
            return Err(RegistryError::Refused {
                version: version.to_string(),
                reason: "it was trained from a table: it scores tables (`pulse score --table`), not accounts, so it cannot serve a kind".into(),
            });
        }
        let kind = a.card.kind;
        let mut index = self.read_index()?;
        index.format = INDEX_FORMAT.into();
        let previous = index
            .promoted
            .insert(kind.as_str().to_string(), version.to_string());
        index.history.push(PromotionRecord {
            kind: kind.as_str().to_string(),
            version: version.to_string(),
            previous: previous.clone(),
            at: self.clock.now_rfc3339(),
        });
        self.write_index(&index)?;
        Ok(Promotion {
            kind,
            version: version.to_string(),
            previous,
        })
    }

    fn promoted(&self, kind: ModelKind) -> Result<Option<String>, RegistryError> {
        Ok(self.read_index()?.promoted.get(kind.as_str()).cloned())
    }

    fn list_sentiment(&self) -> Result<Vec<SentimentEntry>, RegistryError> {
        let promoted = self.promoted_sentiment()?;
        let mut out = Vec::new();
        for v in self.versions()? {
            if parse_version(&v).is_none_or(|(f, _)| f != SENTIMENT) {
                continue;
            }
            match self.sentiment_card(&v) {
                Ok(card) => out.push(SentimentEntry {
                    promoted: promoted.as_deref() == Some(v.as_str()),
                    card,
                }),
                Err(e) => {
                    tracing::warn!(version = %v, error = %e, "skipping unreadable sentiment model file")
                }
            }
        }
        out.sort_by(|a, b| {
            let n = |e: &SentimentEntry| parse_version(&e.card.version).map_or(0, |p| p.1);
            b.card
                .created_at
                .cmp(&a.card.created_at)
                .then(n(b).cmp(&n(a)))
        });
        Ok(out)
    }

    fn save_sentiment(
        &self,
        mut card: SentimentCard,
        model: &SentimentModel,
    ) -> Result<SentimentEntry, RegistryError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        card.fingerprint = model.version().to_string();
        self.claim(SENTIMENT, |version| {
            card.version = version.to_string();
            serde_json::to_vec(&SentimentFileRef {
                format: SENTIMENT_FORMAT,
                card: &card,
                model,
            })
            .map_err(|e| storage("encoding the sentiment model", e))
        })?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        let promoted = self.promoted_sentiment()?.as_deref() == Some(card.version.as_str());
        Ok(SentimentEntry { card, promoted })
    }

    fn get_sentiment(&self, version: &str) -> Result<SentimentModel, RegistryError> {
        if parse_version(version).is_none_or(|(f, _)| f != SENTIMENT) {
            return Err(RegistryError::NotFound {
                version: version.to_string(),
            });
        }
        let text = self.read_text(version)?;
        let refused = |reason: String| RegistryError::Refused {
            version: version.to_string(),
            reason,
        };
        let f: SentimentFile = serde_json::from_str(&text)
            .map_err(|e| refused(format!("not a readable sentiment model file: {e}")))?;
        if f.format != SENTIMENT_FORMAT {
            return Err(refused(format!(
                "format '{}' is not '{SENTIMENT_FORMAT}'",
                f.format
            )));
        }
        if f.card.version != version {
            return Err(refused(format!(
                "the file holds model {}; was it renamed? restore its name",
                f.card.version
            )));
        }
        if f.model.version() != f.card.fingerprint {
            return Err(refused(format!(
                "the model's fingerprint is {}, its card says {}: the file was changed or corrupted; retrain or restore it",
                f.model.version(),
                f.card.fingerprint
            )));
        }
        Ok(f.model)
    }

    fn promote_sentiment(&self, version: &str) -> Result<SentimentPromotion, RegistryError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.get_sentiment(version)?;
        let mut index = self.read_index()?;
        index.format = INDEX_FORMAT.into();
        let previous = index
            .promoted
            .insert(SENTIMENT.to_string(), version.to_string());
        index.history.push(PromotionRecord {
            kind: SENTIMENT.to_string(),
            version: version.to_string(),
            previous: previous.clone(),
            at: self.clock.now_rfc3339(),
        });
        self.write_index(&index)?;
        Ok(SentimentPromotion {
            version: version.to_string(),
            previous,
        })
    }

    fn sentiment_card(&self, version: &str) -> Result<SentimentCard, RegistryError> {
        let text = self.read_text(version)?;
        let c: SentimentCardOnly =
            serde_json::from_str(&text).map_err(|e| RegistryError::Refused {
                version: version.to_string(),
                reason: format!("not a sentiment model file: {e}"),
            })?;
        Ok(c.card)
    }

    fn promoted_sentiment(&self) -> Result<Option<String>, RegistryError> {
        Ok(self.read_index()?.promoted.get(SENTIMENT).cloned())
    }

    fn save_survival(&self, model: &mut SurvivalModel) -> Result<String, RegistryError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let version = self.claim(SURVIVAL, |version| {
            model.card.version = version.to_string();
            serde_json::to_vec(&SurvivalFileRef {
                format: SURVIVAL_FORMAT,
                model,
            })
            .map_err(|e| storage("encoding the survival model", e))
        })?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(version)
    }

    fn latest_survival(&self) -> Result<Option<SurvivalModel>, RegistryError> {
        let Some(version) = self.newest_survival()? else {
            return Ok(None);
        };
        let text = self.read_text(&version)?;
        let refused = |reason: String| RegistryError::Refused {
            version: version.clone(),
            reason,
        };
        let f: SurvivalFile = serde_json::from_str(&text)
            .map_err(|e| refused(format!("not a readable survival model file: {e}")))?;
        if f.format != SURVIVAL_FORMAT {
            return Err(refused(format!(
                "format '{}' is not '{SURVIVAL_FORMAT}'",
                f.format
            )));
        }
        f.model.check().map_err(|e| refused(e.to_string()))?;
        Ok(Some(f.model))
    }

    fn latest_survival_card(&self) -> Result<Option<pulse_forecast::SurvivalCard>, RegistryError> {
        let Some(version) = self.newest_survival()? else {
            return Ok(None);
        };
        let text = self.read_text(&version)?;
        let f: SurvivalCardFile =
            serde_json::from_str(&text).map_err(|e| storage(format!("reading {version}"), e))?;
        Ok(Some(f.model.card))
    }

    fn list_survival(&self) -> Result<Vec<pulse_forecast::SurvivalCard>, RegistryError> {
        let mut versions: Vec<(u64, String)> = self
            .versions()?
            .into_iter()
            .filter_map(|v| {
                let n = parse_version(&v).filter(|(f, _)| *f == SURVIVAL)?.1;
                Some((n, v))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        let mut out = Vec::new();
        for (_, v) in versions {
            let card = self.read_text(&v).and_then(|text| {
                serde_json::from_str::<SurvivalCardFile>(&text)
                    .map_err(|e| storage(format!("reading {v}"), e))
            });
            match card {
                Ok(f) => out.push(f.model.card),
                Err(e) => {
                    tracing::warn!(version = %v, error = %e, "skipping unreadable survival model file")
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use pulse_models::{CalibratedModel, Calibrator, CardInfo, Dataset, GbtParams, ModelPayload};

    use super::*;

    /// A tiny but real artifact over this build's feature schema.
    fn artifact(kind: ModelKind, names: Vec<String>) -> ModelArtifact {
        let n = 200;
        let p = names.len();
        let x = ndarray_like(n, p);
        let y: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
        let ds = Dataset::new(x, y, names).unwrap();
        let m = GbtParams::new()
            .iterations(3)
            .check()
            .unwrap()
            .fit(&ds)
            .unwrap();
        let model = CalibratedModel::new(m.into(), Calibrator::Identity).unwrap();
        ModelArtifact::new(
            CardInfo::new(format!("{kind}-unsaved"), kind, "2026-11-23T00:00:00Z"),
            ModelPayload {
                model,
                encoder: None,
                scorecard: None,
            },
        )
        .unwrap()
    }

    fn ndarray_like(n: usize, p: usize) -> ndarray::Array2<f64> {
        ndarray::Array2::from_shape_fn((n, p), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f64 + (i % 3) as f64
        })
    }

    #[test]
    fn survival_models_are_saved_apart_and_the_newest_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let reg = DirRegistry::open(dir.path(), pulse_core::Clock::fixed(1_780_000_000)).unwrap();
        assert!(reg.latest_survival().unwrap().is_none());
        let names = pulse_forecast::hazard_feature_names();
        let n = 200;
        let ds = Dataset::new(
            ndarray_like(n, names.len()),
            (0..n).map(|i| i % 3 == 0).collect(),
            names,
        )
        .unwrap();
        let gbt = GbtParams::new()
            .iterations(3)
            .check()
            .unwrap()
            .fit(&ds)
            .unwrap();
        let card: pulse_forecast::SurvivalCard = serde_json::from_value(serde_json::json!({
            "version": "survival-unsaved", "created_at": "2026-11-30T00:00:00Z",
            "data_start": "2025-01-01", "data_end": "2026-11-22", "interval_days": 30,
            "intervals": 13, "rows": n, "events": 67, "accounts": 50,
            "calibration": [], "notes": []
        }))
        .unwrap();
        let mut m = SurvivalModel::new(card, gbt.into()).unwrap();
        assert_eq!(reg.save_survival(&mut m).unwrap(), "survival-v1");
        assert_eq!(reg.save_survival(&mut m).unwrap(), "survival-v2");
        let back = reg.latest_survival().unwrap().unwrap();
        assert_eq!(back.card.version, "survival-v2");
        let listed: Vec<String> = reg
            .list_survival()
            .unwrap()
            .into_iter()
            .map(|c| c.version)
            .collect();
        assert_eq!(listed, ["survival-v2", "survival-v1"]);
        assert_eq!(
            reg.latest_survival_card().unwrap().map(|c| c.version),
            Some("survival-v2".to_string())
        );
        // Not listed with the account models.
        reg.save(artifact(ModelKind::Churn, pulse_training::feature_names()))
            .unwrap();
        let listed: Vec<String> = reg
            .list()
            .unwrap()
            .into_iter()
            .map(|e| e.card.version)
            .collect();
        assert_eq!(listed, ["churn-v1"]);
        // A file of another format is refused, not served.
        std::fs::write(dir.path().join("survival-v3.json"), "{\"format\": \"x\"}").unwrap();
        assert!(matches!(
            reg.latest_survival(),
            Err(RegistryError::Refused { .. })
        ));
    }

    #[test]
    fn save_list_promote_and_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let reg = DirRegistry::open(dir.path(), pulse_core::Clock::fixed(1_780_000_000)).unwrap();
        let names = pulse_training::feature_names();
        let a = reg.save(artifact(ModelKind::Churn, names.clone())).unwrap();
        let b = reg.save(artifact(ModelKind::Churn, names.clone())).unwrap();
        let e = reg
            .save(artifact(ModelKind::Expansion, names.clone()))
            .unwrap();
        assert_eq!(
            (
                a.card.version.as_str(),
                b.card.version.as_str(),
                e.card.version.as_str()
            ),
            ("churn-v1", "churn-v2", "expansion-v1")
        );
        assert!(dir.path().join("churn-v2.json").exists());
        assert_eq!(reg.promoted(ModelKind::Churn).unwrap(), None);
        let p = reg.promote("churn-v2").unwrap();
        assert_eq!(p.previous, None);
        let p = reg.promote("churn-v1").unwrap();
        assert_eq!(p.previous.as_deref(), Some("churn-v2"));
        assert_eq!(
            reg.promoted(ModelKind::Churn).unwrap().as_deref(),
            Some("churn-v1")
        );
        let list = reg.list().unwrap();
        let seen: Vec<(&str, bool)> = list
            .iter()
            .map(|e| (e.card.version.as_str(), e.promoted))
            .collect();
        // Same creation time here: the higher version number lists first.
        assert_eq!(
            seen,
            [
                ("churn-v2", false),
                ("expansion-v1", false),
                ("churn-v1", true)
            ]
        );
        // No temporary files are left behind, and the index is valid JSON.
        let names_on_disk: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names_on_disk.iter().all(|n| !n.starts_with(".tmp")),
            "{names_on_disk:?}"
        );
        let index: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.path().join(INDEX)).unwrap()).unwrap();
        assert_eq!(index["promoted"]["churn"], "churn-v1");
        assert_eq!(index["history"].as_array().unwrap().len(), 2);

        assert!(matches!(
            reg.get("churn-v9"),
            Err(RegistryError::NotFound { .. })
        ));
        assert!(matches!(
            reg.promote("../etc/passwd"),
            Err(RegistryError::NotFound { .. })
        ));
    }

    #[test]
    fn sentiment_models_are_saved_listed_verified_and_promoted_apart() {
        let dir = tempfile::tempdir().unwrap();
        let reg = DirRegistry::open(dir.path(), pulse_core::Clock::fixed(1_780_000_000)).unwrap();
        reg.save(artifact(ModelKind::Churn, pulse_training::feature_names()))
            .unwrap();
        let docs: Vec<(String, pulse_sentiment::Sentiment)> = [
            ("still waiting, this is terrible", "negative"),
            ("not resolved, awful", "negative"),
            ("please send the invoice", "neutral"),
            ("the meeting is on Tuesday", "neutral"),
            ("thanks, great support", "positive"),
            ("fantastic, fixed quickly", "positive"),
        ]
        .iter()
        .cycle()
        .take(60)
        .map(|(t, l)| (t.to_string(), l.parse().unwrap()))
        .collect();
        let (model, report) = pulse_sentiment::train_held_out(docs, 3).unwrap();
        let card = SentimentCard::new(
            &model,
            pulse_sentiment::TrainingSource::Corpus,
            report,
            "2026-11-30T00:00:00Z",
        );
        let a = reg.save_sentiment(card.clone(), &model).unwrap();
        let b = reg.save_sentiment(card, &model).unwrap();
        assert_eq!(
            (a.card.version.as_str(), b.card.version.as_str()),
            ("sentiment-v1", "sentiment-v2")
        );
        assert!(!a.promoted);
        // Account listings do not show them, and vice versa.
        let accounts: Vec<String> = reg
            .list()
            .unwrap()
            .into_iter()
            .map(|e| e.card.version)
            .collect();
        assert_eq!(accounts, ["churn-v1"]);
        let listed: Vec<String> = reg
            .list_sentiment()
            .unwrap()
            .into_iter()
            .map(|e| e.card.version)
            .collect();
        assert_eq!(listed, ["sentiment-v2", "sentiment-v1"]);
        let one = reg.sentiment_card("sentiment-v1").unwrap();
        assert_eq!(
            (one.version.as_str(), one.fingerprint.as_str()),
            ("sentiment-v1", model.version())
        );
        assert!(matches!(
            reg.sentiment_card("sentiment-v9"),
            Err(RegistryError::NotFound { .. })
        ));
        assert_eq!(
            reg.get_sentiment("sentiment-v1").unwrap().version(),
            model.version()
        );
        assert!(matches!(
            reg.get("sentiment-v1"),
            Err(RegistryError::Refused { .. })
        ));

        assert_eq!(reg.promoted_sentiment().unwrap(), None);
        let p = reg.promote_sentiment("sentiment-v1").unwrap();
        assert_eq!(p.previous, None);
        let p = reg.promote_sentiment("sentiment-v2").unwrap();
        assert_eq!(p.previous.as_deref(), Some("sentiment-v1"));
        assert_eq!(reg.promoted(ModelKind::Churn).unwrap(), None);
        let promoted: Vec<bool> = reg
            .list_sentiment()
            .unwrap()
            .iter()
            .map(|e| e.promoted)
            .collect();
        assert_eq!(promoted, [true, false]);

        // A changed weight no longer matches the card's fingerprint.
        let path = dir.path().join("sentiment-v1.json");
        let text = fs::read_to_string(&path).unwrap();
        let at = text.find("\"weights\":[[").unwrap() + "\"weights\":[[".len();
        let mut tampered = text.clone();
        tampered.insert(at, '9');
        fs::write(&path, tampered).unwrap();
        match reg.get_sentiment("sentiment-v1") {
            Err(RegistryError::Refused { reason, .. }) => {
                assert!(reason.contains("fingerprint"), "{reason}")
            }
            other => panic!(
                "expected a refusal, got {:?}",
                other.map(|m| m.version().to_string())
            ),
        }
        assert!(reg.promote_sentiment("sentiment-v1").is_err());
        assert!(matches!(
            reg.get_sentiment("sentiment-v9"),
            Err(RegistryError::NotFound { .. })
        ));
    }

    #[test]
    fn loading_refuses_a_changed_payload_or_another_feature_schema() {
        let dir = tempfile::tempdir().unwrap();
        let reg = DirRegistry::open(dir.path(), pulse_core::Clock::fixed(1_780_000_000)).unwrap();
        let mut names = pulse_training::feature_names();
        reg.save(artifact(ModelKind::Churn, names.clone())).unwrap();
        reg.get("churn-v1").unwrap();

        // Tamper with the payload: one tree split value.
        let path = dir.path().join("churn-v1.json");
        let text = fs::read_to_string(&path).unwrap();
        let at = text.find("\"payload\"").unwrap();
        let digit = at + text[at..].find(|c: char| c.is_ascii_digit()).unwrap();
        let mut tampered = text.clone();
        let d = tampered.as_bytes()[digit];
        tampered.replace_range(digit..digit + 1, if d == b'7' { "8" } else { "7" });
        fs::write(&path, tampered).unwrap();
        match reg.get("churn-v1") {
            Err(RegistryError::Refused { reason, .. }) => {
                assert!(reason.contains("hash mismatch"), "{reason}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(reg.promote("churn-v1").is_err());

        // A model trained on other features (a renamed column).
        names[3] = "something_else".into();
        reg.save(artifact(ModelKind::Churn, names)).unwrap();
        match reg.get("churn-v2") {
            Err(RegistryError::Refused { reason, .. }) => {
                assert!(reason.contains("first difference at column 3"), "{reason}");
                assert!(reason.contains("pulse train"), "{reason}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
