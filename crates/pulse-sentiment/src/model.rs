//! The sentiment model: TF-IDF over the tokeniser's features, a multinomial
//! logistic regression (`linfa-logistic`'s objective and optimiser),
//! calibration, explanations, and a sparse serving path that never builds a
//! matrix.
//!
//! Training fits the regression on a sparse TF-IDF matrix with the objective
//! and optimiser of `linfa-logistic` (see `solver.rs` for why not linfa's
//! dense matrix; [`Solver::LinfaDense`] still runs linfa itself). The fitted
//! weights are copied into per-feature rows held in a hash map keyed by the
//! feature's 64-bit hash, and prediction looks each feature of the text up
//! and adds the rows it finds: the cost is linear in the text and
//! independent of the vocabulary size.
//!
//! Feature values are `x_j = tf_j · idf_j / sqrt(Σ_k tf_k · idf_k²)` over the
//! features of the text that are in the vocabulary, with `tf` the raw count
//! in the text and `idf = ln((1 + n) / (1 + df)) + 1` (scikit-learn's
//! smoothed idf; `n` documents, `df` of them containing the feature). The
//! norm is the L2 norm of the text with one entry of `idf_j` per occurrence:
//! it equals scikit-learn's `‖tf · idf‖₂` whenever no feature repeats (most
//! short texts) and damps repeats a little less. It lets serving add up
//! every occurrence in one pass, with no per-text counting or sorting.

use std::collections::HashMap;
use std::io::{Read, Write};

use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};
use pulse_core::Sentiment;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::calibrate::{fit_offsets, fit_temperature, softmax};
use crate::corpus::stratified_split;
use crate::error::SentimentError;
use crate::hash::{IdBuild, feature_hash, index_hash};
use crate::solver::{self, Csr, Solver};
use crate::tokenize::{
    MAX_TEXT_BYTES, Scratch, TokenConfig, for_each_feature, for_each_feature_hash,
};
use crate::weak::{SurveyKind, weak_label};

/// The class order of every `[_; 3]` in this crate.
pub const CLASSES: [Sentiment; 3] = [Sentiment::Negative, Sentiment::Neutral, Sentiment::Positive];

/// Position of a class in [`CLASSES`].
pub fn class_index(label: Sentiment) -> usize {
    match label {
        Sentiment::Negative => 0,
        Sentiment::Neutral => 1,
        Sentiment::Positive => 2,
    }
}

/// The `format` field of a serialised model.
pub const MODEL_FORMAT: &str = "pulse-sentiment/1";

/// Calibration needs at least this many held-back documents; with fewer, all
/// documents train the classifier and the temperature stays 1.
pub const MIN_CALIBRATION_DOCS: usize = 50;

/// Largest dense training matrix accepted (documents × vocabulary × 4 bytes).
pub const MAX_TRAINING_MATRIX_BYTES: usize = 4 << 30;

/// Training hyperparameters. [`TrainParams::check`] runs before any work.
///
/// Defaults chosen on validation splits of the default corpus's training
/// part (`examples/tune_default.rs`): `alpha` 1 beat 0.3, 0.5, 0.7, 1.5, 2
/// and 3; 20,000 word features beat 8,000 and matched 30,000 and all
/// (min_df 1); balanced class weights add 1.6 macro-F1 points (mean of three
/// splits), macro-F1 offsets the same on average with more variance.
/// `balance_power` 0.6 and 20,000 character features were chosen on text
/// the model never saw (`examples/sentiment_loso.rs`, each labelled source
/// left out in turn): against full balancing and 3,000 character features,
/// the mean macro-F1 over the seven left-out sources went from 0.546 to
/// 0.549 and the three binary UCI sources gained 0.013-0.024 each (fewer
/// neutral answers on text that has none), at a cost on NYT editorials,
/// whose texts are 46% neutral (0.487 to 0.446). Powers 0, 0.3, 0.4, 0.5
/// and 1, and 50,000 character features, did worse on the mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainParams {
    pub tokens: TokenConfig,
    /// Word-level features kept (unigrams, bigrams, lexicon, emphasis,
    /// emoticon and placeholder tokens), most frequent by document frequency
    /// first.
    pub max_word_features: usize,
    /// Character n-gram features kept, most frequent first.
    pub max_char_features: usize,
    /// A feature must occur in at least this many training documents.
    pub min_df: u32,
    /// L2 penalty `alpha/2 · ‖W‖²` added to the summed log-loss (linfa's
    /// convention; scikit-learn's `C` is `1/alpha`). The intercept is not penalised.
    pub alpha: f32,
    /// L-BFGS iterations at most.
    pub max_iterations: u64,
    /// L-BFGS stops when the gradient norm falls below this.
    pub gradient_tolerance: f32,
    /// Share of the documents held back (stratified by label) to fit the
    /// temperature (and the offsets of [`Balance::Offsets`]); 0 turns
    /// calibration off. At most 0.5.
    pub calibration_fraction: f64,
    /// Seed of the calibration split.
    pub seed: u64,
    /// How the classes' different sizes are compensated for.
    pub balance: Balance,
    /// With [`Balance::Weights`], each class weighs
    /// `(n / (k · n_class))^balance_power`: 1 balances the classes fully
    /// (scikit-learn's `"balanced"`), smaller values part of the way. A
    /// model stored without it was trained with 1.
    #[serde(default = "full_balance")]
    pub balance_power: f32,
    /// Which implementation fits the regression (same objective either way).
    pub solver: Solver,
}

fn full_balance() -> f32 {
    1.0
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            tokens: TokenConfig::default(),
            max_word_features: 20_000,
            max_char_features: 20_000,
            min_df: 2,
            alpha: 1.0,
            max_iterations: 300,
            gradient_tolerance: 1e-4,
            calibration_fraction: 0.1,
            seed: 20_250_101,
            balance: Balance::Weights,
            balance_power: 0.6,
            solver: Solver::Sparse,
        }
    }
}

impl TrainParams {
    pub fn check(&self) -> Result<(), SentimentError> {
        if self.max_word_features + self.max_char_features == 0 {
            return Err(SentimentError::invalid_param(
                "max_word_features",
                "word and char features are both 0",
            ));
        }
        if self.min_df == 0 {
            return Err(SentimentError::invalid_param(
                "min_df",
                "must be at least 1",
            ));
        }
        if !self.alpha.is_finite() || self.alpha < 0.0 {
            return Err(SentimentError::invalid_param(
                "alpha",
                format!("{} is not a finite value >= 0", self.alpha),
            ));
        }
        if !(0.0..=1.0).contains(&self.balance_power) {
            return Err(SentimentError::invalid_param(
                "balance_power",
                format!("{} is not in 0..=1", self.balance_power),
            ));
        }
        if self.max_iterations == 0 {
            return Err(SentimentError::invalid_param(
                "max_iterations",
                "must be at least 1",
            ));
        }
        if !self.gradient_tolerance.is_finite() || self.gradient_tolerance <= 0.0 {
            return Err(SentimentError::invalid_param(
                "gradient_tolerance",
                format!("{} is not a finite value > 0", self.gradient_tolerance),
            ));
        }
        if !(0.0..=0.5).contains(&self.calibration_fraction) {
            return Err(SentimentError::invalid_param(
                "calibration_fraction",
                format!("{} is outside 0..=0.5", self.calibration_fraction),
            ));
        }
        let t = &self.tokens;
        if t.char_ngram_max > 0
            && (t.char_ngram_min == 0
                || t.char_ngram_min > t.char_ngram_max
                || t.char_ngram_max > 8)
        {
            return Err(SentimentError::invalid_param(
                "tokens.char_ngram_min",
                format!(
                    "char n-grams {}..={} must satisfy 1 <= min <= max <= 8",
                    t.char_ngram_min, t.char_ngram_max
                ),
            ));
        }
        Ok(())
    }
}

/// How training compensates for classes of different sizes. Log-loss
/// training favours the frequent classes at the expense of a rare one
/// (neutral is 17% of the default corpus), which macro-F1 punishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Plain log-loss.
    None,
    /// Each class's documents weigh `n / (k · n_class)` in the loss
    /// (scikit-learn's `class_weight="balanced"`). Sparse solver only.
    Weights,
    /// Per-class logit offsets chosen on the calibration documents to
    /// maximise macro-F1 (grid search; noisy with few calibration documents).
    Offsets,
}

/// A label with its calibrated probabilities and score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub label: Sentiment,
    /// `P(positive) − P(negative)` after calibration, in `[-1, 1]`: the
    /// expected value of the label read as -1 / 0 / +1.
    pub score: f32,
    /// Probabilities, negative, neutral, positive; they sum to 1. Their
    /// confidence is calibrated (temperature fitted on held-back documents);
    /// with [`Balance::Weights`] they lean towards a balanced class mix
    /// rather than the training corpus's, which is what lifts neutral recall.
    pub probabilities: [f32; 3],
    /// No feature of the text is in the vocabulary (blank or punctuation-only
    /// text, a script the model never saw): the label is then neutral, the
    /// score 0 and the probabilities `[0, 1, 0]`.
    pub empty: bool,
    /// The text was longer than [`MAX_TEXT_BYTES`] and only its start was read.
    pub truncated: bool,
}

/// A phrase of the text and its signed contribution to the predicted label's
/// calibrated logit, relative to the mean over the classes (positive pushes
/// towards the predicted label). A word's character n-grams count under the
/// word; bigrams and marked tokens (`NOT_resolved`, `<!!>`) are their own phrases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phrase {
    pub text: String,
    pub contribution: f32,
}

/// What a model was trained on, kept in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Documents given, per class (negative, neutral, positive).
    pub class_counts: [usize; 3],
    /// Documents that fitted the classifier.
    pub fit_documents: usize,
    /// Documents that fitted the temperature.
    pub calibration_documents: usize,
    pub word_features: usize,
    pub char_features: usize,
    /// Offsets added to the fitted intercepts by [`Balance::Offsets`].
    pub decision_offsets: [f32; 3],
    /// L-BFGS iterations run (the sparse solver reports them, linfa does not).
    pub solver_iterations: Option<u64>,
    /// Final value of the objective (sparse solver only).
    pub solver_loss: Option<f64>,
    pub params: TrainParams,
}

/// A trained three-class sentiment model. Serialises to JSON (format
/// [`MODEL_FORMAT`]); cheap to share between threads (`Send + Sync`, `&self`
/// methods only).
#[derive(Debug, Clone)]
pub struct SentimentModel {
    tokens: TokenConfig,
    features: Vec<String>,
    idf: Vec<f32>,
    /// Per feature, one weight per class, centred (they sum to 0 over the
    /// present classes).
    weights: Vec<[f32; 3]>,
    intercept: [f32; 3],
    /// Classes seen in training; absent classes get probability 0.
    present: [bool; 3],
    temperature: f32,
    summary: TrainingSummary,
    /// Serving only: feature → row (`idf · w` per class, `idf²`).
    index: FeatureIndex,
    /// Content fingerprint (see [`SentimentModel::version`]).
    version: String,
}

impl SentimentModel {
    /// Train on labelled texts.
    pub fn train(docs: &[(&str, Sentiment)], params: &TrainParams) -> Result<Self, SentimentError> {
        params.check()?;
        if docs.is_empty() {
            return Err(SentimentError::EmptyCorpus);
        }
        let class_counts = count_classes(docs.iter().map(|d| d.1));
        let found = class_counts.iter().filter(|&&c| c > 0).count();
        if found < 2 {
            return Err(SentimentError::TooFewClasses { found });
        }

        let all: Vec<usize> = (0..docs.len()).collect();
        let (mut fit_idx, mut cal_idx) =
            stratified_split(all, params.calibration_fraction, params.seed, |&i| {
                class_index(docs[i].1)
            });
        if cal_idx.len() < MIN_CALIBRATION_DOCS {
            fit_idx.append(&mut cal_idx);
            fit_idx.sort_unstable();
        }
        let fit_counts = count_classes(fit_idx.iter().map(|&i| docs[i].1));
        let present = fit_counts.map(|c| c > 0);
        let found = present.iter().filter(|&&p| p).count();
        if found < 2 {
            return Err(SentimentError::TooFewClasses { found });
        }

        let vocab = Vocabulary::build(docs, &fit_idx, params)?;
        let v = vocab.features.len();
        let mut x = Csr::new(v);
        let mut ids = Vec::new();
        for hashes in &vocab.doc_hashes {
            ids.clear();
            ids.extend(hashes.iter().filter_map(|h| vocab.index.get(h).copied()));
            tfidf(&mut ids, &vocab.idf, |id, value| x.push(id, value));
            x.end_row();
        }
        let Vocabulary {
            features,
            idf,
            word_features,
            char_features,
            ..
        } = vocab;
        let labels: Vec<usize> = fit_idx.iter().map(|&i| class_index(docs[i].1)).collect();
        let FitResult {
            mut weights,
            mut intercept,
            iterations,
            loss,
        } = match params.solver {
            Solver::Sparse => fit_sparse(&x, &labels, present, params)?,
            Solver::LinfaDense => fit_linfa(&x, &labels, params)?,
        };
        drop(x);
        centre(&mut intercept, present);
        for row in &mut weights {
            centre(row, present);
        }

        let summary = TrainingSummary {
            class_counts,
            fit_documents: fit_idx.len(),
            calibration_documents: cal_idx.len(),
            word_features,
            char_features,
            decision_offsets: [0.0; 3],
            solver_iterations: iterations,
            solver_loss: loss,
            params: params.clone(),
        };
        let mut model = SentimentModel::assemble(
            params.tokens,
            features,
            idf,
            weights,
            intercept,
            present,
            1.0,
            summary,
        )?;

        if !cal_idx.is_empty() {
            let mut scratch = Scratch::default();
            let mut logits = Vec::with_capacity(cal_idx.len());
            let mut labels = Vec::with_capacity(cal_idx.len());
            for &i in &cal_idx {
                let y = class_index(docs[i].1);
                if !present[y] {
                    continue;
                }
                if let Some(z) = model.logits_with(docs[i].0, &mut scratch) {
                    logits.push(z);
                    labels.push(y);
                }
            }
            if params.balance == Balance::Offsets {
                let offsets = fit_offsets(&logits, &labels, present);
                for z in &mut logits {
                    for (zc, oc) in z.iter_mut().zip(offsets) {
                        *zc += oc;
                    }
                }
                for (ic, oc) in model.intercept.iter_mut().zip(offsets) {
                    *ic += oc;
                }
                centre(&mut model.intercept, present);
                model.summary.decision_offsets = offsets;
            }
            model.temperature = fit_temperature(&logits, &labels, present);
            model.version = fingerprint(
                &model.features,
                &model.weights,
                &model.idf,
                model.intercept,
                model.temperature,
            );
        }
        Ok(model)
    }

    /// Train on weak labels from survey scores (see [`weak_label`]); a score
    /// outside its survey's scale is an error.
    pub fn train_weak(
        docs: &[(&str, SurveyKind, i64)],
        params: &TrainParams,
    ) -> Result<Self, SentimentError> {
        let mut labelled = Vec::with_capacity(docs.len());
        for (index, &(text, kind, score)) in docs.iter().enumerate() {
            let range = kind.range();
            if !range.contains(&score) {
                return Err(SentimentError::ScoreOutOfRange {
                    index,
                    kind,
                    score,
                    min: *range.start(),
                    max: *range.end(),
                });
            }
            labelled.push((text, weak_label(kind, score)));
        }
        SentimentModel::train(&labelled, params)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        tokens: TokenConfig,
        features: Vec<String>,
        idf: Vec<f32>,
        weights: Vec<[f32; 3]>,
        intercept: [f32; 3],
        present: [bool; 3],
        temperature: f32,
        summary: TrainingSummary,
    ) -> Result<Self, SentimentError> {
        if idf.len() != features.len() || weights.len() != features.len() {
            return Err(SentimentError::invalid_model(format!(
                "{} features, {} idf values and {} weight rows",
                features.len(),
                idf.len(),
                weights.len()
            )));
        }
        if features.len() > u32::MAX as usize {
            return Err(SentimentError::invalid_model("too many features"));
        }
        if present.iter().filter(|&&p| p).count() < 2 {
            return Err(SentimentError::invalid_model(
                "fewer than two classes present",
            ));
        }
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(SentimentError::invalid_model(format!(
                "temperature {temperature} is not > 0"
            )));
        }
        if !intercept.iter().all(|x| x.is_finite())
            || !idf.iter().all(|x| x.is_finite() && *x > 0.0)
            || !weights.iter().flatten().all(|x| x.is_finite())
        {
            return Err(SentimentError::invalid_model(
                "non-finite or non-positive values",
            ));
        }
        let version = fingerprint(&features, &weights, &idf, intercept, temperature);
        let mut index = FeatureIndex::with_capacity(features.len());
        for ((f, w), &d) in features.iter().zip(&weights).zip(&idf) {
            if !index.insert(f, [d * w[0], d * w[1], d * w[2], d * d]) {
                return Err(SentimentError::invalid_model(format!(
                    "feature '{f}' is duplicated or collides"
                )));
            }
        }
        Ok(SentimentModel {
            tokens,
            features,
            idf,
            weights,
            intercept,
            present,
            temperature,
            summary,
            index,
            version,
        })
    }

    /// `sentiment-` and 12 hex digits of a hash over the features, weights,
    /// intercepts and temperature: the same model file always gives the same
    /// version and a retrained model (almost surely) another. Stored next to
    /// every score it produces.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Label, calibrated probabilities and score of one text.
    pub fn predict(&self, text: &str) -> Prediction {
        thread_local! {
            // This thread's buffers, reused by every single prediction
            // (seven allocations a call otherwise). Texts are capped at
            // `MAX_TEXT_BYTES`, so the buffers stay small.
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.predict_with(text, &mut scratch),
            // Not reachable today (nothing predicts while predicting); a
            // re-entrant call would get buffers of its own.
            Err(_) => self.predict_with(text, &mut Scratch::default()),
        })
    }

    /// [`predict`](Self::predict) for many texts, reusing buffers.
    pub fn predict_batch(&self, texts: &[&str]) -> Vec<Prediction> {
        let mut scratch = Scratch::default();
        texts
            .iter()
            .map(|t| self.predict_with(t, &mut scratch))
            .collect()
    }

    fn predict_with(&self, text: &str, scratch: &mut Scratch) -> Prediction {
        let truncated = text.len() > MAX_TEXT_BYTES;
        let Some(z) = self.logits_with(text, scratch) else {
            return Prediction {
                label: Sentiment::Neutral,
                score: 0.0,
                probabilities: [0.0, 1.0, 0.0],
                empty: true,
                truncated,
            };
        };
        let p = softmax(z, self.temperature, self.present);
        let mut best = 1;
        for c in 0..3 {
            if self.present[c] && (!self.present[best] || p[c] > p[best]) {
                best = c;
            }
        }
        Prediction {
            label: CLASSES[best],
            score: (p[2] - p[0]).clamp(-1.0, 1.0),
            probabilities: p,
            empty: false,
            truncated,
        }
    }

    /// Uncalibrated logits, or `None` when no feature is in the vocabulary.
    /// One pass: every occurrence adds its row, `idf · w` per class and
    /// `idf²` for the norm (module docs).
    fn logits_with(&self, text: &str, scratch: &mut Scratch) -> Option<[f32; 3]> {
        // Tokenise first, then look every feature up in one tight loop: the
        // look-ups are independent, so the core overlaps their cache misses
        // (the index is larger than a core's L2), where interleaving them
        // with the tokeniser left each miss waiting alone. The rows are added
        // in the same order as before, so the sums are bit for bit the same.
        let mut hashes = std::mem::take(&mut scratch.hashes);
        hashes.clear();
        for_each_feature_hash(text, &self.tokens, scratch, |h| hashes.push(h));
        let mut acc = [0.0f32; 4];
        let mut known = false;
        for &h in &hashes {
            if let Some(row) = self.index.get_hashed(h) {
                acc[0] += row[0];
                acc[1] += row[1];
                acc[2] += row[2];
                acc[3] += row[3];
                known = true;
            }
        }
        scratch.hashes = hashes;
        if !known {
            return None;
        }
        let inv_norm = 1.0 / acc[3].sqrt();
        Some([
            self.intercept[0] + acc[0] * inv_norm,
            self.intercept[1] + acc[1] * inv_norm,
            self.intercept[2] + acc[2] * inv_norm,
        ])
    }

    /// The `k` phrases of `text` that moved the prediction most, largest
    /// absolute contribution first (see [`Phrase`]). Empty when the
    /// prediction is `empty`.
    pub fn explain(&self, text: &str, k: usize) -> Vec<Phrase> {
        let prediction = self.predict(text);
        if prediction.empty || k == 0 {
            return Vec::new();
        }
        let class = class_index(prediction.label);
        let mut occurrences: Vec<(&[f32; 4], String)> = Vec::new();
        for_each_feature(text, &self.tokens, &mut Scratch::default(), |f, group| {
            if let Some(row) = self.index.get(f) {
                occurrences.push((row, group.to_owned()));
            }
        });
        // Same norm, summed in the same order, as `logits_with`.
        let norm2: f32 = occurrences.iter().map(|(row, _)| row[3]).sum();
        let scale = 1.0 / (norm2.sqrt() * self.temperature);
        let mut by_phrase: HashMap<String, f32> = HashMap::new();
        for (row, group) in occurrences {
            *by_phrase.entry(group).or_default() += row[class] * scale;
        }
        let mut phrases: Vec<Phrase> = by_phrase
            .into_iter()
            .map(|(text, contribution)| Phrase { text, contribution })
            .collect();
        phrases.sort_by(|a, b| {
            b.contribution
                .abs()
                .total_cmp(&a.contribution.abs())
                .then_with(|| a.text.cmp(&b.text))
        });
        phrases.truncate(k);
        phrases
    }

    /// The model as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain data with string keys only: serialising into memory cannot fail.
        serde_json::to_vec(self).expect("a model always serialises")
    }

    pub fn write_json<W: Write>(&self, w: W) -> Result<(), SentimentError> {
        serde_json::to_writer(w, self)?;
        Ok(())
    }

    /// Read a model written by [`write_json`](Self::write_json) or
    /// [`to_json`](Self::to_json); `&[u8]` is a reader too.
    pub fn from_json<R: Read>(r: R) -> Result<Self, SentimentError> {
        Ok(serde_json::from_reader(r)?)
    }

    pub fn summary(&self) -> &TrainingSummary {
        &self.summary
    }

    pub fn token_config(&self) -> &TokenConfig {
        &self.tokens
    }

    pub fn vocabulary_len(&self) -> usize {
        self.features.len()
    }

    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Classes seen in training (negative, neutral, positive).
    pub fn classes_present(&self) -> [bool; 3] {
        self.present
    }
}

/// Fitted weights in the crate's class order, absent classes zero.
struct FitResult {
    weights: Vec<[f32; 3]>,
    intercept: [f32; 3],
    iterations: Option<u64>,
    loss: Option<f64>,
}

fn fit_sparse(
    x: &Csr,
    labels: &[usize],
    present: [bool; 3],
    params: &TrainParams,
) -> Result<FitResult, SentimentError> {
    // Present classes, in order, become 0..k for the solver.
    let classes: Vec<usize> = (0..3).filter(|&c| present[c]).collect();
    let y: Vec<usize> = labels
        .iter()
        .map(|l| classes.iter().position(|c| c == l).unwrap_or(0))
        .collect();
    let k = classes.len();
    let fitted = solver::fit(
        x,
        &y,
        k,
        if params.balance == Balance::Weights {
            f64::from(params.balance_power)
        } else {
            0.0
        },
        f64::from(params.alpha),
        params.max_iterations,
        f64::from(params.gradient_tolerance),
    )?;
    let mut weights = vec![[0.0f32; 3]; x.n_cols()];
    let mut intercept = [0.0f32; 3];
    for (col, &class) in classes.iter().enumerate() {
        intercept[class] = fitted.intercept[col] as f32;
        for (row, w) in weights.iter_mut().zip(fitted.weights.chunks_exact(k)) {
            row[class] = w[col] as f32;
        }
    }
    Ok(FitResult {
        weights,
        intercept,
        iterations: Some(fitted.iterations),
        loss: Some(fitted.loss),
    })
}

fn fit_linfa(x: &Csr, labels: &[usize], params: &TrainParams) -> Result<FitResult, SentimentError> {
    if params.balance == Balance::Weights {
        return Err(SentimentError::invalid_param(
            "balance",
            "linfa has no row weights: use offsets or none with the linfa solver",
        ));
    }
    let (n, v) = (x.n_rows(), x.n_cols());
    if n.saturating_mul(v).saturating_mul(4) > MAX_TRAINING_MATRIX_BYTES {
        return Err(SentimentError::invalid_param(
            "solver",
            format!(
                "a dense {n} x {v} training matrix needs more than {} GiB; \
                 use the sparse solver or keep fewer features",
                MAX_TRAINING_MATRIX_BYTES >> 30
            ),
        ));
    }
    let mut dense = Array2::<f32>::zeros((n, v));
    for r in 0..n {
        let (cols, vals) = x.row(r);
        for (&c, &value) in cols.iter().zip(vals) {
            dense[[r, c as usize]] = value;
        }
    }
    let y: Array1<usize> = labels.iter().copied().collect();
    let fitted = MultiLogisticRegression::<f32>::default()
        .alpha(params.alpha)
        .max_iterations(params.max_iterations)
        .gradient_tolerance(params.gradient_tolerance)
        .fit(&DatasetBase::new(dense, y))?;
    let (w, b) = (fitted.params(), fitted.intercept());
    let mut weights = vec![[0.0f32; 3]; v];
    let mut intercept = [0.0f32; 3];
    for (col, &class) in fitted.classes().iter().enumerate() {
        intercept[class] = b[col];
        for (j, row) in weights.iter_mut().enumerate() {
            row[class] = w[[j, col]];
        }
    }
    Ok(FitResult {
        weights,
        intercept,
        iterations: None,
        loss: None,
    })
}

fn count_classes(labels: impl Iterator<Item = Sentiment>) -> [usize; 3] {
    let mut counts = [0; 3];
    for l in labels {
        counts[class_index(l)] += 1;
    }
    counts
}

/// Subtract the mean over the present classes; zero the absent ones.
/// Softmax over the present classes does not change.
fn centre(v: &mut [f32; 3], present: [bool; 3]) {
    let n = present.iter().filter(|&&p| p).count() as f32;
    let mean = (0..3).filter(|&c| present[c]).map(|c| v[c]).sum::<f32>() / n;
    for c in 0..3 {
        v[c] = if present[c] { v[c] - mean } else { 0.0 };
    }
}

/// Call `emit(id, value)` once per distinct id with its TF-IDF value,
/// normalised per occurrence (module docs).
fn tfidf(ids: &mut [u32], idf: &[f32], mut emit: impl FnMut(u32, f32)) {
    let norm2: f32 = ids
        .iter()
        .map(|&id| idf[id as usize] * idf[id as usize])
        .sum();
    let inv_norm = 1.0 / norm2.sqrt();
    ids.sort_unstable();
    for run in ids.chunk_by(|a, b| a == b) {
        let id = run[0];
        emit(id, run.len() as f32 * idf[id as usize] * inv_norm);
    }
}

/// Feature → its serving row (`idf · w` for each class, then `idf²`),
/// keyed by the feature's 64-bit hash so a lookup never compares strings and
/// a hit needs no second memory access. (Keeping character n-grams, which
/// mostly miss, in a separate small table was measured and made no
/// difference.)
#[derive(Debug, Clone, Default)]
struct FeatureIndex(HashMap<u64, [f32; 4], IdBuild>);

impl FeatureIndex {
    fn with_capacity(n: usize) -> Self {
        FeatureIndex(HashMap::with_capacity_and_hasher(n, IdBuild::default()))
    }

    /// False when the feature (or another with the same hash) is already in.
    fn insert(&mut self, feature: &str, row: [f32; 4]) -> bool {
        self.0.insert(index_hash(feature), row).is_none()
    }

    #[inline]
    fn get(&self, feature: &str) -> Option<&[f32; 4]> {
        self.0.get(&index_hash(feature))
    }

    /// [`get`](Self::get) by the feature's [`index_hash`].
    #[inline]
    fn get_hashed(&self, hash: u64) -> Option<&[f32; 4]> {
        self.0.get(&hash)
    }
}

/// The vocabulary chosen from the fitting documents, with each document's
/// feature hashes.
struct Vocabulary {
    features: Vec<String>,
    idf: Vec<f32>,
    index: HashMap<u64, u32, IdBuild>,
    doc_hashes: Vec<Vec<u64>>,
    word_features: usize,
    char_features: usize,
}

impl Vocabulary {
    fn build(
        docs: &[(&str, Sentiment)],
        fit_idx: &[usize],
        params: &TrainParams,
    ) -> Result<Vocabulary, SentimentError> {
        let mut scratch = Scratch::default();
        let mut names: HashMap<u64, Box<str>, IdBuild> = HashMap::default();
        let mut df: HashMap<u64, u32, IdBuild> = HashMap::default();
        let mut doc_hashes = Vec::with_capacity(fit_idx.len());
        let mut distinct = Vec::new();
        for &i in fit_idx {
            let mut hashes = Vec::new();
            for_each_feature(docs[i].0, &params.tokens, &mut scratch, |f, _| {
                let h = feature_hash(f);
                names.entry(h).or_insert_with(|| f.into());
                hashes.push(h);
            });
            distinct.clear();
            distinct.extend_from_slice(&hashes);
            distinct.sort_unstable();
            distinct.dedup();
            for &h in &distinct {
                *df.entry(h).or_insert(0) += 1;
            }
            doc_hashes.push(hashes);
        }

        let mut words = Vec::new();
        let mut chars = Vec::new();
        for (h, &d) in &df {
            if d < params.min_df {
                continue;
            }
            if let Some(name) = names.get(h) {
                if name.starts_with('#') {
                    chars.push((d, &**name));
                } else {
                    words.push((d, &**name));
                }
            }
        }
        if words.is_empty() && chars.is_empty() {
            return Err(SentimentError::EmptyVocabulary {
                min_df: params.min_df,
            });
        }
        let by_df = |a: &(u32, &str), b: &(u32, &str)| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1));
        words.sort_unstable_by(by_df);
        words.truncate(params.max_word_features);
        chars.sort_unstable_by(by_df);
        chars.truncate(params.max_char_features);

        let n = fit_idx.len() as f64;
        let mut features = Vec::with_capacity(words.len() + chars.len());
        let mut idf = Vec::with_capacity(words.len() + chars.len());
        let mut index = HashMap::with_capacity_and_hasher(features.capacity(), IdBuild::default());
        for &(d, name) in words.iter().chain(&chars) {
            index.insert(feature_hash(name), features.len() as u32);
            features.push(name.to_owned());
            idf.push((((1.0 + n) / (1.0 + f64::from(d))).ln() + 1.0) as f32);
        }
        Ok(Vocabulary {
            word_features: words.len(),
            char_features: chars.len(),
            features,
            idf,
            index,
            doc_hashes,
        })
    }
}

/// The JSON layout of a model.
#[derive(Serialize)]
struct ModelFileRef<'a> {
    format: &'a str,
    classes: [Sentiment; 3],
    present: [bool; 3],
    temperature: f32,
    intercept: [f32; 3],
    tokens: &'a TokenConfig,
    summary: &'a TrainingSummary,
    features: &'a [String],
    idf: &'a [f32],
    weights: &'a [[f32; 3]],
}

#[derive(Deserialize)]
struct ModelFile {
    format: String,
    classes: [Sentiment; 3],
    present: [bool; 3],
    temperature: f32,
    intercept: [f32; 3],
    tokens: TokenConfig,
    summary: TrainingSummary,
    features: Vec<String>,
    idf: Vec<f32>,
    weights: Vec<[f32; 3]>,
}

/// See [`SentimentModel::version`].
fn fingerprint(
    features: &[String],
    weights: &[[f32; 3]],
    idf: &[f32],
    intercept: [f32; 3],
    temperature: f32,
) -> String {
    let mut h: u64 = 0;
    let mut mix = |x: u64| h = (h ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31);
    for ((f, w), d) in features.iter().zip(weights).zip(idf) {
        mix(feature_hash(f));
        mix(u64::from(d.to_bits()));
        for x in w {
            mix(u64::from(x.to_bits()));
        }
    }
    for x in intercept {
        mix(u64::from(x.to_bits()));
    }
    mix(u64::from(temperature.to_bits()));
    format!("sentiment-{:012x}", feature_hash(&h.to_string()) >> 16)
}

/// Scores for ingest: `None` for blank text and for text with no known
/// feature (an `empty` prediction), so the store keeps NULL rather than a
/// made-up neutral.
impl pulse_core::TextScorer for SentimentModel {
    fn score(&self, text: &str) -> Option<(f64, Sentiment)> {
        if text.trim().is_empty() {
            return None;
        }
        let p = self.predict(text);
        (!p.empty).then_some((f64::from(p.score), p.label))
    }

    fn version(&self) -> &str {
        &self.version
    }
}

impl Serialize for SentimentModel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ModelFileRef {
            format: MODEL_FORMAT,
            classes: CLASSES,
            present: self.present,
            temperature: self.temperature,
            intercept: self.intercept,
            tokens: &self.tokens,
            summary: &self.summary,
            features: &self.features,
            idf: &self.idf,
            weights: &self.weights,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SentimentModel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let file = ModelFile::deserialize(d)?;
        if file.format != MODEL_FORMAT {
            return Err(D::Error::custom(format!(
                "model format '{}' is not '{MODEL_FORMAT}'",
                file.format
            )));
        }
        if file.classes != CLASSES {
            return Err(D::Error::custom(
                "classes must be negative, neutral, positive",
            ));
        }
        SentimentModel::assemble(
            file.tokens,
            file.features,
            file.idf,
            file.weights,
            file.intercept,
            file.present,
            file.temperature,
            file.summary,
        )
        .map_err(D::Error::custom)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use Sentiment::*;

    /// A small support-flavoured corpus the model must get right.
    pub(crate) fn toy_corpus() -> Vec<(&'static str, Sentiment)> {
        let neg = [
            "still waiting for a reply, this is terrible",
            "the issue is not resolved and I am angry",
            "awful support, nobody answers :(",
            "the export is broken again!!! useless",
            "I am very disappointed, it keeps crashing",
            "terrible experience, still not fixed",
            "your product is slow and buggy",
            "this is unacceptable, I want a refund",
            "worst update ever, everything broke",
            "nothing works and support is useless",
        ];
        let neu = [
            "please send the invoice for March",
            "how do I add a new user to the account",
            "the meeting is moved to Tuesday",
            "can you update the billing address",
            "we use the report every week",
            "attached is the file you asked for",
            "what is the API rate limit",
            "the contract renews in June",
            "I changed my password today",
            "where can I find the export settings",
        ];
        let pos = [
            "thanks, that fixed it, great support :)",
            "awesome, the issue is resolved, thank you!",
            "really happy with the new dashboard",
            "great job, the team was very helpful",
            "love the new feature, works perfectly",
            "excellent service, quick and friendly",
            "thank you so much, everything works now",
            "the fix is great, much appreciated",
            "very happy, problem solved quickly",
            "fantastic help from your agent, thanks!",
        ];
        let mut docs = Vec::new();
        for i in 0..10 {
            docs.push((neg[i], Negative));
            docs.push((neu[i], Neutral));
            docs.push((pos[i], Positive));
        }
        docs
    }

    /// Small enough to keep the tests fast in debug builds, where linfa's
    /// generic code is compiled unoptimised into this crate.
    pub(crate) fn toy_params() -> TrainParams {
        TrainParams {
            tokens: TokenConfig {
                char_ngram_min: 4,
                char_ngram_max: 4,
                ..TokenConfig::default()
            },
            min_df: 1,
            alpha: 0.1,
            max_iterations: 40,
            calibration_fraction: 0.0,
            ..TrainParams::default()
        }
    }

    #[test]
    fn partial_balance_is_checked_and_stored_params_without_it_mean_full() {
        let bad = TrainParams {
            balance_power: 1.5,
            ..TrainParams::default()
        };
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("balance_power"), "{err}");
        // Parameters written before the field existed were fully balanced.
        let legacy: TrainParams = serde_json::from_str(r#"{"alpha": 1.0}"#).unwrap();
        assert_eq!(legacy.balance_power, 1.0);
        assert_eq!(TrainParams::default().balance_power, 0.6);
        // A corpus with few neutral documents: full balancing weighs each
        // of them more, so the neutral class gets more probability than
        // with no balancing.
        let mut neutral = 0;
        let corpus: Vec<(&str, Sentiment)> = toy_corpus()
            .into_iter()
            .filter(|(_, l)| {
                neutral += usize::from(*l == Sentiment::Neutral);
                *l != Sentiment::Neutral || neutral <= 3
            })
            .collect();
        let full = SentimentModel::train(&corpus, &toy_params()).unwrap();
        let none = SentimentModel::train(
            &corpus,
            &TrainParams {
                balance_power: 0.0,
                ..toy_params()
            },
        )
        .unwrap();
        for text in ["please send the invoice", "the report is ready"] {
            let (f, n) = (full.predict(text), none.predict(text));
            assert!(
                f.probabilities[1] > n.probabilities[1],
                "{text}: {:?} vs {:?}",
                f.probabilities,
                n.probabilities
            );
        }
    }

    #[test]
    fn served_logits_are_bit_for_bit_the_plain_sum() {
        // Serving hashes first and looks up after; the plain way looks each
        // feature's text up as the tokeniser emits it. Same rows, same
        // order: the same bits.
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        let long = "terrible, useless support and still waiting ".repeat(50);
        let texts: Vec<&str> = toy_corpus()
            .into_iter()
            .map(|(t, _)| t)
            .chain([
                "",
                "ok",
                "thanks :)",
                "Großartig, très bien 😀",
                long.as_str(),
            ])
            .collect();
        for text in texts {
            let mut acc = [0.0f32; 4];
            let mut known = false;
            for_each_feature(text, &model.tokens, &mut Scratch::default(), |f, _| {
                if let Some(row) = model.index.get(f) {
                    for (a, r) in acc.iter_mut().zip(row) {
                        *a += r;
                    }
                    known = true;
                }
            });
            let plain = known.then(|| {
                let inv_norm = 1.0 / acc[3].sqrt();
                [0, 1, 2].map(|c| model.intercept[c] + acc[c] * inv_norm)
            });
            let served = model.logits_with(text, &mut Scratch::default());
            assert_eq!(
                served.map(|z| z.map(f32::to_bits)),
                plain.map(|z| z.map(f32::to_bits)),
                "{text}"
            );
        }
    }

    #[test]
    fn a_prediction_is_the_same_with_reused_or_fresh_buffers() {
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        // A long text first leaves the thread's buffers large and full;
        // what follows must not see any of it.
        let long = "terrible, useless support and still waiting ".repeat(200);
        let texts: Vec<&str> = std::iter::once(long.as_str())
            .chain(toy_corpus().into_iter().map(|(t, _)| t))
            .chain(["", "ok", "thanks :)", long.as_str(), "send the invoice"])
            .collect();
        let fresh: Vec<Prediction> = texts
            .iter()
            .map(|t| model.predict_with(t, &mut Scratch::default()))
            .collect();
        let reused: Vec<Prediction> = texts.iter().map(|t| model.predict(t)).collect();
        assert_eq!(reused, fresh);
        assert_eq!(model.predict_batch(&texts), fresh);
        // Backwards too, and on another thread (buffers of its own).
        for (t, want) in texts.iter().zip(&fresh).rev() {
            assert_eq!(&model.predict(t), want, "{t}");
        }
        std::thread::scope(|s| {
            s.spawn(|| {
                for (t, want) in texts.iter().zip(&fresh) {
                    assert_eq!(&model.predict(t), want, "{t}");
                }
            });
        });
    }

    #[test]
    fn learns_the_obvious() {
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        for (text, want) in toy_corpus() {
            assert_eq!(model.predict(text).label, want, "{text}");
        }
        for (text, want) in [
            ("terrible support, still waiting", Negative),
            ("thanks, great help", Positive),
            ("send the invoice please", Neutral),
        ] {
            let p = model.predict(text);
            assert_eq!(p.label, want, "{text}: {p:?}");
        }
        let p = model.predict("thank you, great, awesome, happy");
        assert!(p.score > 0.3, "{p:?}");
        let p = model.predict("terrible, useless, broken, angry");
        assert!(p.score < -0.3, "{p:?}");
        assert_eq!(model.summary().fit_documents, 30);
        assert_eq!(model.temperature(), 1.0);
    }

    #[test]
    fn scores_and_probabilities_are_well_formed() {
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        for text in [
            "great",
            "awful",
            "the",
            "x",
            "!!!",
            ":(",
            "NOT GOOD AT ALL!!!",
        ] {
            let p = model.predict(text);
            assert!((-1.0..=1.0).contains(&p.score), "{text}: {p:?}");
            let sum: f32 = p.probabilities.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{text}: {p:?}");
            assert!((p.score - (p.probabilities[2] - p.probabilities[0])).abs() < 1e-6);
            let best = p.probabilities.iter().copied().fold(f32::MIN, f32::max);
            assert_eq!(p.probabilities[class_index(p.label)], best);
        }
    }

    #[test]
    fn empty_and_unknown_text_is_neutral_and_flagged() {
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        for text in ["", "   ", "\u{0}\u{0}", "日本語"] {
            let p = model.predict(text);
            assert!(p.empty, "{text:?}");
            assert_eq!((p.label, p.score), (Neutral, 0.0));
            assert_eq!(p.probabilities, [0.0, 1.0, 0.0]);
            assert!(model.explain(text, 5).is_empty());
        }
        assert!(!model.predict("great").empty);
    }

    #[test]
    fn long_text_is_truncated_and_flagged() {
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        let long = format!(
            "{} {}",
            "great support ".repeat(2000),
            "terrible ".repeat(5000)
        );
        let p = model.predict(&long);
        assert!(p.truncated);
        // Only the first 16 KiB is read: all of it praise.
        assert_eq!(p.label, Positive);
        assert!(!model.predict("great").truncated);
    }

    #[test]
    fn explanations_point_the_right_way() {
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        let text = "thanks, the team was great";
        assert_eq!(model.predict(text).label, Positive);
        let phrases = model.explain(text, 3);
        assert_eq!(phrases.len(), 3);
        assert!(
            phrases
                .windows(2)
                .all(|w| w[0].contribution.abs() >= w[1].contribution.abs())
        );
        let top: Vec<&str> = phrases.iter().map(|p| p.text.as_str()).collect();
        assert!(
            top.contains(&"great") || top.contains(&"thanks"),
            "{phrases:?}"
        );
        assert!(phrases[0].contribution > 0.0, "{phrases:?}");

        let text = "still waiting, the issue is not resolved, terrible";
        assert_eq!(model.predict(text).label, Negative);
        let phrases = model.explain(text, 20);
        let get = |t: &str| phrases.iter().find(|p| p.text == t).map(|p| p.contribution);
        assert!(get("terrible").is_some_and(|c| c > 0.0), "{phrases:?}");
        assert!(get("NOT_resolved").is_some_and(|c| c > 0.0), "{phrases:?}");
        // Towards negative, "thanks" would count against.
        let text = "terrible and useless, thanks";
        assert_eq!(model.predict(text).label, Negative);
        let phrases = model.explain(text, 10);
        let thanks = phrases
            .iter()
            .find(|p| p.text == "thanks")
            .map(|p| p.contribution);
        assert!(thanks.is_some_and(|c| c < 0.0), "{phrases:?}");
    }

    #[test]
    fn explanation_sums_to_the_logit_margin() {
        // Contributions plus the centred intercept give the calibrated,
        // centred logit of the predicted class.
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        let text = "great team, really helpful, thanks!";
        let p = model.predict(text);
        let c = class_index(p.label);
        let total: f32 = model
            .explain(text, usize::MAX)
            .iter()
            .map(|p| p.contribution)
            .sum();
        let z = model.logits_with(text, &mut Scratch::default()).unwrap();
        let mean = z.iter().sum::<f32>() / 3.0;
        let want = (z[c] - mean - model.intercept[c]) / model.temperature;
        assert!((total - want).abs() < 1e-4, "{total} vs {want}");
    }

    #[test]
    fn sparse_serving_matches_linfa_dense_prediction() {
        // Train with linfa, rebuild its dense matrix, and compare linfa's own
        // probabilities with the hash-map serving path.
        let docs = toy_corpus();
        let params = TrainParams {
            solver: Solver::LinfaDense,
            balance: Balance::None,
            ..toy_params()
        };
        let model = SentimentModel::train(&docs, &params).unwrap();
        assert_eq!(model.summary().solver_iterations, None);
        let idx: Vec<usize> = (0..docs.len()).collect();
        let vocab = Vocabulary::build(&docs, &idx, &params).unwrap();
        assert_eq!(vocab.features, model.features);
        let mut x = Array2::<f32>::zeros((docs.len(), vocab.features.len()));
        for (r, hashes) in vocab.doc_hashes.iter().enumerate() {
            let mut ids: Vec<u32> = hashes
                .iter()
                .filter_map(|h| vocab.index.get(h).copied())
                .collect();
            tfidf(&mut ids, &vocab.idf, |id, v| x[[r, id as usize]] = v);
        }
        let y: Array1<usize> = docs.iter().map(|d| class_index(d.1)).collect();
        let fitted = MultiLogisticRegression::<f32>::default()
            .alpha(params.alpha)
            .max_iterations(params.max_iterations)
            .gradient_tolerance(params.gradient_tolerance)
            .fit(&DatasetBase::new(x.clone(), y))
            .unwrap();
        let dense = fitted.predict_probabilities(&x);
        for (r, (text, _)) in docs.iter().enumerate() {
            let p = model.predict(text).probabilities;
            for c in 0..3 {
                assert!(
                    (p[c] - dense[[r, c]]).abs() < 1e-4,
                    "{text}: {p:?} vs {:?}",
                    dense.row(r)
                );
            }
        }
    }

    #[test]
    fn sparse_solver_matches_linfa() {
        // Same objective, optimised to convergence by both: the same model.
        let params = TrainParams {
            tokens: TokenConfig {
                char_ngram_max: 0,
                ..TokenConfig::default()
            },
            max_iterations: 300,
            gradient_tolerance: 1e-5,
            alpha: 0.5,
            balance: Balance::None,
            ..toy_params()
        };
        let docs = toy_corpus();
        let sparse = SentimentModel::train(&docs, &params).unwrap();
        let linfa = SentimentModel::train(
            &docs,
            &TrainParams {
                solver: Solver::LinfaDense,
                ..params.clone()
            },
        )
        .unwrap();
        assert!(sparse.summary().solver_iterations.is_some_and(|n| n < 300));
        let mut worst = 0.0f32;
        for (text, _) in docs
            .iter()
            .chain(&[("great but slow", Neutral), ("hm", Neutral)])
        {
            let (a, b) = (sparse.predict(text), linfa.predict(text));
            assert_eq!(a.label, b.label, "{text}");
            for c in 0..3 {
                worst = worst.max((a.probabilities[c] - b.probabilities[c]).abs());
            }
        }
        assert!(worst < 2e-3, "largest probability difference {worst}");
    }

    #[test]
    fn serde_round_trip_gives_identical_predictions() {
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        let json = model.to_json();
        let back = SentimentModel::from_json(json.as_slice()).unwrap();
        let mut written = Vec::new();
        back.write_json(&mut written).unwrap();
        assert_eq!(json, written);
        for text in [
            "great support",
            "still not resolved :(",
            "",
            "invoice",
            "ÄÖÜ!!!",
        ] {
            assert_eq!(model.predict(text), back.predict(text), "{text}");
            assert_eq!(model.explain(text, 5), back.explain(text, 5), "{text}");
        }
    }

    #[test]
    fn version_survives_a_round_trip_and_scorer_skips_empty_text() {
        use pulse_core::TextScorer;
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        let back = SentimentModel::from_json(model.to_json().as_slice()).unwrap();
        assert_eq!(model.version(), back.version());
        assert!(model.version().starts_with("sentiment-"));
        assert_eq!(model.version().len(), "sentiment-".len() + 12);
        let mut params = toy_params();
        params.alpha = 2.0;
        let other = SentimentModel::train(&toy_corpus(), &params).unwrap();
        assert_ne!(model.version(), other.version());

        assert_eq!(model.score(""), None);
        assert_eq!(model.score("  \n"), None);
        assert_eq!(model.score("\u{1}\u{2}"), None);
        let (score, label) = model.score("terrible, still not resolved :(").unwrap();
        assert_eq!(label, Negative);
        assert!(score < 0.0);
        assert_eq!(TextScorer::version(&model), model.version());
    }

    #[test]
    fn corrupt_models_are_rejected() {
        let model = SentimentModel::train(&toy_corpus(), &toy_params()).unwrap();
        let mut value: serde_json::Value = serde_json::from_slice(&model.to_json()).unwrap();
        value["format"] = "pulse-sentiment/0".into();
        let err = SentimentModel::from_json(value.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("model format"), "{err}");

        let mut value: serde_json::Value = serde_json::from_slice(&model.to_json()).unwrap();
        value["idf"].as_array_mut().unwrap().pop();
        let err = SentimentModel::from_json(value.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("idf values"), "{err}");

        let mut value: serde_json::Value = serde_json::from_slice(&model.to_json()).unwrap();
        value["features"][1] = value["features"][0].clone();
        let err = SentimentModel::from_json(value.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("duplicated"), "{err}");

        let mut value: serde_json::Value = serde_json::from_slice(&model.to_json()).unwrap();
        value["temperature"] = (-1.0).into();
        assert!(SentimentModel::from_json(value.to_string().as_bytes()).is_err());
        assert!(SentimentModel::from_json(&b"{"[..]).is_err());
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let p = toy_params();
        assert!(matches!(
            SentimentModel::train(&[], &p),
            Err(SentimentError::EmptyCorpus)
        ));
        assert!(matches!(
            SentimentModel::train(&[("a", Positive), ("b", Positive)], &p),
            Err(SentimentError::TooFewClasses { found: 1 })
        ));
        let strict = TrainParams {
            min_df: 5,
            ..toy_params()
        };
        assert!(matches!(
            SentimentModel::train(&[("a", Positive), ("b", Negative)], &strict),
            Err(SentimentError::EmptyVocabulary { min_df: 5 })
        ));
        for bad in [
            TrainParams {
                alpha: -1.0,
                ..toy_params()
            },
            TrainParams {
                alpha: f32::NAN,
                ..toy_params()
            },
            TrainParams {
                min_df: 0,
                ..toy_params()
            },
            TrainParams {
                max_iterations: 0,
                ..toy_params()
            },
            TrainParams {
                calibration_fraction: 0.9,
                ..toy_params()
            },
            TrainParams {
                max_word_features: 0,
                max_char_features: 0,
                ..toy_params()
            },
            TrainParams {
                tokens: TokenConfig {
                    char_ngram_min: 5,
                    char_ngram_max: 3,
                    ..TokenConfig::default()
                },
                ..toy_params()
            },
            TrainParams {
                solver: Solver::LinfaDense,
                balance: Balance::Weights,
                ..toy_params()
            },
        ] {
            let err = SentimentModel::train(&toy_corpus(), &bad).unwrap_err();
            assert!(matches!(err, SentimentError::InvalidParam { .. }), "{err}");
        }
    }

    #[test]
    fn two_class_training_gives_no_neutral() {
        let docs: Vec<_> = toy_corpus()
            .into_iter()
            .filter(|d| d.1 != Neutral)
            .collect();
        let model = SentimentModel::train(&docs, &toy_params()).unwrap();
        assert_eq!(model.classes_present(), [true, false, true]);
        for text in ["great", "awful", "the invoice"] {
            let p = model.predict(text);
            assert_ne!(p.label, Neutral);
            assert_eq!(p.probabilities[1], 0.0);
        }
    }

    #[test]
    fn weak_labels_train_a_model() {
        let docs: Vec<(&str, SurveyKind, i64)> = toy_corpus()
            .into_iter()
            .enumerate()
            .map(|(i, (t, l))| match (l, i % 2 == 0) {
                (Negative, true) => (t, SurveyKind::Csat, 1),
                (Negative, false) => (t, SurveyKind::Nps, 3),
                (Neutral, true) => (t, SurveyKind::Csat, 3),
                (Neutral, false) => (t, SurveyKind::Nps, 8),
                (Positive, true) => (t, SurveyKind::Csat, 5),
                (Positive, false) => (t, SurveyKind::Nps, 10),
            })
            .collect();
        let model = SentimentModel::train_weak(&docs, &toy_params()).unwrap();
        assert_eq!(model.predict("terrible, still waiting").label, Negative);
        assert_eq!(model.predict("great, thank you").label, Positive);
        let err =
            SentimentModel::train_weak(&[("x", SurveyKind::Csat, 6)], &toy_params()).unwrap_err();
        assert_eq!(err.to_string(), "document 0: csat score 6 is outside 1..=5");
    }

    #[test]
    fn calibration_runs_on_held_back_documents() {
        let mut docs = Vec::new();
        for _ in 0..8 {
            docs.extend(toy_corpus());
        }
        let params = TrainParams {
            calibration_fraction: 0.25,
            ..toy_params()
        };
        let model = SentimentModel::train(&docs, &params).unwrap();
        assert_eq!(model.summary().calibration_documents, 60);
        assert_eq!(model.summary().fit_documents, 180);
        assert!(model.temperature() > 0.0 && model.temperature() != 1.0);
    }

    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync + Unpin>() {}
        check::<SentimentModel>();
        check::<Prediction>();
        check::<TrainParams>();
    }
}
