//! `SentimentService`: sentiment of free text with the model in
//! [`AppState::sentiment`](crate::AppState::sentiment), and that
//! [`SentimentSlot`] itself: promoting a sentiment model through
//! `ModelService` swaps the model in it, and the next `Analyze` call or ingest
//! batch uses the new one without a restart.

use std::sync::{Arc, RwLock};

use pulse_proto::v1 as pb;
use pulse_proto::v1::sentiment_service_server::SentimentService;
use pulse_sentiment::SentimentModel;
use tonic::{Request, Response, Status};

use crate::error::ServerError;

/// Most texts one `Analyze` call may carry.
pub const MAX_TEXTS: usize = 1_000;
/// Phrases returned per text when the request asks for 0.
pub(crate) const DEFAULT_PHRASES: usize = 5;
/// Most phrases returned per text.
pub(crate) const MAX_PHRASES: usize = 20;

/// The sentiment model in service, shared by `SentimentService`, ingest and
/// `ModelService` (which swaps it on promotion). Clones share the slot.
///
/// Readers take an `Arc` of the model under a read lock held for a pointer
/// copy, once per call or ingest batch, never per text, so a swap never waits
/// for scoring and scoring never sees half a swap.
#[derive(Debug, Clone, Default)]
pub struct SentimentSlot(Arc<RwLock<Option<Served>>>);

#[derive(Debug, Clone)]
struct Served {
    model: Arc<SentimentModel>,
    /// `sentiment-v<N>` when the model came from the registry.
    registry_version: Option<String>,
}

impl SentimentSlot {
    /// A slot serving `model` (`None`: no sentiment model).
    pub fn new(model: Option<Arc<SentimentModel>>, registry_version: Option<String>) -> Self {
        SentimentSlot(Arc::new(RwLock::new(model.map(|model| Served {
            model,
            registry_version,
        }))))
    }

    /// The model in service now.
    pub fn get(&self) -> Option<Arc<SentimentModel>> {
        self.read().map(|s| s.model)
    }

    /// The registry version of the model in service, if it came from the registry.
    pub fn registry_version(&self) -> Option<String> {
        self.read().and_then(|s| s.registry_version)
    }

    /// Serves `model` from now on.
    pub fn set(&self, model: Arc<SentimentModel>, registry_version: Option<String>) {
        let mut slot = self.0.write().unwrap_or_else(|p| p.into_inner());
        *slot = Some(Served {
            model,
            registry_version,
        });
    }

    /// The model in service and its registry version, read together.
    pub fn current(&self) -> Option<(Arc<SentimentModel>, Option<String>)> {
        self.read().map(|s| (s.model, s.registry_version))
    }

    fn read(&self) -> Option<Served> {
        // A panic while holding the lock leaves a whole value behind; keep serving it.
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl From<Option<Arc<SentimentModel>>> for SentimentSlot {
    fn from(model: Option<Arc<SentimentModel>>) -> Self {
        SentimentSlot::new(model, None)
    }
}

pub(crate) struct SentimentSvc {
    pub(crate) slot: SentimentSlot,
}

/// Told to callers when the server has no sentiment model.
const NO_MODEL_HINT: &str = "the server has no sentiment model: train and \
    promote one (ModelService.TrainSentiment with promote, or PromoteModel), or put \
    models/sentiment/sentiment-default.json under the working or data directory \
    and restart the server";

#[tonic::async_trait]
impl SentimentService for SentimentSvc {
    #[tracing::instrument(skip_all, fields(rpc = "Analyze", texts))]
    async fn analyze(
        &self,
        request: Request<pb::AnalyzeRequest>,
    ) -> Result<Response<pb::AnalyzeResponse>, Status> {
        let req = request.into_inner();
        tracing::Span::current().record("texts", req.texts.len());
        let Some((model, registry_version)) = self.slot.current() else {
            return Err(ServerError::FailedPrecondition(NO_MODEL_HINT.into()).into());
        };
        if req.texts.len() > MAX_TEXTS {
            return Err(ServerError::TooLarge {
                what: "an Analyze request",
                got: req.texts.len(),
                limit: MAX_TEXTS,
            }
            .into());
        }
        let k = match req.top_phrases as usize {
            0 => DEFAULT_PHRASES,
            k => k.min(MAX_PHRASES),
        };
        // CPU-bound: up to 1,000 texts of 16 KiB each, off the async workers.
        let mut response = tokio::task::spawn_blocking(move || analyze(&model, &req.texts, k))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "sentiment task failed");
                Status::internal("internal error")
            })?;
        response.registry_version = registry_version.unwrap_or_default();
        Ok(Response::new(response))
    }
}

/// The response for `texts`, `k` phrases each.
fn analyze(model: &SentimentModel, texts: &[String], k: usize) -> pb::AnalyzeResponse {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let predictions = model.predict_batch(&refs);
    let results = refs
        .iter()
        .zip(predictions)
        .map(|(text, p)| {
            let phrases = if p.empty {
                Vec::new()
            } else {
                model.explain(text, k)
            };
            pb::TextSentiment {
                label: p.label.to_string(),
                score: p.score,
                negative: p.probabilities[0],
                neutral: p.probabilities[1],
                positive: p.probabilities[2],
                phrases: phrases
                    .into_iter()
                    .map(|ph| pb::PhraseContribution {
                        text: ph.text,
                        contribution: ph.contribution,
                    })
                    .collect(),
                empty: p.empty,
                truncated: p.truncated,
            }
        })
        .collect();
    pb::AnalyzeResponse {
        results,
        model: model.version().to_owned(),
        registry_version: String::new(),
    }
}
