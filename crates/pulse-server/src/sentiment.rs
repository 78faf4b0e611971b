//! `SentimentService`: sentiment of free text with the model in
//! [`AppState::sentiment`](crate::AppState::sentiment), the application's
//! [`SentimentSlot`].

use pulse_proto::v1 as pb;
use pulse_proto::v1::sentiment_service_server::SentimentService;
use pulse_sentiment::SentimentModel;
use tonic::{Request, Response, Status};

use crate::error::{IntoStatus, OrStatus};
use pulse_app::{AppError, SentimentSlot};

/// Most texts one `Analyze` call may carry.
pub const MAX_TEXTS: usize = 1_000;
/// Phrases returned per text when the request asks for 0.
pub(crate) const DEFAULT_PHRASES: usize = 5;
/// Most phrases returned per text.
pub(crate) const MAX_PHRASES: usize = 20;

pub(crate) struct SentimentSvc {
    pub(crate) slot: SentimentSlot,
    pub(crate) cpu: pulse_app::limits::CpuPool,
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
            return Err(AppError::FailedPrecondition(NO_MODEL_HINT.into()).into_status());
        };
        if req.texts.len() > MAX_TEXTS {
            return Err(AppError::TooLarge {
                what: "an Analyze request",
                got: req.texts.len(),
                limit: MAX_TEXTS,
            }
            .into_status());
        }
        let k = match req.top_phrases as usize {
            0 => DEFAULT_PHRASES,
            k => k.min(MAX_PHRASES),
        };
        // CPU-bound: up to 1,000 texts of 16 KiB each, off the async workers.
        let mut response = self
            .cpu
            .run("sentiment analysis", move || analyze(&model, &req.texts, k))
            .await
            .or_status()?;
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
